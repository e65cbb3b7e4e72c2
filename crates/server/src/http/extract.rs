//! Extractors that turn requests into typed values or problem responses.

use super::{AppState, problem::ApiError};
use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use pricetrack_app::{auth, ports::User};
use serde::de::DeserializeOwned;

/// The user behind the request's bearer token.
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        let token = header_value
            .strip_prefix("Bearer ")
            .or_else(|| header_value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthenticated)?;
        let user = auth::authenticate(&state.ctx, token).await?;
        Ok(AuthUser(user))
    }
}

/// JSON body whose rejections are problem documents naming what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => ApiError::invalid(vec![pricetrack_app::FieldError {
            index: None,
            line: None,
            field: field_from_serde_message(&text),
            reason: text,
        }]),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "the request body is too large")
        }
        _ => ApiError::new(status, text),
    }
}

/// serde messages look like "…: missing field `name` at line 1 column 2" or "unknown field `x`".
fn field_from_serde_message(text: &str) -> Option<String> {
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_owned())
}

/// Query strings whose rejections are problem documents.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_from(query).map(ApiQuery)
    }
}

fn serde_urlencoded_from<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("malformed query string"))?,
    )
    .map(|q| q.0)
    .map_err(|e| {
        let text = e.body_text();
        let reason = text
            .trim_start_matches("Failed to deserialize query string: ")
            .to_owned();
        ApiError::invalid(vec![pricetrack_app::FieldError {
            index: None,
            line: None,
            field: field_from_serde_message(&reason),
            reason,
        }])
    })
}
