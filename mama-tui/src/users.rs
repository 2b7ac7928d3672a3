//! The users table model: a sparse window of pages over a list the daemon sorts, filters and
//! pages, plus the marks.
//!
//! Only pages near the viewport are kept, so scrolling through 100,000 users costs a few hundred
//! rows of memory. Marks are a set of user ids (not row numbers), so they survive sorting,
//! filtering and scrolling.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use mama_core::api::types::{UserFilter, UserSort, UserView};

use crate::text::TextInput;

/// Rows per `users.list` call.
pub const PAGE: u64 = 200;
/// Pages kept around the viewport; farther ones are dropped.
const KEEP_PAGES: u64 = 4;

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
    pub total: u64,
    pub matching: u64,
    pages: BTreeMap<u64, Vec<UserView>>,
    requested: HashSet<u64>,
    pub selected: u64,
    pub scroll: u64,
    pub marks: BTreeSet<String>,
    /// When the marks are exactly "every user matching this filter" (mark all, untouched since),
    /// bulk calls can send the filter instead of 100,000 ids.
    pub marks_filter: Option<UserFilter>,
    /// A mark-all is collecting ids.
    pub marking: bool,
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
        self.query += 1;
        self.pages.clear();
        self.requested.clear();
        self.loaded = false;
        self.selected = 0;
        self.scroll = 0;
    }

    /// Drops the rows but keeps the position (after a change, to show fresh data).
    pub fn invalidate(&mut self) {
        self.query += 1;
        self.pages.clear();
        self.requested.clear();
        self.stale = true;
    }

    pub fn row(&self, index: u64) -> Option<&UserView> {
        self.pages
            .get(&(index / PAGE))?
            .get((index % PAGE) as usize)
    }

    pub fn selected_user(&self) -> Option<&UserView> {
        self.row(self.selected)
    }

    /// Stores a page answered for the current query.
    pub fn store_page(&mut self, offset: u64, users: Vec<UserView>, total: u64, matching: u64) {
        let page = offset / PAGE;
        self.requested.remove(&page);
        self.pages.insert(page, users);
        self.total = total;
        self.matching = matching;
        self.loaded = true;
        self.stale = false;
        if self.selected >= matching {
            self.selected = matching.saturating_sub(1);
        }
        let current = self.selected / PAGE;
        self.pages.retain(|p, _| p.abs_diff(current) <= KEEP_PAGES);
    }

    /// A page request failed: allow asking again.
    pub fn page_failed(&mut self, offset: u64) {
        self.requested.remove(&(offset / PAGE));
    }

    /// Offsets of the pages the viewport needs and nobody asked for yet; marks them requested.
    pub fn pages_to_fetch(&mut self, viewport: u64) -> Vec<u64> {
        let wanted: Vec<u64> = if !self.loaded {
            vec![0]
        } else if self.matching == 0 {
            if self.stale {
                vec![0]
            } else {
                vec![]
            }
        } else {
            // Half a page of slack on both sides so j/k never hits an empty row.
            let first = self.scroll.saturating_sub(PAGE / 2) / PAGE;
            let last_row = (self.scroll + viewport + PAGE / 2).min(self.matching - 1);
            (first..=last_row / PAGE).collect()
        };
        let mut out = Vec::new();
        for page in wanted {
            if !self.pages.contains_key(&page) && self.requested.insert(page) {
                out.push(page * PAGE);
            }
        }
        out
    }

    /// Moves the selection by `delta` rows and keeps it inside a viewport of `viewport` rows.
    pub fn move_by(&mut self, delta: i64, viewport: u64) {
        let max = self.matching.saturating_sub(1) as i64;
        let target = (self.selected as i64 + delta).clamp(0, max.max(0));
        self.select(target as u64, viewport);
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

    pub fn toggle_mark(&mut self, id: &str) {
        if !self.marks.remove(id) {
            self.marks.insert(id.to_string());
        }
        self.marks_filter = None;
    }

    /// Number of loaded rows (for tests and memory bounds).
    pub fn loaded_rows(&self) -> usize {
        self.pages.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use mama_core::api::types::KeyStatus;

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
            key: None,
            unavailable_models: vec![],
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn page(offset: u64) -> Vec<UserView> {
        (offset..offset + PAGE)
            .map(|i| user(&format!("u{i}")))
            .collect()
    }

    #[test]
    fn fetches_pages_around_the_viewport_and_drops_far_ones() {
        let mut s = UsersState::default();
        assert_eq!(s.pages_to_fetch(20), vec![0]);
        assert!(s.pages_to_fetch(20).is_empty(), "asked once only");
        s.store_page(0, page(0), 100_000, 100_000);
        assert_eq!(s.pages_to_fetch(20), Vec::<u64>::new());
        s.move_by(190, 20);
        assert_eq!(s.pages_to_fetch(20), vec![200]);
        s.select(99_999, 20);
        let wanted = s.pages_to_fetch(20);
        assert_eq!(wanted, vec![99_800]);
        s.store_page(99_800, page(99_800), 100_000, 100_000);
        assert!(s.loaded_rows() <= (2 * KEEP_PAGES as usize + 1) * PAGE as usize);
        assert_eq!(s.selected_user().map(|u| u.id.as_str()), Some("u99999"));
    }

    #[test]
    fn marks_are_ids_and_survive_restart() {
        let mut s = UsersState::default();
        s.store_page(0, page(0), 500, 500);
        s.toggle_mark("u3");
        s.restart();
        assert!(s.marks.contains("u3"));
        s.toggle_mark("u3");
        assert!(s.marks.is_empty());
    }
}
