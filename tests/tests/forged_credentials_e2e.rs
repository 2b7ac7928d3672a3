//! The forged-credential matrix, against the real daemon: every way of presenting an admin session
//! or a service token that mama did not issue, or that was revoked, is refused. Tokens are signed
//! with the daemon's own signing key where the forgery needs it (what someone who stole the key
//! file could do), so each case tests the rule it names and not merely the signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// Calls `users.list` with `token` (or none); returns the error code, or `ok`.
async fn with_token(d: &Daemon, token: Option<&str>) -> String {
    let mut rpc = d.rpc_tcp();
    rpc.token = token.map(str::to_owned);
    let reply = rpc.call("users.list", json!({})).await;
    reply.body["error"]["data"]["code"]
        .as_str()
        .unwrap_or("ok")
        .to_string()
}

fn signing_key(d: &Daemon) -> Vec<u8> {
    mama_core::crypto::load_or_create_secret_file(&d.dir.path().join("data/jwt.key"), 32)
        .expect("the daemon's signing key")
}

/// Claims as mama issues them for `admin`, valid now.
fn claims(d: &Daemon) -> Value {
    let stamp =
        d.db.query("SELECT security_stamp FROM admins WHERE username = 'admin'")
            .trim()
            .to_string();
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "admin", "role": "super", "stamp": stamp, "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now, "exp": now + 900, "iss": "mama", "aud": "mama-admin"
    })
}

fn sign(alg: Algorithm, key: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn every_forged_or_revoked_admin_session_is_refused() {
    let d = Daemon::start();
    let mut admin = d.admin().await;
    let key = signing_key(&d);
    let good = claims(&d);
    assert_eq!(
        with_token(&d, Some(&sign(Algorithm::HS256, &key, &good))).await,
        "ok",
        "the harness forges like mama signs: a control case that must pass"
    );

    let mut cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "unauthenticated"),
        ("garbage", Some("not.a.token".into()), "unauthenticated"),
    ];
    let header_none = part(&json!({"alg": "none", "typ": "JWT"}));
    cases.push((
        "alg none",
        Some(format!("{header_none}.{}.", part(&good))),
        "unauthenticated",
    ));
    cases.push((
        "another key",
        Some(sign(Algorithm::HS256, &[9u8; 32], &good)),
        "unauthenticated",
    ));
    cases.push((
        "another algorithm (HS512, right key)",
        Some(sign(Algorithm::HS512, &key, &good)),
        "unauthenticated",
    ));
    let now = chrono::Utc::now().timestamp();
    let mut expired = good.clone();
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 2700);
    cases.push((
        "expired",
        Some(sign(Algorithm::HS256, &key, &expired)),
        "session_expired",
    ));
    let mut not_yet = good.clone();
    not_yet["nbf"] = json!(now + 3600);
    cases.push((
        "nbf in the future",
        Some(sign(Algorithm::HS256, &key, &not_yet)),
        "unauthenticated",
    ));
    let mut from_future = good.clone();
    from_future["iat"] = json!(now + 24 * 3600);
    from_future["exp"] = json!(now + 24 * 3600 + 900);
    cases.push((
        "iat in the future (would live 24 h 15 min)",
        Some(sign(Algorithm::HS256, &key, &from_future)),
        "unauthenticated",
    ));
    let mut too_long = good.clone();
    too_long["exp"] = json!(now + 24 * 3600);
    cases.push((
        "lives longer than mama issues",
        Some(sign(Algorithm::HS256, &key, &too_long)),
        "unauthenticated",
    ));
    let issued = admin.token.clone().expect("a real session");
    let mut parts: Vec<String> = issued.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("someone-else");
    parts[1] = part(&payload);
    cases.push((
        "tampered claims, original signature",
        Some(parts.join(".")),
        "unauthenticated",
    ));
    let mut other_stamp = good.clone();
    other_stamp["stamp"] = json!("not-the-security-stamp");
    cases.push((
        "right key, stale security stamp",
        Some(sign(Algorithm::HS256, &key, &other_stamp)),
        "session_revoked",
    ));
    let mut other_role = good.clone();
    other_role["role"] = json!("admin");
    cases.push((
        "right key, role not the admin's",
        Some(sign(Algorithm::HS256, &key, &other_role)),
        "session_revoked",
    ));
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("mama-rest");
    cases.push((
        "another audience",
        Some(sign(Algorithm::HS256, &key, &wrong_aud)),
        "unauthenticated",
    ));

    let mut failures = Vec::new();
    for (name, token, want) in &cases {
        let got = with_token(&d, token.as_deref()).await;
        if got != *want {
            failures.push(format!("{name}: {got}, wanted {want}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // Revocations: logout, password change, deletion.
    let mut second = d.rpc();
    second
        .login("admin", mama_tests::harness::daemon::ADMIN_PASSWORD)
        .await;
    let logged_out = second.token.clone().unwrap();
    second.call("auth.logout", json!({})).await.ok();
    assert_eq!(with_token(&d, Some(&logged_out)).await, "session_revoked");

    let mut other = d.rpc();
    other
        .login("admin", mama_tests::harness::daemon::ADMIN_PASSWORD)
        .await;
    let before_change = other.token.clone().unwrap();
    let changed = admin
        .call(
            "auth.change_password",
            json!({"old_password": mama_tests::harness::daemon::ADMIN_PASSWORD, "new_password": "another-long-password-9"}),
        )
        .await;
    admin.token = Some(changed.ok()["token"].as_str().unwrap().to_string());
    assert_eq!(
        with_token(&d, Some(&before_change)).await,
        "session_revoked"
    );

    admin
        .call(
            "admins.create",
            json!({"username": "kim", "password": "kims-first-password", "role": "admin"}),
        )
        .await
        .ok();
    let mut kim = d.rpc();
    kim.login("kim", "kims-first-password").await;
    let kims = kim.token.clone().unwrap();
    admin
        .call("admins.delete", json!({"username": "kim"}))
        .await
        .ok();
    assert_ne!(with_token(&d, Some(&kims)).await, "ok", "deleted admin");
}

async fn lookup(d: &Daemon, auth: Option<&str>, url_suffix: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(d.rest_url(&format!("/api/v1/users/lookup{url_suffix}")))
        .json(&json!({"user_ids": ["u1"]}));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let resp = req.send().await.expect("REST answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_wrong_service_token_is_refused() {
    let d = Daemon::start();
    let mut admin: RpcClient = d.admin().await;
    let chat = admin.service_token("chat").await;
    let billing = admin.service_token("billing").await;
    admin
        .call(
            "users.create",
            json!({"users": [{"id": "u1", "organization": "o", "models": ["gpt-4o"], "services": ["chat"], "info": {}}]}),
        )
        .await
        .ok();
    let bearer = |t: &str| format!("Bearer {t}");
    assert_eq!(lookup(&d, Some(&bearer(&chat)), "").await.0, 200, "control");

    let revoked = admin.service_token("chat").await;
    let tokens = admin.call("services.list", json!({})).await;
    let newest = tokens.ok()["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "chat")
        .and_then(|s| s["tokens"].as_array().and_then(|t| t.last()).cloned())
        .expect("the second chat token");
    admin
        .call("services.revoke_token", json!({"id": newest["id"]}))
        .await
        .ok();

    let mut flipped = chat.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, ""),
        ("empty bearer", Some("Bearer ".into()), ""),
        (
            "not a mama token",
            Some(bearer("sk-not-a-service-token")),
            "",
        ),
        ("one character off", Some(bearer(&flipped)), ""),
        ("revoked", Some(bearer(&revoked)), ""),
        (
            "basic auth instead of bearer",
            Some(format!("Basic {chat}")),
            "",
        ),
        (
            "token in the URL, not the header",
            None,
            "?token=PLACEHOLDER",
        ),
    ];
    let mut failures = Vec::new();
    for (name, auth, suffix) in cases {
        let suffix = suffix.replace("PLACEHOLDER", &chat);
        let (status, body) = lookup(&d, auth.as_deref(), &suffix).await;
        if status != 401 || body["error"]["code"] != "unauthenticated" {
            failures.push(format!("{name}: {status} {body}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // A valid token of another service reads the user, never the key.
    let (status, body) = lookup(&d, Some(&bearer(&billing)), "").await;
    assert_eq!(status, 200);
    assert_eq!(body["users"][0]["key"], Value::Null);
    assert_eq!(body["users"][0]["key_withheld"], "service_not_allowed");
}
