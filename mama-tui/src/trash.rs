//! The trash screen's model: one page of trashed users as the daemon sorted and filtered it,
//! the marks (ids, so they survive paging, sorting and filtering), and what the TUI has learnt
//! about the daemon's trash from its answers. Also the texts of its times (deleted ago, purged
//! in) the screen and its tests share.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use mama_api::types::{ListTrashParams, Page, TrashColumn, TrashSort, TrashedUser};

use crate::app::ListState;
use crate::text::TextInput;

/// Rows per page of `users.trash`.
pub const TRASH_PAGE: u32 = 100;

/// Above this many users, deleting (or purging) them asks for their count to be typed: a `y`
/// is too easy to give for a mistake of that size. A TUI setting (`--confirm-typed-above`).
pub const DEFAULT_CONFIRM_TYPED_ABOVE: u64 = 100;

/// What the TUI knows about the daemon's trash. Only an answer tells: `users.delete` says until
/// when the users it moved stay (or that they are gone at once), and a trashed user listed
/// says how long it is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrashKept {
    /// Nothing answered yet: a confirm says what happens in either case.
    #[default]
    Unknown,
    /// Deleted users wait this many days.
    Days(i64),
    /// The daemon keeps no trash: a delete is final.
    None,
}

impl TrashKept {
    /// The days between a deletion and its purge, rounded to whole days.
    pub fn from_span(from: DateTime<Utc>, to: DateTime<Utc>) -> TrashKept {
        TrashKept::Days(
            ((to - from).num_minutes() + 12 * 60)
                .div_euclid(24 * 60)
                .max(0),
        )
    }
}

#[derive(Debug)]
pub struct TrashState {
    /// The page on screen.
    pub list: ListState<TrashedUser>,
    pub column: TrashColumn,
    pub descending: bool,
    pub filter_input: TextInput,
    pub filter_editing: bool,
    /// The text the page was asked for (`None`: everything).
    pub filter: Option<String>,
    /// Index of the page's first row among all matching.
    pub offset: u64,
    pub matching: u64,
    /// Number of the last query; older answers are dropped.
    pub query: u64,
    pub marks: BTreeSet<String>,
}

impl Default for TrashState {
    fn default() -> Self {
        TrashState {
            list: ListState::default(),
            column: TrashColumn::DeletedAt,
            descending: true,
            filter_input: TextInput::default(),
            filter_editing: false,
            filter: None,
            offset: 0,
            matching: 0,
            query: 0,
            marks: BTreeSet::new(),
        }
    }
}

impl TrashState {
    /// The params of the page to show.
    pub fn params(&self) -> ListTrashParams {
        ListTrashParams {
            text: self.filter.clone(),
            sort: TrashSort {
                column: self.column,
                descending: Some(self.descending),
            },
            page: Page {
                offset: self.offset,
                limit: TRASH_PAGE,
            },
        }
    }

    /// Sorts by `column`; the same column again reverses. A new column starts in its natural
    /// order: the newest deletion first, the soonest purge first, ids and organizations A–Z.
    pub fn sort_by(&mut self, column: TrashColumn) {
        if self.column == column {
            self.descending = !self.descending;
        } else {
            self.column = column;
            self.descending = column == TrashColumn::DeletedAt;
        }
        self.offset = 0;
        self.list.selected = 0;
    }

    /// The marked ids, else the selected row's: what restore and purge act on.
    pub fn selection(&self) -> Vec<String> {
        if self.marks.is_empty() {
            self.list
                .current()
                .map(|u| vec![u.id.clone()])
                .unwrap_or_default()
        } else {
            self.marks.iter().cloned().collect()
        }
    }

    pub fn toggle_mark(&mut self) {
        if let Some(id) = self.list.current().map(|u| u.id.clone()) {
            if !self.marks.remove(&id) {
                self.marks.insert(id);
            }
            self.list.move_by(1);
        }
    }

    /// Marks every row on screen (the page of the current filter).
    pub fn mark_page(&mut self) -> usize {
        let before = self.marks.len();
        self.marks
            .extend(self.list.items.iter().map(|u| u.id.clone()));
        self.marks.len() - before
    }

    /// Rows of the page as `first–last` among all matching, when there are any.
    pub fn shown_rows(&self) -> Option<(u64, u64)> {
        let n = self.list.items.len() as u64;
        (n > 0).then(|| (self.offset + 1, self.offset + n))
    }

    /// Whether a page follows this one.
    pub fn has_next_page(&self) -> bool {
        self.offset + u64::from(TRASH_PAGE) < self.matching
    }
}

/// When a user was deleted, as an age while it is recent: `just now`, `12m ago`, `5h ago`,
/// `3d ago`; the date after 30 days.
pub fn deleted_text(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let ago = now - at;
    if ago < Duration::minutes(1) {
        "just now".into()
    } else if ago < Duration::hours(1) {
        format!("{}m ago", ago.num_minutes())
    } else if ago < Duration::days(1) {
        format!("{}h ago", ago.num_hours())
    } else if ago <= Duration::days(30) {
        format!("{}d ago", ago.num_days())
    } else {
        at.format("%Y-%m-%d").to_string()
    }
}

/// How long until `at`: `in 6d 23h` (`in 6d` when `short`), `in 5h`, `in 12m`, `due` once it
/// has passed (the daemon purges within a minute).
pub fn until_text(at: DateTime<Utc>, now: DateTime<Utc>, short: bool) -> String {
    let left = at - now;
    if left <= Duration::zero() {
        "due".into()
    } else if left < Duration::hours(1) {
        format!("in {}m", left.num_minutes().max(1))
    } else if left < Duration::days(1) {
        format!("in {}h", left.num_hours())
    } else if short || left.num_hours() % 24 == 0 {
        format!("in {}d", left.num_days())
    } else {
        format!("in {}d {}h", left.num_days(), left.num_hours() % 24)
    }
}

/// When a user is purged: the date and time (UTC) and how long until then; without the year
/// when `short` (the trash keeps users for days, not years).
pub fn purge_text(at: DateTime<Utc>, now: DateTime<Utc>, short: bool) -> String {
    let when = if short {
        at.format("%m-%d %H:%M")
    } else {
        at.format("%Y-%m-%d %H:%M")
    };
    format!("{when} ({})", until_text(at, now, short))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, min, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn ages_and_waits_read_at_a_glance() {
        let now = at(9, 10, 0);
        assert_eq!(deleted_text(at(9, 9, 59), now), "1m ago");
        assert_eq!(deleted_text(now, now), "just now");
        assert_eq!(deleted_text(at(9, 7, 0), now), "3h ago");
        assert_eq!(deleted_text(at(2, 10, 0), now), "7d ago");
        assert_eq!(
            deleted_text(Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(), now),
            "2026-01-02"
        );
        assert_eq!(until_text(at(16, 9, 0), now, false), "in 6d 23h");
        assert_eq!(until_text(at(16, 9, 0), now, true), "in 6d");
        assert_eq!(until_text(at(9, 10, 30), now, false), "in 30m");
        assert_eq!(until_text(at(9, 9, 0), now, false), "due");
        assert_eq!(
            purge_text(at(16, 9, 0), now, false),
            "2026-03-16 09:00 (in 6d 23h)"
        );
        assert_eq!(purge_text(at(16, 9, 0), now, true), "03-16 09:00 (in 6d)");
    }

    #[test]
    fn the_days_kept_are_rounded() {
        let deleted = at(2, 10, 0);
        assert_eq!(
            TrashKept::from_span(deleted, at(9, 9, 59)),
            TrashKept::Days(7)
        );
        assert_eq!(
            TrashKept::from_span(deleted, at(9, 10, 1)),
            TrashKept::Days(7)
        );
    }

    #[test]
    fn a_new_column_starts_in_its_natural_order_and_again_reverses() {
        let mut t = TrashState::default();
        assert_eq!((t.column, t.descending), (TrashColumn::DeletedAt, true));
        t.sort_by(TrashColumn::DeletedAt);
        assert!(!t.descending);
        t.sort_by(TrashColumn::PurgeAfter);
        assert_eq!((t.column, t.descending), (TrashColumn::PurgeAfter, false));
        t.sort_by(TrashColumn::PurgeAfter);
        assert!(t.descending);
        t.sort_by(TrashColumn::Id);
        assert!(!t.descending);
    }
}
