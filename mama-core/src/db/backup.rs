//! Online backup of the SQLite database.

use diesel::RunQueryDsl;

use super::{DbConn, DbError};

/// Writes a consistent copy of the database to `file` while other connections keep working.
/// `VACUUM INTO` takes the target as a bound value, so no path is ever spliced into SQL.
pub fn vacuum_into(conn: &mut DbConn, file: &std::path::Path) -> Result<(), DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<diesel::sql_types::Text, _>(file.to_string_lossy().into_owned())
                .execute(c)?;
            Ok(())
        }
        DbConn::Pg(_) => Err(DbError::Unavailable(
            "online backup is for SQLite; use pg_dump for PostgreSQL".into(),
        )),
    }
}
