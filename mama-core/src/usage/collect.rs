//! The usage collector: reads the days not yet final from LiteLLM's `/user/daily/activity` and
//! stores them per day × user × model, attributed through the hash of every key mama minted
//! (rotated and deleted keys included); keys mama never minted are counted apart.
//!
//! - **Which days.** From the day after `final_through` (on the very first run: the backfill,
//!   `backfill_days` back including today) through today, UTC. Yesterday stays open: a call made
//!   just before midnight lands in LiteLLM's database with its next batch write, after it. So
//!   after a successful read, days up to the day before yesterday are final.
//! - **Idempotent and crash-safe.** The range is read in parts of [`CHUNK_DAYS`] days; each part
//!   replaces its days' rows and saves the progress in one transaction. A kill in the middle
//!   leaves every day as it was before or as it is after, never twice, and a backfill resumes
//!   where it stopped.
//! - **Failures.** LiteLLM down: the error is stored (in mama's words) for `usage.query` to
//!   show, the stored usage stays, and the next tick tries again.
//! - **One at a time.** Within a daemon by a mutex, across daemons on one PostgreSQL by an
//!   advisory lock; a collection asked for while one runs is refused as busy.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate, Utc};

use super::plan::{plan, Plan};
use crate::api::rpc::{method, Method};
use crate::api::types::{Usage, UsageRefreshed};
use crate::api::{ApiError, ErrorCode};
use crate::db::usage::store::{self, CollectorState, DailyRow, OtherRow};
use crate::db::usage::{ranked, rollup};
use crate::db::{self, advisory, DbError};
use crate::litellm::{merge, EntryKey, LiteLlm, LiteLlmError, MAX_PAGE_SIZE};
use crate::ops::{Ctx, Mama};
use crate::sync::Engine;

/// Days read and committed at once: a backfill shows progress and survives a kill part by part.
pub const CHUNK_DAYS: u32 = 7;
/// A bound on pages of one read, so a misbehaving proxy cannot page us forever.
const MAX_PAGES: u32 = 100_000;
/// PostgreSQL advisory lock key of the collector ("mamu").
const PG_USAGE_LOCK: i64 = 0x6d_61_6d_75;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("another usage collection is running")]
    Busy,
    #[error("LiteLLM's daily activity could not be read: {0}")]
    LiteLlm(#[from] LiteLlmError),
    #[error("LiteLLM's daily activity did not end after {MAX_PAGES} pages")]
    EndlessPaging,
    #[error("database: {0}")]
    Db(#[from] DbError),
}

impl From<CollectError> for ApiError {
    fn from(err: CollectError) -> Self {
        match err {
            CollectError::Busy => {
                ApiError::new(ErrorCode::Conflict, "a usage collection is already running")
            }
            CollectError::Db(e) => ApiError::from(e),
            other => ApiError::new(ErrorCode::Unavailable, other.to_string()),
        }
    }
}

/// Runs one collection and records its event (ok or failed); `Busy` when one is running here or
/// in another daemon sharing the database.
pub async fn run(mama: &Mama, engine: &Engine, ctx: &Ctx) -> Result<UsageRefreshed, CollectError> {
    let _local = mama
        .sync
        .collecting()
        .try_lock()
        .map_err(|_| CollectError::Busy)?;
    let db = mama.db.clone();
    let lock = tokio::task::spawn_blocking(move || advisory::try_lock(&db, PG_USAGE_LOCK))
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))??
        .ok_or(CollectError::Busy)?;
    let result = collect(mama, engine.client.as_ref()).await;
    // Releasing talks to PostgreSQL: off the async threads.
    let _ = tokio::task::spawn_blocking(move || drop(lock)).await;
    let event = ctx.event(method::UsageRefresh::ACTION);
    match &result {
        Ok(done) => {
            let detail = format!(
                "days {} to {}: {} LiteLLM pages, {} rows stored, {} entries of keys not mama's",
                day_text(done.from),
                day_text(done.to),
                done.pages,
                done.rows,
                done.not_mamas_rows
            );
            if mama.audit.record(event.detail(detail).ok()).await.is_err() {
                tracing::warn!("could not record the usage collection event");
            }
        }
        Err(err) => {
            let message = err.to_string();
            let stored = mama
                .db
                .write(move |c| store::record_error(c, &message))
                .await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not store the usage collection's error");
            }
            mama.audit
                .record_failure(
                    event.failed(&ApiError::new(ErrorCode::Unavailable, err.to_string())),
                )
                .await;
        }
    }
    result
}

fn day_text(day: Option<NaiveDate>) -> String {
    day.map(|d| d.to_string()).unwrap_or_else(|| "-".into())
}

async fn collect(mama: &Mama, client: &dyn LiteLlm) -> Result<UsageRefreshed, CollectError> {
    let today = Utc::now().date_naive();
    let state = mama.db.read(store::collector_state).await?;
    let Plan {
        from,
        to,
        mut progress,
    } = plan(&state, today, mama.config.usage_backfill_days);
    let mut done = UsageRefreshed {
        from: Some(from),
        to: Some(to),
        ..UsageRefreshed::default()
    };
    let mut final_through = state.final_through;
    let mut start = from;
    while start <= to {
        let end = (start + Days::new(u64::from(CHUNK_DAYS) - 1)).min(to);
        let (entries, pages) = match fetch(client, start, end).await {
            Ok(read) => {
                mama.sync.observed(Ok(()));
                read
            }
            Err(CollectError::LiteLlm(e)) => {
                mama.sync.observed(Err(&e));
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        done.pages += pages;
        // Days before yesterday are complete in LiteLLM once read.
        let settled = end.min(today - Days::new(2));
        final_through = final_through.max(Some(settled));
        if let Some(p) = progress.as_mut() {
            p.days_done = (p.days_done + days_between(start, end)).min(p.days);
        }
        let last = end >= to;
        let saved = CollectorState {
            final_through,
            backfill: progress,
        };
        let (rows, others) = mama
            .db
            .write(move |c| {
                let stored = store_days(c, start, end, entries)?;
                if last {
                    store::finish(c, saved.final_through, db::now())?;
                } else {
                    store::save_progress(c, &saved)?;
                }
                Ok::<_, DbError>(stored)
            })
            .await?;
        done.rows += rows;
        done.not_mamas_rows += others;
        start = end + Days::new(1);
    }
    // What the users list sorts by and what the usage screen's top users read: both follow
    // the rows just stored.
    mama.db
        .write(move |c| rollup::refresh_user_rollups(c, today, from).map(drop))
        .await?;
    ranked::refresh(&mama.db, today).await?;
    done.collection = mama.db.read(store::collection).await?;
    Ok(done)
}

fn days_between(start: NaiveDate, end: NaiveDate) -> u32 {
    u32::try_from((end - start).num_days() + 1).unwrap_or(0)
}

/// Every page of `start..=end`, merged by (day, key, model).
async fn fetch(
    client: &dyn LiteLlm,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(HashMap<EntryKey, Usage>, u32), CollectError> {
    let mut merged = HashMap::new();
    let mut page = 1;
    loop {
        let answer = client
            .daily_activity(start, end, page, MAX_PAGE_SIZE)
            .await?;
        let more = answer.has_more && !answer.entries.is_empty();
        merge(&mut merged, answer.entries);
        if !more {
            return Ok((merged, page));
        }
        if page >= MAX_PAGES {
            return Err(CollectError::EndlessPaging);
        }
        page += 1;
    }
}

/// Attributes the entries of `start..=end` and replaces those days' rows, in the caller's
/// transaction. Returns the rows stored and the entries of keys mama never minted.
fn store_days(
    conn: &mut db::DbConn,
    start: NaiveDate,
    end: NaiveDate,
    entries: HashMap<EntryKey, Usage>,
) -> Result<(u64, u64), DbError> {
    let hashes: Vec<String> = entries
        .keys()
        .map(|(_, hash, _)| hash.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let owners = store::owners(conn, &hashes)?;
    let users: Vec<String> = owners
        .values()
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let organizations = store::organizations(conn, &users)?;
    let mut daily: HashMap<(NaiveDate, &str, String), Usage> = HashMap::new();
    let mut other: HashMap<(NaiveDate, String), Usage> = HashMap::new();
    let mut others = 0;
    for ((day, hash, model), usage) in entries {
        match owners.get(&hash) {
            Some(user) => daily
                .entry((day, user.as_str(), model))
                .or_default()
                .add(&usage),
            None => {
                others += 1;
                other.entry((day, model)).or_default().add(&usage)
            }
        }
    }
    let daily: Vec<DailyRow> = daily
        .into_iter()
        .map(|((day, user, model), usage)| {
            let organization = organizations.get(user).cloned().unwrap_or_default();
            DailyRow::new(day, user.to_string(), model, organization, &usage)
        })
        .collect();
    let other: Vec<OtherRow> = other
        .into_iter()
        .map(|((day, model), usage)| OtherRow::new(day, model, &usage))
        .collect();
    store::replace_days(conn, start, end, &daily, &other)?;
    Ok((daily.len() as u64, others))
}
