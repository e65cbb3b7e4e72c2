//! Bars on PostgreSQL: the hot path, stored as blocks (see [`crate::bar_blocks`]).
//!
//! Writes: one transaction per call. The call's instruments are resolved and locked
//! once (`FOR KEY SHARE`, what a foreign key would take per row); rows are sorted by
//! key and grouped by block. Rewriting a block is read-modify-write, so writers of the
//! same series are serialised by a transaction-scoped advisory lock per series (taken
//! in key order, so two writers cannot deadlock); then the touched blocks are read in
//! one query, merged in Rust (which counts new against replaced bars) and the changed
//! ones written back in one `INSERT … ON CONFLICT DO UPDATE` over `unnest` arrays.
//! Round trips per call are a handful whatever its size (in chunks of
//! [`BLOCKS_PER_STATEMENT`]).

use super::{PgStore, count, db, get};
use crate::bar_blocks::{self, RangeCollector, StoredBlock};
use crate::codec::{BarBatch, BarRow, bar, ceil_second, corrupt, floor_second};
use pricetrack_app::ports::{BarRange, StoreError, StoreResult, UpsertCounts};
use pricetrack_domain::{Bar, Interval, Symbol};
use std::collections::HashMap;

/// Blocks read or written per statement: bounds the size of one message.
const BLOCKS_PER_STATEMENT: usize = 4_096;
/// First key of the advisory locks on bar series (two-key form: the instrument id and
/// this plus the interval code). Arbitrary, fixed; the migration lock uses the
/// one-key form, a separate key space.
const SERIES_LOCK_SPACE: i32 = 0x4241_5200; // "BAR\0"

/// Serialises writers of the series in `rows` (sorted by key) until the end of `tx`.
async fn lock_series(tx: &deadpool_postgres::Transaction<'_>, rows: &[BarRow]) -> StoreResult<()> {
    let mut ids: Vec<i32> = Vec::new();
    let mut spaces: Vec<i32> = Vec::new();
    for r in rows {
        let space = SERIES_LOCK_SPACE + i32::from(r.interval);
        if ids.last() != Some(&r.instrument_id) || spaces.last() != Some(&space) {
            ids.push(r.instrument_id);
            spaces.push(space);
        }
    }
    // unnest yields the arrays in order, so locks are taken in key order.
    tx.execute(
        "SELECT pg_advisory_xact_lock(s.id, s.space)
         FROM unnest($1::int4[], $2::int4[]) AS s(id, space)",
        &[&ids, &spaces],
    )
    .await
    .map_err(db("locking bar series"))?;
    Ok(())
}

type BlockKey = (i32, i16, i32);

fn block_number(block: i64) -> StoreResult<i32> {
    i32::try_from(block).map_err(|_| corrupt("bar_blocks.block", format!("{block} out of range")))
}

/// The stored blocks among `keys`, by key.
async fn stored_blocks(
    tx: &deadpool_postgres::Transaction<'_>,
    keys: &[BlockKey],
) -> StoreResult<HashMap<BlockKey, Vec<u8>>> {
    let stmt = tx
        .prepare_cached(
            "SELECT b.instrument_id, b.interval, b.block, b.data
             FROM unnest($1::int4[], $2::int2[], $3::int4[]) AS k(instrument_id, interval, block)
             JOIN bar_blocks b USING (instrument_id, interval, block)",
        )
        .await
        .map_err(db("reading bar blocks"))?;
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(BLOCKS_PER_STATEMENT) {
        let ids: Vec<i32> = chunk.iter().map(|k| k.0).collect();
        let intervals: Vec<i16> = chunk.iter().map(|k| k.1).collect();
        let blocks: Vec<i32> = chunk.iter().map(|k| k.2).collect();
        for row in tx
            .query(&stmt, &[&ids, &intervals, &blocks])
            .await
            .map_err(db("reading bar blocks"))?
        {
            let key = (
                get(&row, 0, "bar_blocks.instrument_id")?,
                get(&row, 1, "bar_blocks.interval")?,
                get(&row, 2, "bar_blocks.block")?,
            );
            found.insert(key, get::<Vec<u8>>(&row, 3, "bar_blocks.data")?);
        }
    }
    Ok(found)
}

/// Merges sorted, deduplicated rows into their blocks inside `tx`.
pub(super) async fn write_blocks(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[BarRow],
) -> StoreResult<UpsertCounts> {
    if rows.is_empty() {
        return Ok(UpsertCounts::default());
    }
    lock_series(tx, rows).await?;
    let groups = bar_blocks::groups(rows)?;
    let keys = groups
        .iter()
        .map(|g| Ok((g.instrument_id, g.interval, block_number(g.block)?)))
        .collect::<StoreResult<Vec<BlockKey>>>()?;
    let stored = stored_blocks(tx, &keys).await?;
    let mut counts = UpsertCounts::default();
    let mut changed: Vec<(BlockKey, Vec<u8>)> = Vec::with_capacity(groups.len());
    for (group, key) in groups.iter().zip(keys) {
        let existing = stored.get(&key).map(Vec::as_slice);
        let merged = bar_blocks::merge(existing, group.start, group.rows)?;
        counts += merged.counts;
        if let Some(bytes) = merged.bytes {
            changed.push((key, bytes));
        }
    }
    drop(stored);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO bar_blocks (instrument_id, interval, block, data)
             SELECT * FROM unnest($1::int4[], $2::int2[], $3::int4[], $4::bytea[])
             ON CONFLICT (instrument_id, interval, block) DO UPDATE SET data = EXCLUDED.data",
        )
        .await
        .map_err(db("writing bar blocks"))?;
    for chunk in changed.chunks(BLOCKS_PER_STATEMENT) {
        let ids: Vec<i32> = chunk.iter().map(|(k, _)| k.0).collect();
        let intervals: Vec<i16> = chunk.iter().map(|(k, _)| k.1).collect();
        let blocks: Vec<i32> = chunk.iter().map(|(k, _)| k.2).collect();
        let data: Vec<&[u8]> = chunk.iter().map(|(_, d)| d.as_slice()).collect();
        tx.execute(&stmt, &[&ids, &intervals, &blocks, &data])
            .await
            .map_err(db("writing bar blocks"))?;
    }
    Ok(counts)
}

/// Migration `0006_bar_blocks`: moves the bars of the row-per-bar table of
/// migrations 0001–0005 into blocks, then drops that table. Runs inside the
/// migration's transaction, so a failure leaves the database as it was.
pub(super) async fn convert_row_bars(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<u64> {
    const CHUNK: usize = 50_000;
    let mut moved = 0;
    let mut after: Option<(i32, i16, i64)> = None;
    // Keyset pagination: bounded memory whatever the table's size.
    loop {
        let (id, interval, time) = after.unwrap_or((i32::MIN, i16::MIN, i64::MIN));
        let rows = tx
            .query(
                "SELECT instrument_id, interval, time, open, high, low, close, volume FROM bars
                 WHERE (instrument_id, interval, time) > ($1, $2, $3)
                 ORDER BY instrument_id, interval, time LIMIT $4",
                &[&id, &interval, &time, &(CHUNK as i64)],
            )
            .await
            .map_err(db("reading row-per-bar data"))?;
        let chunk = rows
            .iter()
            .map(|row| {
                Ok(BarRow {
                    instrument_id: get(row, 0, "bars.instrument_id")?,
                    interval: get(row, 1, "bars.interval")?,
                    time: get(row, 2, "bars.time")?,
                    open: get(row, 3, "bars.open")?,
                    high: get(row, 4, "bars.high")?,
                    low: get(row, 5, "bars.low")?,
                    close: get(row, 6, "bars.close")?,
                    volume: get(row, 7, "bars.volume")?,
                })
            })
            .collect::<StoreResult<Vec<BarRow>>>()?;
        let Some(last) = chunk.last() else { break };
        after = Some(last.key());
        // A chunk may end inside a block: the next chunk merges into the stored block.
        moved += write_blocks(tx, &chunk).await?.inserted;
        if chunk.len() < CHUNK {
            break;
        }
    }
    tx.batch_execute("DROP TABLE bars")
        .await
        .map_err(db("dropping the row-per-bar table"))?;
    Ok(moved)
}

impl PgStore {
    /// Writes `batch` and sends `notices` (see `bar_notify`) in the same transaction,
    /// so other replicas hear of committed bars only.
    pub(super) async fn pg_upsert_bars(
        &self,
        batch: BarBatch,
        notices: &[String],
    ) -> StoreResult<UpsertCounts> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(db("starting a bar upsert"))?;
        let wanted: Vec<&str> = batch.symbols.iter().map(Symbol::as_str).collect();
        let found = tx
            .query(
                "SELECT symbol, id FROM instruments WHERE symbol = ANY($1) FOR KEY SHARE",
                &[&wanted],
            )
            .await
            .map_err(db("resolving bar symbols"))?;
        let mut by_symbol = HashMap::with_capacity(found.len());
        for row in &found {
            let symbol: &str = get(row, 0, "instruments.symbol")?;
            let id: i32 = get(row, 1, "instruments.id")?;
            by_symbol.insert(symbol, id);
        }
        let mut ids = Vec::with_capacity(batch.symbols.len());
        for symbol in &batch.symbols {
            match by_symbol.get(symbol.as_str()) {
                Some(id) => ids.push(*id),
                None => return Err(StoreError::UnknownInstrument(symbol.clone())),
            }
        }
        drop(by_symbol);
        let rows = batch.resolve(&ids);
        let counts = write_blocks(&tx, &rows).await?;
        if !notices.is_empty() {
            tx.execute(
                "SELECT pg_notify($1, notice) FROM unnest($2::text[]) AS notice",
                &[&super::bar_notify::CHANNEL, &notices],
            )
            .await
            .map_err(db("announcing stored bars"))?;
        }
        tx.commit().await.map_err(db("committing bars"))?;
        Ok(counts)
    }

    pub(super) async fn pg_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: BarRange,
    ) -> StoreResult<Vec<Bar>> {
        let client = self.client().await?;
        let to = range.to.map_or(i64::MAX, floor_second);
        let from = range.from.map(ceil_second);
        let secs = interval.seconds();
        let (lo, hi) = bar_blocks::block_span(secs, from, to);
        let (mut lo, mut hi) = (block_number(lo)?, block_number(hi)?);
        let mut collector = RangeCollector::new(from, to, range.limit);
        let sql = if collector.newest_first() {
            "SELECT block, data FROM bar_blocks
             WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = $1)
               AND interval = $2 AND block BETWEEN $3 AND $4
             ORDER BY block DESC LIMIT $5"
        } else {
            "SELECT block, data FROM bar_blocks
             WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = $1)
               AND interval = $2 AND block BETWEEN $3 AND $4
             ORDER BY block LIMIT $5"
        };
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(db("reading bars"))?;
        // With a limit, read blocks a page at a time (most blocks hold many bars, so the
        // first page usually suffices; sparse series double the page until done).
        let mut page: Option<i64> = range.limit.map(|l| i64::from(l) / 16 + 2);
        while lo <= hi && !collector.is_full() {
            let rows = client
                .query(
                    &stmt,
                    &[&symbol.as_str(), &interval.code(), &lo, &hi, &page],
                )
                .await
                .map_err(db("reading bars"))?;
            let mut last_block = None;
            for row in &rows {
                let block: i32 = get(row, 0, "bar_blocks.block")?;
                let bytes: &[u8] = get(row, 1, "bar_blocks.data")?;
                let start = i64::from(block) * bar_blocks::width(secs);
                collector.take(&StoredBlock::decode(bytes, start)?);
                last_block = Some(block);
                if collector.is_full() {
                    break;
                }
            }
            match (page, last_block) {
                (Some(p), Some(last)) if (rows.len() as i64) == p => {
                    if collector.newest_first() {
                        hi = last - 1;
                    } else {
                        lo = last + 1;
                    }
                    page = Some(p * 2);
                }
                _ => break,
            }
        }
        collector
            .finish()
            .into_iter()
            .map(|r| bar(symbol, interval, r.time, r.values))
            .collect()
    }

    pub(super) async fn pg_count_bars(&self, symbol: &Symbol) -> StoreResult<u64> {
        let client = self.client().await?;
        // The bar count of a block is in its header (src/bar_blocks/format.rs): fixed
        // 44-byte records in format 1, a little-endian u32 after the first byte in 2.
        let n: i64 = client
            .query_one(
                "SELECT coalesce(sum(CASE get_byte(data, 0)
                     WHEN 1 THEN (octet_length(data) - 1) / 44
                     ELSE get_byte(data, 1)::int8 + (get_byte(data, 2)::int8 << 8)
                        + (get_byte(data, 3)::int8 << 16) + (get_byte(data, 4)::int8 << 24)
                   END), 0)::int8 FROM bar_blocks
                 WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = $1)",
                &[&symbol.as_str()],
            )
            .await
            .map_err(db("counting bars"))?
            .try_get(0)
            .map_err(db("counting bars"))?;
        Ok(count(n))
    }
}
