//! Portfolio analytics over HTTP: the summary endpoint on a large portfolio
//! and the holdings endpoint's throughput on a typical one.
//!
//! `cargo run --release -p pricetrack-server --example bench_analytics_http -- [--backend sqlite|postgres] [--clients N] [--seconds S]`
//!
//! * **Large portfolio:** 10,000 transactions (120 monthly deposits, buys,
//!   sells, dividends) over 200 instruments (160 in USD, 40 in EUR with
//!   stored `EURUSD=X` rates), 10 years of weekday closes. Measured: the first
//!   summary (load from the store + prepare + compute, with the peak RSS of
//!   that computation), repeated summaries (p50/p99), a first summary for
//!   another period, and the summary right after a new transaction and after
//!   a new close (incremental rebuilds).
//! * **Typical portfolio:** 1,000 transactions over 50 instruments. Measured:
//!   holdings requests/s with N concurrent keep-alive clients for S seconds,
//!   and the single-request latency.
//!
//! The server and the load generator share this process (and the machine's
//! cores); the figures are end-to-end HTTP including bearer-token checks.

use jiff::{Timestamp, ToSpan, civil::Date, tz::TimeZone};
use pricetrack_app::{
    AppContext, auth, portfolios,
    ports::{FixedClock, PortfolioDraft, User},
};
use pricetrack_domain::{
    Amount, Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, Price, ProviderName,
    Quantity, Symbol, Transaction, TransactionKind,
};
use pricetrack_server::{config::Settings, http};
use pricetrack_storage::testing::{fresh_postgres, fresh_sqlite};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

const NOW: &str = "2024-06-14T21:00:00Z";

/// Counts the Rust heap: current and peak bytes (SQLite's own allocations
/// and memory-mapped database pages are not included).
struct CountingAllocator;

static HEAP: AtomicU64 = AtomicU64::new(0);
static HEAP_PEAK: AtomicU64 = AtomicU64::new(0);

unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            let now =
                HEAP.fetch_add(layout.size() as u64, Ordering::Relaxed) + layout.size() as u64;
            HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        HEAP.fetch_sub(layout.size() as u64, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Args {
    backend: String,
    clients: usize,
    seconds: f64,
    requests: usize,
}

fn args() -> Args {
    let mut a = Args {
        backend: "sqlite".into(),
        clients: 16,
        seconds: 10.0,
        requests: 300,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--backend", Some(v)) => a.backend = v.clone(),
            ("--clients", Some(v)) => a.clients = v.parse().expect("--clients N"),
            ("--seconds", Some(v)) => a.seconds = v.parse().expect("--seconds S"),
            ("--requests", Some(v)) => a.requests = v.parse().expect("--requests N"),
            _ => panic!(
                "usage: bench_analytics_http [--backend sqlite|postgres] [--clients N] [--seconds S] [--requests N]"
            ),
        }
    }
    a
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn weekdays(from: Date, to: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        if d.weekday().to_monday_one_offset() <= 5 {
            out.push(d);
        }
        d = d.tomorrow().expect("date");
    }
    out
}

fn symbol(i: usize) -> Symbol {
    Symbol::parse(&format!("S{i:03}")).expect("symbol")
}

fn currency_of(i: usize) -> Currency {
    if i % 5 == 4 {
        Currency::EUR
    } else {
        Currency::USD
    }
}

/// Random-walk closes (2 decimals) per instrument and trading day.
fn closes(instruments: usize, days: &[Date], rng: &mut Rng) -> Vec<Vec<f64>> {
    (0..instruments)
        .map(|i| {
            let mut p = 20.0 + (i % 50) as f64 * 4.0;
            days.iter()
                .map(|_| {
                    p *= 1.0 + (rng.unit() - 0.495) * 0.03;
                    p = p.max(1.0);
                    (p * 100.0).round() / 100.0
                })
                .collect()
        })
        .collect()
}

fn bar(symbol: &Symbol, day: Date, close: f64) -> Bar {
    Bar::new(
        symbol.clone(),
        Interval::D1,
        pricetrack_domain::date_key(day),
        Ohlcv {
            open: close,
            high: close,
            low: close,
            close,
            volume: 1000.0,
        },
    )
    .expect("bar")
}

fn tx(day: Date, currency: Currency, kind: TransactionKind) -> Transaction {
    let time = pricetrack_domain::date_key(day) + jiff::SignedDuration::from_hours(15);
    Transaction::new(time, currency, String::new(), kind).expect("transaction")
}

/// `count` transactions over the first `instruments` instruments: monthly
/// deposits, then buys (60 %), sells of held units (25 %) and dividends.
fn ledger(
    count: usize,
    instruments: usize,
    days: &[Date],
    closes: &[Vec<f64>],
    rng: &mut Rng,
) -> Vec<Transaction> {
    let mut out: Vec<(usize, Transaction)> = Vec::with_capacity(count);
    let mut month = None;
    for (d, day) in days.iter().enumerate() {
        if month != Some((day.year(), day.month())) {
            month = Some((day.year(), day.month()));
            out.push((
                d,
                tx(
                    *day,
                    Currency::USD,
                    TransactionKind::Deposit {
                        amount: Amount::parse("5000").expect("amount"),
                    },
                ),
            ));
        }
    }
    let others = count - out.len().min(count);
    let mut picks: Vec<usize> = (0..others).map(|_| rng.below(days.len())).collect();
    picks.sort_unstable();
    let mut held: BTreeMap<usize, u64> = BTreeMap::new();
    for d in picks {
        let i = rng.below(instruments);
        let day = days[d];
        let price = closes[i][d];
        let roll = rng.unit();
        let currency = currency_of(i);
        let kind = if roll < 0.25 && held.get(&i).copied().unwrap_or(0) > 0 {
            let have = held[&i];
            let q = 1 + rng.below(have as usize) as u64;
            held.insert(i, have - q);
            TransactionKind::Sell {
                symbol: symbol(i),
                quantity: Quantity::parse(&q.to_string()).expect("q"),
                price: Price::parse(&format!("{price:.2}")).expect("p"),
                fee: Amount::parse("1").expect("fee"),
                tax: Amount::ZERO,
            }
        } else if roll < 0.40 && held.get(&i).copied().unwrap_or(0) > 0 {
            let amount = (held[&i] as f64 * price * 0.005).max(0.01);
            TransactionKind::Dividend {
                symbol: symbol(i),
                amount: Amount::parse(&format!("{amount:.2}")).expect("a"),
                tax_withheld: Amount::parse(&format!("{:.2}", amount * 0.15)).expect("t"),
            }
        } else {
            let q = 1 + rng.below(20) as u64;
            *held.entry(i).or_default() += q;
            TransactionKind::Buy {
                symbol: symbol(i),
                quantity: Quantity::parse(&q.to_string()).expect("q"),
                price: Price::parse(&format!("{price:.2}")).expect("p"),
                fee: Amount::parse("1").expect("fee"),
                tax: Amount::ZERO,
            }
        };
        out.push((d, tx(day, currency, kind)));
    }
    out.sort_by_key(|(d, t)| (*d, t.time));
    out.into_iter().map(|(_, t)| t).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the process's peak RSS (Linux), so VmHWM measures what follows.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn create_portfolio(ctx: &AppContext, user: &User, name: &str) -> i64 {
    portfolios::create_portfolio(
        ctx,
        user,
        PortfolioDraft {
            name: name.into(),
            base_currency: Currency::USD,
        },
    )
    .await
    .expect("portfolio")
    .id
    .0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let db = match a.backend.as_str() {
        "postgres" => fresh_postgres()
            .await
            .expect("set PRICETRACK_TEST_POSTGRES"),
        _ => fresh_sqlite().await,
    };
    let store = db.open().await;
    let clock = Arc::new(FixedClock::new(NOW.parse().expect("now")));
    let ctx = AppContext::new(store.clone(), clock);
    let token = auth::bootstrap_admin(&ctx)
        .await
        .expect("bootstrap")
        .expect("fresh")
        .secret;
    let admin = auth::user_by_name(&ctx, "admin").await.expect("admin");

    // ---- data: 200 instruments × 10 years of weekday closes, FX rates.
    let setup = Instant::now();
    let end: Date = NOW
        .parse::<Timestamp>()
        .expect("now")
        .to_zoned(TimeZone::UTC)
        .date();
    let start = end.checked_sub(10.years()).expect("start");
    let days = weekdays(start, end);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let instruments = 200;
    let prices = closes(instruments, &days, &mut rng);
    for i in 0..instruments {
        let inst = Instrument::new(
            symbol(i),
            format!("Instrument {i}"),
            InstrumentKind::Stock,
            currency_of(i),
            None,
            ProviderName::manual(),
            None,
        )
        .expect("instrument");
        store.create_instrument(&inst).await.expect("create");
    }
    let eurusd = Symbol::parse("EURUSD=X").expect("fx");
    store
        .create_instrument(
            &Instrument::new(
                eurusd.clone(),
                "EUR/USD".into(),
                InstrumentKind::Fx,
                Currency::USD,
                None,
                ProviderName::manual(),
                None,
            )
            .expect("fx"),
        )
        .await
        .expect("create fx");
    let mut bars: Vec<Bar> = Vec::with_capacity(50_000);
    let mut bar_count = 0usize;
    let mut fx = 1.10f64;
    for (d, day) in days.iter().enumerate() {
        fx *= 1.0 + (rng.unit() - 0.5) * 0.01;
        bars.push(bar(&eurusd, *day, (fx * 10_000.0).round() / 10_000.0));
        for (i, series) in prices.iter().enumerate() {
            bars.push(bar(&symbol(i), *day, series[d]));
        }
        if bars.len() >= 50_000 {
            bar_count += bars.len();
            store.upsert_bars(&bars).await.expect("bars");
            bars.clear();
        }
    }
    bar_count += bars.len();
    store.upsert_bars(&bars).await.expect("bars");
    drop(bars);

    let large = create_portfolio(&ctx, &admin, "Large").await;
    let large_ledger = ledger(10_000, instruments, &days, &prices, &mut rng);
    let large_count = large_ledger.len();
    portfolios::record_transactions(
        &ctx,
        &admin,
        pricetrack_domain::PortfolioId(large),
        large_ledger,
    )
    .await
    .expect("large ledger");
    let small = create_portfolio(&ctx, &admin, "Typical").await;
    let small_ledger = ledger(1_000, 50, &days, &prices, &mut rng);
    let small_count = small_ledger.len();
    portfolios::record_transactions(
        &ctx,
        &admin,
        pricetrack_domain::PortfolioId(small),
        small_ledger,
    )
    .await
    .expect("small ledger");
    drop(prices);
    let setup_s = setup.elapsed().as_secs_f64();

    // ---- the server, in this process.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = http::AppState::new(ctx.clone(), Arc::new(Settings::default()));
    tokio::spawn(async move {
        http::serve(listener, state, std::future::pending())
            .await
            .expect("serve")
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients * 2)
        .build()
        .expect("client");
    let get = |path: String| {
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        async move {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            let status = r.status();
            let body = r.bytes().await.expect("body");
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            (t.elapsed().as_secs_f64() * 1000.0, body.len())
        }
    };
    // Warm the connection pool and the token path (not the analytics).
    get("/api/v1/me".into()).await;

    // ---- summary on the large portfolio.
    let summary = format!("/api/v1/portfolios/{large}/summary?period=MAX");
    let rss_before = rss_kib("VmRSS:");
    let heap_before = HEAP.load(Ordering::Relaxed);
    HEAP_PEAK.store(heap_before, Ordering::Relaxed);
    let peak_reset = reset_peak_rss();
    let (cold_ms, summary_bytes) = get(summary.clone()).await;
    let peak = rss_kib("VmHWM:");
    let rss_after = rss_kib("VmRSS:");
    let heap_peak = HEAP_PEAK.load(Ordering::Relaxed);
    let heap_after = HEAP.load(Ordering::Relaxed);
    let cold_stats = ctx.analytics.last_build().expect("a build");
    let mut warm = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        warm.push(get(summary.clone()).await.0);
    }
    warm.sort_by(f64::total_cmp);
    let (other_period_ms, _) = get(format!("/api/v1/portfolios/{large}/summary?period=1Y")).await;
    let (perf_ms, perf_bytes) = get(format!("/api/v1/portfolios/{large}/performance")).await;
    let (holdings_large_ms, _) = get(format!("/api/v1/portfolios/{large}/holdings")).await;

    // After a ledger change: the ledger is read again, prices are reused.
    let mut after_tx = Vec::new();
    let mut tx_stats = None;
    for k in 0..5 {
        let r = client
            .post(format!("{base}/api/v1/portfolios/{large}/transactions"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"type": "deposit", "time": format!("2024-06-1{k}"), "amount": "1", "currency": "USD"}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201);
        after_tx.push(get(summary.clone()).await.0);
        tx_stats = ctx.analytics.last_build();
    }
    after_tx.sort_by(f64::total_cmp);
    // After a new close of one instrument: that series is read again.
    let mut after_bar = Vec::new();
    for k in 0..5 {
        let csv = format!(
            "time,open,high,low,close,volume\n2024-06-14,{p},{p},{p},{p},1\n",
            p = 50.0 + f64::from(k)
        );
        let r = client
            .post(format!("{base}/api/v1/instruments/S007/bars?interval=1d"))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 200);
        after_bar.push(get(summary.clone()).await.0);
    }
    let bar_stats = ctx.analytics.last_build();
    after_bar.sort_by(f64::total_cmp);
    // Cold again with an empty cache (a restart), for comparison.
    ctx.analytics.clear();
    let (cold_again_ms, _) = get(summary.clone()).await;

    // ---- holdings throughput on the typical portfolio.
    let holdings = format!("/api/v1/portfolios/{small}/holdings");
    let (holdings_cold_ms, holdings_bytes) = get(holdings.clone()).await;
    let mut single = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        single.push(get(holdings.clone()).await.0);
    }
    single.sort_by(f64::total_cmp);
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    let started = Instant::now();
    for _ in 0..a.clients {
        let (client, token, url, done, count) = (
            client.clone(),
            token.clone(),
            format!("{base}{holdings}"),
            done.clone(),
            count.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let r = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("get");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("body");
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_secs_f64(a.seconds)).await;
    done.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rps = count.load(Ordering::Relaxed) as f64 / elapsed;

    println!(
        "backend {} · setup {setup_s:.1} s ({} bars, {large_count} + {small_count} transactions) · builds {}",
        a.backend,
        bar_count,
        ctx.analytics.builds()
    );
    println!();
    println!("| measurement | result |");
    println!("|---|---:|");
    println!(
        "| summary MAX, first request (load 200 × 10 y of closes + ledger, prepare, compute) | {cold_ms:.1} ms |"
    );
    println!("| summary MAX, first request again after a cache clear | {cold_again_ms:.1} ms |");
    println!(
        "| summary MAX, repeated ({} requests) p50 / p99 | {:.2} / {:.2} ms |",
        a.requests,
        percentile(&warm, 0.5),
        percentile(&warm, 0.99)
    );
    println!(
        "| summary 1Y, first request (portfolio already prepared) | {other_period_ms:.1} ms |"
    );
    println!(
        "| summary MAX right after a new transaction (ledger re-read, prices reused), median of 5 | {:.1} ms |",
        percentile(&after_tx, 0.5)
    );
    println!(
        "| summary MAX right after a new close of one instrument (one series re-read), median of 5 | {:.1} ms |",
        percentile(&after_bar, 0.5)
    );
    println!(
        "| performance MAX daily (3,650 points, {perf_bytes} B), first request | {perf_ms:.1} ms |"
    );
    println!("| holdings, large portfolio, first request | {holdings_large_ms:.1} ms |");
    println!(
        "| peak RSS during the first summary (VmHWM{}) / RSS before / after | {:.1} / {:.1} / {:.1} MB |",
        if peak_reset {
            ", reset before"
        } else {
            ", NOT reset"
        },
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    println!(
        "| growth of the peak over the RSS before the computation (includes SQLite's page cache and mmap'd database pages) | {:.1} MB |",
        peak.saturating_sub(rss_before) as f64 / 1024.0
    );
    println!(
        "| Rust heap during the first summary: peak above the start / kept afterwards (the prepared portfolio and its cache) | {:.1} / {:.1} MB |",
        mb(heap_peak.saturating_sub(heap_before)),
        mb(heap_after.saturating_sub(heap_before))
    );
    let show = |s: Option<pricetrack_app::portfolio_analytics::BuildStats>| {
        s.map_or_else(String::new, |s| {
            format!(
                "load {:.1} ms ({} series read, {} reused), prepare {:.1} ms",
                s.load.as_secs_f64() * 1000.0,
                s.series_loaded,
                s.series_reused,
                s.prepare.as_secs_f64() * 1000.0
            )
        })
    };
    println!("| first build: | {} |", show(Some(cold_stats)));
    println!("| rebuild after a transaction: | {} |", show(tx_stats));
    println!("| rebuild after a close: | {} |", show(bar_stats));
    println!("| summary response size | {summary_bytes} B |");
    println!("| holdings (1,000 tx, 50 instruments), first request | {holdings_cold_ms:.1} ms |");
    println!(
        "| holdings, sequential p50 / p99 | {:.2} / {:.2} ms |",
        percentile(&single, 0.5),
        percentile(&single, 0.99)
    );
    println!(
        "| holdings throughput, {} keep-alive clients for {:.0} s ({holdings_bytes} B each) | {rps:.0} req/s |",
        a.clients, elapsed
    );
}
