//! Fault injection: what the real proxy cannot be made to do on demand. Rules are matched per
//! request (a route rule before a global one), for the next N requests or until cleared.
//! Connection refused is not a rule: see [`super::StandIn::stop`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A misbehaviour of LiteLLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An error status with LiteLLM's error envelope: 400 carries `"param": "None"` (what a
    /// proxy shutting down answers), any other status (500, 502, 503…) `"param": null`.
    Status(u16),
    /// 429 with `Retry-After` (seconds) when given.
    RateLimited { retry_after_secs: Option<u64> },
    /// The answer arrives after this delay (longer than the client timeout → a timeout).
    Slow(Duration),
    /// Never answers; the connection stays open until the client gives up or the stand-in stops.
    Hang,
    /// Status line and part of the body, then the connection is cut.
    CutMidResponse,
    /// 200 with a body that is not the JSON LiteLLM sends (truncated).
    MalformedBody,
    /// 400 whose error message quotes the whole request, headers (`Authorization` too) and body:
    /// what a misbehaving proxy or a debugging middleware may send back. The operation does not
    /// happen.
    EchoRequest,
    /// The connection is closed before any status line: the client gets no answer at all (a
    /// proxy killed mid-request). Unlike [`Fault::CutMidResponse`], nothing of the answer
    /// arrives, so the client cannot tell whether the request was even read.
    Reset,
}

impl Fault {
    /// Whether the operation takes effect by default: a slow, cut or malformed answer comes
    /// from a proxy that did the work (the "unclear" cases); an error status, a hang or a reset
    /// before any answer did not (override with [`FaultRule::applied`]).
    fn applies_by_default(&self) -> bool {
        matches!(
            self,
            Self::Slow(_) | Self::CutMidResponse | Self::MalformedBody
        )
    }
}

/// A fault, where it applies, how many times, and whether the operation still happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub fault: Fault,
    /// A path such as `/key/update`; `None` for every route.
    pub route: Option<String>,
    /// Requests left; `None` until cleared.
    pub remaining: Option<u32>,
    /// The operation changes the stand-in's state before the faulty answer is given.
    pub applied: bool,
    /// Matching requests still to let through untouched before the fault starts.
    pub skip: u32,
}

impl FaultRule {
    /// Every request, every route, until cleared.
    pub fn new(fault: Fault) -> Self {
        let applied = fault.applies_by_default();
        Self {
            fault,
            route: None,
            remaining: None,
            applied,
            skip: 0,
        }
    }

    /// Only requests to this path.
    pub fn on(mut self, route: &str) -> Self {
        self.route = Some(route.to_owned());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Lets the first `n` matching requests through (e.g. a proxy that dies in the middle of a
    /// paged read).
    pub fn after(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    /// Whether the operation takes effect despite the fault (overrides the fault's default).
    pub fn applied(mut self, applied: bool) -> Self {
        self.applied = applied;
        self
    }
}

/// The active rules; cloned handles share them.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<FaultRule>>>,
}

impl Faults {
    /// Adds a rule; the earliest added matching rule wins among route rules, then global ones.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().push(rule);
    }

    /// Shorthand: `fault` on every route until cleared.
    pub fn set_global(&self, fault: Fault) {
        self.inject(FaultRule::new(fault));
    }

    /// Shorthand: `fault` on `route` for the next `n` requests.
    pub fn on_route(&self, route: &str, fault: Fault, n: u32) {
        self.inject(FaultRule::new(fault).on(route).times(n));
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Removes the rules of one route (global rules stay).
    pub fn clear_route(&self, route: &str) {
        self.lock().retain(|r| r.route.as_deref() != Some(route));
    }

    /// Rules still active.
    pub fn active(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    /// The rule for this request, counting it down.
    pub(crate) fn take(&self, path: &str) -> Option<(Fault, bool)> {
        let mut rules = self.lock();
        let index = rules
            .iter()
            .position(|r| r.route.as_deref() == Some(path))
            .or_else(|| rules.iter().position(|r| r.route.is_none()))?;
        let rule = &mut rules[index];
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        let chosen = (rule.fault.clone(), rule.applied);
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                rules.remove(index);
            }
        }
        Some(chosen)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        // A panicking test thread must not wedge every later request.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_rules_win_and_count_down() {
        let faults = Faults::default();
        faults.set_global(Fault::Status(500));
        faults.on_route("/key/update", Fault::Hang, 1);
        assert_eq!(faults.take("/key/update"), Some((Fault::Hang, false)));
        assert_eq!(
            faults.take("/key/update"),
            Some((Fault::Status(500), false))
        );
        faults.clear();
        assert_eq!(faults.take("/key/update"), None);
    }
}
