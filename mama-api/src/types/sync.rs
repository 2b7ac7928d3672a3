//! The LiteLLM model catalog and the sync state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelView {
    pub name: String,
    /// LiteLLM serves it now. Sentinels (`all-team-models`, `all-proxy-models`) are always
    /// available. Null: unknown, LiteLLM's catalog has never been read (no LiteLLM configured,
    /// or not read yet).
    pub available: Option<bool>,
    /// How many users allow it.
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Models LiteLLM serves plus every model some user holds, sorted by name.
    pub models: Vec<ModelView>,
    /// When the catalog was last read from LiteLLM (null: never).
    pub fetched_at: Option<DateTime<Utc>>,
    /// Users holding at least one unavailable model (0 while the catalog has never been read).
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
    /// Whether a LiteLLM team is configured: without one `all-team-models` is refused.
    #[serde(default)]
    pub team_configured: bool,
    /// Last known reachability of LiteLLM.
    pub litellm_reachable: Option<bool>,
    pub litellm_error: Option<String>,
    /// Outbox operations waiting to be applied.
    pub queue_depth: u64,
    pub users_pending: u64,
    pub users_failed: u64,
    pub last_reconcile_at: Option<DateTime<Utc>>,
    /// Rotated keys still working in their grace; each one's deletion is queued for its end.
    #[serde(default)]
    pub keys_in_grace: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReconcileSummary {
    /// mama's keys LiteLLM holds (this installation's alias prefix or metadata mark).
    pub keys_seen: u64,
    /// Active users whose key LiteLLM did not hold: queued for re-creation.
    pub recreated: u64,
    /// Keys whose models differed (also counted under `drift.models`).
    pub models_repushed: u64,
    /// Keys that differed from mama, per field (`models`, `key_alias`, `user_id`, `team_id`,
    /// `blocked`, `metadata`): each such user is queued for repair.
    #[serde(default)]
    pub drift: std::collections::BTreeMap<String, u64>,
    /// Failed users, and pending users with nothing queued, queued to be tried again.
    #[serde(default)]
    pub retried: u64,
    /// The configured team's models had been changed in LiteLLM and were set back.
    #[serde(default)]
    pub team_restricted: bool,
    pub orphans_deleted: u64,
    /// Users whose spend in the current budget period moved since the last reconcile (read from
    /// the same `/key/list` pages, 100 keys each).
    #[serde(default)]
    pub spend_updated: u64,
    /// `/key/list` pages read.
    #[serde(default)]
    pub pages_read: u64,
    pub errors: Vec<String>,
}

/// `sync.retry_failed`: try failed users' keys again now.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryFailedParams {
    /// Only these users (those among them that are failed); every failed user when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRetried {
    /// Failed users queued to be tried again (they show `pending` until LiteLLM answers).
    pub retried: u64,
}
