//! What an operator of the host sees: systemd readiness, health, metrics, check-config, backup
//! and restore, local password recovery, graceful shutdown. Through the real daemon binary.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mama_tests::harness::database::Kind;
use mama_tests::harness::Daemon;
use serde_json::{json, Value};

#[tokio::test]
async fn notifies_systemd_when_ready_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut d = Daemon::start_with(
        &[],
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("a notification");
    let msg = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(msg.contains("READY=1"), "{msg}");
    // The watchdog is fed (WatchdogSec= in the unit).
    let n = sock.recv(&mut buf).expect("a watchdog ping");
    assert_eq!(String::from_utf8_lossy(&buf[..n]), "WATCHDOG=1");
    // READY=1 came after the listeners were bound: the socket answers now.
    let mut rpc = d.rpc();
    rpc.login("admin", "admin").await;
    let status = d.terminate().expect("exits on SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    // After the pings, STOPPING=1 comes.
    let mut stopping = false;
    for _ in 0..20 {
        let n = sock.recv(&mut buf).expect("a stopping notification");
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            stopping = true;
            break;
        }
    }
    assert!(stopping);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let d = Daemon::start();
    let health: Value = reqwest::get(d.rest_url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = reqwest::get(d.rest_url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], "ok");
    assert_eq!(
        ready["litellm"]["configured"], false,
        "LiteLLM is reported, not required"
    );

    let mut rpc = d.rpc();
    assert_eq!(
        rpc.call(
            "auth.login",
            json!({"username": "admin", "password": "bad password"})
        )
        .await
        .code(),
        "login_failed"
    );
    let _ = reqwest::Client::new()
        .post(d.rest_url("/api/v1/users/lookup"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let metrics = reqwest::get(d.rest_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("mama_login_failures_total 1"), "{metrics}");
    assert!(metrics.contains(r#"mama_http_requests_total{listener="rest",method="POST",route="/api/v1/users/lookup",status="401"} 1"#), "{metrics}");
    assert!(
        metrics.contains(r#"mama_rpc_calls_total{method="auth.login",outcome="login_failed"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(
        "mama_http_request_duration_seconds_bucket{listener=\"admin\",route=\"/rpc\",le=\"+Inf\"}"
    ));
    assert!(metrics.contains("mama_outbox_depth 0"));
    assert!(metrics.contains("mama_database_up 1"));
    assert!(metrics.contains("mama_event_write_failures_total 0"));
    // The refused lookup's event went through the group-commit writer.
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {metrics}"))
    };
    let (events, commits) = (
        counter("mama_audit_events_total"),
        counter("mama_audit_commits_total"),
    );
    assert!(
        events >= commits && commits >= 1,
        "{events} events in {commits} commits"
    );
}

#[tokio::test]
async fn check_config_explains_each_problem() {
    let d = Daemon::start();
    // Several times: a short command must also exit cleanly (a connection pool still connecting
    // in the background while the process exited once made it crash now and then).
    for _ in 0..10 {
        let ok = d.command(&["check-config"]);
        assert!(
            ok.status.success(),
            "{:?}: {}",
            ok.status,
            String::from_utf8_lossy(&ok.stderr)
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, "sk-master\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bad_toml = dir.path().join("mama.toml");
    std::fs::write(
        &bad_toml,
        "listen = \"127.0.0.1:1\"\nlitelm_url = \"typo\"\n",
    )
    .unwrap();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--litellm-url".into(),
                "ftp://x".into(),
                "--litellm-master-key-file".into(),
                key.display().to_string(),
            ],
            "must start with http",
        ),
        (
            vec![
                "--litellm-url".into(),
                "http://127.0.0.1:4000".into(),
                "--litellm-master-key-file".into(),
                key.display().to_string(),
            ],
            "others may read it",
        ),
        (
            vec!["--litellm-url".into(), "http://127.0.0.1:4000".into()],
            "no master key file",
        ),
        (
            vec![
                "--litellm-url".into(),
                "http://127.0.0.1:4000".into(),
                "--litellm-master-key-file".into(),
                "/nonexistent/key".into(),
            ],
            "does not exist",
        ),
        (
            vec!["--config".into(), bad_toml.display().to_string()],
            "unknown field `litelm_url`",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = std::iter::once("check-config")
            .chain(args.iter().map(String::as_str))
            .collect();
        let out = d.command(&args);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} passed");
        assert!(text.contains(expected), "{args:?}: {text}");
    }
    let bad_db = d.command(&["check-config", "--database-url", "mysql://x"]);
    assert!(
        String::from_utf8_lossy(&bad_db.stderr).contains("unsupported database URL"),
        "{}",
        String::from_utf8_lossy(&bad_db.stderr)
    );
    // The password of a URL never shows in the explanation.
    let pg = d.command(&[
        "check-config",
        "--database-url",
        "postgres://u:s3cret@127.0.0.1:1/x",
    ]);
    assert!(!String::from_utf8_lossy(&pg.stderr).contains("s3cret"));
    assert!(!pg.status.success());
}

#[tokio::test]
async fn refuses_a_database_others_can_write() {
    if mama_tests::harness::database::kind() != Kind::Sqlite {
        return println!("skipped: file permissions apply to SQLite only");
    }
    let d = Daemon::start();
    let db = d.db.sqlite_path().unwrap();
    let (dir, tdb) = d.kill();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = std::process::Command::new(mama_tests::harness::daemon::daemon_bin())
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--database-url", &tdb.url, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("group or others may write it"));
}

#[tokio::test]
async fn backup_then_restore_gives_the_same_data() {
    if mama_tests::harness::database::kind() != Kind::Sqlite {
        // PostgreSQL is backed up with pg_dump (docs/deploy.md); the command says so.
        let d = Daemon::start();
        let out = d.command(&["backup", "/tmp/never-written.db"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.call("users.create", json!({"users": [{"id": "김철수", "organization": "연구소", "models": ["gpt-4o"]}, {"id": "bob"}]})).await.ok();
    let before = rpc
        .call("users.get", json!({"ids": ["김철수", "bob"]}))
        .await
        .ok()
        .clone();

    // Online: the daemon keeps running while the backup is taken.
    let backup = d.dir.path().join("backup.db");
    let out = d.command(&["backup", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = d.command(&["backup", backup.to_str().unwrap()]);
    assert!(!again.status.success(), "never overwrites a file");

    // Changes after the backup are not in it.
    rpc.call("users.delete", json!({"ids": ["bob"]})).await.ok();

    // Restore: stop, put the copy in place, start.
    let db_path = d.db.sqlite_path().unwrap();
    let (dir, tdb) = d.kill();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_path.display()));
    }
    std::fs::copy(&backup, &db_path).unwrap();
    let d = Daemon::start_on(dir, tdb, &[], &[]);
    let mut rpc = d.rpc();
    rpc.login("admin", mama_tests::harness::daemon::ADMIN_PASSWORD)
        .await;
    let after = rpc
        .call("users.get", json!({"ids": ["김철수", "bob"]}))
        .await
        .ok()
        .clone();
    assert_eq!(after, before, "same users, same keys after restore");
}

#[tokio::test]
async fn admin_reset_password_gives_a_one_time_password() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let out = d.command(&["admin", "reset-password", "admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let password = stdout.rsplit(": ").next().unwrap().trim().to_string();
    assert!(password.len() >= 16);
    // The old session ended; the one-time password logs in but must be changed first.
    assert_eq!(
        rpc.call("users.list", json!({})).await.code(),
        "session_revoked"
    );
    let login = rpc.login("admin", &password).await;
    assert_eq!(login["must_change_password"], true);
    assert_eq!(
        rpc.call("users.list", json!({})).await.code(),
        "password_change_required"
    );
    let unknown = d.command(&["admin", "reset-password", "ghost"]);
    assert!(!unknown.status.success());
    // The reset is in the event log, without the password.
    let changed = rpc
        .call(
            "auth.change_password",
            json!({"old_password": password, "new_password": "after the reset 123"}),
        )
        .await;
    rpc.token = Some(changed.ok()["token"].as_str().unwrap().into());
    let evs = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "admins.reset_password"}}),
        )
        .await;
    assert_eq!(evs.ok()["matching"], 1);
    assert!(!evs.body.to_string().contains(&password));
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_loses_nothing() {
    let mut d = Daemon::start();
    let mut rpc = d.admin().await;
    let token = rpc.token.clone().unwrap();
    rpc.call("services.create", json!({"name": "svc"}))
        .await
        .ok();
    // Writers keep creating users while SIGTERM arrives; every acknowledged create must survive.
    let socket = d.socket.clone();
    let acked_so_far = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4 {
        let socket = socket.clone();
        let token = token.clone();
        let acked_so_far = acked_so_far.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..200 {
                let mut c = mama_tests::harness::RpcClient::unix(socket.clone());
                c.token = Some(token.clone());
                let id = format!("w{w}-{i}");
                let body = json!({"jsonrpc": "2.0", "id": 1, "method": "users.create", "params": {"users": [{"id": id}]}});
                match tokio::time::timeout(Duration::from_secs(30), try_post(&c, body)).await {
                    Ok(Some(reply)) if reply.get("result").is_some() => {
                        acked.push(id);
                        acked_so_far.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    // SIGTERM once the writers are under way (however slow the machine), while they still are.
    let started = std::time::Instant::now();
    while acked_so_far.load(Ordering::Relaxed) < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no create was acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = d.terminate();
        (status, d)
    })
    .await
    .unwrap();
    let (status, d) = status;
    assert!(status.expect("exited").success());
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(!acked.is_empty());
    let (dir, db) = d.kill();
    let d = Daemon::start_on(dir, db, &[], &[]);
    let mut rpc = d.rpc();
    rpc.login("admin", mama_tests::harness::daemon::ADMIN_PASSWORD)
        .await;
    for chunk in acked.chunks(1000) {
        let got = rpc.call("users.get", json!({"ids": chunk})).await;
        assert_eq!(
            got.ok()["missing"],
            json!([]),
            "an acknowledged create was lost"
        );
    }
}

/// Posts and returns the JSON body, or None when the daemon is gone.
async fn try_post(c: &mama_tests::harness::RpcClient, body: Value) -> Option<Value> {
    let c = c.clone();
    let bytes = body.to_string().into_bytes();
    tokio::spawn(async move { c.post_raw(bytes).await.body })
        .await
        .ok()
}

#[tokio::test]
async fn refuses_a_master_key_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, "sk-master\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = mama_tests::harness::TestDatabase::create(dir.path());
    let out = std::process::Command::new(mama_tests::harness::daemon::daemon_bin())
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--database-url", &db.url, "--listen", "127.0.0.1:0"])
        .args([
            "--litellm-url",
            "http://127.0.0.1:9",
            "--litellm-master-key-file",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("others may read it"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shell_completions_and_man_pages() {
    let bin = mama_tests::harness::daemon::daemon_bin();
    let out = std::process::Command::new(&bin)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("mama-daemon") && script.contains("check-config"));
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&bin)
        .arg("manpages")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let page =
        std::fs::read_to_string(dir.path().join("mama-daemon.1")).expect("mama-daemon.1 written");
    assert!(page.contains(".TH") && page.contains("database"), "{page}");
}
