//! JSON-RPC 2.0 envelope for the admin API (`POST /rpc`, `Authorization: Bearer <session>`).
//!
//! A failed call answers with an HTTP status matching the error (see
//! [`ErrorCode::http_status`](super::ErrorCode::http_status)) and a JSON-RPC error object whose
//! `data` is the [`ApiError`] envelope.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApiError;

pub mod methods;

pub use methods::{find, is_method, methods, Caller, Done, Method, MethodInfo, NoParams};

/// The method types, one per admin RPC method (`use mama_api::rpc::method::UsersList`).
pub mod method {
    pub use super::methods::{
        AdminsCreate, AdminsDelete, AdminsList, AdminsUpdate, AuthChangePassword, AuthLogin,
        AuthLogout, AuthRefresh, AuthWhoami, EventsList, EventsUndo, ModelsList, OrganizationsList,
        OrganizationsSetDefaults, ServicesCreate, ServicesDelete, ServicesIssueToken, ServicesList,
        ServicesRevokeToken, SyncReconcile, SyncRetryFailed, SyncStatus, UsageQuery, UsageRefresh,
        UsersBulkUpdate, UsersCount, UsersCreate, UsersDelete, UsersGet, UsersList, UsersListIds,
        UsersPurge, UsersRestore, UsersRevealKey, UsersRotateKeys, UsersTrash, UsersUpdate,
    };
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
