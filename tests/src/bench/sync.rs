//! Building blocks of `mama-sync-bench` (issue 3): time how fast mama's sync worker pushes a
//! bulk models change to LiteLLM, and how fast the proxy itself takes the same `/key/update`
//! calls when driven directly, at the same concurrency. Benchmarks, not tests: nothing here
//! asserts a timing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::harness::RpcClient;

/// The actor LiteLLM records for the bench's own calls (`litellm-changed-by`), as mama sends
/// `mama-sync` for its worker's.
const CHANGED_BY: &str = "mama-sync-bench";

/// A LiteLLM master key in a 0600 file (the daemon refuses a readable one); removed on drop.
pub struct MasterKeyFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl MasterKeyFile {
    pub fn write(master_key: &str) -> anyhow::Result<MasterKeyFile> {
        let dir = tempfile::tempdir().context("temp dir for the master key")?;
        let path = dir.path().join("litellm-master-key");
        std::fs::write(&path, format!("{master_key}\n")).context("writing the master key")?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .context("chmod 600 the master key file")?;
        Ok(MasterKeyFile { _dir: dir, path })
    }
}

/// An admin session that logs in again when the daemon says it expired: sessions are short,
/// and a run against a slow proxy outlives one.
pub struct Admin {
    rpc: RpcClient,
    username: String,
    password: String,
}

impl Admin {
    /// Logs in on `rpc` (a client of the daemon's admin socket).
    pub async fn login(mut rpc: RpcClient, username: &str, password: &str) -> Admin {
        rpc.login(username, password).await;
        Admin {
            rpc,
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// One admin RPC call; an error reply becomes an error.
    pub async fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let mut reply = self.rpc.call(method, params.clone()).await;
        if reply.body["error"]["data"]["code"] == "session_expired" {
            self.rpc.login(&self.username, &self.password).await;
            reply = self.rpc.call(method, params).await;
        }
        if reply.status != 200 || reply.body.get("error").is_some() {
            bail!("{method} failed: HTTP {} {}", reply.status, reply.body);
        }
        Ok(reply.body["result"].clone())
    }
}

/// What `sync.status` says, the fields the bench needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueState {
    pub queue_depth: u64,
    pub users_pending: u64,
    pub users_failed: u64,
}

impl QueueState {
    pub fn drained(&self) -> bool {
        self.queue_depth == 0 && self.users_pending == 0
    }
}

pub async fn queue_state(admin: &mut Admin) -> anyhow::Result<QueueState> {
    let s = admin.call("sync.status", json!({})).await?;
    let n = |f: &str| {
        s[f].as_u64()
            .with_context(|| format!("sync.status.{f}: {s}"))
    };
    Ok(QueueState {
        queue_depth: n("queue_depth")?,
        users_pending: n("users_pending")?,
        users_failed: n("users_failed")?,
    })
}

/// Polls `sync.status` every `poll` until the queue is drained and nobody is pending; gives up
/// after `limit` with the last state seen. Returns the state and when it was first seen drained.
pub async fn wait_drained(
    admin: &mut Admin,
    poll: Duration,
    limit: Duration,
) -> anyhow::Result<(QueueState, Instant)> {
    let started = Instant::now();
    loop {
        let state = queue_state(admin).await?;
        if state.drained() {
            return Ok((state, Instant::now()));
        }
        if started.elapsed() > limit {
            bail!("sync did not drain within {limit:?}: {state:?}");
        }
        tokio::time::sleep(poll).await;
    }
}

/// Users' ids and plaintext keys, read back through `users.get` in pages of 500.
pub async fn user_keys(admin: &mut Admin, ids: &[String]) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let got = admin.call("users.get", json!({ "ids": chunk })).await?;
        for u in got["users"].as_array().context("users.get: users")? {
            let key = u["key"].as_str().context("users.get returned no key")?;
            keys.push(key.to_string());
        }
    }
    anyhow::ensure!(
        keys.len() == ids.len(),
        "users.get returned {} users",
        keys.len()
    );
    Ok(keys)
}

/// A run of direct `/key/update` calls: each key once, `concurrency` requests in flight.
#[derive(Debug, Clone)]
pub struct RawSpec {
    pub base_url: String,
    pub master_key: String,
    /// Key hashes (LiteLLM's token ids), as mama sends them.
    pub hashes: Arc<Vec<String>>,
    /// The fields sent with every update besides `key`, as mama's worker sends them (the full
    /// `models` list; or every limit and `blocked`).
    pub fields: serde_json::Map<String, Value>,
    pub concurrency: usize,
}

/// What a raw run or a mama run achieved.
#[derive(Debug, Clone, Default)]
pub struct Rate {
    pub keys: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
}

impl Rate {
    pub fn per_second(&self) -> f64 {
        (self.keys - self.errors) as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }
}

/// A keep-alive client sized for `concurrency`, like the daemon's.
pub fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

/// Sends one `/key/update` per key, from `concurrency` workers sharing one queue (closed loop,
/// as the daemon's worker is). Timed from the first request to the last answer.
pub async fn raw_updates(spec: &RawSpec) -> anyhow::Result<Rate> {
    let client = http_client(spec.concurrency)?;
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/key/update", spec.base_url.trim_end_matches('/'));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for _ in 0..spec.concurrency.max(1) {
        let (client, next, url, spec) = (client.clone(), next.clone(), url.clone(), spec.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(hash) = spec.hashes.get(i) else {
                    break;
                };
                let mut body = spec.fields.clone();
                body.insert("key".into(), json!(hash));
                let sent = client
                    .post(&url)
                    .bearer_auth(&spec.master_key)
                    .header("litellm-changed-by", CHANGED_BY)
                    .json(&body)
                    .send()
                    .await;
                let failure = match sent {
                    Ok(resp) if resp.status().is_success() => {
                        // Read the answer to the end, as a client that uses it would.
                        resp.bytes().await.err().map(|e| e.to_string())
                    }
                    Ok(resp) => Some(format!("HTTP {}", resp.status())),
                    Err(e) => Some(e.to_string()),
                };
                if let Some(f) = failure {
                    errors += 1;
                    first_error.get_or_insert(f);
                }
            }
            (errors, first_error)
        }));
    }
    let mut rate = Rate {
        keys: spec.hashes.len(),
        ..Rate::default()
    };
    for task in tasks {
        let (errors, first) = task.await.context("a raw client panicked")?;
        rate.errors += errors;
        if rate.first_error.is_none() {
            rate.first_error = first;
        }
    }
    rate.seconds = started.elapsed().as_secs_f64();
    Ok(rate)
}

/// One `users.bulk_update` of `ids` making `change` (e.g. `{"models": {"op": "replace",
/// "values": [...]}}` or `{"limits": {...}}`), timed from the call until `sync.status` shows the
/// queue drained and nobody pending (polled every `poll` or more). Also returns the call's own
/// time.
pub async fn timed_bulk_sync(
    admin: &mut Admin,
    ids: &[String],
    change: &Value,
    poll: Duration,
    limit: Duration,
) -> anyhow::Result<(Rate, f64, QueueState)> {
    let mut params = change.clone();
    params["ids"] = json!(ids);
    let started = Instant::now();
    let result = admin.call("users.bulk_update", params).await?;
    let call_seconds = started.elapsed().as_secs_f64();
    let changed = result["changed"].as_u64().unwrap_or(0) as usize;
    anyhow::ensure!(
        changed == ids.len(),
        "users.bulk_update changed {changed} of {}",
        ids.len()
    );
    // Poll often at first, then every 0.5 % of the time so far (at most every 0.5 s): the end is
    // seen within 0.5 %, and `sync.status` (itself audited) does not load a long run.
    let (state, done) = loop {
        let state = queue_state(admin).await?;
        if state.drained() {
            break (state, Instant::now());
        }
        if started.elapsed() > limit {
            bail!("sync did not drain within {limit:?}: {state:?}");
        }
        let wait = (started.elapsed() / 200).clamp(poll, Duration::from_millis(500).max(poll));
        tokio::time::sleep(wait).await;
    };
    let rate = Rate {
        keys: ids.len(),
        errors: 0,
        first_error: None,
        seconds: done.duration_since(started).as_secs_f64(),
    };
    Ok((rate, call_seconds, state))
}

/// The models LiteLLM holds for a key (by hash), or `None` when it does not know it.
pub async fn key_models(
    client: &reqwest::Client,
    base_url: &str,
    master_key: &str,
    hash: &str,
) -> anyhow::Result<Option<Vec<String>>> {
    let Some(info) = key_info(client, base_url, master_key, hash).await? else {
        return Ok(None);
    };
    let models = info["models"]
        .as_array()
        .context("/key/info: no models")?
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    Ok(Some(models))
}

/// The key object LiteLLM holds (by hash), or `None` when it does not know it.
pub async fn key_info(
    client: &reqwest::Client,
    base_url: &str,
    master_key: &str,
    hash: &str,
) -> anyhow::Result<Option<Value>> {
    let resp = client
        .get(format!("{}/key/info", base_url.trim_end_matches('/')))
        .query(&[("key", hash)])
        .bearer_auth(master_key)
        .send()
        .await
        .context("/key/info")?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    anyhow::ensure!(
        resp.status().is_success(),
        "/key/info: HTTP {}",
        resp.status()
    );
    let body: Value = resp.json().await.context("/key/info body")?;
    Ok(Some(body["info"].clone()))
}

/// Deletes keys by hash in `/key/delete` calls of `batch`; returns how many calls failed (a 404
/// "No keys found" batch counts as done: those keys are gone already).
pub async fn delete_keys(
    base_url: &str,
    master_key: &str,
    hashes: &[String],
    batch: usize,
) -> anyhow::Result<usize> {
    let client = http_client(1)?;
    let url = format!("{}/key/delete", base_url.trim_end_matches('/'));
    let mut failed = 0;
    for chunk in hashes.chunks(batch.max(1)) {
        let resp = client
            .post(&url)
            .bearer_auth(master_key)
            .header("litellm-changed-by", CHANGED_BY)
            .json(&json!({ "keys": chunk }))
            .timeout(Duration::from_secs(120))
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() || r.status() == reqwest::StatusCode::NOT_FOUND => {}
            _ => failed += 1,
        }
    }
    Ok(failed)
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` prints them.
pub fn load_average() -> String {
    let raw = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    raw.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
