//! `users.rotate_keys`: a new key for each user, switched to only once LiteLLM holds it, so the
//! key services get always works.

use diesel::prelude::*;

use super::auth::{audit_or, AdminSession};
use super::context::EventBuilder;
use super::users::{check_id_list, dedup, key_hint, missing_users, MAX_USERS_PER_CALL};
use super::{Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{KeyStatus, KeysRotated, RotateKeysParams};
use crate::auth::hash_token;
use crate::crypto::{mint_virtual_key, user_key_aad};
use crate::db::outbox::{self, NewOp};
use crate::db::schema::users;
use crate::db::users::{self as user_db, StoredKeyStatus, UserRow};
use crate::db::{self, events, DbError};

impl Mama {
    /// `users.rotate_keys`: mints a new key for each user and queues its creation, in one
    /// transaction with the event. The key that works stays what services get until LiteLLM has
    /// confirmed the new one: the worker creates the new key (renaming the old key's alias out of
    /// the way first), and only when it is confirmed does the user switch to it and the old key's
    /// deletion get queued (see `crate::sync::store::mark_active`).
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
        event: EventBuilder,
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
                        ops.push(NewOp::delete(&row.id, dropped));
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
                            users::key_status.eq(StoredKeyStatus(KeyStatus::Pending)),
                            users::key_error.eq(None::<String>),
                            users::updated_at.eq(now),
                            users::version.eq(users::version + 1),
                        ))
                        .execute(conn)?;
                    ops.push(NewOp::sync(&row.id));
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
