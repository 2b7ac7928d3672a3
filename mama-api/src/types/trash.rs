//! The trash of deleted users: `users.trash`, `users.restore`, `users.purge`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Page;

/// A deleted user waiting in the trash: its key is blocked in LiteLLM until it is restored
/// (the same key works again) or purged (the key is deleted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrashedUser {
    pub id: String,
    pub organization: String,
    pub models: Vec<String>,
    /// Masked key, e.g. `sk-...a1b2`.
    pub key_hint: Option<String>,
    pub deleted_at: DateTime<Utc>,
    pub deleted_by: String,
    /// When the user and its key are deleted for good.
    pub purge_after: DateTime<Utc>,
}

/// What `users.trash` sorts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrashColumn {
    Id,
    Organization,
    /// Newest deletion first by default.
    #[default]
    DeletedAt,
    PurgeAfter,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrashSort {
    #[serde(default)]
    pub column: TrashColumn,
    /// Default for `deleted_at`: newest first.
    #[serde(default)]
    pub descending: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTrashParams {
    /// Case-insensitive substring of the id or the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub sort: TrashSort,
    #[serde(default)]
    pub page: Page,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrashList {
    pub users: Vec<TrashedUser>,
    pub matching: u64,
    pub offset: u64,
    pub limit: u32,
}

/// Params of `users.restore` and `users.purge`: trashed users by id (all or none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrashIdsParams {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersRestored {
    pub restored: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersPurged {
    pub purged: u64,
}
