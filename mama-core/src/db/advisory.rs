//! Session-level PostgreSQL advisory locks: one daemon at a time runs a periodic job (the usage
//! collector) when several share one database. The lock is held by a pooled connection for as
//! long as the [`AdvisoryLock`] lives and is released when it is dropped, or by PostgreSQL when
//! the daemon dies (its session ends). On SQLite there is one daemon per file: nothing to lock.
//!
//! Both taking and dropping talk to the database: do them on the blocking pool.

use diesel::prelude::*;

use super::{Db, DbConn, DbError, PooledConn};

/// A held lock; releases it when dropped.
pub struct AdvisoryLock {
    /// `None` on SQLite.
    conn: Option<PooledConn>,
    key: i64,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

/// Takes lock `key` without waiting: `None` when another session holds it.
pub fn try_lock(db: &Db, key: i64) -> Result<Option<AdvisoryLock>, DbError> {
    if db.backend() != super::Backend::Postgres {
        return Ok(Some(AdvisoryLock { conn: None, key }));
    }
    let mut conn = db.conn()?;
    let locked = match &mut *conn {
        DbConn::Pg(pg) => {
            diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(key)
                .get_result::<Locked>(pg)?
                .locked
        }
        DbConn::Sqlite(_) => true,
    };
    Ok(locked.then_some(AdvisoryLock {
        conn: Some(conn),
        key,
    }))
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            if let DbConn::Pg(pg) = &mut **conn {
                // A failure means a broken connection: its session, and the lock, end with it.
                if let Err(e) = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(self.key)
                    .execute(pg)
                {
                    tracing::warn!(error = %e, "could not release an advisory lock");
                }
            }
        }
    }
}
