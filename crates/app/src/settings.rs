//! User preferences and the instance's provider API keys.

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::ports::{Role, User, UserSettings};
use pricetrack_domain::{InstrumentKind, analytics::CostBasisMethod};

/// The market-data providers a user can pick for an instrument.
pub const PROVIDERS: [&str; 8] = [
    "yahoo",
    "stooq",
    "coingecko",
    "binance",
    "alphavantage",
    "manual",
    "url",
    "demo",
];

/// Providers that need an API key (or take one for higher limits).
pub const KEYED_PROVIDERS: [&str; 3] = ["alphavantage", "coingecko", "binance"];

/// Providers that suit an instrument kind, best first.
pub fn provider_suggestions(kind: InstrumentKind) -> &'static [&'static str] {
    match kind {
        InstrumentKind::Stock | InstrumentKind::Etf | InstrumentKind::Index => {
            &["yahoo", "stooq", "alphavantage", "demo"]
        }
        InstrumentKind::Fund | InstrumentKind::Bond => &["yahoo", "stooq", "url", "manual"],
        InstrumentKind::Crypto => &["coingecko", "binance", "yahoo", "demo"],
        InstrumentKind::Commodity => &["yahoo", "stooq", "demo"],
        InstrumentKind::Fx => &["yahoo", "stooq", "alphavantage", "demo"],
        InstrumentKind::Item => &["manual", "url"],
    }
}

pub const METHODS: [CostBasisMethod; 4] = [
    CostBasisMethod::AverageCost,
    CostBasisMethod::Fifo,
    CostBasisMethod::Lifo,
    CostBasisMethod::Hifo,
];

pub fn method_as_str(m: CostBasisMethod) -> &'static str {
    match m {
        CostBasisMethod::AverageCost => "average",
        CostBasisMethod::Fifo => "fifo",
        CostBasisMethod::Lifo => "lifo",
        CostBasisMethod::Hifo => "hifo",
    }
}

pub fn parse_method(s: &str) -> Option<CostBasisMethod> {
    METHODS.into_iter().find(|m| method_as_str(*m) == s)
}

/// The user's settings, or the defaults when never saved.
pub async fn get(ctx: &AppContext, user: &User) -> AppResult<UserSettings> {
    Ok(ctx.store.user_settings(user.id).await?.unwrap_or_default())
}

pub async fn save(ctx: &AppContext, user: &User, settings: &UserSettings) -> AppResult<()> {
    if let Some(id) = settings.dashboard_watchlist
        && ctx.store.get_watchlist(user.id, id).await?.is_none()
    {
        return Err(AppError::invalid_field(
            "dashboard_watchlist",
            format!("watchlist {id} not found"),
        ));
    }
    Ok(ctx.store.save_user_settings(user.id, settings).await?)
}

/// A provider key as the UI may show it: only its last 4 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedKey {
    pub provider: String,
    pub last4: String,
    pub updated_at: jiff::Timestamp,
}

pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    if chars.len() <= 4 {
        "…".to_owned()
    } else {
        format!("…{tail}")
    }
}

pub async fn provider_keys(ctx: &AppContext) -> AppResult<Vec<MaskedKey>> {
    Ok(ctx
        .store
        .provider_keys()
        .await?
        .into_iter()
        .map(|k| MaskedKey {
            last4: mask(&k.key),
            provider: k.provider,
            updated_at: k.updated_at,
        })
        .collect())
}

/// Sets or (empty key) removes a provider's API key. Admin only.
pub async fn set_provider_key(
    ctx: &AppContext,
    actor: &User,
    provider: &str,
    key: &str,
) -> AppResult<()> {
    if actor.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    if !PROVIDERS.contains(&provider) {
        return Err(AppError::invalid_field(
            "provider",
            format!("unknown provider {provider:?}"),
        ));
    }
    let key = key.trim();
    if key.len() > 512 || key.chars().any(char::is_control) {
        return Err(AppError::invalid_field(
            "key",
            "must be at most 512 printable characters",
        ));
    }
    let key = (!key.is_empty()).then_some(key);
    Ok(ctx
        .store
        .set_provider_key(provider, key, ctx.clock.now())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_to_the_last_four_characters() {
        assert_eq!(mask("abcdef123456"), "…3456");
        assert_eq!(mask("abc"), "…");
    }

    #[test]
    fn method_names_round_trip() {
        for m in METHODS {
            assert_eq!(parse_method(method_as_str(m)), Some(m));
        }
    }
}
