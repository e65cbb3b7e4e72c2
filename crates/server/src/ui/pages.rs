//! Dashboard, instruments, watchlists and settings pages.

use super::{
    Layout, Session, UiError, UiResult, chart, format,
    portfolio_pages::{HeldQuote, PeriodChoice, portfolio_figures},
    render,
    views::{self, QuoteRow},
};
use crate::http::{AppState, dto::InstrumentIn};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use jiff::SignedDuration;
use pricetrack_app::{
    AppError, FieldError, auth, bars, instruments, market,
    portfolio_analytics::Scope,
    ports::{BarRange, InstrumentQuery, PageRequest, Theme, UserSettings, Watchlist},
    sessions,
    settings::{self as app_settings, KEYED_PROVIDERS, METHODS, PROVIDERS, method_as_str},
    watchlists,
};
use pricetrack_domain::{
    Currency, Extractor, Instrument, InstrumentKind, Interval, NumberFormat, Symbol, UrlSource,
};
use serde::Deserialize;
use std::collections::HashMap;

pub(super) async fn user_settings(state: &AppState, s: &Session) -> UiResult<UserSettings> {
    Ok(app_settings::get(&state.ctx, s.user()).await?)
}

fn errors_by_field(errors: &[FieldError]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for e in errors {
        let key = e.field.clone().unwrap_or_else(|| "form".to_owned());
        map.entry(key)
            .and_modify(|v: &mut String| {
                v.push_str("; ");
                v.push_str(&e.reason);
            })
            .or_insert_with(|| e.reason.clone());
    }
    map
}

/// Field errors for a form, or the whole error as a form-level message.
pub(super) fn form_errors(e: AppError) -> Result<HashMap<String, String>, UiError> {
    match e {
        AppError::Invalid(errors) => Ok(errors_by_field(&errors)),
        AppError::Conflict(_) | AppError::Ledger(_) | AppError::InstrumentInUse { .. } => {
            Ok(HashMap::from([("form".to_owned(), e.to_string())]))
        }
        e => Err(e.into()),
    }
}

// ---------------------------------------------------------------- dashboard

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    total: String,
    day_change: String,
    day_pct: String,
    day_dir: &'static str,
    has_portfolios: bool,
    analytics_note: Option<String>,
    periods: Vec<(&'static str, bool)>,
    chart: String,
    watchlist_name: String,
    watchlist_id: i64,
    rows: Vec<QuoteRow>,
    movers: Vec<views::Mover>,
}

/// The dashboard's parts that follow prices (total, today's change, top
/// movers), re-fetched by the script when a bar of a shown symbol arrives.
#[derive(Template)]
#[template(path = "dashboard_live.html")]
struct DashboardLive {
    has_portfolios: bool,
    total: String,
    day_change: String,
    day_pct: String,
    day_dir: &'static str,
    movers: Vec<views::Mover>,
}

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    period: Option<String>,
    /// Chart fragments: the width the chart's container has (small screens).
    width: Option<u32>,
}

async fn dashboard_series(
    state: &AppState,
    s: &Session,
    settings: &UserSettings,
    period: PeriodChoice,
) -> UiResult<(Option<DashboardTotals>, Option<String>)> {
    let ctx = &state.ctx;
    let portfolios = pricetrack_app::portfolios::list_portfolios(ctx, s.user()).await?;
    if portfolios.is_empty() {
        return Ok((None, None));
    }
    // All portfolios as one ledger in the user's base currency, from the
    // analytics cache shared with the API.
    let scope = Scope::All {
        currency: Some(settings.base_currency),
        method: Some(settings.cost_basis_method),
    };
    let mut totals = DashboardTotals::default();
    let mut note = None;
    match portfolio_figures(ctx, s.user(), scope, settings.base_currency, period).await? {
        Ok(f) => {
            totals.value = f.total_value;
            totals.day_change = f.day_change;
            totals.previous = f.total_value - f.day_change;
            totals.series = f.series.into_iter().map(|(t, v, _)| (t, v)).collect();
            totals.held = f.held;
            totals.intraday = f.intraday;
        }
        Err(e) => note = Some(e),
    }
    Ok((Some(totals), note))
}

#[derive(Default)]
struct DashboardTotals {
    value: f64,
    day_change: f64,
    previous: f64,
    series: std::collections::BTreeMap<i64, f64>,
    held: Vec<HeldQuote>,
    /// The series is of intraday points (1D).
    intraday: bool,
}

const DASHBOARD_CHART_WIDTH: u32 = 760;

fn dashboard_chart_svg(
    totals: &DashboardTotals,
    currency: &str,
    period: PeriodChoice,
    width: u32,
) -> String {
    let points: Vec<chart::Point> = totals
        .series
        .iter()
        .map(|(t, v)| chart::Point { t: *t, v: *v })
        .collect();
    let table = views::DataTable::of_lines(&[("Total value", &points)], currency, totals.intraday);
    let svg = chart::line_chart(
        &[("primary", "Total value", points)],
        &chart::ChartSpec {
            id: "dash-chart",
            width,
            height: 240,
            title: &format!("Total value across portfolios, {}", period.label()),
            currency,
            mode: chart::Mode::Line,
            volume: false,
            intraday: totals.intraday,
        },
    );
    svg + &table.html()
}

/// Everything the dashboard shows, for the page and its live parts.
struct DashboardData {
    totals: Option<DashboardTotals>,
    analytics_note: Option<String>,
    watchlist: Option<Watchlist>,
    rows: Vec<QuoteRow>,
    movers: Vec<views::Mover>,
    banners: Vec<String>,
    stream: String,
    headline: Headline,
}

struct Headline {
    total: String,
    day_change: String,
    day_pct: String,
    day_dir: &'static str,
}

async fn dashboard_data(
    state: &AppState,
    s: &Session,
    settings: &UserSettings,
    period: PeriodChoice,
) -> UiResult<DashboardData> {
    let ctx = &state.ctx;
    let lists = watchlists::list(ctx, s.user()).await?;
    let shown = settings
        .dashboard_watchlist
        .and_then(|id| lists.iter().find(|w| w.id == id))
        .or(lists.first())
        .cloned();
    let rows = match &shown {
        Some(w) => views::quote_rows(ctx, &w.symbols).await?,
        None => Vec::new(),
    };
    let (totals, analytics_note) = dashboard_series(state, s, settings, period).await?;
    let held: &[HeldQuote] = totals.as_ref().map_or(&[], |t| t.held.as_slice());
    // Movers, banners and live prices cover the watchlist and the holdings,
    // whose quotes were already read for today's change.
    let movers = views::top_movers(
        rows.iter()
            .filter(|r| r.has_price)
            .map(views::Mover::from)
            .chain(
                held.iter()
                    .filter_map(|h| h.quote.as_ref().and_then(views::Mover::from_quote)),
            ),
        5,
    );
    let banners = views::banners_for(
        rows.iter()
            .map(views::DataFlags::from)
            .chain(held.iter().map(|h| h.flags(ctx))),
    );
    let mut stream: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
    stream.extend(held.iter().map(|h| h.symbol.as_str()));
    let mut seen = std::collections::HashSet::new();
    stream.retain(|s| seen.insert(*s));
    let stream = stream.join(",");
    let cur = settings.base_currency.as_str();
    let headline = match &totals {
        Some(t) => Headline {
            total: format::money_f(t.value, cur),
            day_change: format::signed_money_f(t.day_change, cur),
            day_pct: if t.previous.abs() > f64::EPSILON {
                format::pct_arrow(t.day_change / t.previous)
            } else {
                "—".to_owned()
            },
            day_dir: format::direction(t.day_change),
        },
        None => Headline {
            total: format::money_f(0.0, cur),
            day_change: "—".into(),
            day_pct: "—".into(),
            day_dir: "flat",
        },
    };
    Ok(DashboardData {
        totals,
        analytics_note,
        watchlist: shown,
        rows,
        movers,
        banners,
        stream,
        headline,
    })
}

pub async fn dashboard(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<PeriodQuery>,
) -> UiResult<Response> {
    let settings = user_settings(&state, &s).await?;
    let period = PeriodChoice::parse(q.period.as_deref().unwrap_or("1M"));
    let d = dashboard_data(&state, &s, &settings, period).await?;
    let cur = settings.base_currency.as_str();
    let mut layout = Layout::new(&s, settings.theme, "Dashboard", "dashboard");
    layout.banners = d.banners;
    layout.stream = d.stream;
    let chart = d.totals.as_ref().map_or_else(String::new, |t| {
        dashboard_chart_svg(t, cur, period, DASHBOARD_CHART_WIDTH)
    });
    Ok(render(&Dashboard {
        layout,
        total: d.headline.total,
        day_change: d.headline.day_change,
        day_pct: d.headline.day_pct,
        day_dir: d.headline.day_dir,
        has_portfolios: d.totals.is_some(),
        analytics_note: d.analytics_note,
        periods: PeriodChoice::DASHBOARD
            .iter()
            .map(|p| (p.as_str(), *p == period))
            .collect(),
        chart,
        watchlist_name: d
            .watchlist
            .as_ref()
            .map(|w| w.name.clone())
            .unwrap_or_default(),
        watchlist_id: d.watchlist.as_ref().map_or(0, |w| w.id),
        rows: d.rows,
        movers: d.movers,
    }))
}

/// The dashboard's live parts alone (see [`DashboardLive`]).
pub async fn dashboard_live(State(state): State<AppState>, s: Session) -> UiResult<Response> {
    let settings = user_settings(&state, &s).await?;
    let d = dashboard_data(&state, &s, &settings, PeriodChoice::parse("1M")).await?;
    Ok(render(&DashboardLive {
        has_portfolios: d.totals.is_some(),
        total: d.headline.total,
        day_change: d.headline.day_change,
        day_pct: d.headline.day_pct,
        day_dir: d.headline.day_dir,
        movers: d.movers,
    }))
}

/// The dashboard's value chart alone, for period switching without a reload.
pub async fn dashboard_chart(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<PeriodQuery>,
) -> UiResult<Response> {
    let settings = user_settings(&state, &s).await?;
    let period = PeriodChoice::parse(q.period.as_deref().unwrap_or("1M"));
    let (totals, _) = dashboard_series(&state, &s, &settings, period).await?;
    let svg = totals
        .map(|t| {
            let width = chart::fitted_width(q.width, DASHBOARD_CHART_WIDTH);
            dashboard_chart_svg(&t, settings.base_currency.as_str(), period, width)
        })
        .unwrap_or_default();
    Ok(axum::response::Html(svg).into_response())
}

// ---------------------------------------------------------------- instruments

#[derive(Template)]
#[template(path = "instruments.html")]
struct InstrumentsPage {
    layout: Layout,
    q: String,
    kind: String,
    kinds: Vec<&'static str>,
    rows: Vec<InstrumentRow>,
    total: u64,
    prev_offset: Option<u64>,
    next_offset: Option<u64>,
    form: InstrumentFormView,
    message: Option<String>,
    error: Option<String>,
}

struct InstrumentRow {
    symbol: String,
    name: String,
    kind: &'static str,
    currency: String,
    provider: String,
    simulated: bool,
}

/// The add/edit instrument form with its values and errors.
pub struct InstrumentFormView {
    symbol: String,
    name: String,
    kind: String,
    currency: String,
    exchange: String,
    provider: String,
    provider_symbol: String,
    listing_date: String,
    source_url: String,
    source_extract: String,
    source_expr: String,
    source_attribute: String,
    source_number_format: String,
    errors: HashMap<String, String>,
    providers: Vec<&'static str>,
    suggestions: Vec<(&'static str, String)>,
}

impl InstrumentFormView {
    fn new(values: InstrumentFormFields, errors: HashMap<String, String>) -> Self {
        Self {
            symbol: values.symbol,
            name: values.name,
            kind: if values.kind.is_empty() {
                "stock".into()
            } else {
                values.kind
            },
            currency: if values.currency.is_empty() {
                "USD".into()
            } else {
                values.currency
            },
            exchange: values.exchange,
            provider: values.provider,
            provider_symbol: values.provider_symbol,
            listing_date: values.listing_date,
            source_url: values.source_url,
            source_extract: values.source_extract,
            source_expr: values.source_expr,
            source_attribute: values.source_attribute,
            source_number_format: values.source_number_format,
            errors,
            providers: PROVIDERS.to_vec(),
            suggestions: InstrumentKind::ALL
                .iter()
                .map(|k| (k.as_str(), app_settings::provider_suggestions(*k).join(",")))
                .collect(),
        }
    }

    fn err(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }

    /// The first error among `fields` (a source's errors are named by the
    /// part of the JSON at fault; the form shows them beside its inputs).
    fn err_any(&self, fields: &[&str]) -> Option<&String> {
        fields.iter().find_map(|f| self.errors.get(*f))
    }

    fn extractor_kinds(&self) -> [&'static str; 3] {
        ["css", "json_path", "regex"]
    }

    fn number_formats(&self) -> [&'static str; 3] {
        NumberFormat::ALL.map(NumberFormat::as_str)
    }
}

#[derive(Deserialize, Default)]
pub struct InstrumentFormFields {
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    exchange: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    provider_symbol: String,
    #[serde(default)]
    listing_date: String,
    /// The `url` provider's source; a blank URL means none.
    #[serde(default)]
    source_url: String,
    /// `css`, `json_path` or `regex`.
    #[serde(default)]
    source_extract: String,
    #[serde(default)]
    source_expr: String,
    /// Only for `css`: read this attribute instead of the element's text.
    #[serde(default)]
    source_attribute: String,
    #[serde(default)]
    source_number_format: String,
}

impl InstrumentFormFields {
    fn from_instrument(i: &Instrument) -> Self {
        Self {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            kind: i.kind.to_string(),
            currency: i.currency.to_string(),
            exchange: i.exchange.clone().unwrap_or_default(),
            provider: i.provider.to_string(),
            provider_symbol: i.provider_symbol.clone().unwrap_or_default(),
            listing_date: i.listing_date.map(|d| d.to_string()).unwrap_or_default(),
            ..Self::default()
        }
        .with_url_source(i.url_source.as_ref())
    }

    fn with_url_source(mut self, src: Option<&UrlSource>) -> Self {
        let Some(src) = src else { return self };
        self.source_url = src.url.clone();
        self.source_extract = src.extract.kind().to_owned();
        (self.source_expr, self.source_attribute) = match &src.extract {
            Extractor::JsonPath(e) | Extractor::Regex(e) => (e.clone(), String::new()),
            Extractor::Css {
                selector,
                attribute,
            } => (selector.clone(), attribute.clone().unwrap_or_default()),
        };
        self.source_number_format = src.number_format.as_str().to_owned();
        self
    }

    /// The source fields as the API's JSON shape, so the API's checks (and
    /// their field names) apply unchanged; `null` when no URL is given.
    fn url_source_json(&self) -> serde_json::Value {
        use serde_json::json;
        let url = self.source_url.trim();
        if url.is_empty() {
            return serde_json::Value::Null;
        }
        let expr = self.source_expr.trim();
        let extract = match self.source_extract.as_str() {
            "json_path" => json!({ "json_path": expr }),
            "regex" => json!({ "regex": expr }),
            _ => match self.source_attribute.trim() {
                "" => json!({ "css": { "selector": expr } }),
                a => json!({ "css": { "selector": expr, "attribute": a } }),
            },
        };
        let format = match self.source_number_format.trim() {
            "" => "auto",
            f => f,
        };
        json!({ "url": url, "extract": extract, "number_format": format })
    }

    fn to_input(&self) -> InstrumentIn {
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        InstrumentIn {
            symbol: self.symbol.trim().to_owned(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            currency: self.currency.trim().to_uppercase(),
            exchange: opt(&self.exchange),
            provider: opt(&self.provider),
            provider_symbol: opt(&self.provider_symbol),
            listing_date: opt(&self.listing_date),
            url_source: Some(self.url_source_json()),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct InstrumentsQuery {
    q: Option<String>,
    kind: Option<String>,
    offset: Option<u64>,
    msg: Option<String>,
}

const PAGE: u32 = 50;

async fn instruments_page(
    state: &AppState,
    s: &Session,
    q: InstrumentsQuery,
    form: InstrumentFormView,
    error: Option<String>,
) -> UiResult<Response> {
    let settings = user_settings(state, s).await?;
    let kind = q
        .kind
        .as_deref()
        .and_then(|k| k.parse::<InstrumentKind>().ok());
    let offset = q.offset.unwrap_or(0);
    let page = instruments::list_instruments(
        &state.ctx,
        &InstrumentQuery {
            kind,
            search: q.q.clone().filter(|s| !s.trim().is_empty()),
            page: PageRequest::new(Some(PAGE), Some(offset)),
        },
    )
    .await?;
    let message = match q.msg.as_deref() {
        Some("added") => Some("Instrument added.".to_owned()),
        Some("removed") => Some("Instrument removed with its prices.".to_owned()),
        Some("saved") => Some("Instrument saved.".to_owned()),
        _ => None,
    };
    let rows = page
        .items
        .iter()
        .map(|i| InstrumentRow {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            kind: i.kind.as_str(),
            currency: i.currency.to_string(),
            provider: i.provider.to_string(),
            simulated: i.provider.as_str() == "demo",
        })
        .collect::<Vec<_>>();
    let mut layout = Layout::new(s, settings.theme, "Instruments", "instruments");
    if rows.iter().any(|r| r.simulated) {
        layout.banners.push(
            "Simulated data: instruments marked “demo” have generated prices, not real ones."
                .to_owned(),
        );
    }
    let status = if error.is_some() || !form.errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut response = render(&InstrumentsPage {
        layout,
        q: q.q.unwrap_or_default(),
        kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        kinds: InstrumentKind::ALL.iter().map(|k| k.as_str()).collect(),
        rows,
        total: page.total,
        prev_offset: (offset > 0).then(|| offset.saturating_sub(u64::from(PAGE))),
        next_offset: (offset + u64::from(PAGE) < page.total).then(|| offset + u64::from(PAGE)),
        form,
        message,
        error,
    });
    *response.status_mut() = status;
    Ok(response)
}

pub async fn instruments(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<InstrumentsQuery>,
) -> UiResult<Response> {
    let form = InstrumentFormView::new(InstrumentFormFields::default(), HashMap::new());
    instruments_page(&state, &s, q, form, None).await
}

pub async fn create_instrument(
    State(state): State<AppState>,
    s: Session,
    Form(fields): Form<InstrumentFormFields>,
) -> UiResult<Response> {
    let result = match fields.to_input().into_domain() {
        Ok(i) => instruments::create_instrument(&state.ctx, s.user(), i).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok(i) => Ok(Redirect::to(&format!(
            "/instruments/{}?msg=added",
            super::urlencode(i.symbol.as_str())
        ))
        .into_response()),
        Err(e) => {
            let errors = form_errors(e)?;
            let form = InstrumentFormView::new(fields, errors);
            instruments_page(&state, &s, InstrumentsQuery::default(), form, None).await
        }
    }
}

fn parse_symbol(raw: &str) -> UiResult<Symbol> {
    Symbol::parse(raw).map_err(|e| UiError::new(StatusCode::NOT_FOUND, e.to_string()))
}

#[derive(Template)]
#[template(path = "instrument_edit.html")]
struct InstrumentEdit {
    layout: Layout,
    symbol: String,
    form: InstrumentFormView,
}

pub async fn edit_instrument(
    State(state): State<AppState>,
    s: Session,
    Path(symbol): Path<String>,
) -> UiResult<Response> {
    let settings = user_settings(&state, &s).await?;
    let i = instruments::get_instrument(&state.ctx, &parse_symbol(&symbol)?).await?;
    if !s.is_admin() {
        return Err(AppError::Forbidden.into());
    }
    Ok(render(&InstrumentEdit {
        layout: Layout::new(
            &s,
            settings.theme,
            format!("Edit {}", i.symbol),
            "instruments",
        ),
        symbol: i.symbol.to_string(),
        form: InstrumentFormView::new(InstrumentFormFields::from_instrument(&i), HashMap::new()),
    }))
}

pub async fn update_instrument(
    State(state): State<AppState>,
    s: Session,
    Path(symbol): Path<String>,
    Form(mut fields): Form<InstrumentFormFields>,
) -> UiResult<Response> {
    let symbol = parse_symbol(&symbol)?;
    fields.symbol = symbol.to_string();
    let result = match fields.to_input().into_domain() {
        Ok(i) => instruments::update_instrument(&state.ctx, s.user(), i).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "/instruments/{}?msg=saved",
            super::urlencode(symbol.as_str())
        ))
        .into_response()),
        Err(e) => {
            let errors = form_errors(e)?;
            let settings = user_settings(&state, &s).await?;
            let mut r = render(&InstrumentEdit {
                layout: Layout::new(&s, settings.theme, format!("Edit {symbol}"), "instruments"),
                symbol: symbol.to_string(),
                form: InstrumentFormView::new(fields, errors),
            });
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
    }
}

pub async fn delete_instrument(
    State(state): State<AppState>,
    s: Session,
    Path(symbol): Path<String>,
) -> UiResult<Response> {
    let symbol = parse_symbol(&symbol)?;
    match instruments::delete_instrument(&state.ctx, s.user(), &symbol).await {
        Ok(()) => Ok(Redirect::to("/instruments?msg=removed").into_response()),
        Err(e @ AppError::InstrumentInUse { .. }) => {
            let form = InstrumentFormView::new(InstrumentFormFields::default(), HashMap::new());
            let mut r = instruments_page(
                &state,
                &s,
                InstrumentsQuery::default(),
                form,
                Some(e.to_string()),
            )
            .await?;
            *r.status_mut() = StatusCode::CONFLICT;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- one instrument

#[derive(Template)]
#[template(path = "instrument.html")]
struct InstrumentPage {
    layout: Layout,
    i: InstrumentRow,
    exchange: String,
    row: QuoteRow,
    previous_close: String,
    range_52w: String,
    controls: ChartControls,
    chart: ChartView,
    manual: bool,
    today: String,
    price_error: Option<String>,
    message: Option<String>,
    watchlists: Vec<(i64, String, bool)>,
    fetch: Vec<FetchRow>,
    quarantined: Vec<QuarantineRow>,
    quarantined_total: u64,
}

/// One series' fetch status on the instrument page.
struct FetchRow {
    interval: &'static str,
    active: bool,
    provider: String,
    last_success: String,
    next_due: String,
    /// The last error while it is unresolved (failures since the last success).
    error: Option<String>,
    failures: u32,
    backfill: String,
}

/// One quarantined record on the instrument page.
struct QuarantineRow {
    received: String,
    time: String,
    interval: &'static str,
    source: String,
    close: String,
    reason: String,
}

fn minute_text(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn fetch_row(job: &pricetrack_app::market::ports::FetchJob) -> FetchRow {
    let b = &job.backfill;
    let backfill = if b.done {
        "complete".to_owned()
    } else {
        match b.cursor {
            Some(c) => format!("back to {}", c.strftime("%Y-%m-%d")),
            None => "pending".to_owned(),
        }
    };
    FetchRow {
        interval: job.interval.as_str(),
        active: job.active,
        provider: job.provider.clone().unwrap_or_else(|| "—".to_owned()),
        last_success: job.last_success_at.map_or("never".to_owned(), minute_text),
        next_due: minute_text(job.next_due_at),
        error: (job.failures > 0).then(|| job.last_error.clone()).flatten(),
        failures: job.failures,
        backfill,
    }
}

fn quarantine_row(
    q: &pricetrack_app::market::ports::QuarantinedBar,
    currency: &str,
) -> QuarantineRow {
    let d = &q.draft;
    QuarantineRow {
        received: minute_text(q.created_at),
        time: d.time.map_or("—".to_owned(), minute_text),
        interval: d.interval.as_str(),
        source: d.source.clone(),
        close: d.values.as_ref().map_or("—".to_owned(), |v| {
            format::format_price(v.close, currency)
        }),
        reason: d.reason.clone(),
    }
}

struct ChartControls {
    symbol: String,
    intervals: Vec<(&'static str, bool)>,
    periods: Vec<(&'static str, bool)>,
    modes: Vec<(&'static str, &'static str, bool)>,
    interval: &'static str,
    period: &'static str,
    mode: &'static str,
}

impl ChartControls {
    fn link(&self, interval: &str, period: &str, mode: &str) -> String {
        format!(
            "/instruments/{}?interval={interval}&period={period}&mode={mode}",
            super::urlencode(&self.symbol)
        )
    }
}

/// A rendered chart with its accessible data table.
pub struct ChartView {
    svg: String,
    rows: Vec<[String; 6]>,
}

#[derive(Deserialize, Default)]
pub struct ChartQuery {
    interval: Option<String>,
    period: Option<String>,
    mode: Option<String>,
    msg: Option<String>,
    /// Chart fragments: the width the chart's container has (small screens).
    width: Option<u32>,
}

const CHART_PERIODS: [&str; 8] = ["1D", "1W", "1M", "3M", "YTD", "1Y", "5Y", "MAX"];

fn period_start(
    period: &str,
    end: jiff::Timestamp,
    intraday_day_start: jiff::Timestamp,
) -> Option<jiff::Timestamp> {
    let days = |d: i64| Some(end - SignedDuration::from_hours(24 * d));
    match period {
        "1D" => Some(intraday_day_start),
        "1W" => days(7),
        "1M" => days(31),
        "3M" => days(92),
        "1Y" => days(366),
        "5Y" => days(5 * 366),
        "YTD" => {
            let d = end.to_zoned(jiff::tz::TimeZone::UTC).date();
            jiff::civil::Date::new(d.year(), 1, 1)
                .ok()
                .map(pricetrack_domain::date_key)
        }
        _ => None,
    }
}

async fn chart_for(
    state: &AppState,
    i: &Instrument,
    q: &ChartQuery,
) -> UiResult<(ChartControls, ChartView)> {
    let ctx = &state.ctx;
    let requested = q
        .interval
        .as_deref()
        .and_then(|v| v.parse::<Interval>().ok());
    let interval = match requested {
        Some(iv) => iv,
        None => {
            let mut chosen = Interval::D1;
            for iv in [
                Interval::D1,
                Interval::H1,
                Interval::M15,
                Interval::M5,
                Interval::M1,
                Interval::W1,
                Interval::Mo1,
            ] {
                let last = ctx
                    .store
                    .bars(
                        &i.symbol,
                        iv,
                        BarRange {
                            limit: Some(1),
                            ..BarRange::default()
                        },
                    )
                    .await
                    .map_err(AppError::from)?;
                if !last.is_empty() {
                    chosen = iv;
                    break;
                }
            }
            chosen
        }
    };
    let default_period = if interval.is_date_keyed() { "1Y" } else { "1W" };
    let period = CHART_PERIODS
        .iter()
        .copied()
        .find(|p| Some(*p) == q.period.as_deref())
        .unwrap_or(default_period);
    let mode = if q.mode.as_deref() == Some("line") {
        chart::Mode::Line
    } else {
        chart::Mode::Candles
    };
    let last = ctx
        .store
        .bars(
            &i.symbol,
            interval,
            BarRange {
                limit: Some(1),
                ..BarRange::default()
            },
        )
        .await
        .map_err(AppError::from)?;
    let bars = match last.first() {
        Some(last) => {
            let day_start = pricetrack_domain::date_key(last.date());
            let from = period_start(
                period,
                last.time,
                if interval.is_date_keyed() {
                    last.time - SignedDuration::from_hours(24 * 7)
                } else {
                    day_start
                },
            );
            ctx.store
                .bars(
                    &i.symbol,
                    interval,
                    BarRange {
                        from,
                        to: None,
                        limit: Some(500_000),
                    },
                )
                .await
                .map_err(AppError::from)?
        }
        None => Vec::new(),
    };
    let candles: Vec<chart::Candle> = bars
        .iter()
        .map(|b| chart::Candle {
            t: b.time.as_second(),
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
        })
        .collect();
    let intraday = !interval.is_date_keyed();
    let title = format!(
        "{} ({}) — {} {} chart, {}",
        i.symbol,
        i.name,
        interval,
        mode.as_str(),
        period
    );
    let (svg, shown) = chart::price_chart(
        &candles,
        &chart::ChartSpec {
            id: "price-chart",
            width: chart::fitted_width(q.width, 820),
            height: 360,
            title: &title,
            currency: i.currency.as_str(),
            mode,
            volume: candles.iter().any(|c| c.volume > 0.0),
            intraday,
        },
    );
    let cur = i.currency.as_str();
    let rows = shown
        .iter()
        .rev()
        .take(60)
        .map(|c| {
            [
                chart::time_text(c.t, intraday),
                format::format_price(c.open, cur),
                format::format_price(c.high, cur),
                format::format_price(c.low, cur),
                format::format_price(c.close, cur),
                format::compact_number(c.volume),
            ]
        })
        .collect();
    let controls = ChartControls {
        symbol: i.symbol.to_string(),
        intervals: Interval::ALL
            .iter()
            .map(|iv| (iv.as_str(), *iv == interval))
            .collect(),
        periods: CHART_PERIODS.iter().map(|p| (*p, *p == period)).collect(),
        modes: vec![
            ("candles", "Candles", mode == chart::Mode::Candles),
            ("line", "Line", mode == chart::Mode::Line),
        ],
        interval: interval.as_str(),
        period,
        mode: mode.as_str(),
    };
    Ok((controls, ChartView { svg, rows }))
}

#[derive(Template)]
#[template(path = "chart_fragment.html")]
struct ChartFragment {
    chart: ChartView,
}

pub async fn instrument_chart(
    State(state): State<AppState>,
    _s: Session,
    Path(symbol): Path<String>,
    Query(q): Query<ChartQuery>,
) -> UiResult<Response> {
    let i = instruments::get_instrument(&state.ctx, &parse_symbol(&symbol)?).await?;
    let (_, chart) = chart_for(&state, &i, &q).await?;
    Ok(render(&ChartFragment { chart }))
}

async fn instrument_page(
    state: &AppState,
    s: &Session,
    symbol: &str,
    q: ChartQuery,
    price_error: Option<String>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let settings = user_settings(state, s).await?;
    let i = instruments::get_instrument(ctx, &parse_symbol(symbol)?).await?;
    let row = views::quote_row(ctx, &i).await?;
    let previous_close = match bars::quote(ctx, &i.symbol).await {
        Ok(q) => q.previous_close.map_or("—".to_owned(), |p| {
            format::format_price(p, i.currency.as_str())
        }),
        Err(_) => "—".to_owned(),
    };
    let range_52w = match views::range_52w(ctx, &i.symbol).await? {
        Some((lo, hi)) => format!(
            "{} – {}",
            format::format_price(lo, i.currency.as_str()),
            format::format_price(hi, i.currency.as_str())
        ),
        None => "—".to_owned(),
    };
    let (controls, chart) = chart_for(state, &i, &q).await?;
    let lists = watchlists::list(ctx, s.user()).await?;
    let fetch_status = market::status::instrument_status(ctx, &i.symbol).await?;
    let quarantined =
        market::quarantine::list(ctx, Some(&i.symbol), PageRequest::new(Some(20), None)).await?;
    let mut layout = Layout::new(
        s,
        settings.theme,
        format!("{} · {}", i.symbol, i.name),
        "instruments",
    );
    layout.banners = views::data_banners(std::slice::from_ref(&row));
    layout.stream = i.symbol.to_string();
    let message = match q.msg.as_deref() {
        Some("added") => {
            Some("Instrument added. Ingest prices through the API or add a price below.".to_owned())
        }
        Some("saved") => Some("Saved.".to_owned()),
        Some("price") => Some("Price recorded.".to_owned()),
        Some("watch") => Some("Added to the watchlist.".to_owned()),
        _ => None,
    };
    let status = if price_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = render(&InstrumentPage {
        layout,
        i: InstrumentRow {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            kind: i.kind.as_str(),
            currency: i.currency.to_string(),
            provider: i.provider.to_string(),
            simulated: i.provider.as_str() == "demo",
        },
        exchange: i.exchange.clone().unwrap_or_default(),
        row,
        previous_close,
        range_52w,
        controls,
        chart,
        manual: i.provider.as_str() == "manual",
        today: views::today(ctx).to_string(),
        price_error,
        message,
        watchlists: lists
            .iter()
            .map(|w| (w.id, w.name.clone(), w.symbols.contains(&i.symbol)))
            .collect(),
        fetch: fetch_status.series.iter().map(fetch_row).collect(),
        quarantined: quarantined
            .items
            .iter()
            .map(|q| quarantine_row(q, i.currency.as_str()))
            .collect(),
        quarantined_total: quarantined.total,
    });
    *r.status_mut() = status;
    Ok(r)
}

pub async fn instrument(
    State(state): State<AppState>,
    s: Session,
    Path(symbol): Path<String>,
    Query(q): Query<ChartQuery>,
) -> UiResult<Response> {
    instrument_page(&state, &s, &symbol, q, None).await
}

#[derive(Deserialize)]
pub struct PriceForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    price: String,
}

pub async fn add_price(
    State(state): State<AppState>,
    s: Session,
    Path(symbol): Path<String>,
    Form(f): Form<PriceForm>,
) -> UiResult<Response> {
    let sym = parse_symbol(&symbol)?;
    let result = async {
        let date = f.date.parse::<jiff::civil::Date>().map_err(|_| {
            AppError::invalid_field("date", format!("{:?} is not a date (YYYY-MM-DD)", f.date))
        })?;
        let price: f64 = f.price.trim().parse().map_err(|_| {
            AppError::invalid_field("price", format!("{:?} is not a number", f.price))
        })?;
        bars::record_manual_price(&state.ctx, &sym, date, price).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "/instruments/{}?msg=price",
            super::urlencode(sym.as_str())
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let text = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            instrument_page(&state, &s, &symbol, ChartQuery::default(), Some(text)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- watchlists

#[derive(Template)]
#[template(path = "watchlists.html")]
struct WatchlistsPage {
    layout: Layout,
    lists: Vec<(Watchlist, Vec<QuoteRow>)>,
    symbols: Vec<(String, String)>,
    error: Option<String>,
}

async fn watchlists_page(
    state: &AppState,
    s: &Session,
    error: Option<String>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let settings = user_settings(state, s).await?;
    let lists = watchlists::list(ctx, s.user()).await?;
    let mut out = Vec::with_capacity(lists.len());
    let mut all_rows = Vec::new();
    for w in lists {
        let rows = views::quote_rows(ctx, &w.symbols).await?;
        all_rows.extend(rows.iter().cloned());
        out.push((w, rows));
    }
    let mut layout = Layout::new(s, settings.theme, "Watchlists", "watchlists");
    layout.banners = views::data_banners(&all_rows);
    let mut stream: Vec<&str> = all_rows.iter().map(|r| r.symbol.as_str()).collect();
    stream.sort_unstable();
    stream.dedup();
    layout.stream = stream.join(",");
    let symbols = views::all_instruments(ctx)
        .await?
        .into_iter()
        .map(|i| (i.symbol.to_string(), i.name))
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = render(&WatchlistsPage {
        layout,
        lists: out,
        symbols,
        error,
    });
    *r.status_mut() = status;
    Ok(r)
}

pub async fn watchlists(State(state): State<AppState>, s: Session) -> UiResult<Response> {
    watchlists_page(&state, &s, None).await
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

pub async fn create_watchlist(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<NameForm>,
) -> UiResult<Response> {
    match watchlists::create(&state.ctx, s.user(), &f.name).await {
        Ok(w) => Ok(Redirect::to(&format!("/watchlists#w{}", w.id)).into_response()),
        Err(e) => {
            let errors = form_errors(e)?;
            watchlists_page(&state, &s, errors.into_values().next()).await
        }
    }
}

#[derive(Deserialize)]
pub struct WatchlistAction {
    action: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    back: String,
}

pub async fn watchlist_action(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<WatchlistAction>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let user = s.user();
    let symbol = || {
        Symbol::parse(f.symbol.trim()).map_err(|e| AppError::invalid_field("symbol", e.to_string()))
    };
    let result = match f.action.as_str() {
        "rename" => watchlists::rename(ctx, user, id, &f.name).await.map(|_| ()),
        "delete" => watchlists::delete(ctx, user, id).await,
        "add" => match symbol() {
            Ok(sym) => watchlists::add_item(ctx, user, id, sym).await.map(|_| ()),
            Err(e) => Err(e),
        },
        "remove" | "up" | "down" => match symbol() {
            Ok(sym) => {
                if f.action == "remove" {
                    watchlists::remove_item(ctx, user, id, &sym)
                        .await
                        .map(|_| ())
                } else {
                    let list = watchlists::get(ctx, user, id).await?;
                    let pos = list.symbols.iter().position(|x| *x == sym).unwrap_or(0);
                    let to = if f.action == "up" {
                        pos.saturating_sub(1)
                    } else {
                        pos + 1
                    };
                    watchlists::move_item(ctx, user, id, &sym, to)
                        .await
                        .map(|_| ())
                }
            }
            Err(e) => Err(e),
        },
        other => Err(AppError::invalid_field(
            "action",
            format!("unknown action {other:?}"),
        )),
    };
    match result {
        Ok(()) => {
            let target = if f.back.starts_with("/instruments/") {
                format!("{}?msg=watch", f.back)
            } else if f.action == "delete" {
                "/watchlists".to_owned()
            } else {
                format!("/watchlists#w{id}")
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(e) => {
            let errors = form_errors(e)?;
            watchlists_page(&state, &s, errors.into_values().next()).await
        }
    }
}

// ---------------------------------------------------------------- settings

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    base_currency: String,
    method: &'static str,
    methods: Vec<(&'static str, &'static str)>,
    theme: &'static str,
    themes: Vec<&'static str>,
    dashboard_watchlist: i64,
    watchlists: Vec<(i64, String)>,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
    keys: Vec<(String, String, String)>,
    keyed_providers: Vec<&'static str>,
    message: Option<String>,
    errors: HashMap<String, String>,
}

struct TokenView {
    id: i64,
    label: String,
    prefix: String,
    created: String,
    last_used: String,
}

async fn settings_page(
    state: &AppState,
    s: &Session,
    new_token: Option<String>,
    message: Option<String>,
    errors: HashMap<String, String>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let settings = user_settings(state, s).await?;
    let tokens = ctx
        .store
        .list_tokens(s.user().id)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            label: t.label,
            prefix: t.prefix,
            created: chart::time_text(t.created_at.as_second(), true),
            last_used: t.last_used_at.map_or("never".to_owned(), |t| {
                chart::time_text(t.as_second(), true)
            }),
        })
        .collect();
    let keys = if s.is_admin() {
        app_settings::provider_keys(ctx)
            .await?
            .into_iter()
            .map(|k| {
                (
                    k.provider,
                    k.last4,
                    chart::time_text(k.updated_at.as_second(), true),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = render(&SettingsPage {
        layout: Layout::new(s, settings.theme, "Settings", "settings"),
        base_currency: settings.base_currency.to_string(),
        method: method_as_str(settings.cost_basis_method),
        methods: METHODS
            .iter()
            .map(|m| {
                let name = method_as_str(*m);
                let label = match name {
                    "average" => "Average cost",
                    "fifo" => "FIFO (first in, first out)",
                    "lifo" => "LIFO (last in, first out)",
                    _ => "HIFO (highest cost first)",
                };
                (name, label)
            })
            .collect(),
        theme: settings.theme.as_str(),
        themes: Theme::ALL.iter().map(|t| t.as_str()).collect(),
        dashboard_watchlist: settings.dashboard_watchlist.unwrap_or(0),
        watchlists: watchlists::list(ctx, s.user())
            .await?
            .into_iter()
            .map(|w| (w.id, w.name))
            .collect(),
        tokens,
        new_token,
        keys,
        keyed_providers: KEYED_PROVIDERS.to_vec(),
        message,
        errors,
    });
    *r.status_mut() = status;
    Ok(r)
}

#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    msg: Option<String>,
}

pub async fn settings(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<SettingsQuery>,
) -> UiResult<Response> {
    let message = match q.msg.as_deref() {
        Some("saved") => Some("Settings saved.".to_owned()),
        Some("revoked") => Some("Token revoked.".to_owned()),
        Some("key") => Some("Provider key saved.".to_owned()),
        Some("password") => Some("Password changed.".to_owned()),
        _ => None,
    };
    settings_page(&state, &s, None, message, HashMap::new()).await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    base_currency: String,
    #[serde(default)]
    cost_basis_method: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    dashboard_watchlist: String,
}

pub async fn save_settings(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<SettingsForm>,
) -> UiResult<Response> {
    let mut errors = HashMap::new();
    let base = Currency::parse(f.base_currency.trim().to_uppercase().as_str())
        .map_err(|e| errors.insert("base_currency".to_owned(), e.to_string()))
        .ok();
    let method = app_settings::parse_method(&f.cost_basis_method);
    if method.is_none() {
        errors.insert(
            "cost_basis_method".into(),
            "choose average, fifo, lifo or hifo".into(),
        );
    }
    let theme = Theme::parse(&f.theme);
    if theme.is_none() {
        errors.insert("theme".into(), "choose auto, light or dark".into());
    }
    let dashboard_watchlist = f
        .dashboard_watchlist
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0);
    if let (Some(base_currency), Some(cost_basis_method), Some(theme), true) =
        (base, method, theme, errors.is_empty())
    {
        let new = UserSettings {
            base_currency,
            cost_basis_method,
            theme,
            dashboard_watchlist,
        };
        match app_settings::save(&state.ctx, s.user(), &new).await {
            Ok(()) => return Ok(Redirect::to("/settings?msg=saved").into_response()),
            Err(e) => errors = form_errors(e)?,
        }
    }
    settings_page(&state, &s, None, None, errors).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<TokenForm>,
) -> UiResult<Response> {
    match auth::issue_token(&state.ctx, s.user(), &f.label).await {
        Ok(issued) => settings_page(&state, &s, Some(issued.secret), None, HashMap::new()).await,
        Err(e) => settings_page(&state, &s, None, None, form_errors(e)?).await,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
) -> UiResult<Response> {
    if state
        .ctx
        .store
        .revoke_token(s.user().id, id)
        .await
        .map_err(AppError::from)?
    {
        Ok(Redirect::to("/settings?msg=revoked").into_response())
    } else {
        Err(UiError::not_found("That token"))
    }
}

#[derive(Deserialize)]
pub struct KeyForm {
    provider: String,
    #[serde(default)]
    key: String,
}

pub async fn save_key(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<KeyForm>,
) -> UiResult<Response> {
    match app_settings::set_provider_key(&state.ctx, s.user(), &f.provider, &f.key).await {
        Ok(()) => Ok(Redirect::to("/settings?msg=key").into_response()),
        Err(e) => settings_page(&state, &s, None, None, form_errors(e)?).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<PasswordForm>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let hash = ctx
        .store
        .password_hash(s.user().id)
        .await
        .map_err(AppError::from)?;
    let ok = hash.is_some_and(|h| sessions::verify_password(&h, &f.current));
    if !ok {
        let errors = HashMap::from([(
            "current".to_owned(),
            "is not your current password".to_owned(),
        )]);
        return settings_page(&state, &s, None, None, errors).await;
    }
    match sessions::set_password(ctx, s.user(), &f.password).await {
        Ok(()) => Ok(Redirect::to("/settings?msg=password").into_response()),
        Err(e) => settings_page(&state, &s, None, None, form_errors(e)?).await,
    }
}
