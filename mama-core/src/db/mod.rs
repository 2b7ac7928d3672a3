//! Storage: one Diesel code path over SQLite (embedded default) and PostgreSQL.
//!
//! Diesel is synchronous, so every database call runs on tokio's blocking pool through
//! [`Db::read`] / [`Db::write`]. Writes are serialized per database: on SQLite by a process-wide
//! mutex (SQLite has one writer anyway, and a deferred transaction that upgrades to a write lock
//! can fail with `SQLITE_BUSY` instead of waiting), on PostgreSQL by a transaction-scoped advisory
//! lock, which also serializes several daemons sharing one database.

pub mod admins;
pub mod advisory;
pub mod backup;
pub mod checkpoint;
pub mod events;
pub mod key_check;
pub mod migrate;
pub mod organizations;
pub mod outbox;
pub mod schema;
pub mod services;
pub mod trash;
pub mod undo;
pub mod usage;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

/// A connection to either backend. Queries written against the portable schema run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the storage layer. `Unavailable` is an outage (the client should retry), the others
/// are bugs or data problems.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl DbError {
    /// True for a unique-constraint violation (an insert of something that exists).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// Where the data lives: a SQLite file, or a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    /// Picks the backend from the URL scheme; SQLite would accept almost any string as a path,
    /// so only `sqlite://` / `file:` / plain paths mean SQLite and `postgres(ql)://` means
    /// PostgreSQL.
    pub fn parse(url: &str) -> Result<Location, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("file:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(format!(
                "unsupported database URL scheme (use postgres://… or a SQLite file path): {}",
                redact_url(url)
            ));
        }
        Ok(Location::Sqlite(path.into()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Location::Sqlite(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        }
    }

    /// A form safe to log: PostgreSQL passwords are masked.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(u) => redact_url(u),
        }
    }
}

/// Masks the password of `scheme://user:password@host/…`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Applies the pragmas mama relies on to every new SQLite connection. (No `mmap_size`: in WAL
/// mode every commit makes readers drop their page cache and, with mmap, unmap the whole file.)
///
/// `cache_size`: SQLite's default page cache (2 MiB) is far smaller than the pages one bulk
/// change of 10,000 users touches (rows and five indexes): past it, SQLite spills dirty pages to
/// the WAL in the middle of the transaction and reads the same pages again. It is a limit, not
/// an allocation: a connection's cache grows only with the pages its transactions touch, and
/// another connection's commit empties it.
///
/// `wal_autocheckpoint = 0` on a server's connections: its [`checkpoint::Checkpointer`] does
/// that work in the background instead of inside whichever commit crossed the threshold.
#[derive(Debug)]
struct SqlitePragmas {
    background_checkpoints: bool,
}

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 10000;
                 PRAGMA cache_size = -65536;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
            if self.background_checkpoints {
                c.batch_execute("PRAGMA wal_autocheckpoint = 0;")
                    .map_err(diesel::r2d2::Error::QueryError)?;
            }
            events::register_sqlite_functions(c).map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

type DbPool = Pool<ConnectionManager<DbConn>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConn>>;

/// The connection pool plus the write-serialization rule. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    sqlite_writer: Arc<std::sync::Mutex<()>>,
    /// Bumped after every write transaction (not event appends), so in-process caches of rows
    /// can tell whether what they hold may be stale.
    write_generation: Arc<std::sync::atomic::AtomicU64>,
    /// SQLite servers only: checkpoints the WAL after commits, off the request path.
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
}

/// The advisory lock key that serializes writes to users on PostgreSQL ("mama" in ASCII).
const PG_WRITE_LOCK: i64 = 0x6d_61_6d_61;

impl Db {
    /// Opens (and for SQLite creates) the database for a server: the pool keeps one idle
    /// connection ready. Does not migrate: see [`migrate::run`].
    pub fn open(location: &Location, max_connections: u32) -> Result<Db, DbError> {
        Db::open_with(location, max_connections, true)
    }

    /// Opens the database for a short command (`check-config`, `backup`, …): no connection is
    /// made in the background. (A pool keeping a connection idle opens a new one on a pool
    /// thread as soon as one is checked out; when the command then exits, libpq could be in the
    /// middle of connecting while the process tears down its TLS library, and crash.)
    pub fn open_for_command(location: &Location) -> Result<Db, DbError> {
        Db::open_with(location, 2, false)
    }

    /// A server keeps one connection idle and checkpoints SQLite's WAL in the background; a
    /// command does neither.
    fn open_with(location: &Location, max_connections: u32, server: bool) -> Result<Db, DbError> {
        let sqlite_writer = Arc::new(std::sync::Mutex::new(()));
        let checkpointer = match location {
            Location::Sqlite(path) if server => Some(Arc::new(
                checkpoint::Checkpointer::start(path, sqlite_writer.clone())
                    .map_err(|e| DbError::Unavailable(format!("WAL checkpointer: {e}")))?,
            )),
            _ => None,
        };
        let url = match location {
            Location::Sqlite(path) => path.to_string_lossy().into_owned(),
            Location::Postgres(url) => url.clone(),
        };
        let manager = ConnectionManager::<DbConn>::new(url);
        let pool = Pool::builder()
            .max_size(max_connections.max(2))
            .min_idle(Some(u32::from(server)))
            .connection_timeout(Duration::from_secs(10))
            // A broken connection fails its query and is replaced; a validation query on every
            // checkout would cost a round trip per request.
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas {
                background_checkpoints: checkpointer.is_some(),
            }))
            .build(manager)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        Ok(Db {
            pool,
            backend: location.backend(),
            sqlite_writer,
            write_generation: Arc::default(),
            checkpointer,
        })
    }

    /// The background checkpointer, on a SQLite server.
    pub fn checkpointer(&self) -> Option<&checkpoint::Checkpointer> {
        self.checkpointer.as_deref()
    }

    fn committed(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
    }

    /// Changes after every write transaction this process ran (committed or not).
    pub fn write_generation(&self) -> u64 {
        self.write_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for blocking code (migrations, CLI commands, tests).
    pub fn conn(&self) -> Result<PooledConn, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Runs `f` with a connection on the blocking pool. For reads: no write lock is taken.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| E::from(DbError::Unavailable(e.to_string())))?;
            f(&mut conn)
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(E::from(DbError::Unavailable(format!(
                "database task failed: {e}"
            ))))
        })
    }

    /// Runs `f` inside one write transaction, serialized with every other writer.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        let joined = tokio::task::spawn_blocking(move || db.write_blocking(f)).await;
        joined.unwrap_or_else(|e| {
            Err(E::from(DbError::Unavailable(format!(
                "database task failed: {e}"
            ))))
        })
    }

    /// One transaction for appends that conflict with nothing (event batches): on PostgreSQL it
    /// takes no lock, on SQLite it still queues behind the single writer.
    pub fn append_blocking<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, DbError>,
    {
        let mut conn = self.conn()?;
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let conn: &mut DbConn = &mut conn;
        let result = conn.transaction(f);
        if result.is_ok() {
            self.committed();
        }
        result
    }

    /// The blocking form of [`Db::write`].
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut DbConn) -> Result<T, E>,
    {
        let mut conn = self.conn().map_err(E::from)?;
        // A poisoned lock only means another writer panicked; SQLite rolled its transaction back.
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let conn: &mut DbConn = &mut conn;
        let result = conn.transaction(|conn| {
            if let DbConn::Pg(pg) = conn {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(PG_WRITE_LOCK)
                    .execute(pg)?;
            }
            let value = f(conn)?;
            bump_data_version(conn).map_err(E::from)?;
            Ok(value)
        });
        // After the commit: a reader that saw the old generation before its query and the same
        // one after it cannot have read anything this transaction changed.
        self.write_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if result.is_ok() {
            self.committed();
        }
        result
    }
}

/// Counts a write transaction in the shared data version (`data_version`), inside it: caches
/// of rows read at a version stay current while it is unchanged, whichever daemon writes.
fn bump_data_version(conn: &mut DbConn) -> Result<(), DbError> {
    use diesel::ExpressionMethods;
    use schema::data_version::dsl::{data_version, version};
    diesel::update(data_version)
        .set(version.eq(version + 1))
        .execute(conn)?;
    Ok(())
}

/// The shared data version (see [`bump_data_version`]).
pub fn data_version(conn: &mut DbConn) -> Result<u64, DbError> {
    use diesel::QueryDsl;
    use schema::data_version::dsl::{data_version, version};
    let value: i64 = data_version.select(version).first(conn)?;
    Ok(value as u64)
}

/// Runs `$body` with `$c` bound to the concrete backend connection. Diesel's `MultiBackend` has
/// no multi-row `INSERT … VALUES (…), (…)`, so batch inserts (hot on bulk changes and event
/// batches) are compiled once per backend through this.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Current UTC time as stored in the database (microsecond precision on both backends).
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DateTime::from_timestamp_micros(now.and_utc().timestamp_micros())
        .map(|t| t.naive_utc())
        .unwrap_or(now)
}

/// Ids per `IN (…)` list.
pub const CHUNK: usize = 500;

/// Bound values per multi-row insert: under SQLite's limit of 32,766 (PostgreSQL allows 65,535).
const MAX_BINDS: usize = 30_000;

/// Rows per multi-row insert into a table of `columns` columns: as few statements as the bind
/// limits allow.
pub const fn rows_per_insert(columns: usize) -> usize {
    MAX_BINDS / columns
}
