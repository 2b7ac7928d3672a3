//! The key mama wants LiteLLM to hold for a user, and how a key LiteLLM holds differs from it,
//! field by field. The worker builds its `/key/update` from the differences and the reconciler
//! names them in its drift events, so both always judge the same fields the same way.

use serde_json::{Map, Value};

use super::marks::{is_mamas, mark, ALIAS_PREFIX_MARK};
use crate::domain::{KeyAccess, NameSet};
use crate::litellm::{KeyInfo, LimitsOnKey, UpdateKey};

/// How far LiteLLM's `expires` may be from mama's: an expiry goes out as a duration from the
/// moment of the call, so the two differ by the call's transit time.
const EXPIRY_TOLERANCE_SECS: i64 = 120;

/// A field of a LiteLLM key that mama owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyField {
    Models,
    Alias,
    UserId,
    Team,
    Blocked,
    Metadata,
    MaxBudget,
    BudgetDuration,
    TpmLimit,
    RpmLimit,
    Expires,
}

impl KeyField {
    pub fn name(self) -> &'static str {
        match self {
            KeyField::Models => "models",
            KeyField::Alias => "key_alias",
            KeyField::UserId => "user_id",
            KeyField::Team => "team_id",
            KeyField::Blocked => "blocked",
            KeyField::Metadata => "metadata",
            KeyField::MaxBudget => "max_budget",
            KeyField::BudgetDuration => "budget_duration",
            KeyField::TpmLimit => "tpm_limit",
            KeyField::RpmLimit => "rpm_limit",
            KeyField::Expires => "expires",
        }
    }

    fn is_limit(self) -> bool {
        matches!(
            self,
            KeyField::MaxBudget
                | KeyField::BudgetDuration
                | KeyField::TpmLimit
                | KeyField::RpmLimit
                | KeyField::Expires
        )
    }
}

/// What a user's record says about its key besides its models: its limits, and whether an
/// admin switched it off.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyTerms {
    pub limits: LimitsOnKey,
    pub suspended: bool,
}

impl KeyTerms {
    /// The terms of a stored user.
    pub fn of(row: &crate::db::users::UserRow) -> KeyTerms {
        KeyTerms {
            limits: crate::domain::limits::on_key(&row.limits.limits().values),
            suspended: row.suspension.suspended_at.is_some(),
        }
    }

    /// As `synced_limits` stores it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What `synced_limits` says LiteLLM holds. A key confirmed before limits existed holds
    /// none and is not blocked for suspension, which is what a missing value means.
    pub fn from_json(stored: Option<&str>) -> Option<KeyTerms> {
        match stored {
            None => Some(KeyTerms::default()),
            Some(json) => serde_json::from_str(json).ok(),
        }
    }
}

/// Everything mama decides about one key.
#[derive(Debug, Clone, PartialEq)]
pub struct WantedKey {
    pub alias: String,
    pub user_id: String,
    pub access: KeyAccess,
    /// The configured team's id when the key belongs in it.
    pub team_id: Option<String>,
    /// Whether mama manages teams at all (a team is configured): without one, a key's team is
    /// left as LiteLLM has it.
    pub teams_managed: bool,
    pub alias_prefix: String,
    pub terms: KeyTerms,
}

impl WantedKey {
    pub fn new(
        alias_prefix: &str,
        user_id: &str,
        models: &NameSet,
        teams_managed: bool,
        team_id: Option<String>,
    ) -> WantedKey {
        let access = KeyAccess::of(models, teams_managed);
        WantedKey {
            alias: format!("{alias_prefix}{user_id}"),
            user_id: user_id.to_string(),
            team_id: team_id.filter(|_| access.in_team),
            access,
            teams_managed,
            alias_prefix: alias_prefix.to_string(),
            terms: KeyTerms::default(),
        }
    }

    /// The same key with these limits and suspension.
    pub fn with_terms(mut self, terms: KeyTerms) -> WantedKey {
        self.terms = terms;
        self
    }

    /// A key is blocked when its user may use no model or is suspended.
    pub fn blocked(&self) -> bool {
        self.access.blocked || self.terms.suspended
    }

    /// The fields in which `held` differs from this key, in a fixed order.
    pub fn differences(&self, held: &KeyInfo) -> Vec<KeyField> {
        let mut fields = Vec::new();
        if !same_models(&held.models, &self.access.models) {
            fields.push(KeyField::Models);
        }
        if held.key_alias.as_deref() != Some(self.alias.as_str()) {
            fields.push(KeyField::Alias);
        }
        if held.user_id.as_deref() != Some(self.user_id.as_str()) {
            fields.push(KeyField::UserId);
        }
        if self.teams_managed && held.team_id != self.team_id {
            fields.push(KeyField::Team);
        }
        if held.blocked != self.blocked() {
            fields.push(KeyField::Blocked);
        }
        if !self.marked(&held.metadata) {
            fields.push(KeyField::Metadata);
        }
        fields.extend(limit_differences(&self.terms.limits, &held.limits));
        fields
    }

    /// Whether the metadata carries mama's marks for this installation.
    fn marked(&self, metadata: &Map<String, Value>) -> bool {
        is_mamas(metadata)
            && metadata.get(ALIAS_PREFIX_MARK).and_then(Value::as_str)
                == Some(self.alias_prefix.as_str())
    }

    /// The `/key/update` that repairs `fields` of `held` (the team is not among them: a key
    /// changes team by being generated again). `models` always goes out as the full final list,
    /// and metadata as what LiteLLM holds plus mama's marks (LiteLLM replaces the whole object).
    pub fn repair(&self, held: &KeyInfo, fields: &[KeyField]) -> UpdateKey {
        let has = |f: KeyField| fields.contains(&f);
        UpdateKey {
            models: has(KeyField::Models).then(|| self.access.models.clone()),
            key_alias: has(KeyField::Alias).then(|| self.alias.clone()),
            user_id: has(KeyField::UserId).then(|| self.user_id.clone()),
            team_id: None,
            metadata: has(KeyField::Metadata).then(|| {
                let mut merged = held.metadata.clone();
                merged.extend(mark(&self.alias_prefix));
                merged
            }),
            blocked: has(KeyField::Blocked).then_some(self.blocked()),
            limits: fields
                .iter()
                .any(|f| f.is_limit())
                .then(|| self.terms.limits.clone()),
        }
    }
}

/// The limits in which `held` differs from `wanted`.
pub(crate) fn limit_differences(wanted: &LimitsOnKey, held: &LimitsOnKey) -> Vec<KeyField> {
    let mut fields = Vec::new();
    let same_money = match (wanted.max_budget, held.max_budget) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12),
        (a, b) => a.is_none() && b.is_none(),
    };
    if !same_money {
        fields.push(KeyField::MaxBudget);
    }
    if wanted.budget_duration != held.budget_duration {
        fields.push(KeyField::BudgetDuration);
    }
    if wanted.tpm_limit != held.tpm_limit {
        fields.push(KeyField::TpmLimit);
    }
    if wanted.rpm_limit != held.rpm_limit {
        fields.push(KeyField::RpmLimit);
    }
    let same_expiry = match (wanted.expires, held.expires) {
        (Some(a), Some(b)) => (a - b).num_seconds().abs() <= EXPIRY_TOLERANCE_SECS,
        (a, b) => a.is_none() && b.is_none(),
    };
    if !same_expiry {
        fields.push(KeyField::Expires);
    }
    fields
}

/// Model lists compare as sets.
pub(crate) fn same_models(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::NO_MODELS;
    use crate::litellm::KeyStatus;

    fn held(models: &[&str]) -> KeyInfo {
        KeyInfo {
            token: "t".into(),
            key_name: None,
            key_alias: Some("mama-u1".into()),
            models: models.iter().map(|s| s.to_string()).collect(),
            user_id: Some("u1".into()),
            team_id: None,
            metadata: mark("mama-"),
            key_type: None,
            status: KeyStatus::Active,
            blocked: false,
            limits: LimitsOnKey::default(),
            spend: 0.0,
            created_at: None,
            updated_at: None,
        }
    }

    fn wanted(models: &[&str]) -> WantedKey {
        let set = NameSet::new(models.iter().map(|s| s.to_string()));
        WantedKey::new("mama-", "u1", &set, false, None)
    }

    #[test]
    fn a_key_as_mama_wants_it_has_no_differences() {
        assert!(wanted(&["gpt-4o"])
            .differences(&held(&["gpt-4o"]))
            .is_empty());
    }

    #[test]
    fn every_owned_field_is_compared() {
        let mut key = held(&["gpt-4o", "llama3"]);
        key.key_alias = Some("renamed".into());
        key.user_id = Some("someone".into());
        key.blocked = true;
        key.metadata = Map::new();
        let want = wanted(&["gpt-4o"]);
        let fields = want.differences(&key);
        assert_eq!(
            fields,
            vec![
                KeyField::Models,
                KeyField::Alias,
                KeyField::UserId,
                KeyField::Blocked,
                KeyField::Metadata
            ]
        );
        let fix = want.repair(&key, &fields);
        assert_eq!(fix.models, Some(vec!["gpt-4o".to_string()]));
        assert_eq!(fix.key_alias.as_deref(), Some("mama-u1"));
        assert_eq!(fix.blocked, Some(false));
        assert_eq!(fix.metadata, Some(mark("mama-")));
    }

    #[test]
    fn a_user_without_models_wants_a_blocked_key_that_names_nothing_served() {
        let want = wanted(&[]);
        let fields = want.differences(&held(&["gpt-4o"]));
        assert_eq!(fields, vec![KeyField::Models, KeyField::Blocked]);
        let fix = want.repair(&held(&["gpt-4o"]), &fields);
        assert_eq!(fix.models, Some(vec![NO_MODELS.to_string()]));
        assert_eq!(fix.blocked, Some(true));
    }

    #[test]
    fn metadata_repair_keeps_what_others_wrote() {
        let mut key = held(&["gpt-4o"]);
        key.metadata = Map::from_iter([("owner".to_string(), Value::from("ops"))]);
        let want = wanted(&["gpt-4o"]);
        let fix = want.repair(&key, &want.differences(&key));
        let merged = fix.metadata.expect("metadata repaired");
        assert_eq!(merged["owner"], "ops");
        assert_eq!(merged["managed_by"], "mama");
    }

    #[test]
    fn limits_and_suspension_are_owned_fields() {
        let now = chrono::Utc::now();
        let terms = KeyTerms {
            limits: LimitsOnKey {
                max_budget: Some(10.0),
                budget_duration: Some("30d".into()),
                tpm_limit: None,
                rpm_limit: Some(5),
                expires: Some(now + chrono::Duration::days(3)),
            },
            suspended: true,
        };
        let want = wanted(&["gpt-4o"]).with_terms(terms.clone());
        let mut key = held(&["gpt-4o"]);
        key.limits = terms.limits.clone();
        // LiteLLM's expiry lands a moment after the call; a second apart is the same expiry.
        key.limits.expires = terms
            .limits
            .expires
            .map(|t| t + chrono::Duration::seconds(1));
        assert_eq!(want.differences(&key), vec![KeyField::Blocked]);
        key.blocked = true;
        assert!(want.differences(&key).is_empty());
        key.limits.rpm_limit = Some(500);
        key.limits.max_budget = None;
        let fields = want.differences(&key);
        assert_eq!(fields, vec![KeyField::MaxBudget, KeyField::RpmLimit]);
        let fix = want.repair(&key, &fields);
        assert_eq!(
            fix.limits,
            Some(terms.limits),
            "every limit goes out at once"
        );
        assert_eq!(fix.blocked, None);
    }

    #[test]
    fn the_team_counts_only_when_mama_manages_one() {
        let mut key = held(&["gpt-4o"]);
        key.team_id = Some("hand-made".into());
        assert!(wanted(&["gpt-4o"]).differences(&key).is_empty());
        let set = NameSet::new(["gpt-4o".to_string()]);
        let managed = WantedKey::new("mama-", "u1", &set, true, Some("t1".into()));
        assert_eq!(managed.differences(&key), vec![KeyField::Team]);
    }
}
