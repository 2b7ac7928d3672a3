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
    in_scope, Info, KeyLimits, KeyStatus, Scope, UndoChange, UndoConflict, UndoParams, UndoResult,
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

/// The fields of a user an undo sets, only those that differ from what it holds now: users
/// whose differences are the same are written by one statement (an undone bulk change of
/// 10,000 users is a handful of groups, whatever else differs between them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Difference {
    organization: Option<String>,
    models: Option<String>,
    services: Option<String>,
    info: Option<String>,
    /// The limit columns, serialized (compared and grouped as text).
    limits: Option<String>,
    suspension: Option<String>,
}

impl Difference {
    fn between(now: &StoredState, after: &StoredState) -> Result<Difference, DbError> {
        let (limits_now, limits_after) = (limits_json(now)?, limits_json(after)?);
        let (suspension_now, suspension_after) = (suspension_json(now)?, suspension_json(after)?);
        let differs = |a: &str, b: &str| (a != b).then(|| b.to_string());
        Ok(Difference {
            organization: differs(&now.organization, &after.organization),
            models: (NameSet::from_json(&now.models).unwrap_or_default()
                != NameSet::from_json(&after.models).unwrap_or_default())
            .then(|| after.models.clone()),
            services: (NameSet::from_json(&now.services).unwrap_or_default()
                != NameSet::from_json(&after.services).unwrap_or_default())
            .then(|| after.services.clone()),
            info: differs(&now.info, &after.info),
            limits: differs(&limits_now, &limits_after),
            suspension: differs(&suspension_now, &suspension_after),
        })
    }

    /// Whether LiteLLM's key changes with it (its models, limits, block, or alias metadata).
    fn resyncs(&self) -> bool {
        self.models.is_some()
            || self.limits.is_some()
            || self.suspension.is_some()
            || self.organization.is_some()
    }
}

/// The limit columns of a state as one comparable text.
fn limits_json(s: &StoredState) -> Result<String, DbError> {
    serde_json::to_string(&(
        s.max_budget,
        &s.budget_period,
        s.tpm_limit,
        s.rpm_limit,
        s.expires_at,
        s.rotation_days,
        &s.limits_own,
    ))
    .map_err(|e| DbError::Corrupt(e.to_string()))
}

/// The suspension columns of a state as one comparable text.
fn suspension_json(s: &StoredState) -> Result<String, DbError> {
    serde_json::to_string(&(s.suspended_at, &s.suspended_by, &s.suspended_reason))
        .map_err(|e| DbError::Corrupt(e.to_string()))
}

/// Sets users back to stored values: one `UPDATE` per distinct difference and chunk of ids,
/// only the set rows that differ deleted or inserted, the keys that change queued for LiteLLM.
fn apply_states(conn: &mut DbConn, states: &[(UserRow, StoredState)]) -> Result<(), DbError> {
    if states.is_empty() {
        return Ok(());
    }
    let now = db::now();
    let mut groups: BTreeMap<Difference, Vec<String>> = BTreeMap::new();
    let (mut models_added, mut models_removed) =
        (Vec::new(), BTreeMap::<String, Vec<String>>::new());
    let (mut services_added, mut services_removed) =
        (Vec::new(), BTreeMap::<String, Vec<String>>::new());
    let (mut info_users, mut info_rows) = (Vec::new(), Vec::new());
    let mut resync = Vec::new();
    // Services deleted since the event are not granted again (a deleted service's grants went
    // with it, for every user).
    let mut wanted: Vec<String> = Vec::new();
    for (_, state) in states {
        wanted.extend(
            NameSet::from_json(&state.services)
                .unwrap_or_default()
                .iter()
                .cloned(),
        );
    }
    let existing = services::existing(conn, &wanted)?;
    for (row, target) in states {
        let target = StoredState {
            services: NameSet::new(
                NameSet::from_json(&target.services)
                    .unwrap_or_default()
                    .iter()
                    .filter(|s| existing.contains(*s))
                    .cloned(),
            )
            .to_json(),
            ..target.clone()
        };
        let current = StoredState::of(row);
        let diff = Difference::between(&current, &target)?;
        if diff.models.is_some() {
            let (was, will) = (
                row.model_set()?,
                NameSet::from_json(&target.models).unwrap_or_default(),
            );
            models_added.extend(
                will.iter()
                    .filter(|m| !was.contains(m))
                    .map(|m| (row.id.clone(), m.clone())),
            );
            for m in was.iter().filter(|m| !will.contains(m)) {
                models_removed
                    .entry(m.clone())
                    .or_default()
                    .push(row.id.clone());
            }
        }
        if diff.services.is_some() {
            let (was, will) = (
                row.service_set()?,
                NameSet::from_json(&target.services).unwrap_or_default(),
            );
            services_added.extend(
                will.iter()
                    .filter(|s| !was.contains(s))
                    .map(|s| (row.id.clone(), s.clone())),
            );
            for s in was.iter().filter(|s| !will.contains(s)) {
                services_removed
                    .entry(s.clone())
                    .or_default()
                    .push(row.id.clone());
            }
        }
        if diff.info.is_some() {
            info_users.push(row.id.clone());
            let info: Info = serde_json::from_str(&target.info).unwrap_or_default();
            info_rows.extend(info.into_iter().map(|(k, v)| (row.id.clone(), k, v)));
        }
        if diff.resyncs() {
            resync.push(row.id.clone());
        }
        groups.entry(diff).or_default().push(row.id.clone());
    }
    let by_id: BTreeMap<&str, &StoredState> =
        states.iter().map(|(r, s)| (r.id.as_str(), s)).collect();
    for (diff, ids) in &groups {
        let Some(target) = ids.first().and_then(|id| by_id.get(id.as_str())) else {
            continue;
        };
        let mut changes = UserChanges {
            search_org: diff.organization.as_deref().map(users::search_text),
            organization: diff.organization.clone(),
            models: diff.models.as_ref().map(|_| {
                NameSet::from_json(&target.models)
                    .unwrap_or_default()
                    .to_json()
            }),
            services: diff.services.clone(),
            info: diff.info.clone(),
            key_status: diff.resyncs().then_some(KeyStatus::Pending.into()),
            key_error: diff.resyncs().then_some(None),
            updated_at: Some(now),
            ..UserChanges::default()
        };
        if diff.limits.is_some() {
            changes.set_limits(&target.limit_columns());
        }
        if diff.suspension.is_some() {
            let s = target.suspension_columns();
            changes.set_suspension(s.suspended_at.map(|at| {
                (
                    at,
                    s.suspended_by.clone().unwrap_or_default(),
                    s.suspended_reason.clone().unwrap_or_default(),
                )
            }));
        }
        users::update_many(conn, ids, &changes)?;
    }
    for (model, ids) in &models_removed {
        users::delete_model_rows(conn, ids, Some(std::slice::from_ref(model)))?;
    }
    users::insert_model_rows(conn, &models_added)?;
    for (service, ids) in &services_removed {
        users::delete_service_rows(conn, ids, Some(std::slice::from_ref(service)))?;
    }
    users::insert_service_rows(conn, &services_added)?;
    if !info_users.is_empty() {
        users::delete_info_rows(conn, &info_users, None)?;
        users::insert_info_rows(conn, &info_rows)?;
    }
    let ops: Vec<NewOp> = resync.iter().map(|id| NewOp::sync(id)).collect();
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
                    return Ok(Err(ApiError::new(
                            ErrorCode::Conflict,
                            format!(
                                "nothing to undo for {event_id}: {} conflicts (force reverses users changed since)",
                                plan.conflicted
                            ),
                    )));
                }
                let now = db::now();
                // What reverses this undo: the values the users hold now.
                let captured = undo::capture(
                    &plan.states.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
                );
                let mut inverse = UndoRecord::default();
                apply_states(conn, &plan.states)?;
                // `apply_states` bumps each user's version by one.
                let reversed = plan.states.iter().map(|(r, _)| r.id.clone()).collect();
                inverse.states = undo::states_bumped(captured, &reversed);
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
