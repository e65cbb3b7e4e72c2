//! Bars on SQLite: the hot path.
//!
//! Writes: one IMMEDIATE transaction per call; symbols resolved once each; rows sorted
//! by primary key so consecutive inserts land in the same b-tree leaf. Each row is an
//! `INSERT ... ON CONFLICT DO NOTHING` whose change count tells new from existing; only
//! existing rows pay for a second statement (the UPDATE). That gives exact
//! inserted/replaced counts without reading anything back.

use super::db;
use crate::codec::{BarBatch, BarRow, bar, ceil_second, corrupt, floor_second};
use pricetrack_app::ports::{BarRange, StoreError, StoreResult, UpsertCounts};
use pricetrack_domain::{Bar, Interval, Ohlcv, Symbol};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, types::ValueRef};

pub(super) fn upsert(conn: &mut Connection, batch: BarBatch) -> StoreResult<UpsertCounts> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db("starting a bar upsert"))?;
    let mut ids = Vec::with_capacity(batch.symbols.len());
    {
        let mut lookup = tx
            .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
            .map_err(db("resolving bar symbols"))?;
        for symbol in &batch.symbols {
            let id: Option<i64> = lookup
                .query_row([symbol.as_str()], |row| row.get(0))
                .optional()
                .map_err(db("resolving bar symbols"))?;
            let id = id.ok_or_else(|| StoreError::UnknownInstrument(symbol.clone()))?;
            let id = i32::try_from(id).map_err(|_| {
                crate::codec::corrupt("instruments.id", format!("{id} out of range"))
            })?;
            ids.push(id);
        }
    }
    let rows = batch.resolve(&ids);
    let mut counts = UpsertCounts::default();
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO bars (instrument_id, interval, time, open, high, low, close, volume)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(db("inserting bars"))?;
        let mut update = tx
            .prepare_cached(
                // Identical values are left alone: no page is dirtied when overlapping
                // history is re-ingested unchanged. The row still counts as replaced.
                "UPDATE bars SET open = ?4, high = ?5, low = ?6, close = ?7, volume = ?8
                 WHERE instrument_id = ?1 AND interval = ?2 AND time = ?3
                   AND (open, high, low, close, volume) IS NOT (?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db("replacing bars"))?;
        for r in &rows {
            // Raw binding: the statement's 8 parameters are fixed, so skip rusqlite's
            // per-call parameter-count check and `dyn ToSql` dispatch on the hot loop.
            bind_row(&mut insert, r).map_err(db("inserting bars"))?;
            if insert.raw_execute().map_err(db("inserting bars"))? == 1 {
                counts.inserted += 1;
            } else {
                bind_row(&mut update, r).map_err(db("replacing bars"))?;
                update.raw_execute().map_err(db("replacing bars"))?;
                counts.replaced += 1;
            }
        }
    }
    tx.commit().map_err(db("committing bars"))?;
    Ok(counts)
}

/// A REAL column (SQLite may hand back integral reals as integers).
fn real(row: &rusqlite::Row<'_>, idx: usize, column: &'static str) -> StoreResult<f64> {
    match row.get_ref(idx) {
        Ok(ValueRef::Real(v)) => Ok(v),
        Ok(ValueRef::Integer(v)) => Ok(v as f64),
        other => Err(corrupt(column, format!("expected a number, got {other:?}"))),
    }
}

fn bind_row(stmt: &mut rusqlite::Statement<'_>, r: &BarRow) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(1, r.instrument_id)?;
    stmt.raw_bind_parameter(2, r.interval)?;
    stmt.raw_bind_parameter(3, r.time)?;
    stmt.raw_bind_parameter(4, r.open)?;
    stmt.raw_bind_parameter(5, r.high)?;
    stmt.raw_bind_parameter(6, r.low)?;
    stmt.raw_bind_parameter(7, r.close)?;
    stmt.raw_bind_parameter(8, r.volume)
}

pub(super) fn range(
    conn: &Connection,
    symbol: &Symbol,
    interval: Interval,
    range: BarRange,
) -> StoreResult<Vec<Bar>> {
    let to = range.to.map_or(i64::MAX, floor_second);
    // SQLite treats a negative LIMIT as "no limit".
    let limit = range.limit.map_or(-1, i64::from);
    let (sql, from) = match range.from {
        Some(from) => (
            "SELECT time, open, high, low, close, volume FROM bars
             WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = ?1)
               AND interval = ?2 AND time >= ?3 AND time <= ?4
             ORDER BY time LIMIT ?5",
            ceil_second(from),
        ),
        // Without a lower bound the caller wants the latest bars: read backwards.
        None => (
            "SELECT time, open, high, low, close, volume FROM bars
             WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = ?1)
               AND interval = ?2 AND time >= ?3 AND time <= ?4
             ORDER BY time DESC LIMIT ?5",
            i64::MIN,
        ),
    };
    let mut stmt = conn.prepare_cached(sql).map_err(db("reading bars"))?;
    stmt.raw_bind_parameter(1, symbol.as_str())
        .and_then(|()| stmt.raw_bind_parameter(2, interval.code()))
        .and_then(|()| stmt.raw_bind_parameter(3, from))
        .and_then(|()| stmt.raw_bind_parameter(4, to))
        .and_then(|()| stmt.raw_bind_parameter(5, limit))
        .map_err(db("reading bars"))?;
    let mut rows = stmt.raw_query();
    let mut bars = Vec::with_capacity(range.limit.map_or(256, |l| l.min(10_000) as usize));
    while let Some(row) = rows.next().map_err(db("reading bars"))? {
        let time = match row.get_ref(0) {
            Ok(ValueRef::Integer(t)) => t,
            other => return Err(corrupt("bars.time", format!("{other:?}"))),
        };
        let v = Ohlcv {
            open: real(row, 1, "bars.open")?,
            high: real(row, 2, "bars.high")?,
            low: real(row, 3, "bars.low")?,
            close: real(row, 4, "bars.close")?,
            volume: real(row, 5, "bars.volume")?,
        };
        bars.push(bar(symbol, interval, time, v)?);
    }
    if range.from.is_none() {
        bars.reverse();
    }
    Ok(bars)
}

pub(super) fn count(conn: &Connection, symbol: &Symbol) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM bars
             WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = ?1)",
        )
        .and_then(|mut stmt| stmt.query_row([symbol.as_str()], |row| row.get(0)))
        .map_err(db("counting bars"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
