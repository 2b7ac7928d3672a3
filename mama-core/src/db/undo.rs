//! What reverses a change event (issue 18), stored beside it in `event_undo` in the change's
//! own transaction: for each user the change touched, its stored values before and its version
//! right after (a later change shows as a newer version: a conflict); the users the change
//! created (undo moves them to the trash) or moved to the trash (undo restores them); an
//! organization's default limits before. lz4-packed JSON: a 10,000-user change is a few
//! hundred kilobytes.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::{event_undo, users};
use super::users::limits::{LimitColumns, SuspensionColumns};
use super::users::UserRow;
use super::{DbConn, DbError, CHUNK};
use crate::api::types::KeyLimits;

/// A user's values that a change may alter, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredState {
    pub organization: String,
    pub models: String,
    pub services: String,
    pub info: String,
    pub max_budget: Option<f64>,
    pub budget_period: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub expires_at: Option<chrono::NaiveDateTime>,
    pub rotation_days: Option<i64>,
    pub limits_own: String,
    pub suspended_at: Option<chrono::NaiveDateTime>,
    pub suspended_by: Option<String>,
    pub suspended_reason: Option<String>,
}

impl StoredState {
    pub fn of(row: &UserRow) -> StoredState {
        let l = &row.limits;
        let s = &row.suspension;
        StoredState {
            organization: row.organization.clone(),
            models: row.models.clone(),
            services: row.services.clone(),
            info: row.info.clone(),
            max_budget: l.max_budget,
            budget_period: l.budget_period.clone(),
            tpm_limit: l.tpm_limit,
            rpm_limit: l.rpm_limit,
            expires_at: l.expires_at,
            rotation_days: l.rotation_days,
            limits_own: l.limits_own.clone(),
            suspended_at: s.suspended_at,
            suspended_by: s.suspended_by.clone(),
            suspended_reason: s.suspended_reason.clone(),
        }
    }

    pub fn limit_columns(&self) -> LimitColumns {
        LimitColumns {
            max_budget: self.max_budget,
            budget_period: self.budget_period.clone(),
            tpm_limit: self.tpm_limit,
            rpm_limit: self.rpm_limit,
            expires_at: self.expires_at,
            rotation_days: self.rotation_days,
            limits_own: self.limits_own.clone(),
        }
    }

    pub fn suspension_columns(&self) -> SuspensionColumns {
        SuspensionColumns {
            suspended_at: self.suspended_at,
            suspended_by: self.suspended_by.clone(),
            suspended_reason: self.suspended_reason.clone(),
        }
    }
}

/// One changed user: its values before, and its version right after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateBefore {
    pub id: String,
    pub version_after: i64,
    pub state: StoredState,
}

/// Everything that reverses one event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UndoRecord {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<StateBefore>,
    /// Users the change brought into existence (created, or restored from the trash), with
    /// their version right after: undo moves them to the trash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<(String, i64)>,
    /// Users the change moved to the trash: undo restores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trashed: Vec<String>,
    /// An organization and its default limits before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<(String, KeyLimits)>,
}

impl UndoRecord {
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
            && self.created.is_empty()
            && self.trashed.is_empty()
            && self.defaults.is_none()
    }
}

/// The values of `rows` before a change, to finish with [`states_after`] once it is applied.
pub fn capture(rows: &[UserRow]) -> Vec<(String, i64, StoredState)> {
    rows.iter()
        .map(|r| (r.id.clone(), r.version, StoredState::of(r)))
        .collect()
}

/// The captured users whose version moved (the change touched them), with their new version.
pub fn states_after(
    conn: &mut DbConn,
    captured: Vec<(String, i64, StoredState)>,
) -> Result<Vec<StateBefore>, DbError> {
    let ids: Vec<String> = captured.iter().map(|(id, _, _)| id.clone()).collect();
    let now = versions(conn, &ids)?;
    Ok(captured
        .into_iter()
        .filter_map(|(id, before, state)| {
            let after = *now.get(&id)?;
            (after != before).then_some(StateBefore {
                id,
                version_after: after,
                state,
            })
        })
        .collect())
}

/// The captured users among `changed`, whose change bumped their version by exactly one (a
/// bulk change does): no read needed.
pub fn states_bumped(
    captured: Vec<(String, i64, StoredState)>,
    changed: &std::collections::HashSet<String>,
) -> Vec<StateBefore> {
    captured
        .into_iter()
        .filter(|(id, _, _)| changed.contains(id))
        .map(|(id, before, state)| StateBefore {
            id,
            version_after: before + 1,
            state,
        })
        .collect()
}

/// The current version of each existing user among `ids`.
pub fn versions(conn: &mut DbConn, ids: &[String]) -> Result<HashMap<String, i64>, DbError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, i64)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::version))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Stores the record of `event_id` (nothing for an empty record).
pub fn store(conn: &mut DbConn, event_id: &str, record: &UndoRecord) -> Result<(), DbError> {
    if record.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(record).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let packed = super::events::pack(&json);
    diesel::insert_into(event_undo::table)
        .values((
            event_undo::event_id.eq(event_id),
            event_undo::packed.eq(packed),
        ))
        .execute(conn)?;
    Ok(())
}

/// The record of `event_id`, if the event can be undone.
pub fn load(conn: &mut DbConn, event_id: &str) -> Result<Option<UndoRecord>, DbError> {
    let packed: Option<Vec<u8>> = event_undo::table
        .find(event_id)
        .select(event_undo::packed)
        .first(conn)
        .optional()?;
    let Some(packed) = packed else {
        return Ok(None);
    };
    let json = super::events::unpack(&packed)?;
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| DbError::Corrupt(format!("undo record of {event_id}: {e}")))
}
