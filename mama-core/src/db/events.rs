//! The append-only event log. Events are written in batches (one transaction for many) and never
//! updated or deleted by mama.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{event_users, events};
use super::{DbConn, DbError};
use crate::api::types::EventFilter;

/// How many affected user ids an event shows.
pub const LISTED_USER_IDS: usize = 100;

/// Events naming at most this many users keep all their ids in the row itself (one insert, which
/// keeps audited REST lookups cheap); larger ones (bulk changes) list every user in
/// `event_users` and the first [`LISTED_USER_IDS`] in the row.
pub const INLINE_USER_IDS: usize = 1000;

/// Escapes LIKE wildcards; patterns use `\` as the escape character.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `None` is written as NULL (not as "use the default"), so an insert is the same statement
/// whatever is missing: prepared once on SQLite, and copyable on PostgreSQL.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
#[diesel(treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_kind: String,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub user_ids: String,
    pub target_count: i64,
    pub target_filter: Option<String>,
    pub result: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
    pub duration_ms: Option<i64>,
    pub detail: Option<String>,
}

/// An event, with every affected user when they are more than the row holds.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub row: EventRow,
    /// Empty unless the event names more than [`INLINE_USER_IDS`] users.
    pub linked_user_ids: Vec<String>,
}

/// Writes events and their user links. Call inside a transaction.
pub fn insert(conn: &mut DbConn, batch: &[NewEvent]) -> Result<(), DbError> {
    match conn {
        // SQLite runs in-process: one row per statement, prepared once per connection and
        // reused, is cheaper than parsing a multi-row insert anew for every batch size.
        DbConn::Sqlite(c) => {
            for event in batch {
                diesel::insert_into(events::table)
                    .values(&event.row)
                    .execute(c)?;
            }
        }
        // PostgreSQL: one COPY per batch, which PostgreSQL neither parses nor plans per row
        // count the way it does a multi-row INSERT.
        DbConn::Pg(c) => {
            let rows: Vec<&EventRow> = batch.iter().map(|e| &e.row).collect();
            diesel::copy_from(events::table)
                .from_insertable(rows)
                .execute(c)?;
        }
    }
    let links: Vec<(&str, &str)> = batch
        .iter()
        .filter(|e| !e.linked_user_ids.is_empty())
        .flat_map(|e| {
            let mut ids: Vec<&str> = e.linked_user_ids.iter().map(String::as_str).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter().map(move |u| (e.row.id.as_str(), u))
        })
        .collect();
    for chunk in links.chunks(super::rows_per_insert(2)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(e, u)| (event_users::event_id.eq(*e), event_users::user_id.eq(*u)))
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(event_users::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

/// One page of events, newest first, with the matching count.
pub fn list(
    conn: &mut DbConn,
    filter: &EventFilter,
    offset: u64,
    limit: u32,
) -> Result<(Vec<EventRow>, u64), DbError> {
    let build = || {
        let mut q = events::table.into_boxed();
        if let Some(actor) = &filter.actor {
            q = q.filter(events::actor.eq(actor.clone()));
        }
        if let Some(action) = &filter.action {
            if action.ends_with('.') {
                let escaped = like_escape(action);
                q = q.filter(events::action.like(format!("{escaped}%")).escape('\\'));
            } else {
                q = q.filter(events::action.eq(action.clone()));
            }
        }
        if let Some(user) = &filter.user_id {
            let linked = event_users::table
                .filter(event_users::user_id.eq(user.clone()))
                .select(event_users::event_id);
            // Inline ids are a JSON array of strings; valid ids need no JSON escaping.
            let inline = events::user_ids
                .like(format!("%\"{}\"%", like_escape(user)))
                .escape('\\');
            q = q.filter(events::id.eq_any(linked).or(inline));
        }
        if let Some(result) = &filter.result {
            q = q.filter(events::result.eq(result.clone()));
        }
        if let Some(since) = filter.since {
            q = q.filter(events::at.ge(since.naive_utc()));
        }
        if let Some(until) = filter.until {
            q = q.filter(events::at.lt(until.naive_utc()));
        }
        q
    };
    let matching: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order_by(events::id.desc())
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .select(EventRow::as_select())
        .load(conn)?;
    Ok((rows, matching as u64))
}
