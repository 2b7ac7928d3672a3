//! What a key may spend, how fast and for how long, checked through the real LiteLLM proxy with
//! the key mama minted: a spent budget, a rate limit, an expiry, a suspension, and a limit
//! changed behind mama's back. Each test runs on SQLite or PostgreSQL (`MAMA_TEST_DATABASE`);
//! the real-proxy ones skip outside CI when no proxy is configured.

use std::time::{Duration, Instant};

use chrono::Utc;
use mama_core::litellm::{key_hash, LimitsOnKey, LiteLlm, UpdateKey};
use mama_tests::harness::sync::*;
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// A chat call to `mock-gpt` with a user's key: the status, LiteLLM's error `type` (if any) and
/// the `retry-after` header.
async fn chat(url: &str, key: &str) -> (u16, Option<String>, Option<String>) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("LiteLLM answers");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let kind = body["error"]["type"].as_str().map(str::to_owned);
    (status, kind, retry_after)
}

fn one(id: &str) -> Vec<String> {
    vec![id.to_string()]
}

async fn get_one(rpc: &mut RpcClient, id: &str) -> Value {
    get_users(rpc, &one(id)).await.remove(0)
}

/// `users.update` of one user at its current version.
async fn update(rpc: &mut RpcClient, id: &str, change: Value) -> Value {
    let version = get_one(rpc, id).await["version"].clone();
    let mut params = json!({"id": id, "version": version});
    params
        .as_object_mut()
        .unwrap()
        .extend(change.as_object().unwrap().clone());
    let reply = rpc.call("users.update", params).await;
    reply.ok().clone()
}

/// A user of `mock-gpt` (and the test service) with these limits of its own.
fn limited(id: &str, limits: Value) -> Value {
    let mut u = user(id, &["mock-gpt"]);
    u["limits"] = limits;
    u
}

/// A daemon synced to the real proxy with a fresh alias prefix, the test service created, and
/// an admin session on it.
async fn synced_daemon(url: &str, master: &str) -> (Daemon, RpcClient) {
    let key = key_file(master);
    let d = start(url, &key, &unique_prefix());
    let mut rpc = d.admin().await;
    rpc.ensure_service(SERVICE).await;
    (d, rpc)
}

/// Waits for the user to be settled in LiteLLM and returns its view.
async fn settled(rpc: &mut RpcClient, id: &str) -> Value {
    wait_active(rpc, &one(id)).await.remove(0)
}

#[tokio::test]
async fn real_proxy_budgets_and_rate_limits_hold_through_the_proxy() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let (_daemon, mut rpc) = synced_daemon(&url, &master).await;

    // A budget of 0 refuses the very first call: 429 budget_exceeded.
    let broke = limited("broke", json!({"max_budget": 0, "budget_period": "30d"}));
    let paced = limited("paced", json!({"rpm_limit": 1}));
    let created = rpc
        .call("users.create", json!({"users": [broke, paced]}))
        .await;
    assert_eq!(created.ok()["created"], 2, "{}", created.body);
    let broke = settled(&mut rpc, "broke").await;
    assert_eq!(broke["limits"]["max_budget"], 0.0);
    assert_eq!(broke["limits"]["budget_period"], "30d");
    assert!(broke["inherited"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f != "max_budget"));
    let broke_key = broke["key"].as_str().unwrap().to_string();
    let (status, kind, _) = chat(&url, &broke_key).await;
    assert_eq!((status, kind.as_deref()), (429, Some("budget_exceeded")));

    // Raising it (a bulk limits change, previewed first) lets calls through.
    let preview = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["broke"], "limits": {"max_budget": 100}, "dry_run": true}),
        )
        .await;
    assert_eq!(preview.ok()["limits_changed"], 1, "{}", preview.body);
    let sample = &preview.ok()["samples"][0];
    assert_eq!(sample["id"], "broke");
    assert_eq!(
        sample["changes"][0],
        json!({"field": "max_budget", "before": "0", "after": "100"})
    );
    let done = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["broke"], "limits": {"max_budget": 100}}),
        )
        .await;
    assert_eq!(done.ok()["changed"], 1, "{}", done.body);
    settled(&mut rpc, "broke").await;
    let (status, _, _) = chat(&url, &broke_key).await;
    assert_eq!(status, 200, "a raised budget lets the next call through");
    let held = admin_client(&url, &master)
        .key_info(&key_hash(&broke_key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.limits.max_budget, Some(100.0));
    assert_eq!(held.limits.budget_duration.as_deref(), Some("30d"));

    // rpm_limit 1: the second call within the minute is throttled, with retry-after.
    let paced = settled(&mut rpc, "paced").await;
    let paced_key = paced["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&url, &paced_key).await.0, 200);
    let (status, kind, retry_after) = chat(&url, &paced_key).await;
    assert_eq!((status, kind.as_deref()), (429, Some("throttling_error")));
    assert!(retry_after.is_some(), "LiteLLM says when to retry");
    // Cleared with null: the limit is gone in LiteLLM, and calls go through again.
    update(&mut rpc, "paced", json!({"limits": {"rpm_limit": null}})).await;
    let paced = settled(&mut rpc, "paced").await;
    assert_eq!(paced["limits"]["rpm_limit"], Value::Null);
    let held = admin_client(&url, &master)
        .key_info(&key_hash(&paced_key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.limits.rpm_limit, None);
    assert_eq!(chat(&url, &paced_key).await.0, 200);
}

#[tokio::test]
async fn real_proxy_expiry_and_suspension_switch_the_same_key_off_and_on() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    let token = rpc.service_token(SERVICE).await;

    let expires = Utc::now() + chrono::Duration::seconds(8);
    let brief = limited("brief", json!({"expires_at": expires.to_rfc3339()}));
    let created = rpc
        .call(
            "users.create",
            json!({"users": [brief, user("held", &["mock-gpt"])]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 2, "{}", created.body);
    let brief = settled(&mut rpc, "brief").await;
    let brief_key = brief["key"].as_str().unwrap().to_string();
    assert_eq!(
        chat(&url, &brief_key).await.0,
        200,
        "works before its expiry"
    );
    let served = lookup(&d, &token, &one("brief")).await;
    assert_eq!(served["brief"]["key"].as_str(), Some(brief_key.as_str()));

    // After the expiry: LiteLLM refuses the key, and services are told why instead of given it.
    let wait = (expires - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(2);
    tokio::time::sleep(wait).await;
    let (status, kind, _) = chat(&url, &brief_key).await;
    assert_eq!((status, kind.as_deref()), (401, Some("expired_key")));
    let served = lookup(&d, &token, &one("brief")).await;
    assert_eq!(served["brief"]["key"], Value::Null);
    assert_eq!(served["brief"]["key_withheld"], "expired");
    assert_eq!(served["brief"]["status"], "expired");
    assert_eq!(get_one(&mut rpc, "brief").await["status"], "expired");

    // Extended by a day (from now, as it had passed): the same key works again.
    let extended = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["brief"], "extend_expiry_days": 1}),
        )
        .await;
    assert_eq!(extended.ok()["limits_changed"], 1, "{}", extended.body);
    let brief = settled(&mut rpc, "brief").await;
    let new_expiry: chrono::DateTime<Utc> =
        serde_json::from_value(brief["limits"]["expires_at"].clone()).unwrap();
    assert!(new_expiry > Utc::now() + chrono::Duration::hours(23));
    assert_eq!(
        brief["key"].as_str(),
        Some(brief_key.as_str()),
        "the same key"
    );
    assert_eq!(chat(&url, &brief_key).await.0, 200);
    let served = lookup(&d, &token, &one("brief")).await;
    assert_eq!(served["brief"]["key"].as_str(), Some(brief_key.as_str()));

    // Suspended: blocked in LiteLLM (401), withheld from services with the reason.
    let held = settled(&mut rpc, "held").await;
    let held_key = held["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&url, &held_key).await.0, 200);
    let view = update(
        &mut rpc,
        "held",
        json!({"suspend": {"reason": "laptop stolen"}}),
    )
    .await;
    assert_eq!(view["status"], "suspended", "{view}");
    assert_eq!(
        view["key_status"], "pending",
        "the block is on its way to LiteLLM"
    );
    let held = settled(&mut rpc, "held").await;
    assert_eq!(held["status"], "suspended");
    assert_eq!(held["suspended"]["by"], "admin");
    assert_eq!(held["suspended"]["reason"], "laptop stolen");
    assert_eq!(
        chat(&url, &held_key).await.0,
        401,
        "a suspended key is refused"
    );
    let served = lookup(&d, &token, &one("held")).await;
    assert_eq!(served["held"]["key"], Value::Null);
    assert_eq!(served["held"]["key_withheld"], "suspended");

    // Resumed: the same key, working again.
    update(&mut rpc, "held", json!({"resume": true})).await;
    let held = settled(&mut rpc, "held").await;
    assert_eq!(held["status"], "active");
    assert_eq!(held["suspended"], Value::Null);
    assert_eq!(
        held["key"].as_str(),
        Some(held_key.as_str()),
        "the same key"
    );
    assert_eq!(chat(&url, &held_key).await.0, 200);
    let served = lookup(&d, &token, &one("held")).await;
    assert_eq!(served["held"]["key"].as_str(), Some(held_key.as_str()));

    // Both changes are in the event log.
    let updates = events(&mut rpc, "users.update").await;
    let details: Vec<&str> = updates
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("suspended")),
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.contains("resumed")), "{details:?}");
}

#[tokio::test]
async fn real_proxy_a_limit_changed_in_litellm_is_repaired_by_reconcile() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let (_daemon, mut rpc) = synced_daemon(&url, &master).await;
    let drifter = limited("drifter", json!({"rpm_limit": 50, "max_budget": 5}));
    let created = rpc.call("users.create", json!({"users": [drifter]})).await;
    assert_eq!(created.ok()["created"], 1, "{}", created.body);
    let row = settled(&mut rpc, "drifter").await;
    let hash = key_hash(row["key"].as_str().unwrap());

    // Someone raises the limits with LiteLLM's own endpoint.
    let behind_our_back = UpdateKey {
        limits: Some(LimitsOnKey {
            rpm_limit: Some(5000),
            max_budget: Some(1000.0),
            ..LimitsOnKey::default()
        }),
        ..UpdateKey::default()
    };
    litellm
        .update_key("someone-else", &hash, &behind_our_back)
        .await
        .expect("LiteLLM takes the change");

    let summary = reconcile(&mut rpc).await;
    assert_eq!(summary["drift"]["rpm_limit"], 1, "{summary}");
    assert_eq!(summary["drift"]["max_budget"], 1, "{summary}");
    settled(&mut rpc, "drifter").await;
    let started = Instant::now();
    loop {
        let held = litellm.key_info(&hash).await.unwrap().unwrap();
        if held.limits.rpm_limit == Some(50) && held.limits.max_budget == Some(5.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not repaired: {:?}",
            held.limits
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every field refuses its bad values with a 4xx naming it, and nothing changes.
#[tokio::test]
async fn bad_limits_are_refused_naming_the_field_and_change_nothing() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let created = rpc
        .call("users.create", json!({"users": [{"id": "steady"}]}))
        .await;
    assert_eq!(created.ok()["created"], 1, "{}", created.body);
    let before = get_one(&mut rpc, "steady").await;
    let past = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let cases = [
        (json!({"max_budget": -1}), "limits.max_budget"),
        (json!({"max_budget": "ten"}), "limits.max_budget"),
        (json!({"budget_period": "2d"}), "limits.budget_period"),
        (json!({"tpm_limit": 0}), "limits.tpm_limit"),
        (json!({"rpm_limit": -5}), "limits.rpm_limit"),
        (json!({"expires_at": past}), "limits.expires_at"),
        (json!({"expires_at": "tomorrow"}), "limits.expires_at"),
        (json!({"rotation_every": "0d"}), "limits.rotation_every"),
        (
            json!({"rotation_every": "quarterly"}),
            "limits.rotation_every",
        ),
        (json!({"budget": 5}), "limits.budget"),
    ];
    for (limits, field) in cases {
        for (method, params) in [
            (
                "users.update",
                json!({"id": "steady", "version": before["version"], "limits": limits}),
            ),
            (
                "users.bulk_update",
                json!({"ids": ["steady"], "limits": limits}),
            ),
            (
                "users.create",
                json!({"users": [{"id": "newcomer", "limits": limits}]}),
            ),
        ] {
            let reply = rpc.call(method, params).await;
            assert_eq!(reply.status, 400, "{method} {limits}: {}", reply.body);
            assert_eq!(reply.code(), "invalid_params", "{method} {limits}");
            let fields: Vec<&str> = reply.error()["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .filter_map(|f| f["field"].as_str())
                .collect();
            assert!(
                fields.iter().any(|f| f.ends_with(field)),
                "{method} {limits}: {fields:?} should name {field}"
            );
        }
    }
    let reply = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["steady"], "suspend": {"reason": "  "}}),
        )
        .await;
    assert_eq!(reply.code(), "invalid_params", "{}", reply.body);
    let reply = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["steady"], "suspend": {"reason": "x"}, "resume": true}),
        )
        .await;
    assert_eq!(reply.code(), "invalid_params", "{}", reply.body);
    let reply = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["steady"], "extend_expiry_days": 0}),
        )
        .await;
    assert_eq!(reply.code(), "invalid_params", "{}", reply.body);

    let after = get_one(&mut rpc, "steady").await;
    assert_eq!(after["version"], before["version"], "nothing changed");
    assert_eq!(after["limits"], before["limits"]);
    let missing = rpc.call("users.get", json!({"ids": ["newcomer"]})).await;
    assert_eq!(missing.ok()["missing"], json!(["newcomer"]));
}

/// `users.list` and `users.count` filter on limits and status in the database.
#[tokio::test]
async fn users_filter_by_budget_expiry_and_status() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let soon = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let in_ten_days = (Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let in_a_year = (Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                {"id": "f-budget", "limits": {"max_budget": 20, "budget_period": "7d"}},
                {"id": "f-soon", "limits": {"expires_at": soon}},
                {"id": "f-ten", "limits": {"expires_at": in_ten_days}},
                {"id": "f-year", "limits": {"expires_at": in_a_year}},
                {"id": "f-plain"},
                {"id": "f-off"},
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 6, "{}", created.body);
    let off = update(&mut rpc, "f-off", json!({"suspend": {"reason": "audit"}})).await;
    assert_eq!(off["status"], "suspended");
    tokio::time::sleep(Duration::from_secs(3)).await;

    let ids = |rpc_reply: &Value| -> Vec<String> {
        let mut ids: Vec<String> = rpc_reply["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    for (filter, expected) in [
        (json!({"has_budget": true}), vec!["f-budget"]),
        (
            json!({"has_budget": false, "text": "f-"}),
            vec!["f-off", "f-plain", "f-soon", "f-ten", "f-year"],
        ),
        (json!({"expires_within_days": 30}), vec!["f-soon", "f-ten"]),
        (json!({"status": "expired"}), vec!["f-soon"]),
        (json!({"status": "suspended"}), vec!["f-off"]),
        (
            json!({"status": "pending", "text": "f-"}),
            vec!["f-budget", "f-plain", "f-ten", "f-year"],
        ),
        (json!({"status": "suspended", "text": "plain"}), vec![]),
    ] {
        let listed = rpc.call("users.list", json!({"filter": filter})).await;
        assert_eq!(ids(listed.ok()), expected, "{filter}");
        let counted = rpc.call("users.count", json!({"filter": filter})).await;
        assert_eq!(counted.ok()["matching"], expected.len() as u64, "{filter}");
        let marked = rpc.call("users.list_ids", json!({"filter": filter})).await;
        assert_eq!(
            marked.ok()["ids"].as_array().unwrap().len(),
            expected.len(),
            "{filter}"
        );
    }
    // A bulk change by filter reaches exactly those users.
    let resumed = rpc
        .call(
            "users.bulk_update",
            json!({"filter": {"status": "suspended"}, "resume": true}),
        )
        .await;
    assert_eq!(resumed.ok()["resumed"], 1, "{}", resumed.body);
    let listed = rpc
        .call("users.list", json!({"filter": {"status": "suspended"}}))
        .await;
    assert_eq!(listed.ok()["users"], json!([]));
}

#[tokio::test]
async fn real_proxy_an_organization_default_reaches_every_inheriting_key_and_no_other() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let (_daemon, mut rpc) = synced_daemon(&url, &master).await;
    let member = |id: &str| json!({"id": id, "organization": "dept", "models": ["mock-gpt"]});
    let mut own = member("dept-own");
    own["limits"] = json!({"max_budget": 7});
    let created = rpc
        .call(
            "users.create",
            json!({"users": [member("dept-a"), member("dept-b"), own, user("outsider", &["mock-gpt"])]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 4, "{}", created.body);
    let all = vec![
        "dept-a".to_string(),
        "dept-b".into(),
        "dept-own".into(),
        "outsider".into(),
    ];
    let rows = wait_active(&mut rpc, &all).await;
    let keys: Vec<String> = rows
        .iter()
        .map(|u| u["key"].as_str().unwrap().to_string())
        .collect();

    // The preview counts, then the default of 0 closes every inheriting key at once.
    let preview = rpc
        .call(
            "organizations.set_defaults",
            json!({"name": "dept", "defaults": {"max_budget": 0, "rpm_limit": 100}, "dry_run": true}),
        )
        .await;
    assert_eq!(preview.ok()["users_changed"], 3, "{}", preview.body);
    let done = rpc
        .call(
            "organizations.set_defaults",
            json!({"name": "dept", "defaults": {"max_budget": 0, "rpm_limit": 100}}),
        )
        .await;
    assert_eq!(done.ok()["users_changed"], 3, "{}", done.body);
    assert_eq!(done.ok()["users_unaffected"], 0);
    let rows = wait_active(&mut rpc, &all).await;
    for (row, key) in rows.iter().zip(&keys).take(2) {
        assert_eq!(row["limits"]["max_budget"], 0.0, "{row}");
        assert!(row["inherited"]
            .as_array()
            .unwrap()
            .contains(&json!("max_budget")));
        let (status, kind, _) = chat(&url, key).await;
        assert_eq!(
            (status, kind.as_deref()),
            (429, Some("budget_exceeded")),
            "{}",
            row["id"]
        );
    }
    // The user with its own budget keeps it (and inherits only the rate limit).
    assert_eq!(rows[2]["limits"]["max_budget"], 7.0);
    assert_eq!(rows[2]["limits"]["rpm_limit"], 100);
    assert_eq!(chat(&url, &keys[2]).await.0, 200);
    let held = litellm
        .key_info(&key_hash(&keys[2]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.limits.max_budget, Some(7.0));
    assert_eq!(held.limits.rpm_limit, Some(100));
    // Another organization is untouched.
    assert_eq!(rows[3]["limits"]["max_budget"], Value::Null);
    assert_eq!(chat(&url, &keys[3]).await.0, 200);

    // A user joining the organization inherits its defaults; one created in it too.
    update(&mut rpc, "outsider", json!({"organization": "dept"})).await;
    let outsider = settled(&mut rpc, "outsider").await;
    assert_eq!(outsider["limits"]["max_budget"], 0.0);
    assert_eq!(chat(&url, &keys[3]).await.0, 429);
    let created = rpc
        .call("users.create", json!({"users": [member("dept-new")]}))
        .await;
    assert_eq!(created.ok()["users"][0]["limits"]["rpm_limit"], 100);

    let listed = rpc.call("organizations.list", json!({})).await;
    let dept = listed.ok()["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "dept")
        .cloned()
        .expect("dept listed");
    assert_eq!(dept["users"], 5);
    assert_eq!(dept["defaults"]["max_budget"], 0.0);

    // Back to no default: the inheriting keys open again; the one event names the users.
    let lifted = rpc
        .call(
            "organizations.set_defaults",
            json!({"name": "dept", "defaults": {}}),
        )
        .await;
    assert_eq!(lifted.ok()["users_changed"], 5, "{}", lifted.body);
    wait_active(&mut rpc, &all).await;
    assert_eq!(chat(&url, &keys[0]).await.0, 200);
    let changes = events(&mut rpc, "organizations.set_defaults").await;
    assert!(
        changes.iter().any(|e| e["detail"]
            .as_str()
            .unwrap_or("")
            .contains("max_budget 0 → none")),
        "{changes:?}"
    );
}

#[tokio::test]
async fn real_proxy_spend_is_read_back_and_a_spent_budget_shows_as_over_budget() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let (d, mut rpc) = synced_daemon(&url, &master).await;
    // One mock call costs 1.35e-05 USD: a budget of 1e-05 lets exactly one through.
    let spender = limited("spender", json!({"max_budget": 0.00001}));
    let created = rpc
        .call(
            "users.create",
            json!({"users": [spender, user("idle", &["mock-gpt"])]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 2, "{}", created.body);
    let row = settled(&mut rpc, "spender").await;
    let spender_key = row["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&url, &spender_key).await.0, 200);
    let (status, kind, _) = chat(&url, &spender_key).await;
    assert_eq!((status, kind.as_deref()), (429, Some("budget_exceeded")));

    // LiteLLM writes spend in batches: wait until it shows, then reconcile reads it back.
    let hash = key_hash(&spender_key);
    let started = Instant::now();
    while litellm.key_info(&hash).await.unwrap().unwrap().spend <= 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "LiteLLM never recorded the spend (is PROXY_BATCH_WRITE_AT set low?)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let summary = reconcile(&mut rpc).await;
    assert!(summary["spend_updated"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["pages_read"].as_u64().unwrap() >= 1, "{summary}");
    let row = get_one(&mut rpc, "spender").await;
    assert_eq!(row["status"], "over_budget", "{row}");
    let spent = row["spend"].as_f64().unwrap();
    assert!(spent >= 0.00001, "{row}");
    assert!(row["spend_read_at"].is_string(), "{row}");
    let idle = get_one(&mut rpc, "idle").await;
    assert_eq!(idle["spend"], 0.0);
    assert_eq!(idle["status"], "active");

    for filter in [
        json!({"status": "over_budget"}),
        json!({"spend_above": 0.000001}),
    ] {
        let listed = rpc.call("users.list", json!({"filter": filter})).await;
        let ids: Vec<&str> = listed.ok()["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u["id"].as_str())
            .collect();
        assert_eq!(ids, ["spender"], "{filter}");
    }
    // The REST lookup says so too (the key is still served: a budget reset reopens it).
    let token = rpc.service_token(SERVICE).await;
    let served = lookup(&d, &token, &one("spender")).await;
    assert_eq!(served["spender"]["status"], "over_budget");
    // A higher budget: the status follows at once, from the spend already read.
    let raised = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["spender"], "limits": {"max_budget": 1}}),
        )
        .await;
    assert_eq!(raised.ok()["changed"], 1);
    settled(&mut rpc, "spender").await;
    assert_eq!(get_one(&mut rpc, "spender").await["status"], "active");
    assert_eq!(chat(&url, &spender_key).await.0, 200);
}

#[tokio::test]
async fn real_proxy_a_rotation_keeps_the_old_key_working_for_its_grace_then_deletes_it() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    let mut env = envs(&prefix);
    env.retain(|(name, _)| *name != "MAMA_ROTATION_GRACE_SECS");
    env.push(("MAMA_ROTATION_GRACE_SECS", "8".into()));
    let d = start_synced(&sync_args(&url, &key), &env, None);
    let mut rpc = d.admin().await;
    let token = rpc.service_token(SERVICE).await;
    let created = rpc
        .call(
            "users.create",
            json!({"users": [user("turner", &["mock-gpt"])]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 1, "{}", created.body);
    let old_key = settled(&mut rpc, "turner").await["key"]
        .as_str()
        .unwrap()
        .to_string();

    let refused = rpc
        .call(
            "users.rotate_keys",
            json!({"ids": ["turner"], "grace_minutes": 100_000}),
        )
        .await;
    assert_eq!(refused.code(), "invalid_params", "{}", refused.body);
    let rotated = rpc
        .call("users.rotate_keys", json!({"ids": ["turner"]}))
        .await;
    assert_eq!(rotated.ok()["rotated"], 1, "{}", rotated.body);
    let row = settled(&mut rpc, "turner").await;
    let new_key = row["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, old_key);
    assert!(row["rotated_at"].is_string(), "{row}");
    let grace_ends: chrono::DateTime<Utc> =
        serde_json::from_value(row["previous_key_expires_at"].clone()).expect("grace shown");

    // During the grace: services get the new key and learn when the old one stops; both work.
    let served = lookup(&d, &token, &one("turner")).await;
    assert_eq!(served["turner"]["key"].as_str(), Some(new_key.as_str()));
    assert!(served["turner"]["rotated_at"].is_string());
    assert!(served["turner"]["previous_key_expires_at"].is_string());
    assert_eq!(
        chat(&url, &new_key).await.0,
        200,
        "the new key works at once"
    );
    assert_eq!(chat(&url, &old_key).await.0, 200, "the old key still works");
    let status = rpc.call("sync.status", json!({})).await;
    assert_eq!(status.ok()["keys_in_grace"], 1, "{}", status.body);
    // A reconcile in the middle leaves the old key alone.
    let summary = reconcile(&mut rpc).await;
    assert_eq!(summary["orphans_deleted"], 0, "{summary}");
    assert_eq!(chat(&url, &old_key).await.0, 200);

    // After it: the old key is deleted through the outbox, the new one goes on working.
    let wait = (grace_ends - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    wait_key_gone(&litellm, &key_hash(&old_key)).await;
    assert_eq!(chat(&url, &old_key).await.0, 401, "the old key is gone");
    assert_eq!(chat(&url, &new_key).await.0, 200);
    let served = lookup(&d, &token, &one("turner")).await;
    assert_eq!(served["turner"]["previous_key_expires_at"], Value::Null);
    let status = rpc.call("sync.status", json!({})).await;
    assert_eq!(status.ok()["keys_in_grace"], 0, "{}", status.body);
}

/// `rotation_every`: a key whose interval has passed is rotated by the daemon itself, once,
/// even with two daemons on one PostgreSQL database, and the new key works in LiteLLM.
#[tokio::test]
async fn real_proxy_a_key_due_by_rotation_every_is_rotated_once_by_the_daemon() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    rpc.ensure_service(SERVICE).await;
    let due = limited("due", json!({"rotation_every": "30d"}));
    let fresh = limited("fresh", json!({"rotation_every": "30d"}));
    let created = rpc
        .call("users.create", json!({"users": [due, fresh]}))
        .await;
    assert_eq!(created.ok()["created"], 2, "{}", created.body);
    let rows = wait_active(&mut rpc, &["due".to_string(), "fresh".to_string()]).await;
    let (old_due, old_fresh) = (
        rows[0]["key"].as_str().unwrap().to_string(),
        rows[1]["key"].as_str().unwrap().to_string(),
    );
    assert_eq!(rows[0]["limits"]["rotation_every"], "30d");

    // 31 days pass for one of them (the clock of the database, moved by hand), then the daemon
    // restarts (its scheduler looks at start, then every minute); on PostgreSQL a second
    // daemon starts on the same database at the same time.
    d.db.execute(&format!(
        "UPDATE users SET created_at = {} WHERE id = 'due'",
        shifted_created_at()
    ));
    let data = d.dir.path().join("data");
    let (dir, db) = d.kill();
    let shared = (mama_tests::harness::database::kind()
        == mama_tests::harness::database::Kind::Postgres)
        .then(|| db.shared());
    let d = start_synced(&sync_args(&url, &key), &envs(&prefix), Some((dir, db)));
    let second = shared.map(|db| {
        let mut args = sync_args(&url, &key);
        args.extend([
            "--encryption-key-file".into(),
            data.join("encryption.key").to_string_lossy().into_owned(),
            "--jwt-key-file".into(),
            data.join("jwt.key").to_string_lossy().into_owned(),
        ]);
        start_synced(
            &args,
            &envs(&prefix),
            Some((tempfile::tempdir().unwrap(), db)),
        )
    });
    let mut rpc = admin_again(&d).await;
    let started = Instant::now();
    let rotated = loop {
        let row = get_one(&mut rpc, "due").await;
        if row["key"].as_str() != Some(old_due.as_str()) && row["key_status"] == "active" {
            break row;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not rotated: {row}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let new_key = rotated["key"].as_str().unwrap().to_string();
    assert!(rotated["rotated_at"].is_string());
    assert_eq!(chat(&url, &new_key).await.0, 200, "the new key works");
    // Rotated once: one scheduled rotation event naming it, and the other key left alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rotations: Vec<Value> = events(&mut rpc, "users.rotate_keys")
        .await
        .into_iter()
        .filter(|e| e["detail"].as_str().unwrap_or("").contains("scheduled"))
        .collect();
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(
        get_one(&mut rpc, "due").await["key"].as_str(),
        Some(new_key.as_str())
    );
    assert_eq!(
        get_one(&mut rpc, "fresh").await["key"].as_str(),
        Some(old_fresh.as_str())
    );
    drop(second);
}

/// `created_at` 31 days earlier, in the test database's SQL dialect.
fn shifted_created_at() -> String {
    match mama_tests::harness::database::kind() {
        mama_tests::harness::database::Kind::Postgres => "created_at - INTERVAL '31 days'".into(),
        mama_tests::harness::database::Kind::Sqlite => {
            "strftime('%Y-%m-%d %H:%M:%f', created_at, '-31 days')".into()
        }
    }
}

/// `users.list` sorts by each limit in the database, "none" after every value (never-read spend
/// first), ties by id, and pages by cursor through the same order in both directions.
#[tokio::test]
async fn users_sort_by_limits_with_none_last_and_page_by_cursor() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let at = |days: i64| (Utc::now() + chrono::Duration::days(days)).to_rfc3339();
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                {"id": "s-a", "limits": {"max_budget": 5, "tpm_limit": 1000, "expires_at": at(3)}},
                {"id": "s-b", "limits": {"max_budget": 0.5, "rpm_limit": 60}},
                {"id": "s-c", "limits": {"max_budget": 50, "rpm_limit": 5, "expires_at": at(1)}},
                {"id": "s-d"},
                {"id": "s-e", "limits": {"max_budget": 5, "tpm_limit": 10}},
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 5, "{}", created.body);
    let order = |reply: &Value| -> Vec<String> {
        reply["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    for (column, ascending) in [
        ("max_budget", vec!["s-b", "s-a", "s-e", "s-c", "s-d"]),
        ("tpm_limit", vec!["s-e", "s-a", "s-b", "s-c", "s-d"]),
        ("rpm_limit", vec!["s-c", "s-b", "s-a", "s-d", "s-e"]),
        ("expires_at", vec!["s-c", "s-a", "s-b", "s-d", "s-e"]),
        ("spend", vec!["s-a", "s-b", "s-c", "s-d", "s-e"]),
    ] {
        let up = rpc
            .call("users.list", json!({"sort": {"column": column}}))
            .await;
        assert_eq!(order(up.ok()), ascending, "{column} ascending");
        let down = rpc
            .call(
                "users.list",
                json!({"sort": {"column": column, "descending": true}}),
            )
            .await;
        let mut descending = ascending.clone();
        descending.reverse();
        assert_eq!(order(down.ok()), descending, "{column} descending");
        // Two rows a page, by cursor: the same order, and back again.
        let mut seen = Vec::new();
        let mut cursor = json!({});
        let mut pages = Vec::new();
        loop {
            let page = rpc
                .call(
                    "users.list",
                    json!({"sort": {"column": column}, "page": {"limit": 2}, "cursor": cursor}),
                )
                .await;
            let ids = order(page.ok());
            if ids.is_empty() {
                break;
            }
            seen.extend(ids);
            pages.push(page.ok().clone());
            cursor = json!({"after": page.ok()["end_cursor"]});
        }
        assert_eq!(seen, ascending, "{column} by cursor");
        let before = rpc
            .call(
                "users.list",
                json!({"sort": {"column": column}, "page": {"limit": 2},
                       "cursor": {"before": pages[1]["start_cursor"]}}),
            )
            .await;
        assert_eq!(order(before.ok()), ascending[..2], "{column} page before");
    }
    let mixed = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "max_budget"}, "cursor": {"after": "garbage"}}),
        )
        .await;
    assert_eq!(mixed.code(), "invalid_params");
}

#[tokio::test]
async fn users_sort_by_status_most_pressing_first_with_expiries_marked_by_the_daemon() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let soon = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                {"id": "t-active"}, {"id": "t-expired", "limits": {"expires_at": soon}},
                {"id": "t-failed"}, {"id": "t-none"}, {"id": "t-over", "limits": {"max_budget": 1}},
                {"id": "t-pending"}, {"id": "t-suspended"}, {"id": "t-under", "limits": {"max_budget": 5}},
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 8, "{}", created.body);
    let off = update(
        &mut rpc,
        "t-suspended",
        json!({"suspend": {"reason": "audit"}}),
    )
    .await;
    assert_eq!(off["status"], "suspended");
    // Key states and spend as the sync would leave them (this daemon has no LiteLLM).
    d.db.execute(
        "UPDATE users SET key_status = 'active' WHERE id IN ('t-active', 't-over', 't-under');
         UPDATE users SET key_status = 'failed' WHERE id = 't-failed';
         UPDATE users SET key_status = 'none' WHERE id = 't-none';
         UPDATE users SET spend = 2 WHERE id IN ('t-over', 't-under');",
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The expiry has passed; the daemon marks it at start and then every minute.
    let (dir, db) = d.kill();
    let d = Daemon::start_on(dir, db, &[], &[]);
    let mut rpc = admin_again(&d).await;
    let order = |reply: &Value| -> Vec<String> {
        reply["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let expected = vec![
        "t-suspended",
        "t-expired",
        "t-over",
        "t-failed",
        "t-pending",
        "t-active",
        "t-under",
        "t-none",
    ];
    let started = Instant::now();
    loop {
        let up = rpc
            .call("users.list", json!({"sort": {"column": "status"}}))
            .await;
        if order(up.ok()) == expected || started.elapsed() > Duration::from_secs(30) {
            assert_eq!(order(up.ok()), expected, "status ascending");
            let statuses: Vec<&str> = up.ok()["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["status"].as_str().unwrap())
                .collect();
            assert_eq!(
                statuses,
                [
                    "suspended",
                    "expired",
                    "over_budget",
                    "failed",
                    "pending",
                    "active",
                    "active",
                    "none"
                ]
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let down = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "status", "descending": true}}),
        )
        .await;
    let mut descending = expected.clone();
    descending.reverse();
    assert_eq!(order(down.ok()), descending, "status descending");
    // Three a page by cursor, forwards and back: the same order.
    let mut seen = Vec::new();
    let mut cursor = json!({});
    let mut pages = Vec::new();
    loop {
        let page = rpc
            .call(
                "users.list",
                json!({"sort": {"column": "status"}, "page": {"limit": 3}, "cursor": cursor}),
            )
            .await;
        let ids = order(page.ok());
        if ids.is_empty() {
            break;
        }
        seen.extend(ids);
        pages.push(page.ok().clone());
        cursor = json!({"after": page.ok()["end_cursor"]});
    }
    assert_eq!(seen, expected, "status by cursor");
    let before = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "status"}, "page": {"limit": 3},
                   "cursor": {"before": pages[2]["start_cursor"]}}),
        )
        .await;
    assert_eq!(order(before.ok()), expected[3..6], "status page before");
    // Extending the expiry takes the user out of the expired at once.
    let later = (Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    update(
        &mut rpc,
        "t-expired",
        json!({"limits": {"expires_at": later}}),
    )
    .await;
    let up = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "status"}, "page": {"limit": 2}}),
        )
        .await;
    assert_eq!(order(up.ok()), ["t-suspended", "t-over"], "after extending");
}
