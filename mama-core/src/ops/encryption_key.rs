//! Which encryption key the database's virtual keys are under: checked at every start, and
//! changed only by a rotation that re-encrypts every stored key.
//!
//! The database records the key's fingerprint (`key_check`). A daemon whose key file is missing
//! or holds another key refuses to start, saying which file to restore: it must never report
//! ready, answer every stored key as unreadable, and encrypt new keys under a second key. Only a
//! database that holds no encrypted key may get a freshly generated key.

use std::path::{Path, PathBuf};

mod rotate;
#[cfg(test)]
mod tests;

pub use rotate::{rotate, RotationReport, DEFAULT_ROTATION_BATCH};

use crate::crypto::{user_key_aad, CryptoError, KeyCipher, KeyFingerprint};
use crate::db::key_check::{self, KeyCheckRow};
use crate::db::{self, Db, DbConn, DbError};

/// Where the restore advice points, besides the file itself.
const RESTORE: &str = "restore the original encryption key file from your backup (or point \
    the systemd credential `encryption-key` or --encryption-key-file at it) and start again";

/// Why the key cannot be used with this database. Never carries key material: keys are named
/// by their fingerprints.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "the encryption key file {path} does not exist, but this database holds virtual keys \
         encrypted with the key of fingerprint {expected} (recorded {recorded_at} UTC); a new \
         key could not read them, so none is created: {RESTORE}"
    )]
    Missing {
        path: PathBuf,
        expected: KeyFingerprint,
        recorded_at: String,
    },
    #[error(
        "the encryption key file {path} does not exist, but this database holds encrypted \
         virtual keys; a new key could not read them, so none is created: {RESTORE}"
    )]
    MissingUnrecorded { path: PathBuf },
    #[error(
        "the encryption key in {path} (fingerprint {found}) does not match the key this \
         database's virtual keys are encrypted with (fingerprint {expected}, recorded \
         {recorded_at} UTC); with it every stored key would be unreadable and new ones would \
         be encrypted under a second key: {RESTORE}"
    )]
    Mismatch {
        path: PathBuf,
        found: KeyFingerprint,
        expected: KeyFingerprint,
        recorded_at: String,
    },
    #[error(
        "the encryption key in {path} (fingerprint {found}) decrypts none of the {stored} \
         virtual keys stored in this database: it is not the key they were encrypted with; \
         {RESTORE}"
    )]
    NoneDecrypts {
        path: PathBuf,
        found: KeyFingerprint,
        stored: u64,
    },
    #[error(
        "a rotation of the encryption key from fingerprint {from} to {to} (started {started} \
         UTC) is unfinished: run `mama-daemon rotate-encryption-key --new-key-file FILE` again \
         with the same new key file to finish it, then install the new key (docs/deploy.md, \
         \"Rotating the encryption key\")"
    )]
    RotationUnfinished {
        from: KeyFingerprint,
        to: KeyFingerprint,
        started: String,
    },
    #[error(
        "the new key file {path} does not exist: create it first (`openssl rand -hex 32 > \
         {path}`, mode 0600) and back it up before rotating"
    )]
    NewKeyMissing { path: PathBuf },
    #[error(
        "the new key in {path} is the key this database is encrypted with already \
         (fingerprint {fingerprint}): nothing to rotate"
    )]
    SameKey {
        path: PathBuf,
        fingerprint: KeyFingerprint,
    },
    #[error(
        "an unfinished rotation re-encrypts to the key of fingerprint {to}, but {path} holds \
         the key of fingerprint {found}: give --new-key-file the key file that rotation started \
         with (the keys it already re-encrypted can only be read with that key)"
    )]
    OtherRotation {
        path: PathBuf,
        to: KeyFingerprint,
        found: KeyFingerprint,
    },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for KeyCheckError {
    fn from(err: diesel::result::Error) -> Self {
        KeyCheckError::Db(err.into())
    }
}

/// How start-up came to trust the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The database recorded this key.
    Matched,
    /// The database was empty and had no key file: a new key was generated and recorded.
    Created,
    /// The database was empty: the key file's key was recorded.
    Recorded,
    /// The database held keys but no fingerprint (written before mama recorded one): the key
    /// decrypted `readable` of the stored ciphertexts and was recorded.
    Adopted { readable: u64, unreadable: u64 },
}

/// A key the database agrees with.
#[derive(Debug)]
pub struct OpenedKey {
    pub cipher: KeyCipher,
    pub opened: Opened,
}

/// Loads the key at `path` for a daemon: the key the database recorded, or, on a database that
/// holds no encrypted key, the file's key (a new one when the file is missing), which is then
/// recorded. Refuses everything else; see [`KeyCheckError`].
pub fn open(db: &Db, path: &Path) -> Result<OpenedKey, KeyCheckError> {
    open_with(db, path, true)
}

/// What [`open`] would refuse, without creating or recording anything (`check-config`).
pub fn verify(db: &Db, path: &Path) -> Result<(), KeyCheckError> {
    examine(db, path).map(|_| ())
}

/// The database's view of a key file, before anything is recorded.
enum Examined {
    /// The recorded key.
    Matches(KeyCipher),
    /// Nothing recorded and nothing encrypted: any key may be recorded (`None`: no file).
    Empty(Option<KeyCipher>),
    /// Nothing recorded, but keys are stored: this key decrypts `readable` of them.
    Unrecorded {
        cipher: KeyCipher,
        readable: u64,
        unreadable: u64,
    },
}

fn examine(db: &Db, path: &Path) -> Result<Examined, KeyCheckError> {
    let mut conn = db.conn()?;
    let loaded = match KeyCipher::load(path) {
        Ok(cipher) => Some(cipher),
        Err(CryptoError::Missing { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    if let Some(row) = key_check::get(&mut conn)? {
        refuse_rotation(&row)?;
        let Some(cipher) = loaded else {
            return Err(missing(&row, path)?);
        };
        return matches_recorded(&row, cipher, path).map(Examined::Matches);
    }
    if !key_check::holds_ciphertexts(&mut conn)? {
        return Ok(Examined::Empty(loaded));
    }
    let Some(cipher) = loaded else {
        return Err(KeyCheckError::MissingUnrecorded {
            path: path.to_owned(),
        });
    };
    let (readable, unreadable) = count_readable(&mut conn, &cipher)?;
    if readable == 0 {
        return Err(KeyCheckError::NoneDecrypts {
            path: path.to_owned(),
            found: cipher.fingerprint(),
            stored: unreadable,
        });
    }
    Ok(Examined::Unrecorded {
        cipher,
        readable,
        unreadable,
    })
}

/// `cipher` if it is the key `row` records.
fn matches_recorded(
    row: &KeyCheckRow,
    cipher: KeyCipher,
    path: &Path,
) -> Result<KeyCipher, KeyCheckError> {
    let expected = recorded(&row.fingerprint)?;
    if cipher.fingerprint() != expected {
        return Err(KeyCheckError::Mismatch {
            path: path.to_owned(),
            found: cipher.fingerprint(),
            expected,
            recorded_at: when(row.recorded_at),
        });
    }
    Ok(cipher)
}

/// The refusal when the key file recorded by `row` is missing.
fn missing(row: &KeyCheckRow, path: &Path) -> Result<KeyCheckError, DbError> {
    Ok(KeyCheckError::Missing {
        path: path.to_owned(),
        expected: recorded(&row.fingerprint)?,
        recorded_at: when(row.recorded_at),
    })
}

fn refuse_rotation(row: &KeyCheckRow) -> Result<(), KeyCheckError> {
    match &row.rotating_to {
        None => Ok(()),
        Some(to) => Err(KeyCheckError::RotationUnfinished {
            from: recorded(&row.fingerprint)?,
            to: recorded(to)?,
            started: row.rotation_started_at.map(when).unwrap_or_default(),
        }),
    }
}

fn open_with(db: &Db, path: &Path, may_create: bool) -> Result<OpenedKey, KeyCheckError> {
    // A daemon sharing the database may record its key between our look and our write; then
    // look again (the second look sees its record).
    for _ in 0..3 {
        let (cipher, opened) = match examine(db, path)? {
            Examined::Matches(cipher) => {
                return Ok(OpenedKey {
                    cipher,
                    opened: Opened::Matched,
                })
            }
            Examined::Empty(Some(cipher)) => (Some(cipher), Opened::Recorded),
            Examined::Empty(None) if may_create => (None, Opened::Created),
            Examined::Empty(None) => {
                return Err(CryptoError::Missing {
                    path: path.to_owned(),
                }
                .into())
            }
            Examined::Unrecorded {
                cipher,
                readable,
                unreadable,
            } => (
                Some(cipher),
                Opened::Adopted {
                    readable,
                    unreadable,
                },
            ),
        };
        let was_empty = matches!(opened, Opened::Created | Opened::Recorded);
        let recorded = db.write_blocking(|conn| {
            if key_check::get(conn)?.is_some() || (was_empty && key_check::holds_ciphertexts(conn)?)
            {
                return Ok(None);
            }
            // Only now, with the database known empty inside this transaction, may a key be made.
            let cipher = match cipher {
                Some(cipher) => cipher,
                None => KeyCipher::load_or_create(path)?,
            };
            key_check::record_if_missing(conn, &cipher.fingerprint().to_hex(), db::now())?;
            Ok::<_, KeyCheckError>(Some(cipher))
        })?;
        if let Some(cipher) = recorded {
            return Ok(OpenedKey { cipher, opened });
        }
    }
    Err(DbError::Unavailable("the key check kept changing under another daemon".into()).into())
}

/// How many stored ciphertexts `cipher` decrypts, and how many it does not.
fn count_readable(conn: &mut DbConn, cipher: &KeyCipher) -> Result<(u64, u64), DbError> {
    let (mut readable, mut unreadable) = (0, 0);
    let mut after: Option<String> = None;
    loop {
        let rows = key_check::page(conn, after.as_deref(), SCAN_PAGE)?;
        for row in &rows {
            let aad = user_key_aad(&row.id);
            for blob in [&row.key, &row.prev].into_iter().flatten() {
                match cipher.decrypt(blob, &aad) {
                    Ok(_) => readable += 1,
                    Err(_) => unreadable += 1,
                }
            }
        }
        match rows.last() {
            Some(last) if rows.len() == SCAN_PAGE => after = Some(last.id.clone()),
            _ => return Ok((readable, unreadable)),
        }
    }
}

/// Users read per page when only reading.
const SCAN_PAGE: usize = 1000;

fn recorded(hex: &str) -> Result<KeyFingerprint, DbError> {
    KeyFingerprint::from_hex(hex)
        .ok_or_else(|| DbError::Corrupt("key_check holds no valid fingerprint".into()))
}

fn when(at: chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
