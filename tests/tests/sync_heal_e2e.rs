//! Every sync failure heals by itself, against the LiteLLM stand-in (faults the real proxy cannot
//! be made to give on demand): errors from a proxy restarting in the middle of a 2,000-user bulk
//! change, a refused user retried by the reconciler and by one operator action, and a rotation
//! while LiteLLM is down. Each test runs on SQLite or PostgreSQL (`MAMA_TEST_DATABASE`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mama_core::litellm::key_hash;
use mama_tests::harness::sync::*;
use mama_tests::standin::{Fault, FaultRule, StandIn};
use serde_json::json;

/// Bound of the 2,000-user waits (the stand-in is fast; this is a deadline, not a speed check).
const CONVERGE_BULK: Duration = Duration::from_secs(300);

#[tokio::test]
async fn proxy_errors_during_a_bulk_change_of_2000_users_heal_without_anyone_acting() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;
    let users = ids("heal-", 2000);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    wait_all_synced(&mut rpc, &users, CONVERGE_BULK).await;

    // What a proxy shutting down and coming back answers, in turn, to the updates in flight: a
    // 400 naming no field, 500, 503, a connection reset before any answer, and a cut answer
    // after the change was made.
    let faults = standin.faults();
    for fault in [
        Fault::Status(400),
        Fault::Status(500),
        Fault::Status(503),
        Fault::Reset,
        Fault::CutMidResponse,
    ] {
        faults.inject(FaultRule::new(fault).on("/key/update").times(40));
    }
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"filter": {"text": "heal-"}, "models": {"op": "add", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["changed"], 2000);

    // No reconcile, no retry by hand: the worker alone brings every user there.
    let rows = wait_all_synced(&mut rpc, &users, CONVERGE_BULK).await;
    assert!(
        faults.active().is_empty(),
        "every fault was met: {:?}",
        faults.active()
    );
    for u in &rows {
        let k = standin
            .key(u["key"].as_str().unwrap())
            .expect("key in LiteLLM");
        let held: BTreeSet<String> = k.models.iter().cloned().collect();
        assert_eq!(held, set(&["gpt-4o", "llama3"]), "{}", u["id"]);
    }
    assert_eq!(standin.keys().len(), 2000, "no duplicate key");
    let retried = events(&mut rpc, "sync.update").await;
    assert!(
        retried.iter().any(|e| e["result"] == "error"),
        "the failed attempts are recorded"
    );
}

#[tokio::test]
async fn a_refused_user_is_retried_by_the_reconciler_and_by_one_action() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;

    // Someone else's keys already hold the aliases mama would give two users: a refusal of the
    // request itself, so they fail for good until the cause is gone.
    let foreign: Vec<String> = ["held-1", "held-2"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            standin
                .insert_key(
                    &format!("sk-foreign-key-00000{i}"),
                    Some(&format!("{prefix}{id}")),
                    &["gpt-4o"],
                    Some("someone-else"),
                )
                .expect("foreign key")
        })
        .collect();
    let ids = vec!["held-1".to_string(), "held-2".to_string()];
    create(&mut rpc, &ids, &["gpt-4o"]).await;
    for id in &ids {
        let u = wait_status(&mut rpc, id, "failed").await;
        assert!(u["key_error"].as_str().unwrap().contains("alias"), "{u}");
    }
    let status = rpc.call("sync.status", json!({})).await;
    assert_eq!(status.ok()["users_failed"], 2);

    // The cause goes away; one user is retried by the operator's one action, the other by the
    // reconciler.
    for token in &foreign {
        assert!(standin.forget_key(token));
    }
    let retried = rpc
        .call("sync.retry_failed", json!({"ids": ["held-1"]}))
        .await;
    assert_eq!(retried.ok()["retried"], 1);
    wait_active(&mut rpc, &ids[..1]).await;
    let summary = reconcile(&mut rpc).await;
    assert_eq!(summary["retried"], 1, "{summary}");
    let rows = wait_active(&mut rpc, &ids).await;
    assert_one_key_each(&standin, &prefix, &rows);
    let again = rpc.call("sync.retry_failed", json!({})).await;
    assert_eq!(again.ok()["retried"], 0, "nobody is failed any more");
    assert_eq!(events(&mut rpc, "sync.retry_failed").await.len(), 2);
    assert_eq!(events(&mut rpc, "sync.reconcile.retry").await.len(), 1);
}

#[tokio::test]
async fn while_litellm_is_down_services_get_only_keys_that_work() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;
    let token = rpc.service_token("chat").await;
    let ids = ids("down-", 3);
    create(&mut rpc, &ids, &["gpt-4o"]).await;
    let before = wait_active(&mut rpc, &ids).await;

    standin.stop().await;
    // A rotation while LiteLLM is down: services keep the old key, which still works.
    let rotated = rpc.call("users.rotate_keys", json!({"ids": ids})).await;
    assert_eq!(rotated.ok()["rotated"], 3);
    // A user created while LiteLLM is down has a key nobody can use yet: it is not handed out.
    create(&mut rpc, &["newcomer".to_string()], &["gpt-4o"]).await;
    let mut all = ids.clone();
    all.push("newcomer".into());
    let served = lookup(&d, &token, &all).await;
    for old in &before {
        let id = old["id"].as_str().unwrap();
        assert_eq!(
            served[id]["key"], old["key"],
            "{id}: the old key until LiteLLM confirms"
        );
        assert_eq!(served[id]["key_status"], "active");
    }
    assert_eq!(served["newcomer"]["key"], serde_json::Value::Null);
    assert_eq!(served["newcomer"]["key_withheld"], "not_in_litellm_yet");
    assert_eq!(served["newcomer"]["key_status"], "pending");
    let rows = get_users(&mut rpc, &ids).await;
    assert!(rows.iter().all(|u| u["rotating"] == true));

    standin.restart().await.expect("stand-in back");
    let after = wait_active(&mut rpc, &all).await;
    let served = lookup(&d, &token, &all).await;
    for (old, new) in before.iter().zip(&after) {
        let id = new["id"].as_str().unwrap();
        assert_eq!(
            served[id]["key"], new["key"],
            "{id}: the new key once confirmed"
        );
        assert_ne!(new["key"], old["key"]);
        // The old key is deleted only after the switch.
        let old_hash = key_hash(old["key"].as_str().unwrap());
        let started = Instant::now();
        while standin.key(&old_hash).is_some() {
            assert!(started.elapsed() < CONVERGE, "{id}: old key never deleted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(served["newcomer"]["key"].is_string());
}

/// Each user has exactly one live key in the stand-in, under its alias, with the key mama holds.
fn assert_one_key_each(standin: &StandIn, prefix: &str, rows: &[serde_json::Value]) {
    for u in rows {
        let id = u["id"].as_str().unwrap();
        let alias = format!("{prefix}{id}");
        let held: Vec<_> = standin
            .keys()
            .into_iter()
            .filter(|k| k.key_alias.as_deref() == Some(alias.as_str()))
            .collect();
        assert_eq!(held.len(), 1, "{id}: one key under its alias");
        assert_eq!(held[0].token, key_hash(u["key"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn a_key_holding_all_team_models_outside_the_team_is_moved_into_it() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let mut env = envs(&prefix);
    let team_alias = format!("{prefix}team");
    env.push(("MAMA_LITELLM_TEAM", team_alias.clone()));
    env.push(("MAMA_LITELLM_TEAM_MODELS", "gpt-4o,llama3".into()));
    let d = start_synced(&sync_args(&standin.base_url(), &key), &env, None);
    let mut rpc = d.admin().await;
    let ids = vec!["legacy".to_string()];
    create(&mut rpc, &ids, &["all-team-models"]).await;
    let row = wait_active(&mut rpc, &ids).await.remove(0);
    let team = standin
        .teams()
        .into_iter()
        .find(|t| t.team_alias.as_deref() == Some(team_alias.as_str()))
        .expect("team created");
    assert_eq!(
        team.models.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["gpt-4o", "llama3"]),
        "created restricted, never []"
    );

    // A key as it was made before the team was configured: all-team-models, no team (which
    // LiteLLM reads as every model).
    let hash = key_hash(row["key"].as_str().unwrap());
    assert!(standin.edit_key(&hash, |k| k.team_id = None));
    let summary = reconcile(&mut rpc).await;
    assert_eq!(summary["drift"], json!({"team_id": 1}), "{summary}");
    wait_active(&mut rpc, &ids).await;
    let moved = standin.key(&hash).expect("same key, still live");
    assert_eq!(moved.team_id.as_deref(), Some(team.team_id.as_str()));
    assert_eq!(moved.models, vec!["all-team-models".to_string()]);
}
