//! `/api/v1/instruments`: shared by every user; changes need the admin role.

use super::{
    AppState,
    dto::{InstrumentIn, InstrumentOut, InstrumentPatch},
    extract::{ApiJson, ApiQuery, AuthUser},
    problem::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use pricetrack_app::{
    instruments,
    ports::{InstrumentQuery, PageRequest},
};
use pricetrack_domain::{InstrumentKind, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn parse_symbol(raw: &str) -> ApiResult<Symbol> {
    Symbol::parse(raw).map_err(|e| ApiError::field("symbol", e.to_string()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only instruments of this kind.
    kind: Option<String>,
    /// Case-insensitive part of the symbol or name.
    q: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    offset: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentPage {
    pub items: Vec<InstrumentOut>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// List instruments, filtered by kind and searched by symbol or name.
#[utoipa::path(get, path = "/instruments", tag = "instruments", params(ListParams),
    responses((status = 200, body = InstrumentPage)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<InstrumentPage>> {
    let kind = p
        .kind
        .as_deref()
        .map(str::parse::<InstrumentKind>)
        .transpose()
        .map_err(|e| ApiError::field("kind", e.to_string()))?;
    let page = PageRequest::new(p.limit, p.offset);
    let query = InstrumentQuery {
        kind,
        search: p.q.filter(|q| !q.trim().is_empty()),
        page,
    };
    let result = instruments::list_instruments(&state.ctx, &query).await?;
    Ok(Json(InstrumentPage {
        items: result.items.iter().map(InstrumentOut::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Add an instrument (admin).
#[utoipa::path(post, path = "/instruments", tag = "instruments", request_body = InstrumentIn,
    responses((status = 201, body = InstrumentOut), (status = 409, description = "symbol exists"), (status = 422, description = "invalid field")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<InstrumentIn>,
) -> ApiResult<(StatusCode, Json<InstrumentOut>)> {
    let instrument = body.into_domain().map_err(ApiError::invalid)?;
    let created = instruments::create_instrument(&state.ctx, &user, instrument).await?;
    Ok((StatusCode::CREATED, Json(InstrumentOut::from(&created))))
}

/// One instrument. Symbols are URL-encoded (`GC%3DF`).
#[utoipa::path(get, path = "/instruments/{symbol}", tag = "instruments", params(("symbol" = String, Path)),
    responses((status = 200, body = InstrumentOut), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
) -> ApiResult<Json<InstrumentOut>> {
    let instrument = instruments::get_instrument(&state.ctx, &parse_symbol(&symbol)?).await?;
    Ok(Json(InstrumentOut::from(&instrument)))
}

/// Change an instrument's fields (admin). The symbol cannot change.
#[utoipa::path(patch, path = "/instruments/{symbol}", tag = "instruments", params(("symbol" = String, Path)),
    request_body = InstrumentPatch, responses((status = 200, body = InstrumentOut), (status = 404)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(symbol): Path<String>,
    ApiJson(patch): ApiJson<InstrumentPatch>,
) -> ApiResult<Json<InstrumentOut>> {
    let current = instruments::get_instrument(&state.ctx, &parse_symbol(&symbol)?).await?;
    let changed = patch.apply(current).map_err(ApiError::invalid)?;
    let updated = instruments::update_instrument(&state.ctx, &user, changed).await?;
    Ok(Json(InstrumentOut::from(&updated)))
}

/// Delete an instrument and its bars (admin); 409 while transactions use it.
#[utoipa::path(delete, path = "/instruments/{symbol}", tag = "instruments", params(("symbol" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "transactions reference it")), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(symbol): Path<String>,
) -> ApiResult<StatusCode> {
    instruments::delete_instrument(&state.ctx, &user, &parse_symbol(&symbol)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
