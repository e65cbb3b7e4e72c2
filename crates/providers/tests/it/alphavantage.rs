use crate::common::*;
use pricetrack_app::market_data::{CorporateEvent, ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::{Provider, alphavantage::AlphaVantageProvider};
use std::time::Duration;
use wiremock::MockServer;

const KEY: &str = "SECRETKEY123";

fn av(server: &MockServer, now: &str) -> AlphaVantageProvider {
    AlphaVantageProvider::new(adapter(&server.uri(), now).with_api_key(KEY)).unwrap()
}

fn ibm() -> pricetrack_domain::Instrument {
    instrument("IBM", InstrumentKind::Stock, Currency::USD, "alphavantage")
}

async fn served(file: &str, now: &str) -> (MockServer, AlphaVantageProvider) {
    let server = serve_fixture(200, &format!("alphavantage/{file}")).await;
    let p = av(&server, now);
    (server, p)
}

#[tokio::test]
async fn without_a_key_it_is_skipped_and_asks_nothing() {
    let server = serve(200, "{}").await;
    let p = AlphaVantageProvider::new(adapter(&server.uri(), "2020-01-01T00:00:00Z")).unwrap();
    assert!(!p.is_configured());
    let e = p.fetch_quote(&ibm()).await.unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::NotConfigured, ErrorClass::TryNext)
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn global_quote_strings_become_numbers() {
    let (server, p) = served("GLOBAL_QUOTE-MSFT.json", "2018-10-08T12:00:00Z").await;
    let msft = instrument("MSFT", InstrumentKind::Stock, Currency::USD, "alphavantage");
    let q = p.fetch_quote(&msft).await.unwrap();
    assert_eq!(q.price, 112.13);
    assert_eq!(q.previous_close, Some(112.79));
    assert_eq!(q.time, ts("2018-10-05T20:00:00Z"), "as of that day's close");
    let query = query_of(&server, 0).await;
    assert_eq!(param(&query, "function").as_deref(), Some("GLOBAL_QUOTE"));
    assert_eq!(param(&query, "apikey").as_deref(), Some(KEY));
}

#[tokio::test]
async fn a_global_quote_during_the_session_is_timed_now() {
    let (_s, p) = served("GLOBAL_QUOTE-IBM.json", "2020-05-08T18:00:00Z").await;
    let q = p.fetch_quote(&ibm()).await.unwrap();
    assert_eq!((q.price, q.time), (121.74, ts("2020-05-08T18:00:00Z")));
}

#[tokio::test]
async fn daily_series_is_sorted_ascending_and_the_mid_session_day_is_incomplete() {
    let (server, p) = served("TIME_SERIES_DAILY-IBM.json", "2020-05-08T18:10:00Z").await;
    let got = p
        .fetch_bars(&ibm(), Interval::D1, day("2020-05-01"), day("2020-05-09"))
        .await
        .unwrap();
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(days, ["2020-05-07", "2020-05-08"]);
    assert_eq!(got.bars[1].close, 121.79);
    assert_eq!(got.bars[0].volume, 4412047.0);
    assert_eq!(
        got.incomplete,
        Some(day("2020-05-08")),
        "refreshed 14:07 ET, before the close"
    );
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "function").as_deref(), Some("TIME_SERIES_DAILY"));
    assert_eq!(param(&q, "outputsize").as_deref(), Some("compact"));
}

#[tokio::test]
async fn adjusted_series_finds_volume_by_name_and_reports_dividends() {
    let (_s, p) = served(
        "TIME_SERIES_DAILY_ADJUSTED-IBM.json",
        "2020-06-01T00:00:00Z",
    )
    .await;
    let got = p
        .fetch_bars(&ibm(), Interval::D1, day("2020-05-01"), day("2020-05-09"))
        .await
        .unwrap();
    assert_eq!(got.bars[1].volume, 2542577.0);
    assert_eq!(got.bars[1].close, 121.805, "close, not adjusted close");
    assert_eq!(
        got.events,
        vec![CorporateEvent::Dividend {
            date: "2020-05-07".parse().unwrap(),
            amount: rust_decimal_macros::dec!(1.63)
        }]
    );
}

#[tokio::test]
async fn intraday_times_are_new_york_local_and_the_interval_is_in_the_key() {
    let (_s, p) = served(
        "TIME_SERIES_INTRADAY-1min-MSFT.json",
        "2018-01-01T00:00:00Z",
    )
    .await;
    let msft = instrument("MSFT", InstrumentKind::Stock, Currency::USD, "alphavantage");
    let got = p
        .fetch_bars(
            &msft,
            Interval::M1,
            ts("2017-12-18T00:00:00Z"),
            ts("2017-12-19T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 100);
    assert_eq!(got.bars.last().unwrap().time, ts("2017-12-18T19:56:00Z"));
    assert!(got.bars.windows(2).all(|w| w[0].time < w[1].time));
    let (server, p) = served("TIME_SERIES_INTRADAY-5min-IBM.json", "2020-06-01T00:00:00Z").await;
    let got = p
        .fetch_bars(
            &ibm(),
            Interval::M5,
            ts("2020-05-08T00:00:00Z"),
            ts("2020-05-09T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 2);
    assert_eq!(got.bars[0].time, ts("2020-05-08T18:00:00Z"));
    assert_eq!(
        param(&query_of(&server, 0).await, "interval").as_deref(),
        Some("5min")
    );
}

#[tokio::test]
async fn intraday_csv_newest_first_with_gaps_parses() {
    let (_s, p) = served(
        "TIME_SERIES_INTRADAY_EXTENDED-1min-csv.csv",
        "2021-01-01T00:00:00Z",
    )
    .await;
    let msft = instrument("MSFT", InstrumentKind::Stock, Currency::USD, "alphavantage");
    let got = p
        .fetch_bars(
            &msft,
            Interval::M1,
            ts("2020-01-01T00:00:00Z"),
            ts("2021-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len() + got.rejected.len(), 11_190);
    assert!(got.bars.len() > 11_000);
    assert!(got.bars.windows(2).all(|w| w[0].time < w[1].time));
}

#[tokio::test]
async fn fx_daily_has_no_volume_and_asks_for_the_pair() {
    let (server, p) = served("FX_DAILY-EUR-USD.json", "2020-06-01T00:00:00Z").await;
    let eur = instrument(
        "EURUSD=X",
        InstrumentKind::Fx,
        Currency::USD,
        "alphavantage",
    );
    let got = p
        .fetch_bars(&eur, Interval::D1, day("2020-05-01"), day("2020-05-07"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 2);
    assert!(got.bars.iter().all(|b| b.volume == 0.0));
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "function").as_deref(), Some("FX_DAILY"));
    assert_eq!(param(&q, "from_symbol").as_deref(), Some("EUR"));
    assert_eq!(param(&q, "to_symbol").as_deref(), Some("USD"));
}

#[tokio::test]
async fn crypto_daily_flags_todays_partial_day() {
    let (_s, p) = served(
        "DIGITAL_CURRENCY_DAILY-BTC-EUR.json",
        "2025-08-24T00:10:00Z",
    )
    .await;
    let btc = instrument(
        "BTC-EUR",
        InstrumentKind::Crypto,
        Currency::EUR,
        "alphavantage",
    );
    let got = p
        .fetch_bars(&btc, Interval::D1, day("2025-08-20"), day("2025-08-25"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 3);
    assert_eq!(got.incomplete, Some(day("2025-08-24")));
}

#[tokio::test]
async fn exchange_rates_parse_with_or_without_bid_and_ask() {
    let (_s, p) = served(
        "CURRENCY_EXCHANGE_RATE-BTC-CNY.json",
        "2018-01-01T00:00:00Z",
    )
    .await;
    let btc = instrument(
        "BTC-CNY",
        InstrumentKind::Crypto,
        Currency::parse("CNY").unwrap(),
        "alphavantage",
    );
    let q = p.fetch_quote(&btc).await.unwrap();
    assert_eq!(q.price, 109631.430607);
    assert_eq!(q.time, ts("2017-12-20T19:23:21Z"));
    let (_s, p) = served(
        "CURRENCY_EXCHANGE_RATE-USD-JPY-no-bid-ask.json",
        "2020-06-01T00:00:00Z",
    )
    .await;
    let jpy = instrument(
        "USDJPY=X",
        InstrumentKind::Fx,
        Currency::JPY,
        "alphavantage",
    );
    assert_eq!(p.fetch_quote(&jpy).await.unwrap().price, 106.89);
}

#[tokio::test]
async fn symbol_search_lists_matches_with_scores() {
    let (_s, p) = served("SYMBOL_SEARCH.json", "2020-06-01T00:00:00Z").await;
    let m = p.search("BA").await.unwrap();
    assert_eq!(m[0].symbol, "BA");
    assert_eq!(m[0].score, 1.0);
    assert!(m.iter().any(|x| x.region == "Hong Kong"));
}

#[tokio::test]
async fn errors_sent_with_http_200_are_classified() {
    let cases = [
        (
            "error-invalid-api-call-TIME_SERIES_INTRADAY.json",
            FetchErrorKind::UnknownSymbol,
            ErrorClass::GiveUp,
        ),
        (
            "error-note-rate-limit-per-minute-legacy.json",
            FetchErrorKind::RateLimited,
            ErrorClass::RetryLater {
                retry_after: Some(Duration::from_secs(60)),
            },
        ),
        (
            "error-information-rate-limit-per-day.json",
            FetchErrorKind::QuotaExhausted,
            ErrorClass::RetryLater { retry_after: None },
        ),
        (
            "error-information-premium-endpoint.json",
            FetchErrorKind::Unsupported,
            ErrorClass::TryNext,
        ),
        (
            "error-information-demo-key.json",
            FetchErrorKind::Unauthorized,
            ErrorClass::GiveUp,
        ),
    ];
    for (file, kind, class) in cases {
        let (_s, p) = served(file, "2024-06-01T00:00:00Z").await;
        let e = p
            .fetch_bars(&ibm(), Interval::D1, day("2024-05-01"), day("2024-05-09"))
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.class), (kind, class), "{file}: {e}");
        assert!(
            !e.message.contains(KEY),
            "{file}: the key never appears in messages"
        );
    }
}

#[tokio::test]
async fn a_missing_key_error_message_is_unauthorized() {
    let server = serve(200, r#"{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key"}"#).await;
    let e = av(&server, "2024-06-01T00:00:00Z")
        .fetch_quote(&ibm())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Unauthorized, ErrorClass::GiveUp)
    );
}

#[tokio::test]
async fn an_empty_global_quote_is_an_unknown_symbol() {
    let server = serve(200, r#"{"Global Quote": {}}"#).await;
    let e = av(&server, "2024-06-01T00:00:00Z")
        .fetch_quote(&ibm())
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::UnknownSymbol);
}
