//! The explicit context every use case receives: no global state.

use crate::market::policy::RefreshPolicy;
use crate::market_data::PriceSource;
use crate::ports::{Clock, Store};
use pricetrack_domain::{Bar, Interval, Symbol, validation::BarValidator};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Notice that bars of a series were stored, for live updates.
#[derive(Debug, Clone, PartialEq)]
pub struct BarsStored {
    pub symbol: Symbol,
    pub interval: Interval,
    /// The newest bar written in that batch for this series.
    pub latest: Bar,
}

#[derive(Clone)]
pub struct AppContext {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Fan-out of stored bars to live subscribers (SSE); sending never blocks.
    pub bar_events: broadcast::Sender<BarsStored>,
    /// Where prices come from; `None` where nothing is fetched (tests, tools).
    pub prices: Option<Arc<dyn PriceSource>>,
    /// The one validator every incoming bar passes (providers, API, imports).
    pub bar_validator: BarValidator,
    /// What the refresh and backfill jobs fetch, and when.
    pub refresh_policy: Arc<RefreshPolicy>,
    /// Prepared portfolios and cached figures, invalidated by ledger versions
    /// and stored bars (see `portfolio_analytics`).
    pub analytics: Arc<crate::portfolio_analytics::AnalyticsCache>,
    /// Listing dates for the validator, cached briefly.
    pub listing_dates: Arc<crate::listing_dates::ListingDates>,
    /// The newest close stored per series, for the validator's jump check.
    pub newest_closes: Arc<crate::newest_closes::NewestCloses>,
    /// Instruments held per portfolio, for what counts as watched.
    pub open_positions: Arc<crate::market::watched::OpenPositions>,
    /// Latest quotes, dropped when a bar of the instrument is stored.
    pub quotes: Arc<crate::quote_cache::QuoteCache>,
}

impl AppContext {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let (bar_events, _) = broadcast::channel(1024);
        let analytics = Arc::new(crate::portfolio_analytics::AnalyticsCache::new(
            bar_events.subscribe(),
            crate::portfolio_analytics::CacheConfig::default(),
        ));
        Self {
            store,
            clock,
            bar_events,
            analytics,
            listing_dates: Arc::default(),
            newest_closes: Arc::default(),
            open_positions: Arc::default(),
            quotes: Arc::default(),
            prices: None,
            bar_validator: BarValidator::default(),
            refresh_policy: Arc::new(RefreshPolicy::default()),
        }
    }

    /// The same context fetching from `prices`.
    pub fn with_prices(mut self, prices: Arc<dyn PriceSource>) -> Self {
        self.prices = Some(prices);
        self
    }

    pub fn with_bar_validator(mut self, validator: BarValidator) -> Self {
        self.bar_validator = validator;
        self
    }

    /// The same context with an analytics cache of other limits (empty).
    pub fn with_analytics_config(
        mut self,
        config: crate::portfolio_analytics::CacheConfig,
    ) -> Self {
        self.analytics = Arc::new(crate::portfolio_analytics::AnalyticsCache::new(
            self.bar_events.subscribe(),
            config,
        ));
        self
    }

    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.refresh_policy = Arc::new(policy);
        self
    }
}
