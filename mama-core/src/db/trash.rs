//! The trash: deleted users wait in `users_trash` (their whole `users` row) until they are
//! restored or purged. Moving a row is one `INSERT … SELECT` and one `DELETE` per chunk of ids,
//! in the caller's transaction; the set tables (`user_models`, …) lose the rows with the user
//! and get them back from the row's own JSON columns on restore.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use super::schema::{users, users_trash};
use super::{DbConn, DbError, CHUNK};
use crate::api::types::Scope;

/// Every column of `users`, in the order of `schema::users`: what moves to the trash and back.
/// A migration that adds a column to `users` adds it to `users_trash` and here.
pub const COLUMNS: &str = "id, organization, models, services, info, search_id, search_org, \
    version, key_ciphertext, key_hash, key_hint, key_status, key_error, synced_models, \
    created_at, updated_at, prev_key_ciphertext, prev_key_hash, max_budget, budget_period, \
    tpm_limit, rpm_limit, expires_at, rotation_days, limits_own, suspended_at, suspended_by, \
    suspended_reason, rotated_at, retiring_key_hash, retiring_until, rotation_grace_secs, \
    synced_limits, spend, spend_read_at, expiry_seen, usage_spend_30d, usage_requests_30d, \
    last_used";

/// A trashed user as the trash lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users_trash)]
pub struct TrashRow {
    pub id: String,
    pub organization: String,
    pub models: String,
    pub version: i64,
    pub key_hash: Option<String>,
    pub key_hint: Option<String>,
    pub prev_key_hash: Option<String>,
    pub retiring_key_hash: Option<String>,
    pub deleted_at: NaiveDateTime,
    pub deleted_by: String,
    pub purge_after: NaiveDateTime,
}

/// `$1, $2, …` (PostgreSQL) or `?, ?, …` (SQLite) for `n` binds starting after `first`.
fn placeholders(conn: &DbConn, first: usize, n: usize) -> String {
    (0..n)
        .map(|i| match conn {
            DbConn::Pg(_) => format!("${}", first + i + 1),
            DbConn::Sqlite(_) => "?".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `sql` with leading fixed binds (`head`) and then one text bind per id.
fn execute_with_ids(
    conn: &mut DbConn,
    sql: &str,
    head: &[(NaiveDateTime, &str, NaiveDateTime)],
    ids: &[String],
) -> Result<usize, DbError> {
    Ok(match conn {
        DbConn::Pg(c) => {
            let mut q = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
            for (at, by, until) in head {
                q = q
                    .bind::<Timestamp, _>(*at)
                    .bind::<Text, _>(by.to_string())
                    .bind::<Timestamp, _>(*until);
            }
            for id in ids {
                q = q.bind::<Text, _>(id.clone());
            }
            q.execute(c)?
        }
        DbConn::Sqlite(c) => {
            let mut q = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
            for (at, by, until) in head {
                q = q
                    .bind::<Timestamp, _>(*at)
                    .bind::<Text, _>(by.to_string())
                    .bind::<Timestamp, _>(*until);
            }
            for id in ids {
                q = q.bind::<Text, _>(id.clone());
            }
            q.execute(c)?
        }
    })
}

/// Moves the users `ids` (which exist) to the trash, deleted `at` by `by`, to be purged after
/// `purge_after`. Their set rows go with the `users` rows (`ON DELETE CASCADE`).
pub fn move_in(
    conn: &mut DbConn,
    ids: &[String],
    at: NaiveDateTime,
    by: &str,
    purge_after: NaiveDateTime,
) -> Result<usize, DbError> {
    let mut moved = 0;
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(conn, 3, chunk.len());
        let head = placeholders(conn, 0, 3);
        let sql = format!(
            "INSERT INTO users_trash ({COLUMNS}, deleted_at, deleted_by, purge_after) \
             SELECT {COLUMNS}, {head} FROM users WHERE id IN ({list})"
        );
        moved += execute_with_ids(conn, &sql, &[(at, by, purge_after)], chunk)?;
        diesel::delete(users::table.filter(users::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(moved)
}

/// Moves the trashed users `ids` back into `users` as they were (the caller then bumps their
/// version, rebuilds their set rows and queues their sync) and out of the trash.
pub fn move_out(conn: &mut DbConn, ids: &[String]) -> Result<usize, DbError> {
    let mut moved = 0;
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(conn, 0, chunk.len());
        let sql = format!(
            "INSERT INTO users ({COLUMNS}) SELECT {COLUMNS} FROM users_trash WHERE id IN ({list})"
        );
        moved += execute_with_ids(conn, &sql, &[], chunk)?;
        diesel::delete(users_trash::table.filter(users_trash::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(moved)
}

/// Deletes trashed users for good (their keys' deletion is the caller's to queue).
pub fn purge(conn: &mut DbConn, ids: &[String]) -> Result<usize, DbError> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        n += diesel::delete(users_trash::table.filter(users_trash::id.eq_any(chunk)))
            .execute(conn)?;
    }
    Ok(n)
}

/// The trashed users among `ids`, within `scope`.
pub fn find_many(
    conn: &mut DbConn,
    ids: &[String],
    scope: &Scope,
) -> Result<Vec<TrashRow>, DbError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut q = users_trash::table
            .filter(users_trash::id.eq_any(chunk))
            .select(TrashRow::as_select())
            .into_boxed();
        if let Some(orgs) = scope {
            q = q.filter(users_trash::organization.eq_any(orgs.clone()));
        }
        rows.extend(q.load(conn)?);
    }
    Ok(rows)
}

/// Ids among `ids` that are in the trash (whatever the scope: an id cannot be reused while its
/// user may come back).
pub fn trashed_ids(conn: &mut DbConn, ids: &[String]) -> Result<Vec<String>, DbError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        found.extend(
            users_trash::table
                .filter(users_trash::id.eq_any(chunk))
                .select(users_trash::id)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

/// Which trashed users to list, and in what order.
#[derive(Debug, Clone, Default)]
pub struct TrashQuery {
    /// Case-insensitive substring of the id or the organization.
    pub text: Option<String>,
    pub column: TrashColumn,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
    pub scope: Scope,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrashColumn {
    Id,
    Organization,
    #[default]
    DeletedAt,
    PurgeAfter,
}

fn filtered<'a>(q: &TrashQuery) -> users_trash::BoxedQuery<'a, super::MultiBackend> {
    let mut query = users_trash::table.into_boxed();
    if let Some(orgs) = &q.scope {
        query = query.filter(users_trash::organization.eq_any(orgs.clone()));
    }
    if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", super::users::like_escape(&text.to_lowercase()));
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(lower(users_trash.id) LIKE ")
                .bind::<Text, _>(pattern.clone())
                .sql(" ESCAPE '\\' OR lower(users_trash.organization) LIKE ")
                .bind::<Text, _>(pattern)
                .sql(" ESCAPE '\\')"),
        );
    }
    query
}

/// A page of the trash, and how many trashed users the query matches (the trash is small: a
/// week of deletions).
pub fn page(conn: &mut DbConn, q: &TrashQuery) -> Result<(Vec<TrashRow>, u64), DbError> {
    let matching: i64 = filtered(q).count().get_result(conn)?;
    let mut query = filtered(q).select(TrashRow::as_select());
    query = match (q.column, q.descending) {
        (TrashColumn::Id, false) => query.order_by(users_trash::id.asc()),
        (TrashColumn::Id, true) => query.order_by(users_trash::id.desc()),
        (TrashColumn::Organization, false) => query
            .order_by(users_trash::organization.asc())
            .then_order_by(users_trash::id.asc()),
        (TrashColumn::Organization, true) => query
            .order_by(users_trash::organization.desc())
            .then_order_by(users_trash::id.desc()),
        (TrashColumn::DeletedAt, false) => query
            .order_by(users_trash::deleted_at.asc())
            .then_order_by(users_trash::id.asc()),
        (TrashColumn::DeletedAt, true) => query
            .order_by(users_trash::deleted_at.desc())
            .then_order_by(users_trash::id.desc()),
        (TrashColumn::PurgeAfter, false) => query
            .order_by(users_trash::purge_after.asc())
            .then_order_by(users_trash::id.asc()),
        (TrashColumn::PurgeAfter, true) => query
            .order_by(users_trash::purge_after.desc())
            .then_order_by(users_trash::id.desc()),
    };
    let rows = query
        .offset(q.offset as i64)
        .limit(i64::from(q.limit))
        .load(conn)?;
    Ok((rows, matching.max(0) as u64))
}

/// Up to `limit` trashed users whose time ran out by `now`, oldest first.
pub fn due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> Result<Vec<String>, DbError> {
    Ok(users_trash::table
        .filter(users_trash::purge_after.le(now))
        .order_by((users_trash::purge_after.asc(), users_trash::id.asc()))
        .select(users_trash::id)
        .limit(limit)
        .load(conn)?)
}
