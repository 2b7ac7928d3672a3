//! LiteLLM sync end to end through the real `mama-daemon` binary: against the real LiteLLM proxy
//! (when `LITELLM_BASE_URL` and `LITELLM_MASTER_KEY` are set) for the key lifecycle, and against
//! the stand-in for what the real proxy cannot be made to do (outages, faults, counting calls).
//!
//! Waits are bounded polls of the RPC, never timing assertions.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use mama_core::litellm::{key_hash, KeyStatus, LiteLlm, SecretString};
use mama_tests::harness::database::Kind;
use mama_tests::harness::sync::{
    admin_again, admin_client, chat_status, create, envs, get_users, ids, key_file, models_of,
    real_proxy, set, start, start_synced, sync_args, unique_prefix, user, wait_active,
    wait_all_synced, wait_key_gone, wait_reachable, wait_status, CONVERGE, SERVICE,
};
use mama_tests::standin::{Fault, FaultRule, StandIn};
use serde_json::{json, Value};

// ------------------------------------------------------------------ real proxy

#[tokio::test]
async fn real_proxy_create_bulk_change_rotate_delete() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    // Known before any key changes: the start-up catalog read tells the operator LiteLLM is up.
    let idle = wait_reachable(&mut rpc, true).await;
    assert_eq!(idle["queue_depth"], 0, "{idle}");
    let ready: Value = reqwest::get(d.rest_url("/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["litellm"]["reachable"], true, "{ready}");

    rpc.ensure_service(SERVICE).await;
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                user("김철수", &["gpt-4o"]),
                user("alice", &["llama3", "mock-gpt"]),
                user("bob", &["mock-gpt"]),
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 3);
    let ids: Vec<String> = ["김철수", "alice", "bob"]
        .iter()
        .map(|s| s.to_string())
        .collect();

    // Active, with the right alias, models and metadata, and the key opens exactly its models.
    for u in wait_active(&mut rpc, &ids).await {
        let id = u["id"].as_str().unwrap();
        let plain = u["key"].as_str().expect("users.get returns the key");
        let info = litellm
            .key_info(&key_hash(plain))
            .await
            .expect("info")
            .expect("key in LiteLLM");
        assert_eq!(info.status, KeyStatus::Active);
        assert_eq!(
            info.key_alias.as_deref(),
            Some(format!("{prefix}{id}").as_str())
        );
        assert_eq!(info.user_id.as_deref(), Some(id));
        assert_eq!(info.metadata.get("managed_by"), Some(&json!("mama")));
        assert_eq!(
            info.models.iter().cloned().collect::<BTreeSet<_>>(),
            models_of(&u)
        );
        let visible = litellm
            .models_visible_to(&SecretString::new(plain))
            .await
            .expect("models");
        assert_eq!(
            visible.into_iter().collect::<BTreeSet<_>>(),
            models_of(&u),
            "{id}"
        );
        // A real chat call: mock-gpt answers only keys that allow it.
        let status = chat_status(&url, plain, "mock-gpt").await;
        if models_of(&u).contains("mock-gpt") {
            assert_eq!(status, 200, "{id} may use mock-gpt");
        } else {
            assert_eq!(status, 403, "{id} may not use mock-gpt");
        }
    }

    // A bulk models change reaches LiteLLM as the full final list.
    let bulk = rpc
        .call("users.bulk_update", json!({"ids": ["김철수", "alice"], "models": {"op": "replace", "values": ["claude-3-5-sonnet", "mock-gpt"]}}))
        .await;
    assert_eq!(bulk.ok()["changed"], 2, "{}", bulk.body);
    for u in wait_active(&mut rpc, &ids[..2]).await {
        let plain = u["key"].as_str().unwrap();
        let info = litellm.key_info(&key_hash(plain)).await.unwrap().unwrap();
        assert_eq!(
            info.models.iter().cloned().collect::<BTreeSet<_>>(),
            set(&["claude-3-5-sonnet", "mock-gpt"])
        );
        let visible = litellm
            .models_visible_to(&SecretString::new(plain))
            .await
            .unwrap();
        assert_eq!(
            visible.into_iter().collect::<BTreeSet<_>>(),
            set(&["claude-3-5-sonnet", "mock-gpt"])
        );
    }

    // Rotation: a new key, live with the alias; the old one deleted.
    let before = get_users(&mut rpc, &ids[1..2]).await[0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        rpc.call("users.rotate_keys", json!({"ids": ["alice"]}))
            .await
            .ok()["rotated"],
        1
    );
    let after = wait_active(&mut rpc, &ids[1..2]).await[0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(before, after);
    let info = litellm.key_info(&key_hash(&after)).await.unwrap().unwrap();
    assert_eq!(
        info.key_alias.as_deref(),
        Some(format!("{prefix}alice").as_str())
    );
    wait_key_gone(&litellm, &key_hash(&before)).await;

    // Delete: the keys go from LiteLLM.
    let hashes: Vec<String> = get_users(&mut rpc, &ids)
        .await
        .iter()
        .map(|u| key_hash(u["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rpc.call("users.delete", json!({"ids": ids})).await.ok()["deleted"],
        3
    );
    for hash in &hashes {
        wait_key_gone(&litellm, hash).await;
    }
}

// ------------------------------------------------------------------ stand-in

/// mama's live keys in the stand-in, by alias; panics on a duplicate alias.
fn keys_by_alias(standin: &StandIn, prefix: &str) -> HashMap<String, String> {
    let mut by_alias = HashMap::new();
    for k in standin.keys() {
        if let Some(alias) = k.key_alias.filter(|a| a.starts_with(prefix)) {
            assert!(
                by_alias.insert(alias.clone(), k.token).is_none(),
                "two keys for {alias}"
            );
        }
    }
    by_alias
}

/// Exactly one live key per user, and it is the user's key.
fn assert_one_key_each(standin: &StandIn, prefix: &str, users: &[Value]) {
    let keys = keys_by_alias(standin, prefix);
    assert_eq!(keys.len(), users.len(), "keys in LiteLLM: {}", keys.len());
    for u in users {
        let alias = format!("{prefix}{}", u["id"].as_str().unwrap());
        assert_eq!(
            keys.get(&alias),
            Some(&key_hash(u["key"].as_str().unwrap())),
            "{alias}"
        );
    }
    let mine = standin
        .keys()
        .into_iter()
        .filter(|k| k.metadata.get("managed_by") == Some(&json!("mama")))
        .count();
    assert_eq!(mine, users.len(), "no orphans");
}

#[tokio::test]
async fn litellm_down_then_back_converges_without_duplicates() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    standin.stop().await;
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;
    // Reported down before anything waits on it: the operator sees why keys will stay pending.
    let down = wait_reachable(&mut rpc, false).await;
    assert_eq!(down["users_pending"], 0, "{down}");

    // LiteLLM down: creates still work and wait, visibly, as pending.
    let users = ids("down-", 5);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    for u in get_users(&mut rpc, &users).await {
        assert_eq!(u["key_status"], "pending");
    }
    let status = rpc.call("sync.status", json!({})).await;
    assert_eq!(status.ok()["configured"], true);
    assert_eq!(status.ok()["users_pending"], 5);

    standin.restart().await.expect("restart");
    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
    assert_eq!(
        rpc.call("sync.status", json!({})).await.ok()["litellm_reachable"],
        true
    );
}

#[tokio::test]
async fn faults_converge_without_duplicates_or_orphans() {
    let standin = StandIn::start().await.expect("stand-in");
    let faults = standin.faults();
    // Not applied: a 500 and a 429. Applied but unclear: a cut answer and a malformed 200.
    faults.inject(
        FaultRule::new(Fault::Status(500))
            .on("/key/generate")
            .times(2),
    );
    faults.inject(
        FaultRule::new(Fault::CutMidResponse)
            .on("/key/generate")
            .times(2)
            .applied(true),
    );
    faults.inject(
        FaultRule::new(Fault::MalformedBody)
            .on("/key/generate")
            .times(1)
            .applied(true),
    );
    faults.inject(
        FaultRule::new(Fault::RateLimited {
            retry_after_secs: None,
        })
        .on("/key/info")
        .times(2),
    );
    faults.inject(FaultRule::new(Fault::Hang).on("/key/info").times(1));
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;

    let users = ids("fault-", 8);
    create(&mut rpc, &users, &["gpt-4o", "llama3"]).await;
    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
    for k in standin.keys() {
        assert_eq!(
            k.models.iter().cloned().collect::<BTreeSet<_>>(),
            set(&["gpt-4o", "llama3"])
        );
    }

    // A 500 on update: the change still lands, once.
    faults.inject(
        FaultRule::new(Fault::Status(500))
            .on("/key/update")
            .times(3),
    );
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": users, "models": {"op": "remove", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["changed"], 8);
    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
    for k in standin.keys() {
        assert_eq!(k.models, vec!["gpt-4o".to_string()]);
    }
}

/// Bound for syncing thousands of keys with the stand-in.
const CONVERGE_BULK: Duration = Duration::from_secs(300);

#[tokio::test]
async fn bulk_change_of_2000_users_is_one_update_per_key() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;

    let users = ids("bulk-", 2000);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    let rows = wait_all_synced(&mut rpc, &users, CONVERGE_BULK).await;
    assert_one_key_each(&standin, &prefix, &rows);
    assert_eq!(standin.call_count("/key/generate"), 2000);

    standin.clear_calls();
    // 1,500 of the 2,000 change; the other 500 must see no call at all.
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": users[..1500], "models": {"op": "add", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["changed"], 1500);
    let rows = wait_all_synced(&mut rpc, &users, CONVERGE_BULK).await;
    let updates = standin.calls("/key/update");
    assert_eq!(updates.len(), 1500, "one /key/update per affected key");
    assert_eq!(standin.call_count("/key/generate"), 0);
    let hashes: HashMap<String, &Value> = rows
        .iter()
        .map(|u| (key_hash(u["key"].as_str().unwrap()), u))
        .collect();
    let mut seen = BTreeSet::new();
    for call in &updates {
        let body = call.body.as_ref().expect("update body");
        let token = body["key"].as_str().expect("key");
        assert!(seen.insert(token.to_string()), "two updates for one key");
        let user = hashes.get(token).expect("update of a user's key");
        let models: BTreeSet<String> = body["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            models,
            set(&["gpt-4o", "llama3"]),
            "full final list for {}",
            user["id"]
        );
    }
}

#[tokio::test]
async fn kill_9_mid_sync_then_restart_converges() {
    let standin = StandIn::start().await.expect("stand-in");
    // Slow answers keep many operations in flight when the daemon is killed.
    standin
        .faults()
        .set_global(Fault::Slow(Duration::from_millis(150)));
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let args = sync_args(&standin.base_url(), &key);
    let d = start_synced(&args, &envs(&prefix), None);
    let mut rpc = d.admin().await;

    let users = ids("kill-", 120);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    // Wait until the sync is under way, then kill -9.
    let started = std::time::Instant::now();
    while standin.keys().is_empty() {
        if started.elapsed() >= CONVERGE {
            panic!("sync never started within {CONVERGE:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (dir, db) = d.kill();
    let synced_before = standin.keys().len();
    assert!(
        synced_before < users.len(),
        "killed after the sync finished; nothing tested"
    );

    standin.faults().clear();
    let d = start_synced(&args, &envs(&prefix), Some((dir, db)));
    let mut rpc = admin_again(&d).await;
    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
}

#[tokio::test]
async fn reconcile_recreates_lost_keys_repushes_drift_and_deletes_orphans() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let mut env = envs(&prefix);
    env.push(("MAMA_ORPHAN_MIN_AGE_SECS", "0".into()));
    let d = start_synced(&sync_args(&standin.base_url(), &key), &env, None);
    let mut rpc = d.admin().await;

    let users = ids("rec-", 3);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    let rows = wait_active(&mut rpc, &users).await;
    let hash_of = |i: usize| key_hash(rows[i]["key"].as_str().unwrap());
    // Behind mama's back: one key lost, one key's models changed, one blocked and renamed, one
    // orphan with mama's prefix.
    assert!(standin.forget_key(&hash_of(0)));
    assert!(standin.edit_key(&hash_of(1), |k| k.models = vec!["llama3".into()]));
    assert!(standin.edit_key(&hash_of(2), |k| {
        k.blocked = Some(true);
        k.key_alias = Some("renamed-by-hand".into());
    }));
    let orphan = standin
        .insert_key(
            "sk-orphan-0123456789abcdef",
            Some(&format!("{prefix}gone-user")),
            &["gpt-4o"],
            None,
        )
        .expect("orphan");

    let summary = rpc.call("sync.reconcile", json!({})).await;
    let summary = summary.ok();
    assert_eq!(summary["recreated"], 1, "{summary}");
    assert_eq!(summary["models_repushed"], 1, "{summary}");
    assert_eq!(
        summary["drift"],
        json!({"models": 1, "blocked": 1, "key_alias": 1}),
        "{summary}"
    );
    assert_eq!(summary["orphans_deleted"], 1, "{summary}");
    assert!(standin.key(&orphan).is_none());

    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
    for u in &rows {
        let k = standin.key(u["key"].as_str().unwrap()).expect("key back");
        assert_eq!(k.models, vec!["gpt-4o".to_string()]);
        assert!(!k.is_blocked(), "unblocked again");
        assert_eq!(
            k.key_alias,
            Some(format!("{prefix}{}", u["id"].as_str().unwrap()))
        );
    }
    let evs = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "sync.reconcile."}, "page": {"limit": 100}}),
        )
        .await;
    let actions: BTreeSet<String> = evs.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actions.contains("sync.reconcile.recreate") && actions.contains("sync.reconcile.drift"),
        "{actions:?}"
    );
    // Each drifted field is named in its own event.
    let details: BTreeSet<String> = evs.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sync.reconcile.drift")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    for field in ["models", "blocked", "key_alias"] {
        assert!(
            details.iter().any(|d| d.starts_with(field)),
            "{field} named: {details:?}"
        );
    }
    assert!(actions.contains("sync.reconcile.orphan"), "{actions:?}");
}

// ------------------------------------------------------------------ real proxy: the rest of the list

/// A raw admin call to the real proxy (for what mama's client does not need, e.g. team edits).
async fn proxy_post(url: &str, master: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(master)
        .json(&body)
        .send()
        .await
        .expect("LiteLLM answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn real_proxy_all_team_models_key_joins_the_configured_team() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    let team_alias = format!("{prefix}team");
    let teams = litellm.list_teams().await.expect("teams");
    assert!(
        !teams
            .iter()
            .any(|t| t.team_alias.as_deref() == Some(team_alias.as_str())),
        "the team must not exist yet"
    );
    let mut env = envs(&prefix);
    env.push(("MAMA_LITELLM_TEAM", team_alias.clone()));
    env.push(("MAMA_LITELLM_TEAM_MODELS", "mock-gpt,llama3".into()));
    let d = start_synced(&sync_args(&url, &key), &env, None);
    let mut rpc = d.admin().await;

    rpc.ensure_service(SERVICE).await;
    let created = rpc
        .call(
            "users.create",
            json!({"users": [user("teamer", &["all-team-models"]), user("solo", &["gpt-4o"])]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 2);
    let ids = vec!["teamer".to_string(), "solo".to_string()];
    let rows = wait_active(&mut rpc, &ids).await;
    let plain = |i: usize| rows[i]["key"].as_str().unwrap().to_string();

    // The team was created in LiteLLM with the configured alias, and only the key holding
    // `all-team-models` is attached to it.
    let info = litellm
        .key_info(&key_hash(&plain(0)))
        .await
        .unwrap()
        .expect("key in LiteLLM");
    let team_id = info.team_id.clone().expect("the key is attached to a team");
    assert_eq!(info.models, vec!["all-team-models".to_string()]);
    let team = litellm
        .team_info(&team_id)
        .await
        .unwrap()
        .expect("team in LiteLLM");
    assert_eq!(team.team_alias.as_deref(), Some(team_alias.as_str()));
    assert_eq!(
        team.models.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["mock-gpt", "llama3"]),
        "created restricted to the configured models, never [] (= every model)"
    );
    let solo = litellm
        .key_info(&key_hash(&plain(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        solo.team_id, None,
        "a key without all-team-models has no team"
    );

    // The key opens exactly the team's models.
    let opens_team_models = || async {
        let visible = litellm
            .models_visible_to(&SecretString::new(plain(0)))
            .await
            .expect("models");
        assert_eq!(
            visible.into_iter().collect::<BTreeSet<_>>(),
            set(&["mock-gpt", "llama3"])
        );
        assert_eq!(chat_status(&url, &plain(0), "mock-gpt").await, 200);
        assert_eq!(chat_status(&url, &plain(0), "gpt-4o").await, 403);
    };
    opens_team_models().await;

    // Someone widens the team in LiteLLM to every model ([]): the reconcile sets it back.
    let (status, body) = proxy_post(
        &url,
        &master,
        "/team/update",
        json!({"team_id": team_id, "models": []}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let summary = mama_tests::harness::sync::reconcile(&mut rpc).await;
    assert_eq!(summary["team_restricted"], true, "{summary}");
    opens_team_models().await;

    // A user who gains all-team-models joins the same team (found by alias, not created again).
    let update = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["solo"], "models": {"op": "replace", "values": ["all-team-models"]}}),
        )
        .await;
    assert_eq!(update.ok()["changed"], 1);
    wait_active(&mut rpc, &ids[1..]).await;
    let solo = litellm
        .key_info(&key_hash(&plain(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(solo.team_id.as_deref(), Some(team_id.as_str()));
    let same_alias = litellm
        .list_teams()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.team_alias.as_deref() == Some(team_alias.as_str()))
        .count();
    assert_eq!(same_alias, 1, "one team with the configured alias");

    // A user who loses all-team-models leaves the team, keeps the key, and gets its own list.
    let update = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["teamer"], "models": {"op": "replace", "values": ["mock-gpt"]}}),
        )
        .await;
    assert_eq!(update.ok()["changed"], 1);
    let row = wait_active(&mut rpc, &ids[..1]).await.remove(0);
    assert_eq!(row["key"].as_str(), Some(plain(0).as_str()), "same key");
    let left = litellm
        .key_info(&key_hash(&plain(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.team_id, None, "off the team");
    assert_eq!(
        left.key_alias.as_deref(),
        Some(format!("{prefix}teamer").as_str())
    );
    let visible = litellm
        .models_visible_to(&SecretString::new(plain(0)))
        .await
        .expect("models");
    assert_eq!(visible, vec!["mock-gpt".to_string()]);
    assert_eq!(chat_status(&url, &plain(0), "mock-gpt").await, 200);

    rpc.call("users.delete", json!({"ids": ids})).await.ok();
    for i in 0..2 {
        wait_key_gone(&litellm, &key_hash(&plain(i))).await;
    }
    proxy_post(
        &url,
        &master,
        "/team/delete",
        json!({"team_ids": [team_id]}),
    )
    .await;
}

#[tokio::test]
async fn real_proxy_alias_held_by_a_foreign_key_fails_then_recovers() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let prefix = unique_prefix();
    // Someone made a key by hand in LiteLLM with the alias mama will want for "dup".
    let foreign = litellm
        .generate_key(
            "mama-tests",
            &mama_core::litellm::GenerateKey {
                key: SecretString::new(format!("sk-hand-{}", uuid::Uuid::new_v4().simple())),
                key_alias: Some(format!("{prefix}dup")),
                models: vec!["llama3".into()],
                user_id: None,
                team_id: None,
                metadata: Default::default(),
                blocked: false,
                limits: Default::default(),
            },
        )
        .await
        .expect("hand-made key");
    let key = key_file(&master);
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    create(&mut rpc, &["dup".to_string()], &["gpt-4o"]).await;

    // mama refuses to take the alias over: the user is failed, with mama's own reason.
    let row = wait_status(&mut rpc, "dup", "failed").await;
    let reason = row["key_error"].as_str().expect("a reason");
    assert!(
        reason.contains("already uses the alias") && reason.contains(&format!("{prefix}dup")),
        "{reason}"
    );
    let status = rpc.call("sync.status", json!({})).await;
    assert_eq!(status.ok()["users_failed"], 1);
    assert_eq!(
        status.ok()["queue_depth"],
        0,
        "a permanent failure is not retried"
    );
    let hand = litellm.key_info(&foreign.token).await.unwrap().unwrap();
    assert_eq!(
        hand.status,
        KeyStatus::Active,
        "the foreign key is untouched"
    );
    assert_eq!(
        hand.key_alias.as_deref(),
        Some(format!("{prefix}dup").as_str())
    );
    assert_eq!(hand.models, vec!["llama3".to_string()]);
    let mine = key_hash(row["key"].as_str().unwrap());
    assert!(
        litellm.key_info(&mine).await.unwrap().is_none(),
        "no key of mama's with a stolen alias"
    );
    let failed = mama_tests::harness::sync::events(&mut rpc, "sync.update").await;
    assert!(
        failed.iter().any(|e| e["result"] == "error"),
        "the failure is an event"
    );

    // The operator removes the hand-made key; the next change of the user goes through.
    litellm
        .delete_keys("mama-tests", std::slice::from_ref(&foreign.token))
        .await
        .expect("delete hand-made key");
    let update = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["dup"], "models": {"op": "add", "values": ["mock-gpt"]}}),
        )
        .await;
    assert_eq!(update.ok()["changed"], 1);
    let row = wait_active(&mut rpc, &["dup".to_string()]).await.remove(0);
    assert_eq!(row["key_error"], Value::Null);
    let info = litellm.key_info(&mine).await.unwrap().expect("created");
    assert_eq!(
        info.key_alias.as_deref(),
        Some(format!("{prefix}dup").as_str())
    );
    assert_eq!(
        info.models.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["gpt-4o", "mock-gpt"])
    );
    rpc.call("users.delete", json!({"ids": ["dup"]})).await.ok();
    wait_key_gone(&litellm, &mine).await;
}

/// Two mamas on one LiteLLM: the reconciler deletes its own orphans only, never the keys of an
/// installation whose prefix starts with its own or is another altogether (seen for real: a
/// `mama-` daemon deleted a `mama-t…-` daemon's keys ten minutes after they were made).
#[tokio::test]
async fn real_proxy_reconcile_leaves_other_installations_keys_alone() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let prefix = unique_prefix();
    let key = key_file(&master);
    let mut env = envs(&prefix);
    env.push(("MAMA_ORPHAN_MIN_AGE_SECS", "0".into()));
    let d = start_synced(&sync_args(&url, &key), &env, None);
    let mut rpc = d.admin().await;
    create(&mut rpc, &["ann".to_string()], &["gpt-4o"]).await;
    let ann = wait_active(&mut rpc, &["ann".to_string()]).await.remove(0);
    let info = litellm
        .key_info(&key_hash(ann["key"].as_str().unwrap()))
        .await
        .unwrap()
        .expect("ann's key");
    assert_eq!(info.metadata.get("managed_by"), Some(&json!("mama")));
    assert_eq!(
        info.metadata.get("mama_alias_prefix"),
        Some(&json!(prefix)),
        "keys say which installation made them"
    );

    let hand_made = |alias: String, marked_prefix: Option<String>| {
        let mut metadata = serde_json::Map::new();
        metadata.insert("managed_by".into(), json!("mama"));
        if let Some(p) = marked_prefix {
            metadata.insert("mama_alias_prefix".into(), json!(p));
        }
        mama_core::litellm::GenerateKey {
            key: SecretString::new(format!("sk-other-{}", uuid::Uuid::new_v4().simple())),
            key_alias: Some(alias),
            models: vec!["llama3".into()],
            user_id: Some("someone".into()),
            team_id: None,
            metadata,
            blocked: false,
            limits: Default::default(),
        }
    };
    let staging_prefix = format!("{prefix}staging-");
    let other_prefix = format!("other-{prefix}");
    let mut others = Vec::new();
    for req in [
        hand_made(format!("{staging_prefix}bob"), Some(staging_prefix.clone())),
        hand_made(format!("{other_prefix}carol"), Some(other_prefix.clone())),
        hand_made(format!("{other_prefix}dave"), None),
    ] {
        others.push(
            litellm
                .generate_key("mama-tests", &req)
                .await
                .expect("key")
                .token,
        );
    }
    let orphan = litellm
        .generate_key(
            "mama-tests",
            &hand_made(format!("{prefix}gone"), Some(prefix.clone())),
        )
        .await
        .expect("orphan")
        .token;

    let summary = rpc.call("sync.reconcile", json!({})).await;
    assert_eq!(summary.ok()["orphans_deleted"], 1, "{}", summary.body);
    wait_key_gone(&litellm, &orphan).await;
    for token in &others {
        let kept = litellm.key_info(token).await.unwrap();
        assert!(
            kept.is_some_and(|k| k.status == KeyStatus::Active),
            "another installation's key was deleted"
        );
    }
    litellm
        .delete_keys("mama-tests", &others)
        .await
        .expect("clean up");
    rpc.call("users.delete", json!({"ids": ["ann"]})).await.ok();
    wait_key_gone(&litellm, &key_hash(ann["key"].as_str().unwrap())).await;
}

#[tokio::test]
async fn real_proxy_update_of_a_key_litellm_lost_recreates_it() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let litellm = admin_client(&url, &master);
    let key = key_file(&master);
    let prefix = unique_prefix();
    // The periodic reconciler stays out of the way: the worker's update path must repair it.
    let mut env = envs(&prefix);
    env.push(("MAMA_RECONCILE_INTERVAL_SECS", "3600".into()));
    let d = start_synced(&sync_args(&url, &key), &env, None);
    let mut rpc = d.admin().await;
    let users = vec!["lost".to_string(), "kept".to_string()];
    create(&mut rpc, &users, &["gpt-4o"]).await;
    let rows = wait_active(&mut rpc, &users).await;
    let plain: Vec<String> = rows
        .iter()
        .map(|u| u["key"].as_str().unwrap().to_string())
        .collect();

    // LiteLLM loses "lost"'s key (deleted behind mama's back); mama still thinks it active.
    litellm
        .delete_keys("mama-tests", &[key_hash(&plain[0])])
        .await
        .expect("delete behind mama's back");
    assert_eq!(chat_status(&url, &plain[0], "gpt-4o").await, 401);

    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": users, "models": {"op": "add", "values": ["mock-gpt"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["changed"], 2);
    let rows = wait_active(&mut rpc, &users).await;
    for (u, plain) in rows.iter().zip(&plain) {
        assert_eq!(
            u["key"].as_str(),
            Some(plain.as_str()),
            "same key, no rotation"
        );
        let info = litellm.key_info(&key_hash(plain)).await.unwrap().unwrap();
        assert_eq!(info.status, KeyStatus::Active, "{}", u["id"]);
        assert_eq!(
            info.key_alias.as_deref(),
            Some(format!("{prefix}{}", u["id"].as_str().unwrap()).as_str())
        );
        assert_eq!(
            info.models.iter().cloned().collect::<BTreeSet<_>>(),
            set(&["gpt-4o", "mock-gpt"])
        );
    }
    // The key works again, with the final list.
    assert_eq!(chat_status(&url, &plain[0], "mock-gpt").await, 200);
    let creates = mama_tests::harness::sync::events(&mut rpc, "sync.create").await;
    let recreated = creates
        .iter()
        .filter(|e| e["result"] == "ok" && e["user_ids"] == json!(["lost"]))
        .count();
    assert_eq!(recreated, 2, "created, then re-created by the update");
    let repairs = mama_tests::harness::sync::events(&mut rpc, "sync.reconcile.recreate").await;
    assert!(
        repairs.is_empty(),
        "the worker repaired it, not the reconciler"
    );

    rpc.call("users.delete", json!({"ids": users})).await.ok();
    for p in &plain {
        wait_key_gone(&litellm, &key_hash(p)).await;
    }
}

// ------------------------------------------------------------------ keys at rest

/// The user's stored ciphertext, hex.
fn ciphertext_hex(db: &mama_tests::harness::TestDatabase, id: &str) -> String {
    let expr = match db.kind {
        Kind::Sqlite => "hex(key_ciphertext)",
        Kind::Postgres => "encode(key_ciphertext, 'hex')",
    };
    db.query(&format!("SELECT {expr} FROM users WHERE id = '{id}'"))
        .to_lowercase()
}

fn set_ciphertext_hex(db: &mama_tests::harness::TestDatabase, id: &str, hex: &str) {
    let value = match db.kind {
        Kind::Sqlite => format!("X'{hex}'"),
        Kind::Postgres => format!("decode('{hex}', 'hex')"),
    };
    db.execute(&format!(
        "UPDATE users SET key_ciphertext = {value} WHERE id = '{id}'"
    ));
}

/// Every byte the database holds for mama, as far as a reader of its files or tables sees it.
fn stored_bytes(d: &mama_tests::harness::Daemon) -> Vec<u8> {
    match d.db.kind {
        Kind::Sqlite => {
            // The database file and its write-ahead log.
            let path = d.db.sqlite_path().expect("sqlite file");
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-journal"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                if let Ok(bytes) = std::fs::read(&p) {
                    all.extend(bytes);
                }
            }
            assert!(!all.is_empty(), "read the SQLite file");
            all
        }
        Kind::Postgres => {
            let mut all = Vec::new();
            for table in ["users", "outbox", "events", "event_users"] {
                all.extend(
                    d.db.query(&format!("SELECT t::text FROM {table} t"))
                        .into_bytes(),
                );
            }
            all
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn key_at_rest_is_encrypted_and_bound_to_its_user() {
    // No LiteLLM needed: keys are minted and stored at creation.
    let d = mama_tests::harness::Daemon::start();
    let mut rpc = d.admin().await;
    let users: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
    create(&mut rpc, &users, &["gpt-4o"]).await;
    let keys: Vec<String> = get_users(&mut rpc, &users)
        .await
        .iter()
        .map(|u| u["key"].as_str().expect("a key").to_string())
        .collect();

    let stored = stored_bytes(&d);
    for k in &keys {
        assert!(k.starts_with("sk-"));
        assert!(!contains(&stored, k.as_bytes()), "plaintext key at rest");
        assert!(
            !contains(&stored, hex(k.as_bytes()).as_bytes()),
            "hex key at rest"
        );
    }

    // Offline tampering: flip a byte of alice's ciphertext, copy bob's onto carol's row.
    let (dir, db) = d.kill();
    let mut alice = ciphertext_hex(&db, "alice");
    let flipped = if alice.ends_with('0') { '1' } else { '0' };
    alice.pop();
    alice.push(flipped);
    set_ciphertext_hex(&db, "alice", &alice);
    db.execute("UPDATE users SET key_ciphertext = (SELECT key_ciphertext FROM users WHERE id = 'bob') WHERE id = 'carol'");
    let d = mama_tests::harness::Daemon::start_on(dir, db, &[], &[]);
    let mut rpc = admin_again(&d).await;

    // The admin sees which keys are unreadable; bob's key is intact; nothing fails wholesale.
    let reply = rpc.call("users.get", json!({"ids": users})).await;
    let got = reply.ok()["users"].as_array().expect("users").clone();
    assert_eq!(
        got[1]["key"].as_str(),
        Some(keys[1].as_str()),
        "bob unharmed"
    );
    for i in [0, 2] {
        assert_eq!(got[i]["key"], Value::Null, "{}", got[i]["id"]);
        assert_eq!(got[i]["key_status"], "failed", "{}", got[i]);
        let why = got[i]["key_error"].as_str().unwrap_or_default();
        assert!(why.contains("decrypt"), "{why}");
        assert!(!why.contains(&keys[1]), "never the key itself");
    }

    // A service asking for the keys gets the good one and a clear reason for the others.
    let token = rpc.service_token("chat").await;
    let resp = reqwest::Client::new()
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(&token)
        .json(&json!({"user_ids": users}))
        .send()
        .await
        .expect("REST answers");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["users"][1]["key"].as_str(), Some(keys[1].as_str()));
    for i in [0, 2] {
        assert_eq!(body["users"][i]["key"], Value::Null);
        assert_eq!(body["users"][i]["key_withheld"], "key_unreadable", "{body}");
    }
    let one = reqwest::Client::new()
        .get(d.rest_url("/api/v1/users/carol"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status().as_u16(), 200);
    assert_eq!(
        one.json::<Value>().await.unwrap()["key_withheld"],
        "key_unreadable"
    );

    // Rotation repairs them.
    let rotated = rpc
        .call("users.rotate_keys", json!({"ids": ["alice", "carol"]}))
        .await;
    assert_eq!(rotated.ok()["rotated"], 2);
    for u in get_users(&mut rpc, &users).await {
        assert!(
            u["key"].as_str().is_some_and(|k| k.starts_with("sk-")),
            "{u}"
        );
    }
}
