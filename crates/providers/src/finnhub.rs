//! Finnhub (`https://finnhub.io/api/v1`): `/stock/candle` for bars and
//! `/quote` for the latest price. Needs a key (`X-Finnhub-Token` header, so
//! it never appears in a URL); without one the registry leaves it out.
//!
//! Quirks handled (all in the recorded responses):
//! * candles as column-wise arrays `c,h,l,o,t,v` with `s:"ok"`; `{"s":"no_data"}`
//!   for an empty range (no bars, no error);
//! * daily `t` at 00:00 UTC (2021) or at the session open (2020): keyed by
//!   the exchange's trading date either way;
//! * a quote of all zeros for a symbol Finnhub does not cover: no price
//!   (try the next provider), never a price of 0; the legacy quote shape
//!   without `d`/`dp`;
//! * HTTP 401 (bad key: give up), 403 "You don't have access to this
//!   resource" (a premium endpoint or market on this plan: try the next
//!   provider), 429 "API limit reached" (retry later, with `Retry-After`).

use crate::{
    config::{AdapterConfig, ConfigError},
    http::{Http, Response},
    parse::{BarCollector, local_date_key},
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::{
    market_data::{ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote},
    ports::Clock,
};
use pricetrack_domain::{Instrument, InstrumentKind, Interval, Ohlcv, calendar::Calendar};
use std::sync::Arc;

pub const NAME: &str = "finnhub";
pub const DEFAULT_BASE_URL: &str = "https://finnhub.io/api/v1";

mod wire {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    pub struct Candles {
        pub s: String,
        #[serde(default)]
        pub t: Vec<i64>,
        #[serde(default)]
        pub o: Vec<Option<f64>>,
        #[serde(default)]
        pub h: Vec<Option<f64>>,
        #[serde(default)]
        pub l: Vec<Option<f64>>,
        #[serde(default)]
        pub c: Vec<Option<f64>>,
        #[serde(default)]
        pub v: Vec<Option<f64>>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Quote {
        pub c: Option<f64>,
        pub pc: Option<f64>,
        pub t: Option<i64>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ApiError {
        pub error: String,
    }
}

/// The Finnhub adapter.
pub struct FinnhubProvider {
    http: Http,
    base: String,
    key: Option<String>,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl std::fmt::Debug for FinnhubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinnhubProvider")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn resolution(i: Interval) -> &'static str {
    match i {
        Interval::M1 => "1",
        Interval::M5 => "5",
        Interval::M15 => "15",
        Interval::H1 => "60",
        Interval::D1 => "D",
        Interval::W1 => "W",
        Interval::Mo1 => "M",
    }
}

impl FinnhubProvider {
    pub fn new(cfg: AdapterConfig) -> Result<Self, ConfigError> {
        use InstrumentKind as K;
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            base: cfg.base_url.clone(),
            key: cfg.api_key.clone(),
            clock: cfg.clock.clone(),
            caps: Capabilities {
                kinds: vec![K::Stock, K::Etf, K::Fund],
                intervals: vec![
                    (Interval::M1, HistoryDepth::Days(30)),
                    (Interval::M5, HistoryDepth::Days(30)),
                    (Interval::M15, HistoryDepth::Days(30)),
                    (Interval::H1, HistoryDepth::Days(365)),
                    (Interval::D1, HistoryDepth::Unlimited),
                    (Interval::W1, HistoryDepth::Unlimited),
                    (Interval::Mo1, HistoryDepth::Unlimited),
                ],
                batch_quotes: false,
                // The free plan's 60 calls a minute.
                rate_limit: RateLimit::new(60.0, 10),
                needs_api_key: true,
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
                format!(
                    "no Finnhub symbol for {} ({})",
                    instrument.symbol, instrument.kind
                ),
            )
        })
    }

    /// GET `path` with the query and the key; non-200s become typed errors.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Response, FetchError> {
        let Some(key) = self.key.as_deref() else {
            return Err(self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                "no API key (PRICETRACK_PROVIDER_FINNHUB_API_KEY)",
            ));
        };
        let mut u = url::Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                format!("base URL {:?}: {e}", self.base),
            )
        })?;
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        let resp = self
            .http
            .get(u.as_str(), &[("X-Finnhub-Token", key)])
            .await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(self.error_response(&resp))
        }
    }

    fn error_response(&self, resp: &Response) -> FetchError {
        let said = serde_json::from_str::<wire::ApiError>(&resp.body)
            .map(|e| e.error)
            .unwrap_or_else(|_| resp.snippet());
        let (kind, class) = match resp.status {
            429 => (
                FetchErrorKind::RateLimited,
                ErrorClass::RetryLater {
                    retry_after: resp.retry_after,
                },
            ),
            // "You don't have access to this resource.": a premium endpoint
            // or market on this plan; another provider may serve it. The
            // same words sometimes come with 401; a bare 401 is a bad key.
            403 => (FetchErrorKind::Unsupported, ErrorClass::TryNext),
            401 if said.contains("access") => (FetchErrorKind::Unsupported, ErrorClass::TryNext),
            401 => (FetchErrorKind::Unauthorized, ErrorClass::GiveUp),
            s if s >= 500 => (FetchErrorKind::Upstream, ErrorClass::retry_later()),
            _ => return self.http.status_error(resp),
        };
        self.err(
            kind,
            class,
            format!("GET {} (HTTP {}): {said}", resp.url, resp.status),
        )
    }

    fn calendar(instrument: &Instrument) -> Calendar {
        Calendar::for_instrument(
            instrument.kind,
            instrument.exchange.as_deref(),
            instrument.symbol.as_str(),
        )
    }
}

/// Decodes a candle response body into bars, exactly as the adapter does.
pub fn parse_candles(
    body: &str,
    instrument: &Instrument,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<FetchedBars, String> {
    let candles: wire::Candles =
        serde_json::from_str(body).map_err(|e| format!("invalid candle JSON: {e}"))?;
    Ok(decode_candles(instrument, interval, from, to, candles, now))
}

fn decode_candles(
    instrument: &Instrument,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
    candles: wire::Candles,
    now: Timestamp,
) -> FetchedBars {
    let cal = FinnhubProvider::calendar(instrument);
    let tz = cal.time_zone().clone();
    let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
    if candles.s != "ok" {
        return c.finish(NAME);
    }
    let at = |v: &Vec<Option<f64>>, i: usize| v.get(i).copied().flatten();
    for (i, &t) in candles.t.iter().enumerate() {
        let raw = || {
            format!(
                "t={t} o={:?} h={:?} l={:?} c={:?} v={:?}",
                at(&candles.o, i),
                at(&candles.h, i),
                at(&candles.l, i),
                at(&candles.c, i),
                at(&candles.v, i)
            )
        };
        let Ok(time) = Timestamp::from_second(t) else {
            c.reject(raw(), "timestamp out of range");
            continue;
        };
        // Daily candles come at 00:00 UTC of the trading date or at the
        // session open: either way the trading date is the key.
        let key = if interval.is_date_keyed() && t.rem_euclid(86_400) != 0 {
            local_date_key(time, &tz)
        } else {
            time
        };
        match (
            at(&candles.o, i),
            at(&candles.h, i),
            at(&candles.l, i),
            at(&candles.c, i),
        ) {
            (Some(open), Some(high), Some(low), Some(close)) => c.push(
                key,
                Ohlcv {
                    open,
                    high,
                    low,
                    close,
                    volume: at(&candles.v, i).unwrap_or(0.0),
                },
                raw,
            ),
            _ => {
                if c.in_range(key) {
                    c.reject(raw(), "some prices are missing");
                }
            }
        }
    }
    let mut out = c.finish(NAME);
    out.currency = Some(instrument.currency);
    if let Some(last) = out.bars.last() {
        let incomplete = if interval.is_date_keyed() {
            let date = last.date();
            cal.trading_date(now) == date
                && cal.sessions(date).last().is_some_and(|s| now < s.close)
        } else {
            last.time
                .saturating_add(SignedDuration::from_secs(interval.seconds()))
                .is_ok_and(|end| end > now)
        };
        if incomplete {
            out.incomplete = Some(last.time);
        }
    }
    out
}

#[async_trait]
impl PriceSource for FinnhubProvider {
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
                format!("{} {interval} candles are not offered", instrument.kind),
            ));
        }
        if from >= to {
            return Ok(FetchedBars::empty(NAME));
        }
        // Daily candles may be stamped at the session open, after 00:00 UTC.
        let pad = if interval.is_date_keyed() { 86_400 } else { 0 };
        let resp = self
            .get(
                "/stock/candle",
                &[
                    ("symbol", symbol),
                    ("resolution", resolution(interval).to_owned()),
                    ("from", from.as_second().to_string()),
                    ("to", (to.as_second() + pad).to_string()),
                ],
            )
            .await?;
        let candles: wire::Candles = serde_json::from_str(&resp.body).map_err(|e| {
            self.http
                .decode_error(&resp, format!("invalid candle JSON: {e}"))
        })?;
        if candles.s != "ok" && candles.s != "no_data" {
            return Err(self
                .http
                .decode_error(&resp, format!("unexpected candle status {:?}", candles.s)));
        }
        Ok(decode_candles(
            instrument,
            interval,
            from,
            to,
            candles,
            self.clock.now(),
        ))
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let symbol = self.symbol(instrument)?;
        let resp = self.get("/quote", &[("symbol", symbol.clone())]).await?;
        let q: wire::Quote = serde_json::from_str(&resp.body).map_err(|e| {
            self.http
                .decode_error(&resp, format!("invalid quote JSON: {e}"))
        })?;
        // All zeros: Finnhub does not cover the symbol (not a price of 0).
        let (Some(price), Some(t)) = (
            q.c.filter(|c| c.is_finite() && *c > 0.0),
            q.t.filter(|t| *t > 0),
        ) else {
            return Err(self.err(
                FetchErrorKind::UnknownSymbol,
                ErrorClass::TryNext,
                format!("GET {}: an all-zero quote: no data for {symbol}", resp.url),
            ));
        };
        Ok(Quote {
            price,
            time: Timestamp::from_second(t).unwrap_or_else(|_| self.clock.now()),
            previous_close: q.pc.filter(|p| p.is_finite() && *p > 0.0),
            currency: instrument.currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for FinnhubProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || {
            self.caps
                .supports_kind(instrument.kind)
                .then(|| instrument.symbol.as_str().to_owned())
        })
    }

    fn is_configured(&self) -> bool {
        self.key.is_some()
    }
}
