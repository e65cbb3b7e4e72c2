//! Instrument use cases. Instruments are shared by all users; changing them needs the admin role.

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::ports::{DeleteOutcome, InstrumentQuery, Page, Role, StoreError, User};
use pricetrack_domain::{Instrument, Symbol};

/// Every provider name an instrument may name: the adapters of
/// `pricetrack-providers` (which checks that its registry knows exactly these).
pub const PROVIDER_NAMES: [&str; 9] = [
    "yahoo",
    "stooq",
    "coingecko",
    "binance",
    "alphavantage",
    "finnhub",
    "manual",
    "url",
    "demo",
];

/// Refuses a provider name no adapter answers to: a typo would otherwise be
/// stored and silently fall back to the kind's default providers.
pub fn check_provider(instrument: &Instrument) -> AppResult<()> {
    let name = instrument.provider.as_str();
    if PROVIDER_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(AppError::invalid_field(
            "provider",
            format!(
                "unknown provider {name:?}; accepted: {}",
                PROVIDER_NAMES.join(", ")
            ),
        ))
    }
}

/// Asks the price source whether it can price the instrument as configured
/// (no source configured: nothing to ask, e.g. tools and tests).
fn check_priceable(ctx: &AppContext, instrument: &Instrument) -> AppResult<()> {
    match &ctx.prices {
        Some(prices) => prices
            .check_instrument(instrument)
            .map_err(|e| AppError::Invalid(vec![e])),
        None => Ok(()),
    }
}

fn require_admin(actor: &User) -> AppResult<()> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub async fn create_instrument(
    ctx: &AppContext,
    actor: &User,
    instrument: Instrument,
) -> AppResult<Instrument> {
    require_admin(actor)?;
    check_provider(&instrument)?;
    check_priceable(ctx, &instrument)?;
    let created = ctx.store.create_instrument(&instrument).await;
    // After the write: a lookup racing it cannot cache the old state.
    ctx.listing_dates.forget(&instrument.symbol);
    match created {
        Ok(()) => Ok(instrument),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(format!(
            "instrument {} already exists",
            instrument.symbol
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn update_instrument(
    ctx: &AppContext,
    actor: &User,
    instrument: Instrument,
) -> AppResult<Instrument> {
    require_admin(actor)?;
    check_provider(&instrument)?;
    check_priceable(ctx, &instrument)?;
    let updated = ctx.store.update_instrument(&instrument).await;
    ctx.listing_dates.forget(&instrument.symbol);
    ctx.quotes.forget(&instrument.symbol);
    if updated? {
        Ok(instrument)
    } else {
        Err(AppError::not_found(format!(
            "instrument {}",
            instrument.symbol
        )))
    }
}

pub async fn get_instrument(ctx: &AppContext, symbol: &Symbol) -> AppResult<Instrument> {
    ctx.store
        .get_instrument(symbol)
        .await?
        .ok_or_else(|| AppError::not_found(format!("instrument {symbol}")))
}

pub async fn list_instruments(
    ctx: &AppContext,
    query: &InstrumentQuery,
) -> AppResult<Page<Instrument>> {
    Ok(ctx.store.list_instruments(query).await?)
}

/// Deletes an instrument with its bars; refused while transactions reference it.
pub async fn delete_instrument(ctx: &AppContext, actor: &User, symbol: &Symbol) -> AppResult<()> {
    require_admin(actor)?;
    let deleted = ctx.store.delete_instrument(symbol).await;
    ctx.listing_dates.forget(symbol);
    ctx.newest_closes.forget(symbol);
    ctx.quotes.forget(symbol);
    match deleted? {
        DeleteOutcome::Deleted => Ok(()),
        DeleteOutcome::NotFound => Err(AppError::not_found(format!("instrument {symbol}"))),
        DeleteOutcome::Referenced { transactions } => Err(AppError::InstrumentInUse {
            symbol: symbol.clone(),
            transactions,
        }),
    }
}
