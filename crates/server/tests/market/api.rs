//! The market-data routes over HTTP, on both backends, with the price source
//! pointed at the fake Yahoo server.

use crate::fake::{FakeYahoo, registry, ts};
use crate::harness::{Backend, TestApp, json, problem, spawn_app_configured};
use pricetrack_providers::ManualTime;
use pricetrack_server::config::Settings;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

pub struct MarketApp {
    pub app: TestApp,
    pub fake: FakeYahoo,
    _server: wiremock::MockServer,
}

pub async fn spawn(backend: Backend) -> Option<MarketApp> {
    let time = Arc::new(ManualTime::new(ts(crate::harness::NOW)));
    let fake = FakeYahoo::new(time.clone());
    let server = fake.start().await;
    let uri = server.uri();
    let app = spawn_app_configured(backend, Settings::default(), move |ctx| {
        ctx.with_prices(Arc::new(registry(&uri, time, false)))
    })
    .await?;
    Some(MarketApp {
        app,
        fake,
        _server: server,
    })
}

pub async fn refresh_now_fetches_and_status_reports_it(m: MarketApp) {
    let app = &m.app;
    m.fake.list("AAPL", "2024-01-02T00:00:00Z");
    app.add_instrument("AAPL", "stock", "USD").await;

    // Saturday: the market is closed, but "refresh now" fetches anyway,
    // backfilling first as there are no bars yet.
    let r = app
        .request(Method::POST, "/api/v1/instruments/AAPL/refresh")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["symbol"], "AAPL");
    assert_eq!(body["failed"], 0, "{body}");
    let run = &body["runs"][0];
    assert_eq!(run["interval"], "1d");
    assert_eq!(run["kind"], "backfill");
    assert_eq!(run["provider"], "yahoo");
    assert!(run["bars_stored"].as_u64().unwrap() > 100, "{body}");
    assert!(run["error"].is_null());

    let status = json(app.get("/api/v1/instruments/AAPL/status").await).await;
    assert_eq!(status["provider"], "yahoo");
    assert_eq!(status["fetched"], true);
    assert_eq!(status["simulated"], false);
    let daily = &status["series"][0];
    assert_eq!(daily["interval"], "1d");
    assert_eq!(daily["provider"], "yahoo");
    assert_eq!(daily["failures"], 0);
    assert_eq!(daily["backfill"]["done"], true);
    assert!(daily["last_success_at"].is_string());
    assert!(daily["last_error"].is_null());
    // Next due: Monday's close plus the delay.
    assert_eq!(daily["next_due_at"], "2024-06-17T20:10:00Z");

    // A failing provider: the failure is in the response and in the status.
    m.fake.fail_before(Some(ts("2100-01-01T00:00:00Z")));
    let r = app
        .request(Method::POST, "/api/v1/instruments/AAPL/refresh")
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(body["failed"], 1, "{body}");
    assert!(body["runs"][0]["error"].as_str().unwrap().contains("500"));
    let status = json(app.get("/api/v1/instruments/AAPL/status").await).await;
    assert_eq!(status["series"][0]["failures"], 1);
    assert_eq!(status["series"][0]["failures_total"], 1);
    assert!(
        status["series"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("500")
    );

    // Hand-priced instruments are never fetched; unknown ones are 404.
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "ROLEX-SUB-2019", "name": "Submariner", "kind": "item", "currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .request(Method::POST, "/api/v1/instruments/ROLEX-SUB-2019/refresh")
        .send()
        .await
        .unwrap();
    problem(r, 409).await;
    let status = json(app.get("/api/v1/instruments/ROLEX-SUB-2019/status").await).await;
    assert_eq!(status["fetched"], false);
    assert_eq!(status["series"].as_array().unwrap().len(), 0);
    let r = app
        .request(Method::POST, "/api/v1/instruments/NOPE/refresh")
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    problem(app.get("/api/v1/instruments/NOPE/status").await, 404).await;
    let r = app
        .anonymous(Method::POST, "/api/v1/instruments/AAPL/refresh")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

pub async fn implausible_ingested_bars_are_quarantined_then_released_or_dropped(m: MarketApp) {
    let app = &m.app;
    app.add_instrument("ACME", "stock", "USD").await;
    let bars = json!([
        {"time": "2024-06-10", "open": 100, "high": 101, "low": 99, "close": 100, "volume": 10},
        {"time": "2024-06-11", "open": 100, "high": 102, "low": 99, "close": 101, "volume": 10},
        {"time": "2024-06-12", "open": 1.01, "high": 1.02, "low": 1.0, "close": 1.01, "volume": 10},
        {"time": "2024-06-13", "open": 101, "high": 103, "low": 100, "close": 102, "volume": 10},
        {"time": "2024-06-20", "open": 101, "high": 103, "low": 100, "close": 102, "volume": 10}
    ]);
    let r = app
        .post_json("/api/v1/instruments/ACME/bars?interval=1d", &bars)
        .await;
    assert_eq!(r.status(), 200);
    let report = json(r).await;
    assert_eq!(report["inserted"], 3, "{report}");
    assert_eq!(report["rejected"], 0);
    assert_eq!(report["quarantined"], 2);
    let rows = report["quarantined_rows"].as_array().unwrap();
    assert_eq!(rows[0]["index"], 2);
    assert_eq!(rows[0]["reason_code"], "price_jump");
    assert_eq!(rows[1]["index"], 4);
    assert_eq!(rows[1]["reason_code"], "in_future");
    let jump_id = rows[0]["id"].as_i64().unwrap();
    let future_id = rows[1]["id"].as_i64().unwrap();

    // A malformed row still rejects the whole upload.
    let bad = json!([{"time": "2024-06-14", "open": 10, "high": 9, "low": 11, "close": 10}]);
    let r = app
        .post_json("/api/v1/instruments/ACME/bars?interval=1d", &bad)
        .await;
    problem(r, 422).await;

    let page = json(app.get("/api/v1/quarantine?symbol=ACME").await).await;
    assert_eq!(page["total"], 2);
    let newest = &page["items"][0];
    assert_eq!(newest["id"], future_id);
    assert_eq!(newest["source"], "api");
    assert_eq!(newest["time"], "2024-06-20T00:00:00Z");
    assert!(newest["raw"].as_str().unwrap().contains("102"));
    let paged = json(app.get("/api/v1/quarantine?limit=1&offset=1").await).await;
    assert_eq!(paged["items"][0]["id"], jump_id);
    problem(app.get("/api/v1/quarantine?symbol=NOPE").await, 404).await;

    // Changing shared data needs the admin role.
    let bob = app.other_user("bob").await;
    let r = bob
        .request(
            Method::POST,
            &format!("/api/v1/quarantine/{jump_id}/release"),
        )
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    let r = bob
        .request(Method::DELETE, &format!("/api/v1/quarantine/{future_id}"))
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    let r = bob
        .request(Method::GET, "/api/v1/quarantine")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "anyone may look");

    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/quarantine/{jump_id}/release"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let released = json(r).await;
    assert_eq!(released["close"], 1.01);
    let series = json(app.get("/api/v1/instruments/ACME/bars?interval=1d").await).await;
    assert_eq!(series["bars"].as_array().unwrap().len(), 4);

    let r = app
        .request(Method::DELETE, &format!("/api/v1/quarantine/{future_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .request(Method::DELETE, &format!("/api/v1/quarantine/{future_id}"))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/quarantine/{future_id}/release"),
        )
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let page = json(app.get("/api/v1/quarantine").await).await;
    assert_eq!(page["total"], 0);
}

pub async fn bars_before_the_listing_date_are_quarantined(m: MarketApp) {
    let app = &m.app;
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "ABNB", "name": "Airbnb", "kind": "stock", "currency": "USD",
                    "exchange": "NASDAQ", "listing_date": "2020-12-10"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["listing_date"], "2020-12-10");
    let bars = json!([
        {"time": "2020-12-09", "open": 140, "high": 150, "low": 139, "close": 144, "volume": 1},
        {"time": "2020-12-10", "open": 146, "high": 165, "low": 141, "close": 144.71, "volume": 1},
        {"time": "2020-12-11", "open": 146, "high": 151, "low": 135, "close": 139.25, "volume": 1}
    ]);
    let report = json(
        app.post_json("/api/v1/instruments/ABNB/bars?interval=1d", &bars)
            .await,
    )
    .await;
    assert_eq!(report["inserted"], 2, "{report}");
    assert_eq!(report["quarantined"], 1, "{report}");
    assert_eq!(report["quarantined_rows"][0]["index"], 0);
    assert_eq!(
        report["quarantined_rows"][0]["reason_code"],
        "before_listing"
    );

    // A bad date names the field; an empty one clears it.
    let r = app
        .request(Method::PATCH, "/api/v1/instruments/ABNB")
        .json(&json!({"listing_date": "10.12.2020"}))
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert!(body.to_string().contains("listing_date"), "{body}");
    let r = app
        .request(Method::PATCH, "/api/v1/instruments/ABNB")
        .json(&json!({"listing_date": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(json(r).await["listing_date"].is_null());
}

pub async fn dividends_and_splits_from_the_provider_are_listed_per_instrument(m: MarketApp) {
    let app = &m.app;
    // Apple's 4:1 split of 2020-08-31 and the dividend of 2020-11-06, as
    // Yahoo recorded them alongside the bars.
    m.fake
        .record("AAPL", "chart-1d-AAPL-split-dividend-events.json");
    app.add_instrument("AAPL", "stock", "USD").await;
    let r = app
        .request(Method::POST, "/api/v1/instruments/AAPL/refresh")
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(body["failed"], 0, "{body}");
    assert_eq!(body["quarantined"], 0, "{body}");
    assert_eq!(body["runs"][0]["bars_stored"], 49, "{body}");

    let body = json(app.get("/api/v1/instruments/AAPL/events").await).await;
    assert_eq!(
        body,
        json!({
            "symbol": "AAPL",
            "currency": "USD",
            "events": [
                {"type": "split", "date": "2020-08-31", "numerator": "4", "denominator": "1",
                 "ratio": "4:1", "source": "yahoo", "recorded_at": crate::harness::NOW},
                {"type": "dividend", "date": "2020-11-06", "amount": "0.205",
                 "source": "yahoo", "recorded_at": crate::harness::NOW}
            ]
        })
    );
    // Refreshing again records nothing twice.
    app.request(Method::POST, "/api/v1/instruments/AAPL/refresh")
        .send()
        .await
        .unwrap();
    let again = json(app.get("/api/v1/instruments/AAPL/events").await).await;
    assert_eq!(again["events"].as_array().unwrap().len(), 2);

    // An instrument without events has an empty list; unknown ones are 404.
    app.add_instrument("MSFT", "stock", "USD").await;
    let none = json(app.get("/api/v1/instruments/MSFT/events").await).await;
    assert_eq!(none["events"], json!([]));
    problem(app.get("/api/v1/instruments/NOPE/events").await, 404).await;
    let r = app
        .anonymous(Method::GET, "/api/v1/instruments/AAPL/events")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

pub async fn a_misspelt_provider_is_refused_naming_the_accepted_ones(m: MarketApp) {
    let app = &m.app;
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "AAPL", "name": "Apple", "kind": "stock", "currency": "USD", "provider": "yahooo"}),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(body["errors"][0]["field"], "provider", "{body}");
    let text = body["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(text.contains("\"yahooo\""), "{body}");
    for name in [
        "yahoo",
        "stooq",
        "coingecko",
        "binance",
        "alphavantage",
        "manual",
        "url",
        "demo",
    ] {
        assert!(text.contains(name), "{name} is listed: {body}");
    }
    problem(app.get("/api/v1/instruments/AAPL").await, 404).await;

    // Changing an instrument's provider is checked the same way.
    app.add_instrument("AAPL", "stock", "USD").await;
    let r = app
        .request(Method::PATCH, "/api/v1/instruments/AAPL")
        .json(&json!({"provider": "stoq"}))
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert_eq!(body["errors"][0]["field"], "provider", "{body}");
    let reason = body["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("\"stoq\""), "{body}");
    let stored = json(app.get("/api/v1/instruments/AAPL").await).await;
    assert_eq!(stored["provider"], "yahoo", "nothing changed");
    let r = app
        .request(Method::PATCH, "/api/v1/instruments/AAPL")
        .json(&json!({"provider": "stooq"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["provider"], "stooq");
}

pub async fn simulated_prices_are_labelled_in_quotes_and_bar_reads(m: MarketApp) {
    let app = &m.app;
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "DEMO-CO", "name": "Demo Co (simulated)", "kind": "stock", "currency": "USD", "provider": "demo"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    m.fake.list("AAPL", "2024-01-02T00:00:00Z");
    app.add_instrument("AAPL", "stock", "USD").await;
    for s in ["DEMO-CO", "AAPL"] {
        let r = app
            .request(Method::POST, &format!("/api/v1/instruments/{s}/refresh"))
            .send()
            .await
            .unwrap();
        assert_eq!(json(r).await["failed"], 0);
    }
    for (s, simulated) in [("DEMO-CO", true), ("AAPL", false)] {
        let q = json(app.get(&format!("/api/v1/instruments/{s}/quote")).await).await;
        assert_eq!(q["simulated"], simulated, "{q}");
        assert!(q["price"].as_f64().is_some(), "existing fields stay: {q}");
        let r = app
            .get(&format!("/api/v1/instruments/{s}/bars?interval=1d&limit=5"))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["pricetrack-simulated"],
            if simulated { "true" } else { "false" },
            "{s}"
        );
        let body = json(r).await;
        assert_eq!(body["bars"].as_array().map(Vec::len), Some(5), "{body}");
    }
}

/// The field named by a 422 problem's first error.
async fn refused_field(r: reqwest::Response) -> String {
    let body = problem(r, 422).await;
    body["errors"][0]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no field in {body}"))
        .to_owned()
}

pub async fn an_instruments_url_source_is_checked_stored_patched_and_cleared(m: MarketApp) {
    let app = &m.app;
    let coin = |source: serde_json::Value| {
        json!({"symbol": "KRUGER-1OZ", "name": "Krugerrand 1 oz", "kind": "item",
               "currency": "EUR", "provider": "url", "url_source": source})
    };
    // Provider url with no source of its own and none in the environment.
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "KRUGER-1OZ", "name": "Krugerrand 1 oz", "kind": "item",
                    "currency": "EUR", "provider": "url"}),
        )
        .await;
    assert_eq!(refused_field(r).await, "url_source");
    // Each part that does not compile is named; nothing is written.
    for (source, field) in [
        (
            json!({"url": "https://coins.test/{SYMBOL}", "extract": {"regex": "([0-9"}}),
            "url_source.extract.regex",
        ),
        (
            json!({"url": "https://coins.test/{SYMBOL}", "extract": {"json_path": "$[?"}}),
            "url_source.extract.json_path",
        ),
        (
            json!({"url": "https://coins.test/", "extract": {"css": {"selector": "span..p"}}}),
            "url_source.extract.css.selector",
        ),
        (
            json!({"url": "ftp://coins.test/{SYMBOL}", "extract": {"regex": "(\\d+)"}}),
            "url_source.url",
        ),
        (
            json!({"url": "https://coins.test/", "extract": {"xpath": "//p"}}),
            "url_source",
        ),
    ] {
        let r = app.post_json("/api/v1/instruments", &coin(source)).await;
        assert_eq!(refused_field(r).await, field);
        problem(app.get("/api/v1/instruments/KRUGER-1OZ").await, 404).await;
    }

    let css = json!({"url": "https://coins.test/{SYMBOL}",
                     "extract": {"css": {"selector": "span.price", "attribute": "data-eur"}},
                     "number_format": "decimal_comma"});
    let r = app
        .post_json("/api/v1/instruments", &coin(css.clone()))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["url_source"], css);
    let got = json(app.get("/api/v1/instruments/KRUGER-1OZ").await).await;
    assert_eq!(got["url_source"], css);

    let patch = |body: serde_json::Value| {
        app.request(Method::PATCH, "/api/v1/instruments/KRUGER-1OZ")
            .json(&body)
            .send()
    };
    // A bad PATCH changes nothing.
    let r = patch(json!({"url_source": {"url": "https://coins.test/", "extract": {"regex": "("}}}))
        .await
        .unwrap();
    assert_eq!(refused_field(r).await, "url_source.extract.regex");
    // Clearing the only source of a url instrument is refused too.
    let r = patch(json!({"url_source": null})).await.unwrap();
    assert_eq!(refused_field(r).await, "url_source");
    let got = json(app.get("/api/v1/instruments/KRUGER-1OZ").await).await;
    assert_eq!(got["url_source"], css);

    // A patch of another field keeps the source; a new one replaces it.
    let r = patch(json!({"name": "Krugerrand"})).await.unwrap();
    assert_eq!(json(r).await["url_source"], css);
    let nav = json!({"url": "https://coins.test/{SYMBOL}.json",
                     "extract": {"json_path": "$.price"}, "number_format": "auto"});
    let r = patch(
        json!({"url_source": {"url": "https://coins.test/{SYMBOL}.json",
                                        "extract": {"json_path": "$.price"}}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let got = json(app.get("/api/v1/instruments/KRUGER-1OZ").await).await;
    assert_eq!(got["url_source"], nav, "number_format defaults to auto");

    // Off the url provider the source can be cleared.
    let r = patch(json!({"provider": "manual", "url_source": null}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = json(app.get("/api/v1/instruments/KRUGER-1OZ").await).await;
    assert!(got.get("url_source").is_none(), "{got}");
    assert_eq!(got["provider"], "manual");
}
