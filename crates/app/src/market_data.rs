//! The market-data port: where prices come from.
//!
//! `pricetrack-providers` implements [`PriceSource`] once per provider and once
//! more for its registry (which orders providers, rate-limits, retries and falls
//! back). Use cases such as `refresh_due(ctx, now)` and `backfill` only see this
//! trait, so tests drive them with a fake.
//!
//! Every error carries an [`ErrorClass`] that tells the caller what to do next:
//! wait and retry ([`ErrorClass::RetryLater`], e.g. a rate limit), ask another
//! provider ([`ErrorClass::TryNext`], e.g. a provider that does not cover the
//! instrument), or stop and tell a human ([`ErrorClass::GiveUp`], e.g. an unknown
//! symbol or a bad API key).

use async_trait::async_trait;
use jiff::{Timestamp, civil::Date};
use pricetrack_domain::{Bar, Currency, Instrument, Interval, SplitRatio, validation::KnownSplit};
use rust_decimal::Decimal;
use serde::Serialize;
use std::{fmt, time::Duration};

/// A provider record that could not become a valid [`Bar`]. Never dropped
/// silently: the caller stores it in quarantine with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRecord {
    /// The record as the provider sent it (or a faithful rendering of it).
    pub raw: String,
    /// Why it was rejected, for a human.
    pub reason: String,
}

impl RejectedRecord {
    pub fn new(raw: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            raw: raw.into(),
            reason: reason.into(),
        }
    }
}

/// A corporate action reported alongside the bars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CorporateEvent {
    /// A cash dividend per share, in the instrument's (major) currency.
    Dividend {
        /// Ex-dividend date (exchange-local trading date).
        date: Date,
        amount: Decimal,
    },
    /// A split: every share held before becomes `ratio.factor()` shares
    /// (4:1 is numerator 4, denominator 1; a 1:10 reverse split is 1, 10).
    /// Prices before `date` divide by the factor to compare with later ones.
    Split { date: Date, ratio: SplitRatio },
}

impl CorporateEvent {
    pub fn date(&self) -> Date {
        match self {
            Self::Dividend { date, .. } | Self::Split { date, .. } => *date,
        }
    }

    /// `dividend` or `split`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Dividend { .. } => "dividend",
            Self::Split { .. } => "split",
        }
    }

    /// The split as the bar validator sees it (`None` for a dividend).
    pub fn known_split(&self) -> Option<KnownSplit> {
        match self {
            Self::Split { date, ratio } => KnownSplit::new(*date, ratio.factor()),
            Self::Dividend { .. } => None,
        }
    }
}

/// The answer to a bar request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FetchedBars {
    /// Valid bars in ascending time, all inside the requested `[from, to)`.
    pub bars: Vec<Bar>,
    /// Records that failed [`Bar::new`]'s invariants (for quarantine).
    pub rejected: Vec<RejectedRecord>,
    /// Which provider answered (`yahoo`, `stooq`, …).
    pub provider: String,
    /// True for generated data (the `demo` provider). Never mix with real data.
    pub simulated: bool,
    /// Dividends and splits inside the requested range, when the provider sends them.
    pub events: Vec<CorporateEvent>,
    /// Start time of the last bar when it is still forming (today's daily bar
    /// during the session, the current minute…). `None` when every returned
    /// bar is complete or the provider gives no way to tell.
    pub incomplete: Option<Timestamp>,
    /// The currency the provider quoted the bars in, after converting minor
    /// units (GBp → GBP), when it says so. Callers compare it with the
    /// instrument's currency.
    pub currency: Option<Currency>,
    /// The instrument's first trading day (exchange-local), when the provider
    /// says so (Yahoo's `firstTradeDate`): fills an unknown listing date.
    pub first_trade_date: Option<jiff::civil::Date>,
}

impl FetchedBars {
    pub fn empty(provider: impl Into<String>) -> Self {
        Self {
            bars: Vec::new(),
            rejected: Vec::new(),
            provider: provider.into(),
            simulated: false,
            events: Vec::new(),
            incomplete: None,
            currency: None,
            first_trade_date: None,
        }
    }

    /// The bars that are final (the still-forming one left out).
    pub fn complete_bars(&self) -> impl Iterator<Item = &Bar> {
        self.bars
            .iter()
            .filter(move |b| Some(b.time) != self.incomplete)
    }
}

/// The latest price of an instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub price: f64,
    /// When the price was observed (the provider's trade or update time).
    pub time: Timestamp,
    pub previous_close: Option<f64>,
    /// Major unit (GBP, never GBp).
    pub currency: Currency,
    pub provider: String,
    /// True for generated prices (the `demo` provider).
    pub simulated: bool,
}

/// What a caller should do about a failed fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum ErrorClass {
    /// Transient (rate limit, timeout, 5xx): the same request may work later.
    RetryLater {
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// This provider cannot answer this request; another one may.
    TryNext,
    /// Retrying will not help until a human acts (unknown symbol, bad key).
    GiveUp,
}

impl ErrorClass {
    pub fn retry_later() -> Self {
        Self::RetryLater { retry_after: None }
    }
}

/// What went wrong, independent of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchErrorKind {
    /// Too many requests (HTTP 429 or a throttle message sent with HTTP 200).
    RateLimited,
    /// A daily or monthly quota is used up.
    QuotaExhausted,
    /// The provider does not know the symbol (or says the request is invalid).
    UnknownSymbol,
    /// The API key is missing, invalid or not allowed to do this.
    Unauthorized,
    /// The provider needs configuration (e.g. an API key) it does not have.
    NotConfigured,
    /// The provider does not offer this instrument kind, interval, range or endpoint.
    Unsupported,
    /// The provider answered but had no data for the request.
    NoData,
    /// The request timed out.
    Timeout,
    /// Could not connect, or the connection broke.
    Network,
    /// The provider failed (HTTP 5xx).
    Upstream,
    /// Some other unexpected HTTP status.
    HttpStatus,
    /// The body could not be understood (invalid JSON, unexpected shape, truncated).
    Decode,
    /// The circuit breaker for this provider is open.
    CircuitOpen,
    /// The instrument is priced by hand; nothing is fetched.
    Manual,
    /// Every provider in the chain failed (the last error is in the message).
    Exhausted,
}

impl FetchErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate limited",
            Self::QuotaExhausted => "quota exhausted",
            Self::UnknownSymbol => "unknown symbol",
            Self::Unauthorized => "unauthorized",
            Self::NotConfigured => "not configured",
            Self::Unsupported => "unsupported",
            Self::NoData => "no data",
            Self::Timeout => "timeout",
            Self::Network => "network error",
            Self::Upstream => "provider error",
            Self::HttpStatus => "unexpected HTTP status",
            Self::Decode => "undecodable response",
            Self::CircuitOpen => "circuit open",
            Self::Manual => "priced manually",
            Self::Exhausted => "all providers failed",
        }
    }
}

impl fmt::Display for FetchErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed fetch, with who failed, what happened and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {kind}: {message}")]
pub struct FetchError {
    pub provider: String,
    pub kind: FetchErrorKind,
    pub class: ErrorClass,
    /// Context for a human: the request, the status, the provider's own words.
    pub message: String,
}

impl FetchError {
    pub fn new(
        provider: impl Into<String>,
        kind: FetchErrorKind,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            kind,
            class,
            message: message.into(),
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self.class {
            ErrorClass::RetryLater { retry_after } => retry_after,
            _ => None,
        }
    }

    pub fn is_retry_later(&self) -> bool {
        matches!(self.class, ErrorClass::RetryLater { .. })
    }
}

/// How far back a source serves bars of one interval for one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reach", content = "days", rename_all = "snake_case")]
pub enum HistoryReach {
    /// As far back as the instrument goes.
    Unlimited,
    /// Only the last `n` days.
    Days(u32),
    /// No bars of this interval at all.
    Unsupported,
}

/// Where prices come from. Implementations are cheap to share (`Arc<dyn PriceSource>`).
#[async_trait]
pub trait PriceSource: Send + Sync {
    /// How far back bars of `interval` go for this instrument, so backfills ask
    /// only for what exists. Sources that cannot tell keep the default.
    fn history_reach(&self, _instrument: &Instrument, _interval: Interval) -> HistoryReach {
        HistoryReach::Unlimited
    }

    /// The longest range one [`PriceSource::fetch_bars`] call for this
    /// instrument and interval may span (`None`: no limit of the source's
    /// own). Backfills and catch-up refreshes split longer ranges.
    fn max_request_span(
        &self,
        _instrument: &Instrument,
        _interval: Interval,
    ) -> Option<jiff::SignedDuration> {
        None
    }

    /// Whether this source could price `instrument` as configured, checked
    /// when an instrument is created or changed so a setting the provider
    /// needs (the `url` provider's `url_source`) is refused up front rather
    /// than failing every fetch. The error names the instrument's field.
    fn check_instrument(&self, _instrument: &Instrument) -> Result<(), crate::FieldError> {
        Ok(())
    }

    /// Bars of `interval` whose start lies in `[from, to)`, ascending.
    /// Date-keyed intervals are keyed by the exchange's local trading date at
    /// 00:00 UTC (see [`pricetrack_domain::date_key`]). An empty range is
    /// `Ok` with no bars, not an error.
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError>;

    /// The latest price.
    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError>;
}
