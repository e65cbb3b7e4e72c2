//! End-to-end ingest and read benchmark through the HTTP API.
//!
//! `cargo run --release -p pricetrack-server --example bench_http -- [--backend sqlite|postgres] [--format csv|json] [--writers N]`
//!
//! Posts 1,000,000 five-minute bars for 500 instruments, interleaved in time as a
//! live feed delivers them, to `POST /api/v1/bars` in batches of 5,000; then
//! reads one instrument's 2,000-bar range 1,000 times through
//! `GET /api/v1/instruments/{symbol}/bars` (p50/p99), and measures requests/s
//! for that read with 8 concurrent clients. PostgreSQL uses a fresh database on
//! the server named by PRICETRACK_TEST_POSTGRES. CPU/bar is the CPU the ingest took
//! (this process: client, server and SQLite; plus, for PostgreSQL, its server
//! backends) divided by the bars: steadier than the wall-clock rate on a busy machine.

use pricetrack_app::{AppContext, auth, ports::SystemClock};
use pricetrack_domain::{Currency, Instrument, InstrumentKind, ProviderName, Symbol};
use pricetrack_server::{config::Settings, http};
use pricetrack_storage::testing::{self, fresh_postgres, fresh_sqlite};
use std::{fmt::Write as _, sync::Arc, time::Instant};

const INSTRUMENTS: usize = 500;
const BARS_PER_INSTRUMENT: usize = 2_000;
const BATCH: usize = 5_000;
const READS: usize = 1_000;

struct Args {
    backend: String,
    format: String,
    writers: usize,
}

fn args() -> Args {
    let mut a = Args {
        backend: "sqlite".into(),
        format: "csv".into(),
        writers: 1,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--backend", Some(v)) => a.backend = v.clone(),
            ("--format", Some(v)) => a.format = v.clone(),
            ("--writers", Some(v)) => a.writers = v.parse().expect("--writers N"),
            _ => panic!(
                "usage: bench_http [--backend sqlite|postgres] [--format csv|json] [--writers N]"
            ),
        }
    }
    a
}

fn symbol(i: usize) -> String {
    format!("SYM{i:03}")
}

/// Batches of the interleaved feed: t0 for every instrument, then t1, …
fn batches(format: &str) -> Vec<String> {
    let start = 1_700_000_100i64;
    let mut out = Vec::new();
    let mut body = String::new();
    let mut rows = 0;
    let open = |body: &mut String| {
        body.clear();
        if format == "csv" {
            body.push_str("symbol,time,open,high,low,close,volume\n");
        } else {
            body.push('[');
        }
    };
    open(&mut body);
    for t in 0..BARS_PER_INSTRUMENT {
        let time = start + t as i64 * 300;
        for i in 0..INSTRUMENTS {
            let base = 50.0 + i as f64 + (t % 97) as f64 * 0.01;
            let (o, h, l, c, v) = (base, base + 0.5, base - 0.5, base + 0.1, 1_000 + t);
            if format == "csv" {
                writeln!(body, "{},{time},{o},{h},{l},{c},{v}", symbol(i)).expect("write");
            } else {
                if rows > 0 {
                    body.push(',');
                }
                write!(body, r#"{{"symbol":"{}","time":{time},"open":{o},"high":{h},"low":{l},"close":{c},"volume":{v}}}"#, symbol(i))
                    .expect("write");
            }
            rows += 1;
            if rows == BATCH {
                if format != "csv" {
                    body.push(']');
                }
                out.push(body.clone());
                open(&mut body);
                rows = 0;
            }
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    pricetrack_server::telemetry::init(pricetrack_server::config::LogFormat::Pretty);
    let a = args();
    let db = match a.backend.as_str() {
        "postgres" => fresh_postgres()
            .await
            .expect("set PRICETRACK_TEST_POSTGRES"),
        _ => fresh_sqlite().await,
    };
    let store = db.open().await;
    let ctx = AppContext::new(store.clone(), Arc::new(SystemClock));
    let token = auth::bootstrap_admin(&ctx)
        .await
        .expect("bootstrap")
        .expect("fresh")
        .secret;
    for i in 0..INSTRUMENTS {
        let inst = Instrument::new(
            Symbol::parse(&symbol(i)).expect("symbol"),
            format!("Instrument {i}"),
            InstrumentKind::Stock,
            Currency::USD,
            None,
            ProviderName::manual(),
            None,
        )
        .expect("instrument");
        store.create_instrument(&inst).await.expect("create");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = http::AppState::new(ctx, Arc::new(Settings::default()));
    tokio::spawn(async move {
        http::serve(listener, state, std::future::pending())
            .await
            .expect("serve")
    });

    let bodies = batches(&a.format);
    let bytes: usize = bodies.iter().map(String::len).sum();
    let content_type = if a.format == "csv" {
        "text/csv"
    } else {
        "application/json"
    };
    let client = reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(bodies.into_iter()));
    let cpu_before = testing::cpu_used(&db.target).await;
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..a.writers {
        let (queue, client, base, token) =
            (queue.clone(), client.clone(), base.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().expect("queue").next();
                let Some(body) = next else { break };
                let r = client
                    .post(format!("{base}/api/v1/bars?interval=5m"))
                    .bearer_auth(&token)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let ingest = started.elapsed().as_secs_f64();
    let total = (INSTRUMENTS * BARS_PER_INSTRUMENT) as f64;
    let ingest_cpu = testing::cpu_used(&db.target)
        .await
        .saturating_sub(cpu_before)
        .as_secs_f64();

    let url = format!("{base}/api/v1/instruments/SYM042/bars?interval=5m&limit=2000");
    let mut latencies = Vec::with_capacity(READS);
    for _ in 0..READS {
        let t = Instant::now();
        let r = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        let body = r.bytes().await.expect("body");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(body.len() > 100_000);
    }
    latencies.sort_by(f64::total_cmp);

    let concurrent = 8;
    let per_client = 250;
    let started = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..concurrent {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        readers.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let r = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("get");
                r.bytes().await.expect("body");
            }
        }));
    }
    for r in readers {
        r.await.expect("reader");
    }
    let rps = (concurrent * per_client) as f64 / started.elapsed().as_secs_f64();

    println!(
        "| backend | format | writers | bars | ingest s | bars/s | CPU/bar µs | MB/s in | read p50 ms | read p99 ms | reads/s (8 clients) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.1} | {:.2} | {:.2} | {:.0} |",
        a.backend,
        a.format,
        a.writers,
        total,
        ingest,
        total / ingest,
        ingest_cpu / total * 1e6,
        bytes as f64 / ingest / 1e6,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        rps
    );
}
