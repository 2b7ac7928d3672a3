//! One outbox job against LiteLLM. Every sync starts by reading LiteLLM's state for the key
//! (`/key/info` by hash), so a retry after an unclear result (timeout, cut, 5xx) settles what the
//! previous attempt did before acting: never a duplicate key, never a lost update.

use super::marks::{is_mamas, mark, CHANGED_BY};
use super::outcome::{classify, Applied, JobError, RetryCause};
use super::team;
use super::wanted::{KeyField, KeyTerms, WantedKey};
use super::Engine;
use crate::db::outbox::Job;
use crate::db::users::{self, UserRow};
use crate::domain::KeyAccess;
use crate::litellm::{GenerateKey, KeyConfirmation, KeyStatus, ListKeys, LiteLlmError, UpdateKey};
use crate::ops::Mama;

/// Runs one job: a sync brings LiteLLM's key in line with the user as mama has it now (in one
/// call when [`super::push`] can prove that is enough), a delete removes a key.
pub async fn run(mama: &Mama, engine: &Engine, job: &Job) -> Result<Applied, JobError> {
    if job.is_sync() {
        if let Some(applied) = super::push::models_only(mama, engine, job).await? {
            return Ok(applied);
        }
        sync_user(mama, engine, &job.user_id).await
    } else if job.kind == crate::db::outbox::KIND_BLOCK {
        block_key(engine, job).await
    } else {
        delete_key(engine, job).await
    }
}

/// Blocks a trashed user's key: it stays in LiteLLM (a restore unblocks the same key) but
/// every call with it is refused. A key LiteLLM never had (its creation was still queued) has
/// nothing to block.
async fn block_key(engine: &Engine, job: &Job) -> Result<Applied, JobError> {
    let Some(hash) = job.key_hash.clone() else {
        return Ok(Applied::Nothing);
    };
    let change = UpdateKey {
        blocked: Some(true),
        ..UpdateKey::default()
    };
    match engine.client.update_key(CHANGED_BY, &hash, &change).await {
        Ok(_) => Ok(Applied::Blocked),
        Err(LiteLlmError::NotFound { .. }) => Ok(Applied::AlreadyGone),
        Err(err) => Err(classify(err, &hash)),
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
    )
    .with_terms(KeyTerms::of(&row));
    let models_json = row.models.clone();
    let terms_json = wanted.terms.to_json();
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
                    terms_json,
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
                terms_json,
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
                key: plain,
                key_alias: Some(wanted.alias.clone()),
                models: wanted.access.models.clone(),
                user_id: Some(row.id.clone()),
                team_id: wanted.team_id.clone(),
                metadata: mark(&engine.config.alias_prefix),
                blocked: wanted.blocked(),
                limits: wanted.terms.limits.clone(),
            };
            create(engine, &req, &hash, &row.id).await?;
            if moving {
                return Ok(Applied::Updated {
                    user,
                    key_hash: hash,
                    models_json,
                    terms_json,
                });
            }
            Ok(Applied::Created {
                user,
                key_hash: hash,
                models_json,
                terms_json,
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
                limits: Some(req.limits.clone()),
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
