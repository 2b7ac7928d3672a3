//! One outbox job against LiteLLM. Every sync starts by reading LiteLLM's state for the key
//! (`/key/info` by hash), so a retry after an unclear result (timeout, cut, 5xx) settles what the
//! previous attempt did before acting: never a duplicate key, never a lost update.

use serde_json::{Map, Value};

use super::store::Job;
use super::team;
use super::wanted::{KeyField, WantedKey};
use super::Engine;
use crate::db::users::{self, UserRow};
use crate::db::DbError;
use crate::domain::KeyAccess;
use crate::litellm::{
    GenerateKey, KeyConfirmation, KeyStatus, ListKeys, LiteLlmError, SecretString, UpdateKey,
};
use crate::ops::Mama;

/// Who LiteLLM records as the author of mama's changes (`litellm-changed-by`).
pub const CHANGED_BY: &str = "mama-sync";

/// What a finished job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Key created; carries the `models` JSON pushed.
    Created {
        user: String,
        key_hash: String,
        models_json: String,
    },
    /// Models (or alias/team) pushed to an existing key.
    Updated {
        user: String,
        key_hash: String,
        models_json: String,
    },
    /// LiteLLM already held the key as mama has it.
    Unchanged {
        user: String,
        key_hash: String,
        models_json: String,
    },
    Deleted,
    /// Delete of a key LiteLLM does not have: nothing to do.
    AlreadyGone,
    /// The user (or its key) no longer exists: a delete operation handles the key.
    Nothing,
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

pub async fn run(mama: &Mama, engine: &Engine, job: &Job) -> Result<Applied, JobError> {
    if job.is_sync() {
        if let Some(applied) = super::push::models_only(mama, engine, job).await? {
            return Ok(applied);
        }
        sync_user(mama, engine, &job.user_id).await
    } else {
        delete_key(engine, job).await
    }
}

async fn delete_key(engine: &Engine, job: &Job) -> Result<Applied, JobError> {
    let Some(hash) = job.key_hash.clone() else {
        return Ok(Applied::Nothing);
    };
    match engine
        .client
        .delete_keys(CHANGED_BY, std::slice::from_ref(&hash))
        .await
    {
        Ok(()) => Ok(Applied::Deleted),
        Err(LiteLlmError::NotFound { .. }) => Ok(Applied::AlreadyGone),
        Err(err) => Err(classify(err, &hash)),
    }
}

async fn sync_user(mama: &Mama, engine: &Engine, user_id: &str) -> Result<Applied, JobError> {
    let uid = user_id.to_string();
    let row: Option<UserRow> = mama.db.read(move |c| users::find(c, &uid)).await?;
    let Some(row) = row else {
        return Ok(Applied::Nothing);
    };
    let Some(hash) = row.key_hash.clone() else {
        return Ok(Applied::Nothing);
    };
    let models = row.model_set()?;
    let teams_managed = engine.config.team_alias.is_some();
    let in_team = KeyAccess::of(&models, teams_managed).in_team;
    let team_id = if in_team {
        Some(team::restricted_team(mama, engine).await?)
    } else {
        None
    };
    let wanted = WantedKey::new(
        &engine.config.alias_prefix,
        &row.id,
        &models,
        teams_managed,
        team_id,
    );
    let models_json = row.models.clone();
    let user = row.id.clone();

    let existing = engine.client.key_info(&hash).await?;
    match existing {
        Some(info)
            if info.status == KeyStatus::Active
                && !wanted.differences(&info).contains(&KeyField::Team) =>
        {
            let fields = wanted.differences(&info);
            if fields.is_empty() {
                return Ok(Applied::Unchanged {
                    user,
                    key_hash: hash,
                    models_json,
                });
            }
            let change = wanted.repair(&info, &fields);
            engine
                .client
                .update_key(CHANGED_BY, &hash, &change)
                .await
                .map_err(|e| classify(e, &hash))?;
            Ok(Applied::Updated {
                user,
                key_hash: hash,
                models_json,
            })
        }
        existing => {
            let moving = existing
                .as_ref()
                .is_some_and(|i| i.status == KeyStatus::Active);
            if moving {
                // The key changes team. LiteLLM 1.103.7 refuses `/key/update` into a team the
                // key's user is not a member of (403), and cannot take a team off a key through
                // mama's client; generate has neither limit. So the key is deleted and generated
                // again, same value, alias and user, in its new team: for the moment in between
                // the key does not work. A retry after a cut finds it deleted and generates it.
                match engine
                    .client
                    .delete_keys(CHANGED_BY, std::slice::from_ref(&hash))
                    .await
                {
                    Ok(()) | Err(LiteLlmError::NotFound { .. }) => {}
                    Err(err) => return Err(classify(err, &hash)),
                }
            }
            let plain = mama.decrypt_key(&row).map_err(|_| JobError::Permanent {
                key_hash: Some(hash.clone()),
                reason: "the stored key cannot be decrypted; rotate the user's key".into(),
            })?;
            let Some(plain) = plain else {
                return Ok(Applied::Nothing);
            };
            let req = GenerateKey {
                key: SecretString::new(plain),
                key_alias: Some(wanted.alias.clone()),
                models: wanted.access.models.clone(),
                user_id: Some(row.id.clone()),
                team_id: wanted.team_id.clone(),
                metadata: mark(&engine.config.alias_prefix),
                blocked: wanted.access.blocked,
            };
            create(engine, &req, &hash, &row.id).await?;
            if moving {
                return Ok(Applied::Updated {
                    user,
                    key_hash: hash,
                    models_json,
                });
            }
            Ok(Applied::Created {
                user,
                key_hash: hash,
                models_json,
            })
        }
    }
}

/// Creates the key, settling LiteLLM's quirks: a 200 that changed nothing (`Differs`), and an
/// alias still held by this user's superseded key (after a rotation or a lost delete).
async fn create(
    engine: &Engine,
    req: &GenerateKey,
    hash: &str,
    user_id: &str,
) -> Result<(), JobError> {
    match engine.client.create_key_confirmed(CHANGED_BY, req).await {
        Ok(KeyConfirmation::Created(_)) => Ok(()),
        Ok(KeyConfirmation::Differs(info)) if info.status == KeyStatus::Active => {
            let change = UpdateKey {
                models: Some(req.models.clone()),
                key_alias: req.key_alias.clone(),
                user_id: req.user_id.clone(),
                team_id: req.team_id.clone(),
                metadata: Some(req.metadata.clone()),
                blocked: Some(req.blocked),
            };
            engine
                .client
                .update_key(CHANGED_BY, hash, &change)
                .await
                .map_err(|e| classify(e, hash))?;
            Ok(())
        }
        Ok(KeyConfirmation::Differs(_)) => Err(JobError::Permanent {
            key_hash: Some(hash.to_string()),
            reason:
                "LiteLLM keeps this key as deleted and will not recreate it; rotate the user's key"
                    .into(),
        }),
        Err(LiteLlmError::DuplicateAlias { .. }) => free_alias(engine, req, hash, user_id).await,
        Err(err) => Err(classify(err, hash)),
    }
}

/// The alias is taken. If the holder is mama's key of this same user (superseded by a rotation,
/// or left behind by a lost delete), it is renamed out of the way, so the new key is created
/// before the old one is deleted (by its own queued delete, or by the reconciler as an orphan);
/// anything else is a conflict an operator must resolve.
async fn free_alias(
    engine: &Engine,
    req: &GenerateKey,
    hash: &str,
    user_id: &str,
) -> Result<(), JobError> {
    let alias = req.key_alias.clone().unwrap_or_default();
    let query = ListKeys {
        key_alias: Some(alias.clone()),
        size: 10,
        ..ListKeys::default()
    };
    let page = engine.client.list_keys(&query).await?;
    let holders: Vec<_> = page.keys.iter().filter(|k| k.token != hash).collect();
    let ours = holders
        .iter()
        .all(|k| k.user_id.as_deref() == Some(user_id) && is_mamas(&k.metadata));
    if holders.is_empty() || !ours {
        return Err(JobError::Permanent {
            key_hash: Some(hash.to_string()),
            reason: format!("another LiteLLM key, not this user's, already uses the alias {alias}"),
        });
    }
    for old in holders {
        let short: String = old.token.chars().take(8).collect();
        let rename = UpdateKey {
            key_alias: Some(format!("{alias}~old-{short}")),
            ..UpdateKey::default()
        };
        match engine
            .client
            .update_key(CHANGED_BY, &old.token, &rename)
            .await
        {
            Ok(_) | Err(LiteLlmError::NotFound { .. }) => {}
            Err(err) => return Err(classify(err, hash)),
        }
    }
    Err(JobError::Retry(RetryCause::AliasFreed))
}

/// The metadata every key mama creates carries: that it is mama's, and which installation's
/// (by its alias prefix), so that two mamas sharing one LiteLLM can tell their keys apart even
/// when one prefix starts with the other (`mama-` and `mama-staging-`).
pub fn mark(alias_prefix: &str) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("managed_by".into(), Value::from("mama"));
    metadata.insert(ALIAS_PREFIX_MARK.into(), Value::from(alias_prefix));
    metadata
}

/// Metadata field naming the alias prefix of the mama that created a key.
pub const ALIAS_PREFIX_MARK: &str = "mama_alias_prefix";

/// Keys mama created carry `{"managed_by": "mama"}`.
pub fn is_mamas(metadata: &Map<String, Value>) -> bool {
    metadata.get("managed_by").and_then(Value::as_str) == Some("mama")
}

/// Whether the reconciler may take a key no user holds for this installation's orphan: its
/// alias has this installation's prefix, and it is not marked as another installation's. Keys
/// of another mama on the same LiteLLM (another prefix, or a longer one starting with this one)
/// are never deleted. Keys created before the mark existed are judged by their alias alone.
pub fn may_be_our_orphan(
    key_alias: Option<&str>,
    metadata: &Map<String, Value>,
    prefix: &str,
) -> bool {
    key_alias.is_some_and(|a| a.starts_with(prefix))
        && metadata
            .get(ALIAS_PREFIX_MARK)
            .and_then(Value::as_str)
            .is_none_or(|marked| marked == prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_installations_keys_may_be_taken_for_orphans() {
        let ours = mark("mama-");
        assert!(may_be_our_orphan(Some("mama-gone"), &ours, "mama-"));
        // Before the mark existed: the alias decides.
        assert!(may_be_our_orphan(Some("mama-gone"), &Map::new(), "mama-"));
        // Another mama on the same LiteLLM, with a prefix that starts with ours.
        let staging = mark("mama-staging-");
        assert!(!may_be_our_orphan(
            Some("mama-staging-bob"),
            &staging,
            "mama-"
        ));
        assert!(may_be_our_orphan(
            Some("mama-staging-bob"),
            &staging,
            "mama-staging-"
        ));
        // Another prefix altogether, or no alias: never ours to delete.
        assert!(!may_be_our_orphan(
            Some("corp-bob"),
            &mark("corp-"),
            "mama-"
        ));
        assert!(!may_be_our_orphan(Some("corp-bob"), &ours, "mama-"));
        assert!(!may_be_our_orphan(None, &ours, "mama-"));
    }

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
