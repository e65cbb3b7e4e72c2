//! The `url` provider: a price picked out of any web page or JSON document.
//!
//! Each instrument priced this way has a [`UrlSource`]: a URL template
//! (`{SYMBOL}` and `{DATE}` are filled in), an extractor (a JSONPath, a CSS
//! selector with an optional attribute, or a regex whose first group is the
//! price) and a number format (decimal point or comma; thousands separators,
//! currency signs and spaces are ignored). The source is the instrument's own
//! (`Instrument::url_source`, set through the API, CLI or UI); the per-symbol
//! map from `PRICETRACK_PROVIDER_URL_SOURCES` is the fallback:
//!
//! ```json
//! {"GOLD-COIN": {"url": "https://example.test/coins/{SYMBOL}",
//!                "extract": {"css": {"selector": "span.price"}},
//!                "number_format": "decimal_comma"}}
//! ```
//!
//! Bars are daily, one price per day (open = high = low = close, volume 0):
//! with `{DATE}` in the template each trading day is fetched (at most 31 per
//! request, declared as the provider's request span so backfills chunk
//! accordingly; a day answered with HTTP 404 has no price, like a holiday);
//! without it only today's bar can be made.

use crate::{
    config::{AdapterConfig, ConfigError},
    http::{Http, snippet},
    parse::BarCollector,
    provider::{Capabilities, HistoryDepth, Provider, RateLimit, symbol_for},
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, civil::Date};
use pricetrack_app::{
    FieldError,
    market_data::{ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote},
    ports::Clock,
};
use pricetrack_domain::{
    Instrument, InstrumentKind, Interval, Ohlcv, Symbol, calendar::Calendar, date_key,
};
use std::{collections::BTreeMap, sync::Arc};

pub const NAME: &str = "url";
/// Most days fetched for one bar request.
pub const MAX_DAYS_PER_REQUEST: usize = 31;
/// The longest range one bar request may span (every day of it could be a
/// trading day).
const MAX_REQUEST_SPAN: SignedDuration =
    SignedDuration::from_hours(24 * MAX_DAYS_PER_REQUEST as i64);

pub use pricetrack_domain::url_source::{Extractor, NumberFormat, UrlSource};

/// A URL source that does not compile, naming the field at fault with its
/// path inside the source document (`url`, `extract.regex`, …) so an API can
/// report `url_source.extract.regex`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub field: &'static str,
    pub message: String,
}

/// Checks a source's template and extractor compile (without fetching).
pub fn validate(src: &UrlSource) -> Result<(), SourceError> {
    src.validate()
}

/// What the provider does with a [`UrlSource`] beyond holding it: compiling,
/// rendering and extracting need parser crates the domain must not use.
pub trait UrlSourceExt {
    /// Checks the template and the extractor compile.
    fn validate(&self) -> Result<(), SourceError>;
    /// Picks the price out of a document.
    fn extract_price(&self, body: &str) -> Result<f64, String>;
}

fn render(src: &UrlSource, symbol: &str, date: Date) -> String {
    let sym: String = url::form_urlencoded::byte_serialize(symbol.as_bytes()).collect();
    src.url
        .replace("{SYMBOL}", &sym)
        .replace("{DATE}", &date.to_string())
}

impl UrlSourceExt for UrlSource {
    fn validate(&self) -> Result<(), SourceError> {
        let bad = |field, message| SourceError { field, message };
        let probe = render(self, "X", Date::MIN);
        let u =
            url::Url::parse(&probe).map_err(|e| bad("url", format!("url {:?}: {e}", self.url)))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(bad("url", format!("url {:?} is not http(s)", self.url)));
        }
        match &self.extract {
            Extractor::JsonPath(p) => serde_json_path::JsonPath::parse(p)
                .map(|_| ())
                .map_err(|e| bad("extract.json_path", format!("json_path {p:?}: {e}"))),
            Extractor::Css { selector, .. } => {
                scraper::Selector::parse(selector).map(|_| ()).map_err(|e| {
                    bad(
                        "extract.css.selector",
                        format!("css selector {selector:?}: {e}"),
                    )
                })
            }
            Extractor::Regex(r) => regex::Regex::new(r)
                .map(|_| ())
                .map_err(|e| bad("extract.regex", format!("regex {r:?}: {e}"))),
        }
    }

    fn extract_price(&self, body: &str) -> Result<f64, String> {
        let text = match &self.extract {
            Extractor::JsonPath(p) => {
                let path = serde_json_path::JsonPath::parse(p)
                    .map_err(|e| format!("json_path {p:?}: {e}"))?;
                let doc: serde_json::Value =
                    serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
                let node = path
                    .query(&doc)
                    .first()
                    .ok_or_else(|| format!("json_path {p:?} matched nothing"))?;
                match node {
                    serde_json::Value::Number(n) => {
                        return n.as_f64().ok_or_else(|| "number out of range".to_owned());
                    }
                    serde_json::Value::String(s) => s.clone(),
                    other => return Err(format!("json_path {p:?} matched {other}, not a number")),
                }
            }
            Extractor::Css {
                selector,
                attribute,
            } => {
                let sel = scraper::Selector::parse(selector)
                    .map_err(|e| format!("css selector {selector:?}: {e}"))?;
                let html = scraper::Html::parse_document(body);
                let el = html
                    .select(&sel)
                    .next()
                    .ok_or_else(|| format!("css selector {selector:?} matched nothing"))?;
                match attribute {
                    Some(a) => el
                        .value()
                        .attr(a)
                        .ok_or_else(|| format!("element has no attribute {a:?}"))?
                        .to_owned(),
                    None => el.text().collect::<String>(),
                }
            }
            Extractor::Regex(r) => {
                let re = regex::Regex::new(r).map_err(|e| format!("regex {r:?}: {e}"))?;
                let caps = re
                    .captures(body)
                    .ok_or_else(|| format!("regex {r:?} matched nothing"))?;
                caps.get(1)
                    .or_else(|| caps.get(0))
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default()
            }
        };
        parse_number(&text, self.number_format)
            .ok_or_else(|| format!("{:?} is not a number", snippet(&text)))
    }
}

/// Reads a price as people write it: `$1,234.56`, `1.234,56 €`, `1 234,56`,
/// `CHF 1'234.50`, `−12,5`.
pub fn parse_number(text: &str, format: NumberFormat) -> Option<f64> {
    let text = text.replace('\u{2212}', "-");
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let negative = text[..start].trim_end().ends_with('-');
    let run: String = text[start..]
        .chars()
        .take_while(|c| {
            c.is_ascii_digit()
                || matches!(
                    c,
                    '.' | ',' | '\'' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}'
                )
        })
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ','))
        .collect();
    let run = run.trim_end_matches(['.', ',']);
    let decimal_comma = match format {
        NumberFormat::DecimalPoint => false,
        NumberFormat::DecimalComma => true,
        NumberFormat::Auto => {
            let (dot, comma) = (run.rfind('.'), run.rfind(','));
            match (dot, comma) {
                (Some(d), Some(c)) => c > d,
                (None, Some(c)) => run.matches(',').count() == 1 && run.len() - c - 1 != 3,
                _ => false,
            }
        }
    };
    let normalised: String = if decimal_comma {
        run.chars()
            .filter(|c| *c != '.')
            .map(|c| if c == ',' { '.' } else { c })
            .collect()
    } else if format == NumberFormat::Auto && run.matches('.').count() > 1 {
        run.replace('.', "")
    } else {
        run.replace(',', "")
    };
    let v: f64 = normalised.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// The URL provider.
pub struct UrlProvider {
    http: Http,
    clock: Arc<dyn Clock>,
    sources: BTreeMap<Symbol, UrlSource>,
    caps: Capabilities,
}

impl std::fmt::Debug for UrlProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlProvider")
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl UrlProvider {
    /// `cfg.base_url` is unused (every source has its own URL).
    pub fn new(
        cfg: AdapterConfig,
        sources: BTreeMap<Symbol, UrlSource>,
    ) -> Result<Self, ConfigError> {
        for (sym, src) in &sources {
            validate(src).map_err(|e| ConfigError::InvalidValue {
                key: format!("url source {sym}"),
                message: e.message,
            })?;
        }
        Ok(Self {
            http: Http::new(NAME, &cfg)?,
            clock: cfg.clock.clone(),
            sources,
            caps: Capabilities {
                kinds: InstrumentKind::ALL.to_vec(),
                intervals: vec![(Interval::D1, HistoryDepth::Unlimited)],
                batch_quotes: false,
                rate_limit: RateLimit::new(30.0, 5),
                needs_api_key: false,
                simulated: false,
                max_request_span: vec![(Interval::D1, MAX_REQUEST_SPAN)],
            },
        })
    }

    fn err(&self, kind: FetchErrorKind, class: ErrorClass, msg: impl Into<String>) -> FetchError {
        FetchError::new(NAME, kind, class, msg)
    }

    /// The instrument's own source first (stored with it, so adding one
    /// needs no restart), the environment map as the fallback.
    fn source<'a>(&'a self, instrument: &'a Instrument) -> Result<&'a UrlSource, FetchError> {
        instrument
            .url_source
            .as_ref()
            .or_else(|| self.sources.get(&instrument.symbol))
            .ok_or_else(|| {
                self.err(
                    FetchErrorKind::NotConfigured,
                    ErrorClass::TryNext,
                    format!(
                        "no url_source for {}: set one on the instrument (or in PRICETRACK_PROVIDER_URL_SOURCES)",
                        instrument.symbol
                    ),
                )
            })
    }

    /// The price on `date`; `None` when a dated URL has no page for that day
    /// (HTTP 404: a holiday, or before the series starts).
    async fn price_on(
        &self,
        instrument: &Instrument,
        src: &UrlSource,
        date: Date,
    ) -> Result<Option<f64>, FetchError> {
        let symbol = self
            .provider_symbol(instrument)
            .unwrap_or_else(|| instrument.symbol.as_str().to_owned());
        let url = render(src, &symbol, date);
        let resp = self.http.get(&url, &[]).await?;
        if resp.status == 404 && src.uses_date() {
            return Ok(None);
        }
        if !resp.is_success() {
            return Err(self.http.status_error(&resp));
        }
        let price = src
            .extract_price(&resp.body)
            .map_err(|e| self.http.decode_error(&resp, e))?;
        if !(price.is_finite() && price > 0.0) {
            return Err(self
                .http
                .decode_error(&resp, format!("price {price} is not positive")));
        }
        Ok(Some(price))
    }

    fn calendar(instrument: &Instrument) -> Calendar {
        Calendar::for_instrument(
            instrument.kind,
            instrument.exchange.as_deref(),
            instrument.symbol.as_str(),
        )
    }
}

#[async_trait]
impl PriceSource for UrlProvider {
    /// An instrument on this provider needs a source that compiles: its own
    /// or, failing that, one from the environment.
    fn check_instrument(&self, instrument: &Instrument) -> Result<(), FieldError> {
        match &instrument.url_source {
            Some(src) => validate(src)
                .map_err(|e| FieldError::field(format!("url_source.{}", e.field), e.message)),
            None if self.sources.contains_key(&instrument.symbol) => Ok(()),
            None => Err(FieldError::field(
                "url_source",
                format!(
                    "provider url needs a url_source (a URL template and an extractor); \
                     none is given and PRICETRACK_PROVIDER_URL_SOURCES has none for {}",
                    instrument.symbol
                ),
            )),
        }
    }

    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let src = self.source(instrument)?;
        if interval != Interval::D1 {
            return Err(self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                "a URL source gives one price per day",
            ));
        }
        let cal = Self::calendar(instrument);
        let now = self.clock.now();
        let today = cal.trading_date(now);
        let days: Vec<Date> = if src.uses_date() {
            // The first date whose key is in range (a range starting in the
            // evening begins with the next day).
            let mut first = from.to_zoned(jiff::tz::TimeZone::UTC).date();
            if date_key(first) < from {
                first = first.tomorrow().unwrap_or(first);
            }
            std::iter::successors(Some(first), |d| d.tomorrow().ok())
                .take_while(|d| date_key(*d) < to && *d <= today)
                .filter(|d| cal.is_trading_day(*d))
                .collect()
        } else {
            vec![today]
        };
        if days.len() > MAX_DAYS_PER_REQUEST {
            return Err(self.err(
                FetchErrorKind::Unsupported,
                ErrorClass::TryNext,
                format!(
                    "{} days asked; a URL source fetches at most {MAX_DAYS_PER_REQUEST} per request",
                    days.len()
                ),
            ));
        }
        let mut c = BarCollector::new(instrument.symbol.clone(), interval, from, to);
        for d in days {
            if !c.in_range(date_key(d)) {
                continue;
            }
            let Some(p) = self.price_on(instrument, src, d).await? else {
                continue;
            };
            let v = Ohlcv {
                open: p,
                high: p,
                low: p,
                close: p,
                volume: 0.0,
            };
            c.push(date_key(d), v, || format!("{d}: {p}"));
        }
        let mut out = c.finish(NAME);
        out.currency = Some(instrument.currency);
        if let Some(last) = out.bars.last() {
            let closed = cal.sessions(today).last().is_none_or(|s| now >= s.close);
            if last.time == date_key(today) && !closed {
                out.incomplete = Some(last.time);
            }
        }
        Ok(out)
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let src = self.source(instrument)?;
        let now = self.clock.now();
        let today = Self::calendar(instrument).trading_date(now);
        let price = self
            .price_on(instrument, src, today)
            .await?
            .ok_or_else(|| {
                self.err(
                    FetchErrorKind::NoData,
                    ErrorClass::TryNext,
                    format!("no price for {} on {today} (HTTP 404)", instrument.symbol),
                )
            })?;
        Ok(Quote {
            price,
            time: now,
            previous_close: None,
            currency: instrument.currency,
            provider: NAME.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for UrlProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        symbol_for(instrument, NAME, || {
            Some(instrument.symbol.as_str().to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_in_every_common_format() {
        let auto = NumberFormat::Auto;
        assert_eq!(parse_number("$1,234.56", auto), Some(1234.56));
        assert_eq!(parse_number("1.234,56 €", auto), Some(1234.56));
        assert_eq!(parse_number("1\u{a0}234,56\u{a0}€", auto), Some(1234.56));
        assert_eq!(parse_number("CHF 1'234.50", auto), Some(1234.5));
        assert_eq!(parse_number("12,5", auto), Some(12.5));
        assert_eq!(parse_number("1,234", auto), Some(1234.0));
        assert_eq!(parse_number("1.234.567", auto), Some(1_234_567.0));
        assert_eq!(parse_number("−12,50 zł", auto), Some(-12.5));
        assert_eq!(
            parse_number("1,234", NumberFormat::DecimalComma),
            Some(1.234)
        );
        assert_eq!(
            parse_number("1.234", NumberFormat::DecimalComma),
            Some(1234.0)
        );
        assert_eq!(parse_number("no price", auto), None);
    }
}
