//! Any delivery: the bytes are split into the three Standard Webhooks
//! headers and a body, and checked against a fixed secret. Verification
//! must refuse or accept, never panic; parsing any text as a secret too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scrm_service::channels::signature::{SignedHeaders, SigningSecret, verify};

/// A Standard Webhooks secret: `whsec_` and the base64 of 24 bytes.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_796_385_600;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = SigningSecret::parse(&text);
    let Ok(secret) = SigningSecret::parse(SECRET) else {
        return;
    };
    // Headers are the first three lines; the rest is the body.
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let mut header = || parts.next().and_then(|h| std::str::from_utf8(h).ok());
    let (id, timestamp, signature) = (header(), header(), header());
    let body = parts.next().unwrap_or_default();
    let headers = SignedHeaders {
        webhook_id: id,
        timestamp,
        signature,
    };
    let _ = verify(headers, body, std::slice::from_ref(&secret), NOW);
    // A delivery signed with the secret must verify.
    if let Some(id) = id.filter(|id| !id.is_empty()) {
        let signed = secret.sign(id, NOW, body);
        let headers = SignedHeaders {
            webhook_id: Some(id),
            timestamp: Some(&NOW.to_string()),
            signature: Some(&signed),
        };
        assert!(verify(headers, body, std::slice::from_ref(&secret), NOW).is_ok());
    }
});
