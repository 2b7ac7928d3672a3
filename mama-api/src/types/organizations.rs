//! Organizations: the default limits their users inherit.

use serde::{Deserialize, Serialize};

use super::KeyLimits;

/// One organization: its users and its default limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationView {
    /// As written on users (`""`: users without an organization).
    pub name: String,
    pub users: u64,
    /// What its users inherit for each limit they do not set themselves (null: no limit).
    pub defaults: KeyLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationList {
    /// Every organization a user is in or that has defaults, by name.
    pub organizations: Vec<OrganizationView>,
}

/// `organizations.set_defaults`: replaces an organization's defaults (every field; null is no
/// limit). Its users that inherit a field follow at once, in LiteLLM too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDefaultsParams {
    pub name: String,
    pub defaults: KeyLimits,
    /// Count the users that would change, and change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultsSet {
    pub name: String,
    pub defaults: KeyLimits,
    /// Users whose limits change (those that inherit a changed field).
    pub users_changed: u64,
    /// Users of the organization that set every changed field themselves.
    pub users_unaffected: u64,
    pub dry_run: bool,
}
