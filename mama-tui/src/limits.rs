//! Budgets, rate limits, expiry and suspension as operators read and type them: the short texts
//! of the users table, and the parsing of what is typed in the edit and bulk dialogs (checked
//! here, so a typo is named next to its field before the daemon is asked).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use mama_api::types::{BudgetPeriod, Days, KeyLimits, LimitField, Setting, UserStatus, UserView};

/// Shown for "no limit" / "never read".
pub const NONE: &str = "—";
/// The word that clears a limit in the bulk dialog (where blank means "leave as it is").
pub const CLEAR_WORD: &str = "none";
pub use mama_api::types::INHERIT;

/// The status word of a user, as the users table and the edit dialog show it: readable without
/// colour. The states in which the key refuses every call carry a leading `✗`.
pub fn status_text(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Suspended => "✗ suspended",
        UserStatus::Expired => "✗ expired",
        UserStatus::OverBudget => "✗ over budget",
        UserStatus::Failed => "failed",
        UserStatus::Pending => "pending",
        UserStatus::Active => "active",
        UserStatus::None => "-",
    }
}

/// Whether the key refuses calls (suspended, expired or over budget).
pub fn refuses_calls(status: UserStatus) -> bool {
    matches!(
        status,
        UserStatus::Suspended | UserStatus::Expired | UserStatus::OverBudget
    )
}

/// USD with cents: `$10.00`.
pub fn money(usd: f64) -> String {
    format!("${usd:.2}")
}

/// `$10.00/30d`, `$10.00` (no period), or `—`.
pub fn budget_text(limits: &KeyLimits) -> String {
    match (limits.max_budget, limits.budget_period) {
        (Some(b), Some(p)) => format!("{}/{p}", money(b)),
        (Some(b), None) => money(b),
        (None, _) => NONE.into(),
    }
}

/// Spend with a four-cell gauge of the budget in front when `gauge` (`▇▇▁▁ 4.20`), else the
/// number alone; `—` when never read.
pub fn spend_text(spend: Option<f64>, budget: Option<f64>, gauge: bool) -> String {
    let Some(spend) = spend else {
        return NONE.into();
    };
    let number = format!("{spend:.2}");
    match budget {
        Some(budget) if gauge => {
            let cells = 4usize;
            let filled = if budget <= 0.0 {
                cells
            } else {
                ((spend / budget * cells as f64).ceil() as usize).min(cells)
            };
            let filled = if spend <= 0.0 { 0 } else { filled };
            format!(
                "{}{} {number}",
                "▇".repeat(filled),
                "▁".repeat(cells - filled)
            )
        }
        _ => number,
    }
}

/// `10k`, `1.5M`, `60`: rate limits at a glance.
pub fn compact(n: u64) -> String {
    fn short(n: u64, unit: u64, suffix: &str) -> String {
        if n.is_multiple_of(unit) {
            format!("{}{suffix}", n / unit)
        } else {
            let tenths = n * 10 / unit;
            if tenths.is_multiple_of(10) {
                format!("{}{suffix}", tenths / 10)
            } else {
                format!("{}.{}{suffix}", tenths / 10, tenths % 10)
            }
        }
    }
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => short(n, 1_000, "k"),
        _ => short(n, 1_000_000, "M"),
    }
}

/// `rpm 60 · tpm 10k`, one of them, or `—`.
pub fn rate_text(limits: &KeyLimits) -> String {
    let parts: Vec<String> = [("rpm", limits.rpm_limit), ("tpm", limits.tpm_limit)]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {}", compact(v))))
        .collect();
    if parts.is_empty() {
        NONE.into()
    } else {
        parts.join(" · ")
    }
}

/// A moment as typed back: `2026-06-30` at midnight, else `2026-06-30 14:00` (UTC).
pub fn moment(at: DateTime<Utc>) -> String {
    if at.hour() == 0 && at.minute() == 0 {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The expiry column: the date, `never`, and a past one marked with a trailing `!`.
pub fn expiry_text(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match expires_at {
        None => "never".into(),
        Some(at) if at <= now => format!("{}!", at.format("%Y-%m-%d")),
        Some(at) => at.format("%Y-%m-%d").to_string(),
    }
}

/// The last day with a request, seen from `today` (both UTC days): `today`, `3d ago` within
/// the 30 days the usage columns cover, else the date (a day after `today`, from a clock
/// ahead of ours, too); `never` when there was none.
pub fn last_used_text(last_used: Option<NaiveDate>, today: NaiveDate) -> String {
    let Some(day) = last_used else {
        return "never".into();
    };
    match (today - day).num_days() {
        0 => "today".into(),
        days @ 1..=30 => format!("{days}d ago"),
        _ => day.format("%Y-%m-%d").to_string(),
    }
}

/// A field's value as the dialogs show and take it (empty for none).
pub fn field_value(limits: &KeyLimits, field: LimitField) -> String {
    match field {
        LimitField::MaxBudget => limits.max_budget.map(|b| format!("{b:.2}")),
        LimitField::BudgetPeriod => limits.budget_period.map(|p| p.to_string()),
        LimitField::TpmLimit => limits.tpm_limit.map(|v| v.to_string()),
        LimitField::RpmLimit => limits.rpm_limit.map(|v| v.to_string()),
        LimitField::ExpiresAt => limits.expires_at.map(moment),
        LimitField::RotationEvery => limits.rotation_every.map(|d| d.to_string()),
    }
    .unwrap_or_default()
}

/// How a field is labelled in the dialogs.
pub fn field_label(field: LimitField) -> &'static str {
    match field {
        LimitField::MaxBudget => "budget (USD)",
        LimitField::BudgetPeriod => "period",
        LimitField::TpmLimit => "tpm",
        LimitField::RpmLimit => "rpm",
        LimitField::ExpiresAt => "expires",
        LimitField::RotationEvery => "rotate every",
    }
}

/// What a field takes, for the dialogs' hint and errors.
pub fn field_hint(field: LimitField) -> &'static str {
    match field {
        LimitField::MaxBudget => "USD, e.g. 10 or 12.50",
        LimitField::BudgetPeriod => "1d, 7d or 30d",
        LimitField::TpmLimit | LimitField::RpmLimit => "a whole number above 0, e.g. 60 or 10k",
        LimitField::ExpiresAt => "YYYY-MM-DD, YYYY-MM-DD HH:MM (UTC) or +30d",
        LimitField::RotationEvery => "days, e.g. 90d",
    }
}

/// One typed limit, parsed: what the text asks for, or what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Blank (or the clear word where blank means "unchanged").
    Clear,
    Inherit,
    Value(LimitValue),
}

/// A parsed value of one of the six fields.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitValue {
    Budget(f64),
    Period(BudgetPeriod),
    Count(u64),
    At(DateTime<Utc>),
    Every(Days),
}

/// Parses `text` for `field`. Blank and `none` clear, `inherit` follows the organization.
pub fn parse_field(field: LimitField, text: &str, now: DateTime<Utc>) -> Result<Typed, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case(CLEAR_WORD) {
        return Ok(Typed::Clear);
    }
    if text.eq_ignore_ascii_case(INHERIT) {
        return Ok(Typed::Inherit);
    }
    let bad = || {
        format!(
            "{}: {text:?} is not {}",
            field_label(field).trim_end_matches(" (USD)"),
            field_hint(field)
        )
    };
    let value = match field {
        LimitField::MaxBudget => {
            let usd: f64 = text
                .trim_start_matches('$')
                .trim()
                .parse()
                .map_err(|_| bad())?;
            if !usd.is_finite() || usd < 0.0 {
                return Err("budget: must be 0 or more (0 refuses every call)".into());
            }
            LimitValue::Budget(usd)
        }
        LimitField::BudgetPeriod => LimitValue::Period(BudgetPeriod::parse(text).ok_or_else(bad)?),
        LimitField::TpmLimit | LimitField::RpmLimit => {
            LimitValue::Count(parse_count(text).ok_or_else(bad)?)
        }
        LimitField::ExpiresAt => {
            let at = parse_moment(text, now).ok_or_else(bad)?;
            if at <= now {
                return Err(format!("expires: {} is in the past", moment(at)));
            }
            LimitValue::At(at)
        }
        LimitField::RotationEvery => {
            LimitValue::Every(Days::parse(text).map_err(|e| format!("rotate every: {e}"))?)
        }
    };
    Ok(Typed::Value(value))
}

/// `60`, `10k`, `1.5M`, `10_000`; more than zero.
fn parse_count(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase().replace(['_', ','], "");
    let (number, unit) = match lower.as_bytes().last()? {
        b'k' => (&lower[..lower.len() - 1], 1_000u64),
        b'm' => (&lower[..lower.len() - 1], 1_000_000),
        _ => (lower.as_str(), 1),
    };
    let n = if unit == 1 {
        number.parse::<u64>().ok()?
    } else {
        let x: f64 = number.parse().ok()?;
        if !x.is_finite() || x < 0.0 {
            return None;
        }
        (x * unit as f64).round() as u64
    };
    (n > 0).then_some(n)
}

/// `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DD HH:MM` (UTC) or `+Nd` from now.
pub fn parse_moment(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(days) = text.strip_prefix('+') {
        let days: i64 = days.strip_suffix('d')?.parse().ok()?;
        return (1..=36_500)
            .contains(&days)
            .then(|| now + Duration::days(days));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&at));
        }
    }
    None
}

/// Puts one parsed field into a change.
pub fn set_field(change: &mut mama_api::types::LimitsChange, field: LimitField, typed: Typed) {
    fn setting<T>(typed: &Typed, value: impl FnOnce(&LimitValue) -> Option<T>) -> Setting<T> {
        match typed {
            Typed::Clear => Setting::Clear,
            Typed::Inherit => Setting::Inherit,
            Typed::Value(v) => value(v).map_or(Setting::Keep, Setting::Set),
        }
    }
    match field {
        LimitField::MaxBudget => {
            change.max_budget = setting(&typed, |v| match v {
                LimitValue::Budget(b) => Some(*b),
                _ => None,
            })
        }
        LimitField::BudgetPeriod => {
            change.budget_period = setting(&typed, |v| match v {
                LimitValue::Period(p) => Some(*p),
                _ => None,
            })
        }
        LimitField::TpmLimit => {
            change.tpm_limit = setting(&typed, |v| match v {
                LimitValue::Count(n) => Some(*n),
                _ => None,
            })
        }
        LimitField::RpmLimit => {
            change.rpm_limit = setting(&typed, |v| match v {
                LimitValue::Count(n) => Some(*n),
                _ => None,
            })
        }
        LimitField::ExpiresAt => {
            change.expires_at = setting(&typed, |v| match v {
                LimitValue::At(at) => Some(*at),
                _ => None,
            })
        }
        LimitField::RotationEvery => {
            change.rotation_every = setting(&typed, |v| match v {
                LimitValue::Every(d) => Some(*d),
                _ => None,
            })
        }
    }
}

/// The daemon's field name (`limits.max_budget`) as a limit field, to focus it.
pub fn field_of(name: &str) -> Option<LimitField> {
    LimitField::parse(name.rsplit('.').next().unwrap_or(name))
}

/// Who suspended a user, when and why: `by admin, 2026-03-02 09:00: left the company`.
pub fn suspension_line(user: &UserView) -> Option<String> {
    user.suspended.as_ref().map(|s| {
        format!(
            "by {}, {}: {}",
            s.by,
            s.at.format("%Y-%m-%d %H:%M"),
            s.reason
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    #[test]
    fn table_texts_read_without_colour() {
        let limits = KeyLimits {
            max_budget: Some(10.0),
            budget_period: Some(BudgetPeriod::Month),
            tpm_limit: Some(10_000),
            rpm_limit: Some(60),
            ..KeyLimits::default()
        };
        assert_eq!(budget_text(&limits), "$10.00/30d");
        assert_eq!(budget_text(&KeyLimits::default()), "—");
        assert_eq!(rate_text(&limits), "rpm 60 · tpm 10k");
        assert_eq!(spend_text(Some(4.2), Some(10.0), true), "▇▇▁▁ 4.20");
        assert_eq!(spend_text(Some(4.2), Some(10.0), false), "4.20");
        assert_eq!(spend_text(Some(12.0), Some(10.0), true), "▇▇▇▇ 12.00");
        assert_eq!(spend_text(Some(0.0), Some(10.0), true), "▁▁▁▁ 0.00");
        assert_eq!(spend_text(None, Some(10.0), true), "—");
        assert_eq!(compact(1_500_000), "1.5M");
        assert_eq!(compact(1_250), "1.2k");
        let past = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        assert_eq!(expiry_text(Some(past), now()), "2026-03-01!");
        assert_eq!(expiry_text(None, now()), "never");
    }

    #[test]
    fn last_used_reads_as_days_ago_within_the_30_days_then_as_a_date() {
        let today = now().date_naive();
        let day = |d: i64| Some(today - Duration::days(d));
        assert_eq!(last_used_text(day(0), today), "today");
        assert_eq!(last_used_text(day(1), today), "1d ago");
        assert_eq!(last_used_text(day(30), today), "30d ago");
        assert_eq!(last_used_text(day(31), today), "2026-01-30");
        assert_eq!(last_used_text(day(-1), today), "2026-03-03");
        assert_eq!(last_used_text(None, today), "never");
    }

    #[test]
    fn typed_limits_parse_or_say_what_is_expected() {
        let f = |field, text| parse_field(field, text, now());
        assert_eq!(f(LimitField::MaxBudget, ""), Ok(Typed::Clear));
        assert_eq!(f(LimitField::MaxBudget, "none"), Ok(Typed::Clear));
        assert_eq!(f(LimitField::TpmLimit, "inherit"), Ok(Typed::Inherit));
        assert_eq!(
            f(LimitField::MaxBudget, "$12.5"),
            Ok(Typed::Value(LimitValue::Budget(12.5)))
        );
        assert!(f(LimitField::MaxBudget, "-1")
            .unwrap_err()
            .contains("0 or more"));
        assert_eq!(
            f(LimitField::TpmLimit, "10k"),
            Ok(Typed::Value(LimitValue::Count(10_000)))
        );
        assert!(f(LimitField::RpmLimit, "0").is_err());
        assert!(f(LimitField::BudgetPeriod, "2d")
            .unwrap_err()
            .contains("30d"));
        assert_eq!(
            f(LimitField::ExpiresAt, "+30d"),
            Ok(Typed::Value(LimitValue::At(now() + Duration::days(30))))
        );
        assert_eq!(
            f(LimitField::ExpiresAt, "2026-06-30 14:00"),
            Ok(Typed::Value(LimitValue::At(
                Utc.with_ymd_and_hms(2026, 6, 30, 14, 0, 0).unwrap()
            )))
        );
        assert!(f(LimitField::ExpiresAt, "2026-01-01")
            .unwrap_err()
            .contains("in the past"));
        assert!(f(LimitField::RotationEvery, "90").is_err());
        assert_eq!(
            f(LimitField::RotationEvery, "90d"),
            Ok(Typed::Value(LimitValue::Every(Days(90))))
        );
    }
}
