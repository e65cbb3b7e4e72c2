//! Bars on PostgreSQL: the hot path.
//!
//! Writes: one transaction per call. The call's instruments are resolved and locked
//! once (`FOR KEY SHARE`, what a foreign key would take per row), and rows are sorted by
//! key. Then two paths:
//! - rows later than the latest stored bar of their series (a live feed, a first
//!   backfill: nearly everything) are new for sure and go by binary `COPY` straight
//!   into `bars` — PostgreSQL's fastest insert path;
//! - the others go in chunks by binary `COPY` into a session-local staging table, and
//!   one `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... RETURNING (xmax = 0)` per chunk
//!   moves them into `bars`, counting new rows (xmax = 0) against replaced ones.
//!
//! The binary COPY stream is encoded by hand: the format is fixed and simple, and this
//! avoids a dynamic `ToSql` call per field (8 per bar) on the hottest loop we have.

use super::{PgStore, count, db, get};
use crate::codec::{BarBatch, BarRow, bar, ceil_second, floor_second};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use pricetrack_app::ports::{BarRange, StoreError, StoreResult, UpsertCounts};
use pricetrack_domain::{Bar, Interval, Ohlcv, Symbol};
use std::collections::HashMap;

/// Rows per COPY + INSERT round: bounds the staging table and the memory of one chunk.
const CHUNK_ROWS: usize = 50_000;
/// COPY data is sent in messages of about this size.
const COPY_MESSAGE_BYTES: usize = 1 << 20;

const CREATE_STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS bars_staging (
        instrument_id INTEGER          NOT NULL,
        interval      SMALLINT         NOT NULL,
        time          BIGINT           NOT NULL,
        open          DOUBLE PRECISION NOT NULL,
        high          DOUBLE PRECISION NOT NULL,
        low           DOUBLE PRECISION NOT NULL,
        close         DOUBLE PRECISION NOT NULL,
        volume        DOUBLE PRECISION NOT NULL
    ) ON COMMIT DELETE ROWS";

/// Moves the staging rows into `bars`. A row whose key exists is "replaced" whether or
/// not its values change, but only rows whose values differ are rewritten: re-ingesting
/// overlapping history (a backfill, a refetch of the last bars) then costs no new row
/// versions. Keys are unique within the staging table (deduplicated in Rust), so every
/// row is either inserted (xmax = 0 in RETURNING) or replaced.
const MERGE_STAGING: &str = "WITH upserted AS (
        INSERT INTO bars (instrument_id, interval, time, open, high, low, close, volume)
        SELECT instrument_id, interval, time, open, high, low, close, volume FROM bars_staging
        ON CONFLICT (instrument_id, interval, time) DO UPDATE
        SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
            close = EXCLUDED.close, volume = EXCLUDED.volume
        WHERE (bars.open, bars.high, bars.low, bars.close, bars.volume)
              IS DISTINCT FROM
              (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted) FROM upserted";

/// Binary COPY header: signature, flags, header-extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Bytes of one encoded row: field count, 8 length words, 4 + 2 + 8 + 5 × 8 data bytes.
const ROW_BYTES: usize = 2 + 8 * 4 + 4 + 2 + 8 + 5 * 8;

fn encode_row(buf: &mut BytesMut, r: &BarRow) {
    buf.put_i16(8);
    buf.put_i32(4);
    buf.put_i32(r.instrument_id);
    buf.put_i32(2);
    buf.put_i16(r.interval);
    buf.put_i32(8);
    buf.put_i64(r.time);
    for v in [r.open, r.high, r.low, r.close, r.volume] {
        buf.put_i32(8);
        buf.put_f64(v);
    }
}

/// Streams `rows` into an open `COPY ... FROM STDIN (FORMAT binary)`.
async fn copy_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    rows: &[BarRow],
) -> Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in::<_, Bytes>(statement).await?;
    futures_util::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(COPY_MESSAGE_BYTES + ROW_BYTES);
    buf.extend_from_slice(COPY_HEADER);
    for r in rows {
        encode_row(&mut buf, r);
        if buf.len() >= COPY_MESSAGE_BYTES {
            let full = std::mem::replace(
                &mut buf,
                BytesMut::with_capacity(COPY_MESSAGE_BYTES + ROW_BYTES),
            );
            sink.as_mut().send(full.freeze()).await?;
        }
    }
    buf.put_i16(-1);
    sink.as_mut().send(buf.freeze()).await?;
    sink.as_mut().finish().await
}

/// Splits sorted rows into appends (later than everything stored for their series,
/// the normal case for a live feed and a first backfill) and the rest.
async fn split_appends(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: Vec<BarRow>,
) -> StoreResult<(Vec<BarRow>, Vec<BarRow>)> {
    let mut series_ids: Vec<i32> = Vec::new();
    let mut series_intervals: Vec<i16> = Vec::new();
    for r in &rows {
        if series_ids.last() != Some(&r.instrument_id)
            || series_intervals.last() != Some(&r.interval)
        {
            series_ids.push(r.instrument_id);
            series_intervals.push(r.interval);
        }
    }
    // One index probe per series, backwards from its end.
    let latest = tx
        .query(
            "SELECT s.instrument_id, s.interval,
                    (SELECT max(b.time) FROM bars b
                     WHERE b.instrument_id = s.instrument_id AND b.interval = s.interval)
             FROM unnest($1::int4[], $2::int2[]) AS s(instrument_id, interval)",
            &[&series_ids, &series_intervals],
        )
        .await
        .map_err(db("finding the latest stored bars"))?;
    let mut last_stored: HashMap<(i32, i16), i64> = HashMap::with_capacity(latest.len());
    for row in &latest {
        let max: Option<i64> = get(row, 2, "bars.time")?;
        if let Some(max) = max {
            last_stored.insert(
                (
                    get(row, 0, "bars.instrument_id")?,
                    get(row, 1, "bars.interval")?,
                ),
                max,
            );
        }
    }
    let (appended, overlapping): (Vec<BarRow>, Vec<BarRow>) = rows.into_iter().partition(|r| {
        last_stored
            .get(&(r.instrument_id, r.interval))
            .is_none_or(|max| r.time > *max)
    });
    Ok((appended, overlapping))
}

/// COPYs rows that are new for sure straight into `bars`: no staging table, no conflict
/// handling, PostgreSQL's batched COPY insert path. Returns false (and undoes the
/// partial COPY) when a concurrent writer stored one of the keys first.
async fn copy_appends(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[BarRow],
) -> StoreResult<bool> {
    tx.batch_execute("SAVEPOINT bars_append")
        .await
        .map_err(db("copying bars"))?;
    let copy = tx
        .prepare_cached(
            "COPY bars (instrument_id, interval, time, open, high, low, close, volume)
             FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(db("copying bars"))?;
    match copy_rows(tx, &copy, rows).await {
        Ok(_) => {
            tx.batch_execute("RELEASE SAVEPOINT bars_append")
                .await
                .map_err(db("copying bars"))?;
            Ok(true)
        }
        Err(e) if super::is_unique_violation(&e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT bars_append")
                .await
                .map_err(db("copying bars"))?;
            Ok(false)
        }
        Err(e) => Err(StoreError::backend("copying bars", e)),
    }
}

/// Upserts rows that may exist: binary COPY into the session's staging table, then
/// one `INSERT ... ON CONFLICT DO UPDATE` per chunk, counting new against replaced.
async fn merge(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[BarRow],
) -> StoreResult<UpsertCounts> {
    tx.batch_execute(CREATE_STAGING)
        .await
        .map_err(db("creating the bar staging table"))?;
    let copy = tx
        .prepare_cached(
            "COPY bars_staging (instrument_id, interval, time, open, high, low, close, volume)
             FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(db("copying bars"))?;
    let merge = tx
        .prepare_cached(MERGE_STAGING)
        .await
        .map_err(db("merging bars"))?;
    let mut counts = UpsertCounts::default();
    for (i, chunk) in rows.chunks(CHUNK_ROWS).enumerate() {
        if i > 0 {
            tx.batch_execute("TRUNCATE bars_staging")
                .await
                .map_err(db("clearing the bar staging table"))?;
        }
        copy_rows(tx, &copy, chunk)
            .await
            .map_err(db("copying bars"))?;
        let row = tx
            .query_one(&merge, &[])
            .await
            .map_err(db("merging bars"))?;
        let inserted = count(get(&row, 0, "inserted count")?);
        counts.inserted += inserted;
        counts.replaced += (chunk.len() as u64).saturating_sub(inserted);
    }
    Ok(counts)
}

impl PgStore {
    pub(super) async fn pg_upsert_bars(&self, batch: BarBatch) -> StoreResult<UpsertCounts> {
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

        let mut counts = UpsertCounts::default();
        let (appended, overlapping) = split_appends(&tx, rows).await?;
        let overlapping = if appended.is_empty() {
            overlapping
        } else {
            match copy_appends(&tx, &appended).await? {
                true => {
                    counts.inserted += appended.len() as u64;
                    overlapping
                }
                // Another writer added some of these keys meanwhile: merge them all.
                false => {
                    let mut all = appended;
                    all.extend(overlapping);
                    all.sort_by_key(BarRow::key);
                    all
                }
            }
        };
        if !overlapping.is_empty() {
            counts += merge(&tx, &overlapping).await?;
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
        // LIMIT NULL is no limit.
        let limit = range.limit.map(i64::from);
        let (sql, from) = match range.from {
            Some(from) => (
                "SELECT time, open, high, low, close, volume FROM bars
                 WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = $1)
                   AND interval = $2 AND time >= $3 AND time <= $4
                 ORDER BY time LIMIT $5",
                ceil_second(from),
            ),
            // Without a lower bound the caller wants the latest bars: read backwards.
            None => (
                "SELECT time, open, high, low, close, volume FROM bars
                 WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = $1)
                   AND interval = $2 AND time >= $3 AND time <= $4
                 ORDER BY time DESC LIMIT $5",
                i64::MIN,
            ),
        };
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(db("reading bars"))?;
        let rows = client
            .query(
                &stmt,
                &[&symbol.as_str(), &interval.code(), &from, &to, &limit],
            )
            .await
            .map_err(db("reading bars"))?;
        let mut bars = rows
            .iter()
            .map(|row| {
                let v = Ohlcv {
                    open: get(row, 1, "bars.open")?,
                    high: get(row, 2, "bars.high")?,
                    low: get(row, 3, "bars.low")?,
                    close: get(row, 4, "bars.close")?,
                    volume: get(row, 5, "bars.volume")?,
                };
                bar(symbol, interval, get(row, 0, "bars.time")?, v)
            })
            .collect::<StoreResult<Vec<Bar>>>()?;
        if range.from.is_none() {
            bars.reverse();
        }
        Ok(bars)
    }

    pub(super) async fn pg_count_bars(&self, symbol: &Symbol) -> StoreResult<u64> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM bars
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
