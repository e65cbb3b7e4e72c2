//! HTTP-level tests of the web UI handlers: sign-in, sessions, CSRF, escaping,
//! security headers, live updates and the watchlists API — on both backends.

#[path = "api/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::{Backend, TestApp, json, spawn_app};
use pricetrack_app::{auth, sessions};
use reqwest::{Client, Method, Response, redirect::Policy};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// A browser-like client: no redirects followed, cookies kept by hand.
struct Browser<'a> {
    app: &'a TestApp,
    client: Client,
    cookies: Vec<(String, String)>,
    csrf: String,
    /// Sent as `X-Forwarded-For` (a client behind a reverse proxy).
    forwarded_for: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: Client::builder().redirect(Policy::none()).build().unwrap(),
            cookies: Vec::new(),
            csrf: String::new(),
            forwarded_for: None,
        }
    }

    fn behind_proxy_as(app: &'a TestApp, client: &str) -> Self {
        Self {
            forwarded_for: Some(client.to_owned()),
            ..Self::new(app)
        }
    }

    fn forwarded(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.forwarded_for {
            Some(client) => request.header("x-forwarded-for", client),
            None => request,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, r: &Response) {
        for v in r.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    async fn get(&mut self, path: &str) -> Response {
        let r = self
            .forwarded(self.client.get(format!("{}{path}", self.app.base)))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    async fn text(&mut self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        let body = r.text().await.unwrap();
        if let Some(token) = field_value(&body, "_csrf") {
            self.csrf = token;
        }
        body
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let r = self
            .forwarded(self.client.post(format!("{}{path}", self.app.base)))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    /// Signs in as admin (after setting the password) and keeps the session.
    async fn sign_in(&mut self) {
        set_admin_password(self.app).await;
        let login = self.text("/login").await;
        let token = field_value(&login, "_login").expect("login token");
        let r = self
            .post(
                "/login",
                &[
                    ("_login", &token),
                    ("username", "admin"),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        assert!(self.cookies.iter().any(|(k, _)| k == "pt_session"));
        self.text("/").await;
        assert!(!self.csrf.is_empty());
    }
}

fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

async fn set_admin_password(app: &TestApp) {
    let admin = auth::user_by_name(&app.ctx, "admin").await.unwrap();
    sessions::set_password(&app.ctx, &admin, PASSWORD)
        .await
        .unwrap();
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = super::spawn_app(super::Backend::Sqlite).await.expect("sqlite");
                    super::$case(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(app) = super::spawn_app(super::Backend::Postgres).await else { return };
                    super::$case(app).await;
                }
            )*
        }
    };
}

on_both_backends!(
    pages_redirect_to_login_without_a_session,
    signing_in_sets_an_http_only_cookie_and_every_page_renders_with_security_headers,
    wrong_passwords_are_refused_and_rate_limited,
    posts_without_the_sessions_csrf_token_are_refused,
    user_text_is_escaped_everywhere,
    signing_out_ends_the_session,
    transaction_form_errors_are_shown_beside_the_field_and_the_form_is_kept,
    csv_import_previews_and_reports_bad_lines_before_writing,
    the_import_preview_names_the_line_of_an_unknown_instrument_or_an_over_sale,
    skip_invalid_rows_in_the_import_preview_lists_the_left_out_lines_and_imports_the_rest,
    re_importing_a_file_reports_the_duplicates_it_skips,
    the_import_form_reads_the_other_formats,
    the_stream_sends_new_bars_to_subscribers,
    a_reconnecting_stream_first_gets_the_current_quotes,
    holdings_drive_live_parts_movers_and_stale_banners,
    the_1d_value_charts_draw_intraday_points_and_every_chart_has_a_data_table,
    the_52_week_range_falls_back_to_intraday_bars,
    removing_an_instrument_in_use_is_refused_with_the_count,
    a_hand_priced_item_takes_prices_from_its_form,
    a_revoked_token_stops_working,
    watchlists_api_creates_reorders_and_deletes,
    the_instrument_page_shows_its_fetch_status_and_quarantined_records,
    the_instrument_form_sets_a_url_source_and_shows_its_errors_beside_the_field,
);

async fn pages_redirect_to_login_without_a_session(app: TestApp) {
    let mut b = Browser::new(&app);
    let r = b.get("/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = b.get("/portfolios?x=1").await;
    assert_eq!(r.headers()["location"], "/login?next=/portfolios%3Fx%3D1");
    let r = b.get("/login").await;
    assert_eq!(r.status(), 200);
    let r = app
        .anonymous(Method::GET, "/api/v1/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn signing_in_sets_an_http_only_cookie_and_every_page_renders_with_security_headers(
    app: TestApp,
) {
    set_admin_password(&app).await;
    let mut b = Browser::new(&app);
    let login = b.text("/login").await;
    let token = field_value(&login, "_login").unwrap();
    // Behind a TLS-terminating proxy the cookie is Secure.
    let r = b
        .client
        .post(format!("{}/login", app.base))
        .header("cookie", b.cookie_header())
        .header("x-forwarded-proto", "https")
        .form(&[
            ("_login", token.as_str()),
            ("username", "admin"),
            ("password", PASSWORD),
            ("next", "/portfolios"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/portfolios");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("pt_session="))
        .expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    b.keep_cookies(&r);

    app.add_instrument("AAPL", "stock", "USD").await;
    let id = app.add_portfolio("Main").await;
    for path in [
        "/".to_owned(),
        "/instruments".to_owned(),
        "/instruments/AAPL".to_owned(),
        "/watchlists".to_owned(),
        "/portfolios".to_owned(),
        format!("/portfolios/{id}"),
        format!("/portfolios/{id}/transactions"),
        "/settings".to_owned(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h.contains_key("referrer-policy"));
        let body = r.text().await.unwrap();
        assert!(body.contains("<title>"), "{path}");
        assert!(!body.contains("<script>"), "{path}: no inline script");
        assert!(!body.contains(" style=\""), "{path}: no inline style");
        assert!(body.len() < 100_000, "{path}: {} bytes", body.len());
    }
}

/// Fails six sign-ins as admin from `b`; the last answer's status.
async fn fail_sign_ins(b: &mut Browser<'_>) -> u16 {
    let mut status = 0;
    for _ in 0..6 {
        let login = b.text("/login").await;
        let token = field_value(&login, "_login").unwrap();
        let r = b
            .post(
                "/login",
                &[
                    ("_login", &token),
                    ("username", "admin"),
                    ("password", "nope"),
                ],
            )
            .await;
        status = r.status().as_u16();
    }
    status
}

async fn sign_in_status(b: &mut Browser<'_>) -> u16 {
    let login = b.text("/login").await;
    let token = field_value(&login, "_login").unwrap();
    b.post(
        "/login",
        &[
            ("_login", &token),
            ("username", "admin"),
            ("password", PASSWORD),
        ],
    )
    .await
    .status()
    .as_u16()
}

/// Behind a trusted reverse proxy the rate limit counts per forwarded client;
/// from an untrusted peer the header is ignored (no fresh address per attempt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_rate_limit_counts_clients_behind_a_trusted_proxy_apart() {
    let trusting = pricetrack_server::config::Settings {
        trusted_proxies: pricetrack_server::client_address::parse_trusted_proxies("127.0.0.1, ::1")
            .unwrap(),
        ..pricetrack_server::config::Settings::default()
    };
    let app = harness::spawn_app_with(Backend::Sqlite, trusting)
        .await
        .expect("sqlite");
    set_admin_password(&app).await;
    let mut attacker = Browser::behind_proxy_as(&app, "203.0.113.7");
    assert_eq!(fail_sign_ins(&mut attacker).await, 429);
    let mut owner = Browser::behind_proxy_as(&app, "198.51.100.20");
    assert_eq!(
        sign_in_status(&mut owner).await,
        303,
        "another client signs in"
    );

    let app = spawn_app(Backend::Sqlite).await.expect("sqlite");
    set_admin_password(&app).await;
    let mut attacker = Browser::behind_proxy_as(&app, "203.0.113.7");
    assert_eq!(fail_sign_ins(&mut attacker).await, 429);
    let mut spoofing = Browser::behind_proxy_as(&app, "198.51.100.20");
    assert_eq!(
        sign_in_status(&mut spoofing).await,
        429,
        "an untrusted peer's X-Forwarded-For is not believed"
    );
}

async fn wrong_passwords_are_refused_and_rate_limited(app: TestApp) {
    set_admin_password(&app).await;
    let mut b = Browser::new(&app);
    for attempt in 0..6 {
        let login = b.text("/login").await;
        let token = field_value(&login, "_login").unwrap();
        let r = b
            .post(
                "/login",
                &[
                    ("_login", &token),
                    ("username", "admin"),
                    ("password", "nope"),
                ],
            )
            .await;
        let expected = if attempt < 5 { 401 } else { 429 };
        assert_eq!(r.status(), expected, "attempt {attempt}");
    }
    // Locked even with the right password until the window passes.
    let login = b.text("/login").await;
    let token = field_value(&login, "_login").unwrap();
    let r = b
        .post(
            "/login",
            &[
                ("_login", &token),
                ("username", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("too many failed sign-ins"));
    // A login form without its token cookie is refused (login CSRF).
    let fresh = Browser::new(&app);
    let r = fresh
        .client
        .post(format!("{}/login", app.base))
        .form(&[
            ("_login", "forged"),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn posts_without_the_sessions_csrf_token_are_refused(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let r = b
        .post("/portfolios", &[("name", "X"), ("base_currency", "USD")])
        .await;
    assert_eq!(r.status(), 403);
    let r = b
        .post(
            "/portfolios",
            &[("_csrf", "0000"), ("name", "X"), ("base_currency", "USD")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        json(app.get("/api/v1/portfolios").await)
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
    let csrf = b.csrf.clone();
    let r = b
        .post(
            "/portfolios",
            &[("_csrf", &csrf), ("name", "X"), ("base_currency", "USD")],
        )
        .await;
    assert_eq!(r.status(), 303);
    // Another session's token does not work either.
    let mut other = Browser::new(&app);
    other.sign_in().await;
    let r = other.post("/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 403);
}

async fn user_text_is_escaped_everywhere(app: TestApp) {
    let evil = "<script>alert(1)</script>";
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "EVIL", "name": evil, "kind": "item", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post_json(
            "/api/v1/portfolios",
            &json!({"name": evil, "base_currency": "USD"}),
        )
        .await;
    let pid = json(r).await["id"].as_i64().unwrap();
    let r = app
        .post_json(
            &format!("/api/v1/portfolios/{pid}/transactions"),
            &json!({"type": "deposit", "time": "2024-01-02", "amount": "100", "currency": "USD", "note": evil}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post_json(
            "/api/v1/watchlists",
            &json!({"name": evil, "symbols": ["EVIL"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut b = Browser::new(&app);
    b.sign_in().await;
    for path in [
        "/".to_owned(),
        "/instruments".to_owned(),
        "/instruments/EVIL".to_owned(),
        "/watchlists".to_owned(),
        "/portfolios".to_owned(),
        format!("/portfolios/{pid}"),
        format!("/portfolios/{pid}/transactions"),
    ] {
        let body = b.text(&path).await;
        assert!(!body.contains(evil), "{path} contains raw script");
        assert!(
            body.contains("&lt;script&gt;") || body.contains("&#60;script&#62;"),
            "{path} shows it escaped"
        );
    }
}

async fn signing_out_ends_the_session(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let saved = b.cookies.clone();
    let csrf = b.csrf.clone();
    let r = b.post("/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    // The old cookie no longer works, even if a client kept it.
    b.cookies = saved;
    let r = b.get("/").await;
    assert_eq!(r.status(), 303);
}

async fn transaction_form_errors_are_shown_beside_the_field_and_the_form_is_kept(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let path = format!("/portfolios/{pid}/transactions");
    let r = b
        .post(
            &path,
            &[
                ("_csrf", &csrf),
                ("type", "buy"),
                ("date", "2024-01-02"),
                ("symbol", "AAPL"),
                ("quantity", "-3"),
                ("price", "187.25"),
                ("currency", "USD"),
                ("note", "keep me"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("class=\"field-error\">must be greater than zero"),
        "{body}"
    );
    assert!(body.contains("value=\"187.25\"") && body.contains("value=\"keep me\""));
    let r = b
        .post(
            &path,
            &[
                ("_csrf", &csrf),
                ("type", "sell"),
                ("date", "2024-01-02"),
                ("symbol", "AAPL"),
                ("quantity", "3"),
                ("price", "187.25"),
                ("currency", "USD"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("class=\"alert"));
    let r = b
        .post(
            &path,
            &[
                ("_csrf", &csrf),
                ("type", "buy"),
                ("date", "2024-01-02"),
                ("symbol", "AAPL"),
                ("quantity", "3"),
                ("price", "187.25"),
                ("fee", ""),
                ("amount", "999"),
                ("currency", "USD"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "fields of other types are ignored");
    // The form suggests the instruments and shows a transfer's trade fields.
    let page = b.text(&path).await;
    assert!(
        page.contains("<datalist id=\"tx-symbols\"><option value=\"AAPL\">AAPL name</option>"),
        "{page}"
    );
    for field in ["Symbol", "Quantity", "Price", "Fee"] {
        let label = page
            .split("<label data-for=\"")
            .find(|l| l.contains(&format!("\">{field} <input")))
            .unwrap_or_else(|| panic!("{field} label"));
        assert!(
            label.contains("transfer_in") && label.contains("transfer_out"),
            "{field}: {label}"
        );
    }
    let r = b
        .post(
            &path,
            &[
                ("_csrf", &csrf),
                ("type", "transfer_in"),
                ("date", "2024-01-03"),
                ("symbol", "AAPL"),
                ("quantity", "2"),
                ("price", "180"),
                ("fee", "0"),
                ("currency", "USD"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "a transfer is recorded from the form");
}

async fn csv_import_previews_and_reports_bad_lines_before_writing(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let path = format!("/portfolios/{pid}/import");
    let bad = "date,type,symbol,quantity,price,fee,currency,note\n2024-01-03,buy,AAPL,10,187.25,1,USD,\n2024-01-04,buy,AAPL,-1,187.25,1,USD,\n";
    let r = b.post(&path, &[("_csrf", &csrf), ("csv", bad)]).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("line 3: quantity"), "{body}");
    let good =
        "date,type,symbol,quantity,price,fee,currency,note\n2024-01-03,buy,AAPL,10,187.25,1,USD,\n";
    let r = b.post(&path, &[("_csrf", &csrf), ("csv", good)]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Import 1 transaction(s)"));
    let listed = json(
        app.get(&format!("/api/v1/portfolios/{pid}/transactions"))
            .await,
    )
    .await;
    assert_eq!(listed["total"], 0, "a preview writes nothing");
    let r = b
        .post(&path, &[("_csrf", &csrf), ("csv", good), ("confirm", "1")])
        .await;
    assert_eq!(r.status(), 303);
    let listed = json(
        app.get(&format!("/api/v1/portfolios/{pid}/transactions"))
            .await,
    )
    .await;
    assert_eq!(listed["total"], 1);
}

async fn skip_invalid_rows_in_the_import_preview_lists_the_left_out_lines_and_imports_the_rest(
    app: TestApp,
) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let path = format!("/portfolios/{pid}/import");
    let csv = "date,type,symbol,quantity,price,fee,currency,note\n\
               2024-01-03,buy,AAPL,10,187.25,1,USD,\n\
               2024-01-04,buy,AAPL,-1,187.25,1,USD,\n\
               2024-01-05,sell,AAPL,20,190,1,USD,\n";
    let form = [
        ("_csrf", csrf.as_str()),
        ("csv", csv),
        ("skip_invalid", "1"),
    ];
    let r = b.post(&path, &form).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("these lines will be left out"), "{body}");
    assert!(body.contains("line 3: quantity: "), "{body}");
    assert!(
        body.contains("line 4: quantity: cannot sell 20 AAPL"),
        "{body}"
    );
    assert!(body.contains("Import 1 transaction(s)"), "{body}");
    assert!(
        body.contains(r#"name="skip_invalid" value="1""#),
        "the confirmation carries the choice: {body}"
    );
    assert_eq!(
        transaction_total(&app, pid).await,
        0,
        "a preview writes nothing"
    );
    let confirm = [
        ("_csrf", csrf.as_str()),
        ("csv", csv),
        ("skip_invalid", "1"),
        ("confirm", "1"),
    ];
    let r = b.post(&path, &confirm).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("skip=2"), "{location}");
    assert_eq!(transaction_total(&app, pid).await, 1);
    let page = b.get(&location).await.text().await.unwrap();
    assert!(page.contains("Left out 2 invalid line(s)."), "{page}");
}

async fn transaction_total(app: &TestApp, pid: i64) -> u64 {
    let listed = json(
        app.get(&format!("/api/v1/portfolios/{pid}/transactions"))
            .await,
    )
    .await;
    listed["total"].as_u64().expect("total")
}

async fn the_import_preview_names_the_line_of_an_unknown_instrument_or_an_over_sale(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let path = format!("/portfolios/{pid}/import");
    let unknown = "date,type,symbol,quantity,price,fee,currency,note\n2024-01-03,buy,AAPL,10,187.25,1,USD,\n2024-01-04,buy,MSFT,2,370,1,USD,\n";
    let r = b.post(&path, &[("_csrf", &csrf), ("csv", unknown)]).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("line 3: symbol: unknown instrument MSFT (line 3)"),
        "{body}"
    );
    let oversold = "date,type,symbol,quantity,price,fee,currency,note\n2024-01-03,buy,AAPL,5,187.25,1,USD,\n2024-02-01,sell,AAPL,8,190,1,USD,\n";
    let r = b.post(&path, &[("_csrf", &csrf), ("csv", oversold)]).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("line 3: quantity:"), "{body}");
    assert!(body.contains("nothing was written"), "{body}");
    // Confirming anyway writes nothing either.
    let r = b
        .post(
            &path,
            &[("_csrf", &csrf), ("csv", oversold), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(transaction_total(&app, pid).await, 0, "nothing was written");
}

async fn re_importing_a_file_reports_the_duplicates_it_skips(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let path = format!("/portfolios/{pid}/import");
    let file = "date,type,symbol,quantity,price,fee,currency,note,amount\n2024-01-03,buy,AAPL,10,187.25,1,USD,first,\n2024-01-05,deposit,,,,,USD,cash,500\n";
    let r = b
        .post(&path, &[("_csrf", &csrf), ("csv", file), ("confirm", "1")])
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(transaction_total(&app, pid).await, 2);
    // The same file again, with one new row.
    let again = format!("{file}2024-02-01,sell,AAPL,4,190,1,USD,some,\n");
    let r = b.post(&path, &[("_csrf", &csrf), ("csv", &again)]).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("2 row(s) already in the portfolio will be skipped"),
        "{body}"
    );
    assert!(body.contains("line 2: identical to a buy"), "{body}");
    assert!(body.contains("Import 1 transaction(s)"), "{body}");
    let r = b
        .post(
            &path,
            &[("_csrf", &csrf), ("csv", &again), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let target = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        target.contains("n=1") && target.contains("dup=2"),
        "{target}"
    );
    let page = b.text(&target).await;
    assert!(
        page.contains("Imported 1 transaction(s); skipped 2 already in the portfolio."),
        "{page}"
    );
    assert_eq!(transaction_total(&app, pid).await, 3);
    // Nothing new at all: the preview says so and offers no import.
    let r = b.post(&path, &[("_csrf", &csrf), ("csv", &again)]).await;
    let body = r.text().await.unwrap();
    assert!(body.contains("Nothing new to import"), "{body}");
    assert!(!body.contains("name=\"confirm\""), "{body}");
}

async fn the_import_form_reads_the_other_formats(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let path = format!("/portfolios/{pid}/import");
    let page = b.text(&format!("/portfolios/{pid}/transactions")).await;
    for format in [
        "ours",
        "json",
        "ghostfolio-json",
        "ghostfolio-csv",
        "pp-csv",
        "wealthfolio-csv",
        "generic",
    ] {
        assert!(
            page.contains(&format!("<option value=\"{format}\"")),
            "{format} offered"
        );
    }
    // Ghostfolio's CSV, its dates and header names.
    let ghostfolio = "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n16-01-2024,AAPL,YAHOO,USD,185.5,3,buy,1.00,from ghostfolio\n";
    let form = [
        ("_csrf", csrf.as_str()),
        ("format", "ghostfolio-csv"),
        ("csv", ghostfolio),
    ];
    let r = b.post(&path, &form).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("from ghostfolio"), "{body}");
    assert!(
        body.contains("name=\"format\" value=\"ghostfolio-csv\""),
        "{body}"
    );
    let mut confirm = form.to_vec();
    confirm.push(("confirm", "1"));
    assert_eq!(b.post(&path, &confirm).await.status(), 303);
    // A broker's CSV through a column mapping, with its own type words.
    let broker = "Trade Date;Action;Ticker;Qty;Price\n01.02.2024;Kauf;AAPL;2;190,5\n";
    let form = [
        ("_csrf", csrf.as_str()),
        ("format", "generic"),
        ("csv", broker),
        ("currency", "USD"),
        (
            "map",
            "date=Trade Date,type=Action,symbol=Ticker,quantity=Qty,price=Price",
        ),
        ("types", "Kauf=buy"),
        ("date_format", "%d.%m.%Y"),
        ("decimal_comma", "1"),
    ];
    let r = b.post(&path, &form).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Import 1 transaction(s)"), "{body}");
    let mut confirm = form.to_vec();
    confirm.push(("confirm", "1"));
    assert_eq!(b.post(&path, &confirm).await.status(), 303);
    assert_eq!(transaction_total(&app, pid).await, 2);
    // A generic CSV without its mapping is refused by field.
    let r = b
        .post(
            &path,
            &[("_csrf", &csrf), ("format", "generic"), ("csv", broker)],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("map: a generic CSV needs a column mapping")
    );
}

async fn the_stream_sends_new_bars_to_subscribers(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let mut r = app
        .request(Method::GET, "/api/v1/stream?symbols=AAPL")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-cache")
    );
    let first = String::from_utf8(r.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("retry:"), "{first}");
    let ingest = app
        .post_csv(
            "/api/v1/instruments/AAPL/bars?interval=1d",
            "time,open,high,low,close,volume\n2024-06-14,10,12,9,11.5,100\n",
        )
        .await;
    assert_eq!(ingest.status(), 200);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains("event: bar") {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("\"symbol\":\"AAPL\""), "{seen}");
    assert!(seen.contains("\"last\":\"$11.50\""), "{seen}");
}

/// Several replicas on one PostgreSQL database (SQLite belongs to one process).
mod postgres_replicas {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bar_stored_through_one_replica_reaches_streams_and_quotes_of_another() {
        let Some(a) = spawn_app(Backend::Postgres).await else {
            return;
        };
        let b = a.replica().await;
        a.add_instrument("AAPL", "stock", "USD").await;
        let get_b = |path: &str| {
            Client::new()
                .get(format!("{}{path}", b.base))
                .bearer_auth(&a.token)
        };
        let first = a
            .post_csv(
                "/api/v1/instruments/AAPL/bars?interval=1d",
                "time,open,high,low,close,volume\n2024-06-14,10,13,9,11,100\n",
            )
            .await;
        assert_eq!(first.status(), 200);
        // B quotes (and caches) that first close.
        let before = json(
            get_b("/api/v1/instruments/AAPL/quote")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(before["price"], 11.0, "{before}");
        let mut stream = get_b("/api/v1/stream?symbols=AAPL").send().await.unwrap();
        assert_eq!(stream.status(), 200);
        read_until(&mut stream, "retry:").await;
        // The listener of B may still be subscribing: keep storing until it hears.
        let mut seen = String::new();
        for close in ["11.5", "11.75", "12", "12.25", "12.5"] {
            let ingest = a
                .post_csv(
                    "/api/v1/instruments/AAPL/bars?interval=1d",
                    format!("time,open,high,low,close,volume\n2024-06-14,10,13,9,{close},100\n"),
                )
                .await;
            assert_eq!(ingest.status(), 200);
            match tokio::time::timeout(std::time::Duration::from_secs(2), async {
                let mut got = String::new();
                while !got.contains("event: bar") {
                    let chunk = stream.chunk().await.unwrap().unwrap();
                    got.push_str(&String::from_utf8_lossy(&chunk));
                }
                got
            })
            .await
            {
                Ok(got) => {
                    seen = format!("{close}|{got}");
                    break;
                }
                Err(_) => continue,
            }
        }
        let (close, event) = seen
            .split_once('|')
            .expect("B streamed a bar stored through A");
        assert!(event.contains("\"symbol\":\"AAPL\""), "{event}");
        let shown = format!("\"last\":\"${:.2}\"", close.parse::<f64>().unwrap());
        assert!(event.contains(&shown), "{shown} in {event}");
        // B's cached quote was dropped: it now answers with A's bar.
        let quote = json(
            get_b("/api/v1/instruments/AAPL/quote")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(quote["price"].as_f64(), close.parse().ok(), "{quote}");
    }
}

/// Reads a stream until `marker` has arrived (at most 5 s).
async fn read_until(r: &mut Response, marker: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains(marker) {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .unwrap_or_else(|_| panic!("{marker:?} within 5 s; got {seen}"))
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

async fn a_reconnecting_stream_first_gets_the_current_quotes(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    app.add_instrument("MSFT", "stock", "USD").await;
    let ingest = app
        .post_csv(
            "/api/v1/instruments/AAPL/bars?interval=1d",
            "time,open,high,low,close,volume\n2024-06-14,10,12,9,11.5,100\n",
        )
        .await;
    assert_eq!(ingest.status(), 200);
    // A first connection starts with the hello only: the page was just drawn.
    let mut first = app
        .request(Method::GET, "/api/v1/stream?symbols=AAPL,MSFT")
        .send()
        .await
        .unwrap();
    let hello = read_until(&mut first, "event: hello").await;
    assert!(hello.contains("id: "), "events carry ids: {hello}");
    assert!(!hello.contains("event: bar"), "{hello}");
    // A reconnect (EventSource sends the last id it saw) is sent the current
    // quotes at once, without waiting for a new bar.
    let mut again = app
        .request(Method::GET, "/api/v1/stream?symbols=AAPL,MSFT")
        .header("last-event-id", "1718370000000")
        .send()
        .await
        .unwrap();
    let seen = read_until(&mut again, "event: bar").await;
    assert!(seen.contains("\"symbol\":\"AAPL\""), "{seen}");
    assert!(seen.contains("\"last\":\"$11.50\""), "{seen}");
    // Then live bars follow as usual; whatever the catch-up sent came before.
    let ingest = app
        .post_csv(
            "/api/v1/instruments/AAPL/bars?interval=1d",
            "time,open,high,low,close,volume\n2024-06-13,10,11,9,10.5,100\n",
        )
        .await;
    assert_eq!(ingest.status(), 200);
    let seen = seen + &read_until(&mut again, "2024-06-13").await;
    assert!(
        !seen.contains("\"symbol\":\"MSFT\""),
        "a symbol without prices sends nothing: {seen}"
    );
}

/// The text of `html` from the live part `id` to the next live part.
fn part<'h>(html: &'h str, id: &str) -> &'h str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} in {html}"));
    let rest = &html[start..];
    let end = rest[1..].find("id=\"live-").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

async fn holdings_drive_live_parts_movers_and_stale_banners(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let bars = |csv: &'static str| app.post_csv("/api/v1/instruments/AAPL/bars?interval=1d", csv);
    let r = bars("time,open,high,low,close,volume\n2024-06-03,100,101,99,100,10\n2024-06-04,100,111,99,110,10\n").await;
    assert_eq!(r.status(), 200);
    let pid = app.add_portfolio("Main").await;
    let r = app
        .post_json(
            &format!("/api/v1/portfolios/{pid}/transactions"),
            &json!({"type": "buy", "time": "2024-06-03", "symbol": "AAPL", "quantity": "10", "price": "100", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut b = Browser::new(&app);
    b.sign_in().await;

    // No watchlist: the holding alone feeds the dashboard's live prices,
    // movers and banners (its last price is from 11 days before "now").
    let dash = b.text("/").await;
    assert!(dash.contains("data-stream=\"AAPL\""), "{dash}");
    assert!(dash.contains("Stale prices: AAPL"), "{dash}");
    let movers = part(&dash, "live-movers");
    assert!(
        movers.contains(">AAPL</a>") && movers.contains("10.00%"),
        "{movers}"
    );
    assert!(part(&dash, "live-total").contains("$1,100.00"), "{dash}");
    let page = b.text(&format!("/portfolios/{pid}")).await;
    assert!(page.contains("Stale prices: AAPL"), "{page}");
    assert!(
        page.contains("data-f=\"last\""),
        "the price cell follows bars"
    );

    // A new price: the live parts (fetched by the script on a bar event) follow.
    let r = bars("time,open,high,low,close,volume\n2024-06-05,110,122,109,121,10\n").await;
    assert_eq!(r.status(), 200);
    let live = b.text(&format!("/portfolios/{pid}/live?period=1M")).await;
    for id in ["live-cards", "live-holdings", "live-allocation"] {
        assert!(live.contains(&format!("id=\"{id}\"")), "{id} in {live}");
    }
    assert!(part(&live, "live-holdings").contains("$1,210.00"), "{live}");
    assert!(part(&live, "live-cards").contains("$1,210.00"), "{live}");
    assert!(!live.contains("<html"), "a fragment, not a page");
    let live = b.text("/dashboard/live").await;
    assert!(part(&live, "live-total").contains("$1,210.00"), "{live}");
    assert!(part(&live, "live-movers").contains("$121.00"), "{live}");
}

/// The points of a chart's hover series (`data-series`).
fn series_points(svg: &str) -> Vec<Vec<f64>> {
    let marker = "data-series=\"";
    let start = svg.find(marker).expect("a series") + marker.len();
    let raw = &svg[start..start + svg[start..].find('"').expect("end")];
    raw.split(';')
        .map(|p| p.split(',').map(|v| v.parse().expect("number")).collect())
        .collect()
}

async fn the_1d_value_charts_draw_intraday_points_and_every_chart_has_a_data_table(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let r = app
        .post_csv(
            "/api/v1/instruments/AAPL/bars?interval=1d",
            "time,open,high,low,close,volume\n2024-06-12,100,101,99,100,10\n2024-06-13,100,101,99,100,10\n",
        )
        .await;
    assert_eq!(r.status(), 200);
    // Friday's session in minutes (the fixed "now" is the Saturday after).
    let minutes = "time,open,high,low,close,volume\n2024-06-14T13:30:00Z,100,101,99,101,5\n2024-06-14T13:31:00Z,101,103,100,102,5\n2024-06-14T13:32:00Z,102,104,101,104,5\n";
    let r = app
        .post_csv("/api/v1/instruments/AAPL/bars?interval=1m", minutes)
        .await;
    assert_eq!(r.status(), 200);
    let pid = app.add_portfolio("Main").await;
    let r = app
        .post_json(
            &format!("/api/v1/portfolios/{pid}/transactions"),
            &json!({"type": "buy", "time": "2024-06-12", "symbol": "AAPL", "quantity": "10", "price": "100", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut b = Browser::new(&app);
    b.sign_in().await;
    for path in [
        format!("/portfolios/{pid}/chart?period=1D"),
        "/dashboard/chart?period=1D".to_owned(),
    ] {
        let svg = b.text(&path).await;
        assert!(svg.contains("data-intraday=\"true\""), "{path}: {svg}");
        let values: Vec<f64> = series_points(&svg).iter().map(|p| p[1]).collect();
        assert_eq!(
            values,
            vec![1010.0, 1020.0, 1040.0],
            "{path}: 10 shares at each minute's close"
        );
        assert!(
            svg.contains("<details class=\"data-table\">"),
            "{path}: a data table"
        );
        assert!(svg.contains("2024-06-14 13:32"), "{path}: rows by minute");
    }
    // A longer period is still drawn from daily values.
    let svg = b.text(&format!("/portfolios/{pid}/chart?period=1M")).await;
    assert!(svg.contains("data-intraday=\"false\""), "{svg}");
    // The allocation charts have their tables too.
    let page = b.text(&format!("/portfolios/{pid}")).await;
    let allocation = part(&page, "live-allocation");
    assert_eq!(
        allocation.matches("<details class=\"data-table\">").count(),
        2,
        "{allocation}"
    );
    assert!(
        allocation.contains("<td>AAPL</td><td class=\"num\">100.0%</td>"),
        "{allocation}"
    );
    let dash = b.text("/").await;
    assert!(part(&dash, "live-total").contains("$1,040.00"), "{dash}");
    assert!(
        dash.contains("<details class=\"data-table\">"),
        "the dashboard chart's table"
    );
}

async fn the_52_week_range_falls_back_to_intraday_bars(app: TestApp) {
    app.add_instrument("ETH-USD", "crypto", "USD").await;
    let hours = "time,open,high,low,close,volume\n2024-06-14T10:00:00Z,3500,3550,3480,3520,5\n2024-06-14T11:00:00Z,3520,3610,3510,3600,5\n";
    let r = app
        .post_csv("/api/v1/instruments/ETH-USD/bars?interval=1h", hours)
        .await;
    assert_eq!(r.status(), 200);
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let page = b.text("/instruments/ETH-USD").await;
    assert!(
        page.contains("<dt>52-week range</dt><dd class=\"num\">$3,480.00 – $3,610.00</dd>"),
        "{page}"
    );
}

async fn removing_an_instrument_in_use_is_refused_with_the_count(app: TestApp) {
    app.add_instrument("AAPL", "stock", "USD").await;
    let pid = app.add_portfolio("Main").await;
    for (time, kind, quantity) in [("2024-01-02", "buy", "5"), ("2024-02-01", "sell", "2")] {
        let r = app
            .post_json(
                &format!("/api/v1/portfolios/{pid}/transactions"),
                &json!({"type": kind, "time": time, "symbol": "AAPL", "quantity": quantity, "price": "100", "currency": "USD"}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let r = b
        .post("/instruments/AAPL/delete", &[("_csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("instrument AAPL is used by 2 transaction(s); delete or change them first"),
        "{body}"
    );
    assert!(
        body.contains("<title>Instruments · Pricetrack</title>"),
        "shown on the list"
    );
    assert_eq!(
        app.get("/api/v1/instruments/AAPL").await.status(),
        200,
        "still there"
    );
    // Unused, it goes.
    app.add_instrument("MSFT", "stock", "USD").await;
    let r = b
        .post("/instruments/MSFT/delete", &[("_csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/instruments?msg=removed");
    assert_eq!(app.get("/api/v1/instruments/MSFT").await.status(), 404);
}

async fn a_hand_priced_item_takes_prices_from_its_form(app: TestApp) {
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "ROLEX-SUB-2019", "name": "Submariner", "kind": "item",
                    "currency": "EUR", "provider": "manual"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let page = b.text("/instruments/ROLEX-SUB-2019").await;
    assert!(
        page.contains("action=\"/instruments/ROLEX-SUB-2019/prices\""),
        "{page}"
    );
    let csrf = b.csrf.clone();
    let path = "/instruments/ROLEX-SUB-2019/prices";
    let r = b
        .post(
            path,
            &[
                ("_csrf", &csrf),
                ("date", "2024-06-10"),
                ("price", "8250.5"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let target = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(target, "/instruments/ROLEX-SUB-2019?msg=price");
    let page = b.text(&target).await;
    assert!(page.contains("Price recorded."), "{page}");
    assert!(page.contains("8,250.50"), "the price is the last: {page}");
    // A future date and a non-number are refused on the form; nothing is stored.
    for (date, price, reason) in [
        ("2024-07-01", "9000", "is in the future"),
        ("2024-06-11", "lots", "is not a number"),
    ] {
        let r = b
            .post(path, &[("_csrf", &csrf), ("date", date), ("price", price)])
            .await;
        assert_eq!(r.status(), 422, "{date} {price}");
        let body = r.text().await.unwrap();
        assert!(body.contains("class=\"alert\" role=\"alert\""), "{body}");
        assert!(body.contains(reason), "{reason}: {body}");
    }
    let bars = json(
        app.get("/api/v1/instruments/ROLEX-SUB-2019/bars?interval=1d")
            .await,
    )
    .await;
    let count = bars
        .as_array()
        .or_else(|| bars["bars"].as_array())
        .map(Vec::len);
    assert_eq!(count, Some(1), "only the good price: {bars}");
}

async fn a_revoked_token_stops_working(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let r = b
        .post(
            "/settings/tokens",
            &[("_csrf", &csrf), ("label", "backup script")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let marker = "data-new-token>";
    let start = page.find(marker).expect("the new token is shown once") + marker.len();
    let secret = page[start..start + page[start..].find('<').unwrap()].to_owned();
    let me = |token: String| {
        let client = Client::new();
        let url = format!("{}/api/v1/me", app.base);
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(secret.clone()).await, 200);
    let tokens = json(app.get("/api/v1/tokens").await).await;
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == "backup script")
        .and_then(|t| t["id"].as_i64())
        .expect("the token is listed");
    let settings = b.text("/settings").await;
    let action = format!("/settings/tokens/{id}/revoke");
    assert!(
        settings.contains(&format!("action=\"{action}\"")),
        "{settings}"
    );
    let r = b.post(&action, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/settings?msg=revoked");
    assert!(
        b.text("/settings?msg=revoked")
            .await
            .contains("Token revoked.")
    );
    assert_eq!(me(secret).await, 401, "the revoked token is refused");
    assert_eq!(me(app.token.clone()).await, 200, "other tokens still work");
    let r = b.post(&action, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 404, "revoking twice finds nothing");
}

async fn watchlists_api_creates_reorders_and_deletes(app: TestApp) {
    for s in ["AAPL", "MSFT", "NVDA"] {
        app.add_instrument(s, "stock", "USD").await;
    }
    let r = app
        .post_json(
            "/api/v1/watchlists",
            &json!({"name": "Tech", "symbols": ["AAPL", "MSFT"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let w = json(r).await;
    let id = w["id"].as_i64().unwrap();
    assert_eq!(w["symbols"], json!(["AAPL", "MSFT"]));
    let r = app
        .post_json(
            &format!("/api/v1/watchlists/{id}/items"),
            &json!({"symbol": "NVDA", "position": 0}),
        )
        .await;
    assert_eq!(json(r).await["symbols"], json!(["NVDA", "AAPL", "MSFT"]));
    let r = app
        .request(Method::PUT, &format!("/api/v1/watchlists/{id}"))
        .json(&json!({"name": "Core", "symbols": ["MSFT", "NVDA", "AAPL"]}))
        .send()
        .await
        .unwrap();
    let w = json(r).await;
    assert_eq!(w["name"], "Core");
    assert_eq!(w["symbols"], json!(["MSFT", "NVDA", "AAPL"]));
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/v1/watchlists/{id}/items/NVDA"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["symbols"], json!(["MSFT", "AAPL"]));
    let r = app
        .post_json(
            "/api/v1/watchlists",
            &json!({"name": "Bad", "symbols": ["NOPE"]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let other = app.other_user("bob").await;
    let r = other
        .request(Method::GET, &format!("/api/v1/watchlists/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "private to the owner");
    let r = app
        .request(Method::DELETE, &format!("/api/v1/watchlists/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let all = json(app.get("/api/v1/watchlists").await).await;
    assert_eq!(all.as_array().unwrap().len(), 0, "{all}");
}

async fn the_instrument_page_shows_its_fetch_status_and_quarantined_records(app: TestApp) {
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "ACME", "name": "Acme", "kind": "stock", "currency": "USD",
                    "provider": "yahoo", "provider_symbol": "ACME"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let bars = json!([
        {"time": "2024-06-10", "open": 100, "high": 101, "low": 99, "close": 100, "volume": 10},
        {"time": "2024-06-11", "open": 100, "high": 102, "low": 99, "close": 101, "volume": 10},
        {"time": "2024-06-12", "open": 1.01, "high": 1.02, "low": 1.0, "close": 1.01, "volume": 10}
    ]);
    let report = json(
        app.post_json("/api/v1/instruments/ACME/bars?interval=1d", &bars)
            .await,
    )
    .await;
    assert_eq!(report["quarantined"], 1, "{report}");
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let before = b.text("/instruments/ACME").await;
    assert!(before.contains("No series scheduled yet"), "{before}");

    // The refresh loop's scheduling step creates the instrument's daily series.
    pricetrack_app::market::sync_jobs(&app.ctx, app.ctx.clock.now())
        .await
        .unwrap();
    let page = b.text("/instruments/ACME").await;
    let status = &page[page
        .find("id=\"fetch-status\"")
        .expect("a fetch status table")..];
    let status = &status[..status.find("</table>").unwrap()];
    assert!(status.contains("<td>1d</td>"), "{status}");
    assert!(status.contains("never"), "no success yet: {status}");
    let quarantine = &page[page.find("id=\"quarantine\"").expect("a quarantine table")..];
    assert!(page.contains("1 record held back"), "{page}");
    assert!(
        quarantine.contains("1.01"),
        "the held-back close: {quarantine}"
    );
    assert!(
        quarantine.contains("<td>api</td>"),
        "its source: {quarantine}"
    );

    // Hand-priced items fetch nothing and say so.
    let r = app
        .post_json(
            "/api/v1/instruments",
            &json!({"symbol": "ROLEX-SUB-2019", "name": "Submariner", "kind": "item",
                    "currency": "EUR", "provider": "manual"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let manual = b.text("/instruments/ROLEX-SUB-2019").await;
    assert!(manual.contains("Priced by hand: nothing is fetched."));
}

// ---------------------------------------------------------------- shutdown

/// The real `pricetrack serve` on a fresh database; its base URL and admin token.
#[cfg(unix)]
struct ServeProcess {
    child: std::process::Child,
    base: String,
    token: String,
    _db: pricetrack_storage::testing::TestDatabase,
    _dir: tempfile::TempDir,
}

#[cfg(unix)]
async fn serve_process(backend: Backend) -> Option<ServeProcess> {
    use pricetrack_storage::{DatabaseTarget, testing};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let db = match backend {
        Backend::Sqlite => testing::fresh_sqlite().await,
        Backend::Postgres => testing::fresh_postgres().await?,
    };
    drop(db.open().await);
    let url = match &db.target {
        DatabaseTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseTarget::Postgres(url) => url.clone(),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pricetrack"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-fetch"])
        .current_dir(dir.path())
        .env("DATABASE_URL", url)
        .env("PRICETRACK_DATA", dir.path())
        .env_remove("PRICETRACK_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (token, base) = tokio::task::spawn_blocking(move || {
        let mut token = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("utf-8");
            if line.contains("shown once") {
                token = line.split_whitespace().last().unwrap_or("").to_owned();
            }
            if let Some(base) = line.strip_prefix("listening on ") {
                return (token, base.to_owned());
            }
        }
        panic!("serve exited before listening");
    })
    .await
    .expect("reading serve's output");
    Some(ServeProcess {
        child,
        base,
        token,
        _db: db,
        _dir: dir,
    })
}

#[cfg(unix)]
impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A graceful shutdown waits for every connection; a live stream must end on
/// it, or `serve` would never exit while a page with live prices is open.
#[cfg(unix)]
async fn sigterm_ends_open_live_streams_and_the_server_exits(backend: Backend) {
    let Some(mut server) = serve_process(backend).await else {
        return;
    };
    let mut stream = Client::new()
        .get(format!("{}/api/v1/stream?symbols=AAPL", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .expect("stream request");
    assert_eq!(stream.status(), 200);
    let hello = stream.chunk().await.expect("hello").expect("a first chunk");
    assert!(String::from_utf8_lossy(&hello).contains("retry:"));

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // Only a guard against hanging forever (the bug this pins down).
    let guard = std::time::Duration::from_secs(60);
    let ended = tokio::time::timeout(guard, async {
        while stream
            .chunk()
            .await
            .expect("the stream ends cleanly")
            .is_some()
        {}
    })
    .await;
    assert!(ended.is_ok(), "the open stream ended on SIGTERM");
    let deadline = tokio::time::Instant::now() + guard;
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve exits after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(status.success(), "serve exits cleanly: {status}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_live_streams_and_the_server_exits_sqlite() {
    sigterm_ends_open_live_streams_and_the_server_exits(Backend::Sqlite).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_live_streams_and_the_server_exits_postgres() {
    sigterm_ends_open_live_streams_and_the_server_exits(Backend::Postgres).await;
}

async fn the_instrument_form_sets_a_url_source_and_shows_its_errors_beside_the_field(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_in().await;
    let csrf = b.csrf.clone();
    let fields = |expr: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("symbol", "KRUGER-1OZ".to_owned()),
            ("name", "Krugerrand".to_owned()),
            ("kind", "item".to_owned()),
            ("currency", "EUR".to_owned()),
            ("provider", "url".to_owned()),
            ("source_url", "https://coins.test/{SYMBOL}".to_owned()),
            ("source_extract", "regex".to_owned()),
            ("source_expr", expr.to_owned()),
            ("source_number_format", "decimal_comma".to_owned()),
        ]
    };
    let bad = fields("([0-9");
    let form: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post("/instruments", &form).await;
    let body = r.text().await.unwrap();
    // The regex error is shown beside the expression, the typed values kept.
    let expr_field = body
        .split("name=\"source_expr\"")
        .nth(1)
        .expect("the expression input");
    assert!(
        expr_field[..expr_field.find("</label>").expect("label end")].contains("field-error"),
        "{body}"
    );
    assert!(body.contains("https://coins.test/{SYMBOL}"), "{body}");
    let r = app.get("/api/v1/instruments/KRUGER-1OZ").await;
    assert_eq!(r.status(), 404, "nothing stored");

    let good = fields("Buy: ([0-9.,]+)");
    let form: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post("/instruments", &form).await;
    assert_eq!(r.status(), 303);
    let got = json(app.get("/api/v1/instruments/KRUGER-1OZ").await).await;
    assert_eq!(
        got["url_source"],
        json!({"url": "https://coins.test/{SYMBOL}", "extract": {"regex": "Buy: ([0-9.,]+)"},
               "number_format": "decimal_comma"})
    );
    // The edit form shows the stored source.
    let edit = b.text("/instruments/KRUGER-1OZ/edit").await;
    assert!(edit.contains("Buy: ([0-9.,]+)"), "{edit}");
    assert!(
        edit.contains(r#"<option value="regex" selected>"#),
        "{edit}"
    );
}
