//! kill -9 at random moments (issue 14): creates, bulk changes, rotations and deletes are cut by
//! SIGKILL while their call is in flight, right after its answer (the sync worker busy pushing
//! it to LiteLLM), and during the start-up that follows. The daemon runs on SQLite or PostgreSQL
//! (`MAMA_TEST_DATABASE`) against the LiteLLM stand-in, which lives in the test and outlives
//! every kill. After each restart on the same database:
//!
//! - a change that was acknowledged is there for every user it named; one that was not is there
//!   for all of them or for none (never some users changed and others not);
//! - nothing acknowledged before is lost: every user is exactly as the changes applied so far
//!   make it (models, info, key, version), and no other user exists;
//! - each change that is there has exactly one event (found by its request id), and no event
//!   names a change that is not there.
//!
//! After the last restart, once the sync queue is empty, LiteLLM holds exactly one key per user,
//! with the user's models, and no key of mama's that no user holds; a reconcile finds nothing to
//! repair.
//!
//! The changes and moments come from a seeded generator: the seed is printed, and
//! `MAMA_KILL_SEED=<n>` replays it (the same changes and kinds of kill as long as the kills cut
//! the same way: where an in-flight kill lands is aimed by how fast this machine answers);
//! `MAMA_KILL_ROUNDS=<n>` runs a longer soak.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use mama_core::litellm::key_hash;
use mama_tests::harness::sync::{
    admin_again, envs, get_users, key_file, models_of, reconcile, start_synced, sync_args,
    unique_prefix, KeyFile,
};
use mama_tests::harness::{Daemon, RpcClient, RpcReply, TestDatabase};
use mama_tests::standin::{Fault, StandIn};
use serde_json::{json, Value};

/// Rounds of operations, each ending in a kill (some restarts are killed too);
/// `MAMA_KILL_ROUNDS` runs more (a soak) or fewer.
const ROUNDS: usize = 22;
/// No creates past this many users.
const MAX_USERS: usize = 800;
/// Every user keeps this model, so no key is ever blocked for an empty set.
const BASE_MODEL: &str = "gpt-4o";
const OTHER_MODELS: [&str; 3] = ["claude-3-5-sonnet", "llama3", "mock-gpt"];
/// Deadline of the final sync (a bound to fail with the state seen, not a speed check).
const CONVERGE_ALL: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_and_half_applies_nothing() {
    let started = Instant::now();
    let seed = env_number("MAMA_KILL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(14, |d| d.as_nanos() as u64)
    });
    let rounds = env_number("MAMA_KILL_ROUNDS").map_or(ROUNDS, |n| n as usize);
    let kind = mama_tests::harness::database::kind();
    eprintln!("kill_e2e: seed {seed} on {kind:?} (replay: MAMA_KILL_SEED={seed})");

    let standin = StandIn::start().await.expect("stand-in");
    // Answers a little late, after the change is made: kills catch LiteLLM calls in flight.
    standin
        .faults()
        .set_global(Fault::Slow(Duration::from_millis(10)));
    let mut run = Run::start(&standin, seed).await;
    for round in 0..rounds {
        // Answered changes first (the daemon stays up), then the one the kill cuts.
        for _ in 0..run.rng.range(0, 2) {
            run.answered_change().await;
        }
        run.killed_change(round).await;
        run.stats.checks += check_users(&mut run.rpc, &run.model).await;
        run.stats.checks += check_events(&mut run.rpc, &run.ledger).await;
    }
    run.check_converged(&standin).await;

    eprintln!(
        "kill_e2e: seed {seed} on {kind:?}: {}; {} users, {} keys in LiteLLM; {:.1?}",
        run.stats,
        run.model.users.len(),
        standin.keys().len(),
        started.elapsed(),
    );
    assert!(
        rounds < ROUNDS || run.stats.kills() >= 20,
        "at least 20 kills: {}",
        run.stats
    );
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {value}")),
    )
}

/// One test run: the daemon of the moment, what the database must hold, and what happened.
struct Run {
    launch: Launch,
    daemon: Option<Daemon>,
    rpc: RpcClient,
    rng: Rng,
    model: Model,
    /// Every change made, with its fate (for the events check).
    ledger: Vec<Settled>,
    pace: Pace,
    stats: Stats,
}

impl Run {
    async fn start(standin: &StandIn, seed: u64) -> Run {
        let key = key_file(standin.master_key());
        let prefix = unique_prefix();
        let launch = Launch {
            args: sync_args(&standin.base_url(), &key),
            env: envs(&prefix),
            prefix,
            _key: key,
        };
        let daemon = launch.start(None).await;
        let rpc = daemon.admin().await;
        Run {
            launch,
            daemon: Some(daemon),
            rpc,
            rng: Rng(seed),
            model: Model::default(),
            ledger: Vec::new(),
            pace: Pace::default(),
            stats: Stats::default(),
        }
    }

    /// A change whose answer comes back with the daemon up: it must be there.
    async fn answered_change(&mut self) {
        let op = self.model.next_op(&mut self.rng);
        let sent = Instant::now();
        let reply = self
            .rpc
            .try_call(op.method(), op.params(), &op.request_id)
            .await
            .unwrap_or_else(|e| panic!("{} unanswered with the daemon up: {e}", op.method()));
        assert!(reply.body.get("error").is_none(), "{}", reply.body);
        self.pace.learn(&op, sent.elapsed());
        self.settle(&op, Answer::Acked).await;
    }

    /// A change cut by kill -9 (in flight or after its answer), maybe a restart killed too, then
    /// the restart that stays up, and what the database holds of the change.
    async fn killed_change(&mut self, round: usize) {
        let op = self.model.next_op(&mut self.rng);
        let cut = if self.rng.chance(55) {
            // Anywhere in the call, or close to where it commits and answers.
            let expected = self.pace.expect(&op);
            if self.rng.chance(50) {
                Cut::InFlight(self.rng.range(0, expected * 6 / 5))
            } else {
                Cut::InFlight(self.rng.range(expected * 4 / 5, expected * 21 / 20))
            }
        } else {
            Cut::AfterAnswer(self.rng.range(0, 400))
        };
        let answer = match cut {
            Cut::InFlight(ms) => {
                let mut client = self.rpc.clone();
                let (method, params, id) = (op.method(), op.params(), op.request_id.clone());
                let call = tokio::spawn(async move { client.try_call(method, params, &id).await });
                tokio::time::sleep(Duration::from_millis(ms)).await;
                self.stats.kills_in_flight += 1;
                let on = self.kill();
                let answer = Answer::of(call.await.expect("the call's task"));
                self.restart(on, round).await;
                answer
            }
            Cut::AfterAnswer(ms) => {
                let sent = Instant::now();
                let reply = self
                    .rpc
                    .try_call(op.method(), op.params(), &op.request_id)
                    .await;
                let answer = Answer::of(reply);
                assert_eq!(answer, Answer::Acked, "{} with the daemon up", op.method());
                self.pace.learn(&op, sent.elapsed());
                tokio::time::sleep(Duration::from_millis(ms)).await;
                self.stats.kills_after_answer += 1;
                let on = self.kill();
                self.restart(on, round).await;
                answer
            }
        };
        let applied = self.settle(&op, answer).await;
        eprintln!(
            "  round {round}: {} of {} users ({}) cut {cut:?}: {answer:?}, {}",
            op.method(),
            op.ids.len(),
            op.request_id,
            if applied { "applied" } else { "absent" }
        );
    }

    fn kill(&mut self) -> (tempfile::TempDir, TestDatabase) {
        self.daemon.take().expect("a daemon runs").kill()
    }

    /// Starts the daemon again on the same database; some starts are killed first.
    async fn restart(&mut self, on: (tempfile::TempDir, TestDatabase), round: usize) {
        let on = if self.rng.chance(30) {
            let after = Duration::from_millis(self.rng.range(0, 250));
            let (on, ready) = self.launch.start_and_kill(on, after).await;
            self.stats.kills_in_start_up += 1;
            self.stats.start_up_kills_after_ready += usize::from(ready);
            eprintln!("  round {round}: the restart killed {after:?} after spawn (ready: {ready})");
            on
        } else {
            on
        };
        let daemon = self.launch.start(Some(on)).await;
        self.rpc = admin_again(&daemon).await;
        self.daemon = Some(daemon);
    }

    /// Reads the users `op` named and decides whether it is there (for all of them or none:
    /// anything else fails the test), checks that against what its caller was told, and applies
    /// it to the model. Returns whether it is there.
    async fn settle(&mut self, op: &Op, answer: Answer) -> bool {
        let rows: HashMap<String, Value> = get_users(&mut self.rpc, &op.ids)
            .await
            .into_iter()
            .map(|u| (u["id"].as_str().unwrap_or_default().to_string(), u))
            .collect();
        let what = format!("{} {} ({answer:?})", op.method(), op.request_id);
        let applied = applied(op, &self.model, &rows)
            .unwrap_or_else(|why| panic!("{what} is half applied: {why}"));
        match answer {
            Answer::Acked => {
                assert!(applied, "{what} was acknowledged but is not there");
                self.stats.acked += 1;
            }
            Answer::Refused => {
                assert!(!applied, "{what} was refused but is there");
                self.stats.refused += 1;
            }
            Answer::Unanswered if applied => self.stats.unacked_applied += 1,
            Answer::Unanswered => self.stats.unacked_absent += 1,
        }
        self.ledger.push(Settled {
            request_id: op.request_id.clone(),
            method: op.method(),
            ids: op.ids.clone(),
            applied,
        });
        if applied {
            self.model.apply(op, &rows);
        }
        applied
    }

    /// After the last restart: the sync drains, LiteLLM holds what mama has and nothing more,
    /// and a reconcile finds nothing to repair.
    async fn check_converged(&mut self, standin: &StandIn) {
        let rpc = &mut self.rpc;
        let since = Instant::now();
        self.stats.queued_at_the_end = rpc.call("sync.status", json!({})).await.ok()["queue_depth"]
            .as_u64()
            .unwrap_or_default();
        let status = wait_drained(rpc).await;
        self.stats.last_sync = since.elapsed();
        assert_eq!(status["users_failed"], 0, "failed users: {status}");
        let prefix = &self.launch.prefix;
        self.stats.checks += check_users(rpc, &self.model).await;
        self.stats.checks += check_litellm(rpc, standin, prefix, &self.model).await;
        let summary = reconcile(rpc).await;
        for field in ["recreated", "models_repushed", "retried", "orphans_deleted"] {
            assert_eq!(summary[field], 0, "reconcile {field}: {summary}");
        }
        assert_eq!(summary["drift"], json!({}), "{summary}");
        assert_eq!(summary["errors"], json!([]), "{summary}");
        assert_eq!(summary["keys_seen"], self.model.users.len(), "{summary}");
        self.stats.checks += 1;
        self.stats.checks += check_litellm(rpc, standin, prefix, &self.model).await;
        self.stats.checks += check_events(rpc, &self.ledger).await;
    }
}

// ------------------------------------------------------------------ the daemon, killed

/// How the daemon is started, every time on the same data dir and database.
struct Launch {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// The alias prefix of this run's keys.
    prefix: String,
    /// The LiteLLM master key file the daemons read.
    _key: KeyFile,
}

impl Launch {
    /// Starts the daemon (waiting for ready) off the runtime, so the stand-in keeps answering.
    async fn start(&self, on: Option<(tempfile::TempDir, TestDatabase)>) -> Daemon {
        let (args, env) = (self.args.clone(), self.env.clone());
        tokio::task::spawn_blocking(move || start_synced(&args, &env, on))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Starts the daemon and kills it `after` the spawn; returns whether it had said ready.
    async fn start_and_kill(
        &self,
        on: (tempfile::TempDir, TestDatabase),
        after: Duration,
    ) -> ((tempfile::TempDir, TestDatabase), bool) {
        let (args, env) = (self.args.clone(), self.env.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (dir, db, ready) = Daemon::start_and_kill_after(on.0, on.1, &args, &env, after);
            ((dir, db), ready)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// When the kill comes: milliseconds after the call was sent, or after its answer.
#[derive(Debug, Clone, Copy)]
enum Cut {
    InFlight(u64),
    AfterAnswer(u64),
}

/// How long each kind of change took to be answered, by how many users it named: where to aim
/// a kill (never a check).
#[derive(Debug, Default)]
struct Pace {
    /// The last answers per method: (users, milliseconds).
    samples: HashMap<&'static str, Vec<(f64, f64)>>,
}

impl Pace {
    fn learn(&mut self, op: &Op, took: Duration) {
        let samples = self.samples.entry(op.method()).or_default();
        samples.push((op.ids.len() as f64, took.as_secs_f64() * 1000.0));
        if samples.len() > 12 {
            samples.remove(0);
        }
    }

    /// Milliseconds `op` should take to be answered: a line fitted through the last answers
    /// (a fixed cost plus a cost per user), or a guess before there are two.
    fn expect(&self, op: &Op) -> u64 {
        let n = op.ids.len() as f64;
        let samples = self.samples.get(op.method()).map_or(&[][..], Vec::as_slice);
        let count = samples.len() as f64;
        let mean_n = samples.iter().map(|s| s.0).sum::<f64>() / count.max(1.0);
        let mean_ms = samples.iter().map(|s| s.1).sum::<f64>() / count.max(1.0);
        let var: f64 = samples.iter().map(|s| (s.0 - mean_n).powi(2)).sum();
        let cov: f64 = samples
            .iter()
            .map(|s| (s.0 - mean_n) * (s.1 - mean_ms))
            .sum();
        let ms = match samples {
            [] => 5.0 + n,
            [(users, ms)] => ms * n / users.max(1.0),
            _ if var > 0.0 && cov > 0.0 => mean_ms + cov / var * (n - mean_n),
            _ => mean_ms,
        };
        ms.max(1.0) as u64
    }
}

/// What the caller of a change learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Answered with a result: the change must be there.
    Acked,
    /// Answered with an error: nothing may have changed.
    Refused,
    /// No answer (the daemon died first): all or nothing.
    Unanswered,
}

impl Answer {
    fn of(reply: Result<RpcReply, String>) -> Answer {
        match reply {
            Ok(r) if r.body.get("error").is_none() => Answer::Acked,
            Ok(_) => Answer::Refused,
            Err(_) => Answer::Unanswered,
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    kills_in_flight: usize,
    kills_after_answer: usize,
    kills_in_start_up: usize,
    start_up_kills_after_ready: usize,
    acked: usize,
    unacked_applied: usize,
    unacked_absent: usize,
    refused: usize,
    checks: usize,
    queued_at_the_end: u64,
    last_sync: Duration,
}

impl Stats {
    fn kills(&self) -> usize {
        self.kills_in_flight + self.kills_after_answer + self.kills_in_start_up
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} kills ({} in flight, {} after the answer, {} in start-up of which {} after \
             ready); {} changes acknowledged, {} not (of them {} applied, {} absent), {} refused; \
             {} checks passed; the last sync of {} operations took {:.1?}",
            self.kills(),
            self.kills_in_flight,
            self.kills_after_answer,
            self.kills_in_start_up,
            self.start_up_kills_after_ready,
            self.acked,
            self.unacked_applied + self.unacked_absent,
            self.unacked_applied,
            self.unacked_absent,
            self.refused,
            self.checks,
            self.queued_at_the_end,
            self.last_sync,
        )
    }
}

// ------------------------------------------------------------------ the changes

#[derive(Debug, Clone)]
enum Change {
    Create {
        models: BTreeSet<String>,
    },
    Bulk {
        op: &'static str,
        values: Vec<String>,
    },
    Rotate,
    Delete,
}

/// One change call; its request id is also the info marker it leaves (`info.op`).
#[derive(Debug, Clone)]
struct Op {
    request_id: String,
    change: Change,
    ids: Vec<String>,
}

impl Op {
    fn method(&self) -> &'static str {
        match self.change {
            Change::Create { .. } => "users.create",
            Change::Bulk { .. } => "users.bulk_update",
            Change::Rotate => "users.rotate_keys",
            Change::Delete => "users.delete",
        }
    }

    fn params(&self) -> Value {
        let marker = json!({"op": self.request_id});
        match &self.change {
            Change::Create { models } => {
                let users: Vec<Value> = self
                    .ids
                    .iter()
                    .map(|id| json!({"id": id, "organization": "lab", "models": models, "info": marker}))
                    .collect();
                json!({ "users": users })
            }
            Change::Bulk { op, values } => json!({
                "ids": self.ids,
                "models": {"op": op, "values": values},
                "info_set": marker,
            }),
            Change::Rotate | Change::Delete => json!({ "ids": self.ids }),
        }
    }

    /// A user's models once a bulk change is applied to `before`.
    fn models_after(&self, before: &BTreeSet<String>) -> BTreeSet<String> {
        let Change::Bulk { op, values } = &self.change else {
            return before.clone();
        };
        let values: BTreeSet<String> = values.iter().cloned().collect();
        match *op {
            "replace" => values,
            "add" => before.union(&values).cloned().collect(),
            _ => before.difference(&values).cloned().collect(),
        }
    }
}

/// A user as the changes applied so far make it.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    models: BTreeSet<String>,
    marker: String,
    key: String,
    version: u64,
}

impl Expected {
    fn of(row: &Value) -> Expected {
        Expected {
            models: models_of(row),
            marker: marker(row),
            key: row["key"].as_str().unwrap_or_default().to_string(),
            version: row["version"].as_u64().expect("version"),
        }
    }
}

fn marker(row: &Value) -> String {
    row["info"]["op"].as_str().unwrap_or_default().to_string()
}

/// What the database must hold: the users, and the ids deleted (which creates may reuse).
#[derive(Debug, Default)]
struct Model {
    users: BTreeMap<String, Expected>,
    deleted: BTreeSet<String>,
    next_user: usize,
    next_request: usize,
}

impl Model {
    /// A random change of the users there are: creates (some reusing deleted ids) while there
    /// are few, bulk changes of models and info, rotations, deletes.
    fn next_op(&mut self, rng: &mut Rng) -> Op {
        self.next_request += 1;
        let request_id = format!("kill-op-{:04}", self.next_request);
        let n = self.users.len();
        let roll = rng.range(0, 99);
        let existing: Vec<String> = self.users.keys().cloned().collect();
        let (change, ids) = if n < 100 || (n < MAX_USERS && roll < 30) {
            let k = rng.range(20, 150) as usize;
            let mut ids = Vec::new();
            if rng.chance(30) {
                let pool: Vec<String> = self.deleted.iter().cloned().collect();
                ids = rng.sample(&pool, k / 4);
            }
            while ids.len() < k {
                ids.push(format!("k{:05}", self.next_user));
                self.next_user += 1;
            }
            let mut models = set_of(&[BASE_MODEL]);
            models.extend(
                OTHER_MODELS
                    .iter()
                    .filter(|_| rng.chance(50))
                    .map(|m| m.to_string()),
            );
            (Change::Create { models }, ids)
        } else if roll < 65 {
            let k = rng.range(1, n.min(500) as u64) as usize;
            let change = match rng.range(0, 2) {
                0 => {
                    let mut values = vec![BASE_MODEL.to_string()];
                    values.extend(
                        OTHER_MODELS
                            .iter()
                            .filter(|_| rng.chance(50))
                            .map(|m| m.to_string()),
                    );
                    Change::Bulk {
                        op: "replace",
                        values,
                    }
                }
                1 => {
                    let k = rng.range(1, 2) as usize;
                    let values = rng.sample(&OTHER_MODELS.map(String::from), k);
                    Change::Bulk { op: "add", values }
                }
                _ => {
                    let values = rng.sample(&OTHER_MODELS.map(String::from), 1);
                    Change::Bulk {
                        op: "remove",
                        values,
                    }
                }
            };
            (change, rng.sample(&existing, k))
        } else if roll < 85 {
            let k = rng.range(1, n.min(200) as u64) as usize;
            (Change::Rotate, rng.sample(&existing, k))
        } else {
            let k = rng.range(1, (n / 5).clamp(1, 60) as u64) as usize;
            (Change::Delete, rng.sample(&existing, k))
        };
        Op {
            request_id,
            change,
            ids,
        }
    }
}

impl Model {
    /// Applies a change that is there; `rows` are its users as the database has them.
    fn apply(&mut self, op: &Op, rows: &HashMap<String, Value>) {
        for id in &op.ids {
            match &op.change {
                Change::Create { .. } => {
                    self.deleted.remove(id);
                    self.users.insert(id.clone(), Expected::of(&rows[id]));
                }
                Change::Delete => {
                    self.users.remove(id);
                    self.deleted.insert(id.clone());
                }
                Change::Bulk { .. } => {
                    let e = self.users.get_mut(id).expect("a known user");
                    e.models = op.models_after(&e.models);
                    e.marker = op.request_id.clone();
                    e.version += 1;
                }
                Change::Rotate => {
                    let e = self.users.get_mut(id).expect("a known user");
                    e.key = rows[id]["key"].as_str().unwrap_or_default().to_string();
                    e.version += 1;
                }
            }
        }
    }
}

fn set_of(models: &[&str]) -> BTreeSet<String> {
    models.iter().map(|m| m.to_string()).collect()
}

/// A change's fate, for the events check.
struct Settled {
    request_id: String,
    method: &'static str,
    ids: Vec<String>,
    applied: bool,
}

/// Whether `op` is there for every user it named (`Ok(true)`), for none (`Ok(false)`), or for
/// some only, or there but wrong (`Err`).
fn applied(op: &Op, model: &Model, rows: &HashMap<String, Value>) -> Result<bool, String> {
    let mut done = Vec::new();
    let mut not_done = Vec::new();
    for id in &op.ids {
        let row = rows.get(id);
        let there = match &op.change {
            Change::Create { models } => match row {
                None => false,
                Some(r) if models_of(r) == *models && marker(r) == op.request_id => true,
                Some(r) => return Err(format!("{id} exists but is not the user created: {r}")),
            },
            Change::Delete => row.is_none(),
            Change::Bulk { .. } | Change::Rotate => {
                let r = row.ok_or_else(|| format!("{id} vanished"))?;
                let e = &model.users[id];
                let changed = match op.change {
                    Change::Rotate => r["key"] != e.key.as_str(),
                    _ => marker(r) == op.request_id,
                };
                let version = r["version"].as_u64().unwrap_or_default();
                let models_ok = match op.change {
                    Change::Rotate => models_of(r) == e.models,
                    _ if changed => models_of(r) == op.models_after(&e.models),
                    _ => true,
                };
                if !models_ok || version != e.version + u64::from(changed) {
                    return Err(format!("{id} is not as expected ({e:?}): {r}"));
                }
                changed
            }
        };
        if there {
            done.push(id);
        } else {
            not_done.push(id);
        }
    }
    if !done.is_empty() && !not_done.is_empty() {
        return Err(format!(
            "{} of {} users changed, e.g. {:?} changed and {:?} not",
            done.len(),
            op.ids.len(),
            &done[..done.len().min(3)],
            &not_done[..not_done.len().min(3)]
        ));
    }
    Ok(not_done.is_empty())
}

// ------------------------------------------------------------------ the checks

/// Every user, and only they, exactly as the model has them. Returns the checks made.
async fn check_users(rpc: &mut RpcClient, model: &Model) -> usize {
    let listed = rpc.call("users.list_ids", json!({})).await;
    let ids: BTreeSet<String> = listed.ok()["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let want: BTreeSet<String> = model.users.keys().cloned().collect();
    let lost: Vec<_> = want.difference(&ids).take(5).collect();
    let extra: Vec<_> = ids.difference(&want).take(5).collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "users lost: {lost:?}; users that should not exist: {extra:?}"
    );
    let all: Vec<String> = want.into_iter().collect();
    for row in get_users(rpc, &all).await {
        let id = row["id"].as_str().unwrap_or_default();
        assert_eq!(Expected::of(&row), model.users[id], "{id}: {row}");
    }
    1 + all.len()
}

/// Each change that is there has exactly one event, by its request id, and nothing else has
/// one. Returns the checks made.
async fn check_events(rpc: &mut RpcClient, ledger: &[Settled]) -> usize {
    let mut by_request: HashMap<String, Vec<Value>> = HashMap::new();
    let mut offset = 0;
    loop {
        let reply = rpc
            .call(
                "events.list",
                json!({"filter": {"kind": "change", "action": "users."},
                       "page": {"offset": offset, "limit": 1000}}),
            )
            .await;
        let page = reply.ok()["events"].as_array().expect("events").clone();
        offset += page.len();
        for e in &page {
            let id = e["request_id"].as_str().unwrap_or_default().to_string();
            by_request.entry(id).or_default().push(e.clone());
        }
        if page.len() < 1000 {
            break;
        }
    }
    for s in ledger {
        let events = by_request.remove(&s.request_id).unwrap_or_default();
        if !s.applied {
            assert!(
                events.is_empty(),
                "{} {} is not there but has events: {events:?}",
                s.method,
                s.request_id
            );
            continue;
        }
        assert_eq!(
            events.len(),
            1,
            "{} {}: one event: {events:?}",
            s.method,
            s.request_id
        );
        let e = &events[0];
        assert_eq!(e["action"], s.method, "{e}");
        assert_eq!(e["result"], "ok", "{e}");
        assert_eq!(e["target_count"], s.ids.len(), "{e}");
        let named: BTreeSet<&str> = s.ids.iter().map(String::as_str).collect();
        for u in e["user_ids"].as_array().expect("user_ids") {
            assert!(named.contains(u.as_str().unwrap_or_default()), "{u} in {e}");
        }
    }
    assert!(
        by_request.is_empty(),
        "events of no change this test made: {by_request:?}"
    );
    ledger.len()
}

/// Polls `sync.status` until nothing is queued or pending; returns the last status.
async fn wait_drained(rpc: &mut RpcClient) -> Value {
    let started = Instant::now();
    loop {
        let status = rpc.call("sync.status", json!({})).await;
        let s = status.ok().clone();
        if s["queue_depth"] == 0 && s["users_pending"] == 0 {
            return s;
        }
        assert!(
            started.elapsed() < CONVERGE_ALL,
            "the sync never drained: {s}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// LiteLLM holds exactly one live key per user, the user's, under its alias, with its models;
/// and no other key. Returns the checks made.
async fn check_litellm(
    rpc: &mut RpcClient,
    standin: &StandIn,
    prefix: &str,
    model: &Model,
) -> usize {
    let ids: Vec<String> = model.users.keys().cloned().collect();
    let rows = get_users(rpc, &ids).await;
    let mut keys: HashMap<String, _> = standin
        .keys()
        .into_iter()
        .map(|k| (k.token.clone(), k))
        .collect();
    let total = keys.len();
    for row in &rows {
        let id = row["id"].as_str().unwrap_or_default();
        assert_eq!(row["key_status"], "active", "{row}");
        assert_eq!(row["rotating"], false, "{row}");
        let hash = key_hash(row["key"].as_str().unwrap_or_default());
        let k = keys
            .remove(&hash)
            .unwrap_or_else(|| panic!("{id}: its key is not in LiteLLM"));
        assert_eq!(
            k.key_alias.as_deref(),
            Some(format!("{prefix}{id}").as_str()),
            "{id}"
        );
        assert_eq!(k.user_id.as_deref(), Some(id), "{id}");
        assert!(!k.is_blocked(), "{id}: blocked");
        let held: BTreeSet<String> = k.models.iter().cloned().collect();
        assert_eq!(held, model.users[id].models, "{id}: models in LiteLLM");
    }
    let orphans: Vec<_> = keys
        .values()
        .map(|k| (&k.key_alias, &k.user_id, &k.models))
        .collect();
    assert!(
        orphans.is_empty(),
        "{} keys in LiteLLM for {} users; held by no user (duplicates or orphans): {orphans:?}",
        total,
        rows.len()
    );
    rows.len() + 1
}

// ------------------------------------------------------------------ the generator

/// SplitMix64: small, seedable, and the same everywhere (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi.max(lo) - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.range(0, 99) < percent
    }

    /// `k` distinct items of `from`, in random order.
    fn sample<T: Clone>(&mut self, from: &[T], k: usize) -> Vec<T> {
        let mut pool = from.to_vec();
        let k = k.min(pool.len());
        for i in 0..k {
            let j = self.range(i as u64, pool.len() as u64 - 1) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }
}
