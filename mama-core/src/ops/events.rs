//! Reading the event log (itself a view, and recorded as one), and deleting what is past the
//! retention period (itself a change, and recorded as one).

use super::auth::AdminSession;
use super::{audit_failed, Ctx, Mama, OpResult};
use crate::api::actions;
use crate::api::rpc::{method, Method};
use crate::api::types::{EventList, EventView, ListEventsParams, Page};
use crate::api::ApiError;
use crate::db::events::{self, EventRow};

fn view(row: EventRow) -> EventView {
    let user_ids = match row.user_ids_json() {
        Ok(json) => serde_json::from_str::<Vec<String>>(&json).unwrap_or_default(),
        Err(e) => {
            // Shown without its ids rather than failing the whole page.
            tracing::error!(event = %row.id, error = %e, "event user ids unreadable");
            Vec::new()
        }
    };
    EventView {
        user_ids: user_ids
            .into_iter()
            .take(crate::db::events::LISTED_USER_IDS)
            .collect(),
        id: row.id,
        at: row.at.and_utc(),
        actor_kind: row.actor_kind,
        actor: row.actor,
        channel: row.channel,
        action: row.action,
        target_count: row.target_count,
        target_filter: row.target_filter,
        result: row.result,
        error_code: row.error_code,
        error_message: row.error_message,
        client: row.client,
        request_id: row.request_id,
        duration_ms: row.duration_ms,
        detail: row.detail,
    }
}

impl Mama {
    pub async fn list_events(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: ListEventsParams,
    ) -> OpResult<EventList> {
        let event = ctx.event(method::EventsList::ACTION).filter(&params.filter);
        let result = match self.scope_events(s, params).await {
            Ok(Some(params)) => self.list_events_inner(params).await,
            Ok(None) => Ok(EventList {
                events: Vec::new(),
                matching: 0,
                offset: 0,
                limit: 0,
            }),
            Err(err) => Err(err),
        };
        self.finish_read(event, result, |e, list| e.count(list.events.len() as u64))
            .await
    }

    /// The events a scoped account may read: the history of one of its organizations' users
    /// (`filter.user_id`), or else its own actions — never the whole log, whose events name
    /// users of every organization. `None`: nothing it may read matches.
    async fn scope_events(
        &self,
        s: &AdminSession,
        mut params: ListEventsParams,
    ) -> OpResult<Option<ListEventsParams>> {
        let Some(orgs) = s.scope() else {
            return Ok(Some(params));
        };
        if let Some(user) = params.filter.user_id.clone() {
            let row = self
                .db
                .read(move |conn| crate::db::users::find(conn, &user))
                .await
                .map_err(ApiError::from)?;
            let visible = row.is_some_and(|r| orgs.contains(&r.organization));
            return Ok(visible.then_some(params));
        }
        match &params.filter.actor {
            Some(actor) if *actor != s.username => Ok(None),
            _ => {
                params.filter.actor = Some(s.username.clone());
                Ok(Some(params))
            }
        }
    }

    async fn list_events_inner(&self, params: ListEventsParams) -> OpResult<EventList> {
        let Page { offset, limit } = params.page;
        if limit == 0 || limit > Page::MAX_LIMIT {
            return Err(ApiError::invalid(
                "page.limit",
                format!("must be 1 to {}", Page::MAX_LIMIT),
            ));
        }
        if let Some(result) = &params.filter.result {
            if result != "ok" && result != "error" {
                return Err(ApiError::invalid(
                    "filter.result",
                    "must be \"ok\" or \"error\"",
                ));
            }
        }
        if let Some(user) = &params.filter.user_id {
            crate::domain::validate::user_id(user)
                .map_err(|msg| ApiError::invalid("filter.user_id", msg))?;
        }
        let filter = params.filter;
        let (rows, matching) = self
            .db
            .read(move |conn| events::list(conn, &filter, offset, limit))
            .await
            .map_err(ApiError::from)?;
        Ok(EventList {
            events: rows.into_iter().map(view).collect(),
            matching,
            offset,
            limit,
        })
    }
}

impl Mama {
    /// Deletes the events recorded more than `retention` ago, a batch per transaction, and
    /// records what went as one `events.pruned` event (none when nothing was old enough), so
    /// the log says how far back it reaches and why.
    pub async fn prune_events(&self, retention: chrono::Duration) -> OpResult<u64> {
        let cutoff = crate::db::now() - retention;
        let mut total: u64 = 0;
        loop {
            let deleted = self
                .db
                .write(move |conn| events::prune_batch(conn, cutoff))
                .await
                .map_err(ApiError::from)?;
            total += deleted as u64;
            if deleted < events::PRUNE_BATCH as usize {
                break;
            }
            // Writers get their turn between batches.
            tokio::task::yield_now().await;
        }
        if total > 0 {
            let event = Ctx::system("retention")
                .event(actions::EVENTS_PRUNED)
                .count(total)
                .detail(format!(
                    "deleted {total} events recorded before {} UTC (kept {} days)",
                    cutoff.format("%Y-%m-%d %H:%M:%S"),
                    retention.num_days()
                ))
                .ok();
            self.audit.record(event).await.map_err(|_| audit_failed())?;
        }
        Ok(total)
    }
}
