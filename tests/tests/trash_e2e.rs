//! The trash (issue 18): a deleted user leaves every list and the REST lookup at once, its key
//! is blocked in LiteLLM (not deleted), a restore brings the same key back, and a purge — asked
//! for, or when the trash time runs out — deletes the key for good. Checked through the real
//! proxy with the user's own key; a kill -9 during a purge against the LiteLLM stand-in.

use std::time::{Duration, Instant};

use mama_core::litellm::{key_hash, KeyStatus, LiteLlm};
use mama_tests::harness::sync::*;
use mama_tests::harness::{Daemon, RpcClient};
use mama_tests::standin::StandIn;
use serde_json::{json, Value};

/// A bounded wait for a condition the sync reaches on its own (not a speed check).
const BOUND: Duration = Duration::from_secs(120);

fn trash_args(url: &str, key: &KeyFile) -> Vec<String> {
    let mut args = sync_args(url, key);
    args.extend(["--trash-days".to_string(), "7".to_string()]);
    args
}

async fn wait_chat(url: &str, key: &str, want: u16) {
    let started = Instant::now();
    loop {
        let status = chat_status(url, key, "mock-gpt").await;
        if status == want {
            return;
        }
        assert!(
            started.elapsed() < BOUND,
            "a chat call with the key still answers {status}, not {want}, after {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn trash_ids(rpc: &mut RpcClient) -> Vec<String> {
    let list = rpc
        .call("users.trash", json!({"page": {"offset": 0, "limit": 500}}))
        .await;
    list.ok()["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn real_proxy_trash_blocks_restore_unblocks_purge_deletes() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start_synced(&trash_args(&url, &key), &envs(&prefix), None);
    let mut rpc = d.admin().await;
    let token = rpc.service_token(SERVICE).await;
    let ids: Vec<String> = ["keep", "gone"]
        .iter()
        .map(|s| format!("{prefix}-{s}"))
        .collect();
    create(&mut rpc, &ids, &["mock-gpt"]).await;
    let users = wait_active(&mut rpc, &ids).await;
    let gone_key = users[1]["key"].as_str().expect("key").to_string();
    assert_eq!(chat_status(&url, &gone_key, "mock-gpt").await, 200);

    // Delete: gone from lists and the REST lookup at once, in the trash, key blocked.
    let deleted = rpc
        .call("users.delete", json!({"ids": [ids[1].clone()]}))
        .await;
    assert_eq!(deleted.ok()["deleted"], 1);
    assert!(deleted.ok()["purge_after"].is_string());
    let found = lookup(&d, &token, &ids).await;
    assert!(
        found.contains_key(&ids[0]) && !found.contains_key(&ids[1]),
        "{found:?}"
    );
    let got = rpc.call("users.get", json!({"ids": ids})).await;
    assert_eq!(got.ok()["missing"], json!([ids[1]]));
    assert_eq!(trash_ids(&mut rpc).await, vec![ids[1].clone()]);
    wait_chat(&url, &gone_key, 401).await;
    let litellm = admin_client(&url, &master);
    let info = litellm
        .key_info(&key_hash(&gone_key))
        .await
        .expect("key info")
        .expect("the key is kept, blocked");
    assert!(info.blocked, "{info:?}");
    assert_eq!(info.status, KeyStatus::Active);

    // Its id cannot be taken while it may come back.
    let again = rpc
        .call(
            "users.create",
            json!({"users": [user(&ids[1], &["mock-gpt"])]}),
        )
        .await;
    assert_eq!(again.code(), "already_exists");
    assert!(
        again.error()["message"].as_str().unwrap().contains("trash"),
        "{}",
        again.body
    );

    // Restore: back with the same key, which works again.
    let restored = rpc
        .call("users.restore", json!({"ids": [ids[1].clone()]}))
        .await;
    assert_eq!(restored.ok()["restored"], 1);
    let back = wait_active(&mut rpc, &ids[1..]).await;
    assert_eq!(back[0]["key"], gone_key, "the same key");
    assert_eq!(back[0]["models"], json!(["mock-gpt"]));
    wait_chat(&url, &gone_key, 200).await;
    assert!(lookup(&d, &token, &ids).await.contains_key(&ids[1]));

    // Delete and purge: the key is deleted in LiteLLM for good.
    rpc.call("users.delete", json!({"ids": [ids[1].clone()]}))
        .await
        .ok();
    let purged = rpc
        .call("users.purge", json!({"ids": [ids[1].clone()]}))
        .await;
    assert_eq!(purged.ok()["purged"], 1);
    wait_key_gone(&litellm, &key_hash(&gone_key)).await;
    wait_chat(&url, &gone_key, 401).await;
    assert!(trash_ids(&mut rpc).await.is_empty());
    let none = rpc
        .call("users.restore", json!({"ids": [ids[1].clone()]}))
        .await;
    assert_eq!(none.code(), "not_found");
    // The user kept all along still works.
    let kept = get_users(&mut rpc, &ids[..1]).await;
    assert_eq!(
        chat_status(&url, kept[0]["key"].as_str().unwrap(), "mock-gpt").await,
        200
    );
}

/// When the trash time runs out the daemon purges on its own (at start, then every minute):
/// here the time is moved into the past in the database and the daemon restarted.
#[tokio::test]
async fn real_proxy_the_trash_empties_itself_when_the_time_runs_out() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let prefix = unique_prefix();
    let args = trash_args(&url, &key);
    let d = start_synced(&args, &envs(&prefix), None);
    let mut rpc = d.admin().await;
    let ids = vec![format!("{prefix}-old")];
    create(&mut rpc, &ids, &["mock-gpt"]).await;
    let users = wait_active(&mut rpc, &ids).await;
    let user_key = users[0]["key"].as_str().expect("key").to_string();
    rpc.call("users.delete", json!({"ids": ids})).await.ok();
    wait_chat(&url, &user_key, 401).await;

    d.db.execute("UPDATE users_trash SET purge_after = '2000-01-01 00:00:00'");
    let (dir, db) = d.kill();
    let d = start_synced(&args, &envs(&prefix), Some((dir, db)));
    let mut rpc = admin_again(&d).await;
    let litellm = admin_client(&url, &master);
    wait_key_gone(&litellm, &key_hash(&user_key)).await;
    assert!(trash_ids(&mut rpc).await.is_empty());
    let purges = events(&mut rpc, "users.purge_due").await;
    assert_eq!(purges.len(), 1, "{purges:?}");
    assert_eq!(purges[0]["actor_kind"], "system");
    assert_eq!(purges[0]["user_ids"], json!(ids));
}

/// A scoped admin's trash is its organizations'; a viewer sees the trash but restores nothing.
#[tokio::test]
async fn the_trash_is_scoped_and_sorted() {
    let d = Daemon::start_with(&["--trash-days", "7"], &[]);
    let mut rpc = d.admin().await;
    rpc.ensure_service(SERVICE).await;
    let mut batch = Vec::new();
    for (id, org) in [("t-a1", "alpha"), ("t-b1", "beta"), ("t-a2", "alpha")] {
        let mut u = user(id, &["mock-gpt"]);
        u["organization"] = Value::from(org);
        batch.push(u);
    }
    rpc.call("users.create", json!({"users": batch})).await.ok();
    for id in ["t-a1", "t-b1", "t-a2"] {
        rpc.call("users.delete", json!({"ids": [id]})).await.ok();
    }
    assert_eq!(
        trash_ids(&mut rpc).await,
        ["t-a2", "t-b1", "t-a1"],
        "newest first"
    );
    let by_id = rpc
        .call(
            "users.trash",
            json!({"sort": {"column": "id"}, "text": "t-", "page": {"offset": 0, "limit": 2}}),
        )
        .await;
    let page: Vec<&str> = by_id.ok()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["t-a1", "t-a2"]);
    assert_eq!(by_id.ok()["matching"], 3);
    assert_eq!(by_id.ok()["users"][0]["deleted_by"], "admin");

    rpc.call(
        "admins.create",
        json!({"username": "alpha-desk", "password": "first password 123", "role": "admin",
               "organizations": ["alpha"]}),
    )
    .await
    .ok();
    let mut scoped = d.rpc();
    scoped.login("alpha-desk", "first password 123").await;
    let changed = scoped
        .call(
            "auth.change_password",
            json!({"old_password": "first password 123", "new_password": "second password 456"}),
        )
        .await;
    scoped.token = Some(changed.ok()["token"].as_str().unwrap().to_string());
    assert_eq!(trash_ids(&mut scoped).await, ["t-a2", "t-a1"]);
    let other = scoped
        .call("users.restore", json!({"ids": ["t-a1", "t-b1"]}))
        .await;
    assert_eq!(other.code(), "not_found");
    assert_eq!(other.error()["missing"], json!(["t-b1"]));
    let purge = scoped.call("users.purge", json!({"ids": ["t-b1"]})).await;
    assert_eq!(purge.code(), "not_found");
    assert_eq!(
        trash_ids(&mut rpc).await.len(),
        3,
        "nothing restored or purged"
    );
    let ok = scoped.call("users.restore", json!({"ids": ["t-a1"]})).await;
    assert_eq!(ok.ok()["restored"], 1);
    let back = scoped.call("users.get", json!({"ids": ["t-a1"]})).await;
    assert_eq!(back.ok()["users"][0]["organization"], "alpha");
    assert_eq!(back.ok()["users"][0]["services"], json!([SERVICE]));
}

/// A kill -9 while a purge of 300 trashed users commits loses nothing: after the restart they
/// are all purged or all still in the trash, and the stand-in ends with exactly the keys of the
/// users left (blocked for those in the trash), none of the purged.
#[tokio::test]
async fn kill_during_a_purge_loses_nothing() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let args = trash_args(&standin.base_url(), &key);
    let d = start_synced(&args, &envs(&prefix), None);
    let mut rpc = d.admin().await;
    let all = ids(&format!("{prefix}-k"), 300);
    create(&mut rpc, &all, &["gpt-4o"]).await;
    let users = wait_all_synced(&mut rpc, &all, BOUND).await;
    let hashes: Vec<String> = users
        .iter()
        .map(|u| key_hash(u["key"].as_str().expect("key")))
        .collect();
    rpc.call("users.delete", json!({"ids": all})).await.ok();

    // The purge is sent and the daemon killed while it may be committing.
    let mut purger = rpc.clone();
    let purge_ids = all.clone();
    let call = tokio::spawn(async move {
        purger
            .try_call("users.purge", json!({"ids": purge_ids}), "purge-kill")
            .await
    });
    tokio::time::sleep(Duration::from_millis(15)).await;
    let (dir, db) = d.kill();
    let _ = call.await;
    let d = start_synced(&args, &envs(&prefix), Some((dir, db)));
    let mut rpc = admin_again(&d).await;
    let left = trash_ids(&mut rpc).await;
    assert!(
        left.is_empty() || left.len() == all.len(),
        "a purge is all or none: {} of {} left",
        left.len(),
        all.len()
    );
    if !left.is_empty() {
        let purged = rpc.call("users.purge", json!({"ids": all})).await;
        assert_eq!(purged.ok()["purged"], 300);
    }
    // Every key goes once the queue drains, none is left behind.
    let litellm = admin_client(&standin.base_url(), standin.master_key());
    for hash in &hashes {
        wait_key_gone(&litellm, hash).await;
    }
    let events = events(&mut rpc, "users.purge").await;
    let ok: Vec<&Value> = events.iter().filter(|e| e["result"] == "ok").collect();
    assert_eq!(ok.len(), 1, "one purge applied, recorded once: {events:?}");
}
