//! Typed errors of the LiteLLM client: one variant per status or transport failure, so the sync
//! worker decides by variant (retry, settle by reading state, give up) and never by message.
//!
//! LiteLLM's own message text is kept only in [`UpstreamDetail`], whose `Debug` hides it: the
//! `Display` of an error is mama's words, safe to show to an admin or store in an event.

use std::fmt;
use std::time::Duration;

/// What LiteLLM (or the transport) said, kept for debug-level logs only.
///
/// LiteLLM messages can quote key fragments and hashes, so `Debug` prints only the length; read
/// it with [`UpstreamDetail::as_str`] inside a `tracing::debug!`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UpstreamDetail(String);

/// Longest upstream message kept; the rest is cut so a huge HTML error page stays out of memory.
const MAX_DETAIL_CHARS: usize = 512;

impl UpstreamDetail {
    /// Keeps LiteLLM's words with every secret-looking token cut out: an error body may echo the
    /// request, `Authorization` header included (seen at `--log debug`: the master key, verbatim).
    pub(crate) fn new(text: impl AsRef<str>) -> Self {
        let kept: String = text.as_ref().chars().take(MAX_DETAIL_CHARS).collect();
        Self(redact_secrets(&kept))
    }

    /// The upstream text, for debug-level logging only: never for a client or an event.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Prefixes of the secrets that can appear in LiteLLM's answers: virtual and master keys (`sk-`),
/// mama's service tokens, and whatever follows `Bearer `.
const SECRET_PREFIXES: &[&str] = &["sk-", "mama_st_", "Bearer "];

/// Replaces the body of every token starting with one of [`SECRET_PREFIXES`] with `[redacted]`.
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = SECRET_PREFIXES
            .iter()
            .filter_map(|p| rest.find(p).map(|at| (at, *p)))
            .min_by_key(|(at, _)| *at);
        let Some((at, prefix)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + prefix.len()]);
        let after = &rest[at + prefix.len()..];
        let secret_len = after
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '='))
            })
            .unwrap_or(after.len());
        if secret_len > 0 {
            out.push_str("[redacted]");
        }
        rest = &after[secret_len..];
    }
}

impl fmt::Debug for UpstreamDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UpstreamDetail({} chars)", self.0.chars().count())
    }
}

/// Why a call to LiteLLM's admin API did not give the expected answer.
#[derive(Debug, thiserror::Error)]
pub enum LiteLlmError {
    /// 401: the master key is wrong or missing; nothing will work until configuration changes.
    #[error("LiteLLM rejected mama's master key (401)")]
    Unauthorized { detail: UpstreamDetail },
    /// 403: the key may not do this.
    #[error("LiteLLM refused the call (403)")]
    Forbidden { detail: UpstreamDetail },
    /// 404 on update, delete or a lookup that must exist: the key (or team) is not in LiteLLM.
    #[error("not found in LiteLLM (404)")]
    NotFound { detail: UpstreamDetail },
    /// 400 with `param: "key_alias"`: another LiteLLM key already holds that alias.
    #[error("the key alias is already used by another LiteLLM key (400, key_alias)")]
    DuplicateAlias { detail: UpstreamDetail },
    /// Any other 4xx LiteLLM uses for a rejected request (400, 409, …); `param` names the field
    /// when LiteLLM says which.
    #[error("LiteLLM rejected the request ({status}{})", param_suffix(.param))]
    BadRequest {
        status: u16,
        param: Option<String>,
        detail: UpstreamDetail,
    },
    /// 422 `{"detail": [...]}`: the request body did not match LiteLLM's schema (a mama bug).
    #[error("LiteLLM rejected the request body as invalid (422)")]
    Validation { detail: UpstreamDetail },
    /// 429: slow down; `retry_after` is LiteLLM's hint when it gave one in seconds.
    #[error("LiteLLM is rate limiting mama (429)")]
    RateLimited {
        retry_after: Option<Duration>,
        detail: UpstreamDetail,
    },
    /// 5xx: LiteLLM failed; the operation may or may not have happened.
    #[error("LiteLLM failed with status {status}")]
    Server { status: u16, detail: UpstreamDetail },
    /// No complete answer within the request timeout; the operation may or may not have happened.
    #[error("LiteLLM did not answer in time")]
    Timeout,
    /// The connection could not be opened (refused, unreachable, DNS, connect timeout): the
    /// request never reached LiteLLM.
    #[error("cannot connect to LiteLLM")]
    Connect { detail: UpstreamDetail },
    /// The connection broke after the request was sent (reset, closed mid-response).
    #[error("the connection to LiteLLM broke before the answer was complete")]
    ConnectionCut { detail: UpstreamDetail },
    /// A success status with a body mama cannot read.
    #[error("LiteLLM answered {status} with a body mama cannot read")]
    Malformed { status: u16, detail: UpstreamDetail },
    /// A status LiteLLM is not known to use for this call (3xx, 1xx…).
    #[error("LiteLLM answered with unexpected status {status}")]
    UnexpectedStatus { status: u16, detail: UpstreamDetail },
    /// The client itself is misconfigured (bad base URL, TLS setup); never reaches the network.
    #[error("the LiteLLM client is misconfigured: {what}")]
    Config { what: &'static str },
}

fn param_suffix(param: &Option<String>) -> String {
    match param {
        Some(p) => format!(", {p}"),
        None => String::new(),
    }
}

impl LiteLlmError {
    /// The call may or may not have taken effect in LiteLLM: the caller must read LiteLLM's state
    /// (for a key, `key_info` by hash) before retrying, or it risks a duplicate or an orphan.
    ///
    /// A success status with an unreadable body counts too: LiteLLM did the work, mama just could
    /// not read the answer.
    pub fn is_unclear(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::ConnectionCut { .. } | Self::Server { .. }
        ) || matches!(self, Self::Malformed { status, .. } if (200..300).contains(status))
    }

    /// Trying the same call later may succeed without anything changing on mama's side.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::Connect { .. }
                | Self::ConnectionCut { .. }
                | Self::Server { .. }
                | Self::RateLimited { .. }
                | Self::Malformed { .. }
        )
    }

    /// LiteLLM's own words, when there are any: log them at debug level, never show them.
    pub fn upstream_detail(&self) -> Option<&UpstreamDetail> {
        match self {
            Self::Unauthorized { detail }
            | Self::Forbidden { detail }
            | Self::NotFound { detail }
            | Self::DuplicateAlias { detail }
            | Self::BadRequest { detail, .. }
            | Self::Validation { detail }
            | Self::RateLimited { detail, .. }
            | Self::Server { detail, .. }
            | Self::Connect { detail }
            | Self::ConnectionCut { detail }
            | Self::Malformed { detail, .. }
            | Self::UnexpectedStatus { detail, .. } => Some(detail),
            Self::Timeout | Self::Config { .. } => None,
        }
    }

    /// The HTTP status LiteLLM answered with, when it answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::DuplicateAlias { .. } => Some(400),
            Self::Validation { .. } => Some(422),
            Self::RateLimited { .. } => Some(429),
            Self::BadRequest { status, .. }
            | Self::Server { status, .. }
            | Self::Malformed { status, .. }
            | Self::UnexpectedStatus { status, .. } => Some(*status),
            Self::Timeout
            | Self::Connect { .. }
            | Self::ConnectionCut { .. }
            | Self::Config { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_carries_upstream_text() {
        let err = LiteLlmError::BadRequest {
            status: 400,
            param: Some("team_id".into()),
            detail: UpstreamDetail::new("secret-ish upstream words sk-abc"),
        };
        assert_eq!(
            err.to_string(),
            "LiteLLM rejected the request (400, team_id)"
        );
        assert!(!format!("{err:?}").contains("sk-abc"));
    }

    #[test]
    fn secrets_in_upstream_words_are_cut_out() {
        let body = r#"{"detail": "bad request", "headers": {"Authorization": "Bearer sk-master-Key_123.x"}, "key": "sk-9tM1OAmg-gF5V2Y33BZCUA", "t": "mama_st_00ff"}"#;
        let detail = UpstreamDetail::new(body);
        let kept = detail.as_str();
        for secret in ["master-Key_123", "9tM1OAmg", "00ff"] {
            assert!(!kept.contains(secret), "{kept}");
        }
        assert!(
            kept.contains("bad request") && kept.contains("sk-[redacted]"),
            "{kept}"
        );
        assert_eq!(
            redact_secrets("no secrets, sk- alone"),
            "no secrets, sk- alone"
        );
    }

    #[test]
    fn classification() {
        assert!(LiteLlmError::Timeout.is_unclear());
        assert!(LiteLlmError::Timeout.is_retryable());
        let refused = LiteLlmError::Connect {
            detail: UpstreamDetail::default(),
        };
        assert!(!refused.is_unclear());
        assert!(refused.is_retryable());
        let dup = LiteLlmError::DuplicateAlias {
            detail: UpstreamDetail::default(),
        };
        assert!(!dup.is_unclear() && !dup.is_retryable());
    }
}
