//! `events.undo`: reversing a change event.

use serde::{Deserialize, Serialize};

/// Params of `events.undo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoParams {
    /// The change event to reverse (an `events.list` row's `id`).
    pub event_id: String,
    /// Only say what the undo would do; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Also reverse users changed again since the event (their later changes are lost);
    /// without it they are left alone and listed as conflicts.
    #[serde(default)]
    pub force: bool,
}

/// One user an undo changes: what it holds now and what it will hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoChange {
    pub id: String,
    pub now: String,
    pub after: String,
}

/// One user an undo leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoConflict {
    pub id: String,
    pub reason: String,
    /// Changed again since the event: `force` reverses it anyway. Otherwise (gone for good,
    /// outside the scope) it is never reversed.
    pub forceable: bool,
}

/// What `events.undo` did, or would do (`dry_run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoResult {
    pub event_id: String,
    /// The undone event's action (`users.bulk_update`, …).
    pub action: String,
    /// How many users are (or would be) reversed.
    pub changed: u64,
    /// The first 1,000 of them.
    pub changes: Vec<UndoChange>,
    pub conflicted: u64,
    /// The first 1,000 conflicts.
    pub conflicts: Vec<UndoConflict>,
    /// An organization's default limits put back as well (`organizations.set_defaults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_defaults: Option<String>,
    pub dry_run: bool,
    /// The `events.undo` event that records the undo (itself undoable: that redoes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_event_id: Option<String>,
}
