//! The one error envelope. Every failure a client can see has a stable string `code`, a message
//! written for a person, and, for bad input, the field(s) at fault.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON / not a JSON-RPC request.
    ParseError,
    /// The JSON-RPC envelope is wrong (missing `jsonrpc`, `method`, …).
    InvalidRequest,
    /// No such RPC method.
    MethodNotFound,
    /// A parameter or field is missing, unknown, malformed or out of range.
    InvalidParams,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// No credentials, or credentials that are not valid.
    Unauthenticated,
    /// The session token has expired: log in again (or refresh before expiry).
    SessionExpired,
    /// The session was revoked (logout, password change, role change or deletion).
    SessionRevoked,
    /// The admin must change their password before doing anything else.
    PasswordChangeRequired,
    /// Wrong username or password.
    LoginFailed,
    /// Too many failed logins; `retry_after_secs` says when to try again.
    LoginThrottled,
    /// Too many refused requests from this address; `retry_after_secs` says when to try again.
    TooManyRequests,
    /// Authenticated, but not allowed (e.g. not a super admin).
    Forbidden,
    /// The named thing does not exist.
    NotFound,
    /// The thing already exists.
    AlreadyExists,
    /// The edit was based on stale data; reload and try again.
    Conflict,
    /// The database or another dependency is unavailable; try again later.
    Unavailable,
    /// A bug or an unexpected failure; details are in the server log only.
    Internal,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ParseError | ErrorCode::InvalidRequest | ErrorCode::InvalidParams => 400,
            ErrorCode::MethodNotFound | ErrorCode::NotFound => 404,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Unauthenticated
            | ErrorCode::SessionExpired
            | ErrorCode::SessionRevoked
            | ErrorCode::LoginFailed => 401,
            ErrorCode::PasswordChangeRequired | ErrorCode::Forbidden => 403,
            ErrorCode::AlreadyExists | ErrorCode::Conflict => 409,
            ErrorCode::LoginThrottled | ErrorCode::TooManyRequests => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// The JSON-RPC 2.0 numeric error code.
    pub fn rpc_code(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest | ErrorCode::PayloadTooLarge => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Unauthenticated => -32001,
            ErrorCode::SessionExpired => -32002,
            ErrorCode::SessionRevoked => -32003,
            ErrorCode::PasswordChangeRequired => -32004,
            ErrorCode::LoginFailed => -32005,
            ErrorCode::LoginThrottled => -32006,
            ErrorCode::Forbidden => -32007,
            ErrorCode::NotFound => -32008,
            ErrorCode::AlreadyExists => -32009,
            ErrorCode::Conflict => -32010,
            ErrorCode::Unavailable => -32011,
            ErrorCode::TooManyRequests => -32012,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "parse_error",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MethodNotFound => "method_not_found",
            ErrorCode::InvalidParams => "invalid_params",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::SessionRevoked => "session_revoked",
            ErrorCode::PasswordChangeRequired => "password_change_required",
            ErrorCode::LoginFailed => "login_failed",
            ErrorCode::LoginThrottled => "login_throttled",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of the input. `row` is the index in a list of rows (bulk create),
/// `field` a dotted path such as `users[3].id` or `models.values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

/// The error body of every failed request, REST and RPC alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Every field problem found (validation reports all of them at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// Seconds to wait before retrying (throttling, unavailable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// For `conflict`: the current version of the edited row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For `not_found` on a list of ids: the ids that do not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after_secs: None,
            current_version: None,
            missing: Vec::new(),
        }
    }

    /// An `invalid_params` error for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut err = ApiError::new(ErrorCode::InvalidParams, format!("{field}: {message}"));
        err.fields.push(FieldError {
            field,
            message,
            row: None,
        });
        err
    }

    /// An `invalid_params` error carrying every problem found.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [] => "invalid parameters".to_string(),
            [one] => format!("{}: {}", one.field, one.message),
            [first, rest @ ..] => {
                format!(
                    "{}: {} (and {} more problems)",
                    first.field,
                    first.message,
                    rest.len()
                )
            }
        };
        ApiError {
            fields,
            ..ApiError::new(ErrorCode::InvalidParams, message)
        }
    }

    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// REST error body: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}
