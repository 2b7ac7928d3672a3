//! The `users` table as Rust reads and writes it: the row shapes and the boxed query every
//! filter, sort and page is built on. Below the queries (the parent module and its planners),
//! which all speak in these types.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::key_status::StoredKeyStatus;
use super::limits::{LimitColumns, SuspensionColumns};
use crate::api::types::{Info, KeyStatus};
use crate::db::schema::users;
use crate::db::{DbError, MultiBackend};
use crate::domain::NameSet;

/// A user row as stored (the key stays encrypted here).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub organization: String,
    pub models: String,
    pub services: String,
    pub info: String,
    pub version: i64,
    pub key_ciphertext: Option<Vec<u8>>,
    pub key_hash: Option<String>,
    pub key_hint: Option<String>,
    #[diesel(deserialize_as = StoredKeyStatus)]
    pub key_status: KeyStatus,
    pub key_error: Option<String>,
    pub synced_models: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set while a rotation waits for LiteLLM to confirm the new key (see the
    /// `rotation_grace` migration).
    pub prev_key_hash: Option<String>,
    #[diesel(embed)]
    pub limits: LimitColumns,
    #[diesel(embed)]
    pub suspension: SuspensionColumns,
    pub rotated_at: Option<NaiveDateTime>,
    /// A replaced key that keeps working until `retiring_until` (its deletion is queued for
    /// then).
    pub retiring_key_hash: Option<String>,
    pub retiring_until: Option<NaiveDateTime>,
    /// The limits and block LiteLLM last confirmed for the current key (see `synced_models`).
    pub synced_limits: Option<String>,
    pub spend: Option<f64>,
    pub spend_read_at: Option<NaiveDateTime>,
    /// The `expires_at` the daemon last saw pass: the status sort's "expired" (see the
    /// `status_sort` migration).
    pub expiry_seen: Option<NaiveDateTime>,
    /// Usage of the last 30 days and the last day with a request, as of the last collection.
    pub usage_spend_30d: f64,
    pub usage_requests_30d: i64,
    pub last_used: Option<NaiveDateTime>,
}

impl UserRow {
    pub fn model_set(&self) -> Result<NameSet, DbError> {
        NameSet::from_json(&self.models)
            .map_err(|e| DbError::Corrupt(format!("models of {}: {e}", self.id)))
    }

    pub fn service_set(&self) -> Result<NameSet, DbError> {
        NameSet::from_json(&self.services)
            .map_err(|e| DbError::Corrupt(format!("services of {}: {e}", self.id)))
    }

    pub fn info_map(&self) -> Result<Info, DbError> {
        serde_json::from_str(&self.info)
            .map_err(|e| DbError::Corrupt(format!("info of {}: {e}", self.id)))
    }
}

/// A new user row, with its sets already canonical.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow {
    pub id: String,
    pub organization: String,
    pub models: String,
    pub services: String,
    pub info: String,
    pub search_id: String,
    pub search_org: String,
    pub version: i64,
    pub key_ciphertext: Option<Vec<u8>>,
    pub key_hash: Option<String>,
    pub key_hint: Option<String>,
    pub key_status: StoredKeyStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    #[diesel(embed)]
    pub limits: LimitColumns,
}

/// The columns a service lookup needs: no timestamps, no sync bookkeeping.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct LookupRow {
    pub id: String,
    pub organization: String,
    pub models: String,
    pub services: String,
    pub info: String,
    pub key_ciphertext: Option<Vec<u8>>,
    #[diesel(deserialize_as = StoredKeyStatus)]
    pub key_status: KeyStatus,
    /// The models LiteLLM last confirmed for the current key; `None` until it confirmed the key.
    pub synced_models: Option<String>,
    /// The key a rotation replaces, served until LiteLLM confirms the new one.
    pub prev_key_ciphertext: Option<Vec<u8>>,
    #[diesel(embed)]
    pub limits: LimitColumns,
    pub suspended_at: Option<NaiveDateTime>,
    pub rotated_at: Option<NaiveDateTime>,
    pub retiring_until: Option<NaiveDateTime>,
    pub spend: Option<f64>,
}

/// The columns a change may set on many users at once. `None` leaves a column alone.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub organization: Option<String>,
    pub search_org: Option<String>,
    pub models: Option<String>,
    pub services: Option<String>,
    pub info: Option<String>,
    pub key_status: Option<StoredKeyStatus>,
    pub key_error: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
    pub max_budget: Option<Option<f64>>,
    pub budget_period: Option<Option<String>>,
    pub tpm_limit: Option<Option<i64>>,
    pub rpm_limit: Option<Option<i64>>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub rotation_days: Option<Option<i64>>,
    pub limits_own: Option<String>,
    pub suspended_at: Option<Option<NaiveDateTime>>,
    pub suspended_by: Option<Option<String>>,
    pub suspended_reason: Option<Option<String>>,
}

impl UserChanges {
    /// Sets every limit column to `limits`.
    pub fn set_limits(&mut self, limits: &LimitColumns) {
        self.max_budget = Some(limits.max_budget);
        self.budget_period = Some(limits.budget_period.clone());
        self.tpm_limit = Some(limits.tpm_limit);
        self.rpm_limit = Some(limits.rpm_limit);
        self.expires_at = Some(limits.expires_at);
        self.rotation_days = Some(limits.rotation_days);
        self.limits_own = Some(limits.limits_own.clone());
    }

    /// Suspends (`Some((at, by, reason))`) or resumes (`None`).
    pub fn set_suspension(&mut self, suspension: Option<(NaiveDateTime, String, String)>) {
        match suspension {
            Some((at, by, reason)) => {
                self.suspended_at = Some(Some(at));
                self.suspended_by = Some(Some(by));
                self.suspended_reason = Some(Some(reason));
            }
            None => {
                self.suspended_at = Some(None);
                self.suspended_by = Some(None);
                self.suspended_reason = Some(None);
            }
        }
    }
}

/// A `users` query assembled piece by piece (filter terms, sort, window).
pub type BoxedUsers<'a> = users::BoxedQuery<'a, MultiBackend>;
