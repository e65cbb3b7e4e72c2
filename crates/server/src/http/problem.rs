//! RFC 9457 problem details: the one mapping from errors to API responses.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use pricetrack_app::{AppError, FieldError, ports::StoreError};
use pricetrack_domain::analytics::AnalyticsError;
use serde::Serialize;

/// The JSON body of every API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// For validation problems: each field or row at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind: "about:blank",
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The fields or rows at fault (empty for errors about the request as a whole).
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// A validation failure naming the fields at fault.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => one.to_string(),
            [first, ..] => format!("{} problems; the first: {first}", errors.len()),
            [] => "invalid input".to_owned(),
        };
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "https://pricetrack.dev/problems/validation",
            detail,
            errors,
        }
    }

    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError::field(field, reason)])
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "send `Authorization: Bearer <token>` with a valid API token",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(errors) => ApiError::invalid(errors),
            AppError::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            AppError::Conflict(_) | AppError::InstrumentInUse { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            AppError::Ledger(_) => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "https://pricetrack.dev/problems/ledger",
                detail: e.to_string(),
                errors: Vec::new(),
            },
            // Bad or missing data behind a figure is the caller's to fix (add the
            // FX rate, the price, pick another period): a 422 naming the pair,
            // symbol or date, never a 5xx.
            AppError::Analytics(ref analytics) => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "https://pricetrack.dev/problems/analytics",
                detail: e.to_string(),
                errors: analytics_field(analytics).into_iter().collect(),
            },
            AppError::Forbidden => ApiError::new(StatusCode::FORBIDDEN, e.to_string()),
            AppError::Unauthenticated => ApiError::unauthenticated(),
            AppError::Store(StoreError::UnknownInstrument(s)) => {
                ApiError::field("symbol", format!("unknown instrument {s}"))
            }
            AppError::Store(StoreError::Conflict(msg)) => ApiError::new(StatusCode::CONFLICT, msg),
            AppError::Store(store_error) => {
                // The cause goes to the log once; the client gets an opaque 5xx.
                tracing::error!(error = %store_error, source = ?std::error::Error::source(&store_error), "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database failed; the error was logged",
                )
            }
        }
    }
}

/// The part of the portfolio's data an analytics failure is about.
fn analytics_field(e: &AnalyticsError) -> Option<FieldError> {
    let field = match e {
        AnalyticsError::MissingFxRate { .. } | AnalyticsError::FxRatePending { .. } => "fx_rate",
        AnalyticsError::MissingPrice { .. } => "price",
        AnalyticsError::InvalidPeriod { .. } => "period",
        AnalyticsError::Xirr(_) => "xirr",
        _ => return None,
    };
    Some(FieldError::field(field, e.to_string()))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = Problem {
            kind: self.kind,
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Turns the framework's own error responses under `/api` — a path segment that is
/// not a number, a body over the size limit, a method the route does not take — into
/// problem documents like every other error there. `max_body_mb` names the limit.
pub async fn problem_for_framework_errors(max_body_mb: u64, response: Response) -> Response {
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_error || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is larger than the limit of {max_body_mb} MB \
             (PRICETRACK_MAX_BODY_MB); send it in smaller batches"
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            "this route does not take that method; see /api/v1/openapi.json".to_owned()
        }
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut out = ApiError::new(status, detail).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
