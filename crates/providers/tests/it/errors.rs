//! Transport failures and statuses every adapter shares.

use crate::common::*;
use pricetrack_app::market_data::{ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind};
use pricetrack_providers::{
    binance::BinanceProvider, coingecko::CoinGeckoProvider, config::CoinGeckoPlan,
    yahoo::YahooProvider,
};
use std::time::Duration;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

fn yahoo_at(base: &str, timeout: Duration) -> YahooProvider {
    YahooProvider::new(
        adapter(base, "2025-01-01T00:00:00Z").with_timeout(timeout),
        None,
    )
    .unwrap()
}

#[tokio::test]
async fn a_slow_server_times_out_as_retry_later() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_string("{}"),
        )
        .mount(&server)
        .await;
    let e = yahoo_at(&server.uri(), Duration::from_millis(200))
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Timeout);
    assert!(e.is_retry_later());
    assert!(e.message.contains("timed out"), "{e}");
}

#[tokio::test]
async fn a_truncated_body_is_a_broken_connection_not_data() {
    let base = truncated_server(r#"{"chart":{"result":[{"meta":{"curr"#, 5000).await;
    let e = yahoo_at(&base, Duration::from_secs(5))
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Network, "{e}");
    assert!(e.is_retry_later());
}

#[tokio::test]
async fn a_cut_off_json_without_length_is_a_decode_error() {
    let server = serve(200, r#"{"chart":{"result":[{"meta":{"curr"#).await;
    let e = yahoo_at(&server.uri(), Duration::from_secs(5))
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Decode, ErrorClass::TryNext)
    );
}

#[tokio::test]
async fn invalid_json_is_a_decode_error_quoting_the_body() {
    let server = serve(200, "<html>Service temporarily unavailable</html>").await;
    let btc = instrument("BTC-USD", InstrumentKind::Crypto, Currency::USD, "binance");
    let e = BinanceProvider::new(adapter(&server.uri(), "2025-01-01T00:00:00Z"))
        .unwrap()
        .fetch_quote(&btc)
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Decode);
    assert!(e.message.contains("Service temporarily unavailable"), "{e}");
}

#[tokio::test]
async fn server_errors_are_retry_later_with_retry_after_when_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "12")
                .set_body_string("down"),
        )
        .mount(&server)
        .await;
    let btc = instrument(
        "BTC-USD",
        InstrumentKind::Crypto,
        Currency::USD,
        "coingecko",
    );
    let e = CoinGeckoProvider::new(
        adapter(&server.uri(), "2025-01-01T00:00:00Z"),
        CoinGeckoPlan::Demo,
    )
    .unwrap()
    .fetch_quote(&btc)
    .await
    .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Upstream);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
}

#[tokio::test]
async fn unauthorized_gives_up() {
    let server = serve(
        401,
        r#"{"status":{"error_code":10002,"error_message":"API Key Missing"}}"#,
    )
    .await;
    let btc = instrument(
        "BTC-USD",
        InstrumentKind::Crypto,
        Currency::USD,
        "coingecko",
    );
    let e = CoinGeckoProvider::new(
        adapter(&server.uri(), "2025-01-01T00:00:00Z"),
        CoinGeckoPlan::Demo,
    )
    .unwrap()
    .fetch_quote(&btc)
    .await
    .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Unauthorized, ErrorClass::GiveUp)
    );
    assert!(e.message.contains("API Key Missing"));
}

#[tokio::test]
async fn a_closed_port_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = yahoo_at(&format!("http://{addr}"), Duration::from_secs(2))
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Network);
    assert!(e.is_retry_later());
}
