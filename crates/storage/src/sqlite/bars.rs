//! Bars on SQLite: the hot path, stored as blocks (see [`crate::bar_blocks`]).
//!
//! `bar_blocks` is a rowid table whose rowid packs (instrument, interval, block), so
//! the table b-tree itself is clustered by series and time and a range read is one
//! ordered scan of a few dozen rows. Writes: queued calls share one IMMEDIATE
//! transaction, one savepoint each (see [`super::group_commit`]); symbols resolved once each; rows sorted by key and grouped by block; each touched
//! block is read once, merged in Rust (which also counts new against replaced bars)
//! and written once — or not at all when every bar equals the stored one.

use super::db;
use crate::bar_blocks::{self, BlockView, RangeCollector};
use crate::codec::{BarBatch, bar, ceil_second, corrupt, floor_second};
use pricetrack_app::ports::{BarRange, StoreError, StoreResult, UpsertCounts};
use pricetrack_domain::{Bar, Interval, Symbol};
use rusqlite::{Connection, OptionalExtension, Transaction};

/// Resolves the batch's symbols and merges its bars into their blocks, inside the
/// caller's transaction or savepoint (see [`super::group_commit`]).
pub(super) fn write_batch(conn: &Connection, batch: BarBatch) -> StoreResult<UpsertCounts> {
    let mut ids = Vec::with_capacity(batch.symbols.len());
    {
        let mut lookup = conn
            .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
            .map_err(db("resolving bar symbols"))?;
        for symbol in &batch.symbols {
            let id: Option<i64> = lookup
                .query_row([symbol.as_str()], |row| row.get(0))
                .optional()
                .map_err(db("resolving bar symbols"))?;
            let id = id.ok_or_else(|| StoreError::UnknownInstrument(symbol.clone()))?;
            ids.push(instrument_id(id)?);
        }
    }
    let rows = batch.resolve(&ids);
    write_blocks(conn, &rows)
}

fn instrument_id(id: i64) -> StoreResult<i32> {
    i32::try_from(id).map_err(|_| corrupt("instruments.id", format!("{id} out of range")))
}

/// Merges sorted, deduplicated rows into their blocks inside `tx`.
pub(super) fn write_blocks(
    tx: &Connection,
    rows: &[crate::codec::BarRow],
) -> StoreResult<UpsertCounts> {
    let mut select = tx
        .prepare_cached("SELECT data FROM bar_blocks WHERE key = ?1")
        .map_err(db("reading bar blocks"))?;
    let mut insert = tx
        .prepare_cached("INSERT INTO bar_blocks (key, data) VALUES (?1, ?2)")
        .map_err(db("inserting bar blocks"))?;
    let mut update = tx
        .prepare_cached("UPDATE bar_blocks SET data = ?2 WHERE key = ?1")
        .map_err(db("updating bar blocks"))?;
    let mut counts = UpsertCounts::default();
    for group in bar_blocks::groups(rows)? {
        let key = bar_blocks::sqlite_key(group.instrument_id, group.interval, group.block)?;
        select
            .raw_bind_parameter(1, key)
            .map_err(db("reading bar blocks"))?;
        let (merged, existed) = {
            let mut found = select.raw_query();
            match found.next().map_err(db("reading bar blocks"))? {
                Some(row) => {
                    let bytes = row
                        .get_ref(0)
                        .and_then(|v| Ok(v.as_blob()?))
                        .map_err(|e| corrupt("bar_blocks.data", e))?;
                    let view = BlockView::parse(bytes, group.start)?;
                    (
                        bar_blocks::merge(Some(view), group.start, group.rows)?,
                        true,
                    )
                }
                None => (bar_blocks::merge(None, group.start, group.rows)?, false),
            }
        };
        counts += merged.counts;
        if let Some(bytes) = merged.bytes {
            let stmt = if existed { &mut update } else { &mut insert };
            stmt.raw_bind_parameter(1, key)
                .and_then(|()| stmt.raw_bind_parameter(2, bytes.as_slice()))
                .and_then(|()| stmt.raw_execute())
                .map_err(db("writing bar blocks"))?;
        }
    }
    Ok(counts)
}

/// The id of `symbol`, if it exists.
fn lookup(conn: &Connection, symbol: &Symbol) -> StoreResult<Option<i32>> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([symbol.as_str()], |row| row.get(0))
                .optional()
        })
        .map_err(db("looking up an instrument"))?;
    id.map(instrument_id).transpose()
}

pub(super) fn range(
    conn: &Connection,
    symbol: &Symbol,
    interval: Interval,
    range: BarRange,
) -> StoreResult<Vec<Bar>> {
    let Some(id) = lookup(conn, symbol)? else {
        return Ok(Vec::new());
    };
    let to = range.to.map_or(i64::MAX, floor_second);
    let from = range.from.map(ceil_second);
    let secs = interval.seconds();
    let (lo, hi) = bar_blocks::block_span(secs, from, to);
    let mut collector = RangeCollector::new(from, to, range.limit);
    if lo <= hi && !collector.is_full() {
        let sql = if collector.newest_first() {
            "SELECT key, data FROM bar_blocks WHERE key BETWEEN ?1 AND ?2 ORDER BY key DESC"
        } else {
            "SELECT key, data FROM bar_blocks WHERE key BETWEEN ?1 AND ?2 ORDER BY key"
        };
        let mut stmt = conn.prepare_cached(sql).map_err(db("reading bars"))?;
        let code = interval.code();
        let (first, last) = (
            bar_blocks::sqlite_key(id, code, lo)?,
            bar_blocks::sqlite_key(id, code, hi)?,
        );
        stmt.raw_bind_parameter(1, first)
            .and_then(|()| stmt.raw_bind_parameter(2, last))
            .map_err(db("reading bars"))?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(db("reading bars"))? {
            let key: i64 = row.get(0).map_err(|e| corrupt("bar_blocks.key", e))?;
            let start = bar_blocks::sqlite_block_of_key(key) * bar_blocks::width(secs);
            let bytes = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(|e| corrupt("bar_blocks.data", e))?;
            collector.take(BlockView::parse(bytes, start)?);
            if collector.is_full() {
                break;
            }
        }
    }
    collector
        .finish()
        .into_iter()
        .map(|r| bar(symbol, interval, r.time, r.values))
        .collect()
}

pub(super) fn count(conn: &Connection, symbol: &Symbol) -> StoreResult<u64> {
    let Some(id) = lookup(conn, symbol)? else {
        return Ok(0);
    };
    let (lo, hi) = bar_blocks::sqlite_instrument_keys(id);
    let n: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum((length(data) - 1) / ?3), 0) FROM bar_blocks
             WHERE key BETWEEN ?1 AND ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row([lo, hi, bar_blocks::RECORD_BYTES as i64], |row| row.get(0))
        })
        .map_err(db("counting bars"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes every bar of an instrument (inside the caller's transaction).
pub(super) fn delete_instrument_bars(tx: &Transaction<'_>, id: i64) -> StoreResult<()> {
    let (lo, hi) = bar_blocks::sqlite_instrument_keys(instrument_id(id)?);
    tx.execute(
        "DELETE FROM bar_blocks WHERE key BETWEEN ?1 AND ?2",
        [lo, hi],
    )
    .map_err(db("deleting an instrument's bars"))?;
    Ok(())
}

/// Migration `0006_bar_blocks`: moves the bars of the row-per-bar table of
/// migrations 0001–0005 into blocks, then drops that table. Runs inside the
/// migration's transaction, so a failure leaves the database as it was.
pub(super) fn convert_row_bars(tx: &Transaction<'_>) -> StoreResult<u64> {
    const CHUNK: usize = 50_000;
    let mut stmt = tx
        .prepare(
            "SELECT instrument_id, interval, time, open, high, low, close, volume
             FROM bars ORDER BY instrument_id, interval, time",
        )
        .map_err(db("reading row-per-bar data"))?;
    let mut rows = stmt.query([]).map_err(db("reading row-per-bar data"))?;
    let mut chunk: Vec<crate::codec::BarRow> = Vec::with_capacity(CHUNK);
    let mut moved = 0;
    loop {
        let row = rows.next().map_err(db("reading row-per-bar data"))?;
        let at_end = row.is_none();
        if let Some(row) = row {
            let get = |i: usize| row.get::<_, f64>(i).map_err(|e| corrupt("bars", e));
            chunk.push(crate::codec::BarRow {
                instrument_id: row.get(0).map_err(|e| corrupt("bars.instrument_id", e))?,
                interval: row.get(1).map_err(|e| corrupt("bars.interval", e))?,
                time: row.get(2).map_err(|e| corrupt("bars.time", e))?,
                open: get(3)?,
                high: get(4)?,
                low: get(5)?,
                close: get(6)?,
                volume: get(7)?,
            });
        }
        // A chunk may end inside a block: the next chunk merges into the stored block.
        if chunk.len() >= CHUNK || (at_end && !chunk.is_empty()) {
            moved += write_blocks(tx, &chunk)?.inserted;
            chunk.clear();
        }
        if at_end {
            break;
        }
    }
    drop(rows);
    drop(stmt);
    tx.execute_batch("DROP TABLE bars")
        .map_err(db("dropping the row-per-bar table"))?;
    Ok(moved)
}
