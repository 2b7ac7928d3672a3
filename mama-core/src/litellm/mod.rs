//! Client of LiteLLM's admin API: what mama's sync worker and reconciler need, behind a small
//! trait so they can be tested against a stand-in, with one reqwest implementation.
//!
//! Quirks of LiteLLM 1.103.7 this module is built around (see `shared/litellm/API.md`):
//! - a 200 from `/key/generate` is not proof: reusing an existing key value answers 200, echoes
//!   the request and changes nothing; [`LiteLlm::create_key_confirmed`] reads it back;
//! - `models` and `metadata` on `/key/update` replace what is stored;
//! - `/key/update` and `/key/delete` of a missing key → [`LiteLlmError::NotFound`]; a delete
//!   mixing found and missing keys answers 200 with no per-key result;
//! - `/key/info` keeps answering 200 after a delete, with [`KeyStatus::Deleted`];
//! - error `type` is unreliable, errors are decided by status and `param`.
//!
//! Keys travel only as their SHA-256 hash ([`key_hash`]) except in the one `/key/generate` body
//! that creates them; never in a URL.

mod activity;
mod client;
mod error;
mod types;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// The client takes the master key and new keys as the crate's one secret type; named here too
/// so the client's callers find it next to the client.
pub use crate::secret::SecretString;
pub use activity::{merge, ActivityEntry, ActivityPage, EntryKey, MAX_PAGE_SIZE};
pub use client::{LiteLlmConfig, ReqwestLiteLlm};
pub use error::{LiteLlmError, UpstreamDetail};
pub use types::{
    GenerateKey, Health, KeyConfirmation, KeyInfo, KeyPage, KeyStatus, LimitsOnKey, ListKeys,
    NewTeam, Team, UpdateKey, KEY_TYPE_LLM_API,
};

/// LiteLLM's id for a key (`token`): the SHA-256 hex of the plaintext `sk-…` value.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The LiteLLM admin operations mama uses. `changed_by` is sent as `litellm-changed-by` so
/// LiteLLM's own audit trail names mama's actor.
///
/// Every `key` argument is the key's hash; a plaintext `sk-…` value is hashed before use.
#[async_trait]
pub trait LiteLlm: Send + Sync {
    /// `/health/readiness`: LiteLLM up and its database connected.
    async fn health(&self) -> Result<Health, LiteLlmError>;

    /// Model names LiteLLM serves now (`/v1/models` with the master key).
    async fn list_models(&self) -> Result<Vec<String>, LiteLlmError>;

    /// Model names from `/model/info`, one per name although LiteLLM lists one per deployment.
    async fn model_info_names(&self) -> Result<Vec<String>, LiteLlmError>;

    /// Creates a key with mama's value. The answer echoes the request even when LiteLLM kept an
    /// older key with that value unchanged: use [`Self::create_key_confirmed`] after any retry.
    async fn generate_key(
        &self,
        changed_by: &str,
        req: &GenerateKey,
    ) -> Result<KeyInfo, LiteLlmError>;

    /// Changes only the fields set in `req`; `NotFound` when LiteLLM has no such live key.
    async fn update_key(
        &self,
        changed_by: &str,
        key: &str,
        req: &UpdateKey,
    ) -> Result<KeyInfo, LiteLlmError>;

    /// Deletes keys by hash. `NotFound` when none existed; `Ok` when at least one did, with no
    /// word on the others: check with [`Self::key_info`] when it matters.
    async fn delete_keys(&self, changed_by: &str, keys: &[String]) -> Result<(), LiteLlmError>;

    /// Deletes keys by alias, with the same all-or-nothing reporting as [`Self::delete_keys`].
    async fn delete_keys_by_alias(
        &self,
        changed_by: &str,
        aliases: &[String],
    ) -> Result<(), LiteLlmError>;

    /// The key as LiteLLM holds it; `None` when it never existed. A deleted key comes back with
    /// [`KeyStatus::Deleted`].
    async fn key_info(&self, key: &str) -> Result<Option<KeyInfo>, LiteLlmError>;

    /// One page of live keys (full objects), newest first.
    async fn list_keys(&self, query: &ListKeys) -> Result<KeyPage, LiteLlmError>;

    /// The team, or `None` when LiteLLM has no team with that id.
    async fn team_info(&self, team_id: &str) -> Result<Option<Team>, LiteLlmError>;

    /// One page of `/user/daily/activity` for every user, `start..=end` (UTC days): usage per
    /// day, key hash and model group. Pages split days (see [`merge`]).
    async fn daily_activity(
        &self,
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
        page: u32,
        page_size: u32,
    ) -> Result<ActivityPage, LiteLlmError>;

    /// Every team (`/team/list`).
    async fn list_teams(&self) -> Result<Vec<Team>, LiteLlmError>;

    /// Creates a team; a duplicate explicit `team_id` is a `BadRequest`.
    async fn new_team(&self, changed_by: &str, req: &NewTeam) -> Result<Team, LiteLlmError>;

    /// Replaces the team's models (`/team/update`); `NotFound` when the team is gone.
    async fn set_team_models(
        &self,
        changed_by: &str,
        team_id: &str,
        models: &[String],
    ) -> Result<(), LiteLlmError>;

    /// The team mama attaches `all-team-models` keys to, created when missing: looked up by
    /// `team_id` when given, else by alias.
    async fn ensure_team(&self, changed_by: &str, req: &NewTeam) -> Result<Team, LiteLlmError> {
        let existing = match &req.team_id {
            Some(id) => self.team_info(id).await?,
            None => self
                .list_teams()
                .await?
                .into_iter()
                .find(|t| t.team_alias.as_deref() == Some(req.team_alias.as_str())),
        };
        match existing {
            Some(team) => Ok(team),
            None => self.new_team(changed_by, req).await,
        }
    }

    /// Generates the key, then reads it back: LiteLLM's 200 is proof only together with a
    /// `/key/info` showing the requested values on a live key. Safe to call again after an
    /// unclear result: LiteLLM answers a repeated generate with `DuplicateAlias` (the alias is
    /// held by the key itself), which is settled here by reading the key.
    async fn create_key_confirmed(
        &self,
        changed_by: &str,
        req: &GenerateKey,
    ) -> Result<KeyConfirmation, LiteLlmError> {
        let token = key_hash(req.key.expose());
        match self.generate_key(changed_by, req).await {
            Ok(_) => {}
            // A retry after an unclear first attempt: the alias may be held by this very key.
            Err(LiteLlmError::DuplicateAlias { detail }) => match self.key_info(&token).await? {
                Some(info) if info.status == KeyStatus::Active => {}
                _ => return Err(LiteLlmError::DuplicateAlias { detail }),
            },
            Err(err) => return Err(err),
        }
        let stored = self
            .key_info(&token)
            .await?
            .ok_or_else(|| LiteLlmError::Malformed {
                status: 200,
                detail: UpstreamDetail::new("generated key missing from /key/info"),
            })?;
        let wanted_alias = req.key_alias.as_deref().filter(|a| !a.is_empty());
        let as_requested = stored.status == KeyStatus::Active
            && stored.blocked == req.blocked
            && stored.key_alias.as_deref() == wanted_alias
            && stored.models == req.models
            && stored.user_id == req.user_id
            && stored.team_id == req.team_id;
        Ok(if as_requested {
            KeyConfirmation::Created(stored)
        } else {
            KeyConfirmation::Differs(stored)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_hash_is_litellm_token() {
        // From captures/10-key-generate.json: key → token.
        assert_eq!(
            super::key_hash("sk-9tM1OAmg-gF5V2Y33BZCUA"),
            "61a3aef239ee87dfbbb1fb785f759c268c5863f4ca6d6f244af944ea96c1c5a9"
        );
    }
}
