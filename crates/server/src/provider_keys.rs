//! The provider registry with API keys from two places: the environment
//! (`PRICETRACK_PROVIDER_<NAME>_API_KEY`, which wins) and the keys an admin
//! stores on the settings page. Stored keys are re-read at most every
//! [`KEY_CHECK_INTERVAL`]; when they change the registry is rebuilt, so a key
//! entered in the browser takes effect without a restart, in every replica.

use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::settings::KEYED_PROVIDERS;
use pricetrack_app::{
    market_data::{FetchError, FetchedBars, HistoryReach, PriceSource, Quote},
    ports::Store,
};
use pricetrack_domain::{Instrument, Interval};
use pricetrack_providers::{ConfigError, ProviderSettings, ProvidersConfig, Registry};
use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

/// How often stored keys are compared with those in use.
pub const KEY_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Stored keys by provider name.
type Keys = BTreeMap<String, String>;

struct Current {
    registry: Arc<Registry>,
    /// The stored keys the registry was built with.
    keys: Keys,
    checked: Option<Instant>,
}

/// A [`PriceSource`] that follows the stored provider keys.
pub struct KeyedRegistry {
    env: ProvidersConfig,
    store: Arc<dyn Store>,
    current: RwLock<Current>,
    /// One reload at a time; the others keep using the current registry.
    reloading: tokio::sync::Mutex<()>,
}

/// The settings of a provider that takes a key (`None` for the others).
fn keyed_settings<'c>(
    config: &'c mut ProvidersConfig,
    provider: &str,
) -> Option<&'c mut ProviderSettings> {
    match provider {
        "alphavantage" => Some(&mut config.alphavantage),
        "coingecko" => Some(&mut config.coingecko),
        "binance" => Some(&mut config.binance),
        _ => None,
    }
}

/// The configuration with stored keys filling in where the environment has none.
fn with_stored_keys(env: &ProvidersConfig, keys: &Keys) -> ProvidersConfig {
    let mut config = env.clone();
    for name in KEYED_PROVIDERS {
        if let Some(settings) = keyed_settings(&mut config, name)
            && settings.api_key.is_none()
        {
            settings.api_key = keys.get(name).cloned();
        }
    }
    config
}

impl KeyedRegistry {
    /// A registry from the environment's configuration; stored keys are read
    /// on the first fetch.
    pub fn new(env: ProvidersConfig, store: Arc<dyn Store>) -> Result<Self, ConfigError> {
        let registry = Arc::new(Registry::from_config(env.clone())?);
        Ok(Self {
            env,
            store,
            current: RwLock::new(Current {
                registry,
                keys: Keys::new(),
                checked: None,
            }),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    // A panic while the lock was held cannot leave `Current` half-updated
    // (each write is a plain assignment), so a poisoned lock is used as is.
    fn read(&self) -> RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot(&self) -> Arc<Registry> {
        Arc::clone(&self.read().registry)
    }

    fn due_for_check(&self) -> bool {
        self.read()
            .checked
            .is_none_or(|t| t.elapsed() >= KEY_CHECK_INTERVAL)
    }

    /// The registry to use now, rebuilt first if the stored keys changed.
    /// A failure to read the keys keeps the registry in use (and is logged):
    /// fetching must not stop because the settings table is unreachable.
    pub async fn registry(&self) -> Arc<Registry> {
        if !self.due_for_check() {
            return self.snapshot();
        }
        let Ok(_reloading) = self.reloading.try_lock() else {
            return self.snapshot();
        };
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "provider keys not reloaded; keeping the registry in use");
        }
        self.snapshot()
    }

    /// Re-reads the stored keys and rebuilds the registry if they changed.
    /// Returns whether it was rebuilt.
    pub async fn reload(&self) -> anyhow::Result<bool> {
        let stored: Keys = self
            .store
            .provider_keys()
            .await?
            .into_iter()
            .map(|k| (k.provider, k.key))
            .collect();
        let changed = {
            let mut c = self.write();
            c.checked = Some(Instant::now());
            c.keys != stored
        };
        if !changed {
            return Ok(false);
        }
        let registry = Arc::new(Registry::from_config(with_stored_keys(&self.env, &stored))?);
        let providers: Vec<&str> = stored.keys().map(String::as_str).collect();
        tracing::info!(?providers, "provider keys changed; registry rebuilt");
        let mut c = self.write();
        c.registry = registry;
        c.keys = stored;
        Ok(true)
    }

    /// The API key a provider would use now (for tests and diagnostics).
    pub fn key_in_use(&self, provider: &str) -> Option<String> {
        let mut config = with_stored_keys(&self.env, &self.read().keys);
        keyed_settings(&mut config, provider).and_then(|s| s.api_key.take())
    }
}

#[async_trait]
impl PriceSource for KeyedRegistry {
    fn history_reach(&self, instrument: &Instrument, interval: Interval) -> HistoryReach {
        self.snapshot().history_reach(instrument, interval)
    }

    fn max_request_span(
        &self,
        instrument: &Instrument,
        interval: Interval,
    ) -> Option<jiff::SignedDuration> {
        self.snapshot().max_request_span(instrument, interval)
    }

    fn check_instrument(&self, instrument: &Instrument) -> Result<(), pricetrack_app::FieldError> {
        self.snapshot().check_instrument(instrument)
    }

    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        self.registry()
            .await
            .fetch_bars(instrument, interval, from, to)
            .await
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        self.registry().await.fetch_quote(instrument).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_app::ports::Clock as _;
    use pricetrack_storage::testing::fresh_sqlite;

    #[tokio::test]
    async fn stored_keys_fill_in_where_the_environment_has_none_and_changes_are_picked_up() {
        let db = fresh_sqlite().await;
        let store = db.open().await;
        let mut env = ProvidersConfig::default();
        env.coingecko.api_key = Some("from-env".to_owned());
        let keyed = KeyedRegistry::new(env, Arc::clone(&store)).unwrap();
        assert_eq!(keyed.key_in_use("alphavantage"), None);

        let now = pricetrack_app::ports::SystemClock.now();
        store
            .set_provider_key("alphavantage", Some("AV-STORED"), now)
            .await
            .unwrap();
        store
            .set_provider_key("coingecko", Some("CG-STORED"), now)
            .await
            .unwrap();
        assert!(
            keyed.reload().await.unwrap(),
            "new keys rebuild the registry"
        );
        assert_eq!(
            keyed.key_in_use("alphavantage").as_deref(),
            Some("AV-STORED")
        );
        assert_eq!(
            keyed.key_in_use("coingecko").as_deref(),
            Some("from-env"),
            "the environment wins"
        );
        assert!(!keyed.reload().await.unwrap(), "unchanged keys keep it");

        store
            .set_provider_key("alphavantage", None, now)
            .await
            .unwrap();
        assert!(keyed.reload().await.unwrap());
        assert_eq!(
            keyed.key_in_use("alphavantage"),
            None,
            "a removed key is dropped"
        );
    }
}
