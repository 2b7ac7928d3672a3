//! The event log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Page;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Exact action (`users.create`) or a prefix ending in `.` (`users.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Views only, or everything else: an operator looking for who changed what should not
    /// have to page past every list, lookup and status poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EventKind>,
}

/// Whether an event records a view (something was read, nothing changed) or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Lists, gets, counts, status polls, REST lookups: the actions declared as views in [`crate::actions`].
    View,
    /// Everything else: changes, sign-ins and password changes, LiteLLM sync steps, repairs.
    Change,
}

impl EventKind {
    /// The kind of an event with this action; an action not declared in
    /// [`crate::actions`] counts as a change, so nothing unknown is hidden among views.
    pub fn of(action: &str) -> EventKind {
        crate::actions::find(action)
            .map(|a| a.kind())
            .unwrap_or(EventKind::Change)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEventsParams {
    #[serde(default)]
    pub filter: EventFilter,
    #[serde(default)]
    pub page: Page,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: String,
    pub at: DateTime<Utc>,
    /// `admin`, `service` or `system`.
    pub actor_kind: String,
    pub actor: String,
    /// `rpc`, `rest` or `sync`.
    pub channel: String,
    pub action: String,
    /// Affected users (at most 100 listed here; `target_count` has the full count).
    pub user_ids: Vec<String>,
    pub target_count: i64,
    pub target_filter: Option<String>,
    /// `ok` or `error`.
    pub result: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
    pub duration_ms: Option<i64>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<EventView>,
    pub matching: u64,
    pub offset: u64,
    pub limit: u32,
}
