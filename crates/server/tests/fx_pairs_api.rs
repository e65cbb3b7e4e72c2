//! FX pair instruments that register themselves: a portfolio that needs a
//! conversion no stored pair answers gets the pair added (whoever's
//! transaction needed it), fetched like any instrument; on SQLite and
//! PostgreSQL.

#[path = "api/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::{TestApp, TestApp2, json, problem};
use reqwest::{Method, Response};
use serde_json::{Value, json};

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
    a_non_admin_users_foreign_buy_adds_the_pair_and_its_rates_make_the_summary_convert,
    no_pair_is_added_when_its_inverse_is_stored,
    concurrent_foreign_buys_all_succeed_and_leave_one_pair,
    a_same_currency_portfolio_adds_no_pair,
    changing_the_base_currency_adds_the_pair_the_ledger_now_needs,
    an_imported_file_in_another_currency_adds_the_pair,
);

async fn bars(app: &TestApp, symbol: &str, rows: &[(&str, &str)]) {
    let mut csv = String::from("time,open,high,low,close,volume\n");
    for (day, close) in rows {
        csv.push_str(&format!("{day},{close},{close},{close},{close},1\n"));
    }
    let encoded = symbol.replace('=', "%3D");
    let r = app
        .post_csv(
            &format!("/api/v1/instruments/{encoded}/bars?interval=1d"),
            csv,
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

async fn send(user: &TestApp2<'_>, method: Method, path: &str, body: Option<Value>) -> Response {
    let request = user.request(method, path);
    let request = match body {
        Some(b) => request.json(&b),
        None => request,
    };
    request.send().await.expect("request")
}

async fn portfolio(user: &TestApp2<'_>, name: &str, base: &str) -> i64 {
    let r = send(
        user,
        Method::POST,
        "/api/v1/portfolios",
        Some(json!({"name": name, "base_currency": base})),
    )
    .await;
    assert_eq!(r.status(), 201);
    json(r).await["id"].as_i64().expect("id")
}

fn buy(symbol: &str, quantity: &str, currency: &str) -> Value {
    json!([{"type": "buy", "time": "2024-01-03", "symbol": symbol, "quantity": quantity, "price": "100", "fee": "0", "currency": currency}])
}

async fn record(user: &TestApp2<'_>, portfolio: i64, txs: Value) {
    let r = send(
        user,
        Method::POST,
        &format!("/api/v1/portfolios/{portfolio}/transactions"),
        Some(txs),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// The symbols of the stored `fx` instruments.
async fn fx_instruments(app: &TestApp) -> Vec<String> {
    let r = app.get("/api/v1/instruments?kind=fx").await;
    assert_eq!(r.status(), 200);
    json(r).await["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["symbol"].as_str().expect("symbol").to_owned())
        .collect()
}

async fn a_non_admin_users_foreign_buy_adds_the_pair_and_its_rates_make_the_summary_convert(
    app: TestApp,
) {
    app.add_instrument("AAPL", "stock", "USD").await;
    bars(
        &app,
        "AAPL",
        &[("2024-01-03", "100"), ("2024-06-14", "150")],
    )
    .await;
    let user = app.other_user("erika").await;
    let p = portfolio(&user, "Euro", "EUR").await;
    record(&user, p, buy("AAPL", "10", "USD")).await;

    // The pair 1 USD in EUR, as the rate lookup tries it first.
    let r = send(&user, Method::GET, "/api/v1/instruments/USDEUR%3DX", None).await;
    assert_eq!(r.status(), 200);
    let pair = json(r).await;
    assert_eq!(pair["kind"], "fx", "{pair}");
    assert_eq!(pair["currency"], "EUR", "{pair}");
    assert_eq!(pair["name"], "USD/EUR", "{pair}");
    assert_eq!(pair["provider"], "yahoo", "{pair}");

    // The scheduler picks it up like any added instrument: a daily job, due now.
    pricetrack_app::market::sync_jobs(&app.ctx, app.ctx.clock.now())
        .await
        .expect("sync jobs");
    let symbol = pricetrack_domain::Symbol::parse("USDEUR=X").expect("symbol");
    let jobs = app
        .ctx
        .store
        .list_fetch_jobs(Some(&symbol))
        .await
        .expect("jobs");
    assert!(jobs.iter().any(|j| j.active), "{jobs:?}");

    // Before its history arrives the summary says so, naming pair and date.
    let body = problem(
        send(
            &user,
            Method::GET,
            &format!("/api/v1/portfolios/{p}/summary"),
            None,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "fx_rate", "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("no USDEUR=X rate on or before 2024-01-03 yet")
            && detail.contains("history is being fetched"),
        "{body}"
    );

    // Once its bars are stored, the figures convert at them.
    bars(
        &app,
        "USDEUR=X",
        &[("2024-01-02", "0.9"), ("2024-06-14", "0.8")],
    )
    .await;
    let r = send(
        &user,
        Method::GET,
        &format!("/api/v1/portfolios/{p}/summary"),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let s = json(r).await;
    // 10 × 150 USD × 0.8; cost 1000 USD × 0.9.
    assert_eq!(s["totals"]["market_value"], "1200", "{s}");
    assert_eq!(s["totals"]["cost_basis"], "900", "{s}");
}

async fn no_pair_is_added_when_its_inverse_is_stored(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("EURUSD=X", "fx", "USD").await;
    let user = app.other_user("erika").await;
    let p = portfolio(&user, "Euro", "EUR").await;
    record(&user, p, buy("AAPL", "10", "USD")).await;
    assert_eq!(fx_instruments(&app).await, ["EURUSD=X"]);
}

async fn concurrent_foreign_buys_all_succeed_and_leave_one_pair(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let user = app.other_user("erika").await;
    let p = portfolio(&user, "Euro", "EUR").await;
    let path = format!("/api/v1/portfolios/{p}/transactions");
    let requests = (0..8).map(|_| {
        user.request(Method::POST, &path)
            .json(&buy("AAPL", "1", "USD"))
            .send()
    });
    for r in futures_util::future::join_all(requests).await {
        let r = r.expect("request");
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    }
    assert_eq!(fx_instruments(&app).await, ["USDEUR=X"]);
    let r = send(
        &user,
        Method::GET,
        &format!("/api/v1/portfolios/{p}/transactions"),
        None,
    )
    .await;
    assert_eq!(json(r).await["total"], 8);
}

async fn a_same_currency_portfolio_adds_no_pair(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let user = app.other_user("erika").await;
    let p = portfolio(&user, "Dollar", "USD").await;
    record(&user, p, buy("AAPL", "10", "USD")).await;
    assert!(fx_instruments(&app).await.is_empty());
}

async fn changing_the_base_currency_adds_the_pair_the_ledger_now_needs(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let user = app.other_user("erika").await;
    let p = portfolio(&user, "Main", "USD").await;
    record(&user, p, buy("AAPL", "10", "USD")).await;
    assert!(fx_instruments(&app).await.is_empty());
    let r = send(
        &user,
        Method::PUT,
        &format!("/api/v1/portfolios/{p}"),
        Some(json!({"name": "Main", "base_currency": "CHF"})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(fx_instruments(&app).await, ["USDCHF=X"]);
}

async fn an_imported_file_in_another_currency_adds_the_pair(app: TestApp) {
    // A GBP-quoted stock bought in GBP from a CHF portfolio.
    app.add_instrument("VOD.L", "stock", "GBP").await;
    let user = app.other_user("erika").await;
    let p = portfolio(&user, "Franken", "CHF").await;
    let file = "date,type,symbol,quantity,price,fee,currency,note\n\
                2024-01-03,buy,VOD.L,100,0.7,0,GBP,\n";
    let r = user
        .request(
            Method::POST,
            &format!("/api/v1/portfolios/{p}/import?format=ours"),
        )
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    assert_eq!(fx_instruments(&app).await, ["GBPCHF=X"]);
}
