//! What one outbox job came to: done (and what it did), worth another try later, or refused for
//! good. The worker settles the outbox and the user's key status from it.

use crate::db::DbError;
use crate::litellm::LiteLlmError;

/// What a finished job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Key created; carries the `models` JSON pushed.
    Created {
        user: String,
        key_hash: String,
        models_json: String,
        /// The limits and block pushed ([`super::wanted::KeyTerms::to_json`]).
        terms_json: String,
    },
    /// Models (or alias/team) pushed to an existing key.
    Updated {
        user: String,
        key_hash: String,
        models_json: String,
        /// The limits and block pushed ([`super::wanted::KeyTerms::to_json`]).
        terms_json: String,
    },
    /// LiteLLM already held the key as mama has it.
    Unchanged {
        user: String,
        key_hash: String,
        models_json: String,
        /// The limits and block pushed ([`super::wanted::KeyTerms::to_json`]).
        terms_json: String,
    },
    Deleted,
    /// Delete of a key LiteLLM does not have: nothing to do.
    AlreadyGone,
    /// The user (or its key) no longer exists: a delete operation handles the key.
    Nothing,
    /// A trashed user's key blocked in LiteLLM.
    Blocked,
}

/// Why a job did not finish.
#[derive(Debug)]
pub enum JobError {
    /// Try again later (LiteLLM or the database unavailable, or an unclear result).
    Retry(RetryCause),
    /// Trying again will not help; the reason is mama's own words, safe to show and store.
    Permanent {
        key_hash: Option<String>,
        reason: String,
    },
}

#[derive(Debug)]
pub enum RetryCause {
    LiteLlm(LiteLlmError),
    /// Logged where it happens; the outbox keeps mama's summary only.
    Db(#[allow(dead_code)] DbError),
    /// The alias was held by this user's superseded key, now deleted: create on the next round.
    AliasFreed,
}

impl RetryCause {
    /// mama's words for `outbox.last_error` and events.
    pub fn describe(&self) -> String {
        match self {
            RetryCause::LiteLlm(e) => e.to_string(),
            RetryCause::Db(_) => "the database was unavailable".into(),
            RetryCause::AliasFreed => "the alias was held by the user's previous key".into(),
        }
    }
}

impl From<LiteLlmError> for JobError {
    fn from(err: LiteLlmError) -> Self {
        JobError::Retry(RetryCause::LiteLlm(err))
    }
}

impl From<DbError> for JobError {
    fn from(err: DbError) -> Self {
        JobError::Retry(RetryCause::Db(err))
    }
}

/// Whether a LiteLLM error on a key operation is a refusal of the request itself, which trying
/// again will not change: LiteLLM rejected the body's shape (422), or refused a 4xx naming the
/// field it objects to (`param`). Everything else is retried with backoff: a 5xx, a timeout or a
/// cut, a 400 or 403 without a field (LiteLLM answers those while it restarts or its database
/// fails: seen for real as 400s from a proxy shutting down in the middle of a bulk change), a 404
/// (the key vanished between our read and our write: the next attempt re-reads and recreates
/// it) and a 401 (mama's configuration, not the user's data).
fn permanent(err: &LiteLlmError) -> bool {
    match err {
        LiteLlmError::Validation { .. } | LiteLlmError::DuplicateAlias { .. } => true,
        LiteLlmError::BadRequest { param, .. } => param.is_some(),
        _ => false,
    }
}

/// Splits a LiteLLM error into retry or a permanent failure of this user's key.
pub(super) fn classify(err: LiteLlmError, key_hash: &str) -> JobError {
    if permanent(&err) {
        JobError::Permanent {
            key_hash: Some(key_hash.to_string()),
            reason: format!("LiteLLM refused mama's change: {err}"),
        }
    } else {
        JobError::Retry(RetryCause::LiteLlm(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_naming_the_request_are_permanent() {
        let named = LiteLlmError::BadRequest {
            status: 400,
            param: Some("budget_duration".into()),
            detail: Default::default(),
        };
        assert!(permanent(&named));
        assert!(permanent(&LiteLlmError::Validation {
            detail: Default::default()
        }));
        // What a proxy shutting down (or losing its database) answers: no field named.
        let unnamed = LiteLlmError::BadRequest {
            status: 400,
            param: None,
            detail: Default::default(),
        };
        assert!(!permanent(&unnamed));
        assert!(!permanent(&LiteLlmError::Forbidden {
            detail: Default::default()
        }));
        assert!(!permanent(&LiteLlmError::Server {
            status: 503,
            detail: Default::default()
        }));
        assert!(!permanent(&LiteLlmError::NotFound {
            detail: Default::default()
        }));
        assert!(!permanent(&LiteLlmError::RateLimited {
            retry_after: None,
            detail: Default::default()
        }));
        assert!(!permanent(&LiteLlmError::Timeout));
    }
}
