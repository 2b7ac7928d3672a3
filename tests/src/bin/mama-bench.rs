//! `mama-bench`: the performance numbers of issue 2, measured through the real `mama-daemon`.
//!
//! For each database (SQLite, PostgreSQL) it starts a daemon on a fresh database, seeds users,
//! then measures
//! 1. REST lookup throughput (`POST /api/v1/users/lookup`, random ids, every request audited by the
//!    daemon) next to a static axum endpoint serving a body of the same size and next to the same
//!    endpoint audited (issue 20: each request's record, as large as mama's event, made durable
//!    by a group-committing writer before the answer), with the same load generator, in the same
//!    run, in alternated rounds;
//! 2. the time of one `users.bulk_update` (by ids, models add) over many users, a few times.
//!
//! Build and run the release build (see BENCHMARKS.md):
//! `cargo build --release -p mama-daemon -p mama-tests --bin mama-bench`
//! `MAMA_BIN_DIR=target/release target/release/mama-bench [--db sqlite,postgres] [--help]`

#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hyper::body::Bytes;
use mama_tests::bench::audit_log::{AuditConfig, IdList};
use mama_tests::bench::cpu::CpuWatch;
use mama_tests::bench::load::{self, LoadResult, LoadSpec};
use mama_tests::bench::static_server::StaticServer;
use mama_tests::bench::{median, XorShift};
use mama_tests::harness::database::Kind;
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

const USAGE: &str = "\
mama-bench: REST lookup throughput vs a static endpoint (plain and audited), and bulk change
time, per database.

Options (defaults in brackets):
  --db LIST            databases to run, comma-separated: sqlite, postgres [sqlite,postgres]
  --users N            users seeded [100000]
  --ids N              ids per lookup request [100]
  --concurrency LIST   concurrent keep-alive clients, comma-separated levels [32,128]
  --rounds N           static/audited static/lookup window triples per level, alternated [3]
  --warmup SECS        warm-up before each measured window [3]
  --duration SECS      measured window per endpoint [10]
  --bulk-size N        users changed by one bulk update [10000]
  --bulk-runs N        bulk updates timed (the median is reported) [5]
  --static-workers N   tokio worker threads of the static server [2]
  --seed N             seed of the random ids [42]

Environment: MAMA_BIN_DIR (where mama-daemon is; use target/release), MAMA_TEST_PG (PostgreSQL
server, default postgres://postgres@127.0.0.1:5432).";

/// Users per `users.create` call: the API takes 10,000, but the admin endpoint caps bodies at
/// 1 MiB, which 10,000 users of this shape (~180 B each) exceed.
const CREATE_CHUNK: usize = 4_000;
/// Distinct request bodies generated up front, so the load generator only picks one.
const REQUEST_BODIES: usize = 4096;
/// The service whose token the lookups use; every seeded user allows it.
const SERVICE: &str = "bench";

#[derive(Debug, Clone)]
struct Options {
    dbs: Vec<Kind>,
    users: usize,
    ids_per_lookup: usize,
    concurrency: Vec<usize>,
    rounds: usize,
    warmup: Duration,
    duration: Duration,
    bulk_size: usize,
    bulk_runs: usize,
    static_workers: usize,
    seed: u64,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Option<Options>> {
        let mut o = Options {
            dbs: vec![Kind::Sqlite, Kind::Postgres],
            users: 100_000,
            ids_per_lookup: 100,
            concurrency: vec![32, 128],
            rounds: 3,
            warmup: Duration::from_secs(3),
            duration: Duration::from_secs(10),
            bulk_size: 10_000,
            bulk_runs: 5,
            static_workers: 2,
            seed: 42,
        };
        let mut args = args.peekable();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Ok(None);
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
                "--db" => {
                    o.dbs = value
                        .split(',')
                        .map(|s| match s.trim() {
                            "sqlite" => Ok(Kind::Sqlite),
                            "postgres" | "postgresql" | "pg" => Ok(Kind::Postgres),
                            other => bail!("--db: unknown database {other:?}"),
                        })
                        .collect::<anyhow::Result<_>>()?
                }
                "--users" => o.users = number()? as usize,
                "--ids" => o.ids_per_lookup = number()? as usize,
                "--concurrency" => {
                    o.concurrency = value
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .parse::<usize>()
                                .with_context(|| format!("--concurrency: not a number: {n}"))
                        })
                        .collect::<anyhow::Result<_>>()?
                }
                "--rounds" => o.rounds = number()? as usize,
                "--warmup" => o.warmup = Duration::from_secs(number()?),
                "--duration" => o.duration = Duration::from_secs(number()?),
                "--bulk-size" => o.bulk_size = number()? as usize,
                "--bulk-runs" => o.bulk_runs = number()? as usize,
                "--static-workers" => o.static_workers = number()? as usize,
                "--seed" => o.seed = number()?,
                other => bail!("unknown option {other} (see --help)"),
            }
        }
        anyhow::ensure!(
            o.users > 0 && o.ids_per_lookup > 0 && o.ids_per_lookup <= o.users,
            "need 0 < --ids <= --users"
        );
        anyhow::ensure!(
            o.ids_per_lookup <= 1000,
            "--ids: a lookup takes at most 1000 ids"
        );
        anyhow::ensure!(o.bulk_size <= o.users, "--bulk-size cannot exceed --users");
        anyhow::ensure!(
            !o.concurrency.is_empty()
                && o.concurrency.iter().all(|&c| c > 0)
                && o.rounds > 0
                && !o.duration.is_zero(),
            "need concurrency levels, rounds and a duration"
        );
        Ok(Some(o))
    }
}

/// Everything measured on one database.
struct Report {
    kind: Kind,
    seed_seconds: f64,
    levels: Vec<Level>,
    lookup_events: u64,
    bulk_seconds: Vec<f64>,
    limits_seconds: Vec<f64>,
    /// `events.undo` of each bulk models change (issue 18).
    undo_seconds: Vec<f64>,
    /// A scoped admin's first page (issue 18): scope name and median / p95 ms.
    scoped_pages: Vec<(String, f64, f64)>,
}

/// The windows measured at one concurrency level: `rounds` of static, audited static, lookup.
struct Level {
    concurrency: usize,
    rounds: Vec<Round>,
}

/// One round's three windows, and how their durable writes were grouped.
struct Round {
    stat: LoadResult,
    audited: LoadResult,
    lookup: LoadResult,
    /// The audited endpoint's records and `fdatasync`s per second over its run (warm-up included).
    audited_syncs: Durables,
    /// mama's events and commits per second over the lookup run (warm-up included), when the
    /// daemon reports them.
    lookup_commits: Option<Durables>,
}

/// Records made durable and the syncs (commits) that did it, per second of a run.
#[derive(Debug, Clone, Copy)]
struct Durables {
    records_per_second: f64,
    syncs_per_second: f64,
}

impl Durables {
    fn new(records: u64, syncs: u64, elapsed: Duration) -> Durables {
        let seconds = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        Durables {
            records_per_second: records as f64 / seconds,
            syncs_per_second: syncs as f64 / seconds,
        }
    }

    fn per_sync(&self) -> f64 {
        self.records_per_second / self.syncs_per_second.max(f64::MIN_POSITIVE)
    }
}

/// `a / b` of two windows' throughput.
fn ratio(a: &LoadResult, b: &LoadResult) -> f64 {
    a.per_second() / b.per_second().max(f64::MIN_POSITIVE)
}

impl Level {
    fn ratios(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .map(|r| ratio(&r.lookup, &r.stat))
            .collect()
    }

    fn audited_ratios(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .map(|r| ratio(&r.lookup, &r.audited))
            .collect()
    }

    fn lookups(&self) -> impl Iterator<Item = &LoadResult> {
        self.rounds.iter().map(|r| &r.lookup)
    }

    /// The median over the rounds of `f`.
    fn median_of(&self, f: impl Fn(&Round) -> f64) -> f64 {
        median(&self.rounds.iter().map(f).collect::<Vec<_>>())
    }

    /// CPU seconds of `group` per lookup over every lookup window, in milliseconds.
    fn cpu_ms_per_lookup(&self, group: &str) -> f64 {
        let seconds: f64 = self
            .lookups()
            .flat_map(|l| &l.cpu.groups)
            .filter(|(n, _)| n == group)
            .map(|(_, s)| s)
            .sum();
        let requests: u64 = self.lookups().map(|l| l.requests).sum();
        seconds * 1000.0 / requests.max(1) as f64
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(opts) = Options::parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    println!("# mama-bench");
    println!("machine: {}", mama_tests::bench::machine_summary());
    println!(
        "daemon: {}",
        mama_tests::harness::daemon::bin_dir()
            .join("mama-daemon")
            .display()
    );
    println!(
        "options: users={} ids/request={} concurrency={:?} rounds={} warmup={}s duration={}s bulk={}x{}",
        opts.users,
        opts.ids_per_lookup,
        opts.concurrency,
        opts.rounds,
        opts.warmup.as_secs(),
        opts.duration.as_secs(),
        opts.bulk_runs,
        opts.bulk_size
    );
    let mut reports = Vec::new();
    for &kind in &opts.dbs {
        reports.push(bench_database(kind, &opts).await?);
    }
    print_summary(&opts, &reports);
    Ok(())
}

async fn bench_database(kind: Kind, opts: &Options) -> anyhow::Result<Report> {
    let name = db_name(kind);
    println!("\n## {name}");
    // The harness picks the database from this variable when it creates one. Edition 2021, and
    // nothing else reads the environment while the daemon starts.
    std::env::set_var("MAMA_TEST_DATABASE", name);
    let daemon = tokio::task::spawn_blocking(|| Daemon::start_with(&[], &[]))
        .await
        .context("starting mama-daemon")?;
    let mut admin = daemon.admin().await;
    call(&mut admin, "services.create", json!({ "name": SERVICE })).await?;
    // The seeded users also allow another service; a grant needs the service to exist.
    call(&mut admin, "services.create", json!({ "name": "other" })).await?;
    let issued = call(
        &mut admin,
        "services.issue_token",
        json!({ "service": SERVICE }),
    )
    .await?;
    let token = issued["token"]
        .as_str()
        .context("services.issue_token returned no token")?
        .to_string();

    let started = Instant::now();
    seed_users(&mut admin, opts.users).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    println!("seeded {} users in {seed_seconds:.1} s", opts.users);

    let mut rng = XorShift::new(opts.seed);
    let bodies: Vec<Bytes> = (0..REQUEST_BODIES)
        .map(|_| {
            let ids: Vec<String> = rng
                .sample(opts.users, opts.ids_per_lookup)
                .into_iter()
                .map(user_id)
                .collect();
            Bytes::from(json!({ "user_ids": ids }).to_string())
        })
        .collect();
    let lookup_url = daemon.rest_url("/api/v1/users/lookup");
    let typical = sample_lookup(&lookup_url, &token, &bodies[0], opts.ids_per_lookup).await?;
    println!(
        "lookup response: {} bytes for {} ids, every key returned",
        typical.len(),
        opts.ids_per_lookup
    );

    let data_dir = daemon.dir.path().to_string_lossy().into_owned();
    let pg_db = (kind == Kind::Postgres)
        .then(|| daemon.db.url.rsplit('/').next().unwrap_or("").to_string());
    let is_daemon = move |cmd: &str| cmd.contains("mama-daemon") && cmd.contains(&data_dir);
    let mut watch = CpuWatch::new()
        .group("daemon", is_daemon.clone())
        // Part of the daemon's time above: storing events (SQLite: inserts, commits and
        // checkpoints; PostgreSQL: sending the COPY and waiting for the commit).
        .thread_group("of which event writer", "mama-events", is_daemon);
    if let Some(db) = pg_db {
        let needle = format!(" {db} ");
        watch = watch.group("postgres", move |cmd| {
            cmd.starts_with("postgres: ") && cmd.contains(&needle)
        });
    }

    // The machine's speed drifts (other tenants of the host): each round measures the static
    // endpoint, the audited static endpoint and then the lookup back to back, and rounds
    // alternate, so drift reaches all three. The audited endpoint's log is in the daemon's data
    // directory (the file system of the SQLite database), its id lists stored as mama stores them
    // on this database.
    let audit = AuditConfig {
        path: daemon.dir.path().join("audited-static.log"),
        ids: match kind {
            Kind::Sqlite => IdList::Packed,
            Kind::Postgres => IdList::Json,
        },
        actor: SERVICE.to_string(),
    };
    println!("audited static endpoint's log: {}", audit.path.display());
    let server = StaticServer::start(typical, opts.static_workers, Some(audit))?;
    let audited_url = server
        .audited_url()
        .context("the static server has no audited endpoint")?;
    let audit_totals = || {
        server.audit_stats().map_or((0, 0, 0), |s| {
            (
                s.records.load(Ordering::Relaxed),
                s.syncs.load(Ordering::Relaxed),
                s.bytes.load(Ordering::Relaxed),
            )
        })
    };
    let bodies = Arc::new(bodies);
    let spec = |url: String, bearer: Option<String>, concurrency: usize| LoadSpec {
        url,
        bearer,
        bodies: bodies.clone(),
        concurrency,
        warmup: opts.warmup,
        duration: opts.duration,
    };
    let metrics_url = daemon.rest_url("/metrics");
    let events_before = count_lookup_events(&daemon).await?;
    let mut levels = Vec::with_capacity(opts.concurrency.len());
    for &concurrency in &opts.concurrency {
        println!("\n### {concurrency} clients");
        let mut rounds = Vec::with_capacity(opts.rounds);
        for round in 1..=opts.rounds {
            let stat = load::run(&spec(server.url(), None, concurrency), &watch).await?;
            print_load(&format!("round {round}, static axum endpoint"), &stat);
            let (records, syncs, _) = audit_totals();
            let started = Instant::now();
            let audited = load::run(&spec(audited_url.clone(), None, concurrency), &watch).await?;
            let (records_after, syncs_after, _) = audit_totals();
            let audited_syncs = Durables::new(
                records_after - records,
                syncs_after - syncs,
                started.elapsed(),
            );
            print_load(&format!("round {round}, audited static endpoint"), &audited);
            println!(
                "round {round}, audited static: {:.1} records per fdatasync, {:.0} fdatasyncs/s (warm-up included)",
                audited_syncs.per_sync(),
                audited_syncs.syncs_per_second
            );
            anyhow::ensure!(
                audited.requests > 0 && audited.errors == 0,
                "the audited static endpoint failed: {:?}",
                audited.first_error
            );
            let before = audit_counters(&metrics_url).await?;
            let started = Instant::now();
            let lookup = load::run(
                &spec(lookup_url.clone(), Some(token.clone()), concurrency),
                &watch,
            )
            .await?;
            let elapsed = started.elapsed();
            let after = audit_counters(&metrics_url).await?;
            print_load(&format!("round {round}, REST lookup"), &lookup);
            let lookup_commits = before
                .zip(after)
                .map(|(b, a)| Durables::new(a.0 - b.0, a.1 - b.1, elapsed));
            if let Some(c) = lookup_commits {
                println!(
                    "round {round}, events per commit (warm-up included): {:.1}, {:.0} commits/s",
                    c.per_sync(),
                    c.syncs_per_second
                );
            }
            anyhow::ensure!(
                lookup.requests > 0,
                "no lookup succeeded: {:?}",
                lookup.first_error
            );
            rounds.push(Round {
                stat,
                audited,
                lookup,
                audited_syncs,
                lookup_commits,
            });
        }
        levels.push(Level {
            concurrency,
            rounds,
        });
    }
    let (records, _, bytes) = audit_totals();
    println!(
        "audited static endpoint: {records} records synced, {:.0} bytes per record",
        bytes as f64 / records.max(1) as f64
    );
    drop(server);
    let lookup_events = count_lookup_events(&daemon)
        .await?
        .saturating_sub(events_before);
    let lookups: u64 = levels
        .iter()
        .flat_map(Level::lookups)
        .map(|l| l.requests)
        .sum();
    println!(
        "rest.lookup events stored during the lookup windows (warm-ups included): {lookup_events}"
    );
    let (stored, bytes) = event_log_size(&daemon)?;
    println!(
        "event log: {stored} events in {:.1} MB (table and indexes), {:.0} bytes per event",
        bytes as f64 / 1e6,
        bytes as f64 / stored.max(1) as f64
    );
    // Every lookup is audited: at least one event per counted lookup must be in the database.
    anyhow::ensure!(
        lookup_events >= lookups,
        "{lookups} lookups answered but only {lookup_events} events stored"
    );

    let models_add =
        |run: usize| json!({"models": {"op": "add", "values": [format!("bench-model-{run}")]}});
    let (bulk_seconds, undo_seconds) =
        timed_bulks(&mut admin, &mut rng, opts, "bulk update", models_add, true).await?;
    // The same over limits: a budget and a rate limit set on as many users (issue 16).
    let limits = |run: usize| json!({"limits": {"max_budget": 10 + run, "budget_period": "30d", "rpm_limit": 60 + run}});
    let (limits_seconds, _) = timed_bulks(
        &mut admin,
        &mut rng,
        opts,
        "bulk limits change",
        limits,
        false,
    )
    .await?;
    let scoped_pages = scoped_first_pages(&daemon, &mut admin, opts).await?;
    let report = Report {
        kind,
        seed_seconds,
        levels,
        lookup_events,
        bulk_seconds,
        limits_seconds,
        undo_seconds,
        scoped_pages,
    };
    tokio::task::spawn_blocking(move || drop(daemon))
        .await
        .context("stopping mama-daemon")?;
    Ok(report)
}

/// Creates `count` users that all allow [`SERVICE`], in calls of [`CREATE_CHUNK`].
async fn seed_users(admin: &mut RpcClient, count: usize) -> anyhow::Result<()> {
    for start in (0..count).step_by(CREATE_CHUNK) {
        let users: Vec<Value> = (start..(start + CREATE_CHUNK).min(count))
            .map(|n| {
                json!({
                    "id": user_id(n),
                    "organization": format!("org-{:03}", n % 200),
                    "models": ["gpt-4o", "claude-3-5-sonnet"],
                    "services": [SERVICE, "other"],
                    "info": { "team": format!("team-{:03}", n % 500), "cost_center": format!("cc-{}", n % 37) },
                })
            })
            .collect();
        let created = call(admin, "users.create", json!({ "users": users })).await?;
        anyhow::ensure!(
            created["created"].as_u64() == Some(users.len() as u64),
            "users.create: {created}"
        );
    }
    Ok(())
}

fn user_id(n: usize) -> String {
    format!("bench-user-{n:06}")
}

/// One admin RPC call; an error reply becomes an error.
/// `--bulk-runs` calls of `users.bulk_update` making `change(run)` on `--bulk-size` random users
/// (new ones each run), each checked to change them all; their wall times in seconds, and with
/// `undo` the wall time of `events.undo` of each (checked to reverse them all; then undone
/// again, so the next run starts from the changed state like the others).
async fn timed_bulks(
    admin: &mut RpcClient,
    rng: &mut XorShift,
    opts: &Options,
    what: &str,
    change: impl Fn(usize) -> Value,
    undo: bool,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut undo_seconds = Vec::new();
    let mut seconds = Vec::with_capacity(opts.bulk_runs);
    for run in 0..opts.bulk_runs {
        let ids: Vec<String> = rng
            .sample(opts.users, opts.bulk_size)
            .into_iter()
            .map(user_id)
            .collect();
        let mut params = change(run);
        params["ids"] = json!(ids);
        let started = Instant::now();
        let result = call(admin, "users.bulk_update", params).await?;
        let took = started.elapsed().as_secs_f64();
        let changed = result["changed"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            changed == opts.bulk_size as u64,
            "{what} {run} changed {changed} users, not {}",
            opts.bulk_size
        );
        println!("{what} {run}: {} users in {took:.3} s", opts.bulk_size);
        seconds.push(took);
        if undo {
            let events = call(
                admin,
                "events.list",
                json!({"filter": {"action": "users.bulk_update", "result": "ok"}, "page": {"limit": 1}}),
            )
            .await?;
            let event_id = events["events"][0]["id"].clone();
            let started = Instant::now();
            let undone = call(admin, "events.undo", json!({ "event_id": event_id })).await?;
            let took = started.elapsed().as_secs_f64();
            anyhow::ensure!(
                undone["changed"].as_u64() == Some(opts.bulk_size as u64),
                "undo of {what} {run}: {undone}"
            );
            println!(
                "undo of {what} {run}: {} users in {took:.3} s",
                opts.bulk_size
            );
            undo_seconds.push(took);
        }
    }
    Ok((seconds, undo_seconds))
}

/// A scoped admin's first page of 200 users sorted by id (the TUI's first request, without its
/// counts) for a scope of one organization (0.5 % of the users) and of twenty (10 %): median
/// and p95 of 30 requests, ms.
async fn scoped_first_pages(
    daemon: &Daemon,
    admin: &mut RpcClient,
    opts: &Options,
) -> anyhow::Result<Vec<(String, f64, f64)>> {
    let mut out = Vec::new();
    for (name, orgs) in [
        ("1 organization", vec!["org-007".to_string()]),
        (
            "20 organizations",
            (0..20).map(|i| format!("org-{:03}", i * 10)).collect(),
        ),
    ] {
        let username = format!("bench-scoped-{}", orgs.len());
        call(
            admin,
            "admins.create",
            json!({"username": username, "password": "scoped password 123", "role": "admin", "organizations": orgs}),
        )
        .await?;
        let mut scoped = daemon.rpc();
        scoped.login(&username, "scoped password 123").await;
        let changed = call(
            &mut scoped,
            "auth.change_password",
            json!({"old_password": "scoped password 123", "new_password": "scoped password 456"}),
        )
        .await?;
        scoped.token = changed["token"].as_str().map(str::to_string);
        let page = json!({"page": {"limit": 200}, "counts": false});
        let first = call(&mut scoped, "users.list", page.clone()).await?;
        let expected = (opts.users / 200).min(200) * orgs.len().min(1);
        anyhow::ensure!(
            first["users"].as_array().map_or(0, Vec::len) >= expected.min(200),
            "a scoped first page came back short: {}",
            first["users"].as_array().map_or(0, Vec::len)
        );
        let mut ms = Vec::with_capacity(30);
        for _ in 0..30 {
            let started = Instant::now();
            call(&mut scoped, "users.list", page.clone()).await?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        let p95 = ms[(ms.len() * 95 / 100).saturating_sub(1)];
        println!(
            "scoped first page, {name}: median {:.1} ms, p95 {p95:.1} ms",
            median(&ms)
        );
        out.push((name.to_string(), median(&ms), p95));
    }
    Ok(out)
}

async fn call(admin: &mut RpcClient, method: &str, params: Value) -> anyhow::Result<Value> {
    let reply = admin.call(method, params).await;
    if reply.status != 200 || reply.body.get("error").is_some() {
        bail!("{method} failed: HTTP {} {}", reply.status, reply.body);
    }
    Ok(reply.body["result"].clone())
}

/// One lookup, checked: every id found and every key returned (so keys are decrypted). Returns
/// the response body, which the static endpoint then serves.
async fn sample_lookup(url: &str, token: &str, body: &Bytes, ids: usize) -> anyhow::Result<Bytes> {
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .context("lookup request")?;
    let status = resp.status();
    let bytes = resp.bytes().await.context("lookup response")?;
    anyhow::ensure!(status == reqwest::StatusCode::OK, "lookup: HTTP {status}");
    let parsed: Value = serde_json::from_slice(&bytes).context("lookup response is not JSON")?;
    let users = parsed["users"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let keys = users.iter().filter(|u| u["key"].is_string()).count();
    anyhow::ensure!(
        users.len() == ids && keys == ids,
        "lookup returned {} users and {keys} keys, wanted {ids}",
        users.len()
    );
    Ok(bytes)
}

/// The daemon's group-commit writer counters: (events, commits) stored so far; `None` from a
/// daemon too old to report them.
async fn audit_counters(metrics_url: &str) -> anyhow::Result<Option<(u64, u64)>> {
    let text = reqwest::get(metrics_url)
        .await
        .context("GET /metrics")?
        .text()
        .await
        .context("reading /metrics")?;
    let counter = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<u64>()
                .ok()
        })
    };
    Ok(counter("mama_audit_events_total").zip(counter("mama_audit_commits_total")))
}

/// How many events the database holds and the bytes their table and its indexes take.
fn event_log_size(daemon: &Daemon) -> anyhow::Result<(u64, u64)> {
    let size_sql = match daemon.db.kind {
        Kind::Sqlite => {
            "SELECT sum(pgsize) FROM dbstat WHERE name IN \
             (SELECT name FROM sqlite_master WHERE tbl_name = 'events')"
        }
        Kind::Postgres => "SELECT pg_total_relation_size('events')",
    };
    let number = |sql: &str| {
        let text = tokio::task::block_in_place(|| daemon.db.query(sql));
        text.trim()
            .parse::<u64>()
            .with_context(|| format!("{sql}: {text:?}"))
    };
    Ok((number("SELECT count(*) FROM events")?, number(size_sql)?))
}

async fn count_lookup_events(daemon: &Daemon) -> anyhow::Result<u64> {
    // The harness shells out to sqlite3/psql: a blocking call of a few milliseconds.
    let text = tokio::task::block_in_place(|| {
        daemon
            .db
            .query("SELECT COUNT(*) FROM events WHERE action = 'rest.lookup'")
    });
    text.trim()
        .parse()
        .with_context(|| format!("event count: {text:?}"))
}

fn db_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    }
}

fn print_load(label: &str, r: &LoadResult) {
    let groups: Vec<String> = r
        .cpu
        .groups
        .iter()
        .map(|(n, s)| format!("{n} {s:.1}"))
        .collect();
    println!(
        "{label}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} requests in {} s, {} errors{}, {} B/response; \
         CPU s: bench {:.1}, {}; machine busy {:.0}%",
        r.per_second(),
        r.latency_ms(0.5),
        r.latency_ms(0.99),
        r.requests,
        r.window.as_secs(),
        r.errors,
        r.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default(),
        r.mean_response_bytes(),
        r.cpu.bench,
        groups.join(", "),
        r.cpu.machine_busy * 100.0
    );
}

fn print_summary(opts: &Options, reports: &[Report]) {
    println!("\n## Summary (markdown)\n");
    println!(
        "Rounds: {} per level, each a static window, an audited static window, then a lookup window; req/s, latencies and ratios are medians over the rounds.\n",
        opts.rounds
    );
    println!("| database | clients | static req/s | lookup req/s | lookup / static (per round) | lookup p50 / p99 ms | daemon CPU ms/lookup (event writer) | goal lookup ≥ 50% |");
    println!("|---|---|---|---|---|---|---|---|");
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    for r in reports {
        for level in &r.levels {
            let ratios = level.ratios();
            let ratio = median(&ratios);
            let per_round: Vec<String> =
                ratios.iter().map(|x| format!("{:.0}", x * 100.0)).collect();
            let stat: Vec<f64> = level.rounds.iter().map(|r| r.stat.per_second()).collect();
            let lookup: Vec<f64> = level.lookups().map(LoadResult::per_second).collect();
            let p50: Vec<f64> = level.lookups().map(|l| l.latency_ms(0.5)).collect();
            let p99: Vec<f64> = level.lookups().map(|l| l.latency_ms(0.99)).collect();
            println!(
                "| {} | {} | {:.0} | {:.0} | **{:.0}%** ({}) | {:.2} / {:.2} | {:.3} ({:.3}) | {} |",
                db_name(r.kind),
                level.concurrency,
                median(&stat),
                median(&lookup),
                ratio * 100.0,
                per_round.join(", "),
                median(&p50),
                median(&p99),
                level.cpu_ms_per_lookup("daemon"),
                level.cpu_ms_per_lookup("of which event writer"),
                verdict(ratio >= 0.5),
            );
        }
    }
    print_audited_summary(reports);
    println!();
    println!(
        "| database | bulk {} change | median s (min–max) | goal bulk |",
        opts.bulk_size
    );
    println!("|---|---|---|---|");
    for r in reports {
        bulk_row(r, "models add", &r.bulk_seconds);
        bulk_row(r, "limits", &r.limits_seconds);
        bulk_row(r, "undo of the models add", &r.undo_seconds);
    }
    println!();
    println!("| database | scoped admin's first page of 200 | median ms | p95 ms | goal ≤ 50 ms |");
    println!("|---|---|---|---|---|");
    for r in reports {
        for (name, median, p95) in &r.scoped_pages {
            println!(
                "| {} | {name} | {median:.1} | {p95:.1} | {} |",
                db_name(r.kind),
                if *median <= 50.0 { "met" } else { "MISSED" }
            );
        }
    }
    for r in reports {
        println!(
            "\n{}: seeding {} users took {:.1} s; {} rest.lookup events stored; bulk runs (s): {:?}",
            db_name(r.kind),
            opts.users,
            r.seed_seconds,
            r.lookup_events,
            r.bulk_seconds.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>()
        );
    }
}

/// Issue 20's table: the lookup against the audited static endpoint, with both sides' durable
/// writes (records per sync, syncs per second) and the bench process's CPU per request of the
/// static and audited windows (load generator plus server: the difference is the audit's cost).
fn print_audited_summary(reports: &[Report]) {
    println!();
    println!("| database | clients | audited static req/s | audited p50 / p99 ms | audited records per fdatasync, fdatasyncs/s | bench CPU ms/req static → audited | lookup req/s | lookup p50 / p99 ms | mama events per commit, commits/s | lookup / audited (per round) | goal ratio | goal p99 ≤ 20 ms (32 clients) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let cpu_per_request = |l: &LoadResult| l.cpu.bench * 1000.0 / l.requests.max(1) as f64;
    for r in reports {
        let goal = match r.kind {
            Kind::Sqlite => 0.7,
            Kind::Postgres => 0.5,
        };
        for level in &r.levels {
            let ratios = level.audited_ratios();
            let ratio = median(&ratios);
            let per_round: Vec<String> =
                ratios.iter().map(|x| format!("{:.0}", x * 100.0)).collect();
            let lookup_p99 = level.median_of(|r| r.lookup.latency_ms(0.99));
            let commits = if level.rounds.iter().all(|r| r.lookup_commits.is_some()) {
                format!(
                    "{:.1}, {:.0}",
                    level.median_of(|r| r.lookup_commits.map_or(0.0, |c| c.per_sync())),
                    level.median_of(|r| r.lookup_commits.map_or(0.0, |c| c.syncs_per_second))
                )
            } else {
                "—".to_string()
            };
            println!(
                "| {} | {} | {:.0} | {:.2} / {:.2} | {:.1}, {:.0} | {:.3} → {:.3} | {:.0} | {:.2} / {:.2} | {commits} | **{:.0}%** ({}) | {} (≥ {:.0}%) | {} |",
                db_name(r.kind),
                level.concurrency,
                level.median_of(|r| r.audited.per_second()),
                level.median_of(|r| r.audited.latency_ms(0.5)),
                level.median_of(|r| r.audited.latency_ms(0.99)),
                level.median_of(|r| r.audited_syncs.per_sync()),
                level.median_of(|r| r.audited_syncs.syncs_per_second),
                level.median_of(|r| cpu_per_request(&r.stat)),
                level.median_of(|r| cpu_per_request(&r.audited)),
                level.median_of(|r| r.lookup.per_second()),
                level.median_of(|r| r.lookup.latency_ms(0.5)),
                lookup_p99,
                ratio * 100.0,
                per_round.join(", "),
                verdict(ratio >= goal),
                goal * 100.0,
                if level.concurrency == 32 {
                    verdict(lookup_p99 <= 20.0)
                } else {
                    "—"
                },
            );
        }
    }
}

/// One row of the bulk table: the median and range of `runs` against the goal (≤ 1 s on SQLite,
/// ≤ 2 s on PostgreSQL).
fn bulk_row(r: &Report, what: &str, runs: &[f64]) {
    let bulk = median(runs);
    let (min, max) = runs.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &s| {
        (lo.min(s), hi.max(s))
    });
    let bulk_goal = match r.kind {
        Kind::Sqlite => 1.0,
        Kind::Postgres => 2.0,
    };
    println!(
        "| {} | {what} | {:.3} ({:.3}–{:.3}) | {} (≤ {bulk_goal} s) |",
        db_name(r.kind),
        bulk,
        min,
        max,
        if bulk <= bulk_goal { "met" } else { "MISSED" },
    );
}
