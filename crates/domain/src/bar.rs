//! Price bars (OHLCV) and their intervals.

use crate::Symbol;
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// The width of a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Interval {
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "1d")]
    D1,
    #[serde(rename = "1wk")]
    W1,
    #[serde(rename = "1mo")]
    Mo1,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown interval {0:?}; expected one of 1m, 5m, 15m, 1h, 1d, 1wk, 1mo")]
pub struct IntervalParseError(pub String);

impl Interval {
    pub const ALL: [Interval; 7] = [
        Self::M1,
        Self::M5,
        Self::M15,
        Self::H1,
        Self::D1,
        Self::W1,
        Self::Mo1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1h",
            Self::D1 => "1d",
            Self::W1 => "1wk",
            Self::Mo1 => "1mo",
        }
    }

    /// A stable small integer for compact storage. Never renumber.
    pub fn code(self) -> i16 {
        match self {
            Self::M1 => 1,
            Self::M5 => 2,
            Self::M15 => 3,
            Self::H1 => 4,
            Self::D1 => 5,
            Self::W1 => 6,
            Self::Mo1 => 7,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.code() == code)
    }

    /// Nominal length in seconds (a month counts as 30 days).
    pub fn seconds(self) -> i64 {
        match self {
            Self::M1 => 60,
            Self::M5 => 300,
            Self::M15 => 900,
            Self::H1 => 3_600,
            Self::D1 => 86_400,
            Self::W1 => 7 * 86_400,
            Self::Mo1 => 30 * 86_400,
        }
    }

    /// Daily and longer bars are keyed by a calendar date, stored at 00:00 UTC.
    pub fn is_date_keyed(self) -> bool {
        matches!(self, Self::D1 | Self::W1 | Self::Mo1)
    }
}

impl FromStr for Interval {
    type Err = IntervalParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| IntervalParseError(s.to_owned()))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a bar is not a valid bar.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BarError {
    #[error("{field} must be a finite number greater than zero, got {value}")]
    PriceNotPositive { field: &'static str, value: f64 },
    #[error("volume must be a finite number ≥ 0, got {0}")]
    BadVolume(f64),
    #[error("high {high} is below low {low}")]
    HighBelowLow { high: f64, low: f64 },
    #[error("{field} {value} is outside the bar's range low {low} – high {high}")]
    OutsideRange {
        field: &'static str,
        value: f64,
        low: f64,
        high: f64,
    },
    #[error("a {interval} bar must start at 00:00 UTC of its trading date, got {time}")]
    NotDateAligned { interval: Interval, time: Timestamp },
}

/// One OHLCV bar of one instrument.
///
/// Invariant (checked by [`Bar::new`]): prices are finite and positive, volume is
/// finite and ≥ 0, and low ≤ min(open, close) ≤ max(open, close) ≤ high. Bar
/// prices are market data, not money: they are `f64` like every market feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub symbol: Symbol,
    pub interval: Interval,
    /// Start of the bar, UTC. Date-keyed intervals use 00:00 UTC of the trading date.
    pub time: Timestamp,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// The numbers of a bar before validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ohlcv {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Bar {
    pub fn new(
        symbol: Symbol,
        interval: Interval,
        time: Timestamp,
        v: Ohlcv,
    ) -> Result<Self, BarError> {
        for (field, value) in [
            ("open", v.open),
            ("high", v.high),
            ("low", v.low),
            ("close", v.close),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(BarError::PriceNotPositive { field, value });
            }
        }
        if !(v.volume.is_finite() && v.volume >= 0.0) {
            return Err(BarError::BadVolume(v.volume));
        }
        if v.high < v.low {
            return Err(BarError::HighBelowLow {
                high: v.high,
                low: v.low,
            });
        }
        for (field, value) in [("open", v.open), ("close", v.close)] {
            if value < v.low || value > v.high {
                return Err(BarError::OutsideRange {
                    field,
                    value,
                    low: v.low,
                    high: v.high,
                });
            }
        }
        if interval.is_date_keyed() && time.as_second().rem_euclid(86_400) != 0 {
            return Err(BarError::NotDateAligned { interval, time });
        }
        Ok(Self {
            symbol,
            interval,
            time,
            open: v.open,
            high: v.high,
            low: v.low,
            close: v.close,
            volume: v.volume,
        })
    }

    pub fn ohlcv(&self) -> Ohlcv {
        Ohlcv {
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
        }
    }

    /// The trading date of a date-keyed bar (its UTC date).
    pub fn date(&self) -> Date {
        self.time.to_zoned(TimeZone::UTC).date()
    }
}

/// The storage key of a trading date: that date at 00:00 UTC.
pub fn date_key(date: Date) -> Timestamp {
    date.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The newest bar of each series (symbol and interval) among `bars`, in no particular
/// order: what a listener needs to hear of a stored batch. Of two bars at the same
/// time the later in `bars` wins, as it did when they were stored.
pub fn newest_per_series(bars: &[Bar]) -> Vec<&Bar> {
    let mut newest: rustc_hash::FxHashMap<(&Symbol, Interval), &Bar> = Default::default();
    for bar in bars {
        newest
            .entry((&bar.symbol, bar.interval))
            .and_modify(|b| {
                if bar.time >= b.time {
                    *b = bar;
                }
            })
            .or_insert(bar);
    }
    newest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym() -> Symbol {
        Symbol::parse("AAPL").unwrap()
    }

    fn ohlcv(open: f64, high: f64, low: f64, close: f64) -> Ohlcv {
        Ohlcv {
            open,
            high,
            low,
            close,
            volume: 10.0,
        }
    }

    #[test]
    fn newest_per_series_keeps_the_latest_bar_of_each_symbol_and_interval() {
        let at = |s: &str, interval: Interval, secs: i64, close: f64| {
            let t = Timestamp::from_second(1_704_067_200 + secs).unwrap();
            Bar::new(
                Symbol::parse(s).unwrap(),
                interval,
                t,
                ohlcv(close, close, close, close),
            )
            .unwrap()
        };
        let bars = vec![
            at("AAPL", Interval::M5, 600, 3.0),
            at("AAPL", Interval::M5, 0, 1.0),
            at("MSFT", Interval::M5, 300, 5.0),
            at("AAPL", Interval::M1, 60, 7.0),
            at("AAPL", Interval::M5, 600, 4.0),
        ];
        let mut newest: Vec<(String, Interval, f64)> = newest_per_series(&bars)
            .into_iter()
            .map(|b| (b.symbol.to_string(), b.interval, b.close))
            .collect();
        newest.sort_by(|a, b| (&a.0, a.1.seconds()).cmp(&(&b.0, b.1.seconds())));
        assert_eq!(
            newest,
            vec![
                ("AAPL".to_owned(), Interval::M1, 7.0),
                ("AAPL".to_owned(), Interval::M5, 4.0),
                ("MSFT".to_owned(), Interval::M5, 5.0),
            ]
        );
    }

    #[test]
    fn accepts_a_consistent_bar() {
        let t: Timestamp = "2024-01-02T14:30:00Z".parse().unwrap();
        let bar = Bar::new(sym(), Interval::M5, t, ohlcv(10.0, 12.0, 9.0, 11.0)).unwrap();
        assert_eq!(bar.close, 11.0);
    }

    #[test]
    fn rejects_high_below_low_and_open_outside_range() {
        let t: Timestamp = "2024-01-02T14:30:00Z".parse().unwrap();
        assert!(matches!(
            Bar::new(sym(), Interval::M5, t, ohlcv(10.0, 9.0, 11.0, 10.0)),
            Err(BarError::HighBelowLow { .. })
        ));
        assert!(matches!(
            Bar::new(sym(), Interval::M5, t, ohlcv(13.0, 12.0, 9.0, 11.0)),
            Err(BarError::OutsideRange { field: "open", .. })
        ));
    }

    #[test]
    fn rejects_nan_infinite_and_non_positive_prices_and_negative_volume() {
        let t: Timestamp = "2024-01-02T14:30:00Z".parse().unwrap();
        for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
            assert!(Bar::new(sym(), Interval::M1, t, ohlcv(bad, 12.0, 9.0, 11.0)).is_err());
        }
        let mut v = ohlcv(10.0, 12.0, 9.0, 11.0);
        v.volume = -1.0;
        assert!(matches!(
            Bar::new(sym(), Interval::M1, t, v),
            Err(BarError::BadVolume(_))
        ));
    }

    #[test]
    fn daily_bars_must_sit_on_midnight_utc() {
        let t: Timestamp = "2024-01-02T14:30:00Z".parse().unwrap();
        assert!(matches!(
            Bar::new(sym(), Interval::D1, t, ohlcv(10.0, 12.0, 9.0, 11.0)),
            Err(BarError::NotDateAligned { .. })
        ));
        let d = date_key("2024-01-02".parse().unwrap());
        assert!(Bar::new(sym(), Interval::D1, d, ohlcv(10.0, 12.0, 9.0, 11.0)).is_ok());
    }

    #[test]
    fn interval_round_trips_through_text_and_code() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>().unwrap(), i);
            assert_eq!(Interval::from_code(i.code()), Some(i));
        }
        assert!("2m".parse::<Interval>().is_err());
    }
}
