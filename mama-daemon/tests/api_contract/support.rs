//! A daemon's routers over a temporary SQLite database, requests sent with `oneshot`, and the
//! redactions that keep snapshots stable (times, tokens, keys, generated ids), each checking the
//! shape of what it hides.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use insta::internals::{Content, ContentPath};
use mama_core::auth::JwtKeys;
use mama_core::crypto::KeyCipher;
use mama_core::db::{migrate, Db, Location};
use mama_core::ops::{CoreConfig, Mama};
use mama_daemon::{admin_router, rest_router, AppState, Peer};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The super admin's password after the first change.
pub const NEW_PASSWORD: &str = "correct horse battery staple";

/// One answer of the daemon: what a client sees of it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Answer {
    /// `data.code` of an RPC error, `error.code` of a REST one.
    pub fn error_code(&self) -> &str {
        let code = match self.body.get("jsonrpc") {
            Some(_) => &self.body["error"]["data"]["code"],
            None => &self.body["error"]["code"],
        };
        code.as_str().unwrap_or_default()
    }

    /// The `result` of an RPC answer (`null` when it failed).
    pub fn result(&self) -> &Value {
        &self.body["result"]
    }

    /// What a snapshot shows: status, content type and body.
    pub fn snapshot(&self) -> Value {
        json!({
            "status": self.status.as_u16(),
            "content_type": self.content_type,
            "body": self.body,
        })
    }
}

/// `assert_answer_snapshot!(answer)` or `assert_answer_snapshot!("name", answer)`: the answer's
/// status, content type and body against the reviewed snapshot, with [`redactions`].
macro_rules! assert_answer_snapshot {
    ($answer:expr) => {
        $crate::support::redactions().bind(|| {
            insta::assert_json_snapshot!($answer.snapshot());
        })
    };
    ($name:expr, $answer:expr) => {
        $crate::support::redactions().bind(|| {
            insta::assert_json_snapshot!($name, $answer.snapshot());
        })
    };
}
pub(crate) use assert_answer_snapshot;

/// The daemon's two routers over one fresh database whose only admin is the bootstrap `admin`
/// with password `admin`, as at a first start. LiteLLM is not configured.
pub struct TestApp {
    admin: Router,
    rest: Router,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("a temp dir");
        let location = Location::Sqlite(dir.path().join("mama.db"));
        let (db, jwt, cipher) = tokio::task::spawn_blocking(move || {
            let db = Db::open(&location, 4).expect("the database opens");
            migrate::run(&mut db.conn().expect("a connection")).expect("migrations apply");
            let jwt = JwtKeys::from_secret(&[0x5a; 32]).expect("a signing key");
            (db, jwt, KeyCipher::from_bytes(&[0x17; 32]))
        })
        .await
        .expect("the database task");
        let mama = Mama::new(db, jwt, cipher, CoreConfig::default());
        let m = mama.clone();
        tokio::task::spawn_blocking(move || m.ensure_bootstrap_admin())
            .await
            .expect("the bootstrap task")
            .expect("the bootstrap admin is created");
        let state = AppState {
            mama,
            metrics: Default::default(),
            listener: "rest",
        };
        TestApp {
            admin: admin_router(state.clone()),
            rest: rest_router(state),
            _dir: dir,
        }
    }

    /// `POST /rpc` with `body` as it is.
    pub async fn rpc_raw(&self, token: Option<&str>, body: impl Into<Body>) -> Answer {
        let request = request(Method::POST, "/rpc", token, body.into());
        send(&self.admin, request).await
    }

    /// One JSON-RPC call.
    pub async fn rpc(&self, token: Option<&str>, method: &str, params: Value) -> Answer {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        self.rpc_raw(token, body.to_string()).await
    }

    /// One call that must succeed; its result.
    pub async fn rpc_ok(&self, token: &str, method: &str, params: Value) -> Value {
        let answer = self.rpc(Some(token), method, params).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {:?}", answer.body);
        answer.body["result"].clone()
    }

    /// One call without a session that must succeed; its result.
    pub async fn rpc_ok_anonymous(&self, method: &str, params: Value) -> Value {
        let answer = self.rpc(None, method, params).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {:?}", answer.body);
        answer.body["result"].clone()
    }

    /// Logs in as `username` for the first time and changes the given password to
    /// [`NEW_PASSWORD`]; the new session's token.
    async fn first_login(&self, username: &str, password: &str) -> String {
        let login = json!({"username": username, "password": password});
        let session = self.rpc_ok_anonymous("auth.login", login).await;
        let token = session["token"].as_str().expect("a session token");
        let change = json!({"old_password": password, "new_password": NEW_PASSWORD});
        let session = self.rpc_ok(token, "auth.change_password", change).await;
        session["token"]
            .as_str()
            .expect("a session token")
            .to_string()
    }

    /// A session of the bootstrap super admin after its password change.
    pub async fn super_token(&self) -> String {
        self.first_login("admin", "admin").await
    }

    /// A session of `bob`, an admin who is not a super admin.
    pub async fn plain_admin_token(&self) -> String {
        let root = self.super_token().await;
        let bob = json!({"username": "bob", "password": "bobs first password", "role": "admin"});
        self.rpc_ok(&root, "admins.create", bob).await;
        self.first_login("bob", "bobs first password").await
    }

    /// Creates one user, which must succeed.
    pub async fn create_user(&self, token: &str, user: Value) {
        self.rpc_ok(token, "users.create", json!({"users": [user]}))
            .await;
    }

    /// Creates `service` and issues it a token: (the super admin's session, the service token).
    pub async fn service_with_token(&self, service: &str) -> (String, String) {
        let token = self.super_token().await;
        self.rpc_ok(&token, "services.create", json!({"name": service}))
            .await;
        let issued = self
            .rpc_ok(&token, "services.issue_token", json!({"service": service}))
            .await;
        let service_token = issued["token"].as_str().expect("a service token");
        (token, service_token.to_string())
    }

    pub async fn rest_get(&self, uri: &str, token: Option<&str>) -> Answer {
        send(&self.rest, request(Method::GET, uri, token, Body::empty())).await
    }

    pub async fn rest_post(&self, uri: &str, token: Option<&str>, body: Value) -> Answer {
        self.rest_post_raw(uri, token, body.to_string()).await
    }

    pub async fn rest_post_raw(
        &self,
        uri: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let request = request(Method::POST, uri, token, body.into());
        send(&self.rest, request).await
    }
}

/// A request as a listener hands it to the router: with the peer it accepted.
fn request(method: Method, uri: &str, token: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = builder.body(body).expect("a valid request");
    let peer = Peer::Tcp(SocketAddr::from(([127, 0, 0, 1], 40_000)));
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the body is read")
        .to_bytes();
    let body = match serde_json::from_slice(&bytes) {
        Ok(json) => json,
        Err(_) => panic!(
            "{status}: the body is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    Answer {
        status,
        content_type,
        body,
    }
}

/// A session token for `admin` that is well formed and correctly signed, with a key the daemon
/// does not have.
pub fn forged_session_token() -> String {
    let other_key = JwtKeys::from_secret(&[0xee; 32]).expect("a signing key");
    let (token, _) = other_key
        .issue("admin", "super", "stamp")
        .expect("a token is signed");
    token
}

/// The snapshot settings: every time, token, key, key hint and generated id replaced by a
/// placeholder once its shape is checked (a value of another shape stays, so the diff shows it).
pub fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(true);
    for field in [
        "created_at",
        "updated_at",
        "expires_at",
        "password_changed_at",
        "revoked_at",
        "fetched_at",
    ] {
        settings.add_redaction(&format!(".**.{field}"), insta::dynamic_redaction(time));
    }
    settings.add_redaction(".**.token", insta::dynamic_redaction(token));
    settings.add_redaction(".**.key", insta::dynamic_redaction(key));
    settings.add_redaction(".**.key_hint", insta::dynamic_redaction(hint));
    settings.add_redaction(".**.hint", insta::dynamic_redaction(hint));
    settings.add_redaction(".**.id", insta::dynamic_redaction(generated_id));
    settings
}

fn time(value: Content, _: ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => "[datetime]".into(),
        _ => value,
    }
}

fn token(value: Content, _: ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(s) if is_service_token(s) => "[service token]".into(),
        Some(s) if s.split('.').count() == 3 && s.starts_with("eyJ") => "[session token]".into(),
        _ => value,
    }
}

fn is_service_token(s: &str) -> bool {
    s.strip_prefix("mama_st_")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn key(value: Content, _: ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(s) if s.starts_with("sk-") && s.len() > 20 => "[virtual key]".into(),
        _ => value,
    }
}

/// A key's hint `sk-...abcd` and a service token's `mama_st_abcd…`: the prefix and the dots stay,
/// the characters of the secret go.
fn hint(value: Content, _: ContentPath<'_>) -> Content {
    let Some(s) = value.as_str() else {
        return value;
    };
    if let Some(("sk-", _)) = s.rsplit_once("...").filter(|(_, t)| t.len() == 4) {
        return "sk-...[hint]".into();
    }
    match s
        .strip_prefix("mama_st_")
        .and_then(|rest| rest.strip_suffix('…'))
    {
        Some(head) if head.bytes().all(|b| b.is_ascii_hexdigit()) => "mama_st_[hint]…".into(),
        _ => value,
    }
}

/// Ids the daemon generates: UUIDs and the 12 hex digits of a service token's id. (No user id in
/// these tests looks like either.)
fn generated_id(value: Content, _: ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(s) if s.len() == 36 && s.split('-').count() == 5 => "[uuid]".into(),
        Some(s) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit()) => "[token id]".into(),
        _ => value,
    }
}
