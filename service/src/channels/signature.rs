//! Standard Webhooks signatures: a secret is `whsec_` followed by the
//! base64 of the key bytes; a signature is `v1,` followed by the base64
//! HMAC-SHA256 of `"{webhook-id}.{webhook-timestamp}.{body}"`. The
//! `webhook-signature` header may carry several signatures separated by
//! spaces, and one valid signature from any accepted secret is enough.
//!
//! Pure: no I/O, so every rule here is tested alone.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// How far a timestamp may be from the receiver's clock, either way.
pub const TOLERANCE_SECS: i64 = 300;

const SECRET_PREFIX: &str = "whsec_";
const KEY_BYTES: usize = 32;

/// A channel's signing key, parsed from its `whsec_` form.
#[derive(Clone)]
pub struct SigningSecret {
    key: hmac::Key,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    /// Makes a new random secret and answers it in its `whsec_` form.
    pub fn generate() -> String {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
    }

    /// Parses `whsec_<base64>`; the key is the decoded bytes.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or("a signing secret starts with whsec_")?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| "a signing secret is whsec_ followed by base64")?;
        if bytes.is_empty() {
            return Err("a signing secret has no key bytes");
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// The `v1,<base64>` signature of one delivery.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = hmac::sign(&self.key, &signed_content(webhook_id, timestamp, body));
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }

    /// Whether `tag` is this key's HMAC of `content`, compared in constant
    /// time.
    fn verifies(&self, content: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.key, content, tag).is_ok()
    }
}

/// The three signing headers of one delivery, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub webhook_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a delivery's signature was not accepted. Each answers 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the webhook-timestamp header is not a whole number of Unix seconds")]
    BadTimestamp,
    #[error("the webhook-timestamp is more than 5 minutes away from now")]
    StaleTimestamp,
    #[error("no signature in webhook-signature matches the channel's secret")]
    NoValidSignature,
}

/// A delivery whose signature has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub webhook_id: String,
    pub timestamp: i64,
}

/// Checks the headers and body of one delivery against the secrets that the
/// channel accepts now. `now` is Unix seconds.
pub fn verify(
    headers: SignedHeaders<'_>,
    body: &[u8],
    secrets: &[SigningSecret],
    now: i64,
) -> Result<Verified, SignatureError> {
    let webhook_id = headers
        .webhook_id
        .filter(|id| !id.is_empty())
        .ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let timestamp_text = headers
        .timestamp
        .ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let signatures = headers
        .signature
        .ok_or(SignatureError::MissingHeader("webhook-signature"))?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    // `abs_diff` cannot overflow, however far the claimed time is.
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::StaleTimestamp);
    }

    let content = signed_content(webhook_id, timestamp, body);
    let valid = signatures
        .split(' ')
        .filter_map(|one| one.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|tag| secrets.iter().any(|s| s.verifies(&content, &tag)));
    if !valid {
        return Err(SignatureError::NoValidSignature);
    }
    Ok(Verified {
        webhook_id: webhook_id.to_owned(),
        timestamp,
    })
}

fn signed_content(webhook_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(webhook_id.len() + body.len() + 24);
    content.extend_from_slice(webhook_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;
    const BODY: &[u8] = br#"{"type":"order.paid","data":{}}"#;

    fn secret() -> (String, SigningSecret) {
        let text = SigningSecret::generate();
        let parsed = SigningSecret::parse(&text).expect("a generated secret parses");
        (text, parsed)
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            webhook_id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        let (_, key) = secret();
        let sig = key.sign("msg_1", NOW, BODY);
        let ts = NOW.to_string();
        let verified = verify(headers("msg_1", &ts, &sig), BODY, &[key], NOW);
        assert_eq!(
            verified,
            Ok(Verified {
                webhook_id: "msg_1".into(),
                timestamp: NOW
            })
        );
    }

    #[test]
    fn the_key_is_the_decoded_bytes_of_the_secret() {
        // HMAC-SHA256 with the key "key" over "msg_1.1790000000.{}", computed
        // independently with `openssl dgst -sha256 -hmac key`.
        let key =
            SigningSecret::parse(&format!("whsec_{}", STANDARD.encode(b"key"))).expect("parses");
        let sig = key.sign("msg_1", NOW, b"{}");
        let expected =
            hex_to_base64("0dfd9469651e6087e3ac8cc80a81f1b4ef03dc3af6f1d045ebca6450fa1b5cf5");
        assert_eq!(sig, format!("v1,{expected}"));
    }

    fn hex_to_base64(hex: &str) -> String {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect();
        STANDARD.encode(bytes)
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let (_, key) = secret();
        let sig = key.sign("msg_1", NOW, BODY);
        let ts = NOW.to_string();
        let tampered = br#"{"type":"order.paid","data":{"x":1}}"#;
        let outcome = verify(headers("msg_1", &ts, &sig), tampered, &[key], NOW);
        assert_eq!(outcome, Err(SignatureError::NoValidSignature));
    }

    #[test]
    fn a_signature_by_another_secret_is_refused() {
        let (_, key) = secret();
        let (_, other) = secret();
        let sig = other.sign("msg_1", NOW, BODY);
        let ts = NOW.to_string();
        let outcome = verify(headers("msg_1", &ts, &sig), BODY, &[key], NOW);
        assert_eq!(outcome, Err(SignatureError::NoValidSignature));
    }

    #[test]
    fn each_missing_header_is_named() {
        let (_, key) = secret();
        let sig = key.sign("msg_1", NOW, BODY);
        let ts = NOW.to_string();
        let cases = [
            (
                SignedHeaders {
                    webhook_id: None,
                    ..headers("msg_1", &ts, &sig)
                },
                "webhook-id",
            ),
            (
                SignedHeaders {
                    timestamp: None,
                    ..headers("msg_1", &ts, &sig)
                },
                "webhook-timestamp",
            ),
            (
                SignedHeaders {
                    signature: None,
                    ..headers("msg_1", &ts, &sig)
                },
                "webhook-signature",
            ),
        ];
        for (h, name) in cases {
            let outcome = verify(h, BODY, std::slice::from_ref(&key), NOW);
            assert_eq!(outcome, Err(SignatureError::MissingHeader(name)));
        }
    }

    #[test]
    fn timestamps_beyond_five_minutes_either_way_are_refused() {
        let (_, key) = secret();
        for (sent, ok) in [
            (NOW - 301, false),
            (NOW - 300, true),
            (NOW + 300, true),
            (NOW + 301, false),
        ] {
            let sig = key.sign("msg_1", sent, BODY);
            let ts = sent.to_string();
            let outcome = verify(
                headers("msg_1", &ts, &sig),
                BODY,
                std::slice::from_ref(&key),
                NOW,
            );
            assert_eq!(outcome.is_ok(), ok, "sent at {sent}");
            if !ok {
                assert_eq!(outcome, Err(SignatureError::StaleTimestamp));
            }
        }
    }

    #[test]
    fn a_timestamp_at_the_ends_of_the_range_is_stale_not_an_overflow() {
        let (_, key) = secret();
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let outcome = verify(
                headers("msg_1", &ts, "v1,AAAA"),
                BODY,
                std::slice::from_ref(&key),
                NOW,
            );
            assert_eq!(outcome, Err(SignatureError::StaleTimestamp), "at {ts}");
        }
    }

    #[test]
    fn a_timestamp_that_is_not_a_number_is_refused() {
        let (_, key) = secret();
        let sig = key.sign("msg_1", NOW, BODY);
        let outcome = verify(headers("msg_1", "soon", &sig), BODY, &[key], NOW);
        assert_eq!(outcome, Err(SignatureError::BadTimestamp));
    }

    #[test]
    fn one_valid_signature_among_several_is_enough() {
        let (_, key) = secret();
        let (_, other) = secret();
        let good = key.sign("msg_1", NOW, BODY);
        let bad = other.sign("msg_1", NOW, BODY);
        let header = format!("v2,abc {bad} v1,!!notbase64 {good}");
        let ts = NOW.to_string();
        let outcome = verify(headers("msg_1", &ts, &header), BODY, &[key], NOW);
        assert!(outcome.is_ok());
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let (_, old) = secret();
        let (_, new) = secret();
        let ts = NOW.to_string();
        let both = [new.clone(), old.clone()];
        for signer in [&old, &new] {
            let sig = signer.sign("msg_1", NOW, BODY);
            assert!(verify(headers("msg_1", &ts, &sig), BODY, &both, NOW).is_ok());
        }
        let sig = old.sign("msg_1", NOW, BODY);
        let after = verify(headers("msg_1", &ts, &sig), BODY, &[new], NOW);
        assert_eq!(after, Err(SignatureError::NoValidSignature));
    }

    #[test]
    fn secrets_must_have_the_whsec_form() {
        assert!(SigningSecret::parse("abc").is_err());
        assert!(SigningSecret::parse("whsec_").is_err());
        assert!(SigningSecret::parse("whsec_***").is_err());
        let (text, _) = secret();
        assert!(text.starts_with("whsec_"));
    }
}
