//! What a user's key may open in LiteLLM, derived from the user's model set alone.
//!
//! LiteLLM reads some model lists wider than they look: `[]` opens every proxy model, and
//! `all-team-models` on a key without a team opens every proxy model too. mama never sends
//! either: a user with nothing to open gets a **blocked** key (LiteLLM answers 401 to every call
//! with it) whose model list also opens nothing, and `all-team-models` goes out only with the
//! configured, restricted team. This module is the one place that decides it, so the create,
//! update, bulk, import and reconcile paths cannot disagree.

use super::NameSet;

/// Every model of the key's team (every proxy model when the key has no team).
pub const ALL_TEAM_MODELS: &str = "all-team-models";
/// Every model the proxy serves.
pub const ALL_PROXY_MODELS: &str = "all-proxy-models";
/// The sentinels LiteLLM gives a meaning on a key's model list.
pub const SENTINEL_MODELS: &[&str] = &[ALL_TEAM_MODELS, ALL_PROXY_MODELS];

/// The model list a key with nothing to open carries besides being blocked: a name no
/// deployment has, so that even a key unblocked by hand in LiteLLM opens no served model
/// (checked against the real proxy: it lists the name, and a call to any served model is 403).
pub const NO_MODELS: &str = "mama-no-models";

/// What mama sends to LiteLLM for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAccess {
    /// Never empty.
    pub models: Vec<String>,
    /// The key must be blocked: the user may use nothing.
    pub blocked: bool,
    /// The key belongs in the configured team (it holds `all-team-models` and a team exists).
    pub in_team: bool,
}

impl KeyAccess {
    /// The access of a key whose user holds `models`, with or without a configured team.
    /// Without a team, `all-team-models` opens nothing (it would open every model).
    pub fn of(models: &NameSet, team_configured: bool) -> KeyAccess {
        let opened: Vec<String> = models
            .iter()
            .filter(|m| team_configured || m.as_str() != ALL_TEAM_MODELS)
            .cloned()
            .collect();
        if opened.is_empty() {
            return KeyAccess {
                models: vec![NO_MODELS.to_string()],
                blocked: true,
                in_team: false,
            };
        }
        let in_team = team_configured && models.contains(ALL_TEAM_MODELS);
        KeyAccess {
            models: opened,
            blocked: false,
            in_team,
        }
    }

    /// Whether the key opens anything at all.
    pub fn is_usable(&self) -> bool {
        !self.blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> NameSet {
        NameSet::new(names.iter().map(|s| s.to_string()))
    }

    #[test]
    fn an_empty_set_is_a_blocked_key_that_names_no_served_model() {
        for team in [false, true] {
            let access = KeyAccess::of(&NameSet::default(), team);
            assert!(access.blocked);
            assert_eq!(access.models, vec![NO_MODELS.to_string()]);
            assert!(!access.in_team);
        }
    }

    #[test]
    fn all_team_models_without_a_team_opens_nothing() {
        let access = KeyAccess::of(&set(&[ALL_TEAM_MODELS]), false);
        assert!(access.blocked, "without a team it would open every model");
        let access = KeyAccess::of(&set(&[ALL_TEAM_MODELS, "gpt-4o"]), false);
        assert_eq!(access.models, vec!["gpt-4o".to_string()]);
        assert!(!access.blocked && !access.in_team);
    }

    #[test]
    fn all_team_models_with_a_team_goes_into_the_team() {
        let access = KeyAccess::of(&set(&[ALL_TEAM_MODELS]), true);
        assert_eq!(access.models, vec![ALL_TEAM_MODELS.to_string()]);
        assert!(access.in_team && !access.blocked);
    }

    #[test]
    fn ordinary_models_go_out_as_they_are() {
        let access = KeyAccess::of(&set(&["gpt-4o", "mock-gpt"]), true);
        assert_eq!(access.models, vec!["gpt-4o".to_string(), "mock-gpt".into()]);
        assert!(!access.blocked && !access.in_team);
    }
}
