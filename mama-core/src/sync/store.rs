//! The sync's writes to user rows: what LiteLLM confirmed for a user's key, why an operation is
//! retried or failed, and users queued again. Each runs in the caller's transaction, next to the
//! outbox change it goes with.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::api::types::KeyStatus;
use crate::db::outbox::{self, NewOp};
use crate::db::schema::{outbox as outbox_table, users};
use crate::db::users::StoredKeyStatus;
use crate::db::{DbConn, DbError, CHUNK};

/// Records that LiteLLM holds the user's key `key_hash` with `pushed_models` (the `models` JSON
/// that was pushed) and `pushed_terms` (its limits and block), all in the caller's transaction:
/// - `synced_models` and `synced_limits` say what LiteLLM holds for that key, whatever mama
///   changed since;
/// - the key is `active` only if the user still holds those models and no other sync of it is
///   queued: otherwise a newer change is on its way and the user stays pending;
/// - a rotation waiting for this key is finished: the previous key stops being served and its
///   deletion in LiteLLM is queued (only now, so the key services get always works).
///
/// The version is not bumped: sync state is not an admin's edit, and bumping it would fail the
/// admin's next optimistic update. Returns whether the user is now active.
pub fn mark_active(
    conn: &mut DbConn,
    user_id: &str,
    key_hash: &str,
    pushed_models: &str,
    pushed_terms: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let held = users::table
        .filter(users::id.eq(user_id))
        .filter(users::key_hash.eq(key_hash));
    let found = diesel::update(held)
        .set((
            users::synced_models.eq(pushed_models),
            users::synced_limits.eq(pushed_terms),
        ))
        .execute(conn)?;
    if found == 0 {
        return Ok(false);
    }
    let (previous, grace_secs): (Option<String>, Option<i64>) = held
        .select((users::prev_key_hash, users::rotation_grace_secs))
        .first(conn)?;
    if let Some(previous) = previous {
        // The old key keeps working for the rotation's grace, so services can switch without
        // an outage; its deletion is queued for the end of it.
        let until = now + chrono::Duration::seconds(grace_secs.unwrap_or(0).max(0));
        diesel::update(held)
            .set((
                users::prev_key_hash.eq(None::<String>),
                users::prev_key_ciphertext.eq(None::<Vec<u8>>),
                users::retiring_key_hash.eq(Some(&previous)),
                users::retiring_until.eq(Some(until)),
            ))
            .execute(conn)?;
        outbox::enqueue_at(conn, &[NewOp::delete(user_id, &previous)], now, until)?;
        crate::db::usage::store::retire_keys(conn, std::slice::from_ref(&previous), until)?;
    }
    let queued = outbox_table::table
        .filter(outbox_table::user_id.eq(user_id))
        .filter(outbox_table::kind.eq(outbox::KIND_SYNC))
        .select(outbox_table::id);
    let n = diesel::update(
        held.filter(users::models.eq(pushed_models))
            .filter(diesel::dsl::not(diesel::dsl::exists(queued))),
    )
    .set((
        users::key_status.eq(StoredKeyStatus(KeyStatus::Active)),
        users::key_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Shows why a pending user's operation is being retried, so a user whose key LiteLLM does not
/// yet hold as mama has it is never silently wrong. The status stays `pending`.
pub fn note_retry(conn: &mut DbConn, user_id: &str, reason: &str) -> Result<(), DbError> {
    diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::key_status.eq(StoredKeyStatus(KeyStatus::Pending))),
    )
    .set(users::key_error.eq(reason))
    .execute(conn)?;
    Ok(())
}

/// Marks the user's key failed with mama's own explanation (never LiteLLM's message).
pub fn mark_failed(
    conn: &mut DbConn,
    user_id: &str,
    key_hash: &str,
    reason: &str,
) -> Result<(), DbError> {
    diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::key_hash.eq(key_hash)),
    )
    .set((
        users::key_status.eq(StoredKeyStatus(KeyStatus::Failed)),
        users::key_error.eq(reason),
    ))
    .execute(conn)?;
    Ok(())
}

/// Marks users pending again and queues a sync for each (reconciler repairs, retries of failed
/// users). A failed user's reason stays until the retry settles, so it is not lost if the retry
/// fails the same way.
pub fn requeue(conn: &mut DbConn, ids: &[String], now: NaiveDateTime) -> Result<(), DbError> {
    for chunk in ids.chunks(CHUNK) {
        diesel::update(users::table.filter(users::id.eq_any(chunk)))
            .set(users::key_status.eq(StoredKeyStatus(KeyStatus::Pending)))
            .execute(conn)?;
    }
    let ops: Vec<_> = ids.iter().map(|id| NewOp::sync(id)).collect();
    outbox::enqueue(conn, &ops, now)
}

/// Records what each user's key spent in its current budget period, as LiteLLM reported it at
/// `now`. Not an admin's edit: neither the version nor `updated_at` moves. One `UPDATE … FROM
/// (VALUES …)` per chunk of users, so the first read of 100,000 keys is 200 statements, not
/// 100,000 round trips.
pub fn record_spend(
    conn: &mut DbConn,
    spends: &[(String, f64)],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use diesel::sql_types::{Double, Text, Timestamp};
    for chunk in spends.chunks(CHUNK) {
        // VALUES columns are `column1`, `column2` on both backends.
        let statement = |placeholder: &dyn Fn(usize) -> String| {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({}, {})", placeholder(2 + 2 * i), placeholder(3 + 2 * i)))
                .collect();
            format!(
                "UPDATE users SET spend = v.column2, spend_read_at = {} FROM (VALUES {}) AS v \
                 WHERE users.id = v.column1",
                placeholder(1),
                rows.join(", ")
            )
        };
        match conn {
            DbConn::Pg(c) => {
                let sql = statement(&|n| {
                    if n >= 2 && n % 2 == 1 {
                        format!("${n}::double precision")
                    } else {
                        format!("${n}")
                    }
                });
                let mut q = diesel::sql_query(sql)
                    .into_boxed::<diesel::pg::Pg>()
                    .bind::<Timestamp, _>(now);
                for (id, spend) in chunk {
                    q = q.bind::<Text, _>(id.clone()).bind::<Double, _>(*spend);
                }
                q.execute(c)?;
            }
            DbConn::Sqlite(c) => {
                let sql = statement(&|_| "?".to_string());
                let mut q = diesel::sql_query(sql)
                    .into_boxed::<diesel::sqlite::Sqlite>()
                    .bind::<Timestamp, _>(now);
                for (id, spend) in chunk {
                    q = q.bind::<Text, _>(id.clone()).bind::<Double, _>(*spend);
                }
                q.execute(c)?;
            }
        }
    }
    Ok(())
}
