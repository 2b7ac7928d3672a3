//! The trash (issue 18): a delete moves users to `users_trash` and blocks their keys in
//! LiteLLM; `users.restore` brings them back with the same key (unblocked by their sync);
//! `users.purge`, or their time running out, deletes them and their keys for good. Each is one
//! transaction with its outbox operations and its event, so a kill at any point loses nothing:
//! the operations run once the daemon is back.

use std::collections::HashSet;

use chrono::Duration;
use diesel::prelude::*;

use super::auth::{audit_or, AdminSession};
use super::context::EventBuilder;
use super::user_input::{check_id_list, dedup, missing_users, within_scope, MAX_BULK_IDS};
use super::{Ctx, Mama, OpResult};
use crate::api::actions;
use crate::api::rpc::{method, Method};
use crate::api::types::{
    KeyStatus, ListTrashParams, Page, Scope, TrashColumn, TrashIdsParams, TrashList, TrashedUser,
    UsersDeleted, UsersPurged, UsersRestored,
};
use crate::api::ApiError;
use crate::db::outbox::{self, NewOp};
use crate::db::schema::users as users_table;
use crate::db::trash::{self, TrashQuery, TrashRow};
use crate::db::undo::{self, UndoRecord};
use crate::db::usage::store as usage_store;
use crate::db::users::{self, StoredKeyStatus};
use crate::db::{self, events, services, DbConn, DbError};
use crate::domain::NameSet;

/// Trashed users purged per transaction when their time runs out.
const PURGE_BATCH: i64 = 1000;

fn view(row: TrashRow) -> TrashedUser {
    TrashedUser {
        models: NameSet::from_json(&row.models)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default(),
        id: row.id,
        organization: row.organization,
        key_hint: row.key_hint,
        deleted_at: row.deleted_at.and_utc(),
        deleted_by: row.deleted_by,
        purge_after: row.purge_after.and_utc(),
    }
}

/// The keys a purge deletes: the current one and any a rotation left.
fn keys_of(row: &TrashRow) -> impl Iterator<Item = String> + '_ {
    [
        row.key_hash.clone(),
        row.prev_key_hash.clone(),
        row.retiring_key_hash.clone(),
    ]
    .into_iter()
    .flatten()
}

/// Purges `rows` in the caller's transaction: their keys' deletion queued, the users gone.
fn purge_rows(conn: &mut DbConn, rows: &[TrashRow]) -> Result<usize, DbError> {
    let now = db::now();
    let ops: Vec<NewOp> = rows
        .iter()
        .flat_map(|r| {
            keys_of(r)
                .map(|h| NewOp::delete(&r.id, &h))
                .collect::<Vec<_>>()
        })
        .collect();
    let hashes: Vec<String> = ops.iter().filter_map(|op| op.key_hash.clone()).collect();
    // The keys stop here; their hashes and usage stay (history outlives the user).
    usage_store::retire_keys(conn, &hashes, now)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    outbox::forget_syncs_of(conn, &ids)?;
    outbox::enqueue(conn, &ops, now)?;
    trash::purge(conn, &ids)
}

impl Mama {
    /// `users.delete` with a trash: the users move there, their current keys are blocked in
    /// LiteLLM, keys a rotation left behind are deleted now.
    pub(crate) async fn trash_users(
        &self,
        event: EventBuilder,
        scope: Scope,
        actor: &str,
        ids: Vec<String>,
    ) -> OpResult<UsersDeleted> {
        let now = db::now();
        let purge_after = now + Duration::days(i64::from(self.config.trash_days));
        let actor = actor.to_string();
        self.db
            .write(move |conn| {
                let rows = within_scope(&scope, users::find_many(conn, &ids)?);
                if let Some(err) = missing_users(
                    &ids,
                    rows.iter().map(|r| r.id.as_str()),
                    "nothing was deleted",
                ) {
                    return Ok(Err(err));
                }
                let moved = move_to_trash(conn, &rows, &actor, now, purge_after)?;
                let detail = format!(
                    "moved to the trash, keys blocked; purged after {}",
                    purge_after.format("%Y-%m-%d %H:%M UTC")
                );
                let done = event.detail(detail).ok();
                let event_id = done.row.id.clone();
                events::insert(conn, &[done])?;
                let record = UndoRecord {
                    trashed: ids.clone(),
                    ..UndoRecord::default()
                };
                undo::store(conn, &event_id, &record)?;
                Ok::<_, DbError>(Ok(UsersDeleted {
                    deleted: moved as u64,
                    purge_after: Some(purge_after.and_utc()),
                }))
            })
            .await
            .map_err(audit_or)?
    }

    /// `users.trash`: a page of the trash, within the account's scope.
    pub async fn list_trash(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: ListTrashParams,
    ) -> OpResult<TrashList> {
        let event = ctx.event(method::UsersTrash::ACTION);
        let result = self.list_trash_inner(s.scope(), params).await;
        self.finish_read(event, result, |e, list| e.count(list.users.len() as u64))
            .await
    }

    async fn list_trash_inner(&self, scope: Scope, params: ListTrashParams) -> OpResult<TrashList> {
        let Page { offset, limit } = params.page;
        if limit == 0 || limit > Page::MAX_LIMIT {
            return Err(ApiError::invalid(
                "page.limit",
                format!("must be 1 to {}", Page::MAX_LIMIT),
            ));
        }
        let column = match params.sort.column {
            TrashColumn::Id => trash::TrashColumn::Id,
            TrashColumn::Organization => trash::TrashColumn::Organization,
            TrashColumn::DeletedAt => trash::TrashColumn::DeletedAt,
            TrashColumn::PurgeAfter => trash::TrashColumn::PurgeAfter,
        };
        let query = TrashQuery {
            text: params.text,
            column,
            descending: params
                .sort
                .descending
                .unwrap_or(params.sort.column == TrashColumn::DeletedAt),
            offset,
            limit,
            scope,
        };
        let (rows, matching) = self
            .db
            .read(move |conn| trash::page(conn, &query))
            .await
            .map_err(ApiError::from)?;
        Ok(TrashList {
            users: rows.into_iter().map(view).collect(),
            matching,
            offset,
            limit,
        })
    }

    /// `users.restore`: back with the same key, unblocked by the sync it queues. Services
    /// deleted meanwhile are not granted again.
    pub async fn restore_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: TrashIdsParams,
    ) -> OpResult<UsersRestored> {
        let event = ctx
            .event(method::UsersRestore::ACTION)
            .users(params.ids.clone());
        let result = self.restore_inner(event.clone(), s.scope(), params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn restore_inner(
        &self,
        event: EventBuilder,
        scope: Scope,
        params: TrashIdsParams,
    ) -> OpResult<UsersRestored> {
        check_id_list("ids", &params.ids, MAX_BULK_IDS)?;
        let ids = dedup(params.ids);
        self.db
            .write(move |conn| {
                let found = trash::find_many(conn, &ids, &scope)?;
                if let Some(err) = missing_users(
                    &ids,
                    found.iter().map(|r| r.id.as_str()),
                    "nothing was restored (they are not in the trash)",
                ) {
                    return Ok(Err(err));
                }
                let restored = restore_from_trash(conn, &ids, db::now())?;
                let done = event.ok();
                let event_id = done.row.id.clone();
                events::insert(conn, &[done])?;
                // Undoing a restore moves the users back to the trash.
                let created = undo::versions(conn, &ids)?.into_iter().collect();
                let record = UndoRecord {
                    created,
                    ..UndoRecord::default()
                };
                undo::store(conn, &event_id, &record)?;
                Ok::<_, DbError>(Ok(UsersRestored {
                    restored: restored as u64,
                }))
            })
            .await
            .map_err(audit_or)?
    }

    /// `users.purge`: trashed users and their keys, gone for good.
    pub async fn purge_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: TrashIdsParams,
    ) -> OpResult<UsersPurged> {
        let event = ctx
            .event(method::UsersPurge::ACTION)
            .users(params.ids.clone());
        let result = self.purge_inner(event.clone(), s.scope(), params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn purge_inner(
        &self,
        event: EventBuilder,
        scope: Scope,
        params: TrashIdsParams,
    ) -> OpResult<UsersPurged> {
        check_id_list("ids", &params.ids, MAX_BULK_IDS)?;
        let ids = dedup(params.ids);
        self.db
            .write(move |conn| {
                let found = trash::find_many(conn, &ids, &scope)?;
                if let Some(err) = missing_users(
                    &ids,
                    found.iter().map(|r| r.id.as_str()),
                    "nothing was purged (they are not in the trash)",
                ) {
                    return Ok(Err(err));
                }
                let purged = purge_rows(conn, &found)?;
                events::insert(conn, &[event.detail("deleted for good, keys deleted").ok()])?;
                Ok::<_, DbError>(Ok(UsersPurged {
                    purged: purged as u64,
                }))
            })
            .await
            .map_err(audit_or)?
    }

    /// Purges the trashed users whose time ran out, a batch per transaction, each batch one
    /// `users.purge` event of the daemon. Returns how many went.
    pub async fn purge_due_trash(&self) -> OpResult<u64> {
        let mut total = 0u64;
        loop {
            let ctx = Ctx::system("trash");
            let done = self
                .db
                .write(move |conn| {
                    let ids = trash::due(conn, db::now(), PURGE_BATCH)?;
                    if ids.is_empty() {
                        return Ok::<_, DbError>(0);
                    }
                    let rows = trash::find_many(conn, &ids, &None)?;
                    let purged = purge_rows(conn, &rows)?;
                    let event = ctx
                        .event(actions::USERS_PURGE_DUE)
                        .users(ids.iter())
                        .detail("their time in the trash ran out; deleted for good, keys deleted")
                        .ok();
                    events::insert(conn, &[event])?;
                    Ok(purged)
                })
                .await
                .map_err(audit_or)?;
            total += done as u64;
            if (done as i64) < PURGE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// Moves `rows` (existing users) to the trash in the caller's transaction: their current keys'
/// blocking and the deletion of keys a rotation left are queued. Returns how many moved.
pub(crate) fn move_to_trash(
    conn: &mut DbConn,
    rows: &[crate::db::users::UserRow],
    actor: &str,
    now: chrono::NaiveDateTime,
    purge_after: chrono::NaiveDateTime,
) -> Result<usize, DbError> {
    let mut ops = Vec::new();
    let mut superseded = Vec::new();
    for r in rows {
        if let Some(h) = &r.key_hash {
            ops.push(NewOp::block(&r.id, h));
        }
        for h in [&r.prev_key_hash, &r.retiring_key_hash]
            .into_iter()
            .flatten()
        {
            ops.push(NewOp::delete(&r.id, h));
            superseded.push(h.clone());
        }
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let moved = trash::move_in(conn, &ids, now, actor, purge_after)?;
    usage_store::retire_keys(conn, &superseded, now)?;
    outbox::enqueue(conn, &ops, now)?;
    Ok(moved)
}

/// Brings the trashed users `ids` back in the caller's transaction, with the same key, pushed
/// whole to LiteLLM by the sync it queues (which unblocks it). Returns how many came back.
pub(crate) fn restore_from_trash(
    conn: &mut DbConn,
    ids: &[String],
    now: chrono::NaiveDateTime,
) -> Result<usize, DbError> {
    let restored = trash::move_out(conn, ids)?;
    // The keys a rotation left were deleted with the move to the trash; the current key is
    // pushed whole (nothing is taken as already in LiteLLM).
    for chunk in ids.chunks(db::CHUNK) {
        diesel::update(users_table::table.filter(users_table::id.eq_any(chunk)))
            .set((
                users_table::version.eq(users_table::version + 1),
                users_table::key_status.eq(StoredKeyStatus(KeyStatus::Pending)),
                users_table::key_error.eq(None::<String>),
                users_table::synced_models.eq(None::<String>),
                users_table::synced_limits.eq(None::<String>),
                users_table::prev_key_hash.eq(None::<String>),
                users_table::prev_key_ciphertext.eq(None::<Vec<u8>>),
                users_table::retiring_key_hash.eq(None::<String>),
                users_table::retiring_until.eq(None::<chrono::NaiveDateTime>),
                users_table::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    rebuild_sets(conn, ids)?;
    let ops: Vec<NewOp> = ids.iter().map(|id| NewOp::sync(id)).collect();
    outbox::enqueue(conn, &ops, now)?;
    Ok(restored)
}

/// Rebuilds the set tables of restored users from their rows, granting only services that
/// still exist (a deleted service's grants went with it, as for every user).
pub(crate) fn rebuild_sets(conn: &mut DbConn, ids: &[String]) -> Result<(), DbError> {
    let rows = users::find_many(conn, ids)?;
    let mut wanted_services: Vec<String> = Vec::new();
    for r in &rows {
        wanted_services.extend(r.service_set()?.iter().cloned());
    }
    let existing: HashSet<String> = services::existing(conn, &wanted_services)?;
    let (mut models, mut grants, mut infos) = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        models.extend(r.model_set()?.iter().map(|m| (r.id.clone(), m.clone())));
        let held = r.service_set()?;
        let kept = NameSet::new(held.iter().filter(|s| existing.contains(*s)).cloned());
        if kept != held {
            diesel::update(users_table::table.filter(users_table::id.eq(&r.id)))
                .set(users_table::services.eq(kept.to_json()))
                .execute(conn)?;
        }
        grants.extend(kept.iter().map(|s| (r.id.clone(), s.clone())));
        infos.extend(r.info_map()?.into_iter().map(|(k, v)| (r.id.clone(), k, v)));
    }
    users::insert_model_rows(conn, &models)?;
    users::insert_service_rows(conn, &grants)?;
    users::insert_info_rows(conn, &infos)?;
    Ok(())
}
