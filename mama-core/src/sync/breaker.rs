//! A circuit breaker over LiteLLM: after a few outage-like failures in a row the worker stops
//! sending operations and probes LiteLLM instead, so a down proxy costs one probe per interval,
//! not one failed call per queued operation.

use std::sync::Mutex;
use std::time::Duration;

use crate::litellm::LiteLlmError;

/// Consecutive outage failures that open the breaker.
const OPEN_AFTER: u32 = 3;
/// First and longest wait between probes while open.
const FIRST_PROBE: Duration = Duration::from_millis(500);
const MAX_PROBE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open: bool,
    probe_wait: Duration,
}

#[derive(Debug, Default)]
pub struct Breaker {
    state: Mutex<State>,
}

/// Failures that say "LiteLLM as a whole is not usable now", not "this key has a problem".
pub fn is_outage(err: &LiteLlmError) -> bool {
    matches!(
        err,
        LiteLlmError::Connect { .. }
            | LiteLlmError::Timeout
            | LiteLlmError::ConnectionCut { .. }
            | LiteLlmError::Server { .. }
            | LiteLlmError::RateLimited { .. }
            | LiteLlmError::Unauthorized { .. }
    )
}

impl Breaker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_open(&self) -> bool {
        self.state().open
    }

    pub fn success(&self) {
        let mut s = self.state();
        s.failures = 0;
        s.open = false;
    }

    /// Counts a failure; returns true when this one opened the breaker.
    pub fn failure(&self, err: &LiteLlmError) -> bool {
        if !is_outage(err) {
            return false;
        }
        let mut s = self.state();
        s.failures += 1;
        if !s.open && s.failures >= OPEN_AFTER {
            s.open = true;
            s.probe_wait = FIRST_PROBE;
            return true;
        }
        false
    }

    /// How long to wait before the next probe (doubling up to a cap).
    pub fn next_probe_wait(&self) -> Duration {
        let mut s = self.state();
        let wait = s.probe_wait.max(FIRST_PROBE);
        s.probe_wait = (wait * 2).min(MAX_PROBE);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_outages_only_and_closes_on_success() {
        let b = Breaker::default();
        let bad = LiteLlmError::BadRequest {
            status: 400,
            param: None,
            detail: Default::default(),
        };
        for _ in 0..10 {
            assert!(!b.failure(&bad));
        }
        assert!(!b.is_open());
        assert!(!b.failure(&LiteLlmError::Timeout));
        assert!(!b.failure(&LiteLlmError::Timeout));
        assert!(b.failure(&LiteLlmError::Timeout));
        assert!(b.is_open());
        assert!(b.next_probe_wait() < b.next_probe_wait());
        b.success();
        assert!(!b.is_open());
    }
}
