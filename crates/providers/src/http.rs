//! The shared HTTP client: reqwest with rustls, timeouts, and mapping of
//! transport failures and non-200 statuses to typed [`FetchError`]s.

use crate::config::{AdapterConfig, ConfigError};
use jiff::Timestamp;
use pricetrack_app::market_data::{ErrorClass, FetchError, FetchErrorKind};
use std::time::Duration;

/// A response read to the end.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub set_cookies: Vec<String>,
    pub body: String,
    /// The request URL with secrets masked, for messages.
    pub url: String,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first characters of the body, for error messages.
    pub fn snippet(&self) -> String {
        snippet(&self.body)
    }
}

pub(crate) fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    let mut s: String = trimmed.chars().take(200).collect();
    if trimmed.chars().count() > 200 {
        s.push('…');
    }
    s.replace(['\n', '\r'], " ")
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    provider: &'static str,
}

impl Http {
    pub fn new(provider: &'static str, cfg: &AdapterConfig) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(cfg.user_agent.clone())
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Self { client, provider })
    }

    /// GET with extra headers; any status is returned, transport failures are errors.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, FetchError> {
        let shown = redact(url);
        let mut req = self.client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.map_err(|e| self.transport(&shown, &e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let set_cookies = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let body = resp.text().await.map_err(|e| self.transport(&shown, &e))?;
        Ok(Response {
            status,
            retry_after,
            set_cookies,
            body,
            url: shown,
        })
    }

    fn transport(&self, url: &str, e: &reqwest::Error) -> FetchError {
        let (kind, what) = if e.is_timeout() {
            (FetchErrorKind::Timeout, "timed out")
        } else if e.is_connect() {
            (FetchErrorKind::Network, "could not connect")
        } else if e.is_body() || e.is_decode() {
            (FetchErrorKind::Network, "the body was cut off")
        } else {
            (FetchErrorKind::Network, "request failed")
        };
        let mut cause = String::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = src {
            cause.push_str(": ");
            cause.push_str(&s.to_string());
            src = s.source();
        }
        FetchError::new(
            self.provider,
            kind,
            ErrorClass::retry_later(),
            format!("GET {url} {what}{cause}"),
        )
    }

    /// The generic mapping of a non-2xx status (providers handle their own
    /// special cases first).
    pub fn status_error(&self, resp: &Response) -> FetchError {
        status_error(self.provider, resp)
    }

    pub fn decode_error(&self, resp: &Response, what: impl std::fmt::Display) -> FetchError {
        FetchError::new(
            self.provider,
            FetchErrorKind::Decode,
            ErrorClass::TryNext,
            format!(
                "GET {} (HTTP {}): {what}; body starts {:?}",
                resp.url,
                resp.status,
                resp.snippet()
            ),
        )
    }
}

pub(crate) fn status_error(provider: &str, resp: &Response) -> FetchError {
    let (kind, class) = match resp.status {
        401 | 403 => (FetchErrorKind::Unauthorized, ErrorClass::GiveUp),
        404 => (FetchErrorKind::UnknownSymbol, ErrorClass::GiveUp),
        408 => (FetchErrorKind::Timeout, ErrorClass::retry_later()),
        418 | 429 => (
            FetchErrorKind::RateLimited,
            ErrorClass::RetryLater {
                retry_after: resp.retry_after,
            },
        ),
        500..=599 => (
            FetchErrorKind::Upstream,
            ErrorClass::RetryLater {
                retry_after: resp.retry_after,
            },
        ),
        400..=499 => (FetchErrorKind::HttpStatus, ErrorClass::GiveUp),
        _ => (FetchErrorKind::HttpStatus, ErrorClass::TryNext),
    };
    let mut msg = format!("GET {} answered HTTP {}", resp.url, resp.status);
    if let Some(ra) = resp.retry_after {
        msg.push_str(&format!(" (Retry-After {}s)", ra.as_secs()));
    }
    let body = resp.snippet();
    if !body.is_empty() {
        msg.push_str(&format!(": {body}"));
    }
    FetchError::new(provider, kind, class, msg)
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let d = when.duration_since(Timestamp::now());
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO))
}

/// Masks the values of query parameters that carry secrets.
pub(crate) fn redact(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if u.query().is_none() {
        return url.to_owned();
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let lk = k.to_ascii_lowercase();
            let secret = lk.contains("key") || lk.contains("token") || lk == "crumb";
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys_in_urls() {
        let r = redact("https://x.test/query?function=A&apikey=SECRET&symbol=IBM");
        assert!(!r.contains("SECRET"));
        assert!(r.contains("symbol=IBM"));
    }

    #[test]
    fn parses_retry_after_seconds() {
        assert_eq!(parse_retry_after("119"), Some(Duration::from_secs(119)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
