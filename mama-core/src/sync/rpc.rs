//! The admin use cases of the sync: `models.list`, `sync.status`, `sync.reconcile` and
//! `users.rotate_keys`. Each records its event like every other use case.

use crate::api::rpc::{method, Method};
use std::collections::BTreeMap;

use diesel::prelude::*;

use super::store;
use crate::api::types::{
    FailedRetried, KeyStatus, KeysRotated, ModelList, ModelView, ModelsListParams,
    ReconcileSummary, RetryFailedParams, RotateKeysParams, SyncStatus, UserFilter,
};
use crate::api::{ApiError, ErrorCode};
use crate::auth::hash_token;
use crate::crypto::{mint_virtual_key, user_key_aad};
use crate::db::schema::users;
use crate::db::users::{self as user_db, SENTINEL_MODELS};
use crate::db::{self, events, outbox, DbError};
use crate::ops::auth::AdminSession;
use crate::ops::users::{check_id_list, dedup, key_hint, missing_users, MAX_USERS_PER_CALL};
use crate::ops::{Ctx, Mama, OpResult};

fn not_configured() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "LiteLLM is not configured on this daemon (--litellm-url, --litellm-master-key-file)",
    )
}

impl Mama {
    /// `models.list`: the catalog (optionally re-read from LiteLLM now) next to how many users
    /// hold each model.
    pub async fn list_models(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: ModelsListParams,
    ) -> OpResult<ModelList> {
        let result = self.list_models_inner(params).await;
        self.finish_read(ctx.event(method::ModelsList::ACTION), result, |e, _| e)
            .await
    }

    async fn list_models_inner(&self, params: ModelsListParams) -> OpResult<ModelList> {
        if params.refresh {
            let engine = self.sync.engine().ok_or_else(not_configured)?;
            let listed = engine.client.list_models().await;
            self.sync.observed(listed.as_ref().map(|_| ()));
            let models = listed.map_err(|e| {
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!("LiteLLM could not be read: {e}"),
                )
            })?;
            self.catalog.set(models);
        }
        let snapshot = self.catalog.get();
        let catalog = snapshot.as_ref().map(|s| s.models.clone());
        let filter = UserFilter {
            unavailable_models: true,
            ..UserFilter::default()
        };
        let cat = catalog.clone();
        let (usage, with_unavailable) = self
            .db
            .read(move |c| {
                let usage = user_db::model_usage(c)?;
                let n: i64 = user_db::filtered(&filter, cat.as_deref())
                    .count()
                    .get_result(c)?;
                Ok::<_, DbError>((usage, n as u64))
            })
            .await?;
        let mut by_name: BTreeMap<String, ModelView> = BTreeMap::new();
        for name in catalog.iter().flatten() {
            by_name.insert(
                name.clone(),
                ModelView {
                    name: name.clone(),
                    available: true,
                    users: 0,
                },
            );
        }
        for (name, n) in usage {
            let available = catalog.is_none()
                || SENTINEL_MODELS.contains(&name.as_str())
                || by_name.contains_key(&name);
            by_name
                .entry(name.clone())
                .or_insert(ModelView {
                    name,
                    available,
                    users: 0,
                })
                .users = n as u64;
        }
        Ok(ModelList {
            models: by_name.into_values().collect(),
            fetched_at: snapshot.map(|s| s.fetched_at),
            users_with_unavailable: with_unavailable,
        })
    }

    /// `sync.status`: queue depth, pending and failed users, LiteLLM's last known reachability.
    pub async fn sync_status(&self, ctx: &Ctx, _s: &AdminSession) -> OpResult<SyncStatus> {
        let result = self
            .db
            .read(|c| {
                Ok::<_, DbError>((
                    outbox::depth(c)?,
                    user_db::count_by_status(c, KeyStatus::Pending)?,
                    user_db::count_by_status(c, KeyStatus::Failed)?,
                ))
            })
            .await
            .map_err(ApiError::from)
            .map(|(queue_depth, users_pending, users_failed)| {
                let link = self.sync.link();
                SyncStatus {
                    configured: self.sync.engine().is_some(),
                    team_configured: self.team_configured(),
                    litellm_reachable: link.reachable,
                    litellm_error: link.error,
                    queue_depth,
                    users_pending,
                    users_failed,
                    last_reconcile_at: self.sync.last_reconcile(),
                }
            });
        self.finish_read(ctx.event(method::SyncStatus::ACTION), result, |e, _| e)
            .await
    }

    /// `sync.reconcile`: runs the reconciler now and returns what it repaired.
    pub async fn sync_reconcile(&self, ctx: &Ctx, _s: &AdminSession) -> OpResult<ReconcileSummary> {
        let Some(engine) = self.sync.engine().cloned() else {
            let err = not_configured();
            self.audit
                .record_failure(ctx.event(method::SyncReconcile::ACTION).failed(&err))
                .await;
            return Err(err);
        };
        // The reconciler records its own event (ok or failed).
        super::reconcile::run(self, &engine, ctx)
            .await
            .map_err(ApiError::from)
    }

    /// `sync.retry_failed`: queues failed users (all, or those among `ids`) to be tried again at
    /// once, in one transaction with the event. They show `pending` (keeping their last reason)
    /// until the worker settles them.
    pub async fn retry_failed(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: RetryFailedParams,
    ) -> OpResult<FailedRetried> {
        let event = ctx.event(method::SyncRetryFailed::ACTION);
        let result = self.retry_failed_inner(event.clone(), params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn retry_failed_inner(
        &self,
        event: crate::ops::context::EventBuilder,
        params: RetryFailedParams,
    ) -> OpResult<FailedRetried> {
        if self.sync.engine().is_none() {
            return Err(not_configured());
        }
        let among = match params.ids {
            Some(ids) => {
                check_id_list("ids", &ids, MAX_USERS_PER_CALL)?;
                Some(dedup(ids))
            }
            None => None,
        };
        self.db
            .write(move |conn| {
                let ids = user_db::ids_with_status(conn, KeyStatus::Failed, among.as_deref())?;
                store::requeue(conn, &ids, db::now())?;
                let retried = ids.len() as u64;
                let event = event
                    .users(ids)
                    .detail(format!("{retried} failed users queued to be tried again"));
                events::insert(conn, &[event.ok()])?;
                Ok::<_, DbError>(FailedRetried { retried })
            })
            .await
            .map_err(crate::ops::auth::audit_or)
    }

    /// `users.rotate_keys`: mints a new key for each user and queues its creation, in one
    /// transaction with the event. The key that works stays what services get until LiteLLM has
    /// confirmed the new one: the worker creates the new key (renaming the old key's alias out of
    /// the way first), and only when it is confirmed does the user switch to it and the old key's
    /// deletion get queued (see `store::mark_active`).
    pub async fn rotate_keys(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: RotateKeysParams,
    ) -> OpResult<KeysRotated> {
        let event = ctx
            .event(method::UsersRotateKeys::ACTION)
            .users(params.ids.clone());
        let result = self.rotate_keys_inner(event.clone(), params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn rotate_keys_inner(
        &self,
        event: crate::ops::context::EventBuilder,
        params: RotateKeysParams,
    ) -> OpResult<KeysRotated> {
        check_id_list("ids", &params.ids, MAX_USERS_PER_CALL)?;
        let ids = dedup(params.ids);
        let cipher = self.cipher.clone();
        self.db
            .write(move |conn| {
                let rows = user_db::find_many(conn, &ids)?;
                if let Some(err) = missing_users(
                    &ids,
                    rows.iter().map(|r| r.id.as_str()),
                    "no key was rotated",
                ) {
                    return Ok(Err(err));
                }
                let now = db::now();
                let mut ops = Vec::new();
                for row in &rows {
                    let key = mint_virtual_key();
                    let plain = key.expose();
                    let (keep, drop) = rotation_plan(row);
                    // The key being dropped may exist in LiteLLM (created but never confirmed):
                    // delete it before the new key is created under the same alias.
                    if let Some(dropped) = &drop {
                        ops.push(store::delete_op(&row.id, dropped));
                    }
                    let (prev_ciphertext, prev_hash) = match keep {
                        Keep::Current => (row.key_ciphertext.clone(), row.key_hash.clone()),
                        Keep::Previous => (
                            row_prev_ciphertext(conn, &row.id)?,
                            row.prev_key_hash.clone(),
                        ),
                        Keep::Nothing => (None, None),
                    };
                    diesel::update(users::table.filter(users::id.eq(&row.id)))
                        .set((
                            users::key_ciphertext
                                .eq(Some(cipher.encrypt(plain, &user_key_aad(&row.id)))),
                            users::key_hash.eq(Some(hash_token(plain))),
                            users::key_hint.eq(Some(key_hint(plain))),
                            users::prev_key_ciphertext.eq(prev_ciphertext),
                            users::prev_key_hash.eq(prev_hash),
                            users::synced_models.eq(None::<String>),
                            users::key_status.eq(KeyStatus::Pending.as_str()),
                            users::key_error.eq(None::<String>),
                            users::updated_at.eq(now),
                            users::version.eq(users::version + 1),
                        ))
                        .execute(conn)?;
                    ops.push(outbox::NewOp {
                        user_id: row.id.clone(),
                        kind: outbox::KIND_SYNC,
                        key_hash: None,
                    });
                }
                outbox::enqueue(conn, &ops, now)?;
                events::insert(conn, &[event.ok()])?;
                Ok::<_, DbError>(Ok(KeysRotated {
                    rotated: rows.len() as u64,
                }))
            })
            .await
            .map_err(crate::ops::auth::audit_or)?
    }
}

/// Which key a rotation keeps serving until LiteLLM confirms the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The current key works (LiteLLM confirmed it): it becomes the previous key.
    Current,
    /// An earlier rotation is still unconfirmed: its previous key is the one that works.
    Previous,
    /// No key of the user was ever confirmed: there is nothing working to keep.
    Nothing,
}

/// What a rotation keeps serving, and which unconfirmed key it drops (its deletion is queued).
fn rotation_plan(row: &user_db::UserRow) -> (Keep, Option<String>) {
    if row.prev_key_hash.is_some() {
        (Keep::Previous, row.key_hash.clone())
    } else if row.synced_models.is_some() && row.key_hash.is_some() {
        (Keep::Current, None)
    } else {
        (Keep::Nothing, row.key_hash.clone())
    }
}

fn row_prev_ciphertext(conn: &mut db::DbConn, id: &str) -> Result<Option<Vec<u8>>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id))
        .select(users::prev_key_ciphertext)
        .first(conn)?)
}
