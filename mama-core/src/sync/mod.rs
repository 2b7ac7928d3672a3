//! LiteLLM sync: the outbox worker that applies committed changes to LiteLLM and the reconciler
//! that repairs drift. The daemon only schedules this; everything that decides lives here. The
//! admin use cases that report on it or start it (`sync.*`) live with the others in
//! [`crate::ops`].
//!
//! Ordering rule: a user's outbox operations run one at a time, oldest first (a user with a live
//! lease is skipped when claiming), so a delete of an old key always precedes the creation of a
//! new key with the same alias.

mod apply;
pub mod breaker;
mod marks;
mod outcome;
mod push;
pub mod reconcile;
pub(crate) mod store;
mod team;
mod wanted;
pub mod worker;

pub use wanted::KeyField;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::litellm::{LiteLlm, LiteLlmError};

/// Settings of the worker and reconciler (from the daemon's configuration).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Prefix of every key alias mama writes: `<prefix><user id>`. Keys with it are mama's.
    pub alias_prefix: String,
    /// Operations applied at once.
    pub concurrency: usize,
    /// Upper bound of one operation (several LiteLLM calls); the lease outlives it.
    pub op_timeout: Duration,
    /// LiteLLM team for keys holding `all-team-models` (alias; created when missing).
    pub team_alias: Option<String>,
    /// The models that team opens (never empty with a team: `[]` would open every model).
    pub team_models: Vec<String>,
    /// Orphan keys (mama's prefix, no such user) younger than this are left alone: the user may
    /// be in the middle of a rotation or a create that has not committed yet.
    pub orphan_min_age: Duration,
    /// Longest wait between two attempts of one failing operation.
    pub max_backoff: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            alias_prefix: "mama-".into(),
            concurrency: 8,
            op_timeout: Duration::from_secs(45),
            team_alias: None,
            team_models: Vec::new(),
            orphan_min_age: Duration::from_secs(600),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl SyncConfig {
    /// Whether `all-team-models` means anything here (a team is configured).
    pub fn has_team(&self) -> bool {
        self.team_alias.is_some()
    }

    pub fn alias_for(&self, user_id: &str) -> String {
        format!("{}{}", self.alias_prefix, user_id)
    }

    /// How long a claimed operation stays reserved for one worker: past it, another daemon (or
    /// this one after a restart) may take it over.
    pub fn lease(&self) -> Duration {
        self.op_timeout + Duration::from_secs(5)
    }
}

/// The LiteLLM connection the daemon configured, shared with the use cases.
#[derive(Clone)]
pub struct Engine {
    pub client: Arc<dyn LiteLlm>,
    pub config: SyncConfig,
}

/// Last thing the worker learned about LiteLLM's reachability.
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    pub reachable: Option<bool>,
    /// mama's words, never LiteLLM's.
    pub error: Option<String>,
}

#[derive(Default)]
struct Shared {
    engine: OnceLock<Engine>,
    link: Mutex<LinkState>,
    last_reconcile: Mutex<Option<DateTime<Utc>>>,
    team_id: Mutex<Option<String>>,
    /// One reconcile at a time within this process (PostgreSQL adds an advisory lock).
    reconciling: tokio::sync::Mutex<()>,
    /// One usage collection at a time within this process (see [`crate::usage::collect`]).
    collecting: tokio::sync::Mutex<()>,
    /// One find-or-create of the team at a time within this process: two at once (the first
    /// key's sync and a reconcile) would both find no team and create two of one alias.
    team_lock: tokio::sync::Mutex<()>,
}

/// Handle held by [`crate::ops::Mama`]: empty until the daemon configures LiteLLM.
#[derive(Clone, Default)]
pub struct SyncHandle {
    shared: Arc<Shared>,
}

impl SyncHandle {
    /// Installs the LiteLLM connection; only the first call counts.
    pub fn configure(&self, engine: Engine) {
        let _ = self.shared.engine.set(engine);
    }

    pub fn engine(&self) -> Option<&Engine> {
        self.shared.engine.get()
    }

    /// Held while a usage collection runs in this process.
    pub(crate) fn collecting(&self) -> &tokio::sync::Mutex<()> {
        &self.shared.collecting
    }

    pub fn link(&self) -> LinkState {
        lock(&self.shared.link).clone()
    }

    pub(crate) fn set_link(&self, reachable: bool, error: Option<String>) {
        *lock(&self.shared.link) = LinkState {
            reachable: Some(reachable),
            error,
        };
    }

    /// Records what any call to LiteLLM showed of its reachability, not only the worker's: an
    /// idle daemon learns it from the catalog refresh, so operators never see "unknown" while
    /// LiteLLM answers (or is down) and no key is being changed. Refusals that are not outages
    /// (a 404, a 400) say nothing about the link and leave it as it was.
    pub fn observed(&self, outcome: Result<(), &LiteLlmError>) {
        match outcome {
            Ok(()) => self.set_link(true, None),
            Err(err) if breaker::is_outage(err) => self.set_link(false, Some(err.to_string())),
            Err(_) => {}
        }
    }

    pub fn last_reconcile(&self) -> Option<DateTime<Utc>> {
        *lock(&self.shared.last_reconcile)
    }

    /// Held while the team is found or created and its models checked.
    pub(crate) fn team_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.shared.team_lock
    }

    pub(crate) fn cached_team(&self) -> Option<String> {
        lock(&self.shared.team_id).clone()
    }

    pub(crate) fn cache_team(&self, id: String) {
        *lock(&self.shared.team_id) = Some(id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::litellm::UpstreamDetail;

    #[test]
    fn reachability_follows_outages_and_ignores_refusals() {
        let sync = SyncHandle::default();
        assert_eq!(
            sync.link().reachable,
            None,
            "unknown until LiteLLM was asked"
        );
        sync.observed(Ok(()));
        assert_eq!(sync.link().reachable, Some(true));

        let refused = LiteLlmError::NotFound {
            detail: UpstreamDetail::default(),
        };
        sync.observed(Err(&refused));
        assert_eq!(sync.link().reachable, Some(true), "a 404 is an answer");

        let down = LiteLlmError::Connect {
            detail: UpstreamDetail::new("connection refused by 10.0.0.7"),
        };
        sync.observed(Err(&down));
        let link = sync.link();
        assert_eq!(link.reachable, Some(false));
        let said = link.error.expect("why it is down");
        assert!(!said.contains("10.0.0.7"), "mama's words only: {said}");
    }
}
