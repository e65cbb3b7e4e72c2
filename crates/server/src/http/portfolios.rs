//! `/api/v1/portfolios`: each user's own portfolios, their transactions and holdings.

use super::{
    AppState,
    dto::{PortfolioIn, PortfolioOut, TransactionIn, TransactionOut, parse_time},
    extract::{ApiJson, ApiQuery, AuthUser, decode_json_value},
    instruments::parse_symbol,
    problem::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use pricetrack_app::{
    FieldError, portfolios,
    ports::{PageRequest, PortfolioDraft, PortfolioSettings, TransactionFilter},
};
use pricetrack_domain::{Currency, PortfolioId, TransactionId, TransactionType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn draft(body: PortfolioIn) -> ApiResult<(PortfolioDraft, Option<PortfolioSettings>)> {
    let base_currency = match body.base_currency.as_deref() {
        Some(c) => {
            Currency::parse(c).map_err(|e| ApiError::field("base_currency", e.to_string()))?
        }
        None => Currency::USD,
    };
    let settings = body
        .cost_basis_method
        .as_deref()
        .map(|m| {
            pricetrack_app::portfolio_analytics::parse_cost_basis_method("cost_basis_method", m)
                .map(|cost_basis_method| PortfolioSettings { cost_basis_method })
        })
        .transpose()?;
    Ok((
        PortfolioDraft {
            name: body.name,
            base_currency,
        },
        settings,
    ))
}

/// Your portfolios, by name.
#[utoipa::path(get, path = "/portfolios", tag = "portfolios", responses((status = 200, body = Vec<PortfolioOut>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Vec<PortfolioOut>>> {
    let all = portfolios::list_portfolios(&state.ctx, &user).await?;
    Ok(Json(all.iter().map(PortfolioOut::from).collect()))
}

/// Create a portfolio.
#[utoipa::path(post, path = "/portfolios", tag = "portfolios", request_body = PortfolioIn,
    responses((status = 201, body = PortfolioOut), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<PortfolioIn>,
) -> ApiResult<(StatusCode, Json<PortfolioOut>)> {
    let (draft, settings) = draft(body)?;
    let created = portfolios::create_portfolio_with_settings(
        &state.ctx,
        &user,
        draft,
        settings.unwrap_or_default(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PortfolioOut::from(&created))))
}

/// One of your portfolios.
#[utoipa::path(get, path = "/portfolios/{id}", tag = "portfolios", params(("id" = i64, Path)),
    responses((status = 200, body = PortfolioOut), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PortfolioOut>> {
    let p = portfolios::get_portfolio(&state.ctx, &user, PortfolioId(id)).await?;
    Ok(Json(PortfolioOut::from(&p)))
}

/// Rename a portfolio, change its base currency or its cost-basis method.
#[utoipa::path(put, path = "/portfolios/{id}", tag = "portfolios", params(("id" = i64, Path)), request_body = PortfolioIn,
    responses((status = 200, body = PortfolioOut), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<PortfolioIn>,
) -> ApiResult<Json<PortfolioOut>> {
    let (draft, settings) = draft(body)?;
    let mut p = portfolios::update_portfolio(&state.ctx, &user, PortfolioId(id), draft).await?;
    if let Some(settings) = settings {
        p = portfolios::set_portfolio_settings(&state.ctx, &user, p.id, settings).await?;
    }
    Ok(Json(PortfolioOut::from(&p)))
}

/// Delete a portfolio with its transactions.
#[utoipa::path(delete, path = "/portfolios/{id}", tag = "portfolios", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    portfolios::delete_portfolio(&state.ctx, &user, PortfolioId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TransactionParams {
    /// Only transactions about this instrument.
    symbol: Option<String>,
    /// Only this type (buy, sell, dividend, …).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Inclusive start (RFC 3339 or date).
    from: Option<String>,
    /// Inclusive end (RFC 3339 or date).
    to: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionPage {
    pub items: Vec<TransactionOut>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// A portfolio's transactions in time order, filtered and paginated.
#[utoipa::path(get, path = "/portfolios/{id}/transactions", tag = "transactions", params(("id" = i64, Path), TransactionParams),
    responses((status = 200, body = TransactionPage), (status = 404)), security(("bearer" = [])))]
pub async fn list_transactions(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiQuery(p): ApiQuery<TransactionParams>,
) -> ApiResult<Json<TransactionPage>> {
    let filter = TransactionFilter {
        symbol: p.symbol.as_deref().map(parse_symbol).transpose()?,
        kind: p
            .kind
            .as_deref()
            .map(str::parse::<TransactionType>)
            .transpose()
            .map_err(|e| ApiError::field("type", e.to_string()))?,
        from: p
            .from
            .as_deref()
            .map(parse_time)
            .transpose()
            .map_err(|e| ApiError::field("from", e))?,
        to: p
            .to
            .as_deref()
            .map(parse_time)
            .transpose()
            .map_err(|e| ApiError::field("to", e))?,
    };
    let page = PageRequest::new(p.limit, p.offset);
    let result =
        portfolios::list_transactions(&state.ctx, &user, PortfolioId(id), &filter, page).await?;
    Ok(Json(TransactionPage {
        items: result.items.iter().map(TransactionOut::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

fn parse_many(items: Vec<TransactionIn>) -> ApiResult<Vec<pricetrack_domain::Transaction>> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match item.into_domain() {
            Ok(tx) => parsed.push(tx),
            Err(errs) => errors.extend(errs.into_iter().map(|e| FieldError {
                index: Some(index),
                ..e
            })),
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// Record a transaction (or an array, all or nothing). A sell of more than is held is a 422 saying how much is held.
#[utoipa::path(post, path = "/portfolios/{id}/transactions", tag = "transactions", params(("id" = i64, Path)),
    request_body = TransactionIn, responses((status = 201, body = TransactionOut), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn create_transaction(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    // Decode by shape first so errors name the field rather than "did not match any variant".
    let (items, single) = match body {
        serde_json::Value::Array(_) => (decode_json_value::<Vec<TransactionIn>>(body)?, false),
        other => (vec![decode_json_value::<TransactionIn>(other)?], true),
    };
    let txs = parse_many(items)?;
    let recorded = portfolios::record_transactions(&state.ctx, &user, PortfolioId(id), txs).await?;
    let out: Vec<TransactionOut> = recorded.iter().map(TransactionOut::from).collect();
    let value = if single {
        serde_json::to_value(&out[0])
    } else {
        serde_json::to_value(&out)
    }
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((StatusCode::CREATED, Json(value)))
}

/// One transaction.
#[utoipa::path(get, path = "/portfolios/{id}/transactions/{tx}", tag = "transactions", params(("id" = i64, Path), ("tx" = i64, Path)),
    responses((status = 200, body = TransactionOut), (status = 404)), security(("bearer" = [])))]
pub async fn get_transaction(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, tx)): Path<(i64, i64)>,
) -> ApiResult<Json<TransactionOut>> {
    let r =
        portfolios::get_transaction(&state.ctx, &user, PortfolioId(id), TransactionId(tx)).await?;
    Ok(Json(TransactionOut::from(&r)))
}

/// Replace a transaction; the ledger is re-checked as a whole.
#[utoipa::path(put, path = "/portfolios/{id}/transactions/{tx}", tag = "transactions", params(("id" = i64, Path), ("tx" = i64, Path)),
    request_body = TransactionIn, responses((status = 200, body = TransactionOut), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn update_transaction(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, tx)): Path<(i64, i64)>,
    ApiJson(body): ApiJson<TransactionIn>,
) -> ApiResult<Json<TransactionOut>> {
    let parsed = body.into_domain().map_err(ApiError::invalid)?;
    let r = portfolios::replace_transaction(
        &state.ctx,
        &user,
        PortfolioId(id),
        TransactionId(tx),
        parsed,
    )
    .await?;
    Ok(Json(TransactionOut::from(&r)))
}

/// Delete a transaction (refused if a later sell would then exceed the holding).
#[utoipa::path(delete, path = "/portfolios/{id}/transactions/{tx}", tag = "transactions", params(("id" = i64, Path), ("tx" = i64, Path)),
    responses((status = 204), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn delete_transaction(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, tx)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    portfolios::delete_transaction(&state.ctx, &user, PortfolioId(id), TransactionId(tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}
