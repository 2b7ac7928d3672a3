//! Keeping the event log's disk bounded: events older than the retention period are deleted at
//! start and then every hour (see `--events-retention-days` and docs/deploy.md §9).

use std::time::Duration;

use mama_core::ops::Mama;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often old events are looked for.
const EVERY: Duration = Duration::from_secs(3600);

/// Starts the pruning task, unless events are kept forever.
pub fn spawn(mama: Mama, retention: Option<chrono::Duration>) -> Option<JoinHandle<()>> {
    let retention = retention?;
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            match mama.prune_events(retention).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "deleted events past the retention period"),
                // Nothing is lost by waiting: the next round deletes what this one did not.
                Err(err) => tracing::warn!(
                    error = %err.message,
                    "could not delete events past the retention period; trying again in an hour"
                ),
            }
        }
    }))
}
