//! The reconciler: compares what LiteLLM holds under mama's alias prefix with the database and
//! repairs drift: a key missing in LiteLLM is recreated, and every field mama owns on a key
//! (models, alias, user id, team, blocked, metadata; see [`super::wanted`]) that was changed
//! behind mama's back is set back, both by queueing a sync so the worker's rules apply. Failed
//! users (and pending users with nothing queued) are tried again, the configured team is kept
//! restricted to its configured models, and orphan keys (mama's prefix, held by no user) older
//! than a minimum age are deleted. Each repair is an event naming what differed.
//!
//! Only users that were `active` with nothing queued *before* LiteLLM was listed are judged, so
//! a key created while the listing runs is never taken for missing.

use crate::api::actions;
use crate::api::rpc::{method, Method};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::Utc;
use diesel::prelude::*;

use super::marks::{is_mamas, may_be_our_orphan, CHANGED_BY};
use super::wanted::{KeyField, KeyTerms, WantedKey};
use super::{store, team, Engine};
use crate::api::types::{KeyStatus as UserKeyStatus, ReconcileSummary};
use crate::api::{ApiError, ErrorCode};
use crate::db::schema::users;
use crate::db::users::limits::LimitColumns;
use crate::db::users::StoredKeyStatus;
use crate::db::{self, events, outbox, DbConn, DbError, PooledConn};
use crate::domain::NameSet;
use crate::litellm::{KeyInfo, ListKeys, LiteLlmError};
use crate::ops::{Ctx, Mama};

/// Page size of `/key/list` and a bound on pages, so a misbehaving proxy cannot loop us forever.
const PAGE_SIZE: u32 = 100;
const MAX_PAGES: u32 = 100_000;
/// PostgreSQL advisory lock key of the reconciler ("mamr").
const PG_RECONCILE_LOCK: i64 = 0x6d_61_6d_72;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("another reconcile is running")]
    Busy,
    #[error("LiteLLM could not be read: {0}")]
    LiteLlm(#[from] LiteLlmError),
    #[error("database: {0}")]
    Db(#[from] DbError),
}

impl From<ReconcileError> for ApiError {
    fn from(err: ReconcileError) -> Self {
        match err {
            ReconcileError::Busy => {
                ApiError::new(ErrorCode::Conflict, "a reconcile is already running")
            }
            ReconcileError::LiteLlm(e) => ApiError::new(
                ErrorCode::Unavailable,
                format!("LiteLLM could not be read: {e}"),
            ),
            ReconcileError::Db(e) => ApiError::from(e),
        }
    }
}

struct Snapshot {
    id: String,
    key_hash: Option<String>,
    models: String,
    status: UserKeyStatus,
    /// The limits and suspension LiteLLM must hold for the key.
    terms: KeyTerms,
    spend: Option<f64>,
}

/// Holds the PostgreSQL session lock for as long as it lives on its own connection.
struct PgLock(PooledConn);

async fn pg_lock(mama: &Mama) -> Result<Option<PgLock>, ReconcileError> {
    if mama.db.backend() != db::Backend::Postgres {
        return Ok(Some(PgLock(mama.db.conn()?)));
    }
    let db = mama.db.clone();
    let got = tokio::task::spawn_blocking(move || -> Result<Option<PgLock>, DbError> {
        let mut conn = db.conn()?;
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        let locked = match &mut *conn {
            DbConn::Pg(pg) => {
                diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                    .bind::<diesel::sql_types::BigInt, _>(PG_RECONCILE_LOCK)
                    .get_result::<Locked>(pg)?
                    .locked
            }
            DbConn::Sqlite(_) => true,
        };
        Ok(locked.then_some(PgLock(conn)))
    })
    .await
    .map_err(|e| DbError::Unavailable(e.to_string()))??;
    Ok(got)
}

async fn pg_unlock(lock: PgLock) {
    let _ = tokio::task::spawn_blocking(move || {
        let mut conn = lock.0;
        if let DbConn::Pg(pg) = &mut *conn {
            let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<diesel::sql_types::BigInt, _>(PG_RECONCILE_LOCK)
                .execute(pg);
        }
    })
    .await;
}

/// Runs one reconcile; `Busy` when another one (here or in another daemon) is running.
pub async fn run(
    mama: &Mama,
    engine: &Engine,
    ctx: &Ctx,
) -> Result<ReconcileSummary, ReconcileError> {
    let _local = mama
        .sync
        .shared
        .reconciling
        .try_lock()
        .map_err(|_| ReconcileError::Busy)?;
    let Some(lock) = pg_lock(mama).await? else {
        return Err(ReconcileError::Busy);
    };
    let result = reconcile(mama, engine, ctx).await;
    pg_unlock(lock).await;
    if result.is_ok() {
        *super::lock(&mama.sync.shared.last_reconcile) = Some(Utc::now());
    }
    let event = ctx.event(method::SyncReconcile::ACTION);
    match &result {
        Ok(summary) => {
            let drift: u64 = summary.drift.values().sum();
            let detail = format!(
                "keys seen {}, recreated {}, drift repaired {}, retried {}, orphans deleted {}, errors {}",
                summary.keys_seen,
                summary.recreated,
                drift,
                summary.retried,
                summary.orphans_deleted,
                summary.errors.len()
            );
            if mama.audit.record(event.detail(detail).ok()).await.is_err() {
                tracing::warn!("could not record the reconcile event");
            }
        }
        Err(err) => {
            mama.audit
                .record_failure(
                    event.failed(&ApiError::new(ErrorCode::Unavailable, err.to_string())),
                )
                .await
        }
    }
    result
}

async fn reconcile(
    mama: &Mama,
    engine: &Engine,
    ctx: &Ctx,
) -> Result<ReconcileSummary, ReconcileError> {
    let (rows, previous, queued) = mama
        .db
        .read(|c| {
            #[allow(clippy::type_complexity)]
            let rows: Vec<(
                String,
                Option<String>,
                String,
                StoredKeyStatus,
                LimitColumns,
                Option<chrono::NaiveDateTime>,
                Option<f64>,
            )> = users::table
                .select((
                    users::id,
                    users::key_hash,
                    users::models,
                    users::key_status,
                    LimitColumns::as_select(),
                    users::suspended_at,
                    users::spend,
                ))
                .load(c)?;
            // Keys a rotation still serves, or whose grace runs: never orphans, whatever their
            // alias says (a retiring key's deletion is already queued for the end of its grace).
            let mut previous: Vec<Option<String>> = users::table
                .filter(users::prev_key_hash.is_not_null())
                .select(users::prev_key_hash)
                .load(c)?;
            previous.extend(
                users::table
                    .filter(users::retiring_key_hash.is_not_null())
                    .select(users::retiring_key_hash)
                    .load::<Option<String>>(c)?,
            );
            // And any key whose deletion is queued (an older retiring key, for one): it goes
            // when its operation runs, not earlier.
            previous.extend(
                crate::db::schema::outbox::table
                    .filter(crate::db::schema::outbox::kind.eq(outbox::KIND_DELETE))
                    .select(crate::db::schema::outbox::key_hash)
                    .load::<Option<String>>(c)?,
            );
            // A trashed user's key is blocked, not an orphan: a restore brings it back.
            previous.extend(
                crate::db::schema::users_trash::table
                    .select(crate::db::schema::users_trash::key_hash)
                    .load::<Option<String>>(c)?,
            );
            let queued = outbox::users_in_queue(c)?;
            Ok::<_, DbError>((rows, previous, queued))
        })
        .await?;
    let snapshot: HashMap<String, Snapshot> = rows
        .into_iter()
        .map(
            |(id, key_hash, models, status, limits, suspended_at, spend)| {
                let terms = KeyTerms {
                    limits: crate::domain::limits::on_key(&limits.limits().values),
                    suspended: suspended_at.is_some(),
                };
                (
                    id.clone(),
                    Snapshot {
                        id,
                        key_hash,
                        models,
                        status: status.into(),
                        terms,
                        spend,
                    },
                )
            },
        )
        .collect();
    let by_hash: HashMap<&str, &Snapshot> = snapshot
        .values()
        .filter_map(|u| u.key_hash.as_deref().map(|h| (h, u)))
        .collect();
    let previous: HashSet<String> = previous.into_iter().flatten().collect();

    let mut summary = ReconcileSummary::default();
    let (teams_managed, team_id) = {
        let _one_at_a_time = mama.sync.team_lock().lock().await;
        check_team(engine, &mut summary).await
    };
    if teams_managed {
        if let Some(id) = &team_id {
            mama.sync.cache_team(id.clone());
        }
    }
    let prefix = engine.config.alias_prefix.as_str();
    let (mine, pages) = list_mamas_keys(engine, prefix).await?;
    summary.keys_seen = mine.len() as u64;
    summary.pages_read = pages;
    // What each key spent in its current period comes with the listing: kept where it moved.
    let spends: Vec<(String, f64)> = mine
        .iter()
        .filter_map(|key| {
            let u = by_hash.get(key.token.as_str())?;
            let moved = u.spend.is_none_or(|s| (s - key.spend).abs() > 1e-12);
            moved.then(|| (u.id.clone(), key.spend))
        })
        .collect();
    summary.spend_updated = spends.len() as u64;
    if !spends.is_empty() {
        mama.db
            .write(move |c| store::record_spend(c, &spends, db::now()))
            .await?;
    }

    let mut live: HashSet<&str> = HashSet::new();
    let mut drift: BTreeMap<KeyField, Vec<String>> = BTreeMap::new();
    let mut orphans = Vec::new();
    let min_age = chrono::Duration::from_std(engine.config.orphan_min_age).unwrap_or_default();
    let settled = |u: &Snapshot| u.status == UserKeyStatus::Active && !queued.contains(&u.id);
    for key in &mine {
        live.insert(key.token.as_str());
        // The owner is found by the key itself, not by its alias: an alias renamed behind
        // mama's back is drift to repair, not an orphan.
        if let Some(u) = by_hash.get(key.token.as_str()) {
            if !settled(u) {
                continue;
            }
            let models = NameSet::from_json(&u.models).unwrap_or_default();
            // Without a known team id the team cannot be judged this time: leave it out.
            let judged_team = teams_managed && team_id.is_some();
            let wanted = WantedKey::new(prefix, &u.id, &models, judged_team, team_id.clone())
                .with_terms(u.terms.clone());
            for field in wanted.differences(key) {
                drift.entry(field).or_default().push(u.id.clone());
            }
        } else if !previous.contains(&key.token)
            && may_be_our_orphan(key.key_alias.as_deref(), &key.metadata, prefix)
        {
            let old = key.created_at.is_some_and(|t| Utc::now() - t >= min_age);
            if old {
                orphans.push(key.token.clone());
            }
        }
    }
    let missing: Vec<String> = snapshot
        .values()
        .filter(|u| settled(u))
        .filter(|u| u.key_hash.as_deref().is_some_and(|h| !live.contains(h)))
        .map(|u| u.id.clone())
        .collect();
    // A failed user is tried again at every reconcile (its cause may be gone: LiteLLM back, an
    // alias freed, a team configured), and a pending user with nothing queued would otherwise
    // wait forever.
    let stalled: Vec<String> = snapshot
        .values()
        .filter(|u| !queued.contains(&u.id) && u.key_hash.is_some())
        .filter(|u| u.status == UserKeyStatus::Failed || u.status == UserKeyStatus::Pending)
        .map(|u| u.id.clone())
        .collect();

    for token in &orphans {
        match engine
            .client
            .delete_keys(CHANGED_BY, std::slice::from_ref(token))
            .await
        {
            Ok(()) | Err(LiteLlmError::NotFound { .. }) => summary.orphans_deleted += 1,
            Err(e) => summary.errors.push(format!("deleting an orphan key: {e}")),
        }
    }
    summary.recreated = missing.len() as u64;
    summary.retried = stalled.len() as u64;
    summary.models_repushed = drift
        .get(&KeyField::Models)
        .map_or(0, |ids| ids.len() as u64);
    summary.drift = drift
        .iter()
        .map(|(field, ids)| (field.name().to_string(), ids.len() as u64))
        .collect();
    let mut repairs = Vec::new();
    if !missing.is_empty() {
        repairs.push(
            ctx.event(actions::SYNC_RECONCILE_RECREATE)
                .users(missing.clone())
                .detail("key missing in LiteLLM; queued for re-creation")
                .ok(),
        );
    }
    for (field, ids) in &drift {
        repairs.push(
            ctx.event(actions::SYNC_RECONCILE_DRIFT)
                .users(ids.clone())
                .detail(format!(
                    "{} in LiteLLM differs from mama's; queued for repair",
                    field.name()
                ))
                .ok(),
        );
    }
    if !stalled.is_empty() {
        repairs.push(
            ctx.event(actions::SYNC_RECONCILE_RETRY)
                .users(stalled.clone())
                .detail("failed or stalled in LiteLLM sync; queued to be tried again")
                .ok(),
        );
    }
    if summary.orphans_deleted > 0 {
        repairs.push(
            ctx.event(actions::SYNC_RECONCILE_ORPHAN)
                .count(summary.orphans_deleted)
                .detail("deleted LiteLLM keys with mama's alias prefix held by no user")
                .ok(),
        );
    }
    if summary.team_restricted {
        repairs.push(
            ctx.event(actions::SYNC_RECONCILE_TEAM)
                .detail("the team's models in LiteLLM differed from the configured ones; set back")
                .ok(),
        );
    }
    if !repairs.is_empty() {
        let mut ids: BTreeSet<String> = missing.into_iter().collect();
        ids.extend(drift.into_values().flatten());
        ids.extend(stalled);
        let ids: Vec<String> = ids.into_iter().collect();
        mama.db
            .write(move |c| {
                store::requeue(c, &ids, db::now())?;
                events::insert(c, &repairs)?;
                Ok::<_, DbError>(())
            })
            .await?;
    }
    Ok(summary)
}

/// Makes the configured team hold exactly the configured models. Returns whether teams are
/// managed, and the team's id when it could be checked (an error is reported in the summary:
/// the keys' other fields are still judged).
async fn check_team(engine: &Engine, summary: &mut ReconcileSummary) -> (bool, Option<String>) {
    if !engine.config.has_team() {
        return (false, None);
    }
    match team::ensure_restricted(engine).await {
        Ok(check) => {
            summary.team_restricted = check.restricted;
            (true, Some(check.team_id))
        }
        Err(e) => {
            summary.errors.push(format!("checking the team: {e}"));
            (true, None)
        }
    }
}

/// Every live LiteLLM key that is mama's: alias with mama's prefix, or mama's metadata mark.
/// (`/key/list` filters aliases by exact match only, so the prefix is checked here.)
async fn list_mamas_keys(
    engine: &Engine,
    prefix: &str,
) -> Result<(Vec<KeyInfo>, u64), LiteLlmError> {
    let mut keys = Vec::new();
    let mut page = 1;
    loop {
        let query = ListKeys {
            page,
            size: PAGE_SIZE,
            ..ListKeys::default()
        };
        let answer = engine.client.list_keys(&query).await?;
        let empty = answer.keys.is_empty();
        keys.extend(answer.keys.into_iter().filter(|k| {
            k.key_alias
                .as_deref()
                .is_some_and(|a| a.starts_with(prefix))
                || is_mamas(&k.metadata)
        }));
        if empty || page >= answer.total_pages || page >= MAX_PAGES {
            break;
        }
        page += 1;
    }
    Ok((keys, u64::from(page)))
}
