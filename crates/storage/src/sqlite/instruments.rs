//! Instruments on SQLite.

use super::{db, get, is_unique_violation};
use crate::codec::{InstrumentRow, micros, url_source_json};
use pricetrack_app::ports::{DeleteOutcome, InstrumentQuery, Page, StoreError, StoreResult};
use pricetrack_domain::{Instrument, Symbol};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, types::Value};

const COLUMNS: &str = "symbol, name, kind, currency, exchange, provider, provider_symbol, \
    listing_date, url_source";

fn decode(row: &Row<'_>) -> StoreResult<Instrument> {
    InstrumentRow {
        symbol: get(row, 0, "instruments.symbol")?,
        name: get(row, 1, "instruments.name")?,
        kind: get(row, 2, "instruments.kind")?,
        currency: get(row, 3, "instruments.currency")?,
        exchange: get(row, 4, "instruments.exchange")?,
        provider: get(row, 5, "instruments.provider")?,
        provider_symbol: get(row, 6, "instruments.provider_symbol")?,
        listing_date: get::<Option<String>>(row, 7, "instruments.listing_date")?
            .map(|d| {
                d.parse()
                    .map_err(|e| crate::codec::corrupt("instruments.listing_date", e))
            })
            .transpose()?,
        url_source: get(row, 8, "instruments.url_source")?,
    }
    .into_instrument()
}

pub(super) fn create(conn: &Connection, i: &Instrument) -> StoreResult<()> {
    let url_source = url_source_json(i)?;
    conn.prepare_cached(
        "INSERT INTO instruments
             (symbol, name, kind, currency, exchange, provider, provider_symbol, created_at,
              listing_date, url_source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            i.symbol.as_str(),
            i.name,
            i.kind.as_str(),
            i.currency.as_str(),
            i.exchange,
            i.provider.as_str(),
            i.provider_symbol,
            micros(jiff::Timestamp::now()),
            i.listing_date.map(|d| d.to_string()),
            url_source,
        ])
    })
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("instrument {} already exists", i.symbol))
        } else {
            StoreError::backend("creating an instrument", e)
        }
    })?;
    Ok(())
}

pub(super) fn update(conn: &Connection, i: &Instrument) -> StoreResult<bool> {
    let url_source = url_source_json(i)?;
    let changed = conn
        .prepare_cached(
            "UPDATE instruments
             SET name = ?2, kind = ?3, currency = ?4, exchange = ?5, provider = ?6,
                 provider_symbol = ?7, listing_date = ?8, url_source = ?9
             WHERE symbol = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                i.symbol.as_str(),
                i.name,
                i.kind.as_str(),
                i.currency.as_str(),
                i.exchange,
                i.provider.as_str(),
                i.provider_symbol,
                i.listing_date.map(|d| d.to_string()),
                url_source,
            ])
        })
        .map_err(db("updating an instrument"))?;
    Ok(changed > 0)
}

pub(super) fn get_one(conn: &Connection, symbol: &Symbol) -> StoreResult<Option<Instrument>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM instruments WHERE symbol = ?1"
        ))
        .map_err(db("reading an instrument"))?;
    let mut rows = stmt
        .query([symbol.as_str()])
        .map_err(db("reading an instrument"))?;
    match rows.next().map_err(db("reading an instrument"))? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn list(conn: &Connection, q: &InstrumentQuery) -> StoreResult<Page<Instrument>> {
    let mut conditions = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(kind) = q.kind {
        args.push(Value::Text(kind.as_str().to_owned()));
        conditions.push(format!("kind = ?{}", args.len()));
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // instr() rather than LIKE: no wildcard escaping, `%` and `_` match themselves.
        args.push(Value::Text(search.to_lowercase()));
        let n = args.len();
        conditions.push(format!(
            "(instr(lower(symbol), ?{n}) > 0 OR instr(lower(name), ?{n}) > 0)"
        ));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM instruments {filter}"))
        .and_then(|mut stmt| {
            stmt.query_row(rusqlite::params_from_iter(args.iter()), |row| row.get(0))
        })
        .map_err(db("counting instruments"))?;
    args.push(Value::Integer(q.page.limit.into()));
    args.push(Value::Integer(
        i64::try_from(q.page.offset).unwrap_or(i64::MAX),
    ));
    let n = args.len();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM instruments {filter} ORDER BY symbol LIMIT ?{} OFFSET ?{n}",
            n - 1
        ))
        .map_err(db("listing instruments"))?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(args.iter()))
        .map_err(db("listing instruments"))?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(db("listing instruments"))? {
        items.push(decode(row)?);
    }
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
    })
}

pub(super) fn delete(conn: &mut Connection, symbol: &Symbol) -> StoreResult<DeleteOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db("deleting an instrument"))?;
    let id: Option<i64> = tx
        .query_row(
            "SELECT id FROM instruments WHERE symbol = ?1",
            [symbol.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(db("deleting an instrument"))?;
    let Some(id) = id else {
        return Ok(DeleteOutcome::NotFound);
    };
    let referencing: i64 = tx
        .query_row(
            "SELECT count(*) FROM transactions WHERE instrument_id = ?1",
            [id],
            |row| row.get(0),
        )
        .map_err(db("counting an instrument's transactions"))?;
    if referencing > 0 {
        return Ok(DeleteOutcome::Referenced {
            transactions: u64::try_from(referencing).unwrap_or(0),
        });
    }
    // Bar blocks have no foreign key (their key packs the instrument id): they go
    // explicitly, in the same transaction.
    super::bars::delete_instrument_bars(&tx, id)?;
    tx.execute("DELETE FROM instruments WHERE id = ?1", [id])
        .map_err(db("deleting an instrument"))?;
    tx.commit().map_err(db("deleting an instrument"))?;
    Ok(DeleteOutcome::Deleted)
}
