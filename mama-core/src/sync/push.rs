//! The common case in one LiteLLM call: a models, limits or suspension change of a key LiteLLM is
//! known to hold.
//!
//! The full path ([`super::apply`]) reads the key (`/key/info`) before acting, which settles
//! whatever an earlier, unclear attempt did. On the real proxy a `/key/info` costs about as much
//! as the `/key/update` itself, so reading first halves the sync rate of a bulk change. When the
//! database already proves what LiteLLM holds, the read adds nothing: the user's key was
//! confirmed in LiteLLM with `synced_models` (set only by a settled create or update of that
//! key), and the operation was never attempted before. Then the final list is pushed directly
//! (`models` replaces LiteLLM's list, so the push is idempotent). Everything else falls back to
//! the full path: a retry or an operation whose worker died mid-way (its result is unknown), a key
//! LiteLLM no longer has (404: the full path recreates it), a rotated key not created yet (404
//! too), a change of the key's team, and a sync with no models change (a reconciler's repair, which
//! must look at LiteLLM to know what to repair). Not looked at here: an alias or metadata changed
//! behind mama's back (the full path renames such a key when it next reads it).

use super::marks::CHANGED_BY;
use super::outcome::{classify, Applied, JobError};
use super::wanted::KeyTerms;
use super::Engine;
use crate::db::outbox::Job;
use crate::db::users;
use crate::domain::{KeyAccess, NameSet};
use crate::litellm::{LiteLlmError, UpdateKey};
use crate::ops::Mama;

/// Pushes the user's models when that alone brings LiteLLM in line; `None` when the full path
/// must decide.
pub(super) async fn models_only(
    mama: &Mama,
    engine: &Engine,
    job: &Job,
) -> Result<Option<Applied>, JobError> {
    if !job.is_sync() || job.attempts > 0 || job.interrupted {
        return Ok(None);
    }
    let uid = job.user_id.clone();
    let Some(row) = mama.db.read(move |c| users::find(c, &uid)).await? else {
        return Ok(None);
    };
    let (Some(hash), Some(synced)) = (row.key_hash.clone(), row.synced_models.as_deref()) else {
        return Ok(None);
    };
    let Ok(synced) = NameSet::from_json(synced) else {
        return Ok(None);
    };
    let Some(synced_terms) = KeyTerms::from_json(row.synced_limits.as_deref()) else {
        return Ok(None);
    };
    let models = row.model_set()?;
    let terms = KeyTerms::of(&row);
    let teams_managed = engine.config.team_alias.is_some();
    let access = KeyAccess::of(&models, teams_managed);
    let team_changes = access.in_team != KeyAccess::of(&synced, teams_managed).in_team;
    if (models == synced && terms == synced_terms) || team_changes {
        return Ok(None);
    }
    // `blocked` goes with every push: a user's last model taken away (or a suspension) blocks
    // the key in the same call that empties its list, and the first model given back opens it.
    // Limits go out all at once when any of them changed.
    let change = UpdateKey {
        models: (models != synced).then_some(access.models),
        blocked: Some(access.blocked || terms.suspended),
        limits: (terms.limits != synced_terms.limits).then(|| terms.limits.clone()),
        ..UpdateKey::default()
    };
    match engine.client.update_key(CHANGED_BY, &hash, &change).await {
        Ok(_) => Ok(Some(Applied::Updated {
            user: row.id,
            key_hash: hash,
            models_json: row.models,
            terms_json: terms.to_json(),
        })),
        Err(LiteLlmError::NotFound { .. }) => Ok(None),
        Err(err) => Err(classify(err, &hash)),
    }
}
