//! `/api/v1/watchlists`: each user's named, ordered lists of instruments.

use crate::http::{
    AppState,
    extract::{ApiJson, AuthUser},
    instruments::parse_symbol,
    problem::ApiResult,
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use pricetrack_app::{AppError, ports::Watchlist, watchlists};
use pricetrack_domain::Symbol;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct WatchlistOut {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    /// Symbols in the list's order.
    pub symbols: Vec<String>,
}

impl From<&Watchlist> for WatchlistOut {
    fn from(w: &Watchlist) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            created_at: w.created_at.to_string(),
            symbols: w.symbols.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Body of `POST /watchlists` and `PUT /watchlists/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistIn {
    pub name: Option<String>,
    /// The complete list, in order (replaces the items).
    pub symbols: Option<Vec<String>>,
}

/// Body of `POST /watchlists/{id}/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistItemIn {
    pub symbol: String,
    /// 0-based position; default: the end.
    pub position: Option<usize>,
}

fn symbols(raw: &[String]) -> ApiResult<Vec<Symbol>> {
    raw.iter().map(|s| parse_symbol(s)).collect()
}

/// Your watchlists, oldest first.
#[utoipa::path(get, path = "/watchlists", tag = "watchlists", responses((status = 200, body = Vec<WatchlistOut>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Vec<WatchlistOut>>> {
    let all = watchlists::list(&state.ctx, &user).await?;
    Ok(Json(all.iter().map(WatchlistOut::from).collect()))
}

/// Create a watchlist (optionally with its symbols).
#[utoipa::path(post, path = "/watchlists", tag = "watchlists", request_body = WatchlistIn,
    responses((status = 201, body = WatchlistOut), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<WatchlistIn>,
) -> ApiResult<(StatusCode, Json<WatchlistOut>)> {
    let name = body
        .name
        .ok_or_else(|| AppError::invalid_field("name", "is required"))?;
    let items = body.symbols.as_deref().map(symbols).transpose()?;
    let mut w = watchlists::create(&state.ctx, &user, &name).await?;
    if let Some(items) = items {
        match watchlists::set_items(&state.ctx, &user, w.id, items).await {
            Ok(updated) => w = updated,
            Err(e) => {
                // All or nothing.
                let _ = watchlists::delete(&state.ctx, &user, w.id).await;
                return Err(e.into());
            }
        }
    }
    Ok((StatusCode::CREATED, Json(WatchlistOut::from(&w))))
}

/// One of your watchlists.
#[utoipa::path(get, path = "/watchlists/{id}", tag = "watchlists", params(("id" = i64, Path)),
    responses((status = 200, body = WatchlistOut), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<WatchlistOut>> {
    Ok(Json(WatchlistOut::from(
        &watchlists::get(&state.ctx, &user, id).await?,
    )))
}

/// Rename a watchlist and/or replace (reorder) its items.
#[utoipa::path(put, path = "/watchlists/{id}", tag = "watchlists", params(("id" = i64, Path)), request_body = WatchlistIn,
    responses((status = 200, body = WatchlistOut), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<WatchlistIn>,
) -> ApiResult<Json<WatchlistOut>> {
    let items = body.symbols.as_deref().map(symbols).transpose()?;
    let mut w = watchlists::get(&state.ctx, &user, id).await?;
    if let Some(name) = body.name {
        w = watchlists::rename(&state.ctx, &user, id, &name).await?;
    }
    if let Some(items) = items {
        w = watchlists::set_items(&state.ctx, &user, id, items).await?;
    }
    Ok(Json(WatchlistOut::from(&w)))
}

/// Delete a watchlist.
#[utoipa::path(delete, path = "/watchlists/{id}", tag = "watchlists", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    watchlists::delete(&state.ctx, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add an instrument (at a position), or move it there if it is already listed.
#[utoipa::path(post, path = "/watchlists/{id}/items", tag = "watchlists", params(("id" = i64, Path)), request_body = WatchlistItemIn,
    responses((status = 200, body = WatchlistOut), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn add_item(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<WatchlistItemIn>,
) -> ApiResult<Json<WatchlistOut>> {
    let symbol = parse_symbol(&body.symbol)?;
    let mut w = watchlists::add_item(&state.ctx, &user, id, symbol.clone()).await?;
    if let Some(position) = body.position {
        w = watchlists::move_item(&state.ctx, &user, id, &symbol, position).await?;
    }
    Ok(Json(WatchlistOut::from(&w)))
}

/// Remove an instrument from a watchlist.
#[utoipa::path(delete, path = "/watchlists/{id}/items/{symbol}", tag = "watchlists", params(("id" = i64, Path), ("symbol" = String, Path)),
    responses((status = 200, body = WatchlistOut), (status = 404)), security(("bearer" = [])))]
pub async fn remove_item(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, symbol)): Path<(i64, String)>,
) -> ApiResult<Json<WatchlistOut>> {
    let symbol = parse_symbol(&symbol)?;
    let w = watchlists::remove_item(&state.ctx, &user, id, &symbol).await?;
    Ok(Json(WatchlistOut::from(&w)))
}
