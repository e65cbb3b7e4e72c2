//! Starts the real server on a random port against a fresh database.

use pricetrack_app::{
    AppContext, auth,
    ports::{FixedClock, Role},
};
use pricetrack_server::{
    config::Settings,
    http::{self, AppState},
};
use pricetrack_storage::testing::{TestDatabase, fresh_postgres, fresh_sqlite};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    /// The bootstrap admin's token.
    pub token: String,
    pub ctx: AppContext,
    #[allow(dead_code)]
    pub clock: Arc<FixedClock>,
    client: Client,
    _db: TestDatabase,
    _server: tokio::task::JoinHandle<()>,
}

/// The fixed "now" of every test: a Saturday afternoon, UTC.
pub const NOW: &str = "2024-06-15T15:00:00Z";

/// `None` when the backend is not available here (PostgreSQL without `PRICETRACK_TEST_POSTGRES`).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, Settings::default()).await
}

pub async fn spawn_app_with(backend: Backend, settings: Settings) -> Option<TestApp> {
    spawn_app_configured(backend, settings, |ctx| ctx).await
}

/// Like [`spawn_app_with`], letting the caller adjust the context first (e.g.
/// give it a price source pointed at a fake provider).
pub async fn spawn_app_configured(
    backend: Backend,
    settings: Settings,
    configure: impl FnOnce(AppContext) -> AppContext,
) -> Option<TestApp> {
    let db = match backend {
        Backend::Sqlite => fresh_sqlite().await,
        Backend::Postgres => fresh_postgres().await?,
    };
    let store = db.open().await;
    let clock = Arc::new(FixedClock::new(NOW.parse().expect("valid time")));
    let ctx = configure(AppContext::new(store, clock.clone()));
    let issued = auth::bootstrap_admin(&ctx)
        .await
        .expect("bootstrap")
        .expect("empty database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(ctx.clone(), Arc::new(settings));
    let server = tokio::spawn(async move {
        http::serve(listener, state, std::future::pending())
            .await
            .expect("server");
    });
    Some(TestApp {
        base,
        token: issued.secret,
        ctx,
        clock,
        client: Client::new(),
        _db: db,
        _server: server,
    })
}

/// A second server on the same database, as another replica runs: its own store
/// (connections), context, caches and live streams.
#[allow(dead_code)]
pub struct Replica {
    pub base: String,
    pub ctx: AppContext,
    _server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Starts another replica on this app's database (the same tokens work).
    #[allow(dead_code)]
    pub async fn replica(&self) -> Replica {
        let ctx = AppContext::new(self._db.open().await, self.clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = AppState::new(ctx.clone(), Arc::new(Settings::default()));
        let server = tokio::spawn(async move {
            http::serve(listener, state, std::future::pending())
                .await
                .expect("replica server");
        });
        Replica {
            base,
            ctx,
            _server: server,
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_csv(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.request(Method::POST, path)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Creates an instrument as admin and asserts it worked.
    pub async fn add_instrument(&self, symbol: &str, kind: &str, currency: &str) {
        let r = self
            .post_json(
                "/api/v1/instruments",
                &serde_json::json!({"symbol": symbol, "name": format!("{symbol} name"), "kind": kind, "currency": currency}),
            )
            .await;
        assert_eq!(
            r.status(),
            201,
            "creating {symbol}: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// Creates a portfolio and returns its id.
    pub async fn add_portfolio(&self, name: &str) -> i64 {
        let r = self
            .post_json(
                "/api/v1/portfolios",
                &serde_json::json!({"name": name, "base_currency": "USD"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        json(r).await["id"].as_i64().expect("id")
    }

    /// A second, non-admin user and a client acting as them.
    pub async fn other_user(&self, name: &str) -> TestApp2<'_> {
        let user = auth::create_user(&self.ctx, name, Role::User)
            .await
            .expect("user");
        let issued = auth::issue_token(&self.ctx, &user, "test")
            .await
            .expect("token");
        TestApp2 {
            app: self,
            token: issued.secret,
        }
    }
}

/// The same server, seen by another user.
pub struct TestApp2<'a> {
    app: &'a TestApp,
    pub token: String,
}

impl TestApp2<'_> {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, format!("{}{path}", self.app.base))
            .bearer_auth(&self.token)
    }
}

pub async fn json(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.expect("body");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"))
}

/// Asserts a problem+json response with the status, returning its body.
pub async fn problem(r: Response, status: u16) -> Value {
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "content type of a {} response",
        r.status()
    );
    let actual = r.status().as_u16();
    let body = json(r).await;
    assert_eq!(actual, status, "problem body: {body}");
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "a detail is given: {body}"
    );
    body
}
