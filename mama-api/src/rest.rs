//! REST bodies for services (`/api/v1`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::types::{Info, KeyLimits, KeyStatus, UserStatus};

/// Most ids one lookup accepts.
pub const MAX_LOOKUP_IDS: usize = 1000;

/// `{"user_ids": [...]}`. The ids borrow from the request body (an id that JSON-escapes a
/// character is the rare copy): a lookup of 100 ids parses without 100 allocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest<'a> {
    #[serde(borrow, deserialize_with = "ids_with_room")]
    pub user_ids: Vec<IdRef<'a>>,
}

/// A typical lookup's ids without growing the list seven times on the way (JSON does not say
/// how many elements follow).
fn ids_with_room<'de: 'a, 'a, D>(deserializer: D) -> Result<Vec<IdRef<'a>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Ids<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for Ids<'a> {
        type Value = Vec<IdRef<'a>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of user ids")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut ids =
                Vec::with_capacity(seq.size_hint().unwrap_or(128).min(MAX_LOOKUP_IDS + 1));
            while let Some(id) = seq.next_element()? {
                ids.push(id);
            }
            Ok(ids)
        }
    }
    deserializer.deserialize_seq(Ids(std::marker::PhantomData))
}

/// A user id as found in a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdRef<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl AsRef<str> for IdRef<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a user's key is not in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyWithheld {
    /// The user's allowed services do not include the calling service.
    ServiceNotAllowed,
    /// The user has no key (yet).
    NoKey,
    /// The user may use no model, so its key is blocked in LiteLLM; it opens again when a model
    /// is given back.
    NoModels,
    /// LiteLLM has not confirmed the user's key yet (a new user, or LiteLLM down): it would not
    /// work. Ask again shortly; `key_status` says `pending`.
    #[serde(rename = "not_in_litellm_yet")]
    NotInLiteLlmYet,
    /// The stored key does not decrypt (tampered, or copied from another user's row); the
    /// daemon's log says which user. Rotating the key repairs it.
    KeyUnreadable,
    /// An admin suspended the user: its key is blocked in LiteLLM until it is resumed.
    Suspended,
    /// The key is past its `expires_at`: LiteLLM refuses it until an admin extends it.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupUser {
    pub id: String,
    pub organization: String,
    pub models: Vec<String>,
    pub services: Vec<String>,
    pub info: Info,
    pub key: Option<String>,
    pub key_status: KeyStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_withheld: Option<KeyWithheld>,
    /// Budget, rate limits, expiry and rotation interval of the key.
    #[serde(default)]
    pub limits: KeyLimits,
    #[serde(default = "LookupUser::default_status")]
    pub status: UserStatus,
    /// When the key was last rotated (null: never): a service caching keys refreshes then.
    #[serde(default)]
    pub rotated_at: Option<DateTime<Utc>>,
    /// While the key's predecessor still works (the grace after a rotation): when it stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_expires_at: Option<DateTime<Utc>>,
}

impl LookupUser {
    fn default_status() -> UserStatus {
        UserStatus::Active
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupResponse {
    /// Found users, in request order.
    pub users: Vec<LookupUser>,
    /// Requested ids that do not exist, in request order.
    pub missing: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ids_borrow_from_the_body_unless_escaped() {
        let body = r#"{"user_ids": ["alice", "b\u006fb"]}"#;
        let request: LookupRequest = serde_json::from_str(body).unwrap();
        assert!(matches!(request.user_ids[0].0, Cow::Borrowed("alice")));
        assert_eq!(request.user_ids[1].as_ref(), "bob");
        let unknown = serde_json::from_str::<LookupRequest>(r#"{"user_ids": [], "x": 1}"#);
        assert!(unknown.is_err(), "unknown fields are refused");
    }
}

/// Most ids one usage request names.
pub const MAX_USAGE_IDS: usize = 100;
/// The longest range one usage request covers, in days.
pub const MAX_USAGE_DAYS: i64 = 366;

/// How `GET /api/v1/usage` breaks a user's usage down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageBy {
    /// One row per UTC day with usage (days without any are left out).
    #[default]
    Day,
    /// One row per model.
    Model,
}

/// A day's or a model's usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageItem {
    /// The day (`2026-12-07`) or the model.
    pub key: String,
    pub usage: super::types::Usage,
}

/// One requested user's usage; a user the calling service may not see has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserUsage {
    pub id: String,
    /// Why no usage is shown: only `service_not_allowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<KeyWithheld>,
    pub total: super::types::Usage,
    pub rows: Vec<UsageItem>,
}

/// `GET /api/v1/usage`: each found user's usage in the range, in request order, and the ids
/// that are no users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageResponse {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub group: UsageBy,
    pub users: Vec<UserUsage>,
    pub missing: Vec<String>,
    /// When mama last collected usage from LiteLLM; none before the first collection.
    pub as_of: Option<DateTime<Utc>>,
}
