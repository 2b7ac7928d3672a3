//! Admin passwords as Argon2id PHC strings.
//!
//! The parameters sit at the OWASP floor (19 MiB, 2 passes, 1 lane): strong enough against GPU
//! cracking, cheap enough that a burst of logins does not starve the daemon. They live in the PHC
//! string, so raising them later only needs [`needs_rehash`] and a rehash on the next login.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;

use super::AuthError;

/// Shortest password an admin may choose, counted in characters so Hangul is not penalized.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in bytes: bounds the hashing work an attacker can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Argon2 memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2 passes over memory (OWASP: 2).
pub const ITERATIONS: u32 = 2;
/// Argon2 lanes (OWASP: 1).
pub const LANES: u32 = 1;

/// The bootstrap password; never acceptable as a new one.
const BOOTSTRAP_PASSWORD: &str = "admin";

/// The one hasher configuration mama writes with.
fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|err| AuthError::Hash(err.into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh 128-bit salt into a PHC string for the admins table.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt_bytes = [0u8; 16];
    OsRng.fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(AuthError::Hash)?;
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(AuthError::Hash)?;
    Ok(hash.to_string())
}

/// Checks `password` against a stored PHC string. A wrong password is `Ok(false)`; only a
/// malformed or unsupported stored hash is an error, so callers cannot confuse the two.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(phc).map_err(|_| AuthError::MalformedHash)?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(AuthError::MalformedHash);
    }
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(err) => Err(AuthError::Hash(err)),
    }
}

/// A hash made with today's parameters, of a password nobody types, for [`verify_dummy`].
/// Precomputed so that even the first unknown-username login costs exactly one verification.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$rw0eDbzKsuPGJPWISZgYqQ$WlCK11s7qYRnXLgADn5xhhYnWwVZO3sPTCurUxCXSH0";

/// Spends the same work as a real verification, for logins naming an unknown admin, so the
/// response time does not tell an attacker which usernames exist.
pub fn verify_dummy(password: &str) {
    // The result is meaningless by construction; only the time spent matters.
    let _ = verify_password(password, DUMMY_PHC);
}

/// Rules for a password an admin chooses. The error is a sentence for the person typing it.
pub fn check_new_password(username: &str, new: &str) -> Result<(), String> {
    if new.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "The password is too long: at most {MAX_PASSWORD_BYTES} bytes."
        ));
    }
    let chars = new.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "The password is too short: at least {MIN_PASSWORD_CHARS} characters, got {chars}."
        ));
    }
    if new.trim().to_lowercase() == username.trim().to_lowercase() {
        return Err("The password must not be the username.".to_owned());
    }
    if new.trim().eq_ignore_ascii_case(BOOTSTRAP_PASSWORD) {
        return Err("The password must not be the bootstrap password \"admin\".".to_owned());
    }
    Ok(())
}

/// Whether a stored hash was made with weaker settings than today's (or is not Argon2id
/// v0x13 at all), so the login that just proved the password should store a fresh hash.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() || parsed.version != Some(0x13) {
        return true;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    params.m_cost() < MEMORY_KIB || params.t_cost() < ITERATIONS || params.p_cost() < LANES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify_roundtrip() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &phc).unwrap());
        assert!(!verify_password("correct horse battery!", &phc).unwrap());
        assert!(!verify_password("", &phc).unwrap());
    }

    #[test]
    fn phc_string_carries_owasp_parameters() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc));
        // Two hashes of the same password differ (fresh salt).
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn weaker_or_foreign_hashes_need_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let weak_phc = weak.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(needs_rehash(&weak_phc));
        // Still verifies: the parameters come from the stored string.
        assert!(verify_password("pw", &weak_phc).unwrap());
        assert!(needs_rehash("not a phc string"));
    }

    #[test]
    fn malformed_or_non_argon2id_hash_is_an_error_not_a_mismatch() {
        assert!(matches!(
            verify_password("pw", "garbage"),
            Err(AuthError::MalformedHash)
        ));
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2i.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(matches!(
            verify_password("pw", &phc),
            Err(AuthError::MalformedHash)
        ));
    }

    #[test]
    fn dummy_hash_costs_what_a_real_one_costs() {
        // Same parameters as a fresh hash, so the time spent is the same.
        assert!(!needs_rehash(DUMMY_PHC));
        assert!(!verify_password("whatever", DUMMY_PHC).unwrap());
        verify_dummy("");
    }

    #[test]
    fn new_password_rules() {
        assert!(check_new_password("kim", "long enough pw").is_ok());
        assert!(check_new_password("kim", "short")
            .unwrap_err()
            .contains("at least 12"));
        // 12 Hangul characters are 36 bytes but 12 characters: accepted; 11 are not.
        assert!(check_new_password("kim", &"가".repeat(12)).is_ok());
        assert!(check_new_password("kim", &"가".repeat(11)).is_err());
        assert!(check_new_password("administrator", "Administrator")
            .unwrap_err()
            .contains("username"));
        assert!(check_new_password("kim", &"x".repeat(1025))
            .unwrap_err()
            .contains("too long"));
        assert!(check_new_password("kim", &"x".repeat(1024)).is_ok());
        // "admin" is too short anyway; the rule still holds for the username "admin".
        assert!(check_new_password("admin", "admin").is_err());
    }
}
