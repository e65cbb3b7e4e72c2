//! The caller's account, API tokens and (for admins) users.

use super::{
    AppState,
    extract::{ApiJson, AuthUser},
    problem::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use pricetrack_app::{
    AppError, auth,
    ports::{Role, TokenRecord, User},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            name: u.name.clone(),
            role: u.role.as_str().to_owned(),
            created_at: u.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    pub label: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<&TokenRecord> for TokenOut {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id,
            label: t.label.clone(),
            prefix: t.prefix.clone(),
            created_at: t.created_at.to_string(),
            last_used_at: t.last_used_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenOut {
    #[serde(flatten)]
    pub record: TokenOut,
    /// The secret: shown once, never again.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    pub name: String,
    /// `admin` or `user` (default).
    pub role: Option<String>,
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/me", tag = "account", responses((status = 200, body = UserOut)), security(("bearer" = [])))]
pub async fn me(AuthUser(user): AuthUser) -> Json<UserOut> {
    Json(UserOut::from(&user))
}

/// Your API tokens (never the secrets).
#[utoipa::path(get, path = "/tokens", tag = "account", responses((status = 200, body = Vec<TokenOut>)), security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Vec<TokenOut>>> {
    let tokens = state
        .ctx
        .store
        .list_tokens(user.id)
        .await
        .map_err(AppError::from)?;
    Ok(Json(tokens.iter().map(TokenOut::from).collect()))
}

/// Create an API token; the secret is in this response only.
#[utoipa::path(post, path = "/tokens", tag = "account", request_body = TokenIn,
    responses((status = 201, body = NewTokenOut)), security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<TokenIn>,
) -> ApiResult<(StatusCode, Json<NewTokenOut>)> {
    let issued = auth::issue_token(&state.ctx, &user, &body.label).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenOut {
            record: TokenOut::from(&issued.record),
            token: issued.secret,
        }),
    ))
}

/// Revoke one of your tokens.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "account", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    if state
        .ctx
        .store
        .revoke_token(user.id, id)
        .await
        .map_err(AppError::from)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("token {id} not found"),
        ))
    }
}

/// All users (admin).
#[utoipa::path(get, path = "/users", tag = "account", responses((status = 200, body = Vec<UserOut>), (status = 403)), security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Vec<UserOut>>> {
    if user.role != Role::Admin {
        return Err(AppError::Forbidden.into());
    }
    let users = state.ctx.store.list_users().await.map_err(AppError::from)?;
    Ok(Json(users.iter().map(UserOut::from).collect()))
}

/// Create a user (admin). Give them a token with `pricetrack token create --user NAME`.
#[utoipa::path(post, path = "/users", tag = "account", request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 403), (status = 409)), security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    if user.role != Role::Admin {
        return Err(AppError::Forbidden.into());
    }
    let role = match body.role.as_deref() {
        None => Role::User,
        Some(r) => Role::parse(r)
            .ok_or_else(|| ApiError::field("role", format!("{r:?} is not admin or user")))?,
    };
    let created = auth::create_user(&state.ctx, &body.name, role).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(&created))))
}
