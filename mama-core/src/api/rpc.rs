//! JSON-RPC 2.0 envelope for the admin API (`POST /rpc`, `Authorization: Bearer <session>`).
//!
//! A failed call answers with an HTTP status matching the error (see
//! [`ErrorCode::http_status`](super::ErrorCode::http_status)) and a JSON-RPC error object whose
//! `data` is the [`ApiError`](super::ApiError) envelope.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApiError;

/// Method names, one constant each, so daemon and TUI cannot drift apart.
pub mod method {
    pub const AUTH_LOGIN: &str = "auth.login";
    pub const AUTH_REFRESH: &str = "auth.refresh";
    pub const AUTH_LOGOUT: &str = "auth.logout";
    pub const AUTH_CHANGE_PASSWORD: &str = "auth.change_password";
    pub const AUTH_WHOAMI: &str = "auth.whoami";
    pub const ADMINS_LIST: &str = "admins.list";
    pub const ADMINS_CREATE: &str = "admins.create";
    pub const ADMINS_DELETE: &str = "admins.delete";
    pub const USERS_LIST: &str = "users.list";
    pub const USERS_LIST_IDS: &str = "users.list_ids";
    pub const USERS_COUNT: &str = "users.count";
    pub const USERS_GET: &str = "users.get";
    pub const USERS_CREATE: &str = "users.create";
    pub const USERS_UPDATE: &str = "users.update";
    pub const USERS_DELETE: &str = "users.delete";
    pub const USERS_BULK_UPDATE: &str = "users.bulk_update";
    pub const USERS_ROTATE_KEYS: &str = "users.rotate_keys";
    pub const SERVICES_LIST: &str = "services.list";
    pub const SERVICES_CREATE: &str = "services.create";
    pub const SERVICES_DELETE: &str = "services.delete";
    pub const SERVICES_ISSUE_TOKEN: &str = "services.issue_token";
    pub const SERVICES_REVOKE_TOKEN: &str = "services.revoke_token";
    pub const EVENTS_LIST: &str = "events.list";
    pub const MODELS_LIST: &str = "models.list";
    pub const SYNC_STATUS: &str = "sync.status";
    pub const SYNC_RECONCILE: &str = "sync.reconcile";
    pub const SYNC_RETRY_FAILED: &str = "sync.retry_failed";
}

/// A JSON-RPC 2.0 request. `id` may be a number or a string; notifications (no id) are answered
/// anyway, since every call is audited and the caller deserves to see a failure.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcRequest {
    pub jsonrpc: String,
    pub method: String,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default)]
    pub id: Option<Value>,
}

impl RpcRequest {
    pub fn new(id: u64, method: &str, params: Value) -> Self {
        RpcRequest {
            jsonrpc: "2.0".into(),
            method: method.into(),
            params: Some(params),
            id: Some(Value::from(id)),
        }
    }
}

/// The JSON-RPC error object; `data` carries the full [`ApiError`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RpcErrorObject {
    pub code: i64,
    pub message: String,
    pub data: ApiError,
}

impl From<ApiError> for RpcErrorObject {
    fn from(err: ApiError) -> Self {
        RpcErrorObject {
            code: err.code.rpc_code(),
            message: err.message.clone(),
            data: err,
        }
    }
}

/// A JSON-RPC 2.0 response: exactly one of `result` and `error`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RpcResponse {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcErrorObject>,
    pub id: Value,
}

impl RpcResponse {
    pub fn ok(id: Value, result: Value) -> Self {
        RpcResponse {
            jsonrpc: "2.0".into(),
            result: Some(result),
            error: None,
            id,
        }
    }

    pub fn err(id: Value, error: ApiError) -> Self {
        RpcResponse {
            jsonrpc: "2.0".into(),
            result: None,
            error: Some(error.into()),
            id,
        }
    }

    /// The result, or the error envelope.
    pub fn into_result(self) -> Result<Value, ApiError> {
        match (self.result, self.error) {
            (_, Some(err)) => Err(err.data),
            (Some(result), None) => Ok(result),
            (None, None) => Ok(Value::Null),
        }
    }
}
