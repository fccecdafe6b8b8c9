//! Settlement end to end: closing a period into statements (结算单), what
//! installers, partner managers and staff then do with them (confirm,
//! dispute, resolve, pay), rewards and penalties on orders, the CSV
//! exports, the installer's earnings summary and the fairness report.
//!
//! A period can only be closed once it is over, so most tests run a server
//! whose settlement clock is 70 days ahead: the month in which a test posts
//! earnings, and the month after it, are both over for that server. Only
//! closing uses the shifted clock; dispute deadlines and the summary's
//! "today" keep the real one.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Installer, PASSWORD, Tenant, TestApp, act, assert_problem, close, confirm, content_type_of,
    create_partner, dispute, hire, hire_for_partner, items, json_of, mark_paid, month,
    order_through, partner_manager, resolve, spawn_ahead, text, this_month,
};
use crate::pricing::{publish_standard_list, set_up_catalogue};

/// Resolves to 440305, tier T1: 12,000 fen a unit, 15,000 in partner mode.
const ADDRESS: &str = "深圳南山科技园";
/// What one order of [`order_body`] earns an employee.
const EMPLOYEE_FEN: i64 = 24_000;
/// What it earns an installer in partner mode.
const PARTNER_FEN: i64 = 30_000;

// ---------------------------------------------------------------------------
// Setting the scene
// ---------------------------------------------------------------------------

struct Shop {
    tenant: Tenant,
    dispatcher_id: String,
    dispatcher: String,
    installer: Installer,
}

/// A tenant with the standard catalogue and price list, a dispatcher and
/// one employee installer, 李伟.
async fn open_shop(app: &TestApp) -> Shop {
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(app, &tenant).await;
    publish_standard_list(app, &tenant).await;
    let dispatcher_id = app
        .create_user(
            &tenant,
            json!({"username": "dispatch", "password": PASSWORD, "role": "dispatcher",
                   "name": "调度"}),
        )
        .await;
    let dispatcher = app.token("acme", "dispatch", PASSWORD).await;
    let installer = hire(app, &tenant, "li.wei").await;
    Shop {
        tenant,
        dispatcher_id,
        dispatcher,
        installer,
    }
}

fn order_body() -> Value {
    json!({"workflow": "install",
           "customer": {"name": "张三", "phone": "13912345678", "address": ADDRESS},
           "lines": [{"service_item": "AC-INSTALL", "quantity": 2, "sale_price_fen": 100000}]})
}

/// An order completed by `installer`, so that its earnings are posted.
async fn completed_order(app: &TestApp, shop: &Shop, installer: &Installer) -> String {
    let body = order_body();
    order_through(
        app,
        &shop.dispatcher,
        &body,
        installer,
        &["accept", "arrive", "complete"],
    )
    .await
}

async fn work_order(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/work-orders/{id}"), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

// ---------------------------------------------------------------------------
// Periods and statements
// ---------------------------------------------------------------------------

/// Closes a period that was open; answers the period.
async fn close_new(app: &TestApp, tenant: &Tenant, span: &(String, String)) -> Value {
    let response = close(app, &tenant.admin_token, span).await;
    assert_eq!(response.status(), StatusCode::CREATED, "closing {span:?}");
    json_of(response).await
}

/// The tenant's statements as staff filter them.
async fn list_statements(app: &TestApp, token: &str, query: &str) -> Response {
    app.get(&format!("/api/v1/statements?{query}"), token).await
}

async fn statement(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/statements/{id}"), token).await;
    assert_eq!(response.status(), StatusCode::OK, "statement {id}");
    json_of(response).await
}

/// The installer's newest statement, in full.
async fn latest_statement(app: &TestApp, installer: &Installer) -> Value {
    let mine = items(app, &installer.token, "/api/v1/me/statements").await;
    let newest = mine.first().expect("the installer has a statement");
    statement(app, &installer.token, text(&newest["id"])).await
}

/// Disputes a line; answers the dispute's id.
async fn dispute_ok(app: &TestApp, installer: &Installer, id: &str, line_id: &str) -> String {
    let body = json!({"line_id": line_id, "reason": "实际安装了两台，还用了加长铜管"});
    let response = dispute(app, &installer.token, id, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    text(&json_of(response).await["id"]).to_owned()
}

async fn reward(
    app: &TestApp,
    token: &str,
    order: &str,
    amount_fen: i64,
    reason: &str,
) -> Response {
    app.post(
        &format!("/api/v1/work-orders/{order}/rewards-and-penalties"),
        token,
        &json!({"amount_fen": amount_fen, "reason": reason}),
    )
    .await
}

async fn summary(app: &TestApp, installer: &Installer) -> Value {
    let response = app
        .get("/api/v1/me/earnings/summary", &installer.token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

async fn notification_kinds(app: &TestApp, installer: &Installer) -> Vec<String> {
    items(app, &installer.token, "/api/v1/me/notifications")
        .await
        .iter()
        .map(|n| text(&n["kind"]).to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn fen(value: &Value) -> i64 {
    value.as_i64().expect("an amount in fen")
}

fn sum_fen(values: &[Value]) -> i64 {
    values.iter().map(|v| fen(&v["amount_fen"])).sum()
}

/// Each entry's `field`, in order.
fn column<'a>(values: &'a [Value], field: &str) -> Vec<&'a str> {
    values.iter().map(|v| text(&v[field])).collect()
}

/// The problem's field errors, by field name.
fn error_fields(problem: &Value) -> Vec<&str> {
    column(list(&problem["errors"]), "field")
}

/// Reads a CSV export: its content type, whether it starts with the UTF-8
/// byte-order mark, and its rows.
async fn read_csv(response: Response) -> (String, bool, Vec<Vec<String>>) {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = content_type_of(&response);
    let bytes = response.bytes().await.expect("a body");
    let bom = bytes.starts_with(&[0xEF, 0xBB, 0xBF]);
    let body = std::str::from_utf8(&bytes).expect("UTF-8");
    let rows = csv_rows(body.trim_start_matches('\u{feff}'));
    (content_type, bom, rows)
}

/// Splits RFC 4180 text into rows of fields.
fn csv_rows(body: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (_, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

// ---------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn closing_a_month_gives_each_installer_one_statement_of_exactly_their_posted_lines() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    let li_orders = vec![
        completed_order(&app, &shop, &shop.installer).await,
        completed_order(&app, &shop, &shop.installer).await,
    ];
    let wang_orders = vec![completed_order(&app, &shop, &wang).await];
    // Accepted but not done: its earnings are locked, not posted.
    order_through(&app, &shop.dispatcher, &order_body(), &wang, &["accept"]).await;
    let span = this_month();

    // Act
    let first = close(&app, &shop.tenant.admin_token, &span).await;
    let again = close(&app, &shop.tenant.admin_token, &span).await;

    // Assert
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = json_of(first).await;
    assert_eq!(
        (text(&first["from"]), text(&first["to"])),
        (&*span.0, &*span.1)
    );
    assert_eq!(first["statements"], 2);
    for (installer, orders) in [(&shop.installer, &li_orders), (&wang, &wang_orders)] {
        let mine = items(&app, &installer.token, "/api/v1/me/statements").await;
        assert_eq!(mine.len(), 1, "one statement each");
        let detail = statement(&app, &installer.token, text(&mine[0]["id"])).await;
        assert_eq!(detail["kind"], "installer");
        assert_eq!(detail["status"], "issued");
        assert_eq!(detail["period"]["id"], first["id"]);
        assert_eq!(detail["installer"]["id"], installer.id.as_str());
        let lines = list(&detail["lines"]);
        let mut linked = column(lines, "work_order_id");
        linked.sort_unstable();
        let mut expected: Vec<&str> = orders.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(linked, expected, "exactly the posted lines");
        assert_eq!(detail["lines_count"], orders.len());
        assert_eq!(fen(&detail["total_fen"]), sum_fen(lines));
        assert_eq!(
            fen(&detail["total_fen"]),
            EMPLOYEE_FEN * orders.len() as i64
        );
        for line in lines {
            let order = work_order(&app, &installer.token, text(&line["work_order_id"])).await;
            assert_eq!(line["work_order_number"], order["number"]);
            assert_eq!(line["carried_over"], false);
            assert!(!text(&line["explanation"]).is_empty(), "{line}");
            let shown = list(&order["earnings"]["lines"]);
            let same = shown
                .iter()
                .find(|l| {
                    l["explanation"] == line["explanation"]
                        && l["amount_fen"] == line["amount_fen"]
                        && l["kind"] == line["kind"]
                })
                .unwrap_or_else(|| panic!("{line} is explained as on the order: {shown:?}"));
            let (rule, priced_by) = (&line["rule"], &same["rule"]);
            assert_eq!(rule["price_list"], priced_by["price_list_name"]);
            assert_eq!(rule["version"], priced_by["version"]);
            assert_eq!(
                (&rule["tier"], &rule["region_code"]),
                (&priced_by["tier"], &priced_by["region_code"])
            );
        }
    }
    assert_eq!(again.status(), StatusCode::OK);
    let again = json_of(again).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["statements"], 2);
    let path = format!("/api/v1/statements?period_id={}", text(&first["id"]));
    assert_eq!(items(&app, &shop.dispatcher, &path).await.len(), 2);
    assert_eq!(again, first, "closing again answers the same period");
}

#[tokio::test]
async fn twenty_concurrent_closes_of_one_period_create_it_once() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    completed_order(&app, &shop, &shop.installer).await;
    completed_order(&app, &shop, &wang).await;
    let span = this_month();

    // Act
    let attempts = (0..20).map(|_| close(&app, &shop.tenant.admin_token, &span));
    let answers = futures_util::future::join_all(attempts).await;

    // Assert
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for answer in answers {
        statuses.push(answer.status());
        bodies.push(json_of(answer).await);
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let replayed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!((created, replayed), (1, 19), "{statuses:?} {bodies:?}");
    let ids: BTreeSet<&str> = bodies.iter().map(|b| text(&b["id"])).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(bodies.iter().all(|b| b["statements"] == 2), "{bodies:?}");
    let path = format!("/api/v1/statements?period_id={}", text(&bodies[0]["id"]));
    let issued = items(&app, &shop.tenant.admin_token, &path).await;
    let installers: BTreeSet<&str> = issued.iter().map(|s| text(&s["installer"]["id"])).collect();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        installers,
        BTreeSet::from([shop.installer.id.as_str(), wang.id.as_str()])
    );
    for installer in [&shop.installer, &wang] {
        let mine = items(&app, &installer.token, "/api/v1/me/statements").await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["lines_count"], 1);
    }
}

#[tokio::test]
async fn a_close_that_is_not_a_whole_month_or_not_over_is_refused_and_creates_nothing() {
    // Arrange: the real clock, so this month is not over.
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    completed_order(&app, &shop, &shop.installer).await;
    let token = &shop.tenant.admin_token;
    let (first, last) = this_month();
    let (previous_first, previous_last) = month(-1);
    let second_day = (first.parse::<NaiveDate>().expect("a day") + Duration::days(1)).to_string();

    // Act
    let not_over = close(&app, token, &(first.clone(), last.clone())).await;
    let cut_short = close(&app, token, &(second_day, last.clone())).await;
    let last_month = close(&app, token, &(previous_first, previous_last.clone())).await;
    let not_a_date = close(&app, token, &("1 December".to_owned(), last)).await;

    // Assert
    let problem = assert_problem(
        not_over,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["to"]);
    assert_problem(
        cut_short,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let problem = assert_problem(
        not_a_date,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["from"]);
    // Last month is over and whole: it closes, with nobody's lines in it.
    assert_eq!(last_month.status(), StatusCode::CREATED);
    assert_eq!(json_of(last_month).await["statements"], 0);
    let periods = items(&app, token, "/api/v1/admin/settlement-periods").await;
    assert_eq!(column(&periods, "to"), [previous_last.as_str()]);
    assert!(items(&app, token, "/api/v1/statements").await.is_empty());
    let mine = items(&app, &shop.installer.token, "/api/v1/me/statements").await;
    assert!(mine.is_empty());
    let ledger = items(&app, &shop.installer.token, "/api/v1/me/earnings").await;
    assert!(
        ledger.iter().all(|l| l["statement_id"].is_null()),
        "{ledger:?}"
    );
}

#[tokio::test]
async fn after_switching_to_weekly_a_week_inside_a_closed_month_overlaps_it() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    completed_order(&app, &shop, &shop.installer).await;
    let token = &shop.tenant.admin_token;
    let span = this_month();
    close_new(&app, &shop.tenant, &span).await;
    let first: NaiveDate = span.0.parse().expect("a day");
    let monday = (0..7)
        .map(|d| first + Duration::days(d))
        .find(|d| d.weekday() == chrono::Weekday::Mon)
        .expect("a Monday in the first week");
    let week = (monday.to_string(), (monday + Duration::days(6)).to_string());
    let weekly = json!({"cadence": "week", "dispute_days": 3});

    // Act
    let switched = app
        .client
        .put(app.url("/api/v1/admin/settlement-settings"))
        .bearer_auth(token)
        .json(&weekly)
        .send()
        .await
        .expect("sent");
    let overlapping = close(&app, token, &week).await;
    let a_month = close(&app, token, &this_month()).await;

    // Assert
    assert_eq!(switched.status(), StatusCode::OK);
    assert_eq!(json_of(switched).await, weekly);
    let stored = json_of(app.get("/api/v1/admin/settlement-settings", token).await).await;
    assert_eq!(stored, weekly);
    assert_problem(overlapping, StatusCode::CONFLICT, "period_overlaps").await;
    assert_problem(
        a_month,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let periods = items(&app, token, "/api/v1/admin/settlement-periods").await;
    assert_eq!(periods.len(), 1, "{periods:?}");
    assert_eq!(items(&app, token, "/api/v1/statements").await.len(), 1);
}

#[tokio::test]
async fn settlement_settings_outside_their_range_are_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/admin/settlement-settings"))
            .bearer_auth(&acme.admin_token)
            .json(&body)
            .send()
    };

    let fortnight = put(json!({"cadence": "fortnight", "dispute_days": 7}))
        .await
        .expect("sent");
    let forever = put(json!({"cadence": "month", "dispute_days": 91}))
        .await
        .expect("sent");

    let problem = assert_problem(
        fortnight,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["cadence"]);
    let problem = assert_problem(
        forever,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["dispute_days"]);
    let stored = json_of(
        app.get("/api/v1/admin/settlement-settings", &acme.admin_token)
            .await,
    )
    .await;
    assert_eq!(stored, json!({"cadence": "month", "dispute_days": 7}));
}

// ---------------------------------------------------------------------------
// Confirming, disputing, paying
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_confirmed_statement_is_paid_by_an_admin_and_settles_its_order() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let order = completed_order(&app, &shop, &shop.installer).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let id = text(&issued["id"]);
    let admin = &shop.tenant.admin_token;

    // Act
    let paid_early = mark_paid(&app, admin, id, "ICBC-0001").await;
    let before = work_order(&app, &shop.installer.token, &order).await;
    let confirmed = confirm(&app, &shop.installer.token, id).await;
    let confirmed_again = confirm(&app, &shop.installer.token, id).await;
    let paid_by_dispatcher = mark_paid(&app, &shop.dispatcher, id, "ICBC-0001").await;
    let paid = mark_paid(&app, admin, id, "ICBC-20261231-0001").await;
    let paid_again = mark_paid(&app, admin, id, "ICBC-20261231-0002").await;
    let after = work_order(&app, &shop.installer.token, &order).await;
    let paid_ones = json_of(list_statements(&app, &shop.dispatcher, "status=paid").await).await;
    let issued_ones = json_of(list_statements(&app, &shop.dispatcher, "status=issued").await).await;
    let draft_ones = list_statements(&app, &shop.dispatcher, "status=draft").await;
    let bad_installer = list_statements(&app, &shop.dispatcher, "installer_id=li.wei").await;

    // Assert
    assert_problem(paid_early, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(before["earnings"]["status"], "posted");
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed = json_of(confirmed).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert!(confirmed["confirmed_at"].is_string(), "{confirmed}");
    assert!(confirmed["paid_at"].is_null());
    assert_problem(confirmed_again, StatusCode::CONFLICT, "invalid_transition").await;
    assert_problem(paid_by_dispatcher, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(paid.status(), StatusCode::OK);
    let paid = json_of(paid).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payout_reference"], "ICBC-20261231-0001");
    assert!(paid["paid_at"].is_string(), "{paid}");
    assert_eq!(paid["total_fen"], issued["total_fen"]);
    assert_problem(paid_again, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(after["earnings"]["status"], "settled");
    assert_eq!(column(list(&paid_ones["items"]), "id"), [id]);
    assert_eq!(issued_ones["items"], json!([]));
    for refused in [draft_ones, bad_installer] {
        assert_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let kinds = notification_kinds(&app, &shop.installer).await;
    assert!(kinds.iter().any(|k| k == "statement_paid"), "{kinds:?}");
    let audit = list(&paid["audit"]);
    let by_action = |action: &str| audit.iter().find(|a| a["action"] == action).cloned();
    let issue = by_action("issue").expect("the close is audited");
    let pay = by_action("pay").expect("the payout is audited");
    assert!(issue["actor"].is_null(), "the close is the system's");
    assert_eq!(
        by_action("confirm").map(|a| a["actor"]["id"].clone()),
        Some(json!(shop.installer.id))
    );
    assert_eq!(pay["actor"]["id"], shop.tenant.admin_id.as_str());
    assert_eq!(
        (text(&pay["from"]), text(&pay["to"])),
        ("confirmed", "paid")
    );
    assert_eq!(
        column(audit, "action"),
        ["issue", "confirm", "pay"],
        "in the order they happened"
    );
}

#[tokio::test]
async fn an_accepted_dispute_adds_a_readable_adjustment_and_leaves_the_line_as_it_was() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let order = completed_order(&app, &shop, &shop.installer).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let id = text(&issued["id"]);
    let line_id = text(&issued["lines"][0]["id"]);
    let installer = &shop.installer.token;
    let photos = json!(["https://img.example.com/site-1.jpg"]);
    let accept = json!({"accept": true, "amount_fen": 1500, "reason": "补加长铜管费 15 元"});

    // Act
    let raised = dispute(
        &app,
        installer,
        id,
        json!({"line_id": line_id, "reason": "用了加长铜管，未计费", "photo_urls": photos}),
    )
    .await;
    assert_eq!(raised.status(), StatusCode::CREATED);
    let dispute_id = text(&json_of(raised).await["id"]).to_owned();
    let during = statement(&app, installer, id).await;
    let confirm_while_disputed = confirm(&app, installer, id).await;
    let by_installer = resolve(&app, installer, &dispute_id, accept.clone()).await;
    let resolved = resolve(&app, &shop.dispatcher, &dispute_id, accept.clone()).await;
    let disputed_again = dispute(
        &app,
        installer,
        id,
        json!({"line_id": line_id, "reason": "再次申诉"}),
    )
    .await;
    let resolved_again = resolve(&app, &shop.dispatcher, &dispute_id, accept).await;
    let order_after = work_order(&app, installer, &order).await;
    let confirmed = confirm(&app, installer, id).await;

    // Assert
    assert_eq!(during["status"], "disputed");
    assert_eq!(during["disputes"][0]["status"], "open");
    assert_eq!(during["disputes"][0]["line_id"], line_id);
    assert_eq!(during["disputes"][0]["photo_urls"], photos);
    assert_problem(
        confirm_while_disputed,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_problem(by_installer, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(resolved.status(), StatusCode::OK);
    let resolved = json_of(resolved).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["lines_total_fen"], issued["lines_total_fen"]);
    assert_eq!(resolved["adjustments_total_fen"], 1500);
    assert_eq!(
        fen(&resolved["total_fen"]),
        fen(&resolved["lines_total_fen"]) + 1500
    );
    let adjustments = list(&resolved["adjustments"]);
    assert_eq!(adjustments.len(), 1);
    assert_eq!(adjustments[0]["amount_fen"], 1500);
    assert_eq!(adjustments[0]["reason"], "补加长铜管费 15 元");
    assert_eq!(adjustments[0]["actor"]["id"], shop.dispatcher_id.as_str());
    assert_eq!(adjustments[0]["dispute_id"], dispute_id.as_str());
    let answered = &resolved["disputes"][0];
    assert_eq!(answered["status"], "accepted");
    assert_eq!(answered["resolution"], "补加长铜管费 15 元");
    assert_eq!(answered["resolved_by"]["id"], shop.dispatcher_id.as_str());
    assert_eq!(
        resolved["lines"], issued["lines"],
        "the line is never edited"
    );
    assert_problem(disputed_again, StatusCode::CONFLICT, "already_disputed").await;
    assert_problem(resolved_again, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(order_after["earnings"]["status"], "settled");
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed = json_of(confirmed).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["total_fen"], resolved["total_fen"]);
    let kinds = notification_kinds(&app, &shop.installer).await;
    for kind in ["statement_issued", "dispute_resolved"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(
        column(list(&resolved["audit"]), "action"),
        ["issue", "dispute", "resolve_dispute"],
        "in the order they happened"
    );
}

#[tokio::test]
async fn a_rejected_dispute_keeps_the_line_and_total_and_malformed_ones_are_refused() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    completed_order(&app, &shop, &shop.installer).await;
    completed_order(&app, &shop, &wang).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let id = text(&issued["id"]);
    let line_id = text(&issued["lines"][0]["id"]);
    let wangs_line = text(&latest_statement(&app, &wang).await["lines"][0]["id"]).to_owned();
    let installer = &shop.installer.token;
    let reason = "少算了一台";

    // Act
    let not_an_id = dispute(
        &app,
        installer,
        id,
        json!({"line_id": "line-1", "reason": reason}),
    )
    .await;
    let not_mine = dispute(
        &app,
        installer,
        id,
        json!({"line_id": wangs_line, "reason": reason}),
    )
    .await;
    let no_reason = dispute(
        &app,
        installer,
        id,
        json!({"line_id": line_id, "reason": "  "}),
    )
    .await;
    let dispute_id = dispute_ok(&app, &shop.installer, id, line_id).await;
    let staff = &shop.dispatcher;
    let rejecting_with_money = resolve(
        &app,
        staff,
        &dispute_id,
        json!({"accept": false, "amount_fen": 100, "reason": "不成立"}),
    )
    .await;
    let accepting_without_money = resolve(
        &app,
        staff,
        &dispute_id,
        json!({"accept": true, "reason": "成立"}),
    )
    .await;
    let accepting_nothing = resolve(
        &app,
        staff,
        &dispute_id,
        json!({"accept": true, "amount_fen": 0, "reason": "成立"}),
    )
    .await;
    let without_reason = resolve(
        &app,
        staff,
        &dispute_id,
        json!({"accept": false, "reason": ""}),
    )
    .await;
    let still_open = statement(&app, installer, id).await;
    let rejected = resolve(
        &app,
        &shop.tenant.admin_token,
        &dispute_id,
        json!({"accept": false, "reason": "按 T1 价目表结算，无误"}),
    )
    .await;

    // Assert
    for (refused, field) in [
        (not_an_id, "line_id"),
        (not_mine, "line_id"),
        (no_reason, "reason"),
        (rejecting_with_money, "amount_fen"),
        (accepting_without_money, "amount_fen"),
        (accepting_nothing, "amount_fen"),
        (without_reason, "reason"),
    ] {
        let problem = assert_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
    assert_eq!(still_open["status"], "disputed");
    assert_eq!(list(&still_open["disputes"]).len(), 1);
    assert_eq!(still_open["disputes"][0]["status"], "open");
    assert_eq!(rejected.status(), StatusCode::OK);
    let rejected = json_of(rejected).await;
    assert_eq!(rejected["status"], "resolved");
    assert_eq!(rejected["total_fen"], issued["total_fen"]);
    assert_eq!(rejected["adjustments_total_fen"], 0);
    assert_eq!(rejected["adjustments"], json!([]));
    assert_eq!(rejected["lines"], issued["lines"]);
    let answered = &rejected["disputes"][0];
    assert_eq!(answered["status"], "rejected");
    assert_eq!(answered["resolution"], "按 T1 价目表结算，无误");
    assert_eq!(answered["resolved_by"]["id"], shop.tenant.admin_id.as_str());
}

#[tokio::test]
async fn twenty_concurrent_resolutions_of_one_dispute_adjust_the_statement_once() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    completed_order(&app, &shop, &shop.installer).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let id = text(&issued["id"]);
    let dispute_id = dispute_ok(&app, &shop.installer, id, text(&issued["lines"][0]["id"])).await;
    let accept = json!({"accept": true, "amount_fen": 1500, "reason": "补差价"});

    // Act
    let attempts = (0..20).map(|_| resolve(&app, &shop.dispatcher, &dispute_id, accept.clone()));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(Response::status)
        .collect();

    // Assert
    let after = statement(&app, &shop.installer.token, id).await;
    assert_eq!(
        list(&after["adjustments"]).len(),
        1,
        "one adjustment for one dispute: {statuses:?}"
    );
    assert_eq!(fen(&after["total_fen"]), fen(&issued["total_fen"]) + 1500);
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let conflict = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflict), (1, 19), "{statuses:?}");
    let resolutions = column(list(&after["audit"]), "action")
        .into_iter()
        .filter(|a| *a == "resolve_dispute")
        .count();
    assert_eq!(resolutions, 1);
}

// ---------------------------------------------------------------------------
// Who sees what
// ---------------------------------------------------------------------------

#[tokio::test]
async fn another_installer_a_customer_and_another_tenant_get_404_for_a_statement() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let globex = app.create_tenant("globex").await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    app.create_user(
        &shop.tenant,
        json!({"username": "zhang", "password": PASSWORD, "role": "customer", "name": "张三",
               "phone": "13912345678"}),
    )
    .await;
    let customer = app.token("acme", "zhang", PASSWORD).await;
    completed_order(&app, &shop, &shop.installer).await;
    completed_order(&app, &shop, &wang).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let id = text(&issued["id"]);
    let line_id = text(&issued["lines"][0]["id"]);
    let dispute_body = json!({"line_id": line_id, "reason": "不对"});
    let strangers = [
        ("another installer", wang.token.as_str()),
        ("a customer", customer.as_str()),
        ("another tenant's admin", globex.admin_token.as_str()),
    ];

    for (who, token) in strangers {
        // Act
        let read = app.get(&format!("/api/v1/statements/{id}"), token).await;
        let export = app
            .get(&format!("/api/v1/statements/{id}/export.csv"), token)
            .await;
        let confirmed = confirm(&app, token, id).await;
        let disputed = dispute(&app, token, id, dispute_body.clone()).await;

        // Assert
        for (what, answer) in [
            ("read", read),
            ("export", export),
            ("confirm", confirmed),
            ("dispute", disputed),
        ] {
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{who}: {what}");
            assert_problem(answer, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    let staff_confirm = confirm(&app, &shop.tenant.admin_token, id).await;
    assert_problem(staff_confirm, StatusCode::NOT_FOUND, "not_found").await;
    let staff_list = app.get("/api/v1/statements", &wang.token).await;
    assert_problem(staff_list, StatusCode::NOT_FOUND, "not_found").await;
    let unchanged = statement(&app, &shop.tenant.admin_token, id).await;
    assert_eq!(unchanged["status"], "issued");
    assert_eq!(unchanged["disputes"], json!([]));
    assert!(
        items(&app, &customer, "/api/v1/me/statements")
            .await
            .is_empty()
    );
    assert!(
        items(&app, &globex.admin_token, "/api/v1/statements")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_partner_manager_sees_their_firms_statements_and_no_other_firms() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let north = create_partner(&app, &shop.tenant, "北区服务商").await;
    let south = create_partner(&app, &shop.tenant, "南区服务商").await;
    let north_manager = partner_manager(&app, &shop.tenant, "north.boss", &north).await;
    let south_manager = partner_manager(&app, &shop.tenant, "south.boss", &south).await;
    let zhao = hire_for_partner(&app, &shop.tenant, "zhao", &north).await;
    let qian = hire_for_partner(&app, &shop.tenant, "qian", &north).await;
    let sun = hire_for_partner(&app, &shop.tenant, "sun", &south).await;
    for installer in [&zhao, &qian, &sun, &shop.installer] {
        completed_order(&app, &shop, installer).await;
    }
    let closed = close_new(&app, &shop.tenant, &this_month()).await;
    let zhaos = text(&latest_statement(&app, &zhao).await["id"]).to_owned();
    let lis = text(&latest_statement(&app, &shop.installer).await["id"]).to_owned();

    // Act
    let north_list = items(&app, &north_manager, "/api/v1/me/statements").await;
    let south_list = items(&app, &south_manager, "/api/v1/me/statements").await;
    let firm_id = text(&north_list[0]["id"]).to_owned();
    let firm = statement(&app, &north_manager, &firm_id).await;
    let member = statement(&app, &north_manager, &zhaos).await;
    let outsider = app
        .get(&format!("/api/v1/statements/{lis}"), &north_manager)
        .await;
    let other_firm = app
        .get(&format!("/api/v1/statements/{firm_id}"), &south_manager)
        .await;
    let other_member = app
        .get(&format!("/api/v1/statements/{zhaos}"), &south_manager)
        .await;
    let installer_reads_firm = app
        .get(&format!("/api/v1/statements/{firm_id}"), &zhao.token)
        .await;
    let manager_confirms = confirm(&app, &north_manager, &zhaos).await;

    // Assert
    assert_eq!(closed["statements"], 4);
    assert_eq!(north_list.len(), 1);
    assert_eq!(firm["kind"], "firm");
    assert_eq!(firm["partner"]["id"], north.as_str());
    assert_eq!(firm["period"]["id"], closed["id"]);
    assert_eq!(firm["status"], "issued");
    let members = list(&firm["statements"]);
    let mut installers: Vec<&str> = members
        .iter()
        .map(|s| text(&s["installer"]["id"]))
        .collect();
    installers.sort_unstable();
    let mut expected = vec![zhao.id.as_str(), qian.id.as_str()];
    expected.sort_unstable();
    assert_eq!(installers, expected);
    let sum: i64 = members.iter().map(|s| fen(&s["total_fen"])).sum();
    assert_eq!(fen(&firm["total_fen"]), sum);
    assert_eq!(sum, 2 * PARTNER_FEN);
    assert_eq!(north_list[0]["total_fen"], firm["total_fen"]);
    assert_eq!(member["kind"], "installer");
    assert_eq!(member["partner_id"], north.as_str());
    assert_eq!(list(&member["lines"]).len(), 1);
    assert_problem(outsider, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(other_firm, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(other_member, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(installer_reads_firm, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(manager_confirms, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(south_list.len(), 1);
    assert_eq!(south_list[0]["kind"], "firm");
    assert_eq!(south_list[0]["partner"]["id"], south.as_str());
    assert_eq!(fen(&south_list[0]["total_fen"]), PARTNER_FEN);
    assert_ne!(text(&south_list[0]["id"]), firm_id);
}

// ---------------------------------------------------------------------------
// Changes after a close
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_refund_after_settlement_is_a_deduction_on_the_next_statement_that_names_its_order() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let order = completed_order(&app, &shop, &shop.installer).await;
    let number = work_order(&app, &shop.dispatcher, &order).await["number"].clone();
    close_new(&app, &shop.tenant, &this_month()).await;
    let first = latest_statement(&app, &shop.installer).await;
    let original = first["lines"][0].clone();
    let confirmed = confirm(&app, &shop.installer.token, text(&first["id"])).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let first = json_of(confirmed).await;

    // Act
    let cancelled = app
        .post(
            &format!("/api/v1/work-orders/{order}/cancel"),
            &shop.dispatcher,
            &json!({"reason": "客户退款"}),
        )
        .await;
    let next = close_new(&app, &shop.tenant, &month(1)).await;

    // Assert
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(next["statements"], 1);
    let second = latest_statement(&app, &shop.installer).await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["period"]["id"], next["id"]);
    let lines = list(&second["lines"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let deduction = &lines[0];
    assert_eq!(deduction["kind"], "reversal");
    assert_eq!(fen(&deduction["amount_fen"]), -EMPLOYEE_FEN);
    assert_eq!(deduction["work_order_id"], order.as_str());
    assert_eq!(deduction["work_order_number"], number);
    assert!(
        text(&deduction["explanation"]).contains(text(&original["explanation"])),
        "{deduction}"
    );
    assert_eq!(fen(&second["total_fen"]), -EMPLOYEE_FEN);
    let first_now = statement(&app, &shop.installer.token, text(&first["id"])).await;
    assert_eq!(first_now, first, "the first statement never changes");
    let ledger = items(&app, &shop.installer.token, "/api/v1/me/earnings").await;
    assert_eq!(
        column(&ledger, "kind"),
        ["reversal", text(&original["kind"])]
    );
    assert_eq!(
        column(&ledger, "statement_id"),
        [text(&second["id"]), text(&first["id"])]
    );
}

#[tokio::test]
async fn rewards_and_penalties_join_the_order_and_its_next_statement() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let order = order_through(
        &app,
        &shop.dispatcher,
        &order_body(),
        &shop.installer,
        &["accept", "arrive"],
    )
    .await;
    let staff = &shop.dispatcher;

    // Act
    let too_early = reward(&app, staff, &order, 800, "准时上门").await;
    act(&app, &shop.installer.token, &order, "complete", json!({})).await;
    let nothing = reward(&app, staff, &order, 0, "无").await;
    let by_installer = reward(&app, &shop.installer.token, &order, 800, "自己奖励自己").await;
    let rewarded = reward(&app, staff, &order, 800, "客户好评").await;
    let penalised = reward(&app, &shop.tenant.admin_token, &order, -300, "迟到半小时").await;
    let on_order = work_order(&app, &shop.installer.token, &order).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let first = latest_statement(&app, &shop.installer).await;
    let late = reward(&app, staff, &order, 200, "回访满意").await;
    close_new(&app, &shop.tenant, &month(1)).await;
    let second = latest_statement(&app, &shop.installer).await;

    // Assert
    assert_problem(too_early, StatusCode::CONFLICT, "earnings_not_posted").await;
    let problem = assert_problem(
        nothing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["amount_fen"]);
    assert_problem(by_installer, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(rewarded.status(), StatusCode::CREATED);
    let reward_id = text(&json_of(rewarded).await["id"]).to_owned();
    assert_eq!(penalised.status(), StatusCode::CREATED);
    let penalty_id = text(&json_of(penalised).await["id"]).to_owned();
    assert_eq!(late.status(), StatusCode::CREATED);
    let late_id = text(&json_of(late).await["id"]).to_owned();

    let shown = list(&on_order["earnings"]["lines"]);
    let kinds = column(shown, "kind");
    assert_eq!(&kinds[kinds.len() - 2..], ["reward", "penalty"]);
    assert_eq!(fen(&shown[kinds.len() - 2]["amount_fen"]), 800);
    assert_eq!(fen(&shown[kinds.len() - 1]["amount_fen"]), -300);
    assert!(text(&shown[kinds.len() - 1]["explanation"]).contains("迟到半小时"));
    assert_eq!(fen(&on_order["earnings"]["total_fen"]), EMPLOYEE_FEN + 500);

    let lines = list(&first["lines"]);
    assert_eq!(lines.len(), 3);
    let on_statement = |id: &str| lines.iter().find(|l| l["id"] == id).cloned();
    let reward_line = on_statement(&reward_id).expect("the reward is on the statement");
    let penalty_line = on_statement(&penalty_id).expect("the penalty is on the statement");
    assert_eq!(
        (
            reward_line["kind"].clone(),
            reward_line["amount_fen"].clone()
        ),
        (json!("reward"), json!(800))
    );
    assert_eq!(
        (
            penalty_line["kind"].clone(),
            penalty_line["amount_fen"].clone()
        ),
        (json!("penalty"), json!(-300))
    );
    assert_eq!(reward_line["work_order_id"], order.as_str());
    assert_eq!(fen(&first["total_fen"]), sum_fen(lines));
    assert_eq!(fen(&first["total_fen"]), EMPLOYEE_FEN + 500);
    assert_eq!(column(list(&second["lines"]), "id"), [late_id.as_str()]);
    assert_eq!(fen(&second["total_fen"]), 200);
}

#[tokio::test]
async fn a_reward_for_an_unknown_or_foreign_order_is_404() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let globex = app.create_tenant("globex").await;
    let order = completed_order(&app, &shop, &shop.installer).await;

    let foreign = reward(&app, &globex.admin_token, &order, 500, "好评").await;
    let unknown = reward(&app, &shop.dispatcher, "not-an-order", 500, "好评").await;

    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let shown = work_order(&app, &shop.dispatcher, &order).await;
    assert_eq!(fen(&shown["earnings"]["total_fen"]), EMPLOYEE_FEN);
}

// ---------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_statement_exports_as_csv_with_a_bom_and_a_total_row_equal_to_its_total() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    let order = completed_order(&app, &shop, &shop.installer).await;
    let rewarded = reward(&app, &shop.dispatcher, &order, 600, "准时, 客户\"很满意\"").await;
    assert_eq!(rewarded.status(), StatusCode::CREATED);
    completed_order(&app, &shop, &wang).await;
    let period = close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let id = text(&issued["id"]);
    let period_id = text(&period["id"]);

    // Act
    let one = app
        .get(
            &format!("/api/v1/statements/{id}/export.csv"),
            &shop.installer.token,
        )
        .await;
    let all = app
        .get(
            &format!("/api/v1/admin/settlement-periods/{period_id}/export.csv"),
            &shop.tenant.admin_token,
        )
        .await;
    let all_by_dispatcher = app
        .get(
            &format!("/api/v1/admin/settlement-periods/{period_id}/export.csv"),
            &shop.dispatcher,
        )
        .await;

    // Assert
    let (content_type, bom, rows) = read_csv(one).await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(bom, "Excel needs the byte-order mark");
    assert_eq!(
        rows.len(),
        1 + 2 + 1,
        "a header, two lines and the total: {rows:?}"
    );
    assert!(
        rows[1..].iter().all(|r| r.len() == 12 && r[0] == id),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r[8].contains("准时, 客户\"很满意\"")),
        "a reason with a comma and quotes survives: {rows:?}"
    );
    let total = rows.last().expect("a total row");
    assert_eq!(total[4], "total");
    assert_eq!(total[10], fen(&issued["total_fen"]).to_string());
    assert_eq!(total[10], (EMPLOYEE_FEN + 600).to_string());

    let (content_type, bom, rows) = read_csv(all).await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(bom);
    let statements = items(
        &app,
        &shop.tenant.admin_token,
        &format!("/api/v1/statements?period_id={period_id}"),
    )
    .await;
    let expected: BTreeSet<&str> = statements.iter().map(|s| text(&s["id"])).collect();
    let listed: BTreeSet<&str> = rows[1..rows.len() - 1]
        .iter()
        .map(|r| r[0].as_str())
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(rows.len(), 1 + statements.len() + 1);
    let grand_total: i64 = statements.iter().map(|s| fen(&s["total_fen"])).sum();
    let last = rows.last().expect("a total row");
    assert_eq!(last[0], "合计");
    assert_eq!(last[9], grand_total.to_string());
    assert_problem(all_by_dispatcher, StatusCode::NOT_FOUND, "not_found").await;
}

// ---------------------------------------------------------------------------
// The installer's summary
// ---------------------------------------------------------------------------

/// The installer's whole ledger plus every adjustment on their statements:
/// what pending and settled earnings must add up to.
async fn ledger_and_adjustments(app: &TestApp, installer: &Installer) -> i64 {
    let ledger = items(app, &installer.token, "/api/v1/me/earnings").await;
    let statements = items(app, &installer.token, "/api/v1/me/statements").await;
    let adjustments: i64 = statements
        .iter()
        .map(|s| fen(&s["adjustments_total_fen"]))
        .sum();
    sum_fen(&ledger) + adjustments
}

fn pending_and_settled(summary: &Value) -> i64 {
    fen(&summary["pending_fen"]) + fen(&summary["settled_fen"])
}

#[tokio::test]
async fn a_completed_order_counts_today_this_month_and_as_pending() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    completed_order(&app, &shop, &shop.installer).await;

    let mine = summary(&app, &shop.installer).await;
    let theirs = summary(&app, &wang).await;
    let owed = ledger_and_adjustments(&app, &shop.installer).await;

    assert_eq!(
        mine,
        json!({"today_fen": EMPLOYEE_FEN, "month_fen": EMPLOYEE_FEN,
               "pending_fen": EMPLOYEE_FEN, "settled_fen": 0})
    );
    assert_eq!(
        theirs,
        json!({"today_fen": 0, "month_fen": 0, "pending_fen": 0, "settled_fen": 0})
    );
    assert_eq!(pending_and_settled(&mine), owed);
}

#[tokio::test]
async fn a_confirmed_statement_moves_its_earnings_from_pending_to_settled() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    completed_order(&app, &shop, &shop.installer).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;

    // Act
    let while_issued = summary(&app, &shop.installer).await;
    let confirmed = confirm(&app, &shop.installer.token, text(&issued["id"])).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let after_confirming = summary(&app, &shop.installer).await;
    let owed_then = ledger_and_adjustments(&app, &shop.installer).await;
    completed_order(&app, &shop, &shop.installer).await;
    let with_new_work = summary(&app, &shop.installer).await;
    let owed_now = ledger_and_adjustments(&app, &shop.installer).await;

    // Assert
    assert_eq!(while_issued["pending_fen"], EMPLOYEE_FEN);
    assert_eq!(while_issued["settled_fen"], 0);
    assert_eq!(after_confirming["settled_fen"], EMPLOYEE_FEN);
    assert_eq!(after_confirming["pending_fen"], 0);
    assert_eq!(pending_and_settled(&after_confirming), owed_then);
    assert_eq!(pending_and_settled(&with_new_work), owed_now);
    assert_eq!(
        with_new_work,
        json!({"today_fen": 2 * EMPLOYEE_FEN, "month_fen": 2 * EMPLOYEE_FEN,
               "pending_fen": EMPLOYEE_FEN, "settled_fen": EMPLOYEE_FEN})
    );
}

#[tokio::test]
async fn an_accepted_adjustment_counts_in_the_summary_once_its_dispute_is_resolved() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    completed_order(&app, &shop, &shop.installer).await;
    close_new(&app, &shop.tenant, &this_month()).await;
    let issued = latest_statement(&app, &shop.installer).await;
    let dispute_id = dispute_ok(
        &app,
        &shop.installer,
        text(&issued["id"]),
        text(&issued["lines"][0]["id"]),
    )
    .await;

    // Act
    let while_disputed = summary(&app, &shop.installer).await;
    let resolved = resolve(
        &app,
        &shop.dispatcher,
        &dispute_id,
        json!({"accept": true, "amount_fen": -2000, "reason": "重复计费，扣回 20 元"}),
    )
    .await;
    assert_eq!(resolved.status(), StatusCode::OK);
    let after = summary(&app, &shop.installer).await;
    let owed = ledger_and_adjustments(&app, &shop.installer).await;

    // Assert
    assert_eq!(while_disputed["pending_fen"], EMPLOYEE_FEN);
    assert_eq!(while_disputed["settled_fen"], 0);
    assert_eq!(after["settled_fen"], EMPLOYEE_FEN - 2000);
    assert_eq!(after["pending_fen"], 0);
    assert_eq!(pending_and_settled(&after), owed);
    assert_eq!(owed, EMPLOYEE_FEN - 2000);
}

// ---------------------------------------------------------------------------
// Fairness
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_fairness_report_compares_pay_by_tier_region_and_mode() {
    // Arrange
    let app = spawn_ahead().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    let firm = create_partner(&app, &shop.tenant, "北区服务商").await;
    let zhao = hire_for_partner(&app, &shop.tenant, "zhao", &firm).await;
    for installer in [&shop.installer, &wang, &zhao] {
        completed_order(&app, &shop, installer).await;
    }
    close_new(&app, &shop.tenant, &this_month()).await;
    let lis = latest_statement(&app, &shop.installer).await;
    dispute_ok(
        &app,
        &shop.installer,
        text(&lis["id"]),
        text(&lis["lines"][0]["id"]),
    )
    .await;
    let (from, to) = this_month();
    let report_path = format!("/api/v1/admin/fairness-report?from={from}&to={to}");

    // Act
    let report = app.get(&report_path, &shop.tenant.admin_token).await;
    let by_dispatcher = app.get(&report_path, &shop.dispatcher).await;
    let backwards = app
        .get(
            &format!("/api/v1/admin/fairness-report?from={to}&to={from}"),
            &shop.tenant.admin_token,
        )
        .await;
    let bad_deviation = app
        .get(
            &format!("{report_path}&deviation=lots"),
            &shop.tenant.admin_token,
        )
        .await;

    // Assert
    assert_eq!(report.status(), StatusCode::OK);
    let report = json_of(report).await;
    let groups = list(&report["groups"]);
    assert_eq!(groups.len(), 2, "{groups:?}");
    let group = |mode: Value| {
        groups
            .iter()
            .find(|g| g["cooperation_mode"] == mode)
            .unwrap_or_else(|| panic!("a group for {mode} in {groups:?}"))
    };
    // Employees are paid by the general price, which names no mode.
    let general = group(Value::Null);
    assert_eq!(
        (text(&general["tier"]), text(&general["region_code"])),
        ("T1", "440305")
    );
    assert_eq!(general["orders"], 2);
    assert_eq!(general["installers"], 2);
    assert_eq!(general["per_order"]["p50_fen"], EMPLOYEE_FEN);
    assert_eq!(general["per_installer_month"]["p50_fen"], EMPLOYEE_FEN);
    assert_eq!(
        (general["lines"].clone(), general["disputed_lines"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(general["dispute_rate"], "0.5000");
    let partner = group(json!("partner"));
    assert_eq!(
        (text(&partner["tier"]), text(&partner["region_code"])),
        ("T1", "440305")
    );
    assert_eq!(partner["orders"], 1);
    assert_eq!(partner["per_order"]["p50_fen"], PARTNER_FEN);
    assert_eq!(partner["dispute_rate"], "0.0000");
    assert_eq!(partner["outliers"], json!([]));
    assert_problem(by_dispatcher, StatusCode::NOT_FOUND, "not_found").await;
    let problem = assert_problem(
        backwards,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["to"]);
    let problem = assert_problem(
        bad_deviation,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["deviation"]);
}

#[tokio::test]
async fn undisputed_lines_of_equal_work_have_a_zero_dispute_rate_and_one_median() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let wang = hire(&app, &shop.tenant, "wang").await;
    for installer in [&shop.installer, &shop.installer, &wang] {
        completed_order(&app, &shop, installer).await;
    }
    let (from, to) = this_month();

    let report = app
        .get(
            &format!("/api/v1/admin/fairness-report?from={from}&to={to}&deviation=0.2"),
            &shop.tenant.admin_token,
        )
        .await;

    assert_eq!(report.status(), StatusCode::OK);
    let report = json_of(report).await;
    assert_eq!(report["deviation"], "0.2");
    let groups = list(&report["groups"]);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let group = &groups[0];
    assert_eq!(group["orders"], 3);
    assert_eq!(group["installers"], 2);
    let spread = json!({"p10_fen": EMPLOYEE_FEN, "p50_fen": EMPLOYEE_FEN, "p90_fen": EMPLOYEE_FEN});
    assert_eq!(group["per_order"], spread);
    assert_eq!(group["per_installer_month"]["p90_fen"], 2 * EMPLOYEE_FEN);
    assert_eq!(group["dispute_rate"], "0.0000");
    assert_eq!(group["outliers"], json!([]), "equal work, equal pay");
}
