//! Refresh benchmark: one `refresh_due` step over N instruments (default
//! 1,000) whose daily series are all due, against a local fake Yahoo server,
//! through the real registry (rate limit, retries) on the wall clock.
//!
//! The question it answers: does a refresh finish within the providers'
//! configured rate limits, with no idle waiting beyond them? The lower bound
//! is `(N - burst) / rate`; the step should take about that long (and, with
//! the limit lifted, show what the machine itself can do).
//!
//! ```text
//! cargo run --release -p pricetrack-server --example bench_refresh -- \
//!     [--backend sqlite|postgres] [--instruments 1000] [--rate 6000] [--burst 50] [--concurrency 16]
//! ```
//! `--rate 0` lifts the limit. PostgreSQL needs `PRICETRACK_TEST_POSTGRES`.

#[path = "../tests/market/fake.rs"]
#[allow(dead_code)]
mod fake;

use jiff::{SignedDuration, Timestamp};
use pricetrack_app::{
    AppContext,
    market::{RefreshPolicy, refresh_due},
    ports::{BackfillProgress, FetchRunRecord, FetchRunResult, JobKey, SystemClock},
};
use pricetrack_domain::{
    Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, ProviderName, Symbol, date_key,
};
use pricetrack_providers::{
    ManualTime, ProviderOrder, ProviderSettings, ProvidersConfig, RateLimit, Registry,
};
use pricetrack_storage::testing::{fresh_postgres, fresh_sqlite};
use std::{sync::Arc, time::Instant};

struct Args {
    backend: String,
    instruments: usize,
    rate: f64,
    burst: u32,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        backend: "sqlite".into(),
        instruments: 1000,
        rate: 6000.0,
        burst: 50,
        concurrency: 16,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = argv[i + 1].clone();
        match argv[i].as_str() {
            "--backend" => a.backend = v,
            "--instruments" => a.instruments = v.parse().expect("--instruments N"),
            "--rate" => a.rate = v.parse().expect("--rate per minute"),
            "--burst" => a.burst = v.parse().expect("--burst N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

#[tokio::main]
async fn main() {
    let a = args();
    let db = match a.backend.as_str() {
        "postgres" => fresh_postgres()
            .await
            .expect("set PRICETRACK_TEST_POSTGRES"),
        _ => fresh_sqlite().await,
    };
    let store = db.open().await;
    let now = Timestamp::now();
    // The fake serves bars up to the real "now".
    let fake_time = Arc::new(ManualTime::new(now));
    let fake = fake::FakeYahoo::new(fake_time.clone());
    let server = fake.start().await;

    let mut cfg = ProvidersConfig::new();
    cfg.yahoo = ProviderSettings::with_base_url(server.uri());
    for p in [
        &mut cfg.stooq,
        &mut cfg.coingecko,
        &mut cfg.binance,
        &mut cfg.alphavantage,
    ] {
        *p = ProviderSettings::with_base_url(server.uri());
    }
    let mut order = ProviderOrder::default();
    order.set(InstrumentKind::Stock, vec!["yahoo".into()]);
    cfg.order = order;
    let limit = if a.rate > 0.0 {
        RateLimit::new(a.rate, a.burst)
    } else {
        RateLimit::UNLIMITED
    };
    cfg.rate_limits.insert("yahoo".into(), limit);
    let registry = Registry::from_config(cfg).expect("registry");
    let ctx = AppContext::new(store, Arc::new(SystemClock))
        .with_prices(Arc::new(registry))
        .with_refresh_policy(RefreshPolicy {
            concurrency: a.concurrency,
            worker_id: "bench".into(),
            ..RefreshPolicy::default()
        });

    // N stocks with history up to a week ago, their daily series due now.
    let last = date_key(
        (now - SignedDuration::from_hours(24 * 7))
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    );
    let mut keys = Vec::with_capacity(a.instruments);
    let mut bars = Vec::with_capacity(a.instruments);
    for i in 0..a.instruments {
        let symbol = Symbol::parse(&format!("B{i:04}")).expect("symbol");
        let instrument = Instrument::new(
            symbol.clone(),
            format!("Bench {i}"),
            InstrumentKind::Stock,
            Currency::USD,
            None,
            ProviderName::parse("yahoo").expect("provider"),
            None,
        )
        .expect("instrument");
        ctx.store
            .create_instrument(&instrument)
            .await
            .expect("create");
        let p = fake::model_price(symbol.as_str(), last.as_second());
        bars.push(
            Bar::new(
                symbol.clone(),
                Interval::D1,
                last,
                Ohlcv {
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: 1.0,
                },
            )
            .expect("bar"),
        );
        keys.push(JobKey::new(symbol, Interval::D1));
    }
    ctx.store.upsert_bars(&bars).await.expect("bars");
    ctx.store.ensure_fetch_jobs(&keys, now).await.expect("jobs");
    for key in &keys {
        ctx.store
            .claim_fetch_job(key, now, now + SignedDuration::from_mins(5), "bench")
            .await
            .expect("claim")
            .expect("claimed");
        let record = FetchRunRecord {
            at: now,
            next_due_at: now,
            result: FetchRunResult::Success {
                provider: Some("yahoo".into()),
                simulated: false,
            },
            backfill: BackfillProgress {
                done: true,
                anchor: Some(now),
                cursor: Some(last),
                floor: None,
            },
        };
        ctx.store
            .finish_fetch_job(key, "bench", &record)
            .await
            .expect("finish");
    }

    let started = Instant::now();
    let report = refresh_due(&ctx, Timestamp::now()).await.expect("refresh");
    let elapsed = started.elapsed().as_secs_f64();
    let requests = fake.requests().len();
    let bound = if a.rate > 0.0 {
        (requests as f64 - f64::from(a.burst)).max(0.0) / (a.rate / 60.0)
    } else {
        0.0
    };
    println!("backend           {}", a.backend);
    println!("instruments       {}", a.instruments);
    println!(
        "rate limit        {}",
        if a.rate > 0.0 {
            format!("{} requests/min, burst {}", a.rate, a.burst)
        } else {
            "none".into()
        }
    );
    println!("concurrency       {}", a.concurrency);
    println!(
        "series refreshed  {} ok, {} failed",
        report.succeeded, report.failed
    );
    println!("requests          {requests}");
    println!("bars stored       {}", report.bars_stored);
    println!("time              {elapsed:.2} s");
    println!("requests/s        {:.1}", requests as f64 / elapsed);
    if a.rate > 0.0 {
        println!("lower bound       {bound:.2} s (the rate limit)");
        println!(
            "over the bound    {:.2} s ({:.1} %)",
            elapsed - bound,
            (elapsed / bound - 1.0) * 100.0
        );
    }
    assert_eq!(report.failed, 0, "every series refreshed");
}
