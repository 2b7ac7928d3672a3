//! Undoing a change event (`events.undo`, issue 18): which events the events screen offers to
//! undo, and the preview popup — its model and the lines it shows. The lines are built here so
//! that `update` (scrolling stops at the last line) and the view agree on them.

use chrono::{DateTime, Utc};
use mama_api::rpc::find;
use mama_api::types::{EventKind, EventView, UndoResult};

use crate::text::{count, wrap};

/// The event to undo, as the events list showed it.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoTarget {
    pub id: String,
    pub action: String,
    pub at: DateTime<Utc>,
    pub actor: String,
}

impl UndoTarget {
    /// The event, or why it cannot be undone, known without asking the daemon: a failed call
    /// and a view changed nothing. Whether a change can be undone is the daemon's to say.
    pub fn of(e: &EventView) -> Result<UndoTarget, String> {
        if e.result != "ok" {
            let why = e.error_code.as_deref().unwrap_or(&e.result);
            return Err(format!(
                "{} failed ({why}): it changed nothing, so it cannot be undone",
                e.action
            ));
        }
        if find(&e.action).is_some_and(|m| m.kind == EventKind::View) {
            return Err(format!(
                "{} only reads: a view changes nothing, so it cannot be undone",
                e.action
            ));
        }
        Ok(UndoTarget {
            id: e.id.clone(),
            action: e.action.clone(),
            at: e.at,
            actor: e.actor.clone(),
        })
    }
}

/// The preview popup: what undoing [`UndoTarget`] would do (a dry run), with or without
/// `force`. `y` applies exactly what was previewed last.
#[derive(Debug)]
pub struct UndoDialog {
    pub target: UndoTarget,
    pub force: bool,
    /// The dry run's answer; `None` while it is asked.
    pub preview: Option<UndoResult>,
    /// First line of the list on screen.
    pub scroll: usize,
}

/// How a line of the popup is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Dim,
    Warn,
}

/// One line of the popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoLine {
    pub text: String,
    pub tone: Tone,
}

impl UndoLine {
    fn new(text: impl Into<String>, tone: Tone) -> Self {
        UndoLine {
            text: text.into(),
            tone,
        }
    }
}

/// Lines above the list (two counts, what force does, a blank) and below it (a blank, keys).
pub const SUMMARY_ROWS: u16 = 4;
pub const FOOTER_ROWS: u16 = 2;

/// The popup's size on a screen of `width`×`height`: nearly all of it, so the list shows as
/// many users as it can; the hint bar stays visible.
pub fn popup_size(width: u16, height: u16) -> (u16, u16) {
    (
        width.saturating_sub(4).min(110),
        height.saturating_sub(2).min(34),
    )
}

/// Cells and rows of the scrolled list on a screen of `width`×`height`: inside the border,
/// one cell in from each side, between the summary and the footer.
pub fn list_size(width: u16, height: u16) -> (usize, usize) {
    let (w, h) = popup_size(width, height);
    let cells = usize::from(w.saturating_sub(4));
    let rows = usize::from(h.saturating_sub(2 + SUMMARY_ROWS + FOOTER_ROWS)).max(1);
    (cells, rows)
}

impl UndoDialog {
    pub fn new(target: UndoTarget) -> Self {
        UndoDialog {
            target,
            force: false,
            preview: None,
            scroll: 0,
        }
    }

    pub fn title(&self) -> String {
        let t = &self.target;
        format!(
            "Undo {} of {} UTC by {}",
            t.action,
            t.at.format("%Y-%m-%d %H:%M"),
            t.actor
        )
    }

    /// Whether applying would change anything (the daemon refuses an undo that would not).
    pub fn changes_something(&self) -> bool {
        self.preview
            .as_ref()
            .is_some_and(|p| p.changed > 0 || p.organization_defaults.is_some())
    }

    /// The counts, and what force does, above the list.
    pub fn summary(&self) -> Vec<UndoLine> {
        let Some(p) = &self.preview else {
            return vec![UndoLine::new(
                "asking the daemon what the undo would do…",
                Tone::Dim,
            )];
        };
        let mut set_back = if p.changed == 0 {
            "No user will be set back".to_string()
        } else {
            format!("{} will be set back", count(p.changed, "user"))
        };
        if let Some(org) = &p.organization_defaults {
            set_back.push_str(&format!(
                "; the defaults of {} too",
                crate::app::organization_name(org)
            ));
        }
        let conflicts = match (p.conflicted, self.force) {
            (0, _) => UndoLine::new("No conflicts: nobody changed since", Tone::Dim),
            (n, false) => UndoLine::new(
                format!("{}: changed again since — left alone", count(n, "conflict")),
                Tone::Warn,
            ),
            (n, true) => UndoLine::new(
                format!(
                    "{}: forced — set back where they can be",
                    count(n, "conflict")
                ),
                Tone::Warn,
            ),
        };
        let forceable = p.conflicts.iter().any(|c| c.forceable);
        let force = if self.force {
            UndoLine::new(
                "FORCED: users changed since are set back too and lose later changes",
                Tone::Warn,
            )
        } else if forceable {
            UndoLine::new(
                "f forces: users changed since are set back too, losing later changes",
                Tone::Dim,
            )
        } else {
            UndoLine::new("", Tone::Dim)
        };
        vec![UndoLine::new(set_back, Tone::Plain), conflicts, force]
    }

    /// Each user `id: now → after`, then the conflicts with their reason, wrapped to `cells`.
    pub fn list(&self, cells: usize) -> Vec<UndoLine> {
        let Some(p) = &self.preview else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        let push = |text: String, tone: Tone, lines: &mut Vec<UndoLine>| {
            lines.extend(
                wrap(&text, cells, "    ")
                    .into_iter()
                    .map(|l| UndoLine::new(l, tone)),
            );
        };
        for c in &p.changes {
            push(
                format!("{}: {} → {}", c.id, c.now, c.after),
                Tone::Plain,
                &mut lines,
            );
        }
        let more = p.changed.saturating_sub(p.changes.len() as u64);
        if more > 0 {
            push(format!("… and {more} more"), Tone::Dim, &mut lines);
        }
        if !p.conflicts.is_empty() {
            if !lines.is_empty() {
                lines.push(UndoLine::new("", Tone::Plain));
            }
            let heading = if self.force {
                "conflicts (forced where they can be):"
            } else {
                "conflicts (left alone):"
            };
            lines.push(UndoLine::new(heading, Tone::Warn));
            for c in &p.conflicts {
                push(format!("{}: {}", c.id, c.reason), Tone::Warn, &mut lines);
            }
            let more = p.conflicted.saturating_sub(p.conflicts.len() as u64);
            if more > 0 {
                push(format!("… and {more} more"), Tone::Dim, &mut lines);
            }
        }
        lines
    }

    /// The furthest the list scrolls on a screen of `width`×`height`: its last line at the
    /// bottom.
    pub fn max_scroll(&self, width: u16, height: u16) -> usize {
        let (cells, rows) = list_size(width, height);
        self.list(cells).len().saturating_sub(rows)
    }

    /// The keys, and where the list is when it scrolls.
    pub fn footer(&self, total: usize, rows: usize) -> String {
        let force = if self.force { "f: unforce" } else { "f: force" };
        let mut keys = if self.preview.is_none() {
            "n/esc: cancel".to_string()
        } else if self.changes_something() {
            format!("y: undo   {force}   n/esc: cancel")
        } else {
            format!("nothing to undo   {force}   n/esc: close")
        };
        if total > rows {
            let last = (self.scroll + rows).min(total);
            keys.push_str(&format!(
                "   j/k PgUp/PgDn: {}–{last} of {total}",
                self.scroll + 1
            ));
        }
        keys
    }
}

/// The end of an event id, to name it on the status line: ids are UUIDv7, whose beginning is
/// the time and so the same for events of the same minute.
pub fn short_id(id: &str) -> &str {
    let start = id.char_indices().rev().nth(7).map_or(0, |(i, _)| i);
    &id[start..]
}
