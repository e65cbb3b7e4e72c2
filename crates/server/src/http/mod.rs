//! The HTTP API: routes, shared state, middleware.

pub mod account;
pub mod analytics;
mod bar_json;
pub mod bars;
pub mod dto;
pub mod extract;
pub mod imports;
pub mod instruments;
pub mod market;
pub mod portfolios;
pub mod problem;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use pricetrack_app::AppContext;
use problem::ApiError;
use std::sync::Arc;
use tower_http::{
    catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub ctx: AppContext,
    pub settings: Arc<crate::config::Settings>,
    /// Fired when the server starts shutting down; live streams end on it.
    pub shutdown: crate::shutdown::Shutdown,
}

impl AppState {
    pub fn new(ctx: AppContext, settings: Arc<crate::config::Settings>) -> Self {
        Self {
            ctx,
            settings,
            shutdown: crate::shutdown::Shutdown::new(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Pricetrack API", description = "Self-hosted price tracker and portfolio manager. \
        Every route under /api/v1 needs `Authorization: Bearer <token>`. Errors are RFC 9457 problem documents. \
        Decimal amounts are JSON strings."),
    modifiers(&BearerAuth),
    tags((name = "instruments"), (name = "bars"), (name = "portfolios"), (name = "transactions"), (name = "account"), (name = "watchlists"), (name = "market data"),
        (name = "analytics", description = "Portfolio figures for one portfolio (`/portfolios/{id}/…`) or all of yours combined (`/portfolios/all/…`). TWR convention: deposits count at the start of their day, withdrawals at its end."),
        (name = "import/export"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The `/api/v1` routes and their OpenAPI document, built from the same declarations.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .routes(routes!(instruments::list, instruments::create))
        .routes(routes!(
            instruments::get,
            instruments::update,
            instruments::delete
        ))
        .routes(routes!(bars::list, bars::ingest_one))
        .routes(routes!(bars::ingest_mixed))
        .routes(routes!(bars::manual_price))
        .routes(routes!(bars::quote))
        .routes(routes!(market::refresh))
        .routes(routes!(market::status))
        .routes(routes!(market::events))
        .routes(routes!(market::list_quarantine))
        .routes(routes!(market::release_quarantined))
        .routes(routes!(market::drop_quarantined))
        .routes(routes!(portfolios::list, portfolios::create))
        .routes(routes!(
            portfolios::get,
            portfolios::update,
            portfolios::delete
        ))
        .routes(routes!(analytics::holdings))
        .routes(routes!(analytics::summary))
        .routes(routes!(analytics::holding_summary))
        .routes(routes!(analytics::performance))
        .routes(routes!(analytics::allocation))
        .routes(routes!(analytics::income))
        .routes(routes!(analytics::realized))
        .routes(routes!(analytics::returns))
        .routes(routes!(analytics::contributions))
        .routes(routes!(imports::import))
        .routes(routes!(imports::export))
        .routes(routes!(
            portfolios::list_transactions,
            portfolios::create_transaction
        ))
        .routes(routes!(
            portfolios::get_transaction,
            portfolios::update_transaction,
            portfolios::delete_transaction
        ))
        .routes(routes!(account::me))
        .routes(routes!(account::list_tokens, account::create_token))
        .routes(routes!(account::revoke_token))
        .routes(routes!(account::list_users, account::create_user))
        .routes(routes!(crate::ui::api::list, crate::ui::api::create))
        .routes(routes!(
            crate::ui::api::get,
            crate::ui::api::update,
            crate::ui::api::delete
        ))
        .routes(routes!(crate::ui::api::add_item))
        .routes(routes!(crate::ui::api::remove_item))
        .routes(routes!(crate::ui::stream::stream))
        .split_for_parts();
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    (router, doc)
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = Arc::new(doc);
    let max_body_mb = state.settings.max_body_mb;
    let max_body = usize::try_from(max_body_mb * 1024 * 1024).unwrap_or(usize::MAX);
    let api = api
        .route("/openapi.json", get(move || openapi_json(doc.clone())))
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(move |response: Response| {
            problem::problem_for_framework_errors(max_body_mb, response)
        }));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::ui::router(state.clone()))
        .with_state(state)
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; it was logged",
            )
            .into_response()
        }))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(TraceLayer::new_for_http())
}

async fn openapi_json(doc: Arc<utoipa::openapi::OpenApi>) -> Response {
    Json(doc.as_ref().clone()).into_response()
}

async fn api_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API route; see /api/v1/openapi.json",
    )
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.ctx.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Serves until `shutdown` resolves (e.g. Ctrl-C) or the state's own signal
/// fires, then finishes the requests in flight. Either way the state's signal
/// fires first, so live streams end instead of holding the shutdown open.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let signal = state.shutdown.clone();
    // Ends with the shutdown signal; dropping its receiver stops the listener.
    let _relay = crate::replicas::relay_foreign_bars(state.ctx.clone(), signal.clone());
    let stop = async move {
        tokio::select! {
            () = shutdown => {},
            () = signal.triggered() => {},
        }
        signal.trigger();
    };
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}
