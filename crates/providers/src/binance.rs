//! Binance spot: `/api/v3/klines` for bars, `/api/v3/ticker/24hr` for a quote
//! and `/api/v3/ticker/price` for batch quotes. No key needed for market data.
//!
//! Klines are arrays of 12 positional fields, prices as strings, times in
//! milliseconds; the open time is the key (daily bars open at 00:00 UTC). A
//! kline whose close time is still ahead is the forming bar. Errors are real
//! statuses: 4xx with `{code,msg}` (-1121: Binance does not list the pair, so the next provider is asked), 429 and 418 with
//! `Retry-After`, 5xx.

use crate::{
    config::{AdapterConfig, ConfigError},
    http::{Http, Response},
    parse::{BarCollector, json_f64, json_i64},
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
    symbols,
};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::{
    market_data::{ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote},
    ports::Clock,
};
use pricetrack_domain::{Instrument, InstrumentKind, Interval, Ohlcv};
use serde_json::Value;
use std::sync::Arc;

pub const NAME: &str = "binance";
pub const DEFAULT_BASE_URL: &str = "https://api.binance.com";
/// Binance's maximum klines per request.
const PAGE: usize = 1000;
/// Safety stop for pagination.
const MAX_PAGES: usize = 50;

mod wire {
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Debug, Deserialize)]
    pub struct ApiError {
        pub code: i64,
        pub msg: String,
    }

    /// `/ticker/24hr`; integer fields may arrive as strings.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Ticker24h {
        pub last_price: Value,
        pub prev_close_price: Option<Value>,
        pub close_time: Option<Value>,
    }

    #[derive(Debug, Deserialize)]
    pub struct TickerPrice {
        pub symbol: String,
        pub price: Value,
    }
}

/// The Binance adapter.
pub struct BinanceProvider {
    http: Http,
    base: String,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl std::fmt::Debug for BinanceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceProvider")
            .field("base", &self.base)
            .finish()
    }
}

fn interval_param(i: Interval) -> &'static str {
    match i {
        Interval::M1 => "1m",
        Interval::M5 => "5m",
        Interval::M15 => "15m",
        Interval::H1 => "1h",
        Interval::D1 => "1d",
        Interval::W1 => "1w",
        Interval::Mo1 => "1M",
    }
}

/// One decoded kline.
pub(crate) struct Kline {
    pub open_time: Timestamp,
    pub close_time: Option<Timestamp>,
    pub ohlcv: Ohlcv,
}

pub(crate) fn decode_kline(v: &Value) -> Result<Kline, String> {
    let a = v.as_array().ok_or("kline is not an array")?;
    let field = |i: usize| a.get(i).ok_or_else(|| format!("kline has no field {i}"));
    let ms = |i: usize| -> Result<Timestamp, String> {
        let n = json_i64(field(i)?).ok_or_else(|| format!("field {i} is not a time"))?;
        Timestamp::from_millisecond(n).map_err(|e| e.to_string())
    };
    let num = |i: usize| -> Result<f64, String> {
        json_f64(field(i)?).ok_or_else(|| format!("field {i} is not a number"))
    };
    Ok(Kline {
        open_time: ms(0)?,
        close_time: ms(6).ok(),
        ohlcv: Ohlcv {
            open: num(1)?,
            high: num(2)?,
            low: num(3)?,
            close: num(4)?,
            volume: num(5)?,
        },
    })
}

impl BinanceProvider {
    pub fn new(cfg: AdapterConfig) -> Result<Self, ConfigError> {
        let all = |h| {
            Interval::ALL
                .into_iter()
                .map(move |i| (i, h))
                .collect::<Vec<_>>()
        };
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            base: cfg.base_url.clone(),
            clock: cfg.clock.clone(),
            caps: Capabilities {
                kinds: vec![InstrumentKind::Crypto],
                intervals: all(HistoryDepth::Unlimited),
                batch_quotes: true,
                // 6000 weight/min; a klines call weighs 2.
                rate_limit: RateLimit::new(1200.0, 50),
                needs_api_key: false,
                simulated: false,
                max_request_span: Vec::new(),
            },
        })
    }

    fn err(&self, kind: FetchErrorKind, class: ErrorClass, msg: impl Into<String>) -> FetchError {
        FetchError::new(NAME, kind, class, msg)
    }

    fn symbol(&self, instrument: &Instrument) -> Result<String, FetchError> {
        self.provider_symbol(instrument).ok_or_else(|| {
            self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!("{} is not a Binance crypto pair", instrument.symbol),
            )
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<String, FetchError> {
        let mut u = url::Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                e.to_string(),
            )
        })?;
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u.to_string())
    }

    async fn get_json(&self, url: &str) -> Result<(Response, Value), FetchError> {
        let resp = self.http.get(url, &[]).await?;
        if !resp.is_success() {
            return Err(self.error_response(&resp));
        }
        let v: Value = serde_json::from_str(&resp.body)
            .map_err(|e| self.http.decode_error(&resp, format!("invalid JSON: {e}")))?;
        Ok((resp, v))
    }

    fn error_response(&self, resp: &Response) -> FetchError {
        if let Ok(e) = serde_json::from_str::<wire::ApiError>(&resp.body) {
            let (kind, class) = match (resp.status, e.code) {
                (429 | 418, _) | (_, -1003) => (
                    FetchErrorKind::RateLimited,
                    ErrorClass::RetryLater {
                        retry_after: resp.retry_after,
                    },
                ),
                // Binance does not list the pair; another provider may.
                (_, -1121) => (FetchErrorKind::UnknownSymbol, ErrorClass::TryNext),
                (s, _) if s >= 500 => (FetchErrorKind::Upstream, ErrorClass::retry_later()),
                (401 | 403, _) => (FetchErrorKind::Unauthorized, ErrorClass::GiveUp),
                _ => (FetchErrorKind::HttpStatus, ErrorClass::GiveUp),
            };
            return self.err(
                kind,
                class,
                format!(
                    "GET {} (HTTP {}): code {}: {}",
                    resp.url, resp.status, e.code, e.msg
                ),
            );
        }
        if resp.status == 403 {
            // WAF block, not a key problem (market data needs no key).
            return self.err(
                FetchErrorKind::HttpStatus,
                ErrorClass::TryNext,
                format!("GET {} answered HTTP 403 (WAF rule)", resp.url),
            );
        }
        self.http.status_error(resp)
    }

    fn price(&self, resp: &Response, v: &Value, what: &str) -> Result<f64, FetchError> {
        json_f64(v).filter(|p| *p > 0.0).ok_or_else(|| {
            self.http
                .decode_error(resp, format!("{what} is not a positive number"))
        })
    }
}

#[async_trait]
impl PriceSource for BinanceProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let symbol = self.symbol(instrument)?;
        if from >= to {
            return Ok(FetchedBars::empty(NAME));
        }
        let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
        let mut start = from.as_millisecond();
        let end = to.as_millisecond() - 1;
        let now = self.clock.now();
        let mut incomplete = None;
        for _ in 0..MAX_PAGES {
            let url = self.url(
                "/api/v3/klines",
                &[
                    ("symbol", symbol.clone()),
                    ("interval", interval_param(interval).to_owned()),
                    ("startTime", start.to_string()),
                    ("endTime", end.to_string()),
                    ("limit", PAGE.to_string()),
                ],
            )?;
            let (resp, v) = self.get_json(&url).await?;
            let rows = v
                .as_array()
                .ok_or_else(|| self.http.decode_error(&resp, "klines are not an array"))?;
            let mut last_open = None;
            for row in rows {
                match decode_kline(row) {
                    Ok(k) => {
                        last_open = Some(k.open_time);
                        if k.close_time.is_some_and(|ct| ct >= now) {
                            incomplete = Some(k.open_time);
                        }
                        c.push(k.open_time, k.ohlcv, || row.to_string());
                    }
                    Err(reason) => c.reject(row.to_string(), reason),
                }
            }
            match last_open {
                Some(t) if rows.len() >= PAGE && t.as_millisecond() < end => {
                    start = t.as_millisecond() + 1;
                }
                _ => break,
            }
        }
        let mut out = c.finish(NAME);
        out.currency = Some(instrument.currency);
        if let (Some(t), Some(last)) = (incomplete, out.bars.last())
            && last.time == t
        {
            out.incomplete = Some(t);
        }
        Ok(out)
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let symbol = self.symbol(instrument)?;
        let url = self.url("/api/v3/ticker/24hr", &[("symbol", symbol)])?;
        let (resp, v) = self.get_json(&url).await?;
        let t: wire::Ticker24h = serde_json::from_value(v).map_err(|e| {
            self.http
                .decode_error(&resp, format!("unexpected ticker: {e}"))
        })?;
        let price = self.price(&resp, &t.last_price, "lastPrice")?;
        let time = t
            .close_time
            .as_ref()
            .and_then(json_i64)
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .unwrap_or_else(|| self.clock.now());
        Ok(Quote {
            price,
            time,
            previous_close: t
                .prev_close_price
                .as_ref()
                .and_then(json_f64)
                .filter(|p| *p > 0.0),
            currency: instrument.currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for BinanceProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || symbols::binance(instrument))
    }

    /// One `/ticker/price?symbols=[…]` request (an array comes back).
    async fn fetch_quotes(&self, instruments: &[Instrument]) -> Vec<Result<Quote, FetchError>> {
        let symbols: Vec<Result<String, FetchError>> =
            instruments.iter().map(|i| self.symbol(i)).collect();
        let wanted: Vec<String> = symbols
            .iter()
            .filter_map(|s| s.as_ref().ok())
            .map(|s| format!("\"{s}\""))
            .collect();
        if wanted.is_empty() {
            // Every symbol failed to map: report those errors.
            return symbols
                .into_iter()
                .map(|s| {
                    Err(s.err().unwrap_or_else(|| {
                        self.err(
                            FetchErrorKind::Unsupported,
                            ErrorClass::TryNext,
                            "no symbol",
                        )
                    }))
                })
                .collect();
        }
        let fetched = async {
            let url = self.url(
                "/api/v3/ticker/price",
                &[("symbols", format!("[{}]", wanted.join(",")))],
            )?;
            let (resp, v) = self.get_json(&url).await?;
            let list: Vec<wire::TickerPrice> = match v {
                Value::Array(_) => serde_json::from_value(v),
                other => serde_json::from_value(other).map(|one| vec![one]),
            }
            .map_err(|e| {
                self.http
                    .decode_error(&resp, format!("unexpected price list: {e}"))
            })?;
            Ok::<_, FetchError>((resp, list))
        }
        .await;
        let (resp, list) = match fetched {
            Ok(x) => x,
            Err(e) => return instruments.iter().map(|_| Err(e.clone())).collect(),
        };
        let now = self.clock.now();
        instruments
            .iter()
            .zip(symbols)
            .map(|(inst, sym)| {
                let sym = sym?;
                let t = list.iter().find(|t| t.symbol == sym).ok_or_else(|| {
                    self.err(
                        FetchErrorKind::UnknownSymbol,
                        ErrorClass::GiveUp,
                        format!("{sym} is not in the price list"),
                    )
                })?;
                Ok(Quote {
                    price: self.price(&resp, &t.price, "price")?,
                    time: now,
                    previous_close: None,
                    currency: inst.currency,
                    provider: NAME.into(),
                    simulated: false,
                })
            })
            .collect()
    }
}
