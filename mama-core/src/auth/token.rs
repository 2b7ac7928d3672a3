//! Service API tokens: a fixed prefix plus 256 random bits, stored only as SHA-256.
//!
//! The prefix makes a leaked token recognizable to secret scanners and to operators; the
//! random part is long enough that a plain (unsalted) SHA-256 is a safe way to store it, and
//! lookups by hash stay a single indexed query.

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::secret::SecretString;

/// Every service token starts with this.
pub const SERVICE_TOKEN_PREFIX: &str = "mama_st_";
/// Random bytes in a token (256 bits).
const RANDOM_BYTES: usize = 32;
/// Length of the random part: lowercase hex of [`RANDOM_BYTES`].
const RANDOM_CHARS: usize = RANDOM_BYTES * 2;
/// Random characters kept in the hint shown in listings.
const HINT_CHARS: usize = 4;

/// A freshly issued token: shown once in plaintext, then only `hash` and `hint` are stored.
#[derive(Debug, Clone)]
pub struct NewServiceToken {
    pub token: SecretString,
    pub hash: String,
    /// Prefix + first 4 random characters + "…", so operators can tell tokens apart.
    pub hint: String,
}

/// Mints a new service token with 256 bits from the OS random generator.
pub fn new_service_token() -> NewServiceToken {
    let mut bytes = random_secret_bytes::<RANDOM_BYTES>();
    let random = hex::encode(bytes);
    bytes.zeroize();
    let token = SecretString::new(format!("{SERVICE_TOKEN_PREFIX}{random}"));
    let hint = format!("{SERVICE_TOKEN_PREFIX}{}…", &random[..HINT_CHARS]);
    let hash = hash_token(token.expose());
    let mut random = random;
    random.zeroize();
    NewServiceToken { token, hash, hint }
}

/// The stored form of a token: lowercase hex SHA-256 of the whole token, prefix included.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `s` has the exact shape of a service token, checked before touching the database so
/// garbage in an `Authorization` header costs nothing.
pub fn looks_like_service_token(s: &str) -> bool {
    s.strip_prefix(SERVICE_TOKEN_PREFIX).is_some_and(|random| {
        random.len() == RANDOM_CHARS
            && random
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Compares two byte strings without an early exit, for hashes and tokens.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `N` bytes from the OS random generator, for keys and tokens.
pub fn random_secret_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_token_has_prefix_length_and_matching_hash() {
        let new = new_service_token();
        let token = new.token.expose();
        assert!(token.starts_with("mama_st_"));
        assert_eq!(token.len(), "mama_st_".len() + 64);
        assert!(looks_like_service_token(token));
        assert_eq!(new.hash, hash_token(token));
        assert_eq!(new.hash.len(), 64);
        assert_eq!(new.hint, format!("{}…", &token[..8 + 4]));
        assert_eq!(format!("{:?}", new.token), "[redacted]");
        assert!(!format!("{new:?}").contains(token));
    }

    #[test]
    fn tokens_are_unique() {
        let a = new_service_token();
        let b = new_service_token();
        assert_ne!(a.token.expose(), b.token.expose());
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn shape_check_rejects_near_misses() {
        let good = format!("mama_st_{}", "a".repeat(64));
        assert!(looks_like_service_token(&good));
        assert!(!looks_like_service_token(&good[..good.len() - 1]));
        assert!(!looks_like_service_token(&format!("{good}0")));
        assert!(!looks_like_service_token(&format!(
            "mama_st_{}",
            "A".repeat(64)
        )));
        assert!(!looks_like_service_token(&format!(
            "mama_sx_{}",
            "a".repeat(64)
        )));
        assert!(!looks_like_service_token(&format!(
            "mama_st_{}g",
            "a".repeat(63)
        )));
        assert!(!looks_like_service_token(&format!(
            "mama_st_{}가",
            "a".repeat(61)
        )));
        assert!(!looks_like_service_token(""));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert_ne!(random_secret_bytes::<32>(), random_secret_bytes::<32>());
    }
}
