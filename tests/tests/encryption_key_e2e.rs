//! The encryption key an operator can lose, swap or rotate: a daemon never replaces the key of
//! a database that holds keys, refuses another key with a message saying what to restore, and
//! `rotate-encryption-key` moves every stored key to a new key, also when it is interrupted.
//! Through the real daemon binary, on the database `MAMA_TEST_DATABASE` selects.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mama_core::crypto::{KeyCipher, KeyFingerprint};
use mama_tests::harness::daemon::daemon_bin;
use mama_tests::harness::database::Kind;
use mama_tests::harness::{Daemon, RpcClient, TestDatabase};
use serde_json::{json, Value};

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

fn key_file(dir: &Path) -> PathBuf {
    data_dir(dir).join("encryption.key")
}

fn fingerprint(path: &Path) -> KeyFingerprint {
    KeyCipher::load(path).expect("a key file").fingerprint()
}

/// A new random key file (64 hex characters, mode 0600).
fn new_key_file(path: &Path) -> PathBuf {
    let hex = format!(
        "{}{}\n",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    std::fs::write(path, hex).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_owned()
}

fn copy_key(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs a `mama-daemon` subcommand on the data dir and database of a stopped daemon.
fn command(dir: &Path, db: &TestDatabase, args: &[&str]) -> Output {
    let (sub, rest) = args.split_first().expect("a subcommand");
    Command::new(daemon_bin())
        .arg(sub)
        .arg("--data-dir")
        .arg(data_dir(dir))
        .args(["--database-url", &db.url])
        .args(rest)
        .env_remove("MAMA_CONFIG")
        .output()
        .expect("mama-daemon runs")
}

/// Starts `mama-daemon serve`, which must refuse: returns what it wrote to stderr.
fn serve_refused(dir: &Path, db: &TestDatabase, args: &[&str]) -> String {
    let mut child = Command::new(daemon_bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir(dir))
        .args(["--database-url", &db.url])
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("MAMA_CONFIG")
        .env_remove("MAMA_BOOTSTRAP_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mama-daemon starts");
    // Not a timing assertion: a daemon that does not refuse would serve forever.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon started although it had to refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(!stderr.contains("mama-daemon ready"), "{stderr}");
    stderr
}

/// What a refused start must leave as it was: the write counter, the key check, every
/// ciphertext.
fn database_state(db: &TestDatabase) -> String {
    let hex = |column: &str| match db.kind {
        Kind::Sqlite => format!("hex({column})"),
        Kind::Postgres => format!("coalesce(encode({column}, 'hex'), '')"),
    };
    [
        "SELECT version FROM data_version".to_string(),
        "SELECT fingerprint || ' ' || coalesce(rotating_to, '-') FROM key_check".to_string(),
        format!(
            "SELECT id || ':' || {} || ':' || {} FROM users ORDER BY id",
            hex("key_ciphertext"),
            hex("prev_key_ciphertext")
        ),
    ]
    .iter()
    .map(|sql| db.query(sql))
    .collect::<Vec<_>>()
    .join("\n")
}

/// The data dir's files besides the database's own.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("mama.db"))
        .collect();
    names.sort();
    names
}

fn user(id: &str) -> Value {
    json!({"id": id, "organization": "ops", "models": ["gpt-4o"], "services": ["chat"], "info": {}})
}

/// Creates the service `chat` and `users` (granted it); returns a token of `chat`.
async fn populate(rpc: &mut RpcClient, ids: &[String]) -> String {
    rpc.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    let users: Vec<Value> = ids.iter().map(|id| user(id)).collect();
    let created = rpc.call("users.create", json!({ "users": users })).await;
    assert_eq!(created.ok()["created"], ids.len());
    let issued = rpc
        .call("services.issue_token", json!({"service": "chat"}))
        .await;
    issued.ok()["token"].as_str().unwrap().to_string()
}

/// Every user's plaintext key, as `users.get` shows it to an admin.
async fn keys(rpc: &mut RpcClient, ids: &[String]) -> BTreeMap<String, String> {
    let reply = rpc.call("users.get", json!({ "ids": ids })).await;
    let users = reply.ok()["users"].as_array().expect("users").clone();
    assert_eq!(users.len(), ids.len());
    users
        .iter()
        .map(|u| {
            let key = u["key"].as_str().unwrap_or_else(|| panic!("no key: {u}"));
            (u["id"].as_str().unwrap().to_string(), key.to_string())
        })
        .collect()
}

/// The key the REST lookup serves for `id`.
async fn served_key(d: &Daemon, token: &str, id: &str) -> Value {
    let resp = reqwest::Client::new()
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(token)
        .json(&json!({ "user_ids": [id] }))
        .send()
        .await
        .expect("REST answers");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    body["users"][0].clone()
}

async fn logged_in(d: &Daemon) -> RpcClient {
    let mut rpc = d.rpc();
    rpc.login("admin", mama_tests::harness::daemon::ADMIN_PASSWORD)
        .await;
    rpc
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("u-{i:03}")).collect()
}

#[tokio::test]
async fn first_start_on_an_empty_database_generates_and_records_a_key() {
    let d = Daemon::start();
    let key = key_file(d.dir.path());
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        d.db.query("SELECT fingerprint FROM key_check"),
        fingerprint(&key).to_hex()
    );
    assert!(d.log_text().contains("generated a new encryption key"));
    let mut rpc = d.admin().await;
    populate(&mut rpc, &ids(2)).await;
    let before = keys(&mut rpc, &ids(2)).await;
    // The next start finds the key it recorded.
    let (dir, db) = d.kill();
    let d = Daemon::start_on(dir, db, &[], &[]);
    assert!(!d.log_text().contains("generated a new encryption key"));
    assert_eq!(keys(&mut logged_in(&d).await, &ids(2)).await, before);
}

#[tokio::test]
async fn a_missing_key_file_is_never_replaced_on_a_database_with_keys() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    populate(&mut rpc, &ids(3)).await;
    let before = keys(&mut rpc, &ids(3)).await;
    let (dir, db) = d.kill();
    let key = key_file(dir.path());
    let expected = fingerprint(&key);
    let backup = dir.path().join("backup.key");
    std::fs::rename(&key, &backup).unwrap();
    let state = database_state(&db);
    let listing = files(dir.path());

    let err = serve_refused(dir.path(), &db, &[]);
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains(&expected.to_string()), "{err}");
    assert!(
        err.contains("restore the original encryption key file"),
        "{err}"
    );
    assert!(!key.exists(), "no new key file is created");
    assert_eq!(files(dir.path()), listing);
    assert_eq!(database_state(&db), state, "the database is unchanged");
    // check-config says the same before anyone starts it.
    let check = command(dir.path(), &db, &["check-config"]);
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("does not exist"));

    // The restored key serves the same keys.
    std::fs::rename(&backup, &key).unwrap();
    let d = Daemon::start_on(dir, db, &[], &[]);
    assert_eq!(keys(&mut logged_in(&d).await, &ids(3)).await, before);
}

#[tokio::test]
async fn another_key_file_is_refused() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    populate(&mut rpc, &ids(2)).await;
    let (dir, db) = d.kill();
    let key = key_file(dir.path());
    let expected = fingerprint(&key);
    let state = database_state(&db);

    // In place of the original, or given by --encryption-key-file: refused either way.
    let original = dir.path().join("original.key");
    copy_key(&key, &original);
    let other = new_key_file(&dir.path().join("other.key"));
    let other_hex = std::fs::read_to_string(&other).unwrap();
    copy_key(&other, &key);
    let in_place = serve_refused(dir.path(), &db, &[]);
    let by_flag = serve_refused(
        dir.path(),
        &db,
        &["--encryption-key-file", other.to_str().unwrap()],
    );
    for (err, path) in [(&in_place, &key), (&by_flag, &other)] {
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("does not match"), "{err}");
        assert!(err.contains(&expected.to_string()), "{err}");
        assert!(err.contains(&fingerprint(&other).to_string()), "{err}");
        assert!(err.contains("restore the original"), "{err}");
        assert!(!err.contains(other_hex.trim()), "never a key value");
    }
    assert_eq!(database_state(&db), state, "the database is unchanged");
    let check = command(dir.path(), &db, &["check-config"]);
    assert!(String::from_utf8_lossy(&check.stderr).contains("does not match"));

    copy_key(&original, &key);
    Daemon::start_on(dir, db, &[], &[]);
}

#[tokio::test]
async fn a_database_from_before_the_check_adopts_the_key_that_reads_it() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    populate(&mut rpc, &ids(2)).await;
    let before = keys(&mut rpc, &ids(2)).await;
    let (dir, db) = d.kill();
    // As an upgraded database: keys stored, nothing recorded.
    db.execute("DELETE FROM key_check");
    let other = new_key_file(&dir.path().join("other.key"));
    let err = serve_refused(
        dir.path(),
        &db,
        &["--encryption-key-file", other.to_str().unwrap()],
    );
    assert!(err.contains("decrypts none of the 2"), "{err}");
    assert_eq!(db.query("SELECT count(*) FROM key_check"), "0");

    let d = Daemon::start_on(dir, db, &[], &[]);
    assert_eq!(
        d.db.query("SELECT fingerprint FROM key_check"),
        fingerprint(&key_file(d.dir.path())).to_hex()
    );
    assert_eq!(keys(&mut logged_in(&d).await, &ids(2)).await, before);
}

/// Makes the rotation's update of one user fail, as a crash in the middle would stop it.
fn interrupt_at(db: &TestDatabase, id: &str) {
    db.execute(&match db.kind {
        Kind::Sqlite => format!(
            "CREATE TRIGGER interrupt_rotation BEFORE UPDATE OF key_ciphertext ON users \
             WHEN NEW.id = '{id}' BEGIN SELECT RAISE(ABORT, 'interrupted by test'); END;"
        ),
        Kind::Postgres => format!(
            "CREATE FUNCTION interrupt_rotation() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION \
             'interrupted by test'; END $$ LANGUAGE plpgsql; CREATE TRIGGER interrupt_rotation \
             BEFORE UPDATE ON users FOR EACH ROW WHEN (NEW.id = '{id}') EXECUTE FUNCTION \
             interrupt_rotation();"
        ),
    });
}

fn stop_interrupting(db: &TestDatabase) {
    db.execute(match db.kind {
        Kind::Sqlite => "DROP TRIGGER interrupt_rotation;",
        Kind::Postgres => {
            "DROP TRIGGER interrupt_rotation ON users; DROP FUNCTION interrupt_rotation();"
        }
    });
}

#[tokio::test]
async fn rotation_interrupted_then_finished_keeps_every_key_under_the_new_key() {
    let users = ids(250);
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let token = populate(&mut rpc, &users).await;
    let before = keys(&mut rpc, &users).await;
    let new_key = new_key_file(&d.dir.path().join("new.key"));
    let new = new_key.to_str().unwrap();

    // Not while a daemon runs on the database.
    let running = d.command(&["rotate-encryption-key", "--new-key-file", new]);
    assert!(!running.status.success());
    let err = String::from_utf8_lossy(&running.stderr);
    assert!(err.contains("a mama-daemon is running"), "{err}");
    assert_eq!(
        d.db.query("SELECT count(*) FROM key_check WHERE rotating_to IS NULL"),
        "1"
    );

    let (dir, db) = d.kill();
    let key = key_file(dir.path());
    let old_key = dir.path().join("old.key");
    copy_key(&key, &old_key);
    // Two users in the middle of a key rotation: their previous key is the one served.
    db.execute(
        "UPDATE users SET prev_key_ciphertext = key_ciphertext, prev_key_hash = key_hash \
         WHERE id IN ('u-007', 'u-200')",
    );

    // Batches of 40: three commit, the fourth fails.
    interrupt_at(&db, "u-150");
    let first = command(
        dir.path(),
        &db,
        &[
            "rotate-encryption-key",
            "--new-key-file",
            new,
            "--batch-size",
            "40",
        ],
    );
    assert!(!first.status.success());
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("batch 3: 120 users checked"), "{err}");
    assert!(err.contains("interrupted by test"), "{err}");
    stop_interrupting(&db);

    // Half-way, no daemon starts: neither with the old key nor with the new one.
    for args in [vec![], vec!["--encryption-key-file", new]] {
        let err = serve_refused(dir.path(), &db, &args);
        assert!(err.contains("is unfinished"), "{err}");
        assert!(err.contains("rotate-encryption-key"), "{err}");
    }

    let second = command(
        dir.path(),
        &db,
        &[
            "rotate-encryption-key",
            "--new-key-file",
            new,
            "--batch-size",
            "40",
        ],
    );
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(out.contains("finishing an interrupted rotation"), "{out}");
    assert!(
        out.contains("250 users checked in 7 batches: 131 keys re-encrypted now, 121 already under the new key, 0 readable with neither key"),
        "{out}"
    );
    let again = command(
        dir.path(),
        &db,
        &["rotate-encryption-key", "--new-key-file", new],
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));

    // The old key is refused from now on.
    let err = serve_refused(dir.path(), &db, &[]);
    assert!(err.contains("does not match"), "{err}");
    assert!(err.contains(&fingerprint(&new_key).to_string()), "{err}");

    // Installed, the new key serves every key as before, previous keys included.
    copy_key(&new_key, &key);
    let d = Daemon::start_on(dir, db, &[], &[]);
    let mut rpc = logged_in(&d).await;
    assert_eq!(keys(&mut rpc, &users).await, before);
    for id in ["u-007", "u-200", "u-249"] {
        let served = served_key(&d, &token, id).await;
        assert_eq!(served["key"], before[id].as_str(), "{served}");
    }
    // The rotation is in the event log.
    let events = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "encryption_key.rotate"}}),
        )
        .await;
    assert_eq!(events.ok()["matching"], 1);
    assert!(!events
        .body
        .to_string()
        .contains(std::fs::read_to_string(&new_key).unwrap().trim()));

    // And the old one, given back, is refused.
    let (dir, db) = d.kill();
    let err = serve_refused(
        dir.path(),
        &db,
        &["--encryption-key-file", old_key.to_str().unwrap()],
    );
    assert!(err.contains("does not match"), "{err}");
}

#[tokio::test]
async fn a_rotation_killed_midway_is_finished_by_running_it_again() {
    let users = ids(400);
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    populate(&mut rpc, &users).await;
    let before = keys(&mut rpc, &users).await;
    let (dir, db) = d.kill();
    let new_key = new_key_file(&dir.path().join("new.key"));
    let new = new_key.to_str().unwrap();

    // One user per transaction, killed (SIGKILL) once a few have committed.
    let mut child = Command::new(daemon_bin())
        .args(["rotate-encryption-key", "--data-dir"])
        .arg(data_dir(dir.path()))
        .args(["--database-url", &db.url])
        .args(["--new-key-file", new, "--batch-size", "1"])
        .env_remove("MAMA_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().starts_with("batch 5:") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Whatever it had done, running it again finishes it.
    let second = command(
        dir.path(),
        &db,
        &["rotate-encryption-key", "--new-key-file", new],
    );
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(
        out.contains("finishing an interrupted rotation") || out.contains("nothing to do"),
        "{out}"
    );
    copy_key(&new_key, &key_file(dir.path()));
    let d = Daemon::start_on(dir, db, &[], &[]);
    assert_eq!(keys(&mut logged_in(&d).await, &users).await, before);
}
