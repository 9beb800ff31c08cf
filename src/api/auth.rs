//! `POST /auth/refresh`: trades a refresh token (once) for a new access token and the refresh
//! token that replaces it. No access token needed: the refresh token is the credential.

use serde_json::Value;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::CACHE_CONTROL;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::reply::{ApiResult, finish, json, set_header};
use super::request::{Req, req};
use super::state::AppState;
use crate::domain::FieldError;
use crate::error::Error;

/// `POST /auth/refresh`.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("auth" / "refresh").and(req(state.clone())).then(refresh).boxed()
}

async fn refresh(req: Req) -> Response {
    let result = match req.method {
        Method::POST => rotate(req).await,
        _ => Err(ApiError::MethodNotAllowed("POST")),
    };
    finish("/auth/refresh", result)
}

async fn rotate(mut req: Req) -> ApiResult {
    req.limit_by_address()?;
    let body = req.json_object(false).await?;
    let mut errors: Vec<FieldError> =
        body.keys().filter(|k| *k != "refresh_token").map(|k| FieldError::new(k, "is not a field")).collect();
    let token = match body.get("refresh_token") {
        Some(Value::String(token)) if !token.is_empty() => Some(token.clone()),
        Some(_) => {
            errors.push(FieldError::new("refresh_token", "must be a non-empty string"));
            None
        }
        None => {
            errors.push(FieldError::new("refresh_token", "is required"));
            None
        }
    };
    let Some(token) = token.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors).into()) };
    let issued = req.state.tokens.refresh(&req.state.store, &token).await?;
    let mut response = json(StatusCode::OK, &issued)?;
    // Tokens must never sit in a cache on the way (RFC 6749 section 5.1).
    set_header(&mut response, CACHE_CONTROL, "no-store");
    Ok(response)
}
