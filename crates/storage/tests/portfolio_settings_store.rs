//! Conformance of portfolio settings (cost-basis method), the ledger version that
//! keys analytics caches, and transfer transactions (migration 0004), on every
//! backend: each case runs against SQLite and PostgreSQL with a fresh database.

#[path = "conformance/mod.rs"]
#[allow(unused_imports)]
mod conformance;

use conformance::{S, add_instrument, buy, holdings_validator, insert, portfolio, sym, tx, user};
use pricetrack_app::ports::*;
use pricetrack_domain::{
    Amount, PortfolioId, Price, Quantity, TransactionKind, analytics::CostBasisMethod,
};

macro_rules! settings_store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = pricetrack_storage::testing::fresh_sqlite().await;
                    crate::$name(db.open().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = pricetrack_storage::testing::fresh_postgres().await else {
                        return;
                    };
                    crate::$name(db.open().await).await;
                }
            )*
        }
    };
}

settings_store_tests!(
    a_new_portfolio_uses_average_cost_and_version_zero,
    the_cost_basis_method_is_stored_per_portfolio_and_private,
    every_committed_ledger_change_increments_the_version_and_a_rejected_one_does_not,
    transfers_round_trip_exactly,
);

async fn a_new_portfolio_uses_average_cost_and_version_zero(store: S) {
    let owner = user(&store, "ann").await;
    let p = portfolio(&store, owner.id, "Main").await;
    assert_eq!(p.cost_basis_method, CostBasisMethod::AverageCost);
    assert_eq!(p.ledger_version, 0);
    let read = store.get_portfolio(owner.id, p.id).await.unwrap().unwrap();
    assert_eq!(read, p);
}

async fn the_cost_basis_method_is_stored_per_portfolio_and_private(store: S) {
    let owner = user(&store, "ann").await;
    let other = user(&store, "bob").await;
    let a = portfolio(&store, owner.id, "A").await;
    let b = portfolio(&store, owner.id, "B").await;
    for method in [
        CostBasisMethod::Fifo,
        CostBasisMethod::Lifo,
        CostBasisMethod::Hifo,
        CostBasisMethod::AverageCost,
        CostBasisMethod::Hifo,
    ] {
        let updated = store
            .set_portfolio_settings(
                owner.id,
                a.id,
                &PortfolioSettings {
                    cost_basis_method: method,
                },
            )
            .await
            .unwrap()
            .expect("own portfolio");
        assert_eq!(updated.cost_basis_method, method);
        assert_eq!(updated.name, "A");
    }
    let all = store.list_portfolios(owner.id).await.unwrap();
    let methods: Vec<_> = all.iter().map(|p| (p.id, p.cost_basis_method)).collect();
    assert_eq!(
        methods,
        [
            (a.id, CostBasisMethod::Hifo),
            (b.id, CostBasisMethod::AverageCost)
        ]
    );
    // Another user's portfolio behaves as missing, and is left unchanged.
    let refused = store
        .set_portfolio_settings(
            other.id,
            b.id,
            &PortfolioSettings {
                cost_basis_method: CostBasisMethod::Fifo,
            },
        )
        .await
        .unwrap();
    assert!(refused.is_none());
    let missing = store
        .set_portfolio_settings(
            owner.id,
            PortfolioId(999_999),
            &PortfolioSettings::default(),
        )
        .await
        .unwrap();
    assert!(missing.is_none());
    let b_now = store.get_portfolio(owner.id, b.id).await.unwrap().unwrap();
    assert_eq!(b_now.cost_basis_method, CostBasisMethod::AverageCost);
    // Renaming keeps the method.
    let renamed = store
        .update_portfolio(
            owner.id,
            a.id,
            &PortfolioDraft {
                name: "A2".into(),
                base_currency: a.base_currency,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.cost_basis_method, CostBasisMethod::Hifo);
}

async fn version(store: &S, owner: pricetrack_domain::UserId, id: PortfolioId) -> i64 {
    store
        .get_portfolio(owner, id)
        .await
        .unwrap()
        .unwrap()
        .ledger_version
}

async fn every_committed_ledger_change_increments_the_version_and_a_rejected_one_does_not(
    store: S,
) {
    add_instrument(&store, "AAPL").await;
    let owner = user(&store, "ann").await;
    let p = portfolio(&store, owner.id, "Main").await;
    let q = portfolio(&store, owner.id, "Other").await;
    let ids = insert(
        &store,
        p.id,
        vec![
            buy("2024-01-02T00:00:00Z", "AAPL", "10", "100"),
            buy("2024-01-03T00:00:00Z", "AAPL", "5", "110"),
        ],
    )
    .await;
    assert_eq!(version(&store, owner.id, p.id).await, 1);
    // A change that the validator refuses rolls back the version too.
    let oversell = tx(
        "2024-01-04T00:00:00Z",
        TransactionKind::Sell {
            symbol: sym("AAPL"),
            quantity: Quantity::parse("100").unwrap(),
            price: Price::parse("1").unwrap(),
            fee: Amount::ZERO,
            tax: Amount::ZERO,
        },
    );
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Insert(vec![oversell]),
            &holdings_validator,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, LedgerOutcome::Rejected(_)), "{outcome:?}");
    assert_eq!(version(&store, owner.id, p.id).await, 1);
    store
        .apply_ledger_change(
            p.id,
            LedgerChange::Replace(ids[1], buy("2024-01-03T00:00:00Z", "AAPL", "6", "110")),
            &holdings_validator,
        )
        .await
        .unwrap();
    assert_eq!(version(&store, owner.id, p.id).await, 2);
    store
        .apply_ledger_change(p.id, LedgerChange::Delete(ids[1]), &holdings_validator)
        .await
        .unwrap();
    assert_eq!(version(&store, owner.id, p.id).await, 3);
    // Deleting a missing transaction changes nothing.
    let outcome = store
        .apply_ledger_change(p.id, LedgerChange::Delete(ids[1]), &holdings_validator)
        .await
        .unwrap();
    assert_eq!(outcome, LedgerOutcome::TransactionNotFound);
    assert_eq!(version(&store, owner.id, p.id).await, 3);
    // Other portfolios are untouched.
    assert_eq!(version(&store, owner.id, q.id).await, 0);
}

async fn transfers_round_trip_exactly(store: S) {
    add_instrument(&store, "AAPL").await;
    let owner = user(&store, "ann").await;
    let p = portfolio(&store, owner.id, "Main").await;
    let txs = vec![
        tx(
            "2024-01-02T09:30:00.123456Z",
            TransactionKind::TransferIn {
                symbol: sym("AAPL"),
                quantity: Quantity::parse("12.5").unwrap(),
                price: Price::parse("187.123456789").unwrap(),
                fee: Amount::parse("2.50").unwrap(),
            },
        ),
        tx(
            "2024-03-02T00:00:00Z",
            TransactionKind::TransferOut {
                symbol: sym("AAPL"),
                quantity: Quantity::parse("2.5").unwrap(),
                price: Price::parse("190").unwrap(),
                fee: Amount::ZERO,
            },
        ),
    ];
    insert(&store, p.id, txs.clone()).await;
    let ledger = store.ledger(p.id).await.unwrap();
    let read: Vec<_> = ledger.into_iter().map(|r| r.transaction).collect();
    assert_eq!(read, txs);
    // A transfer out of more than is held is refused like a sale.
    let too_many = tx(
        "2024-04-01T00:00:00Z",
        TransactionKind::TransferOut {
            symbol: sym("AAPL"),
            quantity: Quantity::parse("11").unwrap(),
            price: Price::parse("190").unwrap(),
            fee: Amount::ZERO,
        },
    );
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Insert(vec![too_many]),
            &holdings_validator,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, LedgerOutcome::Rejected(_)), "{outcome:?}");
    let filtered = store
        .list_transactions(
            p.id,
            &TransactionFilter {
                kind: Some(pricetrack_domain::TransactionType::TransferIn),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(filtered.total, 1);
}
