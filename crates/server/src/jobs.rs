//! The market-data side of the process: the price source (provider registry),
//! the refresh policy and validator settings read from the environment, and
//! the background loop that calls `refresh_due` (the same step function as
//! `pricetrack fetch --once` and the tests).
//!
//! Environment keys (documented in README.md and `.env.example`):
//! * `PRICETRACK_REFRESH_TICK` — how often the loop looks for due series (15s).
//! * `PRICETRACK_REFRESH_DAILY_INTERVALS` — kept for every fetched instrument (`1d`).
//! * `PRICETRACK_REFRESH_INTRADAY_INTERVALS` — kept for watched instruments (`5m`; empty: none).
//! * `PRICETRACK_REFRESH_INTRADAY_EVERY` — intraday cadence in session (`60s`).
//! * `PRICETRACK_REFRESH_EVERY_<KIND>_<INTERVAL>` — cadence override, e.g.
//!   `PRICETRACK_REFRESH_EVERY_CRYPTO_5M=30s`, or a cron expression in UTC, e.g.
//!   `PRICETRACK_REFRESH_EVERY_STOCK_1D="30 22 * * 1-5"`.
//! * `PRICETRACK_REFRESH_CLOSE_DELAY` — wait after a close before the completion run (`10m`).
//! * `PRICETRACK_REFRESH_CONCURRENCY` — series fetched at once (8).
//! * `PRICETRACK_REFRESH_LEASE` — how long a claim holds a series (`5m`).
//! * `PRICETRACK_BACKFILL_DEPTH_<INTERVAL>` — history depth, e.g. `PRICETRACK_BACKFILL_DEPTH_5M=60d`,
//!   `all` for as far as the provider gives (the default of `1d`, `1wk`, `1mo`).
//! * `PRICETRACK_VALIDATION_MAX_JUMP` — a close this many times away from the
//!   previous one is quarantined (5).
//! * `PRICETRACK_VALIDATION_SPLIT_CHECK` — also quarantine jumps at typical split ratios (true).

use crate::{config::Settings, provider_keys::KeyedRegistry};
use anyhow::Context;
use jiff::SignedDuration;
use pricetrack_app::{
    AppContext,
    market::{RefreshPolicy, policy::CronSchedule, refresh_due},
};
use pricetrack_domain::{
    InstrumentKind, Interval,
    validation::{BarValidator, ValidationRules},
};
use pricetrack_providers::ProvidersConfig;
use std::{sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinHandle};

/// The market-data settings of a process.
#[derive(Debug, Clone)]
pub struct MarketSettings {
    pub policy: RefreshPolicy,
    pub validation: ValidationRules,
    /// Period of the background loop.
    pub tick: Duration,
}

impl Default for MarketSettings {
    fn default() -> Self {
        Self {
            policy: RefreshPolicy::default(),
            validation: ValidationRules::default(),
            tick: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid market-data configuration:\n  - {}", .0.join("\n  - "))]
pub struct MarketConfigError(pub Vec<String>);

fn duration(key: &str, raw: &str) -> Result<SignedDuration, String> {
    let raw = raw.trim();
    // Whole days ("60d") are spelled out here: a SignedDuration has no day unit.
    let days = raw
        .strip_suffix('d')
        .and_then(|n| n.trim().parse::<i64>().ok())
        .and_then(|n| n.checked_mul(24))
        .map(SignedDuration::from_hours);
    days.or_else(|| raw.parse::<SignedDuration>().ok())
        .filter(|d| d.is_positive())
        .ok_or_else(|| format!("{key}: {raw:?} is not a positive duration like 30s, 5m, 1h or 60d"))
}

fn intervals(key: &str, raw: &str) -> Result<Vec<Interval>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Interval>().map_err(|e| format!("{key}: {e}")))
        .collect()
}

fn env_key(interval: Interval) -> String {
    interval.as_str().to_ascii_uppercase()
}

impl MarketSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, MarketConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup`, reporting every problem at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MarketConfigError> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_owned());
        let mut s = Self::default();
        let mut errors = Vec::new();
        let mut dur = |key: &str, target: &mut SignedDuration| {
            if let Some(v) = get(key).filter(|v| !v.is_empty()) {
                match duration(key, &v) {
                    Ok(d) => *target = d,
                    Err(e) => errors.push(e),
                }
            }
        };
        let mut tick = SignedDuration::try_from(s.tick).unwrap_or(SignedDuration::from_secs(15));
        dur("PRICETRACK_REFRESH_TICK", &mut tick);
        dur(
            "PRICETRACK_REFRESH_INTRADAY_EVERY",
            &mut s.policy.intraday_every,
        );
        dur("PRICETRACK_REFRESH_CLOSE_DELAY", &mut s.policy.close_delay);
        dur("PRICETRACK_REFRESH_LEASE", &mut s.policy.lease);
        s.tick = Duration::try_from(tick).unwrap_or(Duration::from_secs(15));
        for kind in InstrumentKind::ALL {
            for interval in Interval::ALL {
                let key = format!(
                    "PRICETRACK_REFRESH_EVERY_{}_{}",
                    kind.as_str().to_ascii_uppercase(),
                    env_key(interval)
                );
                // A duration ("30s") or a cron expression ("*/2 * * * *", UTC).
                let Some(v) = get(&key).filter(|v| !v.is_empty()) else {
                    continue;
                };
                match (duration(&key, &v), CronSchedule::parse(&v)) {
                    (Ok(every), _) if every.is_positive() => {
                        s.policy.every_overrides.insert((kind, interval), every);
                    }
                    (_, Ok(cron)) => {
                        s.policy.cron_overrides.insert((kind, interval), cron);
                    }
                    (_, Err(e)) => errors.push(format!(
                        "{key}: neither a duration like 30s or 5m nor a cron expression ({e})"
                    )),
                }
            }
        }
        for interval in Interval::ALL {
            let key = format!("PRICETRACK_BACKFILL_DEPTH_{}", env_key(interval));
            match get(&key).filter(|v| !v.is_empty()) {
                Some(v) if v.eq_ignore_ascii_case("all") => {
                    s.policy.backfill_depth.remove(&interval);
                }
                Some(v) => match duration(&key, &v) {
                    Ok(d) => {
                        s.policy.backfill_depth.insert(interval, d);
                    }
                    Err(e) => errors.push(e),
                },
                None => {}
            }
        }
        for (key, target) in [
            (
                "PRICETRACK_REFRESH_DAILY_INTERVALS",
                &mut s.policy.daily_intervals,
            ),
            (
                "PRICETRACK_REFRESH_INTRADAY_INTERVALS",
                &mut s.policy.intraday_intervals,
            ),
        ] {
            if let Some(v) = get(key) {
                match intervals(key, &v) {
                    Ok(list) => *target = list,
                    Err(e) => errors.push(e),
                }
            }
        }
        if let Some(v) = get("PRICETRACK_REFRESH_CONCURRENCY").filter(|v| !v.is_empty()) {
            match v.parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => s.policy.concurrency = n,
                _ => errors.push(format!(
                    "PRICETRACK_REFRESH_CONCURRENCY: {v:?} is not a whole number from 1 to 256"
                )),
            }
        }
        if let Some(v) = get("PRICETRACK_VALIDATION_MAX_JUMP").filter(|v| !v.is_empty()) {
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 1.0 => s.validation.max_jump_factor = x,
                _ => errors.push(format!(
                    "PRICETRACK_VALIDATION_MAX_JUMP: {v:?} is not a number above 1"
                )),
            }
        }
        if let Some(v) = get("PRICETRACK_VALIDATION_SPLIT_CHECK").filter(|v| !v.is_empty()) {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => s.validation.detect_unadjusted_splits = true,
                "false" | "0" | "no" | "off" => s.validation.detect_unadjusted_splits = false,
                _ => errors.push(format!(
                    "PRICETRACK_VALIDATION_SPLIT_CHECK: {v:?} is not true or false"
                )),
            }
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(MarketConfigError(errors))
        }
    }

    /// Applies the policy and validator to a context.
    pub fn apply(&self, ctx: AppContext) -> AppContext {
        ctx.with_refresh_policy(self.policy.clone())
            .with_bar_validator(BarValidator::new(self.validation))
    }
}

/// Gives a context its price source (the provider registry configured from
/// the environment or `pricetrack.toml`, plus the API keys stored from the
/// settings page) and the market settings.
pub fn configure(ctx: AppContext, settings: &Settings) -> anyhow::Result<AppContext> {
    let providers =
        ProvidersConfig::from_lookup(|k| settings.lookup(k)).context("provider configuration")?;
    let registry = KeyedRegistry::new(providers, Arc::clone(&ctx.store))
        .context("building the provider registry")?;
    let market = MarketSettings::from_lookup(|k| settings.lookup(k))?;
    Ok(market.apply(ctx).with_prices(Arc::new(registry)))
}

/// The background refresh loop: one `refresh_due` step per tick until
/// `shutdown` turns true. A failed step is logged and retried next tick.
pub fn spawn_refresh_loop(
    ctx: AppContext,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = ctx.clock.now();
            match refresh_due(&ctx, now).await {
                Ok(report) if report.runs.is_empty() && report.jobs_created == 0 => {}
                Ok(report) => tracing::info!(
                    created = report.jobs_created,
                    succeeded = report.succeeded,
                    failed = report.failed,
                    bars = report.bars_stored,
                    quarantined = report.quarantined,
                    requests = report.requests,
                    "refresh step"
                ),
                Err(e) => tracing::error!(error = %e, "refresh step failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        tracing::info!("refresh loop stopped");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = MarketSettings::from_lookup(env(&[])).unwrap();
        assert_eq!(s.policy.daily_intervals, vec![Interval::D1]);
        assert_eq!(s.policy.intraday_intervals, vec![Interval::M5]);
        assert_eq!(s.policy.intraday_every, SignedDuration::from_secs(60));
        assert_eq!(s.validation.max_jump_factor, 5.0);
        assert!(
            s.policy
                .backfill_floor(Interval::D1, jiff::Timestamp::UNIX_EPOCH)
                .is_none()
        );
    }

    #[test]
    fn schedules_depths_and_validation_are_configurable() {
        let s = MarketSettings::from_lookup(env(&[
            ("PRICETRACK_REFRESH_TICK", "5s"),
            ("PRICETRACK_REFRESH_INTRADAY_INTERVALS", "1m, 5m"),
            ("PRICETRACK_REFRESH_EVERY_CRYPTO_5M", "30s"),
            ("PRICETRACK_REFRESH_EVERY_STOCK_1D", "30 22 * * 1-5"),
            ("PRICETRACK_REFRESH_CLOSE_DELAY", "15m"),
            ("PRICETRACK_BACKFILL_DEPTH_5M", "30d"),
            ("PRICETRACK_BACKFILL_DEPTH_1M", "all"),
            ("PRICETRACK_VALIDATION_MAX_JUMP", "20"),
            ("PRICETRACK_VALIDATION_SPLIT_CHECK", "false"),
        ]))
        .unwrap();
        assert_eq!(s.tick, Duration::from_secs(5));
        assert_eq!(
            s.policy.intraday_intervals,
            vec![Interval::M1, Interval::M5]
        );
        assert_eq!(
            s.policy.every(InstrumentKind::Crypto, Interval::M5),
            SignedDuration::from_secs(30)
        );
        assert_eq!(
            s.policy.every(InstrumentKind::Stock, Interval::M5),
            SignedDuration::from_secs(60)
        );
        assert_eq!(
            s.policy
                .cron_overrides
                .get(&(InstrumentKind::Stock, Interval::D1))
                .map(|c| c.as_str()),
            Some("30 22 * * 1-5")
        );
        assert_eq!(s.policy.close_delay, SignedDuration::from_mins(15));
        assert_eq!(
            s.policy.backfill_depth.get(&Interval::M5),
            Some(&SignedDuration::from_hours(24 * 30))
        );
        assert!(!s.policy.backfill_depth.contains_key(&Interval::M1));
        assert_eq!(s.validation.max_jump_factor, 20.0);
        assert!(!s.validation.detect_unadjusted_splits);
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let err = MarketSettings::from_lookup(env(&[
            ("PRICETRACK_REFRESH_TICK", "soon"),
            ("PRICETRACK_REFRESH_INTRADAY_INTERVALS", "3m"),
            ("PRICETRACK_VALIDATION_MAX_JUMP", "0.5"),
            ("PRICETRACK_REFRESH_CONCURRENCY", "0"),
            ("PRICETRACK_REFRESH_EVERY_STOCK_5M", "every minute"),
        ]))
        .unwrap_err();
        assert_eq!(err.0.len(), 5, "{err}");
        assert!(
            err.to_string()
                .contains("PRICETRACK_REFRESH_EVERY_STOCK_5M: neither a duration"),
            "{err}"
        );
    }
}
