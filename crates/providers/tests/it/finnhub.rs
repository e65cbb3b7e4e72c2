use crate::common::*;
use pricetrack_app::market_data::{ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::{
    ManualTime, Provider, ProviderSettings, ProvidersConfig, Registry, finnhub::FinnhubProvider,
};
use std::sync::Arc;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

fn finnhub(server: &MockServer, now: &str) -> FinnhubProvider {
    FinnhubProvider::new(adapter(&server.uri(), now).with_api_key("FH-SECRET")).unwrap()
}

fn aapl() -> pricetrack_domain::Instrument {
    instrument("AAPL", InstrumentKind::Stock, Currency::USD, "finnhub")
}

#[tokio::test]
async fn the_quote_reads_price_previous_close_and_time_with_the_key_in_a_header() {
    let server = serve_fixture(200, "finnhub/quote-AAPL.json").await;
    let q = finnhub(&server, "2022-02-24T21:00:00Z")
        .fetch_quote(&aapl())
        .await
        .unwrap();
    assert_eq!(q.price, 162.74);
    assert_eq!(q.previous_close, Some(160.07));
    assert_eq!(q.time, jiff::Timestamp::from_second(1645736402).unwrap());
    assert_eq!(
        (q.provider.as_str(), q.currency),
        ("finnhub", Currency::USD)
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.path(), "/quote");
    assert_eq!(
        param(&query_of(&server, 0).await, "symbol").as_deref(),
        Some("AAPL")
    );
    assert_eq!(
        reqs[0].headers.get("x-finnhub-token").map(|v| v.as_bytes()),
        Some(&b"FH-SECRET"[..])
    );
    assert!(
        !reqs[0].url.as_str().contains("FH-SECRET"),
        "the key stays out of URLs"
    );
}

#[tokio::test]
async fn the_legacy_quote_without_change_fields_parses() {
    let server = serve_fixture(200, "finnhub/quote-AAPL-legacy-2020-no-d-dp.json").await;
    let q = finnhub(&server, "2020-09-28T12:00:00Z")
        .fetch_quote(&aapl())
        .await
        .unwrap();
    assert_eq!((q.price, q.previous_close), (112.28, Some(108.22)));
}

#[tokio::test]
async fn an_all_zero_quote_is_an_unknown_symbol_not_a_price_of_zero() {
    let server = serve_fixture(
        200,
        "finnhub/quote-unavailable-symbol-all-zeros-legacy.json",
    )
    .await;
    let e = finnhub(&server, "2021-06-01T12:00:00Z")
        .fetch_quote(&aapl())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::UnknownSymbol, ErrorClass::TryNext)
    );
}

#[tokio::test]
async fn daily_candles_at_midnight_utc_are_keyed_by_their_date() {
    let server = serve_fixture(200, "finnhub/stock-candle-AAPL-D.json").await;
    let got = finnhub(&server, "2021-10-01T12:00:00Z")
        .fetch_bars(&aapl(), Interval::D1, day("2021-09-01"), day("2021-10-01"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 12);
    assert_eq!(got.bars[0].time, day("2021-09-07"));
    assert_eq!(got.bars[11].time, day("2021-09-22"));
    assert_eq!(
        (got.bars[0].close, got.bars[0].volume),
        (156.69, 82278261.0)
    );
    assert!(got.rejected.is_empty());
    assert_eq!(got.incomplete, None);
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "resolution").as_deref(), Some("D"));
    assert_eq!(param(&q, "from").as_deref(), Some("1630454400"));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.path(), "/stock/candle");
}

#[tokio::test]
async fn daily_candles_at_the_session_open_are_keyed_by_their_trading_date() {
    let server = serve_fixture(200, "finnhub/stock-candle-SPY-D-2020.json").await;
    let spy = instrument("SPY", InstrumentKind::Etf, Currency::USD, "finnhub");
    let got = finnhub(&server, "2020-07-01T12:00:00Z")
        .fetch_bars(&spy, Interval::D1, day("2020-06-08"), day("2020-06-13"))
        .await
        .unwrap();
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(
        days,
        [
            "2020-06-08",
            "2020-06-09",
            "2020-06-10",
            "2020-06-11",
            "2020-06-12"
        ]
    );
    assert_eq!(got.bars[3].close, 300.61);
}

#[tokio::test]
async fn no_data_is_no_bars_and_no_error() {
    let server = serve_fixture(200, "finnhub/stock-candle-no-data.json").await;
    let got = finnhub(&server, "2024-06-16T12:00:00Z")
        .fetch_bars(&aapl(), Interval::D1, day("2024-06-15"), day("2024-06-17"))
        .await
        .unwrap();
    assert!(got.bars.is_empty() && got.rejected.is_empty());
}

#[tokio::test]
async fn http_403_no_access_tries_the_next_provider() {
    let server = serve_fixture(403, "finnhub/error-403-no-access.json").await;
    let e = finnhub(&server, "2024-06-16T12:00:00Z")
        .fetch_bars(&aapl(), Interval::D1, day("2024-06-01"), day("2024-06-15"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Unsupported, ErrorClass::TryNext)
    );
    assert!(e.message.contains("don't have access"), "{e}");
    assert!(!e.message.contains("FH-SECRET"));
}

#[tokio::test]
async fn http_429_api_limit_is_retry_later_with_its_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "20")
                .set_body_string(fixture("finnhub/error-429-api-limit.json")),
        )
        .mount(&server)
        .await;
    let e = finnhub(&server, "2024-06-16T12:00:00Z")
        .fetch_quote(&aapl())
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::RateLimited);
    assert_eq!(
        e.class,
        ErrorClass::RetryLater {
            retry_after: Some(std::time::Duration::from_secs(20))
        }
    );
    assert!(e.message.contains("API limit reached"), "{e}");
}

#[tokio::test]
async fn finnhub_is_only_asked_when_a_key_is_configured() {
    let server = serve_fixture(200, "finnhub/quote-AAPL.json").await;
    let without = FinnhubProvider::new(adapter(&server.uri(), "2022-02-24T21:00:00Z")).unwrap();
    assert!(!without.is_configured());
    let time = Arc::new(ManualTime::new(ts("2022-02-24T21:00:00Z")));
    let stock = instrument("AAPL", InstrumentKind::Stock, Currency::USD, "yahoo");
    let r = Registry::from_config_with_time(ProvidersConfig::new(), time.clone()).unwrap();
    assert!(!r.chain(&stock, Some(Interval::D1)).contains(&"finnhub"));
    let mut cfg = ProvidersConfig::new();
    cfg.finnhub = ProviderSettings {
        base_url: Some(server.uri()),
        api_key: Some("FH-SECRET".into()),
    };
    let r = Registry::from_config_with_time(cfg, time).unwrap();
    assert_eq!(
        r.chain(&stock, Some(Interval::D1)),
        ["yahoo", "stooq", "finnhub"]
    );
    // An instrument on provider finnhub asks it first.
    let q = r.fetch_quote(&aapl()).await.unwrap();
    assert_eq!((q.provider.as_str(), q.price), ("finnhub", 162.74));
    // Read from the environment like every provider.
    let env = ProvidersConfig::from_lookup(|k| {
        (k == "PRICETRACK_PROVIDER_FINNHUB_API_KEY").then(|| "FH-ENV".to_owned())
    })
    .unwrap();
    assert_eq!(env.finnhub.api_key.as_deref(), Some("FH-ENV"));
}
