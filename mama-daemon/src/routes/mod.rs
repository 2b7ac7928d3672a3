//! HTTP routing. Two routers: the admin RPC (Unix socket, optional TCP) and the REST API for
//! services (TCP). Handlers translate; `mama-core` decides.

pub mod health;
pub mod openapi;
pub mod rest;
pub mod rpc;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use mama_core::api::{ApiError, ErrorCode};

use crate::error::RestError;
use crate::state::AppState;

/// Largest request body accepted (bigger ones get 413 with the JSON envelope).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Who is on the other end of a connection: an address, or a Unix socket peer's uid/pid.
#[derive(Debug, Clone)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix { uid: Option<u32>, pid: Option<i32> },
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix { uid, pid } => {
                write!(
                    f,
                    "unix:uid={}",
                    uid.map(|u| u.to_string()).unwrap_or_else(|| "?".into())
                )?;
                if let Some(pid) = pid {
                    write!(f, ",pid={pid}")?;
                }
                Ok(())
            }
        }
    }
}

/// The admin RPC router.
pub fn admin_router(state: AppState) -> Router {
    let state = AppState {
        listener: "admin",
        ..state
    };
    Router::new()
        .route("/rpc", post(rpc::handle_rpc))
        .route("/healthz", get(health::healthz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access_log::log_request,
        ))
        .with_state(state)
}

/// The REST router for services, plus health and metrics.
pub fn rest_router(state: AppState) -> Router {
    let state = AppState {
        listener: "rest",
        ..state
    };
    Router::new()
        .route("/api/v1/users/lookup", post(rest::lookup_users))
        .route("/api/v1/users/{id}", get(rest::get_user))
        .route("/api/v1/usage", get(rest::usage))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access_log::log_request,
        ))
        .with_state(state)
}

async fn not_found() -> RestError {
    RestError(ApiError::new(
        ErrorCode::NotFound,
        "no such endpoint; see /api/v1/openapi.json",
    ))
}

async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut resp = RestError(ApiError::new(
        ErrorCode::InvalidRequest,
        "method not allowed for this endpoint",
    ))
    .into_response();
    *resp.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    resp
}

/// A request id: the caller's `x-request-id` when sane, else a new one.
pub fn request_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
