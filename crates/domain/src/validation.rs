//! The one bar validator, used for provider data, the ingest API and imports.
//!
//! [`Bar::new`] guarantees a bar is internally consistent. This module adds the
//! checks that need context: the bar is not in the future, not before the
//! instrument was listed, and does not jump implausibly far from the previous
//! close (the classic 100× pence/pounds mix-up and unadjusted splits). A jump
//! that matches a split the instrument is known to have had between the two
//! bars is a real event, not an error, and passes. A bar that fails is not
//! dropped: it gets a typed [`QuarantineReason`] with a human-readable message
//! so the caller can quarantine it with its raw record.

use crate::{Bar, BarError, InstrumentKind, Interval, Ohlcv, Symbol, date_key};
use jiff::{SignedDuration, Timestamp, civil::Date, tz::TimeZone};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

/// Tunable limits of the validator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValidationRules {
    /// A close more than this many times above or below the previous accepted
    /// close is quarantined (and so is a bar whose high is this many times its
    /// low). Default 5: catches 100× GBp/GBP errors and 10:1 split mistakes.
    pub max_jump_factor: f64,
    /// Also quarantine a jump that sits within `split_tolerance` of a typical
    /// split ratio (3:1, 4:1, 5:1, 10:1, …) even below `max_jump_factor`: a
    /// 5:1 split that was not applied to older bars shows as a ≈4.9× jump once
    /// the market moved. Never applied to kinds that do not split (crypto, FX:
    /// see [`BarContext::splits_possible`]), where a 3× move is a market move.
    pub detect_unadjusted_splits: bool,
    /// Relative distance to a split ratio that counts as "at" it. Default 0.05.
    pub split_tolerance: f64,
}

impl Default for ValidationRules {
    fn default() -> Self {
        Self {
            max_jump_factor: 5.0,
            detect_unadjusted_splits: true,
            split_tolerance: 0.05,
        }
    }
}

/// Split ratios looked for by the unadjusted-split check (both directions).
pub const SPLIT_RATIOS: [f64; 12] = [
    3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0,
];

/// A split the instrument is known to have had: from the start of `date`
/// (00:00 UTC of that trading date) on, prices are `ratio` times lower.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KnownSplit {
    pub date: Date,
    /// Shares after the split per share before (4 for 4:1, 0.1 for 1:10).
    pub ratio: f64,
}

impl KnownSplit {
    /// `None` unless the ratio is a positive finite number other than 1.
    pub fn new(date: Date, ratio: rust_decimal::Decimal) -> Option<Self> {
        let ratio = ratio.to_f64()?;
        (ratio.is_finite() && ratio > 0.0 && ratio != 1.0).then_some(Self { date, ratio })
    }

    /// When the split takes effect, on the bar-time scale.
    pub fn effective(&self) -> Timestamp {
        date_key(self.date)
    }

    /// A bar from before the split on the new share basis: prices divided
    /// by the ratio, volume multiplied by it.
    pub fn adjust(&self, bar: &Bar) -> Result<Bar, BarError> {
        let r = self.ratio;
        Bar::new(
            bar.symbol.clone(),
            bar.interval,
            bar.time,
            Ohlcv {
                open: bar.open / r,
                high: bar.high / r,
                low: bar.low / r,
                close: bar.close / r,
                volume: bar.volume * r,
            },
        )
    }
}

/// Whether instruments of `kind` can split: currencies and coins cannot, so
/// a 3× move there is a market move, not an unadjusted split.
pub fn kind_can_split(kind: InstrumentKind) -> bool {
    !matches!(kind, InstrumentKind::Crypto | InstrumentKind::Fx)
}

/// What the validator knows about the series a bar belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct BarContext {
    /// The current time: bars may not start after it.
    pub now: Timestamp,
    /// When the instrument was listed, when known.
    pub listed_since: Option<Timestamp>,
    /// The close of the last accepted bar before this one (from the store or
    /// from earlier in the same batch).
    pub previous_close: Option<f64>,
    /// Start of the bar `previous_close` belongs to (before or, when walking
    /// history backwards, after the bar checked).
    pub previous_time: Option<Timestamp>,
    /// False for kinds that never split: the unadjusted-split check is off.
    pub splits_possible: bool,
    /// The instrument's known splits, any order.
    pub splits: Vec<KnownSplit>,
}

impl BarContext {
    pub fn new(now: Timestamp) -> Self {
        Self {
            now,
            listed_since: None,
            previous_close: None,
            previous_time: None,
            splits_possible: true,
            splits: Vec::new(),
        }
    }

    /// Makes `bar` the previous one for the next check.
    pub fn accept(&mut self, bar: &Bar) {
        self.previous_close = Some(bar.close);
        self.previous_time = Some(bar.time);
    }

    /// The combined ratio of the known splits between the previous bar and a
    /// bar starting at `time`: > 1 when `time` is after them (its price is
    /// that many times lower), < 1 when walking backwards over them, 1 when none.
    fn split_factor_to(&self, time: Timestamp) -> f64 {
        let Some(prev) = self.previous_time else {
            return 1.0;
        };
        self.splits.iter().fold(1.0, |f, s| {
            let at = s.effective();
            if prev < at && at <= time {
                f * s.ratio
            } else if time < at && at <= prev {
                f / s.ratio
            } else {
                f
            }
        })
    }
}

/// Why a bar was quarantined instead of stored.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QuarantineReason {
    /// The numbers do not form a bar (non-positive price, high below low, …).
    #[error("invalid bar: {message}")]
    Invalid {
        message: String,
        #[serde(skip)]
        error: Option<BarError>,
    },
    #[error("bar starts at {time}, after the current time {now}")]
    InFuture { time: Timestamp, now: Timestamp },
    #[error("bar starts at {time}, before the instrument was listed ({listed_since})")]
    BeforeListing {
        time: Timestamp,
        listed_since: Timestamp,
    },
    #[error(
        "close {close} is {factor:.1}× away from the previous close {previous_close} (limit {limit}×): \
         a unit error (pence vs pounds?) or an unadjusted split"
    )]
    PriceJump {
        close: f64,
        previous_close: f64,
        factor: f64,
        limit: f64,
    },
    #[error(
        "close {close} is {factor:.2}× away from the previous close {previous_close}, \
         close to a {ratio}:1 split that older bars may not reflect"
    )]
    SuspectedUnadjustedSplit {
        close: f64,
        previous_close: f64,
        factor: f64,
        ratio: f64,
    },
    #[error(
        "high {high} is {factor:.1}× the low {low} (limit {limit}×): a unit error inside the bar"
    )]
    RangeJump {
        high: f64,
        low: f64,
        factor: f64,
        limit: f64,
    },
}

impl QuarantineReason {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::InFuture { .. } => "in_future",
            Self::BeforeListing { .. } => "before_listing",
            Self::PriceJump { .. } => "price_jump",
            Self::SuspectedUnadjustedSplit { .. } => "suspected_unadjusted_split",
            Self::RangeJump { .. } => "range_jump",
        }
    }

    /// The message for a human.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl From<BarError> for QuarantineReason {
    fn from(e: BarError) -> Self {
        Self::Invalid {
            message: e.to_string(),
            error: Some(e),
        }
    }
}

/// The outcome of validating a batch: accepted bars ascending, and the rest
/// with their reasons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesVerdict {
    pub accepted: Vec<Bar>,
    pub quarantined: Vec<(Bar, QuarantineReason)>,
}

/// Validates bars. Cheap to copy; one instance serves every entry point.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BarValidator {
    pub rules: ValidationRules,
}

impl BarValidator {
    pub fn new(rules: ValidationRules) -> Self {
        Self { rules }
    }

    /// Builds a bar from raw numbers and checks it: the path for ingest and imports.
    pub fn build(
        &self,
        symbol: Symbol,
        interval: Interval,
        time: Timestamp,
        v: Ohlcv,
        ctx: &BarContext,
    ) -> Result<Bar, QuarantineReason> {
        let bar = Bar::new(symbol, interval, time, v)?;
        self.check(&bar, ctx)?;
        Ok(bar)
    }

    /// Checks one already-built bar in its context.
    pub fn check(&self, bar: &Bar, ctx: &BarContext) -> Result<(), QuarantineReason> {
        // A daily bar is keyed at 00:00 UTC of the exchange's local date,
        // which can be up to 14 hours ahead of UTC (Pacific/Kiritimati).
        let latest_allowed = if bar.interval.is_date_keyed() {
            let ahead = ctx
                .now
                .saturating_add(SignedDuration::from_hours(14))
                .unwrap_or(ctx.now);
            date_key(ahead.to_zoned(TimeZone::UTC).date())
        } else {
            ctx.now
        };
        if bar.time > latest_allowed {
            return Err(QuarantineReason::InFuture {
                time: bar.time,
                now: ctx.now,
            });
        }
        if let Some(listed) = ctx.listed_since {
            let first_allowed = if bar.interval.is_date_keyed() {
                date_key(listed.to_zoned(TimeZone::UTC).date())
            } else {
                listed
            };
            if bar.time < first_allowed {
                return Err(QuarantineReason::BeforeListing {
                    time: bar.time,
                    listed_since: listed,
                });
            }
        }
        let limit = self.rules.max_jump_factor;
        let range = bar.high / bar.low;
        if range > limit {
            return Err(QuarantineReason::RangeJump {
                high: bar.high,
                low: bar.low,
                factor: range,
                limit,
            });
        }
        if let Some(prev) = ctx.previous_close.filter(|p| p.is_finite() && *p > 0.0) {
            let plain = self.check_jump(bar.close, prev, ctx.splits_possible);
            if plain.is_err() {
                // A jump across a known split is the split: compare with the
                // previous close on the new share basis instead.
                let factor = ctx.split_factor_to(bar.time);
                if factor != 1.0
                    && self
                        .check_jump(bar.close, prev / factor, ctx.splits_possible)
                        .is_ok()
                {
                    return Ok(());
                }
            }
            plain?;
        }
        Ok(())
    }

    /// The jump check of `close` against `prev`.
    fn check_jump(
        &self,
        close: f64,
        prev: f64,
        splits_possible: bool,
    ) -> Result<(), QuarantineReason> {
        let limit = self.rules.max_jump_factor;
        let factor = (close / prev).max(prev / close);
        if factor > limit {
            return Err(QuarantineReason::PriceJump {
                close,
                previous_close: prev,
                factor,
                limit,
            });
        }
        if self.rules.detect_unadjusted_splits && splits_possible {
            let tol = self.rules.split_tolerance;
            if let Some(ratio) = SPLIT_RATIOS
                .iter()
                .copied()
                .find(|r| (factor / r - 1.0).abs() <= tol)
            {
                return Err(QuarantineReason::SuspectedUnadjustedSplit {
                    close,
                    previous_close: prev,
                    factor,
                    ratio,
                });
            }
        }
        Ok(())
    }

    /// Checks a batch in time order. Each bar is compared with the last
    /// *accepted* close (starting from `ctx.previous_close`), so a run of bars
    /// at the wrong scale is quarantined as a whole, not just its first bar.
    pub fn check_series(
        &self,
        bars: impl IntoIterator<Item = Bar>,
        ctx: BarContext,
    ) -> SeriesVerdict {
        let mut bars: Vec<Bar> = bars.into_iter().collect();
        bars.sort_by_key(|b| b.time);
        let mut ctx = ctx;
        let mut verdict = SeriesVerdict::default();
        for bar in bars {
            match self.check(&bar, &ctx) {
                Ok(()) => {
                    ctx.accept(&bar);
                    verdict.accepted.push(bar);
                }
                Err(reason) => verdict.quarantined.push((bar, reason)),
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Date;

    fn sym() -> Symbol {
        Symbol::parse("TEST").unwrap()
    }

    fn day(s: &str) -> Timestamp {
        date_key(s.parse::<Date>().unwrap())
    }

    fn bar(date: &str, o: f64, h: f64, l: f64, c: f64) -> Bar {
        Bar::new(
            sym(),
            Interval::D1,
            day(date),
            Ohlcv {
                open: o,
                high: h,
                low: l,
                close: c,
                volume: 1.0,
            },
        )
        .unwrap()
    }

    /// Reads a yfinance CSV (`Date,Open,High,Low,Close,Adj Close,Volume,…`)
    /// into daily bars keyed by the local date in the file.
    fn yfinance_csv(name: &str) -> Vec<Bar> {
        let path = format!(
            "{}/../../../shared/fixtures/prices/yfinance/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                let date: Date = f[0][..10].parse().unwrap();
                let n = |i: usize| f[i].parse::<f64>().unwrap();
                Bar::new(
                    sym(),
                    Interval::D1,
                    date_key(date),
                    Ohlcv {
                        open: n(1),
                        high: n(2),
                        low: n(3),
                        close: n(4),
                        volume: n(6),
                    },
                )
                .unwrap()
            })
            .collect()
    }

    fn now() -> Timestamp {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn accepts_an_ordinary_move() {
        let v = BarValidator::default();
        let mut ctx = BarContext::new(now());
        ctx.previous_close = Some(100.0);
        assert_eq!(
            v.check(&bar("2024-01-02", 100.0, 104.0, 99.0, 103.0), &ctx),
            Ok(())
        );
    }

    #[test]
    fn quarantines_a_bar_from_the_future() {
        let v = BarValidator::default();
        let ctx = BarContext::new("2024-01-02T12:00:00Z".parse().unwrap());
        let r = v
            .check(&bar("2024-01-05", 1.0, 1.0, 1.0, 1.0), &ctx)
            .unwrap_err();
        assert_eq!(r.code(), "in_future");
        // Today's bar of an exchange east of UTC is not in the future.
        assert!(
            v.check(&bar("2024-01-03", 1.0, 1.0, 1.0, 1.0), &ctx)
                .is_ok()
        );
    }

    #[test]
    fn quarantines_a_bar_before_the_listing() {
        let v = BarValidator::default();
        let mut ctx = BarContext::new(now());
        ctx.listed_since = Some("2020-11-13T14:30:00Z".parse().unwrap());
        let r = v
            .check(&bar("2020-11-12", 1.0, 1.0, 1.0, 1.0), &ctx)
            .unwrap_err();
        assert!(matches!(r, QuarantineReason::BeforeListing { .. }));
        assert!(
            v.check(&bar("2020-11-13", 1.0, 1.0, 1.0, 1.0), &ctx)
                .is_ok()
        );
    }

    #[test]
    fn invalid_numbers_become_a_typed_reason_with_a_message() {
        let v = BarValidator::default();
        let r = v
            .build(
                sym(),
                Interval::M5,
                "2024-01-02T14:30:00Z".parse().unwrap(),
                Ohlcv {
                    open: 10.0,
                    high: 9.0,
                    low: 11.0,
                    close: 10.0,
                    volume: 0.0,
                },
                &BarContext::new(now()),
            )
            .unwrap_err();
        assert_eq!(r.code(), "invalid");
        assert!(r.message().contains("below low"), "{}", r.message());
    }

    #[test]
    fn the_aet_l_100x_error_file_is_caught_against_the_fixed_history() {
        let v = BarValidator::default();
        let bad = yfinance_csv("AET-L-1d-100x-error.csv");
        let fixed = yfinance_csv("AET-L-1d-100x-error-fixed.csv");
        // The fixed series passes untouched.
        let ok = v.check_series(fixed.clone(), BarContext::new(now()));
        assert!(ok.quarantined.is_empty());
        assert_eq!(ok.accepted.len(), fixed.len());
        // With the store's last close (14.55, from the fixed history) every
        // 0.1455 bar of the broken file is quarantined, every 14.55 bar kept.
        let mut ctx = BarContext::new(now());
        ctx.previous_close = Some(14.55);
        let verdict = v.check_series(bad.clone(), ctx);
        assert_eq!(verdict.quarantined.len(), 14);
        assert!(
            verdict
                .accepted
                .iter()
                .all(|b| (b.close - 14.55).abs() < 1e-3)
        );
        for (b, reason) in &verdict.quarantined {
            assert!((b.close - 0.1455).abs() < 1e-4);
            assert!(
                matches!(reason, QuarantineReason::PriceJump { factor, .. } if (*factor - 100.0).abs() < 0.01)
            );
        }
    }

    #[test]
    fn a_100x_error_without_history_still_quarantines_the_disagreeing_run() {
        // With no stored close the first bars set the scale; the run at the
        // other scale is quarantined for a human to look at, never stored.
        let v = BarValidator::default();
        let verdict = v.check_series(
            yfinance_csv("AET-L-1d-100x-error.csv"),
            BarContext::new(now()),
        );
        assert_eq!(verdict.quarantined.len(), 9);
        assert_eq!(verdict.accepted.len(), 14);
    }

    #[test]
    fn the_4063_t_unadjusted_5_to_1_split_is_caught() {
        let v = BarValidator::default();
        let bad = yfinance_csv("4063-T-1d-bad-stock-split.csv");
        let verdict = v.check_series(bad, BarContext::new(now()));
        // 20710 → 4206 is a 4.92× drop: under the 5× jump limit but at 5:1.
        // The oldest (unadjusted) bars set the scale, so the adjusted ones
        // after the drop are the ones flagged, which a human then resolves.
        let (first_bad, reason) = &verdict.quarantined[0];
        assert_eq!(first_bad.date().to_string(), "2023-03-29");
        assert_eq!(verdict.quarantined.len(), 13, "every bar from 03-29 on");
        assert_eq!(verdict.accepted.len(), 9);
        assert!(
            matches!(reason, QuarantineReason::SuspectedUnadjustedSplit { ratio, .. } if *ratio == 5.0),
            "{reason}"
        );
        // The fixed file (all bars adjusted) passes.
        let fixed = v.check_series(
            yfinance_csv("4063-T-1d-bad-stock-split-fixed.csv"),
            BarContext::new(now()),
        );
        assert!(fixed.quarantined.is_empty(), "{:?}", fixed.quarantined);
    }

    #[test]
    fn a_strict_jump_limit_alone_also_catches_the_bad_split() {
        let v = BarValidator::new(ValidationRules {
            max_jump_factor: 4.0,
            detect_unadjusted_splits: false,
            ..ValidationRules::default()
        });
        let verdict = v.check_series(
            yfinance_csv("4063-T-1d-bad-stock-split.csv"),
            BarContext::new(now()),
        );
        assert!(matches!(
            verdict.quarantined[0].1,
            QuarantineReason::PriceJump { .. }
        ));
    }

    #[test]
    fn the_asai_l_pence_bar_inside_an_hour_is_caught() {
        // 2024-10-24 16:00: open 58.5, low and close 0.6 (pence/pounds mix-up
        // inside one bar).
        let v = BarValidator::default();
        let b = Bar::new(
            sym(),
            Interval::H1,
            "2024-10-24T15:00:00Z".parse().unwrap(),
            Ohlcv {
                open: 58.5,
                high: 61.5,
                low: 0.600000023841858,
                close: 0.600000023841858,
                volume: 0.0,
            },
        )
        .unwrap();
        let mut ctx = BarContext::new(now());
        ctx.previous_close = Some(61.5);
        let r = v.check(&b, &ctx).unwrap_err();
        assert_eq!(r.code(), "range_jump");
        assert!(r.message().contains("unit error"));
    }

    #[test]
    fn the_jump_limit_is_configurable() {
        let loose = BarValidator::new(ValidationRules {
            max_jump_factor: 200.0,
            detect_unadjusted_splits: false,
            ..ValidationRules::default()
        });
        let mut ctx = BarContext::new(now());
        ctx.previous_close = Some(14.55);
        assert!(
            loose
                .check(&bar("2022-05-06", 0.1455, 0.1455, 0.1455, 0.1455), &ctx)
                .is_ok()
        );
    }
    fn split(date: &str, ratio: f64) -> KnownSplit {
        KnownSplit {
            date: date.parse().unwrap(),
            ratio,
        }
    }

    #[test]
    fn a_jump_across_a_known_split_is_accepted_and_elsewhere_held_back() {
        let v = BarValidator::default();
        // NVDA's 4:1 split on 2021-07-20: 751.77 before, ~188 after.
        let mut ctx = BarContext::new(now());
        ctx.accept(&bar("2021-07-19", 745.0, 755.0, 740.0, 751.77));
        let after = bar("2021-07-20", 187.0, 192.0, 185.0, 188.1);
        let held = v.check(&after, &ctx).unwrap_err();
        assert_eq!(held.code(), "suspected_unadjusted_split");
        ctx.splits = vec![split("2021-07-20", 4.0)];
        assert_eq!(v.check(&after, &ctx), Ok(()), "the split explains it");
        // The same split does not excuse a jump on another day…
        let mut later = ctx.clone();
        later.accept(&bar("2021-07-21", 188.0, 190.0, 186.0, 188.0));
        let again = bar("2021-07-22", 47.0, 48.0, 46.0, 47.0);
        assert!(v.check(&again, &later).is_err());
        // …nor a jump of another size on its day (a 100× error).
        let wrong = bar("2021-07-20", 7.5, 7.6, 7.4, 7.5);
        assert_eq!(v.check(&wrong, &ctx).unwrap_err().code(), "price_jump");
        // A 10:1 split is beyond the jump limit and still passes on its day.
        ctx.splits = vec![split("2021-07-20", 10.0)];
        let tenth = bar("2021-07-20", 75.0, 76.0, 74.0, 75.2);
        assert_eq!(v.check(&tenth, &ctx), Ok(()));
    }

    #[test]
    fn walking_history_backwards_over_a_known_split_is_accepted() {
        let v = BarValidator::default();
        let mut ctx = BarContext::new(now());
        ctx.splits = vec![split("2021-07-20", 4.0)];
        // The newer, post-split bar is the "previous" one when walking back.
        ctx.accept(&bar("2021-07-20", 187.0, 192.0, 185.0, 188.1));
        let before = bar("2021-07-19", 745.0, 755.0, 740.0, 751.77);
        assert_eq!(v.check(&before, &ctx), Ok(()));
    }

    #[test]
    fn the_split_check_is_off_for_kinds_that_cannot_split() {
        assert!(!kind_can_split(InstrumentKind::Crypto));
        assert!(!kind_can_split(InstrumentKind::Fx));
        assert!(kind_can_split(InstrumentKind::Stock));
        let v = BarValidator::default();
        let mut ctx = BarContext::new(now());
        ctx.previous_close = Some(100.0);
        // A coin tripling is rare but real; a stock tripling looks like a 3:1 split.
        let tripled = bar("2024-01-02", 100.0, 301.0, 99.0, 300.0);
        assert_eq!(
            v.check(&tripled, &ctx).unwrap_err().code(),
            "suspected_unadjusted_split"
        );
        ctx.splits_possible = false;
        assert_eq!(v.check(&tripled, &ctx), Ok(()));
        // The plain jump limit still applies.
        let hundred = bar("2024-01-02", 100.0, 10_001.0, 99.0, 10_000.0);
        assert!(v.check(&hundred, &ctx).is_err());
    }
}
