//! The sync's admin use cases: `sync.status`, `sync.reconcile` and `sync.retry_failed`. The
//! worker and the reconciler themselves live in [`crate::sync`]; these report on them and start
//! them, and each records its event like every other use case.

use super::auth::{audit_or, AdminSession};
use super::context::EventBuilder;
use super::users::{check_id_list, dedup, MAX_USERS_PER_CALL};
use super::{Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{
    FailedRetried, KeyStatus, ReconcileSummary, RetryFailedParams, SyncStatus,
};
use crate::api::{ApiError, ErrorCode};
use crate::db::users as user_db;
use crate::db::{self, events, outbox, DbError};
use crate::sync::{reconcile, store, Engine};

impl Mama {
    /// The LiteLLM connection; a daemon started without one refuses the calls that need it.
    pub(crate) fn configured_engine(&self) -> OpResult<&Engine> {
        self.sync.engine().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "LiteLLM is not configured on this daemon (--litellm-url, --litellm-master-key-file)",
            )
        })
    }

    /// `sync.status`: queue depth, pending and failed users, LiteLLM's last known reachability.
    pub async fn sync_status(&self, ctx: &Ctx, s: &AdminSession) -> OpResult<SyncStatus> {
        // A scoped account sees the sync of its organizations' users only.
        let scope = s.scope();
        let result = self
            .db
            .read(move |c| match &scope {
                None => Ok::<_, DbError>((
                    outbox::depth(c)?,
                    user_db::count_by_status(c, KeyStatus::Pending)?,
                    user_db::count_by_status(c, KeyStatus::Failed)?,
                    outbox::scheduled(c)?,
                )),
                Some(orgs) => {
                    let (depth, scheduled) = outbox::depth_and_scheduled_within(c, orgs)?;
                    let count = |c: &mut crate::db::DbConn, status| {
                        let filter = crate::api::types::UserFilter {
                            key_status: Some(status),
                            scope: Some(orgs.clone()),
                            ..Default::default()
                        };
                        user_db::counts(c, &filter, None).map(|(_, n)| n)
                    };
                    let pending = count(c, KeyStatus::Pending)?;
                    let failed = count(c, KeyStatus::Failed)?;
                    Ok((depth, pending, failed, scheduled))
                }
            })
            .await
            .map_err(ApiError::from)
            .map(
                |(queue_depth, users_pending, users_failed, keys_in_grace)| {
                    let link = self.sync.link();
                    SyncStatus {
                        configured: self.sync.engine().is_some(),
                        team_configured: self.team_configured(),
                        litellm_reachable: link.reachable,
                        litellm_error: link.error,
                        queue_depth,
                        users_pending,
                        users_failed,
                        last_reconcile_at: self.sync.last_reconcile(),
                        keys_in_grace,
                    }
                },
            );
        self.finish_poll(ctx.event(method::SyncStatus::ACTION), result)
            .await
    }

    /// `sync.reconcile`: runs the reconciler now and returns what it repaired.
    pub async fn sync_reconcile(&self, ctx: &Ctx, _s: &AdminSession) -> OpResult<ReconcileSummary> {
        let engine = match self.configured_engine() {
            Ok(engine) => engine.clone(),
            Err(err) => {
                self.audit
                    .record_failure(ctx.event(method::SyncReconcile::ACTION).failed(&err))
                    .await;
                return Err(err);
            }
        };
        // The reconciler records its own event (ok or failed).
        reconcile::run(self, &engine, ctx)
            .await
            .map_err(ApiError::from)
    }

    /// `sync.retry_failed`: queues failed users (all, or those among `ids`) to be tried again at
    /// once, in one transaction with the event. They show `pending` (keeping their last reason)
    /// until the worker settles them.
    pub async fn retry_failed(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: RetryFailedParams,
    ) -> OpResult<FailedRetried> {
        let event = ctx.event(method::SyncRetryFailed::ACTION);
        let result = self.retry_failed_inner(event.clone(), params).await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn retry_failed_inner(
        &self,
        event: EventBuilder,
        params: RetryFailedParams,
    ) -> OpResult<FailedRetried> {
        self.configured_engine()?;
        let among = match params.ids {
            Some(ids) => {
                check_id_list("ids", &ids, MAX_USERS_PER_CALL)?;
                Some(dedup(ids))
            }
            None => None,
        };
        self.db
            .write(move |conn| {
                let ids = user_db::ids_with_status(conn, KeyStatus::Failed, among.as_deref())?;
                store::requeue(conn, &ids, db::now())?;
                let retried = ids.len() as u64;
                let event = event
                    .users(ids)
                    .detail(format!("{retried} failed users queued to be tried again"));
                events::insert(conn, &[event.ok()])?;
                Ok::<_, DbError>(FailedRetried { retried })
            })
            .await
            .map_err(audit_or)
    }
}
