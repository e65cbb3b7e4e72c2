//! The store conformance suite: behaviour every backend must share, written once
//! against the port traits. `tests/store.rs` runs each function against SQLite and
//! PostgreSQL.

#![allow(dead_code)]

use jiff::Timestamp;
use pricetrack_app::ports::*;
use pricetrack_domain::{
    Amount, Bar, Currency, HoldingsError, Instrument, InstrumentKind, Interval, Ohlcv, PortfolioId,
    Price, ProviderName, Quantity, SplitRatio, Symbol, Transaction, TransactionId, TransactionKind,
    TransactionType, UserId, fold_holdings,
};
use rust_decimal_macros::dec;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type S = Arc<dyn Store>;

mod events;
mod ui;
pub use events::*;
pub use ui::*;

// ---------------------------------------------------------------- helpers

pub fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn instrument(symbol: &str, name: &str, kind: InstrumentKind) -> Instrument {
    Instrument::new(
        sym(symbol),
        name.to_owned(),
        kind,
        Currency::USD,
        Some("NASDAQ".to_owned()),
        ProviderName::parse("yahoo").unwrap(),
        None,
    )
    .unwrap()
}

pub async fn add_instrument(store: &S, symbol: &str) {
    store
        .create_instrument(&instrument(
            symbol,
            &format!("{symbol} Inc."),
            InstrumentKind::Stock,
        ))
        .await
        .unwrap();
}

/// A 5-minute bar at `t0 + i × 5 min` with prices derived from `close`.
pub fn bar_at(symbol: &str, interval: Interval, time: Timestamp, close: f64) -> Bar {
    Bar::new(
        sym(symbol),
        interval,
        time,
        Ohlcv {
            open: close,
            high: close + 1.0,
            low: close - 0.5,
            close,
            volume: 1000.0,
        },
    )
    .unwrap()
}

pub fn t0() -> Timestamp {
    ts("2024-01-02T14:30:00Z")
}

/// `n` consecutive 5-minute bars from `t0`, closes 100, 101, …
pub fn series(symbol: &str, n: usize) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            bar_at(
                symbol,
                Interval::M5,
                t0() + jiff::SignedDuration::from_secs(300 * i as i64),
                100.0 + i as f64,
            )
        })
        .collect()
}

pub fn closes(bars: &[Bar]) -> Vec<f64> {
    bars.iter().map(|b| b.close).collect()
}

pub async fn user(store: &S, name: &str) -> User {
    store
        .create_user(name, Role::User, ts("2024-01-01T00:00:00Z"))
        .await
        .unwrap()
}

pub async fn portfolio(store: &S, owner: UserId, name: &str) -> Portfolio {
    store
        .create_portfolio(
            owner,
            &PortfolioDraft {
                name: name.to_owned(),
                base_currency: Currency::USD,
            },
            ts("2024-01-01T00:00:00Z"),
        )
        .await
        .unwrap()
}

pub fn tx(time: &str, kind: TransactionKind) -> Transaction {
    Transaction::new(ts(time), Currency::USD, String::new(), kind).unwrap()
}

pub fn buy(time: &str, symbol: &str, q: &str, p: &str) -> Transaction {
    tx(
        time,
        TransactionKind::Buy {
            symbol: sym(symbol),
            quantity: Quantity::parse(q).unwrap(),
            price: Price::parse(p).unwrap(),
            fee: Amount::parse("1.5").unwrap(),
            tax: Amount::ZERO,
        },
    )
}

pub fn sell(time: &str, symbol: &str, q: &str, p: &str) -> Transaction {
    tx(
        time,
        TransactionKind::Sell {
            symbol: sym(symbol),
            quantity: Quantity::parse(q).unwrap(),
            price: Price::parse(p).unwrap(),
            fee: Amount::parse("0").unwrap(),
            tax: Amount::ZERO,
        },
    )
}

pub fn deposit(time: &str, amount: &str) -> Transaction {
    tx(
        time,
        TransactionKind::Deposit {
            amount: Amount::parse(amount).unwrap(),
        },
    )
}

/// The validator the application uses: the holdings fold must succeed.
pub fn holdings_validator(ledger: &[RecordedTransaction]) -> Result<(), HoldingsError> {
    fold_holdings(ledger.iter().map(|r| &r.transaction), &BTreeMap::new()).map(|_| ())
}

pub fn accept_all(_: &[RecordedTransaction]) -> Result<(), HoldingsError> {
    Ok(())
}

pub async fn insert(store: &S, p: PortfolioId, txs: Vec<Transaction>) -> Vec<TransactionId> {
    match store
        .apply_ledger_change(p, LedgerChange::Insert(txs), &holdings_validator)
        .await
        .unwrap()
    {
        LedgerOutcome::Applied(ids) => ids,
        other => panic!("expected Applied, got {other:?}"),
    }
}

fn ledger_ids(ledger: &[RecordedTransaction]) -> Vec<TransactionId> {
    ledger.iter().map(|r| r.id).collect()
}

// ---------------------------------------------------------------- store

pub async fn ping_answers_and_names_the_backend(store: S) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

// ---------------------------------------------------------------- instruments

pub async fn a_created_instrument_reads_back_with_every_field(store: S) {
    let mut i = instrument("BTC-USD", "Bitcoin", InstrumentKind::Crypto);
    i.exchange = None;
    i.provider = ProviderName::parse("coingecko").unwrap();
    i.provider_symbol = Some("bitcoin".to_owned());
    store.create_instrument(&i).await.unwrap();
    assert_eq!(store.get_instrument(&i.symbol).await.unwrap(), Some(i));
    assert_eq!(store.get_instrument(&sym("NOPE")).await.unwrap(), None);
}

pub async fn creating_a_duplicate_symbol_is_a_conflict_naming_the_symbol(store: S) {
    add_instrument(&store, "AAPL").await;
    let err = store
        .create_instrument(&instrument("AAPL", "Other", InstrumentKind::Etf))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("AAPL")),
        "{err}"
    );
}

pub async fn updating_an_instrument_changes_its_fields_and_reports_missing_ones(store: S) {
    add_instrument(&store, "AAPL").await;
    let mut changed = instrument("AAPL", "Apple Inc.", InstrumentKind::Stock);
    changed.currency = Currency::EUR;
    changed.exchange = None;
    changed.provider_symbol = Some("AAPL.US".to_owned());
    changed.listing_date = Some(jiff::civil::date(1980, 12, 12));
    assert!(store.update_instrument(&changed).await.unwrap());
    assert_eq!(
        store.get_instrument(&changed.symbol).await.unwrap(),
        Some(changed.clone())
    );
    // The listing date round-trips through creation and the job claims too.
    let listed = instrument("ABNB", "Airbnb", InstrumentKind::Stock)
        .with_listing_date(Some(jiff::civil::date(2020, 12, 10)));
    store.create_instrument(&listed).await.unwrap();
    assert_eq!(
        store.get_instrument(&listed.symbol).await.unwrap(),
        Some(listed)
    );
    changed.listing_date = None;
    assert!(store.update_instrument(&changed).await.unwrap());
    assert_eq!(
        store.get_instrument(&changed.symbol).await.unwrap(),
        Some(changed)
    );
    let missing = instrument("MSFT", "Microsoft", InstrumentKind::Stock);
    assert!(!store.update_instrument(&missing).await.unwrap());
    assert_eq!(store.get_instrument(&missing.symbol).await.unwrap(), None);
}

pub async fn an_instruments_url_source_round_trips_through_create_update_and_clear(store: S) {
    use pricetrack_domain::{Extractor, NumberFormat, UrlSource};
    let css = UrlSource::new(
        "https://example.test/coins/{SYMBOL}",
        Extractor::Css {
            selector: "span.price".into(),
            attribute: Some("data-value".into()),
        },
    )
    .with_number_format(NumberFormat::DecimalComma);
    let mut coin =
        instrument("KRUGER-1OZ", "Krugerrand", InstrumentKind::Item).with_url_source(Some(css));
    coin.provider = ProviderName::parse("url").unwrap();
    store.create_instrument(&coin).await.unwrap();
    assert_eq!(
        store.get_instrument(&coin.symbol).await.unwrap(),
        Some(coin.clone())
    );
    coin.url_source = Some(UrlSource::new(
        "https://example.test/nav/{DATE}.json",
        Extractor::Regex(r#""nav":\s*"([0-9.,]+)""#.into()),
    ));
    assert!(store.update_instrument(&coin).await.unwrap());
    assert_eq!(
        store.get_instrument(&coin.symbol).await.unwrap(),
        Some(coin.clone())
    );
    coin.url_source = None;
    assert!(store.update_instrument(&coin).await.unwrap());
    assert_eq!(
        store.get_instrument(&coin.symbol).await.unwrap(),
        Some(coin)
    );
}

async fn sample_instruments(store: &S) {
    for (symbol, name, kind) in [
        ("MSFT", "Microsoft Corporation", InstrumentKind::Stock),
        ("AAPL", "Apple Inc.", InstrumentKind::Stock),
        ("VWCE.DE", "Vanguard FTSE All-World", InstrumentKind::Etf),
        ("BTC-USD", "Bitcoin", InstrumentKind::Crypto),
        (
            "ROLEX-SUB-2019",
            "Rolex Submariner (Apple-green dial)",
            InstrumentKind::Item,
        ),
    ] {
        store
            .create_instrument(&instrument(symbol, name, kind))
            .await
            .unwrap();
    }
}

fn symbols(page: &Page<Instrument>) -> Vec<&str> {
    page.items.iter().map(|i| i.symbol.as_str()).collect()
}

pub async fn listing_instruments_orders_by_symbol_and_filters_by_kind(store: S) {
    sample_instruments(&store).await;
    let all = store
        .list_instruments(&InstrumentQuery::default())
        .await
        .unwrap();
    assert_eq!(
        symbols(&all),
        ["AAPL", "BTC-USD", "MSFT", "ROLEX-SUB-2019", "VWCE.DE"]
    );
    assert_eq!(all.total, 5);
    let stocks = store
        .list_instruments(&InstrumentQuery {
            kind: Some(InstrumentKind::Stock),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(symbols(&stocks), ["AAPL", "MSFT"]);
    assert_eq!(stocks.total, 2);
}

pub async fn listing_instruments_searches_symbol_and_name_case_insensitively(store: S) {
    sample_instruments(&store).await;
    let search = |s: &str| InstrumentQuery {
        search: Some(s.to_owned()),
        ..Default::default()
    };
    // "apple" matches AAPL's name and the watch's name; "btc" matches a symbol.
    let found = store.list_instruments(&search("apple")).await.unwrap();
    assert_eq!(symbols(&found), ["AAPL", "ROLEX-SUB-2019"]);
    assert_eq!(found.total, 2);
    let found = store.list_instruments(&search("btc")).await.unwrap();
    assert_eq!(symbols(&found), ["BTC-USD"]);
    let found = store.list_instruments(&search("VwCe")).await.unwrap();
    assert_eq!(symbols(&found), ["VWCE.DE"]);
    // Wildcard characters are matched literally.
    let found = store.list_instruments(&search("%")).await.unwrap();
    assert_eq!(found.total, 0);
    let both = InstrumentQuery {
        kind: Some(InstrumentKind::Item),
        search: Some("APPLE".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        symbols(&store.list_instruments(&both).await.unwrap()),
        ["ROLEX-SUB-2019"]
    );
}

pub async fn listing_instruments_paginates_and_reports_the_total(store: S) {
    sample_instruments(&store).await;
    let page = |limit, offset| InstrumentQuery {
        page: PageRequest::new(Some(limit), Some(offset)),
        ..Default::default()
    };
    let first = store.list_instruments(&page(2, 0)).await.unwrap();
    assert_eq!(symbols(&first), ["AAPL", "BTC-USD"]);
    assert_eq!(first.total, 5);
    let last = store.list_instruments(&page(2, 4)).await.unwrap();
    assert_eq!(symbols(&last), ["VWCE.DE"]);
    assert_eq!(last.total, 5);
    let beyond = store.list_instruments(&page(2, 10)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
}

pub async fn deleting_an_instrument_removes_it_and_its_bars(store: S) {
    add_instrument(&store, "AAPL").await;
    add_instrument(&store, "MSFT").await;
    store.upsert_bars(&series("AAPL", 10)).await.unwrap();
    store.upsert_bars(&series("MSFT", 3)).await.unwrap();
    assert_eq!(
        store.delete_instrument(&sym("AAPL")).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(store.get_instrument(&sym("AAPL")).await.unwrap(), None);
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 0);
    assert_eq!(store.count_bars(&sym("MSFT")).await.unwrap(), 3);
    // Re-creating the symbol starts with an empty series.
    add_instrument(&store, "AAPL").await;
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 0);
    assert_eq!(
        store.delete_instrument(&sym("AAPL")).await.unwrap(),
        DeleteOutcome::Deleted
    );
}

pub async fn deleting_a_missing_instrument_reports_not_found(store: S) {
    assert_eq!(
        store.delete_instrument(&sym("NOPE")).await.unwrap(),
        DeleteOutcome::NotFound
    );
}

pub async fn deleting_an_instrument_with_transactions_is_refused_with_the_count(store: S) {
    add_instrument(&store, "AAPL").await;
    store.upsert_bars(&series("AAPL", 5)).await.unwrap();
    let u = user(&store, "ann").await;
    let p = portfolio(&store, u.id, "Main").await;
    insert(
        &store,
        p.id,
        vec![
            buy("2024-01-02T00:00:00Z", "AAPL", "10", "100"),
            buy("2024-01-03T00:00:00Z", "AAPL", "5", "101"),
        ],
    )
    .await;
    assert_eq!(
        store.delete_instrument(&sym("AAPL")).await.unwrap(),
        DeleteOutcome::Referenced { transactions: 2 }
    );
    assert!(store.get_instrument(&sym("AAPL")).await.unwrap().is_some());
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 5);
}

// ---------------------------------------------------------------- bars

pub async fn upserting_new_bars_counts_them_as_inserted(store: S) {
    add_instrument(&store, "AAPL").await;
    let counts = store.upsert_bars(&series("AAPL", 10)).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 10,
            replaced: 0
        }
    );
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 10);
    assert_eq!(
        store.upsert_bars(&[]).await.unwrap(),
        UpsertCounts::default()
    );
}

pub async fn upserting_the_same_bars_again_replaces_them_and_is_idempotent(store: S) {
    add_instrument(&store, "AAPL").await;
    let bars = series("AAPL", 10);
    store.upsert_bars(&bars).await.unwrap();
    let again = store.upsert_bars(&bars).await.unwrap();
    assert_eq!(
        again,
        UpsertCounts {
            inserted: 0,
            replaced: 10
        }
    );
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 10);
    let read = store
        .bars(&sym("AAPL"), Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(read, bars);
}

pub async fn upserting_overlapping_bars_counts_new_and_replaced_and_stores_the_new_values(
    store: S,
) {
    add_instrument(&store, "AAPL").await;
    store.upsert_bars(&series("AAPL", 6)).await.unwrap();
    // Bars 4..10 with different prices: 4, 5 replace, 6..9 are new.
    let newer: Vec<Bar> = series("AAPL", 10)
        .into_iter()
        .skip(4)
        .map(|b| bar_at("AAPL", Interval::M5, b.time, b.close + 0.25))
        .collect();
    let counts = store.upsert_bars(&newer).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 4,
            replaced: 2
        }
    );
    let read = store
        .bars(&sym("AAPL"), Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(
        closes(&read),
        [
            100.0, 101.0, 102.0, 103.0, 104.25, 105.25, 106.25, 107.25, 108.25, 109.25
        ]
    );
}

pub async fn duplicate_bars_within_one_call_keep_the_last_one(store: S) {
    add_instrument(&store, "AAPL").await;
    let first = bar_at("AAPL", Interval::M5, t0(), 10.0);
    let second = bar_at("AAPL", Interval::M5, t0(), 20.0);
    let counts = store.upsert_bars(&[first, second]).await.unwrap();
    assert_eq!(counts.inserted + counts.replaced, 1, "{counts:?}");
    let read = store
        .bars(&sym("AAPL"), Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(closes(&read), [20.0]);
}

pub async fn upserting_with_an_unknown_symbol_writes_nothing(store: S) {
    add_instrument(&store, "AAPL").await;
    let mut bars = series("AAPL", 5);
    bars.extend(series("NOPE", 1));
    let err = store.upsert_bars(&bars).await.unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownInstrument(ref s) if s.as_str() == "NOPE"),
        "{err}"
    );
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 0);
}

pub async fn bar_prices_and_times_round_trip_exactly(store: S) {
    add_instrument(&store, "EURUSD=X").await;
    let b = Bar::new(
        sym("EURUSD=X"),
        Interval::M1,
        ts("1999-12-31T23:59:00Z"),
        Ohlcv {
            open: 1.000_000_000_000_2,
            high: 1.1 + 0.2,
            low: 0.1 + 0.2,
            close: 1.0,
            volume: 0.0,
        },
    )
    .unwrap();
    let daily = Bar::new(
        sym("EURUSD=X"),
        Interval::D1,
        pricetrack_domain::date_key("1970-01-01".parse().unwrap()),
        b.ohlcv(),
    )
    .unwrap();
    store
        .upsert_bars(&[b.clone(), daily.clone()])
        .await
        .unwrap();
    let symbol = sym("EURUSD=X");
    let read = |i| store.bars(&symbol, i, BarRange::default());
    assert_eq!(read(Interval::M1).await.unwrap(), [b]);
    assert_eq!(read(Interval::D1).await.unwrap(), [daily]);
}

pub async fn bars_from_a_start_are_the_first_limit_in_ascending_order(store: S) {
    add_instrument(&store, "AAPL").await;
    let bars = series("AAPL", 20);
    store.upsert_bars(&bars).await.unwrap();
    let got = store
        .bars(
            &sym("AAPL"),
            Interval::M5,
            BarRange {
                from: Some(bars[5].time),
                to: None,
                limit: Some(3),
            },
        )
        .await
        .unwrap();
    assert_eq!(got, bars[5..8]);
    // A start between two bars begins at the next one.
    let got = store
        .bars(
            &sym("AAPL"),
            Interval::M5,
            BarRange {
                from: Some(bars[5].time + jiff::SignedDuration::from_secs(1)),
                to: Some(bars[9].time),
                limit: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(got, bars[6..10]);
}

pub async fn bars_without_a_start_are_the_last_limit_up_to_the_end_in_ascending_order(store: S) {
    add_instrument(&store, "AAPL").await;
    let bars = series("AAPL", 20);
    store.upsert_bars(&bars).await.unwrap();
    let last = |to, limit| BarRange {
        from: None,
        to,
        limit,
    };
    let got = store
        .bars(&sym("AAPL"), Interval::M5, last(None, Some(3)))
        .await
        .unwrap();
    assert_eq!(got, bars[17..20]);
    let got = store
        .bars(
            &sym("AAPL"),
            Interval::M5,
            last(Some(bars[10].time), Some(4)),
        )
        .await
        .unwrap();
    assert_eq!(got, bars[7..11]);
    let got = store
        .bars(&sym("AAPL"), Interval::M5, last(Some(bars[2].time), None))
        .await
        .unwrap();
    assert_eq!(got, bars[0..3]);
}

pub async fn bar_ranges_are_inclusive_and_keep_intervals_and_instruments_apart(store: S) {
    add_instrument(&store, "AAPL").await;
    add_instrument(&store, "MSFT").await;
    let bars = series("AAPL", 10);
    let mut all = bars.clone();
    all.extend(series("MSFT", 10));
    all.push(bar_at("AAPL", Interval::M15, t0(), 500.0));
    all.push(bar_at(
        "AAPL",
        Interval::D1,
        ts("2024-01-02T00:00:00Z"),
        600.0,
    ));
    store.upsert_bars(&all).await.unwrap();
    let got = store
        .bars(
            &sym("AAPL"),
            Interval::M5,
            BarRange {
                from: Some(bars[2].time),
                to: Some(bars[4].time),
                limit: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(got, bars[2..5]);
    let m15 = store
        .bars(&sym("AAPL"), Interval::M15, BarRange::default())
        .await
        .unwrap();
    assert_eq!(closes(&m15), [500.0]);
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 12);
    assert_eq!(store.count_bars(&sym("MSFT")).await.unwrap(), 10);
    let empty = store
        .bars(&sym("AAPL"), Interval::H1, BarRange::default())
        .await
        .unwrap();
    assert!(empty.is_empty());
}

pub async fn bars_of_an_unknown_symbol_are_empty(store: S) {
    let got = store
        .bars(&sym("NOPE"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert!(got.is_empty());
    assert_eq!(store.count_bars(&sym("NOPE")).await.unwrap(), 0);
}

/// What a range query must return, computed from the bars written (ascending).
fn expected_range(bars: &[Bar], range: BarRange) -> Vec<Bar> {
    let inside: Vec<&Bar> = bars
        .iter()
        .filter(|b| range.from.is_none_or(|f| b.time >= f) && range.to.is_none_or(|t| b.time <= t))
        .collect();
    let limit = range.limit.map_or(usize::MAX, |l| l as usize);
    let picked: Vec<&Bar> = if range.from.is_some() {
        inside.into_iter().take(limit).collect()
    } else {
        let skip = inside.len().saturating_sub(limit);
        inside.into_iter().skip(skip).collect()
    };
    picked.into_iter().cloned().collect()
}

/// 1,000 five-minute bars with a gap (a closed market) span dozens of storage
/// blocks; every kind of range must read as if they were one sequence.
pub async fn ranges_across_many_blocks_read_like_one_sequence(store: S) {
    add_instrument(&store, "AAPL").await;
    let mut bars = series("AAPL", 1_000);
    bars.retain(|b| {
        let minute = (b.time - t0()).get_seconds() / 60;
        !(1_200..2_400).contains(&minute)
    });
    store.upsert_bars(&bars).await.unwrap();
    let at = |i: usize| bars[i].time;
    let sec = jiff::SignedDuration::from_secs(1);
    let ranges = [
        BarRange::default(),
        BarRange {
            from: Some(at(0)),
            to: None,
            limit: None,
        },
        BarRange {
            from: Some(at(31)),
            to: Some(at(33)),
            limit: None,
        },
        BarRange {
            from: Some(at(10) + sec),
            to: Some(at(700) - sec),
            limit: None,
        },
        BarRange {
            from: Some(at(100)),
            to: None,
            limit: Some(250),
        },
        BarRange {
            from: Some(at(230)),
            to: None,
            limit: Some(5),
        },
        BarRange {
            from: None,
            to: None,
            limit: Some(1),
        },
        BarRange {
            from: None,
            to: None,
            limit: Some(2),
        },
        BarRange {
            from: None,
            to: None,
            limit: Some(500),
        },
        BarRange {
            from: None,
            to: Some(at(400) + sec),
            limit: Some(77),
        },
        BarRange {
            from: None,
            to: Some(at(3)),
            limit: Some(10),
        },
        BarRange {
            from: Some(t0() - jiff::SignedDuration::from_hours(24 * 400)),
            to: Some(at(0)),
            limit: None,
        },
        BarRange {
            from: Some(at(bars.len() - 1) + sec),
            to: None,
            limit: None,
        },
        BarRange {
            from: Some(at(5)),
            to: Some(at(4)),
            limit: None,
        },
        BarRange {
            from: Some(at(5)),
            to: None,
            limit: Some(0),
        },
    ];
    for range in ranges {
        let got = store.bars(&sym("AAPL"), Interval::M5, range).await.unwrap();
        assert_eq!(got, expected_range(&bars, range), "{range:?}");
    }
    assert_eq!(
        store.count_bars(&sym("AAPL")).await.unwrap(),
        bars.len() as u64
    );
}

/// A series with one bar in months (a hand-priced item) has few bars per block:
/// "the latest n" must still find n of them.
pub async fn sparse_series_still_return_the_latest_bars(store: S) {
    add_instrument(&store, "ROLEX-SUB-2019").await;
    let bars: Vec<Bar> = (0..60)
        .map(|i| {
            bar_at(
                "ROLEX-SUB-2019",
                Interval::D1,
                ts("2015-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(24 * 45 * i),
                8_000.0 + i as f64,
            )
        })
        .collect();
    store.upsert_bars(&bars).await.unwrap();
    for limit in [1, 3, 40, 59, 60, 100] {
        let range = BarRange {
            from: None,
            to: None,
            limit: Some(limit),
        };
        let got = store
            .bars(&sym("ROLEX-SUB-2019"), Interval::D1, range)
            .await
            .unwrap();
        assert_eq!(got, expected_range(&bars, range), "limit {limit}");
    }
}

/// Replacing and inserting bars in the middle of a stored stretch keeps every
/// neighbour, and re-sending unchanged bars counts them as replaced.
pub async fn rewriting_the_middle_of_a_series_keeps_its_neighbours(store: S) {
    add_instrument(&store, "AAPL").await;
    // Every other bar first, then the ones between with some of the first ones changed.
    let all = series("AAPL", 200);
    let evens: Vec<Bar> = all.iter().step_by(2).cloned().collect();
    store.upsert_bars(&evens).await.unwrap();
    let mut second: Vec<Bar> = all.iter().skip(1).step_by(2).cloned().collect();
    let changed: Vec<Bar> = all[50..60]
        .iter()
        .step_by(2)
        .map(|b| bar_at("AAPL", Interval::M5, b.time, b.close + 0.5))
        .collect();
    second.extend(changed.iter().cloned());
    second.push(all[0].clone());
    let counts = store.upsert_bars(&second).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 100,
            replaced: 6
        }
    );
    let mut want = all.clone();
    for c in &changed {
        if let Some(b) = want.iter_mut().find(|b| b.time == c.time) {
            *b = c.clone();
        }
    }
    let got = store
        .bars(&sym("AAPL"), Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(got, want);
}

/// Writers storing bars of the same series at once (replicas, a backfill beside the
/// live refresh) lose none of them.
pub async fn concurrent_writers_to_one_series_lose_no_bars(store: S) {
    add_instrument(&store, "AAPL").await;
    let all = series("AAPL", 800);
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let store = Arc::clone(&store);
        // Writer w takes bars w, w+4, w+8…: every block is touched by all four.
        let mine: Vec<Bar> = all.iter().skip(writer).step_by(4).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut inserted = 0;
            for chunk in mine.chunks(10) {
                inserted += store.upsert_bars(chunk).await.unwrap().inserted;
            }
            inserted
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        inserted += task.await.unwrap();
    }
    assert_eq!(inserted, 800);
    let got = store
        .bars(&sym("AAPL"), Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(got, all);
}

/// Concurrent calls may be written together (SQLite commits queued calls as one
/// group): each still reports its own counts, as if the calls had run one after the
/// other, and a failing call changes nothing while the others are stored.
pub async fn concurrent_upserts_report_their_own_counts_and_fail_alone(store: S) {
    add_instrument(&store, "AAPL").await;
    let shared = series("AAPL", 50);
    let late: Vec<Bar> = series("AAPL", 60).split_off(50);
    let mut tasks = Vec::new();
    for call in 0..16 {
        let store = Arc::clone(&store);
        let bars = if call % 4 == 3 {
            // Bars of a known series plus one of an unknown symbol: the whole call fails.
            let mut bars = late.clone();
            bars.extend(series("NOPE", 1));
            bars
        } else {
            shared.clone()
        };
        tasks.push(tokio::spawn(async move {
            (call, store.upsert_bars(&bars).await)
        }));
    }
    let (mut inserted, mut replaced, mut failed) = (0, 0, 0);
    for task in tasks {
        let (call, outcome) = task.await.unwrap();
        match outcome {
            Ok(counts) => {
                assert_ne!(call % 4, 3, "call {call} with an unknown symbol succeeded");
                assert_eq!(
                    counts.inserted + counts.replaced,
                    50,
                    "call {call}: {counts:?}"
                );
                inserted += counts.inserted;
                replaced += counts.replaced;
            }
            Err(e) => {
                assert!(
                    matches!(e, StoreError::UnknownInstrument(_)),
                    "call {call}: {e}"
                );
                failed += 1;
            }
        }
    }
    assert_eq!((inserted, replaced, failed), (50, 11 * 50, 4));
    let got = store
        .bars(&sym("AAPL"), Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(got, shared, "the failed calls wrote nothing");
}

/// A backfill older than what is stored, then live bars newer than it, then a
/// correction inside the newest block: one sequence, whichever way it is read.
pub async fn backfill_live_bars_and_corrections_read_as_one_sequence(store: S) {
    add_instrument(&store, "AAPL").await;
    let all = series("AAPL", 210);
    let counts = store.upsert_bars(&all[100..200]).await.unwrap();
    assert_eq!(counts.inserted, 100);
    let counts = store.upsert_bars(&all[..100]).await.unwrap();
    assert_eq!(counts.inserted, 100, "the backfill");
    for bar in &all[200..] {
        let counts = store.upsert_bars(std::slice::from_ref(bar)).await.unwrap();
        assert_eq!(counts.inserted, 1, "a live bar");
    }
    let mut corrected = all[205].clone();
    corrected.close = corrected.open;
    let counts = store
        .upsert_bars(std::slice::from_ref(&corrected))
        .await
        .unwrap();
    assert_eq!((counts.inserted, counts.replaced), (0, 1));
    let mut want = all.clone();
    want[205] = corrected;

    let read = |range: BarRange| {
        let store = Arc::clone(&store);
        async move { store.bars(&sym("AAPL"), Interval::M5, range).await.unwrap() }
    };
    assert_eq!(read(BarRange::default()).await, want);
    let newest = read(BarRange {
        limit: Some(15),
        ..BarRange::default()
    })
    .await;
    assert_eq!(newest, want[195..]);
    let oldest = read(BarRange {
        from: Some(t0()),
        limit: Some(15),
        ..BarRange::default()
    })
    .await;
    assert_eq!(oldest, want[..15]);
    let middle = read(BarRange {
        from: Some(want[190].time),
        to: Some(want[207].time),
        limit: None,
    })
    .await;
    assert_eq!(middle, want[190..=207]);
    assert_eq!(store.count_bars(&sym("AAPL")).await.unwrap(), 210);
}

pub async fn a_hundred_thousand_bars_upsert_in_one_call(store: S) {
    let symbols: Vec<String> = (0..20).map(|i| format!("S{i:02}")).collect();
    for s in &symbols {
        add_instrument(&store, s).await;
    }
    // Interleaved in time, as a live feed delivers them.
    let mut bars = Vec::with_capacity(100_000);
    for i in 0..5_000i64 {
        let time = t0() + jiff::SignedDuration::from_secs(60 * i);
        for s in &symbols {
            bars.push(bar_at(s, Interval::M1, time, 100.0 + (i % 50) as f64));
        }
    }
    let counts = store.upsert_bars(&bars).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 100_000,
            replaced: 0
        }
    );
    assert_eq!(store.count_bars(&sym("S07")).await.unwrap(), 5_000);
    let again = store.upsert_bars(&bars[..60_000]).await.unwrap();
    assert_eq!(
        again,
        UpsertCounts {
            inserted: 0,
            replaced: 60_000
        }
    );
    let latest = store
        .bars(
            &sym("S19"),
            Interval::M1,
            BarRange {
                limit: Some(2_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(latest.len(), 2_000);
    assert!(latest.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(latest.last().map(|b| b.time), bars.last().map(|b| b.time));
}

// ---------------------------------------------------------------- portfolios

pub async fn a_created_portfolio_reads_back_by_id_and_by_name(store: S) {
    let u = user(&store, "ann").await;
    let p = portfolio(&store, u.id, "Retirement").await;
    assert_eq!(p.owner, u.id);
    assert_eq!(p.name, "Retirement");
    assert_eq!(
        store.get_portfolio(u.id, p.id).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        store.portfolio_by_name(u.id, "Retirement").await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        store.portfolio_by_name(u.id, "retirement").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_portfolio(u.id, PortfolioId(p.id.0 + 1000))
            .await
            .unwrap(),
        None
    );
}

pub async fn another_users_portfolio_behaves_as_missing(store: S) {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let p = portfolio(&store, ann.id, "Main").await;
    assert_eq!(store.get_portfolio(bob.id, p.id).await.unwrap(), None);
    assert_eq!(store.portfolio_by_name(bob.id, "Main").await.unwrap(), None);
    assert!(store.list_portfolios(bob.id).await.unwrap().is_empty());
    let draft = PortfolioDraft {
        name: "Stolen".to_owned(),
        base_currency: Currency::EUR,
    };
    assert_eq!(
        store.update_portfolio(bob.id, p.id, &draft).await.unwrap(),
        None
    );
    assert!(!store.delete_portfolio(bob.id, p.id).await.unwrap());
    assert_eq!(store.get_portfolio(ann.id, p.id).await.unwrap(), Some(p));
}

pub async fn a_duplicate_portfolio_name_for_the_same_owner_is_a_conflict_naming_it(store: S) {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    portfolio(&store, ann.id, "Main").await;
    let err = store
        .create_portfolio(
            ann.id,
            &PortfolioDraft {
                name: "Main".to_owned(),
                base_currency: Currency::EUR,
            },
            ts("2024-01-01T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("Main")),
        "{err}"
    );
    // Another owner may use the same name.
    portfolio(&store, bob.id, "Main").await;
}

pub async fn renaming_a_portfolio_onto_an_existing_name_is_a_conflict(store: S) {
    let ann = user(&store, "ann").await;
    portfolio(&store, ann.id, "Main").await;
    let other = portfolio(&store, ann.id, "Other").await;
    let err = store
        .update_portfolio(
            ann.id,
            other.id,
            &PortfolioDraft {
                name: "Main".to_owned(),
                base_currency: Currency::USD,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("Main")),
        "{err}"
    );
    let renamed = store
        .update_portfolio(
            ann.id,
            other.id,
            &PortfolioDraft {
                name: "Savings".to_owned(),
                base_currency: Currency::CHF,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Savings");
    assert_eq!(renamed.base_currency, Currency::CHF);
    assert_eq!(renamed.created_at, other.created_at);
    assert_eq!(
        store.get_portfolio(ann.id, other.id).await.unwrap(),
        Some(renamed)
    );
}

pub async fn portfolios_are_listed_by_name(store: S) {
    let ann = user(&store, "ann").await;
    for name in ["b", "C", "a", "A"] {
        portfolio(&store, ann.id, name).await;
    }
    let names: Vec<String> = store
        .list_portfolios(ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["A", "C", "a", "b"]);
}

pub async fn deleting_a_portfolio_deletes_its_transactions(store: S) {
    add_instrument(&store, "AAPL").await;
    let ann = user(&store, "ann").await;
    let p = portfolio(&store, ann.id, "Main").await;
    let ids = insert(
        &store,
        p.id,
        vec![buy("2024-01-02T00:00:00Z", "AAPL", "1", "10")],
    )
    .await;
    assert!(store.delete_portfolio(ann.id, p.id).await.unwrap());
    assert_eq!(store.get_portfolio(ann.id, p.id).await.unwrap(), None);
    assert_eq!(store.get_transaction(p.id, ids[0]).await.unwrap(), None);
    assert!(store.ledger(p.id).await.unwrap().is_empty());
    assert!(!store.delete_portfolio(ann.id, p.id).await.unwrap());
    // The instrument is free to go now.
    assert_eq!(
        store.delete_instrument(&sym("AAPL")).await.unwrap(),
        DeleteOutcome::Deleted
    );
}

// ---------------------------------------------------------------- ledger

async fn ledger_fixture(store: &S) -> Portfolio {
    add_instrument(store, "AAPL").await;
    add_instrument(store, "MSFT").await;
    let ann = user(store, "ann").await;
    portfolio(store, ann.id, "Main").await
}

pub async fn inserted_transactions_get_ids_in_order_and_the_ledger_is_chronological(store: S) {
    let p = ledger_fixture(&store).await;
    let ids = insert(
        &store,
        p.id,
        vec![
            buy("2024-03-01T00:00:00Z", "AAPL", "5", "100"),
            deposit("2024-01-01T00:00:00Z", "10000"),
            buy("2024-02-01T00:00:00Z", "MSFT", "2", "300"),
        ],
    )
    .await;
    assert_eq!(ids.len(), 3);
    assert!(ids[0].0 < ids[1].0 && ids[1].0 < ids[2].0);
    let ledger = store.ledger(p.id).await.unwrap();
    assert_eq!(ledger_ids(&ledger), [ids[1], ids[2], ids[0]]);
    let got = store.get_transaction(p.id, ids[0]).await.unwrap().unwrap();
    assert_eq!(
        got.transaction,
        buy("2024-03-01T00:00:00Z", "AAPL", "5", "100")
    );
}

pub async fn every_transaction_kind_round_trips_exactly(store: S) {
    let p = ledger_fixture(&store).await;
    let amount = |s: &str| Amount::parse(s).unwrap();
    let mut with_note = buy(
        "2024-01-02T10:11:12.123456Z",
        "AAPL",
        "0.000001",
        "187.123456789",
    );
    with_note.note = "first lot — \"quoted\" ünïcode".to_owned();
    with_note.currency = Currency::parse("USDT").unwrap();
    let txs = vec![
        deposit("2024-01-01T00:00:00Z", "100000.10"),
        with_note,
        sell("2024-01-03T00:00:00Z", "AAPL", "0.000001", "200"),
        tx(
            "2024-01-04T00:00:00Z",
            TransactionKind::Dividend {
                symbol: sym("MSFT"),
                amount: amount("12.345678901234567890"),
                tax_withheld: amount("1.85"),
            },
        ),
        tx(
            "2024-01-05T00:00:00Z",
            TransactionKind::Interest {
                amount: amount("0.01"),
                tax_withheld: amount("0"),
            },
        ),
        tx(
            "2024-01-06T00:00:00Z",
            TransactionKind::Fee {
                symbol: Some(sym("AAPL")),
                amount: amount("2.50"),
            },
        ),
        tx(
            "2024-01-07T00:00:00Z",
            TransactionKind::Fee {
                symbol: None,
                amount: amount("9"),
            },
        ),
        tx(
            "2024-01-08T00:00:00Z",
            TransactionKind::Tax {
                symbol: None,
                amount: amount("3"),
            },
        ),
        tx(
            "2024-01-09T00:00:00Z",
            TransactionKind::Withdrawal {
                amount: amount("50"),
            },
        ),
        buy("2024-01-10T00:00:00Z", "MSFT", "3", "400"),
        tx(
            "2024-01-11T00:00:00Z",
            TransactionKind::Split {
                symbol: sym("MSFT"),
                ratio: SplitRatio::new(dec!(3), dec!(2)).unwrap(),
            },
        ),
    ];
    let ids = insert(&store, p.id, txs.clone()).await;
    let ledger = store.ledger(p.id).await.unwrap();
    let got: Vec<Transaction> = ledger.iter().map(|r| r.transaction.clone()).collect();
    assert_eq!(got, txs);
    assert_eq!(ledger_ids(&ledger), ids);
    let all_types: Vec<TransactionType> = got.iter().map(|t| t.transaction_type()).collect();
    assert_eq!(all_types.len(), 11);
    // Money keeps every digit.
    match &got[3].kind {
        TransactionKind::Dividend { amount, .. } => {
            assert_eq!(amount.value(), dec!(12.345678901234567890));
        }
        other => panic!("{other:?}"),
    }
}

pub async fn same_time_transactions_keep_recording_order_and_new_ones_come_last(store: S) {
    let p = ledger_fixture(&store).await;
    let t = "2024-01-02T00:00:00Z";
    let first = insert(&store, p.id, vec![deposit(t, "1"), deposit(t, "2")]).await;
    let later = insert(
        &store,
        p.id,
        vec![deposit("2024-01-01T00:00:00Z", "3"), deposit(t, "4")],
    )
    .await;
    let ledger = store.ledger(p.id).await.unwrap();
    assert_eq!(
        ledger_ids(&ledger),
        [later[0], first[0], first[1], later[1]]
    );
    // A replaced transaction keeps its id, hence its place among same-time ones.
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Replace(first[0], deposit(t, "5")),
            &accept_all,
        )
        .await
        .unwrap();
    assert_eq!(outcome, LedgerOutcome::Applied(vec![first[0]]));
    let ledger = store.ledger(p.id).await.unwrap();
    assert_eq!(
        ledger_ids(&ledger),
        [later[0], first[0], first[1], later[1]]
    );
}

pub async fn replacing_a_transaction_keeps_its_id_and_changes_its_fields(store: S) {
    let p = ledger_fixture(&store).await;
    let ids = insert(
        &store,
        p.id,
        vec![
            deposit("2024-01-01T00:00:00Z", "1000"),
            buy("2024-01-02T00:00:00Z", "AAPL", "1", "10"),
        ],
    )
    .await;
    let replacement = buy("2023-12-31T00:00:00Z", "MSFT", "2", "20");
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Replace(ids[1], replacement.clone()),
            &holdings_validator,
        )
        .await
        .unwrap();
    assert_eq!(outcome, LedgerOutcome::Applied(vec![ids[1]]));
    let got = store.get_transaction(p.id, ids[1]).await.unwrap().unwrap();
    assert_eq!(got.transaction, replacement);
    assert_eq!(
        ledger_ids(&store.ledger(p.id).await.unwrap()),
        [ids[1], ids[0]]
    );
}

pub async fn deleting_a_transaction_removes_it(store: S) {
    let p = ledger_fixture(&store).await;
    let ids = insert(
        &store,
        p.id,
        vec![
            deposit("2024-01-01T00:00:00Z", "1"),
            deposit("2024-01-02T00:00:00Z", "2"),
        ],
    )
    .await;
    let outcome = store
        .apply_ledger_change(p.id, LedgerChange::Delete(ids[0]), &holdings_validator)
        .await
        .unwrap();
    assert_eq!(outcome, LedgerOutcome::Applied(vec![]));
    assert_eq!(store.get_transaction(p.id, ids[0]).await.unwrap(), None);
    assert_eq!(ledger_ids(&store.ledger(p.id).await.unwrap()), [ids[1]]);
}

pub async fn replacing_or_deleting_a_missing_transaction_reports_not_found(store: S) {
    let p = ledger_fixture(&store).await;
    let ann_other = portfolio(&store, p.owner, "Other").await;
    let ids = insert(
        &store,
        ann_other.id,
        vec![deposit("2024-01-01T00:00:00Z", "1")],
    )
    .await;
    for change in [
        LedgerChange::Delete(TransactionId(ids[0].0 + 1000)),
        // A transaction of another portfolio is not found here.
        LedgerChange::Delete(ids[0]),
        LedgerChange::Replace(ids[0], deposit("2024-01-01T00:00:00Z", "2")),
    ] {
        let outcome = store
            .apply_ledger_change(p.id, change, &accept_all)
            .await
            .unwrap();
        assert_eq!(outcome, LedgerOutcome::TransactionNotFound);
    }
    assert_eq!(store.ledger(ann_other.id).await.unwrap().len(), 1);
    assert_eq!(store.get_transaction(p.id, ids[0]).await.unwrap(), None);
}

pub async fn a_rejected_change_writes_nothing(store: S) {
    let p = ledger_fixture(&store).await;
    let ids = insert(
        &store,
        p.id,
        vec![
            buy("2024-01-02T00:00:00Z", "AAPL", "10", "100"),
            sell("2024-01-05T00:00:00Z", "AAPL", "4", "110"),
        ],
    )
    .await;
    let before = store.ledger(p.id).await.unwrap();
    // Insert: selling more than held.
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Insert(vec![
                deposit("2024-01-06T00:00:00Z", "5"),
                sell("2024-01-06T00:00:00Z", "AAPL", "7", "120"),
            ]),
            &holdings_validator,
        )
        .await
        .unwrap();
    match outcome {
        LedgerOutcome::Rejected(HoldingsError::InsufficientQuantity { held, .. }) => {
            assert_eq!(held, dec!(6));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Replace: shrinking the buy below what is sold later.
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Replace(ids[0], buy("2024-01-02T00:00:00Z", "AAPL", "1", "100")),
            &holdings_validator,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, LedgerOutcome::Rejected(_)), "{outcome:?}");
    // Delete: removing the buy leaves the sell uncovered.
    let outcome = store
        .apply_ledger_change(p.id, LedgerChange::Delete(ids[0]), &holdings_validator)
        .await
        .unwrap();
    assert!(matches!(outcome, LedgerOutcome::Rejected(_)), "{outcome:?}");
    assert_eq!(store.ledger(p.id).await.unwrap(), before);
    // The store still works after the rollbacks.
    insert(&store, p.id, vec![deposit("2024-01-07T00:00:00Z", "1")]).await;
    assert_eq!(store.ledger(p.id).await.unwrap().len(), 3);
}

pub async fn the_validator_sees_the_ledger_as_it_would_be_after_the_change(store: S) {
    let p = ledger_fixture(&store).await;
    let existing = insert(&store, p.id, vec![deposit("2024-01-02T00:00:00Z", "1")]).await;
    // Validators are 'static (see `LedgerValidator`): share the record through an Arc.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let spy = move |ledger: &[RecordedTransaction]| -> Result<(), HoldingsError> {
        *record.lock().unwrap() = ledger.to_vec();
        Ok(())
    };
    let outcome = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Insert(vec![
                deposit("2024-01-02T00:00:00Z", "2"),
                deposit("2024-01-01T00:00:00Z", "3"),
            ]),
            &spy,
        )
        .await
        .unwrap();
    let LedgerOutcome::Applied(new) = outcome else {
        panic!("{outcome:?}")
    };
    let seen = seen.lock().unwrap().clone();
    assert_eq!(ledger_ids(&seen), [new[1], existing[0], new[0]]);
    assert_eq!(seen, store.ledger(p.id).await.unwrap());
}

pub async fn a_transaction_naming_an_unknown_instrument_fails_and_writes_nothing(store: S) {
    let p = ledger_fixture(&store).await;
    let err = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Insert(vec![
                deposit("2024-01-01T00:00:00Z", "1000"),
                buy("2024-01-02T00:00:00Z", "NOPE", "1", "1"),
            ]),
            &accept_all,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownInstrument(ref s) if s.as_str() == "NOPE"),
        "{err}"
    );
    assert!(store.ledger(p.id).await.unwrap().is_empty());
    let ids = insert(&store, p.id, vec![deposit("2024-01-01T00:00:00Z", "1")]).await;
    let err = store
        .apply_ledger_change(
            p.id,
            LedgerChange::Replace(ids[0], buy("2024-01-02T00:00:00Z", "NOPE", "1", "1")),
            &accept_all,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownInstrument(_)), "{err}");
    assert_eq!(store.ledger(p.id).await.unwrap().len(), 1);
}

pub async fn concurrent_ledger_changes_are_serialised_by_the_portfolio_lock(store: S) {
    let p = ledger_fixture(&store).await;
    insert(
        &store,
        p.id,
        vec![buy("2024-01-02T00:00:00Z", "AAPL", "10", "100")],
    )
    .await;
    // Each sell is fine alone; together they oversell. Exactly one may win.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .apply_ledger_change(
                    p.id,
                    LedgerChange::Insert(vec![sell(
                        &format!("2024-01-0{}T00:00:00Z", i + 3),
                        "AAPL",
                        "6",
                        "110",
                    )]),
                    &holdings_validator,
                )
                .await
                .unwrap()
        }));
    }
    let mut applied = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), LedgerOutcome::Applied(_)) {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(store.ledger(p.id).await.unwrap().len(), 2);
}

pub async fn listing_transactions_filters_and_paginates_with_a_total(store: S) {
    let p = ledger_fixture(&store).await;
    let ids = insert(
        &store,
        p.id,
        vec![
            deposit("2024-01-01T00:00:00Z", "10000"),
            buy("2024-01-02T00:00:00Z", "AAPL", "10", "100"),
            buy("2024-01-03T00:00:00Z", "MSFT", "1", "300"),
            sell("2024-01-04T00:00:00Z", "AAPL", "5", "110"),
            buy("2024-01-05T00:00:00Z", "AAPL", "1", "90"),
        ],
    )
    .await;
    let list = |filter: TransactionFilter, limit, offset| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_transactions(p.id, &filter, PageRequest::new(Some(limit), Some(offset)))
                .await
                .unwrap()
        }
    };
    let all = list(TransactionFilter::default(), 100, 0).await;
    assert_eq!(ledger_ids(&all.items), ids);
    assert_eq!(all.total, 5);
    let aapl = TransactionFilter {
        symbol: Some(sym("AAPL")),
        ..Default::default()
    };
    let page = list(aapl.clone(), 2, 1).await;
    assert_eq!(ledger_ids(&page.items), [ids[3], ids[4]]);
    assert_eq!(page.total, 3);
    let buys_in_range = TransactionFilter {
        kind: Some(TransactionType::Buy),
        from: Some(ts("2024-01-03T00:00:00Z")),
        to: Some(ts("2024-01-05T00:00:00Z")),
        ..Default::default()
    };
    let page = list(buys_in_range, 100, 0).await;
    assert_eq!(ledger_ids(&page.items), [ids[2], ids[4]]);
    assert_eq!(page.total, 2);
    let unknown = TransactionFilter {
        symbol: Some(sym("NOPE")),
        ..Default::default()
    };
    assert_eq!(list(unknown, 100, 0).await.total, 0);
    let other = store
        .list_transactions(
            PortfolioId(p.id.0 + 1000),
            &TransactionFilter::default(),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(other.total, 0);
}

// ---------------------------------------------------------------- users and tokens

pub async fn users_are_created_found_by_name_listed_and_counted(store: S) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let now = ts("2024-05-06T07:08:09.123456Z");
    let admin = store.create_user("root", Role::Admin, now).await.unwrap();
    let ann = store.create_user("ann", Role::User, now).await.unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.created_at, now);
    assert_eq!(store.user_by_name("ann").await.unwrap(), Some(ann.clone()));
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);
    assert_eq!(store.list_users().await.unwrap(), [ann, admin]);
    assert_eq!(store.count_users().await.unwrap(), 2);
}

pub async fn a_duplicate_user_name_is_a_conflict_naming_it(store: S) {
    user(&store, "ann").await;
    let err = store
        .create_user("ann", Role::Admin, ts("2024-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("ann")),
        "{err}"
    );
}

pub async fn password_hashes_are_set_and_read_per_user(store: S) {
    let ann = user(&store, "ann").await;
    assert_eq!(store.password_hash(ann.id).await.unwrap(), None);
    assert!(
        store
            .set_password_hash(ann.id, "$argon2id$v=19$abc")
            .await
            .unwrap()
    );
    assert_eq!(
        store.password_hash(ann.id).await.unwrap().as_deref(),
        Some("$argon2id$v=19$abc")
    );
    let missing = UserId(ann.id.0 + 1000);
    assert!(!store.set_password_hash(missing, "x").await.unwrap());
    assert_eq!(store.password_hash(missing).await.unwrap(), None);
}

pub async fn a_token_finds_its_user_and_records_its_last_use(store: S) {
    let ann = user(&store, "ann").await;
    let created = ts("2024-02-01T00:00:00Z");
    let hash = "a".repeat(64);
    let token = store
        .create_token(ann.id, "laptop", "pt_abcd", &hash, created)
        .await
        .unwrap();
    assert_eq!(token.user, ann.id);
    assert_eq!(token.last_used_at, None);
    assert_eq!(
        store.list_tokens(ann.id).await.unwrap(),
        std::slice::from_ref(&token)
    );
    let used = ts("2024-02-03T04:05:06Z");
    assert_eq!(
        store.user_by_token_hash(&hash, used).await.unwrap(),
        Some(ann.clone())
    );
    let listed = store.list_tokens(ann.id).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(used));
    // Uses are recorded to the minute: one 30 s later writes nothing, one
    // after the minute moves the record.
    let soon = ts("2024-02-03T04:05:36Z");
    assert!(
        store
            .user_by_token_hash(&hash, soon)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.list_tokens(ann.id).await.unwrap()[0].last_used_at,
        Some(used)
    );
    let later = ts("2024-02-03T04:06:07Z");
    assert!(
        store
            .user_by_token_hash(&hash, later)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.list_tokens(ann.id).await.unwrap()[0].last_used_at,
        Some(later)
    );
    let listed = store.list_tokens(ann.id).await.unwrap();
    assert_eq!(listed[0].prefix, "pt_abcd");
    assert_eq!(listed[0].label, "laptop");
    assert_eq!(
        store
            .user_by_token_hash(&"b".repeat(64), used)
            .await
            .unwrap(),
        None
    );
    let err = store
        .create_token(ann.id, "dup", "pt_x", &hash, created)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

pub async fn tokens_are_revoked_only_by_their_owner(store: S) {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let now = ts("2024-02-01T00:00:00Z");
    let first = store
        .create_token(ann.id, "one", "pt_1", &"1".repeat(64), now)
        .await
        .unwrap();
    let second = store
        .create_token(ann.id, "two", "pt_2", &"2".repeat(64), now)
        .await
        .unwrap();
    assert!(store.list_tokens(bob.id).await.unwrap().is_empty());
    assert!(!store.revoke_token(bob.id, first.id).await.unwrap());
    assert!(store.revoke_token(ann.id, first.id).await.unwrap());
    assert!(!store.revoke_token(ann.id, first.id).await.unwrap());
    assert_eq!(store.list_tokens(ann.id).await.unwrap(), [second]);
    assert_eq!(
        store
            .user_by_token_hash(&"1".repeat(64), now)
            .await
            .unwrap(),
        None
    );
}
