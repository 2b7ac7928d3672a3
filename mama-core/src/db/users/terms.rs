//! How a filter's terms meet the indexes: which terms an index can answer, and a substring term
//! in the forms the indexes hold it (lowercased text, a `LIKE` pattern, a trigram query). The
//! planner, the side counter and the organization skip all write their SQL from these, so a
//! term means the same to each.

/// What the case-insensitive substring filters search: the lowercased id or organization
/// (lowercased in Rust, because SQLite's `lower()` only knows ASCII).
pub fn search_text(s: &str) -> String {
    s.to_lowercase()
}

/// A substring term as the body of a `LIKE … ESCAPE '\\'` pattern: lowercased like the searched
/// columns, its wildcards escaped.
pub fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A filter term that an index can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Text,
    Org,
    Model,
    Service,
    InfoKey,
    KeyStatus,
    /// The signed-in account's organization scope (`users_organization` answers it).
    Scope,
}

/// The term, if set and not empty.
pub fn text_term(term: &Option<String>) -> Option<&str> {
    term.as_deref().filter(|t| !t.is_empty())
}

/// The FTS5 query for a substring, or `None` when it is shorter than a trigram (three
/// characters), which the trigram index cannot answer. Terms are lowercased like the indexed
/// columns; a quoted FTS5 string is one phrase of consecutive trigrams, that is a substring.
pub fn trigram_query(term: &str, column: Option<&str>) -> Option<String> {
    let lower = term.to_lowercase();
    if lower.chars().count() < 3 {
        return None;
    }
    let phrase = format!("\"{}\"", lower.replace('"', "\"\""));
    Some(match column {
        Some(c) => format!("{c} : {phrase}"),
        None => phrase,
    })
}
