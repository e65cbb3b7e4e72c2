//! Extractors that turn requests into typed values or problem responses.

use super::{AppState, problem::ApiError};
use axum::{
    extract::{FromRequest, FromRequestParts, Request},
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

/// JSON body whose rejections are problem documents naming what is wrong: the field
/// at fault is the path serde was at (`quantity`, `[2].time`), not a guess from text.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_media_type);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| body_rejection(rejection.status(), rejection.body_text()))?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// `application/json` or any `application/…+json`, parameters ignored.
fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A body that could not be read: too large (the configured limit) or cut off.
fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "the request body is too large")
    } else {
        ApiError::new(status, text)
    }
}

/// Decodes JSON, naming the field at fault in data errors.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Decodes an already parsed JSON value (e.g. one element of an array), naming the
/// field at fault.
pub fn decode_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(json_error)
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        Category::Data => ApiError::invalid(vec![pricetrack_app::FieldError {
            index: None,
            line: None,
            field: field_of(&path, &inner.to_string()),
            reason: inner.to_string(),
        }]),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request(format!("malformed JSON: {inner}"))
        }
    }
}

/// The field a serde error is about: the path where it happened (which for an
/// unknown field ends with that field), completed for "missing field `name`" —
/// reported at the struct that lacks it — by the name.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = || {
        let start = message.find('`')? + 1;
        let end = start + message[start..].find('`')?;
        Some(message[start..end].to_owned())
    };
    let at_root = path == "." || path.is_empty();
    if message.starts_with("missing field") {
        return match (at_root, named()) {
            (true, name) => name,
            (false, Some(name)) => Some(format!("{path}.{name}")),
            (false, None) => Some(path.to_owned()),
        };
    }
    if at_root {
        named()
    } else {
        Some(path.to_owned())
    }
}

/// Query strings whose rejections are problem documents naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        decode_query(query).map(ApiQuery)
    }
}

fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner().to_string();
        ApiError::invalid(vec![pricetrack_app::FieldError {
            index: None,
            line: None,
            field: field_of(&path, &reason),
            reason,
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        limit: Option<u32>,
    }

    fn field(e: ApiError) -> Option<String> {
        e.errors().first().and_then(|f| f.field.clone())
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let e = decode_json::<Item>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("name"));
        let e = decode_json::<Vec<Item>>(br#"[{"name": "a"}, {"name": true}]"#).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("[1].name"));
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let e = decode_json::<Item>(br#"{}"#).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("name"));
        let e = decode_json::<Item>(br#"{"name": "a", "colour": 1}"#).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("colour"));
        let e = decode_json::<Vec<Item>>(br#"[{"name": "a"}, {}]"#).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("[1].name"));
        let e = decode_json::<Vec<Item>>(br#"[{"name": "a", "x": 1}]"#).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("[0].x"));
    }

    #[test]
    fn a_bad_query_parameter_is_named() {
        let e = decode_query::<Item>("name=a&limit=abc").unwrap_err();
        assert_eq!(field(e).as_deref(), Some("limit"));
    }

    #[test]
    fn malformed_json_is_a_bad_request_not_a_field_error() {
        let e = decode_json::<Item>(br#"{"name": "#).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
