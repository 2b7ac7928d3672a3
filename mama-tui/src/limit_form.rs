//! The six limit fields of the edit, bulk and organization-defaults dialogs, and how what is
//! typed there becomes a [`LimitsChange`] that touches only what the operator meant to change
//! (or, for an organization, the [`KeyLimits`] its users inherit).

use chrono::{DateTime, Utc};
use mama_api::types::{KeyLimits, LimitField, LimitsChange, Setting, UserView};

use crate::limits::{field_label, field_value, parse_field, set_field, Typed, INHERIT};
use crate::text::TextInput;

fn index(field: LimitField) -> usize {
    LimitField::ALL
        .iter()
        .position(|f| *f == field)
        .unwrap_or_default()
}

/// One text field per limit, with the text it opened with.
#[derive(Debug, Clone, Default)]
pub struct LimitInputs {
    inputs: [TextInput; 6],
    initial: [String; 6],
}

impl LimitInputs {
    /// A user's limits as the edit dialog opens on them: its own values, `inherit` where the
    /// organization's default applies, blank where it has no limit of its own.
    pub fn of_user(user: &UserView) -> Self {
        let initial: [String; 6] = std::array::from_fn(|i| {
            let field = LimitField::ALL[i];
            if user.inherited.contains(&field) {
                INHERIT.to_string()
            } else {
                field_value(&user.limits, field)
            }
        });
        LimitInputs {
            inputs: std::array::from_fn(|i| TextInput::new(initial[i].clone())),
            initial,
        }
    }

    /// An organization's defaults as its dialog opens on them: the value, blank for none.
    pub fn of_limits(limits: &KeyLimits) -> Self {
        let initial: [String; 6] = std::array::from_fn(|i| field_value(limits, LimitField::ALL[i]));
        LimitInputs {
            inputs: std::array::from_fn(|i| TextInput::new(initial[i].clone())),
            initial,
        }
    }

    pub fn input(&self, field: LimitField) -> &TextInput {
        &self.inputs[index(field)]
    }

    pub fn input_mut(&mut self, field: LimitField) -> &mut TextInput {
        &mut self.inputs[index(field)]
    }

    /// Whether the field's text differs from what the dialog opened with.
    pub fn changed(&self, field: LimitField) -> bool {
        let i = index(field);
        self.inputs[i].value().trim() != self.initial[i].trim()
    }

    /// The edit dialog's change: only the fields whose text changed; a blanked field clears
    /// the limit. The first field that does not parse is named with what is wrong.
    pub fn edited(&self, now: DateTime<Utc>) -> Result<LimitsChange, (LimitField, String)> {
        let mut change = LimitsChange::default();
        for field in LimitField::ALL {
            if self.changed(field) {
                let typed =
                    parse_field(field, self.input(field).value(), now).map_err(|e| (field, e))?;
                set_field(&mut change, field, typed);
            }
        }
        Ok(change)
    }

    /// An organization's new defaults: `original` where the text did not change (so a default
    /// shown rounded, or an expiry already past, is kept as it is), a typed value, or `None` for
    /// a blank field (or `none`). There is no `inherit`: an organization inherits from nothing.
    pub fn defaults(
        &self,
        original: &KeyLimits,
        now: DateTime<Utc>,
    ) -> Result<KeyLimits, (LimitField, String)> {
        let mut change = LimitsChange::set_all(original);
        for field in LimitField::ALL {
            if !self.changed(field) {
                continue;
            }
            let typed =
                parse_field(field, self.input(field).value(), now).map_err(|e| (field, e))?;
            if typed == Typed::Inherit {
                let label = field_label(field).trim_end_matches(" (USD)");
                return Err((
                    field,
                    format!("{label}: an organization's default is a value, or blank for none"),
                ));
            }
            set_field(&mut change, field, typed);
        }
        fn value<T>(setting: Setting<T>) -> Option<T> {
            match setting {
                Setting::Set(v) => Some(v),
                Setting::Keep | Setting::Clear | Setting::Inherit => None,
            }
        }
        Ok(KeyLimits {
            max_budget: value(change.max_budget),
            budget_period: value(change.budget_period),
            tpm_limit: value(change.tpm_limit),
            rpm_limit: value(change.rpm_limit),
            expires_at: value(change.expires_at),
            rotation_every: value(change.rotation_every),
        })
    }

    /// The bulk dialog's change: a blank field leaves every user's value as it is; `none`
    /// clears it, `inherit` follows each user's organization.
    pub fn bulk(&self, now: DateTime<Utc>) -> Result<LimitsChange, (LimitField, String)> {
        let mut change = LimitsChange::default();
        for field in LimitField::ALL {
            let text = self.input(field).value();
            if text.trim().is_empty() {
                continue;
            }
            let typed = parse_field(field, text, now).map_err(|e| (field, e))?;
            set_field(&mut change, field, typed);
        }
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mama_api::types::{BudgetPeriod, Days};

    #[test]
    fn only_changed_fields_are_sent_and_a_blank_clears_an_own_value() {
        let mut user = crate::users::tests::user("kim");
        user.limits = KeyLimits {
            max_budget: Some(10.0),
            tpm_limit: Some(1000),
            rpm_limit: Some(60),
            ..KeyLimits::default()
        };
        user.inherited = vec![LimitField::RpmLimit];
        let mut inputs = LimitInputs::of_user(&user);
        assert_eq!(inputs.input(LimitField::MaxBudget).value(), "10.00");
        assert_eq!(inputs.input(LimitField::RpmLimit).value(), INHERIT);
        assert_eq!(inputs.edited(Utc::now()), Ok(LimitsChange::default()));

        inputs.input_mut(LimitField::MaxBudget).set("0");
        inputs.input_mut(LimitField::TpmLimit).clear();
        inputs.input_mut(LimitField::RpmLimit).set("120");
        let change = inputs.edited(Utc::now()).unwrap();
        assert_eq!(change.max_budget, Setting::Set(0.0));
        assert_eq!(change.tpm_limit, Setting::Clear);
        assert_eq!(change.rpm_limit, Setting::Set(120));
        assert_eq!(change.budget_period, Setting::Keep);

        inputs.input_mut(LimitField::BudgetPeriod).set("2d");
        let (field, problem) = inputs.edited(Utc::now()).unwrap_err();
        assert_eq!(field, LimitField::BudgetPeriod);
        assert!(problem.contains("1d, 7d or 30d"), "{problem}");
    }

    #[test]
    fn in_bulk_a_blank_keeps_and_none_clears() {
        let mut inputs = LimitInputs::default();
        assert!(inputs.bulk(Utc::now()).unwrap().is_empty());
        inputs.input_mut(LimitField::MaxBudget).set("0");
        inputs.input_mut(LimitField::TpmLimit).set("none");
        inputs.input_mut(LimitField::RpmLimit).set("inherit");
        let change = inputs.bulk(Utc::now()).unwrap();
        assert_eq!(change.max_budget, Setting::Set(0.0));
        assert_eq!(change.tpm_limit, Setting::Clear);
        assert_eq!(change.rpm_limit, Setting::Inherit);
        assert_eq!(change.expires_at, Setting::Keep);
    }

    #[test]
    fn organization_defaults_are_values_or_blank_and_unchanged_ones_stay_exact() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let original = KeyLimits {
            max_budget: Some(10.0 / 3.0),
            budget_period: Some(BudgetPeriod::Month),
            expires_at: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 30).unwrap()),
            ..KeyLimits::default()
        };
        let mut inputs = LimitInputs::of_limits(&original);
        assert_eq!(inputs.input(LimitField::MaxBudget).value(), "3.33");
        assert_eq!(inputs.input(LimitField::TpmLimit).value(), "");
        // Nothing typed: exactly what it was, a past expiry included.
        assert_eq!(inputs.defaults(&original, now), Ok(original.clone()));

        inputs.input_mut(LimitField::BudgetPeriod).clear();
        inputs.input_mut(LimitField::RpmLimit).set("60");
        inputs.input_mut(LimitField::RotationEvery).set("90d");
        let defaults = inputs.defaults(&original, now).unwrap();
        assert_eq!(defaults.max_budget, original.max_budget);
        assert_eq!(defaults.budget_period, None);
        assert_eq!(defaults.rpm_limit, Some(60));
        assert_eq!(defaults.rotation_every, Some(Days(90)));
        assert_eq!(defaults.expires_at, original.expires_at);

        inputs.input_mut(LimitField::TpmLimit).set("inherit");
        let (field, problem) = inputs.defaults(&original, now).unwrap_err();
        assert_eq!(field, LimitField::TpmLimit);
        assert!(problem.contains("blank for none"), "{problem}");
        inputs.input_mut(LimitField::TpmLimit).set("none");
        assert_eq!(inputs.defaults(&original, now).unwrap().tpm_limit, None);
    }
}
