//! Bars on SQLite: the hot path, stored as blocks (see [`crate::bar_blocks`]).
//!
//! `bar_blocks` is a rowid table whose rowid packs (instrument, interval, block), so
//! the table b-tree itself is clustered by series and time and a range read is one
//! ordered scan of a few dozen rows. The newest block of each series is kept apart in
//! `bar_tails` (migration 0009), packed with the other series' newest blocks, so a
//! live feed's commits rewrite a few pages rather than one per series.
//!
//! Writes: calls queued behind the writer share one IMMEDIATE transaction, one
//! savepoint each (see [`super::group_commit`]); symbols resolved once each; rows
//! sorted by key and grouped by block; each touched block is read once, merged in Rust
//! (which also counts new against replaced bars) and written once — or not at all when
//! every bar equals the stored one.

use super::db;
use crate::bar_blocks::{self, Group, RangeCollector, StoredBlock};
use crate::codec::{BarBatch, BarRow, bar, ceil_second, corrupt, floor_second};
use pricetrack_app::ports::{BarRange, StoreError, StoreResult, UpsertCounts};
use pricetrack_domain::{Bar, Interval, Symbol};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction};

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
    write_series(conn, &rows)
}

fn instrument_id(id: i64) -> StoreResult<i32> {
    i32::try_from(id).map_err(|_| corrupt("instruments.id", format!("{id} out of range")))
}

/// Reads, merges and writes blocks of `bar_blocks`.
struct BlockWriter<'c> {
    select: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    update: CachedStatement<'c>,
}

impl<'c> BlockWriter<'c> {
    fn prepare(conn: &'c Connection) -> StoreResult<Self> {
        Ok(Self {
            select: conn
                .prepare_cached("SELECT data FROM bar_blocks WHERE key = ?1")
                .map_err(db("reading bar blocks"))?,
            insert: conn
                .prepare_cached("INSERT INTO bar_blocks (key, data) VALUES (?1, ?2)")
                .map_err(db("inserting bar blocks"))?,
            update: conn
                .prepare_cached("UPDATE bar_blocks SET data = ?2 WHERE key = ?1")
                .map_err(db("updating bar blocks"))?,
        })
    }

    /// Merges one group into its stored block (or a new one) in `bar_blocks`.
    fn merge(&mut self, group: &Group<'_>) -> StoreResult<UpsertCounts> {
        let key = bar_blocks::sqlite_key(group.instrument_id, group.interval, group.block)?;
        self.select
            .raw_bind_parameter(1, key)
            .map_err(db("reading bar blocks"))?;
        let (merged, existed) = {
            let mut found = self.select.raw_query();
            match found.next().map_err(db("reading bar blocks"))? {
                Some(row) => {
                    let bytes = row
                        .get_ref(0)
                        .and_then(|v| Ok(v.as_blob()?))
                        .map_err(|e| corrupt("bar_blocks.data", e))?;
                    (
                        bar_blocks::merge(Some(bytes), group.start, group.rows)?,
                        true,
                    )
                }
                None => (bar_blocks::merge(None, group.start, group.rows)?, false),
            }
        };
        if let Some(bytes) = merged.bytes {
            self.write(key, &bytes, existed)?;
        }
        Ok(merged.counts)
    }

    fn write(&mut self, key: i64, bytes: &[u8], existed: bool) -> StoreResult<()> {
        let stmt = if existed {
            &mut self.update
        } else {
            &mut self.insert
        };
        stmt.raw_bind_parameter(1, key)
            .and_then(|()| stmt.raw_bind_parameter(2, bytes))
            .and_then(|()| stmt.raw_execute())
            .map_err(db("writing bar blocks"))?;
        Ok(())
    }
}

/// Merges sorted, deduplicated rows into blocks of `bar_blocks` only (migration 0006
/// runs before `bar_tails` exists; migration 0009 then moves the newest blocks).
pub(super) fn write_blocks(conn: &Connection, rows: &[BarRow]) -> StoreResult<UpsertCounts> {
    let mut blocks = BlockWriter::prepare(conn)?;
    let mut counts = UpsertCounts::default();
    for group in bar_blocks::groups(rows)? {
        counts += blocks.merge(&group)?;
    }
    Ok(counts)
}

/// The newest block of a series, kept in `bar_tails` (migration 0009).
struct Tail {
    block: i64,
    data: Vec<u8>,
}

/// Reads and writes `bar_tails`.
struct TailStore<'c> {
    select: CachedStatement<'c>,
    upsert: CachedStatement<'c>,
    delete: CachedStatement<'c>,
    newest_block: CachedStatement<'c>,
    delete_block: CachedStatement<'c>,
}

impl<'c> TailStore<'c> {
    fn prepare(conn: &'c Connection) -> StoreResult<Self> {
        let prepare = |sql: &str| {
            conn.prepare_cached(sql)
                .map_err(db("preparing bar tail statements"))
        };
        Ok(Self {
            select: prepare("SELECT block, data FROM bar_tails WHERE series = ?1")?,
            upsert: prepare(
                "INSERT INTO bar_tails (series, block, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (series) DO UPDATE SET block = excluded.block, data = excluded.data",
            )?,
            delete: prepare("DELETE FROM bar_tails WHERE series = ?1")?,
            newest_block: prepare(
                "SELECT key, data FROM bar_blocks WHERE key BETWEEN ?1 AND ?2
                 ORDER BY key DESC LIMIT 1",
            )?,
            delete_block: prepare("DELETE FROM bar_blocks WHERE key = ?1")?,
        })
    }

    /// The series' tail, and whether it has a row in `bar_tails`. A series without
    /// one whose blocks are all in `bar_blocks` (converted by migration 0006 after
    /// 0009 ran) adopts its newest block there as its tail, restoring the invariant.
    fn load(&mut self, series: i64) -> StoreResult<(Option<Tail>, bool)> {
        if let Some(tail) = read_tail(&mut self.select, series)? {
            return Ok((Some(tail), true));
        }
        let (first, last) = bar_blocks::sqlite_series_keys(series);
        let newest = {
            self.newest_block
                .raw_bind_parameter(1, first)
                .and_then(|()| self.newest_block.raw_bind_parameter(2, last))
                .map_err(db("reading bar blocks"))?;
            let mut rows = self.newest_block.raw_query();
            match rows.next().map_err(db("reading bar blocks"))? {
                Some(row) => {
                    let key: i64 = row.get(0).map_err(|e| corrupt("bar_blocks.key", e))?;
                    let data: Vec<u8> = row.get(1).map_err(|e| corrupt("bar_blocks.data", e))?;
                    Some((key, data))
                }
                None => None,
            }
        };
        let Some((key, data)) = newest else {
            return Ok((None, false));
        };
        self.delete_block
            .execute([key])
            .map_err(db("moving a bar block"))?;
        let block = bar_blocks::sqlite_block_of_key(key);
        Ok((Some(Tail { block, data }), false))
    }

    fn store(&mut self, series: i64, tail: &Tail) -> StoreResult<()> {
        self.upsert
            .raw_bind_parameter(1, series)
            .and_then(|()| self.upsert.raw_bind_parameter(2, tail.block))
            .and_then(|()| self.upsert.raw_bind_parameter(3, tail.data.as_slice()))
            .and_then(|()| self.upsert.raw_execute())
            .map_err(db("writing bar tails"))?;
        Ok(())
    }

    fn delete(&mut self, series: i64) -> StoreResult<()> {
        self.delete
            .execute([series])
            .map_err(db("writing bar tails"))?;
        Ok(())
    }
}

/// The tail row of `series`, if any.
fn read_tail(select: &mut CachedStatement<'_>, series: i64) -> StoreResult<Option<Tail>> {
    select
        .raw_bind_parameter(1, series)
        .map_err(db("reading bar tails"))?;
    let mut rows = select.raw_query();
    let Some(row) = rows.next().map_err(db("reading bar tails"))? else {
        return Ok(None);
    };
    let block: i64 = row.get(0).map_err(|e| corrupt("bar_tails.block", e))?;
    let data: Vec<u8> = row.get(1).map_err(|e| corrupt("bar_tails.data", e))?;
    Ok(Some(Tail { block, data }))
}

/// Merges sorted, deduplicated rows into their series: a block older than the series'
/// tail merges into `bar_blocks`, the tail's block into the tail, and a newer block
/// becomes the tail, moving the old one to `bar_blocks` (see migration 0009).
fn write_series(conn: &Connection, rows: &[BarRow]) -> StoreResult<UpsertCounts> {
    let mut blocks = BlockWriter::prepare(conn)?;
    let mut tails = TailStore::prepare(conn)?;
    let mut counts = UpsertCounts::default();
    let groups = bar_blocks::groups(rows)?;
    for series_groups in
        groups.chunk_by(|a, b| (a.instrument_id, a.interval) == (b.instrument_id, b.interval))
    {
        let first = &series_groups[0];
        let series = bar_blocks::sqlite_series_of_key(bar_blocks::sqlite_key(
            first.instrument_id,
            first.interval,
            first.block,
        )?);
        let (mut tail, had_row) = tails.load(series)?;
        let mut changed = !had_row && tail.is_some();
        for group in series_groups {
            match &mut tail {
                Some(t) if group.block < t.block => counts += blocks.merge(group)?,
                Some(t) if group.block == t.block => {
                    let merged = bar_blocks::merge(Some(&t.data), group.start, group.rows)?;
                    counts += merged.counts;
                    if let Some(bytes) = merged.bytes {
                        t.data = bytes;
                        changed = true;
                    }
                }
                _ => {
                    // Newer than the tail (or the series' first block): it becomes the
                    // tail, and the old tail is sealed into `bar_blocks`.
                    if let Some(old) = tail.take() {
                        let key =
                            bar_blocks::sqlite_key(group.instrument_id, group.interval, old.block)?;
                        blocks.write(key, &old.data, false)?;
                    }
                    let merged = bar_blocks::merge(None, group.start, group.rows)?;
                    counts += merged.counts;
                    tail = merged.bytes.map(|data| Tail {
                        block: group.block,
                        data,
                    });
                    changed = true;
                }
            }
        }
        match &tail {
            Some(t) if changed => tails.store(series, t)?,
            None if had_row => tails.delete(series)?,
            _ => {}
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
    let code = interval.code();
    let series = bar_blocks::sqlite_series_of_key(bar_blocks::sqlite_key(id, code, 0)?);
    // The newest block lives in `bar_tails`, every older one in `bar_blocks`.
    let tail = {
        let mut select = conn
            .prepare_cached("SELECT block, data FROM bar_tails WHERE series = ?1")
            .map_err(db("reading bars"))?;
        read_tail(&mut select, series)?.filter(|t| (lo..=hi).contains(&t.block))
    };
    let width = bar_blocks::width(secs);
    let take_tail = |collector: &mut RangeCollector| -> StoreResult<()> {
        if let Some(t) = &tail
            && !collector.is_full()
        {
            collector.take(&StoredBlock::decode(&t.data, t.block * width)?);
        }
        Ok(())
    };
    if collector.newest_first() {
        take_tail(&mut collector)?;
    }
    if lo <= hi && !collector.is_full() {
        let sql = if collector.newest_first() {
            "SELECT key, data FROM bar_blocks WHERE key BETWEEN ?1 AND ?2 ORDER BY key DESC"
        } else {
            "SELECT key, data FROM bar_blocks WHERE key BETWEEN ?1 AND ?2 ORDER BY key"
        };
        let mut stmt = conn.prepare_cached(sql).map_err(db("reading bars"))?;
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
            let start = bar_blocks::sqlite_block_of_key(key) * width;
            let bytes = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(|e| corrupt("bar_blocks.data", e))?;
            collector.take(&StoredBlock::decode(bytes, start)?);
            if collector.is_full() {
                break;
            }
        }
    }
    if !collector.newest_first() {
        take_tail(&mut collector)?;
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
    let (first_series, last_series) = bar_blocks::sqlite_instrument_series(id);
    // Each block's header holds its bar count (src/bar_blocks/format.rs).
    let mut total = 0u64;
    let mut add = |sql: &str, lo: i64, hi: i64| -> StoreResult<()> {
        let mut stmt = conn.prepare_cached(sql).map_err(db("counting bars"))?;
        let mut rows = stmt.query([lo, hi]).map_err(db("counting bars"))?;
        while let Some(row) = rows.next().map_err(db("counting bars"))? {
            let bytes = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(|e| corrupt("bar_blocks.data", e))?;
            total += bar_blocks::stored_bar_count(bytes)? as u64;
        }
        Ok(())
    };
    add(
        "SELECT data FROM bar_blocks WHERE key BETWEEN ?1 AND ?2",
        lo,
        hi,
    )?;
    add(
        "SELECT data FROM bar_tails WHERE series BETWEEN ?1 AND ?2",
        first_series,
        last_series,
    )?;
    Ok(total)
}

/// Deletes every bar of an instrument (inside the caller's transaction).
pub(super) fn delete_instrument_bars(tx: &Transaction<'_>, id: i64) -> StoreResult<()> {
    let (lo, hi) = bar_blocks::sqlite_instrument_keys(instrument_id(id)?);
    tx.execute(
        "DELETE FROM bar_blocks WHERE key BETWEEN ?1 AND ?2",
        [lo, hi],
    )
    .map_err(db("deleting an instrument's bars"))?;
    let (lo, hi) = bar_blocks::sqlite_instrument_series(instrument_id(id)?);
    tx.execute(
        "DELETE FROM bar_tails WHERE series BETWEEN ?1 AND ?2",
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
    let mut chunk: Vec<BarRow> = Vec::with_capacity(CHUNK);
    let mut moved = 0;
    loop {
        let row = rows.next().map_err(db("reading row-per-bar data"))?;
        let at_end = row.is_none();
        if let Some(row) = row {
            let get = |i: usize| row.get::<_, f64>(i).map_err(|e| corrupt("bars", e));
            chunk.push(BarRow {
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
