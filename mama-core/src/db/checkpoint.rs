//! SQLite WAL checkpoints off the request path.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages: that
//! commit then also copies every page the WAL holds into the database file and syncs it. For a
//! bulk change of 10,000 users that doubled the time of the commit the operator waits for, and
//! under REST load it was one event batch in ~40 that paid for everybody's pages. A server's
//! connections therefore run with `wal_autocheckpoint = 0` and this thread checkpoints instead:
//! woken by commits, at most every [`PAUSE`], on its own connection. `PASSIVE` checkpoints never
//! block readers or writers; a WAL that one of them still needs is finished on a later round.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

/// Shortest time between two checkpoints: a burst of commits shares one.
const PAUSE: Duration = Duration::from_millis(100);
/// WAL size past which a checkpoint also truncates the file. `PASSIVE` checkpoints copy pages
/// back but never shrink the WAL, and under sustained load the WAL was measured at 677 MB next
/// to a 69 MB database; a `TRUNCATE` checkpoint waits (up to the busy timeout) for readers of
/// older snapshots, holds writers back while it copies, and empties the file.
pub const WAL_TRUNCATE_BYTES: u64 = 64 * 1024 * 1024;

/// The background checkpointer of one SQLite database. Stops (after a last checkpoint) when
/// dropped.
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// Set by a commit, cleared by the thread before it checkpoints.
    dirty: AtomicBool,
    stop: AtomicBool,
    /// Checkpoints run so far.
    runs: AtomicU64,
}

impl Checkpointer {
    /// Starts the thread. Its connection is opened there, so a database that cannot be opened
    /// only logs (the pool's own connections report that error to callers).
    pub fn start(path: &Path, writer: Arc<Mutex<()>>) -> std::io::Result<Checkpointer> {
        let shared = Arc::new(Shared {
            dirty: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            runs: AtomicU64::new(0),
        });
        let path = path.to_path_buf();
        let thread = thread::Builder::new()
            .name("mama-checkpoint".into())
            .spawn({
                let shared = shared.clone();
                move || run(&path, &shared, &writer)
            })?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Called after a commit: wakes the thread unless it is already due to run. Cheap (one
    /// atomic swap; a system call only for the first commit after a checkpoint).
    pub fn committed(&self) {
        if !self.shared.dirty.swap(true, Ordering::AcqRel) {
            if let Some(thread) = &self.thread {
                thread.thread().unpark();
            }
        }
    }

    /// How many checkpoints have run.
    pub fn runs(&self) -> u64 {
        self.shared.runs.load(Ordering::Acquire)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn run(path: &Path, shared: &Shared, writer: &Mutex<()>) {
    let mut conn = match SqliteConnection::establish(&path.to_string_lossy()) {
        Ok(conn) => conn,
        Err(err) => {
            tracing::error!(%err, "WAL checkpointer cannot open the database; the WAL grows until restart");
            return;
        }
    };
    if let Err(err) = conn.batch_execute("PRAGMA busy_timeout = 10000;") {
        tracing::warn!(%err, "WAL checkpointer: busy_timeout");
    }
    let wal = wal_path(path);
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        if shared.dirty.swap(false, Ordering::AcqRel) || stopping {
            if let Err(err) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::warn!(%err, "WAL checkpoint failed; retried after the next commit");
            }
            let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            if size > WAL_TRUNCATE_BYTES {
                // Truncating resets the WAL under every connection: a write transaction of this
                // process that had begun (deferred, so reading first) would then fail to take
                // the write lock with SQLITE_BUSY, at once, instead of waiting. So it waits for
                // the process's writers, like one of them.
                let _writers = writer.lock().unwrap_or_else(|p| p.into_inner());
                match conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);") {
                    Ok(()) => tracing::info!(wal_bytes = size, "WAL truncated"),
                    Err(err) => {
                        tracing::warn!(%err, wal_bytes = size, "WAL truncation failed; retried after the next commit")
                    }
                }
            }
            shared.runs.fetch_add(1, Ordering::AcqRel);
            if stopping {
                return;
            }
            thread::sleep(PAUSE);
        } else {
            thread::park();
        }
    }
}

/// `mama.db` → `mama.db-wal`.
fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    std::path::PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use diesel::connection::SimpleConnection;

    use super::{wal_path, WAL_TRUNCATE_BYTES};
    use crate::db::{Db, DbError, Location};

    /// Size of the database file itself: it grows only when a checkpoint copies pages into it.
    fn main_file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn a_server_checkpoints_its_wal_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mama.db");
        let db = Db::open(&Location::Sqlite(path.clone()), 4).unwrap();
        let before = main_file_len(&path);
        db.append_blocking(|conn| {
            conn.batch_execute(
                "CREATE TABLE filler (bytes BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO filler SELECT randomblob(1000) FROM n;",
            )
            .map_err(DbError::from)
        })
        .unwrap();
        // The commit itself leaves the pages in the WAL (no autocheckpoint on a server's
        // connections); the checkpointer copies them into the file. The file grows while the
        // checkpoint is still running, before the thread counts it, so wait for both.
        let checkpointed = || main_file_len(&path) >= before + 1_500_000;
        let counted = || db.checkpointer().unwrap().runs() >= 1;
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while !(checkpointed() && counted()) && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            checkpointed(),
            "2 MB committed, but the database file grew from {before} to {} bytes",
            main_file_len(&path)
        );
        assert!(counted(), "the file grew, but no checkpoint was counted");
    }

    #[test]
    fn a_wal_past_its_limit_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mama.db");
        let db = Db::open(&Location::Sqlite(path.clone()), 4).unwrap();
        let rows = WAL_TRUNCATE_BYTES / 1000 + 8_000;
        db.append_blocking(|conn| {
            conn.batch_execute(&format!(
                "CREATE TABLE filler (bytes BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
                 INSERT INTO filler SELECT randomblob(1000) FROM n;"
            ))
            .map_err(DbError::from)
        })
        .unwrap();
        let wal = wal_path(&path);
        let wal_len = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        while wal_len() > WAL_TRUNCATE_BYTES && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            wal_len() <= WAL_TRUNCATE_BYTES,
            "the WAL stayed at {} bytes",
            wal_len()
        );
        let kept: i64 = {
            use diesel::sql_types::BigInt;
            #[derive(diesel::QueryableByName)]
            struct Row {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let mut conn = db.conn().unwrap();
            diesel::RunQueryDsl::get_result::<Row>(
                diesel::sql_query("SELECT count(*) AS n FROM filler"),
                &mut *conn,
            )
            .unwrap()
            .n
        };
        assert_eq!(kept as u64, rows, "nothing lost by the truncation");
    }

    #[test]
    fn commands_keep_sqlite_checkpointing_in_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mama.db");
        let db = Db::open_for_command(&Location::Sqlite(path)).unwrap();
        assert!(db.checkpointer().is_none());
        let mut conn = db.conn().unwrap();
        let mut autocheckpoint = || -> Vec<i32> {
            use diesel::sql_types::Integer;
            #[derive(diesel::QueryableByName)]
            struct Row {
                #[diesel(sql_type = Integer)]
                wal_autocheckpoint: i32,
            }
            diesel::RunQueryDsl::load::<Row>(
                diesel::sql_query("PRAGMA wal_autocheckpoint"),
                &mut *conn,
            )
            .unwrap()
            .into_iter()
            .map(|r| r.wal_autocheckpoint)
            .collect()
        };
        assert_eq!(autocheckpoint(), [1000]);
    }
}
