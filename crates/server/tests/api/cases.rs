//! The behaviours, written once; `main.rs` runs each on both backends.

use crate::harness::{TestApp, json, problem};
use reqwest::Method;
use serde_json::{Value, json};
use std::fmt::Write as _;

pub async fn requests_without_a_valid_token_get_401_problems(app: TestApp) {
    let r = app
        .anonymous(Method::GET, "/api/v1/instruments")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("www-authenticate").unwrap(), "Bearer");
    problem(r, 401).await;
    let r = app
        .anonymous(Method::GET, "/api/v1/portfolios")
        .bearer_auth("pt_not-a-real-token")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

pub async fn health_and_readiness_answer_without_a_token(app: TestApp) {
    let r = app.anonymous(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.anonymous(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
}

pub async fn instruments_can_be_created_read_searched_updated_and_deleted(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("BTC-USD", "crypto", "USD").await;
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "VWCE.DE", "name": "Vanguard FTSE All-World", "kind": "etf", "currency": "EUR",
                    "exchange": "XETRA", "provider": "yahoo", "provider_symbol": "VWCE.DE"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    for field in [
        "symbol",
        "name",
        "kind",
        "currency",
        "exchange",
        "provider",
        "provider_symbol",
    ] {
        assert!(created.get(field).is_some(), "field {field} in {created}");
    }

    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "AAPL", "name": "x", "kind": "stock", "currency": "USD"}),
        )
        .await;
    problem(r, 409).await;

    let one = json(app.get("/api/v1/instruments/AAPL").await).await;
    assert_eq!(one["kind"], "stock");
    assert_eq!(one["provider"], "yahoo");

    let crypto = json(app.get("/api/v1/instruments?kind=crypto").await).await;
    assert_eq!(crypto["total"], 1);
    assert_eq!(crypto["items"][0]["symbol"], "BTC-USD");
    let search = json(app.get("/api/v1/instruments?q=all-world").await).await;
    assert_eq!(search["items"][0]["symbol"], "VWCE.DE");
    let page = json(app.get("/api/v1/instruments?limit=2&offset=1").await).await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["symbol"], "BTC-USD", "ordered by symbol");

    let r = app
        .request(Method::PATCH, "/api/v1/instruments/AAPL")
        .json(&json!({"name": "Apple Inc.", "exchange": "NASDAQ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated = json(app.get("/api/v1/instruments/AAPL").await).await;
    assert_eq!(updated["name"], "Apple Inc.");
    assert_eq!(updated["exchange"], "NASDAQ");

    let r = app
        .request(Method::DELETE, "/api/v1/instruments/AAPL")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    problem(app.get("/api/v1/instruments/AAPL").await, 404).await;
    problem(
        app.request(Method::DELETE, "/api/v1/instruments/AAPL")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

pub async fn symbols_with_punctuation_work_url_encoded(app: TestApp) {
    for (symbol, encoded) in [
        ("GC=F", "GC%3DF"),
        ("^GSPC", "%5EGSPC"),
        ("EURUSD=X", "EURUSD%3DX"),
        ("BRK.B", "BRK.B"),
    ] {
        app.add_instrument(symbol, "index", "USD").await;
        let r = app.get(&format!("/api/v1/instruments/{encoded}")).await;
        assert_eq!(r.status(), 200, "{symbol}");
        assert_eq!(json(r).await["symbol"], symbol);
    }
    let r = app.get("/api/v1/instruments/lower%20case").await;
    let body = problem(r, 422).await;
    assert_eq!(body["errors"][0]["field"], "symbol");
}

pub async fn only_admins_change_instruments(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let bob = app.other_user("bob").await;
    let r = bob
        .request(Method::POST, "/api/v1/instruments")
        .json(&json!({"symbol": "MSFT", "name": "Microsoft", "kind": "stock", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    let r = bob
        .request(Method::DELETE, "/api/v1/instruments/AAPL")
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    // Reading is for everyone.
    let r = bob
        .request(Method::GET, "/api/v1/instruments/AAPL")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn buy(symbol: &str, time: &str, quantity: &str, price: &str) -> Value {
    json!({"type": "buy", "time": time, "symbol": symbol, "quantity": quantity, "price": price, "fee": "1", "currency": "USD"})
}

pub async fn deleting_an_instrument_used_by_transactions_is_refused_with_the_count(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = app.add_portfolio("Main").await;
    for day in ["2024-01-02", "2024-01-03"] {
        let r = app
            .post_json(
                &format!("/api/v1/portfolios/{p}/transactions"),
                &buy("AAPL", day, "1", "100"),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let r = app
        .request(Method::DELETE, "/api/v1/instruments/AAPL")
        .send()
        .await
        .unwrap();
    let body = problem(r, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("2 transaction"),
        "{body}"
    );
    assert_eq!(app.get("/api/v1/instruments/AAPL").await.status(), 200);
}

pub async fn deleting_an_instrument_deletes_its_bars(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let r = app
        .post_csv(
            "/api/v1/instruments/AAPL/bars?interval=1d",
            "time,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n",
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.request(Method::DELETE, "/api/v1/instruments/AAPL")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    app.add_instrument("AAPL", "stock", "USD").await;
    let bars = json(app.get("/api/v1/instruments/AAPL/bars?interval=1d").await).await;
    assert_eq!(
        bars["bars"].as_array().unwrap().len(),
        0,
        "old bars are gone: {bars}"
    );
}

pub async fn bar_ingest_counts_new_and_replaced_rows_for_json_and_csv(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let body = json!([
        {"time": "2024-01-02T14:30:00Z", "open": 10.0, "high": 11.0, "low": 9.5, "close": 10.5, "volume": 1000},
        {"time": 1704206100, "open": "10.5", "high": "12", "low": "10", "close": "11", "volume": "2000"},
    ]);
    let r = app
        .post_json("/api/v1/instruments/AAPL/bars?interval=5m", &body)
        .await;
    assert_eq!(r.status(), 200);
    let report = json(r).await;
    assert_eq!(
        (
            report["inserted"].as_u64(),
            report["replaced"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(2), Some(0), Some(0))
    );

    let csv = "time,open,high,low,close,volume\n2024-01-02T14:35:00Z,10.5,12.5,10,12,2500\n1704206400000,12,13,11,12.5,100\n";
    let report = json(
        app.post_csv("/api/v1/instruments/AAPL/bars?interval=5m", csv)
            .await,
    )
    .await;
    assert_eq!(
        (report["inserted"].as_u64(), report["replaced"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );

    let bars = json(app.get("/api/v1/instruments/AAPL/bars?interval=5m").await).await;
    let bars = bars["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 3);
    assert_eq!(bars[1]["time"], "2024-01-02T14:35:00Z");
    assert_eq!(bars[1]["high"], 12.5, "the replaced bar has the new values");
    for field in ["time", "open", "high", "low", "close", "volume"] {
        assert!(bars[0].get(field).is_some(), "bar field {field}");
    }
}

pub async fn bar_reads_are_ordered_and_honour_from_to_and_limit(app: TestApp) {
    app.add_instrument("SPY", "etf", "USD").await;
    let mut csv = String::from("time,open,high,low,close,volume\n");
    // Uploaded newest first: reads must still be in time order.
    for day in (1..=30).rev() {
        writeln!(csv, "2024-04-{day:02},{day},{},{},{day},1", day + 1, day).unwrap();
    }
    assert_eq!(
        app.post_csv("/api/v1/instruments/SPY/bars?interval=1d", csv)
            .await
            .status(),
        200
    );
    let all = json(app.get("/api/v1/instruments/SPY/bars?interval=1d").await).await;
    let times: Vec<&str> = all["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert_eq!(times.len(), 30);

    let window = json(
        app.get("/api/v1/instruments/SPY/bars?interval=1d&from=2024-04-10&to=2024-04-12")
            .await,
    )
    .await;
    let closes: Vec<f64> = window["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["close"].as_f64().unwrap())
        .collect();
    assert_eq!(closes, [10.0, 11.0, 12.0]);
    let first = json(
        app.get("/api/v1/instruments/SPY/bars?interval=1d&from=2024-04-10&limit=2")
            .await,
    )
    .await;
    assert_eq!(first["bars"][0]["close"], 10.0);
    assert_eq!(first["bars"].as_array().unwrap().len(), 2);
    let last = json(
        app.get("/api/v1/instruments/SPY/bars?interval=1d&limit=2")
            .await,
    )
    .await;
    let closes: Vec<f64> = last["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["close"].as_f64().unwrap())
        .collect();
    assert_eq!(
        closes,
        [29.0, 30.0],
        "without from, the latest bars, ascending"
    );

    let body = problem(
        app.get("/api/v1/instruments/SPY/bars?interval=2h").await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "interval");
    problem(
        app.get("/api/v1/instruments/NOPE/bars?interval=1d").await,
        404,
    )
    .await;
}

async fn bar_count(app: &TestApp, symbol: &str, interval: &str) -> usize {
    let v = json(
        app.get(&format!(
            "/api/v1/instruments/{symbol}/bars?interval={interval}&limit=100000"
        ))
        .await,
    )
    .await;
    v["bars"].as_array().unwrap().len()
}

pub async fn invalid_bar_uploads_are_refused_naming_the_row_and_write_nothing(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let path = "/api/v1/instruments/AAPL/bars?interval=1d";
    let good =
        json!({"time": "2024-01-02", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 1});
    let cases: Vec<(Value, usize, &str)> = vec![
        (
            json!([good, {"time": "2024-01-03", "open": 1, "high": 0.5, "low": 2, "close": 1.5}]),
            1,
            "high",
        ),
        (
            json!([good, {"time": "2024-01-03", "open": -1, "high": 2, "low": 0.5, "close": 1.5}]),
            1,
            "open",
        ),
        (
            json!([good, {"time": "2024-01-03", "open": "NaN", "high": 2, "low": 0.5, "close": 1.5}]),
            1,
            "open",
        ),
        (
            json!([good, {"time": "2024-01-03", "open": "inf", "high": "inf", "low": 0.5, "close": 1.5}]),
            1,
            "open",
        ),
        (
            json!([good, {"time": "2024-01-03", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": -5}]),
            1,
            "volume",
        ),
        (json!([good, good]), 1, "time"),
        (
            json!([good, {"time": "someday", "open": 1, "high": 2, "low": 0.5, "close": 1.5}]),
            1,
            "time",
        ),
    ];
    for (body, index, field) in cases {
        let r = app.post_json(path, &body).await;
        let problem = problem(r, 422).await;
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors[0]["index"], index, "{problem}");
        assert_eq!(errors[0]["field"], field, "{problem}");
    }
    let unknown_field = json!([{"time": "2024-01-03", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "colour": "red"}]);
    let p = problem(app.post_json(path, &unknown_field).await, 422).await;
    assert!(
        p["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{p}"
    );

    let p = problem(
        app.post_csv(path, "date,o,h,l,c,v\n2024-01-02,1,2,0.5,1.5,1\n")
            .await,
        422,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("time,open,high,low,close,volume"),
        "{p}"
    );
    let not_utf8: Vec<u8> =
        b"time,open,high,low,close,volume\n2024-01-02,1,2,0.5,\xff\xfe,1\n".to_vec();
    let p = problem(app.post_csv(path, not_utf8).await, 422).await;
    assert_eq!(p["errors"][0]["line"], 2, "{p}");
    problem(
        app.post_json("/api/v1/instruments/AAPL/bars", &json!([good]))
            .await,
        422,
    )
    .await;
    let r = app
        .request(Method::POST, path)
        .header("content-type", "application/xml")
        .body("<bars/>")
        .send()
        .await
        .unwrap();
    problem(r, 415).await;
    let r = app
        .request(Method::POST, path)
        .header("content-type", "application/json")
        .body("[{\"time\":")
        .send()
        .await
        .unwrap();
    problem(r, 422).await;

    assert_eq!(
        bar_count(&app, "AAPL", "1d").await,
        0,
        "no rejected upload wrote anything"
    );
}

pub async fn skip_invalid_stores_the_good_rows_and_reports_the_bad(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let csv = "time,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,1\n2024-01-03,1,0.5,2,1.5,1\n2024-01-04,1,2,0.5,1.5,1\n";
    let r = app
        .post_csv(
            "/api/v1/instruments/AAPL/bars?interval=1d&skip_invalid=true",
            csv,
        )
        .await;
    assert_eq!(r.status(), 200);
    let report = json(r).await;
    assert_eq!(report["inserted"], 2);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["rejections"][0]["index"], 1);
    assert_eq!(report["rejections"][0]["line"], 3);
}

pub async fn a_csv_with_a_bad_value_on_line_50000_is_refused_naming_that_line(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let mut csv = String::from("time,open,high,low,close,volume\n");
    let start = 1_704_067_200i64;
    for i in 0..60_000i64 {
        let line = i + 2;
        if line == 50_000 {
            writeln!(csv, "{},1,2,0.5,abc,1", start + i * 60).unwrap();
        } else {
            writeln!(csv, "{},1,2,0.5,1.5,1", start + i * 60).unwrap();
        }
    }
    let p = problem(
        app.post_csv("/api/v1/instruments/AAPL/bars?interval=1m", csv)
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["line"], 50_000, "{}", p["errors"][0]);
    assert_eq!(p["errors"][0]["field"], "close");
    assert_eq!(bar_count(&app, "AAPL", "1m").await, 0);
}

pub async fn mixed_feeds_reject_unknown_symbols_row_by_row(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("MSFT", "stock", "USD").await;
    let csv = "symbol,time,open,high,low,close,volume\n\
               AAPL,2024-01-02T14:30:00Z,1,2,0.5,1.5,1\n\
               NOPE,2024-01-02T14:30:00Z,1,2,0.5,1.5,1\n\
               MSFT,2024-01-02T14:30:00Z,1,2,0.5,1.5,1\n";
    let report = json(app.post_csv("/api/v1/bars?interval=5m", csv).await).await;
    assert_eq!(report["inserted"], 2, "{report}");
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["rejections"][0]["index"], 1);
    assert!(
        report["rejections"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("NOPE")
    );

    let body = json!([{"symbol": "MSFT", "time": "2024-01-02T14:35:00Z", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 3}]);
    let report = json(app.post_json("/api/v1/bars?interval=5m", &body).await).await;
    assert_eq!(report["inserted"], 1);
    let p = problem(
        app.post_json(
            "/api/v1/bars?interval=5m",
            &json!([{"time": "2024-01-02", "open": 1, "high": 2, "low": 0.5, "close": 1.5}]),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "symbol");
}

pub async fn a_batch_of_100000_bars_is_accepted_in_one_request(app: TestApp) {
    app.add_instrument("ES=F", "commodity", "USD").await;
    let mut csv = String::with_capacity(6_000_000);
    csv.push_str("symbol,time,open,high,low,close,volume\n");
    let start = 1_600_000_200i64;
    for i in 0..100_000i64 {
        let p = 100.0 + (i % 50) as f64 * 0.25;
        writeln!(
            csv,
            "ES=F,{},{p},{},{},{p},{}",
            start + i * 60,
            p + 1.0,
            p - 1.0,
            i % 1000
        )
        .unwrap();
    }
    let r = app.post_csv("/api/v1/bars?interval=1m", csv).await;
    assert_eq!(r.status(), 200);
    let report = json(r).await;
    assert_eq!(report["inserted"], 100_000);
    assert_eq!(bar_count(&app, "ES%3DF", "1m").await, 100_000);
}

pub async fn hand_entered_prices_become_daily_bars_and_feed_the_quote(app: TestApp) {
    let r = app
        .post_json("/api/v1/instruments", &json!({"symbol": "ROLEX-SUB-2019", "name": "Rolex Submariner 2019", "kind": "item", "currency": "EUR"}))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["provider"], "manual");
    let path = "/api/v1/instruments/ROLEX-SUB-2019/prices";
    assert_eq!(
        app.post_json(path, &json!({"date": "2024-05-01", "price": "8450.00"}))
            .await
            .status(),
        201
    );
    let r = app
        .post_json(path, &json!({"date": "2024-06-01", "price": "8900"}))
        .await;
    assert_eq!(r.status(), 201);
    let bar = json(r).await;
    assert_eq!(bar["time"], "2024-06-01T00:00:00Z");
    assert_eq!(bar["open"], 8900.0);

    let q = json(app.get("/api/v1/instruments/ROLEX-SUB-2019/quote").await).await;
    assert_eq!(q["price"], 8900.0);
    assert_eq!(q["previous_close"], 8450.0);
    assert!((q["change"].as_f64().unwrap() - 450.0).abs() < 1e-9);
    assert!((q["change_pct"].as_f64().unwrap() - 450.0 / 8450.0).abs() < 1e-12);
    assert_eq!(q["time"], "2024-06-01T00:00:00Z");
    // A new price is quoted at once (the cached quote is dropped with it).
    assert_eq!(
        app.post_json(path, &json!({"date": "2024-06-10", "price": "9100"}))
            .await
            .status(),
        201
    );
    let q = json(app.get("/api/v1/instruments/ROLEX-SUB-2019/quote").await).await;
    assert_eq!(q["price"], 9100.0);
    assert_eq!(q["previous_close"], 8900.0);

    let p = problem(
        app.post_json(path, &json!({"date": "2099-01-01", "price": "1"}))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "date");
    let p = problem(
        app.post_json(path, &json!({"date": "2024-01-01", "price": "-3"}))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "price");
}

pub async fn portfolios_are_private_to_their_owner(app: TestApp) {
    let p = app.add_portfolio("Mine").await;
    let bob = app.other_user("bob").await;
    for method in [Method::GET, Method::DELETE] {
        let r = bob
            .request(method, &format!("/api/v1/portfolios/{p}"))
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
    }
    let r = bob
        .request(Method::GET, &format!("/api/v1/portfolios/{p}/transactions"))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = bob
        .request(Method::GET, &format!("/api/v1/portfolios/{p}/holdings"))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let list = bob
        .request(Method::GET, "/api/v1/portfolios")
        .send()
        .await
        .unwrap();
    assert_eq!(json(list).await.as_array().unwrap().len(), 0);
    // Bob may use the same name for his own.
    let r = bob
        .request(Method::POST, "/api/v1/portfolios")
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

pub async fn portfolio_crud_round_trips(app: TestApp) {
    let r = app
        .post_json(
            "/api/v1/portfolios",
            &json!({"name": "Retirement", "base_currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["base_currency"], "EUR");
    problem(
        app.post_json("/api/v1/portfolios", &json!({"name": "Retirement"}))
            .await,
        409,
    )
    .await;
    let p = problem(
        app.post_json(
            "/api/v1/portfolios",
            &json!({"name": "X", "base_currency": "EURO"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "base_currency");

    let r = app
        .request(Method::PUT, &format!("/api/v1/portfolios/{id}"))
        .json(&json!({"name": "Pension", "base_currency": "CHF"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = json(app.get(&format!("/api/v1/portfolios/{id}")).await).await;
    assert_eq!(
        (got["name"].as_str(), got["base_currency"].as_str()),
        (Some("Pension"), Some("CHF"))
    );
    let list = json(app.get("/api/v1/portfolios").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        app.request(Method::DELETE, &format!("/api/v1/portfolios/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    problem(app.get(&format!("/api/v1/portfolios/{id}")).await, 404).await;
    problem(app.get("/api/v1/portfolios/999999").await, 404).await;
}

pub async fn transactions_can_be_recorded_listed_filtered_updated_and_deleted(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("MSFT", "stock", "USD").await;
    let p = app.add_portfolio("Main").await;
    let path = format!("/api/v1/portfolios/{p}/transactions");
    let batch = json!([
        {"type": "deposit", "time": "2024-01-01", "amount": "10000", "currency": "USD", "note": "salary"},
        buy("AAPL", "2024-01-02T15:00:00Z", "10", "187.25"),
        buy("MSFT", "2024-01-03T15:00:00Z", "5", "370.10"),
        {"type": "dividend", "time": "2024-02-15", "symbol": "AAPL", "amount": "2.40", "tax": "0.36", "currency": "USD"},
        {"type": "split", "time": "2024-03-01", "symbol": "AAPL", "ratio": "4:1", "currency": "USD"},
        {"type": "sell", "time": "2024-03-05", "symbol": "AAPL", "quantity": "8", "price": "50", "fee": "0", "currency": "USD"},
        {"type": "interest", "time": "2024-03-31", "amount": "3.10", "currency": "USD"},
        {"type": "fee", "time": "2024-03-31", "amount": "5", "currency": "USD"},
        {"type": "tax", "time": "2024-04-01", "amount": "1", "currency": "USD"},
        {"type": "withdrawal", "time": "2024-04-02", "amount": "100", "currency": "USD"},
    ]);
    let r = app.post_json(&path, &batch).await;
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    assert_eq!(created.as_array().unwrap().len(), 10);
    assert_eq!(created[1]["price"], "187.25", "decimals are strings, exact");
    assert_eq!(created[4]["ratio"], "4:1");
    assert!(
        created[0].get("price").is_none(),
        "only the fields of the type"
    );

    let all = json(app.get(&path).await).await;
    assert_eq!(all["total"], 10);
    let aapl = json(app.get(&format!("{path}?symbol=AAPL")).await).await;
    assert_eq!(aapl["total"], 4);
    let buys = json(app.get(&format!("{path}?type=buy")).await).await;
    assert_eq!(buys["total"], 2);
    let march = json(
        app.get(&format!("{path}?from=2024-03-01&to=2024-03-31"))
            .await,
    )
    .await;
    assert_eq!(march["total"], 4, "both bounds inclusive: {march}");
    let page = json(app.get(&format!("{path}?limit=3&offset=3")).await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["items"][0]["type"], "dividend");

    let msft_id = created[2]["id"].as_i64().unwrap();
    let r = app
        .request(Method::PUT, &format!("{path}/{msft_id}"))
        .json(&buy("MSFT", "2024-01-03T15:00:00Z", "6", "370.10"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = json(app.get(&format!("{path}/{msft_id}")).await).await;
    assert_eq!(got["quantity"], "6");
    assert_eq!(
        app.request(Method::DELETE, &format!("{path}/{msft_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    problem(app.get(&format!("{path}/{msft_id}")).await, 404).await;
    let p2 = problem(
        app.post_json(&path, &buy("NOPE", "2024-01-02", "1", "1"))
            .await,
        422,
    )
    .await;
    assert_eq!(p2["errors"][0]["field"], "symbol");
}

pub async fn selling_more_than_is_held_is_refused_saying_how_much_is_held(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = app.add_portfolio("Main").await;
    let path = format!("/api/v1/portfolios/{p}/transactions");
    assert_eq!(
        app.post_json(&path, &buy("AAPL", "2024-01-02", "10", "100"))
            .await
            .status(),
        201
    );
    let sell = json!({"type": "sell", "time": "2024-01-05", "symbol": "AAPL", "quantity": "12", "price": "110", "currency": "USD"});
    let body = problem(app.post_json(&path, &sell).await, 422).await;
    assert!(
        body["detail"].as_str().unwrap().contains("only 10 held"),
        "{body}"
    );
    // A sell dated before the buy is refused too: nothing was held then.
    let early = json!({"type": "sell", "time": "2024-01-01", "symbol": "AAPL", "quantity": "1", "price": "110", "currency": "USD"});
    let body = problem(app.post_json(&path, &early).await, 422).await;
    assert!(
        body["detail"].as_str().unwrap().contains("only 0 held"),
        "{body}"
    );
    let all = json(app.get(&path).await).await;
    assert_eq!(all["total"], 1, "nothing was written");
}

pub async fn holdings_show_quantity_cost_value_and_gain(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = app.add_portfolio("Main").await;
    let path = format!("/api/v1/portfolios/{p}/transactions");
    let txs = json!([
        {"type": "deposit", "time": "2024-01-01", "amount": "5000", "currency": "USD"},
        buy("AAPL", "2024-01-02", "10", "100"),
        buy("AAPL", "2024-01-03", "10", "120"),
        {"type": "sell", "time": "2024-01-04", "symbol": "AAPL", "quantity": "5", "price": "130", "fee": "1", "currency": "USD"},
    ]);
    assert_eq!(app.post_json(&path, &txs).await.status(), 201);
    let csv = "time,open,high,low,close,volume\n2024-06-14,140,141,139,140.5,100\n";
    assert_eq!(
        app.post_csv("/api/v1/instruments/AAPL/bars?interval=1d", csv)
            .await
            .status(),
        200
    );

    let h = json(app.get(&format!("/api/v1/portfolios/{p}/holdings")).await).await;
    let pos = &h["positions"][0];
    assert_eq!(pos["symbol"], "AAPL");
    assert_eq!(pos["quantity"], "15");
    assert_eq!(pos["average_cost"], "110");
    assert_eq!(pos["cost_basis"], "1650");
    assert_eq!(pos["last_price"], "140.5");
    assert_eq!(pos["market_value"], "2107.5");
    assert_eq!(pos["unrealized_gain"], "457.5");
    assert_eq!(pos["realized_gain"], "100");
    assert_eq!(h["cash"][0]["currency"], "USD");
    // 5000 - 1001 - 1201 + 649
    assert_eq!(h["cash"][0]["balance"], "3447");
}

pub async fn malformed_json_wrong_types_and_unknown_fields_get_field_errors(app: TestApp) {
    let r = app
        .request(Method::POST, "/api/v1/portfolios")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status == 400 || status == 422, "{status}");
    problem(r, status).await;
    let p = problem(
        app.post_json("/api/v1/portfolios", &json!({"name": 5}))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "name", "{p}");
    let p = problem(
        app.post_json("/api/v1/portfolios", &json!({"name": "x", "colour": "red"}))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "colour", "{p}");
    let p = problem(
        app.post_json(
            "/api/v1/instruments",
            &json!({"symbol": "AAPL", "name": "A", "kind": "share", "currency": "USD"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "kind");
    let r = app
        .request(Method::POST, "/api/v1/portfolios")
        .body("name=x")
        .send()
        .await
        .unwrap();
    problem(r, 415).await;
    problem(app.get("/api/v1/nowhere").await, 404).await;
}

/// Every field-level mistake names its field, however deep: a transaction's wrong
/// time type, a decimal sent as a boolean, an element of an array, a query parameter.
pub async fn wrong_types_name_the_field_even_inside_arrays_and_queries(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let id = app.add_portfolio("Main").await;
    let path = format!("/api/v1/portfolios/{id}/transactions");
    let buy = json!({"type": "buy", "time": "2024-01-02", "symbol": "AAPL",
                     "quantity": "1", "price": "10", "currency": "USD"});
    let mut bad_time = buy.clone();
    bad_time["time"] = json!(5);
    let p = problem(app.post_json(&path, &bad_time).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "time", "{p}");
    let mut bad_quantity = buy.clone();
    bad_quantity["quantity"] = json!(true);
    let p = problem(app.post_json(&path, &json!([buy, bad_quantity])).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "[1].quantity", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("decimal"), "{p}");
    // Amounts no real holding reaches are refused, so ledger arithmetic cannot overflow.
    let mut huge = buy.clone();
    huge["quantity"] = json!("1e20");
    huge["price"] = json!("1e10");
    let p = problem(app.post_json(&path, &huge).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "quantity", "{p}");
    let p = problem(app.get("/api/v1/instruments?limit=abc").await, 422).await;
    assert_eq!(p["errors"][0]["field"], "limit", "{p}");
    // Nothing was recorded by any of them.
    let listed = json(app.get(&path).await).await;
    assert_eq!(listed["total"], 0, "{listed}");
}

/// The framework's own refusals are problem documents too: an id that is not a
/// number, a method a route does not take, a body over the configured limit.
pub async fn framework_refusals_are_problem_documents(app: TestApp) {
    let p = problem(app.get("/api/v1/portfolios/abc").await, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("abc"), "{p}");
    let r = app
        .request(Method::PATCH, "/api/v1/healthz-nope")
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = app
        .request(Method::DELETE, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap();
    let allow = r.headers().get("allow").cloned();
    let p = problem(r, 405).await;
    assert!(p["detail"].as_str().unwrap().contains("method"), "{p}");
    assert!(allow.is_some(), "405 keeps its Allow header");
}

/// Every route served under /api/v1 appears in the OpenAPI document, and every documented route is served.
pub async fn openapi_documents_every_route(app: TestApp) {
    let r = app
        .anonymous(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc = json(r).await;
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let mut served = vec![
        "GET /instruments",
        "POST /instruments",
        "GET /instruments/{symbol}",
        "PATCH /instruments/{symbol}",
        "DELETE /instruments/{symbol}",
        "GET /instruments/{symbol}/bars",
        "POST /instruments/{symbol}/bars",
        "POST /bars",
        "POST /instruments/{symbol}/prices",
        "GET /instruments/{symbol}/quote",
        "GET /portfolios",
        "POST /portfolios",
        "GET /portfolios/{id}",
        "PUT /portfolios/{id}",
        "DELETE /portfolios/{id}",
        "GET /portfolios/{id}/holdings",
        "GET /portfolios/{id}/summary",
        "GET /portfolios/{id}/holdings/{symbol}/summary",
        "GET /portfolios/{id}/performance",
        "GET /portfolios/{id}/allocation",
        "GET /portfolios/{id}/income",
        "GET /portfolios/{id}/realized",
        "GET /portfolios/{id}/returns",
        "GET /portfolios/{id}/contributions",
        "POST /portfolios/{id}/import",
        "GET /portfolios/{id}/export",
        "GET /portfolios/{id}/transactions",
        "POST /portfolios/{id}/transactions",
        "GET /portfolios/{id}/transactions/{tx}",
        "PUT /portfolios/{id}/transactions/{tx}",
        "DELETE /portfolios/{id}/transactions/{tx}",
        "GET /me",
        "GET /tokens",
        "POST /tokens",
        "DELETE /tokens/{id}",
        "GET /users",
        "POST /users",
        "GET /watchlists",
        "POST /watchlists",
        "GET /watchlists/{id}",
        "PUT /watchlists/{id}",
        "DELETE /watchlists/{id}",
        "POST /watchlists/{id}/items",
        "DELETE /watchlists/{id}/items/{symbol}",
        "GET /stream",
        "POST /instruments/{symbol}/refresh",
        "GET /instruments/{symbol}/status",
        "GET /instruments/{symbol}/events",
        "GET /quarantine",
        "POST /quarantine/{id}/release",
        "DELETE /quarantine/{id}",
    ];
    served.sort();
    assert_eq!(documented, served);
    // And each documented route is really served (not the API's 404/405 fallback).
    for entry in &documented {
        let (method, path) = entry.split_once(' ').unwrap();
        let concrete = path
            .replace("{symbol}", "AAPL")
            .replace("{id}", "1")
            .replace("{tx}", "1");
        let r = app
            .request(method.parse().unwrap(), &format!("/api/v1{concrete}"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 405, "{entry}");
        if r.status() == 404 {
            let body = json(r).await;
            assert!(
                !body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("no such API route"),
                "{entry} is not routed"
            );
        }
    }
}

pub async fn tokens_can_be_created_listed_and_revoked(app: TestApp) {
    let r = app
        .post_json("/api/v1/tokens", &json!({"label": "laptop"}))
        .await;
    assert_eq!(r.status(), 201);
    let t = json(r).await;
    let secret = t["token"].as_str().unwrap().to_owned();
    let id = t["id"].as_i64().unwrap();
    let me = app
        .anonymous(Method::GET, "/api/v1/me")
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(json(me).await["name"], "admin");
    let list = json(app.get("/api/v1/tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.to_string().find(&secret).is_none(),
        "secrets are never listed"
    );
    assert_eq!(
        app.request(Method::DELETE, &format!("/api/v1/tokens/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let me = app
        .anonymous(Method::GET, "/api/v1/me")
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    problem(me, 401).await;
}
