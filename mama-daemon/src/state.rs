//! Shared state of the handlers.

use mama_core::ops::Mama;

use crate::metrics::SharedMetrics;

#[derive(Clone)]
pub struct AppState {
    pub mama: Mama,
    pub metrics: SharedMetrics,
    /// Which listener this router serves (`rest` or `admin`), for metrics labels.
    pub listener: &'static str,
}
