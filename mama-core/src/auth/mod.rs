//! Authentication: admin passwords (Argon2id), admin sessions (JWT) and service tokens.
//!
//! These are pure functions over secrets; looking admins and tokens up, throttling and the
//! security-stamp check belong to the use cases that own the database transaction.

pub mod jwt;
pub mod password;
pub mod token;

pub use jwt::{JwtKeys, SessionClaims, TokenError, SESSION_TTL};
pub use password::{
    check_new_password, hash_password, needs_rehash, verify_dummy, verify_password,
    MIN_PASSWORD_CHARS,
};
pub use token::{
    constant_time_eq, hash_token, looks_like_service_token, new_service_token, random_secret_bytes,
    NewServiceToken, SERVICE_TOKEN_PREFIX,
};

/// Failures of the auth primitives. None of them carries a password or a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Argon2 refused its inputs or parameters (not a wrong password: that is `Ok(false)`).
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    /// The stored password hash is not an Argon2id PHC string.
    #[error("the stored password hash is malformed or not Argon2id")]
    MalformedHash,
    /// The JWT signing secret is too short to be safe with HS256.
    #[error("the JWT signing key must be at least {min} bytes")]
    WeakJwtSecret { min: usize },
    /// Encoding a session token failed.
    #[error("could not sign the session token")]
    Sign(#[source] jsonwebtoken::errors::Error),
}
