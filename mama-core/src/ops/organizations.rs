//! Organizations' default limits: `organizations.list` and `organizations.set_defaults`.
//!
//! A user holds the limits that apply to it (lists sort and filter on them directly) and the
//! names of those it set itself; every other field follows its organization. Changing a default
//! therefore rewrites the inheriting users' columns, set-based like a bulk change (one `UPDATE`
//! per resulting state and chunk of ids), queues their keys for LiteLLM, and records one event,
//! all in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use super::auth::{audit_or, AdminSession};
use super::{audit_failed, Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{
    DefaultsSet, KeyLimits, KeyStatus, LimitsChange, OrganizationList, OrganizationView,
    SetDefaultsParams,
};
use crate::api::ApiError;
use crate::db::outbox::{self, NewOp};
use crate::db::undo::{self, UndoRecord};
use crate::db::users::limits::{LimitColumns, OrderedLimits};
use crate::db::users::{self, UserChanges};
use crate::db::{self, events, organizations, DbError};
use crate::domain::{limits, validate};

impl Mama {
    pub async fn list_organizations(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
    ) -> OpResult<OrganizationList> {
        let scope = s.scope();
        let result = self
            .db
            .read(|conn| {
                let counts = organizations::user_counts(conn)?;
                let defaults = organizations::all(conn)?;
                Ok::<_, DbError>((counts, defaults))
            })
            .await
            .map_err(ApiError::from)
            .map(|(counts, defaults)| {
                let mut by_name: BTreeMap<String, OrganizationView> = BTreeMap::new();
                for (name, n) in counts {
                    by_name.insert(
                        name.clone(),
                        OrganizationView {
                            name,
                            users: n.max(0) as u64,
                            defaults: KeyLimits::default(),
                        },
                    );
                }
                for (name, limits) in defaults {
                    by_name
                        .entry(name.clone())
                        .or_insert_with(|| OrganizationView {
                            name,
                            users: 0,
                            defaults: KeyLimits::default(),
                        })
                        .defaults = limits;
                }
                // A scoped account sees only its organizations (a few rows of a small table).
                let organizations = by_name
                    .into_values()
                    .filter(|o| crate::api::types::in_scope(&scope, &o.name))
                    .collect();
                OrganizationList { organizations }
            });
        let event = ctx.event(method::OrganizationsList::ACTION);
        self.finish_read(event, result, |e, list| {
            e.count(list.organizations.len() as u64)
        })
        .await
    }

    pub async fn set_organization_defaults(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: SetDefaultsParams,
    ) -> OpResult<DefaultsSet> {
        let event = ctx
            .event(method::OrganizationsSetDefaults::ACTION)
            .detail(format!("organization {:?}", params.name));
        let result = match s.require_in_scope("name", &params.name) {
            Ok(()) => self.set_defaults_inner(event.clone(), params).await,
            Err(err) => Err(err),
        };
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn set_defaults_inner(
        &self,
        event: super::context::EventBuilder,
        params: SetDefaultsParams,
    ) -> OpResult<DefaultsSet> {
        let mut problems = validate::Problems::default();
        if let Err(msg) = validate::organization(&params.name) {
            problems.push("name", msg, None);
        }
        let as_change = LimitsChange::set_all(&params.defaults);
        limits::validate(
            "defaults",
            &as_change,
            chrono::Utc::now(),
            None,
            &mut problems,
        );
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        let SetDefaultsParams {
            name,
            defaults,
            dry_run,
        } = params;
        let outcome = self
            .db
            .write(move |conn| {
                let before = organizations::defaults(conn, &name)?;
                let members = organizations::member_limits(conn, &name)?;
                // Only inherited fields follow: the user's own values stay.
                let mut groups: BTreeMap<OrderedLimits, Vec<String>> = BTreeMap::new();
                for (id, columns) in &members {
                    let old = columns.limits();
                    let new = old.changed(&LimitsChange::default(), &defaults);
                    if new.values != old.values {
                        groups
                            .entry(OrderedLimits(LimitColumns::of(&new)))
                            .or_default()
                            .push(id.clone());
                    }
                }
                let changed: Vec<String> = groups.values().flatten().cloned().collect();
                let result = DefaultsSet {
                    name: name.clone(),
                    defaults: defaults.clone(),
                    users_changed: changed.len() as u64,
                    users_unaffected: (members.len() - changed.len()) as u64,
                    dry_run,
                };
                let describe = describe(&before, &defaults);
                if dry_run {
                    let preview = event
                        .clone()
                        .count(result.users_changed)
                        .detail(format!("preview (dry run) of {name:?}: {describe}"));
                    return Ok((result, Some(preview.ok())));
                }
                let captured = undo::capture(&users::find_many(conn, &changed)?);
                organizations::set(conn, &name, &defaults)?;
                let now = db::now();
                for (limits, ids) in &groups {
                    let mut changes = UserChanges {
                        key_status: Some(KeyStatus::Pending.into()),
                        key_error: Some(None),
                        updated_at: Some(now),
                        ..UserChanges::default()
                    };
                    changes.set_limits(&limits.0);
                    users::update_many(conn, ids, &changes)?;
                }
                let ops: Vec<NewOp> = changed.iter().map(|id| NewOp::sync(id)).collect();
                outbox::enqueue(conn, &ops, now)?;
                let done = event
                    .users(changed)
                    .detail(format!("organization {name:?}: {describe}"))
                    .ok();
                let event_id = done.row.id.clone();
                events::insert(conn, &[done])?;
                let record = UndoRecord {
                    states: undo::states_after(conn, captured)?,
                    defaults: Some((name.clone(), before.clone())),
                    ..UndoRecord::default()
                };
                undo::store(conn, &event_id, &record)?;
                Ok::<_, DbError>((result, None))
            })
            .await
            .map_err(audit_or)?;
        let (result, preview) = outcome;
        if let Some(preview) = preview {
            self.audit
                .record(preview)
                .await
                .map_err(|_| audit_failed())?;
        }
        Ok(result)
    }
}

/// The defaults that change, as `field before → after`, or "no change".
fn describe(before: &KeyLimits, after: &KeyLimits) -> String {
    let changes: BTreeSet<String> = limits::describe_changes(before, after)
        .into_iter()
        .map(|(field, b, a)| format!("{field} {b} → {a}"))
        .collect();
    if changes.is_empty() {
        "no change".into()
    } else {
        changes.into_iter().collect::<Vec<_>>().join("; ")
    }
}
