//! Deleting events past the retention period: one batch per transaction, oldest first, so a
//! writer waits at most one batch and an interrupted prune leaves only whole batches done.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{event_undo, event_users, events};
use crate::db::{DbConn, DbError};

/// Events deleted per transaction.
pub const PRUNE_BATCH: i64 = 5_000;

/// Deletes up to [`PRUNE_BATCH`] of the oldest events recorded before `cutoff`, with their user
/// links; returns how many events went. Call inside a transaction.
pub fn prune_batch(conn: &mut DbConn, cutoff: NaiveDateTime) -> Result<usize, DbError> {
    crate::per_backend!(conn, |c| {
        let ids: Vec<String> = events::table
            .filter(events::at.lt(cutoff))
            .order(events::at.asc())
            .limit(PRUNE_BATCH)
            .select(events::id)
            .load(c)?;
        if ids.is_empty() {
            return Ok(0);
        }
        diesel::delete(event_users::table.filter(event_users::event_id.eq_any(&ids))).execute(c)?;
        diesel::delete(event_undo::table.filter(event_undo::event_id.eq_any(&ids))).execute(c)?;
        Ok(diesel::delete(events::table.filter(events::id.eq_any(&ids))).execute(c)?)
    })
}
