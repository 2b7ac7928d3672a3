//! Which days a collection reads, decided from the stored progress alone (no I/O), so the rules
//! are tested without a proxy.

use chrono::{Days, NaiveDate};

use crate::api::types::BackfillProgress;
use crate::db::usage::store::CollectorState;

/// What one collection reads: `from..=to` (UTC days), and the backfill progress to report while
/// it runs (`None` when this is no backfill).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub progress: Option<BackfillProgress>,
}

/// Days that are never final at the time of reading: today and yesterday.
const OPEN_DAYS: u32 = 2;

/// - First run: `backfill_days` back, today included (at least today and yesterday; 0 disables
///   the backfill), reported as a backfill when it reaches back further than that.
/// - Later runs: from the day after the last final day (any gap since included) through today;
///   a backfill a crash interrupted goes on with its progress.
pub fn plan(state: &CollectorState, today: NaiveDate, backfill_days: u32) -> Plan {
    match state.final_through {
        None => {
            let days = backfill_days.max(OPEN_DAYS);
            let from = today - Days::new(u64::from(days) - 1);
            let progress =
                (backfill_days > OPEN_DAYS).then_some(BackfillProgress { days_done: 0, days });
            Plan {
                from,
                to: today,
                progress,
            }
        }
        Some(final_through) => Plan {
            // A clock set back must not make the range empty or backwards.
            from: (final_through + Days::new(1)).min(today),
            to: today,
            progress: state.backfill,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_run_backfills_including_today() {
        let p = plan(&CollectorState::default(), day("2026-12-08"), 90);
        assert_eq!((p.from, p.to), (day("2026-09-10"), day("2026-12-08")));
        assert_eq!(
            p.progress,
            Some(BackfillProgress {
                days_done: 0,
                days: 90
            })
        );
    }

    #[test]
    fn no_backfill_still_reads_the_open_days() {
        let p = plan(&CollectorState::default(), day("2026-12-08"), 0);
        assert_eq!((p.from, p.to), (day("2026-12-07"), day("2026-12-08")));
        assert_eq!(p.progress, None);
    }

    #[test]
    fn later_runs_read_from_the_first_day_not_final_including_a_gap() {
        let state = CollectorState {
            final_through: Some(day("2026-12-01")),
            backfill: None,
        };
        let p = plan(&state, day("2026-12-08"), 90);
        assert_eq!((p.from, p.to), (day("2026-12-02"), day("2026-12-08")));
        assert_eq!(p.progress, None);
    }

    #[test]
    fn an_interrupted_backfill_resumes_with_its_progress() {
        let progress = BackfillProgress {
            days_done: 14,
            days: 90,
        };
        let state = CollectorState {
            final_through: Some(day("2026-09-23")),
            backfill: Some(progress),
        };
        let p = plan(&state, day("2026-12-08"), 90);
        assert_eq!(p.from, day("2026-09-24"));
        assert_eq!(p.progress, Some(progress));
    }

    #[test]
    fn a_clock_set_back_reads_today() {
        let state = CollectorState {
            final_through: Some(day("2026-12-10")),
            backfill: None,
        };
        let p = plan(&state, day("2026-12-08"), 90);
        assert_eq!((p.from, p.to), (day("2026-12-08"), day("2026-12-08")));
    }
}
