//! Admin accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Role, Scope};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminView {
    pub username: String,
    pub role: Role,
    /// The organizations the account is limited to; absent: every organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Scope,
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminList {
    pub admins: Vec<AdminView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAdminParams {
    pub username: String,
    pub password: String,
    pub role: Role,
    /// Limit an admin or viewer to these organizations (absent or null: every organization;
    /// an empty list: none). A super admin is never limited.
    #[serde(default)]
    pub organizations: Scope,
}

/// Params of `admins.update`: the account's role and scope, both replaced. The change ends
/// the account's sessions at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAdminParams {
    pub username: String,
    pub role: Role,
    /// Absent or null: every organization; an empty list: none.
    #[serde(default)]
    pub organizations: Scope,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAdminParams {
    pub username: String,
}
