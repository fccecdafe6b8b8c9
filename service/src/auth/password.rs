//! Password hashing with argon2id, at the OWASP minimum of m = 19456 KiB,
//! t = 2, p = 1. Hashing is slow on purpose, so it runs on the blocking pool.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};

/// Verified against when the user does not exist, so that an unknown user
/// costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let random = uuid::Uuid::new_v4().to_string();
    hasher()
        .hash_password(random.as_bytes())
        .ok()
        .map(|hash| hash.to_string())
});

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("argon2 parameters are constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password into a PHC string.
pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))
    })
    .await
    .context("the hashing task panicked")?
}

/// Checks a password against a stored hash. With no stored hash (no such
/// user, or a WeChat-only account) it verifies against a dummy hash and
/// answers `false`.
pub async fn verify_password(stored: Option<String>, password: SecretString) -> bool {
    let outcome = tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let Some(hash) = stored.or_else(|| DUMMY_HASH.clone()) else {
            return false;
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let matches = hasher()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        real && matches
    })
    .await;
    outcome.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_own_password_only() {
        let hash = hash_password(SecretString::from("correct horse"))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(Some(hash.clone()), SecretString::from("correct horse")).await);
        assert!(!verify_password(Some(hash), SecretString::from("wrong horse")).await);
        assert!(!verify_password(None, SecretString::from("correct horse")).await);
    }
}
