use crate::common::*;
use pricetrack_app::market_data::{ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval, Symbol};
use pricetrack_providers::url_source::{Extractor, NumberFormat, UrlProvider, UrlSource};
use std::collections::BTreeMap;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

fn coin() -> pricetrack_domain::Instrument {
    instrument("KRUGER-1OZ", InstrumentKind::Item, Currency::EUR, "url")
}

async fn provider(server: &MockServer, src: UrlSource, now: &str) -> UrlProvider {
    let mut sources = BTreeMap::new();
    sources.insert(Symbol::parse("KRUGER-1OZ").unwrap(), src);
    let _ = server;
    UrlProvider::new(adapter("http://unused", now), sources).unwrap()
}

async fn page_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/coins/KRUGER-1OZ"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(local_fixture("url/gold-coin-page.html")),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/nav.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(local_fixture("url/fund-nav.json")),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_css_selector_reads_a_decimal_comma_price_from_a_saved_page() {
    let server = page_server().await;
    let src = UrlSource::new(
        format!("{}/coins/{{SYMBOL}}", server.uri()),
        Extractor::Css {
            selector: "#buy-price".into(),
            attribute: None,
        },
    )
    .with_number_format(NumberFormat::DecimalComma);
    let q = provider(&server, src, "2025-03-14T10:00:00Z")
        .await
        .fetch_quote(&coin())
        .await
        .unwrap();
    assert_eq!(q.price, 2412.5);
    assert_eq!(q.provider, "url");
}

#[tokio::test]
async fn a_css_attribute_and_the_auto_number_format_work_too() {
    let server = page_server().await;
    let src = UrlSource::new(
        format!("{}/coins/{{SYMBOL}}", server.uri()),
        Extractor::Css {
            selector: r#"meta[property="product:price:amount"]"#.into(),
            attribute: Some("content".into()),
        },
    );
    let q = provider(&server, src, "2025-03-14T10:00:00Z")
        .await
        .fetch_quote(&coin())
        .await
        .unwrap();
    assert_eq!(q.price, 2412.5);
}

#[tokio::test]
async fn a_regex_group_picks_the_price_from_an_inline_script() {
    let server = page_server().await;
    let src = UrlSource::new(
        format!("{}/coins/{{SYMBOL}}", server.uri()),
        Extractor::Regex(r#""ask":"([0-9.]+)""#.into()),
    )
    .with_number_format(NumberFormat::DecimalPoint);
    let q = provider(&server, src, "2025-03-14T10:00:00Z")
        .await
        .fetch_quote(&coin())
        .await
        .unwrap();
    assert_eq!(q.price, 2498.9);
}

#[tokio::test]
async fn a_jsonpath_reads_a_number_or_a_formatted_string() {
    let server = page_server().await;
    let number = UrlSource::new(
        format!("{}/nav.json", server.uri()),
        Extractor::JsonPath("$.fund.latest.price".into()),
    );
    let q = provider(&server, number, "2025-03-14T10:00:00Z")
        .await
        .fetch_quote(&coin())
        .await
        .unwrap();
    assert_eq!(q.price, 1234.56);
    let string = UrlSource::new(
        format!("{}/nav.json", server.uri()),
        Extractor::JsonPath("$.fund.nav[0].value".into()),
    );
    let q = provider(&server, string, "2025-03-14T10:00:00Z")
        .await
        .fetch_quote(&coin())
        .await
        .unwrap();
    assert_eq!(q.price, 1234.56);
}

#[tokio::test]
async fn the_date_template_fetches_one_page_per_day_for_daily_bars() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"close": "101,5"}"#))
        .mount(&server)
        .await;
    let src = UrlSource::new(
        format!("{}/close/{{SYMBOL}}/{{DATE}}", server.uri()),
        Extractor::JsonPath("$.close".into()),
    );
    let p = provider(&server, src, "2025-03-20T12:00:00Z").await;
    let fund = instrument("KRUGER-1OZ", InstrumentKind::Fund, Currency::EUR, "url");
    let got = p
        .fetch_bars(&fund, Interval::D1, day("2025-03-14"), day("2025-03-18"))
        .await
        .unwrap();
    // Friday 14th and Monday 17th; the weekend is skipped.
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(days, ["2025-03-14", "2025-03-17"]);
    assert_eq!(got.bars[0].close, 101.5);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.path(), "/close/KRUGER-1OZ/2025-03-14");
}

#[tokio::test]
async fn a_selector_that_matches_nothing_is_a_decode_error_naming_it() {
    let server = page_server().await;
    let src = UrlSource::new(
        format!("{}/coins/{{SYMBOL}}", server.uri()),
        Extractor::Css {
            selector: ".gone".into(),
            attribute: None,
        },
    );
    let e = provider(&server, src, "2025-03-14T10:00:00Z")
        .await
        .fetch_quote(&coin())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Decode, ErrorClass::TryNext)
    );
    assert!(e.message.contains(".gone"), "{e}");
}

#[test]
fn invalid_sources_are_refused_at_construction() {
    let mut sources = BTreeMap::new();
    sources.insert(
        Symbol::parse("X").unwrap(),
        UrlSource::new(
            "http://x.test/{SYMBOL}",
            Extractor::Regex("(unclosed".into()),
        ),
    );
    assert!(
        UrlProvider::new(
            pricetrack_providers::AdapterConfig::new("http://x"),
            sources
        )
        .is_err()
    );
    let src: UrlSource = serde_json::from_str(
        r#"{"url":"https://example.test/{SYMBOL}","extract":{"css":{"selector":"span.price"}},"number_format":"decimal_comma"}"#,
    )
    .unwrap();
    assert_eq!(src.number_format, NumberFormat::DecimalComma);
    assert!(pricetrack_providers::url_source::validate(&src).is_ok());
}

#[tokio::test]
async fn an_instruments_own_source_wins_over_the_environment_one() {
    let server = page_server().await;
    // The environment's source points nowhere useful; the instrument's reads the page.
    let env = UrlSource::new(
        format!("{}/missing/{{SYMBOL}}", server.uri()),
        Extractor::Regex("(\\d+)".into()),
    );
    let own = UrlSource::new(
        format!("{}/coins/{{SYMBOL}}", server.uri()),
        Extractor::Css {
            selector: "#buy-price".into(),
            attribute: None,
        },
    )
    .with_number_format(NumberFormat::DecimalComma);
    let p = provider(&server, env, "2025-03-14T10:00:00Z").await;
    let q = p
        .fetch_quote(&coin().with_url_source(Some(own)))
        .await
        .unwrap();
    assert_eq!(q.price, 2412.5);
}

#[tokio::test]
async fn an_instrument_without_any_source_is_refused_naming_url_source() {
    let p = UrlProvider::new(
        adapter("http://unused", "2025-03-14T10:00:00Z"),
        BTreeMap::new(),
    )
    .unwrap();
    let e = p.check_instrument(&coin()).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("url_source"));
    let e = p.fetch_quote(&coin()).await.unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::NotConfigured);
    assert!(e.message.contains("no url_source"), "{e}");
    let bad = coin().with_url_source(Some(UrlSource::new(
        "http://x.test/{SYMBOL}",
        Extractor::JsonPath("$[".into()),
    )));
    let e = p.check_instrument(&bad).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("url_source.extract.json_path"));
}

#[tokio::test]
async fn a_dated_page_answered_404_is_a_day_without_a_price() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/close/KRUGER-1OZ/2025-03-17"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"close": 99.25}"#))
        .mount(&server)
        .await;
    let src = UrlSource::new(
        format!("{}/close/{{SYMBOL}}/{{DATE}}", server.uri()),
        Extractor::JsonPath("$.close".into()),
    );
    let p = provider(&server, src, "2025-03-20T12:00:00Z").await;
    let fund = instrument("KRUGER-1OZ", InstrumentKind::Fund, Currency::EUR, "url");
    let got = p
        .fetch_bars(&fund, Interval::D1, day("2025-03-14"), day("2025-03-19"))
        .await
        .unwrap();
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(days, ["2025-03-14", "2025-03-18"]);
}

#[tokio::test]
async fn a_dated_source_declares_its_31_day_request_span() {
    use pricetrack_providers::Provider;
    let server = MockServer::start().await;
    let src = UrlSource::new(
        format!("{}/close/{{SYMBOL}}/{{DATE}}", server.uri()),
        Extractor::JsonPath("$.close".into()),
    );
    let p = provider(&server, src, "2025-03-20T12:00:00Z").await;
    assert_eq!(
        p.capabilities().max_span(Interval::D1),
        Some(jiff::SignedDuration::from_hours(24 * 31))
    );
    // A request over that span is refused as try-next (the caller chunks).
    let fund = instrument("KRUGER-1OZ", InstrumentKind::Crypto, Currency::EUR, "url");
    let err = p
        .fetch_bars(&fund, Interval::D1, day("2025-01-01"), day("2025-03-01"))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::TryNext);
    assert_eq!(err.kind, FetchErrorKind::Unsupported);
    // Exactly 31 days of a 24/7 market fit.
    let ok = p
        .fetch_bars(&fund, Interval::D1, day("2025-01-01"), day("2025-02-01"))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}
