//! Admin sessions as short-lived JWTs.
//!
//! Exactly one algorithm (HS256) is accepted, so a token cannot choose how it is checked
//! ("none", or an asymmetric algorithm keyed with our secret). Issuer and audience are pinned so
//! a token minted for something else with the same key is useless here. Revocation is not in the
//! token: the `stamp` claim must still match the admin's security stamp in the database, which
//! the caller checks after [`JwtKeys::verify`].

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthError;

/// How long a session token lives by default (the daemon's `--session-minutes`); the TUI
/// refreshes (or logs in again) before that.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::minutes(15);
/// The `iss` claim mama writes and requires.
pub const ISSUER: &str = "mama";
/// The `aud` claim mama writes and requires: tokens for the admin RPC only.
pub const AUDIENCE: &str = "mama-admin";
/// Shortest signing key accepted: HS256 wants at least as many key bytes as hash bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Leeway on `exp` (and `nbf`): none, so a token is refused from the first second after its
/// expiry. `exp` is whole seconds, so a token lives at most one second past its exact expiry.
const EXPIRY_LEEWAY_SECS: u64 = 0;
/// Clock skew tolerated on `iat` between daemons sharing one database: a token issued by a
/// daemon whose clock runs up to this far ahead is not taken for one from the future.
const ISSUED_AT_LEEWAY_SECS: i64 = 2;
/// The only algorithm issued and accepted.
const ALGORITHM: Algorithm = Algorithm::HS256;

/// What a session token says. `stamp` is the admin's security stamp at login time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub sub: String,
    pub role: String,
    pub stamp: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl SessionClaims {
    /// Expiry as a timestamp, for `expires_at` in RPC answers.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.exp, 0)
    }
}

/// Why a session token was refused. The TUI only needs to know "log in again" vs "forged".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Genuine but past its expiry: the client should refresh or log in again.
    #[error("the session has expired")]
    Expired,
    /// Bad signature, another algorithm, wrong issuer or audience, malformed or edited.
    #[error("the session token is invalid")]
    Invalid,
}

/// Signing and verification keys derived from one secret, plus the pinned validation rules.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Lifetime of the tokens issued, and the longest `exp - iat` accepted.
    ttl: chrono::Duration,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKeys([redacted])")
    }
}

impl JwtKeys {
    /// Builds keys from the signing secret (the `jwt-key` credential), refusing short ones.
    pub fn from_secret(secret: &[u8]) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::WeakJwtSecret {
                min: MIN_SECRET_BYTES,
            });
        }
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.leeway = EXPIRY_LEEWAY_SECS;
        validation.validate_exp = true;
        // mama issues no `nbf`, but a token carrying one is held to it.
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.required_spec_claims = ["exp", "iat", "iss", "aud", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: SESSION_TTL,
        })
    }

    /// Sets the lifetime of the tokens issued (default [`SESSION_TTL`]). Tokens living longer
    /// than this are refused too, so daemons sharing a database must agree on it.
    pub fn with_session_ttl(mut self, ttl: chrono::Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long the tokens issued live.
    pub fn session_ttl(&self) -> chrono::Duration {
        self.ttl
    }

    /// Issues a session for `username` valid for the session lifetime from now.
    pub fn issue(
        &self,
        username: &str,
        role: &str,
        stamp: &str,
    ) -> Result<(String, SessionClaims), AuthError> {
        self.issue_at(username, role, stamp, Utc::now())
    }

    /// Issues a session as if it were `now`; tests use a past `now` to get expired tokens.
    fn issue_at(
        &self,
        username: &str,
        role: &str,
        stamp: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, SessionClaims), AuthError> {
        let claims = SessionClaims {
            sub: username.to_owned(),
            role: role.to_owned(),
            stamp: stamp.to_owned(),
            jti: Uuid::new_v4().to_string(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.encoding)
            .map_err(AuthError::Sign)?;
        Ok((token, claims))
    }

    /// Checks signature, algorithm, issuer, audience and expiry. The caller still has to compare
    /// `stamp` with the admin's current security stamp.
    pub fn verify(&self, token: &str) -> Result<SessionClaims, TokenError> {
        let data = jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let claims = data.claims;
        // A token living longer than mama ever issues was not issued by mama; nor was one issued
        // in the future (with `exp` counted from there it would live until then plus its TTL).
        if claims.exp - claims.iat > self.ttl.num_seconds()
            || claims.iat > Utc::now().timestamp() + ISSUED_AT_LEEWAY_SECS
        {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn keys() -> JwtKeys {
        JwtKeys::from_secret(&[7u8; 32]).unwrap()
    }

    /// Replaces one of the three dot-separated parts of a token.
    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    fn encode_json(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn payload_json(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn issued_token_verifies_with_its_claims() {
        let keys = keys();
        let (token, claims) = keys.issue("admin", "super", "stamp-1").unwrap();
        let verified = keys.verify(&token).unwrap();
        assert_eq!(verified, claims);
        assert_eq!(verified.sub, "admin");
        assert_eq!(verified.iss, "mama");
        assert_eq!(verified.aud, "mama-admin");
        assert_eq!(verified.exp - verified.iat, 15 * 60);
        assert!(Uuid::parse_str(&verified.jti).is_ok());
        let (_, other) = keys.issue("admin", "super", "stamp-1").unwrap();
        assert_ne!(other.jti, claims.jti, "every session gets its own id");
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(matches!(
            JwtKeys::from_secret(&[1u8; 31]),
            Err(AuthError::WeakJwtSecret { .. })
        ));
        assert_eq!(format!("{:?}", keys()), "JwtKeys([redacted])");
    }

    #[test]
    fn expired_token_is_expired_not_invalid() {
        let keys = keys();
        let past = Utc::now() - chrono::Duration::hours(1);
        let (token, _) = keys.issue_at("admin", "super", "s", past).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_is_refused_from_the_second_after_its_expiry() {
        let keys = keys();
        let just_expired = Utc::now() - SESSION_TTL - chrono::Duration::seconds(1);
        let (token, claims) = keys.issue_at("admin", "super", "s", just_expired).unwrap();
        assert!(claims.exp < Utc::now().timestamp());
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn session_lifetime_is_a_setting() {
        let long = keys().with_session_ttl(chrono::Duration::minutes(60));
        let (token, claims) = long.issue("admin", "super", "s").unwrap();
        assert_eq!(claims.exp - claims.iat, 3600);
        assert!(long.verify(&token).is_ok());
        // A daemon with the default lifetime does not accept a longer-lived token.
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
        let short = keys().with_session_ttl(chrono::Duration::minutes(1));
        let (_, claims) = short.issue("admin", "super", "s").unwrap();
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn token_signed_with_another_key_is_invalid() {
        let other = JwtKeys::from_secret(&[8u8; 32]).unwrap();
        let (token, _) = other.issue("admin", "super", "s").unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn other_algorithms_are_invalid() {
        let keys = keys();
        let (token, claims) = keys.issue("admin", "super", "s").unwrap();
        // Properly signed with the same secret, but HS512: still refused.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert_eq!(keys.verify(&hs512), Err(TokenError::Invalid));
        // Header rewritten to HS512 / none, keeping the HS256 signature.
        for alg in ["HS512", "none", "None"] {
            let header = encode_json(&serde_json::json!({"alg": alg, "typ": "JWT"}));
            let forged = with_part(&token, 0, &header);
            assert_eq!(keys.verify(&forged), Err(TokenError::Invalid), "{alg}");
            // And the classic "none" form: empty signature.
            let unsigned = with_part(&forged, 2, "");
            assert_eq!(keys.verify(&unsigned), Err(TokenError::Invalid), "{alg}");
        }
    }

    #[test]
    fn edited_payload_is_invalid() {
        let keys = keys();
        let (token, _) = keys.issue("kim", "admin", "s").unwrap();
        let mut payload = payload_json(&token);
        payload["role"] = "super".into();
        let forged = with_part(&token, 1, &encode_json(&payload));
        assert_eq!(keys.verify(&forged), Err(TokenError::Invalid));
        let mut payload = payload_json(&token);
        payload["exp"] = (payload["exp"].as_i64().unwrap() + 3600).into();
        let forged = with_part(&token, 1, &encode_json(&payload));
        assert_eq!(keys.verify(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn wrong_issuer_or_audience_is_invalid() {
        let keys = keys();
        let (_, claims) = keys.issue("admin", "super", "s").unwrap();
        let key = EncodingKey::from_secret(&[7u8; 32]);
        let sign = |claims: &SessionClaims| {
            jsonwebtoken::encode(&Header::new(ALGORITHM), claims, &key).unwrap()
        };
        let wrong_aud = SessionClaims {
            aud: "mama-rest".into(),
            ..claims.clone()
        };
        assert_eq!(keys.verify(&sign(&wrong_aud)), Err(TokenError::Invalid));
        let wrong_iss = SessionClaims {
            iss: "someone-else".into(),
            ..claims.clone()
        };
        assert_eq!(keys.verify(&sign(&wrong_iss)), Err(TokenError::Invalid));
        let too_long = SessionClaims {
            exp: claims.iat + 24 * 3600,
            ..claims
        };
        assert_eq!(keys.verify(&sign(&too_long)), Err(TokenError::Invalid));
    }

    #[test]
    fn tokens_from_the_future_or_not_yet_valid_are_invalid() {
        let keys = keys();
        let key = EncodingKey::from_secret(&[7u8; 32]);
        // Issued a day ahead: exp - iat is the usual 15 minutes, but it would live 24 h 15 min.
        let later = Utc::now() + chrono::Duration::hours(24);
        let (_, claims) = keys.issue_at("admin", "super", "s", later).unwrap();
        let ahead = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key).unwrap();
        assert_eq!(keys.verify(&ahead), Err(TokenError::Invalid));
        // A current token with an `nbf` an hour ahead.
        let (token, _) = keys.issue("admin", "super", "s").unwrap();
        let mut payload = payload_json(&token);
        payload["nbf"] = (Utc::now().timestamp() + 3600).into();
        let not_yet = jsonwebtoken::encode(&Header::new(ALGORITHM), &payload, &key).unwrap();
        assert!(keys.verify(&not_yet).is_err());
        // And with an `nbf` in the past it is fine.
        payload["nbf"] = (Utc::now().timestamp() - 60).into();
        let valid = jsonwebtoken::encode(&Header::new(ALGORITHM), &payload, &key).unwrap();
        assert!(keys.verify(&valid).is_ok());
    }

    #[test]
    fn malformed_tokens_are_invalid() {
        let keys = keys();
        for token in ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9..x"] {
            assert_eq!(keys.verify(token), Err(TokenError::Invalid), "{token:?}");
        }
    }
}
