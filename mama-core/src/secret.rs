//! A string that must never leak: wiped from memory when dropped and printed as `[redacted]`.
//!
//! Passwords, tokens, virtual keys and master keys pass through this type so that a stray
//! `{:?}` in a log line or an error message cannot reveal them. It deliberately has no
//! `Serialize`: a secret reaches the wire only through an explicit [`SecretString::expose`].

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
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Borrows the secret itself. Call sites are easy to grep for, which is the point.
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
        Self::new(value.to_owned())
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
        let secret = SecretString::new("hunter2-hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-hunter2");
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
