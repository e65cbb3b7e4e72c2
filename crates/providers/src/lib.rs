//! Market-data adapters and the registry that orders them.
//!
//! One module per provider, each with its wire types private. Every adapter
//! implements [`Provider`] (and so the app's [`PriceSource`] port); the
//! [`Registry`] implements `PriceSource` too, choosing providers per
//! instrument, rate-limiting, retrying and falling back.
//!
//! What the server constructs:
//! ```no_run
//! # fn main() -> Result<(), pricetrack_providers::ConfigError> {
//! use pricetrack_providers::{ProvidersConfig, Registry};
//! let registry = Registry::from_config(ProvidersConfig::from_env()?)?;
//! # let _ = registry; Ok(()) }
//! ```

pub mod alphavantage;
pub mod binance;
pub mod coingecko;
pub mod config;
pub mod demo;
pub mod finnhub;
mod http;
pub mod manual;
mod parse;
pub mod provider;
pub mod registry;
pub mod stooq;
pub mod symbols;
pub mod time;
pub mod url_source;
pub mod yahoo;

pub use config::{AdapterConfig, ConfigError, ProviderSettings, ProvidersConfig};
pub use pricetrack_app::market_data::{
    CorporateEvent, ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote,
    RejectedRecord,
};
pub use provider::{Capabilities, HistoryDepth, Provider, RateLimit};
pub use registry::{ProviderOrder, Registry, RegistryPolicy};
pub use time::{ManualTime, SystemTime, TimeSource};

/// Every provider name the registry knows.
pub const PROVIDER_NAMES: [&str; 9] = [
    yahoo::NAME,
    stooq::NAME,
    coingecko::NAME,
    binance::NAME,
    alphavantage::NAME,
    finnhub::NAME,
    manual::NAME,
    url_source::NAME,
    demo::NAME,
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_registry_knows_exactly_the_provider_names_instruments_may_name() {
        let mut ours = super::PROVIDER_NAMES.to_vec();
        let mut accepted = pricetrack_app::instruments::PROVIDER_NAMES.to_vec();
        ours.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(ours, accepted);
        let registry = super::Registry::from_config(super::ProvidersConfig::new()).unwrap();
        let mut registered = registry.provider_names();
        registered.sort_unstable();
        assert_eq!(registered, ours);
    }
}
