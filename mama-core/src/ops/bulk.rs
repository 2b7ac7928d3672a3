//! `users.bulk_update`: replace / add / remove models and services, set organization and info on
//! many users in one transaction.
//!
//! The new state of every selected user is computed from one read; the writes are set-based:
//! one `UPDATE … WHERE id IN (…)` per distinct resulting row state and chunk (a bulk change
//! usually leaves few distinct states), multi-row inserts and `DELETE … IN (…)` for the set rows,
//! and one multi-row insert of outbox operations. 10,000 users cost tens of statements, not
//! tens of thousands.

use crate::api::rpc::{method, Method};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};

use super::auth::{audit_or, AdminSession};
use super::user_input::{
    check_id_list, dedup, info_json, missing_users, unknown_services, within_scope, Grant,
    MAX_BULK_IDS,
};
use super::{audit_failed, Ctx, Mama, OpResult};
use crate::api::types::{
    BulkUpdateParams, BulkUpdateResult, FieldChange, Info, KeyLimits, KeyStatus, LimitsChange,
    SetChange, SetOp, Setting, UserChangeSample, UserFilter,
};
use crate::api::{ApiError, ErrorCode};
use crate::db::organizations;
use crate::db::outbox::{self, NewOp};
use crate::db::undo::{self, UndoRecord};
use crate::db::users::limits::{LimitColumns, OrderedLimits};
use crate::db::users::{self, UserChanges, UserRow};
use crate::db::{self, events, DbConn, DbError};
use crate::domain::access::SENTINEL_MODELS;
use crate::domain::{limits, validate, NameSet};

/// The validated change, shared by the preview and the real run.
#[derive(Debug, Clone)]
struct Change {
    models: Option<(crate::api::types::SetOp, NameSet)>,
    services: Option<(crate::api::types::SetOp, NameSet)>,
    organization: Option<String>,
    info_set: Info,
    info_unset: Vec<String>,
    /// The served catalog, when unavailable models are to be dropped.
    drop_unavailable: Option<BTreeSet<String>>,
    limits: LimitsChange,
    extend_expiry_days: Option<u32>,
    /// Suspend with (when, by whom, why), or resume.
    suspend: Option<(NaiveDateTime, String, String)>,
    resume: bool,
}

impl Change {
    fn touches_limits(&self) -> bool {
        !self.limits.is_empty() || self.extend_expiry_days.is_some() || self.organization.is_some()
    }
}

/// A user's state after the change, as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
/// Only the columns the change touches are part of the state (and written): a models change
/// leaves every other column and its indexes alone, and users group by their new models only.
struct NewState {
    organization: Option<String>,
    models: Option<String>,
    services: Option<String>,
    info: Option<String>,
    limits: Option<OrderedLimits>,
    /// `Some(Some(..))` suspends, `Some(None)` resumes.
    suspension: Option<Option<(NaiveDateTime, String, String)>>,
}

/// How many changed users a preview describes field by field.
const SAMPLES: usize = 100;

impl Mama {
    pub async fn bulk_update(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: BulkUpdateParams,
    ) -> OpResult<BulkUpdateResult> {
        let mut event = ctx.event(method::UsersBulkUpdate::ACTION);
        if let Some(filter) = &params.filter {
            event = event.filter(filter);
        }
        let result = self.bulk_update_inner(event.clone(), s, params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn bulk_update_inner(
        &self,
        event: super::context::EventBuilder,
        session: &AdminSession,
        params: BulkUpdateParams,
    ) -> OpResult<BulkUpdateResult> {
        let change = self.validate_bulk(&params, &session.username)?;
        if let Some(org) = &change.organization {
            session.require_in_scope("organization", org)?;
        }
        let dry_run = params.dry_run;
        let catalog = self.catalog.get().map(|s| s.models);
        let scope = session.scope();
        let (ids, filter) = (params.ids.map(dedup), params.filter);
        let describe = describe(&change);
        // Replacing or adding grants services, which must exist; removing one that does not
        // (left from before this rule) is how it is cleaned up.
        let grants: Vec<Grant> = params
            .services
            .iter()
            .filter(|c| c.op != SetOp::Remove)
            .map(|c| Grant::all("services.values", &c.values, None))
            .collect();
        let outcome = self
            .db
            .write(move |conn| {
                if let Some(err) = unknown_services(conn, &grants)? {
                    return Ok(Err(err));
                }
                let targets = match (&ids, &filter) {
                    (Some(ids), None) => {
                        let rows = within_scope(&scope, users::find_many(conn, ids)?);
                        if let Some(err) = missing_users(
                            ids,
                            rows.iter().map(|r| r.id.as_str()),
                            "nothing was changed",
                        ) {
                            return Ok(Err(err));
                        }
                        rows
                    }
                    (None, Some(filter)) => {
                        let filter = UserFilter {
                            scope: scope.clone(),
                            ..filter.clone()
                        };
                        let ids = users::matching_ids(conn, &filter, catalog.as_deref())?;
                        users::find_many(conn, &ids)?
                    }
                    _ => return Ok(Err(ApiError::invalid("ids", "give either ids or a filter"))),
                };
                let defaults = if change.touches_limits() {
                    let mut orgs: Vec<String> =
                        targets.iter().map(|r| r.organization.clone()).collect();
                    orgs.extend(change.organization.clone());
                    organizations::defaults_of(conn, &orgs)?
                } else {
                    HashMap::new()
                };
                let plan = plan(&targets, &change, &defaults, Utc::now())?;
                let summary = plan.summary(targets.len() as u64, dry_run);
                if dry_run {
                    // A preview changes nothing; it is still a view, recorded after this read.
                    let preview = event
                        .count(summary.changed)
                        .detail(format!("preview (dry run): {describe}"));
                    return Ok(Ok((summary, Some(preview.ok()))));
                }
                let captured = undo::capture(&targets);
                apply(conn, &plan)?;
                let changed = plan.changed_ids();
                // `apply` bumps each changed user's version by one.
                let states = undo::states_bumped(captured, &changed.iter().cloned().collect());
                let ev = event.users(changed).detail(describe).ok();
                let event_id = ev.row.id.clone();
                events::insert(conn, &[ev])?;
                undo::store(
                    conn,
                    &event_id,
                    &UndoRecord {
                        states,
                        ..UndoRecord::default()
                    },
                )?;
                Ok::<_, DbError>(Ok((summary, None)))
            })
            .await
            .map_err(audit_or)??;
        let (summary, preview) = outcome;
        if let Some(preview) = preview {
            self.audit
                .record(preview)
                .await
                .map_err(|_| audit_failed())?;
        }
        Ok(summary)
    }

    fn validate_bulk(&self, params: &BulkUpdateParams, actor: &str) -> OpResult<Change> {
        let mut problems = validate::Problems::default();
        match (&params.ids, &params.filter) {
            (Some(ids), None) => check_id_list("ids", ids, MAX_BULK_IDS)?,
            (None, Some(_)) => {}
            (Some(_), Some(_)) => problems.push("ids", "give either ids or filter, not both", None),
            (None, None) => problems.push("ids", "give ids or a filter to select users", None),
        }
        let team_configured = self.team_configured();
        let mut set_change = |field: &str, c: &Option<SetChange>| {
            c.as_ref().map(|c| {
                let values = format!("{field}.values");
                validate::set_members(&values, &c.values, None, &mut problems);
                // Taking `all-team-models` away is always allowed; giving it needs a team.
                if field == "models" && c.op != crate::api::types::SetOp::Remove {
                    validate::team_sentinel(
                        &values,
                        &c.values,
                        team_configured,
                        None,
                        &mut problems,
                    );
                }
                (c.op, NameSet::new(c.values.iter().cloned()))
            })
        };
        let models = set_change("models", &params.models);
        let services = set_change("services", &params.services);
        if let Some(org) = &params.organization {
            if let Err(msg) = validate::organization(org) {
                problems.push("organization", msg, None);
            }
        }
        let info_set = params.info_set.clone().unwrap_or_default();
        validate::info("info_set", &info_set, None, &mut problems);
        let info_unset = params.info_unset.clone().unwrap_or_default();
        limits::validate("limits", &params.limits, Utc::now(), None, &mut problems);
        if let Some(days) = params.extend_expiry_days {
            if days == 0 || days > limits::MAX_EXTEND_DAYS {
                problems.push(
                    "extend_expiry_days",
                    format!("give 1 to {} days", limits::MAX_EXTEND_DAYS),
                    None,
                );
            }
            if !params.limits.expires_at.is_keep() {
                problems.push(
                    "extend_expiry_days",
                    "give limits.expires_at or extend_expiry_days, not both",
                    None,
                );
            }
        }
        if let Some(suspend) = &params.suspend {
            limits::validate_suspend("suspend", suspend, &mut problems);
            if params.resume {
                problems.push("resume", "give suspend or resume, not both", None);
            }
        }
        if params.models.is_none()
            && params.services.is_none()
            && params.organization.is_none()
            && info_set.is_empty()
            && info_unset.is_empty()
            && !params.drop_unavailable_models
            && params.limits.is_empty()
            && params.extend_expiry_days.is_none()
            && params.suspend.is_none()
            && !params.resume
        {
            problems.push("models", "nothing to change: give models, services, organization, info_set, info_unset, drop_unavailable_models, limits, extend_expiry_days, suspend or resume", None);
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        let drop_unavailable = if params.drop_unavailable_models {
            let snapshot = self.catalog.get().ok_or_else(|| {
                ApiError::new(ErrorCode::Unavailable, "the model catalog has not been read from LiteLLM yet; try again when LiteLLM is reachable")
            })?;
            Some(snapshot.models.into_iter().collect())
        } else {
            None
        };
        Ok(Change {
            models,
            services,
            organization: params.organization.clone(),
            info_set,
            info_unset,
            drop_unavailable,
            limits: params.limits.clone(),
            extend_expiry_days: params.extend_expiry_days,
            suspend: params
                .suspend
                .as_ref()
                .map(|s| (db::now(), actor.to_string(), s.reason.trim().to_string())),
            resume: params.resume,
        })
    }
}

fn describe(change: &Change) -> String {
    let mut parts = Vec::new();
    if let Some((op, v)) = &change.models {
        parts.push(format!("models {op:?} {}", v.to_vec().join(",")).to_lowercase());
    }
    if let Some((op, v)) = &change.services {
        parts.push(format!("services {op:?} {}", v.to_vec().join(",")).to_lowercase());
    }
    if let Some(org) = &change.organization {
        parts.push(format!("organization={org}"));
    }
    if !change.info_set.is_empty() {
        parts.push(format!(
            "info_set {}",
            change
                .info_set
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if !change.info_unset.is_empty() {
        parts.push(format!("info_unset {}", change.info_unset.join(",")));
    }
    if change.drop_unavailable.is_some() {
        parts.push("drop unavailable models".into());
    }
    for (field, how) in change.limits.touched() {
        let how = match how {
            Setting::Clear => "none",
            Setting::Inherit => "inherit",
            _ => "set",
        };
        parts.push(format!("{} {how}", field.name()));
    }
    if let Some(days) = change.extend_expiry_days {
        parts.push(format!("extend expiry {days}d"));
    }
    if let Some((_, _, reason)) = &change.suspend {
        parts.push(format!("suspend: {reason}"));
    }
    if change.resume {
        parts.push("resume".into());
    }
    parts.join("; ")
}

/// What the change does, user by user.
#[derive(Debug, Default)]
struct Plan {
    /// Users whose row changes, grouped by their resulting state.
    groups: BTreeMap<NewState, Vec<String>>,
    /// Users whose key changes in LiteLLM (models, limits or suspension): they go pending and
    /// get a sync.
    resync: Vec<String>,
    model_rows_added: Vec<(String, String)>,
    model_rows_removed: BTreeMap<String, Vec<String>>,
    service_rows_added: Vec<(String, String)>,
    service_rows_removed: BTreeMap<String, Vec<String>>,
    info_changed: Vec<(String, Info)>,
    models_added: BTreeSet<String>,
    models_removed: BTreeSet<String>,
    /// Users whose last model the change takes away.
    emptied: u64,
    services_added: BTreeSet<String>,
    services_removed: BTreeSet<String>,
    limits_changed: u64,
    suspended: u64,
    resumed: u64,
    samples: Vec<UserChangeSample>,
}

impl Plan {
    fn changed_ids(&self) -> Vec<String> {
        self.groups.values().flatten().cloned().collect()
    }

    fn summary(&self, matched: u64, dry_run: bool) -> BulkUpdateResult {
        BulkUpdateResult {
            matched,
            changed: self.groups.values().map(|v| v.len() as u64).sum(),
            models_added: self.models_added.iter().cloned().collect(),
            models_removed: self.models_removed.iter().cloned().collect(),
            services_added: self.services_added.iter().cloned().collect(),
            services_removed: self.services_removed.iter().cloned().collect(),
            left_without_models: self.emptied,
            limits_changed: self.limits_changed,
            suspended: self.suspended,
            resumed: self.resumed,
            samples: self.samples.clone(),
            dry_run,
        }
    }
}

fn plan(
    targets: &[UserRow],
    change: &Change,
    defaults: &HashMap<String, KeyLimits>,
    now: DateTime<Utc>,
) -> Result<Plan, DbError> {
    let mut plan = Plan::default();
    for row in targets {
        let old_models = row.model_set()?;
        let mut models = match &change.models {
            Some((op, values)) => old_models.apply(*op, values),
            None => old_models.clone(),
        };
        if let Some(served) = &change.drop_unavailable {
            let gone: NameSet = models
                .iter()
                .filter(|m| !served.contains(*m) && !SENTINEL_MODELS.contains(&m.as_str()))
                .cloned()
                .collect();
            models = models.minus(&gone);
        }
        let old_services = row.service_set()?;
        let services = match &change.services {
            Some((op, values)) => old_services.apply(*op, values),
            None => old_services.clone(),
        };
        let old_info = row.info_map()?;
        let mut info = old_info.clone();
        for key in &change.info_unset {
            info.remove(key);
        }
        info.extend(change.info_set.clone());
        let organization = change
            .organization
            .clone()
            .unwrap_or_else(|| row.organization.clone());
        let old_limits = row.limits.limits();
        let new_limits = if change.touches_limits() {
            let inherited = defaults.get(&organization).cloned().unwrap_or_default();
            let mut limits = change.limits.clone();
            if let Some(days) = change.extend_expiry_days {
                limits.expires_at = match limits::extended(old_limits.values.expires_at, days, now)
                {
                    Some(at) => Setting::Set(at),
                    None => Setting::Keep,
                };
            }
            old_limits.changed(&limits, &inherited)
        } else {
            old_limits.clone()
        };
        let was_suspended = row.suspension.suspended_at.is_some();
        let suspension = match (&change.suspend, change.resume) {
            (Some(s), _) if !was_suspended => Some(Some(s.clone())),
            (None, true) if was_suspended => Some(None),
            _ => None,
        };

        if models == old_models
            && services == old_services
            && info == old_info
            && organization == row.organization
            && new_limits == old_limits
            && suspension.is_none()
        {
            continue;
        }
        let mut sample = Vec::new();
        let mut field = |name: &str, before: String, after: String| {
            if before != after {
                sample.push(FieldChange {
                    field: name.to_string(),
                    before,
                    after,
                });
            }
        };
        field(
            "organization",
            row.organization.clone(),
            organization.clone(),
        );
        field(
            "models",
            old_models.to_vec().join(","),
            models.to_vec().join(","),
        );
        field(
            "services",
            old_services.to_vec().join(","),
            services.to_vec().join(","),
        );
        field("info", info_json(&old_info), info_json(&info));
        for (name, before, after) in
            limits::describe_changes(&old_limits.values, &new_limits.values)
        {
            field(name, before, after);
        }
        if let Some(s) = &suspension {
            let to = if s.is_some() { "suspended" } else { "active" };
            let from = if was_suspended { "suspended" } else { "active" };
            field("suspended", from.into(), to.into());
        }
        if plan.samples.len() < SAMPLES {
            plan.samples.push(UserChangeSample {
                id: row.id.clone(),
                changes: sample,
            });
        }
        let limits_resync = new_limits.values != old_limits.values;
        if limits_resync {
            plan.limits_changed += 1;
        }
        match &suspension {
            Some(Some(_)) => plan.suspended += 1,
            Some(None) => plan.resumed += 1,
            None => {}
        }
        if models != old_models || limits_resync || suspension.is_some() {
            plan.resync.push(row.id.clone());
        }
        if models != old_models {
            if models.is_empty() {
                plan.emptied += 1;
            }
            for m in models.minus(&old_models).iter() {
                plan.model_rows_added.push((row.id.clone(), m.clone()));
                plan.models_added.insert(m.clone());
            }
            for m in old_models.minus(&models).iter() {
                plan.model_rows_removed
                    .entry(m.clone())
                    .or_default()
                    .push(row.id.clone());
                plan.models_removed.insert(m.clone());
            }
        }
        if services != old_services {
            for s in services.minus(&old_services).iter() {
                plan.service_rows_added.push((row.id.clone(), s.clone()));
                plan.services_added.insert(s.clone());
            }
            for s in old_services.minus(&services).iter() {
                plan.service_rows_removed
                    .entry(s.clone())
                    .or_default()
                    .push(row.id.clone());
                plan.services_removed.insert(s.clone());
            }
        }
        if info != old_info {
            plan.info_changed.push((row.id.clone(), info.clone()));
        }
        let state = NewState {
            organization: change.organization.is_some().then_some(organization),
            models: (change.models.is_some() || change.drop_unavailable.is_some())
                .then(|| models.to_json()),
            services: change.services.is_some().then(|| services.to_json()),
            info: (!change.info_set.is_empty() || !change.info_unset.is_empty())
                .then(|| info_json(&info)),
            limits: (new_limits != old_limits)
                .then(|| OrderedLimits(LimitColumns::of(&new_limits))),
            suspension,
        };
        plan.groups.entry(state).or_default().push(row.id.clone());
    }
    Ok(plan)
}

fn apply(conn: &mut DbConn, plan: &Plan) -> Result<(), DbError> {
    let now = db::now();
    let resync: HashSet<&str> = plan.resync.iter().map(String::as_str).collect();
    for (state, ids) in &plan.groups {
        // Users of one state whose key changes go pending; the rest keep their key status.
        let (pending, unchanged_key): (Vec<String>, Vec<String>) = ids
            .iter()
            .cloned()
            .partition(|id| resync.contains(id.as_str()));
        for (ids, to_pending) in [(pending, true), (unchanged_key, false)] {
            if ids.is_empty() {
                continue;
            }
            let mut changes = UserChanges {
                search_org: state.organization.as_deref().map(users::search_text),
                organization: state.organization.clone(),
                models: state.models.clone(),
                services: state.services.clone(),
                info: state.info.clone(),
                key_status: to_pending.then_some(KeyStatus::Pending.into()),
                key_error: to_pending.then_some(None),
                updated_at: Some(now),
                ..UserChanges::default()
            };
            if let Some(limits) = &state.limits {
                changes.set_limits(&limits.0);
            }
            if let Some(suspension) = &state.suspension {
                changes.set_suspension(suspension.clone());
            }
            users::update_many(conn, &ids, &changes)?;
        }
    }
    for (model, ids) in &plan.model_rows_removed {
        users::delete_model_rows(conn, ids, Some(std::slice::from_ref(model)))?;
    }
    users::insert_model_rows(conn, &plan.model_rows_added)?;
    for (service, ids) in &plan.service_rows_removed {
        users::delete_service_rows(conn, ids, Some(std::slice::from_ref(service)))?;
    }
    users::insert_service_rows(conn, &plan.service_rows_added)?;
    if !plan.info_changed.is_empty() {
        let ids: Vec<String> = plan.info_changed.iter().map(|(id, _)| id.clone()).collect();
        users::delete_info_rows(conn, &ids, None)?;
        let rows: Vec<(String, String, String)> = plan
            .info_changed
            .iter()
            .flat_map(|(id, info)| {
                info.iter()
                    .map(move |(k, v)| (id.clone(), k.clone(), v.clone()))
            })
            .collect();
        users::insert_info_rows(conn, &rows)?;
    }
    let ops: Vec<NewOp> = plan.resync.iter().map(|id| NewOp::sync(id)).collect();
    outbox::enqueue(conn, &ops, now)?;
    Ok(())
}
