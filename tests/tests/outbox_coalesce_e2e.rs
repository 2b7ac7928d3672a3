//! With no LiteLLM configured, changes pile up for later: the outbox keeps at most one waiting
//! operation per user however many changes are made, and once a LiteLLM is configured every key
//! is created once, holding the last change. Through the real daemon, on the database
//! `MAMA_TEST_DATABASE` selects; the LiteLLM is the stand-in.

use std::collections::BTreeSet;
use std::time::Duration;

use mama_tests::harness::sync::{
    admin_again, create, envs, get_users, ids, key_file, models_of, set, start_synced, sync_args,
    unique_prefix, wait_all_synced,
};
use mama_tests::harness::RpcClient;
use mama_tests::standin::StandIn;
use serde_json::{json, Value};

const USERS: usize = 200;

/// The five bulk changes, each replacing every user's models; the last one wins.
const CHANGES: [&[&str]; 5] = [
    &["llama3"],
    &["gpt-4o", "llama3"],
    &["mock-gpt"],
    &["claude-3-5-sonnet"],
    &["gpt-4o", "mock-gpt"],
];

async fn bulk_replace(rpc: &mut RpcClient, params: Value) {
    let reply = rpc.call("users.bulk_update", params).await;
    assert_eq!(reply.ok()["changed"], USERS as u64, "{}", reply.body);
}

#[tokio::test]
async fn changes_made_without_litellm_wait_once_per_user_and_converge_to_the_last() {
    let prefix = unique_prefix();
    let d = start_synced(&[], &envs(&prefix), None);
    let mut rpc = d.admin().await;
    let users = ids("coalesce-", USERS);
    create(&mut rpc, &users, &["gpt-4o"]).await;

    // Five bulk changes of everyone: by the ids marked, and by a filter.
    for (i, models) in CHANGES.iter().enumerate() {
        let models = json!({"op": "replace", "values": models});
        let params = if i % 2 == 0 {
            json!({"ids": users, "models": models})
        } else {
            json!({"filter": {"organization": "lab"}, "models": models})
        };
        bulk_replace(&mut rpc, params).await;
    }

    let status = rpc.call("sync.status", json!({})).await;
    let s = status.ok();
    assert_eq!(s["configured"], false, "{s}");
    assert_eq!(s["users_pending"], USERS as u64, "{s}");
    let depth = s["queue_depth"].as_u64().expect("queue_depth");
    assert!(
        depth <= USERS as u64,
        "6 changes of {USERS} users left {depth} operations queued: {s}"
    );

    // Never read, the catalog cannot say any model is available.
    let models = rpc.call("models.list", json!({})).await;
    let listed = models.ok();
    assert_eq!(listed["fetched_at"], Value::Null, "{listed}");
    for m in listed["models"].as_array().expect("models") {
        assert_eq!(m["available"], Value::Null, "{m}");
    }

    // LiteLLM configured: every key created once, with the last change's models.
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let on = d.kill();
    let d = start_synced(
        &sync_args(&standin.base_url(), &key),
        &envs(&prefix),
        Some(on),
    );
    let mut rpc = admin_again(&d).await;
    wait_all_synced(&mut rpc, &users, Duration::from_secs(120)).await;

    let last = set(CHANGES[CHANGES.len() - 1]);
    let rows = get_users(&mut rpc, &users).await;
    for u in &rows {
        assert_eq!(models_of(u), last, "{u}");
    }
    let keys = standin.keys();
    assert_eq!(keys.len(), USERS, "one key per user");
    for id in &users {
        let alias = format!("{prefix}{id}");
        let held = keys
            .iter()
            .find(|k| k.key_alias.as_deref() == Some(alias.as_str()))
            .unwrap_or_else(|| panic!("LiteLLM holds no key of {id}"));
        let held_models: BTreeSet<String> = held.models.iter().cloned().collect();
        assert_eq!(held_models, last, "{id}");
    }
    assert_eq!(
        standin.call_count("/key/generate"),
        USERS,
        "each key generated once"
    );

    // The catalog read, availability is known.
    let models = rpc.call("models.list", json!({"refresh": true})).await;
    for m in models.ok()["models"].as_array().expect("models") {
        assert_eq!(m["available"], true, "{m}");
    }
}
