//! Services and their API tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTokenView {
    pub id: String,
    /// The token's first characters, to recognize it (`mama_st_abcd…`).
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub tokens: Vec<ServiceTokenView>,
    /// How many users allow this service (deleting it takes it from them).
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<ServiceView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNameParams {
    pub name: String,
}

/// The answer to `services.delete`. A grant names the service itself: deleting it takes it out
/// of every user that allowed it, so a service created later under the same name starts with none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceDeleted {
    /// How many users lost the grant. (Absent from a daemon that predates it: read as 0.)
    #[serde(default)]
    pub grants_removed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenParams {
    pub service: String,
}

/// The plaintext token is shown exactly once, here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub id: String,
    pub service: String,
    pub token: String,
    pub hint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenParams {
    pub id: String,
}
