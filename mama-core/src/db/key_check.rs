//! The `key_check` row (which encryption key the stored virtual keys are under), the stored
//! ciphertexts read and rewritten page by page, and the PostgreSQL lock that keeps a key
//! rotation and running daemons apart.

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use std::path::Path;

use super::schema::{key_check, users};
use super::{DbConn, DbError, Location};

/// The single row's id (the table allows no other).
const ROW_ID: i32 = 1;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = key_check)]
pub struct KeyCheckRow {
    /// The key the stored ciphertexts are under (`KeyFingerprint::to_hex`).
    pub fingerprint: String,
    pub recorded_at: NaiveDateTime,
    /// While a rotation runs: the key it re-encrypts to.
    pub rotating_to: Option<String>,
    pub rotation_started_at: Option<NaiveDateTime>,
}

pub fn get(conn: &mut DbConn) -> Result<Option<KeyCheckRow>, DbError> {
    Ok(key_check::table
        .find(ROW_ID)
        .select(KeyCheckRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records `fingerprint` unless a key is recorded already; returns what is recorded now. Run it
/// inside a write transaction, so two daemons starting at once cannot both record.
pub fn record_if_missing(
    conn: &mut DbConn,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<KeyCheckRow, DbError> {
    if let Some(row) = get(conn)? {
        return Ok(row);
    }
    diesel::insert_into(key_check::table)
        .values((
            key_check::id.eq(ROW_ID),
            key_check::fingerprint.eq(fingerprint),
            key_check::recorded_at.eq(now),
        ))
        .execute(conn)?;
    get(conn)?.ok_or_else(|| DbError::Corrupt("key_check row vanished after its insert".into()))
}

/// Notes that a rotation to `to` has begun: from now on rows are under one key or the other.
pub fn start_rotation(conn: &mut DbConn, to: &str, now: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(key_check::table.find(ROW_ID))
        .set((
            key_check::rotating_to.eq(Some(to)),
            key_check::rotation_started_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every row is under `to`: it becomes the recorded key.
pub fn finish_rotation(conn: &mut DbConn, to: &str, now: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(key_check::table.find(ROW_ID))
        .set((
            key_check::fingerprint.eq(to),
            key_check::recorded_at.eq(now),
            key_check::rotating_to.eq(None::<String>),
            key_check::rotation_started_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// True when any user has an encrypted key, current or previous.
pub fn holds_ciphertexts(conn: &mut DbConn) -> Result<bool, DbError> {
    let any: Option<String> = users::table
        .filter(
            users::key_ciphertext
                .is_not_null()
                .or(users::prev_key_ciphertext.is_not_null()),
        )
        .select(users::id)
        .first(conn)
        .optional()?;
    Ok(any.is_some())
}

/// One user's encrypted keys.
#[derive(Debug, Clone, Queryable)]
pub struct StoredKeys {
    pub id: String,
    pub key: Option<Vec<u8>>,
    pub prev: Option<Vec<u8>>,
}

/// Up to `limit` users with an encrypted key, in id order, after `after` (keyset paging, so a
/// scan of any size costs one index range per page).
pub fn page(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredKeys>, DbError> {
    let mut query = users::table
        .filter(
            users::key_ciphertext
                .is_not_null()
                .or(users::prev_key_ciphertext.is_not_null()),
        )
        .select((users::id, users::key_ciphertext, users::prev_key_ciphertext))
        .order_by(users::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Replaces a user's ciphertexts (same plaintexts under another key: nothing else changes, not
/// even the row's version).
pub fn set_ciphertexts(
    conn: &mut DbConn,
    id: &str,
    key: Option<&[u8]>,
    prev: Option<&[u8]>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::key_ciphertext.eq(key),
            users::prev_key_ciphertext.eq(prev),
        ))
        .execute(conn)?;
    Ok(())
}

/// The PostgreSQL advisory lock between running daemons (shared) and a key rotation
/// (exclusive): "mamakey" in ASCII.
const PG_KEY_LOCK: i64 = 0x6d_61_6d_61_6b_65_79;

/// How [`try_lock`] takes the key lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLockMode {
    /// A daemon: many at once, none while a rotation runs.
    Shared,
    /// A rotation: only while no daemon runs.
    Exclusive,
}

/// The key lock, held for as long as this lives: on PostgreSQL an advisory lock on a session of
/// its own (pooled connections come and go; this one stays), on SQLite an `flock` on a file next
/// to the database (`<database>-keylock`). Either is released by the kernel or the server when
/// the process dies, so a crash never leaves it behind.
pub enum KeyLock {
    Pg(PgConnection),
    Sqlite(std::fs::File),
}

impl std::fmt::Debug for KeyLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyLock::Pg(_) => "KeyLock(PostgreSQL)",
            KeyLock::Sqlite(_) => "KeyLock(SQLite)",
        })
    }
}

/// Takes the key lock for the database at `location`; `None` when it is held the other way
/// (a rotation runs, or a daemon does).
pub fn try_lock(location: &Location, mode: KeyLockMode) -> Result<Option<KeyLock>, DbError> {
    match location {
        Location::Postgres(url) => try_lock_pg(url, mode),
        Location::Sqlite(path) => try_lock_sqlite(path, mode),
    }
}

fn try_lock_pg(url: &str, mode: KeyLockMode) -> Result<Option<KeyLock>, DbError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let mut session =
        PgConnection::establish(url).map_err(|e| DbError::Unavailable(e.to_string()))?;
    let sql = match mode {
        KeyLockMode::Shared => "SELECT pg_try_advisory_lock_shared($1) AS locked",
        KeyLockMode::Exclusive => "SELECT pg_try_advisory_lock($1) AS locked",
    };
    let locked = diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(PG_KEY_LOCK)
        .get_result::<Locked>(&mut session)?
        .locked;
    Ok(locked.then_some(KeyLock::Pg(session)))
}

fn try_lock_sqlite(database: &Path, mode: KeyLockMode) -> Result<Option<KeyLock>, DbError> {
    use rustix::fs::{flock, FlockOperation};
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = database.as_os_str().to_owned();
    name.push("-keylock");
    let path = std::path::PathBuf::from(name);
    let unavailable = |e: std::io::Error| DbError::Unavailable(format!("{}: {e}", path.display()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(unavailable)?;
    let operation = match mode {
        KeyLockMode::Shared => FlockOperation::NonBlockingLockShared,
        KeyLockMode::Exclusive => FlockOperation::NonBlockingLockExclusive,
    };
    match flock(&file, operation) {
        Ok(()) => Ok(Some(KeyLock::Sqlite(file))),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(err) => Err(unavailable(err.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_key_lock_keeps_daemons_and_a_rotation_apart() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Sqlite(dir.path().join("mama.db"));
        let lock = |mode| try_lock(&location, mode).unwrap();
        let daemon = lock(KeyLockMode::Shared).expect("first daemon");
        let second = lock(KeyLockMode::Shared).expect("daemons share it");
        assert!(
            lock(KeyLockMode::Exclusive).is_none(),
            "no rotation while daemons run"
        );
        drop(daemon);
        assert!(lock(KeyLockMode::Exclusive).is_none());
        drop(second);
        let rotation = lock(KeyLockMode::Exclusive).expect("rotation once none runs");
        assert!(
            lock(KeyLockMode::Shared).is_none(),
            "no daemon while it rotates"
        );
        assert!(lock(KeyLockMode::Exclusive).is_none());
        drop(rotation);
        assert!(lock(KeyLockMode::Shared).is_some());
        assert!(dir.path().join("mama.db-keylock").exists());
    }
}
