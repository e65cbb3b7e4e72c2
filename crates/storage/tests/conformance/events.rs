//! Conformance of the corporate-events store: dividends and splits per
//! instrument, recorded idempotently.

use super::{S, add_instrument, sym, ts};
use pricetrack_app::{market_data::CorporateEvent, ports::*};
use pricetrack_domain::SplitRatio;
use rust_decimal_macros::dec;

fn dividend(date: &str, amount: rust_decimal::Decimal) -> CorporateEvent {
    CorporateEvent::Dividend {
        date: date.parse().unwrap(),
        amount,
    }
}

fn split(date: &str, n: rust_decimal::Decimal, d: rust_decimal::Decimal) -> CorporateEvent {
    CorporateEvent::Split {
        date: date.parse().unwrap(),
        ratio: SplitRatio::new(n, d).unwrap(),
    }
}

pub async fn corporate_events_round_trip_exactly_oldest_first(store: S) {
    add_instrument(&store, "AAPL").await;
    add_instrument(&store, "MSFT").await;
    let now = ts("2020-11-07T12:00:00.123456Z");
    let events = vec![
        dividend("2020-11-06", dec!(0.205)),
        split("2020-08-31", dec!(4), dec!(1)),
        // A reverse split and a dividend on the same day: dividend first.
        split("2014-06-09", dec!(1), dec!(7)),
        dividend("2014-06-09", dec!(0.47)),
    ];
    let new = store
        .upsert_corporate_events(&sym("AAPL"), &events, "yahoo", now)
        .await
        .unwrap();
    assert_eq!(new, 4);
    store
        .upsert_corporate_events(
            &sym("MSFT"),
            &[dividend("2021-02-17", dec!(0.56))],
            "yahoo",
            now,
        )
        .await
        .unwrap();
    let got = store.corporate_events(&sym("AAPL")).await.unwrap();
    let got_events: Vec<CorporateEvent> = got.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        got_events,
        vec![
            dividend("2014-06-09", dec!(0.47)),
            split("2014-06-09", dec!(1), dec!(7)),
            split("2020-08-31", dec!(4), dec!(1)),
            dividend("2020-11-06", dec!(0.205)),
        ]
    );
    assert!(got.iter().all(|e| e.symbol == sym("AAPL")
        && e.source == "yahoo"
        && e.recorded_at == ts("2020-11-07T12:00:00.123456Z")));
    let CorporateEvent::Dividend { amount, .. } = &got[3].event else {
        panic!("dividend expected");
    };
    assert_eq!(amount.to_string(), "0.205", "exact decimal, no float noise");
    assert!(
        store
            .corporate_events(&sym("NOPE"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn recording_an_event_again_replaces_it_and_counts_only_new_ones(store: S) {
    add_instrument(&store, "MSFT").await;
    let first = ts("2021-03-01T00:00:00Z");
    let later = ts("2021-06-01T00:00:00Z");
    store
        .upsert_corporate_events(
            &sym("MSFT"),
            &[dividend("2021-02-17", dec!(0.55))],
            "stooq",
            first,
        )
        .await
        .unwrap();
    let new = store
        .upsert_corporate_events(
            &sym("MSFT"),
            &[
                dividend("2021-02-17", dec!(0.56)),
                dividend("2021-05-19", dec!(0.56)),
            ],
            "yahoo",
            later,
        )
        .await
        .unwrap();
    assert_eq!(new, 1, "only the May dividend is new");
    let got = store.corporate_events(&sym("MSFT")).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].event,
        dividend("2021-02-17", dec!(0.56)),
        "corrected amount"
    );
    assert_eq!(got[0].source, "yahoo");
    assert_eq!(got[0].recorded_at, first, "first seen is kept");
    assert_eq!(got[1].recorded_at, later);
    assert_eq!(
        store
            .upsert_corporate_events(&sym("MSFT"), &[], "yahoo", later)
            .await
            .unwrap(),
        0
    );
}

pub async fn events_for_an_unknown_symbol_write_nothing_and_go_with_the_instrument(store: S) {
    let err = store
        .upsert_corporate_events(
            &sym("NOPE"),
            &[split("2020-08-31", dec!(4), dec!(1))],
            "yahoo",
            ts("2021-01-01T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownInstrument(s) if s == sym("NOPE")));
    add_instrument(&store, "NVDA").await;
    store
        .upsert_corporate_events(
            &sym("NVDA"),
            &[split("2021-07-20", dec!(4), dec!(1))],
            "yahoo",
            ts("2021-08-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.delete_instrument(&sym("NVDA")).await.unwrap(),
        DeleteOutcome::Deleted
    );
    add_instrument(&store, "NVDA").await;
    assert!(
        store
            .corporate_events(&sym("NVDA"))
            .await
            .unwrap()
            .is_empty(),
        "a re-created symbol starts without the old one's events"
    );
}
