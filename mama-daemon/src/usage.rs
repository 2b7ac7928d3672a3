//! The periodic usage collection: at start, then every `--usage-interval-secs`, only when
//! LiteLLM is configured. The collector itself (which days, how they are stored, one at a time
//! across daemons) is `mama_core::usage::collect`.

use std::time::Duration;

use mama_core::ops::{Ctx, Mama};
use mama_core::usage::collect::{self, CollectError};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

pub fn spawn(mama: Mama, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(engine) = mama.sync.engine().cloned() else {
            return;
        };
        let mut ticks = tokio::time::interval(every);
        // A long backfill is followed by a full interval of rest, not by another run at once.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let ctx = Ctx::system(format!("usage-{}", uuid::Uuid::now_v7()));
            match collect::run(&mama, &engine, &ctx).await {
                Ok(done) => tracing::info!(
                    from = ?done.from,
                    to = ?done.to,
                    pages = done.pages,
                    rows = done.rows,
                    "usage collected"
                ),
                Err(CollectError::Busy) => tracing::debug!("usage collection already running"),
                // Nothing is lost by waiting: the days not yet final are read again next time.
                Err(e) => tracing::warn!(error = %e, "usage collection failed; trying again later"),
            }
        }
    })
}
