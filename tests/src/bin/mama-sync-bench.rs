//! `mama-sync-bench`: issue 3's performance number, measured through the real `mama-daemon`.
//!
//! "Syncing 10,000 changed keys must be limited by LiteLLM, not by mama." For each LiteLLM peer
//! (the real proxy, then the in-process stand-in) it starts a daemon synced to it, seeds N users
//! (their keys created in LiteLLM by the worker), then alternates
//! - **raw**: one `/key/update` per key (the full `models` list, like mama's worker), sent
//!   directly with reqwest at the worker's concurrency;
//! - **mama**: one `users.bulk_update` replacing the models of all N users, timed from the call
//!   until `sync.status` shows the queue drained and nobody pending;
//!
//! as raw, mama, raw, mama, raw (the real proxy varies run to run, so each mama run is compared
//! with the raw runs around it). Keys made on the real proxy carry a unique alias prefix and are
//! deleted at the end (unless `--keep-keys`).
//!
//! `cargo build --release -p mama-daemon -p mama-tests --bin mama-sync-bench`
//! `MAMA_BIN_DIR=target/release target/release/mama-sync-bench [--keys N] [--help]`

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mama_core::litellm::key_hash;
use mama_tests::bench::cpu::{CpuUsage, CpuWatch};
use mama_tests::bench::sync::{self as bench, Admin, MasterKeyFile, Rate, RawSpec};
use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::database::Kind;
use mama_tests::harness::Daemon;
use mama_tests::standin::StandIn;
use serde_json::{json, Value};

const USAGE: &str = "\
mama-sync-bench: mama's LiteLLM sync rate next to the proxy's raw /key/update rate.

Options (defaults in brackets):
  --keys N          users (keys) seeded and changed per run [10000]
  --concurrency N   mama's worker concurrency, and the raw driver's [8]
  --rounds N        mama runs per peer, each between two raw runs [2]
  --peers LIST      real, standin, or both [real,standin]
  --db NAME         the daemon's database: sqlite or postgres [sqlite]
  --poll-ms N       shortest sync.status polling interval while timing mama [50]
  --change WHAT     what each run changes on every key: models (a new list) or limits (a new
                    budget and rate limit) [models]
  --keep-keys       leave the bench's keys in the real proxy (default: delete them at the end)

Environment: LITELLM_BASE_URL and LITELLM_MASTER_KEY (the real proxy), MAMA_BIN_DIR (where
mama-daemon is; use target/release), MAMA_TEST_PG (PostgreSQL server for --db postgres).";

/// Users per `users.create` call (the admin endpoint caps request bodies at 1 MiB).
const CREATE_CHUNK: usize = 2_000;
/// Keys whose models are read back from LiteLLM after each mama run.
const SPOT_CHECKS: usize = 20;

#[derive(Debug, Clone)]
struct Options {
    keys: usize,
    concurrency: usize,
    rounds: usize,
    real: bool,
    standin: bool,
    db: Kind,
    poll: Duration,
    keep_keys: bool,
    change: Change,
}

/// What every run changes on every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Models,
    Limits,
}

impl Change {
    /// What a raw `/key/update` sends in round `round` besides the key (what mama's worker
    /// sends for the same change: the full list; or every limit and `blocked`).
    fn raw_fields(self, round: usize) -> serde_json::Map<String, Value> {
        let fields = match self {
            Change::Models => {
                let other = ["gpt-4o", "llama3"][round % 2];
                json!({"models": ["claude-3-5-sonnet", other]})
            }
            Change::Limits => json!({
                "blocked": false,
                "max_budget": 1000 + round,
                "budget_duration": "30d",
                "tpm_limit": null,
                "rpm_limit": 1000 + round,
                "duration": null,
            }),
        };
        fields.as_object().cloned().unwrap_or_default()
    }

    /// mama's `users.bulk_update` change in round `round`: different from every raw run's, so
    /// every key changes.
    fn bulk(self, round: usize) -> Value {
        match self {
            Change::Models => {
                let other = ["gpt-4o", "llama3"][round % 2];
                json!({"models": {"op": "replace", "values": ["mock-gpt", other]}})
            }
            Change::Limits => {
                json!({"limits": {"max_budget": 10 + round, "budget_period": "30d", "rpm_limit": 100 + round}})
            }
        }
    }
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Option<Options>> {
        let mut o = Options {
            keys: 10_000,
            concurrency: 8,
            rounds: 2,
            real: true,
            standin: true,
            db: Kind::Sqlite,
            poll: Duration::from_millis(50),
            keep_keys: false,
            change: Change::Models,
        };
        let mut args = args.peekable();
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--help" | "-h" => return Ok(None),
                "--keep-keys" => {
                    o.keep_keys = true;
                    continue;
                }
                _ => {}
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .with_context(|| format!("{flag}: not a number: {value}"))
            };
            match flag.as_str() {
                "--keys" => o.keys = number()? as usize,
                "--concurrency" => o.concurrency = number()? as usize,
                "--rounds" => o.rounds = number()? as usize,
                "--poll-ms" => o.poll = Duration::from_millis(number()?),
                "--change" => {
                    o.change = match value.as_str() {
                        "models" => Change::Models,
                        "limits" => Change::Limits,
                        other => bail!("--change: models or limits, not {other:?}"),
                    }
                }
                "--peers" => {
                    o.real = false;
                    o.standin = false;
                    for p in value.split(',') {
                        match p.trim() {
                            "real" => o.real = true,
                            "standin" | "stand-in" => o.standin = true,
                            other => bail!("--peers: unknown peer {other:?}"),
                        }
                    }
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
            (1..=10_000).contains(&o.keys),
            "--keys: 1 to 10,000 (one bulk call)"
        );
        anyhow::ensure!(
            o.concurrency > 0 && o.rounds > 0,
            "need a concurrency and a round"
        );
        Ok(Some(o))
    }
}

/// What one measured run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Raw,
    Mama,
}

struct Run {
    what: What,
    rate: Rate,
    cpu: CpuUsage,
    load: String,
    /// mama only: the `users.bulk_update` call itself, in seconds.
    call_seconds: f64,
    /// Stand-in only: LiteLLM calls per key during the run (`/key/info`, `/key/update`).
    calls_per_key: Option<(f64, f64)>,
}

struct PeerReport {
    name: &'static str,
    seed_seconds: f64,
    runs: Vec<Run>,
}

/// Where the LiteLLM peer is, and (for the stand-in) the handle to count its calls.
struct Peer<'a> {
    name: &'static str,
    url: String,
    master_key: String,
    standin: Option<&'a StandIn>,
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
    println!("# mama-sync-bench");
    println!("machine: {}", mama_tests::bench::machine_summary());
    println!(
        "daemon: {}",
        mama_tests::harness::daemon::bin_dir()
            .join("mama-daemon")
            .display()
    );
    println!(
        "options: keys={} concurrency={} rounds={} db={:?} poll={} ms",
        opts.keys,
        opts.concurrency,
        opts.rounds,
        opts.db,
        opts.poll.as_millis()
    );
    let mut reports = Vec::new();
    if opts.real {
        let (Ok(url), Ok(master_key)) = (
            std::env::var("LITELLM_BASE_URL"),
            std::env::var("LITELLM_MASTER_KEY"),
        ) else {
            bail!("set LITELLM_BASE_URL and LITELLM_MASTER_KEY for the real proxy, or pass --peers standin");
        };
        let peer = Peer {
            name: "real LiteLLM 1.103.7",
            url,
            master_key,
            standin: None,
        };
        reports.push(bench_peer(&peer, &opts).await?);
    }
    if opts.standin {
        let standin = StandIn::start().await.context("starting the stand-in")?;
        let peer = Peer {
            name: "stand-in",
            url: standin.base_url(),
            master_key: standin.master_key().to_string(),
            standin: Some(&standin),
        };
        reports.push(bench_peer(&peer, &opts).await?);
    }
    print_summary(&opts, &reports);
    Ok(())
}

async fn bench_peer(peer: &Peer<'_>, opts: &Options) -> anyhow::Result<PeerReport> {
    println!("\n## {} ({})", peer.name, peer.url);
    let prefix = format!(
        "mama-sb{}-",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    println!("alias prefix of this run's keys: {prefix}");
    let key_file = MasterKeyFile::write(&peer.master_key)?;
    let args = [
        "--litellm-url".to_string(),
        peer.url.clone(),
        "--litellm-master-key-file".to_string(),
        key_file.path.to_string_lossy().into_owned(),
    ];
    let envs = [
        ("MAMA_SYNC_ALIAS_PREFIX", prefix.clone()),
        ("MAMA_SYNC_CONCURRENCY", opts.concurrency.to_string()),
        // One reconcile at start (waited for below), none during the measurement.
        ("MAMA_RECONCILE_INTERVAL_SECS", "86400".to_string()),
    ];
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

    let ids: Vec<String> = (0..opts.keys).map(|n| format!("sb-{n:06}")).collect();
    let limit = Duration::from_secs(600).max(Duration::from_millis(opts.keys as u64 * 100));
    let started = Instant::now();
    seed(&mut admin, &ids).await?;
    let (state, done) = bench::wait_drained(&mut admin, Duration::from_millis(250), limit).await?;
    let seed_seconds = done.duration_since(started).as_secs_f64();
    println!(
        "seeded {} users, keys created in LiteLLM: {seed_seconds:.1} s ({:.0} keys/s), failed {}",
        ids.len(),
        ids.len() as f64 / seed_seconds,
        state.users_failed
    );
    let keys = bench::user_keys(&mut admin, &ids).await?;
    let hashes: Arc<Vec<String>> = Arc::new(keys.iter().map(|k| key_hash(k)).collect());

    let watch = cpu_watch(&daemon);
    let checker = bench::http_client(1)?;
    let mut runs = Vec::new();
    for round in 0..=opts.rounds {
        let spec = RawSpec {
            base_url: peer.url.clone(),
            master_key: peer.master_key.clone(),
            hashes: hashes.clone(),
            fields: opts.change.raw_fields(round),
            concurrency: opts.concurrency,
        };
        let load = bench::load_average();
        let before = watch.snapshot();
        let rate = bench::raw_updates(&spec).await?;
        let cpu = watch.usage(&before, &watch.snapshot());
        let run = Run {
            what: What::Raw,
            rate,
            cpu,
            load,
            call_seconds: 0.0,
            calls_per_key: None,
        };
        print_run(&run);
        runs.push(run);
        if round == opts.rounds {
            break;
        }

        // mama's values always differ from the raw runs': every key changes.
        let change = opts.change.bulk(round);
        if let Some(s) = peer.standin {
            s.clear_calls();
        }
        let load = bench::load_average();
        let before = watch.snapshot();
        let (rate, call_seconds, state) =
            bench::timed_bulk_sync(&mut admin, &ids, &change, opts.poll, limit).await?;
        let cpu = watch.usage(&before, &watch.snapshot());
        anyhow::ensure!(
            state.users_failed == 0,
            "{} users failed to sync",
            state.users_failed
        );
        let calls_per_key = peer.standin.map(|s| {
            let per_key = |route: &str| s.call_count(route) as f64 / ids.len() as f64;
            (per_key("/key/info"), per_key("/key/update"))
        });
        for i in (0..ids.len()).step_by((ids.len() / SPOT_CHECKS).max(1)) {
            let held = bench::key_info(&checker, &peer.url, &peer.master_key, &hashes[i])
                .await?
                .with_context(|| format!("{} has no key in LiteLLM", ids[i]))?;
            match opts.change {
                Change::Models => {
                    let mut held: Vec<&str> = held["models"]
                        .as_array()
                        .context("no models")?
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    let mut want: Vec<&str> = change["models"]["values"]
                        .as_array()
                        .context("no values")?
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    held.sort_unstable();
                    want.sort_unstable();
                    anyhow::ensure!(held == want, "{}: LiteLLM holds {held:?}", ids[i]);
                }
                Change::Limits => {
                    let want = &change["limits"];
                    anyhow::ensure!(
                        held["max_budget"].as_f64() == want["max_budget"].as_f64()
                            && held["rpm_limit"].as_u64() == want["rpm_limit"].as_u64(),
                        "{}: LiteLLM holds budget {} and rpm {}",
                        ids[i],
                        held["max_budget"],
                        held["rpm_limit"]
                    );
                }
            }
        }
        let run = Run {
            what: What::Mama,
            rate,
            cpu,
            load,
            call_seconds,
            calls_per_key,
        };
        print_run(&run);
        runs.push(run);
    }
    tokio::task::spawn_blocking(move || drop(daemon))
        .await
        .context("stopping mama-daemon")?;
    if peer.standin.is_none() && !opts.keep_keys {
        let started = Instant::now();
        let failed = bench::delete_keys(&peer.url, &peer.master_key, &hashes, 100).await?;
        println!(
            "deleted the run's keys from LiteLLM in {:.1} s ({failed} failed batches of 100)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(PeerReport {
        name: peer.name,
        seed_seconds,
        runs,
    })
}

/// The daemon reconciles once at start, paging through every key in LiteLLM: let it finish so
/// it competes with neither the seeding nor the measurement.
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
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn seed(admin: &mut Admin, ids: &[String]) -> anyhow::Result<()> {
    for chunk in ids.chunks(CREATE_CHUNK) {
        let users: Vec<Value> = chunk
            .iter()
            .map(|id| json!({ "id": id, "organization": "bench", "models": ["mock-gpt"], "services": [], "info": {} }))
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

/// CPU of the daemon, of its PostgreSQL backends (if any), and of the LiteLLM proxy's processes
/// (its Python workers, and its database and query engine when their command lines say litellm).
fn cpu_watch(daemon: &Daemon) -> CpuWatch {
    let data_dir = daemon.dir.path().to_string_lossy().into_owned();
    let mut watch = CpuWatch::new()
        .group("daemon", move |cmd| {
            cmd.contains("mama-daemon") && cmd.contains(&data_dir)
        })
        .group("litellm", |cmd| {
            cmd.contains("litellm")
                && !["mama-daemon", "mama-sync-bench", "rustc", "cargo"]
                    .iter()
                    .any(|other| cmd.contains(other))
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
        What::Raw => "raw /key/update",
        What::Mama => "mama sync",
    }
}

fn print_run(run: &Run) {
    let groups: Vec<String> = run
        .cpu
        .groups
        .iter()
        .map(|(n, s)| format!("{n} {s:.1}"))
        .collect();
    let calls = run
        .calls_per_key
        .map(|(info, update)| format!("; per key: {info:.2} /key/info, {update:.2} /key/update"))
        .unwrap_or_default();
    let call = if run.what == What::Mama {
        format!(" (users.bulk_update call {:.2} s)", run.call_seconds)
    } else {
        String::new()
    };
    println!(
        "{}: {} keys in {:.1} s = {:.0} updates/s{call}, {} errors{}; CPU s: bench {:.1}, {}; machine busy {:.0}%; load {}{calls}",
        label(run.what),
        run.rate.keys,
        run.rate.seconds,
        run.rate.per_second(),
        run.rate.errors,
        run.rate
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        run.cpu.bench,
        groups.join(", "),
        run.cpu.machine_busy * 100.0,
        run.load,
    );
}

/// The raw rate around run `i`: the mean of the raw runs just before and after it.
fn raw_around(runs: &[Run], i: usize) -> f64 {
    let near: Vec<f64> = [i.checked_sub(1), Some(i + 1)]
        .into_iter()
        .flatten()
        .filter_map(|j| runs.get(j))
        .filter(|r| r.what == What::Raw)
        .map(|r| r.rate.per_second())
        .collect();
    near.iter().sum::<f64>() / near.len().max(1) as f64
}

fn cpu_of(run: &Run, group: &str) -> f64 {
    run.cpu
        .groups
        .iter()
        .find(|(n, _)| n == group)
        .map(|(_, s)| *s)
        .unwrap_or(0.0)
}

fn print_summary(opts: &Options, reports: &[PeerReport]) {
    println!("\n## Summary (markdown)\n");
    println!(
        "| peer | run | keys | seconds | updates/s | mama / raw around it | daemon CPU s (ms/update) | LiteLLM CPU s | bench CPU s | machine busy | load avg |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for report in reports {
        for (i, run) in report.runs.iter().enumerate() {
            let ratio = match run.what {
                What::Mama => format!(
                    "**{:.0} %**",
                    100.0 * run.rate.per_second() / raw_around(&report.runs, i).max(1e-9)
                ),
                What::Raw => String::new(),
            };
            let daemon = cpu_of(run, "daemon");
            println!(
                "| {} | {} | {} | {:.1} | {:.0} | {ratio} | {daemon:.1} ({:.2}) | {:.1} | {:.1} | {:.0} % | {} |",
                report.name,
                label(run.what),
                run.rate.keys,
                run.rate.seconds,
                run.rate.per_second(),
                daemon * 1000.0 / run.rate.keys.max(1) as f64,
                cpu_of(run, "litellm"),
                run.cpu.bench,
                run.cpu.machine_busy * 100.0,
                run.load,
            );
        }
    }
    for report in reports {
        let mean = |what: What| {
            let v: Vec<f64> = report
                .runs
                .iter()
                .filter(|r| r.what == what)
                .map(|r| r.rate.per_second())
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let (raw, mama) = (mean(What::Raw), mean(What::Mama));
        println!(
            "\n{}: seeding {} keys took {:.1} s; mean raw {raw:.0}/s, mean mama {mama:.0}/s: mama = {:.0} % of raw (goal ≥ 80 % on the real proxy)",
            report.name,
            opts.keys,
            report.seed_seconds,
            100.0 * mama / raw.max(1e-9)
        );
    }
}
