//! The bytes of a block: encoding and decoding, pure.
//!
//! Two layouts, told apart by the first byte; both stay readable forever.
//!
//! [`FORMAT_V1`] (written until 2026-12): fixed 44-byte records — the start's
//! offset from the block start (u32), then open, high, low, close, volume (f64), all
//! little-endian.
//!
//! [`FORMAT_V2`] (written since): the same records, compacted column by column,
//! 7–19 bytes a bar on real price files instead of 44. Why: with blocks of 32 bars
//! a 44-byte record made a block ~1.4 kB, two to a 4 kB page, so every block a feed
//! completed split a b-tree page, and a commit wrote ~3.5 pages per completed block;
//! the bytes a commit writes (WAL, checkpoint, kernel page cache) were most of the
//! ingest cost. Appending to a block ([`try_append`]) copies its streams and adds
//! the new deltas at their ends, without decoding its values.
//!
//! ```text
//! u8      FORMAT_V2
//! u32 LE  n, the number of records (fixed width: a reader can count bars cheaply)
//! varint  u, the time unit in seconds (the gcd of the offsets; 1 if they are all 0)
//! varint  first offset / u, then n − 1 × (offset − previous offset) / u   (each ≥ 1)
//! 5 value columns (open, high, low, close, volume), each:
//!   u8 scale k ≤ MAX_SCALE: every value is exactly m / 10^k for an integer m; then
//!      zigzag varints: m of the first record, then m − previous m
//!   u8 RAW: n × f64 little-endian (values with no short decimal form)
//! ```
//!
//! Exactness: a value is written as scaled integer only if dividing that integer by
//! 10^k gives back the same bits; decoding performs that same IEEE division, so every
//! f64 reads back bit for bit, whatever it is.

use super::Record;
use crate::codec::corrupt;
use pricetrack_app::ports::StoreResult;
use pricetrack_domain::Ohlcv;

/// First byte of a block of fixed-size records.
pub(crate) const FORMAT_V1: u8 = 1;
/// First byte of a block of compacted columns.
pub(crate) const FORMAT_V2: u8 = 2;
/// Bytes of one [`FORMAT_V1`] record: u32 offset + 5 × f64.
const V1_RECORD_BYTES: usize = 4 + 5 * 8;
/// Bytes before a [`FORMAT_V2`] block's columns that every block has.
const V2_HEADER_BYTES: usize = 1 + 4;
/// Largest decimal scale: 10^k is exact in f64 up to k = 22; beyond 15 digits after the
/// point a price is noise in its last bits, stored raw.
const MAX_SCALE: u8 = 15;
/// Column marker for values stored as raw f64.
const RAW: u8 = 0xFF;
/// Largest |m| of a scaled value: integers up to 2^53 are exact in f64.
const MAX_SCALED: f64 = 9_007_199_254_740_992.0;

const POW10: [f64; MAX_SCALE as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value columns, in stored order.
const COLUMNS: [fn(&Ohlcv) -> f64; 5] =
    [|v| v.open, |v| v.high, |v| v.low, |v| v.close, |v| v.volume];

fn bad(detail: impl std::fmt::Display) -> pricetrack_app::ports::StoreError {
    corrupt("bar_blocks.data", detail)
}

/// The number of bars in a block, from its header alone.
pub(crate) fn record_count(bytes: &[u8]) -> StoreResult<usize> {
    match bytes.split_first() {
        Some((&FORMAT_V1, records)) if records.len() % V1_RECORD_BYTES == 0 => {
            Ok(records.len() / V1_RECORD_BYTES)
        }
        Some((&FORMAT_V1, records)) => Err(bad(format!(
            "{} record bytes is not a whole number of bars",
            records.len()
        ))),
        Some((&FORMAT_V2, rest)) => match rest.first_chunk::<4>() {
            Some(n) => Ok(u32::from_le_bytes(*n) as usize),
            None => Err(bad("block header cut short")),
        },
        Some((version, _)) => Err(bad(format!("unknown block format {version}"))),
        None => Err(bad("empty block")),
    }
}

/// Appends the records of `bytes`, the block starting at `start`, to `out`.
pub(crate) fn decode(bytes: &[u8], start: i64, out: &mut Vec<Record>) -> StoreResult<()> {
    let n = record_count(bytes)?;
    match bytes[0] {
        FORMAT_V1 => {
            out.reserve(n);
            for r in bytes[1..].chunks_exact(V1_RECORD_BYTES) {
                out.push(v1_record(start, r));
            }
            Ok(())
        }
        _ => decode_v2(&bytes[V2_HEADER_BYTES..], start, n, out),
    }
}

fn v1_record(start: i64, r: &[u8]) -> Record {
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[at..at + 8]);
        f64::from_le_bytes(b)
    };
    let mut offset = [0u8; 4];
    offset.copy_from_slice(&r[..4]);
    Record {
        time: start + i64::from(u32::from_le_bytes(offset)),
        values: Ohlcv {
            open: word(4),
            high: word(12),
            low: word(20),
            close: word(28),
            volume: word(36),
        },
    }
}

/// Encodes `records` (sorted by time, unique, all inside the block starting at
/// `start`) as a [`FORMAT_V2`] block.
pub(crate) fn encode(start: i64, records: &[Record]) -> StoreResult<Vec<u8>> {
    let n = u32::try_from(records.len()).map_err(|_| bad("too many bars for one block"))?;
    let mut offsets = Vec::with_capacity(records.len());
    for r in records {
        let offset = u32::try_from(r.time - start).map_err(|_| {
            bad(format!(
                "bar at {} outside the block starting at {start}",
                r.time
            ))
        })?;
        if offsets.last().is_some_and(|&last| offset <= last) {
            return Err(bad(format!(
                "bar at {} is not after the one before it",
                r.time
            )));
        }
        offsets.push(offset);
    }
    let mut out = Vec::with_capacity(V2_HEADER_BYTES + 8 + records.len() * 12);
    out.push(FORMAT_V2);
    out.extend_from_slice(&n.to_le_bytes());
    let unit = offsets.iter().fold(0, |g, &o| gcd(g, o)).max(1);
    put_varint(&mut out, u64::from(unit));
    let mut previous = 0;
    for (i, &offset) in offsets.iter().enumerate() {
        let step = if i == 0 { offset } else { offset - previous };
        put_varint(&mut out, u64::from(step / unit));
        previous = offset;
    }
    let mut column = Vec::with_capacity(records.len());
    let mut scaled_values = Vec::with_capacity(records.len());
    for value_of in COLUMNS {
        column.clear();
        column.extend(records.iter().map(|r| value_of(&r.values)));
        put_column(&mut out, &column, &mut scaled_values);
    }
    Ok(out)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `v` as the integer `m` with `m / 10^k == v` exactly, if there is one.
fn scaled(v: f64, k: u8) -> Option<i64> {
    let x = v * POW10[usize::from(k)];
    if x.is_nan() || x.abs() > MAX_SCALED {
        return None;
    }
    // Rounds half away from zero like `f64::round`, without its libm call (this runs
    // for every value of every block written); a wrong guess only fails the check.
    let truncated = x as i64;
    let m = if (x - truncated as f64).abs() >= 0.5 {
        truncated + if x < 0.0 { -1 } else { 1 }
    } else {
        truncated
    };
    (unscaled(m, k).to_bits() == v.to_bits()).then_some(m)
}

/// The value a scaled integer stands for; encoding checks against this very function.
fn unscaled(m: i64, k: u8) -> f64 {
    m as f64 / POW10[usize::from(k)]
}

/// The smallest scale at which every value of `column` is exact, with the scaled
/// values in `scaled_values`; `None` if there is none.
fn scale_column(column: &[f64], scaled_values: &mut Vec<i64>) -> Option<u8> {
    let mut k = 0;
    'scales: loop {
        scaled_values.clear();
        for &v in column {
            match scaled(v, k) {
                Some(m) => scaled_values.push(m),
                None => {
                    // The smallest scale this value needs; earlier values are redone
                    // at it (a value exact at a scale is exact at every larger one,
                    // and the check confirms it).
                    k = (k + 1..=MAX_SCALE).find(|&k| scaled(v, k).is_some())?;
                    continue 'scales;
                }
            }
        }
        return Some(k);
    }
}

fn put_column(out: &mut Vec<u8>, column: &[f64], scaled_values: &mut Vec<i64>) {
    if let Some(k) = scale_column(column, scaled_values) {
        out.push(k);
        let mut previous = 0i64;
        for &m in scaled_values.iter() {
            put_varint(out, zigzag(m - previous));
            previous = m;
        }
        return;
    }
    out.push(RAW);
    for &v in column {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `records` (sorted by time, unique) to the [`FORMAT_V2`] block `bytes`
/// starting at `start` without re-encoding its bars: the stored streams are only
/// scanned and copied, the new bars' deltas added at their ends. The bytes are the
/// ones [`encode`] would write for all the bars. `None` when that shortcut does not
/// apply — another format, a bar not after the last stored one or outside the block,
/// a time unit or a column scale the new bars change — and the caller re-encodes.
pub(crate) fn try_append(
    bytes: &[u8],
    start: i64,
    records: &[Record],
) -> StoreResult<Option<Vec<u8>>> {
    if bytes.first() != Some(&FORMAT_V2) || records.is_empty() {
        return Ok(None);
    }
    let n = record_count(bytes)?;
    let Ok(total) = u32::try_from(n + records.len()) else {
        return Ok(None);
    };
    let body = &bytes[V2_HEADER_BYTES..];
    let mut rest = body;
    let unit = read_unit(&mut rest)?;
    let mut stored_gcd = 0;
    let mut last = None;
    read_offsets(&mut rest, unit, n, |offset| {
        stored_gcd = gcd(stored_gcd, offset);
        last = Some(offset);
    })?;
    let times_end = body.len() - rest.len();
    let mut steps = Vec::with_capacity(records.len());
    let mut all_gcd = stored_gcd;
    let mut previous = last;
    for r in records {
        let Ok(offset) = u32::try_from(r.time - start) else {
            return Ok(None);
        };
        let step = match previous {
            Some(p) if offset <= p => return Ok(None),
            Some(p) => offset - p,
            None => offset,
        };
        all_gcd = gcd(all_gcd, offset);
        steps.push(step);
        previous = Some(offset);
    }
    // The unit is the gcd of all offsets: new bars may not change it.
    if all_gcd.max(1) != unit {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(bytes.len() + records.len() * 12);
    out.push(FORMAT_V2);
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&body[..times_end]);
    for step in steps {
        put_varint(&mut out, u64::from(step / unit));
    }
    for value_of in COLUMNS {
        let (&scale, after) = rest.split_first().ok_or_else(|| bad("block cut short"))?;
        let column_start = body.len() - after.len();
        rest = after;
        let mut added = Vec::with_capacity(records.len() * 3);
        if scale == RAW {
            rest = rest.get(n * 8..).ok_or_else(|| bad("block cut short"))?;
            for r in records {
                added.extend_from_slice(&value_of(&r.values).to_le_bytes());
            }
        } else if scale <= MAX_SCALE {
            let mut previous = 0i64;
            for _ in 0..n {
                previous = previous.wrapping_add(unzigzag(get_varint(&mut rest)?));
            }
            for r in records {
                let Some(m) = scaled(value_of(&r.values), scale) else {
                    return Ok(None);
                };
                // Wrapping: `previous` comes from stored bytes, which may be damaged.
                put_varint(&mut added, zigzag(m.wrapping_sub(previous)));
                previous = m;
            }
        } else {
            return Err(bad(format!("unknown column scale {scale}")));
        }
        out.extend_from_slice(&body[column_start - 1..body.len() - rest.len()]);
        out.extend_from_slice(&added);
    }
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes after the last column", rest.len())));
    }
    Ok(Some(out))
}

fn read_unit(bytes: &mut &[u8]) -> StoreResult<u32> {
    let unit = get_varint(bytes)?;
    u32::try_from(unit)
        .ok()
        .filter(|&u| u >= 1)
        .ok_or_else(|| bad(format!("time unit {unit} out of range")))
}

/// Reads the `n` time steps, calling `each` with every offset in order.
fn read_offsets(
    bytes: &mut &[u8],
    unit: u32,
    n: usize,
    mut each: impl FnMut(u32),
) -> StoreResult<()> {
    let mut offset = 0u64;
    for i in 0..n {
        let step = get_varint(bytes)?;
        if i > 0 && step == 0 {
            return Err(bad("two bars at one time"));
        }
        offset = step
            .checked_mul(u64::from(unit))
            .and_then(|s| s.checked_add(offset))
            .filter(|&o| o <= u64::from(u32::MAX))
            .ok_or_else(|| bad("bar time outside its block"))?;
        each(offset as u32);
    }
    Ok(())
}

fn decode_v2(mut bytes: &[u8], start: i64, n: usize, out: &mut Vec<Record>) -> StoreResult<()> {
    let bytes = &mut bytes;
    let unit = read_unit(bytes)?;
    // Every record takes at least one byte per column: a damaged count cannot make
    // this reserve more than the block could hold.
    let first = out.len();
    out.reserve(n.min(bytes.len()));
    read_offsets(bytes, unit, n, |offset| {
        out.push(Record {
            time: start + i64::from(offset),
            values: Ohlcv {
                open: 0.0,
                high: 0.0,
                low: 0.0,
                close: 0.0,
                volume: 0.0,
            },
        });
    })?;
    let records = &mut out[first..];
    for column in 0..COLUMNS.len() {
        let (&scale, rest) = bytes.split_first().ok_or_else(|| bad("block cut short"))?;
        *bytes = rest;
        match scale {
            RAW => {
                for r in records.iter_mut() {
                    let (word, rest) = bytes
                        .split_first_chunk::<8>()
                        .ok_or_else(|| bad("block cut short"))?;
                    *field_mut(&mut r.values, column) = f64::from_le_bytes(*word);
                    *bytes = rest;
                }
            }
            k if k <= MAX_SCALE => {
                let mut m = 0i64;
                for r in records.iter_mut() {
                    m = m.wrapping_add(unzigzag(get_varint(bytes)?));
                    *field_mut(&mut r.values, column) = unscaled(m, k);
                }
            }
            other => return Err(bad(format!("unknown column scale {other}"))),
        }
    }
    if !bytes.is_empty() {
        return Err(bad(format!("{} bytes after the last column", bytes.len())));
    }
    Ok(())
}

/// The value of column `column` (in [`COLUMNS`] order): a match the compiler can hoist
/// out of a column's loop, where a function pointer would be called per value.
fn field_mut(v: &mut Ohlcv, column: usize) -> &mut f64 {
    match column {
        0 => &mut v.open,
        1 => &mut v.high,
        2 => &mut v.low,
        3 => &mut v.close,
        _ => &mut v.volume,
    }
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// LEB128: seven bits a byte, low first, high bit set on all but the last.
fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn get_varint(bytes: &mut &[u8]) -> StoreResult<u64> {
    // Most deltas of a feed fit in one byte.
    if let Some((&b, rest)) = bytes.split_first()
        && b < 0x80
    {
        *bytes = rest;
        return Ok(u64::from(b));
    }
    let mut x = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        x |= u64::from(b & 0x7F) << (7 * i);
        if b < 0x80 {
            if i == 9 && b > 1 {
                break;
            }
            *bytes = &bytes[i + 1..];
            return Ok(x);
        }
    }
    Err(bad("malformed number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(time: i64, o: f64, h: f64, l: f64, c: f64, v: f64) -> Record {
        Record {
            time,
            values: Ohlcv {
                open: o,
                high: h,
                low: l,
                close: c,
                volume: v,
            },
        }
    }

    fn round_trip(start: i64, records: &[Record]) -> Vec<u8> {
        let bytes = encode(start, records).unwrap();
        let mut back = Vec::new();
        decode(&bytes, start, &mut back).unwrap();
        assert_eq!(back.len(), records.len());
        for (a, b) in records.iter().zip(&back) {
            assert_eq!(a.time, b.time);
            let bits = |v: &Ohlcv| [v.open, v.high, v.low, v.close, v.volume].map(f64::to_bits);
            assert_eq!(bits(&a.values), bits(&b.values), "{a:?} read back as {b:?}");
        }
        assert_eq!(record_count(&bytes).unwrap(), records.len());
        bytes
    }

    #[test]
    fn a_feed_of_decimal_prices_takes_a_few_bytes_a_bar() {
        // As a feed's text parses: the f64 nearest each decimal.
        let price = |cents: i32| f64::from(cents) / 100.0;
        let records: Vec<Record> = (0..32)
            .map(|i| {
                let p = 18_725 + i * 5;
                rec(
                    1_700_000_000 + i64::from(i) * 300,
                    price(p),
                    price(p + 40),
                    price(p - 35),
                    price(p + 10),
                    120_000.0 + f64::from(i * 37),
                )
            })
            .collect();
        let bytes = round_trip(1_700_000_000, &records);
        assert!(bytes.len() <= 32 * 10, "{} bytes for 32 bars", bytes.len());
    }

    #[test]
    fn values_without_a_short_decimal_form_read_back_exactly() {
        let third = 1.0 / 3.0;
        let records = [
            rec(0, third, 1e300, 5e-324, f64::MAX, 0.0),
            rec(60, 0.1 + 0.2, 1e-7, 123_456_789.123_456_79, 2.5, 1e20),
            rec(
                120,
                f64::MIN_POSITIVE,
                7.0,
                0.000_000_01,
                99_999.999_999_99,
                -0.0,
            ),
        ];
        round_trip(0, &records);
    }

    #[test]
    fn times_keep_their_seconds_when_bars_are_irregular() {
        let records = [
            rec(0, 1.0, 1.0, 1.0, 1.0, 0.0),
            rec(7, 1.0, 1.0, 1.0, 1.0, 0.0),
            rec(9_600, 1.0, 1.0, 1.0, 1.0, 0.0),
            rec(i64::from(u32::MAX), 1.0, 1.0, 1.0, 1.0, 0.0),
        ];
        round_trip(
            -5_000,
            &records.map(|r| Record {
                time: r.time - 5_000,
                ..r
            }),
        );
    }

    #[test]
    fn unsorted_or_out_of_block_records_are_refused() {
        let a = rec(300, 1.0, 1.0, 1.0, 1.0, 0.0);
        let b = rec(0, 1.0, 1.0, 1.0, 1.0, 0.0);
        assert!(encode(0, &[a, b]).is_err());
        assert!(encode(0, &[a, a]).is_err());
        assert!(encode(1_000, &[b]).is_err());
    }

    #[test]
    fn version_one_blocks_still_read() {
        let mut bytes = vec![FORMAT_V1];
        bytes.extend_from_slice(&300u32.to_le_bytes());
        for x in [10.5f64, 11.0, 10.0, 10.75, 1_000.0] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let mut out = Vec::new();
        decode(&bytes, 9_600, &mut out).unwrap();
        assert_eq!(out, vec![rec(9_900, 10.5, 11.0, 10.0, 10.75, 1_000.0)]);
        assert_eq!(record_count(&bytes).unwrap(), 1);
    }

    #[test]
    fn damaged_blocks_are_reported_as_corrupt_not_misread() {
        let good = encode(
            0,
            &[
                rec(0, 1.5, 2.0, 1.0, 1.75, 10.0),
                rec(300, 1.5, 2.0, 1.0, 1.75, 12.0),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], 0, &mut out).is_err(), "cut at {cut}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer, 0, &mut out).is_err());
        let mut huge_count = good.clone();
        huge_count[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge_count, 0, &mut out).is_err());
        assert!(decode(&[9, 0, 0], 0, &mut out).is_err());
        assert!(decode(&[FORMAT_V1, 1, 2, 3], 0, &mut out).is_err());
        assert!(record_count(&[]).is_err());
    }

    fn decimal_bar(start: i64, i: i64) -> Record {
        let price = |cents: i64| cents as f64 / 100.0;
        let p = 18_725 + i * 5;
        rec(
            start + i * 300,
            price(p),
            price(p + 40),
            price(p - 35),
            price(p + 10),
            1_000.0 + i as f64,
        )
    }

    #[test]
    fn appending_writes_the_bytes_a_full_encoding_would() {
        let start = 1_699_996_800;
        let all: Vec<Record> = (0..32).map(|i| decimal_bar(start, i)).collect();
        // One bar, then the unit (300 s) is learnt from the second append.
        let mut bytes = encode(start, &all[..1]).unwrap();
        assert_eq!(
            try_append(&bytes, start, &all[1..3]).unwrap(),
            None,
            "unit changes"
        );
        bytes = encode(start, &all[..3]).unwrap();
        for chunk in all[3..].chunks(10) {
            bytes = try_append(&bytes, start, chunk).unwrap().expect("appends");
        }
        assert_eq!(bytes, encode(start, &all).unwrap());
        round_trip(start, &all);
    }

    #[test]
    fn appends_the_stored_streams_cannot_take_are_left_to_a_full_encoding() {
        let start = 0;
        let stored = encode(start, &[decimal_bar(start, 0), decimal_bar(start, 1)]).unwrap();
        let later = decimal_bar(start, 2);
        // Not after the last stored bar.
        assert_eq!(
            try_append(&stored, start, &[decimal_bar(start, 1)]).unwrap(),
            None
        );
        // Off the time unit.
        let odd = Record {
            time: later.time + 1,
            ..later
        };
        assert_eq!(try_append(&stored, start, &[odd]).unwrap(), None);
        // A value needing more decimals than its column has.
        let mut finer = later;
        finer.values.close = 187.255;
        assert_eq!(try_append(&stored, start, &[finer]).unwrap(), None);
        // Another format, or outside the block.
        let mut v1 = vec![FORMAT_V1];
        v1.extend_from_slice(&[0; V1_RECORD_BYTES]);
        assert_eq!(try_append(&v1, start, &[later]).unwrap(), None);
        let before = Record {
            time: -300,
            ..later
        };
        assert_eq!(try_append(&stored, 0, &[before]).unwrap(), None);
        // A value column stored raw takes raw values.
        let thirds = [
            rec(0, 1.0 / 3.0, 1.0, 0.25, 0.5, 7.0),
            rec(300, 2.0 / 3.0, 1.0, 0.25, 0.5, 8.0),
            rec(600, 4.0 / 3.0, 1.0, 0.25, 0.5, 9.0),
        ];
        let raw = encode(0, &thirds[..2]).unwrap();
        let appended = try_append(&raw, 0, &thirds[2..]).unwrap().expect("appends");
        assert_eq!(appended, encode(0, &thirds).unwrap());
    }

    #[test]
    fn a_damaged_block_is_reported_when_appending_too() {
        let stored = encode(0, &[decimal_bar(0, 0), decimal_bar(0, 1)]).unwrap();
        let next = [decimal_bar(0, 2)];
        for cut in 1..stored.len() {
            assert!(
                try_append(&stored[..cut], 0, &next).is_err(),
                "cut at {cut}"
            );
        }
    }

    /// Bars of a real price file (`../shared/fixtures/prices/`), as their text parses:
    /// `date[,time],open,high,low,close,…,volume` with the volume in column `volume_at`.
    fn fixture_bars(file: &str, with_time: bool, volume_at: usize) -> Vec<(i64, Ohlcv)> {
        let path = format!(
            "{}/../../../shared/fixtures/prices/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let mut previous = i64::MIN;
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .filter_map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                let stamp = if with_time {
                    format!("{}T{}Z", f[0], f[1])
                } else {
                    format!("{}T00:00:00Z", f[0])
                };
                let time = stamp.parse::<jiff::Timestamp>().unwrap().as_second();
                let at = usize::from(with_time) + 1;
                let num = |i: usize| f[i].trim().parse::<f64>().unwrap();
                (time > previous).then(|| {
                    previous = time;
                    let values = Ohlcv {
                        open: num(at),
                        high: num(at + 1),
                        low: num(at + 2),
                        close: num(at + 3),
                        volume: num(volume_at),
                    };
                    (time, values)
                })
            })
            .collect()
    }

    /// Encodes a series block by block (32 nominal bars each) and reads it back.
    fn bytes_per_bar(bars: &[(i64, Ohlcv)], interval: i64) -> f64 {
        let width = 32 * interval;
        let mut total = 0;
        for block in bars.chunk_by(|a, b| a.0.div_euclid(width) == b.0.div_euclid(width)) {
            let start = block[0].0.div_euclid(width) * width;
            let records: Vec<Record> = block
                .iter()
                .map(|&(time, values)| Record { time, values })
                .collect();
            total += round_trip(start, &records).len();
        }
        total as f64 / bars.len() as f64
    }

    #[test]
    fn real_price_files_read_back_exactly_in_a_fraction_of_the_fixed_size() {
        // Yahoo daily bars with six decimals and volumes in the millions.
        let daily = fixture_bars(
            "mplfinance/yahoofinance-AAPL-20040819-20180120.csv",
            false,
            6,
        );
        assert!(daily.len() > 3_000);
        let size = bytes_per_bar(&daily, 86_400);
        assert!(size < 22.0, "{size:.1} bytes a daily bar");
        // Futures minute bars: whole points, small volumes.
        let minutes = fixture_bars("backtrader/2006-01-02-volume-min-001.txt", true, 6);
        assert!(minutes.len() > 30_000);
        let size = bytes_per_bar(&minutes, 60);
        assert!(size < 12.0, "{size:.1} bytes a minute bar");
    }

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            // Prices as feeds quote them: a few decimals.
            (1u64..10_000_000_000, 0u32..9).prop_map(|(m, k)| m as f64 / 10f64.powi(k as i32)),
            // Anything finite.
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
        ]
    }

    proptest! {
        #[test]
        fn every_block_reads_back_bit_for_bit(
            steps in proptest::collection::vec(1u32..100_000, 1..80),
            values in proptest::collection::vec(any_value(), 400),
            start in -10_000_000_000i64..10_000_000_000,
        ) {
            let mut time = start;
            let records: Vec<Record> = steps
                .iter()
                .enumerate()
                .map(|(i, &step)| {
                    if i > 0 {
                        time += i64::from(step);
                    }
                    let v = &values[(i * 5) % 395..];
                    rec(time, v[0], v[1], v[2], v[3], v[4].abs())
                })
                .collect();
            round_trip(start, &records);
        }

        #[test]
        fn appending_reads_back_like_encoding_everything(
            steps in proptest::collection::vec(1u32..5, 2..70),
            cents in proptest::collection::vec(1i64..100_000_000, 70),
            split in 1usize..69,
            odd_values in any::<bool>(),
        ) {
            let start = 1_699_996_800;
            let mut offset = 0u32;
            let records: Vec<Record> = steps
                .iter()
                .enumerate()
                .map(|(i, &step)| {
                    if i > 0 {
                        offset += step * 300;
                    }
                    let price = if odd_values && i % 7 == 3 {
                        cents[i] as f64 / 3.0
                    } else {
                        cents[i] as f64 / 100.0
                    };
                    rec(start + i64::from(offset), price, price, price, price, cents[i] as f64)
                })
                .collect();
            let split = split.min(records.len() - 1);
            let stored = encode(start, &records[..split]).unwrap();
            let whole = encode(start, &records).unwrap();
            if let Some(appended) = try_append(&stored, start, &records[split..]).unwrap() {
                prop_assert_eq!(appended, whole);
            }
        }
    }
}
