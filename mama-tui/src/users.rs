//! The users table model: a sparse window of pages over a list the daemon sorts, filters and
//! pages, plus the marks.
//!
//! Only pages near the viewport are kept, so scrolling through 100,000 users costs a few hundred
//! rows of memory. Marks are a set of user ids (not row numbers), so they survive sorting,
//! filtering and scrolling.
//!
//! Pages next to a loaded one are asked for by cursor (the rows after its last row or before
//! its first), and the last page as the first page of the reversed sort, so `G` and paging
//! through 100,000 users cost what the first page does; an offset is only the fallback for a
//! jump into the middle. The counts come in their own call (`users.count`): the first page of
//! a new filter shows without waiting for them.

use std::collections::{BTreeMap, BTreeSet};

use mama_api::types::{UserFilter, UserSort, UserView};

use crate::text::{count, TextInput};

/// Rows per `users.list` call.
pub const PAGE: u64 = 200;
/// Pages kept around the viewport; farther ones are dropped.
const KEEP_PAGES: u64 = 4;

/// Where the rows of a page answer go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsAt {
    /// The first row is row `n`.
    Start(u64),
    /// The rows end right before row `n` (an answer to `before`).
    End(u64),
    /// The rows are the last ones (an answer in the reversed sort, turned around here).
    Last,
}

/// How to ask for a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageAsk {
    Offset(u64),
    After(String),
    Before(String),
    /// The first page of the reversed sort.
    Reversed,
}

/// One `users.list` call the viewport needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub ask: PageAsk,
    pub at: RowsAt,
}

/// Consecutive rows as one answer brought them, with the cursors of its first and last row.
#[derive(Debug)]
struct Segment {
    rows: Vec<UserView>,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

/// One page answer.
#[derive(Debug, Default)]
pub struct PageRows {
    pub users: Vec<UserView>,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(Debug, Default)]
pub struct UsersState {
    pub filter_input: TextInput,
    /// The filter bar has focus.
    pub filter_editing: bool,
    pub filter_error: Option<String>,
    /// The filter the shown rows match.
    pub filter: UserFilter,
    /// Ticks since the last keystroke in the filter bar, while a change waits to be applied.
    pub filter_pending: Option<u8>,
    pub sort: UserSort,
    /// Bumped on every new filter or sort; answers for older queries are dropped.
    pub query: u64,
    /// Whether the first page of the current query has arrived.
    pub loaded: bool,
    /// Whether `total` and `matching` are the counts of the current query (until they arrive,
    /// `matching` is the number of rows known to exist).
    pub counted: bool,
    /// A count was asked for the current query and has not answered.
    pub counting: bool,
    /// The count of the current query failed (the status line said why); the next query asks
    /// again.
    pub count_failed: bool,
    /// `G` was pressed before the count arrived: go to the end when it does.
    pub bottom_pending: bool,
    pub total: u64,
    pub matching: u64,
    segments: BTreeMap<u64, Segment>,
    /// Calls made and not answered yet, with the rows each is expected to bring.
    requested: Vec<(RowsAt, (u64, u64))>,
    pub selected: u64,
    pub scroll: u64,
    pub marks: BTreeSet<String>,
    /// When the marks are exactly "every user matching this filter" (mark all, untouched since),
    /// bulk calls can send the filter instead of 100,000 ids.
    pub marks_filter: Option<UserFilter>,
    /// A mark-all is collecting ids.
    pub marking: bool,
    /// The marked ids the daemon said the query numbered here does not match (see
    /// [`UsersState::marks_not_in_view`]).
    pub marks_outside: Option<(u64, BTreeSet<String>)>,
    /// The query whose matching ids were asked for, to tell the marks out of view.
    pub marks_outside_asked: Option<u64>,
    /// Rows were dropped after a change: ask again even if the list looked empty.
    stale: bool,
}

impl UsersState {
    /// Forgets every row and mark (logout, session expiry).
    pub fn clear(&mut self) {
        let query = self.query + 1;
        *self = UsersState {
            query,
            ..UsersState::default()
        };
    }

    /// Starts a new query (filter or sort changed): drops the rows, keeps the marks.
    pub fn restart(&mut self) {
        self.forget_rows();
        self.matching = 0;
        self.loaded = false;
        self.selected = 0;
        self.scroll = 0;
    }

    /// Drops the rows but keeps the position (after a change, to show fresh data).
    pub fn invalidate(&mut self) {
        self.forget_rows();
        self.stale = true;
    }

    fn forget_rows(&mut self) {
        self.query += 1;
        self.segments.clear();
        self.requested.clear();
        self.counted = false;
        self.counting = false;
        self.count_failed = false;
        self.bottom_pending = false;
    }

    pub fn row(&self, index: u64) -> Option<&UserView> {
        let (start, segment) = self.segments.range(..=index).next_back()?;
        segment.rows.get(usize::try_from(index - start).ok()?)
    }

    pub fn selected_user(&self) -> Option<&UserView> {
        self.row(self.selected)
    }

    /// One past the last row known to exist.
    fn known_end(&self) -> u64 {
        self.segments
            .iter()
            .next_back()
            .map_or(0, |(start, s)| start + s.rows.len() as u64)
    }

    /// Whether the counts of the current query should be asked for now.
    pub fn wants_count(&self) -> bool {
        !self.counted && !self.counting && !self.count_failed
    }

    /// Stores the counts of the current query.
    pub fn store_counts(&mut self, total: u64, matching: u64) {
        self.total = total;
        self.matching = matching;
        self.counted = true;
        self.counting = false;
        self.clamp_selection();
    }

    fn clamp_selection(&mut self) {
        if self.selected >= self.matching {
            self.selected = self.matching.saturating_sub(1);
        }
        if self.scroll > self.selected {
            self.scroll = self.selected;
        }
    }

    /// Stores a page answered for the current query.
    pub fn store_page(&mut self, at: RowsAt, page: PageRows) {
        let n = page.users.len() as u64;
        if let Some(i) = self.requested.iter().position(|r| r.0 == at) {
            self.requested.swap_remove(i);
        }
        self.loaded = true;
        self.stale = false;
        let start = match at {
            RowsAt::Start(start) => {
                if n < PAGE {
                    // The list ends here, whatever the count said before.
                    self.matching = start + n;
                    self.segments.retain(|s, _| *s < start);
                }
                start
            }
            RowsAt::End(end) if end == n || (n == PAGE && end > n) => end - n,
            RowsAt::End(_) => {
                // The list starts here, not where the loaded rows said (rows above went away
                // or came): the positions are recounted from these.
                self.segments.clear();
                0
            }
            RowsAt::Last => {
                if n < PAGE || self.matching < n {
                    self.matching = n;
                    self.segments.clear();
                }
                self.matching - n
            }
        };
        if !self.counted {
            self.matching = self.matching.max(start + n);
        }
        let end = start + n;
        self.segments
            .retain(|s, seg| *s >= end || s + seg.rows.len() as u64 <= start);
        if n > 0 {
            self.segments.insert(
                start,
                Segment {
                    rows: page.users,
                    start_cursor: page.start_cursor,
                    end_cursor: page.end_cursor,
                },
            );
        }
        self.clamp_selection();
        let keep = KEEP_PAGES * PAGE;
        let (low, high) = (
            self.selected.saturating_sub(keep),
            self.selected.saturating_add(keep),
        );
        self.segments
            .retain(|s, seg| *s <= high && s + seg.rows.len() as u64 >= low);
    }

    /// A page request failed: allow asking again.
    pub fn page_failed(&mut self, at: RowsAt) {
        self.requested.retain(|r| r.0 != at);
    }

    /// The rows an answer is expected to cover.
    fn range_of(&self, at: RowsAt) -> (u64, u64) {
        match at {
            RowsAt::Start(start) => (start, start + PAGE),
            RowsAt::End(end) => (end.saturating_sub(PAGE), end),
            RowsAt::Last => (self.matching.saturating_sub(PAGE), self.matching),
        }
    }

    fn covered(&self, index: u64) -> bool {
        self.row(index).is_some()
            || self
                .requested
                .iter()
                .any(|(_, (from, to))| (*from..*to).contains(&index))
    }

    /// The calls the viewport needs and nobody made yet; marks them requested.
    pub fn pages_to_fetch(&mut self, viewport: u64) -> Vec<PageRequest> {
        let (first, last) = if !self.loaded || (self.matching == 0 && self.stale) {
            (0, 0)
        } else if self.matching == 0 {
            return vec![];
        } else {
            // Half a page of slack on both sides so j/k never hits an empty row.
            let first = self.scroll.saturating_sub(PAGE / 2);
            let last = (self.scroll + viewport + PAGE / 2).min(self.matching - 1);
            (first, last)
        };
        let mut out = Vec::new();
        let mut index = first;
        while index <= last {
            if self.covered(index) {
                index += 1;
                continue;
            }
            let request = self.request_for(index, last);
            self.requested.push((request.at, self.range_of(request.at)));
            let jump = matches!(request.ask, PageAsk::Offset(o) if o > 0);
            out.push(request);
            if jump {
                // The rows after a jump come by cursor once it answered: one deep offset only.
                break;
            }
            if !self.covered(index) {
                index += 1;
            }
        }
        out
    }

    /// The cheapest call for the missing row `index` (missing up to `last` at most).
    fn request_for(&self, index: u64, last: u64) -> PageRequest {
        let start = |ask| PageRequest {
            ask,
            at: RowsAt::Start(index),
        };
        if index == 0 {
            return start(PageAsk::Offset(0));
        }
        let ends_here = self
            .segments
            .range(..index)
            .next_back()
            .filter(|(s, seg)| *s + seg.rows.len() as u64 == index)
            .and_then(|(_, seg)| seg.end_cursor.clone());
        if let Some(cursor) = ends_here {
            return start(PageAsk::After(cursor));
        }
        let gap_end = (index..=last)
            .find(|i| self.covered(*i))
            .unwrap_or(last + 1);
        if gap_end - index <= PAGE {
            if let Some(seg) = self.segments.get(&gap_end) {
                if let Some(cursor) = seg.start_cursor.clone() {
                    return PageRequest {
                        ask: PageAsk::Before(cursor),
                        at: RowsAt::End(gap_end),
                    };
                }
            }
        }
        if self.counted && index + PAGE >= self.matching {
            return PageRequest {
                ask: PageAsk::Reversed,
                at: RowsAt::Last,
            };
        }
        start(PageAsk::Offset(index))
    }

    /// Moves the selection by `delta` rows and keeps it inside a viewport of `viewport` rows.
    pub fn move_by(&mut self, delta: i64, viewport: u64) {
        self.bottom_pending = false;
        let max = self.matching.saturating_sub(1) as i64;
        let target = (self.selected as i64 + delta).clamp(0, max.max(0));
        self.select(target as u64, viewport);
    }

    /// Goes to the last row, or once the count is known.
    pub fn bottom(&mut self, viewport: u64) {
        self.bottom_pending = !self.counted;
        let last = self
            .matching
            .saturating_sub(1)
            .max(self.known_end().saturating_sub(1));
        self.select(last, viewport);
    }

    pub fn select(&mut self, index: u64, viewport: u64) {
        self.selected = index.min(self.matching.saturating_sub(1));
        let viewport = viewport.max(1);
        if self.selected < self.scroll {
            self.scroll = self.selected;
        } else if self.selected >= self.scroll + viewport {
            self.scroll = self.selected + 1 - viewport;
        }
    }

    /// Rows currently shown: (absolute index, row if loaded).
    pub fn visible(&self, viewport: u64) -> impl Iterator<Item = (u64, Option<&UserView>)> {
        let end = (self.scroll + viewport).min(self.matching);
        (self.scroll..end).map(move |i| (i, self.row(i)))
    }

    /// The 1-based rows the viewport shows, for "rows a–b" (None when nothing shows).
    pub fn shown_rows(&self, viewport: u64) -> Option<(u64, u64)> {
        let end = (self.scroll + viewport).min(self.matching);
        (end > self.scroll).then_some((self.scroll + 1, end))
    }

    pub fn toggle_mark(&mut self, id: &str) {
        if !self.marks.remove(id) {
            self.marks.insert(id.to_string());
        }
        self.marks_filter = None;
    }

    /// Number of loaded rows (for tests and memory bounds).
    pub fn loaded_rows(&self) -> usize {
        self.segments.values().map(|s| s.rows.len()).sum()
    }

    /// How many marked users the current filter hides, when known. Marks outlive a filter
    /// change, so a bulk change or a delete can act on users nobody sees: everything that acts
    /// on the marks says how many.
    ///
    /// Known without asking when nothing filters, when the marks are this filter's mark-all,
    /// or when every matching row is loaded; else from the daemon's ids of the current query
    /// (`users.list_ids`), which marks made since cannot invalidate: a mark is only ever
    /// added to a row in view.
    pub fn marks_not_in_view(&self) -> Option<u64> {
        if self.marks.is_empty()
            || self.filter.is_empty()
            || self.marks_filter.as_ref() == Some(&self.filter)
        {
            return Some(0);
        }
        if let Some((query, outside)) = &self.marks_outside {
            if *query == self.query {
                return Some(outside.intersection(&self.marks).count() as u64);
            }
        }
        let all_loaded = self.loaded
            && (self.counted || self.matching < PAGE)
            && self.loaded_rows() as u64 == self.matching;
        if !all_loaded {
            return None;
        }
        let in_view: BTreeSet<&str> = self
            .segments
            .values()
            .flat_map(|s| s.rows.iter().map(|u| u.id.as_str()))
            .collect();
        Some(
            self.marks
                .iter()
                .filter(|id| !in_view.contains(id.as_str()))
                .count() as u64,
        )
    }

    /// Stores the ids matching query `query` (asked because not every row of it is loaded).
    pub fn store_ids_in_view(&mut self, query: u64, ids: &[String]) {
        let in_view: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let outside = self
            .marks
            .iter()
            .filter(|id| !in_view.contains(id.as_str()))
            .cloned()
            .collect();
        self.marks_outside = Some((query, outside));
    }

    /// The marks as everything acting on them names them: `3 marked users`, or
    /// `3 marked (2 not in view)` when the filter hides some (`?` until that is known).
    pub fn marks_label(&self) -> String {
        let n = self.marks.len() as u64;
        match self.marks_not_in_view() {
            Some(0) => count(n, "marked user"),
            Some(hidden) => format!("{n} marked ({hidden} not in view)"),
            None => format!("{n} marked (? not in view)"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::Utc;
    use mama_api::types::KeyStatus;

    pub fn user(id: &str) -> UserView {
        UserView {
            id: id.into(),
            organization: String::new(),
            models: vec![],
            services: vec![],
            info: Default::default(),
            key_hint: None,
            key_status: KeyStatus::None,
            key_error: None,
            key_blocked: false,
            rotating: false,
            key: None,
            unavailable_models: vec![],
            limits: Default::default(),
            inherited: vec![],
            suspended: None,
            status: mama_api::types::UserStatus::None,
            spend: None,
            spend_read_at: None,
            spend_30d: 0.0,
            requests_30d: 0,
            last_used: None,
            rotated_at: None,
            previous_key_expires_at: None,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn rows(from: u64, to: u64) -> PageRows {
        PageRows {
            users: (from..to).map(|i| user(&format!("u{i}"))).collect(),
            start_cursor: Some(format!("c{from}")),
            end_cursor: Some(format!("c{}", to - 1)),
        }
    }

    fn asks(requests: &[PageRequest]) -> Vec<(PageAsk, RowsAt)> {
        requests.iter().map(|r| (r.ask.clone(), r.at)).collect()
    }

    #[test]
    fn neighbouring_pages_come_by_cursor_and_the_last_by_the_reversed_sort() {
        let mut s = UsersState::default();
        assert_eq!(
            asks(&s.pages_to_fetch(20)),
            vec![(PageAsk::Offset(0), RowsAt::Start(0))]
        );
        assert!(s.pages_to_fetch(20).is_empty(), "asked once only");
        s.store_page(RowsAt::Start(0), rows(0, 200));
        assert!(s.loaded && !s.counted);
        assert_eq!(s.matching, 200, "a lower bound until the count arrives");
        s.store_counts(100_000, 100_000);
        assert!(s.pages_to_fetch(20).is_empty());
        s.move_by(190, 20);
        assert_eq!(
            asks(&s.pages_to_fetch(20)),
            vec![(PageAsk::After("c199".into()), RowsAt::Start(200))]
        );
        s.store_page(RowsAt::Start(200), rows(200, 400));
        assert_eq!(s.selected_user().map(|u| u.id.as_str()), Some("u190"));

        s.bottom(20);
        assert_eq!(s.selected, 99_999);
        assert_eq!(
            asks(&s.pages_to_fetch(20)),
            vec![(PageAsk::Reversed, RowsAt::Last)]
        );
        s.store_page(RowsAt::Last, rows(99_800, 100_000));
        assert_eq!(s.selected_user().map(|u| u.id.as_str()), Some("u99999"));
        assert_eq!(s.shown_rows(20), Some((99_981, 100_000)));
        assert!(s.loaded_rows() <= (2 * KEEP_PAGES as usize + 1) * PAGE as usize);

        // Up from the last page: the rows before its first row.
        s.move_by(-150, 20);
        assert_eq!(
            asks(&s.pages_to_fetch(20)),
            vec![(PageAsk::Before("c99800".into()), RowsAt::End(99_800))]
        );
        s.store_page(RowsAt::End(99_800), rows(99_600, 99_800));
        assert_eq!(s.row(99_700).map(|u| u.id.as_str()), Some("u99700"));

        // A jump into the middle with nothing loaded nearby falls back to an offset.
        s.select(50_000, 20);
        assert_eq!(
            asks(&s.pages_to_fetch(20)),
            vec![(PageAsk::Offset(49_900), RowsAt::Start(49_900))]
        );
    }

    #[test]
    fn bottom_before_the_count_waits_for_it() {
        let mut s = UsersState::default();
        s.pages_to_fetch(20);
        s.store_page(RowsAt::Start(0), rows(0, 200));
        s.bottom(20);
        assert!(s.bottom_pending);
        assert_eq!(s.selected, 199, "as far as the rows known");
        s.store_counts(1000, 1000);
        s.bottom(20);
        assert!(!s.bottom_pending);
        assert_eq!(s.selected, 999);
    }

    #[test]
    fn a_short_answer_ends_the_list_whatever_the_count_said() {
        let mut s = UsersState::default();
        s.pages_to_fetch(20);
        s.store_page(RowsAt::Start(0), rows(0, 200));
        s.store_counts(450, 450);
        s.move_by(300, 20);
        s.pages_to_fetch(20);
        s.store_page(RowsAt::Start(200), rows(200, 230));
        assert_eq!(s.matching, 230);
        assert_eq!(s.selected, 229);
        assert!(s.pages_to_fetch(20).is_empty(), "no endless asking");
    }

    #[test]
    fn marks_are_ids_and_survive_restart() {
        let mut s = UsersState::default();
        s.store_page(RowsAt::Start(0), rows(0, 200));
        s.toggle_mark("u3");
        s.restart();
        assert!(s.marks.contains("u3"));
        s.toggle_mark("u3");
        assert!(s.marks.is_empty());
    }
}
