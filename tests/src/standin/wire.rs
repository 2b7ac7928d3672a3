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

/// 401 for a blocked virtual key on any route, exactly capture 117 (`param` the string "None").
pub fn key_blocked() -> ApiError {
    ApiError::new(
        401,
        "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
        "auth_error",
        Some("None"),
    )
}

/// 404 for `/team/update` on an unknown team, as the real proxy 1.103.7 answered it (checked by
/// hand on 2026-12-06): LiteLLM's error envelope, `type` `internal_server_error`, `param` null.
pub fn team_not_found(team_id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {
            "message": format!("{{'error': 'Team not found, passed team_id={team_id}'}}"),
            "type": "internal_server_error",
            "param": null,
            "code": "404",
        }})),
    )
        .into_response()
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
template!(block_template, "key_block.json");
template!(unblock_template, "key_unblock.json");
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
        map.insert("blocked".into(), json!(key.blocked));
        map.insert("max_budget".into(), json!(key.limits.max_budget));
        map.insert("budget_duration".into(), json!(key.limits.budget_duration));
        map.insert("tpm_limit".into(), json!(key.limits.tpm_limit));
        map.insert("rpm_limit".into(), json!(key.limits.rpm_limit));
        map.insert(
            "expires".into(),
            key.limits.expires.map_or(Value::Null, time),
        );
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

/// `/key/block` answer: the stored row in the database's shape (`org_id`, no `key`), as
/// captures 116, 119 and 122.
pub fn blocked_row(key: &StandInKey) -> Value {
    let mut obj = block_template();
    fill_key(&mut obj, key);
    if let Some(map) = obj.as_object_mut() {
        map.insert("token".into(), json!(key.token));
    }
    obj
}

/// `/key/unblock` answer: the row in `/key/update`'s shape without `key`, as captures 120 and
/// 123 (LiteLLM builds the two answers differently).
pub fn unblocked_row(key: &StandInKey) -> Value {
    let mut obj = unblock_template();
    fill_key(&mut obj, key);
    if let Some(map) = obj.as_object_mut() {
        map.insert("token".into(), json!(key.token));
    }
    obj
}

/// `info.status` of `/key/info`: the archive wins (`deleted`), then a block (`revoked`,
/// capture-usage 118).
fn status(key: &StandInKey, deleted: bool) -> &'static str {
    if deleted {
        "deleted"
    } else if key.is_blocked() {
        "revoked"
    } else {
        "active"
    }
}

/// `/key/info` answer: `key` echoes the query, `info.token` is null, `info.status` says
/// `active`, `revoked` or `deleted`.
pub fn info(key: &StandInKey, queried: &str, deleted: bool) -> Value {
    let mut info = info_template();
    fill_key(&mut info, key);
    if let Some(map) = info.as_object_mut() {
        map.insert("token".into(), Value::Null);
        map.insert("status".into(), json!(status(key, deleted)));
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

/// `/team/update` answer. *(source: not captured.)* LiteLLM returns
/// `{"team_id", "data": <team row>}`, the row being what `/team/new` returns (templates/team_new.json).
pub fn team_updated(updated: &StandInTeam) -> Value {
    json!({"team_id": updated.team_id, "data": team(updated)})
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(blocked: Option<bool>) -> StandInKey {
        let now = chrono::Utc::now();
        StandInKey {
            token: "7d2318833808841e641be70e020468ad5327837606d7aaa7b7d3437ebea33e77".into(),
            key_name: "sk-...ecBQ".into(),
            key_alias: Some("usage-probe/blockable".into()),
            models: vec!["mock-gpt".into()],
            user_id: Some("u-limits".into()),
            team_id: None,
            metadata: serde_json::Map::new(),
            key_type: "default".into(),
            created_at: now,
            updated_at: now,
            created_by: "default_user_id".into(),
            updated_by: "default_user_id".into(),
            blocked,
            limits: Default::default(),
            seq: 1,
        }
    }

    #[test]
    fn limits_show_as_litellm_shows_them_and_none_is_null() {
        let mut limited = key(None);
        limited.limits = crate::standin::state::HeldLimits {
            max_budget: Some(12.5),
            budget_duration: Some("30d".into()),
            tpm_limit: None,
            rpm_limit: Some(60),
            expires: Some(chrono::Utc::now()),
        };
        let row = updated(&limited, "sk-x");
        assert_eq!(row["max_budget"], json!(12.5));
        assert_eq!(row["budget_duration"], json!("30d"));
        assert_eq!(row["tpm_limit"], Value::Null);
        assert_eq!(row["rpm_limit"], json!(60));
        assert!(row["expires"].is_string());
        assert_eq!(list_item(&key(None))["max_budget"], Value::Null);
    }

    #[test]
    fn info_status_is_revoked_while_blocked_and_deleted_wins() {
        let cases = [
            (None, false, "active", Value::Null),
            (Some(false), false, "active", json!(false)),
            (Some(true), false, "revoked", json!(true)),
            (Some(true), true, "deleted", json!(true)),
        ];
        for (blocked, deleted, status, shown) in cases {
            let body = info(&key(blocked), "sk-W6ZhCn9p3Ma9KtZLcyecBQ", deleted);
            assert_eq!(
                body["info"]["status"],
                json!(status),
                "{blocked:?} {deleted}"
            );
            assert_eq!(body["info"]["blocked"], shown, "{blocked:?} {deleted}");
        }
    }

    #[test]
    fn every_key_shape_carries_blocked() {
        let blocked = key(Some(true));
        assert_eq!(list_item(&blocked)["blocked"], json!(true));
        assert_eq!(updated(&blocked, "sk-x")["blocked"], json!(true));
        assert_eq!(generated(&blocked, "sk-x")["blocked"], json!(true));
        assert_eq!(list_item(&key(None))["blocked"], Value::Null);
    }

    #[test]
    fn blocked_key_error_is_capture_117() {
        let expected = json!({"error": {
            "message": "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
            "type": "auth_error",
            "param": "None",
            "code": "401"
        }});
        assert_eq!(key_blocked().body(), expected);
        assert_eq!(key_blocked().status, 401);
    }

    #[test]
    fn block_answers_the_database_row_and_unblock_the_update_shape() {
        let row = blocked_row(&key(Some(true)));
        assert_eq!(row["blocked"], json!(true));
        assert_eq!(row["token"], json!(key(None).token));
        assert!(row.get("org_id").is_some() && row.get("key").is_none());
        let row = unblocked_row(&key(Some(false)));
        assert_eq!(row["blocked"], json!(false));
        assert_eq!(row["models"], json!(["mock-gpt"]));
        assert!(row.get("organization_id").is_some() && row.get("key").is_none());
    }

    #[test]
    fn team_update_nests_the_team_row_under_data() {
        let team = StandInTeam {
            team_id: "t1".into(),
            team_alias: Some("probe".into()),
            models: vec!["mock-gpt".into()],
        };
        let body = team_updated(&team);
        assert_eq!(body["team_id"], json!("t1"));
        assert_eq!(body["data"]["team_id"], json!("t1"));
        assert_eq!(body["data"]["team_alias"], json!("probe"));
        assert_eq!(body["data"]["models"], json!(["mock-gpt"]));
        assert_eq!(body["data"]["blocked"], json!(false));
    }
}
