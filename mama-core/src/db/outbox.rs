//! The outbox: LiteLLM operations implied by committed changes, written in the same transaction
//! as the change, applied later by the sync worker. Every query on the table lives here: the use
//! cases enqueue, the worker claims operations under a lease and settles them, the reconciler and
//! the status read what is queued. They run inside `Db::write`, which serializes writers on both
//! backends (SQLite mutex, PostgreSQL advisory lock), so a claim is never taken twice.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox;
use super::{DbConn, DbError, CHUNK};

/// Make LiteLLM hold the user's key as mama has it now (create it, or push its models).
pub const KIND_SYNC: &str = "sync";
/// Delete a key (by hash) in LiteLLM: a purged user's or a rotated-out key.
pub const KIND_DELETE: &str = "delete";
/// Block a key (by hash) in LiteLLM, keeping it: a user moved to the trash (a restore's sync
/// unblocks it).
pub const KIND_BLOCK: &str = "block";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub user_id: String,
    pub kind: String,
    pub key_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub available_at: NaiveDateTime,
    pub attempts: i32,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// One operation to enqueue.
#[derive(Debug, Clone)]
pub struct NewOp {
    pub user_id: String,
    pub kind: &'static str,
    pub key_hash: Option<String>,
}

impl NewOp {
    /// Make LiteLLM hold the user's key as mama has it when the operation runs.
    pub fn sync(user_id: &str) -> NewOp {
        NewOp {
            user_id: user_id.to_string(),
            kind: KIND_SYNC,
            key_hash: None,
        }
    }

    /// Block the key of a user moved to the trash.
    pub fn block(user_id: &str, key_hash: &str) -> NewOp {
        NewOp {
            user_id: user_id.to_string(),
            kind: KIND_BLOCK,
            key_hash: Some(key_hash.to_string()),
        }
    }

    /// Delete one key of the user (rotated out, or the user deleted).
    pub fn delete(user_id: &str, key_hash: &str) -> NewOp {
        NewOp {
            user_id: user_id.to_string(),
            kind: KIND_DELETE,
            key_hash: Some(key_hash.to_string()),
        }
    }
}

/// Enqueues operations, each joining the user's waiting one when it is the same (see
/// [`enqueue_at`]): however many changes are made before LiteLLM takes them, a user waits with
/// one sync.
pub fn enqueue(conn: &mut DbConn, ops: &[NewOp], at: NaiveDateTime) -> Result<(), DbError> {
    enqueue_at(conn, ops, at, at)
}

/// Enqueues operations that become due at `due` (a rotated key's deletion at the end of its
/// grace). A delete that is not due yet does not hold up its user's other operations: it
/// removes another key than the one they change.
///
/// A `sync` or `block` is left out when the user's last operation is the same one and no
/// worker has claimed it: a sync pushes the user's state as it is when it runs, and blocking a
/// key twice in a row is blocking it once. Deletes are never merged; one due now keeps its
/// place before the operations queued after it (a rotation deletes the dropped key before the
/// new one takes its alias), one scheduled for later (a rotated key's grace) is passed over.
/// An operation a worker holds is never merged into: the change may have come after the
/// worker read the user. Set-based: one query per chunk of users finds their open operations,
/// then multi-row inserts; the caller's `Db::write` serializes this with every claim, on both
/// backends.
pub fn enqueue_at(
    conn: &mut DbConn,
    ops: &[NewOp],
    at: NaiveDateTime,
    due: NaiveDateTime,
) -> Result<(), DbError> {
    let users: Vec<&str> = ops
        .iter()
        .filter(|op| op.kind != KIND_DELETE)
        .map(|op| op.user_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut open = HashMap::new();
    for chunk in users.chunks(CHUNK) {
        open.extend(open_ops(conn, chunk, at)?);
    }
    let mut wanted = Vec::with_capacity(ops.len());
    for op in ops {
        if op.kind == KIND_DELETE {
            if due <= at {
                open.remove(&op.user_id);
            }
            wanted.push(op);
            continue;
        }
        let this = (op.kind.to_string(), op.key_hash.clone());
        if open.get(&op.user_id) == Some(&this) {
            continue;
        }
        open.insert(op.user_id.clone(), this);
        wanted.push(op);
    }
    for chunk in wanted.chunks(super::rows_per_insert(6)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|op| {
                (
                    outbox::user_id.eq(&op.user_id),
                    outbox::kind.eq(op.kind),
                    outbox::key_hash.eq(&op.key_hash),
                    outbox::created_at.eq(at),
                    outbox::available_at.eq(due),
                    outbox::attempts.eq(0),
                )
            })
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(outbox::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

/// The open operation of each of `users` that has one (kind and key): its last sync or block,
/// when no worker holds it and nothing but deletes scheduled for later (not yet tried) follows.
fn open_ops(
    conn: &mut DbConn,
    users: &[&str],
    at: NaiveDateTime,
) -> Result<HashMap<String, (String, Option<String>)>, DbError> {
    let later = diesel::alias!(outbox as later);
    let rows: Vec<(String, String, Option<String>)> = outbox::table
        .filter(outbox::user_id.eq_any(users))
        .filter(outbox::kind.ne(KIND_DELETE))
        .filter(outbox::claimed_by.is_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            later
                .filter(later.field(outbox::user_id).eq(outbox::user_id))
                .filter(later.field(outbox::id).gt(outbox::id))
                .filter(
                    later
                        .field(outbox::kind)
                        .ne(KIND_DELETE)
                        .or(later.field(outbox::available_at).le(at))
                        .or(later.field(outbox::attempts).gt(0)),
                ),
        )))
        .select((outbox::user_id, outbox::kind, outbox::key_hash))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, kind, key)| (user, (kind, key)))
        .collect())
}

/// Forgets the waiting syncs of users that are gone (deleted or purged): with no user there is
/// nothing to push, and the queue stays bounded by the users there are.
pub fn forget_syncs_of(conn: &mut DbConn, users: &[String]) -> Result<usize, DbError> {
    let mut forgotten = 0;
    for chunk in users.chunks(CHUNK) {
        forgotten += diesel::delete(
            outbox::table
                .filter(outbox::user_id.eq_any(chunk))
                .filter(outbox::kind.eq(KIND_SYNC))
                .filter(outbox::claimed_by.is_null()),
        )
        .execute(conn)?;
    }
    Ok(forgotten)
}

/// Operations queued or running: the queue depth `sync.status` and the metrics report. Deletes
/// scheduled for later (rotated keys in their grace) are not work waiting: see [`scheduled`].
pub fn depth(conn: &mut DbConn) -> Result<u64, DbError> {
    let now = super::now();
    Ok(outbox::table
        .filter(
            outbox::kind
                .eq(KIND_SYNC)
                .or(outbox::available_at.le(now))
                .or(outbox::attempts.gt(0)),
        )
        .count()
        .get_result::<i64>(conn)? as u64)
}

/// [`depth`] and [`scheduled`] for the users of `organizations` only (a scoped account's
/// view of the sync).
pub fn depth_and_scheduled_within(
    conn: &mut DbConn,
    organizations: &[String],
) -> Result<(u64, u64), DbError> {
    use super::schema::users;
    let now = super::now();
    let scoped = || {
        outbox::table
            .filter(
                outbox::user_id.eq_any(
                    users::table
                        .filter(users::organization.eq_any(organizations.to_vec()))
                        .select(users::id),
                ),
            )
            .into_boxed()
    };
    let depth: i64 = scoped()
        .filter(
            outbox::kind
                .eq(KIND_SYNC)
                .or(outbox::available_at.le(now))
                .or(outbox::attempts.gt(0)),
        )
        .count()
        .get_result(conn)?;
    let scheduled: i64 = scoped()
        .filter(outbox::kind.eq(KIND_DELETE))
        .filter(outbox::available_at.gt(now))
        .filter(outbox::attempts.eq(0))
        .count()
        .get_result(conn)?;
    Ok((depth.max(0) as u64, scheduled.max(0) as u64))
}

/// Key deletions scheduled for later: rotated keys still in their grace.
pub fn scheduled(conn: &mut DbConn) -> Result<u64, DbError> {
    let now = super::now();
    Ok(outbox::table
        .filter(outbox::kind.eq(KIND_DELETE))
        .filter(outbox::available_at.gt(now))
        .filter(outbox::attempts.eq(0))
        .count()
        .get_result::<i64>(conn)? as u64)
}

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
        // A delete scheduled for later (a rotated key in its grace) waits without holding up
        // the user's other operations.
        let ops: Vec<&OutboxRow> = ops
            .iter()
            .copied()
            .filter(|op| !(op.kind == KIND_DELETE && op.available_at > now))
            .collect();
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

/// Users with a queued or running operation (their LiteLLM state is about to change).
pub fn users_in_queue(conn: &mut DbConn) -> Result<HashSet<String>, DbError> {
    let now = super::now();
    Ok(outbox::table
        .filter(outbox::kind.eq(KIND_SYNC).or(outbox::available_at.le(now)))
        .select(outbox::user_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests;
