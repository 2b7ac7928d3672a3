//! `users.rotate_keys`: a new key for each user, switched to only once LiteLLM holds it, so the
//! key services get always works.

use diesel::prelude::*;

use super::auth::{audit_or, AdminSession};
use super::context::EventBuilder;
use super::users::{
    check_id_list, dedup, key_hint, missing_users, within_scope, MAX_USERS_PER_CALL,
};
use super::{Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{KeyStatus, KeysRotated, RotateKeysParams, Scope};
use crate::api::ApiError;
use crate::auth::hash_token;
use crate::crypto::{mint_virtual_key, user_key_aad};
use crate::db::outbox::{self, NewOp};
use crate::db::schema::users;
use crate::db::usage::store as usage_store;
use crate::db::users::{self as user_db, StoredKeyStatus, UserRow};
use crate::db::{self, events, DbError};

/// The longest grace a rotation may give the old key: a week.
pub const MAX_GRACE_MINUTES: u32 = 7 * 24 * 60;

impl Mama {
    /// `users.rotate_keys`: mints a new key for each user and queues its creation, in one
    /// transaction with the event. The key that works stays what services get until LiteLLM has
    /// confirmed the new one: the worker creates the new key (renaming the old key's alias out of
    /// the way first), and only when it is confirmed does the user switch to it and the old key's
    /// deletion get queued (see `crate::sync::store::mark_active`).
    pub async fn rotate_keys(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: RotateKeysParams,
    ) -> OpResult<KeysRotated> {
        let event = ctx
            .event(method::UsersRotateKeys::ACTION)
            .users(params.ids.clone());
        let result = self
            .rotate_keys_inner(event.clone(), s.scope(), params)
            .await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn rotate_keys_inner(
        &self,
        event: EventBuilder,
        scope: Scope,
        params: RotateKeysParams,
    ) -> OpResult<KeysRotated> {
        check_id_list("ids", &params.ids, MAX_USERS_PER_CALL)?;
        let grace_secs = match params.grace_minutes {
            Some(minutes) if minutes > MAX_GRACE_MINUTES => {
                return Err(ApiError::invalid(
                    "grace_minutes",
                    format!("give 0 to {MAX_GRACE_MINUTES} minutes (a week)"),
                ))
            }
            Some(minutes) => i64::from(minutes) * 60,
            None => self.config.rotation_grace.as_secs() as i64,
        };
        let ids = dedup(params.ids);
        let cipher = self.cipher.clone();
        self.db
            .write(move |conn| {
                let rows = within_scope(&scope, user_db::find_many(conn, &ids)?);
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
                    rotate_row(conn, &cipher, row, grace_secs, now, None, &mut ops)?;
                }
                outbox::enqueue(conn, &ops, now)?;
                events::insert(conn, &[event.ok()])?;
                Ok::<_, DbError>(Ok(KeysRotated {
                    rotated: rows.len() as u64,
                }))
            })
            .await
            .map_err(audit_or)?
    }
}

/// A new key for `row`, in the caller's transaction; its operations go to `ops`. With
/// `only_if_rotated_at`, the user is rotated only if its last rotation is still that one (a
/// scheduled rotation: of several daemons finding the same key due, one rotates it). Returns
/// whether it rotated.
fn rotate_row(
    conn: &mut db::DbConn,
    cipher: &crate::crypto::KeyCipher,
    row: &UserRow,
    grace_secs: i64,
    now: chrono::NaiveDateTime,
    only_if_rotated_at: Option<Option<chrono::NaiveDateTime>>,
    ops: &mut Vec<NewOp>,
) -> Result<bool, DbError> {
    let key = mint_virtual_key();
    let plain = key.expose();
    let (keep, drop) = rotation_plan(row);
    let (prev_ciphertext, prev_hash) = match keep {
        Keep::Current => (row.key_ciphertext.clone(), row.key_hash.clone()),
        Keep::Previous => (
            row_prev_ciphertext(conn, &row.id)?,
            row.prev_key_hash.clone(),
        ),
        Keep::Nothing => (None, None),
    };
    let ciphertext = Some(cipher.encrypt(plain, &user_key_aad(&row.id)));
    let new_hash = hash_token(plain);
    let changes = (
        users::key_ciphertext.eq(ciphertext),
        users::key_hash.eq(Some(new_hash.clone())),
        users::key_hint.eq(Some(key_hint(plain))),
        users::prev_key_ciphertext.eq(prev_ciphertext),
        users::prev_key_hash.eq(prev_hash),
        users::synced_models.eq(None::<String>),
        users::key_status.eq(StoredKeyStatus(KeyStatus::Pending)),
        users::key_error.eq(None::<String>),
        users::updated_at.eq(now),
        users::rotated_at.eq(Some(now)),
        users::rotation_grace_secs.eq(Some(grace_secs)),
        users::version.eq(users::version + 1),
    );
    let user = users::table.filter(users::id.eq(&row.id));
    let n = match only_if_rotated_at {
        None => diesel::update(user).set(changes).execute(conn)?,
        Some(None) => diesel::update(user.filter(users::rotated_at.is_null()))
            .set(changes)
            .execute(conn)?,
        Some(Some(at)) => diesel::update(user.filter(users::rotated_at.eq(at)))
            .set(changes)
            .execute(conn)?,
    };
    if n == 0 {
        return Ok(false);
    }
    usage_store::record_keys(conn, &[(new_hash, row.id.clone())], now)?;
    // The key being dropped may exist in LiteLLM (created but never confirmed): delete it
    // before the new key is created under the same alias.
    if let Some(dropped) = &drop {
        usage_store::retire_keys(conn, std::slice::from_ref(dropped), now)?;
        ops.push(NewOp::delete(&row.id, dropped));
    }
    ops.push(NewOp::sync(&row.id));
    Ok(true)
}

/// Most users one scheduled round rotates (the next round takes the rest).
const DUE_PER_ROUND: usize = 5000;

impl Mama {
    /// Marks the expiries that have passed as seen, so the status sort puts those users with the
    /// expired ones; returns how many it marked. Run every minute (with [`Mama::rotate_due`]).
    pub async fn mark_passed_expiries(&self) -> OpResult<usize> {
        self.db
            .write(|conn| crate::db::users::limits::mark_passed_expiries(conn, crate::db::now()))
            .await
            .map_err(|e: crate::db::DbError| ApiError::from(e))
    }

    /// Rotates the keys whose `rotation_every` has passed since their last rotation (or since
    /// the user was created), as one change with one event; returns how many. Suspended users
    /// wait until they are resumed. Safe to run on several daemons at once: each key due is
    /// rotated once.
    pub async fn rotate_due(&self) -> OpResult<u64> {
        let grace_secs = self.config.rotation_grace.as_secs() as i64;
        let cipher = self.cipher.clone();
        let ctx = Ctx::system(format!("rotation-{}", uuid::Uuid::now_v7()));
        let event = ctx
            .event(method::UsersRotateKeys::ACTION)
            .detail("scheduled rotation (rotation_every)");
        let rotated = self
            .db
            .write(move |conn| {
                let now = db::now();
                let candidates: Vec<(
                    String,
                    Option<chrono::NaiveDateTime>,
                    chrono::NaiveDateTime,
                    Option<i64>,
                )> = users::table
                    .filter(users::rotation_days.is_not_null())
                    .filter(users::suspended_at.is_null())
                    .select((
                        users::id,
                        users::rotated_at,
                        users::created_at,
                        users::rotation_days,
                    ))
                    .load(conn)?;
                let due: Vec<(String, Option<chrono::NaiveDateTime>)> = candidates
                    .into_iter()
                    .filter(|(_, rotated_at, created_at, days)| {
                        let since = rotated_at.unwrap_or(*created_at);
                        days.is_some_and(|d| since + chrono::Duration::days(d) <= now)
                    })
                    .take(DUE_PER_ROUND)
                    .map(|(id, rotated_at, _, _)| (id, rotated_at))
                    .collect();
                if due.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = due.iter().map(|(id, _)| id.clone()).collect();
                let rows = user_db::find_many(conn, &ids)?;
                let expected: std::collections::HashMap<&str, Option<chrono::NaiveDateTime>> =
                    due.iter().map(|(id, at)| (id.as_str(), *at)).collect();
                let mut ops = Vec::new();
                let mut rotated = Vec::new();
                for row in &rows {
                    let guard = expected.get(row.id.as_str()).copied();
                    if rotate_row(conn, &cipher, row, grace_secs, now, guard, &mut ops)? {
                        rotated.push(row.id.clone());
                    }
                }
                if !rotated.is_empty() {
                    outbox::enqueue(conn, &ops, now)?;
                    events::insert(conn, &[event.users(rotated.clone()).ok()])?;
                }
                Ok::<_, DbError>(rotated)
            })
            .await
            .map_err(audit_or)?;
        Ok(rotated.len() as u64)
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
fn rotation_plan(row: &UserRow) -> (Keep, Option<String>) {
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
