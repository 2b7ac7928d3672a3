//! The worker's SQL: claim due outbox operations under a lease, settle them, and record the
//! result on the user row. Runs inside `Db::write`, which serializes writers on both backends
//! (SQLite mutex, PostgreSQL advisory lock), so a claim is never taken twice.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::api::types::KeyStatus;
use crate::db::outbox::{OutboxRow, KIND_DELETE, KIND_SYNC};
use crate::db::schema::{outbox, users};
use crate::db::{DbConn, DbError, CHUNK};

/// One unit of work: the oldest operation of a user, plus the later `sync` operations of that
/// user it makes redundant (a sync pushes the user's *current* state, so one push covers them).
#[derive(Debug, Clone)]
pub struct Job {
    pub user_id: String,
    pub kind: String,
    /// For `delete`: the key to delete.
    pub key_hash: Option<String>,
    pub ids: Vec<i64>,
    /// Failed attempts so far (of the oldest operation).
    pub attempts: i32,
    /// A worker claimed it before and never settled it (it died, or could not record the
    /// result): what it did in LiteLLM is unknown.
    pub interrupted: bool,
}

impl Job {
    pub fn is_sync(&self) -> bool {
        self.kind == KIND_SYNC
    }
}

/// Claims up to `max_jobs` jobs for `worker` until `until`. A user whose oldest operation is not
/// due yet, or who has an operation leased by anyone, is skipped: operations of one user run in
/// order, one at a time.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    max_jobs: usize,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Vec<Job>, DbError> {
    let busy: HashSet<String> = outbox::table
        .filter(outbox::claimed_until.gt(now))
        .select(outbox::user_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let due: Vec<String> = outbox::table
        .filter(outbox::available_at.le(now))
        .filter(
            outbox::claimed_until
                .is_null()
                .or(outbox::claimed_until.le(now)),
        )
        .order_by(outbox::id.asc())
        .limit((max_jobs * 4 + busy.len()) as i64)
        .select(outbox::user_id)
        .load(conn)?;
    let mut candidates = Vec::new();
    let mut seen = HashSet::new();
    for user in due {
        if !busy.contains(&user) && seen.insert(user.clone()) {
            candidates.push(user);
            if candidates.len() == max_jobs {
                break;
            }
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<OutboxRow> = outbox::table
        .filter(outbox::user_id.eq_any(&candidates))
        .order_by(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)?;
    let mut per_user: HashMap<&str, Vec<&OutboxRow>> = HashMap::new();
    for row in &rows {
        per_user.entry(row.user_id.as_str()).or_default().push(row);
    }
    let mut jobs = Vec::new();
    for user in &candidates {
        let Some(ops) = per_user.get(user.as_str()) else {
            continue;
        };
        let Some(first) = ops.first() else { continue };
        if first.available_at > now {
            continue;
        }
        let mut taken = vec![*first];
        if first.kind == KIND_SYNC {
            taken.extend(ops.iter().skip(1).take_while(|op| op.kind == KIND_SYNC));
        }
        let ids = taken.iter().map(|op| op.id).collect();
        jobs.push(Job {
            user_id: first.user_id.clone(),
            kind: first.kind.clone(),
            key_hash: first.key_hash.clone(),
            ids,
            attempts: first.attempts,
            interrupted: taken.iter().any(|op| op.claimed_by.is_some()),
        });
    }
    let all: Vec<i64> = jobs.iter().flat_map(|j| j.ids.iter().copied()).collect();
    for chunk in all.chunks(CHUNK) {
        diesel::update(outbox::table.filter(outbox::id.eq_any(chunk)))
            .set((
                outbox::claimed_by.eq(worker),
                outbox::claimed_until.eq(until),
            ))
            .execute(conn)?;
    }
    Ok(jobs)
}

/// Removes finished operations; only while this worker still holds them.
pub fn finish(conn: &mut DbConn, worker: &str, ids: &[i64]) -> Result<(), DbError> {
    diesel::delete(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .execute(conn)?;
    Ok(())
}

/// Releases operations for a later attempt.
pub fn retry_later(
    conn: &mut DbConn,
    worker: &str,
    ids: &[i64],
    at: NaiveDateTime,
    error: &str,
) -> Result<(), DbError> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::available_at.eq(at),
        outbox::last_error.eq(error),
    ))
    .execute(conn)?;
    Ok(())
}

/// After a restart on SQLite (one daemon per file), leases held by the previous process are void.
/// `claimed_by` stays: it tells the next claim that the operation may have been half done.
pub fn release_all(conn: &mut DbConn) -> Result<usize, DbError> {
    Ok(
        diesel::update(outbox::table.filter(outbox::claimed_until.is_not_null()))
            .set(outbox::claimed_until.eq(None::<NaiveDateTime>))
            .execute(conn)?,
    )
}

/// LiteLLM is back: operations waiting out a backoff may run now.
pub fn retry_now(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, DbError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::attempts.gt(0))
            .filter(outbox::available_at.gt(now))
            .filter(
                outbox::claimed_until
                    .is_null()
                    .or(outbox::claimed_until.le(now)),
            ),
    )
    .set(outbox::available_at.eq(now))
    .execute(conn)?)
}

/// Records that LiteLLM holds the user's key `key_hash` with `pushed_models` (the `models` JSON
/// that was pushed), all in the caller's transaction:
/// - `synced_models` says what LiteLLM holds for that key, whatever mama changed since;
/// - the key is `active` only if the user still holds those models: otherwise a newer change is
///   on its way and the user stays pending;
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
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let held = users::table
        .filter(users::id.eq(user_id))
        .filter(users::key_hash.eq(key_hash));
    let found = diesel::update(held)
        .set(users::synced_models.eq(pushed_models))
        .execute(conn)?;
    if found == 0 {
        return Ok(false);
    }
    let previous: Option<String> = held.select(users::prev_key_hash).first(conn)?;
    if let Some(previous) = previous {
        diesel::update(held)
            .set((
                users::prev_key_hash.eq(None::<String>),
                users::prev_key_ciphertext.eq(None::<Vec<u8>>),
            ))
            .execute(conn)?;
        crate::db::outbox::enqueue(conn, &[delete_op(user_id, &previous)], now)?;
    }
    let n = diesel::update(held.filter(users::models.eq(pushed_models)))
        .set((
            users::key_status.eq(KeyStatus::Active.as_str()),
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
            .filter(users::key_status.eq(KeyStatus::Pending.as_str())),
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
        users::key_status.eq(KeyStatus::Failed.as_str()),
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
            .set(users::key_status.eq(KeyStatus::Pending.as_str()))
            .execute(conn)?;
    }
    let ops: Vec<_> = ids
        .iter()
        .map(|id| crate::db::outbox::NewOp {
            user_id: id.clone(),
            kind: KIND_SYNC,
            key_hash: None,
        })
        .collect();
    crate::db::outbox::enqueue(conn, &ops, now)
}

/// Queues the deletion of a key (rotation).
pub fn delete_op(user_id: &str, key_hash: &str) -> crate::db::outbox::NewOp {
    crate::db::outbox::NewOp {
        user_id: user_id.to_string(),
        kind: KIND_DELETE,
        key_hash: Some(key_hash.to_string()),
    }
}

/// Users with a queued or running operation (their LiteLLM state is about to change).
pub fn users_in_queue(conn: &mut DbConn) -> Result<HashSet<String>, DbError> {
    Ok(outbox::table
        .select(outbox::user_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}
