//! `mama-reconcile-bench`: issue 13's numbers, the cost of one reconcile through the real
//! `mama-daemon`.
//!
//! A reconcile (`sync.reconcile`) pages through every key LiteLLM holds (`/key/list`, 100 per
//! page: LiteLLM caps `size` at 100), compares mama's keys with the database and queues a repair
//! for each key that drifted. For each size N it starts the LiteLLM stand-in (in this process)
//! and a daemon synced to it, seeds N users (their keys created by the worker), then times
//! - **raw**: the same paging done directly by this process (the peer's floor: what listing N
//!   keys costs the stand-in and the wire, without mama);
//! - **clean**: a reconcile with nothing to repair, `--rounds` times (the first `--raw` of them
//!   each after a raw listing);
//! - **drift**: a reconcile after `--drift` % of the keys had their models changed behind mama's
//!   back in the stand-in: the time until it answers, then until the queue drains again (the
//!   repairs done), and the stand-in checked to hold mama's models again.
//!
//! Per reconcile: wall seconds, LiteLLM calls by route (from the stand-in's call log), the
//! summary it returned, and the CPU of the daemon and of this process (the stand-in).
//!
//! `cargo build --release -p mama-daemon -p mama-tests --bin mama-reconcile-bench`
//! `MAMA_BIN_DIR=target/release target/release/mama-reconcile-bench [--keys LIST] [--help]`

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mama_core::litellm::key_hash;
use mama_tests::bench::cpu::{CpuUsage, CpuWatch};
use mama_tests::bench::sync::{self as bench, Admin, MasterKeyFile};
use mama_tests::bench::XorShift;
use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::database::Kind;
use mama_tests::harness::Daemon;
use mama_tests::standin::{Call, StandIn};
use serde_json::{json, Value};

const USAGE: &str = "\
mama-reconcile-bench: the cost of one reconcile (sync.reconcile) against the LiteLLM stand-in.

Options (defaults in brackets):
  --keys LIST       sizes to measure, comma-separated: users (keys) seeded per size [10000,100000]
  --rounds N        reconciles of a clean state timed per size [3]
  --raw N           raw listings (this process paging through /key/list, without mama) per size,
                    one before each of the first N clean reconciles [1]
  --drift PCT       % of the keys whose models are changed behind mama's back before the last,
                    timed reconcile (0: skip it) [1]
  --db NAME         the daemon's database: sqlite or postgres [sqlite]
  --team            configure a LiteLLM team (--litellm-team mama-bench --litellm-team-models
                    gpt-4o), so that each reconcile also checks it (/team/* calls)

Environment: MAMA_BIN_DIR (where mama-daemon is; use target/release), MAMA_TEST_PG (PostgreSQL
server for --db postgres).";

/// Users per `users.create` call (the admin endpoint caps request bodies at 1 MiB).
const CREATE_CHUNK: usize = 2_000;
/// `/key/list` page size of the raw listing, as the reconciler's (LiteLLM's maximum).
const PAGE_SIZE: u32 = 100;
/// The models every seeded user holds, and what a drifted key is given instead.
const MODEL: &str = "gpt-4o";
const DRIFTED_MODEL: &str = "llama3";

#[derive(Debug, Clone)]
struct Options {
    keys: Vec<usize>,
    rounds: usize,
    raw: usize,
    drift_percent: f64,
    db: Kind,
    team: bool,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Option<Options>> {
        let mut o = Options {
            keys: vec![10_000, 100_000],
            rounds: 3,
            raw: 1,
            drift_percent: 1.0,
            db: Kind::Sqlite,
            team: false,
        };
        let mut args = args.peekable();
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--help" | "-h" => return Ok(None),
                "--team" => {
                    o.team = true;
                    continue;
                }
                _ => {}
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            let number = |v: &str| {
                v.trim()
                    .replace('_', "")
                    .parse::<u64>()
                    .with_context(|| format!("{flag}: not a number: {v}"))
            };
            match flag.as_str() {
                "--keys" => {
                    o.keys = value
                        .split(',')
                        .map(|v| number(v).map(|n| n as usize))
                        .collect::<anyhow::Result<_>>()?;
                }
                "--rounds" => o.rounds = number(&value)? as usize,
                "--raw" => o.raw = number(&value)? as usize,
                "--drift" => {
                    o.drift_percent = value
                        .parse::<f64>()
                        .with_context(|| format!("--drift: not a number: {value}"))?;
                }
                "--db" => {
                    o.db = match value.as_str() {
                        "sqlite" => Kind::Sqlite,
                        "postgres" | "postgresql" | "pg" => Kind::Postgres,
                        other => bail!("--db: unknown database {other:?}"),
                    }
                }
                other => bail!("unknown option {other} (see --help)"),
            }
        }
        anyhow::ensure!(
            !o.keys.is_empty() && o.keys.iter().all(|&n| n > 0),
            "--keys: at least one size, each above 0"
        );
        anyhow::ensure!(
            (0.0..=100.0).contains(&o.drift_percent),
            "--drift: a percentage"
        );
        Ok(Some(o))
    }
}

/// What one measured run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    /// This process paging through `/key/list` itself.
    Raw,
    /// A reconcile with nothing to repair.
    Clean,
    /// A reconcile after keys were changed behind mama's back.
    Drift,
}

struct Run {
    what: What,
    /// Until the answer (raw: until the last page).
    seconds: f64,
    /// Drift only: from the call until the queue drained again.
    drained_seconds: Option<f64>,
    /// LiteLLM calls by route while the reconcile ran (raw: the pages read).
    calls: BTreeMap<String, usize>,
    /// Drift only: LiteLLM calls by route from the answer until the queue drained.
    repair_calls: BTreeMap<String, usize>,
    /// The reconcile's summary (raw: the keys listed).
    summary: Value,
    /// Until the answer (drift: until drained).
    cpu: CpuUsage,
    load: String,
    /// `sync.reconcile` answered 409 `conflict` this many times before it ran.
    busy_retries: usize,
}

struct SizeReport {
    keys: usize,
    seed_seconds: f64,
    drifted: usize,
    runs: Vec<Run>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(opts) = Options::parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    std::env::set_var(
        "MAMA_TEST_DATABASE",
        match opts.db {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        },
    );
    println!("# mama-reconcile-bench");
    println!("machine: {}", mama_tests::bench::machine_summary());
    println!(
        "daemon: {}",
        mama_tests::harness::daemon::bin_dir()
            .join("mama-daemon")
            .display()
    );
    println!(
        "options: keys={:?} rounds={} raw={} drift={}% db={:?} team={}",
        opts.keys, opts.rounds, opts.raw, opts.drift_percent, opts.db, opts.team
    );
    let mut reports = Vec::new();
    for &keys in &opts.keys {
        reports.push(bench_size(keys, &opts).await?);
    }
    print_summary(&opts, &reports);
    Ok(())
}

async fn bench_size(n: usize, opts: &Options) -> anyhow::Result<SizeReport> {
    println!("\n## {n} keys");
    let standin = StandIn::start().await.context("starting the stand-in")?;
    let key_file = MasterKeyFile::write(standin.master_key())?;
    let mut args = vec![
        "--litellm-url".to_string(),
        standin.base_url(),
        "--litellm-master-key-file".to_string(),
        key_file.path.to_string_lossy().into_owned(),
    ];
    if opts.team {
        args.extend(
            [
                "--litellm-team",
                "mama-bench",
                "--litellm-team-models",
                MODEL,
            ]
            .map(String::from),
        );
    }
    // One reconcile at start (waited for below); after it only the bench's calls reconcile.
    let envs = [("MAMA_RECONCILE_INTERVAL_SECS", "10000000".to_string())];
    let daemon = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Daemon::start_with(&args, &envs)
    })
    .await
    .context("starting mama-daemon")?;
    // The first login changes the bootstrap password; the bench's session logs in again when it
    // expires.
    drop(daemon.admin().await);
    let mut admin = Admin::login(daemon.rpc(), "admin", ADMIN_PASSWORD).await;
    wait_first_reconcile(&mut admin).await?;

    let ids: Vec<String> = (0..n).map(|i| format!("rb-{i:06}")).collect();
    let limit = Duration::from_secs(600).max(Duration::from_millis(n as u64 * 20));
    let started = Instant::now();
    seed(&mut admin, &ids).await?;
    let (state, done) = bench::wait_drained(&mut admin, Duration::from_millis(250), limit).await?;
    let seed_seconds = done.duration_since(started).as_secs_f64();
    println!(
        "seeded {n} users, keys created in the stand-in: {seed_seconds:.1} s ({:.0} keys/s), failed {}",
        n as f64 / seed_seconds,
        state.users_failed
    );
    anyhow::ensure!(
        state.users_failed == 0,
        "{} users failed",
        state.users_failed
    );
    anyhow::ensure!(
        standin.keys().len() == n,
        "the stand-in holds {} keys",
        standin.keys().len()
    );

    let watch = cpu_watch(&daemon);
    let client = bench::http_client(1)?;
    let mut runs = Vec::new();
    for round in 0..opts.rounds.max(opts.raw) {
        if round < opts.raw {
            let run = raw_listing(&standin, &client, &watch).await?;
            print_run(&run);
            runs.push(run);
        }
        if round >= opts.rounds {
            continue;
        }
        let run = timed_reconcile(&mut admin, &standin, &watch, What::Clean).await?;
        let summary = &run.summary;
        anyhow::ensure!(
            summary["keys_seen"].as_u64() == Some(n as u64),
            "keys_seen: {summary}"
        );
        if run.calls.keys().any(|r| kind_of(r) == CallKind::Repair) {
            println!(
                "warning: LiteLLM calls other than the listing, the team's and the catalog's during a clean reconcile: {:?}",
                run.calls
            );
        }
        print_run(&run);
        runs.push(run);
    }
    let after_clean = bench::queue_state(&mut admin).await?;
    anyhow::ensure!(
        after_clean.drained(),
        "clean reconciles queued work: {after_clean:?}"
    );

    let mut drifted = 0;
    if opts.drift_percent > 0.0 {
        let count = ((n as f64 * opts.drift_percent / 100.0).round() as usize).max(1);
        let chosen: Vec<String> = XorShift::new(13)
            .sample(n, count)
            .into_iter()
            .map(|i| ids[i].clone())
            .collect();
        let hashes: Vec<String> = bench::user_keys(&mut admin, &chosen)
            .await?
            .iter()
            .map(|k| key_hash(k))
            .collect();
        for hash in &hashes {
            anyhow::ensure!(
                standin.edit_key(hash, |k| k.models = vec![DRIFTED_MODEL.into()]),
                "the stand-in has no key {hash}"
            );
        }
        drifted = hashes.len();
        println!("changed the models of {drifted} keys behind mama's back");
        let run = timed_reconcile(&mut admin, &standin, &watch, What::Drift).await?;
        print_run(&run);
        let repaired = run.summary["drift"]["models"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            repaired == drifted as u64,
            "the reconcile found {repaired} of {drifted} drifted keys: {}",
            run.summary
        );
        runs.push(run);
        for hash in &hashes {
            let models = standin.key(hash).map(|k| k.models).unwrap_or_default();
            anyhow::ensure!(
                models == [MODEL],
                "key {hash} holds {models:?} after the repair"
            );
        }
        println!("all {drifted} drifted keys hold [{MODEL:?}] again");
    }
    tokio::task::spawn_blocking(move || drop(daemon))
        .await
        .context("stopping mama-daemon")?;
    drop(standin);
    Ok(SizeReport {
        keys: n,
        seed_seconds,
        drifted,
        runs,
    })
}

/// The daemon reconciles once at start: let it finish so it competes with neither the seeding
/// nor the measurement.
async fn wait_first_reconcile(admin: &mut Admin) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let s = admin.call("sync.status", json!({})).await?;
        if !s["last_reconcile_at"].is_null() {
            println!(
                "first reconcile done after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(300) {
            println!("first reconcile still running after 300 s; going on");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn seed(admin: &mut Admin, ids: &[String]) -> anyhow::Result<()> {
    for chunk in ids.chunks(CREATE_CHUNK) {
        let users: Vec<Value> = chunk
            .iter()
            .map(|id| json!({ "id": id, "organization": "bench", "models": [MODEL], "services": [], "info": {} }))
            .collect();
        let created = admin
            .call("users.create", json!({ "users": users }))
            .await?;
        anyhow::ensure!(
            created["created"].as_u64() == Some(chunk.len() as u64),
            "users.create: {created}"
        );
    }
    Ok(())
}

/// One `sync.reconcile`, timed from the call to its answer (a 409 `conflict`, another reconcile
/// running, is waited out and the clock restarted). For `What::Drift`, also until `sync.status`
/// shows the queue drained again.
async fn timed_reconcile(
    admin: &mut Admin,
    standin: &StandIn,
    watch: &CpuWatch,
    what: What,
) -> anyhow::Result<Run> {
    let mut busy_retries = 0;
    let (summary, started, answered, before) = loop {
        standin.clear_calls();
        let load = bench::load_average();
        let before = watch.snapshot();
        let started = Instant::now();
        match admin.call("sync.reconcile", json!({})).await {
            Ok(summary) => break (summary, started, Instant::now(), (before, load)),
            Err(e) if e.to_string().contains("\"conflict\"") => {
                busy_retries += 1;
                anyhow::ensure!(busy_retries < 3_000, "another reconcile never ends: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let (before, load) = before;
    let seconds = answered.duration_since(started).as_secs_f64();
    let mut cpu = watch.usage(&before, &watch.snapshot());
    let mut calls = by_route(&standin.all_calls());
    let (mut drained_seconds, mut repair_calls) = (None, BTreeMap::new());
    if what == What::Drift {
        let (state, done) =
            bench::wait_drained(admin, Duration::from_millis(50), Duration::from_secs(1800))
                .await?;
        anyhow::ensure!(
            state.users_failed == 0,
            "{} users failed",
            state.users_failed
        );
        drained_seconds = Some(done.duration_since(started).as_secs_f64());
        cpu = watch.usage(&before, &watch.snapshot());
        // The worker may start on the first repairs before the answer is read: the calls are
        // told apart by route: the listing and the team's are the reconciler's own (and the
        // catalog refresh, `/v1/models`, the daemon's own timer), the rest the worker's.
        let (own, repairs): (Vec<Call>, Vec<Call>) = standin
            .all_calls()
            .into_iter()
            .partition(|c| kind_of(&c.route) != CallKind::Repair);
        calls = by_route(&own);
        repair_calls = by_route(&repairs);
    }
    Ok(Run {
        what,
        seconds,
        drained_seconds,
        calls,
        repair_calls,
        summary,
        cpu,
        load,
        busy_retries,
    })
}

/// Pages through `/key/list` as the reconciler does (100 per page, full objects), from this
/// process: what listing every key costs the stand-in and the wire, without mama.
async fn raw_listing(
    standin: &StandIn,
    client: &reqwest::Client,
    watch: &CpuWatch,
) -> anyhow::Result<Run> {
    let url = format!("{}/key/list", standin.base_url());
    let load = bench::load_average();
    let before = watch.snapshot();
    let started = Instant::now();
    let (mut page, mut pages, mut keys) = (1u64, 0usize, 0usize);
    loop {
        let resp = client
            .get(&url)
            .query(&[
                ("page", page.to_string()),
                ("size", PAGE_SIZE.to_string()),
                ("return_full_object", "true".to_string()),
            ])
            .bearer_auth(standin.master_key())
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .context("/key/list")?;
        anyhow::ensure!(
            resp.status().is_success(),
            "/key/list: HTTP {}",
            resp.status()
        );
        let body: Value = resp.json().await.context("/key/list body")?;
        pages += 1;
        let listed = body["keys"].as_array().map_or(0, Vec::len);
        keys += listed;
        let total_pages = body["total_pages"].as_u64().unwrap_or(0);
        if listed == 0 || page >= total_pages {
            break;
        }
        page += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = watch.usage(&before, &watch.snapshot());
    Ok(Run {
        what: What::Raw,
        seconds,
        drained_seconds: None,
        calls: BTreeMap::from([("/key/list".to_string(), pages)]),
        repair_calls: BTreeMap::new(),
        summary: json!({ "keys_listed": keys }),
        cpu,
        load,
        busy_retries: 0,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// The reconciler's own: the listing, the team's check.
    Reconcile,
    /// The daemon's catalog refresh (`/v1/models`, on its own timer whatever else runs).
    Catalog,
    /// Anything else: the worker's (repairs).
    Repair,
}

fn kind_of(route: &str) -> CallKind {
    match route {
        "/key/list" => CallKind::Reconcile,
        r if r.starts_with("/team/") => CallKind::Reconcile,
        "/v1/models" | "/models" | "/model/info" | "/v1/model/info" => CallKind::Catalog,
        _ => CallKind::Repair,
    }
}

fn by_route(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in calls {
        *counts.entry(call.route.clone()).or_default() += 1;
    }
    counts
}

/// CPU of the daemon and of its PostgreSQL backends (if any); this process (the stand-in, the
/// raw listing) is always counted apart as "bench".
fn cpu_watch(daemon: &Daemon) -> CpuWatch {
    let data_dir = daemon.dir.path().to_string_lossy().into_owned();
    let mut watch = CpuWatch::new().group("daemon", move |cmd| {
        cmd.contains("mama-daemon") && cmd.contains(&data_dir)
    });
    if daemon.db.kind == Kind::Postgres {
        let needle = format!(" {} ", daemon.db.url.rsplit('/').next().unwrap_or(""));
        watch = watch.group("mama-postgres", move |cmd| {
            cmd.starts_with("postgres: ") && cmd.contains(&needle)
        });
    }
    watch
}

fn label(what: What) -> &'static str {
    match what {
        What::Raw => "raw /key/list paging",
        What::Clean => "reconcile, clean",
        What::Drift => "reconcile, drift",
    }
}

fn calls_text(calls: &BTreeMap<String, usize>) -> String {
    if calls.is_empty() {
        return "none".to_string();
    }
    calls
        .iter()
        .map(|(route, n)| format!("{route} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cpu_of(run: &Run, group: &str) -> f64 {
    run.cpu
        .groups
        .iter()
        .find(|(n, _)| n == group)
        .map(|(_, s)| *s)
        .unwrap_or(0.0)
}

fn print_run(run: &Run) {
    let groups: Vec<String> = run
        .cpu
        .groups
        .iter()
        .map(|(n, s)| format!("{n} {s:.2}"))
        .collect();
    let drained = run
        .drained_seconds
        .map(|s| {
            format!(
                ", drained after {s:.2} s (repair calls: {})",
                calls_text(&run.repair_calls)
            )
        })
        .unwrap_or_default();
    let retries = if run.busy_retries > 0 {
        format!(" (after {} busy answers)", run.busy_retries)
    } else {
        String::new()
    };
    println!(
        "{}: {:.2} s{retries}{drained}; LiteLLM calls: {}; CPU s: {}, bench {:.2}; machine busy {:.0}%; load {}; {}",
        label(run.what),
        run.seconds,
        calls_text(&run.calls),
        groups.join(", "),
        run.cpu.bench,
        run.cpu.machine_busy * 100.0,
        run.load,
        run.summary,
    );
}

/// The reconcile summary's repairs in a few words.
fn summary_text(summary: &Value) -> String {
    if let Some(keys) = summary.get("keys_listed") {
        return format!("{keys} keys listed");
    }
    let n = |f: &str| summary[f].as_u64().unwrap_or(0);
    let drift: Vec<String> = summary["drift"]
        .as_object()
        .map(|d| d.iter().map(|(k, v)| format!("{k} {v}")).collect())
        .unwrap_or_default();
    let mut text = format!("seen {}", n("keys_seen"));
    if !drift.is_empty() {
        text.push_str(&format!(", drift {}", drift.join(" ")));
    }
    for field in ["recreated", "retried", "orphans_deleted"] {
        if n(field) > 0 {
            text.push_str(&format!(", {field} {}", n(field)));
        }
    }
    if summary["team_restricted"] == true {
        text.push_str(", team restricted");
    }
    let errors = summary["errors"].as_array().map_or(0, Vec::len);
    if errors > 0 {
        text.push_str(&format!(", {errors} errors"));
    }
    text
}

fn print_summary(opts: &Options, reports: &[SizeReport]) {
    println!("\n## Summary (markdown)\n");
    println!(
        "| keys | run | seconds | until drained s | LiteLLM calls during the reconcile | calls of the repairs | summary | daemon CPU s | bench (stand-in) CPU s | machine busy | load avg |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for report in reports {
        for run in &report.runs {
            let postgres = if opts.db == Kind::Postgres {
                format!(" + PG {:.2}", cpu_of(run, "mama-postgres"))
            } else {
                String::new()
            };
            println!(
                "| {} | {} | {:.2} | {} | {} | {} | {} | {:.2}{postgres} | {:.2} | {:.0} % | {} |",
                report.keys,
                label(run.what),
                run.seconds,
                run.drained_seconds
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_default(),
                calls_text(&run.calls),
                if run.what == What::Drift {
                    calls_text(&run.repair_calls)
                } else {
                    String::new()
                },
                summary_text(&run.summary),
                cpu_of(run, "daemon"),
                run.cpu.bench,
                run.cpu.machine_busy * 100.0,
                run.load,
            );
        }
    }
    println!();
    for report in reports {
        let seconds = |what: What| -> Vec<f64> {
            report
                .runs
                .iter()
                .filter(|r| r.what == what)
                .map(|r| r.seconds)
                .collect()
        };
        let clean = mama_tests::bench::median(&seconds(What::Clean));
        let raw = mama_tests::bench::median(&seconds(What::Raw));
        let daemon_cpu = mama_tests::bench::median(
            &report
                .runs
                .iter()
                .filter(|r| r.what == What::Clean)
                .map(|r| cpu_of(r, "daemon"))
                .collect::<Vec<_>>(),
        );
        let pages = report
            .runs
            .iter()
            .find(|r| r.what == What::Clean)
            .and_then(|r| r.calls.get("/key/list").copied())
            .unwrap_or(0);
        let share = [60.0, 120.0, 300.0, 600.0]
            .iter()
            .map(|i| {
                if clean < *i {
                    format!("{i:.0} s: {:.2} %", 100.0 * clean / i)
                } else {
                    // The daemon's timer then starts the next reconcile as soon as one ends.
                    format!("{i:.0} s: 100 % (longer than the interval)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{} keys (seeded in {:.0} s): clean reconcile median {clean:.2} s, {pages} /key/list calls ({:.1} ms per page), daemon CPU {daemon_cpu:.2} s; raw paging median {raw:.2} s; share of the time spent reconciling at an interval of {share}",
            report.keys,
            report.seed_seconds,
            1000.0 * clean / pages.max(1) as f64,
        );
        if let Some(d) = report.runs.iter().find(|r| r.what == What::Drift) {
            println!(
                "{} keys, {} drifted: reconcile answered in {:.2} s, queue drained after {:.2} s",
                report.keys,
                report.drifted,
                d.seconds,
                d.drained_seconds.unwrap_or(0.0)
            );
        }
    }
}
