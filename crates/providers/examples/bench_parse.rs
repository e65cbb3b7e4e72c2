//! Parsing throughput of the two hot formats, on one core.
//!
//! `cargo run --release -p pricetrack-providers --example bench_parse`
//!
//! * a Yahoo chart JSON of one year of 5-minute bars (≈20k bars), generated
//!   in Yahoo's shape (column arrays, float32 noise, a null bar now and then);
//! * a 100,000-row Stooq-style daily CSV.
//!
//! Reports MB/s of input. Target: ≥ 50 MB/s each.

use jiff::Timestamp;
use pricetrack_domain::{Currency, Instrument, InstrumentKind, Interval, ProviderName, Symbol};
use pricetrack_providers::{stooq, yahoo};
use std::{fmt::Write, hint::black_box, time::Instant};

fn instrument() -> Instrument {
    Instrument::new(
        Symbol::parse("AAPL").unwrap(),
        "Bench".into(),
        InstrumentKind::Stock,
        Currency::USD,
        None,
        ProviderName::parse("yahoo").unwrap(),
        None,
    )
    .unwrap()
}

/// A small deterministic generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One year of 5-minute regular-session bars in the Yahoo chart shape.
fn yahoo_chart() -> (String, usize) {
    let mut rng = Rng(42);
    let mut ts = Vec::new();
    let (mut o, mut h, mut l, mut c, mut v) = (vec![], vec![], vec![], vec![], vec![]);
    let mut price = 150.0f64;
    // 2023-01-03 14:30Z, weekdays only, 78 bars a day.
    let mut day = 1_672_756_200i64;
    let mut days = 0;
    while days < 252 {
        let wd = ((day / 86_400) + 4) % 7; // 0 = Sunday
        if (1..=5).contains(&wd) {
            for k in 0..78 {
                ts.push(day + k * 300);
                let open = price;
                price *= 1.0 + (rng.next() - 0.5) * 0.004;
                let hi = open.max(price) * (1.0 + rng.next() * 0.001);
                let lo = open.min(price) * (1.0 - rng.next() * 0.001);
                let f = |x: f64| format!("{}", x as f32 as f64);
                if rng.next() < 0.002 {
                    for col in [&mut o, &mut h, &mut l, &mut c, &mut v] {
                        col.push("null".to_owned());
                    }
                } else {
                    o.push(f(open));
                    h.push(f(hi));
                    l.push(f(lo));
                    c.push(f(price));
                    v.push(format!("{}", (rng.next() * 500_000.0) as u64));
                }
            }
            days += 1;
        }
        day += 86_400;
    }
    let n = ts.len();
    let join = |xs: &[String]| xs.join(",");
    let ts_s: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"AAPL","exchangeName":"NMS","instrumentType":"EQUITY","firstTradeDate":345479400,"regularMarketTime":1703883600,"gmtoffset":-18000,"timezone":"EST","exchangeTimezoneName":"America/New_York","regularMarketPrice":192.53,"chartPreviousClose":125.07,"priceHint":2,"currentTradingPeriod":{{"pre":{{"timezone":"EST","start":1703840400,"end":1703860200,"gmtoffset":-18000}},"regular":{{"timezone":"EST","start":1703860200,"end":1703883600,"gmtoffset":-18000}},"post":{{"timezone":"EST","start":1703883600,"end":1703898000,"gmtoffset":-18000}}}},"dataGranularity":"5m","range":"","validRanges":["1d","5d","1mo","3mo","6mo","1y","2y","5y","10y","ytd","max"]}},"timestamp":[{}],"indicators":{{"quote":[{{"volume":[{}],"close":[{}],"open":[{}],"high":[{}],"low":[{}]}}]}}}}],"error":null}}}}"#,
        join(&ts_s),
        join(&v),
        join(&c),
        join(&o),
        join(&h),
        join(&l)
    );
    (s, n)
}

/// 100,000 daily rows, Stooq layout, oldest first.
fn stooq_csv(rows: usize) -> String {
    let mut rng = Rng(7);
    let mut s = String::from("Date,Open,High,Low,Close,Volume\n");
    let mut d: jiff::civil::Date = "1750-01-01".parse().unwrap();
    let mut price = 100.0f64;
    for _ in 0..rows {
        let open = price;
        price *= 1.0 + (rng.next() - 0.5) * 0.03;
        let hi = open.max(price) * (1.0 + rng.next() * 0.01);
        let lo = open.min(price) * (1.0 - rng.next() * 0.01);
        let _ = writeln!(
            s,
            "{d},{open:.3},{hi:.3},{lo:.3},{price:.3},{}",
            (rng.next() * 1e8) as u64
        );
        d = d.tomorrow().unwrap();
    }
    s
}

fn measure(name: &str, bytes: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    // Warm up, then run for at least ~2 s.
    let bars = f();
    let start = Instant::now();
    let mut iters = 0usize;
    while start.elapsed().as_secs_f64() < 2.0 {
        black_box(f());
        iters += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mbs = (bytes * iters) as f64 / secs / 1e6;
    println!(
        "{name:<34} {:>8.2} MB input  {bars:>7} bars  {iters:>4} runs  {:>8.2} ms/run  {mbs:>7.1} MB/s  {:>6.2} M bars/s",
        bytes as f64 / 1e6,
        secs * 1e3 / iters as f64,
        (bars * iters) as f64 / secs / 1e6
    );
    (mbs, bars)
}

fn main() {
    let inst = instrument();
    let (chart, stamps) = yahoo_chart();
    let from: Timestamp = "2023-01-01T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    let now: Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
    println!("Yahoo chart: {stamps} timestamps, {} bytes", chart.len());
    measure("yahoo chart JSON, 1y of 5m bars", chart.len(), || {
        yahoo::parse_chart(&chart, &inst, Interval::M5, from, to, now)
            .expect("parses")
            .bars
            .len()
    });
    let csv = stooq_csv(100_000);
    let (from, to) = (
        "1700-01-01T00:00:00Z".parse().unwrap(),
        "2100-01-01T00:00:00Z".parse().unwrap(),
    );
    measure("stooq daily CSV, 100k rows", csv.len(), || {
        stooq::parse_history_csv(&csv, &inst, Interval::D1, from, to)
            .expect("parses")
            .bars
            .len()
    });
}
