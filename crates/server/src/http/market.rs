//! Market data: "refresh now", fetch status, corporate events and the quarantine.
//! Reading is open to every signed-in user; releasing or dropping quarantined
//! records changes shared data and needs the admin role.

use super::{
    AppState,
    dto::BarOut,
    extract::{ApiQuery, AuthUser},
    instruments::parse_symbol,
    problem::ApiResult,
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use jiff::Timestamp;
use pricetrack_app::{
    market::{self, JobRun, RefreshReport},
    market_data::CorporateEvent,
    ports::{FetchJob, PageRequest, QuarantinedBar, StoredCorporateEvent},
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn time(t: Timestamp) -> String {
    t.to_string()
}

fn opt_time(t: Option<Timestamp>) -> Option<String> {
    t.map(time)
}

/// One series' run in a refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobRunOut {
    pub interval: String,
    /// `backfill` or `refresh`.
    pub kind: String,
    pub provider: Option<String>,
    pub simulated: bool,
    pub requests: u32,
    pub bars_stored: u64,
    pub quarantined: u64,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    pub next_due_at: String,
    pub backfill_done: bool,
}

impl From<&JobRun> for JobRunOut {
    fn from(r: &JobRun) -> Self {
        Self {
            interval: r.interval.to_string(),
            kind: match r.kind {
                market::RunKind::Backfill => "backfill",
                market::RunKind::Refresh => "refresh",
            }
            .to_owned(),
            provider: r.provider.clone(),
            simulated: r.simulated,
            requests: r.requests,
            bars_stored: r.bars_stored,
            quarantined: r.quarantined,
            error: r.error.clone(),
            next_due_at: time(r.next_due_at),
            backfill_done: r.backfill_done,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshOut {
    pub symbol: String,
    pub succeeded: u64,
    pub failed: u64,
    /// Series another worker was fetching at that moment (not fetched again).
    pub busy: u64,
    pub requests: u64,
    pub bars_stored: u64,
    pub quarantined: u64,
    pub runs: Vec<JobRunOut>,
}

impl RefreshOut {
    fn new(symbol: String, r: &RefreshReport) -> Self {
        Self {
            symbol,
            succeeded: r.succeeded,
            failed: r.failed,
            busy: r.busy,
            requests: r.requests,
            bars_stored: r.bars_stored,
            quarantined: r.quarantined,
            runs: r.runs.iter().map(JobRunOut::from).collect(),
        }
    }
}

/// Fetch an instrument's prices now, whatever the market's hours (its daily
/// series, and intraday ones when someone watches it). A series without
/// history is backfilled first. Failures are reported in `runs` and recorded
/// in the status; 409 for instruments priced by hand.
#[utoipa::path(post, path = "/instruments/{symbol}/refresh", tag = "market data", params(("symbol" = String, Path)),
    responses((status = 200, body = RefreshOut), (status = 404), (status = 409, description = "priced by hand")),
    security(("bearer" = [])))]
pub async fn refresh(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
) -> ApiResult<Json<RefreshOut>> {
    let symbol = parse_symbol(&symbol)?;
    let report = market::refresh_now(&state.ctx, &symbol).await?;
    Ok(Json(RefreshOut::new(symbol.to_string(), &report)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackfillOut {
    pub done: bool,
    /// Oldest time covered so far.
    pub cursor: Option<String>,
    /// How far back the backfill goes; null: as far as the provider gives.
    pub floor: Option<String>,
}

/// The fetch state of one series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesStatusOut {
    pub interval: String,
    /// Inactive series keep their state but are not fetched (e.g. intraday
    /// bars of an instrument nobody watches any more).
    pub active: bool,
    /// The provider that answered last.
    pub provider: Option<String>,
    pub simulated: bool,
    pub last_attempt_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub next_due_at: String,
    /// Failures since the last success.
    pub failures: u32,
    pub failures_total: u64,
    /// A worker is fetching it right now.
    pub in_progress: bool,
    pub backfill: BackfillOut,
}

impl SeriesStatusOut {
    pub fn new(j: &FetchJob, now: Timestamp) -> Self {
        Self {
            interval: j.interval.to_string(),
            active: j.active,
            provider: j.provider.clone(),
            simulated: j.simulated,
            last_attempt_at: opt_time(j.last_attempt_at),
            last_success_at: opt_time(j.last_success_at),
            last_error: j.last_error.clone(),
            last_error_at: opt_time(j.last_error_at),
            next_due_at: time(j.next_due_at),
            failures: j.failures,
            failures_total: j.failures_total,
            in_progress: j.claimed_until.is_some_and(|u| u > now),
            backfill: BackfillOut {
                done: j.backfill.done,
                cursor: opt_time(j.backfill.cursor),
                floor: opt_time(j.backfill.floor),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    pub symbol: String,
    /// The instrument's own provider (`manual`: never fetched).
    pub provider: String,
    /// False for instruments priced by hand.
    pub fetched: bool,
    /// Prices are generated by the `demo` provider, never real market data.
    pub simulated: bool,
    /// Per interval.
    pub series: Vec<SeriesStatusOut>,
}

/// Fetch status per interval: provider used, last success, last error, next due time, failure count.
#[utoipa::path(get, path = "/instruments/{symbol}/status", tag = "market data", params(("symbol" = String, Path)),
    responses((status = 200, body = StatusOut), (status = 404)), security(("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
) -> ApiResult<Json<StatusOut>> {
    let symbol = parse_symbol(&symbol)?;
    let s = market::status::instrument_status(&state.ctx, &symbol).await?;
    let now = state.ctx.clock.now();
    Ok(Json(StatusOut {
        symbol: symbol.to_string(),
        provider: s.instrument.provider.to_string(),
        fetched: s.fetched,
        simulated: s.simulated,
        series: s
            .series
            .iter()
            .map(|j| SeriesStatusOut::new(j, now))
            .collect(),
    }))
}

/// A dividend or split of an instrument.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorporateEventOut {
    /// `dividend` or `split`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Ex-date (exchange-local trading date), `YYYY-MM-DD`.
    pub date: String,
    /// Dividend per share in the instrument's currency (decimal string).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// Split: `numerator` new shares for every `denominator` old ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub numerator: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub denominator: Option<Decimal>,
    /// Split as `N:M` (e.g. `4:1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    /// The provider that reported it.
    pub source: String,
    /// When it was first recorded.
    pub recorded_at: String,
}

impl From<&StoredCorporateEvent> for CorporateEventOut {
    fn from(e: &StoredCorporateEvent) -> Self {
        let (amount, split) = match &e.event {
            CorporateEvent::Dividend { amount, .. } => (Some(*amount), None),
            CorporateEvent::Split { ratio, .. } => (None, Some(*ratio)),
        };
        Self {
            kind: e.event.kind().to_owned(),
            date: e.event.date().to_string(),
            amount,
            numerator: split.map(|r| r.numerator()),
            denominator: split.map(|r| r.denominator()),
            ratio: split.map(|r| r.to_string()),
            source: e.source.clone(),
            recorded_at: time(e.recorded_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsOut {
    pub symbol: String,
    /// The currency of dividend amounts.
    pub currency: String,
    /// Oldest first.
    pub events: Vec<CorporateEventOut>,
}

/// Dividends and splits the providers reported for an instrument, oldest first.
#[utoipa::path(get, path = "/instruments/{symbol}/events", tag = "market data", params(("symbol" = String, Path)),
    responses((status = 200, body = EventsOut), (status = 404)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
) -> ApiResult<Json<EventsOut>> {
    let symbol = parse_symbol(&symbol)?;
    let (instrument, events) = market::events::list(&state.ctx, &symbol).await?;
    Ok(Json(EventsOut {
        symbol: symbol.to_string(),
        currency: instrument.currency.to_string(),
        events: events.iter().map(CorporateEventOut::from).collect(),
    }))
}

/// A record held back by the validator.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinedOut {
    pub id: i64,
    pub symbol: String,
    pub interval: String,
    /// Bar start, when the record got that far.
    pub time: Option<String>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub volume: Option<f64>,
    /// The record as received.
    pub raw: String,
    /// A provider name, `api` or `import`.
    pub source: String,
    /// `price_jump`, `suspected_unadjusted_split`, `range_jump`, `in_future`,
    /// `before_listing`, `invalid`, `currency_mismatch`, `wrong_series`,
    /// `disagrees_with_quote`.
    pub reason_code: String,
    pub reason: String,
    pub quarantined_at: String,
}

impl From<&QuarantinedBar> for QuarantinedOut {
    fn from(q: &QuarantinedBar) -> Self {
        let d = &q.draft;
        Self {
            id: q.id,
            symbol: d.symbol.to_string(),
            interval: d.interval.to_string(),
            time: opt_time(d.time),
            open: d.values.map(|v| v.open),
            high: d.values.map(|v| v.high),
            low: d.values.map(|v| v.low),
            close: d.values.map(|v| v.close),
            volume: d.values.map(|v| v.volume),
            raw: d.raw.clone(),
            source: d.source.clone(),
            reason_code: d.reason_code.clone(),
            reason: d.reason.clone(),
            quarantined_at: time(q.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinePage {
    pub items: Vec<QuarantinedOut>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QuarantineParams {
    /// Only records of this instrument.
    symbol: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    offset: Option<u64>,
}

/// Quarantined records, newest first.
#[utoipa::path(get, path = "/quarantine", tag = "market data", params(QuarantineParams),
    responses((status = 200, body = QuarantinePage), (status = 404, description = "unknown symbol")),
    security(("bearer" = [])))]
pub async fn list_quarantine(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(p): ApiQuery<QuarantineParams>,
) -> ApiResult<Json<QuarantinePage>> {
    let symbol = p.symbol.as_deref().map(parse_symbol).transpose()?;
    let page = PageRequest::new(p.limit, p.offset);
    let found = market::quarantine::list(&state.ctx, symbol.as_ref(), page).await?;
    Ok(Json(QuarantinePage {
        items: found.items.iter().map(QuarantinedOut::from).collect(),
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Store a quarantined bar as it is and remove it from quarantine (admin).
#[utoipa::path(post, path = "/quarantine/{id}/release", tag = "market data", params(("id" = i64, Path)),
    responses((status = 200, body = BarOut), (status = 403), (status = 404), (status = 422, description = "not a storable bar")),
    security(("bearer" = [])))]
pub async fn release_quarantined(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<BarOut>> {
    let bar = market::quarantine::release(&state.ctx, &user, id).await?;
    Ok(Json(BarOut::from(&bar)))
}

/// Drop a quarantined record without storing it (admin).
#[utoipa::path(delete, path = "/quarantine/{id}", tag = "market data", params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn drop_quarantined(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    market::quarantine::drop_entry(&state.ctx, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
