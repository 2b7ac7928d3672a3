//! A string that must never leak: wiped from memory when dropped and printed as `[redacted]`.
//!
//! Passwords, service tokens, the virtual keys mama mints and LiteLLM's master key pass through
//! this one type, so that a stray `{:?}` or `{}` in a log line or an error message cannot reveal
//! them. It deliberately has no `Serialize` and no `PartialEq`: a secret reaches the wire only
//! through an explicit [`SecretString::expose`], and is compared only where that is spelled out.

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroize;

/// Text shown instead of a secret wherever it would be formatted.
const REDACTED: &str = "[redacted]";

/// An owned secret string, zeroized on drop, redacted in `Debug` and `Display`.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `value`; from here on it is only reachable through [`SecretString::expose`].
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Borrows the secret itself, only where it must leave the process (a header, a body, the
    /// admin who asked for it). Call sites are easy to grep for, which is the point.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (useful for config validation).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = SecretString::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-hunter2");
    }

    #[test]
    fn a_master_key_never_shows_in_a_config_dump() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            master_key: SecretString,
        }
        let config = Config {
            master_key: SecretString::new("sk-very-secret-value"),
        };
        let dumped = format!("{config:?}");
        assert!(!dumped.contains("sk-very-secret-value"), "{dumped}");
        assert_eq!(config.master_key.expose(), "sk-very-secret-value");
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        #[derive(Deserialize)]
        struct Params {
            password: SecretString,
        }
        let params: Params = serde_json::from_str(r#"{"password":"s3cret"}"#).unwrap();
        assert_eq!(params.password.expose(), "s3cret");
        assert_eq!(format!("{:?}", params.password), "[redacted]");
    }
}
