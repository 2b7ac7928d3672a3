//! A key never opens more than its user may use, checked through the real LiteLLM proxy with the
//! key mama serves: users without models, `all-team-models` without a team, keys blocked or
//! renamed behind mama's back, and rotation. Each test runs on SQLite or PostgreSQL
//! (`MAMA_TEST_DATABASE`); the real-proxy ones skip outside CI when no proxy is configured.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use mama_core::litellm::{key_hash, LiteLlm};
use mama_tests::harness::sync::*;
use mama_tests::harness::Daemon;
use serde_json::{json, Value};

fn id_list(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn bulk(
    rpc: &mut mama_tests::harness::RpcClient,
    ids: &[&str],
    op: &str,
    models: &[&str],
) -> Value {
    let reply = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ids, "models": {"op": op, "values": models}}),
        )
        .await;
    assert_eq!(reply.ok()["changed"], ids.len() as u64, "{}", reply.body);
    reply.ok().clone()
}

/// The key can neither list nor call anything through the proxy.
async fn assert_opens_nothing(url: &str, key: &str, who: &str) {
    assert_eq!(
        models_opened(url, key).await,
        Err(401),
        "{who}: a blocked key lists nothing"
    );
    assert_eq!(
        chat_status(url, key, "mock-gpt").await,
        401,
        "{who}: no call"
    );
}

#[tokio::test]
async fn real_proxy_a_user_without_models_holds_no_usable_key() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    let token = rpc.service_token("chat").await;

    // Created with no models; and three users whose last model a bulk remove takes away.
    let emptied = ["emptied-1", "emptied-2", "emptied-3"];
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                user("empty", &[]),
                user("emptied-1", &["mock-gpt"]),
                user("emptied-2", &["mock-gpt"]),
                user("emptied-3", &["mock-gpt"]),
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 4, "{}", created.body);
    let all = id_list(&["empty", "emptied-1", "emptied-2", "emptied-3"]);
    let rows = wait_active(&mut rpc, &all).await;
    let keys: HashMap<String, String> = rows
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_string(),
                u["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows[0]["key_blocked"], true, "{}", rows[0]);
    assert_opens_nothing(&url, &keys["empty"], "created without models").await;
    for id in emptied {
        assert_eq!(models_opened(&url, &keys[id]).await, Ok(set(&["mock-gpt"])));
    }
    let served = lookup(&d, &token, &all).await;
    assert_eq!(served["empty"]["key"], Value::Null);
    assert_eq!(served["empty"]["key_withheld"], "no_models");
    assert_eq!(
        served["emptied-1"]["key"].as_str(),
        Some(keys["emptied-1"].as_str())
    );

    // An ordinary bulk remove of the last model: the preview says what it will do.
    let preview = rpc
        .call(
            "users.bulk_update",
            json!({"ids": emptied, "models": {"op": "remove", "values": ["mock-gpt"]}, "dry_run": true}),
        )
        .await;
    assert_eq!(preview.ok()["left_without_models"], 3, "{}", preview.body);
    let done = bulk(&mut rpc, &emptied, "remove", &["mock-gpt"]).await;
    assert_eq!(done["left_without_models"], 3);
    let rows = wait_active(&mut rpc, &id_list(&emptied)).await;
    for (u, id) in rows.iter().zip(emptied) {
        assert_eq!(u["models"], json!([]));
        assert_eq!(u["key_blocked"], true);
        assert_opens_nothing(&url, &keys[id], "emptied by a bulk remove").await;
        let held = litellm
            .key_info(&key_hash(&keys[id]))
            .await
            .unwrap()
            .unwrap();
        assert!(held.blocked, "blocked in LiteLLM");
        assert!(!held.models.is_empty(), "never [] (= every model)");
    }
    let served = lookup(&d, &token, &all).await;
    for id in &all {
        assert_eq!(served[id]["key_withheld"], "no_models", "{id}");
    }

    // Adding a model back opens exactly that one, for the same key.
    bulk(&mut rpc, &["empty", "emptied-1"], "add", &["mock-gpt"]).await;
    let reopened = id_list(&["empty", "emptied-1"]);
    wait_active(&mut rpc, &reopened).await;
    for id in &reopened {
        assert_eq!(
            models_opened(&url, &keys[id]).await,
            Ok(set(&["mock-gpt"])),
            "{id}"
        );
        assert_eq!(chat_status(&url, &keys[id], "mock-gpt").await, 200, "{id}");
        assert_eq!(chat_status(&url, &keys[id], "gpt-4o").await, 403, "{id}");
    }
    let served = lookup(&d, &token, &reopened).await;
    assert_eq!(
        served["empty"]["key"].as_str(),
        Some(keys["empty"].as_str())
    );

    // Editing one user down to nothing closes its key the same way.
    let row = get_users(&mut rpc, &reopened[..1]).await.remove(0);
    let edited = rpc
        .call(
            "users.update",
            json!({"id": "empty", "version": row["version"], "models": []}),
        )
        .await;
    assert_eq!(edited.ok()["key_blocked"], true);
    wait_active(&mut rpc, &reopened[..1]).await;
    assert_opens_nothing(&url, &keys["empty"], "edited to no models").await;

    rpc.call("users.delete", json!({"ids": all})).await.ok();
    for k in keys.values() {
        wait_key_gone(&litellm, &key_hash(k)).await;
    }
}

#[tokio::test]
async fn all_team_models_is_refused_while_no_team_is_configured() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let refused = rpc
        .call(
            "users.create",
            json!({"users": [user("a", &["gpt-4o"]), user("b", &["all-team-models"])]}),
        )
        .await;
    assert_eq!(refused.code(), "invalid_params");
    let fields = &refused.error()["fields"];
    assert_eq!(fields[0]["field"], "users[1].models[0]", "{fields}");
    assert_eq!(fields[0]["row"], 1);
    assert!(fields[0]["message"]
        .as_str()
        .unwrap()
        .contains("needs a LiteLLM team"));
    let listed = rpc.call("users.count", json!({})).await;
    assert_eq!(listed.ok()["total"], 0, "nothing was created");

    rpc.ensure_service(SERVICE).await;
    rpc.call("users.create", json!({"users": [user("a", &["gpt-4o"])]}))
        .await
        .ok();
    let added = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["a"], "models": {"op": "add", "values": ["all-team-models"]}}),
        )
        .await;
    assert_eq!(added.code(), "invalid_params");
    assert_eq!(added.error()["fields"][0]["field"], "models.values[0]");
    let updated = rpc
        .call(
            "users.update",
            json!({"id": "a", "version": 1, "models": ["all-team-models"]}),
        )
        .await;
    assert_eq!(updated.code(), "invalid_params");
    // Taking it away is always allowed.
    let removed = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["a"], "models": {"op": "remove", "values": ["all-team-models"]}}),
        )
        .await;
    assert_eq!(removed.ok()["changed"], 0);
}

#[tokio::test]
async fn real_proxy_reconcile_repairs_a_key_blocked_and_renamed_in_litellm() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    let ids = id_list(&["blocked-by-hand", "renamed-by-hand"]);
    create(&mut rpc, &ids, &["mock-gpt"]).await;
    let rows = wait_active(&mut rpc, &ids).await;
    let plain: Vec<String> = rows
        .iter()
        .map(|u| u["key"].as_str().unwrap().to_string())
        .collect();

    // Behind mama's back, with LiteLLM's own endpoints.
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(&master)
            .json(&body)
            .send()
    };
    let blocked = post("/key/block", json!({"key": key_hash(&plain[0])}))
        .await
        .unwrap();
    assert_eq!(blocked.status(), 200);
    let renamed_alias = format!("{prefix}hand-renamed");
    let renamed = post(
        "/key/update",
        json!({"key": key_hash(&plain[1]), "key_alias": renamed_alias}),
    )
    .await
    .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_eq!(chat_status(&url, &plain[0], "mock-gpt").await, 401);

    let summary = reconcile(&mut rpc).await;
    assert_eq!(
        summary["drift"],
        json!({"blocked": 1, "key_alias": 1}),
        "{summary}"
    );
    assert_eq!(
        summary["orphans_deleted"], 0,
        "a renamed key is not an orphan"
    );
    wait_active(&mut rpc, &ids).await;

    assert_eq!(
        chat_status(&url, &plain[0], "mock-gpt").await,
        200,
        "unblocked"
    );
    let held = litellm
        .key_info(&key_hash(&plain[1]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.key_alias, Some(format!("{prefix}renamed-by-hand")));
    let drift = events(&mut rpc, "sync.reconcile.drift").await;
    let named: BTreeSet<String> = drift
        .iter()
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(named.iter().any(|d| d.starts_with("blocked")), "{named:?}");
    assert!(
        named.iter().any(|d| d.starts_with("key_alias")),
        "{named:?}"
    );

    rpc.call("users.delete", json!({"ids": ids})).await.ok();
    for k in &plain {
        wait_key_gone(&litellm, &key_hash(k)).await;
    }
}

#[tokio::test]
async fn real_proxy_rotation_hands_out_only_keys_that_work() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    let token = rpc.service_token("chat").await;
    let ids = ids("rot-", 6);
    create(&mut rpc, &ids, &["mock-gpt"]).await;
    let before = wait_active(&mut rpc, &ids).await;

    // Every key the lookup hands out is checked through the proxy the moment it first appears.
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut broken = Vec::new();
    let fresh = newly_served(&mut seen, &mut broken, lookup(&d, &token, &ids).await);
    broken.extend(check_served(&url, fresh).await);

    let rotated = rpc.call("users.rotate_keys", json!({"ids": ids})).await;
    assert_eq!(rotated.ok()["rotated"], 6);
    let started = Instant::now();
    loop {
        let fresh = newly_served(&mut seen, &mut broken, lookup(&d, &token, &ids).await);
        broken.extend(check_served(&url, fresh).await);
        if seen.values().all(|h| h.len() == 2) {
            break;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "the lookup never switched to the new keys: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(broken.is_empty(), "{broken:?}");
    let after = wait_active(&mut rpc, &ids).await;
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old["key"], new["key"]);
        assert_eq!(new["rotating"], false);
        // The old key goes only after the switch.
        wait_key_gone(&litellm, &key_hash(old["key"].as_str().unwrap())).await;
    }

    rpc.call("users.delete", json!({"ids": ids})).await.ok();
    for u in &after {
        wait_key_gone(&litellm, &key_hash(u["key"].as_str().unwrap())).await;
    }
}

/// The keys served for the first time in this answer; a user served no key is noted as broken,
/// and going back to an earlier key fails the test.
fn newly_served(
    seen: &mut HashMap<String, Vec<String>>,
    broken: &mut Vec<String>,
    served: HashMap<String, Value>,
) -> Vec<(String, String)> {
    let mut fresh = Vec::new();
    for (id, u) in served {
        let Some(k) = u["key"].as_str() else {
            broken.push(format!("{id}: no key served ({})", u["key_withheld"]));
            continue;
        };
        let history = seen.entry(id.clone()).or_default();
        if history.last().map(String::as_str) != Some(k) {
            assert!(
                !history.iter().any(|old| old == k),
                "{id}: went back to an earlier key"
            );
            history.push(k.to_string());
            fresh.push((id, k.to_string()));
        }
    }
    fresh
}

/// Each freshly served key, through the proxy: it must open exactly the user's models.
async fn check_served(url: &str, fresh: Vec<(String, String)>) -> Vec<String> {
    let mut bad = Vec::new();
    for (id, k) in fresh {
        let opened = models_opened(url, &k).await;
        if opened != Ok(set(&["mock-gpt"])) {
            bad.push(format!("{id}: served key opens {opened:?}"));
        }
    }
    bad
}
