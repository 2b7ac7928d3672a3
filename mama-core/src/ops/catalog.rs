//! The cached catalog of models LiteLLM currently serves. The sync worker refreshes it; the use
//! cases read it to flag allowed models that are no longer served.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::domain::access::SENTINEL_MODELS;

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub models: Vec<String>,
    pub fetched_at: DateTime<Utc>,
}

/// Shared, cheap to clone. `None` until LiteLLM has been read once.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    inner: Arc<RwLock<Option<Snapshot>>>,
}

impl Catalog {
    pub fn set(&self, mut models: Vec<String>) {
        models.sort();
        models.dedup();
        let snapshot = Snapshot {
            models,
            fetched_at: Utc::now(),
        };
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = Some(snapshot);
    }

    pub fn get(&self) -> Option<Snapshot> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The models of `allowed` that the catalog does not list (sentinels always count as served).
    /// Without a catalog, nothing is flagged: an outage must not paint every model red.
    pub fn unavailable<'a>(&self, allowed: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let Some(snapshot) = guard.as_ref() else {
            return Vec::new();
        };
        allowed
            .into_iter()
            .filter(|m| {
                !SENTINEL_MODELS.contains(&m.as_str()) && snapshot.models.binary_search(m).is_err()
            })
            .cloned()
            .collect()
    }
}
