//! Access tokens: HS256 JWTs that live 15 minutes and name the user, the
//! tenant and the role. `iss`, `aud`, `exp` and `sub` are required, only
//! HS256 is accepted (so `alg: none` and RS/HS confusion fail), and the
//! clock leeway is 30 s.

use std::fmt;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Principal;
use crate::domain::{Role, TenantId, UserId};

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(15);
/// The issuer written into and required of every token.
pub const ISSUER: &str = "scrm";
/// The audience written into and required of every token.
pub const AUDIENCE: &str = "scrm-api";
const LEEWAY_SECS: u64 = 30;
/// The shortest secret accepted, in bytes: HS256 keys shorter than the hash
/// output weaken it.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    tid: Uuid,
    role: Role,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// A token that was missing, malformed, forged, expired or meant for
/// someone else. Deliberately one case: clients only need to sign in again.
#[derive(Debug, thiserror::Error)]
#[error("the access token is not valid")]
pub struct InvalidToken;

/// The keys and rules for issuing and verifying access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKeys { .. }")
    }
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> anyhow::Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        anyhow::ensure!(
            bytes.len() >= MIN_SECRET_LEN,
            "the JWT secret must be at least {MIN_SECRET_LEN} bytes"
        );
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes).context("bad JWT secret")?,
            decoding: DecodingKey::from_secret(bytes).context("bad JWT secret")?,
            validation,
        })
    }

    /// Issues an access token for `principal`, valid from `now`.
    pub fn issue(&self, principal: &Principal, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: principal.user_id().as_uuid(),
            tid: principal.tenant_id().as_uuid(),
            role: principal.role(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: (now + ACCESS_TOKEN_TTL).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .context("failed to sign an access token")
    }

    /// Verifies a token and answers the principal it proves.
    pub fn verify(&self, token: &str) -> Result<Principal, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| InvalidToken)?;
        let claims = data.claims;
        Ok(Principal::new(
            UserId::from_uuid(claims.sub),
            TenantId::from_uuid(claims.tid),
            claims.role,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&SecretString::from("k".repeat(40))).expect("valid secret")
    }

    fn principal() -> Principal {
        Principal::new(UserId::generate(), TenantId::generate(), Role::Installer)
    }

    #[test]
    fn an_issued_token_verifies_to_the_same_principal() {
        let keys = keys();
        let principal = principal();
        let token = keys.issue(&principal, Utc::now()).expect("issued");
        assert_eq!(keys.verify(&token).ok(), Some(principal));
    }

    #[test]
    fn a_token_older_than_its_lifetime_and_the_leeway_is_refused() {
        let keys = keys();
        let issued_at = Utc::now() - ACCESS_TOKEN_TTL - Duration::seconds(61);
        let token = keys.issue(&principal(), issued_at).expect("issued");
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(TokenKeys::new(&SecretString::from("short")).is_err());
    }
}
