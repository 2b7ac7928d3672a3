//! The outbox: LiteLLM operations implied by committed changes, written in the same transaction
//! as the change, applied later by the sync worker.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox;
use super::{DbConn, DbError};

/// Make LiteLLM hold the user's key as mama has it now (create it, or push its models).
pub const KIND_SYNC: &str = "sync";
/// Delete a key (by hash) in LiteLLM: a deleted user's or a rotated-out key.
pub const KIND_DELETE: &str = "delete";

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

/// Enqueues operations in multi-row inserts.
pub fn enqueue(conn: &mut DbConn, ops: &[NewOp], at: NaiveDateTime) -> Result<(), DbError> {
    for chunk in ops.chunks(super::rows_per_insert(6)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|op| {
                (
                    outbox::user_id.eq(&op.user_id),
                    outbox::kind.eq(op.kind),
                    outbox::key_hash.eq(&op.key_hash),
                    outbox::created_at.eq(at),
                    outbox::available_at.eq(at),
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

pub fn depth(conn: &mut DbConn) -> Result<u64, DbError> {
    Ok(outbox::table.count().get_result::<i64>(conn)? as u64)
}
