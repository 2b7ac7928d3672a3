//! Emptying the trash: users whose time in the trash ran out (`--trash-days`) are deleted for
//! good with their keys, at start and then every minute.

use std::time::Duration;

use mama_core::ops::Mama;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often the trash is looked at: a user leaves it within a minute of its time.
const EVERY: Duration = Duration::from_secs(60);

pub fn spawn(mama: Mama) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            match mama.purge_due_trash().await {
                Ok(0) => {}
                Ok(purged) => {
                    tracing::info!(purged, "purged users whose time in the trash ran out")
                }
                // Nothing is lost by waiting: the next round purges what this one did not.
                Err(err) => tracing::warn!(
                    error = %err.message,
                    "could not purge the trash; trying again in a minute"
                ),
            }
        }
    })
}
