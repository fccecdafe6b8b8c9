//! Settlement from the outside: a server whose settlement clock runs ahead,
//! calendar months, closing a period and the steps of a statement.

use chrono::{Datelike, Duration, Months, NaiveDate, Utc};
use reqwest::Response;
use serde_json::{Value, json};

use super::{Setup, TestApp, redis_url};

/// A server that closes periods as if it were 70 days from now, so that the
/// month a test posts earnings in, and the month after it, are both over.
pub async fn spawn_ahead() -> TestApp {
    TestApp::spawn_with(Setup {
        redis_url: redis_url(),
        clock_ahead: Some(Duration::days(70)),
        ..Setup::default()
    })
    .await
}

/// A CST calendar month, `offset` months from this one: (first, last day).
pub fn month(offset: i32) -> (String, String) {
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    let this = today.with_day(1).expect("every month has a first day");
    let first = if offset >= 0 {
        this.checked_add_months(Months::new(offset.unsigned_abs()))
    } else {
        this.checked_sub_months(Months::new(offset.unsigned_abs()))
    }
    .expect("a month in range");
    (first.to_string(), last_day(first).to_string())
}

pub fn last_day(first: NaiveDate) -> NaiveDate {
    first
        .checked_add_months(Months::new(1))
        .expect("a month in range")
        - Duration::days(1)
}

pub fn this_month() -> (String, String) {
    month(0)
}

pub async fn close(app: &TestApp, token: &str, (from, to): &(String, String)) -> Response {
    app.post(
        "/api/v1/admin/settlement-periods",
        token,
        &json!({"from": from, "to": to}),
    )
    .await
}

pub async fn confirm(app: &TestApp, token: &str, id: &str) -> Response {
    app.post(
        &format!("/api/v1/statements/{id}/confirm"),
        token,
        &json!({}),
    )
    .await
}

pub async fn dispute(app: &TestApp, token: &str, id: &str, body: Value) -> Response {
    app.post(&format!("/api/v1/statements/{id}/disputes"), token, &body)
        .await
}

pub async fn resolve(app: &TestApp, token: &str, dispute_id: &str, body: Value) -> Response {
    app.post(
        &format!("/api/v1/disputes/{dispute_id}/resolve"),
        token,
        &body,
    )
    .await
}

pub async fn mark_paid(app: &TestApp, token: &str, id: &str, reference: &str) -> Response {
    app.post(
        &format!("/api/v1/statements/{id}/paid"),
        token,
        &json!({"reference": reference}),
    )
    .await
}
