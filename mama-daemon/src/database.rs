//! Opening the database for the daemon and its commands: private files and directory,
//! migrations applied. Below both `serve` and the commands (encryption key rotation, backup),
//! which all open it the same way.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use mama_core::db::{self, Db, Location};

use crate::config::Settings;

/// How long the opened database is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// The daemon: a pool of connections, one kept ready.
    Serve,
    /// A short command that exits right after (see [`Db::open_for_command`]).
    Command,
}

/// Opens the database named by the settings and applies pending migrations.
pub fn open_database(settings: &Settings, purpose: Use) -> Result<Db> {
    let location = Location::parse(&settings.database_url).map_err(anyhow::Error::msg)?;
    if let Location::Sqlite(path) = &location {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_private_dir(dir)?;
        }
        if let Some(problem) = crate::commands::writable_by_others(path) {
            bail!("refusing to start: {problem}");
        }
    }
    let db = match purpose {
        Use::Serve => Db::open(&location, 16),
        Use::Command => Db::open_for_command(&location),
    }
    .with_context(|| format!("opening database {}", location.display()))?;
    if let Location::Sqlite(path) = &location {
        // A database made by an older version (or before the umask) may be 0644: its WAL and
        // shared-memory files take the database file's mode, so this makes all three private.
        private_file(path)?;
    }
    let mut conn = db.conn().context("connecting to the database")?;
    let applied = db::migrate::run(&mut conn).context("running migrations")?;
    if applied > 0 {
        tracing::info!(applied, database = %location.display(), "migrations applied");
    }
    Ok(db)
}

/// Takes group and others' access away from a file the daemon owns.
fn private_file(path: &Path) -> Result<()> {
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading the mode of {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("making {} private", path.display()))?;
    }
    Ok(())
}

/// Creates the data directory with mode 0700 when missing.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
