//! The one LiteLLM team mama attaches `all-team-models` keys to. LiteLLM reads a team with no
//! models as "every proxy model", so the team's models are explicit configuration
//! (`--litellm-team-models`, never empty) and mama makes the team hold exactly them: on creation,
//! when it first uses an existing team, and at every reconcile (someone may widen it in LiteLLM).

use super::marks::CHANGED_BY;
use super::outcome::JobError;
use super::wanted::same_models;
use super::Engine;
use crate::litellm::{LiteLlmError, NewTeam, Team};
use crate::ops::Mama;

/// What making the team right took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamCheck {
    pub team_id: String,
    /// The team's models differed from the configured ones and were set.
    pub restricted: bool,
}

/// The id of the configured team, restricted to the configured models; created when missing.
/// Cached after the first success: the reconciler checks it again on its own schedule.
pub(super) async fn restricted_team(mama: &Mama, engine: &Engine) -> Result<String, JobError> {
    if let Some(id) = mama.sync.cached_team() {
        return Ok(id);
    }
    let _one_at_a_time = mama.sync.team_lock().lock().await;
    // Another sync (or the reconciler) may have found or created it while this one waited.
    if let Some(id) = mama.sync.cached_team() {
        return Ok(id);
    }
    let check = ensure_restricted(engine).await?;
    mama.sync.cache_team(check.team_id.clone());
    Ok(check.team_id)
}

/// Finds or creates the team and sets its models to the configured list when they differ.
/// `None` when no team is configured.
pub(super) async fn ensure_restricted(engine: &Engine) -> Result<TeamCheck, LiteLlmError> {
    let alias = engine
        .config
        .team_alias
        .clone()
        .ok_or(LiteLlmError::Config {
            what: "no LiteLLM team is configured",
        })?;
    let wanted = engine.config.team_models.clone();
    if wanted.is_empty() {
        // Refused at start-up too: an empty list would open every model.
        return Err(LiteLlmError::Config {
            what: "the team's models are not configured",
        });
    }
    let team: Team = engine
        .client
        .ensure_team(
            CHANGED_BY,
            &NewTeam {
                team_id: None,
                team_alias: alias,
                models: wanted.clone(),
            },
        )
        .await?;
    let restricted = !same_models(&team.models, &wanted);
    if restricted {
        engine
            .client
            .set_team_models(CHANGED_BY, &team.team_id, &wanted)
            .await?;
    }
    Ok(TeamCheck {
        team_id: team.team_id,
        restricted,
    })
}
