//! The stand-in's routes: LiteLLM 1.103.7's admin and model endpoints as the captures show them,
//! behind one middleware that records each call and injects faults.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::calls::{Call, CallLog};
use super::faults::{Fault, Faults};
use super::state::{
    Caller, Generated, KeyChanges, LimitChanges, NewKey, StandInTeam, State as Memory, TeamChanges,
};
use super::wire::{self, ApiError};

/// Everything the handlers share.
pub struct Shared {
    pub memory: Mutex<Memory>,
    pub master_key: String,
    pub faults: Faults,
    pub calls: CallLog,
}

impl Shared {
    pub fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Params = Query<HashMap<String, String>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health/liveliness", get(|| async { Json("I'm alive!") }))
        .route(
            "/health/readiness",
            get(|| async { Json(json!({"status": "healthy", "db": "connected"})) }),
        )
        .route("/key/generate", post(generate_key))
        .route("/key/update", post(update_key))
        .route("/key/delete", post(delete_keys))
        .route("/key/block", post(block_key))
        .route("/key/unblock", post(unblock_key))
        .route("/key/info", get(key_info))
        .route("/key/list", get(list_keys))
        .route("/team/new", post(new_team))
        .route("/team/update", post(update_team))
        .route("/team/info", get(team_info))
        .route("/team/list", get(list_teams))
        .route("/user/daily/activity", get(super::activity::daily_activity))
        .route("/v1/models", get(list_models))
        .route("/models", get(list_models))
        .route("/model/info", get(model_info))
        .route("/v1/model/info", get(model_info))
        .route("/chat/completions", post(chat))
        .route("/v1/chat/completions", post(chat))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            record_and_inject,
        ))
        .with_state(shared)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// Records the call, then answers normally or with the fault a test asked for.
async fn record_and_inject(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let route = parts.uri.path().to_owned();
    let fault = shared.faults.take(&route);
    let index = shared.calls.push(Call {
        method: parts.method.to_string(),
        route: route.clone(),
        query: parts.uri.query().map(str::to_owned),
        body: serde_json::from_slice(&bytes).ok(),
        changed_by: parts
            .headers
            .get("litellm-changed-by")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        host: parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        by_master_key: bearer(&parts.headers).as_deref() == Some(shared.master_key.as_str()),
        fault: fault.as_ref().map(|(f, _)| f.clone()),
        status: None,
    });
    let req = Request::from_parts(parts, Body::from(bytes));
    let response = match fault {
        None => next.run(req).await,
        Some((fault, applied)) => inject(fault, applied, req, next).await,
    };
    // A reset sends no status line, so the call keeps `status: None`.
    if !is_reset(&response) {
        shared.calls.set_status(index, response.status().as_u16());
    }
    response
}

/// Marks a response that must not be sent: the connection is closed instead (see
/// `super::serve`, which turns it into a service error, on which hyper drops the connection
/// without writing anything).
#[derive(Debug, Clone, Copy)]
struct ResetConnection;

/// Whether the connection must be closed instead of sending `response`.
pub fn is_reset(response: &Response) -> bool {
    response.extensions().get::<ResetConnection>().is_some()
}

/// A placeholder response carrying [`ResetConnection`].
fn reset_connection() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(ResetConnection);
    response
}

/// The envelope of [`Fault::Status`]: a 400 says `"param": "None"` as LiteLLM's own 400s do
/// (e.g. from a proxy shutting down); other statuses keep `param` null.
fn injected_status(status: u16) -> ApiError {
    let param = (status == 400).then_some("None");
    ApiError::new(
        status,
        "stand-in: injected failure",
        "internal_server_error",
        param,
    )
}

/// A 400 quoting the request it answers, secrets and all (see [`Fault::EchoRequest`]).
async fn echo_request(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let headers: Vec<String> = parts
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
        .collect();
    let message = format!(
        "bad request {} {} headers [{}] body {}",
        parts.method,
        parts.uri,
        headers.join("; "),
        String::from_utf8_lossy(&body)
    );
    ApiError::new(400, message, "bad_request_error", Some("None")).into_response()
}

/// The real answer, computed now in its own task (so it completes even if the client leaves),
/// or left for later when the fault says the operation does not happen.
enum Real {
    Done(Response),
    NotRun,
}

async fn inject(fault: Fault, applied: bool, req: Request, next: Next) -> Response {
    let (real, later) = if applied {
        let response = tokio::spawn(next.run(req))
            .await
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        (Real::Done(response), None)
    } else {
        (Real::NotRun, Some((req, next)))
    };
    match fault {
        Fault::EchoRequest => match later {
            Some((req, _)) => echo_request(req).await,
            None => injected_status(400).into_response(),
        },
        Fault::Status(status) => injected_status(status).into_response(),
        // `real` has already run when the rule says the operation applies.
        Fault::Reset => reset_connection(),
        Fault::RateLimited { retry_after_secs } => {
            let mut response =
                ApiError::new(429, "stand-in: rate limited", "rate_limit_error", None)
                    .into_response();
            if let Some(secs) = retry_after_secs {
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            match (real, later) {
                (Real::Done(response), _) => response,
                (Real::NotRun, Some((req, next))) => next.run(req).await,
                (Real::NotRun, None) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Fault::Hang => std::future::pending().await,
        Fault::CutMidResponse => {
            let body = real_body(real).await;
            let half = Bytes::copy_from_slice(&body[..body.len() / 2]);
            let cut = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(
                futures::stream::once(async {
                    // Let the first half reach the client before the connection breaks.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "stand-in: cut mid-response",
                    ))
                }),
            );
            json_response(StatusCode::OK, Body::from_stream(cut))
        }
        Fault::MalformedBody => {
            let body = real_body(real).await;
            let truncated = body[..body.len() / 2].to_vec();
            json_response(StatusCode::OK, Body::from(truncated))
        }
    }
}

/// The real answer's body, or a plausible start of one when the operation did not run; always
/// long enough that half of it is not valid JSON.
async fn real_body(real: Real) -> Vec<u8> {
    let body = match real {
        Real::Done(response) => to_bytes(response.into_body(), usize::MAX)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default(),
        Real::NotRun => Vec::new(),
    };
    if body.len() < 8 {
        br#"{"key_alias": "stand-in", "models": ["gpt-4o"]}"#.to_vec()
    } else {
        body
    }
}

fn json_response(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Which callers a route admits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Model routes: any live key.
    AnyKey,
    /// `/key/generate`, `/key/info`: the master key, or a virtual key that is not `llm_api`.
    KeyRoutes,
    /// Admin routes: the master key only.
    Master,
}

pub(super) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    route: &str,
    access: Access,
) -> Result<Caller, Box<Response>> {
    let Some(token) = bearer(headers) else {
        return Err(Box::new(wire::no_token().into_response()));
    };
    let caller = shared
        .memory()
        .caller(&token, &shared.master_key)
        .ok_or_else(|| Box::new(wire::bad_token(&token).into_response()))?;
    // LiteLLM checks the block in its auth step, before any route rule: every route refuses.
    if let Caller::Virtual(key) = &caller {
        if key.is_blocked() {
            return Err(Box::new(wire::key_blocked().into_response()));
        }
    }
    match (&caller, access) {
        (Caller::Master, _) | (_, Access::AnyKey) => Ok(caller),
        (Caller::Virtual(key), _) if key.key_type == "llm_api" => Err(Box::new((
            StatusCode::FORBIDDEN,
            Json(json!({"detail": format!(
                "Virtual key is not allowed to call this route. Only allowed to call routes: ['llm_api_routes']. Tried to call route: {route}"
            )})),
        )
            .into_response())),
        (Caller::Virtual(_), Access::KeyRoutes) => Ok(caller),
        (Caller::Virtual(_), Access::Master) => Err(Box::new(ApiError::new(
            401,
            format!("Authentication Error, Only proxy admin can be used to call {route}"),
            "auth_error",
            Some("None"),
        )
        .into_response())),
    }
}

/// The JSON object of a body, answering FastAPI's 422 when it is not one.
fn object(body: &Bytes) -> Result<Map<String, Value>, Box<Response>> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Box::new(wire::validation(
            "model_attributes_type",
            json!(["body"]),
            "Input should be a valid dictionary or object to extract fields from",
            other,
        ))),
        Err(err) => Err(Box::new(wire::validation(
            "json_invalid",
            json!(["body", err.column()]),
            "JSON decode error",
            json!({}),
        ))),
    }
}

fn string_field(map: &Map<String, Value>, field: &str) -> Result<Option<String>, Box<Response>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Box::new(wire::validation(
            "string_type",
            json!(["body", field]),
            "Input should be a valid string",
            other.clone(),
        ))),
    }
}

fn list_field(map: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, Box<Response>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(Box::new(wire::validation(
                    "string_type",
                    json!(["body", field, i]),
                    "Input should be a valid string",
                    other.clone(),
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(Box::new(wire::validation(
            "list_type",
            json!(["body", field]),
            "Input should be a valid list",
            other.clone(),
        ))),
    }
}

/// An optional boolean; absent and JSON null are both `None`.
fn bool_field(map: &Map<String, Value>, field: &str) -> Result<Option<bool>, Box<Response>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(Box::new(wire::validation(
            "bool_parsing",
            json!(["body", field]),
            "Input should be a valid boolean, unable to interpret input",
            other.clone(),
        ))),
    }
}

/// A required string field, answering FastAPI's 422 `missing` when absent or null.
fn required_string(map: &Map<String, Value>, field: &str) -> Result<String, Box<Response>> {
    match string_field(map, field)? {
        Some(value) => Ok(value),
        None => Err(Box::new(wire::validation(
            "missing",
            json!(["body", field]),
            "Field required",
            Value::Object(map.clone()),
        ))),
    }
}

fn object_field(
    map: &Map<String, Value>,
    field: &str,
) -> Result<Option<Map<String, Value>>, Box<Response>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(other) => Err(Box::new(wire::validation(
            "dict_type",
            json!(["body", field]),
            "Input should be a valid dictionary",
            other.clone(),
        ))),
    }
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return *response,
        }
    };
}

async fn generate_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = tri!(authorize(
        &shared,
        &headers,
        "/key/generate",
        Access::KeyRoutes
    ));
    let map = tri!(object(&body));
    let req = NewKey {
        key: tri!(string_field(&map, "key")),
        key_alias: tri!(string_field(&map, "key_alias")),
        models: tri!(list_field(&map, "models")).unwrap_or_default(),
        user_id: tri!(string_field(&map, "user_id")),
        team_id: tri!(string_field(&map, "team_id")),
        metadata: tri!(object_field(&map, "metadata")).unwrap_or_default(),
        key_type: tri!(string_field(&map, "key_type")),
        blocked: tri!(bool_field(&map, "blocked")),
        limits: tri!(limit_changes(&map)),
    };
    let explicit = req.key.clone();
    let outcome = shared.memory().generate(&caller, req);
    match outcome {
        Ok(Generated::Created { key, plaintext }) => {
            Json(wire::generated(&key, &plaintext)).into_response()
        }
        // The quirk: 200, the stored token, the *requested* values; nothing stored changes.
        Ok(Generated::Unchanged { stored, echoed }) => {
            let mut echo = *echoed;
            echo.token = stored.token.clone();
            let plaintext = explicit.unwrap_or_default();
            Json(wire::generated(&echo, &plaintext)).into_response()
        }
        Err(err) => err.into_response(),
    }
}

async fn update_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(authorize(&shared, &headers, "/key/update", Access::Master));
    let map = tri!(object(&body));
    let key = tri!(required_string(&map, "key"));
    let changes = KeyChanges {
        models: tri!(list_field(&map, "models")),
        key_alias: tri!(string_field(&map, "key_alias")).map(Some),
        user_id: tri!(string_field(&map, "user_id")).map(Some),
        team_id: tri!(string_field(&map, "team_id")).map(Some),
        metadata: tri!(object_field(&map, "metadata")),
        blocked: tri!(bool_field(&map, "blocked")),
        limits: tri!(limit_changes(&map)),
    };
    let outcome = shared.memory().update(&key, changes);
    match outcome {
        Ok(stored) => Json(wire::updated(&stored, &key)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn delete_keys(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(authorize(&shared, &headers, "/key/delete", Access::Master));
    let map = tri!(object(&body));
    let keys = tri!(list_field(&map, "keys")).unwrap_or_default();
    let aliases = tri!(list_field(&map, "key_aliases")).unwrap_or_default();
    let outcome = shared.memory().delete(&keys, &aliases);
    match outcome {
        // Echo of the input, found or not.
        Ok(()) => {
            let echo = if keys.is_empty() { aliases } else { keys };
            Json(json!({ "deleted_keys": echo })).into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// `/key/block` and `/key/unblock` (`{"key": raw key or hash}`), master key only.
async fn set_blocked(
    shared: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
    blocked: bool,
) -> Response {
    let route = if blocked {
        "/key/block"
    } else {
        "/key/unblock"
    };
    tri!(authorize(shared, headers, route, Access::Master));
    let map = tri!(object(body));
    let key = tri!(required_string(&map, "key"));
    let outcome = shared.memory().set_blocked(&key, blocked);
    match outcome {
        Ok(stored) if blocked => Json(wire::blocked_row(&stored)).into_response(),
        Ok(stored) => Json(wire::unblocked_row(&stored)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn block_key(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    set_blocked(&shared, &headers, &body, true).await
}

async fn unblock_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set_blocked(&shared, &headers, &body, false).await
}

async fn key_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let caller = tri!(authorize(&shared, &headers, "/key/info", Access::KeyRoutes));
    let queried = match (q.get("key"), &caller) {
        (Some(key), _) => key.clone(),
        (None, Caller::Virtual(own)) => own.token.clone(),
        (None, Caller::Master) => String::new(),
    };
    let found = shared.memory().info(&queried);
    match found {
        Some((key, deleted)) => Json(wire::info(&key, &queried, deleted)).into_response(),
        None => ApiError::new(
            404,
            "Key not found in database",
            "not_found_error",
            Some("key"),
        )
        .into_response(),
    }
}

fn bounded(
    q: &HashMap<String, String>,
    name: &str,
    default: u64,
    max: Option<u64>,
) -> Result<u64, Box<Response>> {
    let Some(raw) = q.get(name) else {
        return Ok(default);
    };
    let value: u64 = raw.parse().map_err(|_| {
        Box::new(wire::validation(
            "int_parsing",
            json!(["query", name]),
            "Input should be a valid integer, unable to parse string as an integer",
            json!(raw),
        ))
    })?;
    if value < 1 {
        return Err(Box::new(wire::validation(
            "greater_than_equal",
            json!(["query", name]),
            "Input should be greater than or equal to 1",
            json!(raw),
        )));
    }
    if let Some(max) = max.filter(|m| value > *m) {
        return Err(Box::new(wire::validation(
            "less_than_equal",
            json!(["query", name]),
            &format!("Input should be less than or equal to {max}"),
            json!(raw),
        )));
    }
    Ok(value)
}

async fn list_keys(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    tri!(authorize(&shared, &headers, "/key/list", Access::Master));
    let page = tri!(bounded(&q, "page", 1, None));
    let size = tri!(bounded(&q, "size", 10, Some(100)));
    let full = q.get("return_full_object").is_some_and(|v| v == "true");
    let keys = shared.memory().list(
        q.get("user_id").map(String::as_str),
        q.get("team_id").map(String::as_str),
        q.get("key_alias").map(String::as_str),
    );
    let total = keys.len() as u64;
    let start = usize::try_from((page - 1) * size).unwrap_or(usize::MAX);
    let items: Vec<Value> = keys
        .iter()
        .skip(start)
        .take(size as usize)
        .map(|k| {
            if full {
                wire::list_item(k)
            } else {
                json!(k.token)
            }
        })
        .collect();
    Json(json!({
        "keys": items,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size),
    }))
    .into_response()
}

async fn new_team(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    tri!(authorize(&shared, &headers, "/team/new", Access::Master));
    let map = tri!(object(&body));
    let team = StandInTeam {
        team_id: tri!(string_field(&map, "team_id"))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        team_alias: tri!(string_field(&map, "team_alias")),
        models: tri!(list_field(&map, "models")).unwrap_or_default(),
    };
    let outcome = shared.memory().new_team(team);
    match outcome {
        Ok(team) => Json(wire::team(&team)).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `/team/update`: `models` replaces the team's list, `team_alias` renames; an unknown team is
/// 404 (see [`wire::team_not_found`]), a missing `team_id` FastAPI's 422.
async fn update_team(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tri!(authorize(&shared, &headers, "/team/update", Access::Master));
    let map = tri!(object(&body));
    let team_id = tri!(required_string(&map, "team_id"));
    let changes = TeamChanges {
        models: tri!(list_field(&map, "models")),
        team_alias: tri!(string_field(&map, "team_alias")),
    };
    let outcome = shared.memory().update_team(&team_id, changes);
    match outcome {
        Some(team) => Json(wire::team_updated(&team)).into_response(),
        None => wire::team_not_found(&team_id),
    }
}

async fn team_info(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    tri!(authorize(&shared, &headers, "/team/info", Access::Master));
    let team_id = q.get("team_id").cloned().unwrap_or_default();
    let memory = shared.memory();
    match memory.team(&team_id) {
        Some(team) => {
            let keys = memory
                .list(None, Some(&team_id), None)
                .iter()
                .map(wire::list_item)
                .collect();
            Json(wire::team_info(team, keys)).into_response()
        }
        None => ApiError::new(
            404,
            format!("{{'message': 'Team not found, passed team id: {team_id}.'}}"),
            "auth_error",
            Some("None"),
        )
        .into_response(),
    }
}

async fn list_teams(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    tri!(authorize(&shared, &headers, "/team/list", Access::Master));
    let teams: Vec<Value> = shared.memory().teams.iter().map(wire::team).collect();
    Json(Value::Array(teams)).into_response()
}

/// Models the caller may use: all of them for the master key.
fn visible_models(shared: &Shared, caller: &Caller) -> Vec<String> {
    let memory = shared.memory();
    match caller {
        Caller::Master => memory.model_names(),
        Caller::Virtual(key) => memory.models_for(key),
    }
}

async fn list_models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let caller = tri!(authorize(&shared, &headers, "/v1/models", Access::AnyKey));
    let data: Vec<Value> = visible_models(&shared, &caller)
        .iter()
        .map(|m| wire::model(m))
        .collect();
    Json(json!({"data": data, "object": "list"})).into_response()
}

async fn model_info(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let caller = tri!(authorize(&shared, &headers, "/model/info", Access::AnyKey));
    let visible = visible_models(&shared, &caller);
    let data: Vec<Value> = shared
        .memory()
        .deployments
        .iter()
        .filter(|d| visible.contains(&d.model_name))
        .map(wire::model_info)
        .collect();
    Json(json!({ "data": data })).into_response()
}

/// Allowed → the mock answers for `mock-gpt`, every other served model fails upstream (its
/// deployment points at a closed port); not allowed → 403; allowed but not served → 400.
async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let caller = tri!(authorize(
        &shared,
        &headers,
        "/chat/completions",
        Access::AnyKey
    ));
    let map = tri!(object(&body));
    let model = tri!(string_field(&map, "model")).unwrap_or_default();
    let allowed = match &caller {
        Caller::Master => true,
        Caller::Virtual(key) => {
            let memory = shared.memory();
            memory.unrestricted(key) || memory.models_for(key).contains(&model)
        }
    };
    if !allowed {
        return ApiError::new(
            403,
            format!("The requested model '{model}' is not available for this API key, or the model name is invalid. Check the models available to you and try again."),
            "key_model_access_denied",
            Some("model"),
        )
        .into_response();
    }
    if !shared.memory().model_names().contains(&model) {
        let message = format!("/chat/completions: Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key.");
        let mut body = ApiError::new(400, message.clone(), "invalid_request_error", None).body();
        body["error"]["provider_specific_fields"] = json!({ "error": message });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    if model == "mock-gpt" {
        return Json(wire::chat_completion(&model)).into_response();
    }
    ApiError::new(
        500,
        format!("litellm.APIConnectionError: Connection error. Received Model Group={model}"),
        "internal_server_error",
        None,
    )
    .into_response()
}

/// The limits a generate or update sends, as LiteLLM reads them: each field present replaces
/// the held one (`null` clears it); `duration` (`30s`, `15m`, `1h`, `7d`) sets the expiry from
/// now. A value of the wrong type is a 400, like LiteLLM's validation.
fn limit_changes(map: &Map<String, Value>) -> Result<LimitChanges, Box<Response>> {
    fn field<T>(
        map: &Map<String, Value>,
        name: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<Option<T>>, Box<Response>> {
        match map.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => read(v).map(|t| Some(Some(t))).ok_or_else(|| {
                Box::new(wire::validation(
                    "value_error",
                    json!(["body", name]),
                    "Input is not a valid value for this field",
                    v.clone(),
                ))
            }),
        }
    }
    let duration = |v: &Value| -> Option<chrono::DateTime<chrono::Utc>> {
        let s = v.as_str()?;
        let (n, unit) = s.split_at(s.len().checked_sub(1)?);
        let n: i64 = n.parse().ok()?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return None,
        };
        Some(chrono::Utc::now() + chrono::Duration::seconds(secs))
    };
    Ok(LimitChanges {
        max_budget: field(map, "max_budget", Value::as_f64)?,
        budget_duration: field(map, "budget_duration", |v| v.as_str().map(str::to_owned))?,
        tpm_limit: field(map, "tpm_limit", Value::as_u64)?,
        rpm_limit: field(map, "rpm_limit", Value::as_u64)?,
        expires: field(map, "duration", duration)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::standin::{Fault, FaultRule, StandIn};

    const RAW: &str = "sk-W6ZhCn9p3Ma9KtZLcyecBQ";

    /// Status and JSON body (null when the body is not JSON).
    async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
        let response = req.send().await.expect("the stand-in answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(litellm: &StandIn, path: &str, bearer: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", litellm.base_url());
        send(
            reqwest::Client::new()
                .post(url)
                .bearer_auth(bearer)
                .json(&body),
        )
        .await
    }

    async fn get(litellm: &StandIn, path: &str, bearer: &str) -> (u16, Value) {
        let url = format!("{}{path}", litellm.base_url());
        send(reqwest::Client::new().get(url).bearer_auth(bearer)).await
    }

    async fn admin(litellm: &StandIn, path: &str, body: Value) -> (u16, Value) {
        post(litellm, path, litellm.master_key(), body).await
    }

    async fn start_with_key() -> StandIn {
        let litellm = StandIn::start().await.expect("the stand-in starts");
        litellm.insert_key(
            RAW,
            Some("usage-probe/blockable"),
            &["mock-gpt"],
            Some("u-limits"),
        );
        litellm
    }

    fn capture_117() -> Value {
        json!({"error": {
            "message": "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
            "type": "auth_error", "param": "None", "code": "401"
        }})
    }

    /// What a virtual key's model calls answer: `/v1/models`, `/models`, `/chat/completions`.
    async fn model_calls(litellm: &StandIn) -> Vec<(u16, Value)> {
        let chat = json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "hello"}]});
        vec![
            get(litellm, "/v1/models", RAW).await,
            get(litellm, "/models", RAW).await,
            post(litellm, "/chat/completions", RAW, chat).await,
        ]
    }

    async fn assert_blocked(litellm: &StandIn) {
        for (status, body) in model_calls(litellm).await {
            assert_eq!((status, body), (401, capture_117()));
        }
    }

    async fn assert_open(litellm: &StandIn) {
        for (status, _) in model_calls(litellm).await {
            assert_eq!(status, 200);
        }
    }

    #[tokio::test]
    async fn block_and_unblock_gate_model_calls() {
        let litellm = start_with_key().await;
        assert_open(&litellm).await;
        let (status, row) = admin(&litellm, "/key/block", json!({"key": RAW})).await;
        assert_eq!((status, &row["blocked"]), (200, &json!(true)));
        assert_eq!(row["token"], json!(crate::standin::state::token_of(RAW)));
        assert_blocked(&litellm).await;
        let again = admin(&litellm, "/key/block", json!({"key": RAW})).await;
        assert_eq!(again.0, 200);
        let hash = crate::standin::state::token_of(RAW);
        let (status, row) = admin(&litellm, "/key/unblock", json!({"key": hash})).await;
        assert_eq!((status, &row["blocked"]), (200, &json!(false)));
        assert_open(&litellm).await;
    }

    #[tokio::test]
    async fn key_info_and_list_show_the_block() {
        let litellm = start_with_key().await;
        let info = format!("/key/info?key={RAW}");
        let (_, before) = get(&litellm, &info, litellm.master_key()).await;
        assert_eq!(before["info"]["status"], json!("active"));
        assert_eq!(before["info"]["blocked"], Value::Null);
        admin(&litellm, "/key/block", json!({"key": RAW})).await;
        let (status, after) = get(&litellm, &info, litellm.master_key()).await;
        assert_eq!(status, 200);
        assert_eq!(after["info"]["status"], json!("revoked"));
        assert_eq!(after["info"]["blocked"], json!(true));
        let list = "/key/list?return_full_object=true";
        let (_, listed) = get(&litellm, list, litellm.master_key()).await;
        assert_eq!(listed["keys"][0]["blocked"], json!(true));
        // The blocked key itself is refused on its own key route too.
        assert_eq!(get(&litellm, "/key/info", RAW).await, (401, capture_117()));
    }

    #[tokio::test]
    async fn update_blocked_true_false_and_null() {
        let litellm = start_with_key().await;
        let (status, row) = admin(
            &litellm,
            "/key/update",
            json!({"key": RAW, "blocked": true}),
        )
        .await;
        assert_eq!((status, &row["blocked"]), (200, &json!(true)));
        assert_blocked(&litellm).await;
        let keep = json!({"key": RAW, "blocked": null, "metadata": {"a": 1}});
        assert_eq!(admin(&litellm, "/key/update", keep).await.0, 200);
        assert!(litellm.key(RAW).is_some_and(|k| k.is_blocked()));
        let open = json!({"key": RAW, "blocked": false});
        assert_eq!(admin(&litellm, "/key/update", open).await.0, 200);
        assert_open(&litellm).await;
        let bad = json!({"key": RAW, "blocked": "maybe"});
        assert_eq!(admin(&litellm, "/key/update", bad).await.0, 422);
    }

    #[tokio::test]
    async fn generate_accepts_blocked() {
        let litellm = StandIn::start().await.expect("the stand-in starts");
        let body = json!({"key": RAW, "models": ["mock-gpt"], "blocked": true});
        let (status, generated) = admin(&litellm, "/key/generate", body).await;
        assert_eq!((status, &generated["blocked"]), (200, &json!(true)));
        assert_blocked(&litellm).await;
    }

    #[tokio::test]
    async fn update_models_empty_list_is_stored_empty() {
        let litellm = start_with_key().await;
        let (status, row) = admin(&litellm, "/key/update", json!({"key": RAW, "models": []})).await;
        assert_eq!((status, &row["models"]), (200, &json!([])));
        assert!(litellm.key(RAW).is_some_and(|k| k.models.is_empty()));
    }

    #[tokio::test]
    async fn block_of_unknown_key_is_capture_128_and_missing_key_422() {
        let litellm = StandIn::start().await.expect("the stand-in starts");
        let unknown = json!({"key": "sk-usage-probe-does-not-exist"});
        let expected = json!({"error": {
            "message": "Key not found.", "type": "not_found_error", "param": "key", "code": "404"
        }});
        assert_eq!(
            admin(&litellm, "/key/block", unknown.clone()).await,
            (404, expected.clone())
        );
        assert_eq!(
            admin(&litellm, "/key/unblock", unknown).await,
            (404, expected)
        );
        assert_eq!(admin(&litellm, "/key/block", json!({})).await.0, 422);
    }

    #[tokio::test]
    async fn block_is_for_the_master_key_only() {
        let litellm = start_with_key().await;
        let (status, _) = post(&litellm, "/key/block", RAW, json!({"key": RAW})).await;
        assert_eq!(status, 401);
        assert!(litellm.key(RAW).is_some_and(|k| !k.is_blocked()));
    }

    #[tokio::test]
    async fn team_update_replaces_models() {
        let litellm = StandIn::start().await.expect("the stand-in starts");
        let new = json!({"team_id": "t1", "team_alias": "probe", "models": ["gpt-4o"]});
        let (_, created) = admin(&litellm, "/team/new", new).await;
        assert_eq!(created["models"], json!(["gpt-4o"]));
        let key = json!({"key": RAW, "team_id": "t1", "models": ["all-team-models"]});
        assert_eq!(admin(&litellm, "/key/generate", key).await.0, 200);
        let update = json!({"team_id": "t1", "models": ["llama3", "mock-gpt"]});
        let (status, body) = admin(&litellm, "/team/update", update).await;
        assert_eq!(status, 200);
        assert_eq!(body["team_id"], json!("t1"));
        assert_eq!(body["data"]["models"], json!(["llama3", "mock-gpt"]));
        assert_eq!(body["data"]["team_alias"], json!("probe"));
        let (_, models) = get(&litellm, "/v1/models", RAW).await;
        let ids: Vec<&Value> = models["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| &m["id"])
            .collect();
        assert_eq!(ids, [&json!("llama3"), &json!("mock-gpt")]);
    }

    #[tokio::test]
    async fn team_update_of_unknown_team_is_404_and_missing_id_422() {
        let litellm = StandIn::start().await.expect("the stand-in starts");
        let (status, body) = admin(
            &litellm,
            "/team/update",
            json!({"team_id": "nope", "models": []}),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error": {
                "message": "{'error': 'Team not found, passed team_id=nope'}",
                "type": "internal_server_error",
                "param": null,
                "code": "404",
            }})
        );
        assert_eq!(
            admin(&litellm, "/team/update", json!({"models": []}))
                .await
                .0,
            422
        );
    }

    #[tokio::test]
    async fn status_400_says_param_none_and_5xx_param_null() {
        let litellm = StandIn::start().await.expect("the stand-in starts");
        for (status, param) in [(400, json!("None")), (500, Value::Null), (503, Value::Null)] {
            litellm
                .faults()
                .on_route("/key/list", Fault::Status(status), 1);
            let (got, body) = get(&litellm, "/key/list", litellm.master_key()).await;
            assert_eq!(got, status);
            assert_eq!(body["error"]["param"], param, "{status}");
            assert_eq!(body["error"]["code"], json!(status.to_string()));
            assert!(body["error"]["message"].is_string() && body["error"]["type"].is_string());
        }
    }

    #[tokio::test]
    async fn reset_answers_nothing_and_by_default_changes_nothing() {
        let litellm = start_with_key().await;
        litellm.faults().on_route("/key/block", Fault::Reset, 1);
        let url = format!("{}/key/block", litellm.base_url());
        let sent = reqwest::Client::new()
            .post(url)
            .bearer_auth(litellm.master_key())
            .json(&json!({"key": RAW}))
            .send()
            .await;
        assert!(
            sent.is_err(),
            "a reset gives the client no answer: {sent:?}"
        );
        assert!(litellm.key(RAW).is_some_and(|k| !k.is_blocked()));
        let calls = litellm.calls("/key/block");
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].fault.clone(), calls[0].status),
            (Some(Fault::Reset), None)
        );
        // The rule is used up: the next call is answered.
        assert_eq!(
            admin(&litellm, "/key/block", json!({"key": RAW})).await.0,
            200
        );
    }

    #[tokio::test]
    async fn reset_can_still_apply_the_operation() {
        let litellm = start_with_key().await;
        let rule = FaultRule::new(Fault::Reset)
            .on("/key/block")
            .times(1)
            .applied(true);
        litellm.faults().inject(rule);
        let outcome = reqwest::Client::new()
            .post(format!("{}/key/block", litellm.base_url()))
            .bearer_auth(litellm.master_key())
            .json(&json!({"key": RAW}))
            .send()
            .await;
        assert!(outcome.is_err());
        assert!(litellm.key(RAW).is_some_and(|k| k.is_blocked()));
    }

    #[tokio::test]
    async fn reset_sends_not_a_single_byte() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let litellm = StandIn::start().await.expect("the stand-in starts");
        litellm.faults().set_global(Fault::Reset);
        let mut stream = tokio::net::TcpStream::connect(litellm.addr())
            .await
            .expect("connects");
        let request = "GET /health/liveliness HTTP/1.1\r\nHost: standin\r\n\r\n";
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request written");
        let mut answer = Vec::new();
        // Closed (EOF) or reset: either way nothing was sent.
        let _ = stream.read_to_end(&mut answer).await;
        assert_eq!(String::from_utf8_lossy(&answer), "");
    }
}
