//! LiteLLM sync end to end through the real `mama-daemon` binary: against the real LiteLLM proxy
//! (when `LITELLM_BASE_URL` and `LITELLM_MASTER_KEY` are set) for the key lifecycle, and against
//! the stand-in for what the real proxy cannot be made to do (outages, faults, counting calls).
//!
//! Waits are bounded polls of the RPC, never timing assertions.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use mama_core::litellm::{
    key_hash, KeyStatus, LiteLlm, LiteLlmConfig, ReqwestLiteLlm, SecretString,
};
use mama_tests::harness::{Daemon, RpcClient};
use mama_tests::standin::{Fault, FaultRule, StandIn};
use serde_json::{json, Value};

/// Longest a test waits for the sync to converge before failing with the state it saw.
const CONVERGE: Duration = Duration::from_secs(90);

/// A master key file that outlives the daemon using it.
struct KeyFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn key_file(master_key: &str) -> KeyFile {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("litellm-master-key");
    std::fs::write(&path, format!("{master_key}\n")).expect("write key file");
    // As an operator must: the daemon refuses a key file that others may read.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    KeyFile { _dir: dir, path }
}

fn unique_prefix() -> String {
    format!("mama-t{}-", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Flags and environment for a daemon synced to `url`; short timeouts keep fault tests brief.
fn sync_args(url: &str, key: &KeyFile) -> Vec<String> {
    vec![
        "--litellm-url".into(),
        url.into(),
        "--litellm-master-key-file".into(),
        key.path.to_string_lossy().into_owned(),
    ]
}

fn start(url: &str, key: &KeyFile, prefix: &str) -> Daemon {
    let args = sync_args(url, key);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::start_with(&args, &envs(prefix))
}

fn envs(prefix: &str) -> [(&'static str, &str); 3] {
    [
        ("MAMA_SYNC_ALIAS_PREFIX", prefix),
        ("MAMA_LITELLM_TIMEOUT_SECS", "2"),
        ("MAMA_SYNC_MAX_BACKOFF_SECS", "2"),
    ]
}

fn user(id: &str, models: &[&str]) -> Value {
    json!({"id": id, "organization": "lab", "models": models, "services": ["chat"], "info": {}})
}

async fn get_users(rpc: &mut RpcClient, ids: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for chunk in ids.chunks(500) {
        let reply = rpc.call("users.get", json!({"ids": chunk})).await;
        all.extend(
            reply.ok()["users"]
                .as_array()
                .expect("users")
                .iter()
                .cloned(),
        );
    }
    all
}

/// Polls `users.get` until every user is `active` with exactly `models` synced; returns the rows.
async fn wait_active(rpc: &mut RpcClient, ids: &[String]) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let users = get_users(rpc, ids).await;
        let waiting: Vec<(String, String)> = users
            .iter()
            .filter(|u| u["key_status"] != "active")
            .map(|u| (u["id"].to_string(), u["key_status"].to_string()))
            .collect();
        let status = rpc.call("sync.status", json!({})).await;
        if waiting.is_empty() && users.len() == ids.len() && status.ok()["queue_depth"] == 0 {
            return users;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "not converged: {} users waiting, e.g. {:?}; sync.status {}",
            waiting.len(),
            waiting.iter().take(3).collect::<Vec<_>>(),
            status.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn models_of(u: &Value) -> BTreeSet<String> {
    u["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m.as_str().unwrap_or("").to_string())
        .collect()
}

fn set(models: &[&str]) -> BTreeSet<String> {
    models.iter().map(|m| m.to_string()).collect()
}

// ------------------------------------------------------------------ real proxy

/// The real proxy's URL and master key, or `None` (and a printed reason) to skip.
fn real_proxy() -> Option<(String, String)> {
    match (
        std::env::var("LITELLM_BASE_URL"),
        std::env::var("LITELLM_MASTER_KEY"),
    ) {
        (Ok(url), Ok(key)) if !url.is_empty() && !key.is_empty() => Some((url, key)),
        _ => {
            eprintln!("skipped: LITELLM_BASE_URL and LITELLM_MASTER_KEY are not set (start shared/litellm/real/setup.sh)");
            None
        }
    }
}

fn admin_client(url: &str, key: &str) -> ReqwestLiteLlm {
    ReqwestLiteLlm::new(LiteLlmConfig::new(url, SecretString::new(key))).expect("client")
}

/// Polls LiteLLM until the key is gone (deleted or never known).
async fn wait_key_gone(litellm: &ReqwestLiteLlm, hash: &str) {
    let started = std::time::Instant::now();
    loop {
        match litellm.key_info(hash).await.expect("key info") {
            None => return,
            Some(info) if info.status == KeyStatus::Deleted => return,
            Some(_) => {}
        }
        // A bounded wait, not a speed check: give up with a clear message.
        if started.elapsed() >= CONVERGE {
            panic!("key still live in LiteLLM after {CONVERGE:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

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

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

async fn create(rpc: &mut RpcClient, ids: &[String], models: &[&str]) {
    for chunk in ids.chunks(1000) {
        let users: Vec<Value> = chunk.iter().map(|id| user(id, models)).collect();
        let reply = rpc.call("users.create", json!({"users": users})).await;
        assert_eq!(reply.ok()["created"], chunk.len() as u64);
    }
}

#[tokio::test]
async fn litellm_down_then_back_converges_without_duplicates() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    standin.stop().await;
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;

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

#[tokio::test]
async fn bulk_change_of_200_users_is_one_update_per_key() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let d = start(&standin.base_url(), &key, &prefix);
    let mut rpc = d.admin().await;

    let users = ids("bulk-", 200);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
    assert_eq!(standin.call_count("/key/generate"), 200);

    standin.clear_calls();
    // 150 of the 200 change; the other 50 must see no call at all.
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": users[..150], "models": {"op": "add", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["changed"], 150);
    let rows = wait_active(&mut rpc, &users).await;
    let updates = standin.calls("/key/update");
    assert_eq!(updates.len(), 150, "one /key/update per affected key");
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
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = Daemon::start_with(&args, &envs(&prefix));
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
    let d = Daemon::start_on(dir, db, &args, &envs(&prefix));
    let mut rpc = d.rpc();
    rpc.login("admin", mama_tests::harness::daemon::ADMIN_PASSWORD)
        .await;
    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
}

#[tokio::test]
async fn reconcile_recreates_lost_keys_repushes_drift_and_deletes_orphans() {
    let standin = StandIn::start().await.expect("stand-in");
    let key = key_file(standin.master_key());
    let prefix = unique_prefix();
    let args = sync_args(&standin.base_url(), &key);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env = envs(&prefix).to_vec();
    env.push(("MAMA_ORPHAN_MIN_AGE_SECS", "0"));
    let d = Daemon::start_with(&args, &env);
    let mut rpc = d.admin().await;

    let users = ids("rec-", 3);
    create(&mut rpc, &users, &["gpt-4o"]).await;
    let rows = wait_active(&mut rpc, &users).await;
    let hash_of = |i: usize| key_hash(rows[i]["key"].as_str().unwrap());
    // Behind mama's back: one key lost, one key's models changed, one orphan with mama's prefix.
    assert!(standin.forget_key(&hash_of(0)));
    assert!(standin.edit_key(&hash_of(1), |k| k.models = vec!["llama3".into()]));
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
    assert_eq!(summary["orphans_deleted"], 1, "{summary}");
    assert!(standin.key(&orphan).is_none());

    let rows = wait_active(&mut rpc, &users).await;
    assert_one_key_each(&standin, &prefix, &rows);
    for u in &rows {
        let k = standin.key(u["key"].as_str().unwrap()).expect("key back");
        assert_eq!(k.models, vec!["gpt-4o".to_string()]);
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
        actions.contains("sync.reconcile.recreate") && actions.contains("sync.reconcile.repush"),
        "{actions:?}"
    );
    assert!(actions.contains("sync.reconcile.orphan"), "{actions:?}");
}

/// The HTTP status of a one-message chat call with a user's own key.
async fn chat_status(url: &str, key: &str, model: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("LiteLLM answers")
        .status()
        .as_u16()
}
