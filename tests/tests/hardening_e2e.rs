//! Attacks on the daemon's edges, against the real daemon (SQLite, or PostgreSQL with
//! `MAMA_TEST_DATABASE=postgres`): logging in under attack and with a broken event log, floods of
//! unauthenticated requests, and clients that never finish their headers.
//!
//! - a stranger failing over the network slows only himself (per account *and* source), never
//!   locks the rightful admin out, and never reaches an operator on the local Unix socket;
//! - a spray over many accounts from one address is slowed as one source;
//! - while events cannot be stored, a right and a wrong password get the same refusal, before
//!   the password is evaluated, failures still count, and `/readyz` says not ready.

use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// Tries to log in; on success the client keeps the session. Returns the status and error code
/// (`ok` on success).
async fn login(rpc: &mut RpcClient, username: &str, password: &str) -> (u16, String) {
    let reply = rpc
        .call(
            "auth.login",
            json!({"username": username, "password": password}),
        )
        .await;
    if let Some(token) = reply.body["result"]["token"].as_str() {
        rpc.token = Some(token.to_string());
    }
    let code = reply.body["error"]["data"]["code"]
        .as_str()
        .unwrap_or("ok")
        .to_string();
    (reply.status, code)
}

#[tokio::test]
async fn a_stranger_on_the_network_never_locks_the_operator_out() {
    let d = Daemon::start();
    // The operator has set a password (the harness logs in over the socket).
    let mut operator = d.admin().await;
    let password = mama_tests::harness::daemon::ADMIN_PASSWORD;
    operator.call("auth.logout", json!({})).await.ok();

    // A stranger guesses over TCP, a new connection (and port) per attempt, until slowed.
    let mut failed = 0;
    let throttled = loop {
        let mut stranger = d.rpc_tcp();
        let (status, code) = login(&mut stranger, "admin", &format!("guess-{failed}")).await;
        match code.as_str() {
            "login_failed" => {
                assert_eq!(status, 401);
                failed += 1;
            }
            "login_throttled" => break status,
            other => panic!("unexpected {other}"),
        }
        assert!(
            failed <= 10,
            "a new port per attempt must not escape the throttle"
        );
    };
    assert_eq!(throttled, 429);
    assert!(failed >= 3, "three tries are free");

    // The operator on the Unix socket is not slowed by any of it.
    let mut local = d.rpc();
    let (status, code) = login(&mut local, "admin", password).await;
    assert_eq!((status, code.as_str()), (200, "ok"));
    // And the operator's success does not wipe the stranger's record.
    let kept: i64 =
        d.db.query("SELECT count(*) FROM login_failures WHERE client NOT LIKE 'unix:%'")
            .trim()
            .parse()
            .unwrap();
    assert_eq!(
        kept, failed,
        "the stranger's failures still count against the stranger"
    );

    // Every evaluated failure is an event; refusals are recorded too.
    let evs = local
        .call(
            "events.list",
            json!({"filter": {"action": "auth.login", "result": "error"}, "page": {"limit": 100}}),
        )
        .await;
    let errors: Vec<String> = evs.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error_code"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(errors.iter().filter(|c| *c == "login_failed").count() >= 3);
    assert!(errors.iter().any(|c| c == "login_throttled"));
}

#[tokio::test]
async fn a_spray_over_many_accounts_is_slowed_as_one_source() {
    let d = Daemon::start();
    let mut codes = Vec::new();
    for i in 0..40 {
        let mut rpc = d.rpc_tcp();
        codes.push(
            login(&mut rpc, &format!("account-{i}"), "Winter2026!")
                .await
                .1,
        );
    }
    let evaluated = codes.iter().filter(|c| *c == "login_failed").count();
    assert!(
        evaluated < 20,
        "one address spraying 40 accounts is slowed after 10: {codes:?}"
    );
    assert!(codes[..10].iter().all(|c| c == "login_failed"), "{codes:?}");
    assert!(codes.iter().any(|c| c == "login_throttled"));
}

#[tokio::test]
async fn while_events_cannot_be_stored_every_password_gets_the_same_refusal() {
    let d = Daemon::start();
    let password = mama_tests::harness::daemon::ADMIN_PASSWORD;
    let mut operator = d.admin().await;
    operator.call("auth.logout", json!({})).await.ok();
    let ready = || async {
        let resp = reqwest::get(d.rest_url("/readyz")).await.expect("readyz");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("JSON");
        (status, body)
    };
    assert_eq!(ready().await.0, 200);

    d.db.refuse_events();
    let mut answers = Vec::new();
    for pw in ["wrong-password-1", password, "wrong-password-2", password] {
        let mut rpc = d.rpc_tcp();
        answers.push(login(&mut rpc, "admin", pw).await);
    }
    for a in &answers {
        assert_eq!(a, &(503, "unavailable".to_string()), "{answers:?}");
    }
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["events"], "not writable");
    // Throttling does not depend on the events: the failures evaluated before the log broke,
    // and any counted while it was broken, stay.
    let failures: i64 =
        d.db.query("SELECT count(*) FROM login_failures")
            .trim()
            .parse()
            .unwrap();
    assert!(
        failures <= 2,
        "nothing evaluated without its event: {failures}"
    );

    d.db.allow_events();
    let (status, body) = ready().await;
    assert_eq!(status, 200, "{body}");
    let mut rpc = d.rpc_tcp();
    assert_eq!(login(&mut rpc, "admin", password).await, (200, "ok".into()));
    let recovered = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "events.recovered"}}),
        )
        .await;
    assert!(recovered.ok()["matching"].as_u64().unwrap() >= 1);
}

/// An unauthenticated flood costs the event log two events per source and interval, not one
/// per request, while every request stays accounted for; past a limit the source is turned away
/// early (429), and a legitimate service is answered throughout.
#[tokio::test]
async fn an_unauthenticated_flood_does_not_grow_the_event_log() {
    let mut d = Daemon::start();
    let mut admin = d.admin().await;
    let token = admin.service_token("chat").await;
    let client = reqwest::Client::new();
    let url = d.rest_url("/api/v1/users/lookup");
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..700 {
        let status = client
            .post(&url)
            .bearer_auth(format!("mama_st_{i:064x}"))
            .json(&json!({"user_ids": ["u1"]}))
            .send()
            .await
            .expect("answers")
            .status()
            .as_u16();
        *statuses.entry(status).or_insert(0) += 1;
        if i == 650 {
            // The rightful service is not affected.
            let ok = client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"user_ids": ["u1"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(ok.status().as_u16(), 200);
        }
    }
    assert_eq!(statuses[&401], 600, "{statuses:?}");
    assert_eq!(statuses[&429], 100, "{statuses:?}");
    let refused_events: i64 =
        d.db.query("SELECT count(*) FROM events WHERE action = 'rest.lookup' AND result <> 'ok'")
            .trim()
            .parse()
            .unwrap();
    assert_eq!(
        refused_events, 1,
        "one event for the interval's first refusal"
    );

    // SIGTERM records the interval's aggregate: every request is accounted for.
    d.terminate();
    let counted: i64 =
        d.db.query("SELECT sum(target_count) FROM events WHERE action = 'rest.refused'")
            .trim()
            .parse()
            .unwrap();
    assert_eq!(counted, 699);
}

/// Clients that open connections and never finish their headers are cut off, and do not starve
/// anyone else meanwhile.
#[tokio::test]
async fn half_sent_requests_neither_starve_the_daemon_nor_stay_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = Daemon::start();
    let mut stalled = Vec::new();
    for _ in 0..300 {
        let mut s = tokio::net::TcpStream::connect(d.rest)
            .await
            .expect("connect");
        s.write_all(b"POST /api/v1/users/lookup HTTP/1.1\r\nHost: mama\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(s);
    }
    let health = reqwest::get(d.rest_url("/healthz"))
        .await
        .expect("answered");
    assert_eq!(
        health.status().as_u16(),
        200,
        "not starved by 300 stalled clients"
    );

    // Each stalled connection is closed by the daemon (a bounded wait, not a speed check).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for s in &mut stalled {
        let mut buf = [0u8; 512];
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let read = tokio::time::timeout(left, s.read(&mut buf)).await;
        match read {
            Ok(Ok(_)) | Ok(Err(_)) => {} // EOF, a 408, or a reset: the daemon let go.
            Err(_) => panic!("a connection with unfinished headers was still open after 60 s"),
        }
    }
}

/// The database and its WAL are private to the daemon's user, even started by hand with a
/// permissive umask; a data directory others can read is refused like one they can write.
#[tokio::test]
async fn the_database_is_private_and_an_open_data_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mut d = Daemon::start();
    let mut admin = d.admin().await;
    admin
        .call(
            "users.create",
            json!({"users": [{"id": "u1", "organization": "o", "models": [], "services": [], "info": {}}]}),
        )
        .await
        .ok();
    if let Some(path) = d.db.sqlite_path() {
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        for file in [path.clone(), wal.into()] {
            let mode = std::fs::metadata(&file)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
    d.terminate();
    let data = d.dir.path().join("data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d.command(&["check-config"]);
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("chmod 700"),
        "{said}"
    );
    let out = d.command(&["serve"]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "serve must refuse: {said}");
    assert!(said.contains("group or others may read it"), "{said}");
}
