//! The subcommands besides `serve`: `check-config`, `backup`, `admin reset-password`,
//! `completions`, `manpages`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use mama_core::db::Location;
use mama_core::ops::encryption_key;

use crate::config::Settings;

/// Validates everything `serve` would use and explains each problem. Returns the problems.
pub fn check_config(settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    let mut note = |p: String| problems.push(p);

    if settings.data_dir.exists() {
        if let Some(p) = writable_by_others(&settings.data_dir)
            .or_else(|| readable_by_others(&settings.data_dir))
        {
            note(p);
        }
    } else if let Some(parent) = settings.data_dir.parent().filter(|p| !p.exists()) {
        note(format!(
            "data directory {} does not exist and its parent {} is missing too",
            settings.data_dir.display(),
            parent.display()
        ));
    }
    match Location::parse(&settings.database_url) {
        Err(e) => note(format!("database: {e}")),
        Ok(location) => {
            if let Location::Sqlite(path) = &location {
                if let Some(p) = writable_by_others(path) {
                    note(p);
                }
            }
            if location.backend() == mama_core::db::Backend::Postgres
                || matches!(&location, Location::Sqlite(p) if p.exists())
            {
                match mama_core::db::Db::open_for_command(&location).and_then(|db| {
                    let mut conn = db.conn()?;
                    mama_core::db::migrate::is_current(&mut conn).map(|current| (db, current))
                }) {
                    // Does the database accept this key (or its absence)? Problems with the
                    // file itself are explained below.
                    Ok((db, true)) => {
                        match encryption_key::verify(&db, &settings.encryption_key_file) {
                            Ok(()) | Err(encryption_key::KeyCheckError::Crypto(_)) => {}
                            Err(e) => note(e.to_string()),
                        }
                    }
                    Ok((_, false)) => note(format!("database {}: migrations are pending (they run at start, or with `mama-daemon migrate`)", location.display())),
                    Err(e) => note(format!("database {}: cannot connect: {e}", location.display())),
                }
            }
        }
    }
    for (what, path) in [
        ("session signing key", &settings.jwt_key_file),
        ("encryption key", &settings.encryption_key_file),
    ] {
        if path.exists() {
            // The same rule `serve` applies to these two (mama_core::crypto): no group or others.
            if let Some(p) = private_file_problem(what, path) {
                note(p);
            }
        } else if !path
            .parent()
            .is_some_and(|d| d.exists() || d == settings.data_dir)
        {
            note(format!(
                "{what} {} does not exist and cannot be created: its directory is missing",
                path.display()
            ));
        }
    }
    match (&settings.litellm_url, &settings.litellm_master_key_file) {
        (Some(url), key) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                note(format!(
                    "litellm_url {url:?} must start with http:// or https://"
                ));
            }
            match key {
                None => note("litellm_url is set but no master key file: give --litellm-master-key-file or the credential litellm-master-key".into()),
                Some(path) if !path.exists() => note(format!("LiteLLM master key file {} does not exist", path.display())),
                Some(path) => {
                    if let Some(p) = secret_file_problem("LiteLLM master key file", path) {
                        note(p);
                    } else if std::fs::read_to_string(path).map(|k| k.trim().is_empty()).unwrap_or(true) {
                        note(format!("LiteLLM master key file {} is empty or unreadable", path.display()));
                    }
                }
            }
        }
        (None, Some(_)) => note("a LiteLLM master key file is given but no litellm_url".into()),
        (None, None) => {}
    }
    problems
}

/// The session signing key and the encryption key: refused by `serve` when group or others have
/// any access (see `mama_core::crypto`); `check-config` says so with the same rule.
fn private_file_problem(what: &str, path: &Path) -> Option<String> {
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o777,
        Err(e) => return Some(format!("{what} {}: {e}", path.display())),
    };
    (mode & 0o077 != 0).then(|| {
        format!(
            "{what} {} has mode {mode:04o}: group or others may access it, and the daemon refuses it; run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

/// A secret file that group or others may access is refused (it may have leaked already).
pub fn secret_file_problem(what: &str, path: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("{what} {}: {e}", path.display())),
    };
    let mode = meta.permissions().mode() & 0o777;
    // Credentials that systemd passes are owned by root with mode 0400/0440 in a private
    // directory; anything readable by others is not a secret any more.
    (mode & 0o007 != 0).then(|| {
        format!(
            "{what} {} has mode {mode:04o}: others may read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

/// The database (or its directory) must not be writable by group or others.
pub fn writable_by_others(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o022 != 0).then(|| {
        format!(
            "{} has mode {mode:04o}: group or others may write it; run `chmod go-w {}`",
            path.display(),
            path.display()
        )
    })
}

/// The data directory holds the database and the key files: group and others must not even
/// list it (the daemon creates it 0700; systemd's `StateDirectoryMode=0700` does the same).
pub fn readable_by_others(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} has mode {mode:04o}: group or others may read it; run `chmod 700 {}`",
            path.display(),
            path.display()
        )
    })
}

/// `mama-daemon backup FILE`: a consistent copy of the SQLite database, taken while the daemon
/// runs (SQLite's `VACUUM INTO`). PostgreSQL is backed up with pg_dump (docs/deploy.md).
pub fn backup(settings: &Settings, file: &Path) -> Result<()> {
    let location = Location::parse(&settings.database_url).map_err(anyhow::Error::msg)?;
    let Location::Sqlite(path) = &location else {
        bail!("the database is PostgreSQL: back it up with pg_dump (see docs/deploy.md)");
    };
    if !path.exists() {
        bail!("no database at {}", path.display());
    }
    if file.exists() {
        bail!("{} exists; refusing to overwrite it", file.display());
    }
    let db = mama_core::db::Db::open_for_command(&location)?;
    let mut conn = db.conn()?;
    mama_core::db::backup::vacuum_into(&mut conn, file)
        .with_context(|| format!("writing {}", file.display()))?;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}
