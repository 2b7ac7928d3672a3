//! End to end through the real `mama-daemon` binary, its Unix socket and TCP ports, on the
//! database `MAMA_TEST_DATABASE` selects (SQLite by default, `postgres` in CI's second pass).

use mama_tests::harness::{Daemon, RpcClient, RpcReply};
use serde_json::{json, Value};

async fn events(rpc: &mut RpcClient, filter: Value) -> Vec<Value> {
    let reply = rpc
        .call(
            "events.list",
            json!({"filter": filter, "page": {"limit": 1000}}),
        )
        .await;
    reply.ok()["events"].as_array().expect("events").clone()
}

fn ids(list: &Value) -> Vec<String> {
    list["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn bootstrap_admin_must_change_password_first() {
    let d = Daemon::start();
    let mut rpc = d.rpc();
    let login = rpc.login("admin", "admin").await;
    assert_eq!(login["must_change_password"], true);
    assert_eq!(login["role"], "super");

    // Every other call says the password must be changed first.
    for method in [
        "users.list",
        "admins.list",
        "services.list",
        "events.list",
        "auth.whoami",
    ] {
        let reply = rpc.call(method, json!({})).await;
        assert_eq!(reply.code(), "password_change_required", "{method}");
        assert_eq!(reply.status, 403);
    }
    // Too short, and same as before, are refused with the field named.
    let short = rpc
        .call(
            "auth.change_password",
            json!({"old_password": "admin", "new_password": "short"}),
        )
        .await;
    assert_eq!(short.code(), "invalid_params");
    assert_eq!(short.error()["fields"][0]["field"], "new_password");
    let wrong_old = rpc
        .call(
            "auth.change_password",
            json!({"old_password": "nope", "new_password": "a much longer password"}),
        )
        .await;
    assert_eq!(wrong_old.code(), "invalid_params");
    assert_eq!(wrong_old.error()["fields"][0]["field"], "old_password");

    let old_token = rpc.token.clone();
    let changed = rpc
        .call(
            "auth.change_password",
            json!({"old_password": "admin", "new_password": "a much longer password"}),
        )
        .await;
    let new_token = changed.ok()["token"].as_str().unwrap().to_string();
    assert_eq!(changed.ok()["must_change_password"], false);

    // The old session is revoked by the new security stamp; the new one works.
    rpc.token = old_token;
    assert_eq!(
        rpc.call("users.list", json!({})).await.code(),
        "session_revoked"
    );
    rpc.token = Some(new_token);
    assert_eq!(rpc.call("users.list", json!({})).await.ok()["total"], 0);

    // The bootstrap password no longer logs in; the new one does.
    let mut fresh = d.rpc();
    let reply = fresh
        .call(
            "auth.login",
            json!({"username": "admin", "password": "admin"}),
        )
        .await;
    assert_eq!(reply.code(), "login_failed");
    assert_eq!(reply.status, 401);
    fresh.login("admin", "a much longer password").await;

    // Both logins and the failure are in the event log, without the password.
    let evs = events(&mut rpc, json!({"action": "auth."})).await;
    assert!(evs.iter().any(|e| e["action"] == "auth.login"
        && e["result"] == "error"
        && e["error_code"] == "login_failed"));
    assert!(evs
        .iter()
        .any(|e| e["action"] == "auth.change_password" && e["result"] == "ok"));
    let all = serde_json::to_string(&evs).unwrap();
    assert!(!all.contains("a much longer password") && !all.contains("\"admin\",\"password\""));
}

#[tokio::test]
async fn bootstrap_password_from_environment() {
    let d = Daemon::start_with(&[], &[("MAMA_BOOTSTRAP_PASSWORD", "first-boot-secret")]);
    let mut rpc = d.rpc();
    assert_eq!(
        rpc.call(
            "auth.login",
            json!({"username": "admin", "password": "admin"})
        )
        .await
        .code(),
        "login_failed"
    );
    let login = rpc.login("admin", "first-boot-secret").await;
    assert_eq!(login["must_change_password"], true);
}

#[tokio::test]
async fn admin_create_and_delete_rules() {
    let d = Daemon::start();
    let mut sup = d.admin().await;
    let me = sup.call("auth.whoami", json!({})).await;
    assert_eq!(me.ok()["username"], "admin");

    let weak = sup
        .call(
            "admins.create",
            json!({"username": "ops", "password": "short", "role": "admin"}),
        )
        .await;
    assert_eq!(weak.code(), "invalid_params");
    let created = sup
        .call(
            "admins.create",
            json!({"username": "ops", "password": "ops initial password", "role": "admin"}),
        )
        .await;
    assert_eq!(created.ok()["must_change_password"], true);
    assert_eq!(
        sup.call(
            "admins.create",
            json!({"username": "ops", "password": "ops initial password", "role": "admin"})
        )
        .await
        .code(),
        "already_exists"
    );

    // A plain admin cannot manage admins.
    let mut ops = d.rpc_tcp();
    ops.login("ops", "ops initial password").await;
    let changed = ops
        .call(
            "auth.change_password",
            json!({"old_password": "ops initial password", "new_password": "ops own new password"}),
        )
        .await;
    ops.token = Some(changed.ok()["token"].as_str().unwrap().into());
    let forbidden = ops
        .call(
            "admins.create",
            json!({"username": "eve", "password": "eve's password 123", "role": "super"}),
        )
        .await;
    assert_eq!(forbidden.code(), "forbidden");
    assert_eq!(forbidden.status, 403);

    // The super admin cannot delete themselves, nor the last super admin.
    assert_eq!(
        sup.call("admins.delete", json!({"username": "admin"}))
            .await
            .code(),
        "forbidden"
    );
    assert_eq!(
        sup.call("admins.delete", json!({"username": "ghost"}))
            .await
            .code(),
        "not_found"
    );

    // Deleting an admin ends their session.
    sup.call("admins.delete", json!({"username": "ops"}))
        .await
        .ok();
    assert_eq!(
        ops.call("users.list", json!({})).await.code(),
        "session_revoked"
    );
    let names: Vec<Value> = sup.call("admins.list", json!({})).await.ok()["admins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("admin")]);

    // A second super admin can be created, and then the first can be deleted by the second.
    sup.call(
        "admins.create",
        json!({"username": "root2", "password": "root2 initial password", "role": "super"}),
    )
    .await
    .ok();
    let mut root2 = d.rpc();
    root2.login("root2", "root2 initial password").await;
    let c = root2.call("auth.change_password", json!({"old_password": "root2 initial password", "new_password": "root2 new password!"})).await;
    root2.token = Some(c.ok()["token"].as_str().unwrap().into());
    root2
        .call("admins.delete", json!({"username": "admin"}))
        .await
        .ok();
    assert_eq!(
        root2
            .call("admins.delete", json!({"username": "root2"}))
            .await
            .code(),
        "forbidden"
    );
}

#[tokio::test]
async fn session_tokens_reject_tampering_expiry_and_logout() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let token = rpc.token.clone().unwrap();
    let key_hex = std::fs::read_to_string(d.dir.path().join("data/jwt.key")).expect("jwt key file");
    let key = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&key_hex.trim()[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let parts: Vec<&str> = token.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let try_token = |t: String| {
        let mut c = d.rpc();
        c.token = Some(t);
        async move { c.call("users.list", json!({})).await }
    };
    // Signed with the right key but another algorithm.
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(&key),
    )
    .unwrap();
    assert_eq!(try_token(hs512).await.code(), "unauthenticated");
    // Same claims, another key.
    let other = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&[7u8; 32]),
    )
    .unwrap();
    assert_eq!(try_token(other).await.code(), "unauthenticated");
    // Edited claims (role), original signature.
    let mut edited = claims.clone();
    edited["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(edited.to_string()),
        parts[2]
    );
    assert_eq!(try_token(forged).await.code(), "unauthenticated");
    // alg none.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    assert_eq!(try_token(none).await.code(), "unauthenticated");
    // Right key and algorithm, but expired.
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    expired["iat"] = json!(chrono::Utc::now().timestamp() - 4600);
    let old = encode(
        &Header::new(Algorithm::HS256),
        &expired,
        &EncodingKey::from_secret(&key),
    )
    .unwrap();
    let reply = try_token(old).await;
    assert_eq!(reply.code(), "session_expired");
    assert_eq!(reply.status, 401);
    // Another audience.
    let mut aud = claims.clone();
    aud["aud"] = json!("someone-else");
    let wrong_aud = encode(
        &Header::new(Algorithm::HS256),
        &aud,
        &EncodingKey::from_secret(&key),
    )
    .unwrap();
    assert_eq!(try_token(wrong_aud).await.code(), "unauthenticated");
    // A token in the body or a query is not a token: only the header counts.
    assert_eq!(try_token(String::new()).await.code(), "unauthenticated");

    // Refresh gives a new token and revokes the old; logout revokes the new one.
    let refreshed = rpc.call("auth.refresh", json!({})).await.ok()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        rpc.call("users.list", json!({})).await.code(),
        "session_revoked"
    );
    rpc.token = Some(refreshed);
    rpc.call("users.list", json!({})).await.ok();
    rpc.call("auth.logout", json!({})).await.ok();
    assert_eq!(
        rpc.call("users.list", json!({})).await.code(),
        "session_revoked"
    );
}

#[tokio::test]
async fn login_throttling_says_when_to_retry() {
    let d = Daemon::start();
    let mut rpc = d.rpc();
    let mut codes = Vec::new();
    for _ in 0..5 {
        let reply = rpc
            .call(
                "auth.login",
                json!({"username": "admin", "password": "wrong password"}),
            )
            .await;
        codes.push(reply.code().to_string());
        if reply.code() == "login_throttled" {
            assert_eq!(reply.status, 429);
            assert!(reply.error()["retry_after_secs"].as_u64().unwrap_or(0) >= 1);
            // While throttled, even the right password is not evaluated.
            let right = rpc
                .call(
                    "auth.login",
                    json!({"username": "admin", "password": "admin"}),
                )
                .await;
            assert_eq!(right.code(), "login_throttled");
            return;
        }
    }
    panic!("never throttled: {codes:?}");
}

fn user(id: &str, org: &str, models: &[&str], services: &[&str]) -> Value {
    json!({"id": id, "organization": org, "models": models, "services": services, "info": {"team": org}})
}

#[tokio::test]
async fn users_create_list_sort_filter_bulk_update_delete() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    for service in ["chat", "billing"] {
        rpc.ensure_service(service).await;
    }

    // Create many at once, Hangul included.
    let mut batch = vec![
        user("김철수", "연구소", &["gpt-4o"], &["chat"]),
        user("이영희", "개발팀", &["gpt-4o", "llama3"], &[]),
        user(
            "alice@example.com",
            "Research",
            &["llama3"],
            &["chat", "billing"],
        ),
    ];
    for i in 0..60 {
        batch.push(user(
            &format!("emp-{i:03}"),
            if i % 2 == 0 { "Sales" } else { "Ops" },
            &["gpt-4o"],
            &["chat"],
        ));
    }
    let created = rpc.call("users.create", json!({"users": batch})).await;
    assert_eq!(created.ok()["created"], 63);

    // All-or-nothing: one bad row and one duplicate fail the whole batch, every problem reported.
    let bad = rpc
        .call("users.create", json!({"users": [user("new-1", "x", &[], &[]), user("bad id", "x", &[], &[]), user("new-1", "x", &["gpt 4"], &[])]}))
        .await;
    assert_eq!(bad.code(), "invalid_params");
    assert_eq!(bad.status, 400);
    let fields: Vec<String> = bad.error()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    assert!(fields.contains(&"users[1].id".to_string()), "{fields:?}");
    assert!(fields.contains(&"users[2].id".to_string()), "{fields:?}");
    assert!(
        fields.contains(&"users[2].models[0]".to_string()),
        "{fields:?}"
    );
    let exists = rpc
        .call(
            "users.create",
            json!({"users": [user("new-2", "x", &[], &[]), user("emp-001", "x", &[], &[])]}),
        )
        .await;
    assert_eq!(exists.code(), "already_exists");
    assert_eq!(exists.error()["fields"][0]["row"], 1);
    assert_eq!(
        rpc.call("users.get", json!({"ids": ["new-1", "new-2"]}))
            .await
            .ok()["missing"],
        json!(["new-1", "new-2"])
    );

    // Paged, sorted, filtered, counted in the database.
    let page = rpc
        .call("users.list", json!({"page": {"offset": 0, "limit": 10}}))
        .await;
    assert_eq!(page.ok()["total"], 63);
    assert_eq!(page.ok()["users"].as_array().unwrap().len(), 10);
    let by_org = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "organization", "descending": true}, "page": {"limit": 3}}),
        )
        .await;
    assert_eq!(
        ids(by_org.ok())[0],
        "김철수",
        "Hangul sorts after Latin, 연구소 after 개발팀"
    );
    assert_eq!(ids(by_org.ok())[1], "이영희");
    let text = rpc
        .call("users.list", json!({"filter": {"text": "RESEARCH"}}))
        .await;
    assert_eq!(
        ids(text.ok()),
        vec!["alice@example.com"],
        "case-insensitive substring on organization"
    );
    let hangul = rpc
        .call("users.list", json!({"filter": {"text": "철"}}))
        .await;
    assert_eq!(ids(hangul.ok()), vec!["김철수"]);
    let org = rpc
        .call("users.list", json!({"filter": {"organization": "sal"}}))
        .await;
    assert_eq!(org.ok()["matching"], 30);
    let all_sales = rpc
        .call("users.list_ids", json!({"filter": {"organization": "sal"}}))
        .await;
    let sales_ids = all_sales.ok()["ids"].as_array().unwrap();
    assert_eq!(sales_ids.len(), 30, "every matching id in one call");
    assert_eq!(sales_ids[0], "emp-000");
    let model = rpc
        .call(
            "users.list",
            json!({"filter": {"model": "llama3"}, "sort": {"column": "id"}}),
        )
        .await;
    assert_eq!(ids(model.ok()), vec!["alice@example.com", "이영희"]);
    let service = rpc
        .call("users.list", json!({"filter": {"service": "billing"}}))
        .await;
    assert_eq!(ids(service.ok()), vec!["alice@example.com"]);
    let info = rpc
        .call(
            "users.list",
            json!({"filter": {"info_key": "team", "text": "emp-00"}}),
        )
        .await;
    assert_eq!(info.ok()["matching"], 10);
    let wildcard = rpc
        .call("users.list", json!({"filter": {"text": "%"}}))
        .await;
    assert_eq!(
        wildcard.ok()["matching"],
        0,
        "LIKE wildcards in a filter are literal"
    );

    // Bulk by ids: add, remove, replace on models and services.
    let add = rpc.call("users.bulk_update", json!({"ids": ["김철수", "이영희"], "models": {"op": "add", "values": ["claude-3-5-sonnet"]}})).await;
    assert_eq!(add.ok()["changed"], 2);
    assert_eq!(add.ok()["models_added"], json!(["claude-3-5-sonnet"]));
    let again = rpc.call("users.bulk_update", json!({"ids": ["김철수", "이영희"], "models": {"op": "add", "values": ["claude-3-5-sonnet"]}})).await;
    assert_eq!(
        again.ok()["changed"],
        0,
        "adding what is there changes nothing"
    );
    let remove = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["이영희"], "models": {"op": "remove", "values": ["gpt-4o", "nope"]}}),
        )
        .await;
    assert_eq!(remove.ok()["models_removed"], json!(["gpt-4o"]));
    let got = rpc
        .call("users.get", json!({"ids": ["이영희", "김철수"]}))
        .await;
    assert_eq!(
        got.ok()["users"][0]["models"],
        json!(["claude-3-5-sonnet", "llama3"])
    );
    assert_eq!(
        got.ok()["users"][1]["models"],
        json!(["claude-3-5-sonnet", "gpt-4o"])
    );
    let replace_services = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["김철수"], "services": {"op": "replace", "values": ["billing"]}}),
        )
        .await;
    assert_eq!(replace_services.ok()["services_removed"], json!(["chat"]));

    // Bulk by filter: every user of organization Sales, preview first.
    let preview = rpc
        .call("users.bulk_update", json!({"filter": {"organization": "Sales"}, "models": {"op": "replace", "values": ["mock-gpt"]}, "services": {"op": "add", "values": ["billing"]}, "dry_run": true}))
        .await;
    assert_eq!(preview.ok()["matched"], 30);
    assert_eq!(preview.ok()["changed"], 30);
    assert_eq!(preview.ok()["dry_run"], true);
    assert_eq!(
        rpc.call("users.list", json!({"filter": {"model": "mock-gpt"}}))
            .await
            .ok()["matching"],
        0,
        "a preview changes nothing"
    );
    let real = rpc
        .call("users.bulk_update", json!({"filter": {"organization": "Sales"}, "models": {"op": "replace", "values": ["mock-gpt"]}, "services": {"op": "add", "values": ["billing"]}}))
        .await;
    assert_eq!(real.ok()["changed"], 30);
    assert_eq!(
        rpc.call("users.list", json!({"filter": {"model": "mock-gpt"}}))
            .await
            .ok()["matching"],
        30
    );
    assert_eq!(
        rpc.call(
            "users.list",
            json!({"filter": {"model": "gpt-4o", "organization": "Sales"}})
        )
        .await
        .ok()["matching"],
        0
    );
    assert_eq!(
        rpc.call("users.list", json!({"filter": {"service": "billing"}}))
            .await
            .ok()["matching"],
        32
    );
    let by_filter_remove = rpc.call("users.bulk_update", json!({"filter": {"service": "chat"}, "services": {"op": "remove", "values": ["chat"]}})).await;
    assert_eq!(by_filter_remove.ok()["changed"], 61);
    assert_eq!(
        rpc.call("users.list", json!({"filter": {"service": "chat"}}))
            .await
            .ok()["matching"],
        0
    );

    // Bad bulk input: unknown ids change nothing; ids and filter together are refused.
    let missing = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["emp-000", "ghost"], "models": {"op": "add", "values": ["x"]}}),
        )
        .await;
    assert_eq!(missing.code(), "not_found");
    assert_eq!(missing.error()["missing"], json!(["ghost"]));
    assert_eq!(
        rpc.call("users.list", json!({"filter": {"model": "x"}}))
            .await
            .ok()["matching"],
        0
    );
    let both = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["emp-000"], "filter": {}, "models": {"op": "add", "values": ["x"]}}),
        )
        .await;
    assert_eq!(both.code(), "invalid_params");
    let bad_op = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["emp-000"], "models": {"op": "toggle", "values": ["x"]}}),
        )
        .await;
    assert_eq!(bad_op.code(), "invalid_params");

    // Optimistic concurrency: an edit based on a stale version is a conflict, not an overwrite.
    let current = rpc
        .call("users.get", json!({"ids": ["emp-001"]}))
        .await
        .ok()["users"][0]
        .clone();
    let v = current["version"].as_i64().unwrap();
    let first = rpc
        .call(
            "users.update",
            json!({"id": "emp-001", "version": v, "organization": "Ops-2"}),
        )
        .await;
    assert_eq!(first.ok()["version"], v + 1);
    let stale = rpc
        .call(
            "users.update",
            json!({"id": "emp-001", "version": v, "organization": "Ops-3"}),
        )
        .await;
    assert_eq!(stale.code(), "conflict");
    assert_eq!(stale.status, 409);
    assert_eq!(stale.error()["current_version"], v + 1);
    assert_eq!(
        rpc.call("users.get", json!({"ids": ["emp-001"]}))
            .await
            .ok()["users"][0]["organization"],
        "Ops-2"
    );

    // Delete many: all or nothing.
    let partial = rpc
        .call("users.delete", json!({"ids": ["emp-002", "ghost"]}))
        .await;
    assert_eq!(partial.code(), "not_found");
    assert_eq!(
        rpc.call("users.get", json!({"ids": ["emp-002"]}))
            .await
            .ok()["missing"],
        json!([])
    );
    let deleted = rpc
        .call(
            "users.delete",
            json!({"ids": ["emp-002", "emp-003", "emp-004"]}),
        )
        .await;
    assert_eq!(deleted.ok()["deleted"], 3);
    assert_eq!(rpc.call("users.list", json!({})).await.ok()["total"], 60);

    // An event for each of these, naming the users.
    for action in [
        "users.create",
        "users.list",
        "users.get",
        "users.bulk_update",
        "users.update",
        "users.delete",
    ] {
        let evs = events(&mut rpc, json!({"action": action})).await;
        assert!(!evs.is_empty(), "no event for {action}");
    }
    let about = events(&mut rpc, json!({"user_id": "emp-003"})).await;
    let actions: Vec<&str> = about
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"users.delete") && actions.contains(&"users.create"),
        "{actions:?}"
    );
    let failed = events(
        &mut rpc,
        json!({"action": "users.update", "result": "error"}),
    )
    .await;
    assert_eq!(failed[0]["error_code"], "conflict");
}

#[tokio::test]
async fn bulk_change_of_ten_thousand_users_in_one_call() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let ids: Vec<String> = (0..10_000).map(|i| format!("u{i:05}")).collect();
    for chunk in ids.chunks(5000) {
        let users: Vec<Value> = chunk
            .iter()
            .map(|id| user(id, "org", &["gpt-4o"], &[]))
            .collect();
        rpc.call("users.create", json!({"users": users})).await.ok();
    }
    let reply = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ids, "models": {"op": "add", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(reply.ok()["changed"], 10_000);
    assert_eq!(
        rpc.call(
            "users.list",
            json!({"filter": {"model": "llama3"}, "page": {"limit": 1}})
        )
        .await
        .ok()["matching"],
        10_000
    );
    let reply = rpc.call("users.bulk_update", json!({"filter": {"organization": "org"}, "models": {"op": "remove", "values": ["gpt-4o"]}})).await;
    assert_eq!(reply.ok()["changed"], 10_000);
    assert_eq!(
        rpc.call(
            "users.list",
            json!({"filter": {"model": "gpt-4o"}, "page": {"limit": 1}})
        )
        .await
        .ok()["matching"],
        0
    );
    // A change of 10,000 users is one event naming all of them (found by any of its users).
    let evs = events(
        &mut rpc,
        json!({"user_id": "u09999", "action": "users.bulk_update"}),
    )
    .await;
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0]["target_count"], 10_000);
    assert_eq!(
        evs[0]["user_ids"].as_array().unwrap().len(),
        100,
        "an event shows the first 100 ids"
    );
    assert_eq!(evs[1]["user_ids"][0], ids[0], "in the order given");
    // Where all 10,000 are kept: packed in the event's row on SQLite, one index row each on
    // PostgreSQL.
    let links: u64 =
        d.db.query("SELECT count(*) FROM event_users")
            .parse()
            .unwrap();
    if d.db.sqlite_path().is_some() {
        assert_eq!(links, 0);
    } else {
        assert!(links >= 20_000, "{links}");
    }
}

async fn rest(d: &Daemon, token: Option<&str>, body: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client
        .post(d.rest_url("/api/v1/users/lookup"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("REST answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

#[tokio::test]
async fn rest_lookup_for_services() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    for service in ["chat", "billing"] {
        rpc.call("services.create", json!({ "name": service }))
            .await
            .ok();
    }
    rpc.call(
        "users.create",
        json!({"users": [
            user("김철수", "연구소", &["gpt-4o"], &["chat"]),
            user("bob", "ops", &["llama3"], &["billing"]),
        ]}),
    )
    .await
    .ok();
    assert_eq!(
        rpc.call("services.create", json!({"name": "Chat!"}))
            .await
            .code(),
        "invalid_params"
    );
    let issued = rpc
        .call("services.issue_token", json!({"service": "chat"}))
        .await;
    let token = issued.ok()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("mama_st_"));
    let listed = rpc.call("services.list", json!({})).await;
    assert!(
        !listed.body.to_string().contains(&token),
        "the token is shown once, never listed"
    );
    let chat = &listed.ok()["services"][1];
    assert_eq!((&chat["name"], &chat["users"]), (&json!("chat"), &json!(1)));

    let (status, body) = rest(
        &d,
        Some(&token),
        r#"{"user_ids": ["bob", "nobody", "김철수"]}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["missing"], json!(["nobody"]));
    assert_eq!(body["users"][0]["id"], "bob", "request order");
    assert_eq!(body["users"][0]["key"], Value::Null);
    assert_eq!(body["users"][0]["key_withheld"], "service_not_allowed");
    assert_eq!(body["users"][1]["id"], "김철수");
    let key = body["users"][1]["key"]
        .as_str()
        .expect("allowed service gets the key");
    assert!(key.starts_with("sk-"));
    assert_eq!(body["users"][1]["info"], json!({"team": "연구소"}));

    // An id asked for twice is answered once, found or missing.
    let (_, twice) = rest(
        &d,
        Some(&token),
        r#"{"user_ids": ["bob", "nobody", "bob", "nobody"]}"#,
    )
    .await;
    assert_eq!(twice["users"].as_array().unwrap().len(), 1, "{twice}");
    assert_eq!(twice["missing"], json!(["nobody"]));

    // A change is seen by the very next lookup (no stale answer from any cache).
    rpc.call("users.bulk_update", json!({"ids": ["bob"], "services": {"op": "add", "values": ["chat"]}, "organization": "ops-2"}))
        .await
        .ok();
    let (_, again) = rest(&d, Some(&token), r#"{"user_ids": ["bob"]}"#).await;
    assert!(
        again["users"][0]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("sk-")),
        "{again}"
    );
    assert_eq!(again["users"][0]["organization"], "ops-2");
    rpc.call(
        "users.bulk_update",
        json!({"ids": ["bob"], "services": {"op": "remove", "values": ["chat"]}}),
    )
    .await
    .ok();
    let (_, back) = rest(&d, Some(&token), r#"{"user_ids": ["bob"]}"#).await;
    assert_eq!(back["users"][0]["key_withheld"], "service_not_allowed");

    // An id answered "missing" a moment ago is found as soon as that user exists, also when
    // the request spells it with JSON escapes.
    rpc.call(
        "users.create",
        json!({"users": [user("nobody", "ops", &["llama3"], &["chat"])]}),
    )
    .await
    .ok();
    let (_, created) = rest(&d, Some(&token), r#"{"user_ids": ["n\u006fbody", "bob"]}"#).await;
    assert_eq!(created["missing"], json!([]), "{created}");
    assert_eq!(created["users"][0]["id"], "nobody");
    rpc.call("users.delete", json!({"ids": ["nobody"]}))
        .await
        .ok();
    let (_, deleted) = rest(&d, Some(&token), r#"{"user_ids": ["nobody"]}"#).await;
    assert_eq!(deleted["missing"], json!(["nobody"]), "{deleted}");

    // The same key through GET, and through users.get for the admin.
    let one: Value = reqwest::Client::new()
        .get(d.rest_url("/api/v1/users/%EA%B9%80%EC%B2%A0%EC%88%98"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["key"], key);
    let missing = reqwest::Client::new()
        .get(d.rest_url("/api/v1/users/nobody"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let undecodable = reqwest::Client::new()
        .get(d.rest_url("/api/v1/users/%FF%FE"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(undecodable.status(), 400);
    let body: Value = undecodable
        .json()
        .await
        .expect("a JSON error, not plain text");
    assert_eq!(body["error"]["code"], "invalid_params", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{body}"
    );
    assert_eq!(
        rpc.call("users.get", json!({"ids": ["김철수"]})).await.ok()["users"][0]["key"],
        key
    );

    // The key is not stored in plaintext.
    if let Some(path) = d.db.sqlite_path() {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "plaintext key in the database file"
        );
    }
    assert_eq!(
        d.db.query(&format!(
            "SELECT count(*) FROM users WHERE key_hint LIKE '%{}'",
            &key[key.len() - 4..]
        )),
        "1"
    );

    // Bad tokens.
    for bad in [
        None,
        Some("nope"),
        Some("mama_st_0000000000000000000000000000000000000000000000000000000000000000"),
    ] {
        let (status, body) = rest(&d, bad, r#"{"user_ids": ["bob"]}"#).await;
        assert_eq!(status, 401, "{bad:?}");
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let in_query = reqwest::Client::new()
        .post(format!(
            "{}?token={token}",
            d.rest_url("/api/v1/users/lookup")
        ))
        .body(r#"{"user_ids": ["bob"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 401, "a token in the URL is not accepted");

    // Bad input: a 4xx JSON error naming the problem.
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let cases = [
        ("not json".to_string(), 400, "parse_error"),
        (r#"{"user_ids": []}"#.to_string(), 400, "invalid_params"),
        (json!({"user_ids": many}).to_string(), 400, "invalid_params"),
        (
            r#"{"user_ids": ["ok", "bad id"]}"#.to_string(),
            400,
            "invalid_params",
        ),
        (
            r#"{"user_ids": ["ok"], "extra": 1}"#.to_string(),
            400,
            "invalid_params",
        ),
        (r#"{"ids": ["ok"]}"#.to_string(), 400, "invalid_params"),
        (
            format!(r#"{{"user_ids": ["{}"]}}"#, "x".repeat(2 * 1024 * 1024)),
            413,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, reply) = rest(&d, Some(&token), &body).await;
        assert_eq!(
            (got, reply["error"]["code"].as_str().unwrap()),
            (status, code),
            "{}",
            &body[..body.len().min(60)]
        );
        assert!(!reply["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, reply) = rest(&d, Some(&token), r#"{"user_ids": ["ok", "bad id"]}"#).await;
    assert_eq!(reply["error"]["fields"][0]["field"], "user_ids[1]");

    // A revoked token stops working.
    let token_id = issued.ok()["id"].as_str().unwrap().to_string();
    rpc.call("services.revoke_token", json!({"id": token_id}))
        .await
        .ok();
    assert_eq!(
        rest(&d, Some(&token), r#"{"user_ids": ["bob"]}"#).await.0,
        401
    );

    // Every REST request, rejected ones too, is an event; none holds the token or the key.
    let evs = events(&mut rpc, json!({"action": "rest."})).await;
    assert!(evs.iter().filter(|e| e["result"] == "ok").count() >= 3);
    assert!(evs.iter().any(|e| e["error_code"] == "unauthenticated"));
    assert!(evs.iter().any(|e| e["error_code"] == "invalid_params"));
    assert!(evs.iter().any(|e| e["error_code"] == "payload_too_large"));
    let text = serde_json::to_string(&evs).unwrap();
    assert!(!text.contains(&token) && !text.contains(key));
    assert!(
        !d.log_text().contains(&token) && !d.log_text().contains(key),
        "secret in the daemon's log"
    );

    // The OpenAPI document describes the paths the server really serves.
    let doc: Value = reqwest::get(d.rest_url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in doc["paths"].as_object().unwrap().keys() {
        let url = d.rest_url(&path.replace("{id}", "bob"));
        let status = reqwest::Client::new()
            .request(
                if path.ends_with("lookup") {
                    reqwest::Method::POST
                } else {
                    reqwest::Method::GET
                },
                url,
            )
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 404, "{path} is documented but not served");
    }
}

/// A lookup's event names every id asked for, in request order, found or not, and is found by
/// any one of them. On SQLite such a long list is stored compressed (most of what an audited
/// lookup writes); PostgreSQL compresses it itself.
#[tokio::test]
async fn a_lookups_event_names_every_id_and_is_found_by_any_of_them() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let token = rpc.service_token("chat").await;
    let mut people: Vec<Value> = (0..98)
        .map(|i| user(&format!("emp-{i:05}"), "ops", &["gpt-4o"], &["chat"]))
        .collect();
    people.push(user("김철수", "연구소", &["gpt-4o"], &["chat"]));
    rpc.call("users.create", json!({"users": people}))
        .await
        .ok();
    let mut asked: Vec<String> = (0..98).rev().map(|i| format!("emp-{i:05}")).collect();
    asked.insert(40, "김철수".into());
    asked.insert(70, "gone-1".into());
    assert_eq!(asked.len(), 100);
    let (status, body) = rest(&d, Some(&token), &json!({ "user_ids": asked }).to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(body["missing"], json!(["gone-1"]));

    for id in ["emp-00050", "김철수", "gone-1", "emp-00097", "emp-00000"] {
        let evs = events(&mut rpc, json!({"user_id": id, "action": "rest.lookup"})).await;
        assert_eq!(evs.len(), 1, "{id}");
        assert_eq!(
            evs[0]["user_ids"],
            json!(asked),
            "every id, in request order"
        );
        assert_eq!(evs[0]["target_count"], 100);
        assert_eq!(evs[0]["detail"], "found 99, missing 1");
    }
    // Only whole ids match, case and all, in long lists and in short ones.
    rest(&d, Some(&token), r#"{"user_ids": ["emp-00050"]}"#).await;
    let evs = events(
        &mut rpc,
        json!({"user_id": "emp-00050", "action": "rest.lookup"}),
    )
    .await;
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0]["user_ids"], json!(["emp-00050"]));
    for other in ["emp-0005", "mp-00050", "EMP-00050", "김철", "emp"] {
        let evs = events(&mut rpc, json!({"user_id": other, "action": "rest.lookup"})).await;
        assert!(evs.is_empty(), "{other} matched {evs:?}");
    }
    let bad = rpc
        .call("events.list", json!({"filter": {"user_id": "a b%"}}))
        .await;
    assert_eq!(bad.code(), "invalid_params");

    // The harness's query shows one column: the two lengths are joined in SQL.
    let stored = d.db.query(
        "SELECT length(user_ids) || ' ' || coalesce(length(user_ids_packed), 0) FROM events WHERE action = 'rest.lookup' AND target_count = 100",
    );
    let lengths: Vec<usize> = stored
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    // Characters for text, bytes for the packed blob.
    let json_chars = json!(asked).to_string().chars().count();
    if d.db.sqlite_path().is_some() {
        assert_eq!(lengths[0], 0, "the list is not also kept as JSON");
        assert!(
            lengths[1] > 0 && lengths[1] * 2 < json_chars,
            "{} bytes packed of {json_chars}",
            lengths[1]
        );
    } else {
        assert_eq!(lengths, [json_chars, 0]);
    }
}

/// `kind: "change"` leaves out every list, get, count, status poll and lookup, so the changes
/// are found at once among the views; `kind: "view"` is the rest, and the two add up.
#[tokio::test]
async fn events_are_told_apart_as_views_and_changes() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let token = rpc.service_token("chat").await;
    rpc.call(
        "users.create",
        json!({"users": [user("alice", "ops", &["gpt-4o"], &["chat"])]}),
    )
    .await
    .ok();
    for _ in 0..3 {
        rpc.call("users.list", json!({})).await.ok();
        rpc.call("sync.status", json!({})).await.ok();
        assert_eq!(
            rest(&d, Some(&token), r#"{"user_ids": ["alice"]}"#).await.0,
            200
        );
    }
    rpc.call("users.get", json!({"ids": ["alice"]})).await.ok();
    rpc.call(
        "users.bulk_update",
        json!({"ids": ["alice"], "organization": "research"}),
    )
    .await
    .ok();

    let actions = |evs: &[Value]| -> Vec<String> {
        evs.iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    let changes = actions(&events(&mut rpc, json!({"kind": "change"})).await);
    for expected in [
        "users.bulk_update",
        "services.issue_token",
        "users.create",
        "auth.login",
    ] {
        assert!(
            changes.iter().any(|a| a == expected),
            "{expected} in {changes:?}"
        );
    }
    for view in [
        "users.list",
        "users.get",
        "sync.status",
        "rest.lookup",
        "events.list",
    ] {
        assert!(!changes.iter().any(|a| a == view), "{view} in {changes:?}");
    }
    let views = actions(&events(&mut rpc, json!({"kind": "view"})).await);
    assert_eq!(views.iter().filter(|a| *a == "rest.lookup").count(), 3);
    // A successful status poll is not a view of user information: no event (docs/admin-rpc.md).
    assert_eq!(views.iter().filter(|a| *a == "sync.status").count(), 0);
    assert!(views.iter().all(|a| !changes.contains(a)), "{views:?}");

    let count = |reply: &RpcReply| reply.ok()["matching"].as_u64().unwrap();
    let all = count(&rpc.call("events.list", json!({})).await);
    let changed = count(
        &rpc.call("events.list", json!({"filter": {"kind": "change"}}))
            .await,
    );
    // Each call above is itself a view, recorded after it answered.
    let viewed = count(
        &rpc.call("events.list", json!({"filter": {"kind": "view"}}))
            .await,
    );
    assert_eq!(changed + viewed, all + 2, "{changed} + {viewed} vs {all}");

    let bad = rpc
        .call("events.list", json!({"filter": {"kind": "edits"}}))
        .await;
    assert_eq!(bad.code(), "invalid_params", "{}", bad.body);
}

#[tokio::test]
async fn rpc_bad_input_gets_clear_errors() {
    let d = Daemon::start();
    let rpc = d.admin().await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "parse_error"),
        (br#"{"jsonrpc":"1.0","id":1,"method":"users.list"}"#.to_vec(), 400, "invalid_request"),
        (br#"{"jsonrpc":"2.0","id":1,"method":"users.explode"}"#.to_vec(), 404, "method_not_found"),
        (br#"{"jsonrpc":"2.0","id":1,"method":"users.list","params":{"page":{"limit":0}}}"#.to_vec(), 400, "invalid_params"),
        (br#"{"jsonrpc":"2.0","id":1,"method":"users.list","params":{"sort":{"column":"password"}}}"#.to_vec(), 400, "invalid_params"),
        (br#"{"jsonrpc":"2.0","id":1,"method":"users.get","params":{"ids":[]}}"#.to_vec(), 400, "invalid_params"),
        (br#"{"jsonrpc":"2.0","id":1,"method":"users.create","params":{"users":[{"id":"a","info":{"k":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}]}}"#.to_vec(), 400, "invalid_params"),
    ];
    for (body, status, code) in cases {
        let reply = rpc.post_raw(body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(!reply.error()["message"].as_str().unwrap_or("").is_empty());
    }
    // Unknown fields anywhere in params are refused and named.
    let mut rpc = rpc;
    let reply = rpc
        .call(
            "users.create",
            json!({"users": [{"id": "a", "colour": "red"}]}),
        )
        .await;
    assert_eq!(reply.code(), "invalid_params");
    assert!(reply.error()["message"]
        .as_str()
        .unwrap()
        .contains("colour"));
    // The daemon is still fine.
    rpc.call("users.list", json!({})).await.ok();
}

#[tokio::test]
async fn when_the_event_cannot_be_stored_nothing_changes() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.call(
        "users.create",
        json!({"users": [user("keep", "org", &["gpt-4o"], &[])]}),
    )
    .await
    .ok();

    // Make every event insert fail, at the database.
    d.db.refuse_events();

    let create = rpc
        .call(
            "users.create",
            json!({"users": [user("lost", "org", &[], &[])]}),
        )
        .await;
    assert_eq!(create.code(), "unavailable");
    assert_eq!(create.status, 503);
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["keep"], "models": {"op": "replace", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(bulk.code(), "unavailable");
    let delete = rpc.call("users.delete", json!({"ids": ["keep"]})).await;
    assert_eq!(delete.code(), "unavailable");
    // A read returns no data when its event cannot be stored.
    let list = rpc.call("users.list", json!({})).await;
    assert_eq!(list.code(), "unavailable");
    assert!(list.body.get("result").is_none());

    d.db.allow_events();
    let after = rpc
        .call("users.get", json!({"ids": ["keep", "lost"]}))
        .await;
    assert_eq!(
        after.ok()["missing"],
        json!(["lost"]),
        "the failed create left nothing"
    );
    assert_eq!(
        after.ok()["users"][0]["models"],
        json!(["gpt-4o"]),
        "the failed bulk change left nothing"
    );
}

/// Lookups are answered from a cache of rendered users; with two daemons on one PostgreSQL a
/// change made through one must be what the other answers with at once.
#[tokio::test]
async fn two_daemons_on_one_postgres_never_answer_lookups_from_stale_data() {
    let a = Daemon::start();
    if a.db.kind != mama_tests::harness::database::Kind::Postgres {
        eprintln!("one daemon owns a SQLite file: this test needs MAMA_TEST_DATABASE=postgres");
        return;
    }
    let mut rpc_a = a.admin().await;
    rpc_a
        .call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    rpc_a
        .call(
            "users.create",
            json!({"users": [user("bob", "ops", &["gpt-4o"], &["chat"])]}),
        )
        .await
        .ok();
    let issued = rpc_a
        .call("services.issue_token", json!({"service": "chat"}))
        .await;
    let token = issued.ok()["token"].as_str().unwrap().to_string();

    // The second daemon shares the database and the first one's key files, as deployed.
    let data = a.dir.path().join("data");
    let key_files = [
        "--encryption-key-file".to_string(),
        data.join("encryption.key").to_string_lossy().into_owned(),
        "--jwt-key-file".to_string(),
        data.join("jwt.key").to_string_lossy().into_owned(),
    ];
    let args: Vec<&str> = key_files.iter().map(String::as_str).collect();
    let b = Daemon::start_on(tempfile::tempdir().unwrap(), a.db.shared(), &args, &[]);

    let body = r#"{"user_ids": ["bob"]}"#;
    let (status, first) = rest(&b, Some(&token), body).await;
    assert_eq!(status, 200, "{first}");
    let key = first["users"][0]["key"]
        .as_str()
        .expect("key through B")
        .to_string();
    // Twice, so B surely answers the second from its cache.
    assert_eq!(rest(&b, Some(&token), body).await.1, first);

    rpc_a
        .call(
            "users.bulk_update",
            json!({"ids": ["bob"], "services": {"op": "remove", "values": ["chat"]}, "organization": "ops-2"}),
        )
        .await
        .ok();
    let (_, after) = rest(&b, Some(&token), body).await;
    assert_eq!(after["users"][0]["organization"], "ops-2", "{after}");
    assert_eq!(after["users"][0]["key"], Value::Null);
    assert_eq!(after["users"][0]["key_withheld"], "service_not_allowed");

    rpc_a
        .call(
            "users.bulk_update",
            json!({"ids": ["bob"], "services": {"op": "add", "values": ["chat"]}}),
        )
        .await
        .ok();
    rpc_a
        .call("users.rotate_keys", json!({"ids": ["bob"]}))
        .await
        .ok();
    let (_, back) = rest(&b, Some(&token), body).await;
    let new_key = back["users"][0]["key"].as_str().expect("key again");
    assert_ne!(new_key, key, "B answers with the rotated key");
    assert_eq!(
        new_key,
        rpc_a.call("users.get", json!({"ids": ["bob"]})).await.ok()["users"][0]["key"]
            .as_str()
            .unwrap(),
        "both daemons answer with the same key"
    );

    // A token revoked through A is refused by B at once.
    let token_id = issued.ok()["id"].as_str().unwrap().to_string();
    rpc_a
        .call("services.revoke_token", json!({"id": token_id}))
        .await
        .ok();
    assert_eq!(rest(&b, Some(&token), body).await.0, 401);
}
