//! Input rules, documented in `docs/admin-rpc.md`. Each check returns every problem it finds, so a
//! bulk create reports all bad rows at once.

use crate::api::types::Info;
use crate::api::FieldError;

pub const MAX_ID_CHARS: usize = 128;
pub const MAX_ORGANIZATION_CHARS: usize = 128;
pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_SET_MEMBERS: usize = 256;
pub const MAX_INFO_BYTES: usize = 4096;
pub const MAX_INFO_KEY_CHARS: usize = 64;
pub const MAX_USERNAME_CHARS: usize = 64;

/// Punctuation allowed in user ids besides letters and digits of any script (Hangul included).
pub const ID_PUNCTUATION: &[char] = &['.', '_', '-', '@', '+'];

/// Collects field errors with a common path prefix and row.
#[derive(Debug, Default)]
pub struct Problems {
    pub errors: Vec<FieldError>,
}

impl Problems {
    pub fn push(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        row: Option<usize>,
    ) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
            row,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

/// User ids: 1 to 128 characters; letters and digits of any script and `. _ - @ +`, in Unicode
/// normal form NFKC (so fullwidth `ｕ１` is refused rather than being another user than `u1`).
pub fn user_id(id: &str) -> Result<(), String> {
    // Most ids are ASCII: one pass over the bytes settles them (a lookup checks up to 1000).
    if (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(&char::from(b)))
    {
        return Ok(());
    }
    let chars = id.chars().count();
    if chars == 0 {
        return Err("must not be empty".into());
    }
    if chars > MAX_ID_CHARS {
        return Err(format!(
            "must be at most {MAX_ID_CHARS} characters (got {chars})"
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_alphanumeric() || ID_PUNCTUATION.contains(c)))
    {
        return Err(format!(
            "contains {bad:?}; allowed are letters, digits and . _ - @ +"
        ));
    }
    // One person must not be two users: `ｕ１` (fullwidth) and `u1`, or Hangul typed as
    // separate jamo and as syllables, look alike. Only the normal form (NFKC) is accepted.
    if !unicode_normalization::is_nfkc(id) {
        let normal: String = unicode_normalization::UnicodeNormalization::nfkc(id).collect();
        return Err(format!(
            "is not in Unicode normal form (NFKC): write it as {normal:?} (fullwidth and other look-alike forms are refused)"
        ));
    }
    Ok(())
}

/// Organization: at most 128 characters, no control characters, no leading/trailing space.
pub fn organization(org: &str) -> Result<(), String> {
    let chars = org.chars().count();
    if chars > MAX_ORGANIZATION_CHARS {
        return Err(format!(
            "must be at most {MAX_ORGANIZATION_CHARS} characters (got {chars})"
        ));
    }
    if org.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if org.trim() != org {
        return Err("must not start or end with white space".into());
    }
    Ok(())
}

/// A model or service name: 1 to 128 printable characters without white space
/// (`openai/gpt-4o`, `llama3:8b` and Hangul are fine).
pub fn set_member(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err("must not be empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "{name:?} must not contain white space or control characters"
        ));
    }
    Ok(())
}

/// Checks every member of a model or service list, and its size.
pub fn set_members(field: &str, names: &[String], row: Option<usize>, problems: &mut Problems) {
    if names.len() > MAX_SET_MEMBERS {
        problems.push(field, format!("at most {MAX_SET_MEMBERS} entries"), row);
    }
    for (i, name) in names.iter().enumerate() {
        if let Err(msg) = set_member(name) {
            problems.push(format!("{field}[{i}]"), msg, row);
        }
    }
}

/// `all-team-models` means "the models of the key's team"; without a configured team LiteLLM
/// reads it as every proxy model, so it is refused until a team is configured.
pub fn team_sentinel(
    field: &str,
    names: &[String],
    team_configured: bool,
    row: Option<usize>,
    problems: &mut Problems,
) {
    if team_configured {
        return;
    }
    if let Some(i) = names
        .iter()
        .position(|n| n == super::access::ALL_TEAM_MODELS)
    {
        problems.push(
            format!("{field}[{i}]"),
            "all-team-models needs a LiteLLM team and none is configured (it would open every model; see --litellm-team)",
            row,
        );
    }
}

/// Service names are also used in tokens' records and URLs of docs: 1 to 64 of `a-z 0-9 . _ -`.
pub fn service_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        return Err("allowed are a-z, 0-9 and . _ -".into());
    }
    Ok(())
}

/// Info: keys 1 to 64 printable characters; the whole map at most 4 KiB as JSON.
pub fn info(field: &str, info: &Info, row: Option<usize>, problems: &mut Problems) {
    for (key, value) in info {
        let chars = key.chars().count();
        if chars == 0 || chars > MAX_INFO_KEY_CHARS || key.chars().any(char::is_control) {
            problems.push(
                format!("{field}.{key}"),
                format!("keys must be 1 to {MAX_INFO_KEY_CHARS} printable characters"),
                row,
            );
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            problems.push(
                format!("{field}.{key}"),
                "value has control characters",
                row,
            );
        }
    }
    let size = serde_json::to_string(info)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_INFO_BYTES {
        problems.push(
            field,
            format!("must be at most {MAX_INFO_BYTES} bytes as JSON (got {size})"),
            row,
        );
    }
}

/// Admin usernames: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter.
pub fn username(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
        return Err(format!("must be 1 to {MAX_USERNAME_CHARS} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        return Err("allowed are a-z, 0-9 and . _ -".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert!(user_id("alice@example.com").is_ok());
        assert!(user_id("김철수").is_ok());
        assert!(user_id("emp-00123_x+y").is_ok());
        assert!(user_id("").is_err());
        assert!(user_id("a b").is_err());
        assert!(user_id("a/b").is_err());
        assert!(user_id(&"가".repeat(128)).is_ok());
        assert!(user_id(&"가".repeat(129)).is_err());
        // The ASCII fast path and the general rule agree at the length limit.
        assert!(user_id(&"a".repeat(128)).is_ok());
        assert!(user_id(&"a".repeat(129)).unwrap_err().contains("got 129"));
        assert!(user_id(&format!("{}가", "a".repeat(127))).is_ok());
        assert!(user_id("tab\there").is_err());
    }

    #[test]
    fn look_alike_ids_are_refused_with_their_normal_form() {
        let err = user_id("ｕ１").unwrap_err();
        assert!(err.contains("\"u1\""), "{err}");
        // Hangul as separate jamo (ᄀ + ᅡ) is the syllable 가 in another form.
        assert!(user_id("\u{1100}\u{1161}").unwrap_err().contains("가"));
        assert!(user_id("김철수").is_ok() && user_id("u1").is_ok());
    }

    #[test]
    fn info_limits() {
        let mut p = Problems::default();
        let mut big = Info::new();
        big.insert("k".into(), "v".repeat(5000));
        info("info", &big, Some(2), &mut p);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].row, Some(2));
    }

    #[test]
    fn names() {
        assert!(set_member("openai/gpt-4o").is_ok());
        assert!(set_member("gpt 4").is_err());
        assert!(service_name("chat-frontend").is_ok());
        assert!(service_name("Chat").is_err());
        assert!(username("admin2").is_ok());
        assert!(username("2admin").is_err());
    }
}
