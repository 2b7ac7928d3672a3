//! The write side of usage: key hashes as keys are minted, a collected day's rows replacing the
//! stored ones, and the collector's progress. Every function runs in the caller's transaction.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::api::types::{BackfillProgress, Usage, UsageCollection};
use crate::db::schema::{key_hashes, usage_collector, usage_daily, usage_other, users};
use crate::db::{DbConn, DbError, CHUNK};

/// Rows per multi-row insert of usage: big days go out in few statements, each well under both
/// backends' bind limits (10 columns × 500 rows).
const ROWS_PER_INSERT: usize = 500;

/// Records keys mama just minted, as (hash, user id): their usage counts for that user from now
/// on, whatever becomes of the key. A hash already known is left as it is.
pub fn record_keys(
    conn: &mut DbConn,
    keys: &[(String, String)],
    minted_at: NaiveDateTime,
) -> Result<(), DbError> {
    let rows: Vec<_> = keys
        .iter()
        .map(|(hash, user)| {
            (
                key_hashes::key_hash.eq(hash),
                key_hashes::user_id.eq(user),
                key_hashes::minted_at.eq(minted_at),
            )
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(key_hashes::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Notes when keys stopped being served (deleted, or replaced and past their grace). Their
/// usage keeps counting for their user; a key already retired keeps its first date.
pub fn retire_keys(conn: &mut DbConn, hashes: &[String], at: NaiveDateTime) -> Result<(), DbError> {
    for chunk in hashes.chunks(CHUNK) {
        diesel::update(
            key_hashes::table
                .filter(key_hashes::key_hash.eq_any(chunk))
                .filter(key_hashes::retired_at.is_null()),
        )
        .set(key_hashes::retired_at.eq(Some(at)))
        .execute(conn)?;
    }
    Ok(())
}

/// The mama user each of `hashes` was minted for; hashes mama never minted are absent.
pub fn owners(conn: &mut DbConn, hashes: &[String]) -> Result<HashMap<String, String>, DbError> {
    let mut found = HashMap::with_capacity(hashes.len());
    for chunk in hashes.chunks(CHUNK) {
        let rows: Vec<(String, String)> = key_hashes::table
            .filter(key_hashes::key_hash.eq_any(chunk))
            .select((key_hashes::key_hash, key_hashes::user_id))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// The organization usage of each user is counted under: the user's own, or for a deleted user
/// the one its latest stored usage carries ('' when it has none).
pub fn organizations(
    conn: &mut DbConn,
    user_ids: &[String],
) -> Result<HashMap<String, String>, DbError> {
    let mut found = HashMap::with_capacity(user_ids.len());
    for chunk in user_ids.chunks(CHUNK) {
        let rows: Vec<(String, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::organization))
            .load(conn)?;
        found.extend(rows);
    }
    for user in user_ids {
        if found.contains_key(user) {
            continue;
        }
        let last: Option<String> = usage_daily::table
            .filter(usage_daily::user_id.eq(user))
            .order(usage_daily::day.desc())
            .select(usage_daily::organization)
            .first(conn)
            .optional()?;
        found.insert(user.clone(), last.unwrap_or_default());
    }
    Ok(found)
}

/// One stored day × user × model.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = usage_daily)]
pub struct DailyRow {
    pub day: NaiveDate,
    pub user_id: String,
    pub model: String,
    pub organization: String,
    pub spend: f64,
    pub successful_requests: i64,
    pub failed_requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

/// One stored day × model of keys that are not mama's.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = usage_other)]
pub struct OtherRow {
    pub day: NaiveDate,
    pub model: String,
    pub spend: f64,
    pub successful_requests: i64,
    pub failed_requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl DailyRow {
    pub fn new(
        day: NaiveDate,
        user_id: String,
        model: String,
        organization: String,
        u: &Usage,
    ) -> Self {
        DailyRow {
            day,
            user_id,
            model,
            organization,
            spend: u.spend,
            successful_requests: stored(u.successful_requests),
            failed_requests: stored(u.failed_requests),
            prompt_tokens: stored(u.prompt_tokens),
            completion_tokens: stored(u.completion_tokens),
            total_tokens: stored(u.total_tokens),
        }
    }
}

impl OtherRow {
    pub fn new(day: NaiveDate, model: String, u: &Usage) -> Self {
        OtherRow {
            day,
            model,
            spend: u.spend,
            successful_requests: stored(u.successful_requests),
            failed_requests: stored(u.failed_requests),
            prompt_tokens: stored(u.prompt_tokens),
            completion_tokens: stored(u.completion_tokens),
            total_tokens: stored(u.total_tokens),
        }
    }
}

/// Replaces everything stored for the days `from..=to` with these rows (and their rollup per
/// organization and model): reading a day again gives the same rows, never twice the usage.
pub fn replace_days(
    conn: &mut DbConn,
    from: NaiveDate,
    to: NaiveDate,
    daily: &[DailyRow],
    other: &[OtherRow],
) -> Result<(), DbError> {
    diesel::delete(usage_daily::table.filter(usage_daily::day.between(from, to))).execute(conn)?;
    diesel::delete(usage_other::table.filter(usage_other::day.between(from, to))).execute(conn)?;
    for chunk in daily.chunks(ROWS_PER_INSERT) {
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(usage_daily::table)
            .values(chunk)
            .execute(c))?;
    }
    for chunk in other.chunks(ROWS_PER_INSERT) {
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(usage_other::table)
            .values(chunk)
            .execute(c))?;
    }
    super::rollup::refresh_org_days(conn, from, to)
}

/// Where the collector stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CollectorState {
    /// Days up to here are complete and never read again; `None` before the first collection.
    pub final_through: Option<NaiveDate>,
    /// While a backfill runs (also one a crash interrupted): days stored, of how many.
    pub backfill: Option<BackfillProgress>,
}

type StateRow = (Option<NaiveDate>, i32, i32);

fn progress(done: i32, days: i32) -> Option<BackfillProgress> {
    (days > 0).then(|| BackfillProgress {
        days_done: done.clamp(0, days) as u32,
        days: days as u32,
    })
}

pub fn collector_state(conn: &mut DbConn) -> Result<CollectorState, DbError> {
    let row: Option<StateRow> = usage_collector::table
        .filter(usage_collector::id.eq(1))
        .select((
            usage_collector::final_through,
            usage_collector::backfill_days_done,
            usage_collector::backfill_days,
        ))
        .first(conn)
        .optional()?;
    let (final_through, done, days) = row.unwrap_or_default();
    Ok(CollectorState {
        final_through,
        backfill: progress(done, days),
    })
}

/// Saves what a committed part of a collection reached, with its rows.
pub fn save_progress(conn: &mut DbConn, state: &CollectorState) -> Result<(), DbError> {
    let (done, days) = state
        .backfill
        .map(|b| (b.days_done as i32, b.days as i32))
        .unwrap_or((0, 0));
    diesel::update(usage_collector::table.filter(usage_collector::id.eq(1)))
        .set((
            usage_collector::final_through.eq(state.final_through),
            usage_collector::backfill_days_done.eq(done),
            usage_collector::backfill_days.eq(days),
        ))
        .execute(conn)?;
    Ok(())
}

/// A collection completed at `as_of`: the backfill (if any) is over and the last error is gone.
pub fn finish(
    conn: &mut DbConn,
    final_through: Option<NaiveDate>,
    as_of: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(usage_collector::table.filter(usage_collector::id.eq(1)))
        .set((
            usage_collector::as_of.eq(Some(as_of)),
            usage_collector::final_through.eq(final_through),
            usage_collector::backfill_days_done.eq(0),
            usage_collector::backfill_days.eq(0),
            usage_collector::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// A collection failed: why, in mama's words (never LiteLLM's, which may quote secrets). The
/// stored usage and progress stay as they were.
pub fn record_error(conn: &mut DbConn, error: &str) -> Result<(), DbError> {
    diesel::update(usage_collector::table.filter(usage_collector::id.eq(1)))
        .set(usage_collector::last_error.eq(Some(error)))
        .execute(conn)?;
    Ok(())
}

/// The collector's progress as `usage.query` reports it.
pub fn collection(conn: &mut DbConn) -> Result<UsageCollection, DbError> {
    let row: Option<(Option<NaiveDateTime>, i32, i32, Option<String>)> = usage_collector::table
        .filter(usage_collector::id.eq(1))
        .select((
            usage_collector::as_of,
            usage_collector::backfill_days_done,
            usage_collector::backfill_days,
            usage_collector::last_error,
        ))
        .first(conn)
        .optional()?;
    let Some((as_of, done, days, last_error)) = row else {
        return Ok(UsageCollection::default());
    };
    Ok(UsageCollection {
        as_of: as_of.map(|t| t.and_utc()),
        backfill: progress(done, days),
        last_error,
    })
}
