//! Shared state of the handlers.

pub mod counters;

use mama_core::ops::Mama;

use counters::SharedMetrics;

#[derive(Clone)]
pub struct AppState {
    pub mama: Mama,
    /// Counted by every handler, rendered by `GET /metrics`.
    pub metrics: SharedMetrics,
    /// Which listener this router serves (`rest` or `admin`), for metrics labels.
    pub listener: &'static str,
}
