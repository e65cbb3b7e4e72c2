//! Portfolio ledgers on SQLite.

use super::{db, get};
use crate::codec::{TxColumns, decimal_text, from_micros, micros, parse_decimal_text, symbol};
use pricetrack_app::ports::{
    LedgerChange, Page, PageRequest, RecordedTransaction, StoreError, StoreResult,
    TransactionFilter,
};
use pricetrack_domain::{PortfolioId, Symbol, Transaction, TransactionId};
use rusqlite::{Connection, OptionalExtension, Row, params, types::Value};
use rust_decimal::Decimal;

const SELECT: &str = "SELECT t.id, t.time, t.type, i.symbol, t.quantity, t.price, t.fee,
        t.amount, t.tax, t.ratio, t.currency, t.note
    FROM transactions t LEFT JOIN instruments i ON i.id = t.instrument_id";

fn decode(row: &Row<'_>) -> StoreResult<RecordedTransaction> {
    let money = |idx: usize, column: &'static str| -> StoreResult<Option<Decimal>> {
        let raw: Option<String> = get(row, idx, column)?;
        raw.map(|s| parse_decimal_text(column, &s)).transpose()
    };
    let sym: Option<String> = get(row, 3, "transactions.instrument_id")?;
    let columns = TxColumns {
        time: Some(from_micros(
            "transactions.time",
            get(row, 1, "transactions.time")?,
        )?),
        kind: get(row, 2, "transactions.type")?,
        symbol: sym.map(|s| symbol("instruments.symbol", &s)).transpose()?,
        quantity: money(4, "transactions.quantity")?,
        price: money(5, "transactions.price")?,
        fee: money(6, "transactions.fee")?,
        amount: money(7, "transactions.amount")?,
        tax: money(8, "transactions.tax")?,
        ratio: get(row, 9, "transactions.ratio")?,
        currency: get(row, 10, "transactions.currency")?,
        note: get(row, 11, "transactions.note")?,
    };
    columns.into_recorded(get(row, 0, "transactions.id")?)
}

fn collect(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    context: &'static str,
) -> StoreResult<Vec<RecordedTransaction>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db(context))?;
    let mut rows = stmt.query(params).map_err(db(context))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db(context))? {
        out.push(decode(row)?);
    }
    Ok(out)
}

pub(super) fn ledger(
    conn: &Connection,
    portfolio: PortfolioId,
) -> StoreResult<Vec<RecordedTransaction>> {
    collect(
        conn,
        &format!("{SELECT} WHERE t.portfolio_id = ?1 ORDER BY t.time, t.id"),
        [portfolio.0],
        "reading a ledger",
    )
}

pub(super) fn get_one(
    conn: &Connection,
    portfolio: PortfolioId,
    id: TransactionId,
) -> StoreResult<Option<RecordedTransaction>> {
    Ok(collect(
        conn,
        &format!("{SELECT} WHERE t.portfolio_id = ?1 AND t.id = ?2"),
        [portfolio.0, id.0],
        "reading a transaction",
    )?
    .into_iter()
    .next())
}

pub(super) fn list(
    conn: &Connection,
    portfolio: PortfolioId,
    filter: &TransactionFilter,
    page: PageRequest,
) -> StoreResult<Page<RecordedTransaction>> {
    let mut args = vec![Value::Integer(portfolio.0)];
    let mut conditions = vec!["t.portfolio_id = ?1".to_owned()];
    if let Some(sym) = &filter.symbol {
        args.push(Value::Text(sym.as_str().to_owned()));
        conditions.push(format!(
            "t.instrument_id = (SELECT id FROM instruments WHERE symbol = ?{})",
            args.len()
        ));
    }
    if let Some(kind) = filter.kind {
        args.push(Value::Text(kind.as_str().to_owned()));
        conditions.push(format!("t.type = ?{}", args.len()));
    }
    if let Some(from) = filter.from {
        args.push(Value::Integer(micros(from)));
        conditions.push(format!("t.time >= ?{}", args.len()));
    }
    if let Some(to) = filter.to {
        args.push(Value::Integer(micros(to)));
        conditions.push(format!("t.time <= ?{}", args.len()));
    }
    let filter_sql = conditions.join(" AND ");
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM transactions t WHERE {filter_sql}"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(rusqlite::params_from_iter(args.iter()), |row| row.get(0))
        })
        .map_err(db("counting transactions"))?;
    args.push(Value::Integer(page.limit.into()));
    args.push(Value::Integer(
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    ));
    let n = args.len();
    let items = collect(
        conn,
        &format!(
            "{SELECT} WHERE {filter_sql} ORDER BY t.time, t.id LIMIT ?{} OFFSET ?{n}",
            n - 1
        ),
        rusqlite::params_from_iter(args.iter()),
        "listing transactions",
    )?;
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
}

fn instrument_id(conn: &Connection, sym: Option<&Symbol>) -> StoreResult<Option<i64>> {
    let Some(sym) = sym else { return Ok(None) };
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
        .and_then(|mut stmt| stmt.query_row([sym.as_str()], |row| row.get(0)).optional())
        .map_err(db("resolving a transaction's instrument"))?;
    id.map(Some)
        .ok_or_else(|| StoreError::UnknownInstrument(sym.clone()))
}

/// The column values of a transaction up to `ratio` (currency and note are taken as
/// they are), money as canonical decimal text.
fn values(conn: &Connection, tx: &Transaction) -> StoreResult<[Value; 9]> {
    let c = TxColumns::from_transaction(tx);
    let money = |d: Option<Decimal>| d.map_or(Value::Null, |d| Value::Text(decimal_text(d)));
    let instrument = instrument_id(conn, c.symbol.as_ref())?;
    Ok([
        Value::Integer(micros(c.time.unwrap_or(tx.time))),
        Value::Text(c.kind),
        instrument.map_or(Value::Null, Value::Integer),
        money(c.quantity),
        money(c.price),
        money(c.fee),
        money(c.amount),
        money(c.tax),
        c.ratio.map_or(Value::Null, Value::Text),
    ])
}

/// Writes the change inside the caller's transaction. `Ok(None)`: the transaction to
/// replace or delete is not in this portfolio.
pub(super) fn apply(
    conn: &Connection,
    portfolio: PortfolioId,
    change: &LedgerChange,
) -> StoreResult<Option<Vec<TransactionId>>> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM portfolios WHERE id = ?1",
            [portfolio.0],
            |row| row.get(0),
        )
        .optional()
        .map_err(db("checking a portfolio"))?;
    if exists.is_none() {
        return match change {
            LedgerChange::Insert(_) => Err(StoreError::Conflict(format!(
                "portfolio {portfolio} does not exist (deleted meanwhile?)"
            ))),
            LedgerChange::Replace(..) | LedgerChange::Delete(_) => Ok(None),
        };
    }
    match change {
        LedgerChange::Insert(txs) => {
            let mut stmt = conn
                .prepare_cached(
                    "INSERT INTO transactions (portfolio_id, time, type, instrument_id, quantity,
                         price, fee, amount, tax, ratio, currency, note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(db("inserting a transaction"))?;
            let mut ids = Vec::with_capacity(txs.len());
            for tx in txs {
                let [
                    time,
                    kind,
                    instrument,
                    quantity,
                    price,
                    fee,
                    amount,
                    tax,
                    ratio,
                ] = values(conn, tx)?;
                stmt.execute(params![
                    portfolio.0,
                    time,
                    kind,
                    instrument,
                    quantity,
                    price,
                    fee,
                    amount,
                    tax,
                    ratio,
                    tx.currency.as_str(),
                    tx.note
                ])
                .map_err(db("inserting a transaction"))?;
                ids.push(TransactionId(conn.last_insert_rowid()));
            }
            Ok(Some(ids))
        }
        LedgerChange::Replace(id, tx) => {
            let [
                time,
                kind,
                instrument,
                quantity,
                price,
                fee,
                amount,
                tax,
                ratio,
            ] = values(conn, tx)?;
            let n = conn
                .prepare_cached(
                    "UPDATE transactions SET time = ?3, type = ?4, instrument_id = ?5,
                         quantity = ?6, price = ?7, fee = ?8, amount = ?9, tax = ?10,
                         ratio = ?11, currency = ?12, note = ?13
                     WHERE id = ?1 AND portfolio_id = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id.0,
                        portfolio.0,
                        time,
                        kind,
                        instrument,
                        quantity,
                        price,
                        fee,
                        amount,
                        tax,
                        ratio,
                        tx.currency.as_str(),
                        tx.note
                    ])
                })
                .map_err(db("replacing a transaction"))?;
            Ok((n > 0).then(|| vec![*id]))
        }
        LedgerChange::Delete(id) => {
            let n = conn
                .prepare_cached("DELETE FROM transactions WHERE id = ?1 AND portfolio_id = ?2")
                .and_then(|mut stmt| stmt.execute(params![id.0, portfolio.0]))
                .map_err(db("deleting a transaction"))?;
            Ok((n > 0).then(Vec::new))
        }
    }
}
