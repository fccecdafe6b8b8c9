//! Password hashing with argon2id, at the OWASP minimum of m = 19456 KiB,
//! t = 2, p = 1. Hashing is slow on purpose, so it runs on the blocking pool.
//!
//! Each hash needs 19 MiB of working memory. Left to allocate it, argon2
//! would take and free a fresh buffer per hash, and glibc keeps freed
//! buffers that large resident: a process grew by 19 MiB with each of its
//! first sign-ins, to about 200 MiB. So the buffers are kept here and
//! lent out, and no more hashes run at once than the machine has cores,
//! which bounds the memory at one buffer per core however many sign-ins
//! arrive together.

use std::sync::{LazyLock, Mutex, OnceLock};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{self, generate_salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// Argon2's memory cost in KiB, which is also its number of 1 KiB blocks.
const MEMORY_KIB: u32 = 19_456;
/// Bytes of a new hash's output.
const OUTPUT_LEN: usize = 32;

/// Verified against when the user does not exist, so that an unknown user
/// costs the same time as a wrong password. Made on first need, in the
/// memory of the check that needs it.
static DUMMY_HASH: OnceLock<Option<String>> = OnceLock::new();

/// The working memory that hashes borrow, and the permits that bound how
/// many run at once.
struct Scratch {
    permits: Semaphore,
    spare: Mutex<Vec<Vec<Block>>>,
}

static SCRATCH: LazyLock<Scratch> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Scratch {
        permits: Semaphore::new(cores),
        spare: Mutex::new(Vec::with_capacity(cores)),
    }
});

impl Scratch {
    fn take(&self) -> Vec<Block> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        spare.unwrap_or_else(|| vec![Block::default(); MEMORY_KIB as usize])
    }

    fn give_back(&self, memory: Vec<Block>) {
        self.spare
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(memory);
    }
}

/// Runs `work` on the blocking pool with a borrowed buffer, once a permit
/// is free. A buffer whose work panicked is not returned; the next hash
/// makes another.
async fn with_memory<T: Send + 'static>(
    work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = SCRATCH
        .permits
        .acquire()
        .await
        .context("the hashing permits were closed")?;
    let mut memory = SCRATCH.take();
    let (outcome, memory) = tokio::task::spawn_blocking(move || {
        let outcome = work(&mut memory);
        (outcome, memory)
    })
    .await
    .context("the hashing task panicked")?;
    SCRATCH.give_back(memory);
    Ok(outcome)
}

fn params() -> Params {
    Params::new(MEMORY_KIB, 2, 1, Some(OUTPUT_LEN)).expect("argon2 parameters are constants")
}

/// A PHC string for `password` under a new random salt.
fn new_hash(password: &[u8], memory: &mut [Block]) -> password_hash::Result<String> {
    let params = params();
    let salt = generate_salt();
    let mut out = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, memory)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(Salt::new(&salt)?),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` hashes to `stored` under the algorithm, version,
/// parameters and salt that `stored` names. The outputs are compared in
/// constant time. A stored hash that needs more memory than the buffer
/// (made with larger parameters) gets a buffer of its own.
fn matches(stored: &str, password: &[u8], memory: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut larger;
    let memory = if params.block_count() <= memory.len() {
        memory
    } else {
        larger = vec![Block::default(); params.block_count()];
        &mut larger[..]
    };
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt.as_ref(),
        &mut out,
        memory,
    );
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// Hashes a new password into a PHC string.
pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    with_memory(move |memory| {
        new_hash(password.expose_secret().as_bytes(), memory)
            .map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash. With no stored hash (no such
/// user, or a WeChat-only account) it verifies against a dummy hash and
/// answers `false`.
pub async fn verify_password(stored: Option<String>, password: SecretString) -> bool {
    let outcome = with_memory(move |memory| {
        let real = stored.is_some();
        let Some(hash) = stored.or_else(|| {
            DUMMY_HASH
                .get_or_init(|| new_hash(uuid::Uuid::new_v4().as_bytes(), memory).ok())
                .clone()
        }) else {
            return false;
        };
        let matched = matches(&hash, password.expose_secret().as_bytes(), memory);
        real && matched
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

    #[tokio::test]
    async fn a_hash_made_by_the_argon2_crate_itself_verifies_here() {
        use argon2::PasswordHasher;
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).expect("params"),
        )
        .hash_password(b"correct horse")
        .expect("hash")
        .to_string();
        assert!(verify_password(Some(theirs.clone()), SecretString::from("correct horse")).await);
        assert!(!verify_password(Some(theirs), SecretString::from("correct horsf")).await);
    }

    #[tokio::test]
    async fn a_hash_made_here_verifies_with_the_argon2_crate_itself() {
        use argon2::PasswordVerifier;
        let ours = hash_password(SecretString::from("correct horse"))
            .await
            .expect("hash");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_hash_that_needs_more_memory_than_the_buffer_still_verifies() {
        use argon2::PasswordHasher;
        let larger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(MEMORY_KIB * 2, 1, 1, None).expect("params"),
        )
        .hash_password(b"correct horse")
        .expect("hash")
        .to_string();
        assert!(verify_password(Some(larger), SecretString::from("correct horse")).await);
    }

    #[tokio::test]
    async fn garbage_in_place_of_a_hash_never_verifies() {
        for stored in ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$"] {
            assert!(!verify_password(Some(stored.to_owned()), SecretString::from("x")).await);
        }
    }
}
