//! Unauthenticated REST refusals, accounted for without letting a flood grow the event log.
//!
//! Every refused request is still counted, but per source (see [`super::throttle::source_of`])
//! and per interval only the first refusal is an event of its own; the rest of the interval's
//! refusals become one event with their count when the interval ends. A source that keeps being
//! refused past [`MAX_PER_WINDOW`] in one interval is answered `too_many_requests` without its
//! token being looked at. Measured before: an unauthenticated client wrote ~10,000 events a
//! second (747 MB of database and WAL in 15 s); now each source costs at most two events per
//! interval, so the log grows with the number of sources, not with the number of requests.
//!
//! The counts of the current interval live in memory: a kill -9 loses at most one interval's
//! aggregate of refused (never of served) requests; SIGTERM flushes them.

use crate::api::actions;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{audit::AuditWriter, throttle, Ctx, Mama};
use crate::api::{ApiError, ErrorCode};

/// Length of one aggregation interval.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Refusals from one source in one interval after which its requests are turned away early.
pub const MAX_PER_WINDOW: u64 = 600;
/// Sources tracked at once; beyond, new sources share one bucket (memory stays bounded).
const MAX_SOURCES: usize = 10_000;
/// The bucket of sources past [`MAX_SOURCES`].
const OVERFLOW: &str = "(other sources)";

/// What to do with one refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The first of its interval from this source: record it as its own event.
    Record,
    /// Counted into the interval's aggregate; no event now.
    Counted,
    /// Counted, and the source is over its limit: answer `too_many_requests` after `retry_after`.
    TooMany { retry_after: Duration },
}

/// An interval that ended with refusals not yet recorded: one aggregate event each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub source: String,
    /// Refusals in the interval beyond the first (which was recorded on its own).
    pub count: u64,
    /// How long ago the interval started.
    pub age: Duration,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    /// Refusals after the first.
    counted: u64,
}

/// Per-source refusal windows.
#[derive(Debug, Default)]
pub struct RefusalLog {
    windows: Mutex<HashMap<String, Window>>,
}

impl RefusalLog {
    /// Accounts for one refusal from `source` at `now`. When this starts a new interval for the
    /// source, the aggregate of its previous interval (if any) comes back to be recorded.
    pub fn refused(&self, source: &str, now: Instant) -> (Refusal, Option<Aggregate>) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let key = if windows.contains_key(source) || windows.len() < MAX_SOURCES {
            source
        } else {
            OVERFLOW
        };
        match windows.get_mut(key) {
            Some(w) if now.duration_since(w.started) < WINDOW => {
                w.counted += 1;
                if w.counted >= MAX_PER_WINDOW {
                    // Counted like the others; answered early, without looking at the token.
                    let retry_after = WINDOW.saturating_sub(now.duration_since(w.started));
                    return (Refusal::TooMany { retry_after }, None);
                }
                (Refusal::Counted, None)
            }
            Some(w) => {
                let ended = (w.counted > 0).then(|| Aggregate {
                    source: key.to_string(),
                    count: w.counted,
                    age: now.duration_since(w.started),
                });
                *w = Window {
                    started: now,
                    counted: 0,
                };
                (Refusal::Record, ended)
            }
            None => {
                windows.insert(
                    key.to_string(),
                    Window {
                        started: now,
                        counted: 0,
                    },
                );
                (Refusal::Record, None)
            }
        }
    }

    /// Takes the aggregates of every interval that ended by `now` (all of them when `all`, at
    /// shutdown) and forgets those sources.
    pub fn drain_ended(&self, now: Instant, all: bool) -> Vec<Aggregate> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut ended = Vec::new();
        windows.retain(|source, w| {
            let age = now.duration_since(w.started);
            if !all && age < WINDOW {
                return true;
            }
            if w.counted > 0 {
                ended.push(Aggregate {
                    source: source.clone(),
                    count: w.counted,
                    age,
                });
            }
            false
        });
        ended
    }
}

/// The event of an interval's refusals after the first.
fn aggregate_event(aggregate: &Aggregate) -> crate::db::events::NewEvent {
    let err = ApiError::new(
        ErrorCode::Unauthenticated,
        "a valid service token is required in the Authorization header (Bearer)",
    );
    Ctx::new(
        super::Actor::Anonymous(None),
        super::Channel::Rest,
        aggregate.source.clone(),
        format!("refusals-{}", uuid::Uuid::now_v7()),
    )
    .event(actions::REST_REFUSED)
    .count(aggregate.count)
    .detail(format!(
        "{} more unauthenticated requests from {} in the {} s before (the first was recorded on its own)",
        aggregate.count,
        aggregate.source,
        aggregate.age.as_secs()
    ))
    .failed(&err)
}

/// Records the aggregates of ended intervals every [`WINDOW`] until the log is dropped.
pub(super) fn start_flusher(log: Weak<RefusalLog>, audit: AuditWriter) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(log) = log.upgrade() else { return };
            for aggregate in log.drain_ended(Instant::now(), false) {
                audit.record_failure(aggregate_event(&aggregate)).await;
            }
        }
    });
}

impl Mama {
    /// Accounts for a REST request refused for want of a valid service token (see the module
    /// doc); returns the error to answer with.
    pub async fn refuse_unauthenticated(
        &self,
        ctx: &Ctx,
        action: actions::Action,
        err: ApiError,
    ) -> ApiError {
        let source = throttle::source_of(&ctx.client);
        let (refusal, ended) = self.refusals.refused(&source, Instant::now());
        if let Some(aggregate) = ended {
            self.audit.record_failure(aggregate_event(&aggregate)).await;
        }
        match refusal {
            Refusal::Record => {
                self.audit
                    .record_failure(ctx.event(action).failed(&err))
                    .await;
                err
            }
            Refusal::Counted => err,
            Refusal::TooMany { retry_after } => ApiError {
                retry_after_secs: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(
                    ErrorCode::TooManyRequests,
                    "too many unauthenticated requests from this address; try again later",
                )
            },
        }
    }

    /// Records every pending aggregate now (at shutdown).
    pub async fn flush_refusals(&self) {
        for aggregate in self.refusals.drain_ended(Instant::now(), true) {
            self.audit.record_failure(aggregate_event(&aggregate)).await;
        }
    }
}

/// Shared handle type of the log.
pub type SharedRefusals = Arc<RefusalLog>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_then_a_count_per_source_and_interval() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        assert_eq!(log.refused("10.0.0.7", t0).0, Refusal::Record);
        for _ in 0..99 {
            assert_eq!(log.refused("10.0.0.7", t0).0, Refusal::Counted);
        }
        assert_eq!(
            log.refused("10.0.0.8", t0).0,
            Refusal::Record,
            "sources apart"
        );
        // The next interval starts with an event, and hands back the last one's count.
        let (first, ended) = log.refused("10.0.0.7", t0 + WINDOW);
        assert_eq!(first, Refusal::Record);
        assert_eq!(ended.expect("aggregate").count, 99);
    }

    #[test]
    fn a_flooding_source_is_turned_away_early_and_still_counted() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        log.refused("203.0.113.5", t0);
        let mut too_many = 0;
        for _ in 0..MAX_PER_WINDOW + 10 {
            if let Refusal::TooMany { retry_after } = log.refused("203.0.113.5", t0).0 {
                assert!(retry_after <= WINDOW);
                too_many += 1;
            }
        }
        assert_eq!(too_many, 11);
        let drained = log.drain_ended(t0 + WINDOW, false);
        assert_eq!(drained.len(), 1);
        assert_eq!(
            drained[0].count,
            MAX_PER_WINDOW + 10,
            "every refusal counted"
        );
    }

    #[test]
    fn draining_keeps_open_intervals_unless_shutting_down() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        log.refused("a", t0);
        log.refused("a", t0);
        assert!(log.drain_ended(t0, false).is_empty());
        let all = log.drain_ended(t0, true);
        assert_eq!(all[0].count, 1);
        assert!(
            log.drain_ended(t0, true).is_empty(),
            "forgotten once drained"
        );
    }
}
