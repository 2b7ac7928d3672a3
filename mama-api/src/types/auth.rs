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
    /// Everything an admin may, and manages admin accounts, their roles and scopes.
    Super,
    /// Manages users, services and organizations (within its scope, when it has one).
    Admin,
    /// Reads what an admin reads (never a virtual key's value) and changes nothing.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Super, Role::Admin, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Super => "super",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// The role stored as `s`; an unknown role is read as the least privileged one, so a
    /// corrupt or future value never widens access.
    pub fn parse(s: &str) -> Role {
        match s {
            "super" => Role::Super,
            "admin" => Role::Admin,
            _ => Role::Viewer,
        }
    }

    /// Whether this role may change anything (users, services, organizations, the sync).
    pub fn may_change(self) -> bool {
        matches!(self, Role::Super | Role::Admin)
    }
}

/// The organizations an account may see and change: `None` is every organization (and the
/// users without one); `Some(list)` only users of those organizations — an empty list is none.
pub type Scope = Option<Vec<String>>;

/// Whether a user of `organization` is within `scope`.
pub fn in_scope(scope: &Scope, organization: &str) -> bool {
    scope
        .as_ref()
        .is_none_or(|orgs| orgs.iter().any(|o| o == organization))
}

/// How a scope reads in one line (`every organization`, `org a, org b`, `no organization`).
pub fn describe_scope(scope: &Scope) -> String {
    match scope {
        None => "every organization".into(),
        Some(orgs) if orgs.is_empty() => "no organization".into(),
        Some(orgs) => orgs.join(", "),
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
    /// The organizations this account is limited to; absent: every organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Scope,
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
    /// The organizations this account is limited to; absent: every organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Scope,
    pub must_change_password: bool,
    pub expires_at: DateTime<Utc>,
}
