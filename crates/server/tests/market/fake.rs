//! A local fake of Yahoo's chart API: bars generated from a smooth price model
//! (or replayed from a fixture) for whatever range is asked, never after the
//! fake clock's "now"; every request recorded; optional seeded faults.

use jiff::{SignedDuration, Timestamp, civil::Weekday, tz::TimeZone};
use pricetrack_app::ports::Clock;
use pricetrack_domain::Interval;
use pricetrack_providers::{
    ManualTime, ProviderOrder, ProviderSettings, ProvidersConfig, RateLimit, Registry,
};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

/// One chart request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRequest {
    pub symbol: String,
    pub interval: String,
    pub period1: i64,
    pub period2: i64,
}

/// A bar the fake serves: Yahoo timestamp and OHLCV.
pub type RawBar = (i64, [f64; 5]);

/// What a faulty fake does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Ok,
    TooManyRequests,
    ServerError,
    Timeout,
    Garbage,
    /// Valid JSON whose prices contradict themselves (high < low, negative).
    BadValues,
    /// The bars, all 100× too large.
    HundredX,
}

/// Seeded xorshift, so a faulty run is reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct FakeState {
    /// Bar requests (`period1`/`period2`).
    pub requests: Vec<ChartRequest>,
    /// Quote requests (`range=1d`), by symbol.
    pub quotes: Vec<String>,
    /// Symbol → first trading day (no bars before).
    pub listed: BTreeMap<String, Timestamp>,
    /// Symbol → bars replayed instead of generated (daily).
    pub fixtures: BTreeMap<String, (String, Vec<RawBar>)>,
    /// Symbol → a recorded Yahoo chart response, served cut to the range asked
    /// for (bars and events), never past the fake clock's "now".
    pub recorded: BTreeMap<String, serde_json::Value>,
    /// Requests whose period1 is before this fail with HTTP 500.
    pub fail_before: Option<Timestamp>,
    /// Seeded fault mix: (probability, fault) pairs, checked in order.
    pub faults: Option<(Rng, Vec<(f64, Fault)>)>,
}

#[derive(Clone)]
pub struct FakeYahoo {
    pub state: Arc<Mutex<FakeState>>,
    pub time: Arc<ManualTime>,
}

impl FakeYahoo {
    pub fn new(time: Arc<ManualTime>) -> Self {
        Self {
            state: Arc::new(Mutex::new(FakeState {
                requests: Vec::new(),
                quotes: Vec::new(),
                listed: BTreeMap::new(),
                fixtures: BTreeMap::new(),
                recorded: BTreeMap::new(),
                fail_before: None,
                faults: None,
            })),
            time,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requests(&self) -> Vec<ChartRequest> {
        self.lock().requests.clone()
    }

    /// Symbols of the quote requests so far.
    pub fn quotes(&self) -> Vec<String> {
        self.lock().quotes.clone()
    }

    pub fn take_requests(&self) -> Vec<ChartRequest> {
        std::mem::take(&mut self.lock().requests)
    }

    pub fn list(&self, symbol: &str, since: &str) {
        self.lock()
            .listed
            .insert(symbol.to_owned(), since.parse().expect("time"));
    }

    pub fn replay(&self, symbol: &str, currency: &str, bars: Vec<RawBar>) {
        self.lock()
            .fixtures
            .insert(symbol.to_owned(), (currency.to_owned(), bars));
    }

    /// Serves `shared/fixtures/providers/yahoo/{file}` for `symbol`.
    pub fn record(&self, symbol: &str, file: &str) {
        let body = recorded_fixture(file);
        let value = serde_json::from_str(&body).expect("fixture JSON");
        self.lock().recorded.insert(symbol.to_owned(), value);
    }

    pub fn fail_before(&self, at: Option<Timestamp>) {
        self.lock().fail_before = at;
    }

    pub fn faults(&self, seed: u64, mix: Vec<(f64, Fault)>) {
        self.lock().faults = Some((Rng::new(seed), mix));
    }

    /// Starts a server answering every GET.
    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}

/// A smooth, positive price with a symbol-dependent level.
pub fn model_price(symbol: &str, t: i64) -> f64 {
    let level = 50.0 + (symbol.bytes().map(u64::from).sum::<u64>() % 200) as f64;
    level * (1.0 + 0.05 * ((t as f64) / 86_400.0 / 15.0).sin())
}

/// The close the fake generates for a stored bar (daily bars are stamped at
/// the 09:30 New York open, 13:30Z in summer, and keyed by their date).
pub fn true_close(symbol: &str, interval: Interval, time: Timestamp) -> f64 {
    let (t, step) = if interval.is_date_keyed() {
        (time.as_second() + 13 * 3600 + 1800, 86_400)
    } else {
        (time.as_second(), interval.seconds())
    };
    model_price(symbol, t + step)
}

fn is_weekday(t: Timestamp) -> bool {
    !matches!(
        t.to_zoned(TimeZone::UTC).weekday(),
        Weekday::Saturday | Weekday::Sunday
    )
}

fn generated(
    symbol: &str,
    interval: &str,
    p1: i64,
    p2: i64,
    now: Timestamp,
    listed: i64,
) -> Vec<RawBar> {
    let continuous = symbol.ends_with("-USD");
    let (step, first_offset, sessions): (i64, i64, Option<(i64, i64)>) = match interval {
        // Daily bars stamped at the 09:30 New York open (13:30Z in summer).
        "1d" => (86_400, 13 * 3600 + 1800, None),
        "5m" => (300, 0, Some((13 * 3600 + 1800, 20 * 3600))),
        "1m" => (60, 0, Some((13 * 3600 + 1800, 20 * 3600))),
        _ => (3600, 0, Some((13 * 3600 + 1800, 20 * 3600))),
    };
    let mut out = Vec::new();
    let start = p1.max(listed);
    let day0 = start.div_euclid(86_400) * 86_400;
    let mut t = if step == 86_400 {
        day0 + first_offset
    } else {
        start.div_euclid(step) * step
    };
    while t < p2 {
        if t >= start {
            let ts = Timestamp::from_second(t).expect("time");
            let in_session = match sessions {
                _ if continuous => true,
                None => is_weekday(ts),
                Some((open, close)) => {
                    let s = t.rem_euclid(86_400);
                    is_weekday(ts) && s >= open && s < close
                }
            };
            let begun = if step == 86_400 {
                // Today's bar exists once the session opened.
                t <= now.as_second()
            } else {
                t < now.as_second()
            };
            if in_session && begun {
                let o = model_price(symbol, t);
                let c = model_price(symbol, t + step);
                out.push((t, [o, o.max(c) * 1.001, o.min(c) * 0.999, c, 1000.0]));
            }
        }
        t += step;
    }
    out
}

/// A recorded Yahoo response (`shared/fixtures/providers/yahoo/…`).
pub fn recorded_fixture(file: &str) -> String {
    let path = format!(
        "{}/../../../shared/fixtures/providers/yahoo/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The timestamps and OHLCV of a recorded chart response.
pub fn recorded_bars(file: &str) -> Vec<RawBar> {
    let v: serde_json::Value = serde_json::from_str(&recorded_fixture(file)).expect("JSON");
    let r = &v["chart"]["result"][0];
    let q = &r["indicators"]["quote"][0];
    let col = |k: &str, i: usize| q[k][i].as_f64();
    r["timestamp"]
        .as_array()
        .expect("timestamps")
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            Some((
                t.as_i64()?,
                [
                    col("open", i)?,
                    col("high", i)?,
                    col("low", i)?,
                    col("close", i)?,
                    col("volume", i)?,
                ],
            ))
        })
        .collect()
}

/// A recorded chart response cut to `[p1, p2)` and to what exists at `now`.
fn cut_recording(recorded: &serde_json::Value, p1: i64, p2: i64, now: Timestamp) -> String {
    let mut v = recorded.clone();
    let keep_time = |t: i64| p1 <= t && t < p2 && t <= now.as_second();
    let r = &mut v["chart"]["result"][0];
    let times: Vec<i64> = r["timestamp"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default();
    let keep: Vec<bool> = times.iter().map(|t| keep_time(*t)).collect();
    let cut = |a: &mut serde_json::Value| {
        if let Some(items) = a.as_array_mut() {
            let mut i = 0;
            items.retain(|_| {
                let k = keep.get(i).copied().unwrap_or(false);
                i += 1;
                k
            });
        }
    };
    let arrays = [
        "/timestamp",
        "/indicators/quote/0/open",
        "/indicators/quote/0/high",
        "/indicators/quote/0/low",
        "/indicators/quote/0/close",
        "/indicators/quote/0/volume",
        "/indicators/adjclose/0/adjclose",
    ];
    for pointer in arrays {
        if let Some(a) = r.pointer_mut(pointer) {
            cut(a);
        }
    }
    for pointer in ["/events/dividends", "/events/splits"] {
        if let Some(m) = r.pointer_mut(pointer).and_then(|m| m.as_object_mut()) {
            m.retain(|_, e| e["date"].as_i64().is_some_and(keep_time));
        }
    }
    v.to_string()
}

/// A chart answer; `first_trade` is the meta's `firstTradeDate` when known.
fn chart_json(
    currency: &str,
    tz: &str,
    bars: &[RawBar],
    now: Timestamp,
    first_trade: Option<i64>,
) -> String {
    let col = |i: usize| -> Vec<serde_json::Value> {
        bars.iter().map(|(_, v)| serde_json::json!(v[i])).collect()
    };
    serde_json::json!({
        "chart": {
            "result": [{
                "meta": {
                    "currency": currency,
                    "exchangeTimezoneName": tz,
                    "regularMarketTime": now.as_second(),
                    "firstTradeDate": first_trade,
                },
                "timestamp": bars.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
                "indicators": {"quote": [{
                    "open": col(0), "high": col(1), "low": col(2), "close": col(3), "volume": col(4)
                }]}
            }],
            "error": null
        }
    })
    .to_string()
}

impl FakeState {
    /// The fault for the next request (seeded; `Ok` without a fault mix).
    fn next_fault(&mut self) -> Fault {
        let Some((rng, mix)) = &mut self.faults else {
            return Fault::Ok;
        };
        let x = rng.next_f64();
        let mut acc = 0.0;
        for (p, f) in mix.iter() {
            acc += p;
            if x < acc {
                return *f;
            }
        }
        Fault::Ok
    }
}

/// The answer to a quote request (Yahoo's chart with `range=1d`): the true
/// price now in the metadata, no bars. Transport faults apply; value faults
/// are faults of the bars and leave the quote right.
fn quote_answer(st: &FakeState, symbol: &str, now: Timestamp, fault: Fault) -> ResponseTemplate {
    match fault {
        Fault::TooManyRequests => {
            return ResponseTemplate::new(429).set_body_string("Edge: Too Many Requests");
        }
        Fault::ServerError => return ResponseTemplate::new(502).set_body_string("bad gateway"),
        Fault::Timeout => {
            return ResponseTemplate::new(200).set_delay(Duration::from_secs(2));
        }
        Fault::Garbage => return ResponseTemplate::new(200).set_body_string("{\"chart\":{"),
        Fault::Ok | Fault::BadValues | Fault::HundredX => {}
    }
    let body = if let Some(recorded) = st.recorded.get(symbol) {
        cut_recording(recorded, 0, 0, now)
    } else {
        let (currency, price) = match st.fixtures.get(symbol) {
            Some((ccy, bars)) => (
                ccy.clone(),
                bars.iter()
                    .rfind(|(t, _)| *t <= now.as_second())
                    .map_or(1.0, |(_, v)| v[3]),
            ),
            None => ("USD".to_owned(), model_price(symbol, now.as_second())),
        };
        serde_json::json!({"chart": {"result": [{
            "meta": {"currency": currency, "regularMarketPrice": price,
                     "regularMarketTime": now.as_second()},
            "indicators": {"quote": [{}]}
        }], "error": null}})
        .to_string()
    };
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_string(body)
}

impl Respond for FakeYahoo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let symbol = req
            .url
            .path_segments()
            .and_then(|mut s| s.nth(3))
            .map(url_decode)
            .unwrap_or_default();
        let q: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let request = ChartRequest {
            symbol: symbol.clone(),
            interval: q.get("interval").cloned().unwrap_or_default(),
            period1: num("period1"),
            period2: num("period2"),
        };
        let now = self.time.now();
        let mut st = self.lock();
        let fault = st.next_fault();
        if q.contains_key("range") {
            st.quotes.push(symbol.clone());
            return quote_answer(&st, &symbol, now, fault);
        }
        st.requests.push(request.clone());
        if st
            .fail_before
            .is_some_and(|t| request.period1 < t.as_second())
        {
            return ResponseTemplate::new(500).set_body_string("upstream exploded");
        }
        if let Some(recorded) = st.recorded.get(&symbol) {
            let body = cut_recording(recorded, request.period1, request.period2, now);
            return ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(body);
        }
        let first_trade = st.listed.get(&symbol).map(|t| t.as_second());
        let (currency, tz, mut bars) = match st.fixtures.get(&symbol) {
            Some((ccy, bars)) => (
                ccy.clone(),
                "Europe/London",
                bars.iter()
                    .filter(|(t, _)| *t >= request.period1 && *t < request.period2)
                    .cloned()
                    .collect(),
            ),
            None => {
                let listed = st
                    .listed
                    .get(&symbol)
                    .map(|t| t.as_second())
                    .unwrap_or(i64::MIN / 2);
                (
                    "USD".to_owned(),
                    "America/New_York",
                    generated(
                        &symbol,
                        &request.interval,
                        request.period1,
                        request.period2,
                        now,
                        listed,
                    ),
                )
            }
        };
        drop(st);
        match fault {
            Fault::Ok => {}
            Fault::TooManyRequests => {
                return ResponseTemplate::new(429).set_body_string("Edge: Too Many Requests");
            }
            Fault::ServerError => return ResponseTemplate::new(502).set_body_string("bad gateway"),
            Fault::Timeout => {
                return ResponseTemplate::new(200)
                    .set_delay(Duration::from_secs(2))
                    .set_body_string(chart_json(&currency, tz, &bars, now, first_trade));
            }
            Fault::Garbage => {
                return ResponseTemplate::new(200)
                    .set_body_string("{\"chart\":{\"result\":[{\"meta\":{\"currency\":\"US");
            }
            Fault::BadValues => {
                for (_, v) in bars.iter_mut().step_by(3) {
                    v[1] = v[2] * 0.5; // high below low
                }
                if let Some((_, v)) = bars.last_mut() {
                    v[3] = -1.0;
                }
            }
            Fault::HundredX => {
                for (_, v) in bars.iter_mut() {
                    for x in v.iter_mut().take(4) {
                        *x *= 100.0;
                    }
                }
            }
        }
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(chart_json(&currency, tz, &bars, now, first_trade))
    }
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A registry whose every provider points at the fake, Yahoo first for every
/// kind (no fallback could reach a real host), rate limits lifted unless
/// `limited`, on the fake clock.
pub fn registry(base: &str, time: Arc<ManualTime>, limited: bool) -> Registry {
    registry_with_url_sources(base, time, limited, BTreeMap::new())
}

/// [`registry`] with sources for the `url` provider (its rate limit lifted too).
pub fn registry_with_url_sources(
    base: &str,
    time: Arc<ManualTime>,
    limited: bool,
    sources: BTreeMap<pricetrack_domain::Symbol, pricetrack_providers::url_source::UrlSource>,
) -> Registry {
    let mut cfg = ProvidersConfig::new();
    let fake = || ProviderSettings::with_base_url(base);
    cfg.yahoo = fake();
    cfg.yahoo_cookie_url = Some(format!("{base}/cookie"));
    cfg.stooq = fake();
    cfg.coingecko = fake();
    cfg.binance = fake();
    cfg.alphavantage = fake();
    cfg.timeout = Duration::from_millis(400);
    let mut order = ProviderOrder::default();
    for kind in pricetrack_domain::InstrumentKind::ALL {
        order.set(kind, vec!["yahoo".to_owned()]);
    }
    cfg.order = order;
    if !limited {
        cfg.rate_limits
            .insert("yahoo".to_owned(), RateLimit::UNLIMITED);
    }
    cfg.rate_limits
        .insert("url".to_owned(), RateLimit::UNLIMITED);
    cfg.url_sources = sources;
    Registry::from_config_with_time(cfg, time).expect("registry")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("time")
}

pub fn secs(t: &str) -> i64 {
    ts(t).as_second()
}

pub fn day_key_secs(date: &str) -> i64 {
    pricetrack_domain::date_key(date.parse().expect("date")).as_second()
}

#[allow(dead_code)]
pub fn interval_secs(i: Interval) -> i64 {
    i.seconds()
}

#[allow(dead_code)]
pub fn minutes(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

/// A fund's web site publishing one NAV page per day at `/nav/{SYMBOL}/{DATE}`
/// (JSON, decimal comma) for weekdays from `since` to the fake clock's today;
/// HTTP 404 for any other day. Every date asked is recorded with its status.
#[derive(Clone)]
pub struct FakeNav {
    pub since: jiff::civil::Date,
    pub time: Arc<ManualTime>,
    pub asked: Arc<Mutex<Vec<(jiff::civil::Date, u16)>>>,
}

impl FakeNav {
    pub fn new(since: &str, time: Arc<ManualTime>) -> Self {
        Self {
            since: since.parse().expect("date"),
            time,
            asked: Arc::default(),
        }
    }

    /// The NAV published for `date`.
    pub fn nav(date: jiff::civil::Date) -> f64 {
        let days = date
            .since(jiff::civil::date(2024, 1, 1))
            .map(|s| s.get_days())
            .unwrap_or(0);
        1000.0 + f64::from(days) / 4.0
    }

    pub fn asked(&self) -> Vec<(jiff::civil::Date, u16)> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}

impl Respond for FakeNav {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let date: Option<jiff::civil::Date> = req
            .url
            .path_segments()
            .and_then(|mut s| s.nth(2))
            .and_then(|d| d.parse().ok());
        let Some(date) = date else {
            return ResponseTemplate::new(400);
        };
        let today = self.time.now().to_zoned(TimeZone::UTC).date();
        let published = date >= self.since
            && date <= today
            && !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
        let status = if published { 200 } else { 404 };
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((date, status));
        if !published {
            return ResponseTemplate::new(404).set_body_string("no NAV for that day");
        }
        // 1.234,56 with a thousands dot and a decimal comma.
        let text = format!("{:.2}", Self::nav(date)).replace('.', ",");
        let (int, frac) = text.split_once(',').unwrap_or((&text, "00"));
        let int = if int.len() > 3 {
            format!("{}.{}", &int[..int.len() - 3], &int[int.len() - 3..])
        } else {
            int.to_owned()
        };
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(format!("{{\"fund\": {{\"nav\": \"{int},{frac} €\"}}}}"))
    }
}
