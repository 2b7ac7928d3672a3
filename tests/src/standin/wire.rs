//! LiteLLM's answer shapes: the error envelope (`code` a string, `type` unreliable), FastAPI's
//! 422 body, and full key/team/model objects built from templates cut out of the captures.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::state::{Deployment, StandInKey, StandInTeam};

/// An error answer in LiteLLM's envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<&'static str>,
}

impl ApiError {
    pub fn new(
        status: u16,
        message: impl Into<String>,
        kind: &'static str,
        param: Option<&'static str>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param,
        }
    }

    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.status.to_string(),
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}

/// FastAPI's request-validation answer.
pub fn validation(kind: &str, loc: Value, msg: &str, input: Value) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": [{"type": kind, "loc": loc, "msg": msg, "input": input}]})),
    )
        .into_response()
}

/// 401 for an unknown or deleted key, as captures 03/52/62.
pub fn bad_token(bearer: &str) -> ApiError {
    let tail: String = bearer
        .chars()
        .skip(bearer.chars().count().saturating_sub(4))
        .collect();
    ApiError::new(
        401,
        format!(
            "Authentication Error, Invalid proxy server token passed. Received API Key = sk-...{tail}, Key Hash (Token) ={}. Unable to find token in cache or `LiteLLM_VerificationTokenTable`",
            super::state::token_of(bearer)
        ),
        "token_not_found_in_db",
        Some("key"),
    )
}

/// 401 without an Authorization header, as capture 04 (`param` is the string "None").
pub fn no_token() -> ApiError {
    ApiError::new(
        401,
        "Authentication Error, No api key passed in.",
        "auth_error",
        Some("None"),
    )
}

fn template(cell: &'static OnceLock<Value>, text: &'static str) -> Value {
    cell.get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null))
        .clone()
}

macro_rules! template {
    ($name:ident, $file:literal) => {
        fn $name() -> Value {
            static CELL: OnceLock<Value> = OnceLock::new();
            template(&CELL, include_str!(concat!("templates/", $file)))
        }
    };
}

template!(generate_template, "key_generate.json");
template!(update_template, "key_update.json");
template!(info_template, "key_info.json");
template!(list_item_template, "key_list_item.json");
template!(team_new_template, "team_new.json");
template!(team_info_template, "team_info.json");
template!(model_info_template, "model_info_item.json");

fn time(t: chrono::DateTime<chrono::Utc>) -> Value {
    json!(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

fn fill_key(obj: &mut Value, key: &StandInKey) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("key_name".into(), json!(key.key_name));
        map.insert("key_alias".into(), json!(key.key_alias));
        map.insert("models".into(), json!(key.models));
        map.insert("user_id".into(), json!(key.user_id));
        map.insert("team_id".into(), json!(key.team_id));
        map.insert("metadata".into(), Value::Object(key.metadata.clone()));
        map.insert("key_type".into(), json!(key.key_type));
        map.insert("created_at".into(), time(key.created_at));
        map.insert("updated_at".into(), time(key.updated_at));
        map.insert("created_by".into(), json!(key.created_by));
        map.insert("updated_by".into(), json!(key.updated_by));
    }
}

/// `/key/generate` answer; `plaintext` is the key (the only time LiteLLM returns it).
pub fn generated(key: &StandInKey, plaintext: &str) -> Value {
    let mut obj = generate_template();
    fill_key(&mut obj, key);
    if let Some(map) = obj.as_object_mut() {
        map.insert("key".into(), json!(plaintext));
        map.insert("token".into(), json!(key.token));
        map.insert("token_id".into(), json!(key.token));
    }
    obj
}

/// `/key/update` answer: the stored row plus `key` as sent and `token`.
pub fn updated(key: &StandInKey, sent_key: &str) -> Value {
    let mut obj = update_template();
    fill_key(&mut obj, key);
    if let Some(map) = obj.as_object_mut() {
        map.insert("key".into(), json!(sent_key));
        map.insert("token".into(), json!(key.token));
    }
    obj
}

/// `/key/info` answer: `key` echoes the query, `info.token` is null, `info.status` says
/// `active` or `deleted`.
pub fn info(key: &StandInKey, queried: &str, deleted: bool) -> Value {
    let mut info = info_template();
    fill_key(&mut info, key);
    if let Some(map) = info.as_object_mut() {
        map.insert("token".into(), Value::Null);
        map.insert(
            "status".into(),
            json!(if deleted { "deleted" } else { "active" }),
        );
    }
    json!({"key": queried, "info": info})
}

/// One full object of `/key/list?return_full_object=true` (`status` null).
pub fn list_item(key: &StandInKey) -> Value {
    let mut obj = list_item_template();
    fill_key(&mut obj, key);
    if let Some(map) = obj.as_object_mut() {
        map.insert("token".into(), json!(key.token));
    }
    obj
}

fn fill_team(obj: &mut Value, team: &StandInTeam) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("team_id".into(), json!(team.team_id));
        map.insert("team_alias".into(), json!(team.team_alias));
        map.insert("models".into(), json!(team.models));
    }
}

pub fn team(team: &StandInTeam) -> Value {
    let mut obj = team_new_template();
    fill_team(&mut obj, team);
    obj
}

pub fn team_info(team: &StandInTeam, keys: Vec<Value>) -> Value {
    let mut obj = team_info_template();
    if let Some(map) = obj.as_object_mut() {
        map.insert("team_id".into(), json!(team.team_id));
        if let Some(info) = map.get_mut("team_info") {
            fill_team(info, team);
        }
        map.insert("keys".into(), Value::Array(keys));
    }
    obj
}

/// One `/v1/models` entry.
pub fn model(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1677610602, "owned_by": "openai"})
}

/// One `/model/info` entry (one per deployment).
pub fn model_info(d: &Deployment) -> Value {
    let mut obj = model_info_template();
    if let Some(map) = obj.as_object_mut() {
        map.insert("model_name".into(), json!(d.model_name));
        if let Some(info) = map.get_mut("model_info").and_then(Value::as_object_mut) {
            info.insert("id".into(), json!(d.id));
            info.insert("key".into(), json!(d.model_name));
        }
    }
    obj
}

/// The mock deployment's answer (capture 54).
pub fn chat_completion(model: &str) -> Value {
    json!({
        "id": format!("chatcmpl-{}", uuid::Uuid::new_v4()),
        "created": chrono::Utc::now().timestamp(),
        "model": model,
        "object": "chat.completion",
        "choices": [{"finish_reason": "stop", "index": 0,
            "message": {"content": "Hello from the mock deployment", "role": "assistant"}}],
        "usage": {"completion_tokens": 20, "prompt_tokens": 10, "total_tokens": 30}
    })
}
