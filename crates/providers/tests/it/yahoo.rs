use crate::common::*;
use pricetrack_app::market_data::{CorporateEvent, ErrorClass, FetchErrorKind, PriceSource};
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::{Provider, yahoo::YahooProvider};
use rust_decimal_macros::dec;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

const NOW: &str = "2025-03-01T12:00:00Z";

fn yahoo(server: &MockServer) -> YahooProvider {
    YahooProvider::new(
        adapter(&server.uri(), NOW),
        Some(format!("{}/fc", server.uri())),
    )
    .unwrap()
}

async fn bars_from(
    file: &str,
    inst: &pricetrack_domain::Instrument,
    interval: Interval,
    from: &str,
    to: &str,
) -> pricetrack_app::market_data::FetchedBars {
    let server = serve_fixture(200, &format!("yahoo/{file}")).await;
    yahoo(&server)
        .fetch_bars(inst, interval, ts(from), ts(to))
        .await
        .unwrap()
}

#[tokio::test]
async fn daily_bar_stamped_at_the_new_york_open_is_keyed_by_its_trading_date() {
    let server = serve_fixture(200, "yahoo/chart-1d-AAPL-period.json").await;
    let y = yahoo(&server);
    let got = y
        .fetch_bars(
            &stock("AAPL"),
            Interval::D1,
            ts("2020-01-01T00:00:00Z"),
            ts("2020-01-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 1);
    let b = &got.bars[0];
    assert_eq!(b.time, day("2020-01-02"));
    assert_eq!(b.close, 75.0875015258789);
    assert_eq!(b.volume, 135480400.0);
    assert_eq!(got.currency, Some(Currency::USD));
    assert!(got.rejected.is_empty());
    assert!(!got.simulated);
    assert_eq!(got.incomplete, None);
    assert_eq!(
        got.first_trade_date,
        Some("1980-12-12".parse().unwrap()),
        "firstTradeDate 345479400 is the 09:30 New York open of Apple's first day"
    );
    // The request: chart endpoint, periods in seconds (padded a day for
    // exchange time), interval and events.
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.path(), "/v8/finance/chart/AAPL");
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "interval").as_deref(), Some("1d"));
    assert_eq!(param(&q, "period1").as_deref(), Some("1577750400"));
    assert_eq!(param(&q, "period2").as_deref(), Some("1578096000"));
    assert_eq!(param(&q, "events").as_deref(), Some("div|split"));
}

#[tokio::test]
async fn splits_and_dividends_come_back_as_corporate_events() {
    let got = bars_from(
        "chart-1d-AAPL-split-dividend-events.json",
        &stock("AAPL"),
        Interval::D1,
        "2020-08-31T00:00:00Z",
        "2020-11-07T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 49);
    assert!(got.bars.windows(2).all(|w| w[0].time < w[1].time));
    assert!(got.bars.iter().all(|b| b.time.as_second() % 86_400 == 0));
    assert_eq!(
        got.events,
        vec![
            CorporateEvent::Split {
                date: "2020-08-31".parse().unwrap(),
                ratio: "4:1".parse().unwrap(),
            },
            CorporateEvent::Dividend {
                date: "2020-11-06".parse().unwrap(),
                amount: dec!(0.205)
            },
        ]
    );
}

#[tokio::test]
async fn a_year_of_nvda_has_252_bars_and_the_july_2021_split() {
    let got = bars_from(
        "chart-1d-NVDA-1y-split-event.json",
        &stock("NVDA"),
        Interval::D1,
        "2021-02-01T00:00:00Z",
        "2022-01-31T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 252);
    assert_eq!(
        got.events,
        vec![CorporateEvent::Split {
            date: "2021-07-20".parse().unwrap(),
            ratio: "4:1".parse().unwrap(),
        }]
    );
}

#[tokio::test]
async fn a_year_of_msft_has_four_dividends_keyed_by_timestamp_strings() {
    let got = bars_from(
        "chart-1d-MSFT-1y-dividend-events.json",
        &stock("MSFT"),
        Interval::D1,
        "2021-02-01T00:00:00Z",
        "2022-01-31T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 252);
    let divs: Vec<rust_decimal::Decimal> = got
        .events
        .iter()
        .filter_map(|e| match e {
            CorporateEvent::Dividend { amount, .. } => Some(*amount),
            _ => None,
        })
        .collect();
    // Three of 0.56, then the raise to 0.62 (Nov 2021).
    assert_eq!(divs, vec![dec!(0.56), dec!(0.56), dec!(0.56), dec!(0.62)]);
}

#[tokio::test]
async fn crypto_daily_bars_at_midnight_utc_include_the_new_year_holiday() {
    let btc = instrument("BTC-USD", InstrumentKind::Crypto, Currency::USD, "yahoo");
    let got = bars_from(
        "chart-1d-BTC-USD.json",
        &btc,
        Interval::D1,
        "2020-01-01T00:00:00Z",
        "2020-01-04T00:00:00Z",
    )
    .await;
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(days, ["2020-01-01", "2020-01-02", "2020-01-03"]);
}

#[tokio::test]
async fn fx_bars_at_london_midnight_keep_their_date_and_zero_volume() {
    let eur = instrument("EURUSD=X", InstrumentKind::Fx, Currency::USD, "yahoo");
    let got = bars_from(
        "chart-1d-EURUSD=X.json",
        &eur,
        Interval::D1,
        "2020-01-01T00:00:00Z",
        "2020-01-04T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 3);
    assert_eq!(got.bars[0].time, day("2020-01-01"));
    assert!(got.bars.iter().all(|b| b.volume == 0.0));
}

#[tokio::test]
async fn gold_futures_stamped_at_new_york_midnight_keep_their_date() {
    let gc = instrument("GC=F", InstrumentKind::Commodity, Currency::USD, "yahoo");
    let got = bars_from(
        "chart-1d-GC=F.json",
        &gc,
        Interval::D1,
        "2020-01-01T00:00:00Z",
        "2020-01-03T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 1);
    assert_eq!(got.bars[0].time, day("2020-01-02"));
}

#[tokio::test]
async fn pence_are_converted_to_pounds_exactly() {
    let ocdo = instrument("OCDO.L", InstrumentKind::Stock, Currency::GBP, "yahoo");
    let got = bars_from(
        "chart-1d-OCDO.L-GBp.json",
        &ocdo,
        Interval::D1,
        "2020-01-01T00:00:00Z",
        "2020-01-03T00:00:00Z",
    )
    .await;
    assert_eq!(got.currency, Some(Currency::GBP));
    let b = &got.bars[0];
    assert_eq!(b.close, 12.595, "1259.5 GBp is 12.595 GBP");
    assert_eq!(b.open, 12.795);
    assert_eq!(b.low, 12.58);
    assert_eq!(b.high, "12.865699462890625".parse::<f64>().unwrap());
    assert_eq!(b.volume, 728520.0, "volume is not a price");
}

#[tokio::test]
async fn jakarta_bar_is_keyed_by_its_local_date() {
    let w = instrument(
        "WSKT.JK",
        InstrumentKind::Stock,
        Currency::parse("IDR").unwrap(),
        "yahoo",
    );
    let got = bars_from(
        "chart-1d-WSKT.JK.json",
        &w,
        Interval::D1,
        "2020-01-01T00:00:00Z",
        "2020-01-03T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 1);
    assert_eq!(got.bars[0].time, day("2020-01-02"));
}

#[tokio::test]
async fn a_bar_that_is_null_in_every_array_is_skipped_not_stored_as_zeros() {
    let w = instrument("WSU.DE", InstrumentKind::Stock, Currency::EUR, "yahoo");
    let got = bars_from(
        "chart-1d-WSU.DE-null-bar.json",
        &w,
        Interval::D1,
        "2023-08-04T00:00:00Z",
        "2023-08-09T00:00:00Z",
    )
    .await;
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(days, ["2023-08-04", "2023-08-08"]);
    assert!(got.rejected.is_empty());
    assert!(got.bars.iter().all(|b| b.low > 0.0));
}

#[tokio::test]
async fn a_mutual_fund_with_a_null_day_keeps_its_flat_bar() {
    let f = instrument("0P0000XTS7", InstrumentKind::Fund, Currency::USD, "yahoo");
    let got = bars_from(
        "chart-1d-0P0000XTS7-null-bar.json",
        &f,
        Interval::D1,
        "2024-09-12T00:00:00Z",
        "2024-09-16T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 1);
    let b = &got.bars[0];
    assert_eq!((b.open, b.volume), (b.close, 0.0));
}

#[tokio::test]
async fn one_minute_bars_skip_the_null_minute_and_drop_the_live_bar_outside_the_period() {
    let got = bars_from(
        "chart-1m-AAPL-null-bar.json",
        &stock("AAPL"),
        Interval::M1,
        "2024-10-02T00:00:00Z",
        "2024-10-03T00:00:00Z",
    )
    .await;
    // 391 stamps: one null minute, one live bar on the next day.
    assert_eq!(got.bars.len(), 389);
    assert!(
        !got.bars
            .iter()
            .any(|b| b.time == ts("2024-10-02T15:15:00Z"))
    );
    assert!(got.bars.iter().all(|b| b.time < ts("2024-10-03T00:00:00Z")));
    assert_eq!(got.bars.last().unwrap().time, ts("2024-10-02T19:59:00Z"));
    assert_eq!(got.incomplete, None);
}

#[tokio::test]
async fn the_current_price_bar_at_the_close_is_not_stored_by_the_completion_run() {
    // The completion run after the close asks from the last stored bar to
    // now plus one interval, so the range covers 20:00Z, where Yahoo puts a
    // flat, zero-volume "current price" bar (regularMarketTime is one second
    // later, and 20:00Z is on the minute grid).
    let server = serve_fixture(200, "yahoo/chart-1m-AAPL-null-bar.json").await;
    let y = YahooProvider::new(adapter(&server.uri(), "2024-10-03T20:10:00Z"), None).unwrap();
    let got = y
        .fetch_bars(
            &stock("AAPL"),
            Interval::M1,
            ts("2024-10-02T19:00:00Z"),
            ts("2024-10-03T20:11:00Z"),
        )
        .await
        .unwrap();
    assert!(
        !got.bars
            .iter()
            .any(|b| b.time == ts("2024-10-03T20:00:00Z")),
        "the current price is not a bar"
    );
    assert_eq!(got.bars.last().unwrap().time, ts("2024-10-02T19:59:00Z"));
    assert_eq!(got.bars.len(), 60);
    assert!(got.rejected.is_empty());
    assert_eq!(got.incomplete, None);
}

#[tokio::test]
async fn the_bar_forming_inside_the_session_is_kept_near_the_market_time() {
    // 15:00 and 15:01 on the minute grid, regularMarketTime 15:01:30 inside
    // the 13:30–20:00Z session: the 15:01 bar is real and still forming.
    let body = serde_json::json!({"chart": {"result": [{
        "meta": {
            "currency": "USD", "exchangeTimezoneName": "America/New_York",
            "regularMarketTime": 1727881290,
            "currentTradingPeriod": {"regular": {"start": 1727875800, "end": 1727899200}},
            "tradingPeriods": [[{"start": 1727875800, "end": 1727899200}]]
        },
        "timestamp": [1727881200, 1727881260],
        "indicators": {"quote": [{
            "open": [226.0, 226.5], "high": [226.6, 226.7], "low": [225.9, 226.4],
            "close": [226.5, 226.6], "volume": [1000, 300]
        }]}
    }], "error": null}});
    let server = serve(200, body.to_string()).await;
    let y = YahooProvider::new(adapter(&server.uri(), "2024-10-02T15:01:30Z"), None).unwrap();
    let got = y
        .fetch_bars(
            &stock("AAPL"),
            Interval::M1,
            ts("2024-10-02T15:00:00Z"),
            ts("2024-10-02T15:02:30Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.len(), 2);
    assert_eq!(got.incomplete, Some(ts("2024-10-02T15:01:00Z")));
}

#[tokio::test]
async fn the_minute_still_forming_is_flagged_incomplete() {
    let server = serve_fixture(200, "yahoo/chart-1m-AAPL-null-bar.json").await;
    let y = YahooProvider::new(adapter(&server.uri(), "2024-10-02T19:59:30Z"), None).unwrap();
    let got = y
        .fetch_bars(
            &stock("AAPL"),
            Interval::M1,
            ts("2024-10-02T00:00:00Z"),
            ts("2024-10-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.incomplete, Some(ts("2024-10-02T19:59:00Z")));
    assert_eq!(got.complete_bars().count(), 388);
}

#[tokio::test]
async fn todays_daily_bar_is_flagged_incomplete_during_the_session() {
    let server = serve_fixture(200, "yahoo/chart-1d-AAPL-period.json").await;
    let y = YahooProvider::new(adapter(&server.uri(), "2020-01-02T16:00:00Z"), None).unwrap();
    let got = y
        .fetch_bars(
            &stock("AAPL"),
            Interval::D1,
            ts("2020-01-01T00:00:00Z"),
            ts("2020-01-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.incomplete, Some(day("2020-01-02")));
}

#[tokio::test]
async fn thirty_minute_prepost_chart_parses_whatever_the_key_order() {
    let got = bars_from(
        "chart-30m-TSLA-prepost.json",
        &stock("TSLA"),
        Interval::M15,
        "2021-11-22T00:00:00Z",
        "2021-11-23T00:00:00Z",
    )
    .await;
    assert_eq!(got.bars.len(), 30);
    assert_eq!(got.bars[0].time, ts("2021-11-22T09:00:00Z"));
}

#[tokio::test]
async fn empty_ranges_are_no_bars_and_no_error() {
    for (file, interval, from, to) in [
        (
            "chart-1m-AAPL-weekend-no-data.json",
            Interval::M1,
            "2025-02-01T00:00:00Z",
            "2025-02-02T00:00:00Z",
        ),
        (
            "chart-1h-TSLA-period1-eq-period2-no-data.json",
            Interval::H1,
            "2021-11-23T00:00:00Z",
            "2021-11-23T01:00:00Z",
        ),
        (
            "chart-1d-APS.AX-no-data.json",
            Interval::D1,
            "2020-01-01T00:00:00Z",
            "2020-01-03T00:00:00Z",
        ),
    ] {
        let got = bars_from(file, &stock("AAPL"), interval, from, to).await;
        assert!(got.bars.is_empty(), "{file}");
        assert!(got.rejected.is_empty(), "{file}");
    }
}

#[tokio::test]
async fn a_range_before_the_listing_http_400_is_no_bars() {
    let server = serve_fixture(400, "yahoo/chart-error-400-data-doesnt-exist.json").await;
    let got = yahoo(&server)
        .fetch_bars(
            &stock("BEKE"),
            Interval::D1,
            ts("2020-01-01T00:00:00Z"),
            ts("2020-01-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert!(got.bars.is_empty());
}

#[tokio::test]
async fn an_unknown_symbol_http_404_gives_up_with_yahoos_words() {
    let server = serve_fixture(404, "yahoo/chart-error-404-not-found.json").await;
    let e = yahoo(&server)
        .fetch_bars(
            &stock("SI"),
            Interval::D1,
            ts("2020-01-01T00:00:00Z"),
            ts("2020-01-03T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::UnknownSymbol);
    assert_eq!(e.class, ErrorClass::GiveUp);
    assert!(e.message.contains("symbol may be delisted"), "{e}");
    assert_eq!(e.provider, "yahoo");
}

#[tokio::test]
async fn the_quote_summary_404_envelope_is_understood_too() {
    let server = serve_fixture(404, "yahoo/quoteSummary-error-404.json").await;
    let e = yahoo(&server)
        .fetch_quote(&stock("EURUSD=X"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::UnknownSymbol);
}

#[tokio::test]
async fn the_plain_text_429_is_retry_later_with_its_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_string(fixture("yahoo/error-429-edge-too-many-requests.txt")),
        )
        .mount(&server)
        .await;
    let e = yahoo(&server)
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(7)));
    assert!(e.message.contains("Edge: Too Many Requests"));
    // Without the header: retry later, no hint.
    let server = serve_fixture(429, "yahoo/error-429-edge-too-many-requests.txt").await;
    let e = yahoo(&server)
        .fetch_quote(&stock("AAPL"))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::RetryLater { retry_after: None });
}

#[tokio::test]
async fn the_old_csv_download_is_not_json_and_says_so() {
    let server = serve_fixture(200, "yahoo/download-csv-AAPL.csv").await;
    let e = yahoo(&server)
        .fetch_bars(
            &stock("AAPL"),
            Interval::D1,
            ts("2020-01-01T00:00:00Z"),
            ts("2020-01-03T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Decode);
    assert_eq!(e.class, ErrorClass::TryNext);
    assert!(e.message.contains("Date,Open"), "{e}");
}

#[tokio::test]
async fn the_quote_comes_from_the_chart_meta() {
    let server = serve_fixture(200, "yahoo/chart-1d-AAPL-period.json").await;
    let q = yahoo(&server).fetch_quote(&stock("AAPL")).await.unwrap();
    assert_eq!(q.price, 244.87);
    assert_eq!(q.time, jiff::Timestamp::from_second(1739998801).unwrap());
    assert_eq!(q.previous_close, Some(73.412));
    assert_eq!(q.currency, Currency::USD);
    let q = query_of(&server, 0).await;
    assert_eq!(param(&q, "range").as_deref(), Some("1d"));
}

#[tokio::test]
async fn a_chart_quote_in_pence_is_in_pounds() {
    let server = serve_fixture(200, "yahoo/chart-1d-OCDO.L-GBp.json").await;
    let ocdo = instrument("OCDO.L", InstrumentKind::Stock, Currency::GBP, "yahoo");
    let q = yahoo(&server).fetch_quote(&ocdo).await.unwrap();
    assert_eq!((q.price, q.currency), (3.053, Currency::GBP));
    assert_eq!(q.previous_close, Some(12.79));
}

/// A fake Yahoo with a cookie host, a crumb endpoint and the v7 quote.
async fn crumb_server(quote_file: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/fc"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("set-cookie", "A3=d=AQAB; Domain=.yahoo.com; Path=/; Secure"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v1/test/getcrumb"))
        .respond_with(ResponseTemplate::new(200).set_body_string("haT3oykhHqZ"))
        .mount(&server)
        .await;
    Mock::given(path("/v7/finance/quote"))
        .and(query_param("crumb", "haT3oykhHqZ"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture(quote_file)))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn batch_quotes_fetch_the_crumb_once_and_send_the_cookie() {
    let server = crumb_server("yahoo/quote-multi-AAPL-BABA.json").await;
    let y = yahoo(&server);
    let insts = [stock("AAPL"), stock("BABA")];
    let got = y.fetch_quotes(&insts).await;
    let aapl = got[0].as_ref().unwrap();
    let baba = got[1].as_ref().unwrap();
    assert!(aapl.price > 0.0 && baba.price > 0.0);
    assert_ne!(aapl.price, baba.price);
    // Second call reuses the cached crumb.
    let again = y.fetch_quotes(&insts).await;
    assert!(again.iter().all(Result::is_ok));
    let reqs = server.received_requests().await.unwrap();
    let crumbs = reqs
        .iter()
        .filter(|r| r.url.path() == "/v1/test/getcrumb")
        .count();
    assert_eq!(crumbs, 1, "crumb cached");
    let quote_req = reqs
        .iter()
        .find(|r| r.url.path() == "/v7/finance/quote")
        .unwrap();
    assert_eq!(
        quote_req.headers.get("cookie").unwrap().to_str().unwrap(),
        "A3=d=AQAB"
    );
    let q: Vec<_> = quote_req.url.query_pairs().collect();
    assert!(q.iter().any(|(k, v)| k == "symbols" && v == "AAPL,BABA"));
}

#[tokio::test]
async fn each_recorded_v7_quote_parses() {
    for (file, sym, kind, ccy) in [
        (
            "yahoo/quote-AAPL.json",
            "AAPL",
            InstrumentKind::Stock,
            Currency::USD,
        ),
        (
            "yahoo/quote-BTC-USD.json",
            "BTC-USD",
            InstrumentKind::Crypto,
            Currency::USD,
        ),
        (
            "yahoo/quote-EURUSD=X.json",
            "EURUSD=X",
            InstrumentKind::Fx,
            Currency::USD,
        ),
        (
            "yahoo/quote-GC=F.json",
            "GC=F",
            InstrumentKind::Commodity,
            Currency::USD,
        ),
        (
            "yahoo/quote-fields-MSFT-beta.json",
            "MSFT",
            InstrumentKind::Stock,
            Currency::USD,
        ),
    ] {
        let server = crumb_server(file).await;
        let got = yahoo(&server)
            .fetch_quotes(&[instrument(sym, kind, ccy, "yahoo")])
            .await
            .remove(0)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(got.price > 0.0, "{file}");
        assert_eq!(got.currency, ccy, "{file}");
        assert!(got.time > ts("2025-01-01T00:00:00Z"), "{file}");
    }
}

#[tokio::test]
async fn a_v7_quote_in_pence_is_converted() {
    let server = crumb_server("yahoo/quote-OCDO.L-GBp.json").await;
    let ocdo = instrument("OCDO.L", InstrumentKind::Stock, Currency::GBP, "yahoo");
    let q = yahoo(&server)
        .fetch_quotes(&[ocdo])
        .await
        .remove(0)
        .unwrap();
    assert_eq!(q.price, 3.088);
    assert_eq!(q.previous_close, Some(3.152));
    assert_eq!(q.currency, Currency::GBP);
}

#[tokio::test]
async fn an_unknown_symbol_in_a_v7_batch_gives_up_for_that_symbol() {
    let server = crumb_server("yahoo/quote-unknown-symbol-empty-result.json").await;
    let e = yahoo(&server)
        .fetch_quotes(&[stock("SIX")])
        .await
        .remove(0)
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::UnknownSymbol);
    assert_eq!(e.class, ErrorClass::GiveUp);
}

#[tokio::test]
async fn a_401_invalid_crumb_refreshes_the_crumb_once() {
    let server = MockServer::start().await;
    Mock::given(path("/fc"))
        .respond_with(ResponseTemplate::new(404).insert_header("set-cookie", "A3=x; Path=/"))
        .mount(&server)
        .await;
    // First crumb is stale, the second one works.
    Mock::given(path("/v1/test/getcrumb"))
        .respond_with(ResponseTemplate::new(200).set_body_string("stale"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/test/getcrumb"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fresh"))
        .mount(&server)
        .await;
    Mock::given(path("/v7/finance/quote"))
        .and(query_param("crumb", "stale"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(fixture("yahoo/quote-error-401-invalid-crumb.json")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v7/finance/quote"))
        .and(query_param("crumb", "fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("yahoo/quote-AAPL.json")))
        .mount(&server)
        .await;
    let q = yahoo(&server)
        .fetch_quotes(&[stock("AAPL")])
        .await
        .remove(0)
        .unwrap();
    assert!(q.price > 0.0);
}

#[tokio::test]
async fn a_crumb_refused_twice_gives_up_as_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/test/getcrumb"))
        .respond_with(ResponseTemplate::new(200).set_body_string("abc"))
        .mount(&server)
        .await;
    Mock::given(path("/v7/finance/quote"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(fixture("yahoo/quote-error-401-invalid-crumb.json")),
        )
        .mount(&server)
        .await;
    let e = yahoo(&server)
        .fetch_quotes(&[stock("AAPL")])
        .await
        .remove(0)
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Unauthorized);
    assert!(e.message.contains("Invalid Crumb"), "{e}");
}

#[test]
fn an_instruments_own_provider_symbol_overrides_the_mapping() {
    let mut i = stock("MYAPPLE");
    i.provider_symbol = Some("AAPL".into());
    let y = YahooProvider::new(
        pricetrack_providers::AdapterConfig::new("http://127.0.0.1:9"),
        None,
    )
    .unwrap();
    assert_eq!(y.provider_symbol(&i).as_deref(), Some("AAPL"));
    assert!(y.capabilities().batch_quotes);
}
