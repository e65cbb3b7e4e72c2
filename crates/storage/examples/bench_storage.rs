//! Storage benchmark: bulk bar ingest and range reads on each backend.
//!
//! ```text
//! cargo run --release -p pricetrack-storage --example bench_storage -- [--backend sqlite|postgres|both] [--batch N]
//! ```
//!
//! Creates 500 instruments and ingests 1,000,000 five-minute bars (2,000 per instrument),
//! interleaved in time as a live feed delivers them (t0: all 500 instruments, t1: all
//! 500, …), in calls of `--batch` bars (default 50,000), into a fresh database; then
//! re-ingests them all unchanged, then all with a changed high (every row a
//! replacement, counted as such); then reads one instrument's 2,000-bar
//! range 1,000 times. Each phase reports wall-clock figures and the CPU it used (so a
//! busy machine can be told apart from a slow store). PostgreSQL uses the server in `PRICETRACK_TEST_POSTGRES` (a fresh
//! database, dropped afterwards). Prints a markdown table.

use jiff::{SignedDuration, Timestamp};
use pricetrack_app::ports::{BarRange, Store, UpsertCounts};
use pricetrack_domain::{
    Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, ProviderName, Symbol,
};
use pricetrack_storage::{DatabaseTarget, testing};
use std::sync::Arc;
use std::time::{Duration, Instant};

const INSTRUMENTS: usize = 500;
const BARS_PER_INSTRUMENT: usize = 2_000;
const READS: usize = 1_000;

struct Report {
    backend: &'static str,
    insert: Phase,
    replace: Phase,
    change: Phase,
    read_p50: Duration,
    read_p99: Duration,
    read_cpu_per_read: Duration,
    bytes_per_bar: f64,
}

/// One ingest pass: wall-clock rate and the CPU it took (this process, plus the
/// PostgreSQL backends serving it), so figures can be judged on a busy machine.
struct Phase {
    rate: f64,
    cpu_per_bar: Duration,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn symbols() -> Vec<Symbol> {
    (0..INSTRUMENTS)
        .map(|i| Symbol::parse(&format!("BENCH{i:03}")).expect("valid symbol"))
        .collect()
}

/// Interleaved feed: for each time step, one bar of every instrument.
fn feed(symbols: &[Symbol]) -> Vec<Bar> {
    let t0: Timestamp = "2024-01-02T00:00:00Z".parse().expect("valid time");
    let mut bars = Vec::with_capacity(INSTRUMENTS * BARS_PER_INSTRUMENT);
    for step in 0..BARS_PER_INSTRUMENT {
        let time = t0 + SignedDuration::from_secs(300 * step as i64);
        for (i, symbol) in symbols.iter().enumerate() {
            let base = 50.0 + i as f64 + (step % 97) as f64 * 0.01;
            let bar = Bar::new(
                symbol.clone(),
                Interval::M5,
                time,
                Ohlcv {
                    open: base,
                    high: base + 0.5,
                    low: base - 0.5,
                    close: base + 0.25,
                    volume: 1_000.0 + step as f64,
                },
            )
            .expect("valid bar");
            bars.push(bar);
        }
    }
    bars
}

async fn ingest(
    store: &Arc<dyn Store>,
    target: &DatabaseTarget,
    bars: &[Bar],
    batch: usize,
) -> (UpsertCounts, Phase) {
    let cpu_before = testing::cpu_used(target).await;
    let started = Instant::now();
    let mut total = UpsertCounts::default();
    for chunk in bars.chunks(batch) {
        total += store.upsert_bars(chunk).await.expect("upsert");
    }
    let wall = started.elapsed();
    let cpu = testing::cpu_used(target).await.saturating_sub(cpu_before);
    let phase = Phase {
        rate: bars.len() as f64 / wall.as_secs_f64(),
        cpu_per_bar: cpu / bars.len() as u32,
    };
    (total, phase)
}

async fn bench(db: &testing::TestDatabase, batch: usize) -> Report {
    let store = db.open().await;
    let symbols = symbols();
    for symbol in &symbols {
        let instrument = Instrument::new(
            symbol.clone(),
            format!("Benchmark {symbol}"),
            InstrumentKind::Stock,
            Currency::USD,
            None,
            ProviderName::manual(),
            None,
        )
        .expect("valid instrument");
        store
            .create_instrument(&instrument)
            .await
            .expect("create instrument");
    }
    let bars = feed(&symbols);

    let (counts, insert) = ingest(&store, &db.target, &bars, batch).await;
    assert_eq!(counts.inserted as usize, bars.len(), "{counts:?}");
    // Size after the first ingest: re-ingesting leaves dead row versions in PostgreSQL
    // until VACUUM, which would not be a fair size per bar.
    let bytes = bytes_on_disk(&db.target).await;
    let (counts, replace) = ingest(&store, &db.target, &bars, batch).await;
    assert_eq!(counts.replaced as usize, bars.len(), "{counts:?}");
    // A correction of every bar (e.g. adjusted prices): each row really rewritten.
    let changed: Vec<Bar> = bars
        .iter()
        .map(|b| {
            let mut v = b.ohlcv();
            v.high += 0.01;
            Bar::new(b.symbol.clone(), b.interval, b.time, v).expect("valid bar")
        })
        .collect();
    let (counts, change) = ingest(&store, &db.target, &changed, batch).await;
    assert_eq!(counts.replaced as usize, bars.len(), "{counts:?}");

    let symbol = &symbols[INSTRUMENTS / 2];
    let range = BarRange {
        from: Some(bars[0].time),
        to: bars.last().map(|b| b.time),
        limit: Some(BARS_PER_INSTRUMENT as u32),
    };
    let mut latencies = Vec::with_capacity(READS);
    let cpu_before = testing::cpu_used(&db.target).await;
    for _ in 0..READS {
        let started = Instant::now();
        let got = store
            .bars(symbol, Interval::M5, range)
            .await
            .expect("read bars");
        latencies.push(started.elapsed());
        assert_eq!(got.len(), BARS_PER_INSTRUMENT);
    }
    let read_cpu = testing::cpu_used(&db.target)
        .await
        .saturating_sub(cpu_before);
    latencies.sort();
    Report {
        backend: db.backend(),
        insert,
        replace,
        change,
        read_p50: latencies[READS / 2],
        read_p99: latencies[READS * 99 / 100],
        read_cpu_per_read: read_cpu / READS as u32,
        bytes_per_bar: bytes as f64 / bars.len() as f64,
    }
}

async fn bytes_on_disk(target: &DatabaseTarget) -> u64 {
    match target {
        DatabaseTarget::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).expect("open sqlite");
            // The store's background checkpointer may hold the checkpoint lock (SQLite
            // then answers busy at once, without a busy handler): retry until done.
            for attempt in 0.. {
                let busy: i64 = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
                    .expect("checkpoint");
                if busy == 0 {
                    break;
                }
                assert!(attempt < 600, "the WAL checkpoint stayed busy for 30 s");
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(conn);
            let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let wal = path.with_extension("db-wal");
            size(path) + size(&wal)
        }
        DatabaseTarget::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            let row = client
                .query_one("SELECT pg_total_relation_size('bar_blocks')", &[])
                .await
                .expect("size");
            u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
        }
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let backend = arg("--backend").unwrap_or_else(|| "both".to_owned());
    let batch: usize = arg("--batch")
        .map(|b| b.parse().expect("--batch takes a number"))
        .unwrap_or(50_000);
    let mut reports = Vec::new();
    if matches!(backend.as_str(), "sqlite" | "both") {
        let db = testing::fresh_sqlite().await;
        reports.push(bench(&db, batch).await);
    }
    if matches!(backend.as_str(), "postgres" | "both") {
        match testing::fresh_postgres().await {
            Some(db) => reports.push(bench(&db, batch).await),
            None => eprintln!("PostgreSQL skipped: set PRICETRACK_TEST_POSTGRES"),
        }
    }
    println!(
        "{INSTRUMENTS} instruments × {BARS_PER_INSTRUMENT} five-minute bars, interleaved in time, \
         {batch} bars per call; load average at the end: {}\n",
        load_average()
    );
    println!(
        "| backend | ingest new: bars/s | CPU/bar | re-ingest unchanged: bars/s | CPU/bar \
         | re-ingest changed: bars/s | CPU/bar | 2,000-bar range: p50 | p99 | CPU/read \
         | bytes on disk per bar |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for r in reports {
        println!(
            "| {} | {:.0} | {:.2} µs | {:.0} | {:.2} µs | {:.0} | {:.2} µs | {:.3} ms | {:.3} ms \
             | {:.3} ms | {:.1} |",
            r.backend,
            r.insert.rate,
            us(r.insert.cpu_per_bar),
            r.replace.rate,
            us(r.replace.cpu_per_bar),
            r.change.rate,
            us(r.change.cpu_per_bar),
            ms(r.read_p50),
            ms(r.read_p99),
            ms(r.read_cpu_per_read),
            r.bytes_per_bar
        );
    }
    println!(
        "\nCPU: this process (all threads) plus, for PostgreSQL, the server backends of the \
         benchmark database; 10 ms resolution."
    );
}
