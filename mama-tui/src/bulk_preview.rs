//! The preview of a bulk change: the daemon's dry run summed up, then the users it changes,
//! each with its changed fields before → after, in a list that scrolls. `y` applies exactly
//! the previewed params; nothing changes before.

use mama_api::types::{BulkUpdateParams, BulkUpdateResult, UserChangeSample};

use crate::text::{count, truncate};

/// Rows under the list: a blank one and the keys.
pub const FOOTER_ROWS: u16 = 2;

#[derive(Debug)]
pub struct BulkPreview {
    /// What `y` sends: the previewed params without `dry_run`.
    pub apply: Vec<BulkUpdateParams>,
    /// The counts and the parts of the request (see `request_lines`).
    pub summary: Vec<String>,
    /// The users that change, as the daemon listed them (its first ones).
    pub samples: Vec<UserChangeSample>,
    /// Users that change beyond those listed.
    pub unlisted: u64,
    /// How many of the marks the filter hides, when it hides any: the change reaches them too.
    pub hidden: Option<String>,
    pub scroll: usize,
}

impl BulkPreview {
    pub fn new(
        apply: Vec<BulkUpdateParams>,
        summary: Vec<String>,
        result: &BulkUpdateResult,
        hidden: Option<String>,
    ) -> Self {
        BulkPreview {
            apply,
            summary,
            samples: result.samples.clone(),
            unlisted: result.changed.saturating_sub(result.samples.len() as u64),
            hidden,
            scroll: 0,
        }
    }

    /// Everything above the footer, each line cut to `cells`: the summary, then each user that
    /// changes and, indented under it, its fields before → after.
    pub fn lines(&self, cells: usize) -> Vec<String> {
        let mut lines = self.summary.clone();
        lines.extend(self.hidden.clone());
        if !self.samples.is_empty() {
            lines.push(String::new());
            lines.push("Users that change (before → after):".into());
        }
        for sample in &self.samples {
            lines.push(format!("  {}", sample.id));
            for c in &sample.changes {
                lines.push(format!(
                    "      {}: {} → {}",
                    c.field,
                    or_none(&c.before),
                    or_none(&c.after)
                ));
            }
        }
        // Said only under users listed: a daemon that sends no per-user detail has the counts.
        if self.unlisted > 0 && !self.samples.is_empty() {
            lines.push(format!(
                "  … and {} not listed",
                count(self.unlisted, "more user")
            ));
        }
        lines.into_iter().map(|l| truncate(&l, cells)).collect()
    }

    /// The keys, and where the list is when it scrolls.
    pub fn footer(&self, total: usize, rows: usize) -> String {
        let mut keys = "y: apply   n/esc: cancel".to_string();
        if total > rows {
            let last = (self.scroll + rows).min(total);
            keys.push_str(&format!(
                "   j/k PgUp/PgDn: {}–{last} of {total}",
                self.scroll + 1
            ));
        }
        keys
    }

    /// The popup's size on a screen of `width`×`height`: as tall as its lines need, at most
    /// the screen less the title and hint bars.
    pub fn size(&self, width: u16, height: u16) -> (u16, u16) {
        let w = width.saturating_sub(4).min(96);
        let cells = usize::from(w.saturating_sub(4));
        let wanted = self.lines(cells).len() as u16 + 2 + FOOTER_ROWS;
        (w, wanted.min(height.saturating_sub(2)))
    }

    /// Cells and rows of the scrolled list inside the popup.
    pub fn list_size(&self, width: u16, height: u16) -> (usize, usize) {
        let (w, h) = self.size(width, height);
        let rows = usize::from(h.saturating_sub(2 + FOOTER_ROWS)).max(1);
        (usize::from(w.saturating_sub(4)), rows)
    }

    pub fn max_scroll(&self, width: u16, height: u16) -> usize {
        let (cells, rows) = self.list_size(width, height);
        self.lines(cells).len().saturating_sub(rows)
    }
}

/// An empty value (no models, no organization) as a word, so the arrow has two sides.
fn or_none(value: &str) -> &str {
    if value.is_empty() {
        "(none)"
    } else {
        value
    }
}
