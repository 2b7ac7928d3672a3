//! A string that must never be printed: the LiteLLM master key and the virtual keys mama mints.
//!
//! Kept local to the LiteLLM client so the client does not wait on the crate-wide secret type;
//! it can be swapped for that one without changing callers beyond the import.

use std::fmt;

use zeroize::Zeroize;

/// A secret string: `Debug` is redacted, there is no `Display`, and the bytes are wiped on drop.
///
/// The only way to read it is [`SecretString::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads the secret; call it only where the value must leave the process (a header, a body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = SecretString::new("sk-very-secret-value");
        assert_eq!(format!("{secret:?}"), "SecretString(***)");
        assert_eq!(secret.expose(), "sk-very-secret-value");
    }
}
