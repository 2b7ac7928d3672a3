//! The minute tasks. Scheduled key rotation: users whose `rotation_every` has passed since their
//! last rotation get a new key, with the same grace as a rotation an admin asks for; on several
//! daemons sharing PostgreSQL each due key is still rotated once (see `Mama::rotate_due`). And
//! passed expiries are marked for the status sort (`Mama::mark_passed_expiries`).

use std::time::Duration;

use mama_core::ops::Mama;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often due keys are looked for: a key is rotated at most this late.
const EVERY: Duration = Duration::from_secs(60);

pub fn spawn(mama: Mama) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match mama.mark_passed_expiries().await {
                Ok(0) => {}
                Ok(marked) => tracing::debug!(marked, "marked passed expiries"),
                Err(err) => tracing::warn!(
                    error = %err.message,
                    "could not mark passed expiries; trying again in a minute"
                ),
            }
            match mama.rotate_due().await {
                Ok(0) => {}
                Ok(rotated) => tracing::info!(rotated, "rotated keys due by rotation_every"),
                // Nothing is lost by waiting: a key still due is rotated by the next round.
                Err(err) => tracing::warn!(
                    error = %err.message,
                    "could not rotate the keys due; trying again in a minute"
                ),
            }
        }
    })
}
