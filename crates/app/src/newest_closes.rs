//! The newest close this process stored per series, so validating a live feed
//! does not read each series' previous close back from the store: a 5,000-bar
//! batch of an interleaved feed spans 500 series, and one query each cost more
//! than writing the batch. Entries expire after [`TTL`], bounding how old a
//! close can be when another replica writes the same series.

use jiff::Timestamp;
use pricetrack_domain::{Bar, Interval, Symbol};
use rustc_hash::FxHashMap;
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a recorded close is trusted.
pub const TTL: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct NewestCloses {
    entries: Mutex<FxHashMap<(Symbol, Interval), Entry>>,
}

struct Entry {
    time: Timestamp,
    close: f64,
    recorded: Instant,
}

impl NewestCloses {
    /// Notes bars just stored (any order, any series).
    pub fn record(&self, bars: &[Bar]) {
        // Only each series' newest bar can be its newest close: one entry touched per
        // series, not per bar, and the lock held that long.
        let newest = pricetrack_domain::newest_per_series(bars);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for bar in newest {
            let key = (bar.symbol.clone(), bar.interval);
            match entries.get_mut(&key) {
                Some(e) if e.time > bar.time && now.duration_since(e.recorded) < TTL => {}
                Some(e) => {
                    e.time = bar.time;
                    e.close = bar.close;
                    e.recorded = now;
                }
                None => {
                    entries.insert(
                        key,
                        Entry {
                            time: bar.time,
                            close: bar.close,
                            recorded: now,
                        },
                    );
                }
            }
        }
    }

    /// The close of the newest stored bar of the series when it starts before
    /// `before`; `None` when unknown here (ask the store).
    pub fn before(&self, symbol: &Symbol, interval: Interval, before: Timestamp) -> Option<f64> {
        self.newest_before(symbol, interval, before)
            .map(|(_, close)| close)
    }

    /// Like [`NewestCloses::before`], with the bar's start time.
    pub fn newest_before(
        &self,
        symbol: &Symbol,
        interval: Interval,
        before: Timestamp,
    ) -> Option<(Timestamp, f64)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(symbol.clone(), interval))
            .filter(|e| e.time < before && e.recorded.elapsed() < TTL)
            .map(|e| (e.time, e.close))
    }

    /// Forgets every series of `symbol` (its bars were deleted).
    pub fn forget(&self, symbol: &Symbol) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(s, _), _| s != symbol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_domain::Ohlcv;

    fn bar(symbol: &str, time: &str, close: f64) -> Bar {
        Bar::new(
            Symbol::parse(symbol).unwrap(),
            Interval::M5,
            time.parse().unwrap(),
            Ohlcv {
                open: close,
                high: close,
                low: close,
                close,
                volume: 0.0,
            },
        )
        .unwrap()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_newest_close_answers_only_for_later_bars_and_is_forgotten_with_its_instrument() {
        let c = NewestCloses::default();
        let sym = Symbol::parse("AAPL").unwrap();
        assert_eq!(
            c.before(&sym, Interval::M5, t("2024-06-11T15:00:00Z")),
            None
        );
        c.record(&[
            bar("AAPL", "2024-06-11T14:55:00Z", 190.5),
            bar("AAPL", "2024-06-11T14:50:00Z", 190.0),
            bar("MSFT", "2024-06-11T14:55:00Z", 420.0),
        ]);
        assert_eq!(
            c.before(&sym, Interval::M5, t("2024-06-11T15:00:00Z")),
            Some(190.5),
            "the newest, whatever the order stored"
        );
        assert_eq!(
            c.before(&sym, Interval::M5, t("2024-06-11T14:55:00Z")),
            None,
            "an older bar's predecessor is the store's to tell"
        );
        assert_eq!(
            c.before(&sym, Interval::H1, t("2024-06-11T15:00:00Z")),
            None
        );
        c.record(&[bar("AAPL", "2024-06-11T14:40:00Z", 1.0)]);
        assert_eq!(
            c.before(&sym, Interval::M5, t("2024-06-11T15:00:00Z")),
            Some(190.5),
            "an older bar stored later does not replace the newest"
        );
        c.forget(&sym);
        assert_eq!(
            c.before(&sym, Interval::M5, t("2024-06-11T15:00:00Z")),
            None
        );
        assert!(
            c.before(
                &Symbol::parse("MSFT").unwrap(),
                Interval::M5,
                t("2024-06-11T15:00:00Z")
            )
            .is_some()
        );
    }
}
