//! The encryption key at start-up and `rotate-encryption-key`. The database decides which key it
//! accepts (`mama_core::ops::encryption_key`); this adds the key lock that keeps a rotation and
//! running daemons apart, the logs, and the command's output.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use mama_core::crypto::KeyCipher;
use mama_core::db::key_check::{self, KeyLock, KeyLockMode};
use mama_core::db::{Db, Location};
use mama_core::ops::encryption_key::{self, Opened, RotationReport};

use crate::config::Settings;
use crate::database::{open_database, Use};

/// The key for `serve`, once the database agrees with it, and the shared key lock, which the
/// daemon holds until it exits (a rotation cannot start meanwhile).
pub fn open_for_serve(settings: &Settings, db: &Db) -> Result<(KeyCipher, KeyLock)> {
    let location = Location::parse(&settings.database_url).map_err(anyhow::Error::msg)?;
    let lock = key_check::try_lock(&location, KeyLockMode::Shared)
        .context("taking the encryption key lock")?
        .ok_or_else(|| {
            anyhow!(
                "refusing to start: `mama-daemon rotate-encryption-key` is running on this \
                 database; start the daemon once it has finished"
            )
        })?;
    let path = &settings.encryption_key_file;
    let opened = encryption_key::open(db, path).map_err(|e| anyhow!("refusing to start: {e}"))?;
    let fingerprint = opened.cipher.fingerprint();
    match opened.opened {
        Opened::Matched => {}
        Opened::Created => tracing::warn!(
            path = %path.display(),
            %fingerprint,
            "generated a new encryption key for this empty database; back it up now: without it \
             the virtual keys stored from now on cannot be read"
        ),
        Opened::Recorded => tracing::info!(
            path = %path.display(),
            %fingerprint,
            "recorded which encryption key this database uses"
        ),
        Opened::Adopted {
            readable,
            unreadable,
        } => {
            tracing::info!(path = %path.display(), %fingerprint, readable,
                "the encryption key decrypts the stored keys; recorded it as this database's key");
            if unreadable > 0 {
                tracing::warn!(
                    unreadable,
                    "stored keys that do not decrypt with this key (encrypted under another \
                     key before mama recorded its key): they stay unreadable until those users' \
                     keys are rotated"
                );
            }
        }
    }
    Ok((opened.cipher, lock))
}

/// `mama-daemon rotate-encryption-key --new-key-file FILE`: re-encrypts every stored key under
/// the key in FILE. Every daemon on the database must be stopped (the key lock makes sure).
pub fn rotate(settings: &Settings, new_key_file: &Path, batch_size: usize) -> Result<()> {
    let db = open_database(settings, Use::Command)?;
    let location = Location::parse(&settings.database_url).map_err(anyhow::Error::msg)?;
    let Some(_lock) = key_check::try_lock(&location, KeyLockMode::Exclusive)
        .context("taking the encryption key lock")?
    else {
        bail!(
            "a mama-daemon is running on this database (or another rotation is): stop every \
             daemon that uses it (`systemctl stop mama-daemon` on each host), then run this again"
        );
    };
    let current = &settings.encryption_key_file;
    eprintln!(
        "re-encrypting the stored keys from the key in {} to the key in {}, {batch_size} users \
         per transaction",
        current.display(),
        new_key_file.display()
    );
    let report = encryption_key::rotate(&db, current, new_key_file, batch_size, |r| {
        eprintln!(
            "batch {}: {} users checked, {} keys re-encrypted",
            r.batches,
            r.users,
            r.reencrypted + r.already_new
        )
    })
    .map_err(|e| anyhow!("{e}"))?;
    print_report(&report, current, new_key_file);
    Ok(())
}

fn print_report(report: &RotationReport, current: &Path, new_key_file: &Path) {
    if report.already_done {
        println!(
            "nothing to do: the database already uses the key in {} (fingerprint {})",
            new_key_file.display(),
            report.to
        );
    } else {
        let resumed = if report.resumed {
            " (finishing an interrupted rotation)"
        } else {
            ""
        };
        println!(
            "encryption key rotated{resumed}: fingerprint {} -> {}",
            report.from, report.to
        );
        println!(
            "{} users checked in {} batches: {} keys re-encrypted now, {} already under the new \
             key, {} readable with neither key (left as they were)",
            report.users, report.batches, report.reencrypted, report.already_new, report.unreadable
        );
    }
    println!(
        "the database now accepts only the key in {}; install it where the daemon reads its key \
         (now {}), keep the old key until the daemon has started with the new one, then start it \
         (docs/deploy.md, \"Rotating the encryption key\")",
        new_key_file.display(),
        current.display()
    );
}
