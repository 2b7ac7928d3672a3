//! Params and results of the admin RPC methods. Params reject unknown fields, so a typo in a
//! client is an `invalid_params` error instead of a silently ignored option.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Free-form key/value notes on a user.
pub type Info = BTreeMap<String, String>;

// ---------------------------------------------------------------- auth

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

// ---------------------------------------------------------------- admins

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminView {
    pub username: String,
    pub role: Role,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAdminParams {
    pub username: String,
}

// ---------------------------------------------------------------- users

/// Sync state of a user's LiteLLM key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// No key yet (LiteLLM not configured).
    None,
    /// A change waits to be applied in LiteLLM.
    Pending,
    /// LiteLLM holds the key as mama has it.
    Active,
    /// The last attempt failed for good; `key_error` says why. A new change or reconcile retries.
    Failed,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::None => "none",
            KeyStatus::Pending => "pending",
            KeyStatus::Active => "active",
            KeyStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => KeyStatus::None,
            "pending" => KeyStatus::Pending,
            "active" => KeyStatus::Active,
            "failed" => KeyStatus::Failed,
            _ => return None,
        })
    }
}

/// A user as the admin API shows it. `key` is only filled by `users.get`; lists show `key_hint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub organization: String,
    pub models: Vec<String>,
    pub services: Vec<String>,
    pub info: Info,
    /// Masked key, e.g. `sk-...a1b2`; null when the user has no key yet.
    pub key_hint: Option<String>,
    pub key_status: KeyStatus,
    pub key_error: Option<String>,
    /// The plaintext key (`users.get` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Allowed models that LiteLLM does not currently serve.
    #[serde(default)]
    pub unavailable_models: Vec<String>,
    /// Optimistic-concurrency version: pass it back to `users.update`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters for `users.list` and `users.bulk_update`. All given terms must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFilter {
    /// Case-insensitive substring of the id or the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Case-insensitive substring of the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Users whose allowed models contain exactly this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Users whose allowed services contain exactly this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Users whose info has this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_status: Option<KeyStatus>,
    /// Only users holding at least one model LiteLLM does not currently serve.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unavailable_models: bool,
}

impl UserFilter {
    pub fn is_empty(&self) -> bool {
        *self == UserFilter::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserColumn {
    #[default]
    Id,
    Organization,
    Models,
    Services,
    KeyStatus,
    Info,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSort {
    pub column: UserColumn,
    #[serde(default)]
    pub descending: bool,
}

/// A page window. `limit` is 1..=1000 (default 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    pub offset: u64,
    #[serde(default = "Page::default_limit")]
    pub limit: u32,
}

impl Page {
    pub const MAX_LIMIT: u32 = 1000;
    fn default_limit() -> u32 {
        100
    }
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: Page::default_limit(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListUsersParams {
    #[serde(default)]
    pub filter: UserFilter,
    #[serde(default)]
    pub sort: UserSort,
    #[serde(default)]
    pub page: Page,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<UserView>,
    /// All users in the database.
    pub total: u64,
    /// Users matching the filter.
    pub matching: u64,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetUsersParams {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersFound {
    pub users: Vec<UserView>,
    pub missing: Vec<String>,
}

/// One user to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub id: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub info: Info,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUsersParams {
    pub users: Vec<NewUser>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersCreated {
    pub created: u64,
    pub users: Vec<UserView>,
}

/// Edit one user. Fields left out stay as they are. `version` is the version the edit is based
/// on; a different current version is a `conflict`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserParams {
    pub id: String,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteUsersParams {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersDeleted {
    pub deleted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetOp {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetChange {
    pub op: SetOp,
    pub values: Vec<String>,
}

/// Change many users at once: either `ids` or `filter` selects them (exactly one of the two).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdateParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<UserFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<SetChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<SetChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_set: Option<Info>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_unset: Option<Vec<String>>,
    /// Remove from the selected users every allowed model LiteLLM does not currently serve.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_unavailable_models: bool,
    /// Compute and return the summary without changing anything (the preview).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkUpdateResult {
    /// Users selected by `ids` / `filter`.
    pub matched: u64,
    /// Users whose data actually changed.
    pub changed: u64,
    /// Models added to at least one user / removed from at least one user.
    pub models_added: Vec<String>,
    pub models_removed: Vec<String>,
    pub services_added: Vec<String>,
    pub services_removed: Vec<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysParams {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysRotated {
    pub rotated: u64,
}

// ---------------------------------------------------------------- services

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTokenView {
    pub id: String,
    /// The token's first characters, to recognize it (`mama_st_abcd…`).
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub tokens: Vec<ServiceTokenView>,
    /// How many users allow this service.
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<ServiceView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNameParams {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenParams {
    pub service: String,
}

/// The plaintext token is shown exactly once, here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub id: String,
    pub service: String,
    pub token: String,
    pub hint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenParams {
    pub id: String,
}

// ---------------------------------------------------------------- events

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Exact action (`users.create`) or a prefix ending in `.` (`users.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEventsParams {
    #[serde(default)]
    pub filter: EventFilter,
    #[serde(default)]
    pub page: Page,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: String,
    pub at: DateTime<Utc>,
    /// `admin`, `service` or `system`.
    pub actor_kind: String,
    pub actor: String,
    /// `rpc`, `rest` or `sync`.
    pub channel: String,
    pub action: String,
    /// Affected users (at most 100 listed here; `target_count` has the full count).
    pub user_ids: Vec<String>,
    pub target_count: i64,
    pub target_filter: Option<String>,
    /// `ok` or `error`.
    pub result: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
    pub duration_ms: Option<i64>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<EventView>,
    pub matching: u64,
    pub offset: u64,
    pub limit: u32,
}

// ---------------------------------------------------------------- models and sync

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelView {
    pub name: String,
    /// LiteLLM serves it now. Sentinels (`all-team-models`, `all-proxy-models`) are always
    /// available.
    pub available: bool,
    /// How many users allow it.
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Models LiteLLM serves plus every model some user holds, sorted by name.
    pub models: Vec<ModelView>,
    /// When the catalog was last read from LiteLLM (null: never).
    pub fetched_at: Option<DateTime<Utc>>,
    /// Users holding at least one unavailable model.
    pub users_with_unavailable: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsListParams {
    /// Read the catalog from LiteLLM now instead of using the cache.
    #[serde(default)]
    pub refresh: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Whether a LiteLLM proxy is configured at all.
    pub configured: bool,
    /// Last known reachability of LiteLLM.
    pub litellm_reachable: Option<bool>,
    pub litellm_error: Option<String>,
    /// Outbox operations waiting to be applied.
    pub queue_depth: u64,
    pub users_pending: u64,
    pub users_failed: u64,
    pub last_reconcile_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReconcileSummary {
    pub keys_seen: u64,
    pub recreated: u64,
    pub models_repushed: u64,
    pub orphans_deleted: u64,
    pub errors: Vec<String>,
}
