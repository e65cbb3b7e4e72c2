//! A bar series as JSON, written straight into one buffer sized up front.
//!
//! The range read is the API's hottest response. Through serde and axum's
//! `Json`, most of its time went to growing the output buffer a few bytes at a
//! time, escaping keys that never need it and printing timestamps through a
//! general formatter. The shape is exactly [`super::bars::BarSeries`]'s (the
//! OpenAPI schema), with one difference clients cannot see as JSON numbers:
//! an integral volume is written as `1200`, not `1200.0`.

use jiff::Timestamp;
use pricetrack_domain::{Bar, Interval, Symbol};

/// Generous per-bar size: a timestamp, five numbers, the keys.
const BYTES_PER_BAR: usize = 128;

/// `{"symbol":…,"interval":…,"bars":[{"time":…,"open":…,…},…]}`.
pub fn series(symbol: &Symbol, interval: Interval, bars: &[Bar]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + bars.len() * BYTES_PER_BAR);
    out.extend_from_slice(b"{\"symbol\":");
    string(&mut out, symbol.as_str());
    out.extend_from_slice(b",\"interval\":");
    string(&mut out, interval.as_str());
    out.extend_from_slice(b",\"bars\":[");
    for (i, bar) in bars.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"time\":\"");
        timestamp(&mut out, bar.time);
        out.extend_from_slice(b"\",\"open\":");
        number(&mut out, bar.open);
        out.extend_from_slice(b",\"high\":");
        number(&mut out, bar.high);
        out.extend_from_slice(b",\"low\":");
        number(&mut out, bar.low);
        out.extend_from_slice(b",\"close\":");
        number(&mut out, bar.close);
        out.extend_from_slice(b",\"volume\":");
        volume(&mut out, bar.volume);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    // Symbols and interval codes are plain ASCII, but escaping is cheap insurance.
    serde_json::to_writer(&mut *out, s).unwrap_or_else(|_| out.extend_from_slice(b"null"));
}

/// Shortest round-trip form, as serde_json writes an `f64` (`null` if not finite).
fn number(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let mut buf = zmij::Buffer::new();
        out.extend_from_slice(buf.format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Volumes are share or contract counts: integral ones print as integers.
fn volume(out: &mut Vec<u8>, v: f64) {
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() == 0.0 && v.abs() < EXACT_INTEGERS {
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(v as i64).as_bytes());
    } else {
        number(out, v);
    }
}

/// RFC 3339 in UTC, as `Timestamp`'s `Display` prints it: whole seconds of
/// years 0000–9999 by a direct civil-date conversion, anything else through jiff.
fn timestamp(out: &mut Vec<u8>, t: Timestamp) {
    const SECONDS_PER_DAY: i64 = 86_400;
    // 0000-01-01 and 10000-01-01 as Unix seconds.
    const FIRST: i64 = -62_167_219_200;
    const END: i64 = 253_402_300_800;
    let secs = t.as_second();
    if t.subsec_nanosecond() != 0 || !(FIRST..END).contains(&secs) {
        use std::io::Write as _;
        let _ = write!(out, "{t}");
        return;
    }
    let (days, of_day) = (
        secs.div_euclid(SECONDS_PER_DAY),
        secs.rem_euclid(SECONDS_PER_DAY),
    );
    let (year, month, day) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00Z";
    digits(&mut b[0..4], year as u32);
    digits(&mut b[5..7], month);
    digits(&mut b[8..10], day);
    digits(&mut b[11..13], (of_day / 3600) as u32);
    digits(&mut b[14..16], (of_day / 60 % 60) as u32);
    digits(&mut b[17..19], (of_day % 60) as u32);
    out.extend_from_slice(&b);
}

/// Writes `v` as zero-padded decimal filling `dst`.
fn digits(dst: &mut [u8], mut v: u32) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{bars::BarSeries, dto::BarOut};
    use pricetrack_domain::Ohlcv;

    fn bar(time: Timestamp, close: f64, volume: f64) -> Bar {
        Bar::new(
            Symbol::parse("GC=F").expect("symbol"),
            Interval::M5,
            time,
            Ohlcv {
                open: close,
                high: close * 1.01,
                low: close * 0.99,
                close,
                volume,
            },
        )
        .expect("bar")
    }

    #[test]
    fn timestamps_print_exactly_as_jiff_prints_them() {
        let mut secs = -62_167_219_200_i64;
        // Steps that are not a multiple of a day, month or leap cycle visit every
        // kind of date from year 0 to 9999, including 29 February and century years.
        while secs < 253_402_300_800 {
            let t = Timestamp::from_second(secs).expect("in range");
            let mut out = Vec::new();
            timestamp(&mut out, t);
            assert_eq!(String::from_utf8(out).expect("utf8"), t.to_string());
            secs += 7_777_777;
        }
        for raw in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2024-02-29T12:00:00Z",
            "2100-03-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2024-06-11T13:30:00.5Z",
        ] {
            let t: Timestamp = raw.parse().expect("timestamp");
            let mut out = Vec::new();
            timestamp(&mut out, t);
            assert_eq!(String::from_utf8(out).expect("utf8"), t.to_string());
        }
    }

    #[test]
    fn the_series_is_byte_for_byte_what_serde_writes_for_fractional_volumes() {
        let t: Timestamp = "2024-06-11T13:30:00Z".parse().expect("time");
        let bars = vec![
            bar(t, 187.25, 1_200.5),
            bar(t + jiff::SignedDuration::from_mins(5), 0.000_123_4, 0.25),
            bar(
                t + jiff::SignedDuration::from_mins(10),
                62_000.1,
                350_000.75,
            ),
            bar(t + jiff::SignedDuration::from_mins(15), 1e-7, 1e20 + 0.5),
        ];
        let symbol = Symbol::parse("GC=F").expect("symbol");
        let reference = serde_json::to_string(&BarSeries {
            symbol: symbol.to_string(),
            interval: Interval::M5.to_string(),
            bars: bars.iter().map(BarOut::from).collect(),
        })
        .expect("serde");
        let ours = String::from_utf8(series(&symbol, Interval::M5, &bars)).expect("utf8");
        assert_eq!(ours, reference);
    }

    #[test]
    fn integral_volumes_are_integers_and_every_number_round_trips() {
        for (v, text) in [
            (1_200.0, "1200"),
            (0.0, "0"),
            (0.5, "0.5"),
            (9e15, "9000000000000000"),
        ] {
            let mut out = Vec::new();
            volume(&mut out, v);
            assert_eq!(String::from_utf8(out).expect("utf8"), text);
        }
        for v in [
            187.25,
            0.000_123_4 * 1.01,
            62_000.1 * 0.99,
            1e-7,
            1.0 / 3.0,
            4e15,
        ] {
            let mut out = Vec::new();
            number(&mut out, v);
            let text = String::from_utf8(out).expect("utf8");
            assert_eq!(text.parse::<f64>().expect("a number"), v, "{text}");
        }
    }

    #[test]
    fn an_empty_series_is_valid_json() {
        let symbol = Symbol::parse("AAPL").expect("symbol");
        let v: serde_json::Value =
            serde_json::from_slice(&series(&symbol, Interval::D1, &[])).expect("valid JSON");
        assert_eq!(v["bars"].as_array().map(Vec::len), Some(0));
        assert_eq!(v["interval"], "1d");
    }
}
