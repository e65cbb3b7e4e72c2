//! Bars are stored in blocks: one database row per series and time bucket, holding
//! that bucket's bars as fixed-size binary records. Both backends use this format.
//!
//! Why: a bar is 44 bytes of data, and one b-tree entry per bar made the per-entry
//! work of the database (seek, compare, page bookkeeping, WAL) the whole cost of
//! ingest and range reads. A block of up to [`BARS_PER_BLOCK`] nominal bars turns a
//! 2,000-bar range into ~60 sequential rows and a 50,000-bar ingest into ~1,600 row
//! writes, while keeping the data clustered by (instrument, interval, start): the
//! bucket number increases with time, so a range is still one ordered scan.
//!
//! A block covers `BARS_PER_BLOCK × interval` seconds, starting at a multiple of
//! that width (floor division, so times before 1970 work too). Its bytes hold the
//! block's bars sorted by time, unique by time, in one of the layouts of [`format`]
//! (compacted columns since 2026-12; fixed-size records before, still read). This
//! module is pure: encoding, decoding and merging, no I/O.

mod format;

use crate::codec::{BarRow, corrupt};
use pricetrack_app::ports::{StoreResult, UpsertCounts};
use pricetrack_domain::Ohlcv;

/// Nominal bars per block (a block holds more only if a series' bars are closer
/// together than its interval). Part of the stored format — block keys are derived
/// from it — so it must never change.
pub(crate) const BARS_PER_BLOCK: i64 = 32;

/// The seconds one block of `interval` spans.
pub(crate) fn width(interval_seconds: i64) -> i64 {
    BARS_PER_BLOCK * interval_seconds.max(1)
}

/// The block (bucket number) holding a bar that starts at `time`.
pub(crate) fn block_of(interval_seconds: i64, time: i64) -> i64 {
    time.div_euclid(width(interval_seconds))
}

/// The block-local SQLite key: instrument, interval and block packed into one 63-bit
/// integer that sorts like the tuple, so the table's rowid b-tree *is* the clustered
/// (instrument, interval, start) index. Instrument ids are positive 31-bit numbers,
/// the interval code takes 3 bits and the block, offset by 2^28, 29 bits: every
/// timestamp jiff can represent fits for every interval (1-minute blocks of 32
/// minutes number at most 2 × 10^8 at the years -9999 and 9999).
pub(crate) fn sqlite_key(instrument_id: i32, interval_code: i16, block: i64) -> StoreResult<i64> {
    const BLOCK_OFFSET: i64 = 1 << 28;
    let biased = block + BLOCK_OFFSET;
    if instrument_id < 0 || !(0..8).contains(&interval_code) || !(0..1 << 29).contains(&biased) {
        return Err(corrupt(
            "bar_blocks.key",
            format!(
                "cannot pack instrument {instrument_id}, interval {interval_code}, block {block}"
            ),
        ));
    }
    Ok((i64::from(instrument_id) << 32) | (i64::from(interval_code) << 29) | biased)
}

/// The block number packed into a SQLite key by [`sqlite_key`].
pub(crate) fn sqlite_block_of_key(key: i64) -> i64 {
    (key & ((1 << 29) - 1)) - (1 << 28)
}

/// The range of SQLite keys of one instrument (every interval, every block).
pub(crate) fn sqlite_instrument_keys(instrument_id: i32) -> (i64, i64) {
    let base = i64::from(instrument_id.max(0)) << 32;
    (base, base | 0xFFFF_FFFF)
}

/// The series part of a SQLite key (instrument and interval): the `bar_tails.series`
/// of migration 0009.
pub(crate) fn sqlite_series_of_key(key: i64) -> i64 {
    key >> 29
}

/// The SQLite keys of one series: `(first, last)` over every block.
pub(crate) fn sqlite_series_keys(series: i64) -> (i64, i64) {
    (series << 29, (series << 29) | ((1 << 29) - 1))
}

/// The range of `bar_tails.series` of one instrument (every interval).
pub(crate) fn sqlite_instrument_series(instrument_id: i32) -> (i64, i64) {
    let (lo, hi) = sqlite_instrument_keys(instrument_id);
    (sqlite_series_of_key(lo), sqlite_series_of_key(hi))
}

/// One bar as stored: start (epoch seconds) and values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Record {
    pub time: i64,
    pub values: Ohlcv,
}

/// A stored block, decoded: its records sorted by time, unique by time.
#[derive(Debug, Clone)]
pub(crate) struct StoredBlock {
    pub records: Vec<Record>,
}

impl StoredBlock {
    /// Decodes `bytes`, the block starting at `start` (either format).
    pub fn decode(bytes: &[u8], start: i64) -> StoreResult<Self> {
        let mut records = Vec::new();
        format::decode(bytes, start, &mut records)?;
        Ok(Self { records })
    }

    /// Index of the first record at or after `time`.
    pub fn lower_bound(&self, time: i64) -> usize {
        self.records.partition_point(|r| r.time < time)
    }
}

/// The number of bars in stored block `bytes`, read from its header.
pub(crate) fn stored_bar_count(bytes: &[u8]) -> StoreResult<usize> {
    format::record_count(bytes)
}

fn record(r: &BarRow) -> Record {
    Record {
        time: r.time,
        values: Ohlcv {
            open: r.open,
            high: r.high,
            low: r.low,
            close: r.close,
            volume: r.volume,
        },
    }
}

/// What merging new bars into a block produced.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Merged {
    pub counts: UpsertCounts,
    /// The block's new bytes, or `None` when every new bar equalled the stored one
    /// (nothing to write: re-ingesting unchanged history dirties no page).
    pub bytes: Option<Vec<u8>>,
}

/// Merges `rows` — sorted by time, unique, all in the block starting at `start` —
/// into the stored block `existing` (its bytes; or a new block), counting each row
/// as inserted (its time was not stored) or replaced (it was; its values win). New
/// bytes are always in the current format, so a block written before it is
/// converted when it next changes.
pub(crate) fn merge(existing: Option<&[u8]>, start: i64, rows: &[BarRow]) -> StoreResult<Merged> {
    let new: Vec<Record> = rows.iter().map(record).collect();
    let stored = match existing {
        None => Vec::new(),
        Some(bytes) => {
            // A feed or backfill moving forward appends to the newest block: most
            // often without decoding and re-encoding the bars already in it.
            if let Some(appended) = format::try_append(bytes, start, &new)? {
                return Ok(Merged {
                    counts: UpsertCounts {
                        inserted: new.len() as u64,
                        replaced: 0,
                    },
                    bytes: Some(appended),
                });
            }
            StoredBlock::decode(bytes, start)?.records
        }
    };
    merge_records(&stored, start, &new)
}

/// [`merge`] on decoded records: `new` sorted by time, unique.
fn merge_records(stored: &[Record], start: i64, new: &[Record]) -> StoreResult<Merged> {
    let mut out = Vec::with_capacity(stored.len() + new.len());
    let mut counts = UpsertCounts::default();
    // A new block, or every new bar after the stored ones.
    let appends = match (stored.last(), new.first()) {
        (Some(last), Some(first)) => first.time > last.time,
        _ => true,
    };
    if appends {
        out.extend_from_slice(stored);
        out.extend_from_slice(new);
        counts.inserted = new.len() as u64;
    } else {
        let mut changed = false;
        let (mut i, mut j) = (0, 0);
        while i < stored.len() || j < new.len() {
            match (stored.get(i), new.get(j)) {
                (Some(old), Some(r)) if old.time == r.time => {
                    changed |= old.values != r.values;
                    out.push(*r);
                    counts.replaced += 1;
                    i += 1;
                    j += 1;
                }
                (Some(old), Some(r)) if r.time < old.time => {
                    out.push(*r);
                    counts.inserted += 1;
                    changed = true;
                    j += 1;
                }
                (Some(old), _) => {
                    out.push(*old);
                    i += 1;
                }
                (None, Some(r)) => {
                    out.push(*r);
                    counts.inserted += 1;
                    changed = true;
                    j += 1;
                }
                (None, None) => break,
            }
        }
        if !changed {
            return Ok(Merged {
                counts,
                bytes: None,
            });
        }
    }
    Ok(Merged {
        counts,
        bytes: Some(format::encode(start, &out)?),
    })
}

/// Consecutive rows of one series and block: `rows` must be sorted by key.
pub(crate) fn groups(rows: &[BarRow]) -> StoreResult<Vec<Group<'_>>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    let mut begin = 0;
    while begin < rows.len() {
        let first = &rows[begin];
        let secs = interval_seconds(first.interval)?;
        let block = block_of(secs, first.time);
        let mut end = begin + 1;
        while end < rows.len()
            && rows[end].instrument_id == first.instrument_id
            && rows[end].interval == first.interval
            && block_of(secs, rows[end].time) == block
        {
            end += 1;
        }
        out.push(Group {
            instrument_id: first.instrument_id,
            interval: first.interval,
            block,
            start: block * width(secs),
            rows: &rows[begin..end],
        });
        begin = end;
    }
    Ok(out)
}

/// The rows of one call that fall into one block.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    pub instrument_id: i32,
    pub interval: i16,
    pub block: i64,
    /// Epoch second the block starts at.
    pub start: i64,
    pub rows: &'a [BarRow],
}

/// Smallest and largest block numbers stored: every representable timestamp of every
/// interval falls between them (see [`sqlite_key`]).
pub(crate) const MIN_BLOCK: i64 = -(1 << 28);
pub(crate) const MAX_BLOCK: i64 = (1 << 28) - 1;

/// The blocks that may hold bars starting in `from..=to` (no `from`: from the first).
pub(crate) fn block_span(interval_seconds: i64, from: Option<i64>, to: i64) -> (i64, i64) {
    let lo = from.map_or(MIN_BLOCK, |f| block_of(interval_seconds, f));
    let hi = block_of(interval_seconds, to);
    (
        lo.clamp(MIN_BLOCK, MAX_BLOCK),
        hi.clamp(MIN_BLOCK, MAX_BLOCK),
    )
}

/// Collects the bars of a range query from its blocks, which the backend reads in
/// ascending order when the range has a start, and newest first when it has not
/// (the caller then wants the latest `limit` bars up to `to`).
pub(crate) struct RangeCollector {
    from: Option<i64>,
    to: i64,
    limit: usize,
    out: Vec<Record>,
}

impl RangeCollector {
    pub fn new(from: Option<i64>, to: i64, limit: Option<u32>) -> Self {
        let limit = limit.map_or(usize::MAX, |l| l as usize);
        Self {
            from,
            to,
            limit,
            out: Vec::with_capacity(limit.min(4_096)),
        }
    }

    /// Whether blocks should be read newest first.
    pub fn newest_first(&self) -> bool {
        self.from.is_none()
    }

    /// Whether the range is complete: further blocks cannot add to it.
    pub fn is_full(&self) -> bool {
        self.out.len() >= self.limit
    }

    /// Takes the records of the next block in reading order.
    pub fn take(&mut self, block: &StoredBlock) {
        match self.from {
            Some(from) => {
                for r in &block.records[block.lower_bound(from)..] {
                    if self.is_full() || r.time > self.to {
                        return;
                    }
                    self.out.push(*r);
                }
            }
            None => {
                for r in block.records.iter().rev() {
                    if self.is_full() {
                        return;
                    }
                    if r.time <= self.to {
                        self.out.push(*r);
                    }
                }
            }
        }
    }

    /// The collected records in ascending time.
    pub fn finish(mut self) -> Vec<Record> {
        if self.from.is_none() {
            self.out.reverse();
        }
        self.out
    }
}

/// Seconds of an interval from its stored code; unknown codes are corrupt data.
pub(crate) fn interval_seconds(code: i16) -> StoreResult<i64> {
    pricetrack_domain::Interval::from_code(code)
        .map(pricetrack_domain::Interval::seconds)
        .ok_or_else(|| corrupt("bars.interval", format!("unknown interval code {code}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time: i64, close: f64) -> BarRow {
        BarRow {
            instrument_id: 1,
            interval: 2,
            time,
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 10.0,
        }
    }

    fn decode(bytes: &[u8], start: i64) -> Vec<(i64, f64)> {
        StoredBlock::decode(bytes, start)
            .unwrap()
            .records
            .iter()
            .map(|r| (r.time, r.values.close))
            .collect()
    }

    #[test]
    fn a_new_block_holds_every_row_as_inserted() {
        let merged = merge(None, 0, &[row(0, 1.0), row(300, 2.0)]).unwrap();
        assert_eq!(
            merged.counts,
            UpsertCounts {
                inserted: 2,
                replaced: 0
            }
        );
        assert_eq!(
            decode(&merged.bytes.unwrap(), 0),
            vec![(0, 1.0), (300, 2.0)]
        );
    }

    #[test]
    fn merging_interleaves_by_time_and_counts_replacements() {
        let stored = merge(None, 0, &[row(0, 1.0), row(600, 3.0)])
            .unwrap()
            .bytes
            .unwrap();
        let merged = merge(
            Some(&stored),
            0,
            &[row(300, 2.0), row(600, 4.0), row(900, 5.0)],
        )
        .unwrap();
        assert_eq!(
            merged.counts,
            UpsertCounts {
                inserted: 2,
                replaced: 1
            }
        );
        assert_eq!(
            decode(&merged.bytes.unwrap(), 0),
            vec![(0, 1.0), (300, 2.0), (600, 4.0), (900, 5.0)]
        );
    }

    #[test]
    fn unchanged_rows_count_as_replaced_but_write_nothing() {
        let stored = merge(None, 0, &[row(0, 1.0), row(300, 2.0)])
            .unwrap()
            .bytes
            .unwrap();
        let merged = merge(Some(&stored), 0, &[row(300, 2.0)]).unwrap();
        assert_eq!(
            merged.counts,
            UpsertCounts {
                inserted: 0,
                replaced: 1
            }
        );
        assert_eq!(merged.bytes, None);
    }

    #[test]
    fn blocks_before_1970_use_floor_division() {
        let secs = 300;
        assert_eq!(block_of(secs, -1), -1);
        assert_eq!(block_of(secs, 0), 0);
        let start = block_of(secs, -1) * width(secs);
        let merged = merge(None, start, &[row(-1, 7.0)]).unwrap();
        assert_eq!(decode(&merged.bytes.unwrap(), start), vec![(-1, 7.0)]);
    }

    #[test]
    fn sqlite_keys_sort_like_the_tuple() {
        let extremes = [
            (1, 1, block_of(60, -377_705_116_800)),
            (1, 1, block_of(60, 0)),
            (1, 1, block_of(60, 253_402_207_200)),
            (1, 2, block_of(300, -377_705_116_800)),
            (2, 1, block_of(60, -377_705_116_800)),
            (i32::MAX, 7, block_of(30 * 86_400, 253_402_207_200)),
        ];
        let keys: Vec<i64> = extremes
            .iter()
            .map(|&(id, iv, b)| sqlite_key(id, iv, b).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let (lo, hi) = sqlite_instrument_keys(1);
        assert!(keys[..4].iter().all(|k| (lo..=hi).contains(k)));
        assert!(!(lo..=hi).contains(&keys[4]));
        assert!(sqlite_key(-1, 1, 0).is_err());
        for &(id, iv, b) in &extremes {
            let key = sqlite_key(id, iv, b).unwrap();
            assert_eq!(sqlite_block_of_key(key), b);
            let series = sqlite_series_of_key(key);
            let (first, last) = sqlite_series_keys(series);
            assert!((first..=last).contains(&key));
            let (lo, hi) = sqlite_instrument_series(id);
            assert!((lo..=hi).contains(&series));
        }
        assert_ne!(
            sqlite_series_of_key(keys[1]),
            sqlite_series_of_key(keys[3]),
            "intervals of one instrument are separate series"
        );
    }

    #[test]
    fn a_damaged_block_is_reported_as_corrupt() {
        assert!(StoredBlock::decode(&[], 0).is_err());
        assert!(StoredBlock::decode(&[9, 0, 0], 0).is_err());
        assert!(StoredBlock::decode(&[format::FORMAT_V1, 1, 2, 3], 0).is_err());
        assert!(StoredBlock::decode(&[format::FORMAT_V2, 1, 0], 0).is_err());
    }

    #[test]
    fn groups_split_by_series_and_block() {
        let w = width(300);
        let mut rows = vec![row(0, 1.0), row(w - 300, 2.0), row(w, 3.0)];
        let mut other = row(0, 4.0);
        other.instrument_id = 2;
        rows.push(other);
        let g = groups(&rows).unwrap();
        let shape: Vec<(i32, i64, usize)> = g
            .iter()
            .map(|g| (g.instrument_id, g.block, g.rows.len()))
            .collect();
        assert_eq!(shape, vec![(1, 0, 2), (1, 1, 1), (2, 0, 1)]);
    }

    #[test]
    fn a_range_without_start_keeps_the_latest_bars_in_ascending_order() {
        let older = merge(None, 0, &[row(0, 1.0), row(300, 2.0)])
            .unwrap()
            .bytes
            .unwrap();
        let newer = merge(None, 9600, &[row(9600, 3.0), row(9900, 4.0)])
            .unwrap()
            .bytes
            .unwrap();
        let mut c = RangeCollector::new(None, 9600, Some(3));
        assert!(c.newest_first());
        c.take(&StoredBlock::decode(&newer, 9600).unwrap());
        assert!(!c.is_full());
        c.take(&StoredBlock::decode(&older, 0).unwrap());
        assert!(c.is_full());
        let times: Vec<i64> = c.finish().iter().map(|r| r.time).collect();
        assert_eq!(times, vec![0, 300, 9600]);
    }

    #[test]
    fn a_range_with_start_stops_at_its_end_and_limit() {
        let bytes = merge(
            None,
            0,
            &[row(0, 1.0), row(300, 2.0), row(600, 3.0), row(900, 4.0)],
        )
        .unwrap()
        .bytes
        .unwrap();
        let mut c = RangeCollector::new(Some(1), 900, Some(2));
        c.take(&StoredBlock::decode(&bytes, 0).unwrap());
        let times: Vec<i64> = c.finish().iter().map(|r| r.time).collect();
        assert_eq!(times, vec![300, 600]);
        let mut c = RangeCollector::new(Some(0), 600, None);
        c.take(&StoredBlock::decode(&bytes, 0).unwrap());
        assert_eq!(c.finish().len(), 3);
    }

    #[test]
    fn block_spans_are_clamped_to_storable_blocks() {
        assert_eq!(block_span(300, None, i64::MAX), (MIN_BLOCK, MAX_BLOCK));
        assert_eq!(block_span(300, Some(0), 9599), (0, 0));
        assert_eq!(block_span(300, Some(0), 9600), (0, 1));
    }

    #[test]
    fn lower_bound_finds_the_first_record_at_or_after() {
        let bytes = merge(None, 0, &[row(0, 1.0), row(300, 2.0), row(900, 3.0)])
            .unwrap()
            .bytes
            .unwrap();
        let view = StoredBlock::decode(&bytes, 0).unwrap();
        assert_eq!(view.lower_bound(-5), 0);
        assert_eq!(view.lower_bound(300), 1);
        assert_eq!(view.lower_bound(301), 2);
        assert_eq!(view.lower_bound(5000), 3);
    }
}
