//! `rotate-encryption-key`: every stored key from the current key to a new one, in batches,
//! resumable, then the new key recorded.

use crate::api::actions;
use std::path::Path;

use super::{matches_recorded, missing, open_with, recorded, KeyCheckError};
use crate::crypto::{user_key_aad, CryptoError, KeyCipher, KeyFingerprint};
use crate::db::key_check::{self, KeyCheckRow, StoredKeys};
use crate::db::{self, events, Db, DbConn, DbError};
use crate::ops::Ctx;

/// Rows per rotation transaction, unless told otherwise.
pub const DEFAULT_ROTATION_BATCH: usize = 1000;

/// What a rotation did (so far: it is also handed to the progress callback after each batch).
#[derive(Debug, Clone)]
pub struct RotationReport {
    pub from: KeyFingerprint,
    pub to: KeyFingerprint,
    /// An earlier run was interrupted; this one went on with it.
    pub resumed: bool,
    /// The database was under the new key already: nothing was done.
    pub already_done: bool,
    pub batches: u64,
    /// Users with an encrypted key looked at.
    pub users: u64,
    /// Ciphertexts (current and previous keys) re-encrypted by this run.
    pub reencrypted: u64,
    /// Ciphertexts found under the new key already (written by the interrupted run).
    pub already_new: u64,
    /// Ciphertexts neither key decrypts (tampered, or from a key lost before mama recorded
    /// one): left as they were, as unreadable as before.
    pub unreadable: u64,
}

/// Re-encrypts every stored key from the key in `current` to the key in `new_path`, `batch`
/// users per transaction, then records the new key. Resumable: the database notes the rotation
/// before the first batch, each row is tried with the new key first, and a run that stopped
/// half-way (killed, crashed) is finished by running it again with the same files. No daemon may
/// use the database meanwhile (the caller makes sure of that).
pub fn rotate(
    db: &Db,
    current: &Path,
    new_path: &Path,
    batch: usize,
    mut progress: impl FnMut(&RotationReport),
) -> Result<RotationReport, KeyCheckError> {
    let batch = batch.max(1);
    let new = match KeyCipher::load(new_path) {
        Ok(cipher) => cipher,
        Err(CryptoError::Missing { path }) => return Err(KeyCheckError::NewKeyMissing { path }),
        Err(err) => return Err(err.into()),
    };
    let row = match key_check::get(&mut *db.conn()?)? {
        Some(row) => row,
        // Never started since mama records keys: check and record the current key first.
        None => {
            open_with(db, current, false)?;
            key_check::get(&mut *db.conn()?)?
                .ok_or_else(|| DbError::Corrupt("key_check missing after recording".into()))?
        }
    };
    let recorded_key = recorded(&row.fingerprint)?;
    let mut report = RotationReport {
        from: recorded_key,
        to: new.fingerprint(),
        resumed: false,
        already_done: false,
        batches: 0,
        users: 0,
        reencrypted: 0,
        already_new: 0,
        unreadable: 0,
    };
    let old = match &row.rotating_to {
        None if recorded_key == new.fingerprint() => {
            return match KeyCipher::load(current) {
                // Run again after it finished, before the files were swapped.
                Ok(old) if old.fingerprint() != recorded_key => {
                    report.already_done = true;
                    Ok(report)
                }
                _ => Err(KeyCheckError::SameKey {
                    path: new_path.to_owned(),
                    fingerprint: recorded_key,
                }),
            };
        }
        None => {
            let old = load_current(&row, current)?;
            db.write_blocking(|conn| {
                key_check::start_rotation(conn, &new.fingerprint().to_hex(), db::now())
            })?;
            old
        }
        Some(to) if recorded(to)? == new.fingerprint() => {
            report.resumed = true;
            load_current(&row, current)?
        }
        Some(to) => {
            return Err(KeyCheckError::OtherRotation {
                path: new_path.to_owned(),
                to: recorded(to)?,
                found: new.fingerprint(),
            })
        }
    };
    let mut after: Option<String> = None;
    loop {
        let (rows, counts) = db.write_blocking(|conn| {
            let rows = key_check::page(conn, after.as_deref(), batch)?;
            let mut counts = Counts::default();
            for row in &rows {
                rewrap_row(conn, row, &old, &new, &mut counts)?;
            }
            Ok::<_, DbError>((rows, counts))
        })?;
        report.batches += 1;
        report.users += rows.len() as u64;
        report.reencrypted += counts.reencrypted;
        report.already_new += counts.already_new;
        report.unreadable += counts.unreadable;
        progress(&report);
        match rows.last() {
            Some(last) if rows.len() == batch => after = Some(last.id.clone()),
            _ => break,
        }
    }
    let event = Ctx::system("cli")
        .event(actions::ENCRYPTION_KEY_ROTATE)
        .count(report.users)
        .detail(format!(
            "from={} to={} reencrypted={} unreadable={}",
            recorded_key,
            new.fingerprint(),
            report.reencrypted + report.already_new,
            report.unreadable
        ))
        .ok();
    db.write_blocking(|conn| {
        key_check::finish_rotation(conn, &new.fingerprint().to_hex(), db::now())?;
        events::insert(conn, &[event])
    })?;
    Ok(report)
}

/// The current key file's key, which must be the one `row` records.
fn load_current(row: &KeyCheckRow, path: &Path) -> Result<KeyCipher, KeyCheckError> {
    match KeyCipher::load(path) {
        Ok(cipher) => matches_recorded(row, cipher, path),
        Err(CryptoError::Missing { .. }) => Err(missing(row, path)?),
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Default)]
struct Counts {
    reencrypted: u64,
    already_new: u64,
    unreadable: u64,
}

/// Puts one user's ciphertexts under `new`; writes the row only when something changed.
fn rewrap_row(
    conn: &mut DbConn,
    row: &StoredKeys,
    old: &KeyCipher,
    new: &KeyCipher,
    counts: &mut Counts,
) -> Result<(), DbError> {
    let aad = user_key_aad(&row.id);
    let mut changed = false;
    let mut rewrap = |blob: &Option<Vec<u8>>| -> Option<Vec<u8>> {
        let blob = blob.as_ref()?;
        if new.decrypt(blob, &aad).is_ok() {
            counts.already_new += 1;
            return Some(blob.clone());
        }
        match old.decrypt(blob, &aad) {
            Ok(plain) => {
                counts.reencrypted += 1;
                changed = true;
                Some(new.encrypt(plain.expose(), &aad))
            }
            Err(_) => {
                counts.unreadable += 1;
                tracing::warn!(user = %row.id, "a stored key decrypts with neither key; left as it was");
                Some(blob.clone())
            }
        }
    };
    let key = rewrap(&row.key);
    let prev = rewrap(&row.prev);
    if changed {
        key_check::set_ciphertexts(conn, &row.id, key.as_deref(), prev.as_deref())?;
    }
    Ok(())
}
