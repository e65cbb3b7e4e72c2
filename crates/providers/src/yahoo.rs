//! Yahoo Finance: the v8 chart API for bars and single quotes (no crumb
//! needed), the v7 quote API for batch quotes (needs a session cookie and a
//! crumb, fetched once, cached, refreshed on HTTP 401).
//!
//! Quirks handled (all in the recorded responses):
//! * daily bars stamped at the session open (New York), 00:00 UTC (crypto) or
//!   00:00 London (FX): keyed by the local date in `meta.exchangeTimezoneName`;
//! * `null` in every array for a bar without trades: the bar is skipped;
//! * no `timestamp` and `quote: [{}]` for an empty range: no bars, no error;
//! * a trailing "current price" bar (flat, no volume) after the last one:
//!   dropped when it starts within one interval of `regularMarketTime` and
//!   off the bar grid or at/after its session's close, or at/after the
//!   current session's close (see [`is_current_price_bar`]);
//! * `GBp`/`ZAc`/`ILA` minor units: converted to GBP/ZAR/ILS (÷100);
//! * HTTP 404 with `chart.error` (unknown symbol), HTTP 400 "Data doesn't
//!   exist" (range before listing: no bars), HTTP 429 with a plain-text body.

use crate::{
    config::{AdapterConfig, ConfigError},
    http::{Http, Response},
    parse::{BarCollector, currency_units, decimal, local_date_key, scale, split_ratio, time_zone},
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use pricetrack_app::{
    market_data::{
        CorporateEvent, ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote,
    },
    ports::Clock,
};
use pricetrack_domain::{Currency, Instrument, InstrumentKind, Interval, Ohlcv};
use std::sync::Arc;

pub const NAME: &str = "yahoo";
pub const DEFAULT_BASE_URL: &str = "https://query2.finance.yahoo.com";
pub const DEFAULT_COOKIE_URL: &str = "https://fc.yahoo.com";

mod wire {
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    pub struct ChartEnvelope {
        pub chart: Chart,
    }

    #[derive(Debug, Deserialize)]
    pub struct Chart {
        pub result: Option<Vec<ChartResult>>,
        pub error: Option<ApiError>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ApiError {
        pub code: Option<String>,
        pub description: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ChartResult {
        pub meta: Meta,
        #[serde(default)]
        pub timestamp: Vec<i64>,
        pub events: Option<Events>,
        pub indicators: Option<Indicators>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Meta {
        pub currency: Option<String>,
        pub exchange_timezone_name: Option<String>,
        pub gmtoffset: Option<i64>,
        pub first_trade_date: Option<i64>,
        pub regular_market_price: Option<f64>,
        pub regular_market_time: Option<i64>,
        pub chart_previous_close: Option<f64>,
        pub previous_close: Option<f64>,
        pub current_trading_period: Option<TradingPeriods>,
        /// Regular sessions of the range: a list of lists of periods
        /// (`includePrePost=false`) or `{pre, regular, post}` of such lists.
        pub trading_periods: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize)]
    pub struct TradingPeriods {
        pub regular: Option<Period>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Period {
        pub start: i64,
        pub end: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Indicators {
        #[serde(default)]
        pub quote: Vec<QuoteArrays>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct QuoteArrays {
        #[serde(default)]
        pub open: Vec<Option<f64>>,
        #[serde(default)]
        pub high: Vec<Option<f64>>,
        #[serde(default)]
        pub low: Vec<Option<f64>>,
        #[serde(default)]
        pub close: Vec<Option<f64>>,
        #[serde(default)]
        pub volume: Vec<Option<f64>>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Events {
        pub dividends: Option<BTreeMap<String, Dividend>>,
        pub splits: Option<BTreeMap<String, Split>>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Dividend {
        pub amount: f64,
        pub date: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Split {
        pub date: i64,
        pub numerator: f64,
        pub denominator: f64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct QuoteEnvelope {
        pub quote_response: QuoteResponse,
    }

    #[derive(Debug, Deserialize)]
    pub struct QuoteResponse {
        pub result: Option<Vec<QuoteItem>>,
        pub error: Option<ApiError>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct QuoteItem {
        pub symbol: String,
        pub currency: Option<String>,
        pub regular_market_price: Option<f64>,
        pub regular_market_time: Option<i64>,
        pub regular_market_previous_close: Option<f64>,
    }

    /// `{"finance":{"error":{…}}}` (401 Invalid Crumb) or `{"chart":{"error":…}}`.
    #[derive(Debug, Deserialize)]
    pub struct AnyError {
        pub finance: Option<ErrorHolder>,
        pub chart: Option<ErrorHolder>,
        #[serde(rename = "quoteSummary")]
        pub quote_summary: Option<ErrorHolder>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ErrorHolder {
        pub error: Option<ApiError>,
    }
}

#[derive(Debug, Clone)]
struct Session {
    cookie: String,
    crumb: String,
}

/// The Yahoo Finance adapter.
pub struct YahooProvider {
    http: Http,
    base: String,
    cookie_url: String,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
    session: tokio::sync::Mutex<Option<Session>>,
}

impl std::fmt::Debug for YahooProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YahooProvider")
            .field("base", &self.base)
            .finish()
    }
}

fn capabilities() -> Capabilities {
    use InstrumentKind as K;
    Capabilities {
        kinds: vec![
            K::Stock,
            K::Etf,
            K::Fund,
            K::Bond,
            K::Crypto,
            K::Commodity,
            K::Fx,
            K::Index,
        ],
        intervals: vec![
            (Interval::M1, HistoryDepth::Days(30)),
            (Interval::M5, HistoryDepth::Days(60)),
            (Interval::M15, HistoryDepth::Days(60)),
            (Interval::H1, HistoryDepth::Days(730)),
            (Interval::D1, HistoryDepth::Unlimited),
            (Interval::W1, HistoryDepth::Unlimited),
            (Interval::Mo1, HistoryDepth::Unlimited),
        ],
        batch_quotes: true,
        // Unofficial API: stay well below what gets an IP blocked.
        rate_limit: RateLimit::new(60.0, 5),
        needs_api_key: false,
        simulated: false,
        max_request_span: vec![(Interval::M1, SignedDuration::from_hours(24 * 7))],
    }
}

fn interval_param(i: Interval) -> &'static str {
    match i {
        Interval::M1 => "1m",
        Interval::M5 => "5m",
        Interval::M15 => "15m",
        Interval::H1 => "60m",
        Interval::D1 => "1d",
        Interval::W1 => "1wk",
        Interval::Mo1 => "1mo",
    }
}

impl YahooProvider {
    /// `cookie_url` is where the session cookie for batch quotes comes from
    /// (`None`: Yahoo's real cookie host).
    pub fn new(cfg: AdapterConfig, cookie_url: Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            base: cfg.base_url.clone(),
            cookie_url: cookie_url.unwrap_or_else(|| DEFAULT_COOKIE_URL.to_owned()),
            clock: cfg.clock.clone(),
            caps: capabilities(),
            session: tokio::sync::Mutex::new(None),
        })
    }

    fn err(&self, kind: FetchErrorKind, class: ErrorClass, msg: impl Into<String>) -> FetchError {
        FetchError::new(NAME, kind, class, msg)
    }

    fn chart_url(&self, symbol: &str, query: &[(&str, String)]) -> Result<String, FetchError> {
        let mut u = url::Url::parse(&self.base).map_err(|e| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                format!("base URL {:?}: {e}", self.base),
            )
        })?;
        u.path_segments_mut()
            .map_err(|_| {
                self.err(
                    FetchErrorKind::NotConfigured,
                    ErrorClass::TryNext,
                    format!("base URL {:?} cannot have a path", self.base),
                )
            })?
            .pop_if_empty()
            .extend(["v8", "finance", "chart", symbol]);
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u.to_string())
    }

    fn symbol(&self, instrument: &Instrument) -> Result<String, FetchError> {
        self.provider_symbol(instrument)
            .ok_or_else(|| self.no_symbol(instrument))
    }

    fn no_symbol(&self, instrument: &Instrument) -> FetchError {
        self.err(
            FetchErrorKind::Unsupported,
            ErrorClass::TryNext,
            format!("no Yahoo symbol for {}", instrument.symbol),
        )
    }

    /// Fetches and decodes one chart response, mapping error statuses.
    /// `Ok(None)` means "no data for that range" (HTTP 400 "Data doesn't exist").
    async fn chart(&self, url: &str) -> Result<Option<wire::ChartResult>, FetchError> {
        let resp = self.http.get(url, &[]).await?;
        if !resp.is_success() {
            if resp.status == 400 && resp.body.contains("Data doesn't exist") {
                return Ok(None);
            }
            return Err(self.error_response(&resp));
        }
        let env: wire::ChartEnvelope = serde_json::from_str(&resp.body).map_err(|e| {
            self.http
                .decode_error(&resp, format!("invalid chart JSON: {e}"))
        })?;
        if let Some(e) = env.chart.error {
            return Err(self.api_error(&resp, &e));
        }
        match env.chart.result.and_then(|r| r.into_iter().next()) {
            Some(r) => Ok(Some(r)),
            None => Err(self.err(
                FetchErrorKind::UnknownSymbol,
                ErrorClass::GiveUp,
                format!("GET {}: empty result (unknown symbol)", resp.url),
            )),
        }
    }

    fn api_error(&self, resp: &Response, e: &wire::ApiError) -> FetchError {
        let code = e.code.as_deref().unwrap_or("");
        let desc = e.description.as_deref().unwrap_or("");
        let (kind, class) = match (resp.status, code) {
            (404, _) | (_, "Not Found") => (FetchErrorKind::UnknownSymbol, ErrorClass::GiveUp),
            (401, _) | (_, "Unauthorized") => (FetchErrorKind::Unauthorized, ErrorClass::GiveUp),
            (429, _) => (
                FetchErrorKind::RateLimited,
                ErrorClass::RetryLater {
                    retry_after: resp.retry_after,
                },
            ),
            (s, _) if s >= 500 => (FetchErrorKind::Upstream, ErrorClass::retry_later()),
            _ => (FetchErrorKind::HttpStatus, ErrorClass::GiveUp),
        };
        self.err(
            kind,
            class,
            format!("GET {} (HTTP {}): {code}: {desc}", resp.url, resp.status),
        )
    }

    fn error_response(&self, resp: &Response) -> FetchError {
        if resp.status == 429 {
            // Plain text "Edge: Too Many Requests", no Retry-After documented.
            return self.err(
                FetchErrorKind::RateLimited,
                ErrorClass::RetryLater {
                    retry_after: resp.retry_after,
                },
                format!("GET {} answered HTTP 429: {}", resp.url, resp.snippet()),
            );
        }
        if let Ok(any) = serde_json::from_str::<wire::AnyError>(&resp.body) {
            let e = any
                .chart
                .or(any.finance)
                .or(any.quote_summary)
                .and_then(|h| h.error);
            if let Some(e) = e {
                return self.api_error(resp, &e);
            }
        }
        self.http.status_error(resp)
    }

    async fn session(&self, refresh: bool) -> Result<Session, FetchError> {
        let mut guard = self.session.lock().await;
        if let (false, Some(s)) = (refresh, guard.as_ref()) {
            return Ok(s.clone());
        }
        // Any status: the cookie host answers 404 with the cookie set.
        let resp = self.http.get(&self.cookie_url, &[]).await?;
        let cookie = resp
            .set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .map(str::trim)
            .filter(|c| c.contains('='))
            .collect::<Vec<_>>()
            .join("; ");
        let crumb_url = format!("{}/v1/test/getcrumb", self.base);
        let resp = self.http.get(&crumb_url, &[("cookie", &cookie)]).await?;
        if !resp.is_success() {
            return Err(self.error_response(&resp));
        }
        let crumb = resp.body.trim().to_owned();
        if crumb.is_empty() || crumb.contains(['<', '{', ' ']) {
            return Err(self
                .http
                .decode_error(&resp, "no crumb in the getcrumb answer"));
        }
        let s = Session { cookie, crumb };
        *guard = Some(s.clone());
        Ok(s)
    }

    /// One v7 quote request for several symbols, with the crumb dance.
    async fn quote_batch(&self, symbols: &[String]) -> Result<Vec<wire::QuoteItem>, FetchError> {
        let joined = symbols.join(",");
        let mut last_err = None;
        for attempt in 0..2 {
            let s = self.session(attempt > 0).await?;
            let mut u =
                url::Url::parse(&format!("{}/v7/finance/quote", self.base)).map_err(|e| {
                    self.err(
                        FetchErrorKind::NotConfigured,
                        ErrorClass::TryNext,
                        e.to_string(),
                    )
                })?;
            u.query_pairs_mut()
                .append_pair("symbols", &joined)
                .append_pair("crumb", &s.crumb);
            let resp = self.http.get(u.as_str(), &[("cookie", &s.cookie)]).await?;
            if resp.status == 401 {
                // Stale crumb: refresh once.
                last_err = Some(self.error_response(&resp));
                continue;
            }
            if !resp.is_success() {
                return Err(self.error_response(&resp));
            }
            let env: wire::QuoteEnvelope = serde_json::from_str(&resp.body).map_err(|e| {
                self.http
                    .decode_error(&resp, format!("invalid quote JSON: {e}"))
            })?;
            if let Some(e) = env.quote_response.error {
                return Err(self.api_error(&resp, &e));
            }
            return Ok(env.quote_response.result.unwrap_or_default());
        }
        Err(last_err.unwrap_or_else(|| {
            self.err(
                FetchErrorKind::Unauthorized,
                ErrorClass::GiveUp,
                "crumb refused twice",
            )
        }))
    }

    fn quote_from_item(
        &self,
        instrument: &Instrument,
        item: &wire::QuoteItem,
    ) -> Result<Quote, FetchError> {
        let (currency, factor) = item
            .currency
            .as_deref()
            .and_then(currency_units)
            .unwrap_or((instrument.currency, 1.0));
        let price = item
            .regular_market_price
            .filter(|p| *p > 0.0)
            .ok_or_else(|| {
                self.err(
                    FetchErrorKind::NoData,
                    ErrorClass::TryNext,
                    format!("no regularMarketPrice for {}", item.symbol),
                )
            })?;
        let time = item
            .regular_market_time
            .and_then(|t| Timestamp::from_second(t).ok())
            .unwrap_or_else(|| self.clock.now());
        Ok(Quote {
            price: scale(price, factor),
            time,
            previous_close: item.regular_market_previous_close.map(|p| scale(p, factor)),
            currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl PriceSource for YahooProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let symbol = self.symbol(instrument)?;
        if !self.caps.supports(instrument.kind, interval) {
            return Err(self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!("{} {interval} bars are not offered", instrument.kind),
            ));
        }
        if from >= to {
            return Ok(FetchedBars::empty(NAME));
        }
        // Daily bars are stamped in exchange time, up to a day away from the
        // UTC key: ask for a day more on each side and filter on the key.
        let pad = if interval.is_date_keyed() { 86_400 } else { 0 };
        let url = self.chart_url(
            &symbol,
            &[
                ("period1", (from.as_second() - pad).to_string()),
                ("period2", (to.as_second() + pad).to_string()),
                ("interval", interval_param(interval).to_owned()),
                ("includePrePost", "false".to_owned()),
                ("events", "div|split".to_owned()),
            ],
        )?;
        match self.chart(&url).await? {
            Some(r) => Ok(decode_bars(
                instrument,
                interval,
                from,
                to,
                r,
                self.clock.now(),
            )),
            None => Ok(FetchedBars::empty(NAME)),
        }
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let symbol = self.symbol(instrument)?;
        let url = self.chart_url(
            &symbol,
            &[
                ("range", "1d".to_owned()),
                ("interval", "1d".to_owned()),
                ("includePrePost", "false".to_owned()),
            ],
        )?;
        let r = self.chart(&url).await?.ok_or_else(|| {
            self.err(
                FetchErrorKind::NoData,
                ErrorClass::TryNext,
                format!("no chart data for {symbol}"),
            )
        })?;
        let m = &r.meta;
        let (currency, factor) = m
            .currency
            .as_deref()
            .and_then(currency_units)
            .unwrap_or((instrument.currency, 1.0));
        let price = m.regular_market_price.filter(|p| *p > 0.0).ok_or_else(|| {
            self.err(
                FetchErrorKind::NoData,
                ErrorClass::TryNext,
                format!("no regularMarketPrice for {symbol}"),
            )
        })?;
        let time = m
            .regular_market_time
            .and_then(|t| Timestamp::from_second(t).ok())
            .unwrap_or_else(|| self.clock.now());
        Ok(Quote {
            price: scale(price, factor),
            time,
            previous_close: m
                .previous_close
                .or(m.chart_previous_close)
                .map(|p| scale(p, factor)),
            currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for YahooProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || {
            (instrument.kind != InstrumentKind::Item).then(|| instrument.symbol.as_str().to_owned())
        })
    }

    /// One v7 request for all instruments (cookie + crumb).
    async fn fetch_quotes(&self, instruments: &[Instrument]) -> Vec<Result<Quote, FetchError>> {
        let symbols: Vec<Option<String>> = instruments
            .iter()
            .map(|i| self.provider_symbol(i))
            .collect();
        let wanted: Vec<String> = symbols.iter().flatten().cloned().collect();
        if wanted.is_empty() {
            return instruments.iter().map(|i| Err(self.no_symbol(i))).collect();
        }
        let items = match self.quote_batch(&wanted).await {
            Ok(items) => items,
            Err(e) => return instruments.iter().map(|_| Err(e.clone())).collect(),
        };
        instruments
            .iter()
            .zip(symbols)
            .map(|(inst, sym)| {
                let sym = sym.ok_or_else(|| self.no_symbol(inst))?;
                let item = items.iter().find(|q| q.symbol == sym).ok_or_else(|| {
                    self.err(
                        FetchErrorKind::UnknownSymbol,
                        ErrorClass::GiveUp,
                        format!("{sym} is not in the quote result (unknown symbol)"),
                    )
                })?;
                self.quote_from_item(inst, item)
            })
            .collect()
    }
}

/// Decodes a chart response body into bars, exactly as the adapter does
/// (for saved responses and the parsing benchmark).
pub fn parse_chart(
    body: &str,
    instrument: &Instrument,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<FetchedBars, String> {
    let env: wire::ChartEnvelope =
        serde_json::from_str(body).map_err(|e| format!("invalid chart JSON: {e}"))?;
    if let Some(e) = env.chart.error {
        return Err(format!(
            "{}: {}",
            e.code.unwrap_or_default(),
            e.description.unwrap_or_default()
        ));
    }
    let r = env
        .chart
        .result
        .and_then(|r| r.into_iter().next())
        .ok_or("empty result")?;
    Ok(decode_bars(instrument, interval, from, to, r, now))
}

fn decode_bars(
    instrument: &Instrument,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
    r: wire::ChartResult,
    now: Timestamp,
) -> FetchedBars {
    let meta = &r.meta;
    let tz = meta
        .exchange_timezone_name
        .as_deref()
        .and_then(time_zone)
        .or_else(|| {
            meta.gmtoffset
                .and_then(|s| jiff::tz::Offset::from_seconds(s as i32).ok())
                .map(TimeZone::fixed)
        })
        .unwrap_or(TimeZone::UTC);
    let (currency, factor) = meta
        .currency
        .as_deref()
        .and_then(currency_units)
        .map(|(c, f)| (Some(c), f))
        .unwrap_or((None, 1.0));
    let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
    let empty = wire::QuoteArrays::default();
    let q = r
        .indicators
        .as_ref()
        .and_then(|i| i.quote.first())
        .unwrap_or(&empty);
    let ts = &r.timestamp;
    let step = interval.seconds();
    for (i, &t) in ts.iter().enumerate() {
        let get = |v: &Vec<Option<f64>>| v.get(i).copied().flatten();
        let (o, h, l, cl) = (get(&q.open), get(&q.high), get(&q.low), get(&q.close));
        let Ok(time) = Timestamp::from_second(t) else {
            c.reject(format!("timestamp {t}"), "timestamp out of range");
            continue;
        };
        if !interval.is_date_keyed()
            && i + 1 == ts.len()
            && is_current_price_bar(t, i.checked_sub(1).map(|p| ts[p]), step, meta)
        {
            continue;
        }
        let key = if interval.is_date_keyed() {
            local_date_key(time, &tz)
        } else {
            time
        };
        let raw = || {
            format!(
                "timestamp={t} open={o:?} high={h:?} low={l:?} close={cl:?} volume={:?}",
                get(&q.volume)
            )
        };
        match (o, h, l, cl) {
            (Some(o), Some(h), Some(l), Some(cl)) => {
                let v = Ohlcv {
                    open: scale(o, factor),
                    high: scale(h, factor),
                    low: scale(l, factor),
                    close: scale(cl, factor),
                    volume: get(&q.volume).unwrap_or(0.0),
                };
                c.push(key, v, raw);
            }
            // A bar without trades: nulls everywhere. Skip it; never store zeros.
            (None, None, None, None) => {}
            _ => {
                if c.in_range(key) {
                    c.reject(raw(), "some prices are null");
                }
            }
        }
    }
    let mut out = c.finish(NAME);
    out.currency = currency;
    out.first_trade_date = meta
        .first_trade_date
        .and_then(|t| Timestamp::from_second(t).ok())
        .map(|t| tz.to_datetime(t).date());
    if let Some(ev) = &r.events {
        let in_range = |d: jiff::civil::Date| {
            let k = pricetrack_domain::date_key(d);
            from <= k && k < to
        };
        let local_date = |t: i64| {
            Timestamp::from_second(t)
                .ok()
                .map(|t| tz.to_datetime(t).date())
        };
        for d in ev.dividends.iter().flat_map(|m| m.values()) {
            if let (Some(date), Some(amount)) = (
                local_date(d.date).filter(|d| in_range(*d)),
                decimal(d.amount, factor),
            ) {
                out.events.push(CorporateEvent::Dividend { date, amount });
            }
        }
        for s in ev.splits.iter().flat_map(|m| m.values()) {
            if let (Some(date), Some(ratio)) = (
                local_date(s.date).filter(|d| in_range(*d)),
                split_ratio(s.numerator, s.denominator),
            ) {
                out.events.push(CorporateEvent::Split { date, ratio });
            }
        }
        out.events.sort_by_key(|e| e.date());
    }
    if let Some(last) = out.bars.last() {
        let incomplete = if interval.is_date_keyed() {
            let regular_end = meta
                .current_trading_period
                .as_ref()
                .and_then(|p| p.regular.as_ref())
                .filter(|p| {
                    Timestamp::from_second(p.start)
                        .map(|s| local_date_key(s, &tz) == last.time)
                        .unwrap_or(false)
                })
                .and_then(|p| Timestamp::from_second(p.end).ok());
            let period_end = match interval {
                Interval::D1 => last.time.saturating_add(SignedDuration::from_hours(24)),
                Interval::W1 => last.time.saturating_add(SignedDuration::from_hours(24 * 7)),
                _ => last
                    .time
                    .saturating_add(SignedDuration::from_hours(24 * 31)),
            }
            .unwrap_or(last.time);
            let today = local_date_key(now, &tz);
            today >= last.time
                && local_date_key(now, &tz) < period_end
                && regular_end.is_none_or(|end| now < end)
        } else {
            last.time
                .saturating_add(SignedDuration::from_secs(step))
                .is_ok_and(|end| end > now)
        };
        if incomplete {
            out.incomplete = Some(last.time);
        }
    }
    out
}

/// The `(start, end)` of every regular session the metadata names.
fn regular_sessions(meta: &wire::Meta) -> Vec<(i64, i64)> {
    fn collect(v: &serde_json::Value, out: &mut Vec<(i64, i64)>) {
        match v {
            serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            serde_json::Value::Object(o) => {
                if let (Some(s), Some(e)) = (
                    o.get("start").and_then(serde_json::Value::as_i64),
                    o.get("end").and_then(serde_json::Value::as_i64),
                ) {
                    out.push((s, e));
                } else if let Some(r) = o.get("regular") {
                    collect(r, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(v) = &meta.trading_periods {
        collect(v, &mut out);
    }
    if let Some(p) = meta
        .current_trading_period
        .as_ref()
        .and_then(|c| c.regular.as_ref())
    {
        out.push((p.start, p.end));
    }
    out
}

/// Whether the last intraday stamp `t` is Yahoo's "current price" bar (flat,
/// no volume, at `regularMarketTime`) rather than a bar of the session: it
/// starts within one interval of `regularMarketTime` and either off the bar
/// grid or at/after the close of its session; or it starts at/after the close
/// of the current session. A bar still forming inside the session is neither.
fn is_current_price_bar(t: i64, previous: Option<i64>, step: i64, meta: &wire::Meta) -> bool {
    let sessions = regular_sessions(meta);
    // The session of t: the latest one starting at or before it.
    let after_its_close = sessions
        .iter()
        .filter(|(start, _)| *start <= t)
        .max_by_key(|(start, _)| *start)
        .is_some_and(|(_, end)| t >= *end);
    let near_market_time = meta
        .regular_market_time
        .is_some_and(|m| (t - m).abs() < step);
    let off_grid = previous.is_some_and(|p| (t - p) % step != 0);
    let after_current_close = meta
        .current_trading_period
        .as_ref()
        .and_then(|c| c.regular.as_ref())
        .is_some_and(|p| t >= p.end);
    (near_market_time && (off_grid || after_its_close)) || after_current_close
}

/// The currency Yahoo reports, major unit, and the factor applied.
pub fn normalise_currency(code: &str) -> Option<(Currency, f64)> {
    currency_units(code)
}
