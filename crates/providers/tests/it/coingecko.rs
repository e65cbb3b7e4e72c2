use crate::common::*;
use pricetrack_app::market_data::{ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::{Provider, coingecko::CoinGeckoProvider, config::CoinGeckoPlan};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

fn btc() -> pricetrack_domain::Instrument {
    instrument(
        "BTC-USD",
        InstrumentKind::Crypto,
        Currency::USD,
        "coingecko",
    )
}

fn gecko(server: &MockServer, now: &str) -> CoinGeckoProvider {
    CoinGeckoProvider::new(adapter(&server.uri(), now), CoinGeckoPlan::Demo).unwrap()
}

#[tokio::test]
async fn simple_price_maps_btc_usd_to_bitcoin_in_usd() {
    let server = serve_fixture(200, "coingecko/simple-price-bitcoin-usd.json").await;
    let q = gecko(&server, "2019-01-01T00:00:00Z")
        .fetch_quote(&btc())
        .await
        .unwrap();
    assert_eq!(q.price, 7984.89);
    assert_eq!(
        q.time,
        ts("2019-01-01T00:00:00Z"),
        "no last_updated_at: now"
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.path(), "/simple/price");
    let query = query_of(&server, 0).await;
    assert_eq!(param(&query, "ids").as_deref(), Some("bitcoin"));
    assert_eq!(param(&query, "vs_currencies").as_deref(), Some("usd"));
}

#[tokio::test]
async fn one_request_quotes_several_coins_in_several_currencies() {
    let server = serve_fixture(200, "coingecko/simple-price-multi-ids-multi-vs.json").await;
    let eth_myr = instrument(
        "ETH-MYR",
        InstrumentKind::Crypto,
        Currency::parse("MYR").unwrap(),
        "coingecko",
    );
    let got = gecko(&server, "2019-01-01T00:00:00Z")
        .fetch_quotes(&[btc(), eth_myr])
        .await;
    assert_eq!(got[0].as_ref().unwrap().price, 5005.73);
    assert_eq!(got[1].as_ref().unwrap().price, 669.07);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let query = query_of(&server, 0).await;
    assert_eq!(param(&query, "ids").as_deref(), Some("bitcoin,ethereum"));
    assert_eq!(param(&query, "vs_currencies").as_deref(), Some("myr,usd"));
}

#[tokio::test]
async fn an_empty_object_for_an_unknown_id_gives_up() {
    let server = serve_fixture(200, "coingecko/simple-price-unknown-id-empty.json").await;
    let e = gecko(&server, "2021-01-01T00:00:00Z")
        .fetch_quote(&btc())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::UnknownSymbol, ErrorClass::GiveUp)
    );
}

#[tokio::test]
async fn last_updated_at_in_seconds_is_the_quote_time() {
    let server = serve_fixture(200, "coingecko/docs-example-simple-price-with-extras.json").await;
    let q = gecko(&server, "2026-06-01T00:00:00Z")
        .fetch_quote(&btc())
        .await
        .unwrap();
    assert_eq!(q.price, 76975.0);
    assert_eq!(q.time, ts("2026-05-18T08:17:38Z"));
}

#[tokio::test]
async fn market_chart_points_in_milliseconds_become_five_minute_bars() {
    for file in [
        "coingecko/docs-example-market_chart-range.json",
        "coingecko/docs-example-market_chart.json",
    ] {
        let server = serve_fixture(200, file).await;
        let got = gecko(&server, "2026-05-17T14:40:00Z")
            .fetch_bars(
                &btc(),
                Interval::M5,
                ts("2026-05-17T14:00:00Z"),
                ts("2026-05-17T14:40:00Z"),
            )
            .await
            .unwrap();
        let times: Vec<_> = got.bars.iter().map(|b| b.time).collect();
        assert_eq!(
            times,
            [ts("2026-05-17T14:20:00Z"), ts("2026-05-17T14:25:00Z")],
            "{file}"
        );
        assert_eq!(got.bars[0].close, 77953.82550382407);
        assert_eq!(
            got.bars[0].volume, 0.0,
            "rolling 24h volume is not a 5-minute volume"
        );
        let reqs = server.received_requests().await.unwrap();
        assert_eq!(reqs[0].url.path(), "/coins/bitcoin/market_chart/range");
        let q = query_of(&server, 0).await;
        assert_eq!(param(&q, "from").as_deref(), Some("1779026400"), "seconds");
    }
}

#[tokio::test]
async fn unaligned_points_are_aggregated_into_hourly_ohlc() {
    let server = serve_fixture(
        200,
        "coingecko/market_chart-bitcoin-usd-days1-prices-only-truncated.json",
    )
    .await;
    let got = gecko(&server, "2018-09-10T00:00:00Z")
        .fetch_bars(
            &btc(),
            Interval::H1,
            ts("2018-08-27T00:00:00Z"),
            ts("2018-08-28T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 2);
    let b = &got.bars[0];
    assert_eq!(b.time, ts("2018-08-27T12:00:00Z"));
    assert_eq!((b.open, b.close), (6756.942910425894, 6668.291007556478));
    assert_eq!((b.high, b.low), (6756.942910425894, 6668.291007556478));
    assert_eq!(got.bars[1].time, ts("2018-08-27T13:00:00Z"));
}

#[tokio::test]
async fn ohlc_candles_stamped_at_their_close_become_a_daily_bar() {
    let server = serve_fixture(200, "coingecko/docs-example-ohlc.json").await;
    let got = gecko(&server, "2026-05-19T15:00:00Z")
        .fetch_bars(&btc(), Interval::D1, day("2026-05-19"), day("2026-05-20"))
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 1);
    let b = &got.bars[0];
    assert_eq!(b.time, day("2026-05-19"));
    assert_eq!(
        (b.open, b.high, b.low, b.close),
        (76769.0, 76889.0, 76321.0, 76422.0)
    );
    assert_eq!(
        got.incomplete,
        Some(day("2026-05-19")),
        "the UTC day is not over"
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.path(), "/coins/bitcoin/ohlc");
    assert_eq!(
        param(&query_of(&server, 0).await, "days").as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn http_429_is_retry_later_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "119")
                .set_body_string(fixture("coingecko/error-429-rate-limit.json")),
        )
        .mount(&server)
        .await;
    let e = gecko(&server, "2022-01-01T00:00:00Z")
        .fetch_quote(&btc())
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(119)));
    assert!(e.message.contains("exceeded the Rate Limit"));
}

#[tokio::test]
async fn a_cloudflare_html_429_is_still_a_rate_limit() {
    let server = serve(429, "<html><body>Too Many Requests</body></html>").await;
    let e = gecko(&server, "2022-01-01T00:00:00Z")
        .fetch_quote(&btc())
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::RateLimited);
}

#[tokio::test]
async fn an_unknown_coin_id_404_gives_up() {
    let server = serve_fixture(404, "coingecko/error-404-unknown-coin-id-legacy.json").await;
    let e = gecko(&server, "2022-01-01T00:00:00Z")
        .fetch_bars(
            &btc(),
            Interval::H1,
            ts("2021-12-01T00:00:00Z"),
            ts("2021-12-02T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::UnknownSymbol, ErrorClass::GiveUp)
    );
    assert!(e.message.contains("Could not find coin"));
}

#[tokio::test]
async fn the_api_key_goes_in_the_plan_header() {
    for (plan, header) in [
        (CoinGeckoPlan::Demo, "x-cg-demo-api-key"),
        (CoinGeckoPlan::Pro, "x-cg-pro-api-key"),
    ] {
        let server = serve_fixture(200, "coingecko/simple-price-bitcoin-usd.json").await;
        let cfg = adapter(&server.uri(), "2022-01-01T00:00:00Z").with_api_key("k-123");
        CoinGeckoProvider::new(cfg, plan)
            .unwrap()
            .fetch_quote(&btc())
            .await
            .unwrap();
        let reqs = server.received_requests().await.unwrap();
        assert_eq!(reqs[0].headers.get(header).unwrap(), "k-123");
        assert!(!reqs[0].url.as_str().contains("k-123"), "never in the URL");
    }
}

#[tokio::test]
async fn five_minute_bars_for_an_old_range_are_too_fine_for_coingecko() {
    let server = serve(200, "{}").await;
    let e = gecko(&server, "2022-01-01T00:00:00Z")
        .fetch_bars(
            &btc(),
            Interval::M5,
            ts("2021-06-01T00:00:00Z"),
            ts("2021-06-02T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::TryNext);
}

#[test]
fn btc_usd_is_bitcoin_unless_the_instrument_says_otherwise() {
    let g = CoinGeckoProvider::new(
        pricetrack_providers::AdapterConfig::new("http://127.0.0.1:9"),
        CoinGeckoPlan::Demo,
    )
    .unwrap();
    assert_eq!(g.provider_symbol(&btc()).as_deref(), Some("bitcoin"));
    let mut wrapped = btc();
    wrapped.provider_symbol = Some("wrapped-bitcoin".into());
    assert_eq!(
        g.provider_symbol(&wrapped).as_deref(),
        Some("wrapped-bitcoin")
    );
}
