use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, Tenant, TestApp, assert_problem};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn valid_claims(tenant: &Tenant) -> Value {
    json!({"sub": tenant.admin_id, "tid": tenant.id, "role": "admin",
           "iss": "scrm", "aud": "scrm-api", "iat": now(), "exp": now() + 600})
}

fn sign(header: &Header, claims: &Value) -> String {
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes()).expect("a key");
    jsonwebtoken::encode(header, claims, &key).expect("signed")
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

async fn status_with(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/v1/admin/users", token).await.status()
}

#[tokio::test]
async fn a_token_signed_like_the_server_signs_is_accepted() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("acme").await;

    let token = sign(&Header::new(Algorithm::HS256), &valid_claims(&tenant));

    assert_eq!(status_with(&app, &token).await, StatusCode::OK);
}

#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("acme").await;
    let hs256 = Header::new(Algorithm::HS256);
    let claims = valid_claims(&tenant);

    let mut tampered = sign(&hs256, &claims);
    let last = tampered.pop().expect("a signature");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let claims_only = sign(&hs256, &claims);
    let payload = claims_only.split('.').nth(1).unwrap_or_default();
    let confused_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let confused = {
        // The HMAC of an RS256 header with the shared secret: what an
        // attacker sends hoping the server verifies RS256 with its HS key.
        let signed = sign(&hs256, &claims);
        let signature = signed.rsplit('.').next().unwrap_or_default().to_owned();
        format!("{confused_header}.{payload}.{signature}")
    };

    let cases = [
        ("tampered signature", tampered),
        ("alg none", unsigned),
        ("RS256 header over an HS256 key", confused),
        (
            "expired",
            sign(&hs256, &with(claims.clone(), "exp", json!(now() - 3600))),
        ),
        (
            "wrong audience",
            sign(&hs256, &with(claims.clone(), "aud", json!("someone-else"))),
        ),
        (
            "wrong issuer",
            sign(&hs256, &with(claims.clone(), "iss", json!("evil"))),
        ),
        (
            "exp as a string",
            sign(&hs256, &with(claims.clone(), "exp", json!("99999999999"))),
        ),
        (
            "no exp",
            sign(&hs256, &{
                let mut c = claims.clone();
                c.as_object_mut().map(|o| o.remove("exp"));
                c
            }),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (case, token) in cases {
        let response = app.get("/api/v1/admin/users", &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_request_without_a_token_is_unauthenticated() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/api/v1/admin/users"))
        .send()
        .await
        .expect("sent");

    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
