//! Portfolio ledgers on PostgreSQL.

use super::{PgStore, count, db, get};
use crate::codec::{TxColumns, symbol};
use pricetrack_app::ports::{
    LedgerChange, LedgerOutcome, LedgerValidator, Page, PageRequest, RecordedTransaction,
    StoreError, StoreResult, TransactionFilter,
};
use pricetrack_domain::{PortfolioId, Transaction, TransactionId};
use tokio_postgres::{GenericClient, Row, types::ToSql};

const SELECT: &str = "SELECT t.id, t.time, t.type, i.symbol, t.quantity, t.price, t.fee,
        t.amount, t.tax, t.ratio, t.currency, t.note
    FROM transactions t LEFT JOIN instruments i ON i.id = t.instrument_id";

fn decode(row: &Row) -> StoreResult<RecordedTransaction> {
    let sym: Option<&str> = get(row, 3, "transactions.instrument_id")?;
    let columns = TxColumns {
        time: Some(get(row, 1, "transactions.time")?),
        kind: get(row, 2, "transactions.type")?,
        symbol: sym.map(|s| symbol("instruments.symbol", s)).transpose()?,
        quantity: get(row, 4, "transactions.quantity")?,
        price: get(row, 5, "transactions.price")?,
        fee: get(row, 6, "transactions.fee")?,
        amount: get(row, 7, "transactions.amount")?,
        tax: get(row, 8, "transactions.tax")?,
        ratio: get(row, 9, "transactions.ratio")?,
        currency: get(row, 10, "transactions.currency")?,
        note: get(row, 11, "transactions.note")?,
    };
    columns.into_recorded(get(row, 0, "transactions.id")?)
}

async fn ledger_of(
    client: &impl GenericClient,
    portfolio: PortfolioId,
) -> StoreResult<Vec<RecordedTransaction>> {
    let rows = client
        .query(
            &format!("{SELECT} WHERE t.portfolio_id = $1 ORDER BY t.time, t.id"),
            &[&portfolio.0],
        )
        .await
        .map_err(db("reading a ledger"))?;
    rows.iter().map(decode).collect()
}

/// The values of a transaction's columns, instrument resolved to its id.
struct Values {
    columns: TxColumns,
    instrument: Option<i32>,
}

async fn values(client: &impl GenericClient, tx: &Transaction) -> StoreResult<Values> {
    let mut columns = TxColumns::from_transaction(tx);
    for money in [
        &mut columns.quantity,
        &mut columns.price,
        &mut columns.fee,
        &mut columns.amount,
        &mut columns.tax,
    ] {
        *money = money.map(|d| d.normalize());
    }
    let instrument = match &columns.symbol {
        None => None,
        Some(sym) => {
            let row = client
                .query_opt(
                    "SELECT id FROM instruments WHERE symbol = $1",
                    &[&sym.as_str()],
                )
                .await
                .map_err(db("resolving a transaction's instrument"))?
                .ok_or_else(|| StoreError::UnknownInstrument(sym.clone()))?;
            Some(get(&row, 0, "instruments.id")?)
        }
    };
    Ok(Values {
        columns,
        instrument,
    })
}

impl PgStore {
    pub(super) async fn pg_apply_ledger_change(
        &self,
        portfolio: PortfolioId,
        change: LedgerChange,
        validate: &LedgerValidator,
    ) -> StoreResult<LedgerOutcome> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(db("starting a ledger change"))?;
        // The portfolio's write lock: concurrent changes to the same ledger queue here,
        // so each validates against the ledger the previous one committed.
        let locked = tx
            .query_opt(
                "SELECT id FROM portfolios WHERE id = $1 FOR UPDATE",
                &[&portfolio.0],
            )
            .await
            .map_err(db("locking a portfolio"))?;
        if locked.is_none() {
            return match change {
                LedgerChange::Insert(_) => Err(StoreError::Conflict(format!(
                    "portfolio {portfolio} does not exist (deleted meanwhile?)"
                ))),
                LedgerChange::Replace(..) | LedgerChange::Delete(_) => {
                    Ok(LedgerOutcome::TransactionNotFound)
                }
            };
        }
        let ids = match &change {
            LedgerChange::Insert(txs) => {
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO transactions (portfolio_id, time, type, instrument_id,
                             quantity, price, fee, amount, tax, ratio, currency, note)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                         RETURNING id",
                    )
                    .await
                    .map_err(db("inserting a transaction"))?;
                let mut ids = Vec::with_capacity(txs.len());
                for t in txs {
                    let v = values(&*tx, t).await?;
                    let c = &v.columns;
                    let row = tx
                        .query_one(
                            &stmt,
                            &[
                                &portfolio.0,
                                &c.time,
                                &c.kind,
                                &v.instrument,
                                &c.quantity,
                                &c.price,
                                &c.fee,
                                &c.amount,
                                &c.tax,
                                &c.ratio,
                                &c.currency,
                                &c.note,
                            ],
                        )
                        .await
                        .map_err(db("inserting a transaction"))?;
                    ids.push(TransactionId(get(&row, 0, "transactions.id")?));
                }
                ids
            }
            LedgerChange::Replace(id, t) => {
                let v = values(&*tx, t).await?;
                let c = &v.columns;
                let n = tx
                    .execute(
                        "UPDATE transactions SET time = $3, type = $4, instrument_id = $5,
                             quantity = $6, price = $7, fee = $8, amount = $9, tax = $10,
                             ratio = $11, currency = $12, note = $13
                         WHERE id = $1 AND portfolio_id = $2",
                        &[
                            &id.0,
                            &portfolio.0,
                            &c.time,
                            &c.kind,
                            &v.instrument,
                            &c.quantity,
                            &c.price,
                            &c.fee,
                            &c.amount,
                            &c.tax,
                            &c.ratio,
                            &c.currency,
                            &c.note,
                        ],
                    )
                    .await
                    .map_err(db("replacing a transaction"))?;
                if n == 0 {
                    return Ok(LedgerOutcome::TransactionNotFound);
                }
                vec![*id]
            }
            LedgerChange::Delete(id) => {
                let n = tx
                    .execute(
                        "DELETE FROM transactions WHERE id = $1 AND portfolio_id = $2",
                        &[&id.0, &portfolio.0],
                    )
                    .await
                    .map_err(db("deleting a transaction"))?;
                if n == 0 {
                    return Ok(LedgerOutcome::TransactionNotFound);
                }
                Vec::new()
            }
        };
        let ledger = ledger_of(&*tx, portfolio).await?;
        match validate(&ledger) {
            Ok(()) => {
                tx.execute(
                    "UPDATE portfolios SET ledger_version = ledger_version + 1 WHERE id = $1",
                    &[&portfolio.0],
                )
                .await
                .map_err(db("recording a ledger change"))?;
                tx.commit()
                    .await
                    .map_err(db("committing a ledger change"))?;
                Ok(LedgerOutcome::Applied(ids))
            }
            Err(rejection) => {
                tx.rollback()
                    .await
                    .map_err(db("rolling back a ledger change"))?;
                Ok(LedgerOutcome::Rejected(rejection))
            }
        }
    }

    pub(super) async fn pg_get_transaction(
        &self,
        portfolio: PortfolioId,
        id: TransactionId,
    ) -> StoreResult<Option<RecordedTransaction>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("{SELECT} WHERE t.portfolio_id = $1 AND t.id = $2"),
                &[&portfolio.0, &id.0],
            )
            .await
            .map_err(db("reading a transaction"))?;
        row.as_ref().map(decode).transpose()
    }

    pub(super) async fn pg_list_transactions(
        &self,
        portfolio: PortfolioId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<RecordedTransaction>> {
        let client = self.client().await?;
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(portfolio.0)];
        let mut conditions = vec!["t.portfolio_id = $1".to_owned()];
        if let Some(sym) = &filter.symbol {
            args.push(Box::new(sym.as_str().to_owned()));
            conditions.push(format!(
                "t.instrument_id = (SELECT id FROM instruments WHERE symbol = ${})",
                args.len()
            ));
        }
        if let Some(kind) = filter.kind {
            args.push(Box::new(kind.as_str().to_owned()));
            conditions.push(format!("t.type = ${}", args.len()));
        }
        if let Some(from) = filter.from {
            args.push(Box::new(from));
            conditions.push(format!("t.time >= ${}", args.len()));
        }
        if let Some(to) = filter.to {
            args.push(Box::new(to));
            conditions.push(format!("t.time <= ${}", args.len()));
        }
        let filter_sql = conditions.join(" AND ");
        let mut refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
        let total: i64 = get(
            &client
                .query_one(
                    &format!("SELECT count(*) FROM transactions t WHERE {filter_sql}"),
                    &refs,
                )
                .await
                .map_err(db("counting transactions"))?,
            0,
            "count",
        )?;
        let limit = i64::from(page.limit);
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        refs.push(&limit);
        refs.push(&offset);
        let n = refs.len();
        let rows = client
            .query(
                &format!(
                    "{SELECT} WHERE {filter_sql} ORDER BY t.time, t.id LIMIT ${} OFFSET ${n}",
                    n - 1
                ),
                &refs,
            )
            .await
            .map_err(db("listing transactions"))?;
        Ok(Page {
            items: rows.iter().map(decode).collect::<StoreResult<_>>()?,
            total: count(total),
        })
    }

    pub(super) async fn pg_ledger(
        &self,
        portfolio: PortfolioId,
    ) -> StoreResult<Vec<RecordedTransaction>> {
        let client = self.client().await?;
        ledger_of(&**client, portfolio).await
    }
}
