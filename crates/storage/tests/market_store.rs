//! Conformance of the market-data stores (fetch jobs, quarantine) on every
//! backend: each case runs against SQLite and PostgreSQL with a fresh database.

#[path = "conformance/mod.rs"]
#[allow(unused_imports)]
mod conformance;

use conformance::{S, add_instrument, sym, ts, user};
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::ports::*;
use pricetrack_domain::{Interval, Ohlcv};
use std::collections::BTreeSet;

macro_rules! market_store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = pricetrack_storage::testing::fresh_sqlite().await;
                    crate::$name(db.open().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = pricetrack_storage::testing::fresh_postgres().await else {
                        return;
                    };
                    crate::$name(db.open().await).await;
                }
            )*
        }
    };
}

market_store_tests!(
    fetch_jobs_are_created_once_listed_and_deactivated,
    due_jobs_are_claimed_once_until_their_lease_expires,
    finishing_records_success_or_failure_and_releases_the_claim,
    only_the_claimer_saves_backfill_progress_or_finishes,
    claiming_one_job_respects_another_workers_lease,
    concurrent_claims_never_hand_out_a_job_twice,
    watchlisted_symbols_are_those_on_any_watchlist,
    quarantine_round_trips_newest_first_filtered_and_paged,
    the_same_bad_bar_from_the_same_source_replaces_its_entry,
    quarantining_for_an_unknown_symbol_writes_nothing,
    deleting_an_instrument_removes_its_jobs_and_quarantine,
);

const WORKER: &str = "worker-a";

fn key(s: &str, interval: Interval) -> JobKey {
    JobKey::new(sym(s), interval)
}

fn at(s: &str) -> Timestamp {
    ts(s)
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

async fn jobs_for(store: &S, s: &str) -> Vec<FetchJob> {
    store.list_fetch_jobs(Some(&sym(s))).await.unwrap()
}

pub async fn fetch_jobs_are_created_once_listed_and_deactivated(store: S) {
    add_instrument(&store, "AAPL").await;
    add_instrument(&store, "MSFT").await;
    let now = at("2024-06-11T15:00:00Z");
    let keys = [
        key("AAPL", Interval::D1),
        key("AAPL", Interval::M5),
        key("MSFT", Interval::D1),
        key("NOPE", Interval::D1),
    ];
    assert_eq!(
        store.ensure_fetch_jobs(&keys, now).await.unwrap(),
        3,
        "unknown symbols are skipped"
    );
    assert_eq!(
        store.ensure_fetch_jobs(&keys, now).await.unwrap(),
        0,
        "idempotent"
    );
    let all = store.list_fetch_jobs(None).await.unwrap();
    let listed: Vec<(String, Interval)> = all
        .iter()
        .map(|j| (j.symbol.to_string(), j.interval))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("AAPL".to_owned(), Interval::M5),
            ("AAPL".to_owned(), Interval::D1),
            ("MSFT".to_owned(), Interval::D1),
        ]
    );
    let j = &all[0];
    assert!(j.active);
    assert_eq!(j.next_due_at, now);
    assert_eq!(j.failures, 0);
    assert_eq!(j.backfill, BackfillProgress::default());
    assert!(j.claimed_by.is_none() && j.last_success_at.is_none() && j.provider.is_none());

    assert_eq!(
        store
            .deactivate_fetch_jobs(&[key("AAPL", Interval::M5)])
            .await
            .unwrap(),
        1
    );
    let aapl = jobs_for(&store, "AAPL").await;
    assert!(!aapl[0].active && aapl[1].active);
    // Inactive jobs are never claimed as due.
    let claimed = store
        .claim_due_fetch_jobs(now, now + mins(5), WORKER, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|c| c.job.interval == Interval::D1));
    // Ensuring again re-activates.
    assert_eq!(
        store
            .ensure_fetch_jobs(&[key("AAPL", Interval::M5)], now)
            .await
            .unwrap(),
        0
    );
    assert!(jobs_for(&store, "AAPL").await[0].active);
}

pub async fn due_jobs_are_claimed_once_until_their_lease_expires(store: S) {
    for s in ["A", "B", "C"] {
        add_instrument(&store, s).await;
    }
    let now = at("2024-06-11T15:00:00Z");
    store
        .ensure_fetch_jobs(&[key("A", Interval::D1), key("B", Interval::D1)], now)
        .await
        .unwrap();
    store
        .ensure_fetch_jobs(&[key("C", Interval::D1)], now + mins(10))
        .await
        .unwrap();
    let first = store
        .claim_due_fetch_jobs(now, now + mins(5), WORKER, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].instrument.symbol,
        sym("A"),
        "earliest due, then by instrument"
    );
    assert_eq!(first[0].instrument.name, "A Inc.");
    assert_eq!(first[0].job.claimed_by.as_deref(), Some(WORKER));
    assert_eq!(first[0].job.claimed_until, Some(now + mins(5)));
    let rest = store
        .claim_due_fetch_jobs(now, now + mins(5), "worker-b", 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "A is held, C is not due yet");
    assert_eq!(rest[0].job.symbol, sym("B"));
    assert!(
        store
            .claim_due_fetch_jobs(now, now + mins(5), "worker-b", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // After the lease expires the claim can be taken over (the holder died).
    let later = now + mins(6);
    let taken = store
        .claim_due_fetch_jobs(later, later + mins(5), "worker-b", 10)
        .await
        .unwrap();
    let symbols: BTreeSet<String> = taken.iter().map(|c| c.job.symbol.to_string()).collect();
    assert_eq!(symbols, BTreeSet::from(["A".into(), "B".into()]));
}

pub async fn finishing_records_success_or_failure_and_releases_the_claim(store: S) {
    add_instrument(&store, "AAPL").await;
    let now = at("2024-06-11T15:00:00Z");
    let k = key("AAPL", Interval::D1);
    store
        .ensure_fetch_jobs(std::slice::from_ref(&k), now)
        .await
        .unwrap();
    store
        .claim_due_fetch_jobs(now, now + mins(5), WORKER, 1)
        .await
        .unwrap();
    let progress = BackfillProgress {
        done: true,
        anchor: Some(now),
        cursor: Some(at("1980-12-12T00:00:00Z")),
        floor: None,
    };
    let failed = FetchRunRecord {
        at: now,
        next_due_at: now + mins(1),
        result: FetchRunResult::Failure {
            error: "yahoo: rate limited: HTTP 429".into(),
        },
        backfill: progress,
    };
    assert!(store.finish_fetch_job(&k, WORKER, &failed).await.unwrap());
    let j = &jobs_for(&store, "AAPL").await[0];
    assert_eq!(j.failures, 1);
    assert_eq!(j.failures_total, 1);
    assert_eq!(
        j.last_error.as_deref(),
        Some("yahoo: rate limited: HTTP 429")
    );
    assert_eq!(j.last_error_at, Some(now));
    assert_eq!(j.last_attempt_at, Some(now));
    assert_eq!(j.next_due_at, now + mins(1));
    assert_eq!(j.backfill, progress);
    assert!(
        j.claimed_by.is_none() && j.claimed_until.is_none(),
        "released"
    );
    assert!(
        !store.finish_fetch_job(&k, WORKER, &failed).await.unwrap(),
        "not claimed any more"
    );

    let later = now + mins(1);
    store
        .claim_due_fetch_jobs(later, later + mins(5), WORKER, 1)
        .await
        .unwrap();
    let ok = FetchRunRecord {
        at: later,
        next_due_at: at("2024-06-11T20:10:00Z"),
        result: FetchRunResult::Success {
            provider: Some("yahoo".into()),
            simulated: false,
        },
        backfill: progress,
    };
    assert!(store.finish_fetch_job(&k, WORKER, &ok).await.unwrap());
    let j = &jobs_for(&store, "AAPL").await[0];
    assert_eq!(j.failures, 0, "reset by a success");
    assert_eq!(j.failures_total, 1, "the total is kept");
    assert_eq!(j.last_success_at, Some(later));
    assert_eq!(
        j.last_error.as_deref(),
        Some("yahoo: rate limited: HTTP 429"),
        "kept for the record"
    );
    assert_eq!(j.provider.as_deref(), Some("yahoo"));
    assert_eq!(j.next_due_at, at("2024-06-11T20:10:00Z"));

    // A run that needed no request keeps the last provider.
    let t = at("2024-06-11T20:10:00Z");
    store
        .claim_due_fetch_jobs(t, t + mins(5), WORKER, 1)
        .await
        .unwrap();
    let quiet = FetchRunRecord {
        at: t,
        next_due_at: t + mins(60),
        result: FetchRunResult::Success {
            provider: None,
            simulated: false,
        },
        backfill: progress,
    };
    assert!(store.finish_fetch_job(&k, WORKER, &quiet).await.unwrap());
    assert_eq!(
        jobs_for(&store, "AAPL").await[0].provider.as_deref(),
        Some("yahoo")
    );
}

pub async fn only_the_claimer_saves_backfill_progress_or_finishes(store: S) {
    add_instrument(&store, "AAPL").await;
    let now = at("2024-06-11T15:00:00Z");
    let k = key("AAPL", Interval::M5);
    store
        .ensure_fetch_jobs(std::slice::from_ref(&k), now)
        .await
        .unwrap();
    let p = BackfillProgress {
        done: false,
        anchor: Some(now),
        cursor: Some(now - mins(60 * 24 * 30)),
        floor: Some(now - mins(60 * 24 * 60)),
    };
    assert!(
        !store
            .save_backfill_progress(&k, WORKER, &p, now + mins(5))
            .await
            .unwrap()
    );
    store
        .claim_due_fetch_jobs(now, now + mins(5), WORKER, 1)
        .await
        .unwrap();
    assert!(
        !store
            .save_backfill_progress(&k, "intruder", &p, now + mins(5))
            .await
            .unwrap()
    );
    assert!(
        store
            .save_backfill_progress(&k, WORKER, &p, now + mins(9))
            .await
            .unwrap()
    );
    let j = &jobs_for(&store, "AAPL").await[0];
    assert_eq!(j.backfill, p);
    assert_eq!(
        j.claimed_until,
        Some(now + mins(9)),
        "saving progress extends the lease"
    );
    assert_eq!(j.claimed_by.as_deref(), Some(WORKER));
}

pub async fn claiming_one_job_respects_another_workers_lease(store: S) {
    add_instrument(&store, "AAPL").await;
    let now = at("2024-06-15T15:00:00Z");
    let k = key("AAPL", Interval::D1);
    assert!(
        store
            .claim_fetch_job(&k, now, now + mins(5), WORKER)
            .await
            .unwrap()
            .is_none(),
        "no such job yet"
    );
    // Not due for a week: refresh-now claims it anyway.
    store
        .ensure_fetch_jobs(std::slice::from_ref(&k), now + mins(60 * 24 * 7))
        .await
        .unwrap();
    let c = store
        .claim_fetch_job(&k, now, now + mins(5), WORKER)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(c.instrument.symbol, sym("AAPL"));
    assert!(
        store
            .claim_fetch_job(&k, now, now + mins(5), "worker-b")
            .await
            .unwrap()
            .is_none(),
        "held by worker-a"
    );
    assert!(
        store
            .claim_fetch_job(&k, now + mins(6), now + mins(11), "worker-b")
            .await
            .unwrap()
            .is_some(),
        "lease expired"
    );
}

pub async fn concurrent_claims_never_hand_out_a_job_twice(store: S) {
    let now = at("2024-06-11T15:00:00Z");
    let mut keys = Vec::new();
    for i in 0..40 {
        let s = format!("S{i:02}");
        add_instrument(&store, &s).await;
        keys.push(key(&s, Interval::D1));
    }
    store.ensure_fetch_jobs(&keys, now).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut got = Vec::new();
            loop {
                let c = store
                    .claim_due_fetch_jobs(now, now + mins(5), &worker, 3)
                    .await
                    .unwrap();
                if c.is_empty() {
                    break;
                }
                got.extend(c.into_iter().map(|c| c.job.key()));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: BTreeSet<JobKey> = all.iter().cloned().collect();
    assert_eq!(all.len(), 40, "every job claimed exactly once: {all:?}");
    assert_eq!(distinct.len(), 40);
}

pub async fn watchlisted_symbols_are_those_on_any_watchlist(store: S) {
    for s in ["AAPL", "BTC-USD", "MSFT", "ZZZ"] {
        add_instrument(&store, s).await;
    }
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let tech = store
        .create_watchlist(alice.id, "tech", at("2024-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .set_watchlist_items(alice.id, tech.id, &[sym("MSFT"), sym("AAPL")])
        .await
        .unwrap();
    let coins = store
        .create_watchlist(bob.id, "coins", at("2024-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .set_watchlist_items(bob.id, coins.id, &[sym("BTC-USD"), sym("AAPL")])
        .await
        .unwrap();
    let watched: Vec<String> = store
        .watchlisted_symbols()
        .await
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(watched, vec!["AAPL", "BTC-USD", "MSFT"]);
}

fn draft(s: &str, time: Option<&str>, close: f64, source: &str) -> QuarantineDraft {
    QuarantineDraft {
        symbol: sym(s),
        interval: Interval::D1,
        time: time.map(ts),
        values: Some(Ohlcv {
            open: close,
            high: close,
            low: close,
            close,
            volume: 10.0,
        }),
        raw: format!("{{\"close\":{close}}}"),
        source: source.to_owned(),
        reason_code: "price_jump".to_owned(),
        reason: format!("close {close} is 100.0× away from the previous close"),
    }
}

pub async fn quarantine_round_trips_newest_first_filtered_and_paged(store: S) {
    add_instrument(&store, "AET.L").await;
    add_instrument(&store, "AAPL").await;
    let now = at("2024-06-11T15:00:00Z");
    let mut raw_only = draft("AAPL", None, 1.0, "yahoo");
    raw_only.values = None;
    raw_only.reason_code = "invalid".into();
    raw_only.raw = "1718000000,abc,,,".into();
    let drafts = vec![
        draft("AET.L", Some("2022-05-06T00:00:00Z"), 0.1455, "import"),
        draft("AET.L", Some("2022-05-09T00:00:00Z"), 0.1460, "import"),
        raw_only.clone(),
    ];
    let ids = store.add_quarantined(&drafts, now).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] < ids[1] && ids[1] < ids[2]);
    let one = store
        .get_quarantined(ids[0])
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(one.draft, drafts[0]);
    assert_eq!(one.created_at, now);
    assert_eq!(
        store.get_quarantined(ids[2]).await.unwrap().unwrap().draft,
        raw_only
    );
    assert!(store.get_quarantined(ids[2] + 100).await.unwrap().is_none());

    let all = store
        .list_quarantined(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    let order: Vec<i64> = all.items.iter().map(|q| q.id).collect();
    assert_eq!(order, vec![ids[2], ids[1], ids[0]], "newest first");
    let aet = store
        .list_quarantined(Some(&sym("AET.L")), PageRequest::new(Some(1), Some(1)))
        .await
        .unwrap();
    assert_eq!(aet.total, 2);
    assert_eq!(aet.items.len(), 1);
    assert_eq!(aet.items[0].id, ids[0]);

    assert!(store.delete_quarantined(ids[0]).await.unwrap());
    assert!(!store.delete_quarantined(ids[0]).await.unwrap());
    assert_eq!(
        store
            .list_quarantined(None, PageRequest::default())
            .await
            .unwrap()
            .total,
        2
    );
}

pub async fn the_same_bad_bar_from_the_same_source_replaces_its_entry(store: S) {
    add_instrument(&store, "AET.L").await;
    let now = at("2024-06-11T15:00:00Z");
    let first = store
        .add_quarantined(
            &[draft(
                "AET.L",
                Some("2022-05-06T00:00:00Z"),
                0.1455,
                "yahoo",
            )],
            now,
        )
        .await
        .unwrap();
    let again = store
        .add_quarantined(
            &[draft(
                "AET.L",
                Some("2022-05-06T00:00:00Z"),
                0.1456,
                "yahoo",
            )],
            now + mins(1),
        )
        .await
        .unwrap();
    assert_eq!(first, again, "same id");
    let q = store.get_quarantined(first[0]).await.unwrap().unwrap();
    assert_eq!(q.draft.values.unwrap().close, 0.1456, "latest values");
    assert_eq!(q.created_at, now + mins(1));
    // Another source is another entry.
    let other = store
        .add_quarantined(
            &[draft("AET.L", Some("2022-05-06T00:00:00Z"), 0.1455, "api")],
            now,
        )
        .await
        .unwrap();
    assert_ne!(other, first);
    assert_eq!(
        store
            .list_quarantined(None, PageRequest::default())
            .await
            .unwrap()
            .total,
        2
    );
}

pub async fn quarantining_for_an_unknown_symbol_writes_nothing(store: S) {
    add_instrument(&store, "AAPL").await;
    let err = store
        .add_quarantined(
            &[
                draft("AAPL", Some("2022-05-06T00:00:00Z"), 1.0, "api"),
                draft("NOPE", Some("2022-05-06T00:00:00Z"), 1.0, "api"),
            ],
            at("2024-06-11T15:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownInstrument(ref s) if s.as_str() == "NOPE"),
        "{err}"
    );
    assert_eq!(
        store
            .list_quarantined(None, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}

pub async fn deleting_an_instrument_removes_its_jobs_and_quarantine(store: S) {
    add_instrument(&store, "AAPL").await;
    let now = at("2024-06-11T15:00:00Z");
    store
        .ensure_fetch_jobs(&[key("AAPL", Interval::D1)], now)
        .await
        .unwrap();
    store
        .add_quarantined(
            &[draft("AAPL", Some("2022-05-06T00:00:00Z"), 1.0, "api")],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        store.delete_instrument(&sym("AAPL")).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert!(store.list_fetch_jobs(None).await.unwrap().is_empty());
    assert_eq!(
        store
            .list_quarantined(None, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}
