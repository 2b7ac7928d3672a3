//! Limits of a key: which apply (the user's own values, else its organization's defaults), how a
//! change sets them, what is a valid value, and what LiteLLM must be told. No I/O.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::validate::Problems;
use crate::api::types::{
    Days, KeyLimits, KeyStatus, LimitField, LimitsChange, Setting, Suspend, UserStatus,
};
use crate::litellm::LimitsOnKey;

/// The largest budget mama takes, in USD: far above any real one, small enough that no
/// database or LiteLLM loses precision on it.
pub const MAX_BUDGET_USD: f64 = 1e9;
/// The largest tokens or requests per minute.
pub const MAX_PER_MINUTE: u64 = 1_000_000_000_000;
/// Longest suspension reason, in characters.
pub const MAX_REASON_CHARS: usize = 256;
/// The most days one "extend expiry" moves a key's expiry.
pub const MAX_EXTEND_DAYS: u32 = 3650;

/// A user's limits: the values that apply and which of them the user set itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserLimits {
    pub values: KeyLimits,
    pub own: BTreeSet<LimitField>,
}

impl UserLimits {
    /// The fields the user follows its organization in.
    pub fn inherited(&self) -> Vec<LimitField> {
        LimitField::ALL
            .into_iter()
            .filter(|f| !self.own.contains(f))
            .collect()
    }

    /// The limits after `change`, with `defaults` (the organization's) for every field the user
    /// does not set itself.
    pub fn changed(&self, change: &LimitsChange, defaults: &KeyLimits) -> UserLimits {
        let mut next = self.clone();
        fn one<T: Clone>(
            field: LimitField,
            setting: &Setting<T>,
            value: &mut Option<T>,
            default: &Option<T>,
            own: &mut BTreeSet<LimitField>,
        ) {
            match setting {
                Setting::Keep if own.contains(&field) => {}
                // Not the user's own: it follows the (maybe new) organization.
                Setting::Keep | Setting::Inherit => {
                    own.remove(&field);
                    *value = default.clone();
                }
                Setting::Clear => {
                    own.insert(field);
                    *value = None;
                }
                Setting::Set(v) => {
                    own.insert(field);
                    *value = Some(v.clone());
                }
            }
        }
        let (v, d, own) = (&mut next.values, defaults, &mut next.own);
        one(
            LimitField::MaxBudget,
            &change.max_budget,
            &mut v.max_budget,
            &d.max_budget,
            own,
        );
        one(
            LimitField::BudgetPeriod,
            &change.budget_period,
            &mut v.budget_period,
            &d.budget_period,
            own,
        );
        one(
            LimitField::TpmLimit,
            &change.tpm_limit,
            &mut v.tpm_limit,
            &d.tpm_limit,
            own,
        );
        one(
            LimitField::RpmLimit,
            &change.rpm_limit,
            &mut v.rpm_limit,
            &d.rpm_limit,
            own,
        );
        one(
            LimitField::ExpiresAt,
            &change.expires_at,
            &mut v.expires_at,
            &d.expires_at,
            own,
        );
        one(
            LimitField::RotationEvery,
            &change.rotation_every,
            &mut v.rotation_every,
            &d.rotation_every,
            own,
        );
        next
    }

    /// `limits_own` as stored: field names joined by commas, in a fixed order.
    pub fn own_column(&self) -> String {
        self.own
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads `limits_own`; unknown names (from a newer mama) are ignored.
    pub fn parse_own(column: &str) -> BTreeSet<LimitField> {
        column
            .split(',')
            .filter_map(|name| LimitField::parse(name.trim()))
            .collect()
    }
}

/// The limits LiteLLM enforces for these values (the rotation interval is mama's alone).
pub fn on_key(limits: &KeyLimits) -> LimitsOnKey {
    LimitsOnKey {
        max_budget: limits.max_budget,
        budget_duration: limits.budget_period.map(|p| p.as_str().to_string()),
        tpm_limit: limits.tpm_limit,
        rpm_limit: limits.rpm_limit,
        expires: limits.expires_at,
    }
}

/// Checks every value a change sets; `field` is the path of the change (`limits`,
/// `users[3].limits`). An expiry must lie ahead of `now`.
pub fn validate(
    field: &str,
    change: &LimitsChange,
    now: DateTime<Utc>,
    row: Option<usize>,
    problems: &mut Problems,
) {
    if let Setting::Set(budget) = change.max_budget {
        if !budget.is_finite() || budget < 0.0 {
            problems.push(
                format!("{field}.max_budget"),
                format!("{budget} is not a budget: give 0 or more USD (0 refuses every call), or null for none"),
                row,
            );
        } else if budget > MAX_BUDGET_USD {
            problems.push(
                format!("{field}.max_budget"),
                format!("{budget} USD is more than the largest budget, {MAX_BUDGET_USD} USD"),
                row,
            );
        }
    }
    for (name, setting) in [
        ("tpm_limit", &change.tpm_limit),
        ("rpm_limit", &change.rpm_limit),
    ] {
        if let Setting::Set(n) = *setting {
            if n == 0 {
                problems.push(
                    format!("{field}.{name}"),
                    "0 would refuse every call: give 1 or more per minute, or null for no limit",
                    row,
                );
            } else if n > MAX_PER_MINUTE {
                problems.push(
                    format!("{field}.{name}"),
                    format!("{n} is more than the largest limit, {MAX_PER_MINUTE} per minute"),
                    row,
                );
            }
        }
    }
    if let Setting::Set(at) = change.expires_at {
        if at <= now {
            problems.push(
                format!("{field}.expires_at"),
                format!(
                    "{} is in the past: give a time ahead, or null for never",
                    at.to_rfc3339()
                ),
                row,
            );
        }
    }
    if let Setting::Set(Days(days)) = change.rotation_every {
        if days == 0 || days > Days::MAX {
            problems.push(
                format!("{field}.rotation_every"),
                format!("give 1d to {}d", Days::MAX),
                row,
            );
        }
    }
}

pub fn validate_suspend(field: &str, suspend: &Suspend, problems: &mut Problems) {
    let chars = suspend.reason.trim().chars().count();
    if chars == 0 {
        problems.push(
            format!("{field}.reason"),
            "say why the user is suspended (shown to operators and kept in the event log)",
            None,
        );
    } else if suspend.reason.chars().count() > MAX_REASON_CHARS {
        problems.push(
            format!("{field}.reason"),
            format!("at most {MAX_REASON_CHARS} characters"),
            None,
        );
    }
}

/// What a user's key can do now, the most pressing state first: an admin's suspension, then
/// expiry, then a spent budget (`spend` as last read from LiteLLM), then the sync.
pub fn status(
    key_status: KeyStatus,
    suspended: bool,
    limits: &KeyLimits,
    spend: Option<f64>,
    now: DateTime<Utc>,
) -> UserStatus {
    if suspended {
        return UserStatus::Suspended;
    }
    if limits.expires_at.is_some_and(|at| at <= now) {
        return UserStatus::Expired;
    }
    if let (Some(spent), Some(budget)) = (spend, limits.max_budget) {
        if spent >= budget {
            return UserStatus::OverBudget;
        }
    }
    match key_status {
        KeyStatus::Failed => UserStatus::Failed,
        KeyStatus::Pending => UserStatus::Pending,
        KeyStatus::Active => UserStatus::Active,
        KeyStatus::None => UserStatus::None,
    }
}

/// The limits that differ between `before` and `after`, as text for people (`none` for no
/// limit), in field order.
pub fn describe_changes(
    before: &KeyLimits,
    after: &KeyLimits,
) -> Vec<(&'static str, String, String)> {
    fn text<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "none".to_string(), T::to_string)
    }
    let time = |t: &Option<DateTime<Utc>>| {
        t.map_or_else(
            || "never".to_string(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    [
        (
            LimitField::MaxBudget,
            text(&before.max_budget),
            text(&after.max_budget),
        ),
        (
            LimitField::BudgetPeriod,
            text(&before.budget_period),
            text(&after.budget_period),
        ),
        (
            LimitField::TpmLimit,
            text(&before.tpm_limit),
            text(&after.tpm_limit),
        ),
        (
            LimitField::RpmLimit,
            text(&before.rpm_limit),
            text(&after.rpm_limit),
        ),
        (
            LimitField::ExpiresAt,
            time(&before.expires_at),
            time(&after.expires_at),
        ),
        (
            LimitField::RotationEvery,
            text(&before.rotation_every),
            text(&after.rotation_every),
        ),
    ]
    .into_iter()
    .filter(|(_, b, a)| b != a)
    .map(|(f, b, a)| (f.name(), b, a))
    .collect()
}

/// The expiry after moving it `days` later: from the current expiry, or from `now` when that
/// has passed; a key that never expires stays so.
pub fn extended(
    expires_at: Option<DateTime<Utc>>,
    days: u32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    expires_at.map(|at| at.max(now) + chrono::Duration::days(i64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::BudgetPeriod;

    fn org() -> KeyLimits {
        KeyLimits {
            max_budget: Some(50.0),
            budget_period: Some(BudgetPeriod::Month),
            rpm_limit: Some(100),
            ..KeyLimits::default()
        }
    }

    #[test]
    fn a_user_follows_its_organization_except_where_it_set_its_own() {
        let user = UserLimits::default().changed(&LimitsChange::default(), &org());
        assert_eq!(user.values, org());
        assert_eq!(user.inherited().len(), 6);
        let change = LimitsChange {
            max_budget: Setting::Set(5.0),
            rpm_limit: Setting::Clear,
            ..LimitsChange::default()
        };
        let user = user.changed(&change, &org());
        assert_eq!(user.values.max_budget, Some(5.0));
        assert_eq!(
            user.values.rpm_limit, None,
            "null overrides the organization"
        );
        assert_eq!(user.values.budget_period, Some(BudgetPeriod::Month));
        assert_eq!(user.own_column(), "max_budget,rpm_limit");
        // The organization's default changes: only inherited fields follow.
        let new_org = KeyLimits {
            max_budget: Some(80.0),
            rpm_limit: Some(7),
            tpm_limit: Some(1000),
            ..KeyLimits::default()
        };
        let user = user.changed(&LimitsChange::default(), &new_org);
        assert_eq!(user.values.max_budget, Some(5.0));
        assert_eq!(user.values.rpm_limit, None);
        assert_eq!(user.values.tpm_limit, Some(1000));
        assert_eq!(user.values.budget_period, None);
        let back = user.changed(
            &LimitsChange {
                max_budget: Setting::Inherit,
                ..LimitsChange::default()
            },
            &new_org,
        );
        assert_eq!(back.values.max_budget, Some(80.0));
        assert_eq!(UserLimits::parse_own(&back.own_column()), back.own);
    }

    #[test]
    fn bad_values_are_named_with_their_problem() {
        let now = Utc::now();
        let change = LimitsChange {
            max_budget: Setting::Set(-1.0),
            tpm_limit: Setting::Set(0),
            rpm_limit: Setting::Set(MAX_PER_MINUTE + 1),
            expires_at: Setting::Set(now - chrono::Duration::seconds(1)),
            ..LimitsChange::default()
        };
        let mut problems = Problems::default();
        validate("limits", &change, now, None, &mut problems);
        let fields: Vec<_> = problems.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "limits.max_budget",
                "limits.tpm_limit",
                "limits.rpm_limit",
                "limits.expires_at"
            ]
        );
        let mut problems = Problems::default();
        validate(
            "limits",
            &LimitsChange {
                max_budget: Setting::Set(f64::NAN),
                ..LimitsChange::default()
            },
            now,
            None,
            &mut problems,
        );
        assert_eq!(problems.errors.len(), 1);
        let mut problems = Problems::default();
        validate(
            "limits",
            &LimitsChange {
                max_budget: Setting::Set(0.0),
                ..LimitsChange::default()
            },
            now,
            None,
            &mut problems,
        );
        assert!(
            problems.is_empty(),
            "a budget of 0 is allowed: it refuses every call"
        );
    }

    #[test]
    fn extending_starts_from_now_when_the_key_already_expired() {
        let now = Utc::now();
        let past = now - chrono::Duration::days(3);
        assert_eq!(
            extended(Some(past), 2, now),
            Some(now + chrono::Duration::days(2))
        );
        let ahead = now + chrono::Duration::days(1);
        assert_eq!(
            extended(Some(ahead), 2, now),
            Some(ahead + chrono::Duration::days(2))
        );
        assert_eq!(extended(None, 2, now), None);
    }
}
