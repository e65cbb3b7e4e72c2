//! Latest quotes, kept until a bar of the instrument is stored by this
//! process, or for [`TTL`] (bars another process stores). Pages show a quote
//! per holding and per watchlist row; reading one from the store takes seven
//! queries, so a 40-holding page spent most of its time on them.

use crate::bars::Quote;
use pricetrack_domain::{Bar, Symbol};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a quote is trusted without hearing of a new bar.
pub const TTL: Duration = Duration::from_secs(15);

#[derive(Default)]
pub struct QuoteCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Symbol, (Instant, Quote)>,
    /// Counts invalidations: a quote read from the store is kept only if none
    /// happened while it was read (it could predate the new bar).
    generation: u64,
}

impl QuoteCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached quote of `symbol`, if fresh.
    pub fn get(&self, symbol: &Symbol) -> Option<Quote> {
        self.get_at(symbol, Instant::now())
    }

    fn get_at(&self, symbol: &Symbol, now: Instant) -> Option<Quote> {
        self.state()
            .entries
            .get(symbol)
            .filter(|(at, _)| now.saturating_duration_since(*at) < TTL)
            .map(|(_, q)| q.clone())
    }

    /// Call before reading a quote from the store; pass the value to [`put`](Self::put).
    pub fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Keeps `quote`, read from the store since `generation`, unless bars
    /// were stored meanwhile.
    pub fn put(&self, quote: Quote, generation: u64) {
        let mut state = self.state();
        if state.generation == generation {
            state
                .entries
                .insert(quote.symbol.clone(), (Instant::now(), quote));
        }
    }

    /// Bars were stored: their instruments' quotes are out of date.
    pub fn stored(&self, bars: &[Bar]) {
        let mut state = self.state();
        state.generation += 1;
        if state.entries.is_empty() {
            return;
        }
        for bar in bars {
            state.entries.remove(&bar.symbol);
        }
    }

    /// The instrument changed or was deleted.
    pub fn forget(&self, symbol: &Symbol) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.remove(symbol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_domain::{Currency, Interval, Ohlcv};

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn quote(s: &str, price: f64) -> Quote {
        Quote {
            symbol: sym(s),
            currency: Currency::USD,
            price,
            time: "2024-06-14T20:00:00Z".parse().unwrap(),
            interval: Interval::D1,
            previous_close: None,
            change: None,
            change_pct: None,
            simulated: false,
        }
    }

    fn bar(s: &str) -> Bar {
        let v = Ohlcv {
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 0.0,
        };
        Bar::new(
            sym(s),
            Interval::M1,
            "2024-06-14T20:01:00Z".parse().unwrap(),
            v,
        )
        .unwrap()
    }

    #[test]
    fn a_stored_bar_drops_its_instruments_quote_only() {
        let cache = QuoteCache::default();
        let g = cache.generation();
        cache.put(quote("AAPL", 190.0), g);
        cache.put(quote("MSFT", 420.0), g);
        assert_eq!(cache.get(&sym("AAPL")).map(|q| q.price), Some(190.0));
        cache.stored(&[bar("AAPL")]);
        assert!(cache.get(&sym("AAPL")).is_none());
        assert_eq!(cache.get(&sym("MSFT")).map(|q| q.price), Some(420.0));
        cache.forget(&sym("MSFT"));
        assert!(cache.get(&sym("MSFT")).is_none());
    }

    #[test]
    fn a_quote_read_while_bars_were_stored_is_not_kept() {
        let cache = QuoteCache::default();
        let before = cache.generation();
        cache.stored(&[bar("AAPL")]);
        cache.put(quote("AAPL", 190.0), before);
        assert!(
            cache.get(&sym("AAPL")).is_none(),
            "it may predate the new bar"
        );
    }

    #[test]
    fn quotes_expire_after_the_ttl() {
        let cache = QuoteCache::default();
        cache.put(quote("AAPL", 190.0), cache.generation());
        let later = Instant::now() + TTL + Duration::from_millis(1);
        assert!(cache.get_at(&sym("AAPL"), later).is_none());
    }
}
