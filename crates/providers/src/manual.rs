//! The `manual` provider: instruments priced by hand. It never fetches anything;
//! every call answers "priced manually" (give up), so the refresh job can tell
//! such instruments apart and leave them alone.

use crate::provider::{Capabilities, Provider, RateLimit};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::market_data::{
    ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote,
};
use pricetrack_domain::{Instrument, InstrumentKind, Interval};

pub const NAME: &str = "manual";

/// The manual provider.
#[derive(Debug)]
pub struct ManualProvider {
    caps: Capabilities,
}

impl Default for ManualProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualProvider {
    pub fn new() -> Self {
        Self {
            caps: Capabilities {
                kinds: InstrumentKind::ALL.to_vec(),
                intervals: Vec::new(),
                batch_quotes: false,
                rate_limit: RateLimit::UNLIMITED,
                needs_api_key: false,
                simulated: false,
                max_request_span: Vec::new(),
            },
        }
    }

    fn refuse(instrument: &Instrument) -> FetchError {
        FetchError::new(
            NAME,
            FetchErrorKind::Manual,
            ErrorClass::GiveUp,
            format!(
                "{} is priced by hand; nothing is fetched",
                instrument.symbol
            ),
        )
    }
}

#[async_trait]
impl PriceSource for ManualProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        _interval: Interval,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        Err(Self::refuse(instrument))
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        Err(Self::refuse(instrument))
    }
}

#[async_trait]
impl Provider for ManualProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, _instrument: &Instrument) -> Option<String> {
        None
    }
}
