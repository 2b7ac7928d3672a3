//! Login and sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginParams {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Super,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Super => "super",
            Role::Admin => "admin",
        }
    }
}

/// Result of `auth.login`, `auth.refresh` and `auth.change_password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The bearer token for `Authorization: Bearer …`. Short-lived: refresh before `expires_at`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub must_change_password: bool,
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordParams {
    pub old_password: String,
    pub new_password: String,
}

/// Result of `auth.whoami`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub username: String,
    pub role: Role,
    pub must_change_password: bool,
    pub expires_at: DateTime<Utc>,
}
