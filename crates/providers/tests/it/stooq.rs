use crate::common::*;
use pricetrack_app::market_data::{ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::stooq::StooqProvider;
use wiremock::MockServer;

fn stooq(server: &MockServer, now: &str) -> StooqProvider {
    StooqProvider::new(adapter(&server.uri(), now)).unwrap()
}

fn spy() -> pricetrack_domain::Instrument {
    instrument("SPY", InstrumentKind::Etf, Currency::USD, "stooq")
}

#[tokio::test]
async fn daily_history_csv_parses_two_thousand_rows_oldest_first() {
    let server = serve_fixture(200, "stooq/q-d-l-daily-SPY.US.csv").await;
    let got = stooq(&server, "2026-02-10T12:00:00Z")
        .fetch_bars(&spy(), Interval::D1, day("2018-01-01"), day("2026-02-10"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 2000);
    assert!(got.rejected.is_empty());
    assert_eq!(got.bars[0].time, day("2018-02-26"));
    assert_eq!(got.bars[0].close, 247.373);
    assert_eq!(got.bars.last().unwrap().time, day("2026-02-09"));
    assert!(got.bars.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(got.incomplete, None, "the session of 2026-02-09 is over");
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "s").as_deref(), Some("spy.us"));
    assert_eq!(param(&q, "i").as_deref(), Some("d"));
    assert_eq!(param(&q, "d1").as_deref(), Some("20180101"));
    assert_eq!(param(&q, "d2").as_deref(), Some("20260209"));
}

#[tokio::test]
async fn the_unfinished_current_day_is_flagged_incomplete() {
    let server = serve_fixture(200, "stooq/q-d-l-daily-SPY.US.csv").await;
    // 2026-02-09 18:00Z is 13:00 in New York, mid-session.
    let got = stooq(&server, "2026-02-09T18:00:00Z")
        .fetch_bars(&spy(), Interval::D1, day("2026-01-01"), day("2026-02-10"))
        .await
        .unwrap();
    assert_eq!(got.incomplete, Some(day("2026-02-09")));
    assert_eq!(got.complete_bars().last().unwrap().time, day("2026-02-06"));
}

#[tokio::test]
async fn no_data_text_means_try_the_next_provider() {
    let server = serve_fixture(200, "stooq/error-no-data.txt").await;
    let e = stooq(&server, "2026-02-10T12:00:00Z")
        .fetch_bars(&spy(), Interval::D1, day("2026-01-01"), day("2026-02-10"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::NoData, ErrorClass::TryNext)
    );
}

#[tokio::test]
async fn the_daily_hits_limit_text_is_retry_later_not_csv() {
    let server = serve_fixture(200, "stooq/error-daily-hits-limit.txt").await;
    let s = stooq(&server, "2026-02-10T12:00:00Z");
    let e = s
        .fetch_bars(&spy(), Interval::D1, day("2026-01-01"), day("2026-02-10"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::QuotaExhausted);
    assert!(e.is_retry_later());
    let e = s.fetch_quote(&spy()).await.unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::QuotaExhausted);
}

#[tokio::test]
async fn the_quote_csv_with_crlf_and_polish_time_parses() {
    let server = serve_fixture(200, "stooq/q-l-quote-NVR.US-with-name-crlf.csv").await;
    let nvr = instrument("NVR", InstrumentKind::Stock, Currency::USD, "stooq");
    let q = stooq(&server, "2022-01-01T00:00:00Z")
        .fetch_quote(&nvr)
        .await
        .unwrap();
    assert_eq!(q.price, 5908.87);
    // 22:00:37 in Warsaw (CET) is 21:00:37 UTC.
    assert_eq!(q.time, ts("2021-12-31T21:00:37Z"));
    assert_eq!(q.provider, "stooq");
    let query = query_of(&server, 0).await;
    assert_eq!(param(&query, "s").as_deref(), Some("nvr.us"));
    assert_eq!(param(&query, "f").as_deref(), Some("sd2t2ohlcvn"));
    assert_eq!(param(&query, "e").as_deref(), Some("csv"));
}

#[tokio::test]
async fn an_nd_quote_row_is_no_data_not_a_price() {
    let server = serve_fixture(200, "stooq/q-l-quote-unknown-symbol-ND.csv").await;
    let appl = instrument("APPL", InstrumentKind::Stock, Currency::USD, "stooq");
    let e = stooq(&server, "2022-01-01T00:00:00Z")
        .fetch_quote(&appl)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::NoData, ErrorClass::TryNext)
    );
    assert!(e.message.contains("N/D"));
}

#[tokio::test]
async fn rows_that_are_not_bars_are_rejected_with_their_text() {
    let body = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,12,9,11,100\n2024-01-03,N/D,N/D,N/D,N/D,N/D\n2024-01-04,10,9,11,10,5\n";
    let server = serve(200, body).await;
    let got = stooq(&server, "2024-02-01T00:00:00Z")
        .fetch_bars(&spy(), Interval::D1, day("2024-01-01"), day("2024-02-01"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 1);
    assert_eq!(got.rejected.len(), 2);
    assert!(got.rejected[0].raw.contains("N/D"));
    assert!(
        got.rejected[1].reason.contains("below low"),
        "{:?}",
        got.rejected[1]
    );
}

#[tokio::test]
async fn fx_history_without_a_volume_column_parses() {
    let body = "Date,Open,High,Low,Close\n2024-01-02,1.10,1.11,1.09,1.095\n";
    let server = serve(200, body).await;
    let eur = instrument("EURUSD=X", InstrumentKind::Fx, Currency::USD, "stooq");
    let got = stooq(&server, "2024-02-01T00:00:00Z")
        .fetch_bars(&eur, Interval::D1, day("2024-01-01"), day("2024-02-01"))
        .await
        .unwrap();
    assert_eq!(got.bars[0].volume, 0.0);
    assert_eq!(
        param(&query_of(&server, 0).await, "s").as_deref(),
        Some("eurusd")
    );
}

#[tokio::test]
async fn london_prices_in_pence_become_pounds() {
    let body = "Date,Open,High,Low,Close,Volume\n2024-01-02,1259.5,1286.5,1258,1259.5,100\n";
    let server = serve(200, body).await;
    let ocdo = instrument("OCDO.L", InstrumentKind::Stock, Currency::GBP, "stooq");
    let got = stooq(&server, "2024-02-01T00:00:00Z")
        .fetch_bars(&ocdo, Interval::D1, day("2024-01-01"), day("2024-02-01"))
        .await
        .unwrap();
    assert_eq!(got.bars[0].close, 12.595);
}

#[tokio::test]
async fn intraday_is_unsupported_and_asks_nothing() {
    let server = serve(200, "").await;
    let e = stooq(&server, "2024-02-01T00:00:00Z")
        .fetch_bars(&spy(), Interval::M5, day("2024-01-01"), day("2024-01-02"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Unsupported, ErrorClass::TryNext)
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
