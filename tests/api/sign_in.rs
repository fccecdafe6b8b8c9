use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, assert_problem, json_of};

#[tokio::test]
async fn an_admin_signs_in_with_the_right_password() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("acme").await;

    let response = app.login("acme", "admin", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["id"], tenant.admin_id.as_str());
    assert_eq!(body["user"]["role"], "admin");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("rt_"))
    );
    let me = app
        .get(
            "/api/v1/me",
            body["access_token"].as_str().unwrap_or_default(),
        )
        .await;
    assert_eq!(json_of(me).await["username"], "admin");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_are_refused_alike() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;

    let wrong = assert_problem(
        app.login("acme", "admin", "not-the-password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login("acme", "nobody", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let no_tenant = assert_problem(
        app.login("no-such-tenant", "admin", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    assert_eq!(wrong["detail"], unknown["detail"]);
    assert_eq!(wrong["detail"], no_tenant["detail"]);
}

#[tokio::test]
async fn sign_in_is_throttled_after_ten_failures() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;

    for attempt in 1..=10 {
        let response = app.login("acme", "admin", "wrong-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let throttled = app.login("acme", "admin", PASSWORD).await;

    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!(
        (1..=900).contains(&retry_after),
        "Retry-After was {retry_after}"
    );
    assert_problem(
        throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
    // Another user of the same tenant is not affected.
    let other = app.login("acme", "someone-else", "wrong-password").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_token_rotates_and_works_once() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let first = json_of(app.login("acme", "admin", PASSWORD).await).await;
    let first_refresh = first["refresh_token"].as_str().expect("a refresh token");

    let second = app.refresh(first_refresh).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = json_of(second).await;
    let second_refresh = second["refresh_token"].as_str().expect("a refresh token");
    assert_ne!(first_refresh, second_refresh);
    let me = app
        .get(
            "/api/v1/me",
            second["access_token"].as_str().unwrap_or_default(),
        )
        .await;
    assert_eq!(me.status(), StatusCode::OK);

    // Reusing the first token is refused and kills the whole family.
    assert_problem(
        app.refresh(first_refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_problem(
        app.refresh(second_refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = TestApp::spawn().await;

    let response = app.refresh("rt_made-up").await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}
