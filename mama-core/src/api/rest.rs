//! REST bodies for services (`/api/v1`).

use serde::{Deserialize, Serialize};

use super::types::{Info, KeyStatus};

/// Most ids one lookup accepts.
pub const MAX_LOOKUP_IDS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub user_ids: Vec<String>,
}

/// Why a user's key is not in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyWithheld {
    /// The user's allowed services do not include the calling service.
    ServiceNotAllowed,
    /// The user has no key (yet).
    NoKey,
    /// The stored key does not decrypt (tampered, or copied from another user's row); the
    /// daemon's log says which user. Rotating the key repairs it.
    KeyUnreadable,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupResponse {
    /// Found users, in request order.
    pub users: Vec<LookupUser>,
    /// Requested ids that do not exist, in request order.
    pub missing: Vec<String>,
}
