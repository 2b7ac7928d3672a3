//! The append-only event log. Events are written in batches (one transaction for many) and never
//! updated or deleted by mama.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{event_users, events};
use super::{DbConn, DbError, CHUNK};
use crate::api::types::EventFilter;

/// How many affected user ids the event row itself lists (all are in `event_users`).
pub const LISTED_USER_IDS: usize = 100;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
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

/// An event with the full list of affected users.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub row: EventRow,
    pub all_user_ids: Vec<String>,
}

/// Writes events and their user links. Call inside a transaction.
pub fn insert(conn: &mut DbConn, batch: &[NewEvent]) -> Result<(), DbError> {
    let rows: Vec<&EventRow> = batch.iter().map(|e| &e.row).collect();
    for chunk in rows.chunks(CHUNK / 16) {
        let chunk: Vec<EventRow> = chunk.iter().map(|r| (*r).clone()).collect();
        crate::per_backend!(conn, |c| diesel::insert_into(events::table)
            .values(&chunk)
            .execute(c))?;
    }
    let links: Vec<(&str, &str)> = batch
        .iter()
        .flat_map(|e| {
            let mut ids: Vec<&str> = e.all_user_ids.iter().map(String::as_str).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter().map(move |u| (e.row.id.as_str(), u))
        })
        .collect();
    for chunk in links.chunks(CHUNK) {
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
                let escaped = action
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                q = q.filter(events::action.like(format!("{escaped}%")).escape('\\'));
            } else {
                q = q.filter(events::action.eq(action.clone()));
            }
        }
        if let Some(user) = &filter.user_id {
            let ids = event_users::table
                .filter(event_users::user_id.eq(user.clone()))
                .select(event_users::event_id);
            q = q.filter(events::id.eq_any(ids));
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
