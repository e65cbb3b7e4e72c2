//! Alpha Vantage (`/query?function=…&apikey=…`): `GLOBAL_QUOTE` and
//! `CURRENCY_EXCHANGE_RATE` for quotes, `TIME_SERIES_DAILY`,
//! `TIME_SERIES_INTRADAY`, `FX_DAILY` and `DIGITAL_CURRENCY_DAILY` for bars.
//! Needs a key; without one it is skipped (try the next provider).
//!
//! Every error is HTTP 200 with one key, detected before the data:
//! * `Error Message` — invalid call or unknown symbol (indistinguishable) → give
//!   up; a missing or invalid key → give up;
//! * `Note` / `Information` mentioning a rate limit or call frequency → retry
//!   later (per-day caps are a quota, per-minute throttles wait a minute);
//! * `Information` about premium endpoints → try the next provider; about the
//!   demo key → give up (bad key).
//!
//! All numbers are strings, maps are newest first, the field number of
//! `volume` shifts between functions (matched by name), intraday times are
//! naive local times in the meta block's `Time Zone`, and the newest daily
//! bar can be partial (`Last Refreshed` before the close). A CSV body
//! (`datatype=csv`, `timestamp,open,…` newest first) is understood too.

use crate::{
    config::{AdapterConfig, ConfigError},
    http::{Http, Response, snippet},
    parse::{BarCollector, decimal, json_f64, local_datetime, split_ratio, str_f64, time_zone},
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
    symbols,
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, civil::Date, tz::TimeZone};
use pricetrack_app::{
    market_data::{
        CorporateEvent, ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote,
    },
    ports::Clock,
};
use pricetrack_domain::{
    Instrument, InstrumentKind, Interval, Ohlcv, calendar::Calendar, date_key,
};
use serde_json::{Map, Value};
use std::{sync::Arc, time::Duration};

pub const NAME: &str = "alphavantage";
pub const DEFAULT_BASE_URL: &str = "https://www.alphavantage.co";

/// One match of `SYMBOL_SEARCH`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolMatch {
    pub symbol: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub currency: String,
    pub score: f64,
}

/// The Alpha Vantage adapter.
pub struct AlphaVantageProvider {
    http: Http,
    base: String,
    key: Option<String>,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl std::fmt::Debug for AlphaVantageProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlphaVantageProvider")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `"4. close"` → `"close"`.
fn field_name(key: &str) -> &str {
    key.split_once(". ").map_or(key, |(_, n)| n).trim()
}

fn find<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| field_name(k) == name)
        .map(|(_, v)| v)
}

fn find_suffix<'a>(obj: &'a Map<String, Value>, suffix: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.ends_with(suffix))
        .map(|(_, v)| v)
}

impl AlphaVantageProvider {
    pub fn new(cfg: AdapterConfig) -> Result<Self, ConfigError> {
        use InstrumentKind as K;
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            base: cfg.base_url.clone(),
            key: cfg.api_key.clone(),
            clock: cfg.clock.clone(),
            caps: Capabilities {
                kinds: vec![K::Stock, K::Etf, K::Index, K::Fx, K::Crypto, K::Fund],
                intervals: vec![
                    (Interval::M1, HistoryDepth::Days(30)),
                    (Interval::M5, HistoryDepth::Days(30)),
                    (Interval::M15, HistoryDepth::Days(30)),
                    (Interval::H1, HistoryDepth::Days(30)),
                    (Interval::D1, HistoryDepth::Unlimited),
                ],
                batch_quotes: false,
                // Free tier: 25 requests a day, at most 5 a minute.
                rate_limit: RateLimit::new(5.0, 1),
                needs_api_key: true,
                simulated: false,
                max_request_span: Vec::new(),
            },
        })
    }

    fn err(&self, kind: FetchErrorKind, class: ErrorClass, msg: impl Into<String>) -> FetchError {
        FetchError::new(NAME, kind, class, msg)
    }

    fn key(&self) -> Result<&str, FetchError> {
        self.key.as_deref().ok_or_else(|| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                "no API key (set PRICETRACK_PROVIDER_ALPHAVANTAGE_API_KEY)",
            )
        })
    }

    fn symbol(&self, instrument: &Instrument) -> Result<String, FetchError> {
        self.provider_symbol(instrument).ok_or_else(|| {
            self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!("no Alpha Vantage symbol for {}", instrument.symbol),
            )
        })
    }

    /// Runs a query; the body is JSON (checked for the HTTP-200 errors) or CSV.
    async fn query(
        &self,
        params: &[(&str, String)],
    ) -> Result<(Response, Option<Value>), FetchError> {
        let key = self.key()?;
        let mut u = url::Url::parse(&format!("{}/query", self.base)).map_err(|e| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                e.to_string(),
            )
        })?;
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            q.append_pair("apikey", key);
        }
        let resp = self.http.get(u.as_str(), &[]).await?;
        if !resp.is_success() {
            return Err(self.http.status_error(&resp));
        }
        let body = resp.body.trim_start();
        if !body.starts_with('{') {
            return Ok((resp, None));
        }
        let v: Value = serde_json::from_str(body)
            .map_err(|e| self.http.decode_error(&resp, format!("invalid JSON: {e}")))?;
        if let Some(e) = self.body_error(&resp, &v) {
            return Err(e);
        }
        Ok((resp, Some(v)))
    }

    /// The errors Alpha Vantage sends with HTTP 200.
    fn body_error(&self, resp: &Response, v: &Value) -> Option<FetchError> {
        let obj = v.as_object()?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str);
        let msg = |t: &str| format!("GET {}: {}", resp.url, snippet(t));
        if let Some(t) = text("Error Message") {
            let lower = t.to_ascii_lowercase();
            let kind = if lower.contains("apikey") || lower.contains("api key") {
                FetchErrorKind::Unauthorized
            } else {
                FetchErrorKind::UnknownSymbol
            };
            return Some(self.err(kind, ErrorClass::GiveUp, msg(t)));
        }
        let t = text("Note").or_else(|| text("Information"))?;
        let lower = t.to_ascii_lowercase();
        // A bare Information next to data is not an error.
        if obj.len() > 1 {
            return None;
        }
        let e = if lower.contains("rate limit") || lower.contains("call frequency") {
            if lower.contains("per day") && !lower.contains("per minute") {
                self.err(
                    FetchErrorKind::QuotaExhausted,
                    ErrorClass::retry_later(),
                    msg(t),
                )
            } else {
                self.err(
                    FetchErrorKind::RateLimited,
                    ErrorClass::RetryLater {
                        retry_after: Some(Duration::from_secs(60)),
                    },
                    msg(t),
                )
            }
        } else if lower.contains("premium") {
            self.err(FetchErrorKind::Unsupported, ErrorClass::TryNext, msg(t))
        } else if lower.contains("demo") || lower.contains("api key") || lower.contains("apikey") {
            self.err(FetchErrorKind::Unauthorized, ErrorClass::GiveUp, msg(t))
        } else {
            self.err(FetchErrorKind::NoData, ErrorClass::TryNext, msg(t))
        };
        Some(e)
    }

    fn calendar(instrument: &Instrument) -> Calendar {
        Calendar::for_instrument(
            instrument.kind,
            instrument.exchange.as_deref(),
            instrument.symbol.as_str(),
        )
    }

    fn decode_series(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
        resp: &Response,
        v: &Value,
    ) -> Result<FetchedBars, FetchError> {
        let obj = v
            .as_object()
            .ok_or_else(|| self.http.decode_error(resp, "not a JSON object"))?;
        let meta = obj.get("Meta Data").and_then(Value::as_object);
        let series = obj
            .iter()
            .find(|(k, _)| k.starts_with("Time Series"))
            .and_then(|(_, v)| v.as_object())
            .ok_or_else(|| {
                self.http
                    .decode_error(resp, "no \"Time Series\" in the answer")
            })?;
        let cal = Self::calendar(instrument);
        let tz = meta
            .and_then(|m| find_suffix(m, "Time Zone"))
            .and_then(Value::as_str)
            .and_then(time_zone)
            .unwrap_or_else(|| cal.time_zone().clone());
        let last_refreshed = meta
            .and_then(|m| find_suffix(m, "Last Refreshed"))
            .and_then(Value::as_str)
            .and_then(|s| {
                if s.len() <= 10 {
                    None
                } else {
                    local_datetime(s, &tz)
                }
            });
        let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
        let mut events = Vec::new();
        for (key, row) in series {
            let raw = || format!("{key}: {row}");
            let Some(r) = row.as_object() else {
                c.reject(raw(), "row is not an object");
                continue;
            };
            let time = if interval.is_date_keyed() {
                key.parse::<Date>().ok().map(date_key)
            } else {
                local_datetime(key, &tz)
            };
            let num = |n: &str| find(r, n).and_then(json_f64);
            let (Some(time), Some(o), Some(h), Some(l), Some(cl)) =
                (time, num("open"), num("high"), num("low"), num("close"))
            else {
                c.reject(raw(), "missing time or price");
                continue;
            };
            if interval.is_date_keyed() && c.in_range(time) {
                let date = time.to_zoned(TimeZone::UTC).date();
                if let Some(amount) = num("dividend amount")
                    .filter(|d| *d > 0.0)
                    .and_then(|d| decimal(d, 1.0))
                {
                    events.push(CorporateEvent::Dividend { date, amount });
                }
                if let Some(ratio) = num("split coefficient")
                    .filter(|s| *s > 0.0 && *s != 1.0)
                    .and_then(|s| split_ratio(s, 1.0))
                {
                    events.push(CorporateEvent::Split { date, ratio });
                }
            }
            let v = Ohlcv {
                open: o,
                high: h,
                low: l,
                close: cl,
                volume: num("volume").unwrap_or(0.0),
            };
            c.push(time, v, raw);
        }
        let mut out = c.finish(NAME);
        events.sort_by_key(|e| e.date());
        out.events = events;
        out.currency = Some(instrument.currency);
        if let Some(last) = out.bars.last() {
            let partial = if interval.is_date_keyed() {
                // Refreshed during that date's session, before its close.
                let date = last.time.to_zoned(TimeZone::UTC).date();
                match (last_refreshed, cal.sessions(date).last()) {
                    (Some(r), Some(s)) => r < s.close,
                    _ => false,
                }
            } else {
                last.time
                    .saturating_add(SignedDuration::from_secs(interval.seconds()))
                    .is_ok_and(|end| end > self.clock.now())
            };
            if partial {
                out.incomplete = Some(last.time);
            }
        }
        Ok(out)
    }

    /// Intraday CSV (`timestamp,open,high,low,close,volume`, newest first).
    fn decode_csv(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
        resp: &Response,
    ) -> Result<FetchedBars, FetchError> {
        let tz = Self::calendar(instrument).time_zone().clone();
        let mut lines = resp.body.lines();
        let header = lines.next().unwrap_or_default().to_ascii_lowercase();
        if !(header.starts_with("time") || header.starts_with("timestamp")) {
            return Err(self
                .http
                .decode_error(resp, "neither JSON nor the expected CSV"));
        }
        let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
        for line in lines {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f.get(i).and_then(|s| str_f64(s));
            let time = f.first().and_then(|t| {
                if interval.is_date_keyed() {
                    t.parse::<Date>().ok().map(date_key)
                } else {
                    local_datetime(t, &tz)
                }
            });
            match (time, num(1), num(2), num(3), num(4)) {
                (Some(t), Some(o), Some(h), Some(l), Some(cl)) => {
                    let v = Ohlcv {
                        open: o,
                        high: h,
                        low: l,
                        close: cl,
                        volume: num(5).unwrap_or(0.0),
                    };
                    c.push(t, v, || line.to_owned());
                }
                _ => c.reject(line, "unparseable CSV row"),
            }
        }
        let mut out = c.finish(NAME);
        out.currency = Some(instrument.currency);
        Ok(out)
    }

    /// `SYMBOL_SEARCH`: candidates for a keyword.
    pub async fn search(&self, keywords: &str) -> Result<Vec<SymbolMatch>, FetchError> {
        let (resp, v) = self
            .query(&[
                ("function", "SYMBOL_SEARCH".into()),
                ("keywords", keywords.into()),
            ])
            .await?;
        let v = v.ok_or_else(|| self.http.decode_error(&resp, "expected JSON"))?;
        let matches = v
            .get("bestMatches")
            .and_then(Value::as_array)
            .ok_or_else(|| self.http.decode_error(&resp, "no bestMatches"))?;
        Ok(matches
            .iter()
            .filter_map(Value::as_object)
            .map(|m| {
                let s = |n: &str| find(m, n).and_then(Value::as_str).unwrap_or("").to_owned();
                SymbolMatch {
                    symbol: s("symbol"),
                    name: s("name"),
                    kind: s("type"),
                    region: s("region"),
                    currency: s("currency"),
                    score: find(m, "matchScore").and_then(json_f64).unwrap_or(0.0),
                }
            })
            .collect())
    }
}

#[async_trait]
impl PriceSource for AlphaVantageProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        self.key()?;
        let symbol = self.symbol(instrument)?;
        if !self.caps.supports(instrument.kind, interval) {
            return Err(self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!(
                    "Alpha Vantage offers no {} {interval} bars",
                    instrument.kind
                ),
            ));
        }
        if from >= to {
            return Ok(FetchedBars::empty(NAME));
        }
        // Compact (100 points) covers about 140 calendar days of daily bars.
        let recent = self.clock.now().duration_since(from) < SignedDuration::from_hours(24 * 140);
        let size = if recent { "compact" } else { "full" };
        let params: Vec<(&str, String)> = match (instrument.kind, interval) {
            (InstrumentKind::Fx, Interval::D1) => {
                let (b, q) = symbols::split_pair(&symbol).ok_or_else(|| {
                    self.err(
                        FetchErrorKind::Unsupported,
                        ErrorClass::TryNext,
                        "not an FX pair",
                    )
                })?;
                vec![
                    ("function", "FX_DAILY".into()),
                    ("from_symbol", b.into()),
                    ("to_symbol", q.into()),
                    ("outputsize", size.into()),
                ]
            }
            (InstrumentKind::Crypto, Interval::D1) => {
                let (b, q) = symbols::split_pair(&symbol).ok_or_else(|| {
                    self.err(
                        FetchErrorKind::Unsupported,
                        ErrorClass::TryNext,
                        "not a crypto pair",
                    )
                })?;
                vec![
                    ("function", "DIGITAL_CURRENCY_DAILY".into()),
                    ("symbol", b.into()),
                    ("market", q.into()),
                ]
            }
            (InstrumentKind::Fx | InstrumentKind::Crypto, _) => {
                return Err(self.err(
                    FetchErrorKind::Unsupported,
                    ErrorClass::TryNext,
                    format!(
                        "no {} {interval} bars on the free functions",
                        instrument.kind
                    ),
                ));
            }
            (_, Interval::D1) => vec![
                ("function", "TIME_SERIES_DAILY".into()),
                ("symbol", symbol.clone()),
                ("outputsize", size.into()),
            ],
            (_, i) => vec![
                ("function", "TIME_SERIES_INTRADAY".into()),
                ("symbol", symbol.clone()),
                (
                    "interval",
                    match i {
                        Interval::M1 => "1min",
                        Interval::M5 => "5min",
                        Interval::M15 => "15min",
                        _ => "60min",
                    }
                    .into(),
                ),
                ("outputsize", "full".into()),
            ],
        };
        let (resp, v) = self.query(&params).await?;
        match v {
            Some(v) => self.decode_series(instrument, interval, from, to, &resp, &v),
            None => self.decode_csv(instrument, interval, from, to, &resp),
        }
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        self.key()?;
        let symbol = self.symbol(instrument)?;
        if matches!(instrument.kind, InstrumentKind::Fx | InstrumentKind::Crypto) {
            let (b, q) = symbols::split_pair(&symbol).ok_or_else(|| {
                self.err(
                    FetchErrorKind::Unsupported,
                    ErrorClass::TryNext,
                    "not a currency pair",
                )
            })?;
            let (resp, v) = self
                .query(&[
                    ("function", "CURRENCY_EXCHANGE_RATE".into()),
                    ("from_currency", b.into()),
                    ("to_currency", q.into()),
                ])
                .await?;
            let rate = v
                .as_ref()
                .and_then(|v| v.get("Realtime Currency Exchange Rate"))
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    self.http
                        .decode_error(&resp, "no \"Realtime Currency Exchange Rate\"")
                })?;
            let price = find(rate, "Exchange Rate")
                .and_then(json_f64)
                .filter(|p| *p > 0.0)
                .ok_or_else(|| self.http.decode_error(&resp, "no exchange rate"))?;
            let tz = find(rate, "Time Zone")
                .and_then(Value::as_str)
                .and_then(time_zone)
                .unwrap_or(TimeZone::UTC);
            let time = find(rate, "Last Refreshed")
                .and_then(Value::as_str)
                .and_then(|s| local_datetime(s, &tz))
                .unwrap_or_else(|| self.clock.now());
            return Ok(Quote {
                price,
                time,
                previous_close: None,
                currency: instrument.currency,
                provider: NAME.into(),
                simulated: false,
            });
        }
        let (resp, v) = self
            .query(&[
                ("function", "GLOBAL_QUOTE".into()),
                ("symbol", symbol.clone()),
            ])
            .await?;
        let q = v
            .as_ref()
            .and_then(|v| v.get("Global Quote"))
            .and_then(Value::as_object)
            .ok_or_else(|| self.http.decode_error(&resp, "no \"Global Quote\""))?;
        if q.is_empty() {
            return Err(self.err(
                FetchErrorKind::UnknownSymbol,
                ErrorClass::GiveUp,
                format!(
                    "GET {}: empty Global Quote (unknown symbol {symbol})",
                    resp.url
                ),
            ));
        }
        let price = find(q, "price")
            .and_then(json_f64)
            .filter(|p| *p > 0.0)
            .ok_or_else(|| self.http.decode_error(&resp, "no price"))?;
        // Only a date is given: the quote is as of that day's close, or now
        // when the session is still running.
        let now = self.clock.now();
        let time = find(q, "latest trading day")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Date>().ok())
            .and_then(|d| {
                Self::calendar(instrument)
                    .sessions(d)
                    .last()
                    .map(|s| s.close)
            })
            .map_or(now, |close| close.min(now));
        Ok(Quote {
            price,
            time,
            previous_close: find(q, "previous close").and_then(json_f64),
            currency: instrument.currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for AlphaVantageProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || match instrument.kind {
            InstrumentKind::Fx | InstrumentKind::Crypto => {
                symbols::split_pair(instrument.symbol.as_str()).map(|(b, q)| format!("{b}-{q}"))
            }
            InstrumentKind::Item => None,
            _ => symbols::alphavantage(instrument),
        })
    }

    fn is_configured(&self) -> bool {
        self.key.is_some()
    }
}
