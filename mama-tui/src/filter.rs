//! The `/` filter language: free words match id or organization (substring), `org:X`,
//! `model:X`, `service:X`, `info:KEY`, `status:STATE` (suspended, expired, over-budget, failed,
//! pending, active, none), `key:pending|active|failed|none` (the key's sync state alone),
//! `expires:<30d` (expiring within 30 days, or expired), `spend:>10` (USD in the current period),
//! `budget:none|set`, `unavailable`.
//! The daemon does the filtering; this only turns what the operator typed into a
//! [`UserFilter`], or says which term it does not understand.

use mama_api::types::{KeyStatus, UserFilter, UserStatus};

/// The `key:` terms, as the filter bar's hint line lists them (an unknown term's error is short,
/// so the typed text keeps its room beside it at 80 columns).
pub const TERMS: &str = "org: model: service: info: status: key: expires: spend: budget:";

/// The longest `expires:<Nd` window: a hundred years.
const MAX_EXPIRY_DAYS: u32 = 36_500;

/// Parses the filter bar. Unknown `key:` terms and bad values are errors shown under the bar,
/// so a typo never silently widens a bulk change.
pub fn parse(text: &str) -> Result<UserFilter, String> {
    let mut filter = UserFilter::default();
    let mut words = Vec::new();
    for term in text.split_whitespace() {
        let Some((key, value)) = term.split_once(':') else {
            if term.eq_ignore_ascii_case("unavailable") {
                filter.unavailable_models = true;
            } else {
                words.push(term);
            }
            continue;
        };
        if value.is_empty() {
            return Err(format!("`{key}:` needs a value"));
        }
        let lower = value.to_ascii_lowercase();
        match key.to_ascii_lowercase().as_str() {
            "org" | "organization" => filter.organization = Some(value.to_string()),
            "model" | "m" => filter.model = Some(value.to_string()),
            "service" | "s" => filter.service = Some(value.to_string()),
            "info" => filter.info_key = Some(value.to_string()),
            "status" => {
                let status = UserStatus::parse(&lower).ok_or_else(|| {
                    format!(
                        "status `{value}`: use suspended, expired, over-budget, failed, pending, \
                         active or none"
                    )
                })?;
                filter.status = Some(status);
            }
            "key" => {
                let status = KeyStatus::parse(&lower)
                    .ok_or_else(|| format!("key `{value}`: use pending, active, failed or none"))?;
                filter.key_status = Some(status);
            }
            "expires" => filter.expires_within_days = Some(parse_within_days(&lower)?),
            "spend" => filter.spend_above = Some(parse_spend_above(value)?),
            "budget" => {
                filter.has_budget = Some(match lower.as_str() {
                    "none" | "no" => false,
                    "set" | "any" | "yes" => true,
                    _ => {
                        return Err(format!(
                            "budget `{value}`: use none (no budget) or set (any budget)"
                        ))
                    }
                })
            }
            "id" | "text" => words.push(value),
            other => return Err(format!("unknown term `{other}:`")),
        }
    }
    if !words.is_empty() {
        filter.text = Some(words.join(" "));
    }
    Ok(filter)
}

/// `<30d` (or `<=30d`, `30d`): the number of days.
fn parse_within_days(value: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "expires `{value}`: use <30d (expiring within 30 days, or expired; 0d to \
             {MAX_EXPIRY_DAYS}d)"
        )
    };
    let days = value.trim_start_matches("<=").trim_start_matches('<');
    let days: u32 = days
        .strip_suffix('d')
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if days > MAX_EXPIRY_DAYS {
        return Err(bad());
    }
    Ok(days)
}

/// `>10`, `>12.50` or `>$10`: USD.
fn parse_spend_above(value: &str) -> Result<f64, String> {
    let bad = || format!("spend `{value}`: use >10 (spent more than 10 USD in the current period)");
    let usd: f64 = value
        .strip_prefix('>')
        .map(|v| v.trim_start_matches('$'))
        .and_then(|v| v.parse().ok())
        .ok_or_else(bad)?;
    if !usd.is_finite() || usd < 0.0 {
        return Err(bad());
    }
    Ok(usd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms_and_free_text() {
        let f = parse("김 org:연구소 model:gpt-4o service:chat info:team key:pending").unwrap();
        assert_eq!(f.text.as_deref(), Some("김"));
        assert_eq!(f.organization.as_deref(), Some("연구소"));
        assert_eq!(f.model.as_deref(), Some("gpt-4o"));
        assert_eq!(f.service.as_deref(), Some("chat"));
        assert_eq!(f.info_key.as_deref(), Some("team"));
        assert_eq!(f.key_status, Some(KeyStatus::Pending));
        assert_eq!(f.status, None);
    }

    #[test]
    fn status_is_the_users_state() {
        for (typed, status) in [
            ("suspended", UserStatus::Suspended),
            ("expired", UserStatus::Expired),
            ("over-budget", UserStatus::OverBudget),
            ("over_budget", UserStatus::OverBudget),
            ("Over-Budget", UserStatus::OverBudget),
            ("failed", UserStatus::Failed),
            ("pending", UserStatus::Pending),
            ("active", UserStatus::Active),
            ("none", UserStatus::None),
        ] {
            let f = parse(&format!("status:{typed}")).unwrap();
            assert_eq!(f.status, Some(status), "{typed}");
            assert_eq!(f.key_status, None);
        }
        let err = parse("status:blocked").unwrap_err();
        assert!(
            err.contains("over-budget") && err.contains("suspended"),
            "{err}"
        );
    }

    #[test]
    fn expiry_spend_and_budget_terms() {
        let f = parse("expires:<30d spend:>10 budget:set").unwrap();
        assert_eq!(f.expires_within_days, Some(30));
        assert_eq!(f.spend_above, Some(10.0));
        assert_eq!(f.has_budget, Some(true));
        assert_eq!(parse("expires:<0d").unwrap().expires_within_days, Some(0));
        assert_eq!(parse("expires:7d").unwrap().expires_within_days, Some(7));
        assert_eq!(parse("spend:>$2.5").unwrap().spend_above, Some(2.5));
        assert_eq!(parse("budget:none").unwrap().has_budget, Some(false));
        assert_eq!(parse("budget:any").unwrap().has_budget, Some(true));
        assert!(parse("budget:none").unwrap().has_row_terms());
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let err = parse("expires:<30").unwrap_err();
        assert!(err.contains("<30d"), "{err}");
        assert!(parse("expires:soon").is_err());
        assert!(parse("expires:<-1d").is_err());
        assert!(parse("expires:<99999d").is_err());
        let err = parse("spend:10").unwrap_err();
        assert!(err.contains(">10"), "{err}");
        assert!(parse("spend:>ten").is_err());
        assert!(parse("spend:>-1").is_err());
        assert!(parse("spend:>NaN").is_err());
        assert!(parse("spend:>inf").is_err());
        let err = parse("budget:maybe").unwrap_err();
        assert!(err.contains("none") && err.contains("set"), "{err}");
        assert!(parse("key:suspended").is_err());
        assert_eq!(parse("rpm:>10").unwrap_err(), "unknown term `rpm:`");
    }

    #[test]
    fn empty_is_no_filter_and_typos_are_errors() {
        assert!(parse("  ").unwrap().is_empty());
        assert!(parse("modle:x").is_err());
        assert!(parse("status:weird").is_err());
        assert!(parse("org:").is_err());
        assert!(parse("unavailable").unwrap().unavailable_models);
    }
}
