//! Provider configuration: real hosts by default, overridable per provider
//! from the environment (`PRICETRACK_PROVIDER_<NAME>_BASE_URL`,
//! `PRICETRACK_PROVIDER_<NAME>_API_KEY`) or built in code for tests.
//!
//! Other keys read by [`ProvidersConfig::from_env`]:
//! * `PRICETRACK_PROVIDER_TIMEOUT_SECS` — per-request timeout (default 20).
//! * `PRICETRACK_PROVIDER_COINGECKO_PLAN` — `demo` (default) or `pro`: which
//!   key header and host to use.
//! * `PRICETRACK_PROVIDER_YAHOO_COOKIE_URL` — where Yahoo's session cookie
//!   comes from (default `https://fc.yahoo.com`).
//! * `PRICETRACK_PROVIDER_URL_SOURCES` — JSON object `{SYMBOL: UrlSource}` for
//!   the `url` provider (see [`crate::url_source::UrlSource`]): the fallback
//!   for instruments that carry no `url_source` of their own.
//! * `PRICETRACK_PROVIDER_ORDER_<KIND>` — comma-separated fallback order for an
//!   instrument kind, e.g. `PRICETRACK_PROVIDER_ORDER_STOCK=yahoo,stooq`.
//! * `PRICETRACK_PROVIDER_<NAME>_RATE_PER_MINUTE`, `PRICETRACK_PROVIDER_<NAME>_RATE_BURST` —
//!   override a provider's request budget (a paid plan, a local mirror).
//! * `PRICETRACK_PROVIDER_MAX_RETRIES`, `PRICETRACK_PROVIDER_BREAKER_THRESHOLD`,
//!   `PRICETRACK_PROVIDER_BREAKER_COOLDOWN_SECS` — registry policy.

use crate::{
    provider::RateLimit, registry::ProviderOrder, registry::RegistryPolicy, url_source::UrlSource,
};
use pricetrack_app::ports::{Clock, SystemClock};
use pricetrack_domain::{InstrumentKind, Symbol};
use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};

/// A configuration value that could not be used. Secrets are never included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {value:?} is not a valid http(s) URL: {reason}")]
    InvalidUrl {
        key: String,
        value: String,
        reason: String,
    },
    #[error("{key}: {message}")]
    InvalidValue { key: String, message: String },
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// Settings of one remote provider.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ProviderSettings {
    /// `None` means the real host.
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ProviderSettings {
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        Self {
            base_url: Some(base_url.into()),
            api_key: None,
        }
    }
}

/// Everything one adapter needs to talk to its host.
#[derive(Clone)]
pub struct AdapterConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub user_agent: String,
    /// Used to tell a still-forming bar from a complete one.
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for AdapterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub(crate) const DEFAULT_USER_AGENT: &str = concat!(
    "Mozilla/5.0 (X11; Linux x86_64) pricetrack/",
    env!("CARGO_PKG_VERSION")
);

impl AdapterConfig {
    /// Defaults for everything but the host: 20 s timeout, the wall clock.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            timeout: Duration::from_secs(20),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// CoinGecko's plans use different hosts and key headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoinGeckoPlan {
    /// Public or demo key (`x-cg-demo-api-key`, api.coingecko.com).
    #[default]
    Demo,
    /// Paid key (`x-cg-pro-api-key`, pro-api.coingecko.com).
    Pro,
}

/// Configuration of every provider and of the registry.
#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    pub yahoo: ProviderSettings,
    /// Where Yahoo's session cookie is fetched (only for batch quotes).
    pub yahoo_cookie_url: Option<String>,
    pub stooq: ProviderSettings,
    pub coingecko: ProviderSettings,
    pub coingecko_plan: CoinGeckoPlan,
    pub binance: ProviderSettings,
    pub alphavantage: ProviderSettings,
    /// Only used with a key (`PRICETRACK_PROVIDER_FINNHUB_API_KEY`).
    pub finnhub: ProviderSettings,
    /// Per-symbol sources of the `url` provider.
    pub url_sources: BTreeMap<Symbol, UrlSource>,
    pub timeout: Duration,
    pub user_agent: String,
    pub order: ProviderOrder,
    pub policy: RegistryPolicy,
    /// Request budgets that replace providers' declared ones, by provider name.
    pub rate_limits: BTreeMap<String, RateLimit>,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        Self {
            yahoo: ProviderSettings::default(),
            yahoo_cookie_url: None,
            stooq: ProviderSettings::default(),
            coingecko: ProviderSettings::default(),
            coingecko_plan: CoinGeckoPlan::Demo,
            binance: ProviderSettings::default(),
            alphavantage: ProviderSettings::default(),
            finnhub: ProviderSettings::default(),
            url_sources: BTreeMap::new(),
            timeout: Duration::from_secs(20),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            order: ProviderOrder::default(),
            policy: RegistryPolicy::default(),
            rate_limits: BTreeMap::new(),
        }
    }
}

impl ProvidersConfig {
    /// Real hosts, no keys, default order and policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (the environment, a map in a test…).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let settings = |name: &str| -> Result<ProviderSettings, ConfigError> {
            let upper = name.to_ascii_uppercase();
            let url_key = format!("PRICETRACK_PROVIDER_{upper}_BASE_URL");
            let base_url = get(&url_key);
            if let Some(u) = &base_url {
                check_url(&url_key, u)?;
            }
            Ok(ProviderSettings {
                base_url,
                api_key: get(&format!("PRICETRACK_PROVIDER_{upper}_API_KEY")),
            })
        };
        let mut cfg = Self {
            yahoo: settings("yahoo")?,
            stooq: settings("stooq")?,
            coingecko: settings("coingecko")?,
            binance: settings("binance")?,
            alphavantage: settings("alphavantage")?,
            finnhub: settings("finnhub")?,
            ..Self::default()
        };
        if let Some(u) = get("PRICETRACK_PROVIDER_YAHOO_COOKIE_URL") {
            check_url("PRICETRACK_PROVIDER_YAHOO_COOKIE_URL", &u)?;
            cfg.yahoo_cookie_url = Some(u);
        }
        if let Some(p) = get("PRICETRACK_PROVIDER_COINGECKO_PLAN") {
            cfg.coingecko_plan = match p.to_ascii_lowercase().as_str() {
                "demo" | "public" => CoinGeckoPlan::Demo,
                "pro" => CoinGeckoPlan::Pro,
                _ => {
                    return Err(ConfigError::InvalidValue {
                        key: "PRICETRACK_PROVIDER_COINGECKO_PLAN".into(),
                        message: format!("{p:?} is neither demo nor pro"),
                    });
                }
            };
        }
        if let Some(t) = get("PRICETRACK_PROVIDER_TIMEOUT_SECS") {
            cfg.timeout =
                Duration::from_secs_f64(parse_positive("PRICETRACK_PROVIDER_TIMEOUT_SECS", &t)?);
        }
        if let Some(v) = get("PRICETRACK_PROVIDER_MAX_RETRIES") {
            cfg.policy.max_retries = v.parse().map_err(|_| ConfigError::InvalidValue {
                key: "PRICETRACK_PROVIDER_MAX_RETRIES".into(),
                message: format!("{v:?} is not a whole number"),
            })?;
        }
        if let Some(v) = get("PRICETRACK_PROVIDER_BREAKER_THRESHOLD") {
            cfg.policy.breaker_threshold = v.parse().map_err(|_| ConfigError::InvalidValue {
                key: "PRICETRACK_PROVIDER_BREAKER_THRESHOLD".into(),
                message: format!("{v:?} is not a whole number"),
            })?;
        }
        if let Some(v) = get("PRICETRACK_PROVIDER_BREAKER_COOLDOWN_SECS") {
            cfg.policy.breaker_cooldown = Duration::from_secs_f64(parse_positive(
                "PRICETRACK_PROVIDER_BREAKER_COOLDOWN_SECS",
                &v,
            )?);
        }
        for kind in InstrumentKind::ALL {
            let key = format!(
                "PRICETRACK_PROVIDER_ORDER_{}",
                kind.as_str().to_ascii_uppercase()
            );
            if let Some(list) = get(&key) {
                let names: Vec<String> = list
                    .split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect();
                if let Some(bad) = names
                    .iter()
                    .find(|n| !crate::PROVIDER_NAMES.contains(&n.as_str()))
                {
                    return Err(ConfigError::InvalidValue {
                        key,
                        message: format!(
                            "unknown provider {bad:?}; known: {}",
                            crate::PROVIDER_NAMES.join(", ")
                        ),
                    });
                }
                cfg.order.set(kind, names);
            }
        }
        for name in crate::PROVIDER_NAMES {
            let upper = name.to_ascii_uppercase();
            let per_key = format!("PRICETRACK_PROVIDER_{upper}_RATE_PER_MINUTE");
            let burst_key = format!("PRICETRACK_PROVIDER_{upper}_RATE_BURST");
            let (per, burst) = (get(&per_key), get(&burst_key));
            if per.is_none() && burst.is_none() {
                continue;
            }
            let declared = cfg.rate_limits.get(name).copied();
            let per_minute = match per {
                Some(v) => parse_positive(&per_key, &v).map_err(|_| ConfigError::InvalidValue {
                    key: per_key.clone(),
                    message: format!("{v:?} is not a positive number of requests per minute"),
                })?,
                None => declared.map_or(60.0, |d| d.per_minute),
            };
            let burst = match burst {
                Some(v) => v.parse::<u32>().ok().filter(|b| *b > 0).ok_or_else(|| {
                    ConfigError::InvalidValue {
                        key: burst_key.clone(),
                        message: format!("{v:?} is not a whole number of requests above 0"),
                    }
                })?,
                None => (per_minute / 60.0).ceil().max(1.0) as u32,
            };
            cfg.rate_limits
                .insert((*name).to_owned(), RateLimit::new(per_minute, burst));
        }
        if let Some(json) = get("PRICETRACK_PROVIDER_URL_SOURCES") {
            cfg.url_sources =
                serde_json::from_str(&json).map_err(|e| ConfigError::InvalidValue {
                    key: "PRICETRACK_PROVIDER_URL_SOURCES".into(),
                    message: format!("not a JSON object of symbol → source: {e}"),
                })?;
            for (sym, src) in &cfg.url_sources {
                crate::url_source::validate(src).map_err(|e| ConfigError::InvalidValue {
                    key: format!("PRICETRACK_PROVIDER_URL_SOURCES[{sym}]"),
                    message: e.message,
                })?;
            }
        }
        Ok(cfg)
    }

    /// The adapter settings for one provider, with its real host as default.
    pub fn adapter(&self, settings: &ProviderSettings, default_base: &str) -> AdapterConfig {
        let mut a = AdapterConfig::new(settings.base_url.as_deref().unwrap_or(default_base));
        a.api_key = settings.api_key.clone();
        a.timeout = self.timeout;
        a.user_agent = self.user_agent.clone();
        a
    }
}

fn check_url(key: &str, value: &str) -> Result<(), ConfigError> {
    let bad = |reason: String| ConfigError::InvalidUrl {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let u = url::Url::parse(value).map_err(|e| bad(e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(format!("scheme {} is not http or https", u.scheme())));
    }
    Ok(())
}

fn parse_positive(key: &str, v: &str) -> Result<f64, ConfigError> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(ConfigError::InvalidValue {
            key: key.to_owned(),
            message: format!("{v:?} is not a positive number of seconds"),
        }),
    }
}
