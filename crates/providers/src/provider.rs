//! What every adapter implements and declares.

use async_trait::async_trait;
use jiff::SignedDuration;
use pricetrack_app::market_data::{FetchError, PriceSource, Quote};
use pricetrack_domain::{Instrument, InstrumentKind, Interval};
use std::time::Duration;

/// How far back a provider serves history for one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryDepth {
    /// As far as the instrument goes.
    Unlimited,
    /// Only the last `n` days before now.
    Days(u32),
}

impl HistoryDepth {
    pub fn as_duration(self) -> Option<SignedDuration> {
        match self {
            Self::Unlimited => None,
            Self::Days(d) => Some(SignedDuration::from_hours(i64::from(d) * 24)),
        }
    }
}

/// A provider's request budget: a token bucket that holds `burst` requests
/// and refills at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_minute: f64,
    pub burst: u32,
}

impl RateLimit {
    pub const fn new(per_minute: f64, burst: u32) -> Self {
        Self { per_minute, burst }
    }

    /// No limit (local providers).
    pub const UNLIMITED: RateLimit = RateLimit {
        per_minute: f64::INFINITY,
        burst: u32::MAX,
    };

    /// Time to earn one token.
    pub fn interval(&self) -> Duration {
        if self.per_minute.is_finite() && self.per_minute > 0.0 {
            Duration::from_secs_f64(60.0 / self.per_minute)
        } else {
            Duration::ZERO
        }
    }
}

/// What a provider can do.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub kinds: Vec<InstrumentKind>,
    /// Intervals with how far back each goes.
    pub intervals: Vec<(Interval, HistoryDepth)>,
    /// Whether one request can quote several instruments.
    pub batch_quotes: bool,
    pub rate_limit: RateLimit,
    pub needs_api_key: bool,
    /// Generated data (the demo provider).
    pub simulated: bool,
    /// The longest range one bar request may span, per interval (Yahoo: 7
    /// days of 1-minute bars; a `url` source with `{DATE}`: 31 days).
    /// Intervals not listed have no limit of their own.
    pub max_request_span: Vec<(Interval, SignedDuration)>,
}

impl Capabilities {
    pub fn supports_kind(&self, kind: InstrumentKind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn history(&self, interval: Interval) -> Option<HistoryDepth> {
        self.intervals
            .iter()
            .find(|(i, _)| *i == interval)
            .map(|(_, h)| *h)
    }

    /// The longest range one request for `interval` may span, if limited.
    pub fn max_span(&self, interval: Interval) -> Option<SignedDuration> {
        self.max_request_span
            .iter()
            .find(|(i, _)| *i == interval)
            .map(|(_, d)| *d)
    }

    pub fn supports(&self, kind: InstrumentKind, interval: Interval) -> bool {
        self.supports_kind(kind) && self.history(interval).is_some()
    }
}

/// A market-data adapter.
#[async_trait]
pub trait Provider: PriceSource {
    /// The provider's name (`yahoo`, `stooq`, …), as instruments name it.
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> &Capabilities;

    /// The symbol to send to this provider, or `None` when the instrument
    /// cannot be expressed there. An instrument's own `provider_symbol` wins
    /// when this provider is the instrument's provider.
    fn provider_symbol(&self, instrument: &Instrument) -> Option<String>;

    /// False when the provider lacks configuration it needs (an API key):
    /// the registry then leaves it out of every chain.
    fn is_configured(&self) -> bool {
        true
    }

    /// Quotes several instruments; providers with batch endpoints override
    /// this to use one request. Results are in the order of `instruments`.
    async fn fetch_quotes(&self, instruments: &[Instrument]) -> Vec<Result<Quote, FetchError>> {
        let mut out = Vec::with_capacity(instruments.len());
        for i in instruments {
            out.push(self.fetch_quote(i).await);
        }
        out
    }
}

/// The instrument's own override when it belongs to `provider`, else `mapped`.
pub(crate) fn symbol_for(
    instrument: &Instrument,
    provider: &str,
    mapped: impl FnOnce() -> Option<String>,
) -> Option<String> {
    match &instrument.provider_symbol {
        Some(own) if instrument.provider.as_str() == provider => Some(own.clone()),
        _ => mapped(),
    }
}
