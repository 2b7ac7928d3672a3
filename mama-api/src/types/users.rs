//! Users: views, filters, sorting, paging, create / update / delete / bulk changes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{KeyLimits, LimitField, LimitsChange, Suspend, Suspension, UserStatus};

/// Free-form key/value notes on a user.
pub type Info = BTreeMap<String, String>;

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
    /// The user may use no model (its set is empty, or holds only `all-team-models` while no
    /// team is configured): its key is blocked in LiteLLM and services are not given it.
    #[serde(default)]
    pub key_blocked: bool,
    /// A rotation waits for LiteLLM to confirm the new key; until then services get the old one.
    #[serde(default)]
    pub rotating: bool,
    /// The plaintext key (`users.get` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Allowed models that LiteLLM does not currently serve.
    #[serde(default)]
    pub unavailable_models: Vec<String>,
    /// Budget, rate limits, expiry and rotation as they apply to the key.
    #[serde(default)]
    pub limits: KeyLimits,
    /// The limits that come from the organization's defaults (the rest are the user's own).
    #[serde(default)]
    pub inherited: Vec<LimitField>,
    /// Set while the user is suspended.
    #[serde(default)]
    pub suspended: Option<Suspension>,
    /// The user's state, most pressing first (suspended, expired, over budget, failed, …).
    #[serde(default = "UserView::default_status")]
    pub status: UserStatus,
    /// Spend in the current budget period as last read from LiteLLM, and when it was read.
    #[serde(default)]
    pub spend: Option<f64>,
    #[serde(default)]
    pub spend_read_at: Option<DateTime<Utc>>,
    /// USD spent in the last 30 days (today included), over every key the user held, as of the
    /// last usage collection.
    #[serde(default)]
    pub spend_30d: f64,
    /// Requests (successful and failed) in the last 30 days.
    #[serde(default)]
    pub requests_30d: u64,
    /// The last UTC day with a request (none: never, as far as collected).
    #[serde(default)]
    pub last_used: Option<chrono::NaiveDate>,
    /// When the key was last rotated (null: never, since the user was created).
    #[serde(default)]
    pub rotated_at: Option<DateTime<Utc>>,
    /// While a rotated key's grace runs: when the old key stops working.
    #[serde(default)]
    pub previous_key_expires_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version: pass it back to `users.update`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    fn default_status() -> UserStatus {
        UserStatus::Active
    }
}

/// Filters for `users.list` and `users.bulk_update`. All given terms must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Users in this state (see [`UserStatus`]: each user is in exactly one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UserStatus>,
    /// Users whose key expires within this many days from now (or has expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_within_days: Option<u32>,
    /// Users whose spend in the current period (as last read) is above this many USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_above: Option<f64>,
    /// `true`: users with a budget; `false`: users without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_budget: Option<bool>,
    /// Set by the daemon, never by a caller: the organizations the signed-in account is
    /// limited to (see [`Scope`](super::Scope)), applied inside every query of the filter.
    #[serde(skip)]
    pub scope: super::Scope,
}

impl UserFilter {
    pub fn is_empty(&self) -> bool {
        *self == UserFilter::default()
    }

    /// Whether a term on the limits, status or spend columns is given (those are tested on the
    /// `users` rows, never counted from an index of their own).
    pub fn has_row_terms(&self) -> bool {
        self.status.is_some()
            || self.expires_within_days.is_some()
            || self.spend_above.is_some()
            || self.has_budget.is_some()
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
    /// Budget in USD; users without one (no limit) sort after every budget.
    MaxBudget,
    /// Spend in the current period as last read; never read sorts first.
    Spend,
    /// Tokens / requests per minute; no limit sorts after every limit.
    TpmLimit,
    RpmLimit,
    /// Expiry; keys that never expire sort after every date.
    ExpiresAt,
    /// USD spent in the last 30 days.
    #[serde(rename = "spend_30d")]
    Spend30d,
    /// Requests in the last 30 days.
    #[serde(rename = "requests_30d")]
    Requests30d,
    /// The last day with a request; never used sorts first.
    LastUsed,
    /// Status in [`UserStatus::ALL`]'s order (suspended first, no key last); an expiry counts
    /// from the minute the daemon marks it (at most a minute late).
    Status,
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

/// Where a `users.list` page starts: keyset pagination, whose cost does not grow with the
/// position (an offset of 90,000 reads 90,000 index entries first; a cursor reads none).
/// Cursors are the `start_cursor` / `end_cursor` of an earlier page, opaque to the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageCursor {
    /// The `limit` rows right after this row, in sort order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The `limit` rows right before this row (still returned in sort order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl PageCursor {
    pub fn is_empty(&self) -> bool {
        self.after.is_none() && self.before.is_none()
    }
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListUsersParams {
    #[serde(default)]
    pub filter: UserFilter,
    #[serde(default)]
    pub sort: UserSort,
    #[serde(default)]
    pub page: Page,
    /// Start after / before a row instead of at `page.offset` (which must then be 0).
    #[serde(default, skip_serializing_if = "PageCursor::is_empty")]
    pub cursor: PageCursor,
    /// `false`: leave `total` and `matching` out (null), so the page does not wait for counting;
    /// `users.count` gives them separately.
    #[serde(default = "yes")]
    pub counts: bool,
}

fn yes() -> bool {
    true
}

impl Default for ListUsersParams {
    fn default() -> Self {
        ListUsersParams {
            filter: UserFilter::default(),
            sort: UserSort::default(),
            page: Page::default(),
            cursor: PageCursor::default(),
            counts: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<UserView>,
    /// All users in the database (null when `counts` was false).
    pub total: Option<u64>,
    /// Users matching the filter (null when `counts` was false).
    pub matching: Option<u64>,
    pub offset: u64,
    pub limit: u32,
    /// Cursors of the first and last row of this page (null when it is empty), for
    /// `cursor.before` / `cursor.after` of the neighbouring pages in the same sort.
    #[serde(default)]
    pub start_cursor: Option<String>,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// `users.count`: the counts of `users.list` on their own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountUsersParams {
    #[serde(default)]
    pub filter: UserFilter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCounts {
    /// All users in the database.
    pub total: u64,
    /// Users matching the filter.
    pub matching: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetUsersParams {
    pub ids: Vec<String>,
    /// Leave the keys out even for an account that may see them: the TUI reads users without
    /// their keys and asks for one with `users.reveal_key`, so every reveal is its own event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_keys: bool,
}

/// `users.reveal_key`: one user's full key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealKeyParams {
    pub id: String,
}

/// The key of one user, as `users.reveal_key` answers: the key is null while none is minted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevealedKey {
    pub id: String,
    pub key: Option<String>,
    pub key_hint: Option<String>,
    pub key_status: KeyStatus,
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
    /// The user's own limits; fields left out follow the organization's defaults.
    #[serde(default, skip_serializing_if = "LimitsChange::is_empty")]
    pub limits: LimitsChange,
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
    #[serde(default, skip_serializing_if = "LimitsChange::is_empty")]
    pub limits: LimitsChange,
    /// Switch the key off (blocked in LiteLLM, withheld from services), keeping it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<Suspend>,
    /// Switch a suspended user's key on again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteUsersParams {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersDeleted {
    pub deleted: u64,
    /// When the deleted users leave the trash for good (their keys blocked until then); absent
    /// when the daemon keeps no trash (`--trash-days 0`) and they are gone at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_after: Option<DateTime<Utc>>,
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
    #[serde(default, skip_serializing_if = "LimitsChange::is_empty")]
    pub limits: LimitsChange,
    /// Move each selected user's expiry this many days later (from now, if it is already past);
    /// users that never expire stay so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_expiry_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<Suspend>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume: bool,
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
    /// Users the change leaves with no model at all: their keys get blocked in LiteLLM (and
    /// services stop getting them) until a model is given back.
    #[serde(default)]
    pub left_without_models: u64,
    /// Users whose limits change, who get suspended, and who get resumed.
    #[serde(default)]
    pub limits_changed: u64,
    #[serde(default)]
    pub suspended: u64,
    #[serde(default)]
    pub resumed: u64,
    /// The first changed users, each with what changes (before → after), for the preview.
    #[serde(default)]
    pub samples: Vec<UserChangeSample>,
    pub dry_run: bool,
}

/// One user of a bulk change, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChangeSample {
    pub id: String,
    pub changes: Vec<FieldChange>,
}

/// One field of one user before and after a change, as text for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysParams {
    pub ids: Vec<String>,
    /// Minutes the old key keeps working once the new one is live in LiteLLM (0 to 10080; the
    /// daemon's `--rotation-grace-secs` when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysRotated {
    pub rotated: u64,
}

/// `users.list_ids`: every id matching a filter, in sort order (for "mark all matching").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListIdsParams {
    #[serde(default)]
    pub filter: UserFilter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserIds {
    pub ids: Vec<String>,
}
