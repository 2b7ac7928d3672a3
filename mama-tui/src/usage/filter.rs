//! The `/` filter on the usage screen: the users filter language, as far as usage can answer
//! it. Free words match the user id or organization (substring), `org:X` the organization
//! (substring), `model:X` exactly that model, `user:ID` (or `id:ID`, repeated or comma
//! separated) exactly those users, deleted ones included. Terms about a user's present state
//! (`status:`, `key:`, `budget:`…) say they do not apply, so a filter never silently means less
//! than it reads.

use mama_api::types::UsageFilter;

/// The terms, as the filter bar's hint line lists them.
pub const TERMS: &str = "org: model: user: or words (id, organization)";

/// Terms of the users filter that usage cannot answer.
const USERS_ONLY: [&str; 8] = [
    "service", "s", "info", "status", "key", "expires", "spend", "budget",
];

/// Parses the usage filter bar into a [`UsageFilter`], or says which term is wrong.
pub fn parse(text: &str) -> Result<UsageFilter, String> {
    let mut filter = UsageFilter::default();
    let mut words = Vec::new();
    for term in text.split_whitespace() {
        let Some((key, value)) = term.split_once(':') else {
            if term.eq_ignore_ascii_case("unavailable") {
                return Err("`unavailable` is about users' models today, not usage".into());
            }
            words.push(term);
            continue;
        };
        if value.is_empty() {
            return Err(format!("`{key}:` needs a value"));
        }
        let key = key.to_ascii_lowercase();
        match key.as_str() {
            "org" | "organization" => filter.organization = Some(value.to_string()),
            "model" | "m" => filter.model = Some(value.to_string()),
            "user" | "id" | "u" => {
                for id in value.split(',').filter(|id| !id.is_empty()) {
                    if !filter.user_ids.iter().any(|known| known == id) {
                        filter.user_ids.push(id.to_string());
                    }
                }
            }
            "text" => words.push(value),
            other if USERS_ONLY.contains(&other) => {
                return Err(format!(
                    "`{other}:` filters users, not usage (use org: model: user:)"
                ))
            }
            other => return Err(format!("unknown term `{other}:`")),
        }
    }
    if !words.is_empty() {
        filter.text = Some(words.join(" "));
    }
    Ok(filter)
}

/// What a filter narrows usage to, in a few words for the summary line: `user 김철수`,
/// `org 연구소 · model gpt-4o`, or `everything`.
pub fn describe(filter: &UsageFilter) -> String {
    let mut parts = Vec::new();
    match filter.user_ids.as_slice() {
        [] => {}
        [one] => parts.push(format!("user {one}")),
        many => parts.push(format!("{} users", many.len())),
    }
    if let Some(org) = &filter.organization {
        parts.push(format!("org {org}"));
    }
    if let Some(model) = &filter.model {
        parts.push(format!("model {model}"));
    }
    if let Some(text) = &filter.text {
        parts.push(format!("\"{text}\""));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_map_to_the_usage_filter() {
        let f = parse("김 org:연구소 model:gpt-4o user:u1,u2 id:u2 user:박영희").unwrap();
        assert_eq!(f.text.as_deref(), Some("김"));
        assert_eq!(f.organization.as_deref(), Some("연구소"));
        assert_eq!(f.model.as_deref(), Some("gpt-4o"));
        assert_eq!(
            f.user_ids,
            ["u1", "u2", "박영희"],
            "ids once each, in order"
        );
        let f = parse("Org:Sales M:claude text:ops bot").unwrap();
        assert_eq!(f.organization.as_deref(), Some("Sales"));
        assert_eq!(f.model.as_deref(), Some("claude"));
        assert_eq!(f.text.as_deref(), Some("ops bot"));
    }

    #[test]
    fn nothing_typed_is_everything() {
        assert_eq!(parse("   ").unwrap(), UsageFilter::default());
        assert_eq!(describe(&UsageFilter::default()), "everything");
    }

    #[test]
    fn users_only_terms_and_typos_are_errors() {
        let err = parse("status:suspended").unwrap_err();
        assert!(err.contains("filters users, not usage"), "{err}");
        assert!(parse("spend:>10").is_err());
        assert!(parse("unavailable").is_err());
        assert_eq!(parse("modle:x").unwrap_err(), "unknown term `modle:`");
        assert_eq!(parse("org:").unwrap_err(), "`org:` needs a value");
    }

    #[test]
    fn the_summary_names_what_was_asked() {
        assert_eq!(describe(&parse("user:김철수").unwrap()), "user 김철수");
        assert_eq!(
            describe(&parse("org:연구소 model:gpt-4o").unwrap()),
            "org 연구소 · model gpt-4o"
        );
        assert_eq!(describe(&parse("user:a user:b").unwrap()), "2 users");
    }
}
