//! Helpers shared by the adapters: numbers as strings, time zones, minor
//! currency units, and collecting bars with their rejects.

use jiff::{Timestamp, civil::DateTime, tz::TimeZone};
use pricetrack_app::market_data::{FetchedBars, RejectedRecord};
use pricetrack_domain::{Bar, Currency, Interval, Ohlcv, Symbol, date_key};
use serde_json::Value;

/// A number sent as a JSON number or a string (`"121.7400"`, `"-0.58%"`).
/// `"-"`, `""`, `"N/D"` and non-finite values are `None`.
pub(crate) fn json_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
        Value::String(s) => str_f64(s),
        _ => None,
    }
}

pub(crate) fn str_f64(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches('%');
    if s.is_empty() || s == "-" {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// An integer sent as a number or a string (Binance times in ccxt's fixtures).
pub(crate) fn json_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An IANA zone by name, with a few legacy aliases and POSIX fallbacks for
/// machines without a tz database.
pub(crate) fn time_zone(name: &str) -> Option<TimeZone> {
    if name.eq_ignore_ascii_case("UTC") || name == "GMT" {
        return Some(TimeZone::UTC);
    }
    if let Ok(tz) = TimeZone::get(name) {
        return Some(tz);
    }
    let posix = match name {
        "US/Eastern" | "America/New_York" => "EST5EDT,M3.2.0,M11.1.0",
        "US/Central" | "America/Chicago" => "CST6CDT,M3.2.0,M11.1.0",
        "Europe/London" => "GMT0BST,M3.5.0/1,M10.5.0",
        "Europe/Berlin" | "Europe/Paris" | "Europe/Warsaw" | "Europe/Amsterdam" => {
            "CET-1CEST,M3.5.0,M10.5.0/3"
        }
        "Asia/Tokyo" => "JST-9",
        "Asia/Jakarta" => "WIB-7",
        _ => return None,
    };
    TimeZone::posix(posix).ok()
}

/// The storage key of the local date of `ts` in `tz`.
pub(crate) fn local_date_key(ts: Timestamp, tz: &TimeZone) -> Timestamp {
    date_key(tz.to_datetime(ts).date())
}

/// `2017-12-18 14:56:00` (or with `T`) in `tz`.
pub(crate) fn local_datetime(s: &str, tz: &TimeZone) -> Option<Timestamp> {
    let s = s.trim().replace(' ', "T");
    let dt: DateTime = s.parse().ok()?;
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// A currency as a provider writes it: minor units (`GBp`, `GBX`, `ZAc`,
/// `ILA`) become the major currency and the factor to multiply prices by.
pub(crate) fn currency_units(code: &str) -> Option<(Currency, f64)> {
    let minor = match code {
        "GBp" | "GBX" | "GBx" => Some("GBP"),
        "ZAc" | "ZAC" => Some("ZAR"),
        "ILA" | "ILa" => Some("ILS"),
        _ => None,
    };
    match minor {
        Some(major) => Currency::parse(major).ok().map(|c| (c, 0.01)),
        None => Currency::parse(code).ok().map(|c| (c, 1.0)),
    }
}

/// Converts a minor-unit price exactly: the decimal point of the number as
/// the provider wrote it moves two places, so `315.2` pence is the f64 of
/// "3.152" pounds (a float division would give 3.1519999999999997).
pub(crate) fn scale(x: f64, factor: f64) -> f64 {
    if factor == 1.0 || !x.is_finite() {
        x
    } else if factor == 0.01 {
        shift_decimal_left_2(x)
    } else {
        x * factor
    }
}

/// `x / 100` computed on the shortest decimal representation of `x`.
fn shift_decimal_left_2(x: f64) -> f64 {
    // Display for f64 prints the shortest round-trip decimal, never exponents.
    let s = x.abs().to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int = format!("{int:0>3}");
    let (hi, lo) = int.split_at(int.len() - 2);
    let v: f64 = format!("{hi}.{lo}{frac}").parse().unwrap_or(x / 100.0);
    if x < 0.0 { -v } else { v }
}

/// The decimal a provider wrote, from its float: the shortest round-trip
/// representation (`0.205`, not 0.20499999999999999), scaled exactly from a
/// minor unit when `factor` is 0.01.
pub(crate) fn decimal(x: f64, factor: f64) -> Option<rust_decimal::Decimal> {
    if !x.is_finite() {
        return None;
    }
    let d = rust_decimal::Decimal::from_str_exact(&x.to_string()).ok()?;
    Some(if factor == 1.0 {
        d
    } else if factor == 0.01 {
        d / rust_decimal::Decimal::ONE_HUNDRED
    } else {
        d * rust_decimal::Decimal::from_str_exact(&factor.to_string()).ok()?
    })
}

/// A split as a provider reports it (numerator and denominator, or a factor
/// over 1), when both are positive.
pub(crate) fn split_ratio(
    numerator: f64,
    denominator: f64,
) -> Option<pricetrack_domain::SplitRatio> {
    pricetrack_domain::SplitRatio::new(decimal(numerator, 1.0)?, decimal(denominator, 1.0)?).ok()
}

/// Collects bars for one request: builds them with [`Bar::new`], keeps only
/// those whose start is inside `[from, to)`, turns invalid records into
/// [`RejectedRecord`]s and returns them ascending without duplicates.
pub(crate) struct BarCollector {
    symbol: Symbol,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
    bars: Vec<Bar>,
    rejected: Vec<RejectedRecord>,
}

impl BarCollector {
    pub fn new(symbol: Symbol, interval: Interval, from: Timestamp, to: Timestamp) -> Self {
        Self {
            symbol,
            interval,
            from,
            to,
            bars: Vec::new(),
            rejected: Vec::new(),
        }
    }

    pub fn in_range(&self, time: Timestamp) -> bool {
        self.from <= time && time < self.to
    }

    /// Adds a record; `raw` renders it for the quarantine when it is invalid.
    pub fn push(&mut self, time: Timestamp, v: Ohlcv, raw: impl FnOnce() -> String) {
        if !self.in_range(time) {
            return;
        }
        match Bar::new(self.symbol.clone(), self.interval, time, v) {
            Ok(b) => self.bars.push(b),
            Err(e) => self
                .rejected
                .push(RejectedRecord::new(raw(), e.to_string())),
        }
    }

    pub fn reject(&mut self, raw: impl Into<String>, reason: impl Into<String>) {
        self.rejected.push(RejectedRecord::new(raw, reason));
    }

    /// Ascending; for a repeated start the record sent last wins.
    pub fn finish(mut self, provider: &str) -> FetchedBars {
        self.bars.sort_by_key(|b| b.time);
        let mut out: Vec<Bar> = Vec::with_capacity(self.bars.len());
        for b in self.bars {
            match out.last_mut() {
                Some(last) if last.time == b.time => *last = b,
                _ => out.push(b),
            }
        }
        let mut f = FetchedBars::empty(provider);
        f.bars = out;
        f.rejected = self.rejected;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pence_become_pounds_exactly() {
        let (c, f) = currency_units("GBp").unwrap();
        assert_eq!(c, Currency::GBP);
        assert_eq!(scale(1259.5, f), "12.595".parse::<f64>().unwrap());
        assert_eq!(scale(315.2, f), 3.152);
        assert_eq!(scale(5.0, f), 0.05);
        assert_eq!(scale(0.6, f), 0.006);
        assert_eq!(scale(-12.0, f), -0.12);
        assert_eq!(scale(123456789.0, f), 1234567.89);
        assert_eq!(currency_units("USD"), Some((Currency::USD, 1.0)));
        assert!(currency_units("???").is_none());
    }

    #[test]
    fn numbers_as_strings_and_dashes() {
        assert_eq!(json_f64(&Value::String("121.7400".into())), Some(121.74));
        assert_eq!(json_f64(&Value::String("-0.5852%".into())), Some(-0.5852));
        assert_eq!(json_f64(&Value::String("-".into())), None);
        assert_eq!(json_f64(&Value::Null), None);
    }
}
