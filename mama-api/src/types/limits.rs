//! What a key may spend, how fast and for how long, and whether it works at all: budgets, rate
//! limits, expiry, suspension and scheduled rotation, set per user or inherited from the user's
//! organization.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How often a budget starts over. LiteLLM resets on calendar boundaries in UTC (a `30d` budget
/// set on the 21st first resets on the 1st), so the first period can be shorter than its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BudgetPeriod {
    #[serde(rename = "1d")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl BudgetPeriod {
    pub const ALL: [BudgetPeriod; 3] = [BudgetPeriod::Day, BudgetPeriod::Week, BudgetPeriod::Month];

    /// As LiteLLM's `budget_duration` and mama's database write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "1d",
            BudgetPeriod::Week => "7d",
            BudgetPeriod::Month => "30d",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for BudgetPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole number of days, written `90d` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Days(pub u32);

impl Days {
    /// The longest rotation interval: ten years.
    pub const MAX: u32 = 3650;

    /// `90d` → 90 days; anything else (no `d`, zero, more than [`Days::MAX`]) is an error that
    /// says what is expected.
    pub fn parse(s: &str) -> Result<Days, String> {
        let expected = || {
            format!(
                "{s:?} is not a number of days like \"90d\" (1d to {}d)",
                Days::MAX
            )
        };
        let n: u32 = s
            .strip_suffix('d')
            .and_then(|n| n.parse().ok())
            .ok_or_else(expected)?;
        if n == 0 || n > Days::MAX {
            return Err(expected());
        }
        Ok(Days(n))
    }
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}d", self.0)
    }
}

impl Serialize for Days {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Days::parse(&s).map_err(D::Error::custom)
    }
}

/// The limits of a key as they apply (a user's own values, or its organization's defaults).
/// `None` is no limit: no budget, no rate limit, never expires, never rotated on a schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLimits {
    /// USD the key may spend (in each `budget_period`, when one is set); 0 refuses every call.
    #[serde(default)]
    pub max_budget: Option<f64>,
    #[serde(default)]
    pub budget_period: Option<BudgetPeriod>,
    /// Tokens per minute.
    #[serde(default)]
    pub tpm_limit: Option<u64>,
    /// Requests per minute.
    #[serde(default)]
    pub rpm_limit: Option<u64>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Rotate the key automatically this long after its last rotation (or creation).
    #[serde(default)]
    pub rotation_every: Option<Days>,
}

impl KeyLimits {
    pub fn is_empty(&self) -> bool {
        *self == KeyLimits::default()
    }
}

/// One field of [`KeyLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitField {
    MaxBudget,
    BudgetPeriod,
    TpmLimit,
    RpmLimit,
    ExpiresAt,
    RotationEvery,
}

impl LimitField {
    pub const ALL: [LimitField; 6] = [
        LimitField::MaxBudget,
        LimitField::BudgetPeriod,
        LimitField::TpmLimit,
        LimitField::RpmLimit,
        LimitField::ExpiresAt,
        LimitField::RotationEvery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LimitField::MaxBudget => "max_budget",
            LimitField::BudgetPeriod => "budget_period",
            LimitField::TpmLimit => "tpm_limit",
            LimitField::RpmLimit => "rpm_limit",
            LimitField::ExpiresAt => "expires_at",
            LimitField::RotationEvery => "rotation_every",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// How a change treats one limit: left out (keep), `null` (no limit, even if the organization
/// has one), `"inherit"` (follow the organization's default again), or a value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Setting<T> {
    #[default]
    Keep,
    Clear,
    Inherit,
    Set(T),
}

impl<T> Setting<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Setting::Keep)
    }

    pub fn as_ref(&self) -> Setting<&T> {
        match self {
            Setting::Keep => Setting::Keep,
            Setting::Clear => Setting::Clear,
            Setting::Inherit => Setting::Inherit,
            Setting::Set(v) => Setting::Set(v),
        }
    }
}

/// The word that asks for the organization's default.
pub const INHERIT: &str = "inherit";

impl<T: Serialize> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Setting::Keep | Setting::Clear => s.serialize_none(),
            Setting::Inherit => s.serialize_str(INHERIT),
            Setting::Set(v) => v.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Setting<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(Setting::Clear),
            serde_json::Value::String(s) if s == INHERIT => Ok(Setting::Inherit),
            value => serde_json::from_value(value)
                .map(Setting::Set)
                .map_err(D::Error::custom),
        }
    }
}

/// Changes to a key's limits: each field left out stays as it is (see [`Setting`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    #[serde(default, skip_serializing_if = "Setting::is_keep")]
    pub max_budget: Setting<f64>,
    #[serde(default, skip_serializing_if = "Setting::is_keep")]
    pub budget_period: Setting<BudgetPeriod>,
    #[serde(default, skip_serializing_if = "Setting::is_keep")]
    pub tpm_limit: Setting<u64>,
    #[serde(default, skip_serializing_if = "Setting::is_keep")]
    pub rpm_limit: Setting<u64>,
    #[serde(default, skip_serializing_if = "Setting::is_keep")]
    pub expires_at: Setting<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Setting::is_keep")]
    pub rotation_every: Setting<Days>,
}

impl LimitsChange {
    pub fn is_empty(&self) -> bool {
        *self == LimitsChange::default()
    }

    /// Every field set to the value of `limits` (a `None` clears).
    pub fn set_all(limits: &KeyLimits) -> LimitsChange {
        fn set<T: Clone>(v: &Option<T>) -> Setting<T> {
            v.clone().map_or(Setting::Clear, Setting::Set)
        }
        LimitsChange {
            max_budget: set(&limits.max_budget),
            budget_period: set(&limits.budget_period),
            tpm_limit: set(&limits.tpm_limit),
            rpm_limit: set(&limits.rpm_limit),
            expires_at: set(&limits.expires_at),
            rotation_every: set(&limits.rotation_every),
        }
    }

    /// The fields this change touches, and how.
    pub fn touched(&self) -> Vec<(LimitField, Setting<()>)> {
        fn kind<T>(s: &Setting<T>) -> Setting<()> {
            match s {
                Setting::Keep => Setting::Keep,
                Setting::Clear => Setting::Clear,
                Setting::Inherit => Setting::Inherit,
                Setting::Set(_) => Setting::Set(()),
            }
        }
        [
            (LimitField::MaxBudget, kind(&self.max_budget)),
            (LimitField::BudgetPeriod, kind(&self.budget_period)),
            (LimitField::TpmLimit, kind(&self.tpm_limit)),
            (LimitField::RpmLimit, kind(&self.rpm_limit)),
            (LimitField::ExpiresAt, kind(&self.expires_at)),
            (LimitField::RotationEvery, kind(&self.rotation_every)),
        ]
        .into_iter()
        .filter(|(_, s)| !s.is_keep())
        .collect()
    }
}

/// Why and since when a user's key is switched off (blocked in LiteLLM, withheld from services);
/// resuming switches the same key on again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub at: DateTime<Utc>,
    /// The admin who suspended the user.
    pub by: String,
    pub reason: String,
}

/// `suspend` in `users.update` / `users.bulk_update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    /// Shown to operators and recorded in the event (1 to 256 characters).
    pub reason: String,
}

/// A user's state as an operator or a service sees it: the first of these that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Switched off by an admin.
    Suspended,
    /// Past `expires_at`.
    Expired,
    /// Spent its budget in the current period (as last read from LiteLLM).
    OverBudget,
    /// The last sync failed for good.
    Failed,
    /// A change waits to be applied in LiteLLM.
    Pending,
    Active,
    /// No key (LiteLLM not configured).
    None,
}

impl UserStatus {
    pub const ALL: [UserStatus; 7] = [
        UserStatus::Suspended,
        UserStatus::Expired,
        UserStatus::OverBudget,
        UserStatus::Failed,
        UserStatus::Pending,
        UserStatus::Active,
        UserStatus::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Suspended => "suspended",
            UserStatus::Expired => "expired",
            UserStatus::OverBudget => "over_budget",
            UserStatus::Failed => "failed",
            UserStatus::Pending => "pending",
            UserStatus::Active => "active",
            UserStatus::None => "none",
        }
    }

    /// Also takes `over-budget`, as typed in a filter.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.replace('-', "_");
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_tells_absent_null_inherit_and_a_value_apart() {
        let change: LimitsChange = serde_json::from_str(
            r#"{"max_budget": 12.5, "tpm_limit": null, "rpm_limit": "inherit"}"#,
        )
        .unwrap();
        assert_eq!(change.max_budget, Setting::Set(12.5));
        assert_eq!(change.tpm_limit, Setting::Clear);
        assert_eq!(change.rpm_limit, Setting::Inherit);
        assert_eq!(change.budget_period, Setting::Keep);
        let back = serde_json::to_value(&change).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"max_budget": 12.5, "tpm_limit": null, "rpm_limit": "inherit"})
        );
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let err = serde_json::from_str::<LimitsChange>(r#"{"budget_period": "2d"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1d") && err.contains("30d"), "{err}");
        let err = serde_json::from_str::<LimitsChange>(r#"{"rotation_every": "90"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("number of days"), "{err}");
        assert!(serde_json::from_str::<LimitsChange>(r#"{"tpm_limit": -1}"#).is_err());
        assert!(serde_json::from_str::<LimitsChange>(r#"{"budget": 1}"#).is_err());
    }

    #[test]
    fn days_and_periods_round_trip() {
        assert_eq!(Days::parse("90d"), Ok(Days(90)));
        assert!(Days::parse("0d").is_err());
        assert!(Days::parse("3651d").is_err());
        assert_eq!(serde_json::to_string(&Days(7)).unwrap(), "\"7d\"");
        for p in BudgetPeriod::ALL {
            assert_eq!(BudgetPeriod::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            UserStatus::parse("over-budget"),
            Some(UserStatus::OverBudget)
        );
    }
}
