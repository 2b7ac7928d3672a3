//! What mama sends to and reads from LiteLLM, reduced to the fields mama uses.
//!
//! LiteLLM answers with ~60 fields per key; everything mama does not act on is ignored so a new
//! LiteLLM field never breaks parsing.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::secret::SecretString;

/// The key type mama always sends: `llm_api` keeps a leaked user key off management routes.
pub const KEY_TYPE_LLM_API: &str = "llm_api";

/// Creates a key whose `sk-…` value mama minted and already stored.
#[derive(Debug, Clone)]
pub struct GenerateKey {
    /// The plaintext key; LiteLLM stores only its SHA-256 (`token`).
    pub key: SecretString,
    /// Unique across all LiteLLM keys; `None` or empty is not sent (LiteLLM counts `""` as an alias).
    pub key_alias: Option<String>,
    /// Allowed models; `[]` means every proxy model in LiteLLM, so mama never sends it (see
    /// [`crate::domain::access`]).
    pub models: Vec<String>,
    /// Attribution only: `/key/generate` creates no LiteLLM user row.
    pub user_id: Option<String>,
    /// Needed for keys holding `all-team-models`.
    pub team_id: Option<String>,
    /// Marks the key as mama's, e.g. `{"managed_by": "mama"}`.
    pub metadata: Map<String, Value>,
    /// A blocked key is refused by the proxy (401) whatever its models.
    pub blocked: bool,
    pub limits: LimitsOnKey,
}

/// A key's budget, rate limits and expiry as LiteLLM takes them; `None` is no limit. On an
/// update every field is sent, so `None` goes out as `null`, which clears it in LiteLLM.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
pub struct LimitsOnKey {
    pub max_budget: Option<f64>,
    /// `1d`, `7d`, `30d`: LiteLLM resets spend on calendar boundaries in UTC.
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    /// Sent as a `duration` from the moment of the call (LiteLLM takes no absolute time).
    pub expires: Option<DateTime<Utc>>,
}

/// Fields to change on an existing key; `None` leaves the field as LiteLLM has it.
///
/// `models` and `metadata` *replace* what LiteLLM stores (no add/remove, no merge): send the
/// final list, and read-merge-write metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateKey {
    pub models: Option<Vec<String>>,
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub blocked: Option<bool>,
    /// All limits at once (`None` leaves them all as LiteLLM has them).
    pub limits: Option<LimitsOnKey>,
}

/// Whether LiteLLM still holds a key or keeps it only in its archive of deleted keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Deleted: `/key/info` still answers 200 from the archive, using the key gives 401.
    Deleted,
    /// A status this client does not know; kept verbatim rather than guessed.
    Other(String),
}

/// A key as LiteLLM stores it (from `/key/info`, `/key/list`, `/key/generate`, `/key/update`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    /// SHA-256 hex of the key: LiteLLM's id for it (see [`super::key_hash`]).
    pub token: String,
    /// `sk-...` + last 4 characters: safe to show.
    pub key_name: Option<String>,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub key_type: Option<String>,
    pub status: KeyStatus,
    /// Blocked keys (`/key/block`, or `blocked: true`) stay live but every call with them gets a
    /// 401; `/key/info` says `status: "revoked"` for them.
    pub blocked: bool,
    pub limits: LimitsOnKey,
    /// What the key spent in its current budget period (LiteLLM's running total, written in
    /// batches every ~10–15 s).
    pub spend: f64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Query of `/key/list`; mama always asks for full objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKeys {
    /// 1-based.
    pub page: u32,
    pub size: u32,
    /// Exact alias match.
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
}

impl Default for ListKeys {
    fn default() -> Self {
        Self {
            page: 1,
            size: 100,
            key_alias: None,
            user_id: None,
            team_id: None,
        }
    }
}

/// One page of `/key/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPage {
    pub keys: Vec<KeyInfo>,
    pub total_count: u64,
    pub current_page: u32,
    pub total_pages: u32,
}

/// Result of [`super::LiteLlm::create_key_confirmed`].
///
/// LiteLLM answers 200 to a `/key/generate` reusing an existing key value *without changing the
/// stored key*, echoing the requested values; only `/key/info` tells the truth.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyConfirmation {
    /// LiteLLM holds the key, active, with the requested alias, models, user and team.
    Created(KeyInfo),
    /// LiteLLM holds a key with this value but not as requested (an older key, a deleted one, or
    /// values changed behind mama's back): the caller decides (update, or treat as a conflict).
    Differs(KeyInfo),
}

/// Creates a team; mama uses one to give meaning to `all-team-models`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTeam {
    /// An explicit id makes creation idempotent (look it up, create only if missing).
    pub team_id: Option<String>,
    pub team_alias: String,
    /// The models `all-team-models` stands for; `[]` would mean every proxy model, so mama
    /// always sends the configured, non-empty list.
    pub models: Vec<String>,
}

/// A LiteLLM team, reduced to what mama needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub models: Vec<String>,
}

/// `/health/readiness`: whether LiteLLM and its database are up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `healthy` when LiteLLM is ready.
    pub status: String,
    /// `connected` when its database is reachable.
    pub db: Option<String>,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

/// A key object on the wire, as lenient as LiteLLM's many shapes need.
#[derive(Debug, Deserialize)]
pub(crate) struct RawKey {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub key_alias: Option<String>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub key_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub blocked: Option<bool>,
    #[serde(default)]
    pub max_budget: Option<f64>,
    #[serde(default)]
    pub budget_duration: Option<String>,
    #[serde(default)]
    pub tpm_limit: Option<f64>,
    #[serde(default)]
    pub rpm_limit: Option<f64>,
    #[serde(default)]
    pub expires: Option<Value>,
    #[serde(default)]
    pub spend: Option<f64>,
    #[serde(default)]
    pub created_at: Option<Value>,
    #[serde(default)]
    pub updated_at: Option<Value>,
}

impl RawKey {
    /// Builds the key, taking `token` from `known_token` when LiteLLM leaves it null (it does in
    /// `/key/info`). `None` when no token is known at all.
    pub(crate) fn into_info(self, known_token: Option<&str>) -> Option<KeyInfo> {
        let token = self
            .token
            .filter(|t| !t.is_empty())
            .or_else(|| known_token.map(str::to_owned))?;
        // A blocked key is still a live key: `/key/info` calls it `revoked`, `/key/list` only
        // says `blocked: true`.
        let revoked = self.status.as_deref() == Some("revoked");
        let status = match self.status.as_deref() {
            None | Some("active") | Some("revoked") => KeyStatus::Active,
            Some("deleted") => KeyStatus::Deleted,
            Some(other) => KeyStatus::Other(other.to_owned()),
        };
        let blocked = self.blocked.unwrap_or(false) || revoked;
        Some(KeyInfo {
            token,
            key_name: self.key_name,
            key_alias: self.key_alias,
            models: self.models.unwrap_or_default(),
            user_id: self.user_id,
            team_id: self.team_id,
            metadata: self.metadata.unwrap_or_default(),
            key_type: self.key_type,
            status,
            blocked,
            limits: LimitsOnKey {
                max_budget: self.max_budget,
                budget_duration: self.budget_duration.filter(|d| !d.is_empty()),
                // Counts, though LiteLLM's schema allows floats: anything else is dropped.
                tpm_limit: self.tpm_limit.filter(|n| *n >= 0.0).map(|n| n as u64),
                rpm_limit: self.rpm_limit.filter(|n| *n >= 0.0).map(|n| n as u64),
                expires: parse_time(self.expires),
            },
            spend: self.spend.unwrap_or(0.0),
            created_at: parse_time(self.created_at),
            updated_at: parse_time(self.updated_at),
        })
    }
}

/// LiteLLM writes both `…Z` and `…+00:00`; anything else is dropped rather than failing the call.
fn parse_time(value: Option<Value>) -> Option<DateTime<Utc>> {
    match value? {
        Value::String(s) => DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawKeyInfoResponse {
    #[serde(default)]
    pub key: Option<String>,
    pub info: RawKey,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawKeyList {
    pub keys: Vec<RawKey>,
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub current_page: Option<u32>,
    #[serde(default)]
    pub total_pages: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawModelList {
    pub data: Vec<RawModel>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawModel {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawModelInfoList {
    pub data: Vec<RawModelInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawModelInfo {
    pub model_name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawTeam {
    pub team_id: String,
    #[serde(default)]
    pub team_alias: Option<String>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

impl From<RawTeam> for Team {
    fn from(raw: RawTeam) -> Self {
        Self {
            team_id: raw.team_id,
            team_alias: raw.team_alias,
            models: raw.models.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawTeamInfo {
    pub team_info: RawTeam,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawHealth {
    pub status: String,
    #[serde(default)]
    pub db: Option<String>,
}

/// Parsed only to check that a 200 really is LiteLLM's delete answer (there is no per-key result).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(crate) struct RawDeleted {
    pub deleted_keys: Vec<Value>,
}
