//! `events.undo` (issue 18): a change event is reversed exactly, users changed since are
//! conflicts, an undo is itself undone (a redo), and LiteLLM follows: through the real proxy
//! with the users' own keys for a small change, against the stand-in for 10,000 users.

use std::collections::BTreeMap;
use std::time::Duration;

use mama_core::litellm::LiteLlm;
use mama_tests::harness::sync::*;
use mama_tests::harness::{Daemon, RpcClient};
use mama_tests::standin::StandIn;
use serde_json::{json, Value};

/// The newest event of `action`.
async fn last(rpc: &mut RpcClient, action: &str) -> Value {
    let list = rpc
        .call(
            "events.list",
            json!({"filter": {"action": action, "result": "ok"}, "page": {"offset": 0, "limit": 1}}),
        )
        .await;
    list.ok()["events"][0].clone()
}

/// What users hold that a change may alter, by id.
async fn holdings(rpc: &mut RpcClient, ids: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(1000) {
        for u in get_users(rpc, chunk).await {
            out.insert(
                u["id"].as_str().expect("id").to_string(),
                json!([
                    u["organization"],
                    u["models"],
                    u["services"],
                    u["info"],
                    u["limits"]
                ]),
            );
        }
    }
    out
}

async fn undo(rpc: &mut RpcClient, event_id: &Value, dry_run: bool, force: bool) -> Value {
    let reply = rpc
        .call(
            "events.undo",
            json!({"event_id": event_id, "dry_run": dry_run, "force": force}),
        )
        .await;
    reply.ok().clone()
}

#[tokio::test]
async fn real_proxy_undo_of_a_bulk_change_gives_keys_their_models_back() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    let users = ids(&format!("{prefix}-u"), 3);
    create(&mut rpc, &users, &["mock-gpt"]).await;
    let before = wait_active(&mut rpc, &users).await;
    let keys: Vec<String> = before
        .iter()
        .map(|u| u["key"].as_str().expect("key").to_string())
        .collect();

    // The wrong bulk change: every model taken away, so the keys open nothing.
    rpc.call(
        "users.bulk_update",
        json!({"ids": users, "models": {"op": "remove", "values": ["mock-gpt"]}}),
    )
    .await
    .ok();
    wait_active(&mut rpc, &users).await;
    for key in &keys {
        assert_eq!(chat_status(&url, key, "mock-gpt").await, 401, "blocked");
    }
    let wrong = last(&mut rpc, "users.bulk_update").await;

    let preview = undo(&mut rpc, &wrong["id"], true, false).await;
    assert_eq!(preview["changed"], 3);
    assert_eq!(preview["changes"][0]["after"], "models: mock-gpt");
    let done = undo(&mut rpc, &wrong["id"], false, false).await;
    assert_eq!(done["changed"], 3);
    let after = wait_active(&mut rpc, &users).await;
    for (u, key) in after.iter().zip(&keys) {
        assert_eq!(u["models"], json!(["mock-gpt"]));
        assert_eq!(u["key"], key.as_str(), "the same key");
        assert_eq!(models_opened(&url, key).await, Ok(set(&["mock-gpt"])));
        assert_eq!(chat_status(&url, key, "mock-gpt").await, 200);
    }
    let recorded = last(&mut rpc, "events.undo").await;
    assert_eq!(recorded["id"], done["undo_event_id"]);
    assert!(recorded["detail"]
        .as_str()
        .unwrap()
        .contains(wrong["id"].as_str().unwrap()));
}

/// A 10,000-user bulk models change is undone exactly, and undoing the undo redoes it; the
/// stand-in ends holding every key as mama has it.
#[tokio::test]
async fn undo_of_a_ten_thousand_user_change_restores_exactly_and_redoes() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let d = start(&standin.base_url(), &key, &unique_prefix());
    let mut rpc = d.admin().await;
    rpc.ensure_service(SERVICE).await;
    let users = ids("big-", 10_000);
    for (i, chunk) in users.chunks(2500).enumerate() {
        let batch: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(j, id)| {
                let models = if (i + j) % 2 == 0 {
                    vec!["gpt-4o"]
                } else {
                    vec!["gpt-4o", "llama3"]
                };
                let mut u = user(id, &models);
                u["info"] = json!({"team": format!("t{}", j % 7)});
                u
            })
            .collect();
        rpc.call("users.create", json!({"users": batch})).await.ok();
    }
    let original = holdings(&mut rpc, &users).await;

    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"filter": {"text": "big-"}, "models": {"op": "replace", "values": ["claude"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["changed"], 10_000);
    let changed = holdings(&mut rpc, &users).await;
    let event = last(&mut rpc, "users.bulk_update").await;

    let done = undo(&mut rpc, &event["id"], false, false).await;
    assert_eq!(done["changed"], 10_000);
    assert_eq!(done["conflicted"], 0);
    assert_eq!(
        holdings(&mut rpc, &users).await,
        original,
        "exactly as before"
    );

    let redo = undo(&mut rpc, &done["undo_event_id"], false, false).await;
    assert_eq!(redo["changed"], 10_000);
    assert_eq!(holdings(&mut rpc, &users).await, changed, "the undo undone");
    let back = undo(&mut rpc, &redo["undo_event_id"], false, false).await;
    assert_eq!(back["changed"], 10_000);

    // LiteLLM converges on the final state: every key holds its user's models.
    let synced = wait_all_synced(&mut rpc, &users, Duration::from_secs(600)).await;
    let litellm = admin_client(&standin.base_url(), standin.master_key());
    for u in synced.iter().step_by(97) {
        let hash = mama_core::litellm::key_hash(u["key"].as_str().expect("key"));
        let info = litellm
            .key_info(&hash)
            .await
            .expect("key info")
            .expect("live key");
        let models: std::collections::BTreeSet<String> = info.models.into_iter().collect();
        assert_eq!(models, models_of(u), "{}", u["id"]);
    }
    assert_eq!(holdings(&mut rpc, &users).await, original);
}

/// Users changed again since the event are conflicts, left alone unless forced; other kinds of
/// change (create, delete, an organization's defaults) are undone too.
#[tokio::test]
async fn conflicts_and_every_kind_of_change() {
    let d = Daemon::start_with(&["--trash-days", "7"], &[]);
    let mut rpc = d.admin().await;
    rpc.ensure_service(SERVICE).await;
    let users: Vec<String> = ["c1", "c2", "c3"].iter().map(|s| s.to_string()).collect();
    create(&mut rpc, &users, &["gpt-4o"]).await;
    rpc.call(
        "users.bulk_update",
        json!({"ids": users, "models": {"op": "add", "values": ["llama3"]}}),
    )
    .await
    .ok();
    let bulk = last(&mut rpc, "users.bulk_update").await;
    // c2 is changed again afterwards.
    let c2 = get_users(&mut rpc, &users[1..2]).await.remove(0);
    rpc.call(
        "users.update",
        json!({"id": "c2", "version": c2["version"], "info": {"note": "later"}}),
    )
    .await
    .ok();

    let preview = undo(&mut rpc, &bulk["id"], true, false).await;
    assert_eq!(preview["changed"], 2);
    assert_eq!(preview["conflicted"], 1);
    assert_eq!(preview["conflicts"][0]["id"], "c2");
    assert_eq!(preview["conflicts"][0]["forceable"], true);
    let untouched = holdings(&mut rpc, &users).await;
    assert_eq!(
        untouched["c1"][1],
        json!(["gpt-4o", "llama3"]),
        "a preview changes nothing"
    );
    undo(&mut rpc, &bulk["id"], false, false).await;
    let now = get_users(&mut rpc, &users).await;
    assert_eq!(now[0]["models"], json!(["gpt-4o"]));
    assert_eq!(
        now[1]["models"],
        json!(["gpt-4o", "llama3"]),
        "the conflict is left alone"
    );
    assert_eq!(now[1]["info"], json!({"note": "later"}));
    assert_eq!(now[2]["models"], json!(["gpt-4o"]));
    let forced = undo(&mut rpc, &bulk["id"], false, true).await;
    assert_eq!(forced["changed"], 1);
    let c2 = get_users(&mut rpc, &users[1..2]).await.remove(0);
    assert_eq!(c2["models"], json!(["gpt-4o"]));
    assert_eq!(c2["info"], json!({}), "forced: back to before the event");

    // Undo of a delete restores from the trash; undo of that moves them back.
    rpc.call("users.delete", json!({"ids": ["c3"]})).await.ok();
    let deleted = last(&mut rpc, "users.delete").await;
    let restore = undo(&mut rpc, &deleted["id"], false, false).await;
    assert_eq!(restore["changed"], 1);
    assert_eq!(get_users(&mut rpc, &users[2..]).await.len(), 1);
    undo(&mut rpc, &restore["undo_event_id"], false, false).await;
    let trash = rpc.call("users.trash", json!({})).await;
    assert_eq!(trash.ok()["users"][0]["id"], "c3");

    // Undo of a create moves the new users to the trash.
    create(&mut rpc, &["c4".to_string()], &["gpt-4o"]).await;
    let created = last(&mut rpc, "users.create").await;
    undo(&mut rpc, &created["id"], false, false).await;
    let got = rpc.call("users.get", json!({"ids": ["c4"]})).await;
    assert_eq!(got.ok()["missing"], json!(["c4"]));

    // Undo of an organization's defaults puts them and the inheriting users' limits back.
    rpc.call(
        "organizations.set_defaults",
        json!({"name": "lab", "defaults": {"rpm_limit": 5}}),
    )
    .await
    .ok();
    let defaults = last(&mut rpc, "organizations.set_defaults").await;
    let done = undo(&mut rpc, &defaults["id"], false, false).await;
    assert_eq!(done["organization_defaults"], "lab");
    let orgs = rpc.call("organizations.list", json!({})).await;
    let lab = orgs.ok()["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "lab")
        .cloned()
        .expect("lab");
    assert!(lab["defaults"]["rpm_limit"].is_null(), "{lab}");
    let c1 = get_users(&mut rpc, &users[..1]).await.remove(0);
    assert!(c1["limits"]["rpm_limit"].is_null(), "{c1}");

    // What cannot be undone says so; a viewer may not undo.
    let view = last(&mut rpc, "users.list").await;
    let refused = rpc
        .call("events.undo", json!({"event_id": view["id"]}))
        .await;
    assert_eq!(refused.code(), "invalid_params", "{}", refused.body);
    let missing = rpc
        .call("events.undo", json!({"event_id": "no-such-event"}))
        .await;
    assert_eq!(missing.code(), "not_found");
}
