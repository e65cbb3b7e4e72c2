use crate::common::*;
use pricetrack_app::market_data::{ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::{Provider, binance::BinanceProvider};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

fn btc() -> pricetrack_domain::Instrument {
    instrument("BTC-USD", InstrumentKind::Crypto, Currency::USD, "binance")
}

fn binance(server: &MockServer, now: &str) -> BinanceProvider {
    BinanceProvider::new(adapter(&server.uri(), now)).unwrap()
}

#[tokio::test]
async fn spot_klines_with_string_prices_parse_and_start_on_the_hour() {
    let server = serve_fixture(200, "binance/klines-spot-BTCUSDT-1h-startTime-limit3.json").await;
    let got = binance(&server, "2024-03-01T00:00:00Z")
        .fetch_bars(
            &btc(),
            Interval::H1,
            ts("2024-01-30T15:23:11Z"),
            ts("2024-01-31T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 3);
    assert_eq!(
        got.bars[0].time,
        jiff::Timestamp::from_millisecond(1706630400000).unwrap()
    );
    assert_eq!(got.bars[0].open, 43519.34);
    assert_eq!(got.bars[0].volume, 20.55495);
    assert_eq!(got.incomplete, None);
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "symbol").as_deref(), Some("BTCUSDT"));
    assert_eq!(param(&q, "interval").as_deref(), Some("1h"));
    assert_eq!(param(&q, "startTime").as_deref(), Some("1706628191000"));
}

#[tokio::test]
async fn futures_minute_klines_parse() {
    let server = serve_fixture(200, "binance/fapi-klines-usdm-BTCUSDT-1m-limit3.json").await;
    let got = binance(&server, "2024-04-11T00:00:00Z")
        .fetch_bars(
            &btc(),
            Interval::M1,
            ts("2024-04-10T00:00:00Z"),
            ts("2024-04-11T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 3);
    assert_eq!(got.bars[0].close, 71481.9);
}

#[tokio::test]
async fn the_still_open_daily_kline_is_flagged_incomplete() {
    let server = serve_fixture(
        200,
        "binance/dapi-indexPriceKlines-coinm-BTCUSD-1d-limit3.json",
    )
    .await;
    // The last kline closes at 2024-04-10T23:59:59.999Z; now is during that day.
    let got = binance(&server, "2024-04-10T08:42:58Z")
        .fetch_bars(&btc(), Interval::D1, day("2024-04-08"), day("2024-04-11"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 3);
    assert_eq!(got.bars[0].time, day("2024-04-08"));
    assert_eq!(got.incomplete, Some(day("2024-04-10")));
    assert!(got.bars.iter().all(|b| b.volume == 0.0));
}

#[tokio::test]
async fn the_docs_example_kline_parses() {
    let server = serve_fixture(200, "binance/docs-example-klines.json").await;
    let got = binance(&server, "2024-01-01T00:00:00Z")
        .fetch_bars(&btc(), Interval::W1, day("2017-07-01"), day("2017-07-15"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 1);
    assert_eq!(got.bars[0].time, day("2017-07-03"));
}

#[tokio::test]
async fn the_24h_ticker_parses_with_numbers_or_stringified_integers() {
    for (file, price, prev) in [
        (
            "binance/ticker-24hr-BTCUSDT-ccxt-stringified.json",
            73369.84,
            72180.93,
        ),
        (
            "binance/docs-example-ticker-24hr-full.json",
            4.000002,
            0.10002,
        ),
    ] {
        let server = serve_fixture(200, file).await;
        let q = binance(&server, "2024-01-01T00:00:00Z")
            .fetch_quote(&btc())
            .await
            .unwrap();
        assert_eq!(q.price, price, "{file}");
        assert_eq!(q.previous_close, Some(prev), "{file}");
        assert!(
            q.time < ts("2024-12-31T00:00:00Z"),
            "{file}: close time used"
        );
    }
}

#[tokio::test]
async fn batch_prices_come_as_an_array() {
    let server = serve_fixture(200, "binance/docs-example-ticker-price-list.json").await;
    let ltc = instrument(
        "LTC-BTC",
        InstrumentKind::Crypto,
        Currency::parse("BTC").unwrap(),
        "binance",
    );
    let eth = instrument(
        "ETH-BTC",
        InstrumentKind::Crypto,
        Currency::parse("BTC").unwrap(),
        "binance",
    );
    let got = binance(&server, "2024-01-01T00:00:00Z")
        .fetch_quotes(&[ltc, eth])
        .await;
    assert_eq!(got[0].as_ref().unwrap().price, 4.000002);
    assert_eq!(got[1].as_ref().unwrap().price, 0.079466);
    let q = query_of(&server, 0).await;
    assert_eq!(
        param(&q, "symbols").as_deref(),
        Some("[\"LTCBTC\",\"ETHBTC\"]")
    );
}

#[tokio::test]
async fn a_single_price_object_is_accepted_for_a_batch_of_one() {
    let server = serve_fixture(200, "binance/docs-example-ticker-price-single.json").await;
    let ltc = instrument(
        "LTC-BTC",
        InstrumentKind::Crypto,
        Currency::parse("BTC").unwrap(),
        "binance",
    );
    let got = binance(&server, "2024-01-01T00:00:00Z")
        .fetch_quotes(&[ltc])
        .await;
    assert_eq!(got[0].as_ref().unwrap().price, 4.000002);
}

#[tokio::test]
async fn a_symbol_binance_does_not_list_is_try_next() {
    let server = serve_fixture(400, "binance/docs-example-error-invalid-symbol.json").await;
    let e = binance(&server, "2024-01-01T00:00:00Z")
        .fetch_quote(&btc())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::UnknownSymbol, ErrorClass::TryNext)
    );
    assert!(e.message.contains("-1121"));
}

#[tokio::test]
async fn the_registry_asks_coingecko_when_binance_does_not_list_the_pair() {
    use pricetrack_providers::{
        ManualTime, ProviderOrder, ProviderSettings, ProvidersConfig, Registry,
    };
    let binance = serve_fixture(400, "binance/docs-example-error-invalid-symbol.json").await;
    let coingecko = serve_fixture(200, "coingecko/simple-price-bitcoin-usd.json").await;
    let mut cfg = ProvidersConfig::new();
    cfg.binance = ProviderSettings::with_base_url(binance.uri());
    cfg.coingecko = ProviderSettings::with_base_url(coingecko.uri());
    let mut order = ProviderOrder::default();
    order.set(
        InstrumentKind::Crypto,
        vec!["binance".into(), "coingecko".into()],
    );
    cfg.order = order;
    let time = std::sync::Arc::new(ManualTime::new(ts("2024-01-01T00:00:00Z")));
    let registry = Registry::from_config_with_time(cfg, time).unwrap();
    let q = registry.fetch_quote(&btc()).await.unwrap();
    assert_eq!((q.provider.as_str(), q.price), ("coingecko", 7984.89));
}

#[tokio::test]
async fn http_429_and_418_carry_retry_after() {
    for status in [429, 418] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("retry-after", "30")
                    .set_body_string(r#"{"code":-1003,"msg":"Too many requests."}"#),
            )
            .mount(&server)
            .await;
        let e = binance(&server, "2024-01-01T00:00:00Z")
            .fetch_quote(&btc())
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
    }
}

#[tokio::test]
async fn stocks_are_not_binance_pairs() {
    let server = serve(200, "[]").await;
    let e = binance(&server, "2024-01-01T00:00:00Z")
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::TryNext);
}
