//! Black-box tests of the portfolio analytics API (summary, performance,
//! holdings at a date, allocation, income, realized lots, the combined view of
//! all portfolios, cost-basis settings), each on SQLite and PostgreSQL.

#[path = "api/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::{TestApp, json, problem};
use reqwest::Method;
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
    summary_reports_the_period_figures_twr_and_xirr,
    performance_series_are_daily_weekly_or_monthly,
    holdings_at_a_past_date_use_that_days_close,
    holdings_at_a_past_date_list_that_dates_open_lots,
    a_split_applies_before_the_trades_recorded_earlier_on_its_day,
    unknown_periods_and_parameters_are_422_naming_the_field,
    a_missing_fx_rate_is_a_422_naming_the_pair_and_date_until_the_rate_is_stored,
    values_convert_at_stored_fx_rates_and_their_inverse,
    allocation_income_and_realized_lots,
    the_cost_basis_method_is_a_portfolio_setting,
    figures_follow_ledger_and_price_changes,
    a_new_transaction_revalues_only_from_its_date,
    performance_beside_a_benchmark_and_the_returns_and_contributions_tables,
    a_burst_of_changes_leaves_the_background_preparation_current,
    all_portfolios_combine_into_one_view,
    another_users_portfolio_is_not_found,
    transfers_are_external_flows_without_cash,
    gains_are_reported_before_and_after_fees,
    a_trades_tax_is_a_cost_of_the_trade,
    a_group_of_portfolios_is_one_view_and_every_id_must_be_yours,
    one_holdings_figures_come_from_its_own_activities,
    a_request_never_waits_behind_another_users_computation,
);

fn tx(kind: &str, symbol: &str, time: &str, quantity: &str, price: &str) -> Value {
    json!({"type": kind, "time": time, "symbol": symbol, "quantity": quantity, "price": price, "fee": "0", "currency": "USD"})
}

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

async fn record(app: &TestApp, portfolio: i64, txs: Value) {
    let r = app
        .post_json(
            &format!("/api/v1/portfolios/{portfolio}/transactions"),
            &txs,
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
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

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).await;
    let status = r.status();
    let body = json(r).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Deposit 10,000 and buy 10 AAPL at 100 on 2 Jan 2024; AAPL closes at 120 on
/// 28 Mar and 150 on 14 Jun (the test clock is Saturday 15 Jun 2024).
async fn simple(app: &TestApp) -> i64 {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = portfolio(app, "Main", "USD").await;
    record(
        app,
        p,
        json!([
            {"type": "deposit", "time": "2024-01-02", "amount": "10000", "currency": "USD"},
            tx("buy", "AAPL", "2024-01-02T15:00:00Z", "10", "100"),
        ]),
    )
    .await;
    bars(
        app,
        "AAPL",
        &[
            ("2024-01-02", "100"),
            ("2024-03-28", "120"),
            ("2024-06-14", "150"),
        ],
    )
    .await;
    p
}

async fn summary_reports_the_period_figures_twr_and_xirr(app: TestApp) {
    let p = simple(&app).await;
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary?period=MAX")).await;
    assert_eq!(s["base_currency"], "USD");
    assert_eq!(s["cost_basis_method"], "average");
    assert_eq!(s["evaluation_date"], "2024-06-15");
    assert_eq!(s["portfolios"][0]["id"], p);
    assert_eq!(s["period"]["start"], "2024-01-01");
    assert_eq!(s["period"]["end"], "2024-06-15");
    let f = &s["period_figures"];
    assert_eq!(f["initial_value"], "0");
    assert_eq!(f["flows_in"], "10000");
    assert_eq!(f["flows_out"], "0");
    assert_eq!(f["unrealized_gains"], "500");
    assert_eq!(f["realized_gains"], "0");
    assert_eq!(f["final_value"], "10500");
    // (0 realized + 500 unrealized + 0 income) ÷ the 1,000 invested.
    assert_eq!(f["invested_capital"], "1000");
    assert_eq!(f["simple_return_on_cost"], "0.5");
    // The deposit counts at the start of its day: the whole 5 % is time-weighted return.
    assert!(close(f["twr"].as_f64().unwrap(), 0.05), "{f}");
    let days = 165.0; // 2 Jan → 15 Jun
    let xirr = 1.05f64.powf(365.0 / days) - 1.0;
    assert!((f["xirr"].as_f64().unwrap() - xirr).abs() < 1e-6, "{f}");
    assert!(f["twr_annualized"].is_null());
    let t = &s["totals"];
    assert_eq!(t["market_value"], "1500");
    assert_eq!(t["cash_balance"], "9000");
    assert_eq!(t["total_value"], "10500");
    assert_eq!(t["cost_basis"], "1000");
    assert_eq!(t["unrealized_gain"], "500");
    assert_eq!(s["roai"]["roai_total_investment"], "1000");
    assert_eq!(s["roai"]["roai_net_performance"], "500");
    assert!(close(s["pp"]["pp_ttwror"].as_f64().unwrap(), 0.05));

    // A custom period: from 1 Apr (reference: the close of 31 Mar, 120).
    let s = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/summary?from=2024-04-01&to=2024-06-15"),
    )
    .await;
    assert_eq!(s["period"]["start"], "2024-03-31");
    let f = &s["period_figures"];
    assert_eq!(f["initial_value"], "10200");
    assert_eq!(f["unrealized_gains"], "300");
    // The securities held at the start enter at their value then (1,200).
    assert_eq!(f["invested_capital"], "1200");
    assert_eq!(f["simple_return_on_cost"], "0.25");
    assert_eq!(f["final_value"], "10500");
    assert!(close(f["twr"].as_f64().unwrap(), 10500.0 / 10200.0 - 1.0));
    // Presets resolve against the evaluation date; a start before inception
    // moves to the inception reference (YTD would start on 31 Dec).
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary?period=ytd")).await;
    assert_eq!(s["period"]["start"], "2024-01-01");
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary?period=1M")).await;
    assert_eq!(s["period"]["start"], "2024-05-15");
    // A 1D period over a weekend: Friday's close to Saturday's, no change.
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary?period=1D")).await;
    assert_eq!(s["period_figures"]["initial_value"], "10500");
    assert!(close(s["period_figures"]["twr"].as_f64().unwrap(), 0.0));
}

async fn performance_series_are_daily_weekly_or_monthly(app: TestApp) {
    let p = simple(&app).await;
    let daily = get_ok(&app, &format!("/api/v1/portfolios/{p}/performance")).await;
    let points = daily["points"].as_array().unwrap();
    assert_eq!(daily["interval"], "1d");
    assert_eq!(points.len(), 167, "1 Jan … 15 Jun");
    assert_eq!(points[0]["date"], "2024-01-01");
    assert_eq!(points[1]["value"], "10000");
    assert_eq!(points[1]["invested"], "1000");
    assert_eq!(points[1]["net_contributions"], "10000");
    // Weekend carries Friday's close forward.
    let last = points.last().unwrap();
    assert_eq!(last["date"], "2024-06-15");
    assert_eq!(last["value"], "10500");
    assert!(close(last["twr"].as_f64().unwrap(), 0.05));
    let monthly = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/performance?interval=1mo"),
    )
    .await;
    let dates: Vec<&str> = monthly["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            "2024-01-01",
            "2024-01-31",
            "2024-02-29",
            "2024-03-31",
            "2024-04-30",
            "2024-05-31",
            "2024-06-15"
        ]
    );
    let weekly = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/performance?interval=1wk&from=2024-06-01&to=2024-06-15"),
    )
    .await;
    let dates: Vec<&str> = weekly["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        ["2024-05-31", "2024-06-02", "2024-06-09", "2024-06-15"]
    );
    // Drawdown: the index never falls here.
    assert!(
        weekly["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["drawdown"].as_f64() == Some(0.0))
    );
}

async fn holdings_at_a_past_date_use_that_days_close(app: TestApp) {
    let p = simple(&app).await;
    let now = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    assert_eq!(now["as_of"], "2024-06-15");
    assert_eq!(now["portfolio_id"], p);
    let pos = &now["positions"][0];
    assert_eq!(pos["symbol"], "AAPL");
    assert_eq!(pos["quantity"], "10");
    assert_eq!(pos["last_price"], "150");
    assert_eq!(pos["market_value"], "1500");
    assert_eq!(pos["market_value_base"], "1500");
    assert_eq!(pos["weight"], "1");
    assert_eq!(pos["open_lots"].as_array().unwrap().len(), 1);
    assert_eq!(now["cash"][0]["balance"], "9000");

    let then = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings?at=2024-03-29"),
    )
    .await;
    assert_eq!(then["as_of"], "2024-03-29");
    let pos = &then["positions"][0];
    assert_eq!(pos["last_price"], "120");
    assert_eq!(pos["market_value"], "1200");
    assert_eq!(pos["unrealized_gain"], "200");
    assert_eq!(pos["unrealized_gain_pct"], "0.2");
    // Before the first purchase nothing is held.
    let before = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings?at=2023-12-01"),
    )
    .await;
    assert_eq!(before["positions"].as_array().unwrap().len(), 0);
    let bad = problem(
        app.get(&format!("/api/v1/portfolios/{p}/holdings?at=yesterday"))
            .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "at");
}

async fn unknown_periods_and_parameters_are_422_naming_the_field(app: TestApp) {
    let p = simple(&app).await;
    for (query, field) in [
        ("summary?period=2Q", "period"),
        ("summary?from=2024-02-01", "to"),
        ("summary?from=2024-02-01&to=2024-01-01", "from"),
        ("summary?period=1M&from=2024-01-01&to=2024-02-01", "period"),
        ("performance?interval=1h", "interval"),
        ("performance?period=forever", "period"),
        ("allocation?by=colour", "by"),
        ("income?group=week", "group"),
        ("realized?period=1Q", "period"),
        ("summary?colour=red", "colour"),
    ] {
        let body = problem(
            app.get(&format!("/api/v1/portfolios/{p}/{query}")).await,
            422,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let body = problem(
        app.get(&format!("/api/v1/portfolios/{p}/summary?period=2Q"))
            .await,
        422,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("2Q"), "{body}");
    problem(app.get("/api/v1/portfolios/999999/summary").await, 404).await;
    problem(app.get("/api/v1/portfolios/abc/summary").await, 404).await;
}

async fn a_missing_fx_rate_is_a_422_naming_the_pair_and_date_until_the_rate_is_stored(
    app: TestApp,
) {
    app.add_instrument("SAP", "stock", "EUR").await;
    let p = portfolio(&app, "Euro", "USD").await;
    record(
        &app,
        p,
        json!([{"type": "buy", "time": "2024-01-03", "symbol": "SAP", "quantity": "10", "price": "100", "fee": "0", "currency": "EUR"}]),
    )
    .await;
    bars(&app, "SAP", &[("2024-01-03", "100"), ("2024-06-14", "110")]).await;
    for route in [
        "summary",
        "performance",
        "holdings",
        "allocation",
        "realized",
    ] {
        let body = problem(
            app.get(&format!("/api/v1/portfolios/{p}/{route}")).await,
            422,
        )
        .await;
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("EURUSD") && detail.contains("2024-01-03"),
            "{route}: {body}"
        );
        assert_eq!(body["errors"][0]["field"], "fx_rate", "{body}");
    }
    // The buy added the pair (EURUSD=X, as the rate lookup prefers): until
    // its history arrives, the error says it is being fetched.
    let body = problem(
        app.get(&format!("/api/v1/portfolios/{p}/summary")).await,
        422,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("no EURUSD=X rate on or before 2024-01-03 yet; the pair was added"),
        "{body}"
    );
    // Rates that start too late still fail, naming the first date without one.
    bars(&app, "EURUSD=X", &[("2024-02-01", "1.1")]).await;
    let body = problem(
        app.get(&format!("/api/v1/portfolios/{p}/summary")).await,
        422,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("EURUSD"),
        "{body}"
    );
    // Once the rate of the trade date is stored, the figures follow (the
    // stored bars invalidate the cached failure).
    bars(&app, "EURUSD=X", &[("2024-01-02", "1.1")]).await;
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary")).await;
    assert_eq!(s["totals"]["market_value"], "1210");
}

async fn values_convert_at_stored_fx_rates_and_their_inverse(app: TestApp) {
    app.add_instrument("SAP", "stock", "EUR").await;
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("EURUSD=X", "fx", "USD").await;
    bars(
        &app,
        "EURUSD=X",
        &[("2024-01-02", "1.1"), ("2024-06-14", "1.2")],
    )
    .await;
    bars(&app, "SAP", &[("2024-01-03", "100"), ("2024-06-14", "110")]).await;
    bars(
        &app,
        "AAPL",
        &[("2024-01-03", "100"), ("2024-06-14", "150")],
    )
    .await;
    // A USD portfolio holding a EUR stock: EURUSD=X directly.
    let usd = portfolio(&app, "Dollar", "USD").await;
    record(
        &app,
        usd,
        json!([{"type": "buy", "time": "2024-01-03", "symbol": "SAP", "quantity": "10", "price": "100", "fee": "0", "currency": "EUR"}]),
    )
    .await;
    let h = get_ok(&app, &format!("/api/v1/portfolios/{usd}/holdings")).await;
    let pos = &h["positions"][0];
    assert_eq!(pos["currency"], "EUR");
    assert_eq!(pos["market_value"], "1100");
    assert_eq!(pos["cost_basis"], "1000");
    assert_eq!(pos["market_value_base"], "1320");
    assert_eq!(pos["cost_basis_base"], "1100");
    // 220 gain in USD: 120 from the price at today's rate, 100 from the rate.
    assert_eq!(pos["unrealized_gain_base"], "220");
    assert_eq!(pos["price_effect"], "120");
    assert_eq!(pos["currency_effect"], "100");
    // A EUR portfolio holding a USD stock: the inverse of EURUSD=X.
    let eur = portfolio(&app, "Euro", "EUR").await;
    record(
        &app,
        eur,
        json!([{"type": "buy", "time": "2024-01-03", "symbol": "AAPL", "quantity": "12", "price": "100", "fee": "0", "currency": "USD"}]),
    )
    .await;
    let s = get_ok(&app, &format!("/api/v1/portfolios/{eur}/summary")).await;
    // 12 × 150 USD ÷ 1.2 = 1500 EUR; cost 1200 USD ÷ 1.1.
    assert_eq!(s["totals"]["market_value"], "1500");
    let cost: f64 = s["totals"]["cost_basis"].as_str().unwrap().parse().unwrap();
    assert!((cost - 1200.0 / 1.1).abs() < 1e-6, "{s}");
    let alloc = get_ok(
        &app,
        &format!("/api/v1/portfolios/{eur}/allocation?by=currency"),
    )
    .await;
    assert_eq!(alloc["slices"][0]["key"], "USD");
    assert_eq!(alloc["slices"][0]["value"], "1500");

    // Realized and period gains split the same way: buy 10 SAP at 100 EUR
    // (1.1), sell 4 at 110 EUR (1.2).
    let sold = portfolio(&app, "Sold", "USD").await;
    record(
        &app,
        sold,
        json!([
            {"type": "buy", "time": "2024-01-03", "symbol": "SAP", "quantity": "10", "price": "100", "fee": "0", "currency": "EUR"},
            {"type": "sell", "time": "2024-06-14", "symbol": "SAP", "quantity": "4", "price": "110", "fee": "0", "currency": "EUR"},
        ]),
    )
    .await;
    let r = get_ok(&app, &format!("/api/v1/portfolios/{sold}/realized")).await;
    let lot = &r["lots"][0];
    // 528 − 440 USD: 528 − 400 EUR × 1.2 from the price, 400 EUR × (1.2 − 1.1) from the rate.
    assert_eq!(lot["gain"], "88", "{lot}");
    assert_eq!(lot["price_effect"], "48", "{lot}");
    assert_eq!(lot["currency_effect"], "40", "{lot}");
    assert_eq!(r["total_currency_effect"], "40", "{r}");
    let s = get_ok(&app, &format!("/api/v1/portfolios/{sold}/summary")).await;
    let f = &s["period_figures"];
    assert_eq!(f["realized_gains"], "88", "{f}");
    assert_eq!(f["realized_price_effect"], "48", "{f}");
    assert_eq!(f["realized_currency_effect"], "40", "{f}");
    // 6 × 110 × 1.2 − 660: 792 − 600 EUR × 1.2 and 600 EUR × (1.2 − 1.1).
    assert_eq!(f["unrealized_gains"], "132", "{f}");
    assert_eq!(f["unrealized_price_effect"], "72", "{f}");
    assert_eq!(f["unrealized_currency_effect"], "60", "{f}");
    assert_eq!(s["totals"]["realized_price_effect"], "48", "{s}");
    assert_eq!(s["totals"]["realized_currency_effect"], "40", "{s}");
}

async fn allocation_income_and_realized_lots(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("VTI", "etf", "USD").await;
    let p = portfolio(&app, "Main", "USD").await;
    record(
        &app,
        p,
        json!([
            tx("buy", "AAPL", "2024-01-02", "10", "100"),
            tx("buy", "AAPL", "2024-02-01", "10", "120"),
            tx("buy", "VTI", "2024-01-02", "5", "200"),
            {"type": "dividend", "time": "2024-02-15", "symbol": "AAPL", "amount": "4.8", "tax": "0.72", "currency": "USD"},
            {"type": "dividend", "time": "2024-05-15", "symbol": "AAPL", "amount": "2.5", "currency": "USD"},
            tx("sell", "AAPL", "2024-03-01", "15", "130"),
        ]),
    )
    .await;
    bars(
        &app,
        "AAPL",
        &[("2024-01-02", "100"), ("2024-06-14", "150")],
    )
    .await;
    bars(&app, "VTI", &[("2024-01-02", "200"), ("2024-06-14", "250")]).await;
    let a = get_ok(&app, &format!("/api/v1/portfolios/{p}/allocation?by=kind")).await;
    assert_eq!(a["by"], "kind");
    let slices = a["slices"].as_array().unwrap();
    let value = |key: &str| {
        slices
            .iter()
            .find(|s| s["key"] == key)
            .map(|s| s["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(value("etf").as_deref(), Some("1250"));
    assert_eq!(value("stock").as_deref(), Some("750"));
    let a = get_ok(&app, &format!("/api/v1/portfolios/{p}/allocation")).await;
    assert_eq!(a["by"], "instrument");
    assert_eq!(a["slices"][0]["key"], "VTI");
    assert_eq!(a["slices"][0]["weight"], "0.625");

    let i = get_ok(&app, &format!("/api/v1/portfolios/{p}/income?group=month")).await;
    let buckets = i["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(buckets[0]["period"], "2024-02");
    assert_eq!(buckets[0]["dividends_gross"], "4.8");
    assert_eq!(buckets[0]["net"], "4.08");
    let i = get_ok(&app, &format!("/api/v1/portfolios/{p}/income?group=year")).await;
    assert_eq!(i["buckets"][0]["period"], "2024");
    assert_eq!(i["buckets"][0]["dividends_gross"], "7.3");
    let i = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/income?from=2024-04-01&to=2024-06-15"),
    )
    .await;
    assert_eq!(i["buckets"].as_array().unwrap().len(), 1);

    // Average cost: one lot, opened on the first purchase.
    let r = get_ok(&app, &format!("/api/v1/portfolios/{p}/realized")).await;
    let lots = r["lots"].as_array().unwrap();
    assert_eq!(lots.len(), 1);
    assert_eq!(lots[0]["symbol"], "AAPL");
    assert_eq!(lots[0]["bought"], "2024-01-02");
    assert_eq!(lots[0]["sold"], "2024-03-01");
    assert_eq!(lots[0]["quantity"], "15");
    assert_eq!(lots[0]["cost"], "1650");
    assert_eq!(lots[0]["proceeds"], "1950");
    assert_eq!(lots[0]["gain"], "300");
    assert_eq!(r["total_gain"], "300");
    let none = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/realized?from=2024-04-01&to=2024-06-15"),
    )
    .await;
    assert_eq!(none["lots"].as_array().unwrap().len(), 0);
}

async fn the_cost_basis_method_is_a_portfolio_setting(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let r = app
        .post_json(
            "/api/v1/portfolios",
            &json!({"name": "Lots", "base_currency": "USD", "cost_basis_method": "fifo"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    assert_eq!(created["cost_basis_method"], "fifo");
    let p = created["id"].as_i64().unwrap();
    let plain = portfolio(&app, "Plain", "USD").await;
    let read = get_ok(&app, &format!("/api/v1/portfolios/{plain}")).await;
    assert_eq!(read["cost_basis_method"], "average");
    let bad = problem(
        app.post_json(
            "/api/v1/portfolios",
            &json!({"name": "X", "cost_basis_method": "newest"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "cost_basis_method");
    // Nothing was created by the refused request.
    let all = get_ok(&app, "/api/v1/portfolios").await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    record(
        &app,
        p,
        json!([
            tx("buy", "AAPL", "2024-01-02", "10", "100"),
            tx("buy", "AAPL", "2024-02-01", "10", "200"),
            tx("sell", "AAPL", "2024-03-01", "10", "250"),
        ]),
    )
    .await;
    bars(&app, "AAPL", &[("2024-06-14", "300")]).await;
    let realized_path = format!("/api/v1/portfolios/{p}/realized");
    assert_eq!(
        get_ok(&app, &realized_path).await["total_gain"],
        "1500",
        "FIFO sells the 100s"
    );
    for (method, gain) in [("lifo", "500"), ("hifo", "500"), ("average", "1000")] {
        let r = app
            .request(Method::PUT, &format!("/api/v1/portfolios/{p}"))
            .json(&json!({"name": "Lots", "base_currency": "USD", "cost_basis_method": method}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(json(r).await["cost_basis_method"], method);
        assert_eq!(
            get_ok(&app, &realized_path).await["total_gain"],
            gain,
            "{method}"
        );
        let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary")).await;
        assert_eq!(s["cost_basis_method"], method);
    }
    // A PUT without the method keeps it.
    let r = app
        .request(Method::PUT, &format!("/api/v1/portfolios/{p}"))
        .json(&json!({"name": "Renamed", "base_currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["cost_basis_method"], "average");
}

async fn figures_follow_ledger_and_price_changes(app: TestApp) {
    let p = simple(&app).await;
    let path = format!("/api/v1/portfolios/{p}/summary");
    let s = get_ok(&app, &path).await;
    assert_eq!(s["totals"]["total_value"], "10500");
    // Asking again is answered from the cache (once the background
    // preparations after the ledger change are done).
    app.ctx.analytics.settle().await;
    let builds = app.ctx.analytics.builds();
    let again = get_ok(&app, &path).await;
    assert_eq!(again, s);
    assert_eq!(
        app.ctx.analytics.builds(),
        builds,
        "no rebuild for a repeat"
    );
    // A new transaction is seen at once.
    record(
        &app,
        p,
        json!([tx("buy", "AAPL", "2024-06-14", "10", "150")]),
    )
    .await;
    let s = get_ok(&app, &path).await;
    assert_eq!(s["totals"]["market_value"], "3000");
    assert_eq!(s["totals"]["cash_balance"], "7500");
    // So is a new price (a stored bar of a symbol the portfolio reads).
    bars(&app, "AAPL", &[("2024-06-14", "160")]).await;
    let s = get_ok(&app, &path).await;
    assert_eq!(s["totals"]["market_value"], "3200");
    let h = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    assert_eq!(h["positions"][0]["last_price"], "160");
    // Today's intraday bar is today's value.
    let csv = "time,open,high,low,close,volume\n2024-06-15T14:00:00Z,165,165,165,165,1\n";
    let r = app
        .post_csv("/api/v1/instruments/AAPL/bars?interval=1h", csv)
        .await;
    assert_eq!(r.status(), 200);
    let h = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    assert_eq!(h["positions"][0]["last_price"], "165");
    // Deleting the transaction brings the old figures back.
    let list = get_ok(&app, &format!("/api/v1/portfolios/{p}/transactions")).await;
    let last_id = list["items"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/v1/portfolios/{p}/transactions/{last_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let s = get_ok(&app, &path).await;
    assert_eq!(s["totals"]["market_value"], "1650");
}

async fn a_new_transaction_revalues_only_from_its_date(app: TestApp) {
    let p = simple(&app).await;
    let admin = app
        .ctx
        .store
        .user_by_name("admin")
        .await
        .unwrap()
        .expect("admin");
    let resumed_from = || async {
        // Ledger changes re-prepare in the background: wait for that first.
        app.ctx.analytics.settle().await;
        app.ctx
            .analytics
            .portfolio_build(admin.id, pricetrack_domain::PortfolioId(p))
            .expect("prepared")
            .resumed_from
    };
    let performance = format!("/api/v1/portfolios/{p}/performance?from=2024-01-01&to=2024-06-15");
    let summary = format!("/api/v1/portfolios/{p}/summary?period=MAX");
    get_ok(&app, &performance).await;
    assert_eq!(resumed_from().await, None, "the first preparation is full");

    record(
        &app,
        p,
        json!([tx("sell", "AAPL", "2024-04-02T15:00:00Z", "4", "125")]),
    )
    .await;
    assert_eq!(
        resumed_from().await,
        Some("2024-04-02".parse().unwrap()),
        "the days before the new sale are reused"
    );
    let resumed = (
        get_ok(&app, &performance).await,
        get_ok(&app, &summary).await,
    );
    // A preparation from scratch gives the same answers.
    app.ctx.analytics.clear();
    let full = (
        get_ok(&app, &performance).await,
        get_ok(&app, &summary).await,
    );
    assert_eq!(resumed_from().await, None);
    assert_eq!(resumed, full);

    // A split restates the activities before it: everything is recomputed.
    record(
        &app,
        p,
        json!([{"type": "split", "time": "2024-05-01", "symbol": "AAPL", "ratio": "2:1", "currency": "USD"}]),
    )
    .await;
    assert_eq!(resumed_from().await, None);
}

async fn performance_beside_a_benchmark_and_the_returns_and_contributions_tables(app: TestApp) {
    let p = simple(&app).await;
    app.add_instrument("SPY", "etf", "USD").await;
    bars(&app, "SPY", &[("2024-01-02", "400"), ("2024-06-14", "440")]).await;

    let perf = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/performance?interval=1mo&benchmark=SPY"),
    )
    .await;
    assert_eq!(perf["benchmark"], "SPY");
    let points = perf["points"].as_array().unwrap();
    let last = points.last().unwrap();
    assert_eq!(last["date"], "2024-06-15");
    let spy = last["benchmark_return"].as_f64().unwrap();
    assert!((spy - 0.10).abs() < 1e-12, "440 / 400 − 1, got {spy}");
    // Without the parameter the points carry no benchmark field.
    let plain = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/performance?interval=1mo"),
    )
    .await;
    assert!(plain["points"][0].get("benchmark_return").is_none());
    assert!(plain.get("benchmark").is_none());
    let twr = last["twr"].as_f64().unwrap();

    let missing = app
        .get(&format!(
            "/api/v1/portfolios/{p}/performance?benchmark=NOPE"
        ))
        .await;
    let body = problem(missing, 404).await;
    assert!(body["detail"].as_str().unwrap().contains("NOPE"), "{body}");
    let bad = app
        .get(&format!(
            "/api/v1/portfolios/{p}/performance?benchmark=a%20b"
        ))
        .await;
    let body = problem(bad, 422).await;
    assert!(body.to_string().contains("benchmark"), "{body}");

    // The year × month table chains to the same TWR.
    let returns = get_ok(&app, &format!("/api/v1/portfolios/{p}/returns")).await;
    let years = returns["years"].as_array().unwrap();
    assert_eq!(years.len(), 1);
    assert_eq!(years[0]["year"], 2024);
    let months = years[0]["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    assert!(months[6..].iter().all(Value::is_null), "no day after June");
    let chained = months
        .iter()
        .filter_map(Value::as_f64)
        .fold(1.0, |acc, m| acc * (1.0 + m))
        - 1.0;
    let year = years[0]["year_return"].as_f64().unwrap();
    assert!((chained - year).abs() < 1e-9, "{chained} vs {year}");
    assert!(
        (year - twr).abs() < 1e-9,
        "{year} vs the performance TWR {twr}"
    );

    // One holding: it contributes everything the portfolio gained.
    let c = get_ok(&app, &format!("/api/v1/portfolios/{p}/contributions")).await;
    let holdings = c["holdings"].as_array().unwrap();
    assert_eq!(holdings.len(), 1);
    assert_eq!(holdings[0]["symbol"], "AAPL");
    assert_eq!(holdings[0]["gain"], "500");
    assert!(c["modified_dietz_return"].as_f64().unwrap() > 0.0);
}

async fn a_burst_of_changes_leaves_the_background_preparation_current(app: TestApp) {
    let p = simple(&app).await;
    let path = format!("/api/v1/portfolios/{p}/summary");
    get_ok(&app, &path).await;
    // A script records transactions one by one; background preparations are
    // coalesced, but the last change must still be covered.
    for day in 3..13 {
        record(
            &app,
            p,
            json!([tx(
                "buy",
                "AAPL",
                &format!("2024-06-{day:02}T15:00:00Z"),
                "1",
                "150"
            )]),
        )
        .await;
    }
    app.ctx.analytics.settle().await;
    let builds = app.ctx.analytics.builds();
    let s = get_ok(&app, &path).await;
    assert_eq!(
        app.ctx.analytics.builds(),
        builds,
        "the background preparation already covers the last change"
    );
    assert_eq!(s["totals"]["market_value"], "3000", "20 shares at 150");
}

/// An entry older than the cache's age limit answers at once and is reloaded
/// in the background, picking up bars another process wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aged_analytics_entry_answers_at_once_and_reloads_in_the_background() {
    use pricetrack_app::portfolio_analytics::CacheConfig;
    let app = harness::spawn_app_configured(
        harness::Backend::Sqlite,
        pricetrack_server::config::Settings::default(),
        |ctx| {
            ctx.with_analytics_config(CacheConfig {
                max_age: std::time::Duration::from_millis(300),
                ..CacheConfig::default()
            })
        },
    )
    .await
    .expect("sqlite is always available");
    let p = simple(&app).await;
    let path = format!("/api/v1/portfolios/{p}/summary");
    assert_eq!(get_ok(&app, &path).await["totals"]["market_value"], "1500");
    app.ctx.analytics.settle().await;
    // Another process stores a new close: nothing is announced to this one.
    let close = pricetrack_domain::Bar::new(
        pricetrack_domain::Symbol::parse("AAPL").unwrap(),
        pricetrack_domain::Interval::D1,
        "2024-06-14T00:00:00Z".parse().unwrap(),
        pricetrack_domain::Ohlcv {
            open: 160.0,
            high: 160.0,
            low: 160.0,
            close: 160.0,
            volume: 0.0,
        },
    )
    .unwrap();
    app.ctx.store.upsert_bars(&[close]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        get_ok(&app, &path).await["totals"]["market_value"],
        "1500",
        "the aged figures answer at once"
    );
    app.ctx.analytics.settle().await;
    assert_eq!(
        get_ok(&app, &path).await["totals"]["market_value"],
        "1600",
        "the reload read the new close"
    );
}

async fn all_portfolios_combine_into_one_view(app: TestApp) {
    let a = simple(&app).await;
    let b = portfolio(&app, "Second", "USD").await;
    record(
        &app,
        b,
        json!([
            {"type": "deposit", "time": "2024-03-01", "amount": "2000", "currency": "USD"},
            tx("buy", "AAPL", "2024-03-01", "5", "110"),
        ]),
    )
    .await;
    let one = get_ok(&app, &format!("/api/v1/portfolios/{a}/summary")).await;
    let two = get_ok(&app, &format!("/api/v1/portfolios/{b}/summary")).await;
    let all = get_ok(&app, "/api/v1/portfolios/all/summary").await;
    assert_eq!(all["portfolios"].as_array().unwrap().len(), 2);
    let sum = |field: &str| -> f64 {
        [&one, &two]
            .iter()
            .map(|s| s["totals"][field].as_str().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let total: f64 = all["totals"]["total_value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((total - sum("total_value")).abs() < 1e-9, "{all}");
    // 10,500 + (1,450 cash + 5 × 150).
    assert_eq!(all["totals"]["total_value"], "12700");
    let h = get_ok(&app, "/api/v1/portfolios/all/holdings").await;
    assert!(h["portfolio_id"].is_null());
    assert_eq!(h["positions"][0]["quantity"], "15");
    // Lots keep the portfolio they belong to.
    let h = get_ok(&app, "/api/v1/portfolios/all/holdings?method=fifo").await;
    assert_eq!(h["cost_basis_method"], "fifo");
    let accounts: Vec<&str> = h["positions"][0]["open_lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["Main", "Second"]);
    for route in ["performance", "allocation", "income", "realized"] {
        get_ok(&app, &format!("/api/v1/portfolios/all/{route}")).await;
    }
    let bad = problem(
        app.get("/api/v1/portfolios/all/summary?currency=XX1").await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "currency");
    let bad = problem(
        app.get(&format!("/api/v1/portfolios/{a}/summary?currency=EUR"))
            .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "currency");
}

/// Every analytics route, with the parameters that reach past the scope check.
const ANALYTICS_ROUTES: [&str; 13] = [
    "summary",
    "summary?period=YTD",
    "performance",
    "performance?benchmark=AAPL&interval=1wk",
    "holdings",
    "holdings?at=2024-03-01",
    "holdings/AAPL/summary",
    "allocation?by=currency",
    "income?group=year",
    "realized",
    "returns",
    "contributions?period=1Y",
    "summary?from=2024-01-01&to=2024-03-31",
];

async fn another_users_portfolio_is_not_found(app: TestApp) {
    let p = simple(&app).await;
    let other = app.other_user("eve").await;
    for route in ANALYTICS_ROUTES {
        let r = other
            .request(Method::GET, &format!("/api/v1/portfolios/{p}/{route}"))
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        // Nor can it be smuggled into a group.
        let separator = if route.contains('?') { '&' } else { '?' };
        let r = other
            .request(
                Method::GET,
                &format!("/api/v1/portfolios/all/{route}{separator}portfolios={p}"),
            )
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
    }
    // Eve's combined view is empty, not Ann's.
    let r = other
        .request(Method::GET, "/api/v1/portfolios/all/holdings")
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(body["positions"].as_array().unwrap().len(), 0, "{body}");
    let r = other
        .request(Method::GET, "/api/v1/portfolios/all/summary")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn transfers_are_external_flows_without_cash(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = portfolio(&app, "Moved", "USD").await;
    record(
        &app,
        p,
        json!([
            {"type": "deposit", "time": "2024-01-02", "amount": "1000", "currency": "USD"},
            tx("transfer_in", "AAPL", "2024-01-02", "10", "100"),
            tx("transfer_out", "AAPL", "2024-03-01", "4", "120"),
        ]),
    )
    .await;
    bars(
        &app,
        "AAPL",
        &[
            ("2024-01-02", "100"),
            ("2024-03-01", "120"),
            ("2024-06-14", "150"),
        ],
    )
    .await;
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary")).await;
    let f = &s["period_figures"];
    // Deposit 1000 + 10 × 100 delivered in; 4 × 120 delivered out.
    assert_eq!(f["flows_in"], "2000");
    assert_eq!(f["flows_out"], "480");
    assert_eq!(s["totals"]["cash_balance"], "1000", "no cash leg");
    assert_eq!(s["totals"]["market_value"], "900");
    let list = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/transactions?type=transfer_in"),
    )
    .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["type"], "transfer_in");
    assert_eq!(list["items"][0]["quantity"], "10");
}

/// Buy 10 AAPL at 100 with a fee of 5, sell 4 at 130 with a fee of 2; AAPL closes at 150.
async fn gains_are_reported_before_and_after_fees(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = portfolio(&app, "Fees", "USD").await;
    record(
        &app,
        p,
        json!([
            {"type": "buy", "time": "2024-01-02", "symbol": "AAPL", "quantity": "10", "price": "100", "fee": "5", "currency": "USD"},
            {"type": "sell", "time": "2024-03-01", "symbol": "AAPL", "quantity": "4", "price": "130", "fee": "2", "currency": "USD"},
        ]),
    )
    .await;
    bars(
        &app,
        "AAPL",
        &[("2024-01-02", "100"), ("2024-06-14", "150")],
    )
    .await;
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary")).await;
    let t = &s["totals"];
    // Realized: 4 × 130 − 400 = 120; after fees (520 − 2) − (400 + 4/10 × 5) = 116.
    assert_eq!(t["realized_gain"], "120", "{t}");
    assert_eq!(t["realized_gain_net"], "116", "{t}");
    // Unrealized: 6 × 150 − 600 = 300; after fees 900 − (600 + 3) = 297.
    assert_eq!(t["unrealized_gain"], "300", "{t}");
    assert_eq!(t["unrealized_gain_net"], "297", "{t}");
    let h = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    let position = &h["positions"][0];
    assert_eq!(position["realized_gain_net"], "116", "{position}");
    assert_eq!(position["unrealized_gain_net_base"], "297", "{position}");
    let r = get_ok(&app, &format!("/api/v1/portfolios/{p}/realized")).await;
    assert_eq!(r["lots"][0]["gain"], "120", "{r}");
    assert_eq!(r["lots"][0]["gain_net"], "116", "{r}");
    assert_eq!(r["total_gain"], "120", "{r}");
    assert_eq!(r["total_gain_net"], "116", "{r}");
}

async fn a_group_of_portfolios_is_one_view_and_every_id_must_be_yours(app: TestApp) {
    let a = simple(&app).await;
    let b = portfolio(&app, "Second", "USD").await;
    record(
        &app,
        b,
        json!([
            {"type": "deposit", "time": "2024-03-01", "amount": "2000", "currency": "USD"},
            tx("buy", "AAPL", "2024-03-01", "5", "110"),
        ]),
    )
    .await;
    let c = portfolio(&app, "Third", "USD").await;
    record(
        &app,
        c,
        json!([{"type": "deposit", "time": "2024-03-01", "amount": "500", "currency": "USD"}]),
    )
    .await;
    // Main (10,500) and Third (500), named in any order and repeated.
    let group = get_ok(
        &app,
        &format!("/api/v1/portfolios/all/summary?portfolios={c},{a},{c}"),
    )
    .await;
    let mut ids: Vec<i64> = group["portfolios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [a, c], "{group}");
    assert_eq!(group["totals"]["total_value"], "11000", "{group}");
    assert_eq!(group["period_figures"]["flows_in"], "10500", "{group}");
    for route in ANALYTICS_ROUTES {
        let separator = if route.contains('?') { '&' } else { '?' };
        get_ok(
            &app,
            &format!("/api/v1/portfolios/all/{route}{separator}portfolios={a},{c}"),
        )
        .await;
    }
    let h = get_ok(
        &app,
        &format!("/api/v1/portfolios/all/holdings?portfolios={a},{b}&method=fifo"),
    )
    .await;
    assert!(h["portfolio_id"].is_null(), "{h}");
    assert_eq!(h["positions"][0]["quantity"], "15", "{h}");
    assert_eq!(h["positions"][0]["open_lots"].as_array().unwrap().len(), 2);
    let one = get_ok(
        &app,
        &format!("/api/v1/portfolios/all/holdings/AAPL/summary?portfolios={b}"),
    )
    .await;
    assert_eq!(one["totals"]["market_value"], "750", "{one}");

    // Every id must be one of yours: another user's, or none at all, is a 404.
    let other = app.other_user("eve").await;
    let r = other
        .request(Method::POST, "/api/v1/portfolios")
        .json(&json!({"name": "Eve's", "base_currency": "USD"}))
        .send()
        .await
        .unwrap();
    let eves = json(r).await["id"].as_i64().unwrap();
    for ids in [
        format!("{a},{eves}"),
        format!("{eves}"),
        "999999".to_owned(),
    ] {
        let r = app
            .get(&format!("/api/v1/portfolios/all/summary?portfolios={ids}"))
            .await;
        problem(r, 404).await;
    }
    for bad in ["x", "", "1;2"] {
        let body = problem(
            app.get(&format!("/api/v1/portfolios/all/summary?portfolios={bad}"))
                .await,
            422,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "portfolios", "{body}");
    }
    let body = problem(
        app.get(&format!("/api/v1/portfolios/{a}/summary?portfolios={a}"))
            .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "portfolios", "{body}");
}

async fn one_holdings_figures_come_from_its_own_activities(app: TestApp) {
    let p = simple(&app).await;
    app.add_instrument("MSFT", "stock", "USD").await;
    record(
        &app,
        p,
        json!([
            tx("buy", "MSFT", "2024-02-01", "2", "300"),
            {"type": "dividend", "time": "2024-03-15", "symbol": "AAPL", "amount": "10", "tax": "1.5", "currency": "USD"},
        ]),
    )
    .await;
    bars(
        &app,
        "MSFT",
        &[("2024-02-01", "300"), ("2024-06-14", "330")],
    )
    .await;
    let h = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings/AAPL/summary?period=MAX"),
    )
    .await;
    assert_eq!(h["symbol"], "AAPL");
    assert_eq!(h["portfolios"][0]["id"], p);
    // Since AAPL's first activity: bought for 1,000, worth 1,500, a dividend of 10.
    assert_eq!(h["period"]["start"], "2024-01-01");
    let f = &h["period_figures"];
    assert_eq!(f["initial_value"], "0", "{f}");
    assert_eq!(f["flows_in"], "1000", "{f}");
    assert_eq!(f["unrealized_gains"], "500", "{f}");
    assert_eq!(f["income"], "10", "{f}");
    assert_eq!(f["taxes"], "1.5", "{f}");
    assert_eq!(f["final_value"], "1500", "{f}");
    // (500 + 10 − 1.5) ÷ 1,000.
    assert_eq!(f["simple_return_on_cost"], "0.5085", "{f}");
    // Chained daily without cash: the dividend is paid out at the end of its
    // day (+1 %), then 100 → 120 (+20 %) → 150 (+25 %).
    assert!(
        close(f["twr"].as_f64().unwrap(), 1.01 * 1.2 * 1.25 - 1.0),
        "{f}"
    );
    assert!(f["xirr"].as_f64().unwrap() > 0.5, "{f}");
    // MSFT and the cash are not part of it.
    let t = &h["totals"];
    assert_eq!(t["market_value"], "1500", "{t}");
    assert_eq!(t["cash_balance"], "0", "{t}");
    assert_eq!(t["dividends_gross"], "10", "{t}");
    assert!(!h["cash_included"].as_bool().unwrap());
    // A custom period uses the holding's value at its start.
    let h = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings/AAPL/summary?from=2024-04-01&to=2024-06-15"),
    )
    .await;
    assert_eq!(h["period_figures"]["initial_value"], "1200");
    assert_eq!(h["period_figures"]["unrealized_gains"], "300");
    assert!(close(h["period_figures"]["twr"].as_f64().unwrap(), 0.25));
    // The combined view has it too; a symbol never held is a 404.
    get_ok(&app, "/api/v1/portfolios/all/holdings/AAPL/summary").await;
    problem(
        app.get(&format!("/api/v1/portfolios/{p}/holdings/NFLX/summary"))
            .await,
        404,
    )
    .await;
}

/// Ann's heavy computations hold every one of her permits, blocked until the
/// test releases them; Eve's request is answered meanwhile, and Ann's next
/// computation waits for a permit of her own.
async fn a_request_never_waits_behind_another_users_computation(app: TestApp) {
    use pricetrack_app::portfolio_analytics::{self as pa, Scope};
    use pricetrack_domain::PortfolioId;
    use std::sync::{Arc, Barrier};

    let p = simple(&app).await;
    let users = app.ctx.store.list_users().await.unwrap();
    let ann = users.into_iter().next().expect("the bootstrap admin");
    let eve = app.other_user("eve").await;
    let r = eve
        .request(Method::POST, "/api/v1/portfolios")
        .json(&json!({"name": "Eve's", "base_currency": "USD"}))
        .send()
        .await
        .unwrap();
    let eves = json(r).await["id"].as_i64().unwrap();
    let r = eve
        .request(
            Method::POST,
            &format!("/api/v1/portfolios/{eves}/transactions"),
        )
        .json(
            &json!([{"type": "deposit", "time": "2024-01-02", "amount": "100", "currency": "USD"}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let permits = app.ctx.analytics.config().per_user_computations;
    let release = Arc::new(Barrier::new(permits + 1));
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let spawn_computation = |i: usize, blocks: bool| {
        let (ctx, ann, release, started_tx) = (
            app.ctx.clone(),
            ann.clone(),
            Arc::clone(&release),
            started_tx.clone(),
        );
        tokio::spawn(async move {
            pa::answer(
                &ctx,
                &ann,
                Scope::Portfolio(PortfolioId(p)),
                format!("test computation {i}"),
                move |_| {
                    started_tx.send(i).expect("the test listens");
                    if blocks {
                        release.wait();
                    }
                    Ok(i)
                },
            )
            .await
            .map(|answer| *answer.value)
        })
    };
    let blocked: Vec<_> = (0..permits).map(|i| spawn_computation(i, true)).collect();
    for _ in 0..permits {
        started.recv().await.expect("a computation started");
    }
    // Every one of Ann's permits is taken: her next computation must wait…
    let queued = spawn_computation(permits, false);
    // …while Eve's request, which needs a computation of its own, is answered.
    let r = eve
        .request(Method::GET, &format!("/api/v1/portfolios/{eves}/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["totals"]["total_value"], "100");
    assert!(
        started.try_recv().is_err(),
        "Ann's third computation ran while her permits were all taken"
    );
    let waiter = Arc::clone(&release);
    tokio::task::spawn_blocking(move || {
        waiter.wait();
    })
    .await
    .unwrap();
    for (i, task) in blocked.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap(), i);
    }
    assert_eq!(queued.await.unwrap().unwrap(), permits);
}

/// Buy 10 AAPL at 100 with a fee of 5 and a tax of 3, sell 4 at 130 with a
/// fee of 2 and a tax of 6; AAPL closes at 150.
async fn a_trades_tax_is_a_cost_of_the_trade(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = portfolio(&app, "Taxed", "USD").await;
    record(
        &app,
        p,
        json!([
            {"type": "deposit", "time": "2024-01-02", "amount": "2000", "currency": "USD"},
            {"type": "buy", "time": "2024-01-02", "symbol": "AAPL", "quantity": "10", "price": "100", "fee": "5", "tax": "3", "currency": "USD"},
            {"type": "sell", "time": "2024-03-01", "symbol": "AAPL", "quantity": "4", "price": "130", "fee": "2", "tax": "6", "currency": "USD"},
        ]),
    )
    .await;
    bars(
        &app,
        "AAPL",
        &[("2024-01-02", "100"), ("2024-06-14", "150")],
    )
    .await;
    let listed = get_ok(&app, &format!("/api/v1/portfolios/{p}/transactions")).await;
    let buy = listed["items"]
        .as_array()
        .or_else(|| listed.as_array())
        .and_then(|items| items.iter().find(|t| t["type"] == "buy"))
        .cloned()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(buy["tax"], "3", "{buy}");
    let s = get_ok(&app, &format!("/api/v1/portfolios/{p}/summary")).await;
    let t = &s["totals"];
    // Before costs nothing changes: 120 realized, 300 unrealized.
    assert_eq!(t["realized_gain"], "120", "{t}");
    assert_eq!(t["unrealized_gain"], "300", "{t}");
    // After costs: (520 − 2 − 6) − 4/10 × (1000 + 5 + 3), and 900 − 6/10 × 1008.
    assert_eq!(t["realized_gain_net"], "108.8", "{t}");
    assert_eq!(t["unrealized_gain_net"], "295.2", "{t}");
    assert_eq!(t["taxes"], "9", "{t}");
    assert_eq!(t["fees"], "7", "{t}");
    // Cash: 2000 − 1008 + 512.
    assert_eq!(t["cash_balance"], "1504", "{t}");
    let h = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    assert_eq!(h["positions"][0]["cost_basis_incl_costs_base"], "604.8");
    // A delivery has no cash leg to tax.
    let r = app
        .post_json(
            &format!("/api/v1/portfolios/{p}/transactions"),
            &json!({"type": "transfer_in", "time": "2024-04-01", "symbol": "AAPL", "quantity": "1", "price": "100", "tax": "1", "currency": "USD"}),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(body["errors"][0]["field"], "tax", "{body}");
}

/// FIFO: buy 10 at 100, then 5 at 110, sell 12 at 130 on 1 March.
async fn holdings_at_a_past_date_list_that_dates_open_lots(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let r = app
        .post_json(
            "/api/v1/portfolios",
            &json!({"name": "Lots", "base_currency": "USD", "cost_basis_method": "fifo"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let p = json(r).await["id"].as_i64().unwrap();
    record(
        &app,
        p,
        json!([
            tx("buy", "AAPL", "2024-01-02", "10", "100"),
            tx("buy", "AAPL", "2024-02-01", "5", "110"),
            tx("sell", "AAPL", "2024-03-01", "12", "130"),
        ]),
    )
    .await;
    bars(
        &app,
        "AAPL",
        &[("2024-01-02", "100"), ("2024-06-14", "150")],
    )
    .await;
    let lots = |h: &Value| -> Vec<(String, String, String)> {
        h["positions"][0]["open_lots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["acquired"].as_str().unwrap().to_owned(),
                    l["quantity"].as_str().unwrap().to_owned(),
                    l["cost"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let then = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings?at=2024-02-15"),
    )
    .await;
    assert_eq!(
        lots(&then),
        [
            ("2024-01-02".to_owned(), "10".to_owned(), "1000".to_owned()),
            ("2024-02-01".to_owned(), "5".to_owned(), "550".to_owned())
        ],
        "{then}"
    );
    let first = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings?at=2024-01-15"),
    )
    .await;
    assert_eq!(
        lots(&first),
        [("2024-01-02".to_owned(), "10".to_owned(), "1000".to_owned())]
    );
    // After the sale: 3 units of the second lot, today and at a past date alike.
    let expected = [("2024-02-01".to_owned(), "3".to_owned(), "330".to_owned())];
    let after = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings?at=2024-03-15"),
    )
    .await;
    assert_eq!(lots(&after), expected, "{after}");
    let now = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    assert_eq!(lots(&now), expected, "{now}");
}

/// 10 held; on the split's day a buy of 5 at 09:00 (already in post-split
/// units), the 2:1 split at 12:00 and a sale at 15:00. The ledger check and
/// the analytics both apply the split first: 10 × 2 + 5 = 25 held.
async fn a_split_applies_before_the_trades_recorded_earlier_on_its_day(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let p = portfolio(&app, "Split", "USD").await;
    let path = format!("/api/v1/portfolios/{p}/transactions");
    let day = |sell: &str| {
        json!([
            tx("buy", "AAPL", "2024-01-02T15:00:00Z", "10", "100"),
            tx("buy", "AAPL", "2024-06-10T09:00:00Z", "5", "50"),
            {"type": "split", "time": "2024-06-10T12:00:00Z", "symbol": "AAPL", "ratio": "2:1", "currency": "USD"},
            tx("sell", "AAPL", "2024-06-10T15:00:00Z", sell, "55"),
        ])
    };
    // In timestamp order 30 would be held ((10 + 5) × 2); split first, 25.
    let body = problem(app.post_json(&path, &day("30")).await, 422).await;
    assert!(
        body["detail"].as_str().unwrap().contains("only 25 held"),
        "{body}"
    );
    assert_eq!(
        json(app.get(&path).await).await["total"],
        0,
        "nothing written"
    );
    let r = app.post_json(&path, &day("20")).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    bars(&app, "AAPL", &[("2024-01-02", "50"), ("2024-06-14", "60")]).await;
    let h = get_ok(&app, &format!("/api/v1/portfolios/{p}/holdings")).await;
    assert_eq!(h["positions"][0]["quantity"], "5", "{h}");
    // The day before the split, in today's units: 10 bought = 20 now.
    let before = get_ok(
        &app,
        &format!("/api/v1/portfolios/{p}/holdings?at=2024-06-09"),
    )
    .await;
    assert_eq!(before["positions"][0]["quantity"], "20", "{before}");
}
