//! Bars: range reads, bulk ingest (JSON or CSV), hand-entered prices and quotes.

use super::{
    AppState,
    dto::{BarOut, DecimalInput},
    extract::{ApiJson, ApiQuery, AuthUser},
    instruments::parse_symbol,
    problem::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use pricetrack_app::{
    bar_input::{self, CsvBarReader, RowResult, SymbolSource},
    bars::{self, IngestReport, InvalidRows},
    ports::BarRange,
};
use pricetrack_domain::{Interval, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Reads without a limit return at most this many bars.
const DEFAULT_READ_LIMIT: u32 = 10_000;
const MAX_READ_LIMIT: u32 = 100_000;

pub fn parse_interval(raw: &str) -> ApiResult<Interval> {
    raw.parse::<Interval>()
        .map_err(|e| ApiError::field("interval", e.to_string()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BarsParams {
    /// 1m, 5m, 15m, 1h, 1d (default), 1wk, 1mo.
    interval: Option<String>,
    /// Inclusive start: RFC 3339, a date, or unix seconds.
    from: Option<String>,
    /// Inclusive end.
    to: Option<String>,
    /// With `from`: the first N bars from it; otherwise the last N up to `to`. Default 10000, max 100000.
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BarSeries {
    pub symbol: String,
    pub interval: String,
    /// Ascending by time.
    pub bars: Vec<BarOut>,
}

fn parse_bound(
    field: &str,
    raw: Option<&str>,
    interval: Interval,
) -> ApiResult<Option<jiff::Timestamp>> {
    raw.map(|r| bar_input::parse_bar_time(r, interval).map_err(|e| ApiError::field(field, e)))
        .transpose()
}

/// Bars of one instrument in ascending time.
#[utoipa::path(get, path = "/instruments/{symbol}/bars", tag = "bars", params(("symbol" = String, Path), BarsParams),
    responses((status = 200, body = BarSeries), (status = 404)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
    ApiQuery(p): ApiQuery<BarsParams>,
) -> ApiResult<Response> {
    let symbol = parse_symbol(&symbol)?;
    let interval = parse_interval(p.interval.as_deref().unwrap_or("1d"))?;
    let limit = match p.limit {
        Some(0) => return Err(ApiError::field("limit", "must be at least 1")),
        Some(n) if n > MAX_READ_LIMIT => {
            return Err(ApiError::field(
                "limit",
                format!("must be at most {MAX_READ_LIMIT}"),
            ));
        }
        Some(n) => n,
        None => DEFAULT_READ_LIMIT,
    };
    let range = BarRange {
        from: parse_bound("from", p.from.as_deref(), interval)?,
        to: parse_bound("to", p.to.as_deref(), interval)?,
        limit: Some(limit),
    };
    let found = bars::bars(&state.ctx, &symbol, interval, range).await?;
    let body = super::bar_json::series(&symbol, interval, &found);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// The interval of every bar in the upload (required).
    interval: Option<String>,
    /// Store the valid rows and report the others instead of rejecting the upload.
    #[serde(default)]
    skip_invalid: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResponse {
    pub inserted: u64,
    pub replaced: u64,
    pub rejected: u64,
    /// Each rejected row: `index` (0-based), `line` (CSV), `field` and `reason`.
    #[schema(value_type = Vec<Object>)]
    pub rejections: Vec<pricetrack_app::FieldError>,
    /// Rows that were well-formed but implausible (a jump, a future time):
    /// held in quarantine (`GET /quarantine`) instead of stored.
    pub quarantined: u64,
    /// Each quarantined row: `index`, `line` (CSV), `symbol`, `time`, the
    /// quarantine `id`, `reason_code` and `reason`.
    #[schema(value_type = Vec<Object>)]
    pub quarantined_rows: Vec<pricetrack_app::bars::QuarantinedRow>,
}

impl From<IngestReport> for IngestResponse {
    fn from(r: IngestReport) -> Self {
        Self {
            inserted: r.inserted,
            replaced: r.replaced,
            rejected: r.rejected,
            rejections: r.rejections,
            quarantined: r.quarantined,
            quarantined_rows: r.quarantined_rows,
        }
    }
}

enum BodyFormat {
    Json,
    Csv,
}

fn body_format(headers: &HeaderMap) -> ApiResult<BodyFormat> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "text/csv" => Ok(BodyFormat::Csv),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type {other:?} is not supported; send application/json or text/csv"),
        )),
    }
}

/// Parses on a blocking thread: a 100,000-bar upload takes milliseconds of CPU.
async fn parse_rows(
    body: Bytes,
    format: BodyFormat,
    interval: Interval,
    symbols: SymbolSource,
) -> ApiResult<Vec<RowResult>> {
    tokio::task::spawn_blocking(move || match format {
        BodyFormat::Json => bar_input::parse_json_bars(&body, interval, &symbols)
            .map_err(|e| ApiError::invalid(vec![e])),
        BodyFormat::Csv => {
            let reader = CsvBarReader::new(body.as_ref(), interval, symbols)
                .map_err(|e| ApiError::invalid(vec![e]))?;
            Ok(reader.collect())
        }
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("parser failed: {e}"),
        )
    })?
}

async fn ingest(
    state: &AppState,
    params: IngestParams,
    headers: &HeaderMap,
    body: Bytes,
    symbols: SymbolSource,
) -> ApiResult<Json<IngestResponse>> {
    let interval = match params.interval.as_deref() {
        Some(i) => parse_interval(i)?,
        None => {
            return Err(ApiError::field(
                "interval",
                "is required, e.g. ?interval=1d",
            ));
        }
    };
    let format = body_format(headers)?;
    let rows = parse_rows(body, format, interval, symbols).await?;
    let invalid = if params.skip_invalid {
        InvalidRows::Skip
    } else {
        InvalidRows::RejectUpload
    };
    let report = bars::ingest_bars(&state.ctx, rows, invalid).await?;
    Ok(Json(report.into()))
}

/// Bulk ingest for one instrument: a JSON array of bars or CSV with header
/// `time,open,high,low,close,volume`. Idempotent: a bar at an existing time replaces it.
/// Malformed rows reject the whole upload (422, each row named) unless `skip_invalid=true`.
#[utoipa::path(post, path = "/instruments/{symbol}/bars", tag = "bars", params(("symbol" = String, Path), IngestParams),
    request_body(content = Vec<Object>, content_type = "application/json", description = "JSON array of {time, open, high, low, close, volume}, or text/csv"),
    responses((status = 200, body = IngestResponse), (status = 404), (status = 413), (status = 415), (status = 422)), security(("bearer" = [])))]
pub async fn ingest_one(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
    ApiQuery(params): ApiQuery<IngestParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestResponse>> {
    let symbol = parse_symbol(&symbol)?;
    pricetrack_app::instruments::get_instrument(&state.ctx, &symbol).await?;
    ingest(&state, params, &headers, body, SymbolSource::Fixed(symbol)).await
}

/// Bulk ingest for feeds that mix instruments: CSV `symbol,time,open,high,low,close,volume`
/// or JSON objects with a `symbol` field. Rows for unknown symbols are rejected one by one;
/// the rest is stored.
#[utoipa::path(post, path = "/bars", tag = "bars", params(IngestParams),
    request_body(content = Vec<Object>, content_type = "application/json", description = "JSON array of {symbol, time, open, high, low, close, volume}, or text/csv"),
    responses((status = 200, body = IngestResponse), (status = 413), (status = 415), (status = 422)), security(("bearer" = [])))]
pub async fn ingest_mixed(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(params): ApiQuery<IngestParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestResponse>> {
    ingest(&state, params, &headers, body, SymbolSource::PerRow).await
}

/// A hand-entered price.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualPriceIn {
    /// The date the price is for (YYYY-MM-DD); not in the future.
    pub date: String,
    #[schema(value_type = String, example = "8450.00")]
    pub price: DecimalInput,
}

/// Record a hand-entered price for an item without a market (stored as a daily bar).
#[utoipa::path(post, path = "/instruments/{symbol}/prices", tag = "bars", params(("symbol" = String, Path)),
    request_body = ManualPriceIn, responses((status = 201, body = BarOut), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn manual_price(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
    ApiJson(body): ApiJson<ManualPriceIn>,
) -> ApiResult<(StatusCode, Json<BarOut>)> {
    let symbol: Symbol = parse_symbol(&symbol)?;
    let date = body.date.parse::<jiff::civil::Date>().map_err(|_| {
        ApiError::field(
            "date",
            format!("{:?} is not a date (YYYY-MM-DD)", body.date),
        )
    })?;
    let price: f64 = body
        .price
        .0
        .trim()
        .parse()
        .map_err(|_| ApiError::field("price", format!("{:?} is not a number", body.price.0)))?;
    let (bar, _) = bars::record_manual_price(&state.ctx, &symbol, date, price).await?;
    Ok((StatusCode::CREATED, Json(BarOut::from(&bar))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteOut {
    pub symbol: String,
    pub currency: String,
    /// Close of the most recent bar of any interval.
    pub price: f64,
    /// Start of that bar.
    pub time: String,
    pub interval: String,
    /// Last daily close before the price's trading date.
    pub previous_close: Option<f64>,
    pub change: Option<f64>,
    /// Change ÷ previous close, as a fraction (0.01 = 1 %).
    pub change_pct: Option<f64>,
}

/// Last price, its time, previous close, change and change %.
#[utoipa::path(get, path = "/instruments/{symbol}/quote", tag = "bars", params(("symbol" = String, Path)),
    responses((status = 200, body = QuoteOut), (status = 404)), security(("bearer" = [])))]
pub async fn quote(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(symbol): Path<String>,
) -> ApiResult<Json<QuoteOut>> {
    let q = bars::quote(&state.ctx, &parse_symbol(&symbol)?).await?;
    Ok(Json(QuoteOut {
        symbol: q.symbol.to_string(),
        currency: q.currency.to_string(),
        price: q.price,
        time: q.time.to_string(),
        interval: q.interval.to_string(),
        previous_close: q.previous_close,
        change: q.change,
        change_pct: q.change_pct,
    }))
}
