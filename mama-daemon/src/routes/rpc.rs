//! `POST /rpc`: JSON-RPC 2.0 for the TUI and other admin tools.
//!
//! Every call is recorded: use cases record their own events; what fails before a use case runs
//! (bad JSON, bad token, bad params, unknown method) is recorded here.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mama_core::api::rpc::{method, RpcRequest, RpcResponse};
use mama_core::api::{ApiError, ErrorCode};
use mama_core::ops::auth::{AdminSession, ALLOWED_BEFORE_PASSWORD_CHANGE};
use mama_core::ops::{Actor, Channel, Ctx, Mama};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{bearer, request_id, Peer};
use crate::error::sanitize_serde_message;
use crate::state::AppState;

/// Why a call failed, and whether its event is already stored.
enum Failure {
    /// Raised before a use case ran (bad JSON, token, params, method): the handler records it.
    Early(ApiError),
    /// Returned by a use case, which recorded its own event.
    Recorded(ApiError),
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        Failure::Early(err)
    }
}

pub async fn handle_rpc(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ctx = Ctx::new(
        Actor::Anonymous(None),
        Channel::Rpc,
        peer.to_string(),
        request_id(&headers),
    );
    let mama = &state.mama;
    let (id, method_name, outcome) = match parse(body) {
        Err(err) => (Value::Null, "rpc".to_string(), Err(Failure::Early(err))),
        Ok(req) => {
            let id = req.id.clone().unwrap_or(Value::Null);
            let name = req.method.clone();
            (id, name, dispatch(mama, &ctx, &headers, &req).await)
        }
    };
    let response = match outcome {
        Ok(result) => RpcResponse::ok(id, result),
        Err(Failure::Recorded(err)) => RpcResponse::err(id, err),
        Err(Failure::Early(err)) => {
            let ctx = ctx.with_actor(actor_from_token(mama, &headers).await);
            mama.audit
                .record_failure(ctx.event(&action_name(&method_name)).failed(&err))
                .await;
            RpcResponse::err(id, err)
        }
    };
    let outcome = response
        .error
        .as_ref()
        .map(|e| e.data.code.as_str())
        .unwrap_or("ok");
    state.metrics.rpc_call(&action_name(&method_name), outcome);
    if let Some(err) = response.error.as_ref() {
        if err.data.code == ErrorCode::LoginFailed {
            state
                .metrics
                .login_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if err.data.message == mama_core::ops::AUDIT_FAILED_MESSAGE {
            state
                .metrics
                .event_write_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let status = response
        .error
        .as_ref()
        .map(|e| {
            StatusCode::from_u16(e.data.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        })
        .unwrap_or(StatusCode::OK);
    (status, Json(response)).into_response()
}

/// Events name the method; an unknown method is recorded under a fixed name, so a client cannot
/// write arbitrary text into the action column.
fn action_name(method_name: &str) -> String {
    if KNOWN.contains(&method_name) {
        method_name.to_string()
    } else {
        "rpc.invalid".to_string()
    }
}

const KNOWN: &[&str] = &[
    method::AUTH_LOGIN,
    method::AUTH_REFRESH,
    method::AUTH_LOGOUT,
    method::AUTH_CHANGE_PASSWORD,
    method::AUTH_WHOAMI,
    method::ADMINS_LIST,
    method::ADMINS_CREATE,
    method::ADMINS_DELETE,
    method::USERS_LIST,
    method::USERS_LIST_IDS,
    method::USERS_COUNT,
    method::USERS_GET,
    method::USERS_CREATE,
    method::USERS_UPDATE,
    method::USERS_DELETE,
    method::USERS_BULK_UPDATE,
    method::SERVICES_LIST,
    method::SERVICES_CREATE,
    method::SERVICES_DELETE,
    method::SERVICES_ISSUE_TOKEN,
    method::SERVICES_REVOKE_TOKEN,
    method::EVENTS_LIST,
    method::MODELS_LIST,
    method::SYNC_STATUS,
    method::SYNC_RECONCILE,
    method::SYNC_RETRY_FAILED,
    method::USERS_ROTATE_KEYS,
];

/// Best effort: name the admin in the event of a failed call when the token is valid.
async fn actor_from_token(mama: &Mama, headers: &HeaderMap) -> Actor {
    match bearer(headers) {
        Some(token) => match mama.jwt.verify(token) {
            Ok(claims) => Actor::Admin(claims.sub),
            Err(_) => Actor::Anonymous(None),
        },
        None => Actor::Anonymous(None),
    }
}

fn parse(body: Result<Bytes, BytesRejection>) -> Result<RpcRequest, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the request body is larger than {} bytes",
                    super::MAX_BODY_BYTES
                ),
            )
        } else {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "the request body could not be read",
            )
        }
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::ParseError,
            format!(
                "the body is not valid JSON: {}",
                sanitize_serde_message(&e.to_string())
            ),
        )
    })?;
    let req: RpcRequest = serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "not a JSON-RPC 2.0 request: {}",
                sanitize_serde_message(&e.to_string())
            ),
        )
    })?;
    if req.jsonrpc != "2.0" {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "jsonrpc must be \"2.0\"",
        ));
    }
    Ok(req)
}

fn params<T: DeserializeOwned>(req: &RpcRequest) -> Result<T, Failure> {
    let value = match &req.params {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    serde_json::from_value(value).map_err(|e| {
        let msg = sanitize_serde_message(&e.to_string());
        Failure::Early(ApiError::invalid("params", msg))
    })
}

fn done<T: serde::Serialize>(r: Result<T, ApiError>) -> Result<Value, Failure> {
    match r {
        Ok(v) => serde_json::to_value(v).map_err(|_| {
            Failure::Early(ApiError::new(
                ErrorCode::Internal,
                "could not encode the result",
            ))
        }),
        Err(e) => Err(Failure::Recorded(e)),
    }
}

async fn session(
    mama: &Mama,
    headers: &HeaderMap,
    method_name: &str,
) -> Result<AdminSession, Failure> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "log in first: no session token in the Authorization header",
        )
    })?;
    let session = mama.authenticate(token).await?;
    if session.must_change_password && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&method_name) {
        return Err(Failure::Early(ApiError::new(
            ErrorCode::PasswordChangeRequired,
            "you must change your password first (auth.change_password)",
        )));
    }
    Ok(session)
}

async fn dispatch(
    mama: &Mama,
    ctx: &Ctx,
    headers: &HeaderMap,
    req: &RpcRequest,
) -> Result<Value, Failure> {
    let m = req.method.as_str();
    if m == method::AUTH_LOGIN {
        let p = params(req)?;
        return done(mama.login(ctx, p).await);
    }
    if !KNOWN.contains(&m) {
        return Err(Failure::Early(ApiError::new(
            ErrorCode::MethodNotFound,
            format!("no method {:?}; see docs/admin-rpc.md", truncate(m, 64)),
        )));
    }
    let s = session(mama, headers, m).await?;
    let ctx = &ctx.with_actor(Actor::Admin(s.username.clone()));
    match m {
        method::AUTH_REFRESH => done(mama.refresh(ctx, &s).await),
        method::AUTH_LOGOUT => done(mama.logout(ctx, &s).await.map(|()| serde_json::json!({}))),
        method::AUTH_CHANGE_PASSWORD => done(mama.change_password(ctx, &s, params(req)?).await),
        method::AUTH_WHOAMI => done(mama.whoami(ctx, &s).await),
        method::ADMINS_LIST => done(mama.list_admins(ctx, &s).await),
        method::ADMINS_CREATE => done(mama.create_admin(ctx, &s, params(req)?).await),
        method::ADMINS_DELETE => done(
            mama.delete_admin(ctx, &s, params(req)?)
                .await
                .map(|()| serde_json::json!({})),
        ),
        method::USERS_LIST => done(mama.list_users(ctx, &s, params(req)?).await),
        method::USERS_LIST_IDS => done(mama.list_user_ids(ctx, &s, params(req)?).await),
        method::USERS_COUNT => done(mama.count_users(ctx, &s, params(req)?).await),
        method::USERS_GET => done(mama.get_users(ctx, &s, params(req)?).await),
        method::USERS_CREATE => done(mama.create_users(ctx, &s, params(req)?).await),
        method::USERS_UPDATE => done(mama.update_user(ctx, &s, params(req)?).await),
        method::USERS_DELETE => done(mama.delete_users(ctx, &s, params(req)?).await),
        method::USERS_BULK_UPDATE => done(mama.bulk_update(ctx, &s, params(req)?).await),
        method::SERVICES_LIST => done(mama.list_services(ctx, &s).await),
        method::SERVICES_CREATE => done(mama.create_service(ctx, &s, params(req)?).await),
        method::SERVICES_DELETE => done(mama.delete_service(ctx, &s, params(req)?).await),
        method::SERVICES_ISSUE_TOKEN => done(mama.issue_token(ctx, &s, params(req)?).await),
        method::SERVICES_REVOKE_TOKEN => done(
            mama.revoke_token(ctx, &s, params(req)?)
                .await
                .map(|()| serde_json::json!({})),
        ),
        method::EVENTS_LIST => done(mama.list_events(ctx, &s, params(req)?).await),
        method::MODELS_LIST => done(mama.list_models(ctx, &s, params(req)?).await),
        method::SYNC_STATUS => done(mama.sync_status(ctx, &s).await),
        method::SYNC_RECONCILE => done(mama.sync_reconcile(ctx, &s).await),
        method::SYNC_RETRY_FAILED => done(mama.retry_failed(ctx, &s, params(req)?).await),
        method::USERS_ROTATE_KEYS => done(mama.rotate_keys(ctx, &s, params(req)?).await),
        _ => Err(Failure::Early(ApiError::new(
            ErrorCode::MethodNotFound,
            format!("method {m} is not available on this daemon yet"),
        ))),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
