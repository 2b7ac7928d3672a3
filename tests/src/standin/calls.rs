//! Every request the stand-in received, so tests can assert what mama sent (e.g. exactly one
//! `/key/update` per affected key carrying the final list).

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::faults::Fault;

/// One request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    /// The path, e.g. `/key/update`.
    pub route: String,
    pub query: Option<String>,
    /// The JSON body, when there was one that parsed.
    pub body: Option<Value>,
    /// The `litellm-changed-by` header.
    pub changed_by: Option<String>,
    /// The `Host` header: tells apart clients given different spellings of the same address
    /// (e.g. two daemons, one told `127.0.0.1`, the other `localhost`).
    pub host: Option<String>,
    /// Whether the master key authenticated the call.
    pub by_master_key: bool,
    /// The fault injected into this call, if any.
    pub fault: Option<Fault>,
    /// The status sent; `None` while in flight, hung, or cut before the status line.
    pub status: Option<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    pub(crate) fn push(&self, call: Call) -> usize {
        let mut calls = self.lock();
        calls.push(call);
        calls.len() - 1
    }

    pub(crate) fn set_status(&self, index: usize, status: u16) {
        if let Some(call) = self.lock().get_mut(index) {
            call.status = Some(status);
        }
    }

    pub fn all(&self) -> Vec<Call> {
        self.lock().clone()
    }

    pub fn route(&self, route: &str) -> Vec<Call> {
        self.lock()
            .iter()
            .filter(|c| c.route == route)
            .cloned()
            .collect()
    }

    pub fn count(&self, route: &str) -> usize {
        self.lock().iter().filter(|c| c.route == route).count()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}
