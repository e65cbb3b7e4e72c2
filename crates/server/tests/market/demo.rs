//! `pricetrack serve --demo`: what seeding an empty database creates, that a
//! second start seeds nothing, and that the refresh step keeps producing
//! simulated bars as the (fake) clock moves — with no network.

use crate::refresh::{env, sym};
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::{
    market::{self, refresh_due},
    ports::{BarRange, InstrumentQuery, Role},
};
use pricetrack_domain::{InstrumentKind, Interval};
use pricetrack_server::demo::seed_if_empty;
use pricetrack_storage::testing::TestDatabase;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("time")
}

pub async fn the_demo_seeds_an_empty_database_once_and_keeps_it_living(db: TestDatabase) {
    // A Wednesday during the New York session.
    let start = ts("2024-06-12T15:00:00Z");
    let e = env(db, "2024-06-12T15:00:00Z").await;
    let admin = e
        .ctx
        .store
        .create_user("admin", Role::Admin, start)
        .await
        .unwrap();
    let seeded = seed_if_empty(&e.ctx, &admin)
        .await
        .unwrap()
        .expect("an empty database is seeded");
    assert_eq!(seeded.instruments, 12);
    assert!(seeded.bars > 0);

    let all = e
        .ctx
        .store
        .list_instruments(&InstrumentQuery::default())
        .await
        .unwrap();
    assert_eq!(all.total, 12);
    let kinds: std::collections::BTreeSet<InstrumentKind> =
        all.items.iter().map(|i| i.kind).collect();
    assert!(
        kinds.len() >= 8,
        "a dozen instruments across kinds: {kinds:?}"
    );
    let (hand_priced, simulated): (Vec<_>, Vec<_>) = all
        .items
        .iter()
        .partition(|i| i.provider.as_str() == "manual");
    assert_eq!(hand_priced.len(), 1);
    assert_eq!(simulated.len(), 11);
    let year_ago = start - SignedDuration::from_hours(24 * 367);
    let week_ago = start - SignedDuration::from_hours(24 * 8);
    for i in &simulated {
        assert_eq!(i.provider.as_str(), "demo", "{}", i.symbol);
        assert!(i.name.contains("(simulated)"), "labelled: {}", i.name);
        let status = market::status::instrument_status(&e.ctx, &i.symbol)
            .await
            .unwrap();
        assert!(status.simulated, "{}", i.symbol);
        assert!(
            status
                .series
                .iter()
                .all(|s| s.simulated && s.provider.as_deref() == Some("demo")),
            "{:?}",
            status.series
        );
        let daily = e
            .ctx
            .store
            .bars(&i.symbol, Interval::D1, BarRange::default())
            .await
            .unwrap();
        assert!(
            (240..=370).contains(&daily.len()),
            "about a year of daily bars for {}: {}",
            i.symbol,
            daily.len()
        );
        assert!(daily[0].time >= year_ago, "{}: {}", i.symbol, daily[0].time);
        let recent = e
            .ctx
            .store
            .bars(&i.symbol, Interval::M5, BarRange::default())
            .await
            .unwrap();
        assert!(!recent.is_empty(), "recent 5-minute bars for {}", i.symbol);
        assert!(recent.iter().all(|b| b.time >= week_ago && b.time <= start));
    }
    let watch = e
        .ctx
        .store
        .bars(&hand_priced[0].symbol, Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert_eq!(watch.len(), 12, "monthly hand-entered prices for the watch");

    let portfolios = e.ctx.store.list_portfolios(admin.id).await.unwrap();
    assert_eq!(portfolios.len(), 1);
    let ledger = e.ctx.store.ledger(portfolios[0].id).await.unwrap();
    assert!(ledger.len() >= 5, "{ledger:?}");
    let lists = e.ctx.store.list_watchlists(admin.id).await.unwrap();
    assert_eq!(lists.len(), 1);
    assert!(lists[0].symbols.contains(&sym("BTC-USD")));

    // A restart finds instruments and seeds nothing.
    let bars_before = e.ctx.store.count_bars(&sym("AAPL")).await.unwrap();
    assert!(seed_if_empty(&e.ctx, &admin).await.unwrap().is_none());
    let again = e
        .ctx
        .store
        .list_instruments(&InstrumentQuery::default())
        .await
        .unwrap();
    assert_eq!(again.total, 12);
    assert_eq!(
        e.ctx.store.count_bars(&sym("AAPL")).await.unwrap(),
        bars_before
    );

    // An hour later the refresh step produces new simulated bars.
    let newest = |s: &'static str, interval| {
        let ctx = e.ctx.clone();
        async move {
            ctx.store
                .bars(
                    &sym(s),
                    interval,
                    BarRange {
                        limit: Some(1),
                        ..BarRange::default()
                    },
                )
                .await
                .unwrap()
                .pop()
                .map(|b| b.time)
        }
    };
    let aapl_before = newest("AAPL", Interval::M5).await.expect("bars");
    let btc_before = newest("BTC-USD", Interval::M5).await.expect("bars");
    let later = ts("2024-06-12T16:00:00Z");
    e.time.set(later);
    let report = refresh_due(&e.ctx, later).await.unwrap();
    assert_eq!((report.failed, report.panicked), (0, 0), "{report:?}");
    assert!(report.bars_stored > 0, "{report:?}");
    assert!(
        report
            .runs
            .iter()
            .all(|r| r.simulated && r.provider.as_deref() == Some("demo")),
        "{report:?}"
    );
    assert!(newest("AAPL", Interval::M5).await.unwrap() > aapl_before);
    assert!(newest("BTC-USD", Interval::M5).await.unwrap() > btc_before);
    assert!(
        e.fake.requests().is_empty(),
        "no request left the process: {:?}",
        e.fake.requests()
    );
}
