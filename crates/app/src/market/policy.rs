//! When series are fetched and how deep their history goes: the refresh policy
//! and the due-time computation from an instrument's market calendar.
//!
//! * Daily (and weekly/monthly) series: once after each session's close, plus
//!   [`RefreshPolicy::close_delay`] for the provider to publish the final bar.
//!   Crypto's "session" is the UTC day; FX closes every day at 17:00 New York.
//! * Intraday series (only for watched instruments): every
//!   [`RefreshPolicy::intraday_every`] while the market is open, then one
//!   completion run after the close; nothing while it is closed. Crypto never
//!   closes; FX is open from Sunday to Friday evening (New York).
//! * A cron expression per kind and interval ([`RefreshPolicy::cron_overrides`],
//!   five fields, UTC) replaces the cadence: daily series run at its firings;
//!   intraday series at its firings while the market is open, plus the
//!   completion run after the close.
//! * Failures back off exponentially; a failure that retrying cannot fix
//!   (unknown symbol, no provider) waits [`RefreshPolicy::give_up_retry`].

use jiff::{SignedDuration, Timestamp, civil::Date};
use pricetrack_domain::{
    Instrument, InstrumentKind, Interval,
    calendar::{Calendar, Market},
};
use std::collections::BTreeMap;

/// Everything that decides what is fetched when. One value per process, shared
/// through the [`crate::AppContext`].
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPolicy {
    /// Intervals kept current for every instrument that is not priced by hand.
    pub daily_intervals: Vec<Interval>,
    /// Intervals kept current only for watched instruments (on a watchlist or
    /// in a portfolio).
    pub intraday_intervals: Vec<Interval>,
    /// Intraday fetch cadence while the market is open.
    pub intraday_every: SignedDuration,
    /// Cadence overrides per instrument kind and interval (checked first).
    pub every_overrides: BTreeMap<(InstrumentKind, Interval), SignedDuration>,
    /// Cron schedules per instrument kind and interval (checked before
    /// everything else).
    pub cron_overrides: BTreeMap<(InstrumentKind, Interval), CronSchedule>,
    /// Wait after a session closes before the completion run.
    pub close_delay: SignedDuration,
    /// How far back history is filled per interval; an interval missing here
    /// (by default the daily and longer ones) goes as far back as the provider gives.
    pub backfill_depth: BTreeMap<Interval, SignedDuration>,
    /// Backfill chunks one run may fetch before it yields to other jobs (the
    /// rest continues in the next run, from the saved progress).
    pub backfill_chunks_per_run: u32,
    /// Jobs fetched at the same time within one process (each provider's rate
    /// limit still applies).
    pub concurrency: usize,
    /// How long a claim holds a job; a worker that dies loses it after this.
    pub lease: SignedDuration,
    /// First retry after a transient failure; doubles per consecutive failure.
    pub retry_base: SignedDuration,
    /// Longest wait between retries of a transient failure.
    pub retry_max: SignedDuration,
    /// Wait after a failure that retrying will not fix.
    pub give_up_retry: SignedDuration,
    /// This process's name in claims (host and process id by default).
    pub worker_id: String,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        let days = |d: i64| SignedDuration::from_hours(24 * d);
        Self {
            daily_intervals: vec![Interval::D1],
            intraday_intervals: vec![Interval::M5],
            intraday_every: SignedDuration::from_secs(60),
            every_overrides: BTreeMap::new(),
            cron_overrides: BTreeMap::new(),
            close_delay: SignedDuration::from_mins(10),
            backfill_depth: BTreeMap::from([
                (Interval::M1, days(7)),
                (Interval::M5, days(60)),
                (Interval::M15, days(60)),
                (Interval::H1, days(730)),
            ]),
            backfill_chunks_per_run: 20,
            concurrency: 8,
            lease: SignedDuration::from_mins(5),
            retry_base: SignedDuration::from_secs(60),
            retry_max: SignedDuration::from_hours(1),
            give_up_retry: SignedDuration::from_hours(6),
            worker_id: default_worker_id(),
        }
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pricetrack".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Oldest time any backfill walks back to.
pub const HISTORY_FLOOR: Timestamp = Timestamp::UNIX_EPOCH;

/// The calendar an instrument trades on.
pub fn calendar_of(instrument: &Instrument) -> Calendar {
    Calendar::for_instrument(
        instrument.kind,
        instrument.exchange.as_deref(),
        instrument.symbol.as_str(),
    )
}

/// Whether the jobs fetch this instrument at all (hand-priced ones never).
pub fn is_fetchable(instrument: &Instrument) -> bool {
    instrument.provider.as_str() != "manual"
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(t)
}

/// A cron expression (five fields: minute hour day-of-month month
/// day-of-week, or six with seconds first), evaluated in UTC.
#[derive(Clone)]
pub struct CronSchedule {
    text: String,
    cron: croner::Cron,
}

impl CronSchedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(text)
            .map_err(|e| format!("{text:?} is not a cron expression: {e}"))?;
        Ok(Self {
            text: text.to_owned(),
            cron,
        })
    }

    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let at = chrono::DateTime::from_timestamp(t.as_second(), 0)?;
        let next = self.cron.find_next_occurrence(&at, false).ok()?;
        Timestamp::from_second(next.timestamp()).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl std::fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CronSchedule({:?})", self.text)
    }
}

impl RefreshPolicy {
    /// The intraday cadence for a kind and interval.
    pub fn every(&self, kind: InstrumentKind, interval: Interval) -> SignedDuration {
        self.every_overrides
            .get(&(kind, interval))
            .copied()
            .unwrap_or(self.intraday_every)
            .max(SignedDuration::from_secs(1))
    }

    /// Span of one backfill request: small enough for every provider's
    /// per-request limits (Yahoo: 7 days of 1-minute bars per request).
    pub fn backfill_chunk(&self, interval: Interval) -> SignedDuration {
        let days = match interval {
            Interval::M1 => 7,
            Interval::M5 | Interval::M15 => 30,
            Interval::H1 => 180,
            Interval::D1 => 3_650,
            Interval::W1 | Interval::Mo1 => 36_500,
        };
        SignedDuration::from_hours(24 * days)
    }

    /// When a series is next due after a successful run at `now`.
    pub fn next_due(
        &self,
        instrument: &Instrument,
        interval: Interval,
        now: Timestamp,
    ) -> Timestamp {
        let cal = calendar_of(instrument);
        if let Some(cron) = self.cron_overrides.get(&(instrument.kind, interval)) {
            return self.next_cron_due(cron, &cal, interval, now);
        }
        if interval.is_date_keyed() {
            return match next_trading_day_end(&cal, now) {
                Some(end) => add(end, self.close_delay),
                None => add(now, SignedDuration::from_hours(24)),
            };
        }
        let every = self.every(instrument.kind, interval);
        if cal.is_open(now) {
            let next = add(now, every);
            match cal.next_close(now) {
                // The last run of the session completes its final bar.
                Some(close) if next >= close => add(close, self.close_delay),
                _ => next,
            }
        } else {
            // Closed: nothing until the first bar of the next session has formed.
            match cal.next_open(now) {
                Some(open) => add(open, every),
                None => add(now, every),
            }
        }
    }

    /// The next due time under a cron schedule: its next firing; for intraday
    /// series the next one while the market is open, or the session's
    /// completion run when the close comes first.
    fn next_cron_due(
        &self,
        cron: &CronSchedule,
        cal: &Calendar,
        interval: Interval,
        now: Timestamp,
    ) -> Timestamp {
        let fallback = add(now, SignedDuration::from_hours(24));
        let Some(mut next) = cron.next_after(now) else {
            return fallback;
        };
        if interval.is_date_keyed() {
            return next;
        }
        if cal.is_open(now)
            && let Some(close) = cal.next_close(now)
            && next >= close
        {
            return add(close, self.close_delay);
        }
        // Skip firings while the market is closed (bounded: a schedule that
        // never fires in a session falls back to a daily check).
        for _ in 0..64 {
            if cal.is_open(next) {
                return next;
            }
            let Some(open) = cal.next_open(next) else {
                return next;
            };
            match cron.next_after(
                open.saturating_sub(SignedDuration::from_secs(1))
                    .unwrap_or(open),
            ) {
                Some(n) if n > next => next = n,
                _ => return fallback,
            }
        }
        fallback
    }

    /// When a failed series is retried. `failures` counts this failure too.
    pub fn retry_at(
        &self,
        now: Timestamp,
        failures: u32,
        retry_after: Option<std::time::Duration>,
        permanent: bool,
    ) -> Timestamp {
        if permanent {
            return add(now, self.give_up_retry);
        }
        let exp = failures.saturating_sub(1).min(20);
        let backoff = self
            .retry_base
            .checked_mul(1 << exp)
            .unwrap_or(self.retry_max)
            .min(self.retry_max);
        let asked = retry_after
            .and_then(|d| SignedDuration::try_from(d).ok())
            .unwrap_or(SignedDuration::ZERO);
        add(now, backoff.max(asked))
    }

    /// The oldest time to backfill `interval` to, as of `now` (`None`: as far as
    /// the provider gives).
    pub fn backfill_floor(&self, interval: Interval, now: Timestamp) -> Option<Timestamp> {
        self.backfill_depth
            .get(&interval)
            .map(|d| now.saturating_sub(*d).unwrap_or(HISTORY_FLOOR))
    }
}

/// The end of the trading day in progress at `after` (its last session's
/// close), or of the next trading day. Per trading date: FX closes every day
/// at 17:00 New York, crypto at midnight UTC, TSE after its afternoon session.
pub fn next_trading_day_end(cal: &Calendar, after: Timestamp) -> Option<Timestamp> {
    let start: Date = cal
        .trading_date(after)
        .yesterday()
        .unwrap_or(cal.trading_date(after));
    let mut day = start;
    for _ in 0..20 {
        if let Some(s) = cal.sessions(day).last()
            && s.close > after
        {
            return Some(s.close);
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// Whether the market of `instrument` trades around the clock.
pub fn trades_continuously(instrument: &Instrument) -> bool {
    calendar_of(instrument).market() == Market::Crypto
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_domain::{Currency, ProviderName, Symbol};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn inst(sym: &str, kind: InstrumentKind) -> Instrument {
        Instrument::new(
            Symbol::parse(sym).unwrap(),
            sym.to_owned(),
            kind,
            Currency::USD,
            None,
            ProviderName::parse("yahoo").unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn daily_bars_are_due_after_each_close() {
        let p = RefreshPolicy::default();
        let aapl = inst("AAPL", InstrumentKind::Stock);
        // Tuesday 2024-06-11 during the session: due at 16:00 EDT + 10 min.
        assert_eq!(
            p.next_due(&aapl, Interval::D1, ts("2024-06-11T15:00:00Z")),
            ts("2024-06-11T20:10:00Z")
        );
        // Friday after the close: Monday's close.
        assert_eq!(
            p.next_due(&aapl, Interval::D1, ts("2024-06-14T20:10:00Z")),
            ts("2024-06-17T20:10:00Z")
        );
        let btc = inst("BTC-USD", InstrumentKind::Crypto);
        assert_eq!(
            p.next_due(&btc, Interval::D1, ts("2024-06-15T15:00:00Z")),
            ts("2024-06-16T00:10:00Z")
        );
        // FX closes daily at 17:00 New York (21:00Z in summer).
        let fx = inst("EURUSD=X", InstrumentKind::Fx);
        assert_eq!(
            p.next_due(&fx, Interval::D1, ts("2024-06-11T12:00:00Z")),
            ts("2024-06-11T21:10:00Z")
        );
    }

    #[test]
    fn intraday_runs_every_minute_in_session_then_completes_after_the_close() {
        let p = RefreshPolicy::default();
        let aapl = inst("AAPL", InstrumentKind::Stock);
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-11T15:00:00Z")),
            ts("2024-06-11T15:01:00Z")
        );
        // The last run of the session schedules the completion run.
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-11T19:59:30Z")),
            ts("2024-06-11T20:10:00Z")
        );
        // After the completion run: the next open plus one cadence.
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-11T20:10:00Z")),
            ts("2024-06-12T13:31:00Z")
        );
        // Saturday: Monday's open.
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-15T15:00:00Z")),
            ts("2024-06-17T13:31:00Z")
        );
        let btc = inst("BTC-USD", InstrumentKind::Crypto);
        assert_eq!(
            p.next_due(&btc, Interval::M5, ts("2024-06-15T23:59:30Z")),
            ts("2024-06-16T00:00:30Z")
        );
    }

    #[test]
    fn cadence_can_be_overridden_per_kind_and_interval() {
        let mut p = RefreshPolicy::default();
        p.every_overrides.insert(
            (InstrumentKind::Crypto, Interval::M5),
            SignedDuration::from_secs(30),
        );
        let btc = inst("BTC-USD", InstrumentKind::Crypto);
        assert_eq!(
            p.next_due(&btc, Interval::M5, ts("2024-06-15T10:00:00Z")),
            ts("2024-06-15T10:00:30Z")
        );
    }

    #[test]
    fn cron_schedules_set_daily_runs_and_intraday_runs_within_sessions() {
        let mut p = RefreshPolicy::default();
        let cron = |t: &str| CronSchedule::parse(t).unwrap();
        p.cron_overrides
            .insert((InstrumentKind::Stock, Interval::D1), cron("30 22 * * 1-5"));
        p.cron_overrides
            .insert((InstrumentKind::Stock, Interval::M5), cron("*/15 * * * *"));
        let aapl = inst("AAPL", InstrumentKind::Stock);
        assert_eq!(
            p.next_due(&aapl, Interval::D1, ts("2024-06-11T15:00:00Z")),
            ts("2024-06-11T22:30:00Z")
        );
        assert_eq!(
            p.next_due(&aapl, Interval::D1, ts("2024-06-14T22:30:00Z")),
            ts("2024-06-17T22:30:00Z"),
            "Friday's run is followed by Monday's"
        );
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-11T15:02:00Z")),
            ts("2024-06-11T15:15:00Z")
        );
        // The firing at the close becomes the completion run.
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-11T19:50:00Z")),
            ts("2024-06-11T20:10:00Z")
        );
        // Firings while the market is closed are skipped.
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-11T20:10:00Z")),
            ts("2024-06-12T13:30:00Z")
        );
        assert_eq!(
            p.next_due(&aapl, Interval::M5, ts("2024-06-15T15:00:00Z")),
            ts("2024-06-17T13:30:00Z")
        );
        // Other kinds keep their defaults.
        let btc = inst("BTC-USD", InstrumentKind::Crypto);
        assert_eq!(
            p.next_due(&btc, Interval::M5, ts("2024-06-15T10:00:00Z")),
            ts("2024-06-15T10:01:00Z")
        );
    }

    #[test]
    fn cron_expressions_are_checked_when_parsed() {
        assert!(CronSchedule::parse("*/5 * * * *").is_ok());
        assert!(
            CronSchedule::parse("0 30 22 * * MON-FRI").is_ok(),
            "with seconds"
        );
        let err = CronSchedule::parse("every day").unwrap_err();
        assert!(err.contains("not a cron expression"), "{err}");
        assert!(CronSchedule::parse("61 * * * *").is_err());
    }

    #[test]
    fn retries_back_off_and_honour_retry_after() {
        let p = RefreshPolicy::default();
        let now = ts("2024-06-11T15:00:00Z");
        assert_eq!(p.retry_at(now, 1, None, false), ts("2024-06-11T15:01:00Z"));
        assert_eq!(p.retry_at(now, 3, None, false), ts("2024-06-11T15:04:00Z"));
        assert_eq!(p.retry_at(now, 30, None, false), ts("2024-06-11T16:00:00Z"));
        assert_eq!(
            p.retry_at(now, 1, Some(std::time::Duration::from_secs(300)), false),
            ts("2024-06-11T15:05:00Z")
        );
        assert_eq!(p.retry_at(now, 1, None, true), ts("2024-06-11T21:00:00Z"));
    }
}
