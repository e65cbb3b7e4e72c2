//! Server time of every web UI page with 500 instruments (two years of daily
//! bars each) and a 10,000-transaction portfolio, on SQLite.
//!
//! `cargo run --release -p pricetrack-server --example bench_pages`
//! Results and the machine go in BENCHMARKS.md ("Web UI page benchmark").

use jiff::{SignedDuration, Timestamp};
use pricetrack_app::{
    AppContext, auth, portfolios,
    ports::{PortfolioDraft, SystemClock},
    sessions, watchlists,
};
use pricetrack_domain::{
    Amount, Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, Price, ProviderName,
    Quantity, Symbol, Transaction, TransactionKind, date_key,
};
use pricetrack_server::{config::Settings, http};
use std::{sync::Arc, time::Instant};

const INSTRUMENTS: usize = 500;
const DAYS: i64 = 730;
const TRANSACTIONS: usize = 10_000;
const HELD: usize = 40;
const RUNS: usize = 25;

fn symbol(i: usize) -> Symbol {
    Symbol::parse(&format!("SYM{i:03}")).unwrap()
}

fn price(i: usize, day: i64) -> f64 {
    let base = 20.0 + (i % 97) as f64 * 3.0;
    base * (1.0 + 0.15 * ((day as f64 / 37.0) + i as f64).sin() + day as f64 * 0.0004)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let target = pricetrack_storage::DatabaseTarget::Sqlite(dir.path().join("bench.sqlite"));
    let store = pricetrack_storage::open(&target).await?;
    let ctx = AppContext::new(store, Arc::new(SystemClock));
    let admin_token = auth::bootstrap_admin(&ctx).await?.expect("fresh database");
    let admin = auth::user_by_name(&ctx, "admin").await?;
    sessions::set_password(&ctx, &admin, "benchmark password").await?;

    let setup = Instant::now();
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let start = today - SignedDuration::from_hours(24 * DAYS);
    let mut bars = Vec::with_capacity(INSTRUMENTS * DAYS as usize);
    for i in 0..INSTRUMENTS {
        let instrument = Instrument::new(
            symbol(i),
            format!("Company number {i}"),
            InstrumentKind::Stock,
            Currency::USD,
            Some("NYSE".into()),
            ProviderName::parse("yahoo")?,
            None,
        )?;
        ctx.store.create_instrument(&instrument).await?;
        for d in 0..DAYS {
            let date = start + SignedDuration::from_hours(24 * d);
            if matches!(
                date.weekday(),
                jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
            ) {
                continue;
            }
            let close = price(i, d);
            let open = price(i, d - 1);
            bars.push(Bar::new(
                symbol(i),
                Interval::D1,
                date_key(date),
                Ohlcv {
                    open,
                    high: open.max(close) * 1.01,
                    low: open.min(close) * 0.99,
                    close,
                    volume: 1e6,
                },
            )?);
        }
    }
    for chunk in bars.chunks(50_000) {
        ctx.store.upsert_bars(chunk).await?;
    }
    let portfolio = portfolios::create_portfolio(
        &ctx,
        &admin,
        PortfolioDraft {
            name: "Big".into(),
            base_currency: Currency::USD,
        },
    )
    .await?;
    let mut txs = Vec::with_capacity(TRANSACTIONS);
    let first = date_key(start + SignedDuration::from_hours(24));
    txs.push(Transaction::new(
        first,
        Currency::USD,
        String::new(),
        TransactionKind::Deposit {
            amount: Amount::parse("50000000")?,
        },
    )?);
    for n in 1..TRANSACTIONS {
        let i = (n / 3) % HELD;
        let day = 1 + (n as i64 * (DAYS - 2)) / TRANSACTIONS as i64;
        let time =
            first + SignedDuration::from_hours(24 * day) + SignedDuration::from_secs(n as i64);
        let p = Price::parse(&format!("{:.2}", price(i, day)))?;
        let kind = if n % 7 == 6 && n > 20 * HELD {
            TransactionKind::Sell {
                symbol: symbol(i),
                quantity: Quantity::parse("1")?,
                price: p,
                fee: Amount::parse("1")?,
                tax: Amount::ZERO,
            }
        } else if n % 17 == 0 {
            TransactionKind::Dividend {
                symbol: symbol(i),
                amount: Amount::parse("12.5")?,
                tax_withheld: Amount::parse("1.8")?,
            }
        } else {
            TransactionKind::Buy {
                symbol: symbol(i),
                quantity: Quantity::parse("3")?,
                price: p,
                fee: Amount::parse("1")?,
                tax: Amount::ZERO,
            }
        };
        txs.push(Transaction::new(
            time,
            Currency::USD,
            format!("tx {n}"),
            kind,
        )?);
    }
    portfolios::record_transactions(&ctx, &admin, portfolio.id, txs).await?;
    let list = watchlists::create(&ctx, &admin, "Main").await?;
    watchlists::set_items(&ctx, &admin, list.id, (0..20).map(symbol).collect()).await?;
    println!(
        "setup: {INSTRUMENTS} instruments, {} daily bars, {TRANSACTIONS} transactions over {HELD} holdings in {:.1} s",
        bars.len(),
        setup.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = http::AppState::new(ctx.clone(), Arc::new(Settings::default()));
    tokio::spawn(async move { http::serve(listener, state, std::future::pending()).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let session = sessions::open_session(&ctx, admin.clone()).await?;
    let cookie = format!("pt_session={}", session.secret);
    let _ = admin_token;

    let pid = portfolio.id.0;
    let pages = [
        ("/login".to_owned(), "sign in"),
        ("/".to_owned(), "dashboard"),
        ("/instruments".to_owned(), "instruments"),
        ("/instruments?q=SYM4".to_owned(), "instrument search"),
        ("/instruments/SYM007".to_owned(), "instrument (1d, 1Y)"),
        (
            "/instruments/SYM007?period=MAX&mode=line".to_owned(),
            "instrument (MAX, line)",
        ),
        ("/watchlists".to_owned(), "watchlists"),
        ("/portfolios".to_owned(), "portfolios"),
        (format!("/portfolios/{pid}"), "portfolio (10k tx)"),
        (format!("/portfolios/{pid}/transactions"), "transactions"),
        (
            format!("/portfolios/{pid}/transactions?type=sell&offset=500"),
            "transactions filtered",
        ),
        ("/settings".to_owned(), "settings"),
    ];
    // Per page: "cold" is its first request with the analytics cache empty
    // (it prepares the portfolio itself); "after a change" is its first
    // request after a new transaction, once the background preparation that
    // follows every ledger change has finished (as a user sees it a moment
    // after saving); the timed runs follow 3 warm-up requests.
    let mut deposits = 0;
    println!("\n| page | cold ms | after a change ms | median ms | p95 ms | bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (path, label) in &pages {
        let mut times = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        let mut cold = 0.0;
        let mut after_change = 0.0;
        for run in 0..RUNS + 4 {
            if run == 0 {
                ctx.analytics.settle().await;
                ctx.analytics.clear();
            }
            if run == 1 {
                deposits += 1;
                let deposit = Transaction::new(
                    date_key(start + SignedDuration::from_hours(24 * (DAYS - 1))),
                    Currency::USD,
                    format!("benchmark deposit {deposits}"),
                    TransactionKind::Deposit {
                        amount: Amount::parse("100")?,
                    },
                )?;
                portfolios::record_transactions(&ctx, &admin, portfolio.id, vec![deposit]).await?;
                ctx.analytics.settle().await;
            }
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .header(
                    "cookie",
                    if path == "/login" {
                        ""
                    } else {
                        cookie.as_str()
                    },
                )
                .send()
                .await?;
            assert_eq!(r.status(), 200, "{path}");
            let body = r.bytes().await?;
            let elapsed = t.elapsed().as_secs_f64() * 1000.0;
            bytes = body.len();
            match run {
                0 => cold = elapsed,
                1 => after_change = elapsed,
                2 | 3 => {}
                _ => times.push(elapsed),
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
        println!(
            "| {label} (`{path}`) | {cold:.1} | {after_change:.1} | {median:.1} | {p95:.1} | {bytes} |"
        );
    }
    Ok(())
}
