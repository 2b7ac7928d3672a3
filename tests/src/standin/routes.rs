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
use super::state::{Caller, Generated, KeyChanges, NewKey, StandInTeam, State as Memory};
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
        .route("/key/info", get(key_info))
        .route("/key/list", get(list_keys))
        .route("/team/new", post(new_team))
        .route("/team/info", get(team_info))
        .route("/team/list", get(list_teams))
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
    shared.calls.set_status(index, response.status().as_u16());
    response
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
        Fault::Status(status) => ApiError::new(
            status,
            "stand-in: injected failure",
            "internal_server_error",
            None,
        )
        .into_response(),
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
enum Access {
    /// Model routes: any live key.
    AnyKey,
    /// `/key/generate`, `/key/info`: the master key, or a virtual key that is not `llm_api`.
    KeyRoutes,
    /// Admin routes: the master key only.
    Master,
}

fn authorize(
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
    let Some(key) = tri!(string_field(&map, "key")) else {
        return wire::validation(
            "missing",
            json!(["body", "key"]),
            "Field required",
            Value::Object(map),
        );
    };
    let changes = KeyChanges {
        models: tri!(list_field(&map, "models")),
        key_alias: tri!(string_field(&map, "key_alias")).map(Some),
        user_id: tri!(string_field(&map, "user_id")).map(Some),
        team_id: tri!(string_field(&map, "team_id")).map(Some),
        metadata: tri!(object_field(&map, "metadata")),
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
