//! The stand-in's memory: keys (live and deleted), teams and the served models, with LiteLLM
//! 1.103.7's rules applied to them. No HTTP here: handlers translate, this decides.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::wire::ApiError;

/// Sentinel: every model of the key's team (every proxy model when the key has no team).
pub const ALL_TEAM_MODELS: &str = "all-team-models";
/// Sentinel: every proxy model.
pub const ALL_PROXY_MODELS: &str = "all-proxy-models";

/// A key as the stand-in stores it. Tests read these through snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct StandInKey {
    /// SHA-256 hex of the key.
    pub token: String,
    pub key_name: String,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub key_type: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_by: String,
    /// `None` until a generate, update, block or unblock sets it: LiteLLM shows a never-blocked
    /// key as `"blocked": null`, and mama must read that as "not blocked".
    pub blocked: Option<bool>,
    /// Budget, rate limits and expiry, stored and shown as LiteLLM does (not enforced).
    pub limits: HeldLimits,
    /// Creation order, for `/key/list` (newest first).
    pub seq: u64,
}

/// A key's limits; `None` is no limit (`null` on the wire).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeldLimits {
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    pub expires: Option<DateTime<Utc>>,
}

/// Limits sent in a generate or update: each `Some` (a value or `null`) replaces the held one;
/// `duration` sets `expires` from now (`null`: never).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitChanges {
    pub max_budget: Option<Option<f64>>,
    pub budget_duration: Option<Option<String>>,
    pub tpm_limit: Option<Option<u64>>,
    pub rpm_limit: Option<Option<u64>>,
    pub expires: Option<Option<DateTime<Utc>>>,
}

impl LimitChanges {
    pub fn apply(self, held: &mut HeldLimits) {
        if let Some(v) = self.max_budget {
            held.max_budget = v;
        }
        if let Some(v) = self.budget_duration {
            held.budget_duration = v;
        }
        if let Some(v) = self.tpm_limit {
            held.tpm_limit = v;
        }
        if let Some(v) = self.rpm_limit {
            held.rpm_limit = v;
        }
        if let Some(v) = self.expires {
            held.expires = v;
        }
    }
}

impl StandInKey {
    /// Whether LiteLLM refuses this key (401 `auth_error`, `info.status: "revoked"`).
    pub fn is_blocked(&self) -> bool {
        self.blocked == Some(true)
    }
}

/// A team as the stand-in stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandInTeam {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub models: Vec<String>,
}

/// One deployment of a model (`/model/info` lists one entry per deployment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub model_name: String,
    pub id: String,
}

/// The fields of a `/key/generate` the stand-in acts on.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub key: Option<String>,
    pub key_alias: Option<String>,
    pub models: Vec<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub key_type: Option<String>,
    pub blocked: Option<bool>,
    pub limits: LimitChanges,
}

/// The fields of a `/key/update`; `None` leaves the field alone.
#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    pub models: Option<Vec<String>>,
    pub key_alias: Option<Option<String>>,
    pub user_id: Option<Option<String>>,
    pub team_id: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
    /// `None` (field absent or JSON null) leaves the flag as it is.
    pub blocked: Option<bool>,
    pub limits: LimitChanges,
}

/// The fields of a `/team/update` the stand-in acts on; `None` leaves the field alone.
#[derive(Debug, Clone, Default)]
pub struct TeamChanges {
    /// Replaces the team's whole list (`[]` means every proxy model, as on `/team/new`).
    pub models: Option<Vec<String>>,
    pub team_alias: Option<String>,
}

/// Who is calling: the master key, or a live virtual key.
#[derive(Debug, Clone)]
pub enum Caller {
    Master,
    Virtual(Box<StandInKey>),
}

/// What `/key/generate` did: a new key, or the quirk (existing explicit key, nothing changed).
pub enum Generated {
    /// A new key; `plaintext` is the only time the value is returned.
    Created {
        key: Box<StandInKey>,
        plaintext: String,
    },
    /// Reused explicit key value: LiteLLM answers 200 echoing the request, stores nothing.
    Unchanged {
        stored: Box<StandInKey>,
        echoed: Box<StandInKey>,
    },
}

#[derive(Debug, Default)]
pub struct State {
    pub keys: HashMap<String, StandInKey>,
    pub deleted: HashMap<String, StandInKey>,
    pub teams: Vec<StandInTeam>,
    pub deployments: Vec<Deployment>,
    /// Usage rows a test recorded, served by `/user/daily/activity`.
    pub usage: Vec<super::activity::UsageRow>,
    seq: u64,
}

/// LiteLLM's id for a key, or the value itself when it is already a hash.
pub fn token_of(key_or_hash: &str) -> String {
    if key_or_hash.starts_with("sk-") {
        mama_core::litellm::key_hash(key_or_hash)
    } else {
        key_or_hash.to_owned()
    }
}

/// `sk-...` + the last 4 characters, as LiteLLM shows keys.
fn key_name(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

/// 404 for a key that is not live (never existed, or deleted), as captures 35 and 128.
fn key_not_found() -> ApiError {
    ApiError::new(404, "Key not found.", "not_found_error", Some("key"))
}

fn duplicate_alias(alias: &str) -> ApiError {
    ApiError::new(
        400,
        format!(
            "Key with alias '{alias}' already exists. Unique key aliases across all keys are required."
        ),
        "bad_request_error",
        Some("key_alias"),
    )
}

impl State {
    /// The models of `config.yaml` in `shared/litellm/real/`, one deployment each.
    pub fn with_default_models() -> Self {
        let mut state = Self::default();
        state.set_models(&["gpt-4o", "claude-3-5-sonnet", "llama3", "mock-gpt"]);
        state
    }

    /// Replaces the served models; a name given twice gets two deployments.
    pub fn set_models(&mut self, names: &[&str]) {
        let mut count: HashMap<&str, usize> = HashMap::new();
        self.deployments = names
            .iter()
            .map(|name| {
                let n = count.entry(name).or_default();
                *n += 1;
                Deployment {
                    model_name: (*name).to_owned(),
                    id: format!("{name}-deployment-{n}"),
                }
            })
            .collect();
    }

    /// Distinct model names in config order.
    pub fn model_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for d in &self.deployments {
            if !names.contains(&d.model_name) {
                names.push(d.model_name.clone());
            }
        }
        names
    }

    fn alias_taken(&self, alias: &str, except_token: Option<&str>) -> bool {
        self.keys.values().any(|k| {
            k.key_alias.as_deref() == Some(alias) && Some(k.token.as_str()) != except_token
        })
    }

    pub fn generate(&mut self, caller: &Caller, req: NewKey) -> Result<Generated, ApiError> {
        let key = match req.key {
            Some(key) => {
                if !key.starts_with("sk-") {
                    return Err(ApiError::new(
                        400,
                        format!("{{'error': \"Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: {}****{}\"}}", prefix(&key, 4), suffix(&key, 4)),
                        "internal_server_error",
                        None,
                    ));
                }
                if key.chars().count() < 16 {
                    return Err(ApiError::new(
                        400,
                        "{'error': 'Invalid key format. LiteLLM Virtual Key must be at least 16 characters long.'}",
                        "internal_server_error",
                        None,
                    ));
                }
                key
            }
            None => format!("sk-{}", &uuid::Uuid::new_v4().simple().to_string()[..22]),
        };
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, None) {
                return Err(duplicate_alias(alias));
            }
        }
        let (user_id, by) = match caller {
            Caller::Master => (req.user_id, "default_user_id".to_owned()),
            // A virtual key gets a key for its own user.
            Caller::Virtual(k) => (
                k.user_id.clone(),
                k.user_id
                    .clone()
                    .unwrap_or_else(|| "default_user_id".into()),
            ),
        };
        let token = token_of(&key);
        let now = Utc::now();
        self.seq += 1;
        let record = StandInKey {
            token: token.clone(),
            key_name: key_name(&key),
            key_alias: req.key_alias,
            models: req.models,
            user_id,
            team_id: req.team_id,
            metadata: req.metadata,
            key_type: req.key_type.unwrap_or_else(|| "default".into()),
            created_at: now,
            updated_at: now,
            created_by: by.clone(),
            updated_by: by,
            blocked: req.blocked,
            limits: {
                let mut held = HeldLimits::default();
                req.limits.apply(&mut held);
                held
            },
            seq: self.seq,
        };
        if let Some(stored) = self.keys.get(&token) {
            return Ok(Generated::Unchanged {
                stored: Box::new(stored.clone()),
                echoed: Box::new(record),
            });
        }
        self.deleted.remove(&token);
        self.keys.insert(token, record.clone());
        Ok(Generated::Created {
            key: Box::new(record),
            plaintext: key,
        })
    }

    pub fn update(
        &mut self,
        key_or_hash: &str,
        changes: KeyChanges,
    ) -> Result<StandInKey, ApiError> {
        let token = token_of(key_or_hash);
        if !self.keys.contains_key(&token) {
            return Err(key_not_found());
        }
        if let Some(Some(alias)) = &changes.key_alias {
            if self.alias_taken(alias, Some(&token)) {
                return Err(duplicate_alias(alias));
            }
        }
        // LiteLLM 1.103.7 refuses to move a key with a user into a team that user is not a member
        // of (generate does not check). Teams made by `/team/new` have no members but LiteLLM's
        // default admin.
        if let (Some(Some(team)), Some(stored)) = (&changes.team_id, self.keys.get(&token)) {
            let user = changes.user_id.clone().unwrap_or(stored.user_id.clone());
            if let Some(user) = user.filter(|u| u != "default_user_id") {
                if stored.team_id.as_ref() != Some(team) {
                    return Err(ApiError::new(
                        403,
                        format!("User={user} is not a member of the team={team}. Check team members via `/team/info`."),
                        "auth_error",
                        Some("None"),
                    ));
                }
            }
        }
        let key = self.keys.get_mut(&token).ok_or_else(key_not_found)?;
        if let Some(models) = changes.models {
            key.models = models;
        }
        if let Some(alias) = changes.key_alias {
            key.key_alias = alias;
        }
        if let Some(user_id) = changes.user_id {
            key.user_id = user_id;
        }
        if let Some(team_id) = changes.team_id {
            key.team_id = team_id;
        }
        if let Some(metadata) = changes.metadata {
            key.metadata = metadata;
        }
        if let Some(blocked) = changes.blocked {
            key.blocked = Some(blocked);
        }
        changes.limits.apply(&mut key.limits);
        key.updated_at = Utc::now();
        Ok(key.clone())
    }

    /// `/key/block` and `/key/unblock`: sets the flag on a live key (blocking twice is fine).
    /// A deleted or unknown key is 404 as capture 128.
    pub fn set_blocked(
        &mut self,
        key_or_hash: &str,
        blocked: bool,
    ) -> Result<StandInKey, ApiError> {
        let key = self
            .keys
            .get_mut(&token_of(key_or_hash))
            .ok_or_else(key_not_found)?;
        key.blocked = Some(blocked);
        key.updated_at = Utc::now();
        Ok(key.clone())
    }

    /// Deletes what exists; 404 only when nothing did (a mix answers 200, LiteLLM's quirk).
    pub fn delete(&mut self, keys: &[String], aliases: &[String]) -> Result<(), ApiError> {
        let mut tokens: Vec<String> = keys
            .iter()
            .map(|k| token_of(k))
            .filter(|t| self.keys.contains_key(t))
            .collect();
        tokens.extend(
            self.keys
                .values()
                .filter(|k| k.key_alias.as_ref().is_some_and(|a| aliases.contains(a)))
                .map(|k| k.token.clone()),
        );
        if tokens.is_empty() {
            return Err(ApiError::new(
                404,
                "{'error': 'No keys found'}",
                "internal_server_error",
                None,
            ));
        }
        for token in tokens {
            if let Some(key) = self.keys.remove(&token) {
                self.deleted.insert(token, key);
            }
        }
        Ok(())
    }

    /// A live key, else the archived one (status `deleted`), else nothing.
    pub fn info(&self, key_or_hash: &str) -> Option<(StandInKey, bool)> {
        let token = token_of(key_or_hash);
        if let Some(k) = self.keys.get(&token) {
            return Some((k.clone(), false));
        }
        self.deleted.get(&token).map(|k| (k.clone(), true))
    }

    /// Live keys matching the filters, newest first.
    pub fn list(
        &self,
        user_id: Option<&str>,
        team_id: Option<&str>,
        key_alias: Option<&str>,
    ) -> Vec<StandInKey> {
        let mut keys: Vec<StandInKey> = self
            .keys
            .values()
            .filter(|k| user_id.is_none_or(|u| k.user_id.as_deref() == Some(u)))
            .filter(|k| team_id.is_none_or(|t| k.team_id.as_deref() == Some(t)))
            .filter(|k| key_alias.is_none_or(|a| k.key_alias.as_deref() == Some(a)))
            .cloned()
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.seq));
        keys
    }

    pub fn caller(&self, bearer: &str, master_key: &str) -> Option<Caller> {
        if bearer == master_key {
            return Some(Caller::Master);
        }
        self.keys
            .get(&token_of(bearer))
            .map(|k| Caller::Virtual(Box::new(k.clone())))
    }

    pub fn team(&self, team_id: &str) -> Option<&StandInTeam> {
        self.teams.iter().find(|t| t.team_id == team_id)
    }

    pub fn new_team(&mut self, team: StandInTeam) -> Result<StandInTeam, ApiError> {
        if self.team(&team.team_id).is_some() {
            return Err(ApiError::new(
                400,
                format!(
                    "{{'error': 'Team id = {} already exists. Please use a different team id.'}}",
                    team.team_id
                ),
                "internal_server_error",
                None,
            ));
        }
        self.teams.push(team.clone());
        Ok(team)
    }

    /// `/team/update`: changes what was sent; `None` when there is no such team (the route
    /// answers LiteLLM's 404 for it).
    pub fn update_team(&mut self, team_id: &str, changes: TeamChanges) -> Option<StandInTeam> {
        let team = self.teams.iter_mut().find(|t| t.team_id == team_id)?;
        if let Some(models) = changes.models {
            team.models = models;
        }
        if let Some(alias) = changes.team_alias {
            team.team_alias = Some(alias);
        }
        Some(team.clone())
    }

    /// Whether a key may call any model name at all (then an unknown name gets a 400 from the
    /// router rather than a 403): no team restriction and `[]` or a sentinel.
    pub fn unrestricted(&self, key: &StandInKey) -> bool {
        let team_restricted = key
            .team_id
            .as_deref()
            .and_then(|t| self.team(t))
            .is_some_and(|t| !t.models.is_empty());
        let open = key.models.is_empty()
            || key
                .models
                .iter()
                .any(|m| m == ALL_PROXY_MODELS || m == ALL_TEAM_MODELS);
        open && (!team_restricted || key.models.iter().any(|m| m == ALL_PROXY_MODELS))
    }

    /// What `/v1/models` shows for a key: `[]` and `all-proxy-models` mean every model;
    /// `all-team-models` means the team's models (every model without a team, or when the team
    /// has none); a team key with `[]` gets the team's models; unknown names are listed verbatim.
    pub fn models_for(&self, key: &StandInKey) -> Vec<String> {
        let proxy = self.model_names();
        let team_models = key
            .team_id
            .as_deref()
            .and_then(|t| self.team(t))
            .map(|t| t.models.clone())
            .filter(|m| !m.is_empty());
        let expand_team = || team_models.clone().unwrap_or_else(|| proxy.clone());
        if key.models.is_empty() {
            return expand_team();
        }
        let mut out: Vec<String> = Vec::new();
        for model in &key.models {
            let names = match model.as_str() {
                ALL_PROXY_MODELS => proxy.clone(),
                ALL_TEAM_MODELS => expand_team(),
                other => vec![other.to_owned()],
            };
            for name in names {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }
}

fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn suffix(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "sk-W6ZhCn9p3Ma9KtZLcyecBQ";

    fn state_with_key(blocked: Option<bool>) -> State {
        let mut state = State::with_default_models();
        let req = NewKey {
            key: Some(RAW.to_owned()),
            models: vec!["mock-gpt".into()],
            blocked,
            ..NewKey::default()
        };
        assert!(matches!(
            state.generate(&Caller::Master, req),
            Ok(Generated::Created { .. })
        ));
        state
    }

    fn stored(state: &State) -> StandInKey {
        state.keys[&token_of(RAW)].clone()
    }

    #[test]
    fn generate_stores_blocked_as_sent_and_null_when_absent() {
        assert_eq!(stored(&state_with_key(None)).blocked, None);
        assert_eq!(stored(&state_with_key(Some(false))).blocked, Some(false));
        let blocked = stored(&state_with_key(Some(true)));
        assert_eq!(blocked.blocked, Some(true));
        assert!(blocked.is_blocked());
    }

    #[test]
    fn update_sets_blocked_and_none_leaves_it() {
        let mut state = state_with_key(None);
        let on = KeyChanges {
            blocked: Some(true),
            ..KeyChanges::default()
        };
        assert!(state.update(RAW, on).is_ok_and(|k| k.is_blocked()));
        let unrelated = KeyChanges {
            key_alias: Some(Some("renamed".into())),
            ..KeyChanges::default()
        };
        assert!(state.update(RAW, unrelated).is_ok());
        assert_eq!(stored(&state).blocked, Some(true));
        let off = KeyChanges {
            blocked: Some(false),
            ..KeyChanges::default()
        };
        assert!(state.update(RAW, off).is_ok());
        assert_eq!(stored(&state).blocked, Some(false));
    }

    #[test]
    fn update_stores_an_empty_model_list_as_empty() {
        let mut state = state_with_key(None);
        let changes = KeyChanges {
            models: Some(Vec::new()),
            ..KeyChanges::default()
        };
        assert!(state.update(RAW, changes).is_ok());
        assert_eq!(stored(&state).models, Vec::<String>::new());
    }

    #[test]
    fn update_keeps_user_id_and_metadata_changes() {
        let mut state = state_with_key(None);
        let mut metadata = Map::new();
        metadata.insert("owner".into(), Value::from("mama"));
        let changes = KeyChanges {
            user_id: Some(Some("u1".into())),
            metadata: Some(metadata.clone()),
            ..KeyChanges::default()
        };
        assert!(state.update(RAW, changes).is_ok());
        let key = stored(&state);
        assert_eq!(key.user_id.as_deref(), Some("u1"));
        assert_eq!(key.metadata, metadata);
    }

    #[test]
    fn block_and_unblock_by_raw_key_or_hash_and_twice() {
        let mut state = state_with_key(None);
        assert!(state.set_blocked(RAW, true).is_ok_and(|k| k.is_blocked()));
        assert!(state.set_blocked(RAW, true).is_ok_and(|k| k.is_blocked()));
        let hash = token_of(RAW);
        assert!(state
            .set_blocked(&hash, false)
            .is_ok_and(|k| k.blocked == Some(false)));
        assert!(state.set_blocked(&hash, true).is_ok());
        assert!(stored(&state).is_blocked());
    }

    #[test]
    fn block_of_an_unknown_or_deleted_key_is_404() {
        let mut state = state_with_key(None);
        let unknown = state.set_blocked("sk-usage-probe-does-not-exist", true);
        let err = unknown.err().map(|e| e.body());
        let expected = serde_json::json!({"error": {
            "message": "Key not found.", "type": "not_found_error", "param": "key", "code": "404"
        }});
        assert_eq!(err, Some(expected));
        assert!(state.delete(&[RAW.to_owned()], &[]).is_ok());
        assert!(state
            .set_blocked(RAW, false)
            .is_err_and(|e| e.status == 404));
    }

    fn team(models: &[&str]) -> StandInTeam {
        StandInTeam {
            team_id: "team-1".into(),
            team_alias: Some("probe".into()),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn new_team_stores_its_models() {
        let mut state = State::with_default_models();
        assert!(state.new_team(team(&["gpt-4o", "llama3"])).is_ok());
        assert_eq!(
            state.team("team-1").map(|t| t.models.clone()),
            Some(vec!["gpt-4o".to_owned(), "llama3".to_owned()])
        );
    }

    #[test]
    fn update_team_replaces_models_and_leaves_the_rest() {
        let mut state = State::with_default_models();
        assert!(state.new_team(team(&["gpt-4o", "llama3"])).is_ok());
        let changes = TeamChanges {
            models: Some(vec!["mock-gpt".into()]),
            team_alias: None,
        };
        let updated = state.update_team("team-1", changes);
        assert_eq!(updated, Some(team(&["mock-gpt"])));
        assert_eq!(state.team("team-1"), Some(&team(&["mock-gpt"])));
        let untouched = state.update_team("team-1", TeamChanges::default());
        assert_eq!(untouched, Some(team(&["mock-gpt"])));
    }

    #[test]
    fn update_team_changes_what_team_keys_may_use() {
        let mut state = State::with_default_models();
        assert!(state.new_team(team(&["gpt-4o"])).is_ok());
        let req = NewKey {
            key: Some(RAW.to_owned()),
            models: vec![ALL_TEAM_MODELS.into()],
            team_id: Some("team-1".into()),
            ..NewKey::default()
        };
        assert!(state.generate(&Caller::Master, req).is_ok());
        let changes = TeamChanges {
            models: Some(vec!["llama3".into(), "mock-gpt".into()]),
            team_alias: None,
        };
        assert!(state.update_team("team-1", changes).is_some());
        assert_eq!(
            state.models_for(&stored(&state)),
            vec!["llama3", "mock-gpt"]
        );
    }

    #[test]
    fn update_of_an_unknown_team_is_none() {
        let mut state = State::with_default_models();
        assert_eq!(state.update_team("nope", TeamChanges::default()), None);
    }
}
