use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use diesel::prelude::*;

use super::*;
use crate::db::schema::users;
use crate::db::Location;

fn database() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_for_command(&Location::Sqlite(dir.path().join("mama.db"))).unwrap();
    db::migrate::run(&mut db.conn().unwrap()).unwrap();
    (dir, db)
}

/// Writes a key file of 32 × `byte` (hex, mode 0600) and returns its path.
fn key_file(dir: &Path, name: &str, byte: u8) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", hex::encode([byte; 32]))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn cipher(byte: u8) -> KeyCipher {
    KeyCipher::from_bytes(&[byte; 32])
}

/// A user whose key (and, when given, previous key) is encrypted with `cipher`.
fn add_user(db: &Db, id: &str, cipher: &KeyCipher, key: &str, prev: Option<&str>) {
    let aad = user_key_aad(id);
    let now = db::now();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::key_ciphertext.eq(Some(cipher.encrypt(key, &aad))),
            users::prev_key_ciphertext.eq(prev.map(|p| cipher.encrypt(p, &aad))),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(&mut *db.conn().unwrap())
        .unwrap();
}

/// A user's keys as `cipher` reads them; `None` for a key it cannot read.
fn read_keys(db: &Db, id: &str, cipher: &KeyCipher) -> (Option<String>, Option<String>) {
    let (key, prev): (Option<Vec<u8>>, Option<Vec<u8>>) = users::table
        .find(id)
        .select((users::key_ciphertext, users::prev_key_ciphertext))
        .first(&mut *db.conn().unwrap())
        .unwrap();
    let read = |blob: Option<Vec<u8>>| {
        blob.and_then(|b| cipher.decrypt(&b, &user_key_aad(id)).ok())
            .map(|s| s.expose().to_string())
    };
    (read(key), read(prev))
}

fn recorded_fingerprint(db: &Db) -> Option<String> {
    key_check::get(&mut db.conn().unwrap())
        .unwrap()
        .map(|row| row.fingerprint)
}

#[test]
fn an_empty_database_gets_a_new_key_which_is_recorded() {
    let (dir, db) = database();
    let path = dir.path().join("encryption.key");
    let first = open(&db, &path).unwrap();
    assert_eq!(first.opened, Opened::Created);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        recorded_fingerprint(&db),
        Some(first.cipher.fingerprint().to_hex())
    );
    let again = open(&db, &path).unwrap();
    assert_eq!(again.opened, Opened::Matched);
    assert_eq!(again.cipher.fingerprint(), first.cipher.fingerprint());
}

#[test]
fn an_empty_database_records_the_key_file_it_is_given() {
    let (dir, db) = database();
    let path = key_file(dir.path(), "key", 1);
    assert_eq!(open(&db, &path).unwrap().opened, Opened::Recorded);
    assert_eq!(
        recorded_fingerprint(&db),
        Some(cipher(1).fingerprint().to_hex())
    );
}

#[test]
fn a_missing_or_other_key_is_refused_and_none_is_created() {
    let (dir, db) = database();
    let path = key_file(dir.path(), "encryption.key", 1);
    open(&db, &path).unwrap();
    add_user(&db, "kim", &cipher(1), "sk-kim", None);

    std::fs::remove_file(&path).unwrap();
    for err in [
        open(&db, &path).unwrap_err(),
        verify(&db, &path).unwrap_err(),
    ] {
        assert!(matches!(err, KeyCheckError::Missing { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&cipher(1).fingerprint().to_string()));
        assert!(message.contains("restore the original encryption key file"));
    }
    assert!(!path.exists(), "no new key is created");

    key_file(dir.path(), "encryption.key", 2);
    let err = open(&db, &path).unwrap_err();
    assert!(matches!(err, KeyCheckError::Mismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&cipher(2).fingerprint().to_string()));
    assert!(message.contains(&cipher(1).fingerprint().to_string()));
    assert!(message.contains("does not match"));
    assert!(!message.contains(&hex::encode([2u8; 32])), "never the key");
    assert!(!message.contains(&hex::encode([1u8; 32])), "never the key");
    assert!(matches!(
        verify(&db, &path),
        Err(KeyCheckError::Mismatch { .. })
    ));
    // Nothing changed: the original key still opens it.
    key_file(dir.path(), "encryption.key", 1);
    assert_eq!(open(&db, &path).unwrap().opened, Opened::Matched);
}

#[test]
fn a_recorded_key_is_required_even_with_no_key_stored() {
    let (dir, db) = database();
    let path = key_file(dir.path(), "encryption.key", 1);
    open(&db, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        open(&db, &path),
        Err(KeyCheckError::Missing { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn keys_stored_before_the_check_existed_decide_which_key_is_adopted() {
    let (dir, db) = database();
    add_user(&db, "a", &cipher(1), "sk-a", Some("sk-a-old"));
    add_user(&db, "b", &cipher(1), "sk-b", None);
    let missing = dir.path().join("none.key");
    assert!(matches!(
        open(&db, &missing),
        Err(KeyCheckError::MissingUnrecorded { .. })
    ));
    assert!(!missing.exists());
    let wrong = key_file(dir.path(), "wrong", 2);
    let err = open(&db, &wrong).unwrap_err();
    assert!(
        matches!(err, KeyCheckError::NoneDecrypts { stored: 3, .. }),
        "{err}"
    );
    assert_eq!(recorded_fingerprint(&db), None);

    // One ciphertext under another key (a key file replaced in the past) does not block the
    // key that reads the others; it is counted.
    add_user(&db, "c", &cipher(3), "sk-c", None);
    let right = key_file(dir.path(), "right", 1);
    assert!(verify(&db, &right).is_ok());
    assert_eq!(recorded_fingerprint(&db), None, "verify records nothing");
    let opened = open(&db, &right).unwrap();
    assert_eq!(
        opened.opened,
        Opened::Adopted {
            readable: 3,
            unreadable: 1
        }
    );
    assert_eq!(
        recorded_fingerprint(&db),
        Some(cipher(1).fingerprint().to_hex())
    );
    assert!(matches!(
        open(&db, &wrong),
        Err(KeyCheckError::Mismatch { .. })
    ));
}

#[test]
fn rotation_resumes_after_a_crash_and_the_old_key_is_refused_after() {
    let (dir, db) = database();
    let old = key_file(dir.path(), "encryption.key", 1);
    let new = key_file(dir.path(), "new.key", 2);
    open(&db, &old).unwrap();
    let ids: Vec<String> = (0..7).map(|i| format!("user-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let prev = (i % 3 == 0).then(|| format!("sk-{id}-prev"));
        add_user(&db, id, &cipher(1), &format!("sk-{id}"), prev.as_deref());
    }
    // One ciphertext no key reads: left as it is, reported.
    add_user(&db, "zz-broken", &cipher(9), "sk-lost", None);

    // A crash after two committed batches of two users.
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rotate(&db, &old, &new, 2, |report| {
            if report.batches == 2 {
                panic!("simulated crash");
            }
        })
    }));
    assert!(crashed.is_err());
    for path in [&old, &new] {
        let err = open(&db, path).unwrap_err();
        assert!(
            matches!(err, KeyCheckError::RotationUnfinished { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("rotate-encryption-key"));
    }
    // Only the rotation it started may finish it.
    let other = key_file(dir.path(), "other.key", 4);
    assert!(matches!(
        rotate(&db, &old, &other, 2, |_| {}),
        Err(KeyCheckError::OtherRotation { .. })
    ));

    let report = rotate(&db, &old, &new, 2, |_| {}).unwrap();
    assert!(report.resumed);
    assert_eq!(report.users, 8);
    // Users 0-3 were done before the crash: user-0 and user-3 have a previous key too.
    assert_eq!(report.already_new, 6);
    assert_eq!(report.reencrypted, 3 + 1);
    assert_eq!(report.unreadable, 1);
    assert_eq!(report.from, cipher(1).fingerprint());
    assert_eq!(report.to, cipher(2).fingerprint());

    for (i, id) in ids.iter().enumerate() {
        let prev = (i % 3 == 0).then(|| format!("sk-{id}-prev"));
        assert_eq!(
            read_keys(&db, id, &cipher(2)),
            (Some(format!("sk-{id}")), prev)
        );
        assert_eq!(read_keys(&db, id, &cipher(1)), (None, None));
    }
    assert_eq!(
        read_keys(&db, "zz-broken", &cipher(9)),
        (Some("sk-lost".into()), None)
    );
    assert!(matches!(
        open(&db, &old),
        Err(KeyCheckError::Mismatch { .. })
    ));
    assert_eq!(open(&db, &new).unwrap().opened, Opened::Matched);

    // Again, before the files were swapped: nothing to do. The new key as both: refused.
    assert!(rotate(&db, &old, &new, 2, |_| {}).unwrap().already_done);
    assert!(matches!(
        rotate(&db, &new, &new, 2, |_| {}),
        Err(KeyCheckError::SameKey { .. })
    ));
    // The rotation is in the event log, without keys.
    let detail: Option<String> = crate::db::schema::events::table
        .filter(crate::db::schema::events::action.eq("encryption_key.rotate"))
        .select(crate::db::schema::events::detail)
        .first(&mut *db.conn().unwrap())
        .unwrap();
    let detail = detail.unwrap();
    assert!(detail.contains(&cipher(2).fingerprint().to_string()));
    assert!(!detail.contains(&hex::encode([2u8; 32])));
}

#[test]
fn rotation_needs_the_new_key_file_and_the_recorded_key() {
    let (dir, db) = database();
    let old = key_file(dir.path(), "encryption.key", 1);
    open(&db, &old).unwrap();
    add_user(&db, "kim", &cipher(1), "sk-kim", None);
    let absent = dir.path().join("absent.key");
    let err = rotate(&db, &old, &absent, 10, |_| {}).unwrap_err();
    assert!(matches!(err, KeyCheckError::NewKeyMissing { .. }), "{err}");
    assert!(!absent.exists(), "the new key is never generated here");
    let new = key_file(dir.path(), "new.key", 2);
    let wrong_current = key_file(dir.path(), "wrong.key", 3);
    assert!(matches!(
        rotate(&db, &wrong_current, &new, 10, |_| {}),
        Err(KeyCheckError::Mismatch { .. })
    ));
    assert!(matches!(
        rotate(&db, &old, &old, 10, |_| {}),
        Err(KeyCheckError::SameKey { .. })
    ));
    // Refusals started nothing.
    assert!(key_check::get(&mut db.conn().unwrap())
        .unwrap()
        .unwrap()
        .rotating_to
        .is_none());
    let report = rotate(&db, &old, &new, 10, |_| {}).unwrap();
    assert_eq!(
        (report.users, report.reencrypted, report.batches),
        (1, 1, 1)
    );
    assert_eq!(
        read_keys(&db, "kim", &cipher(2)),
        (Some("sk-kim".into()), None)
    );
}

#[test]
fn rotation_of_a_database_never_checked_verifies_the_current_key_first() {
    let (dir, db) = database();
    add_user(&db, "kim", &cipher(1), "sk-kim", None);
    let new = key_file(dir.path(), "new.key", 2);
    let wrong = key_file(dir.path(), "wrong.key", 3);
    assert!(matches!(
        rotate(&db, &wrong, &new, 10, |_| {}),
        Err(KeyCheckError::NoneDecrypts { .. })
    ));
    let old = key_file(dir.path(), "encryption.key", 1);
    let report = rotate(&db, &old, &new, 10, |_| {}).unwrap();
    assert_eq!(report.reencrypted, 1);
    assert_eq!(
        recorded_fingerprint(&db),
        Some(cipher(2).fingerprint().to_hex())
    );
}
