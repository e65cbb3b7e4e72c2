//! The registry: per instrument an ordered chain of providers, each behind a
//! token-bucket rate limit, retries with exponential backoff and jitter for
//! *retry-later* errors (honouring `Retry-After` up to a cap), a circuit
//! breaker, and fallback to the next provider on *try-next* errors. It
//! implements [`PriceSource`] itself, so use cases never see a provider.
//!
//! Chain for an instrument: its own provider first, then the defaults for its
//! kind ([`ProviderOrder`]), keeping only registered, configured providers that
//! serve the kind (and interval). `demo` instruments use `demo` only, and
//! `demo` is never a fallback for real ones; `item`s and `manual` instruments
//! use `manual` only (unless they name another provider, e.g. `url`).
//!
//! Error classes: *give up* stops the chain at once (unknown symbol, bad key);
//! *try next* moves on; *retry later* is retried on the same provider
//! (at most [`RegistryPolicy::max_retries`] times, each wait at most
//! [`RegistryPolicy::max_backoff`]; a `Retry-After` above that is not waited
//! for in-process) and then moves on. When every provider failed, the error
//! is *retry later* if any failure was transient (carrying the shortest
//! `Retry-After`), else *give up*.
//!
//! Time is a [`TimeSource`]: tests drive rate limits, backoff and the breaker
//! with [`crate::ManualTime`] and never sleep.

use crate::{
    alphavantage::{self, AlphaVantageProvider},
    binance::{self, BinanceProvider},
    coingecko::{self, CoinGeckoProvider},
    config::{CoinGeckoPlan, ConfigError, ProvidersConfig},
    demo::{self, DemoProvider},
    finnhub::{self, FinnhubProvider},
    manual::{self, ManualProvider},
    provider::{HistoryDepth, Provider, RateLimit},
    stooq::{self, StooqProvider},
    time::{SystemTime, TimeSource},
    url_source::UrlProvider,
    yahoo::{self, YahooProvider},
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::{
    FieldError,
    market_data::{
        ErrorClass, FetchError, FetchErrorKind, FetchedBars, HistoryReach, PriceSource, Quote,
    },
    ports::Clock,
};
use pricetrack_domain::{Instrument, InstrumentKind, Interval};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

/// Retry, backoff and circuit-breaker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegistryPolicy {
    /// Retries of a *retry-later* error on the same provider.
    pub max_retries: u32,
    /// First backoff; doubles with each retry.
    pub base_backoff: Duration,
    /// Longest single wait; a longer `Retry-After` is not waited for.
    pub max_backoff: Duration,
    /// Random extra wait, as a fraction of the wait (0 = none).
    pub jitter: f64,
    /// Consecutive failures that open a provider's circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit stays open before one probe is let through.
    pub breaker_cooldown: Duration,
}

impl Default for RegistryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            jitter: 0.2,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(300),
        }
    }
}

/// Default provider order per instrument kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOrder {
    by_kind: BTreeMap<InstrumentKind, Vec<String>>,
}

impl Default for ProviderOrder {
    fn default() -> Self {
        use InstrumentKind as K;
        let v = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut by_kind = BTreeMap::new();
        // Finnhub and Alpha Vantage need a key: without one they are left out.
        for k in [K::Stock, K::Etf, K::Fund, K::Bond] {
            by_kind.insert(
                k,
                v(&[yahoo::NAME, stooq::NAME, finnhub::NAME, alphavantage::NAME]),
            );
        }
        by_kind.insert(K::Index, v(&[yahoo::NAME, stooq::NAME]));
        by_kind.insert(K::Crypto, v(&[binance::NAME, coingecko::NAME, yahoo::NAME]));
        by_kind.insert(K::Fx, v(&[yahoo::NAME, stooq::NAME, alphavantage::NAME]));
        by_kind.insert(K::Commodity, v(&[yahoo::NAME, stooq::NAME]));
        by_kind.insert(K::Item, v(&[manual::NAME]));
        Self { by_kind }
    }
}

impl ProviderOrder {
    pub fn set(&mut self, kind: InstrumentKind, names: Vec<String>) {
        self.by_kind.insert(kind, names);
    }

    pub fn get(&self, kind: InstrumentKind) -> &[String] {
        self.by_kind.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A circuit breaker's state, as observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Timestamp,
    },
    /// One probe is allowed (or in flight).
    HalfOpen {
        probing: bool,
    },
}

struct Bucket {
    tokens: f64,
    last: Option<Timestamp>,
}

struct Slot {
    provider: Arc<dyn Provider>,
    /// The provider's declared limit, unless configuration overrides it.
    rate_limit: RateLimit,
    bucket: Mutex<Bucket>,
    breaker: Mutex<BreakerState>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether an error says something about the provider's health.
fn is_provider_failure(e: &FetchError) -> bool {
    use FetchErrorKind as K;
    matches!(
        e.kind,
        K::RateLimited
            | K::QuotaExhausted
            | K::Timeout
            | K::Network
            | K::Upstream
            | K::HttpStatus
            | K::Decode
            | K::Unauthorized
    )
}

/// The registry of providers; implements [`PriceSource`].
pub struct Registry {
    slots: BTreeMap<&'static str, Slot>,
    order: ProviderOrder,
    policy: RegistryPolicy,
    time: Arc<dyn TimeSource>,
    rng: Mutex<u64>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.slots.keys().collect::<Vec<_>>())
            .field("order", &self.order)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Registry {
    /// An empty registry; add providers with [`Registry::with_provider`].
    pub fn new(policy: RegistryPolicy, order: ProviderOrder, time: Arc<dyn TimeSource>) -> Self {
        let seed = time.now().as_nanosecond() as u64 | 1;
        Self {
            slots: BTreeMap::new(),
            order,
            policy,
            time,
            rng: Mutex::new(seed),
        }
    }

    /// Every provider, configured from `config`, on the wall clock.
    pub fn from_config(config: ProvidersConfig) -> Result<Self, ConfigError> {
        Self::from_config_with_time(config, Arc::new(SystemTime))
    }

    /// Every provider, configured from `config`, on the given time source.
    pub fn from_config_with_time(
        config: ProvidersConfig,
        time: Arc<dyn TimeSource>,
    ) -> Result<Self, ConfigError> {
        let clock: Arc<dyn Clock> = time.clone();
        let adapter = |settings, default_base: &str| {
            config
                .adapter(settings, default_base)
                .with_clock(clock.clone())
        };
        let cg_default = match config.coingecko_plan {
            CoinGeckoPlan::Demo => coingecko::DEFAULT_BASE_URL,
            CoinGeckoPlan::Pro => coingecko::PRO_BASE_URL,
        };
        let registry = Self::new(config.policy, config.order.clone(), time.clone())
            .with_provider(Arc::new(YahooProvider::new(
                adapter(&config.yahoo, yahoo::DEFAULT_BASE_URL),
                config.yahoo_cookie_url.clone(),
            )?))
            .with_provider(Arc::new(StooqProvider::new(adapter(
                &config.stooq,
                stooq::DEFAULT_BASE_URL,
            ))?))
            .with_provider(Arc::new(CoinGeckoProvider::new(
                adapter(&config.coingecko, cg_default),
                config.coingecko_plan,
            )?))
            .with_provider(Arc::new(BinanceProvider::new(adapter(
                &config.binance,
                binance::DEFAULT_BASE_URL,
            ))?))
            .with_provider(Arc::new(AlphaVantageProvider::new(adapter(
                &config.alphavantage,
                alphavantage::DEFAULT_BASE_URL,
            ))?))
            .with_provider(Arc::new(FinnhubProvider::new(adapter(
                &config.finnhub,
                finnhub::DEFAULT_BASE_URL,
            ))?))
            .with_provider(Arc::new(UrlProvider::new(
                adapter(&Default::default(), "http://localhost"),
                config.url_sources.clone(),
            )?))
            .with_provider(Arc::new(ManualProvider::new()))
            .with_provider(Arc::new(DemoProvider::new(clock.clone())));
        let registry = config
            .rate_limits
            .iter()
            .fold(registry, |r, (name, limit)| r.with_rate_limit(name, *limit));
        Ok(registry)
    }

    /// Adds (or replaces) a provider under its name.
    pub fn with_provider(mut self, provider: Arc<dyn Provider>) -> Self {
        let rate_limit = provider.capabilities().rate_limit;
        let burst = rate_limit.burst;
        self.slots.insert(
            provider.name(),
            Slot {
                provider,
                rate_limit,
                bucket: Mutex::new(Bucket {
                    tokens: f64::from(burst),
                    last: None,
                }),
                breaker: Mutex::new(BreakerState::Closed {
                    consecutive_failures: 0,
                }),
            },
        );
        self
    }

    /// Replaces a provider's request budget (e.g. a paid plan's higher limit).
    /// Unknown names are ignored.
    pub fn with_rate_limit(mut self, name: &str, limit: RateLimit) -> Self {
        if let Some(slot) = self.slots.get_mut(name) {
            slot.rate_limit = limit;
            *lock(&slot.bucket) = Bucket {
                tokens: f64::from(limit.burst),
                last: None,
            };
        }
        self
    }

    /// The request budget a provider runs under.
    pub fn rate_limit(&self, name: &str) -> Option<RateLimit> {
        self.slots.get(name).map(|s| s.rate_limit)
    }

    pub fn provider(&self, name: &str) -> Option<Arc<dyn Provider>> {
        self.slots.get(name).map(|s| s.provider.clone())
    }

    pub fn provider_names(&self) -> Vec<&'static str> {
        self.slots.keys().copied().collect()
    }

    /// The breaker of a provider, after applying the cool-down.
    pub fn breaker_state(&self, name: &str) -> Option<BreakerState> {
        self.slots.get(name).map(|s| *lock(&s.breaker))
    }

    /// The providers asked for this instrument, in order (for bars of
    /// `interval`, or for quotes when `None`).
    pub fn chain(&self, instrument: &Instrument, interval: Option<Interval>) -> Vec<&'static str> {
        let own = instrument.provider.as_str();
        if own == demo::NAME {
            return self
                .slots
                .get_key_value(demo::NAME)
                .map(|(k, _)| vec![*k])
                .unwrap_or_default();
        }
        if own == manual::NAME
            || (instrument.kind == InstrumentKind::Item && !self.slots.contains_key(own))
        {
            return self
                .slots
                .get_key_value(manual::NAME)
                .map(|(k, _)| vec![*k])
                .unwrap_or_default();
        }
        let mut names: Vec<&'static str> = Vec::new();
        let wanted =
            std::iter::once(own).chain(self.order.get(instrument.kind).iter().map(String::as_str));
        for name in wanted {
            let Some((key, slot)) = self.slots.get_key_value(name) else {
                continue;
            };
            if *key == demo::NAME || names.contains(key) {
                continue;
            }
            let p = &slot.provider;
            let caps = p.capabilities();
            let serves = p.is_configured()
                && caps.supports_kind(instrument.kind)
                && match interval {
                    None => *key != manual::NAME,
                    Some(i) => caps.history(i).is_some(),
                };
            if serves {
                names.push(key);
            }
        }
        // A manual instrument of a kind with no market keeps a clear answer.
        if names.is_empty()
            && instrument.kind == InstrumentKind::Item
            && let Some((k, _)) = self.slots.get_key_value(manual::NAME)
        {
            names.push(k);
        }
        names
    }

    fn no_provider(&self, instrument: &Instrument, what: &str) -> FetchError {
        FetchError::new(
            "registry",
            FetchErrorKind::Unsupported,
            ErrorClass::GiveUp,
            format!(
                "no configured provider serves {what} for {} ({}, provider {})",
                instrument.symbol, instrument.kind, instrument.provider
            ),
        )
    }

    fn random(&self) -> f64 {
        let mut s = lock(&self.rng);
        // xorshift64*
        let mut x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The wait before retry number `attempt` (0-based), or `None` when the
    /// provider asked for more than the cap.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let cap = self.policy.max_backoff;
        if retry_after.is_some_and(|r| r > cap) {
            return None;
        }
        let exp = self
            .policy
            .base_backoff
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(cap);
        let base = retry_after.unwrap_or(exp);
        let jittered = base.mul_f64(1.0 + self.policy.jitter.max(0.0) * self.random());
        Some(jittered.min(cap.max(base)))
    }

    /// Waits for a token of the provider's bucket.
    async fn take_token(&self, slot: &Slot) {
        let limit = slot.rate_limit;
        if !limit.per_minute.is_finite() {
            return;
        }
        let per_sec = limit.per_minute / 60.0;
        let cap = f64::from(limit.burst.max(1));
        loop {
            let wait = {
                let mut b = lock(&slot.bucket);
                let now = self.time.now();
                if let Some(last) = b.last {
                    let elapsed = now.duration_since(last).as_secs_f64().max(0.0);
                    b.tokens = (b.tokens + elapsed * per_sec).min(cap);
                }
                b.last = Some(now);
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64(((1.0 - b.tokens) / per_sec).max(0.001))
            };
            self.time.sleep(wait).await;
        }
    }

    /// Lets a call through the breaker, or says why not.
    fn admit(&self, slot: &Slot) -> Result<(), FetchError> {
        let mut st = lock(&slot.breaker);
        let now = self.time.now();
        match *st {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } if now >= until => {
                *st = BreakerState::HalfOpen { probing: true };
                Ok(())
            }
            BreakerState::HalfOpen { probing: false } => {
                *st = BreakerState::HalfOpen { probing: true };
                Ok(())
            }
            BreakerState::Open { until } => Err(FetchError::new(
                slot.provider.name(),
                FetchErrorKind::CircuitOpen,
                ErrorClass::TryNext,
                format!("circuit open after repeated failures, until {until}"),
            )),
            BreakerState::HalfOpen { probing: true } => Err(FetchError::new(
                slot.provider.name(),
                FetchErrorKind::CircuitOpen,
                ErrorClass::TryNext,
                "circuit half-open, a probe is in flight",
            )),
        }
    }

    fn record(&self, slot: &Slot, failure: bool) {
        let mut st = lock(&slot.breaker);
        let now = self.time.now();
        let cooldown =
            SignedDuration::try_from(self.policy.breaker_cooldown).unwrap_or(SignedDuration::MAX);
        let open = || BreakerState::Open {
            until: now.saturating_add(cooldown).unwrap_or(now),
        };
        *st = match (*st, failure) {
            (_, false) => BreakerState::Closed {
                consecutive_failures: 0,
            },
            (BreakerState::HalfOpen { .. }, true) | (BreakerState::Open { .. }, true) => {
                tracing::warn!(
                    provider = slot.provider.name(),
                    "circuit re-opened after a failed probe"
                );
                open()
            }
            (
                BreakerState::Closed {
                    consecutive_failures,
                },
                true,
            ) => {
                let n = consecutive_failures + 1;
                if n >= self.policy.breaker_threshold.max(1) {
                    tracing::warn!(
                        provider = slot.provider.name(),
                        failures = n,
                        "circuit opened"
                    );
                    open()
                } else {
                    BreakerState::Closed {
                        consecutive_failures: n,
                    }
                }
            }
        };
    }

    /// One provider: breaker, rate limit, retries of retry-later errors.
    async fn call<T, F, Fut>(&self, slot: &Slot, op: F) -> Result<T, FetchError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let mut last: Option<FetchError> = None;
        for attempt in 0..=self.policy.max_retries {
            if let Err(e) = self.admit(slot) {
                return Err(last.unwrap_or(e));
            }
            self.take_token(slot).await;
            match op().await {
                Ok(v) => {
                    self.record(slot, false);
                    return Ok(v);
                }
                Err(e) => {
                    self.record(slot, is_provider_failure(&e));
                    let retry_after = match e.class {
                        ErrorClass::RetryLater { retry_after } => retry_after,
                        _ => return Err(e),
                    };
                    if attempt == self.policy.max_retries {
                        return Err(e);
                    }
                    let Some(wait) = self.backoff(attempt, retry_after) else {
                        return Err(e);
                    };
                    tracing::debug!(provider = slot.provider.name(), ?wait, error = %e, "retrying");
                    self.time.sleep(wait).await;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            FetchError::new(
                slot.provider.name(),
                FetchErrorKind::Exhausted,
                ErrorClass::TryNext,
                "no attempt made",
            )
        }))
    }

    /// Runs `op` along the chain until one answers or one gives up.
    async fn along_chain<T, F, Fut>(&self, chain: &[&'static str], op: F) -> Result<T, FetchError>
    where
        F: Fn(Arc<dyn Provider>) -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let mut errors: Vec<FetchError> = Vec::new();
        for name in chain {
            let Some(slot) = self.slots.get(name) else {
                continue;
            };
            let p = slot.provider.clone();
            match self.call(slot, || op(p.clone())).await {
                Ok(v) => return Ok(v),
                Err(e) if e.class == ErrorClass::GiveUp => return Err(e),
                Err(e) => {
                    tracing::info!(provider = *name, error = %e, "falling back to the next provider");
                    errors.push(e);
                }
            }
        }
        Err(summarise(errors))
    }

    /// Quotes for many instruments, batching per provider where it can.
    pub async fn fetch_quotes(&self, instruments: &[Instrument]) -> Vec<Result<Quote, FetchError>> {
        let mut results: Vec<Option<Result<Quote, FetchError>>> = vec![None; instruments.len()];
        // Group by the first provider of each chain that offers batches.
        let mut groups: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
        for (i, inst) in instruments.iter().enumerate() {
            if let Some(first) = self.chain(inst, None).first()
                && self
                    .slots
                    .get(first)
                    .is_some_and(|s| s.provider.capabilities().batch_quotes)
            {
                groups.entry(first).or_default().push(i);
            }
        }
        for (name, idx) in groups {
            let Some(slot) = self.slots.get(name) else {
                continue;
            };
            if idx.len() < 2 {
                continue;
            }
            let batch: Vec<Instrument> = idx.iter().map(|i| instruments[*i].clone()).collect();
            let p = slot.provider.clone();
            let answers = self
                .call(slot, || {
                    let p = p.clone();
                    let batch = batch.clone();
                    async move {
                        let r = p.fetch_quotes(&batch).await;
                        // A batch-wide failure is the same error for everyone.
                        match r.iter().find_map(|x| x.as_ref().err()) {
                            Some(e) if r.iter().all(|x| x.is_err()) && batch.len() > 1 => {
                                Err(e.clone())
                            }
                            _ => Ok(r),
                        }
                    }
                })
                .await;
            if let Ok(answers) = answers {
                for (i, a) in idx.iter().zip(answers) {
                    // Answers and give-ups are final; other errors fall
                    // back along that instrument's own chain below.
                    let settled = match &a {
                        Ok(_) => true,
                        Err(e) => e.class == ErrorClass::GiveUp,
                    };
                    if settled {
                        results[*i] = Some(a);
                    }
                }
            }
        }
        for (i, inst) in instruments.iter().enumerate() {
            if results[i].is_none() {
                results[i] = Some(self.fetch_quote(inst).await);
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(FetchError::new(
                        "registry",
                        FetchErrorKind::Exhausted,
                        ErrorClass::GiveUp,
                        "no answer",
                    ))
                })
            })
            .collect()
    }
}

/// One error for a whole failed chain.
fn summarise(mut errors: Vec<FetchError>) -> FetchError {
    if errors.len() == 1 {
        return errors.remove(0);
    }
    let retry_after = errors
        .iter()
        .filter_map(|e| match e.class {
            ErrorClass::RetryLater { retry_after } => Some(retry_after),
            _ => None,
        })
        .reduce(|a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        });
    let transient = errors.iter().any(|e| e.is_retry_later());
    let class = if transient {
        ErrorClass::RetryLater {
            retry_after: retry_after.flatten(),
        }
    } else {
        ErrorClass::GiveUp
    };
    let message = if errors.is_empty() {
        "no provider to ask".to_owned()
    } else {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    FetchError::new("registry", FetchErrorKind::Exhausted, class, message)
}

#[async_trait]
impl PriceSource for Registry {
    /// The instrument's own provider decides (the others are fallbacks).
    fn check_instrument(&self, instrument: &Instrument) -> Result<(), FieldError> {
        match self.slots.get(instrument.provider.as_str()) {
            Some(slot) => slot.provider.check_instrument(instrument),
            None => Ok(()),
        }
    }

    /// The deepest history of any provider in the instrument's chain.
    fn history_reach(&self, instrument: &Instrument, interval: Interval) -> HistoryReach {
        let mut days: Option<u32> = None;
        for name in self.chain(instrument, Some(interval)) {
            match self
                .slots
                .get(name)
                .and_then(|s| s.provider.capabilities().history(interval))
            {
                Some(HistoryDepth::Unlimited) => return HistoryReach::Unlimited,
                Some(HistoryDepth::Days(d)) => days = Some(days.map_or(d, |x| x.max(d))),
                None => {}
            }
        }
        days.map_or(HistoryReach::Unsupported, HistoryReach::Days)
    }

    /// The smallest limit of any provider in the chain: whichever answers,
    /// the request fits.
    fn max_request_span(
        &self,
        instrument: &Instrument,
        interval: Interval,
    ) -> Option<SignedDuration> {
        self.chain(instrument, Some(interval))
            .into_iter()
            .filter_map(|name| self.slots.get(name))
            .filter_map(|s| s.provider.capabilities().max_span(interval))
            .min()
    }

    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let now = self.time.now();
        let chain: Vec<&'static str> = self
            .chain(instrument, Some(interval))
            .into_iter()
            .filter(|name| {
                // Skip providers whose history ends before the range does.
                let depth = self
                    .slots
                    .get(name)
                    .and_then(|s| s.provider.capabilities().history(interval))
                    .and_then(|h| h.as_duration());
                depth.is_none_or(|d| now.saturating_sub(d).is_ok_and(|oldest| to > oldest))
            })
            .collect();
        if chain.is_empty() {
            return Err(self.no_provider(instrument, &format!("{interval} bars")));
        }
        self.along_chain(&chain, |p| {
            let instrument = instrument.clone();
            async move { p.fetch_bars(&instrument, interval, from, to).await }
        })
        .await
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let mut chain = self.chain(instrument, None);
        if chain.is_empty() {
            chain = self.chain(instrument, Some(Interval::D1));
        }
        if chain.is_empty() {
            return Err(self.no_provider(instrument, "quotes"));
        }
        self.along_chain(&chain, |p| {
            let instrument = instrument.clone();
            async move { p.fetch_quote(&instrument).await }
        })
        .await
    }
}
