//! `events.undo` (issue 18): reverses a change event from the record stored with it (see
//! `db::undo`). Users changed again since are conflicts, left alone unless `force`; users gone
//! for good, or outside the account's scope, are never touched. The reverse is one transaction
//! with its outbox operations and one `events.undo` event naming the undone one, and stores its
//! own record: undoing an undo redoes.

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use diesel::prelude::*;

use super::auth::{audit_or, AdminSession};
use super::context::EventBuilder;
use super::trash::{move_to_trash, restore_from_trash};
use super::{Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{
    Info, KeyLimits, KeyStatus, Scope, UndoChange, UndoConflict, UndoParams, UndoResult,
};
use crate::api::{ApiError, ErrorCode};
use crate::db::outbox::{self, NewOp};
use crate::db::schema::events as events_table;
use crate::db::undo::{self, StateBefore, StoredState, UndoRecord};
use crate::db::users::{self, UserChanges, UserRow};
use crate::db::{self, events, organizations, services, trash, DbConn, DbError};
use crate::domain::NameSet;

/// Users listed in an answer, each of changes and conflicts.
const LISTED: usize = 1000;

/// What an undo does, worked out in its transaction.
#[derive(Default)]
struct Plan {
    /// Users set back to their values before: current row, values to restore.
    states: Vec<(UserRow, StoredState)>,
    /// Users the event created: to the trash.
    to_trash: Vec<UserRow>,
    /// Users the event moved to the trash: back.
    to_restore: Vec<String>,
    defaults: Option<(String, KeyLimits)>,
    changes: Vec<UndoChange>,
    changed: u64,
    conflicts: Vec<UndoConflict>,
    conflicted: u64,
}

impl Plan {
    fn change(&mut self, id: &str, now: String, after: String) {
        self.changed += 1;
        if self.changes.len() < LISTED {
            self.changes.push(UndoChange {
                id: id.to_string(),
                now,
                after,
            });
        }
    }

    fn conflict(&mut self, id: &str, reason: String, forceable: bool) {
        self.conflicted += 1;
        if self.conflicts.len() < LISTED {
            self.conflicts.push(UndoConflict {
                id: id.to_string(),
                reason,
                forceable,
            });
        }
    }
}

fn in_scope(scope: &Scope, org: &str) -> bool {
    scope
        .as_ref()
        .is_none_or(|orgs| orgs.iter().any(|o| o == org))
}

/// A set stored as JSON, for a summary.
fn names(json: &str) -> String {
    let set = NameSet::from_json(json).unwrap_or_default();
    if set.is_empty() {
        "none".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn info_text(json: &str) -> String {
    let info: Info = serde_json::from_str(json).unwrap_or_default();
    if info.is_empty() {
        "none".into()
    } else {
        info.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("none".into(), |v| v.to_string())
}

/// The fields that differ between `now` and `after`, each side as `field: value; …`.
fn describe(now: &StoredState, after: &StoredState) -> (String, String) {
    let fields: [(&str, String, String); 9] = [
        (
            "organization",
            now.organization.clone(),
            after.organization.clone(),
        ),
        ("models", names(&now.models), names(&after.models)),
        ("services", names(&now.services), names(&after.services)),
        ("info", info_text(&now.info), info_text(&after.info)),
        ("budget", opt(&now.max_budget), opt(&after.max_budget)),
        ("tpm", opt(&now.tpm_limit), opt(&after.tpm_limit)),
        ("rpm", opt(&now.rpm_limit), opt(&after.rpm_limit)),
        ("expires", opt(&now.expires_at), opt(&after.expires_at)),
        (
            "suspended",
            now.suspended_at.is_some().to_string(),
            after.suspended_at.is_some().to_string(),
        ),
    ];
    let mut left = Vec::new();
    let mut right = Vec::new();
    for (field, a, b) in fields {
        if a != b {
            left.push(format!("{field}: {a}"));
            right.push(format!("{field}: {b}"));
        }
    }
    if left.is_empty() {
        // Only bookkeeping differs (the limits' own/inherited marks, the budget period).
        ("limits as now".into(), "limits as before".into())
    } else {
        (left.join("; "), right.join("; "))
    }
}

/// Works out what undoing `record` does for an account of `scope`.
fn plan(
    conn: &mut DbConn,
    record: &UndoRecord,
    scope: &Scope,
    force: bool,
) -> Result<Plan, DbError> {
    let mut plan = Plan::default();
    let state_ids: Vec<String> = record.states.iter().map(|s| s.id.clone()).collect();
    let current: BTreeMap<String, UserRow> = users::find_many(conn, &state_ids)?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    for StateBefore {
        id,
        version_after,
        state,
    } in &record.states
    {
        let Some(row) = current.get(id) else {
            plan.conflict(id, "no longer exists (deleted since)".into(), false);
            continue;
        };
        if !in_scope(scope, &row.organization) || !in_scope(scope, &state.organization) {
            plan.conflict(id, "outside your organizations".into(), false);
            continue;
        }
        if row.version != *version_after {
            let reason = format!(
                "changed again since (version {} now, {} after the event)",
                row.version, version_after
            );
            plan.conflict(id, reason, true);
            if !force {
                continue;
            }
        }
        let now = StoredState::of(row);
        if now == *state {
            continue;
        }
        let (a, b) = describe(&now, state);
        plan.change(id, a, b);
        plan.states.push((row.clone(), state.clone()));
    }

    let created_ids: Vec<String> = record.created.iter().map(|(id, _)| id.clone()).collect();
    let created: BTreeMap<String, UserRow> = users::find_many(conn, &created_ids)?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    for (id, version_after) in &record.created {
        let Some(row) = created.get(id) else {
            continue; // already deleted: nothing to undo
        };
        if !in_scope(scope, &row.organization) {
            plan.conflict(id, "outside your organizations".into(), false);
            continue;
        }
        if row.version != *version_after {
            let reason = format!("changed since it was created (version {})", row.version);
            plan.conflict(id, reason, true);
            if !force {
                continue;
            }
        }
        plan.change(id, "exists".into(), "in the trash, key blocked".into());
        plan.to_trash.push(row.clone());
    }

    let trashed: BTreeMap<String, trash::TrashRow> =
        trash::find_many(conn, &record.trashed, &None)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
    let back: HashSet<String> = undo::versions(conn, &record.trashed)?.into_keys().collect();
    for id in &record.trashed {
        match trashed.get(id) {
            Some(row) if !in_scope(scope, &row.organization) => {
                plan.conflict(id, "outside your organizations".into(), false)
            }
            Some(_) => {
                plan.change(id, "in the trash".into(), "restored, same key".into());
                plan.to_restore.push(id.clone());
            }
            None if back.contains(id) => {}
            None => plan.conflict(id, "purged for good since".into(), false),
        }
    }

    if let Some((name, before)) = &record.defaults {
        if in_scope(scope, name) {
            plan.defaults = Some((name.clone(), before.clone()));
        } else {
            plan.conflict(name, "organization outside your scope".into(), false);
        }
    }
    Ok(plan)
}

/// Sets users back to stored values: one `UPDATE` per distinct state and chunk, their set rows
/// replaced, their keys queued for LiteLLM.
fn apply_states(conn: &mut DbConn, states: &[(UserRow, StoredState)]) -> Result<(), DbError> {
    if states.is_empty() {
        return Ok(());
    }
    let now = db::now();
    let mut groups: BTreeMap<String, (StoredState, Vec<String>)> = BTreeMap::new();
    for (row, state) in states {
        let key = serde_json::to_string(state).map_err(|e| DbError::Corrupt(e.to_string()))?;
        groups
            .entry(key)
            .or_insert_with(|| (state.clone(), Vec::new()))
            .1
            .push(row.id.clone());
    }
    let ids: Vec<String> = states.iter().map(|(r, _)| r.id.clone()).collect();
    // Services deleted since the event are not granted again (a deleted service's grants went
    // with it, for every user).
    let mut wanted: Vec<String> = Vec::new();
    for (state, _) in groups.values() {
        wanted.extend(
            NameSet::from_json(&state.services)
                .unwrap_or_default()
                .iter()
                .cloned(),
        );
    }
    let existing = services::existing(conn, &wanted)?;
    users::delete_model_rows(conn, &ids, None)?;
    users::delete_service_rows(conn, &ids, None)?;
    users::delete_info_rows(conn, &ids, None)?;
    let (mut model_rows, mut service_rows, mut info_rows) = (Vec::new(), Vec::new(), Vec::new());
    for (state, group) in groups.values() {
        let models = NameSet::from_json(&state.models).unwrap_or_default();
        let services = NameSet::new(
            NameSet::from_json(&state.services)
                .unwrap_or_default()
                .iter()
                .filter(|s| existing.contains(*s))
                .cloned(),
        );
        let info: Info = serde_json::from_str(&state.info).unwrap_or_default();
        let mut changes = UserChanges {
            organization: Some(state.organization.clone()),
            search_org: Some(users::search_text(&state.organization)),
            models: Some(models.to_json()),
            services: Some(services.to_json()),
            info: Some(state.info.clone()),
            key_status: Some(KeyStatus::Pending.into()),
            key_error: Some(None),
            updated_at: Some(now),
            ..UserChanges::default()
        };
        changes.set_limits(&state.limit_columns());
        let suspension = state.suspension_columns();
        changes.set_suspension(suspension.suspended_at.map(|at| {
            (
                at,
                suspension.suspended_by.clone().unwrap_or_default(),
                suspension.suspended_reason.clone().unwrap_or_default(),
            )
        }));
        users::update_many(conn, group, &changes)?;
        for id in group {
            model_rows.extend(models.iter().map(|m| (id.clone(), m.clone())));
            service_rows.extend(services.iter().map(|s| (id.clone(), s.clone())));
            info_rows.extend(info.iter().map(|(k, v)| (id.clone(), k.clone(), v.clone())));
        }
    }
    users::insert_model_rows(conn, &model_rows)?;
    users::insert_service_rows(conn, &service_rows)?;
    users::insert_info_rows(conn, &info_rows)?;
    let ops: Vec<NewOp> = ids.iter().map(|id| NewOp::sync(id)).collect();
    outbox::enqueue(conn, &ops, now)?;
    Ok(())
}

impl Mama {
    /// `events.undo`.
    pub async fn undo_event(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: UndoParams,
    ) -> OpResult<UndoResult> {
        let event = ctx.event(method::EventsUndo::ACTION);
        let result = self.undo_inner(event.clone(), s, params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn undo_inner(
        &self,
        event: EventBuilder,
        s: &AdminSession,
        params: UndoParams,
    ) -> OpResult<UndoResult> {
        let UndoParams {
            event_id,
            dry_run,
            force,
        } = params;
        if event_id.is_empty() || event_id.chars().count() > 64 {
            return Err(ApiError::invalid(
                "event_id",
                "give the id of a change event",
            ));
        }
        let scope = s.scope();
        let actor = s.username.clone();
        let trash_days = i64::from(self.config.trash_days);
        self.db
            .write(move |conn| {
                let undone: Option<(String, String)> = events_table::table
                    .find(&event_id)
                    .select((events_table::action, events_table::result))
                    .first(conn)
                    .optional()?;
                let Some((action, result)) = undone else {
                    return Ok(Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no event {event_id}"),
                    )));
                };
                let record = match undo::load(conn, &event_id)? {
                    Some(record) if result == "ok" => record,
                    _ => {
                        return Ok(Err(ApiError::invalid(
                            "event_id",
                            format!(
                                "event {event_id} ({action}, {result}) cannot be undone: only \
                                 applied changes of users and organization defaults can"
                            ),
                        )))
                    }
                };
                let plan = plan(conn, &record, &scope, force)?;
                let organization_defaults = plan.defaults.as_ref().map(|(n, _)| n.clone());
                let mut answer = UndoResult {
                    event_id: event_id.clone(),
                    action: action.clone(),
                    changed: plan.changed,
                    changes: plan.changes.clone(),
                    conflicted: plan.conflicted,
                    conflicts: plan.conflicts.clone(),
                    organization_defaults,
                    dry_run,
                    undo_event_id: None,
                };
                let summary = format!(
                    "undo of {event_id} ({action}): {} users{}{}",
                    plan.changed,
                    if plan.conflicted > 0 {
                        format!(", {} conflicts", plan.conflicted)
                    } else {
                        String::new()
                    },
                    if force { ", forced" } else { "" }
                );
                if dry_run {
                    let preview = event
                        .count(plan.changed)
                        .detail(format!("preview (dry run) of the {summary}"))
                        .ok();
                    events::insert(conn, &[preview])?;
                    return Ok(Ok(answer));
                }
                if plan.changed == 0 && plan.defaults.is_none() {
                    return Ok(Err(ApiError {
                        ..ApiError::new(
                            ErrorCode::Conflict,
                            format!(
                                "nothing to undo for {event_id}: {} conflicts (force reverses users changed since)",
                                plan.conflicted
                            ),
                        )
                    }));
                }
                let now = db::now();
                // What reverses this undo: the values the users hold now.
                let captured = undo::capture(
                    &plan.states.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
                );
                let mut inverse = UndoRecord::default();
                apply_states(conn, &plan.states)?;
                inverse.states = undo::states_after(conn, captured)?;
                if !plan.to_trash.is_empty() {
                    let purge_after = now + Duration::days(trash_days);
                    move_to_trash(conn, &plan.to_trash, &actor, now, purge_after)?;
                    inverse.trashed = plan.to_trash.iter().map(|r| r.id.clone()).collect();
                }
                if !plan.to_restore.is_empty() {
                    restore_from_trash(conn, &plan.to_restore, now)?;
                    inverse.created = undo::versions(conn, &plan.to_restore)?
                        .into_iter()
                        .collect();
                }
                if let Some((name, before)) = &plan.defaults {
                    let current = organizations::defaults(conn, name)?;
                    organizations::set(conn, name, before)?;
                    inverse.defaults = Some((name.clone(), current));
                }
                let affected: Vec<String> = plan
                    .states
                    .iter()
                    .map(|(r, _)| r.id.clone())
                    .chain(plan.to_trash.iter().map(|r| r.id.clone()))
                    .chain(plan.to_restore.iter().cloned())
                    .collect();
                let done = event.users(affected).detail(summary).ok();
                let undo_id = done.row.id.clone();
                events::insert(conn, &[done])?;
                undo::store(conn, &undo_id, &inverse)?;
                answer.undo_event_id = Some(undo_id);
                Ok::<_, DbError>(Ok(answer))
            })
            .await
            .map_err(audit_or)?
    }
}
