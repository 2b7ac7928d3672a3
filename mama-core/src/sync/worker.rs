//! The outbox worker: claims due operations under a lease, runs them with bounded concurrency
//! and a per-operation timeout, and settles each one in the database together with its event.
//! Failures are retried with exponential backoff and jitter; while LiteLLM looks down, the
//! breaker stops the flow and probes instead.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{watch, Semaphore};

use super::apply;
use super::breaker::Breaker;
use super::outcome::{Applied, JobError, RetryCause};
use super::store;
use super::Engine;
use crate::api::actions::{self, Action};
use crate::api::{ApiError, ErrorCode};
use crate::db::outbox::{self, Job};
use crate::db::{self, events, Backend, DbError};
use crate::ops::{Ctx, Mama};

/// How often an idle worker looks for new operations (use cases do not wake it).
const POLL: Duration = Duration::from_millis(200);
/// First retry delay; doubles per attempt up to the configured cap.
const BASE_BACKOFF: Duration = Duration::from_millis(500);

/// Runs until `stop` turns true. Needs [`super::SyncHandle::configure`] to have been called.
pub async fn run(mama: Mama, mut stop: watch::Receiver<bool>) {
    let Some(engine) = mama.sync.engine().cloned() else {
        tracing::warn!("sync worker not started: LiteLLM is not configured");
        return;
    };
    let worker_id = format!("worker-{}", uuid::Uuid::now_v7());
    if mama.db.backend() == Backend::Sqlite {
        // One daemon per SQLite file: leases left by a killed predecessor are void.
        match mama.db.write(outbox::release_all).await {
            Ok(n) if n > 0 => tracing::info!(released = n, "released leases of a previous run"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not release old leases"),
        }
    }
    let breaker = Arc::new(Breaker::default());
    let slots = Arc::new(Semaphore::new(engine.config.concurrency.max(1)));
    tracing::info!(
        concurrency = engine.config.concurrency,
        "sync worker started"
    );
    loop {
        if *stop.borrow() {
            break;
        }
        if breaker.is_open() {
            probe(&mama, &engine, &breaker, &mut stop).await;
            continue;
        }
        let free = slots.available_permits();
        if free == 0 {
            // Wait for one slot to come back, then claim again.
            if let Ok(p) = slots.clone().acquire_owned().await {
                drop(p);
            }
            continue;
        }
        let jobs = match claim(&mama, &engine, &worker_id, free).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim outbox operations");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
            continue;
        }
        for job in jobs {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (mama, engine, breaker, worker_id) = (
                mama.clone(),
                engine.clone(),
                breaker.clone(),
                worker_id.clone(),
            );
            tokio::spawn(async move {
                run_job(&mama, &engine, &breaker, &worker_id, job).await;
                drop(permit);
            });
        }
    }
    tracing::info!("sync worker stopped");
}

async fn claim(
    mama: &Mama,
    engine: &Engine,
    worker_id: &str,
    max: usize,
) -> Result<Vec<Job>, DbError> {
    let lease = chrono::Duration::from_std(engine.config.lease())
        .unwrap_or_else(|_| chrono::Duration::seconds(60));
    let worker = worker_id.to_string();
    mama.db
        .write(move |c| {
            let now = db::now();
            outbox::claim(c, &worker, max, now, now + lease)
        })
        .await
}

/// While the breaker is open: wait, ask LiteLLM for its models (which also refreshes the
/// catalog), and on success close the breaker and let waiting operations run at once.
async fn probe(mama: &Mama, engine: &Engine, breaker: &Breaker, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(breaker.next_probe_wait()) => {}
        _ = stop.changed() => return,
    }
    if *stop.borrow() {
        return;
    }
    match engine.client.list_models().await {
        Ok(models) => {
            mama.catalog.set(models);
            mama.sync.set_link(true, None);
            breaker.success();
            tracing::info!("LiteLLM reachable again; resuming sync");
            if let Err(e) = mama.db.write(|c| outbox::retry_now(c, db::now())).await {
                tracing::warn!(error = %e, "could not reschedule waiting operations");
            }
        }
        Err(err) => mama.sync.set_link(false, Some(err.to_string())),
    }
}

async fn run_job(mama: &Mama, engine: &Engine, breaker: &Breaker, worker_id: &str, job: Job) {
    let outcome = match tokio::time::timeout(
        engine.config.op_timeout,
        apply::run(mama, engine, &job),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(JobError::Retry(RetryCause::LiteLlm(
            crate::litellm::LiteLlmError::Timeout,
        ))),
    };
    match &outcome {
        Ok(_) | Err(JobError::Permanent { .. }) => {
            breaker.success();
            mama.sync.set_link(true, None);
        }
        Err(JobError::Retry(RetryCause::LiteLlm(err))) => {
            if breaker.failure(err) {
                tracing::warn!(error = %err, "LiteLLM looks down; pausing sync");
            }
            mama.sync.observed(Err(err));
        }
        Err(JobError::Retry(_)) => {}
    }
    if let Err(e) = settle(mama, engine, worker_id, &job, outcome).await {
        // The lease runs out and the job is taken again: nothing is lost.
        tracing::warn!(error = %e, user = %job.user_id, "could not record a sync result");
    }
}

fn action(job: &Job, applied: &Applied) -> Option<Action> {
    match applied {
        Applied::Created { .. } => Some(actions::SYNC_CREATE),
        Applied::Updated { .. } => Some(actions::SYNC_UPDATE),
        Applied::Unchanged { .. } => Some(actions::SYNC_VERIFY),
        Applied::Blocked => Some(actions::SYNC_UPDATE),
        Applied::AlreadyGone if job.kind == outbox::KIND_BLOCK => Some(actions::SYNC_UPDATE),
        Applied::Deleted | Applied::AlreadyGone => Some(actions::SYNC_DELETE),
        Applied::Nothing => (!job.is_sync()).then_some(actions::SYNC_DELETE),
    }
}

/// Records the result: the outbox row, the user's key status and the event, in one transaction.
async fn settle(
    mama: &Mama,
    engine: &Engine,
    worker_id: &str,
    job: &Job,
    outcome: Result<Applied, JobError>,
) -> Result<(), DbError> {
    let ctx = Ctx::system(format!(
        "outbox-{}",
        job.ids.first().copied().unwrap_or_default()
    ));
    let worker = worker_id.to_string();
    let job = job.clone();
    match outcome {
        Ok(applied) => {
            let event = action(&job, &applied).map(|a| {
                let detail = match &applied {
                    Applied::Blocked => "key blocked in LiteLLM (the user is in the trash)",
                    Applied::AlreadyGone => "LiteLLM no longer had the key",
                    Applied::Unchanged { .. } => "LiteLLM already held the key as mama has it",
                    _ => "applied in LiteLLM",
                };
                ctx.event(a)
                    .users([job.user_id.clone()])
                    .detail(detail)
                    .ok()
            });
            mama.db
                .write(move |c| {
                    outbox::finish(c, &worker, &job.ids)?;
                    if let Applied::Created {
                        user,
                        key_hash,
                        models_json,
                        terms_json,
                    }
                    | Applied::Updated {
                        user,
                        key_hash,
                        models_json,
                        terms_json,
                    }
                    | Applied::Unchanged {
                        user,
                        key_hash,
                        models_json,
                        terms_json,
                    } = &applied
                    {
                        store::mark_active(c, user, key_hash, models_json, terms_json, db::now())?;
                    }
                    if let Some(event) = event {
                        events::insert(c, &[event])?;
                    }
                    Ok::<_, DbError>(())
                })
                .await
        }
        Err(JobError::Permanent { key_hash, reason }) => {
            let err = ApiError::new(ErrorCode::Conflict, reason.clone());
            let name = if job.is_sync() || job.kind == outbox::KIND_BLOCK {
                actions::SYNC_UPDATE
            } else {
                actions::SYNC_DELETE
            };
            let event = ctx.event(name).users([job.user_id.clone()]).failed(&err);
            tracing::warn!(user = %job.user_id, reason = %reason, "sync failed for good");
            mama.db
                .write(move |c| {
                    outbox::finish(c, &worker, &job.ids)?;
                    if let (true, Some(hash)) = (job.is_sync(), key_hash) {
                        store::mark_failed(c, &job.user_id, &hash, &reason)?;
                    }
                    events::insert(c, &[event])?;
                    Ok::<_, DbError>(())
                })
                .await
        }
        Err(JobError::Retry(cause)) => {
            let reason = cause.describe();
            // From the second failure on, the user shows why its key is not as mama has it yet.
            let visible =
                (job.is_sync() && job.attempts >= 1 && matches!(cause, RetryCause::LiteLlm(_)))
                    .then(|| format!("{reason}; retrying (attempt {})", job.attempts + 2));
            let wait = backoff(job.attempts, engine.config.max_backoff);
            let at = db::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            // One event when an operation starts failing, not one per retry of a long outage.
            let event = (job.attempts == 0).then(|| {
                let err = ApiError::new(ErrorCode::Unavailable, format!("{reason}; will retry"));
                let name = if job.is_sync() || job.kind == outbox::KIND_BLOCK {
                    actions::SYNC_UPDATE
                } else {
                    actions::SYNC_DELETE
                };
                ctx.event(name).users([job.user_id.clone()]).failed(&err)
            });
            // Like the event: a warning when an operation starts failing, then debug per retry.
            if job.attempts == 0 {
                tracing::warn!(user = %job.user_id, reason = %reason, "sync failed; will retry");
            } else {
                tracing::debug!(user = %job.user_id, attempts = job.attempts + 1, reason = %reason, "sync will retry");
            }
            mama.db
                .write(move |c| {
                    outbox::retry_later(c, &worker, &job.ids, at, &reason)?;
                    if let Some(note) = &visible {
                        store::note_retry(c, &job.user_id, note)?;
                    }
                    if let Some(event) = event {
                        events::insert(c, &[event])?;
                    }
                    Ok::<_, DbError>(())
                })
                .await
        }
    }
}

/// Exponential backoff with full jitter in [delay/2, delay], capped.
fn backoff(attempts: i32, cap: Duration) -> Duration {
    let exp = BASE_BACKOFF.saturating_mul(1u32 << attempts.clamp(0, 16));
    let delay = exp.min(cap);
    let half = delay / 2;
    half + rand::thread_rng().gen_range(Duration::ZERO..=half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let cap = Duration::from_secs(30);
        for attempts in 0..40 {
            let d = backoff(attempts, cap);
            assert!(d <= cap);
        }
        assert!(backoff(0, cap) <= BASE_BACKOFF);
        assert!(backoff(10, cap) >= cap / 2);
    }
}
