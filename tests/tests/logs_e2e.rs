//! What the daemon writes to its log, read from the real binary's stderr (SQLite, or PostgreSQL
//! with `MAMA_TEST_DATABASE=postgres`), synced to the LiteLLM stand-in so the master key is in
//! play:
//!
//! - every admin RPC call and every REST request gets exactly one line, naming the method or
//!   route, the status (and RPC outcome) and who asked;
//! - a failed login is a warning naming the source and the username tried;
//! - no secret (passwords right or wrong, session tokens, the service token, virtual keys, the
//!   master key) appears anywhere in the log, at `--log debug` in text and at `--log info` in
//!   JSON, where every line is one JSON object;
//! - `check-config` calls LiteLLM and says what it found, or fails with a sentence.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mama_tests::harness::daemon::daemon_bin;
use mama_tests::harness::database::Kind;
use mama_tests::harness::sync::{key_file, KeyFile};
use mama_tests::harness::{RpcClient, TestDatabase};
use mama_tests::standin::StandIn;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// A daemon whose whole stderr is kept, started in either log format (the harness reads its
/// ready line in text only).
struct LoggedDaemon {
    child: Child,
    _dir: tempfile::TempDir,
    _db: TestDatabase,
    rest: String,
    socket: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl LoggedDaemon {
    fn start(format: Format, level: &str, bootstrap_password: &str, litellm: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::create(dir.path());
        let data = dir.path().join("data");
        let format_flag = match format {
            Format::Text => "text",
            Format::Json => "json",
        };
        let mut child = Command::new(daemon_bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--database-url", &db.url])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--log", level, "--log-format", format_flag])
            .args(litellm)
            .env_remove("MAMA_CONFIG")
            .env_remove("MAMA_LOG_FORMAT")
            .env("MAMA_BOOTSTRAP_PASSWORD", bootstrap_password)
            .env("MAMA_TRASH_DAYS", "0")
            .env("MAMA_RECONCILE_INTERVAL_SECS", "3600")
            .env("MAMA_LITELLM_TIMEOUT_SECS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mama-daemon starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("mama-daemon ready") {
                    let _ = ready_tx.send(line.clone());
                }
                lines.lock().expect("log lock").push(line);
            }
        });
        let Ok(ready) = ready_rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("mama-daemon did not become ready:\n{:?}", log.lock());
        };
        let rest = match format {
            Format::Text => text_field(&ready, "rest").expect("rest= in the ready line"),
            Format::Json => {
                let fields: Value = serde_json::from_str(&ready).expect("a JSON ready line");
                fields["rest"]
                    .as_str()
                    .expect("rest in the ready line")
                    .to_string()
            }
        };
        LoggedDaemon {
            child,
            _dir: dir,
            _db: db,
            rest,
            socket: data.join("admin.sock"),
            log,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    fn rest_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.rest)
    }
}

impl Drop for LoggedDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=` in a text log line: a quoted string (escapes kept) or a bare word.
fn text_field(line: &str, key: &str) -> Option<String> {
    let needle = format!(" {key}=");
    let start = line.find(&needle)? + needle.len();
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut end = None;
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        return Some(quoted[..end?].to_string());
    }
    Some(rest.split_whitespace().next().unwrap_or("").to_string())
}

/// One log line as its message and fields, whatever the format.
#[derive(Debug)]
struct Line {
    level: String,
    message: String,
    fields: Map<String, Value>,
}

impl Line {
    fn parse(format: Format, raw: &str) -> Line {
        match format {
            Format::Json => {
                let value: Value = serde_json::from_str(raw)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {raw}"));
                let mut fields = value.as_object().expect("a JSON object").clone();
                let level = fields["level"].as_str().unwrap_or("").to_string();
                let message = fields
                    .remove("message")
                    .and_then(|m| m.as_str().map(str::to_string))
                    .unwrap_or_default();
                Line {
                    level,
                    message,
                    fields,
                }
            }
            Format::Text => {
                // `<time> <LEVEL> <message> key=value …`
                let mut words = raw.split_whitespace();
                let _time = words.next();
                let level = words.next().unwrap_or("").to_string();
                let after_level = raw
                    .split_once(&format!(" {level} "))
                    .map(|(_, rest)| rest)
                    .unwrap_or("");
                let message = match after_level.find('=') {
                    Some(eq) => after_level[..eq]
                        .rsplit_once(' ')
                        .map(|(m, _)| m)
                        .unwrap_or(""),
                    None => after_level,
                }
                .trim()
                .to_string();
                let mut fields = Map::new();
                for key in [
                    "listener", "rpc", "outcome", "status", "ms", "who", "peer", "method", "route",
                    "username",
                ] {
                    if let Some(v) = text_field(raw, key) {
                        let value = v
                            .parse::<u64>()
                            .map(Value::from)
                            .unwrap_or(Value::String(v));
                        fields.insert(key.to_string(), value);
                    }
                }
                Line {
                    level,
                    message,
                    fields,
                }
            }
        }
    }

    fn str(&self, key: &str) -> &str {
        self.fields.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn status(&self) -> u64 {
        self.fields
            .get("status")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn is_request(&self) -> bool {
        self.message == "rpc call" || self.message == "request"
    }
}

/// The requests the story makes, as their log lines must say them.
#[derive(Debug)]
struct Expected {
    /// `rpc` method or `METHOD route`.
    what: &'static str,
    status: u64,
    outcome: Option<&'static str>,
    who: &'static str,
}

const fn rpc(
    what: &'static str,
    status: u64,
    outcome: &'static str,
    who: &'static str,
) -> Expected {
    Expected {
        what,
        status,
        outcome: Some(outcome),
        who,
    }
}

const fn rest(what: &'static str, status: u64, who: &'static str) -> Expected {
    Expected {
        what,
        status,
        outcome: None,
        who,
    }
}

fn user(id: &str) -> Value {
    json!({"id": id, "organization": "ops", "models": ["gpt-4o"], "services": ["chat"]})
}

/// Logs in, fails a login, makes users and reads their keys, looks them up as a service; then
/// checks the log line by line.
async fn story(format: Format, level: &str) {
    let litellm = StandIn::start().await.expect("the stand-in starts");
    let master = key_file(litellm.master_key());
    let flags = litellm_flags(&litellm.base_url(), &master);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let bootstrap = format!("boot-{suffix}");
    let password = format!("new-password-{suffix}");
    let wrong = format!("wrong-password-{suffix}");
    let d = LoggedDaemon::start(format, level, &bootstrap, &flags);
    let mut secrets = vec![
        bootstrap.clone(),
        password.clone(),
        wrong.clone(),
        litellm.master_key().to_string(),
    ];

    let mut admin = RpcClient::unix(d.socket.clone());
    let login = admin.login("admin", &bootstrap).await;
    secrets.push(login["token"].as_str().expect("a token").to_string());
    let changed = admin
        .call(
            "auth.change_password",
            json!({"old_password": bootstrap, "new_password": password}),
        )
        .await;
    let token = changed.ok()["token"]
        .as_str()
        .expect("a new token")
        .to_string();
    secrets.push(token.clone());
    admin.token = Some(token);

    let mut stranger = RpcClient::unix(d.socket.clone());
    let failed = stranger
        .call(
            "auth.login",
            json!({"username": "admin", "password": wrong}),
        )
        .await;
    assert_eq!(failed.code(), "login_failed");

    admin
        .call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    let issued = admin
        .call("services.issue_token", json!({"service": "chat"}))
        .await;
    let service_token = issued.ok()["token"].as_str().expect("a token").to_string();
    secrets.push(service_token.clone());
    let created = admin
        .call(
            "users.create",
            json!({"users": [user("alice"), user("bob")]}),
        )
        .await;
    created.ok();
    let got = admin
        .call("users.get", json!({"ids": ["alice", "bob"]}))
        .await;
    for u in got.ok()["users"].as_array().expect("users") {
        secrets.push(
            u["key"]
                .as_str()
                .expect("users.get shows the key")
                .to_string(),
        );
    }

    let http = reqwest::Client::new();
    let lookup = http
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(&service_token)
        .json(&json!({"user_ids": ["alice", "bob"]}))
        .send()
        .await
        .expect("REST answers");
    assert_eq!(lookup.status(), 200);
    let body: Value = lookup.json().await.expect("JSON");
    // Keys waiting for LiteLLM are withheld from services; those already live are shown.
    for u in body["users"].as_array().expect("users") {
        if let Some(key) = u["key"].as_str() {
            secrets.push(key.to_string());
        }
    }
    let one = http
        .get(d.rest_url("/api/v1/users/alice"))
        .bearer_auth(&service_token)
        .send()
        .await
        .expect("REST answers");
    assert_eq!(one.status(), 200);
    let forged = format!("mama_st_forged{suffix}");
    secrets.push(forged.clone());
    let refused = http
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(&forged)
        .json(&json!({"user_ids": ["alice"]}))
        .send()
        .await
        .expect("REST answers");
    assert_eq!(refused.status(), 401);

    let expected = [
        rpc("auth.login", 200, "ok", "admin:admin"),
        rpc("auth.change_password", 200, "ok", "admin:admin"),
        rpc("auth.login", 401, "login_failed", "anonymous"),
        rpc("services.create", 200, "ok", "admin:admin"),
        rpc("services.issue_token", 200, "ok", "admin:admin"),
        rpc("users.create", 200, "ok", "admin:admin"),
        rpc("users.get", 200, "ok", "admin:admin"),
        rest("POST /api/v1/users/lookup", 200, "service:chat"),
        rest("GET /api/v1/users/{id}", 200, "service:chat"),
        rest("POST /api/v1/users/lookup", 401, "anonymous"),
    ];
    // The line is written as the answer leaves; the reader thread may be a moment behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines: Vec<Line> = d.lines().iter().map(|l| Line::parse(format, l)).collect();
        let requests = lines.iter().filter(|l| l.is_request()).count();
        if requests >= expected.len() || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let requests: Vec<&Line> = lines.iter().filter(|l| l.is_request()).collect();
    assert_eq!(
        requests.len(),
        expected.len(),
        "one line per request, no more: {requests:#?}"
    );
    for want in &expected {
        let matching: Vec<&&Line> = requests
            .iter()
            .filter(|l| {
                let what = match want.outcome {
                    Some(_) => l.str("rpc").to_string(),
                    None => format!("{} {}", l.str("method"), l.str("route")),
                };
                what == want.what
                    && l.status() == want.status
                    && want.outcome.is_none_or(|o| l.str("outcome") == o)
            })
            .collect();
        assert_eq!(matching.len(), 1, "{want:?} in {requests:#?}");
        let line = matching[0];
        assert_eq!(line.level, "INFO", "{line:?}");
        assert_eq!(line.str("who"), want.who, "{line:?}");
        assert!(line.fields.contains_key("ms"), "{line:?}");
        let listener = if want.outcome.is_some() {
            "admin"
        } else {
            "rest"
        };
        assert_eq!(line.str("listener"), listener, "{line:?}");
    }

    // The failed login: a warning with the source and the name tried.
    let warnings: Vec<&Line> = lines
        .iter()
        .filter(|l| l.message == "login failed")
        .collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    assert_eq!(warnings[0].level, "WARN");
    assert_eq!(warnings[0].str("username"), "admin");
    assert!(
        warnings[0].str("peer").starts_with("unix:uid="),
        "{:?}",
        warnings[0]
    );

    let log = d.lines().join("\n");
    // Shown with --nocapture, or when the test fails.
    println!("{log}");
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({}…) is in the log:\n{log}",
            &secret[..secret.len().min(12)]
        );
    }
    if format == Format::Json {
        for raw in d.lines() {
            let value: Value = serde_json::from_str(&raw).expect("every line is JSON");
            assert!(value.get("timestamp").is_some() && value.get("level").is_some());
        }
    }
}

fn litellm_flags(url: &str, key: &KeyFile) -> Vec<String> {
    vec![
        "--litellm-url".into(),
        url.into(),
        "--litellm-master-key-file".into(),
        key.path.to_string_lossy().into_owned(),
    ]
}

#[tokio::test]
async fn one_line_per_request_and_no_secret_at_debug_in_text() {
    story(Format::Text, "debug").await;
}

#[tokio::test]
async fn one_line_per_request_and_no_secret_at_info_in_json() {
    story(Format::Json, "info").await;
}

/// `mama-daemon check-config` on a fresh, migrated database with `extra` flags.
fn check_config(extra: &[String]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDatabase::create(dir.path());
    let data = dir.path().join("data");
    let run = |sub: &str, extra: &[String]| {
        Command::new(daemon_bin())
            .arg(sub)
            .arg("--data-dir")
            .arg(&data)
            .args(["--database-url", &db.url])
            .args(extra)
            .env_remove("MAMA_CONFIG")
            .output()
            .expect("mama-daemon runs")
    };
    // A PostgreSQL database must be migrated to pass; a SQLite file that does not exist yet is
    // created by `serve` and not checked.
    if db.kind == Kind::Postgres {
        let migrated = run("migrate", &[]);
        assert!(migrated.status.success(), "{migrated:?}");
    }
    let out = run("check-config", extra);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn check_config_calls_litellm_and_says_what_it_found() {
    let litellm = StandIn::start().await.expect("the stand-in starts");
    let master = key_file(litellm.master_key());
    let flags = litellm_flags(&litellm.base_url(), &master);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || check_config(&flags))
        .await
        .unwrap();
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("reachable"), "{stdout}");
    assert!(stdout.contains("master key accepted"), "{stdout}");
    assert!(stdout.contains("model(s)"), "{stdout}");
    assert!(!format!("{stdout}{stderr}").contains(litellm.master_key()));

    // A key LiteLLM does not know: refused, with the status, and the master key never shown.
    let wrong = key_file("sk-not-the-master-key-0123456789");
    let flags = litellm_flags(&litellm.base_url(), &wrong);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || check_config(&flags))
        .await
        .unwrap();
    assert!(!ok, "{stdout}{stderr}");
    assert!(stderr.contains("refused the master key (401)"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("sk-not-the-master-key"));
}

#[tokio::test]
async fn check_config_fails_with_a_sentence_when_litellm_is_unreachable() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let master = key_file("sk-unreachable-master-key-0123456789");
    let url = format!("http://127.0.0.1:{port}");
    let flags = litellm_flags(&url, &master);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || check_config(&flags))
        .await
        .unwrap();
    assert!(!ok, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("LiteLLM at {url} is not reachable")),
        "{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("sk-unreachable"));

    // Without LiteLLM it says so, and that is not a problem.
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(|| check_config(&[]))
        .await
        .unwrap();
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("LiteLLM: not configured"), "{stdout}");
}
