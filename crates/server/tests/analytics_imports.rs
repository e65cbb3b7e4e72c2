//! Transaction import and export over HTTP, on SQLite and PostgreSQL: every
//! format's sample file, the export → import round trip, all-or-nothing
//! errors by file line, `skip_invalid=true`, and duplicates.

#[path = "api/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::{TestApp, json, problem};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = crate::harness::spawn_app(crate::harness::Backend::Sqlite).await.expect("sqlite is always available");
                    crate::$case(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(app) = crate::harness::spawn_app(crate::harness::Backend::Postgres).await else { return };
                    crate::$case(app).await;
                }
            )*
        }
    };
}

on_both_backends!(
    every_format_imports_its_sample_file,
    export_then_import_reproduces_the_portfolio_exactly,
    a_bad_file_is_refused_by_line_and_writes_nothing,
    reimporting_skips_and_reports_duplicates,
    skip_invalid_imports_the_good_rows_and_lists_every_skipped_one_by_line,
);

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../app/tests/fixtures/imports")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn portfolio(app: &TestApp, name: &str, base: &str) -> i64 {
    let r = app
        .post_json(
            "/api/v1/portfolios",
            &json!({"name": name, "base_currency": base}),
        )
        .await;
    assert_eq!(r.status(), 201);
    json(r).await["id"].as_i64().unwrap()
}

async fn upload(app: &TestApp, portfolio: i64, query: &str, body: Vec<u8>) -> reqwest::Response {
    app.request(
        Method::POST,
        &format!("/api/v1/portfolios/{portfolio}/import?{query}"),
    )
    .header("content-type", "text/plain")
    .body(body)
    .send()
    .await
    .unwrap()
}

async fn imported(app: &TestApp, portfolio: i64, query: &str, body: Vec<u8>) -> Value {
    let r = upload(app, portfolio, query, body).await;
    let status = r.status();
    let body = json(r).await;
    assert_eq!(status, 201, "{query}: {body}");
    body
}

async fn transactions(app: &TestApp, portfolio: i64) -> Vec<Value> {
    let r = app
        .get(&format!(
            "/api/v1/portfolios/{portfolio}/transactions?limit=1000"
        ))
        .await;
    json(r).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.as_object_mut().unwrap().remove("id");
            t
        })
        .collect()
}

async fn instruments(app: &TestApp, list: &[(&str, &str, &str)]) {
    for (symbol, kind, currency) in list {
        app.add_instrument(symbol, kind, currency).await;
    }
}

async fn every_format_imports_its_sample_file(app: TestApp) {
    instruments(
        &app,
        &[
            ("AAPL", "stock", "USD"),
            ("MSFT", "stock", "USD"),
            ("VTI", "etf", "USD"),
            ("NVDA", "stock", "USD"),
            ("GOOGL", "stock", "USD"),
            ("SAP.DE", "stock", "EUR"),
            ("DTE.DE", "stock", "EUR"),
            ("ROLEX-SUB-2019", "item", "USD"),
        ],
    )
    .await;
    // NVDA is split in the samples: it must be held first.
    let seed = json!([{"type": "buy", "time": "2024-01-02", "symbol": "NVDA", "quantity": "1", "price": "500", "fee": "0", "currency": "USD"}]);
    let cases: [(&str, &str, &str, usize); 10] = [
        ("ours.csv", "format=ours", "USD", 10),
        ("ours.json", "format=json", "USD", 4),
        ("ghostfolio-export.json", "format=ghostfolio-json", "USD", 6),
        ("ghostfolio.csv", "format=ghostfolio-csv", "USD", 5),
        (
            "pp-portfolio-transactions-de.csv",
            "format=pp-csv",
            "EUR",
            4,
        ),
        ("pp-account-transactions-en.csv", "format=pp-csv", "EUR", 6),
        ("wealthfolio.csv", "format=wealthfolio-csv", "USD", 11),
        ("wealthfolio-legacy.csv", "format=wealthfolio-csv", "USD", 4),
        (
            "generic-broker.csv",
            "format=generic&map=date%3DBuchungstag%2Ctype%3DAktion%2Csymbol%3DTicker%2Cquantity%3DSt%C3%BCck%2Cprice%3DKurs%2Cfee%3DProvision%2Camount%3DBetrag%2Ccurrency%3DW%C3%A4hrung%2Cnote%3DBeschreibung&types=Kauf%3Dbuy%2CVerkauf%3Dsell%2CDividende%3Ddividend&delimiter=%3B&date_format=%25d.%25m.%25Y&decimal_comma=true",
            "EUR",
            4,
        ),
        (
            "generic-signed.csv",
            "format=generic&map=date%3DTrade%20Date%2Csymbol%3DSymbol%2Cquantity%3DQty%2Camount%3DNet%20Amount%2Cfee%3DCommission%2Ccurrency%3DCCY&sign=quantity&date_format=%25m%2F%25d%2F%25Y",
            "USD",
            2,
        ),
    ];
    for (i, (file, query, base, count)) in cases.into_iter().enumerate() {
        let p = portfolio(&app, &format!("P{i}"), base).await;
        if file == "ours.csv" || file == "wealthfolio.csv" {
            let r = app
                .post_json(&format!("/api/v1/portfolios/{p}/transactions"), &seed)
                .await;
            assert_eq!(r.status(), 201);
        }
        let report = imported(&app, p, query, fixture(file)).await;
        assert_eq!(report["imported"], count, "{file}: {report}");
        assert_eq!(report["read"], count, "{file}");
        assert_eq!(report["duplicates"].as_array().unwrap().len(), 0);
        // The figures work on what was imported.
        let h = app.get(&format!("/api/v1/portfolios/{p}/holdings")).await;
        let status = h.status();
        let body = json(h).await;
        // EUR portfolios holding USD items need FX rates; everything else answers.
        assert!(status == 200 || status == 422, "{file}: {body}");
    }
    let bad = problem(upload(&app, 1, "format=quicken", b"x".to_vec()).await, 422).await;
    assert_eq!(bad["errors"][0]["field"], "format");
    let bad = problem(
        upload(&app, 1, "format=generic", b"a,b\n".to_vec()).await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "map");
}

async fn export_then_import_reproduces_the_portfolio_exactly(app: TestApp) {
    instruments(
        &app,
        &[
            ("AAPL", "stock", "USD"),
            ("MSFT", "stock", "USD"),
            ("NVDA", "stock", "USD"),
            ("VTI", "etf", "USD"),
        ],
    )
    .await;
    let source = portfolio(&app, "Source", "USD").await;
    let seed = json!([{"type": "buy", "time": "2024-01-02T00:00:00Z", "symbol": "NVDA", "quantity": "1", "price": "500", "fee": "0", "currency": "USD"}]);
    let r = app
        .post_json(&format!("/api/v1/portfolios/{source}/transactions"), &seed)
        .await;
    assert_eq!(r.status(), 201);
    imported(&app, source, "format=ours", fixture("ours.csv")).await;
    // Awkward values too: sub-second times, a quoted note with a comma and a
    // newline, tiny quantities and long prices.
    let extra = json!([
        {"type": "buy", "time": "2024-06-03T09:30:00.123456Z", "symbol": "AAPL", "quantity": "0.000001", "price": "191.123456789", "fee": "0", "tax": "0.0004", "currency": "USD", "note": "odd, \"quoted\"\nnote"},
        {"type": "transfer_out", "time": "2024-06-04", "symbol": "VTI", "quantity": "1", "price": "255.5", "fee": "0.5", "currency": "USD"}
    ]);
    let r = app
        .post_json(&format!("/api/v1/portfolios/{source}/transactions"), &extra)
        .await;
    assert_eq!(r.status(), 201);
    let original = transactions(&app, source).await;
    assert_eq!(original.len(), 13);

    for format in ["csv", "json"] {
        let r = app
            .get(&format!(
                "/api/v1/portfolios/{source}/export?format={format}"
            ))
            .await;
        assert_eq!(r.status(), 200);
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.contains(format), "{content_type}");
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("Source-transactions"),
        );
        let body = r.bytes().await.unwrap().to_vec();
        let copy = portfolio(&app, &format!("Copy {format}"), "USD").await;
        let import_format = if format == "csv" { "ours" } else { "json" };
        let report = imported(&app, copy, &format!("format={import_format}"), body).await;
        assert_eq!(report["imported"], 13);
        assert_eq!(transactions(&app, copy).await, original, "{format}");
        let summary = |p: i64| {
            let path = format!("/api/v1/portfolios/{p}/summary");
            let app = &app;
            async move {
                let mut s = json(app.get(&path).await).await;
                s.as_object_mut().unwrap().remove("portfolios");
                s
            }
        };
        assert_eq!(summary(copy).await, summary(source).await, "{format}");
    }
    problem(
        app.get(&format!("/api/v1/portfolios/{source}/export?format=xml"))
            .await,
        422,
    )
    .await;
}

async fn a_bad_file_is_refused_by_line_and_writes_nothing(app: TestApp) {
    instruments(&app, &[("AAPL", "stock", "USD")]).await;
    let p = portfolio(&app, "Main", "USD").await;
    let header = "date,type,symbol,quantity,price,fee,currency,note\n";
    // A malformed value on line 3.
    let body =
        format!("{header}2024-01-02,buy,AAPL,10,100,0,USD,\n2024-01-03,buy,AAPL,ten,100,0,USD,\n");
    let bad = problem(upload(&app, p, "format=ours", body.into_bytes()).await, 422).await;
    assert_eq!(bad["errors"][0]["line"], 3, "{bad}");
    assert_eq!(bad["errors"][0]["field"], "quantity");
    // An unknown instrument names its lines.
    let body = format!(
        "{header}2024-01-02,buy,AAPL,10,100,0,USD,\n2024-01-03,buy,ZZZZ,1,1,0,USD,\n2024-01-04,sell,ZZZZ,1,1,0,USD,\n"
    );
    let bad = problem(upload(&app, p, "format=ours", body.into_bytes()).await, 422).await;
    assert_eq!(bad["errors"][0]["field"], "symbol");
    let detail = bad["errors"][0]["reason"].as_str().unwrap();
    assert!(
        detail.contains("ZZZZ") && detail.contains("lines 3, 4"),
        "{bad}"
    );
    // Selling more than is held names the sale's line.
    let body = format!(
        "{header}2024-01-02,buy,AAPL,10,100,0,USD,\n2024-01-03,sell,AAPL,5,100,0,USD,\n2024-01-04,sell,AAPL,6,100,0,USD,\n"
    );
    let bad = problem(upload(&app, p, "format=ours", body.into_bytes()).await, 422).await;
    assert_eq!(bad["errors"][0]["line"], 4, "{bad}");
    assert!(
        bad["detail"].as_str().unwrap().contains("only 5 held"),
        "{bad}"
    );
    // Not one transaction was written.
    assert!(transactions(&app, p).await.is_empty());
    let bad = problem(upload(&app, p, "format=ours", Vec::new()).await, 422).await;
    assert_eq!(bad["errors"][0]["field"], "body");
    problem(
        upload(&app, 999_999, "format=ours", b"x".to_vec()).await,
        404,
    )
    .await;
}

async fn reimporting_skips_and_reports_duplicates(app: TestApp) {
    instruments(
        &app,
        &[("MSFT", "stock", "USD"), ("ROLEX-SUB-2019", "item", "USD")],
    )
    .await;
    let p = portfolio(&app, "Main", "USD").await;
    let first = imported(
        &app,
        p,
        "format=ghostfolio-json",
        fixture("ghostfolio-export.json"),
    )
    .await;
    assert_eq!(first["imported"], 6);
    let again = imported(
        &app,
        p,
        "format=ghostfolio-json",
        fixture("ghostfolio-export.json"),
    )
    .await;
    assert_eq!(again["imported"], 0);
    let lines: Vec<u64> = again["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
    assert!(
        again["duplicates"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("identical"),
        "{again}"
    );
    assert_eq!(transactions(&app, p).await.len(), 6);
    // The same trades as a Ghostfolio CSV are the same transactions.
    let csv = imported(&app, p, "format=ghostfolio-csv", fixture("ghostfolio.csv")).await;
    assert_eq!(csv["imported"], 1, "{csv}");
    assert_eq!(csv["duplicates"].as_array().unwrap().len(), 4, "{csv}");
}

async fn skip_invalid_imports_the_good_rows_and_lists_every_skipped_one_by_line(app: TestApp) {
    instruments(&app, &[("AAPL", "stock", "USD")]).await;
    let p = portfolio(&app, "Main", "USD").await;
    let header = "date,type,symbol,quantity,price,fee,currency,note\n";
    imported(
        &app,
        p,
        "format=ours",
        format!("{header}2024-01-02,buy,AAPL,10,100,0,USD,\n").into_bytes(),
    )
    .await;
    // Line 2 is already there; line 3 does not read, so the sale of 12 on
    // line 4 finds only the 10 held; line 6 names an unknown instrument; the
    // sale of 6 on line 5 is fine, which leaves too little for line 7.
    let file = format!(
        "{header}2024-01-02,buy,AAPL,10,100,0,USD,\n\
         2024-01-03,buy,AAPL,x,100,0,USD,\n\
         2024-01-04,sell,AAPL,12,100,0,USD,\n\
         2024-01-05,sell,AAPL,6,100,0,USD,\n\
         2024-01-06,dividend,ZZZZ,1,1,0,USD,\n\
         2024-01-07,sell,AAPL,6,100,0,USD,\n"
    );

    // Without the option the file is refused whole.
    let bad = problem(
        upload(&app, p, "format=ours", file.clone().into_bytes()).await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["line"], 3, "{bad}");
    assert_eq!(transactions(&app, p).await.len(), 1);

    let report = imported(&app, p, "format=ours&skip_invalid=true", file.into_bytes()).await;
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(report["duplicates"][0]["line"], 2, "{report}");
    let skipped: Vec<(u64, &str)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["line"].as_u64().unwrap(), s["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        skipped,
        [
            (3, "quantity"),
            (4, "quantity"),
            (6, "symbol"),
            (7, "quantity")
        ],
        "{report}"
    );
    let reason = |i: usize| report["skipped"][i]["reason"].as_str().unwrap().to_owned();
    assert!(reason(1).contains("only 10 held"), "{report}");
    assert!(reason(2).contains("unknown instrument ZZZZ"), "{report}");
    assert!(reason(3).contains("only 4 held"), "{report}");
    let stored = transactions(&app, p).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[1]["type"], "sell");
    assert_eq!(stored[1]["quantity"], "6");

    // Nothing left to import: a 201 that says so, and nothing written.
    let report = imported(
        &app,
        p,
        "format=ours&skip_invalid=true",
        format!("{header}2024-02-01,sell,AAPL,100,100,0,USD,\n").into_bytes(),
    )
    .await;
    assert_eq!(report["imported"], 0, "{report}");
    assert_eq!(report["skipped"][0]["line"], 2, "{report}");
    assert_eq!(transactions(&app, p).await.len(), 2);

    // A whole-file error is not skippable.
    let bad = problem(
        upload(
            &app,
            p,
            "skip_invalid=true",
            b"date,kind\n2024-01-02,buy\n".to_vec(),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["line"], 1, "{bad}");

    // The option and the list are documented.
    let doc = json(
        app.anonymous(Method::GET, "/api/v1/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let params = doc["paths"]["/portfolios/{id}/import"]["post"]["parameters"]
        .as_array()
        .unwrap();
    assert!(
        params.iter().any(|p| p["name"] == "skip_invalid"),
        "{params:?}"
    );
    let out = &doc["components"]["schemas"]["ImportOut"]["properties"]["skipped"];
    assert!(
        out.is_object(),
        "{}",
        doc["components"]["schemas"]["ImportOut"]
    );
    assert!(
        doc["components"]["schemas"]["InvalidRowOut"]["properties"]["field"].is_object(),
        "{}",
        doc["components"]["schemas"]
    );
}
