//! Refresh and backfill against the fake Yahoo server, driven step by step
//! with a fake clock (no test sleeps to wait for a job).

use crate::fake::{FakeYahoo, Fault, day_key_secs, registry, secs, ts};
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::{
    AppContext,
    market::{self, RefreshPolicy, RefreshReport, RunKind, refresh_due},
    ports::{
        BackfillProgress, BarRange, FetchRunRecord, FetchRunResult, JobKey, PageRequest,
        PortfolioDraft, Role, User,
    },
};
use pricetrack_domain::{
    Amount, Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, Price, ProviderName,
    Quantity, Symbol, Transaction, TransactionKind, date_key,
    validation::{BarContext, BarValidator},
};
use pricetrack_providers::ManualTime;
use pricetrack_storage::testing::TestDatabase;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};
use wiremock::MockServer;

pub struct Env {
    pub ctx: AppContext,
    pub fake: FakeYahoo,
    pub time: Arc<ManualTime>,
    pub server: MockServer,
    pub db: TestDatabase,
}

fn policy(worker: &str) -> RefreshPolicy {
    RefreshPolicy {
        worker_id: worker.to_owned(),
        concurrency: 4,
        ..RefreshPolicy::default()
    }
}

pub async fn env(db: TestDatabase, start: &str) -> Env {
    let time = Arc::new(ManualTime::new(ts(start)));
    let fake = FakeYahoo::new(time.clone());
    let server = fake.start().await;
    let store = db.open().await;
    let ctx = AppContext::new(store, time.clone())
        .with_prices(Arc::new(registry(&server.uri(), time.clone(), false)))
        .with_refresh_policy(policy("test-worker"));
    Env {
        ctx,
        fake,
        time,
        server,
        db,
    }
}

impl Env {
    /// A second process on the same database and fake provider.
    async fn replica(&self, worker: &str) -> AppContext {
        AppContext::new(self.db.open().await, self.time.clone())
            .with_prices(Arc::new(registry(
                &self.server.uri(),
                self.time.clone(),
                false,
            )))
            .with_refresh_policy(policy(worker))
    }

    async fn step_at(&self, at: &str) -> RefreshReport {
        self.time.set(ts(at));
        self.step().await
    }

    async fn step(&self) -> RefreshReport {
        let report = refresh_due(&self.ctx, self.time.now_ts())
            .await
            .expect("step");
        assert_eq!(report.panicked, 0);
        report
    }
}

trait NowTs {
    fn now_ts(&self) -> Timestamp;
}

impl NowTs for ManualTime {
    fn now_ts(&self) -> Timestamp {
        pricetrack_app::ports::Clock::now(self)
    }
}

pub fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("symbol")
}

pub async fn add(ctx: &AppContext, symbol: &str, kind: InstrumentKind, provider: &str) {
    let currency = if symbol.ends_with(".L") {
        Currency::GBP
    } else {
        Currency::USD
    };
    let i = Instrument::new(
        sym(symbol),
        format!("{symbol} test"),
        kind,
        currency,
        None,
        ProviderName::parse(provider).expect("provider"),
        None,
    )
    .expect("instrument");
    ctx.store.create_instrument(&i).await.expect("create");
}

/// Puts symbols on a watchlist, which makes their intraday series kept current.
pub async fn watch(ctx: &AppContext, symbols: &[&str]) -> User {
    let user = match ctx.store.user_by_name("watcher").await.expect("user") {
        Some(u) => u,
        None => ctx
            .store
            .create_user("watcher", Role::User, ts("2020-01-01T00:00:00Z"))
            .await
            .expect("user"),
    };
    let list = ctx
        .store
        .create_watchlist(
            user.id,
            &format!("list {}", symbols.join(" ")),
            ts("2020-01-01T00:00:00Z"),
        )
        .await
        .expect("watchlist");
    let items: Vec<Symbol> = symbols.iter().map(|s| sym(s)).collect();
    ctx.store
        .set_watchlist_items(user.id, list.id, &items)
        .await
        .expect("items");
    user
}

fn by_series(report: &RefreshReport) -> BTreeMap<(String, Interval), &market::JobRun> {
    report
        .runs
        .iter()
        .map(|r| ((r.symbol.to_string(), r.interval), r))
        .collect()
}

fn requested(fake: &FakeYahoo) -> BTreeSet<(String, String)> {
    fake.take_requests()
        .into_iter()
        .map(|r| (r.symbol, r.interval))
        .collect()
}

fn pair(s: &str, i: &str) -> (String, String) {
    (s.to_owned(), i.to_owned())
}

pub async fn incremental_refresh_asks_only_after_the_last_stored_bar(db: TestDatabase) {
    // Tuesday, New York session in progress (13:30–20:00Z).
    let e = env(db, "2024-06-11T15:00:00Z").await;
    e.fake.list("AAPL", "2015-01-02T00:00:00Z");
    add(&e.ctx, "AAPL", InstrumentKind::Stock, "yahoo").await;
    watch(&e.ctx, &["AAPL"]).await;

    let first = e.step().await;
    assert_eq!(
        first.jobs_created, 2,
        "1d for every instrument, 5m for watched ones"
    );
    assert_eq!(first.failed, 0, "{first:?}");
    let runs = by_series(&first);
    let daily = runs[&("AAPL".to_owned(), Interval::D1)];
    let intraday = runs[&("AAPL".to_owned(), Interval::M5)];
    assert!(daily.kind == RunKind::Backfill && daily.backfill_done);
    assert_eq!(
        daily.requests, 3,
        "ten years (checked against a quote), then an empty chunk before the listing"
    );
    assert_eq!(
        intraday.requests, 3,
        "60 days of 5-minute bars in 30-day chunks, and the quote"
    );
    assert_eq!(
        e.fake.quotes(),
        ["AAPL", "AAPL"],
        "one quote per new series"
    );
    assert_eq!(
        daily.next_due_at,
        ts("2024-06-11T20:10:00Z"),
        "after the close"
    );
    assert_eq!(
        intraday.next_due_at,
        ts("2024-06-11T15:01:00Z"),
        "every minute in session"
    );
    let reqs = e.fake.take_requests();
    let oldest_5m = reqs
        .iter()
        .filter(|r| r.interval == "5m")
        .map(|r| r.period1)
        .min()
        .unwrap();
    assert_eq!(oldest_5m, secs("2024-04-12T15:00:00Z"), "60 days back");

    // A minute later only the intraday series is due; it asks from its last
    // stored bar (14:55, which may have been incomplete) on.
    let second = e.step_at("2024-06-11T15:01:00Z").await;
    assert_eq!(second.runs.len(), 1);
    let reqs = e.fake.take_requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].interval, "5m");
    assert_eq!(reqs[0].period1, secs("2024-06-11T14:55:00Z"));
    assert_eq!(reqs[0].period2, secs("2024-06-11T15:06:00Z"));
    assert_eq!(second.runs[0].kind, RunKind::Refresh);
    assert_eq!(
        second.runs[0].bars_stored, 2,
        "14:55 again and the new 15:00"
    );

    // After the close: the daily bar and the intraday completion run.
    let third = e.step_at("2024-06-11T20:10:00Z").await;
    assert_eq!(third.runs.len(), 2);
    let reqs = e.fake.take_requests();
    let d = reqs
        .iter()
        .find(|r| r.interval == "1d")
        .expect("daily request");
    // Yahoo's adapter pads daily ranges by a day; the range starts at the last
    // stored daily bar (today's, stored while it was forming).
    assert_eq!(d.period1, day_key_secs("2024-06-11") - 86_400);
    let m = reqs
        .iter()
        .find(|r| r.interval == "5m")
        .expect("5m request");
    assert_eq!(m.period1, secs("2024-06-11T15:00:00Z"));
    let runs = by_series(&third);
    assert_eq!(
        runs[&("AAPL".to_owned(), Interval::M5)].next_due_at,
        ts("2024-06-12T13:31:00Z"),
        "nothing until the next session"
    );
    assert_eq!(
        runs[&("AAPL".to_owned(), Interval::D1)].next_due_at,
        ts("2024-06-12T20:10:00Z")
    );
    let stored = e
        .ctx
        .store
        .bars(&sym("AAPL"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert_eq!(
        stored.last().unwrap().time,
        date_key("2024-06-11".parse().unwrap())
    );
}

pub async fn nothing_is_fetched_outside_the_session_except_the_completion_run(db: TestDatabase) {
    // Friday, two minutes before the New York close.
    let e = env(db, "2024-06-14T19:58:00Z").await;
    for (s, kind) in [
        ("AAPL", InstrumentKind::Stock),
        ("BTC-USD", InstrumentKind::Crypto),
        ("EURUSD=X", InstrumentKind::Fx),
    ] {
        e.fake.list(s, "2024-01-02T00:00:00Z");
        add(&e.ctx, s, kind, "yahoo").await;
    }
    watch(&e.ctx, &["AAPL", "BTC-USD", "EURUSD=X"]).await;
    let first = e.step().await;
    assert_eq!(first.runs.len(), 6);
    assert_eq!(first.failed, 0, "{first:?}");
    e.fake.take_requests();

    // The last in-session run schedules the completion run after the close.
    let r = e.step_at("2024-06-14T19:59:00Z").await;
    assert_eq!(
        by_series(&r)[&("AAPL".to_owned(), Interval::M5)].next_due_at,
        ts("2024-06-14T20:10:00Z")
    );
    e.fake.take_requests();

    // Completion run: AAPL's last 5-minute bars and its daily bar.
    e.step_at("2024-06-14T20:10:00Z").await;
    let got = requested(&e.fake);
    assert!(
        got.contains(&pair("AAPL", "5m")) && got.contains(&pair("AAPL", "1d")),
        "{got:?}"
    );
    // FX trades until 17:00 New York (21:00Z): its completion run comes later.
    e.step_at("2024-06-14T21:10:00Z").await;
    let got = requested(&e.fake);
    assert!(got.contains(&pair("EURUSD=X", "1d")), "{got:?}");
    assert!(!got.iter().any(|(s, _)| s == "AAPL"), "{got:?}");

    // Saturday: only crypto trades.
    e.step_at("2024-06-15T12:00:00Z").await;
    let got = requested(&e.fake);
    assert!(!got.is_empty());
    assert!(got.iter().all(|(s, _)| s == "BTC-USD"), "{got:?}");

    // Sunday 17:00 New York: FX opens, stocks stay closed.
    e.step_at("2024-06-16T21:01:00Z").await;
    let got = requested(&e.fake);
    assert!(got.contains(&pair("EURUSD=X", "5m")), "{got:?}");
    assert!(!got.iter().any(|(s, _)| s == "AAPL"), "{got:?}");

    // Monday before the open: still nothing for AAPL; one minute after: its 5m bars.
    e.step_at("2024-06-17T13:00:00Z").await;
    assert!(!requested(&e.fake).iter().any(|(s, _)| s == "AAPL"));
    e.step_at("2024-06-17T13:31:00Z").await;
    let got = requested(&e.fake);
    assert!(
        got.contains(&pair("AAPL", "5m")) && !got.contains(&pair("AAPL", "1d")),
        "{got:?}"
    );
}

pub async fn an_interrupted_backfill_resumes_from_its_saved_progress(db: TestDatabase) {
    let start = "2024-06-11T15:00:00Z";
    let e = env(db, start).await;
    e.fake.list("AAPL", "1990-01-02T00:00:00Z");
    add(&e.ctx, "AAPL", InstrumentKind::Stock, "yahoo").await;
    // The provider fails for anything before 2000: the third ten-year chunk.
    e.fake.fail_before(Some(ts("2000-01-01T00:00:00Z")));
    let first = e.step().await;
    assert_eq!(first.failed, 1);
    let error = first.runs[0].error.clone().unwrap();
    assert!(error.contains("500"), "{error}");
    let chunk = SignedDuration::from_hours(24 * 3650);
    let anchor = ts(start);
    let saved = anchor - chunk - chunk;
    let status = market::status::instrument_status(&e.ctx, &sym("AAPL"))
        .await
        .unwrap();
    let job = &status.series[0];
    assert_eq!(job.failures, 1);
    assert!(job.last_error.as_deref().unwrap_or("").contains("500"));
    assert_eq!(
        job.backfill,
        BackfillProgress {
            done: false,
            anchor: Some(anchor),
            cursor: Some(saved),
            floor: None,
        },
        "two chunks were saved before the failure"
    );

    // "Restart": a new process (new registry, breaker and all) on the same
    // database, after the retry time, with the provider healthy again.
    e.fake.fail_before(None);
    e.fake.take_requests();
    let ctx = e.replica("test-worker").await;
    let restarted = Env { ctx, ..e };
    restarted
        .time
        .set(ts(start) + SignedDuration::from_mins(30));
    let second = restarted.step().await;
    assert_eq!(second.failed, 0, "{second:?}");
    assert!(second.runs[0].backfill_done);
    let reqs = restarted.fake.take_requests();
    assert_eq!(reqs.len(), 3, "1994–2004, 1984–1994, then empty: {reqs:?}");
    assert_eq!(
        reqs[0].period2,
        saved.as_second() + 86_400,
        "continues at the saved cursor"
    );
    assert!(
        reqs.iter().all(|r| r.period2 <= saved.as_second() + 86_400),
        "nothing already fetched is asked again"
    );
    let oldest = restarted
        .ctx
        .store
        .bars(
            &sym("AAPL"),
            Interval::D1,
            BarRange {
                limit: Some(1),
                from: Some(ts("1900-01-01T00:00:00Z")),
                to: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(oldest[0].time, date_key("1990-01-02".parse().unwrap()));
}

pub async fn two_replicas_fetch_each_due_series_once(db: TestDatabase) {
    let e = env(db, "2024-06-11T15:00:00Z").await;
    for i in 0..20 {
        let s = format!("R{i:02}");
        e.fake.list(&s, "2020-01-02T00:00:00Z");
        add(&e.ctx, &s, InstrumentKind::Stock, "yahoo").await;
    }
    let a = e.replica("replica-a").await;
    let b = e.replica("replica-b").await;
    let now = ts("2024-06-11T15:00:00Z");
    let (ra, rb) = tokio::join!(refresh_due(&a, now), refresh_due(&b, now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let sa: BTreeSet<String> = ra.runs.iter().map(|r| r.symbol.to_string()).collect();
    let sb: BTreeSet<String> = rb.runs.iter().map(|r| r.symbol.to_string()).collect();
    assert_eq!(ra.runs.len() + rb.runs.len(), 20);
    assert!(
        sa.is_disjoint(&sb),
        "a series ran on both replicas: {sa:?} {sb:?}"
    );
    let mut per_symbol: BTreeMap<String, usize> = BTreeMap::new();
    for r in e.fake.requests() {
        *per_symbol.entry(r.symbol).or_default() += 1;
    }
    assert_eq!(per_symbol.len(), 20);
    assert!(
        per_symbol.values().all(|n| *n == 2),
        "each series fetched exactly once (one chunk and the empty one before the listing): {per_symbol:?}"
    );
    // Nothing is due any more on either replica.
    let again = refresh_due(&a, now).await.unwrap();
    assert!(again.runs.is_empty());
}

/// The AET.L rows (yfinance, newest first) as fake Yahoo bars at 07:00Z.
fn aet_rows(file: &str) -> Vec<crate::fake::RawBar> {
    let path = format!(
        "{}/../../../shared/fixtures/prices/yfinance/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    let mut out: Vec<crate::fake::RawBar> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let date = &f[0][..10];
            let n = |i: usize| f[i].parse::<f64>().expect("number");
            (
                day_key_secs(date) + 7 * 3600,
                [n(1), n(2), n(3), n(4), n(6)],
            )
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

/// Marks a series' history as filled (the state a long-running install has).
pub async fn mark_backfilled(ctx: &AppContext, key: &JobKey, now: Timestamp) {
    let worker = &ctx.refresh_policy.worker_id;
    ctx.store
        .ensure_fetch_jobs(std::slice::from_ref(key), now)
        .await
        .unwrap();
    ctx.store
        .claim_fetch_job(key, now, now + SignedDuration::from_mins(5), worker)
        .await
        .unwrap()
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
            cursor: Some(ts("2000-01-01T00:00:00Z")),
            floor: None,
        },
    };
    assert!(
        ctx.store
            .finish_fetch_job(key, worker, &record)
            .await
            .unwrap()
    );
}

pub async fn a_100x_jump_is_quarantined_then_released_or_dropped(db: TestDatabase) {
    // The AET.L file: the whole series 100× too small (0.1455 instead of 14.55)
    // except nine days in the middle.
    let e = env(db, "2022-06-07T12:00:00Z").await;
    add(&e.ctx, "AET.L", InstrumentKind::Stock, "yahoo").await;
    e.fake
        .replay("AET.L", "GBP", aet_rows("AET-L-1d-100x-error.csv"));
    // The history stored so far (April 2022) is right: 14.55.
    let history: Vec<Bar> = (0..22)
        .map(|d| date_key("2022-04-01".parse().unwrap()) + SignedDuration::from_hours(24 * d))
        .filter(|t| {
            !matches!(
                t.to_zoned(jiff::tz::TimeZone::UTC).weekday(),
                jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
            )
        })
        .map(|t| {
            Bar::new(
                sym("AET.L"),
                Interval::D1,
                t,
                Ohlcv {
                    open: 14.55,
                    high: 14.55,
                    low: 14.55,
                    close: 14.55,
                    volume: 100.0,
                },
            )
            .unwrap()
        })
        .collect();
    e.ctx.store.upsert_bars(&history).await.unwrap();
    mark_backfilled(
        &e.ctx,
        &JobKey::new(sym("AET.L"), Interval::D1),
        e.time.now_ts(),
    )
    .await;

    let report = e.step().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.quarantined, 14, "every 0.1455 bar");
    assert_eq!(report.bars_stored, 9, "the 14.55 bars");
    let page = market::quarantine::list(&e.ctx, Some(&sym("AET.L")), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.total, 14);
    assert!(
        page.items
            .iter()
            .all(|q| q.draft.reason_code == "price_jump"
                && q.draft.source == "yahoo"
                && q.draft.reason.contains("100.0×")
                && q.draft.raw.contains("0.1455"))
    );
    // Nothing implausible reached the bars.
    let stored = e
        .ctx
        .store
        .bars(&sym("AET.L"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert!(stored.iter().all(|b| (b.close - 14.55).abs() < 1e-3));

    // A human decides: release one (stored as is), drop another.
    let admin = e
        .ctx
        .store
        .create_user("boss", Role::Admin, ts("2020-01-01T00:00:00Z"))
        .await
        .unwrap();
    let someone = e
        .ctx
        .store
        .create_user("someone", Role::User, ts("2020-01-01T00:00:00Z"))
        .await
        .unwrap();
    let (keep, drop) = (&page.items[0], &page.items[1]);
    assert!(matches!(
        market::quarantine::release(&e.ctx, &someone, keep.id).await,
        Err(pricetrack_app::AppError::Forbidden)
    ));
    let released = market::quarantine::release(&e.ctx, &admin, keep.id)
        .await
        .unwrap();
    assert_eq!(Some(released.time), keep.draft.time);
    assert!((released.close - 0.1455).abs() < 1e-6);
    market::quarantine::drop_entry(&e.ctx, &admin, drop.id)
        .await
        .unwrap();
    assert!(market::quarantine::get(&e.ctx, drop.id).await.is_err());
    let after = e
        .ctx
        .store
        .bars(&sym("AET.L"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert_eq!(after.len(), stored.len() + 1);
    assert!(
        !after
            .iter()
            .any(|b| Some(b.time) == drop.draft.time && b.close < 1.0)
    );
    assert_eq!(
        market::quarantine::list(&e.ctx, None, PageRequest::default())
            .await
            .unwrap()
            .total,
        12
    );
}

pub async fn a_faulty_provider_cannot_corrupt_the_store(db: TestDatabase) {
    let e = env(db, "2024-06-11T15:00:00Z").await;
    let mut watched = Vec::new();
    for i in 0..200 {
        let s = format!("F{i:03}");
        e.fake.list(&s, "2024-01-02T00:00:00Z");
        add(&e.ctx, &s, InstrumentKind::Stock, "yahoo").await;
        if i % 4 == 0 {
            watched.push(s);
        }
    }
    let refs: Vec<&str> = watched.iter().map(String::as_str).collect();
    watch(&e.ctx, &refs).await;
    e.fake.faults(
        0x5eed_1234,
        vec![
            (0.10, Fault::TooManyRequests),
            (0.08, Fault::ServerError),
            (0.02, Fault::Timeout),
            (0.08, Fault::Garbage),
            (0.08, Fault::BadValues),
            (0.04, Fault::HundredX),
        ],
    );
    // Long leases: retries advance the fake clock while a run is in progress.
    let ctx = e.ctx.clone().with_refresh_policy(RefreshPolicy {
        lease: SignedDuration::from_hours(2),
        concurrency: 8,
        ..policy("chaos")
    });
    let e = Env { ctx, ..e };
    let mut failed = 0;
    let mut quarantined = 0;
    for _ in 0..6 {
        let report = e.step().await;
        assert_eq!(report.panicked, 0, "no task panicked");
        failed += report.failed;
        quarantined += report.quarantined;
        e.time.advance(std::time::Duration::from_secs(600));
    }
    assert!(failed > 0, "the fault mix produced failures");
    assert!(quarantined > 0, "bad values went to quarantine");

    // Every failure is in the status.
    let jobs = market::status::all_series(&e.ctx).await.unwrap();
    assert_eq!(jobs.len(), 250);
    let recorded: u64 = jobs.iter().map(|j| j.failures_total).sum();
    assert_eq!(recorded, failed, "one recorded failure per failed run");
    for j in jobs.iter().filter(|j| j.failures_total > 0) {
        assert!(j.last_error.is_some() && j.last_error_at.is_some(), "{j:?}");
    }
    assert!(jobs.iter().any(|j| j.last_success_at.is_some()));

    // Every stored bar is valid: well-formed, not in the future, and no jump
    // inside any stored series.
    let now = e.time.now_ts();
    let validator = BarValidator::default();
    let mut total = 0;
    for j in &jobs {
        let bars = e
            .ctx
            .store
            .bars(&j.symbol, j.interval, BarRange::default())
            .await
            .unwrap();
        total += bars.len();
        for b in &bars {
            Bar::new(b.symbol.clone(), b.interval, b.time, b.ohlcv()).expect("well-formed");
        }
        let verdict = validator.check_series(bars.clone(), BarContext::new(now));
        assert!(
            verdict.quarantined.is_empty(),
            "{} {}: {:?}",
            j.symbol,
            j.interval,
            verdict.quarantined.first()
        );
        // And each is the price the fake really has for it: a series stored
        // at a wrong scale from its first chunk on would pass the jump check.
        for b in &bars {
            let close = crate::fake::true_close(b.symbol.as_str(), b.interval, b.time);
            assert!(
                (b.close / close - 1.0).abs() < 1e-9,
                "{} {} {}: stored {} but the price was {close}",
                b.symbol,
                b.interval,
                b.time,
                b.close
            );
        }
    }
    assert!(total > 10_000, "most of the history arrived: {total}");
}

pub async fn manual_instruments_are_never_fetched_and_demo_ones_only_from_demo(db: TestDatabase) {
    let e = env(db, "2024-06-11T15:00:00Z").await;
    add(&e.ctx, "ROLEX-SUB-2019", InstrumentKind::Item, "manual").await;
    add(&e.ctx, "DEMO-CO", InstrumentKind::Stock, "demo").await;
    add(&e.ctx, "AAPL", InstrumentKind::Stock, "yahoo").await;
    e.fake.list("AAPL", "2024-01-02T00:00:00Z");
    watch(&e.ctx, &["ROLEX-SUB-2019", "DEMO-CO", "AAPL"]).await;
    let report = e.step().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let got: BTreeSet<String> = e.fake.requests().into_iter().map(|r| r.symbol).collect();
    assert_eq!(
        got,
        BTreeSet::from(["AAPL".to_owned()]),
        "only AAPL reached the fake Yahoo"
    );
    let rolex = market::status::instrument_status(&e.ctx, &sym("ROLEX-SUB-2019"))
        .await
        .unwrap();
    assert!(!rolex.fetched && rolex.series.is_empty());
    assert!(matches!(
        market::refresh_now(&e.ctx, &sym("ROLEX-SUB-2019")).await,
        Err(pricetrack_app::AppError::Conflict(_))
    ));
    let demo = market::status::instrument_status(&e.ctx, &sym("DEMO-CO"))
        .await
        .unwrap();
    assert!(demo.simulated);
    assert!(
        demo.series
            .iter()
            .all(|s| s.provider.as_deref() == Some("demo") && s.simulated)
    );
    let bars = e
        .ctx
        .store
        .bars(&sym("DEMO-CO"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert!(
        bars.len() > 1000,
        "simulated history since 1990: {}",
        bars.len()
    );
}

fn trade(time: &str, symbol: &str, quantity: &str, sell: bool) -> Transaction {
    let (symbol, quantity, price, fee) = (
        sym(symbol),
        Quantity::parse(quantity).expect("quantity"),
        Price::parse("100").expect("price"),
        Amount::ZERO,
    );
    let kind = if sell {
        TransactionKind::Sell {
            symbol,
            quantity,
            price,
            fee,
            tax: Amount::ZERO,
        }
    } else {
        TransactionKind::Buy {
            symbol,
            quantity,
            price,
            fee,
            tax: Amount::ZERO,
        }
    };
    Transaction::new(ts(time), Currency::USD, String::new(), kind).expect("transaction")
}

fn active_intraday(jobs: &[pricetrack_app::ports::FetchJob]) -> Vec<String> {
    jobs.iter()
        .filter(|j| j.active && j.interval == Interval::M5)
        .map(|j| j.symbol.to_string())
        .collect()
}

pub async fn intraday_series_follow_open_positions_not_past_trades(db: TestDatabase) {
    let e = env(db, "2024-06-11T15:00:00Z").await;
    for s in ["AAPL", "MSFT"] {
        e.fake.list(s, "2024-01-02T00:00:00Z");
        add(&e.ctx, s, InstrumentKind::Stock, "yahoo").await;
    }
    let owner = e
        .ctx
        .store
        .create_user("holder", Role::User, ts("2020-01-01T00:00:00Z"))
        .await
        .expect("user");
    let portfolio = pricetrack_app::portfolios::create_portfolio(
        &e.ctx,
        &owner,
        PortfolioDraft {
            name: "main".to_owned(),
            base_currency: Currency::USD,
        },
    )
    .await
    .expect("portfolio");
    pricetrack_app::portfolios::record_transactions(
        &e.ctx,
        &owner,
        portfolio.id,
        vec![
            trade("2024-03-01T15:00:00Z", "AAPL", "10", false),
            trade("2024-03-01T15:00:00Z", "MSFT", "5", false),
            trade("2024-04-01T15:00:00Z", "MSFT", "5", true),
        ],
    )
    .await
    .expect("transactions");

    market::sync_jobs(&e.ctx, e.time.now_ts())
        .await
        .expect("sync");
    let jobs = e.ctx.store.list_fetch_jobs(None).await.expect("jobs");
    assert_eq!(
        active_intraday(&jobs),
        vec!["AAPL"],
        "MSFT was sold in full: only its daily bars are kept current"
    );

    pricetrack_app::portfolios::record_transactions(
        &e.ctx,
        &owner,
        portfolio.id,
        vec![trade("2024-06-10T15:00:00Z", "AAPL", "10", true)],
    )
    .await
    .expect("sell");
    market::sync_jobs(&e.ctx, e.time.now_ts())
        .await
        .expect("sync");
    let jobs = e.ctx.store.list_fetch_jobs(None).await.expect("jobs");
    assert!(active_intraday(&jobs).is_empty(), "{jobs:?}");
    assert_eq!(
        jobs.iter()
            .filter(|j| j.active && j.interval == Interval::D1)
            .count(),
        2,
        "daily series stay wanted for every fetchable instrument"
    );

    watch(&e.ctx, &["MSFT"]).await;
    market::sync_jobs(&e.ctx, e.time.now_ts())
        .await
        .expect("sync");
    let jobs = e.ctx.store.list_fetch_jobs(None).await.expect("jobs");
    assert_eq!(
        active_intraday(&jobs),
        vec!["MSFT"],
        "a watchlist entry watches it again"
    );
}

pub async fn the_providers_first_trade_date_becomes_an_unknown_listing_date(db: TestDatabase) {
    let e = env(db, "2024-06-11T15:00:00Z").await;
    for s in ["NEWCO", "OLDCO", "PRECO"] {
        e.fake.list(s, "2020-03-02T14:30:00Z");
        add(&e.ctx, s, InstrumentKind::Stock, "yahoo").await;
    }
    // OLDCO's listing date was typed in by a user: it stays.
    let oldco = e
        .ctx
        .store
        .get_instrument(&sym("OLDCO"))
        .await
        .unwrap()
        .unwrap();
    let typed: jiff::civil::Date = "2019-06-01".parse().unwrap();
    e.ctx
        .store
        .update_instrument(&oldco.with_listing_date(Some(typed)))
        .await
        .unwrap();
    // PRECO already has a bar from before the provider's first trading day:
    // the adopted date must not make it implausible.
    let early = Bar::new(
        sym("PRECO"),
        Interval::D1,
        "2019-12-31T00:00:00Z".parse().unwrap(),
        Ohlcv {
            open: 10.0,
            high: 10.0,
            low: 10.0,
            close: 10.0,
            volume: 0.0,
        },
    )
    .unwrap();
    e.ctx.store.upsert_bars(&[early]).await.unwrap();

    let report = e.step().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let listing = |s: &'static str| {
        let ctx = e.ctx.clone();
        async move {
            ctx.store
                .get_instrument(&sym(s))
                .await
                .unwrap()
                .unwrap()
                .listing_date
                .map(|d| d.to_string())
        }
    };
    assert_eq!(listing("NEWCO").await.as_deref(), Some("2020-03-02"));
    assert_eq!(listing("OLDCO").await.as_deref(), Some("2019-06-01"));
    assert_eq!(listing("PRECO").await.as_deref(), Some("2019-12-31"));
}

/// A recorded chart's daily bars keyed by their trading date.
fn recorded_daily(file: &str) -> BTreeMap<Timestamp, [f64; 5]> {
    crate::fake::recorded_bars(file)
        .into_iter()
        .map(|(t, v)| {
            let t = Timestamp::from_second(t).expect("time");
            (date_key(t.to_zoned(jiff::tz::TimeZone::UTC).date()), v)
        })
        .collect()
}

fn daily_bar(symbol: &str, time: Timestamp, v: [f64; 5]) -> Bar {
    Bar::new(
        sym(symbol),
        Interval::D1,
        time,
        Ohlcv {
            open: v[0],
            high: v[1],
            low: v[2],
            close: v[3],
            volume: v[4],
        },
    )
    .expect("bar")
}

pub async fn a_split_reported_by_the_provider_puts_the_stored_history_on_the_new_basis(
    db: TestDatabase,
) {
    // NVDA split 4:1 on 2021-07-20. The recording (served by the fake) is
    // split-adjusted, as every Yahoo answer after the split is; the store
    // still holds what Yahoo served before it: four times higher.
    let file = "chart-1d-NVDA-1y-split-event.json";
    let e = env(db, "2021-07-20T21:00:00Z").await;
    add(&e.ctx, "NVDA", InstrumentKind::Stock, "yahoo").await;
    e.fake.record("NVDA", file);
    let recorded = recorded_daily(file);
    let split_day = date_key("2021-07-20".parse().unwrap());
    let old_basis: Vec<Bar> = recorded
        .range(..split_day)
        .map(|(t, v)| {
            daily_bar(
                "NVDA",
                *t,
                [v[0] * 4.0, v[1] * 4.0, v[2] * 4.0, v[3] * 4.0, v[4] / 4.0],
            )
        })
        .collect();
    // January is no longer in the provider's answer: only the store has it.
    let first_close = recorded.values().next().unwrap()[3];
    let january: Vec<Bar> = (25..=29)
        .map(|d| {
            let t = date_key(format!("2021-01-{d}").parse().unwrap());
            let p = first_close * 4.0;
            daily_bar("NVDA", t, [p, p, p, p, 1000.0])
        })
        .collect();
    e.ctx.store.upsert_bars(&january).await.unwrap();
    e.ctx.store.upsert_bars(&old_basis).await.unwrap();
    let key = JobKey::new(sym("NVDA"), Interval::D1);
    mark_backfilled(&e.ctx, &key, ts("2021-07-19T21:00:00Z")).await;

    let report = e.step().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(
        report.quarantined, 0,
        "the post-split bars are not held back: {report:?}"
    );
    let events = e.ctx.store.corporate_events(&sym("NVDA")).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].event,
        pricetrack_app::market_data::CorporateEvent::Split {
            date: "2021-07-20".parse().unwrap(),
            ratio: "4:1".parse().unwrap(),
        }
    );
    assert_eq!(events[0].source, "yahoo");
    // The series' backfill restarted at this step and refilled the history.
    let reqs = e.fake.take_requests();
    assert_eq!(
        reqs.len(),
        3,
        "the refresh, one ten-year chunk, then an empty one: {reqs:?}"
    );
    let status = market::status::instrument_status(&e.ctx, &sym("NVDA"))
        .await
        .unwrap();
    let job = &status.series[0];
    assert!(job.backfill.done, "{job:?}");
    assert_eq!(job.backfill.anchor, Some(ts("2021-07-20T21:00:00Z")));

    let stored = e
        .ctx
        .store
        .bars(&sym("NVDA"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert_eq!(
        stored.len(),
        january.len() + recorded.range(..=split_day).count()
    );
    for b in &stored {
        match recorded.get(&b.time) {
            // Replaced by the provider's adjusted figures, exactly.
            Some(v) => assert_eq!((b.close, b.volume), (v[3], v[4]), "{}", b.time),
            // Beyond the provider's answer: put on the new basis here.
            None => assert!((b.close / first_close - 1.0).abs() < 1e-12, "{b:?}"),
        }
    }
    let verdict = BarValidator::default().check_series(stored, BarContext::new(e.time.now_ts()));
    assert!(
        verdict.quarantined.is_empty(),
        "{:?}",
        verdict.quarantined.first()
    );

    // The following days arrive as usual.
    for day in ["2021-07-21", "2021-07-22", "2021-07-23"] {
        let r = e.step_at(&format!("{day}T21:00:00Z")).await;
        assert_eq!((r.failed, r.quarantined), (0, 0), "{r:?}");
        assert_eq!(r.runs[0].kind, RunKind::Refresh);
    }
    let last = e
        .ctx
        .store
        .bars(
            &sym("NVDA"),
            Interval::D1,
            BarRange {
                limit: Some(1),
                ..BarRange::default()
            },
        )
        .await
        .unwrap();
    let friday = date_key("2021-07-23".parse().unwrap());
    assert_eq!(last[0].time, friday);
    assert_eq!(last[0].close, recorded[&friday][3]);
    let held = market::quarantine::list(&e.ctx, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(held.total, 0, "{:?}", held.items.first());
}

pub async fn an_instruments_own_url_source_is_fetched_without_an_environment_source(
    db: TestDatabase,
) {
    use pricetrack_domain::{Extractor, NumberFormat, UrlSource};
    let e = env(db, "2024-06-14T22:00:00Z").await;
    let nav = crate::fake::FakeNav::new("2024-06-03", e.time.clone());
    let nav_server = nav.start().await;
    // The registry was built before the instrument existed, with no
    // environment sources: the instrument's own source is all it has.
    let prices = crate::fake::registry_with_url_sources(
        &e.server.uri(),
        e.time.clone(),
        false,
        BTreeMap::new(),
    );
    let ctx = e.ctx.clone().with_prices(Arc::new(prices));
    let e = Env { ctx, ..e };
    let source = UrlSource::new(
        format!("{}/nav/{{SYMBOL}}/{{DATE}}", nav_server.uri()),
        Extractor::JsonPath("$.fund.nav".to_owned()),
    )
    .with_number_format(NumberFormat::DecimalComma);
    let fund = Instrument::new(
        sym("OWN-NAV"),
        "A fund priced from its own page".into(),
        InstrumentKind::Fund,
        Currency::EUR,
        None,
        ProviderName::parse("url").unwrap(),
        None,
    )
    .unwrap()
    .with_url_source(Some(source));
    let admin = e
        .ctx
        .store
        .create_user("admin", Role::Admin, ts("2020-01-01T00:00:00Z"))
        .await
        .unwrap();
    pricetrack_app::instruments::create_instrument(&e.ctx, &admin, fund)
        .await
        .unwrap();

    let report = e.step().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.runs[0].provider.as_deref(), Some("url"));
    let stored = e
        .ctx
        .store
        .bars(&sym("OWN-NAV"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    let days: Vec<String> = stored.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(
        days,
        [
            "2024-06-03",
            "2024-06-04",
            "2024-06-05",
            "2024-06-06",
            "2024-06-07",
            "2024-06-10",
            "2024-06-11",
            "2024-06-12",
            "2024-06-13",
            "2024-06-14"
        ]
    );
    for b in &stored {
        assert!(
            (b.close - crate::fake::FakeNav::nav(b.date())).abs() < 1e-9,
            "{b:?}"
        );
    }
    assert!(
        nav.asked()
            .iter()
            .all(|(d, _)| *d <= "2024-06-14".parse().unwrap()),
        "nothing after today is asked"
    );
}

pub async fn a_url_source_with_a_date_backfills_in_spans_it_accepts(db: TestDatabase) {
    use pricetrack_providers::url_source::{Extractor, NumberFormat, UrlSource};
    // Friday after the close; the fund publishes NAVs from 2024-03-01 on.
    let e = env(db, "2024-06-14T22:00:00Z").await;
    let nav = crate::fake::FakeNav::new("2024-03-01", e.time.clone());
    let nav_server = nav.start().await;
    let source = UrlSource::new(
        format!("{}/nav/{{SYMBOL}}/{{DATE}}", nav_server.uri()),
        Extractor::JsonPath("$.fund.nav".to_owned()),
    )
    .with_number_format(NumberFormat::DecimalComma);
    let prices = crate::fake::registry_with_url_sources(
        &e.server.uri(),
        e.time.clone(),
        false,
        BTreeMap::from([(sym("NAV-FUND"), source)]),
    );
    let ctx = e.ctx.clone().with_prices(Arc::new(prices));
    let e = Env { ctx, ..e };
    add(&e.ctx, "NAV-FUND", InstrumentKind::Fund, "url").await;

    let report = e.step().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let run = &report.runs[0];
    assert!(run.backfill_done, "{run:?}");
    assert_eq!(run.provider.as_deref(), Some("url"));
    // 31-day chunks back from the anchor: four with NAVs, then an empty one
    // (every day before March answered 404) ends the walk; the first chunk
    // is checked against today's price.
    assert_eq!(run.requests, 6, "{run:?}");
    let asked = nav.asked();
    let dates: BTreeSet<_> = asked.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        dates.len() + 1,
        asked.len(),
        "no day is asked twice, but today (the quote)"
    );
    let published: BTreeSet<Timestamp> = asked
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|(_, status)| *status == 200)
        .map(|(d, _)| date_key(*d))
        .collect();
    let stored = e
        .ctx
        .store
        .bars(&sym("NAV-FUND"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    let stored_days: BTreeSet<Timestamp> = stored.iter().map(|b| b.time).collect();
    assert_eq!(stored_days, published, "every published NAV, nothing else");
    assert!(stored.len() > 60, "{}", stored.len());
    assert_eq!(stored[0].time, date_key("2024-03-01".parse().unwrap()));
    assert_eq!(
        stored.last().unwrap().time,
        date_key("2024-06-14".parse().unwrap())
    );
    for b in &stored {
        let expected = crate::fake::FakeNav::nav(b.date());
        assert!((b.close - expected).abs() < 1e-9, "{b:?}");
        assert_eq!((b.open, b.high, b.low), (b.close, b.close, b.close));
    }

    // Weeks without a refresh: the catch-up is split into requests the source
    // accepts too.
    let later = e.step_at("2024-08-01T22:00:00Z").await;
    assert_eq!(later.failed, 0, "{later:?}");
    assert_eq!(later.runs[0].kind, RunKind::Refresh);
    assert_eq!(later.runs[0].requests, 2, "{:?}", later.runs[0]);
    let last = e
        .ctx
        .store
        .bars(
            &sym("NAV-FUND"),
            Interval::D1,
            BarRange {
                limit: Some(1),
                ..BarRange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(last[0].time, date_key("2024-08-01".parse().unwrap()));
}

/// Records what a backfill reports after each chunk.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(BackfillProgress, Timestamp)>>);

impl market::BackfillObserver for Recorder {
    fn chunk_done(&self, _: &JobKey, p: &BackfillProgress, _: u64, history_start: Timestamp) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((*p, history_start));
    }
}

pub async fn backfill_progress_is_measured_from_where_the_history_begins(db: TestDatabase) {
    let e = env(db, "2024-06-11T15:00:00Z").await;
    // Yahoo says the first trading day was 2015-01-02: the walk over ten-year
    // chunks covers the way from now to then, not to 1970.
    e.fake.list("AAPL", "2015-01-02T14:30:00Z");
    add(&e.ctx, "AAPL", InstrumentKind::Stock, "yahoo").await;
    let seen = Arc::new(Recorder::default());
    let run = market::backfill(&e.ctx, &sym("AAPL"), Interval::D1, None, Some(seen.clone()))
        .await
        .unwrap();
    assert!(run.backfill_done, "{run:?}");
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let first_day = date_key("2015-01-02".parse().unwrap());
    assert!(
        seen.iter().all(|(_, start)| *start == first_day),
        "{seen:?}"
    );
    // The first chunk already reaches past the first trading day: all covered.
    let (p, start) = seen[0];
    assert!(p.cursor.unwrap() <= start);

    // A 5-minute backfill measures against its 60-day depth.
    let seen5 = Arc::new(Recorder::default());
    market::backfill(
        &e.ctx,
        &sym("AAPL"),
        Interval::M5,
        None,
        Some(seen5.clone()),
    )
    .await
    .unwrap();
    let seen5 = seen5.0.lock().unwrap().clone();
    let sixty_days = ts("2024-06-11T15:00:00Z") - SignedDuration::from_hours(24 * 60);
    assert!(
        seen5.iter().all(|(_, start)| *start == sixty_days),
        "{seen5:?}"
    );
}

pub async fn a_first_chunk_at_the_wrong_scale_is_held_back_by_the_quote(db: TestDatabase) {
    // A new series has no stored history to check its first bars against:
    // every bar the provider sends is 100× too large, but the quote is right.
    let e = env(db, "2024-06-11T15:00:00Z").await;
    e.fake.list("AAPL", "2024-01-02T00:00:00Z");
    add(&e.ctx, "AAPL", InstrumentKind::Stock, "yahoo").await;
    e.fake.faults(1, vec![(1.0, Fault::HundredX)]);
    let report = e.step().await;
    assert_eq!(report.failed, 1, "{report:?}");
    let error = report.runs[0].error.clone().unwrap_or_default();
    assert!(error.contains("× away from the quote"), "{error}");
    assert_eq!(e.ctx.store.count_bars(&sym("AAPL")).await.unwrap(), 0);
    let held = market::quarantine::list(&e.ctx, Some(&sym("AAPL")), PageRequest::default())
        .await
        .unwrap();
    assert!(held.total > 100, "the chunk is quarantined: {}", held.total);
    assert!(
        held.items
            .iter()
            .all(|q| q.draft.reason_code == "disagrees_with_quote")
    );

    // The provider recovers: the retry stores the true prices.
    e.fake.faults(1, Vec::new());
    let retry = e.step_at("2024-06-11T15:30:00Z").await;
    assert_eq!(retry.failed, 0, "{retry:?}");
    let bars = e
        .ctx
        .store
        .bars(&sym("AAPL"), Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert!(bars.len() > 100);
    for b in &bars {
        let close = crate::fake::true_close("AAPL", Interval::D1, b.time);
        assert!((b.close / close - 1.0).abs() < 1e-9, "{b:?}");
    }
}
