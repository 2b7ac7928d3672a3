//! `mama-usage-ingest-bench`: issue 17's ingest rate, the time of one `usage.refresh` of the
//! days not yet final (today and yesterday: what the collector reads every 5 minutes), in rows
//! stored and LiteLLM pages read per second.
//!
//! - **Stand-in** (default): a daemon synced to the LiteLLM stand-in, `--users N` users (their
//!   keys pushed), then LiteLLM's daily table holds, for each key, two models on both days, each
//!   split in two stored rows (8 rows per key; pages of 1,000 split them as LiteLLM does) plus
//!   `--others M` keys that are not mama's.
//! - **Real proxy** (`--real`, with `LITELLM_BASE_URL` and `LITELLM_MASTER_KEY`, the proxy
//!   started with `PROXY_BATCH_WRITE_AT=2`): `--users N` users each make one chat call to
//!   `mock-gpt`; the collection then reads everything the proxy holds for both days.
//!
//! The first collection after the calls is timed, then a second one (the same days again: the
//! replace path). Daemon binaries come from `MAMA_BIN_DIR` (use a release build:
//! `cargo build --release -p mama-daemon -p mama-tests --bin mama-usage-ingest-bench`,
//! then `MAMA_BIN_DIR=target/release MAMA_TEST_DATABASE=sqlite target/release/mama-usage-ingest-bench`).

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use mama_tests::bench::arg;
use mama_tests::harness::sync::*;
use mama_tests::harness::{Daemon, RpcClient};
use mama_tests::standin::{StandIn, StandInUsage};
use serde_json::{json, Value};

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// One `usage.refresh`, waiting out a collection already running; its reply and duration.
async fn refresh(rpc: &mut RpcClient) -> (Value, Duration) {
    loop {
        let started = Instant::now();
        let reply = rpc.call("usage.refresh", json!({})).await;
        if reply.body.get("error").is_some() && reply.code() == "conflict" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        return (reply.ok().clone(), started.elapsed());
    }
}

fn report(what: &str, done: &Value, took: Duration) {
    let rows = done["rows"].as_u64().unwrap_or(0) + done["not_mamas_rows"].as_u64().unwrap_or(0);
    let pages = done["pages"].as_u64().unwrap_or(0);
    let secs = took.as_secs_f64();
    println!(
        "{what:28} {:>8.2} s  {pages:>5} pages ({:>6.1}/s)  {rows:>7} rows stored ({:>8.0}/s)",
        secs,
        pages as f64 / secs,
        rows as f64 / secs,
    );
}

/// A daemon whose own collection (at start) found nothing yet, synced to `url`.
async fn daemon(url: &str, master: &str, users: &[String]) -> (Daemon, RpcClient) {
    let key = key_file(master);
    let mut env = envs(&unique_prefix());
    env.push(("MAMA_USAGE_INTERVAL_SECS", "3600".into()));
    env.push(("MAMA_USAGE_BACKFILL_DAYS", "0".into()));
    let d = start_synced(&sync_args(url, &key), &env, None);
    let mut rpc = d.admin().await;
    create(&mut rpc, users, &["mock-gpt"]).await;
    wait_all_synced(&mut rpc, users, Duration::from_secs(1800)).await;
    // The key file must outlive the daemon's start only.
    drop(key);
    (d, rpc)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let users = arg("--users", 10_000);
    let others = arg("--others", 1_000);
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let ids = ids(&format!("ingest-{tag}-"), users);
    let today = Utc::now().date_naive();
    let days = [today - Days::new(1), today];

    if flag("--real") {
        let (url, master) = real_proxy().expect("LITELLM_BASE_URL and LITELLM_MASTER_KEY");
        let (d, mut rpc) = daemon(&url, &master, &ids).await;
        let keys = get_users(&mut rpc, &ids).await;
        let started = Instant::now();
        for chunk in keys.chunks(16) {
            let calls = chunk.iter().map(|u| {
                let key = u["key"].as_str().expect("key").to_string();
                let url = url.clone();
                async move { chat_status(&url, &key, "mock-gpt").await }
            });
            for status in futures::future::join_all(calls).await {
                assert_eq!(status, 200, "a chat call through the proxy");
            }
        }
        println!(
            "real proxy: {users} chat calls in {:.1} s; waiting for LiteLLM's batch write",
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(8)).await;
        let (done, took) = refresh(&mut rpc).await;
        report("real proxy, first read", &done, took);
        let (done, took) = refresh(&mut rpc).await;
        report("real proxy, read again", &done, took);
        drop(d);
        return Ok(());
    }

    let litellm = StandIn::start().await?;
    let (d, mut rpc) = daemon(&litellm.base_url(), litellm.master_key(), &ids).await;
    let keys = get_users(&mut rpc, &ids).await;
    for day in days {
        for (i, u) in keys.iter().enumerate() {
            let key = u["key"].as_str().expect("key");
            let calls = StandInUsage::calls(1 + i as u64 % 4);
            let failed = StandInUsage {
                failed_requests: 1,
                ..StandInUsage::default()
            };
            for (model, usage) in [("mock-gpt", calls), ("gpt-4o", failed)] {
                litellm.record_usage(day, key, model, usage);
                litellm.record_usage(day, key, model, usage);
            }
        }
        for n in 0..others {
            let foreign = format!("foreign-{n:06}");
            litellm.record_usage(day, &foreign, "mock-gpt", StandInUsage::calls(1));
        }
    }
    println!(
        "{:?}, stand-in: {users} users' keys x 2 models x 2 days (split in 2 rows each) + {others} keys not mama's",
        d.db.kind
    );
    let (done, took) = refresh(&mut rpc).await;
    report("stand-in, first read", &done, took);
    let (done, took) = refresh(&mut rpc).await;
    report("stand-in, read again", &done, took);
    Ok(())
}
