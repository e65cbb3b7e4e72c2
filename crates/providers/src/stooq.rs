//! Stooq: keyless CSV downloads. Daily (weekly, monthly) history from
//! `/q/d/l/?s=aapl.us&i=d` and the latest quote from
//! `/q/l/?s=aapl.us&f=sd2t2ohlcvn&h&e=csv`.
//!
//! Every failure arrives as HTTP 200 with a body that is not CSV: `No data`
//! (unknown symbol or empty range → try the next provider), `Exceeded the
//! daily hits limit` (→ retry later), or a quote row of `N/D` (→ try the next
//! provider). So the first line must be the expected header before anything
//! is parsed. History is oldest first and its last row can be today's
//! unfinished session (flagged incomplete using the market calendar). Quote
//! times are Polish local time. UK prices are quoted in pence and converted.

use crate::{
    config::{AdapterConfig, ConfigError},
    http::{Http, Response, snippet},
    parse::{BarCollector, scale, str_f64, time_zone},
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
    symbols,
};
use async_trait::async_trait;
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use pricetrack_app::{
    market_data::{ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote},
    ports::Clock,
};
use pricetrack_domain::{
    Instrument, InstrumentKind, Interval, Ohlcv, calendar::Calendar, date_key,
};
use std::sync::Arc;

pub const NAME: &str = "stooq";
pub const DEFAULT_BASE_URL: &str = "https://stooq.com";

/// The Stooq adapter.
pub struct StooqProvider {
    http: Http,
    base: String,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl std::fmt::Debug for StooqProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StooqProvider")
            .field("base", &self.base)
            .finish()
    }
}

/// Which columns a CSV header has, by name.
struct Columns {
    date: usize,
    time: Option<usize>,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: Option<usize>,
}

impl Columns {
    fn from_header(header: &str) -> Option<Self> {
        let names: Vec<String> = header
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let find = |n: &str| names.iter().position(|h| h == n);
        Some(Self {
            date: find("date")?,
            time: find("time"),
            open: find("open")?,
            high: find("high")?,
            low: find("low")?,
            close: find("close")?,
            volume: find("volume"),
        })
    }
}

/// Stooq's divisor for a symbol: UK listings are quoted in pence.
fn pence_factor(stooq_symbol: &str) -> f64 {
    if stooq_symbol.ends_with(".uk") {
        0.01
    } else {
        1.0
    }
}

impl StooqProvider {
    pub fn new(cfg: AdapterConfig) -> Result<Self, ConfigError> {
        use InstrumentKind as K;
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            base: cfg.base_url.clone(),
            clock: cfg.clock.clone(),
            caps: Capabilities {
                kinds: vec![
                    K::Stock,
                    K::Etf,
                    K::Index,
                    K::Fx,
                    K::Commodity,
                    K::Crypto,
                    K::Bond,
                ],
                intervals: vec![
                    (Interval::D1, HistoryDepth::Unlimited),
                    (Interval::W1, HistoryDepth::Unlimited),
                    (Interval::Mo1, HistoryDepth::Unlimited),
                ],
                batch_quotes: false,
                rate_limit: RateLimit::new(30.0, 3),
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
                format!("no Stooq symbol for {}", instrument.symbol),
            )
        })
    }

    async fn get_csv(&self, url: &str, header_prefix: &str) -> Result<Response, FetchError> {
        let resp = self.http.get(url, &[]).await?;
        if !resp.is_success() {
            return Err(self.http.status_error(&resp));
        }
        let body = resp.body.trim_start_matches('\u{feff}').trim_start();
        if body.starts_with(header_prefix) {
            return Ok(resp);
        }
        let lower = body.to_ascii_lowercase();
        if lower.contains("exceeded the daily hits limit") {
            return Err(self.err(
                FetchErrorKind::QuotaExhausted,
                ErrorClass::retry_later(),
                format!("GET {}: {}", resp.url, snippet(body)),
            ));
        }
        if lower.starts_with("no data") {
            return Err(self.err(
                FetchErrorKind::NoData,
                ErrorClass::TryNext,
                format!(
                    "GET {}: Stooq has no data for this symbol and range",
                    resp.url
                ),
            ));
        }
        Err(self
            .http
            .decode_error(&resp, format!("expected a CSV starting {header_prefix:?}")))
    }
}

/// Decodes a Stooq history CSV body into bars, exactly as the adapter does
/// (UK symbols in pence are the caller's business here).
pub fn parse_history_csv(
    body: &str,
    instrument: &Instrument,
    interval: Interval,
    from: Timestamp,
    to: Timestamp,
) -> Result<FetchedBars, String> {
    let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
    parse_history(body, &mut c, 1.0)?;
    Ok(c.finish(NAME))
}

/// Parses a Stooq history CSV (`Date,Open,High,Low,Close[,Volume]`).
pub(crate) fn parse_history(
    body: &str,
    collector: &mut BarCollector,
    factor: f64,
) -> Result<(), String> {
    let mut lines = body.trim_start_matches('\u{feff}').lines();
    let header = lines.next().ok_or("empty body")?;
    let cols =
        Columns::from_header(header).ok_or_else(|| format!("unexpected header {header:?}"))?;
    for line in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let field = |i: usize| f.get(i).copied().unwrap_or("");
        let date: Option<Date> = field(cols.date).parse().ok();
        let num = |i: usize| str_f64(field(i));
        let (Some(date), Some(o), Some(h), Some(l), Some(c)) = (
            date,
            num(cols.open),
            num(cols.high),
            num(cols.low),
            num(cols.close),
        ) else {
            collector.reject(line, "unparseable row (missing date or price, or N/D)");
            continue;
        };
        let volume = cols.volume.and_then(num).unwrap_or(0.0);
        let v = Ohlcv {
            open: scale(o, factor),
            high: scale(h, factor),
            low: scale(l, factor),
            close: scale(c, factor),
            volume,
        };
        collector.push(date_key(date), v, || line.to_owned());
    }
    Ok(())
}

#[async_trait]
impl PriceSource for StooqProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let symbol = self.symbol(instrument)?;
        let i = match interval {
            Interval::D1 => "d",
            Interval::W1 => "w",
            Interval::Mo1 => "m",
            other => {
                return Err(self.err(
                    FetchErrorKind::Unsupported,
                    ErrorClass::TryNext,
                    format!("Stooq serves no {other} history"),
                ));
            }
        };
        if from >= to {
            return Ok(FetchedBars::empty(NAME));
        }
        let day = |t: Timestamp| {
            t.to_zoned(TimeZone::UTC)
                .date()
                .strftime("%Y%m%d")
                .to_string()
        };
        let last = to
            .saturating_sub(jiff::SignedDuration::from_secs(1))
            .unwrap_or(to);
        let mut u = url::Url::parse(&format!("{}/q/d/l/", self.base)).map_err(|e| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                e.to_string(),
            )
        })?;
        u.query_pairs_mut()
            .append_pair("s", &symbol)
            .append_pair("i", i)
            .append_pair("d1", &day(from))
            .append_pair("d2", &day(last));
        let resp = self.get_csv(u.as_str(), "Date,").await?;
        let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
        parse_history(&resp.body, &mut c, pence_factor(&symbol))
            .map_err(|e| self.http.decode_error(&resp, e))?;
        let mut out = c.finish(NAME);
        out.currency = Some(instrument.currency);
        // The last daily row is unfinished while today's session runs.
        if interval == Interval::D1
            && let Some(last) = out.bars.last()
        {
            let cal = Calendar::for_instrument(
                instrument.kind,
                instrument.exchange.as_deref(),
                instrument.symbol.as_str(),
            );
            let now = self.clock.now();
            let today = cal.trading_date(now);
            let closed = cal.sessions(today).last().is_none_or(|s| now >= s.close);
            if date_key(today) == last.time && !closed {
                out.incomplete = Some(last.time);
            }
        }
        Ok(out)
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let symbol = self.symbol(instrument)?;
        let mut u = url::Url::parse(&format!("{}/q/l/", self.base)).map_err(|e| {
            self.err(
                FetchErrorKind::NotConfigured,
                ErrorClass::TryNext,
                e.to_string(),
            )
        })?;
        u.query_pairs_mut()
            .append_pair("s", &symbol)
            .append_pair("f", "sd2t2ohlcvn")
            .append_pair("h", "")
            .append_pair("e", "csv");
        let resp = self.get_csv(u.as_str(), "Symbol,").await?;
        let mut lines = resp.body.lines();
        let header = lines.next().unwrap_or_default();
        let cols = Columns::from_header(header).ok_or_else(|| {
            self.http
                .decode_error(&resp, "quote header without the expected columns")
        })?;
        let row = lines
            .map(|l| l.trim_end_matches('\r'))
            .find(|l| !l.is_empty())
            .ok_or_else(|| self.http.decode_error(&resp, "no quote row"))?;
        let f: Vec<&str> = row.split(',').collect();
        let field = |i: usize| f.get(i).copied().unwrap_or("");
        if field(cols.close) == "N/D" || field(cols.date) == "N/D" {
            return Err(self.err(
                FetchErrorKind::NoData,
                ErrorClass::TryNext,
                format!(
                    "GET {}: Stooq answered N/D (no data) for {symbol}",
                    resp.url
                ),
            ));
        }
        let price = str_f64(field(cols.close))
            .filter(|p| *p > 0.0)
            .ok_or_else(|| {
                self.http
                    .decode_error(&resp, format!("no price in row {row:?}"))
            })?;
        let date: Date = field(cols.date).parse().map_err(|_| {
            self.http
                .decode_error(&resp, format!("no date in row {row:?}"))
        })?;
        let warsaw = time_zone("Europe/Warsaw").unwrap_or(TimeZone::UTC);
        let time = cols
            .time
            .map(field)
            .and_then(|t| t.parse::<jiff::civil::Time>().ok())
            .and_then(|t| {
                warsaw
                    .to_ambiguous_timestamp(date.to_datetime(t))
                    .compatible()
                    .ok()
            })
            .unwrap_or_else(|| date_key(date));
        Ok(Quote {
            price: scale(price, pence_factor(&symbol)),
            time,
            previous_close: None,
            currency: instrument.currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for StooqProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || symbols::stooq(instrument))
    }
}
