use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{TestApp, assert_problem, json_of, wechat_answers};

const SESSION_KEY: &str = "session-key-that-must-stay-home";

#[tokio::test]
async fn a_new_wechat_account_signs_in_as_a_customer_and_again_as_the_same_one() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    for code in ["code-1", "code-2"] {
        wechat_answers(
            &app,
            code,
            json!({"openid": "o-customer", "session_key": SESSION_KEY}),
        )
        .await;
    }

    let first = app.wechat_login("acme", "code-1").await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_text = first.text().await.expect("a body");
    assert!(
        !first_text.contains(SESSION_KEY),
        "the session key left the server"
    );
    let first: serde_json::Value = serde_json::from_str(&first_text).expect("JSON");
    let second = json_of(app.wechat_login("acme", "code-2").await).await;

    assert_eq!(first["user"]["role"], "customer");
    assert_eq!(first["user"]["id"], second["user"]["id"]);
}

#[tokio::test]
async fn a_code_wechat_rejects_is_401_and_a_busy_wechat_is_503() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    wechat_answers(
        &app,
        "bad",
        json!({"errcode": 40029, "errmsg": "invalid code"}),
    )
    .await;
    wechat_answers(
        &app,
        "busy",
        json!({"errcode": -1, "errmsg": "system error"}),
    )
    .await;
    wechat_answers(
        &app,
        "limited",
        json!({"errcode": 45011, "errmsg": "api minute-quota reach limit"}),
    )
    .await;

    assert_problem(
        app.wechat_login("acme", "bad").await,
        StatusCode::UNAUTHORIZED,
        "invalid_wechat_code",
    )
    .await;
    for code in ["busy", "limited"] {
        let response = app.wechat_login("acme", code).await;
        assert!(response.headers().contains_key("retry-after"), "{code}");
        assert_problem(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "wechat_unavailable",
        )
        .await;
    }
}

#[tokio::test]
async fn a_bound_installer_signs_in_with_wechat_as_themselves() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let (installer_id, installer_token) = app.create_installer(&acme, "li.wei").await;
    wechat_answers(
        &app,
        "bind-code",
        json!({"openid": "o-installer", "session_key": SESSION_KEY}),
    )
    .await;
    wechat_answers(
        &app,
        "login-code",
        json!({"openid": "o-installer", "session_key": SESSION_KEY}),
    )
    .await;

    let bound = app
        .post(
            "/api/v1/me/wechat-binding",
            &installer_token,
            &json!({"code": "bind-code"}),
        )
        .await;
    assert_eq!(bound.status(), StatusCode::NO_CONTENT);
    let signed_in = json_of(app.wechat_login("acme", "login-code").await).await;

    assert_eq!(signed_in["user"]["id"], installer_id.as_str());
    assert_eq!(signed_in["user"]["role"], "installer");
}

#[tokio::test]
async fn a_wechat_account_cannot_be_bound_to_two_users() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    wechat_answers(
        &app,
        "same-account",
        json!({"openid": "o-shared", "session_key": SESSION_KEY}),
    )
    .await;
    let (_, first_token) = app.create_installer(&acme, "first").await;
    let (_, second_token) = app.create_installer(&acme, "second").await;

    let first = app
        .post(
            "/api/v1/me/wechat-binding",
            &first_token,
            &json!({"code": "same-account"}),
        )
        .await;
    let second = app
        .post(
            "/api/v1/me/wechat-binding",
            &second_token,
            &json!({"code": "same-account"}),
        )
        .await;

    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_problem(second, StatusCode::CONFLICT, "wechat_already_bound").await;
}

#[tokio::test]
async fn a_wechat_that_never_answers_is_given_up_on_and_the_sign_in_answers_503() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    // Longer than the WeChat client's whole-call timeout of 5 s.
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"openid": "o-late", "session_key": SESSION_KEY}))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&app.wechat)
        .await;

    let started = Instant::now();
    let response = app.wechat_login("acme", "late").await;
    let waited = started.elapsed();

    assert!(response.headers().contains_key("retry-after"));
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "wechat_unavailable",
    )
    .await;
    // The bound is the timeout's, not a speed: without one the call would
    // wait the mock's 30 s.
    assert!(waited < Duration::from_secs(15), "waited {waited:?}");
}
