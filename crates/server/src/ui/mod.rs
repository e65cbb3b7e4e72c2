//! The web UI: server-rendered pages (askama templates, auto-escaping), a
//! hand-written stylesheet and a small first-party script, all embedded in the
//! binary so it works air-gapped.
//!
//! Sign-in uses a session cookie (`pt_session`: HttpOnly, SameSite=Lax, Secure
//! over HTTPS) whose SHA-256 hash is stored in the database, so stateless replicas
//! share sessions. Every POST carries the session's synchronizer CSRF token (form
//! field `_csrf`, header `X-CSRF-Token`, or `?_csrf=` for file uploads); the guard
//! refuses any other. Sign-in attempts are rate-limited per user name and peer
//! address in the database (see `pricetrack_app::sessions`).

pub mod api;
pub mod chart;
pub mod format;
mod pages;
mod portfolio_pages;
pub mod stream;
mod views;

use crate::http::AppState;
use askama::Template;
use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use pricetrack_app::{
    AppError,
    ports::{Role, SessionRecord, Theme, User},
    sessions,
};
use std::sync::LazyLock;
use tower_http::set_header::SetResponseHeaderLayer;

pub const SESSION_COOKIE: &str = "pt_session";
const LOGIN_CSRF_COOKIE: &str = "pt_login";

/// The Content-Security-Policy of every UI page: nothing inline, nothing external.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const ICON: &str = include_str!("../../static/icon.svg");

/// A short content hash, so assets can be cached forever and still change.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in CSS.bytes().chain(JS.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h as u32)
});

/// The UI routes (merged into the application router).
pub fn router(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::dashboard))
        .route("/dashboard/chart", get(pages::dashboard_chart))
        .route("/dashboard/live", get(pages::dashboard_live))
        .route(
            "/instruments",
            get(pages::instruments).post(pages::create_instrument),
        )
        .route(
            "/instruments/{symbol}",
            get(pages::instrument).post(pages::update_instrument),
        )
        .route("/instruments/{symbol}/chart", get(pages::instrument_chart))
        .route("/instruments/{symbol}/edit", get(pages::edit_instrument))
        .route(
            "/instruments/{symbol}/delete",
            post(pages::delete_instrument),
        )
        .route("/instruments/{symbol}/prices", post(pages::add_price))
        .route(
            "/watchlists",
            get(pages::watchlists).post(pages::create_watchlist),
        )
        .route("/watchlists/{id}", post(pages::watchlist_action))
        .route(
            "/portfolios",
            get(portfolio_pages::portfolios).post(portfolio_pages::create_portfolio),
        )
        .route(
            "/portfolios/{id}",
            get(portfolio_pages::portfolio).post(portfolio_pages::update_portfolio),
        )
        .route(
            "/portfolios/{id}/chart",
            get(portfolio_pages::portfolio_chart),
        )
        .route(
            "/portfolios/{id}/live",
            get(portfolio_pages::portfolio_live),
        )
        .route(
            "/portfolios/{id}/delete",
            post(portfolio_pages::delete_portfolio),
        )
        .route(
            "/portfolios/{id}/transactions",
            get(portfolio_pages::transactions).post(portfolio_pages::create_transaction),
        )
        .route(
            "/portfolios/{id}/transactions/{tx}",
            get(portfolio_pages::edit_transaction).post(portfolio_pages::update_transaction),
        )
        .route(
            "/portfolios/{id}/transactions/{tx}/delete",
            post(portfolio_pages::delete_transaction),
        )
        .route("/portfolios/{id}/import", post(portfolio_pages::import))
        .route("/settings", get(pages::settings).post(pages::save_settings))
        .route("/settings/tokens", post(pages::create_token))
        .route("/settings/tokens/{id}/revoke", post(pages::revoke_token))
        .route("/settings/keys", post(pages::save_key))
        .route("/settings/password", post(pages::change_password))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(state, csrf_guard));
    Router::new()
        .route("/login", get(login_page).post(login))
        .merge(pages)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .route(
            "/static/app.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/static/icon.svg",
            get(|| async { asset(ICON, "image/svg+xml") }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset(ICON, "image/svg+xml") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------- sessions

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser reached us over HTTPS (directly or through a proxy).
fn is_https(parts_headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || parts_headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The signed-in user of a UI request. Without a session: a redirect to `/login`.
pub struct Session(pub SessionRecord);

impl Session {
    pub fn user(&self) -> &User {
        &self.0.user
    }

    pub fn is_admin(&self) -> bool {
        self.0.user.role == Role::Admin
    }
}

async fn session_of(parts: &Parts, state: &AppState) -> Result<Option<SessionRecord>, AppError> {
    if let Some(s) = parts.extensions.get::<SessionRecord>() {
        return Ok(Some(s.clone()));
    }
    match cookie(&parts.headers, SESSION_COOKIE) {
        Some(secret) => sessions::session(&state.ctx, secret).await,
        None => Ok(None),
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match session_of(parts, state).await {
            Ok(Some(s)) => Ok(Session(s)),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = if next == "/" {
                    "/login".to_owned()
                } else {
                    format!("/login?next={}", urlencode(next))
                };
                Err(Redirect::to(&target).into_response())
            }
            Err(e) => Err(UiError::from(e).into_response()),
        }
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks the CSRF token of every state-changing request against the session's.
async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let session = match session_of(&parts, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return UiError::from(e).into_response(),
    };
    let from_header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = parts
        .uri
        .query()
        .and_then(|q| form_field(q.as_bytes(), "_csrf"));
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (submitted, body) = match (from_header.or(from_query), is_form) {
        (Some(t), _) => (Some(t), body),
        (None, true) => {
            let bytes = match to_bytes(body, 16 * 1024 * 1024).await {
                Ok(b) => b,
                Err(_) => {
                    return UiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
                        .into_response();
                }
            };
            (form_field(&bytes, "_csrf"), Body::from(bytes))
        }
        (None, false) => (None, body),
    };
    if !submitted.is_some_and(|t| sessions::csrf_matches(&session, &t)) {
        return UiError::new(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site (CSRF check failed). Reload the page and try again.",
        )
        .into_response();
    }
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, body)).await
}

/// One field of an urlencoded body or query.
fn form_field(raw: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(raw);
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn serde_urlencoded_pairs(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'+' => Some((b' ', 1)),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => Some((h * 16 + l, 3)),
                _ => None,
            },
            _ => None,
        };
        match decoded {
            Some((b, n)) => {
                out.push(b);
                i += n;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------- layout and errors

/// What the base template needs on every page.
pub struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub user: String,
    pub is_admin: bool,
    pub csrf: String,
    pub theme: &'static str,
    pub asset_version: String,
    pub banners: Vec<String>,
    /// Symbols whose live prices this page shows (comma-separated), if any.
    pub stream: String,
}

impl Layout {
    pub fn new(
        session: &Session,
        theme: Theme,
        title: impl Into<String>,
        nav: &'static str,
    ) -> Self {
        Self {
            title: title.into(),
            nav,
            user: session.user().name.clone(),
            is_admin: session.is_admin(),
            csrf: session.0.csrf_token.clone(),
            theme: theme.as_str(),
            asset_version: ASSET_VERSION.clone(),
            banners: Vec::new(),
            stream: String::new(),
        }
    }

    pub fn anonymous(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            nav: "",
            user: String::new(),
            is_admin: false,
            csrf: String::new(),
            theme: "auto",
            asset_version: ASSET_VERSION.clone(),
            banners: Vec::new(),
            stream: String::new(),
        }
    }
}

/// Renders a template into an HTML response.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; it was logged",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// An error shown as an HTML page.
#[derive(Debug)]
pub struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} was not found."))
    }
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        let status = match &e {
            AppError::Invalid(_) | AppError::Ledger(_) | AppError::Analytics(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict(_) | AppError::InstrumentInUse { .. } => StatusCode::CONFLICT,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Store(store) => {
                tracing::error!(error = %store, source = ?std::error::Error::source(store), "store failure");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database failed; the error was logged.",
                );
            }
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: Layout::anonymous(self.status.canonical_reason().unwrap_or("Error")),
            status: self.status.as_u16(),
            message: self.message,
        };
        let mut response = render(&page);
        *response.status_mut() = self.status;
        response
    }
}

pub type UiResult<T> = Result<T, UiError>;

// ---------------------------------------------------------------- sign in / out

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    token: String,
    username: String,
    next: String,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    _login: String,
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    // Already signed in: go on.
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = sessions::session(&state.ctx, secret).await
    {
        return Redirect::to(&safe_next(q.next.as_deref().unwrap_or("/"))).into_response();
    }
    login_form(
        &headers,
        &uri,
        q.next.unwrap_or_default(),
        String::new(),
        None,
        StatusCode::OK,
    )
}

fn login_form(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    next: String,
    username: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let token = sessions::new_token();
    let page = LoginPage {
        layout: Layout::anonymous("Sign in"),
        token: token.clone(),
        username,
        next,
        error,
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &token, 3600, is_https(headers, uri)),
    );
    response
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    extensions: axum::http::Extensions,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    // Login CSRF: the form's token must match the cookie set with the form.
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || expected != form._login {
        return login_form(
            &headers,
            &uri,
            form.next,
            form.username,
            Some("The sign-in form expired; please try again.".to_owned()),
            StatusCode::FORBIDDEN,
        );
    }
    let client = extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(
            || "unknown".to_owned(),
            |ConnectInfo(a)| {
                crate::client_address::client_address(
                    a.ip(),
                    &headers,
                    &state.settings.trusted_proxies,
                )
                .to_string()
            },
        );
    match sessions::login(&state.ctx, form.username.trim(), &form.password, &client).await {
        Ok(new) => {
            let mut response = Redirect::to(&safe_next(&form.next)).into_response();
            let secure = is_https(&headers, &uri);
            let max_age = sessions::SESSION_TTL.as_secs();
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &new.secret, max_age, secure),
            );
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
            );
            response
        }
        Err(sessions::LoginError::App(e)) => UiError::from(e).into_response(),
        Err(e) => {
            let status = match e {
                sessions::LoginError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            login_form(
                &headers,
                &uri,
                form.next,
                form.username,
                Some(e.to_string()),
                status,
            )
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = sessions::logout(&state.ctx, secret).await
    {
        return UiError::from(e).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, is_https(&headers, &uri)),
    );
    response
}

/// The session behind a request's cookie, for routes outside the UI (SSE).
pub async fn session_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionRecord>, AppError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(secret) => sessions::session(&state.ctx, secret).await,
        None => Ok(None),
    }
}

/// `pricetrack user passwd NAME [--password-stdin]`.
pub async fn passwd(
    ctx: &pricetrack_app::AppContext,
    name: &str,
    from_stdin: bool,
) -> anyhow::Result<()> {
    let user = pricetrack_app::auth::user_by_name(ctx, name).await?;
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password(format!("New password for {name}: "))?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            anyhow::bail!("the passwords differ; nothing was changed");
        }
        first
    };
    sessions::set_password(ctx, &user, &password).await?;
    println!("password set for {name}; sign in at /login");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/portfolios/1"), "/portfolios/1");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }

    #[test]
    fn form_fields_are_percent_decoded() {
        assert_eq!(
            form_field(b"a=1&_csrf=ab%2Bc&x=y+z", "_csrf").as_deref(),
            Some("ab+c")
        );
        assert_eq!(form_field(b"x=y+z", "x").as_deref(), Some("y z"));
        assert_eq!(form_field(b"x=%zz", "x").as_deref(), Some("%zz"));
    }
}
