//! The `demo` provider: simulated prices for trying Pricetrack without any
//! network. Every answer is labelled `simulated: true`.
//!
//! Each instrument gets a mean-reverting random walk of daily closes seeded by
//! its symbol, with a volatility typical of its kind (stocks ≈30 %/year,
//! crypto ≈65 %, FX ≈8 %…), and within each UTC day a Brownian bridge of
//! one-minute prices between consecutive closes. Any bar is a pure function of
//! (symbol, time), so any range can be asked for in any order and the same
//! bar always comes back; daily bars agree with the intraday path. Bars
//! follow the instrument's market calendar (sessions, weekends, holidays)
//! and never lie in the future; the bar in progress is flagged incomplete.

use crate::provider::{Capabilities, HistoryDepth, Provider, RateLimit};
use async_trait::async_trait;
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use pricetrack_app::{
    market_data::{ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote},
    ports::Clock,
};
use pricetrack_domain::{
    Bar, Instrument, InstrumentKind, Interval, Ohlcv,
    calendar::{Calendar, Market},
    date_key,
};
use std::sync::Arc;

pub const NAME: &str = "demo";

/// First day of simulated history.
const ORIGIN: Date = jiff::civil::date(1990, 1, 1);
const MINUTES: usize = 1440;
/// At most this many bars per request.
const MAX_BARS: usize = 200_000;

/// The demo provider.
pub struct DemoProvider {
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl std::fmt::Debug for DemoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoProvider")
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform in (0, 1) from a hash.
fn unit(h: u64) -> f64 {
    ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A standard normal, deterministic in (seed, a, b).
fn normal(seed: u64, a: u64, b: u64) -> f64 {
    let h1 = splitmix64(seed ^ splitmix64(a.wrapping_mul(0x1000_0000_01B3) ^ b));
    let h2 = splitmix64(h1);
    let (u1, u2) = (unit(h1), unit(h2));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Annual volatility, price range and typical daily volume of a kind.
fn profile(kind: InstrumentKind) -> (f64, (f64, f64), f64) {
    use InstrumentKind as K;
    match kind {
        K::Stock => (0.30, (10.0, 500.0), 2.0e6),
        K::Etf => (0.16, (20.0, 400.0), 1.0e6),
        K::Fund => (0.12, (10.0, 200.0), 0.0),
        K::Bond => (0.06, (80.0, 120.0), 1.0e4),
        K::Crypto => (0.65, (0.5, 50_000.0), 1.0e4),
        K::Commodity => (0.22, (20.0, 2_500.0), 1.0e5),
        K::Fx => (0.08, (0.6, 1.6), 0.0),
        K::Index => (0.18, (1_000.0, 20_000.0), 0.0),
        K::Item => (0.03, (500.0, 20_000.0), 0.0),
    }
}

/// Rough price levels of well-known instruments, so a demo dashboard looks
/// like the market it imitates (bitcoin in the tens of thousands, the euro
/// near 1.08). Other symbols get a seeded level within their kind's range.
fn typical_level(symbol: &str) -> Option<f64> {
    Some(match symbol {
        "AAPL" => 190.0,
        "MSFT" => 420.0,
        "GOOGL" => 170.0,
        "AMZN" => 180.0,
        "NVDA" => 120.0,
        "VOD.L" => 0.72,
        "VWCE.DE" => 118.0,
        "^GSPC" => 5_300.0,
        "^DJI" => 39_000.0,
        "^IXIC" => 16_800.0,
        "BTC-USD" => 62_000.0,
        "ETH-USD" => 3_100.0,
        "SOL-USD" => 150.0,
        "GC=F" => 2_350.0,
        "SI=F" => 29.0,
        "CL=F" => 78.0,
        "EURUSD=X" => 1.08,
        "GBPUSD=X" => 1.27,
        "USDJPY=X" => 155.0,
        "AGG" => 98.0,
        "VFIAX" => 480.0,
        _ => return None,
    })
}

/// The price model of one instrument.
struct Walk {
    seed: u64,
    log_base: f64,
    sigma_day: f64,
    base_volume: f64,
    /// Log close at the end of each UTC day since [`ORIGIN`].
    closes: Vec<f64>,
    /// Minute paths of the last two UTC days used.
    cache: [(i64, Vec<f64>); 2],
}

fn day_index(t: Timestamp) -> i64 {
    (t.as_second() - date_key(ORIGIN).as_second()).div_euclid(86_400)
}

impl Walk {
    fn new(instrument: &Instrument) -> Self {
        let seed = fnv1a(instrument.symbol.as_str());
        let (vol, (lo, hi), base_volume) = profile(instrument.kind);
        let days_per_year = if matches!(
            instrument.kind,
            InstrumentKind::Crypto | InstrumentKind::Item
        ) {
            365.0
        } else {
            252.0
        };
        let log_base = match typical_level(instrument.symbol.as_str()) {
            Some(level) => level.ln(),
            None => lo.ln() + unit(splitmix64(seed)) * (hi.ln() - lo.ln()),
        };
        Self {
            seed,
            log_base,
            sigma_day: vol / f64::sqrt(days_per_year),
            base_volume,
            closes: vec![log_base],
            cache: [(-1, Vec::new()), (-1, Vec::new())],
        }
    }

    /// Log close at the end of UTC day `d` (mean-reverting to the base).
    fn close(&mut self, d: i64) -> f64 {
        let d = d.max(0) as usize;
        while self.closes.len() <= d {
            let i = self.closes.len() as u64;
            let prev = self.closes[self.closes.len() - 1];
            let next =
                prev + self.sigma_day * normal(self.seed, i, 0) - 0.002 * (prev - self.log_base);
            self.closes.push(next);
        }
        self.closes[d]
    }

    /// The 1441 log prices of UTC day `d` (minute 0 to minute 1440).
    fn path(&mut self, d: i64) -> &[f64] {
        if let Some(i) = self.cache.iter().position(|(day, _)| *day == d) {
            return &self.cache[i].1;
        }
        let start = self.close(d - 1);
        let end = self.close(d);
        let sigma_min = self.sigma_day / (MINUTES as f64).sqrt();
        let mut w = Vec::with_capacity(MINUTES + 1);
        let mut acc = 0.0;
        w.push(0.0);
        for m in 1..=MINUTES {
            acc += sigma_min * normal(self.seed, d as u64, m as u64);
            w.push(acc);
        }
        let total = acc;
        let n = MINUTES as f64;
        let path: Vec<f64> = w
            .iter()
            .enumerate()
            .map(|(m, wm)| {
                let f = m as f64 / n;
                start + f * (end - start) + wm - f * total
            })
            .collect();
        self.cache.swap(0, 1);
        self.cache[0] = (d, path);
        &self.cache[0].1
    }

    /// Price at a minute boundary at or before `t`.
    fn price(&mut self, t: Timestamp) -> f64 {
        let d = day_index(t);
        let m = (t.as_second().rem_euclid(86_400) / 60) as usize;
        self.path(d)[m].exp()
    }

    /// OHLC over `[start, end)` sampled each minute; close at `end`.
    fn ohlc(&mut self, start: Timestamp, end: Timestamp) -> (f64, f64, f64, f64) {
        let open = self.price(start);
        let (mut hi, mut lo) = (open, open);
        let mut t = start.as_second() + 60;
        while t < end.as_second() {
            let p = self.price(Timestamp::from_second(t).unwrap_or(start));
            hi = hi.max(p);
            lo = lo.min(p);
            t += 60;
        }
        let close = self.price(end);
        (open, hi.max(close), lo.min(close), close)
    }

    fn volume(&self, t: Timestamp, share: f64) -> f64 {
        if self.base_volume == 0.0 {
            return 0.0;
        }
        let z = normal(self.seed, t.as_second() as u64, 7);
        (self.base_volume * share * (0.4 * z).exp()).round()
    }
}

impl Default for DemoProvider {
    fn default() -> Self {
        Self::new(Arc::new(pricetrack_app::ports::SystemClock))
    }
}

impl DemoProvider {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let all = Interval::ALL
            .into_iter()
            .map(|i| (i, HistoryDepth::Unlimited))
            .collect();
        Self {
            clock,
            caps: Capabilities {
                kinds: InstrumentKind::ALL.to_vec(),
                intervals: all,
                batch_quotes: true,
                rate_limit: RateLimit::UNLIMITED,
                needs_api_key: false,
                simulated: true,
                max_request_span: Vec::new(),
            },
        }
    }

    fn calendar(instrument: &Instrument) -> Calendar {
        Calendar::for_instrument(
            instrument.kind,
            instrument.exchange.as_deref(),
            instrument.symbol.as_str(),
        )
    }

    fn too_many() -> FetchError {
        FetchError::new(
            NAME,
            FetchErrorKind::Unsupported,
            ErrorClass::GiveUp,
            format!("more than {MAX_BARS} simulated bars asked for at once"),
        )
    }

    /// The session spans of one trading date: the market's sessions, or the
    /// whole UTC day for markets that never close.
    fn day_spans(cal: &Calendar, date: Date) -> Vec<(Timestamp, Timestamp)> {
        cal.sessions(date)
            .into_iter()
            .map(|s| (s.open, s.close))
            .collect()
    }
}

#[async_trait]
impl PriceSource for DemoProvider {
    async fn fetch_bars(
        &self,
        instrument: &Instrument,
        interval: Interval,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        let mut out = FetchedBars::empty(NAME);
        out.simulated = true;
        out.currency = Some(instrument.currency);
        let now = self.clock.now();
        let from = from.max(date_key(ORIGIN));
        if from >= to {
            return Ok(out);
        }
        let cal = Self::calendar(instrument);
        let mut walk = Walk::new(instrument);
        let mut push =
            |time: Timestamp, span: (Timestamp, Timestamp), share: f64, out: &mut FetchedBars| {
                let end = span.1.min(now);
                if span.0 > now {
                    return false;
                }
                let (o, h, l, c) = walk.ohlc(span.0, end.max(span.0));
                let v = Ohlcv {
                    open: o,
                    high: h,
                    low: l,
                    close: c,
                    volume: walk.volume(span.0, share),
                };
                match Bar::new(instrument.symbol.clone(), interval, time, v) {
                    Ok(b) => {
                        if span.1 > now {
                            out.incomplete = Some(time);
                        }
                        out.bars.push(b);
                    }
                    Err(e) => out
                        .rejected
                        .push(pricetrack_app::market_data::RejectedRecord::new(
                            format!("{time} {v:?}"),
                            e.to_string(),
                        )),
                }
                true
            };
        if interval.is_date_keyed() {
            let first = from.to_zoned(TimeZone::UTC).date();
            let mut day = first;
            let mut group: Option<(Date, Timestamp, Timestamp)> = None;
            let period_start = |d: Date| -> Date {
                match interval {
                    Interval::W1 => {
                        let back = i64::from(d.weekday().to_monday_zero_offset());
                        d.checked_sub(jiff::Span::new().days(back)).unwrap_or(d)
                    }
                    Interval::Mo1 => d.first_of_month(),
                    _ => d,
                }
            };
            while date_key(day) < to {
                if out.bars.len() > MAX_BARS {
                    return Err(Self::too_many());
                }
                let spans = Self::day_spans(&cal, day);
                if let (Some(first_span), Some(last_span)) = (spans.first(), spans.last()) {
                    let key = period_start(day);
                    match &mut group {
                        Some((k, _, end)) if *k == key => *end = last_span.1,
                        _ => {
                            if let Some((k, s, e)) = group.take() {
                                let t = date_key(k);
                                if t >= from && !push(t, (s, e), 1.0, &mut out) {
                                    break;
                                }
                            }
                            group = Some((key, first_span.0, last_span.1));
                        }
                    }
                }
                match day.tomorrow() {
                    Ok(d) => day = d,
                    Err(_) => break,
                }
            }
            if let Some((k, s, e)) = group {
                let t = date_key(k);
                if t >= from && t < to {
                    push(t, (s, e), 1.0, &mut out);
                }
            }
        } else {
            let step = interval.seconds();
            let minutes_per_day = if cal.market() == Market::Crypto {
                1440.0
            } else {
                390.0
            };
            let share = (step / 60) as f64 / minutes_per_day;
            let mut t = from.as_second().div_euclid(step) * step;
            if t < from.as_second() {
                t += step;
            }
            let end = to.as_second();
            let skip_to = |t: i64| -> Option<i64> {
                // Jump over closed time to the next session open, on the grid.
                let ts = Timestamp::from_second(t).ok()?;
                if cal.is_open(ts) {
                    return Some(t);
                }
                let open = cal.next_open(ts)?.as_second();
                Some(open.div_euclid(step) * step + if open % step == 0 { 0 } else { step })
            };
            while t < end {
                if out.bars.len() >= MAX_BARS {
                    return Err(Self::too_many());
                }
                let Some(open_t) = skip_to(t) else { break };
                if open_t != t {
                    t = open_t;
                    continue;
                }
                let (Ok(s), Ok(e)) = (Timestamp::from_second(t), Timestamp::from_second(t + step))
                else {
                    break;
                };
                if !push(s, (s, e), share, &mut out) {
                    break;
                }
                t += step;
            }
        }
        Ok(out)
    }

    async fn fetch_quote(&self, instrument: &Instrument) -> Result<Quote, FetchError> {
        let now = self.clock.now();
        let cal = Self::calendar(instrument);
        let mut walk = Walk::new(instrument);
        // Closed market: the last close is the price.
        let at = if cal.is_open(now) {
            now
        } else {
            let mut d = cal.trading_date(now);
            let mut last = None;
            for _ in 0..30 {
                if let Some(s) = cal.sessions(d).last().filter(|s| s.close <= now) {
                    last = Some(s.close);
                    break;
                }
                d = d.yesterday().unwrap_or(d);
            }
            last.unwrap_or(now)
        };
        let mut d = cal.trading_date(at).yesterday().unwrap_or(ORIGIN);
        let mut previous_close = None;
        for _ in 0..30 {
            if let Some(s) = cal.sessions(d).last() {
                previous_close = Some(walk.price(s.close));
                break;
            }
            d = d.yesterday().unwrap_or(d);
        }
        Ok(Quote {
            price: walk.price(at),
            time: at,
            previous_close,
            currency: instrument.currency,
            provider: NAME.into(),
            simulated: true,
        })
    }
}

#[async_trait]
impl Provider for DemoProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn provider_symbol(&self, instrument: &Instrument) -> Option<String> {
        Some(instrument.symbol.as_str().to_owned())
    }
}
