//! CoinGecko: `/simple/price` for quotes (batched), `/coins/{id}/ohlc` for
//! recent daily bars and `/coins/{id}/market_chart/range` for everything else.
//! An API key is optional (`x-cg-demo-api-key`, or `x-cg-pro-api-key` on the
//! pro host).
//!
//! CoinGecko sends prices, not bars: market_chart points (ms, unaligned) and
//! OHLC candles stamped at their **close** time, with an automatic width. Both
//! are aggregated into the requested interval (open of the first sample, max,
//! min, close of the last). Candles carry no volume; for daily bars from
//! market_chart the 24 h rolling volume at the day's last point is used, and
//! intraday bars get volume 0. Unknown ids come back as HTTP 200 `{}` from
//! `/simple/price` and as HTTP 404 `{"error":…}` elsewhere.

use crate::{
    config::{AdapterConfig, CoinGeckoPlan, ConfigError},
    http::{Http, Response},
    parse::{BarCollector, json_f64, json_i64},
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
    symbols,
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use pricetrack_app::{
    market_data::{ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote},
    ports::Clock,
};
use pricetrack_domain::{Instrument, InstrumentKind, Interval, Ohlcv, date_key};
use serde_json::Value;
use std::sync::Arc;

pub const NAME: &str = "coingecko";
pub const DEFAULT_BASE_URL: &str = "https://api.coingecko.com/api/v3";
pub const PRO_BASE_URL: &str = "https://pro-api.coingecko.com/api/v3";

mod wire {
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Debug, Deserialize)]
    pub struct MarketChart {
        #[serde(default)]
        pub prices: Vec<Vec<Value>>,
        #[serde(default)]
        pub total_volumes: Vec<Vec<Value>>,
    }

    /// The shapes of CoinGecko's error bodies.
    #[derive(Debug, Deserialize)]
    pub struct ErrorBody {
        pub error: Option<Value>,
        pub status: Option<Status>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Status {
        pub error_code: Option<i64>,
        pub error_message: Option<String>,
    }
}

/// The CoinGecko adapter.
pub struct CoinGeckoProvider {
    http: Http,
    base: String,
    key: Option<(&'static str, String)>,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl std::fmt::Debug for CoinGeckoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinGeckoProvider")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|(h, _)| *h))
            .finish()
    }
}

/// One price sample or candle, with the time it starts.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Timestamp,
    ohlc: [f64; 4],
    volume: Option<f64>,
}

/// The bucket of `t` for `interval` (crypto days are UTC days).
fn bucket(t: Timestamp, interval: Interval) -> Timestamp {
    if interval.is_date_keyed() {
        date_key(t.to_zoned(TimeZone::UTC).date())
    } else {
        let s = interval.seconds();
        Timestamp::from_second(t.as_second().div_euclid(s) * s).unwrap_or(t)
    }
}

/// Aggregates samples (ascending) into bars of `interval`.
fn aggregate(samples: &[Sample], interval: Interval, c: &mut BarCollector) -> Option<Timestamp> {
    let mut cur: Option<(Timestamp, Ohlcv)> = None;
    let mut last_start = None;
    let flush = |cur: Option<(Timestamp, Ohlcv)>, c: &mut BarCollector| {
        if let Some((t, v)) = cur {
            c.push(t, v, || format!("{t} {v:?}"));
        }
    };
    for s in samples {
        let b = bucket(s.start, interval);
        let [o, h, l, cl] = s.ohlc;
        let vol = if interval.is_date_keyed() {
            s.volume.unwrap_or(0.0)
        } else {
            0.0
        };
        match &mut cur {
            Some((t, v)) if *t == b => {
                v.high = v.high.max(h);
                v.low = v.low.min(l);
                v.close = cl;
                if s.volume.is_some() {
                    v.volume = vol;
                }
            }
            _ => {
                flush(cur.take(), c);
                cur = Some((
                    b,
                    Ohlcv {
                        open: o,
                        high: h,
                        low: l,
                        close: cl,
                        volume: vol,
                    },
                ));
            }
        }
        last_start = Some(s.start);
    }
    let last_bucket = cur.as_ref().map(|(t, _)| *t);
    flush(cur, c);
    last_start.and(last_bucket)
}

impl CoinGeckoProvider {
    /// `base_url` empty in `cfg` is not allowed; use [`DEFAULT_BASE_URL`] or
    /// [`PRO_BASE_URL`]. The key header follows `plan`.
    pub fn new(cfg: AdapterConfig, plan: CoinGeckoPlan) -> Result<Self, ConfigError> {
        let header = match plan {
            CoinGeckoPlan::Demo => "x-cg-demo-api-key",
            CoinGeckoPlan::Pro => "x-cg-pro-api-key",
        };
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            base: cfg.base_url.clone(),
            key: cfg.api_key.clone().map(|k| (header, k)),
            clock: cfg.clock.clone(),
            caps: Capabilities {
                kinds: vec![InstrumentKind::Crypto],
                intervals: vec![
                    (Interval::M5, HistoryDepth::Days(1)),
                    (Interval::H1, HistoryDepth::Days(90)),
                    (Interval::D1, HistoryDepth::Days(365)),
                ],
                batch_quotes: true,
                // Keyless: ~5–15 calls/min; demo key: 30/min.
                rate_limit: RateLimit::new(10.0, 2),
                needs_api_key: false,
                simulated: false,
                max_request_span: Vec::new(),
            },
        })
    }

    fn err(&self, kind: FetchErrorKind, class: ErrorClass, msg: impl Into<String>) -> FetchError {
        FetchError::new(NAME, kind, class, msg)
    }

    fn ids(&self, instrument: &Instrument) -> Result<(String, String), FetchError> {
        let id = self.provider_symbol(instrument).ok_or_else(|| {
            self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!("no CoinGecko coin id for {}", instrument.symbol),
            )
        })?;
        let vs = symbols::coingecko(instrument)
            .map(|(_, vs)| vs)
            .unwrap_or_else(|| instrument.currency.as_str().to_ascii_lowercase());
        Ok((id, vs))
    }

    async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(Response, Value), FetchError> {
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
        let headers: Vec<(&str, &str)> = self
            .key
            .as_ref()
            .map(|(h, k)| vec![(*h, k.as_str())])
            .unwrap_or_default();
        let resp = self.http.get(u.as_str(), &headers).await?;
        if !resp.is_success() {
            return Err(self.error_response(&resp));
        }
        let v: Value = serde_json::from_str(&resp.body)
            .map_err(|e| self.http.decode_error(&resp, format!("invalid JSON: {e}")))?;
        Ok((resp, v))
    }

    fn error_response(&self, resp: &Response) -> FetchError {
        let body: Option<wire::ErrorBody> = serde_json::from_str(&resp.body).ok();
        let status_code = body
            .as_ref()
            .and_then(|b| b.status.as_ref())
            .and_then(|s| s.error_code);
        let text = body
            .as_ref()
            .and_then(|b| {
                b.status
                    .as_ref()
                    .and_then(|s| s.error_message.clone())
                    .or_else(|| b.error.as_ref().map(|e| e.to_string()))
            })
            .unwrap_or_else(|| resp.snippet());
        let msg = format!("GET {} (HTTP {}): {text}", resp.url, resp.status);
        match (resp.status, status_code) {
            (429, _) | (_, Some(429)) => self.err(
                FetchErrorKind::RateLimited,
                ErrorClass::RetryLater {
                    retry_after: resp.retry_after,
                },
                msg,
            ),
            // Plan-restricted endpoint or range: another provider may serve it.
            (_, Some(10005 | 10012)) => {
                self.err(FetchErrorKind::Unsupported, ErrorClass::TryNext, msg)
            }
            (401 | 403, _) => self.err(FetchErrorKind::Unauthorized, ErrorClass::GiveUp, msg),
            (404, _) => self.err(FetchErrorKind::UnknownSymbol, ErrorClass::GiveUp, msg),
            _ => {
                let mut e = self.http.status_error(resp);
                e.message = msg;
                e
            }
        }
    }

    fn pairs(
        &self,
        resp: &Response,
        rows: &[Vec<Value>],
    ) -> Result<Vec<(Timestamp, f64)>, FetchError> {
        rows.iter()
            .filter_map(|r| {
                let t = r.first().and_then(json_i64)?;
                let v = r.get(1).and_then(json_f64)?;
                Some((t, v))
            })
            .map(|(t, v)| {
                Timestamp::from_millisecond(t)
                    .map(|t| (t, v))
                    .map_err(|e| self.http.decode_error(resp, e))
            })
            .collect()
    }
}

#[async_trait]
impl PriceSource for CoinGeckoProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let (id, vs) = self.ids(instrument)?;
        if !self.caps.supports(instrument.kind, interval) {
            return Err(self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!("CoinGecko offers no {interval} bars"),
            ));
        }
        if from >= to {
            return Ok(FetchedBars::empty(NAME));
        }
        let now = self.clock.now();
        let day = SignedDuration::from_hours(24);
        let age = now.duration_since(from);
        let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
        let mut samples = Vec::new();
        let path_id = format!("/coins/{}", url_escape(&id));
        if interval == Interval::D1 && age <= day * 30 {
            // Recent daily bars from real OHLC candles (30 min or 4 h wide).
            let days = [1, 7, 14, 30]
                .into_iter()
                .find(|d| age <= day * *d)
                .unwrap_or(30);
            let (resp, v) = self
                .get_json(
                    &format!("{path_id}/ohlc"),
                    &[("vs_currency", vs.clone()), ("days", days.to_string())],
                )
                .await?;
            let rows = v
                .as_array()
                .ok_or_else(|| self.http.decode_error(&resp, "ohlc is not an array"))?;
            let mut candles: Vec<(i64, [f64; 4])> = Vec::with_capacity(rows.len());
            for row in rows {
                let a = row.as_array();
                let get = |i: usize| a.and_then(|a| a.get(i));
                match (
                    get(0).and_then(json_i64),
                    get(1).and_then(json_f64),
                    get(2).and_then(json_f64),
                    get(3).and_then(json_f64),
                    get(4).and_then(json_f64),
                ) {
                    (Some(t), Some(o), Some(h), Some(l), Some(cl)) => {
                        candles.push((t, [o, h, l, cl]))
                    }
                    _ => c.reject(row.to_string(), "ohlc row is not [ms, o, h, l, c]"),
                }
            }
            candles.sort_by_key(|(t, _)| *t);
            // The stamp is the candle's close: its width is the spacing, or
            // CoinGecko's documented width for the `days` asked.
            let documented = if days <= 2 {
                30 * 60_000
            } else {
                4 * 3_600_000
            };
            let width = candles
                .windows(2)
                .map(|w| w[1].0 - w[0].0)
                .filter(|d| *d > 0)
                .min()
                .unwrap_or(documented);
            for (t, ohlc) in candles {
                if let Ok(start) = Timestamp::from_millisecond(t - width) {
                    samples.push(Sample {
                        start,
                        ohlc,
                        volume: None,
                    });
                }
            }
        } else {
            let granularity = if age <= day {
                300
            } else if to.duration_since(from) <= day * 90 {
                3_600
            } else {
                86_400
            };
            if interval.seconds() < granularity {
                return Err(self.err(
                    FetchErrorKind::Unsupported,
                    ErrorClass::TryNext,
                    format!(
                        "CoinGecko gives {granularity}-second points for this range, too coarse for {interval} bars"
                    ),
                ));
            }
            let (resp, v) = self
                .get_json(
                    &format!("{path_id}/market_chart/range"),
                    &[
                        ("vs_currency", vs.clone()),
                        ("from", from.as_second().to_string()),
                        ("to", to.as_second().to_string()),
                    ],
                )
                .await?;
            let chart: wire::MarketChart = serde_json::from_value(v).map_err(|e| {
                self.http
                    .decode_error(&resp, format!("unexpected market_chart: {e}"))
            })?;
            let prices = self.pairs(&resp, &chart.prices)?;
            let volumes = self.pairs(&resp, &chart.total_volumes)?;
            for (i, (t, p)) in prices.into_iter().enumerate() {
                let volume = volumes.get(i).filter(|(vt, _)| *vt == t).map(|(_, v)| *v);
                samples.push(Sample {
                    start: t,
                    ohlc: [p; 4],
                    volume,
                });
            }
            samples.sort_by_key(|s| s.start);
        }
        let last_bucket = aggregate(&samples, interval, &mut c);
        let mut out = c.finish(NAME);
        out.currency = Some(instrument.currency);
        if let (Some(b), Some(last)) = (last_bucket, out.bars.last()) {
            let end = b
                .saturating_add(SignedDuration::from_secs(interval.seconds()))
                .unwrap_or(b);
            if last.time == b && end > now {
                out.incomplete = Some(b);
            }
        }
        Ok(out)
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        self.fetch_quotes(std::slice::from_ref(instrument))
            .await
            .pop()
            .unwrap_or_else(|| {
                Err(self.err(FetchErrorKind::NoData, ErrorClass::TryNext, "no answer"))
            })
    }
}

fn url_escape(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[async_trait]
impl Provider for CoinGeckoProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || {
            symbols::coingecko(instrument).map(|(id, _)| id)
        })
    }

    /// One `/simple/price` request for all coins and currencies.
    async fn fetch_quotes(&self, instruments: &[Instrument]) -> Vec<Result<Quote, FetchError>> {
        let ids: Vec<Result<(String, String), FetchError>> =
            instruments.iter().map(|i| self.ids(i)).collect();
        let mut coin_ids: Vec<&str> = ids.iter().flatten().map(|(id, _)| id.as_str()).collect();
        let mut vs: Vec<&str> = ids.iter().flatten().map(|(_, v)| v.as_str()).collect();
        coin_ids.sort_unstable();
        coin_ids.dedup();
        vs.sort_unstable();
        vs.dedup();
        if coin_ids.is_empty() {
            return ids
                .into_iter()
                .map(|r| {
                    Err(r.err().unwrap_or_else(|| {
                        self.err(
                            FetchErrorKind::Unsupported,
                            ErrorClass::TryNext,
                            "no coin id",
                        )
                    }))
                })
                .collect();
        }
        let answer = self
            .get_json(
                "/simple/price",
                &[
                    ("ids", coin_ids.join(",")),
                    ("vs_currencies", vs.join(",")),
                    ("include_last_updated_at", "true".into()),
                ],
            )
            .await;
        let (resp, v) = match answer {
            Ok(x) => x,
            Err(e) => return instruments.iter().map(|_| Err(e.clone())).collect(),
        };
        let now = self.clock.now();
        instruments
            .iter()
            .zip(ids)
            .map(|(inst, ids)| {
                let (id, vs) = ids?;
                let coin = v.get(&id).and_then(Value::as_object).ok_or_else(|| {
                    // Unknown ids are silently left out: `{}`.
                    self.err(
                        FetchErrorKind::UnknownSymbol,
                        ErrorClass::GiveUp,
                        format!(
                            "GET {}: coin id {id:?} is not in the answer (unknown id)",
                            resp.url
                        ),
                    )
                })?;
                let price = coin
                    .get(&vs)
                    .and_then(json_f64)
                    .filter(|p| *p > 0.0)
                    .ok_or_else(|| {
                        self.err(
                            FetchErrorKind::Unsupported,
                            ErrorClass::TryNext,
                            format!("no {vs} price for {id}"),
                        )
                    })?;
                let time = coin
                    .get("last_updated_at")
                    .and_then(json_i64)
                    .and_then(|s| Timestamp::from_second(s).ok())
                    .unwrap_or(now);
                Ok(Quote {
                    price,
                    time,
                    previous_close: None,
                    currency: inst.currency,
                    provider: NAME.into(),
                    simulated: false,
                })
            })
            .collect()
    }
}
