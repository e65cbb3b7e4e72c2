//! Watchlists: each user's named, ordered lists of instruments.

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::ports::{StoreError, User, Watchlist};
use pricetrack_domain::Symbol;

pub fn validate_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid_field("name", "must not be empty"));
    }
    if name.chars().count() > 100 {
        return Err(AppError::invalid_field(
            "name",
            "must be at most 100 characters",
        ));
    }
    Ok(name.to_owned())
}

fn conflict(e: StoreError, name: &str) -> AppError {
    match e {
        StoreError::Conflict(_) => {
            AppError::Conflict(format!("you already have a watchlist named {name:?}"))
        }
        StoreError::UnknownInstrument(s) => {
            AppError::invalid_field("symbol", format!("unknown instrument {s}; add it first"))
        }
        e => e.into(),
    }
}

pub async fn create(ctx: &AppContext, actor: &User, name: &str) -> AppResult<Watchlist> {
    let name = validate_name(name)?;
    ctx.store
        .create_watchlist(actor.id, &name, ctx.clock.now())
        .await
        .map_err(|e| conflict(e, &name))
}

pub async fn list(ctx: &AppContext, actor: &User) -> AppResult<Vec<Watchlist>> {
    Ok(ctx.store.list_watchlists(actor.id).await?)
}

pub async fn get(ctx: &AppContext, actor: &User, id: i64) -> AppResult<Watchlist> {
    ctx.store
        .get_watchlist(actor.id, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("watchlist {id}")))
}

pub async fn rename(ctx: &AppContext, actor: &User, id: i64, name: &str) -> AppResult<Watchlist> {
    let name = validate_name(name)?;
    ctx.store
        .rename_watchlist(actor.id, id, &name)
        .await
        .map_err(|e| conflict(e, &name))?
        .ok_or_else(|| AppError::not_found(format!("watchlist {id}")))
}

pub async fn delete(ctx: &AppContext, actor: &User, id: i64) -> AppResult<()> {
    if ctx.store.delete_watchlist(actor.id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found(format!("watchlist {id}")))
    }
}

/// Replaces the items (in the given order). Duplicates are refused.
pub async fn set_items(
    ctx: &AppContext,
    actor: &User,
    id: i64,
    symbols: Vec<Symbol>,
) -> AppResult<Watchlist> {
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = symbols.iter().find(|s| !seen.insert(*s)) {
        return Err(AppError::invalid_field(
            "symbols",
            format!("{dup} is listed twice"),
        ));
    }
    if symbols.len() > 500 {
        return Err(AppError::invalid_field(
            "symbols",
            "a watchlist holds at most 500 instruments",
        ));
    }
    let name = String::new();
    ctx.store
        .set_watchlist_items(actor.id, id, &symbols)
        .await
        .map_err(|e| conflict(e, &name))?
        .ok_or_else(|| AppError::not_found(format!("watchlist {id}")))
}

/// Appends an instrument (no-op when it is already there).
pub async fn add_item(
    ctx: &AppContext,
    actor: &User,
    id: i64,
    symbol: Symbol,
) -> AppResult<Watchlist> {
    let list = get(ctx, actor, id).await?;
    if list.symbols.contains(&symbol) {
        return Ok(list);
    }
    let mut symbols = list.symbols;
    symbols.push(symbol);
    set_items(ctx, actor, id, symbols).await
}

pub async fn remove_item(
    ctx: &AppContext,
    actor: &User,
    id: i64,
    symbol: &Symbol,
) -> AppResult<Watchlist> {
    let list = get(ctx, actor, id).await?;
    if !list.symbols.contains(symbol) {
        return Err(AppError::not_found(format!(
            "{symbol} in watchlist {:?}",
            list.name
        )));
    }
    let symbols = list.symbols.into_iter().filter(|s| s != symbol).collect();
    set_items(ctx, actor, id, symbols).await
}

/// Moves an item to `position` (0-based, clamped to the list).
pub async fn move_item(
    ctx: &AppContext,
    actor: &User,
    id: i64,
    symbol: &Symbol,
    position: usize,
) -> AppResult<Watchlist> {
    let list = get(ctx, actor, id).await?;
    let mut symbols = list.symbols;
    let Some(from) = symbols.iter().position(|s| s == symbol) else {
        return Err(AppError::not_found(format!(
            "{symbol} in watchlist {:?}",
            list.name
        )));
    };
    let item = symbols.remove(from);
    symbols.insert(position.min(symbols.len()), item);
    set_items(ctx, actor, id, symbols).await
}
