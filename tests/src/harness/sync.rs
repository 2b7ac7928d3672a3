//! Helpers of the LiteLLM sync tests (`sync_e2e`, `sync_scale_e2e`): a daemon synced to a LiteLLM
//! peer (the real proxy or the stand-in), users made in bulk, and bounded waits for the sync to
//! converge. Waits poll the RPC; they never assert on elapsed time.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mama_core::litellm::{
    KeyInfo, KeyStatus, ListKeys, LiteLlm, LiteLlmConfig, ReqwestLiteLlm, SecretString,
};
use serde_json::{json, Value};

use super::{Daemon, RpcClient};

/// Longest a test waits for a small sync to converge before failing with the state it saw.
pub const CONVERGE: Duration = Duration::from_secs(90);

/// A master key file that outlives the daemon using it.
pub struct KeyFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn key_file(master_key: &str) -> KeyFile {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("litellm-master-key");
    std::fs::write(&path, format!("{master_key}\n")).expect("write key file");
    // As an operator must: the daemon refuses a key file that others may read.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    KeyFile { _dir: dir, path }
}

/// An alias prefix of this test alone, so tests can share one LiteLLM proxy.
pub fn unique_prefix() -> String {
    format!("mama-t{}-", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Flags for a daemon synced to `url`.
pub fn sync_args(url: &str, key: &KeyFile) -> Vec<String> {
    vec![
        "--litellm-url".into(),
        url.into(),
        "--litellm-master-key-file".into(),
        key.path.to_string_lossy().into_owned(),
    ]
}

/// Environment of a synced daemon; short timeouts keep fault tests brief, and rotations take
/// no grace. Reconciles run at
/// start and when a test asks: a periodic one in the middle would repair what a test checks the
/// worker repairs alone.
pub fn envs(prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MAMA_SYNC_ALIAS_PREFIX", prefix.to_string()),
        ("MAMA_RECONCILE_INTERVAL_SECS", "3600".into()),
        ("MAMA_LITELLM_TIMEOUT_SECS", "2".into()),
        ("MAMA_SYNC_MAX_BACKOFF_SECS", "2".into()),
        // A rotated key goes as soon as its replacement is live, unless a test asks for a
        // grace (`limits_e2e` does).
        ("MAMA_ROTATION_GRACE_SECS", "0".into()),
    ]
}

/// Starts a daemon with `args` and `env` on a new database, or on `on` (a restart, or a
/// second daemon sharing a database).
pub fn start_synced(
    args: &[String],
    env: &[(&'static str, String)],
    on: Option<(tempfile::TempDir, super::TestDatabase)>,
) -> Daemon {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match on {
        Some((dir, db)) => Daemon::start_on(dir, db, &args, &env),
        None => Daemon::start_with(&args, &env),
    }
}

/// A daemon synced to `url` with alias prefix `prefix`, on a new database.
pub fn start(url: &str, key: &KeyFile, prefix: &str) -> Daemon {
    start_synced(&sync_args(url, key), &envs(prefix), None)
}

/// An admin session on a daemon whose admin password was already changed (restarts, and a
/// second daemon on the same database).
pub async fn admin_again(d: &Daemon) -> RpcClient {
    let mut rpc = d.rpc();
    rpc.login("admin", super::daemon::ADMIN_PASSWORD).await;
    rpc
}

/// The service every user of [`user`] allows (create it first: [`RpcClient::ensure_service`];
/// [`create`] does).
pub const SERVICE: &str = "chat";

pub fn user(id: &str, models: &[&str]) -> Value {
    json!({"id": id, "organization": "lab", "models": models, "services": [SERVICE], "info": {}})
}

/// `n` user ids `<tag>0000`, `<tag>0001`, …
pub fn ids(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{i:04}")).collect()
}

/// Creates the users with `models` (and the service they allow), 1,000 per call.
pub async fn create(rpc: &mut RpcClient, ids: &[String], models: &[&str]) {
    rpc.ensure_service(SERVICE).await;
    for chunk in ids.chunks(1000) {
        let users: Vec<Value> = chunk.iter().map(|id| user(id, models)).collect();
        let reply = rpc.call("users.create", json!({"users": users})).await;
        assert_eq!(reply.ok()["created"], chunk.len() as u64);
    }
}

/// `users.get` of any number of ids (500 per call).
pub async fn get_users(rpc: &mut RpcClient, ids: &[String]) -> Vec<Value> {
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

/// Polls `users.get` until every user is `active` and the queue is empty; returns the rows.
pub async fn wait_active(rpc: &mut RpcClient, ids: &[String]) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let users = get_users(rpc, ids).await;
        let waiting: Vec<(&Value, &Value, &Value)> = users
            .iter()
            .filter(|u| u["key_status"] != "active")
            .map(|u| (&u["id"], &u["key_status"], &u["key_error"]))
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

/// For thousands of users: polls the cheap `sync.status` (nothing queued, pending or failed)
/// for at most `bound`, then reads the users once and checks every one is `active`.
pub async fn wait_all_synced(rpc: &mut RpcClient, ids: &[String], bound: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let status = rpc.call("sync.status", json!({})).await;
        let s = status.ok();
        if s["queue_depth"] == 0 && s["users_pending"] == 0 {
            assert_eq!(s["users_failed"], 0, "failed users: {s}");
            break;
        }
        assert!(
            started.elapsed() < bound,
            "not converged within {bound:?}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let users = get_users(rpc, ids).await;
    assert_eq!(users.len(), ids.len());
    for u in &users {
        assert_eq!(u["key_status"], "active", "{}", u["id"]);
    }
    users
}

/// Polls `sync.status` until it reports LiteLLM as `reachable`; returns the last status.
pub async fn wait_reachable(rpc: &mut RpcClient, reachable: bool) -> Value {
    let started = Instant::now();
    loop {
        let status = rpc.call("sync.status", json!({})).await;
        if status.ok()["litellm_reachable"] == reachable {
            return status.ok().clone();
        }
        assert!(
            started.elapsed() < CONVERGE,
            "LiteLLM never reported as reachable={reachable}: {}",
            status.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `users.get` until the user's key status is `status`; returns the row.
pub async fn wait_status(rpc: &mut RpcClient, id: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let row = get_users(rpc, &[id.to_string()]).await.remove(0);
        if row["key_status"] == status {
            return row;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "{id} never became {status}: {row}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every event with `action` (exact, or a prefix ending in "."), oldest pages included.
pub async fn events(rpc: &mut RpcClient, action: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let reply = rpc
            .call(
                "events.list",
                json!({"filter": {"action": action}, "page": {"offset": all.len(), "limit": 1000}}),
            )
            .await;
        let page = reply.ok()["events"].as_array().expect("events").clone();
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            return all;
        }
    }
}

pub fn models_of(u: &Value) -> BTreeSet<String> {
    u["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m.as_str().unwrap_or("").to_string())
        .collect()
}

pub fn set(models: &[&str]) -> BTreeSet<String> {
    models.iter().map(|m| m.to_string()).collect()
}

// ------------------------------------------------------------------ the real proxy

/// The real proxy's URL and master key, or `None` (and a printed reason) to skip.
/// In CI (`MAMA_REQUIRE_REAL_PROXY=1`, which `.ci/run` sets, or any `CI` environment) a missing
/// proxy fails the test instead of skipping it.
pub fn real_proxy() -> Option<(String, String)> {
    match (
        std::env::var("LITELLM_BASE_URL"),
        std::env::var("LITELLM_MASTER_KEY"),
    ) {
        (Ok(url), Ok(key)) if !url.is_empty() && !key.is_empty() => Some((url, key)),
        _ if std::env::var("MAMA_REQUIRE_REAL_PROXY").is_ok_and(|v| v == "1")
            || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") =>
        {
            panic!(
                "the real LiteLLM proxy is required here (CI) but LITELLM_BASE_URL / LITELLM_MASTER_KEY are not set"
            )
        }
        _ => {
            eprintln!("skipped: LITELLM_BASE_URL and LITELLM_MASTER_KEY are not set (start shared/litellm/real/setup.sh)");
            None
        }
    }
}

pub fn admin_client(url: &str, key: &str) -> ReqwestLiteLlm {
    ReqwestLiteLlm::new(LiteLlmConfig::new(url, SecretString::new(key))).expect("client")
}

/// Polls LiteLLM until the key is gone (deleted or never known).
pub async fn wait_key_gone(litellm: &ReqwestLiteLlm, hash: &str) {
    let started = Instant::now();
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

/// Every live key whose alias starts with `prefix`, from `/key/list` (newest first): pages until
/// one ends with a key created before `since`, so a long-lived proxy is not read in full.
pub async fn keys_with_prefix(
    litellm: &ReqwestLiteLlm,
    prefix: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Vec<KeyInfo> {
    let mut found = Vec::new();
    let mut page = 1;
    loop {
        let answer = litellm
            .list_keys(&ListKeys {
                page,
                size: 100,
                ..ListKeys::default()
            })
            .await
            .expect("key list");
        let older = answer
            .keys
            .last()
            .and_then(|k| k.created_at)
            .is_some_and(|t| t < since);
        let empty = answer.keys.is_empty();
        found.extend(answer.keys.into_iter().filter(|k| {
            k.key_alias
                .as_deref()
                .is_some_and(|a| a.starts_with(prefix))
        }));
        if empty || older || page >= answer.total_pages {
            return found;
        }
        page += 1;
    }
}

/// Deletes keys from LiteLLM directly, 100 per call (cleanup of big tests on a shared proxy).
pub async fn purge(litellm: &ReqwestLiteLlm, hashes: &[String]) {
    for chunk in hashes.chunks(100) {
        // Missing keys are fine: cleanup is best effort.
        let _ = litellm.delete_keys("mama-tests", chunk).await;
    }
}

/// The HTTP status of a one-message chat call with a user's own key.
pub async fn chat_status(url: &str, key: &str, model: &str) -> u16 {
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

/// `POST /api/v1/users/lookup` with a service token; the answer's `users`, by id.
pub async fn lookup(
    d: &Daemon,
    token: &str,
    ids: &[String],
) -> std::collections::HashMap<String, Value> {
    let answer: Value = reqwest::Client::new()
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(token)
        .json(&json!({ "user_ids": ids }))
        .send()
        .await
        .expect("REST answers")
        .json()
        .await
        .expect("JSON body");
    answer["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| (u["id"].as_str().unwrap_or_default().to_string(), u.clone()))
        .collect()
}

/// The models a virtual key opens, as the proxy lists them to that key; `Err(status)` when the
/// proxy refuses the key itself (401 for a blocked or unknown key).
pub async fn models_opened(url: &str, key: &str) -> Result<BTreeSet<String>, u16> {
    let resp = reqwest::Client::new()
        .get(format!("{url}/v1/models"))
        .bearer_auth(key)
        .send()
        .await
        .expect("LiteLLM answers");
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(status);
    }
    let body: Value = resp.json().await.expect("JSON");
    Ok(body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect())
}

/// `sync.reconcile`, waiting out one already running (the daemon reconciles at start, which on a
/// proxy holding many keys takes a while); returns the summary.
pub async fn reconcile(rpc: &mut RpcClient) -> Value {
    let started = Instant::now();
    loop {
        let reply = rpc.call("sync.reconcile", json!({})).await;
        if reply.body.get("error").is_none() || reply.code() != "conflict" {
            return reply.ok().clone();
        }
        assert!(
            started.elapsed() < CONVERGE,
            "a reconcile kept running for {CONVERGE:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
