//! The `/` filter language: free words match id or organization (substring), `org:X`,
//! `model:X`, `service:X`, `info:KEY`, `status:pending|active|failed|none`, `unavailable`.
//! The daemon does the filtering; this only turns what the operator typed into a
//! [`UserFilter`], or says which term it does not understand.

use mama_api::types::{KeyStatus, UserFilter};

/// Parses the filter bar. Unknown `key:` terms and bad statuses are errors shown under the bar,
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
        let value = value.to_string();
        match key.to_ascii_lowercase().as_str() {
            "org" | "organization" => filter.organization = Some(value),
            "model" | "m" => filter.model = Some(value),
            "service" | "s" => filter.service = Some(value),
            "info" => filter.info_key = Some(value),
            "status" => {
                let status = KeyStatus::parse(&value.to_ascii_lowercase()).ok_or_else(|| {
                    format!("status `{value}`: use pending, active, failed or none")
                })?;
                filter.key_status = Some(status);
            }
            "id" | "text" => words.push(term.split_once(':').map_or(term, |(_, v)| v)),
            other => {
                return Err(format!(
                    "unknown term `{other}:` (org:, model:, service:, info:, status:)"
                ))
            }
        }
    }
    if !words.is_empty() {
        filter.text = Some(words.join(" "));
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms_and_free_text() {
        let f = parse("김 org:연구소 model:gpt-4o service:chat info:team status:pending").unwrap();
        assert_eq!(f.text.as_deref(), Some("김"));
        assert_eq!(f.organization.as_deref(), Some("연구소"));
        assert_eq!(f.model.as_deref(), Some("gpt-4o"));
        assert_eq!(f.service.as_deref(), Some("chat"));
        assert_eq!(f.info_key.as_deref(), Some("team"));
        assert_eq!(f.key_status, Some(KeyStatus::Pending));
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
