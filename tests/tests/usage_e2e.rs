//! Usage ingest (issue 17): what users spent through the real LiteLLM proxy ends up in mama's
//! database per day × user × model, equal to LiteLLM's own `/user/daily/activity` and to the
//! calls made, across a key rotation and a user's deletion; keys that are not mama's are counted
//! apart; a daemon killed in the middle of a backfill counts every call once after a restart.
//! Each test runs on SQLite or PostgreSQL (`MAMA_TEST_DATABASE`); the real-proxy one skips
//! outside CI when no proxy is configured.
//!
//! Stored usage is read from the database directly (the harness's SQL shell); `usage.query` is
//! cross-checked when the daemon answers it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use mama_core::litellm::{key_hash, GenerateKey, LiteLlm, SecretString};
use mama_tests::harness::sync::*;
use mama_tests::harness::{Daemon, RpcClient};
use mama_tests::standin::{Fault, FaultRule, StandIn, StandInUsage};
use serde_json::{json, Value};

/// Sums of one model's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    successful: u64,
    failed: u64,
    prompt: u64,
    completion: u64,
    total: u64,
    spend: f64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.successful += o.successful;
        self.failed += o.failed;
        self.prompt += o.prompt;
        self.completion += o.completion;
        self.total += o.total;
        self.spend += o.spend;
    }

    /// Equal counts, and spend equal up to float sums in another order.
    fn same(&self, o: &Counts) -> bool {
        (
            self.successful,
            self.failed,
            self.prompt,
            self.completion,
            self.total,
        ) == (o.successful, o.failed, o.prompt, o.completion, o.total)
            && (self.spend - o.spend).abs() <= 1e-9 + 1e-9 * self.spend.abs()
    }

    fn of_metrics(m: &Value) -> Counts {
        let n = |k: &str| m[k].as_f64().unwrap_or(0.0) as u64;
        Counts {
            successful: n("successful_requests"),
            failed: n("failed_requests"),
            prompt: n("prompt_tokens"),
            completion: n("completion_tokens"),
            total: n("total_tokens"),
            spend: m["spend"].as_f64().unwrap_or(0.0),
        }
    }
}

type ByModel = BTreeMap<String, Counts>;

fn assert_same(what: &str, got: &ByModel, want: &ByModel) {
    let same = got.len() == want.len()
        && got
            .iter()
            .all(|(m, c)| want.get(m).is_some_and(|w| w.same(c)));
    assert!(same, "{what}:\n got  {got:?}\n want {want:?}");
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// LiteLLM's own numbers for these keys over `from..=to`, per model group, read page by page
/// with the key filter (the hash, as LiteLLM wants it).
async fn litellm_usage(url: &str, master: &str, hashes: &[String], from: NaiveDate) -> ByModel {
    let mut sums = ByModel::new();
    for hash in hashes {
        let mut page = 1;
        loop {
            let body: Value = reqwest::Client::new()
                .get(format!("{url}/user/daily/activity"))
                .bearer_auth(master)
                .query(&[
                    ("start_date", from.to_string()),
                    ("end_date", today().to_string()),
                    ("api_key", hash.clone()),
                    ("page", page.to_string()),
                    ("page_size", "1000".into()),
                ])
                .send()
                .await
                .expect("LiteLLM answers")
                .json()
                .await
                .expect("JSON");
            for day in body["results"].as_array().expect("results") {
                let groups = day["breakdown"]["model_groups"]
                    .as_object()
                    .expect("groups");
                for (model, group) in groups {
                    let keys = group["api_key_breakdown"].as_object().expect("keys");
                    for (h, entry) in keys {
                        if h == hash {
                            let counts = Counts::of_metrics(&entry["metrics"]);
                            sums.entry(model.clone()).or_default().add(&counts);
                        }
                    }
                }
            }
            if body["metadata"]["has_more"] != json!(true) {
                break;
            }
            page += 1;
        }
    }
    sums
}

/// Waits until LiteLLM's batch write shows `successful` and `failed` requests for these keys
/// (it writes every few seconds); returns its numbers.
async fn wait_litellm(
    url: &str,
    master: &str,
    hashes: &[String],
    from: NaiveDate,
    successful: u64,
    failed: u64,
) -> ByModel {
    let started = Instant::now();
    loop {
        let seen = litellm_usage(url, master, hashes, from).await;
        let ok: u64 = seen.values().map(|c| c.successful).sum();
        let bad: u64 = seen.values().map(|c| c.failed).sum();
        if (ok, bad) == (successful, failed) {
            return seen;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "LiteLLM never showed {successful} ok / {failed} failed: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What mama stored for a user (all days), per model, with the organization it was counted
/// under.
fn stored(d: &Daemon, user: &str) -> BTreeMap<String, (String, Counts)> {
    let sql = format!(
        "SELECT model || '|' || organization || '|' || SUM(successful_requests) || '|' || \
         SUM(failed_requests) || '|' || SUM(prompt_tokens) || '|' || SUM(completion_tokens) || \
         '|' || SUM(total_tokens) || '|' || SUM(spend) FROM usage_daily WHERE user_id = '{user}' \
         GROUP BY model, organization"
    );
    rows_of(&d.db.query(&sql))
        .into_iter()
        .map(|(mut keys, counts)| {
            let org = keys.pop().unwrap_or_default();
            (keys.pop().unwrap_or_default(), (org, counts))
        })
        .collect()
}

/// Usage of keys that are not mama's, per model (all days).
fn stored_other(d: &Daemon) -> ByModel {
    let sql = "SELECT model || '|' || SUM(successful_requests) || '|' || SUM(failed_requests) \
               || '|' || SUM(prompt_tokens) || '|' || SUM(completion_tokens) || '|' || \
               SUM(total_tokens) || '|' || SUM(spend) FROM usage_other GROUP BY model";
    rows_of(&d.db.query(sql))
        .into_iter()
        .map(|(mut keys, counts)| (keys.pop().unwrap_or_default(), counts))
        .collect()
}

/// Parses `key|…|successful|failed|prompt|completion|total|spend` lines.
fn rows_of(text: &str) -> Vec<(Vec<String>, Counts)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            let (keys, nums) = parts.split_at(parts.len() - 6);
            let n = |i: usize| nums[i].parse::<f64>().expect("a number") as u64;
            let counts = Counts {
                successful: n(0),
                failed: n(1),
                prompt: n(2),
                completion: n(3),
                total: n(4),
                spend: nums[5].parse().expect("spend"),
            };
            (keys.iter().map(|k| k.to_string()).collect(), counts)
        })
        .collect()
}

fn counts_only(rows: &BTreeMap<String, (String, Counts)>) -> ByModel {
    rows.iter().map(|(m, (_, c))| (m.clone(), *c)).collect()
}

/// `usage.refresh`, waiting out a collection already running (one runs at start); returns what
/// it stored.
async fn refresh(rpc: &mut RpcClient) -> Value {
    let started = Instant::now();
    loop {
        let reply = rpc.call("usage.refresh", json!({})).await;
        if reply.body.get("error").is_none() || reply.code() != "conflict" {
            return reply.ok().clone();
        }
        assert!(
            started.elapsed() < CONVERGE,
            "a usage collection kept running"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Cross-checks `usage.query` (user × model) against the stored rows, when the daemon answers
/// it; says so when it does not (yet).
async fn check_query(rpc: &mut RpcClient, d: &Daemon, users: &[&str], from: NaiveDate) {
    let params = json!({
        "range": {"from": from, "to": today()},
        "group": ["user", "model"],
        "filter": {"user_ids": users},
    });
    let reply = rpc.call("usage.query", params).await;
    if reply.body.get("error").is_some() {
        eprintln!("usage.query not checked: {}", reply.body["error"]);
        return;
    }
    for user in users {
        let want = counts_only(&stored(d, user));
        let got: ByModel = reply.ok()["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["keys"][0] == json!(user))
            .map(|r| {
                let model = r["keys"][1].as_str().unwrap_or_default().to_string();
                (model, Counts::of_metrics(&r["usage"]))
            })
            .collect();
        assert_same(&format!("usage.query of {user}"), &got, &want);
    }
}

/// The key of a settled user.
async fn key_of(rpc: &mut RpcClient, id: &str) -> String {
    let user = wait_active(rpc, &[id.to_string()]).await.remove(0);
    user["key"].as_str().expect("the key").to_string()
}

#[tokio::test]
async fn real_proxy_usage_is_stored_per_user_and_model_through_rotation_and_deletion() {
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let mut env = envs(&unique_prefix());
    // One collection at start, the others when the test asks.
    env.push(("MAMA_USAGE_INTERVAL_SECS", "3600".into()));
    env.push(("MAMA_USAGE_BACKFILL_DAYS", "3".into()));
    let d = start_synced(&sync_args(&url, &key), &env, None);
    let mut rpc = d.admin().await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (ann, bob) = (format!("ann-{tag}"), format!("bob-{tag}"));
    rpc.ensure_service(SERVICE).await;
    let mut ann_user = user(&ann, &["mock-gpt"]);
    ann_user["organization"] = json!("alpha");
    let mut bob_user = user(&bob, &["mock-gpt"]);
    bob_user["organization"] = json!("beta");
    let created = rpc
        .call("users.create", json!({"users": [ann_user, bob_user]}))
        .await;
    assert_eq!(created.ok()["created"], 2, "{}", created.body);
    let ann_key = key_of(&mut rpc, &ann).await;
    let bob_key = key_of(&mut rpc, &bob).await;
    let from = today() - Days::new(2);

    // ann: 3 calls, and one to a model she may not use (refused, counted as failed); bob: 2.
    for _ in 0..3 {
        assert_eq!(chat_status(&url, &ann_key, "mock-gpt").await, 200);
    }
    assert_eq!(chat_status(&url, &ann_key, "gpt-4o").await, 403);
    for _ in 0..2 {
        assert_eq!(chat_status(&url, &bob_key, "mock-gpt").await, 200);
    }
    let ann_hashes = vec![key_hash(&ann_key)];
    let bob_hashes = vec![key_hash(&bob_key)];
    let ann_litellm = wait_litellm(&url, &master, &ann_hashes, from, 3, 1).await;
    let bob_litellm = wait_litellm(&url, &master, &bob_hashes, from, 2, 0).await;

    let done = refresh(&mut rpc).await;
    assert!(done["rows"].as_u64().unwrap_or(0) >= 3, "{done}");
    assert!(done["pages"].as_u64().unwrap_or(0) >= 1, "{done}");
    assert!(done["collection"]["as_of"].is_string(), "{done}");
    assert!(done["collection"].get("last_error").is_none(), "{done}");

    // Every number equals LiteLLM's own, and the calls made.
    let ann_rows = stored(&d, &ann);
    assert_same("ann's usage", &counts_only(&ann_rows), &ann_litellm);
    assert_eq!(ann_rows["mock-gpt"].1.successful, 3);
    assert_eq!(ann_rows["gpt-4o"].1.failed, 1, "the refused call");
    assert_eq!(ann_rows["gpt-4o"].1.successful, 0);
    assert!(ann_rows.values().all(|(org, _)| org == "alpha"));
    let bob_rows = stored(&d, &bob);
    assert_same("bob's usage", &counts_only(&bob_rows), &bob_litellm);
    assert_eq!(bob_rows["mock-gpt"].0, "beta");
    assert_eq!(bob_rows["mock-gpt"].1.successful, 2);
    assert!(bob_rows["mock-gpt"].1.total > 0 && bob_rows["mock-gpt"].1.spend > 0.0);

    // The users list shows each user's last 30 days and sorts by them (bob spent less).
    let listed = rpc
        .call(
            "users.list",
            json!({"filter": {"text": format!("-{tag}")}, "sort": {"column": "spend_30d", "descending": true}}),
        )
        .await;
    let listed = listed.ok()["users"].as_array().expect("users").clone();
    let order: Vec<&str> = listed.iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(order, [ann.as_str(), bob.as_str()], "ann spent more");
    let ann_spend: f64 = ann_rows.values().map(|(_, c)| c.spend).sum();
    let ann_view = &listed[0];
    assert!(
        (ann_view["spend_30d"].as_f64().unwrap_or(-1.0) - ann_spend).abs() < 1e-9,
        "{ann_view}"
    );
    assert_eq!(ann_view["requests_30d"], 4, "3 calls and the refused one");
    assert_eq!(ann_view["last_used"], today().to_string());

    // Reading the same days again changes nothing.
    refresh(&mut rpc).await;
    assert_eq!(
        stored(&d, &ann),
        ann_rows,
        "a second read counts nothing twice"
    );
    check_query(&mut rpc, &d, &[&ann, &bob], from).await;

    // A rotated key: both keys' calls count for ann, in the same rows.
    let rotated = rpc
        .call("users.rotate_keys", json!({"ids": [ann.clone()]}))
        .await;
    assert_eq!(rotated.ok()["rotated"], 1, "{}", rotated.body);
    let started = Instant::now();
    let new_key = loop {
        let key = key_of(&mut rpc, &ann).await;
        if key != ann_key {
            break key;
        }
        assert!(started.elapsed() < CONVERGE, "the key was never rotated");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for _ in 0..2 {
        assert_eq!(chat_status(&url, &new_key, "mock-gpt").await, 200);
    }
    let both = vec![key_hash(&ann_key), key_hash(&new_key)];
    let ann_litellm = wait_litellm(&url, &master, &both, from, 5, 1).await;
    refresh(&mut rpc).await;
    let ann_rows = stored(&d, &ann);
    assert_same(
        "ann's usage over both keys",
        &counts_only(&ann_rows),
        &ann_litellm,
    );
    assert_eq!(ann_rows["mock-gpt"].1.successful, 5);

    // A deleted user's usage stays, under its organization.
    let deleted = rpc
        .call("users.delete", json!({"ids": [bob.clone()]}))
        .await;
    assert_eq!(deleted.ok()["deleted"], 1, "{}", deleted.body);
    refresh(&mut rpc).await;
    assert_eq!(stored(&d, &bob), bob_rows, "bob's history is kept");
    check_query(&mut rpc, &d, &[&ann, &bob], from).await;

    // A key made in LiteLLM behind mama's back is counted apart, never for a user.
    let litellm = admin_client(&url, &master);
    let foreign = format!("sk-usage-foreign-{}", uuid::Uuid::new_v4().simple());
    litellm
        .generate_key(
            "mama-tests",
            &GenerateKey {
                key: SecretString::new(foreign.clone()),
                key_alias: Some(format!("usage-foreign-{tag}")),
                models: vec!["mock-gpt".into()],
                user_id: None,
                team_id: None,
                metadata: serde_json::Map::new(),
                blocked: false,
                limits: Default::default(),
            },
        )
        .await
        .expect("LiteLLM makes the key");
    let other_before = stored_other(&d)
        .get("mock-gpt")
        .copied()
        .unwrap_or_default();
    assert_eq!(chat_status(&url, &foreign, "mock-gpt").await, 200);
    wait_litellm(&url, &master, &[key_hash(&foreign)], from, 1, 0).await;
    let done = refresh(&mut rpc).await;
    assert!(done["not_mamas_rows"].as_u64().unwrap_or(0) >= 1, "{done}");
    let other_after = stored_other(&d)
        .get("mock-gpt")
        .copied()
        .unwrap_or_default();
    assert!(
        other_after.successful > other_before.successful,
        "{other_before:?} → {other_after:?}"
    );
    let users_now =
        d.db.query("SELECT COUNT(DISTINCT user_id) FROM usage_daily");
    assert_eq!(users_now, "2", "only ann and bob have usage");
    purge(&litellm, &[key_hash(&foreign)]).await;
}

/// Usage rows the stand-in serves: `users` keys, two models each over `days` days (every
/// (day, key, model) split in two rows, so pages split them too), plus `others` keys that are
/// not mama's. Returns the expected sums per user and for the others.
fn record(
    litellm: &StandIn,
    keys: &[(String, String)],
    days: u64,
    others: usize,
) -> (BTreeMap<String, ByModel>, ByModel) {
    let mut users: BTreeMap<String, ByModel> = BTreeMap::new();
    let mut other = ByModel::new();
    let counts = |u: StandInUsage| Counts {
        successful: u.successful_requests,
        failed: u.failed_requests,
        prompt: u.prompt_tokens,
        completion: u.completion_tokens,
        total: u.prompt_tokens + u.completion_tokens,
        spend: u.spend,
    };
    for back in 0..days {
        let day = today() - Days::new(back);
        for (i, (id, key)) in keys.iter().enumerate() {
            let calls = StandInUsage::calls(1 + (i as u64 + back) % 4);
            let failed = StandInUsage {
                failed_requests: 1,
                ..StandInUsage::default()
            };
            for (model, usage) in [("mock-gpt", calls), ("gpt-4o", failed)] {
                litellm.record_usage(day, key, model, usage);
                litellm.record_usage(day, key, model, usage);
                let mut twice = counts(usage);
                twice.add(&counts(usage));
                users
                    .entry(id.clone())
                    .or_default()
                    .entry(model.into())
                    .or_default()
                    .add(&twice);
            }
        }
        for n in 0..others {
            let usage = StandInUsage::calls(1);
            litellm.record_usage(day, &format!("foreign-{n:04}"), "mock-gpt", usage);
            other
                .entry("mock-gpt".into())
                .or_default()
                .add(&counts(usage));
        }
    }
    (users, other)
}

#[tokio::test]
async fn a_daemon_killed_during_a_backfill_counts_every_call_once_after_restart() {
    let litellm = StandIn::start().await.expect("stand-in");
    // The users and their keys first (keys are minted with the user, LiteLLM or not).
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let ids = ids("kill", 10);
    create(&mut rpc, &ids, &["mock-gpt"]).await;
    let keys: Vec<(String, String)> = get_users(&mut rpc, &ids)
        .await
        .into_iter()
        .map(|u| {
            let id = u["id"].as_str().expect("id").to_string();
            (id, u["key"].as_str().expect("key").to_string())
        })
        .collect();
    let on = d.kill();

    // 30 days of ~190 rows: two pages of 1,000 rows per week the collector reads.
    let (want_users, want_other) = record(&litellm, &keys, 30, 150);
    let route = "/user/daily/activity";
    litellm
        .faults()
        .inject(FaultRule::new(Fault::Hang).on(route).after(3));
    let key = key_file(litellm.master_key());
    let mut env = envs(&unique_prefix());
    env.push(("MAMA_USAGE_INTERVAL_SECS", "3600".into()));
    env.push(("MAMA_USAGE_BACKFILL_DAYS", "30".into()));
    let args = sync_args(&litellm.base_url(), &key);
    let d = start_synced(&args, &env, Some(on));

    // The backfill read its first week and hangs on the next: the progress shows, then kill -9.
    let started = Instant::now();
    while litellm.call_count(route) < 4 {
        assert!(started.elapsed() < CONVERGE, "the backfill never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let progress =
        d.db.query("SELECT backfill_days_done || '/' || backfill_days FROM usage_collector");
    assert_eq!(progress, "7/30", "collecting… 7/30 days");
    let stored_days = d.db.query("SELECT COUNT(DISTINCT day) FROM usage_daily");
    assert_eq!(stored_days, "7", "the first week is stored, whole");
    let on = d.kill();

    // Restarted: the backfill goes on where it stopped, and each call counts once.
    litellm.faults().clear();
    let d = start_synced(&args, &env, Some(on));
    let mut rpc = admin_again(&d).await;
    let done = refresh(&mut rpc).await;
    assert!(done["collection"].get("backfill").is_none(), "{done}");
    for (id, want) in &want_users {
        assert_same(
            &format!("usage of {id}"),
            &counts_only(&stored(&d, id)),
            want,
        );
    }
    assert_same("usage not mama's", &stored_other(&d), &want_other);
    let days = d.db.query("SELECT COUNT(DISTINCT day) FROM usage_daily");
    assert_eq!(days, "30");

    // Read again: still once.
    refresh(&mut rpc).await;
    for (id, want) in &want_users {
        assert_same(
            &format!("usage of {id}"),
            &counts_only(&stored(&d, id)),
            want,
        );
    }
}

#[tokio::test]
async fn a_proxy_that_is_down_leaves_the_stored_usage_and_says_why() {
    let litellm = StandIn::start().await.expect("stand-in");
    let key = key_file(litellm.master_key());
    let mut env = envs(&unique_prefix());
    env.push(("MAMA_USAGE_INTERVAL_SECS", "3600".into()));
    env.push(("MAMA_USAGE_BACKFILL_DAYS", "0".into()));
    let d = start_synced(&sync_args(&litellm.base_url(), &key), &env, None);
    let mut rpc = d.admin().await;
    litellm.record_usage(today(), "foreign-1", "mock-gpt", StandInUsage::calls(2));
    let done = refresh(&mut rpc).await;
    assert_eq!(done["not_mamas_rows"], 1, "{done}");

    litellm
        .faults()
        .inject(FaultRule::new(Fault::Status(500)).on("/user/daily/activity"));
    let reply = rpc.call("usage.refresh", json!({})).await;
    assert_eq!(reply.code(), "unavailable", "{}", reply.body);
    let message = reply.error()["message"].as_str().unwrap_or_default();
    assert!(!message.contains(litellm.master_key()), "{message}");
    let error = d.db.query("SELECT last_error FROM usage_collector");
    assert!(error.contains("LiteLLM"), "{error}");
    assert_eq!(stored_other(&d)["mock-gpt"].successful, 2, "kept");

    // Back up: the next collection succeeds and the error is gone.
    litellm.faults().clear();
    let done = refresh(&mut rpc).await;
    assert!(done["collection"].get("last_error").is_none(), "{done}");
    assert_eq!(stored_other(&d)["mock-gpt"].successful, 2, "not twice");
}

#[tokio::test]
async fn daemons_sharing_postgresql_collect_one_at_a_time() {
    if mama_tests::harness::database::kind() != mama_tests::harness::database::Kind::Postgres {
        eprintln!("skipped: one daemon per SQLite file");
        return;
    }
    let litellm = StandIn::start().await.expect("stand-in");
    let route = "/user/daily/activity";
    // The first daemon's collection hangs on LiteLLM, holding the collector's lock.
    litellm
        .faults()
        .inject(FaultRule::new(Fault::Hang).on(route));
    let key = key_file(litellm.master_key());
    let mut env = envs(&unique_prefix());
    env.push(("MAMA_USAGE_INTERVAL_SECS", "3600".into()));
    env.push(("MAMA_USAGE_BACKFILL_DAYS", "0".into()));
    let args = sync_args(&litellm.base_url(), &key);
    let first = start_synced(&args, &env, None);
    let mut rpc = first.admin().await;
    let started = Instant::now();
    while litellm.call_count(route) < 1 {
        assert!(started.elapsed() < CONVERGE, "no collection started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same secrets as the first, as every daemon on one database must have.
    let data = first.dir.path().join("data");
    let mut args2 = args.clone();
    args2.extend([
        "--encryption-key-file".into(),
        data.join("encryption.key").to_string_lossy().into_owned(),
        "--jwt-key-file".into(),
        data.join("jwt.key").to_string_lossy().into_owned(),
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let second = start_synced(&args2, &env, Some((dir, first.db.shared())));
    let mut rpc2 = admin_again(&second).await;
    let reply = rpc2.call("usage.refresh", json!({})).await;
    assert_eq!(reply.code(), "conflict", "{}", reply.body);
    let reply = rpc.call("usage.refresh", json!({})).await;
    assert_eq!(reply.code(), "conflict", "{}", reply.body);

    // The first daemon dies: its lock goes with it, and the second collects.
    litellm.faults().clear();
    litellm.record_usage(today(), "foreign-1", "mock-gpt", StandInUsage::calls(3));
    // Kept: it owns the database the second daemon uses.
    let _owner = first.kill();
    let done = refresh(&mut rpc2).await;
    assert_eq!(done["not_mamas_rows"], 1, "{done}");
    assert_eq!(stored_other(&second)["mock-gpt"].successful, 3);
}
