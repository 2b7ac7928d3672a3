//! `usage.refresh`: one collection now (see [`crate::usage::collect`]).

use crate::api::rpc::{method, Method};
use crate::api::types::UsageRefreshed;
use crate::api::ApiError;
use crate::ops::auth::AdminSession;
use crate::ops::{Ctx, Mama, OpResult};
use crate::usage::collect;

impl Mama {
    /// `usage.refresh`: collects the days not yet final now and reports what it stored. A
    /// conflict while another collection runs (here or in another daemon): ask again after it.
    pub async fn usage_refresh(&self, ctx: &Ctx, _s: &AdminSession) -> OpResult<UsageRefreshed> {
        let engine = match self.configured_engine() {
            Ok(engine) => engine.clone(),
            Err(err) => {
                self.audit
                    .record_failure(ctx.event(method::UsageRefresh::ACTION).failed(&err))
                    .await;
                return Err(err);
            }
        };
        // The collector records the event of a collection it ran (ok or failed).
        match collect::run(self, &engine, ctx).await {
            Ok(done) => Ok(done),
            Err(collect::CollectError::Busy) => {
                let err = ApiError::from(collect::CollectError::Busy);
                self.audit
                    .record_failure(ctx.event(method::UsageRefresh::ACTION).failed(&err))
                    .await;
                Err(err)
            }
            Err(err) => Err(ApiError::from(err)),
        }
    }
}
