use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Tenant, TestApp, assert_problem, json_of};
use crate::pricing::{publish_standard_list, set_up_catalogue};

struct Shop {
    tenant: Tenant,
    dispatcher: String,
    installer_id: String,
    installer: String,
}

async fn open_shop(app: &TestApp) -> Shop {
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(app, &tenant).await;
    publish_standard_list(app, &tenant).await;
    app.create_user(
        &tenant,
        json!({"username": "dispatch", "password": PASSWORD, "role": "dispatcher", "name": "调度"}),
    )
    .await;
    let dispatcher = app.token("acme", "dispatch", PASSWORD).await;
    let (installer_id, installer) = app.create_installer(&tenant, "li.wei").await;
    Shop {
        tenant,
        dispatcher,
        installer_id,
        installer,
    }
}

fn order_body(address: &str) -> Value {
    json!({"workflow": "install",
           "customer": {"name": "张三", "phone": "13912345678", "address": address},
           "lines": [{"service_item": "AC-INSTALL", "quantity": 2, "sale_price_fen": 100000}]})
}

async fn create_order(app: &TestApp, shop: &Shop, address: &str) -> Value {
    let response = app
        .post(
            "/api/v1/work-orders",
            &shop.dispatcher,
            &order_body(address),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await
}

async fn act(app: &TestApp, token: &str, id: &str, action: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/work-orders/{id}/actions/{action}"),
        token,
        &body,
    )
    .await
}

async fn act_ok(app: &TestApp, token: &str, id: &str, action: &str, body: Value) -> Value {
    let response = act(app, token, id, action, body).await;
    assert_eq!(response.status(), StatusCode::OK, "{action}");
    json_of(response).await
}

fn action_keys(order: &Value) -> Vec<String> {
    order["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["key"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_installation_runs_from_dispatch_to_review_with_its_earnings() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;

    let order = create_order(&app, &shop, "广东省深圳市南山区科技园科苑路15号3栋1201").await;
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(order["node"]["key"], "new");
    assert_eq!(
        order["region"],
        json!({"code": "440305", "name": "广东省深圳市南山区", "tier": "T1"})
    );
    assert_eq!(order["earnings"]["status"], "estimated");
    assert!(
        order["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("WO-"))
    );

    act_ok(
        &app,
        &shop.dispatcher,
        &id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;
    let before = json_of(
        app.get(&format!("/api/v1/work-orders/{id}"), &shop.installer)
            .await,
    )
    .await;
    assert_eq!(before["customer"]["phone"], "139****5678");
    assert!(
        !before["customer"]["address"]
            .as_str()
            .unwrap_or_default()
            .contains("1201")
    );
    assert_eq!(action_keys(&before), ["accept", "reject"]);
    assert_eq!(before["earnings"]["total_fen"], 24_000);

    let accepted = act_ok(&app, &shop.installer, &id, "accept", json!({})).await;
    assert_eq!(accepted["customer"]["phone"], "13912345678");
    assert_eq!(accepted["earnings"]["status"], "locked");
    act_ok(&app, &shop.installer, &id, "arrive", json!({})).await;
    let completed = act_ok(
        &app,
        &shop.installer,
        &id,
        "complete",
        json!({"comment": "已安装试机"}),
    )
    .await;
    assert_eq!(completed["earnings"]["status"], "posted");
    assert_eq!(completed["earnings"]["total_fen"], 24_000);
    let closed = act_ok(&app, &shop.dispatcher, &id, "review", json!({})).await;

    assert_eq!(closed["status"], "closed");
    let actions: Vec<&str> = closed["timeline"]
        .as_array()
        .map(|t| t.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions,
        ["create", "assign", "accept", "arrive", "complete", "review"]
    );
    assert_eq!(closed["timeline"][4]["comment"], "已安装试机");
    assert_eq!(closed["timeline"][4]["actor"], shop.installer_id.as_str());
}

#[tokio::test]
async fn an_action_not_open_here_is_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let order = create_order(&app, &shop, "深圳南山科技园").await;
    let id = order["id"].as_str().unwrap_or_default();
    act_ok(
        &app,
        &shop.dispatcher,
        id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;

    let early = act(&app, &shop.installer, id, "complete", json!({})).await;
    let not_theirs = act(&app, &shop.dispatcher, id, "accept", json!({})).await;
    let unknown = act(&app, &shop.installer, id, "teleport", json!({})).await;

    assert_problem(early, StatusCode::CONFLICT, "invalid_transition").await;
    assert_problem(not_theirs, StatusCode::CONFLICT, "invalid_transition").await;
    assert_problem(unknown, StatusCode::CONFLICT, "invalid_transition").await;
    let after = json_of(
        app.get(&format!("/api/v1/work-orders/{id}"), &shop.dispatcher)
            .await,
    )
    .await;
    assert_eq!(after["node"]["key"], "assigned");
    assert_eq!(after["timeline"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn another_installer_and_another_tenant_get_404() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let globex = app.create_tenant("globex").await;
    let (_, other) = app.create_installer(&shop.tenant, "wang").await;
    let order = create_order(&app, &shop, "深圳南山科技园").await;
    let id = order["id"].as_str().unwrap_or_default();
    act_ok(
        &app,
        &shop.dispatcher,
        id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;
    let path = format!("/api/v1/work-orders/{id}");

    assert_problem(
        app.get(&path, &other).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        act(&app, &other, id, "accept", json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&path, &globex.admin_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let mine = json_of(
        app.get("/api/v1/me/work-orders?status=open", &shop.installer)
            .await,
    )
    .await;
    let theirs = json_of(app.get("/api/v1/me/work-orders", &other).await).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(theirs["items"], json!([]));
}

#[tokio::test]
async fn twenty_concurrent_accepts_give_one_success_and_one_timeline_entry() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let order = create_order(&app, &shop, "深圳南山科技园").await;
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    act_ok(
        &app,
        &shop.dispatcher,
        &id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;

    let attempts = (0..20).map(|_| act(&app, &shop.installer, &id, "accept", json!({})));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();

    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let after = json_of(
        app.get(&format!("/api/v1/work-orders/{id}"), &shop.dispatcher)
            .await,
    )
    .await;
    let accepts = after["timeline"]
        .as_array()
        .map(|t| t.iter().filter(|e| e["action"] == "accept").count())
        .unwrap_or_default();
    assert_eq!(accepts, 1);
}

#[tokio::test]
async fn an_ambiguous_address_is_flagged_and_never_priced_at_a_guess() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let order = create_order(&app, &shop, "朝阳区幸福小区3栋").await;
    let id = order["id"].as_str().unwrap_or_default();

    assert!(order["region"].is_null());
    assert!(
        order["region_candidates"]
            .as_array()
            .is_some_and(|c| c.len() >= 2)
    );
    assert_eq!(order["earnings"]["status"], "unpriced");
    assert_eq!(order["earnings"]["reason"], "region_unresolved");
    act_ok(
        &app,
        &shop.dispatcher,
        id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;
    let accept = act(&app, &shop.installer, id, "accept", json!({})).await;
    assert_problem(
        accept,
        StatusCode::UNPROCESSABLE_ENTITY,
        "region_unresolved",
    )
    .await;
}

#[tokio::test]
async fn a_customer_requests_service_and_sees_it_without_settlement_prices() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    app.create_user(
        &shop.tenant,
        json!({"username": "zhang", "password": PASSWORD, "role": "customer", "name": "张三",
               "phone": "13912345678"}),
    )
    .await;
    let customer = app.token("acme", "zhang", PASSWORD).await;

    let requested = app
        .post(
            "/api/v1/service-requests",
            &customer,
            &order_body("深圳南山科技园"),
        )
        .await;
    assert_eq!(requested.status(), StatusCode::CREATED);
    let requested = json_of(requested).await;
    let by_dispatcher = create_order(&app, &shop, "深圳南山科技园").await;
    let mine = json_of(app.get("/api/v1/me/work-orders", &customer).await).await;

    assert!(requested.get("earnings").is_none(), "{requested}");
    assert_eq!(
        mine["items"].as_array().map(Vec::len),
        Some(2),
        "the dispatcher's order links by phone"
    );
    let by_staff = app
        .post("/api/v1/work-orders", &customer, &order_body("深圳"))
        .await;
    assert_eq!(by_staff.status(), StatusCode::NOT_FOUND);
    let id = by_dispatcher["id"].as_str().unwrap_or_default();
    let installer_view = app
        .get(&format!("/api/v1/work-orders/{id}"), &shop.installer)
        .await;
    assert_eq!(installer_view.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cancelling_after_settlement_reverses_the_earnings_instead_of_editing_them() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let order = create_order(&app, &shop, "深圳南山科技园").await;
    let id = order["id"].as_str().unwrap_or_default();
    act_ok(
        &app,
        &shop.dispatcher,
        id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;
    for action in ["accept", "arrive", "complete"] {
        act_ok(&app, &shop.installer, id, action, json!({})).await;
    }

    let cancelled = app
        .post(
            &format!("/api/v1/work-orders/{id}/cancel"),
            &shop.dispatcher,
            &json!({"reason": "客户退款"}),
        )
        .await;

    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled = json_of(cancelled).await;
    assert_eq!(cancelled["status"], "cancelled");
    let kinds: Vec<(&str, i64)> = cancelled["earnings"]["lines"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|x| {
                    (
                        x["kind"].as_str().unwrap_or_default(),
                        x["amount_fen"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(kinds, [("base", 24_000), ("reversal", -24_000)]);
    assert_eq!(cancelled["earnings"]["total_fen"], 0);
}

#[tokio::test]
async fn a_broken_workflow_names_every_problem_and_a_published_version_is_used_by_new_orders() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let token = &shop.tenant.admin_token;
    let broken = json!({"key": "install", "name": "安装", "business_type": "install",
        "nodes": [{"key": "new", "name": "新", "phase": "in_sale", "kind": "start"},
                  {"key": "lost", "name": "孤立", "phase": "in_sale"}],
        "transitions": [{"from": "new", "to": "nowhere", "action": "go", "roles": ["wizard"]}]});

    let refused = app.post("/api/v1/admin/workflows", token, &broken).await;
    let body = assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        body["errors"].as_array().is_some_and(|e| e.len() >= 3),
        "{body}"
    );

    let simple = json!({"key": "install", "name": "极简安装", "business_type": "install",
        "nodes": [{"key": "new", "name": "新", "phase": "in_sale", "kind": "start"},
                  {"key": "done", "name": "完成", "phase": "after_sale", "kind": "end"}],
        "transitions": [{"from": "new", "to": "done", "action": "finish", "roles": ["dispatcher"]}]});
    let draft = json_of(app.post("/api/v1/admin/workflows", token, &simple).await).await;
    assert_eq!(
        (draft["version"].as_i64(), draft["status"].as_str()),
        (Some(2), Some("draft"))
    );
    let old_order = create_order(&app, &shop, "深圳南山科技园").await;
    let path = format!(
        "/api/v1/admin/workflows/{}/publish",
        draft["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        app.post(&path, token, &json!({})).await.status(),
        StatusCode::OK
    );
    let new_order = create_order(&app, &shop, "深圳南山科技园").await;

    assert_eq!(
        old_order["workflow"],
        json!({"key": "install", "version": 1})
    );
    assert_eq!(
        new_order["workflow"],
        json!({"key": "install", "version": 2})
    );
    let old_id = old_order["id"].as_str().unwrap_or_default();
    let still_old = json_of(
        app.get(&format!("/api/v1/work-orders/{old_id}"), &shop.dispatcher)
            .await,
    )
    .await;
    assert_eq!(
        action_keys(&still_old),
        ["assign"],
        "a running order keeps its version"
    );
}

#[tokio::test]
async fn a_customer_journey_follows_linked_orders_in_time_order() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let customer_id = app
        .create_user(
            &shop.tenant,
            json!({"username": "zhang", "password": PASSWORD, "role": "customer", "name": "张三",
                   "phone": "13912345678"}),
        )
        .await;
    let mut presale = order_body("深圳南山科技园");
    presale["workflow"] = json!("presale");
    let enquiry = json_of(
        app.post("/api/v1/work-orders", &shop.dispatcher, &presale)
            .await,
    )
    .await;
    let id = enquiry["id"].as_str().unwrap_or_default().to_owned();
    for action in ["follow_up", "quote", "draft_contract", "sign"] {
        act_ok(&app, &shop.dispatcher, &id, action, json!({})).await;
    }

    let journey = app
        .get(
            &format!("/api/v1/customers/{customer_id}/journey"),
            &shop.dispatcher,
        )
        .await;
    let foreign = app
        .get(
            &format!("/api/v1/customers/{customer_id}/journey"),
            &shop.installer,
        )
        .await;

    assert_eq!(journey.status(), StatusCode::OK);
    let journey = json_of(journey).await;
    let workflows: Vec<&str> = journey["entries"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["workflow"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(workflows.first(), Some(&"presale"));
    assert_eq!(
        workflows.last(),
        Some(&"install"),
        "signing spawned an installation: {workflows:?}"
    );
    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn every_order_route_answers_each_role_as_its_ownership_says() {
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let globex = app.create_tenant("globex").await;
    let (_, other_installer) = app.create_installer(&shop.tenant, "wang").await;
    for (username, phone) in [("zhang", "13912345678"), ("li", "13700000000")] {
        app.create_user(
            &shop.tenant,
            json!({"username": username, "password": PASSWORD, "role": "customer",
                   "name": "客户", "phone": phone}),
        )
        .await;
    }
    let own_customer = app.token("acme", "zhang", PASSWORD).await;
    let other_customer = app.token("acme", "li", PASSWORD).await;
    let order = create_order(&app, &shop, "深圳南山科技园").await;
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    act_ok(
        &app,
        &shop.dispatcher,
        &id,
        "assign",
        json!({"assignee_id": shop.installer_id}),
    )
    .await;

    let detail = format!("/api/v1/work-orders/{id}");
    let accept = format!("/api/v1/work-orders/{id}/actions/accept");
    let cancel = format!("/api/v1/work-orders/{id}/cancel");
    let callers = [
        ("admin", shop.tenant.admin_token.as_str(), [200, 409, 0]),
        ("dispatcher", shop.dispatcher.as_str(), [200, 409, 0]),
        ("other installer", other_installer.as_str(), [404, 404, 404]),
        ("own customer", own_customer.as_str(), [200, 409, 404]),
        ("other customer", other_customer.as_str(), [404, 404, 404]),
        ("other tenant", globex.admin_token.as_str(), [404, 404, 404]),
        ("no token", "", [401, 401, 401]),
        // Last, since accepting moves the order.
        ("own installer", shop.installer.as_str(), [200, 200, 404]),
    ];
    for (who, token, [get, act_status, cancel_status]) in callers {
        let status = |r: reqwest::Response| r.status().as_u16();
        assert_eq!(
            status(app.get(&detail, token).await),
            get,
            "{who}: GET detail"
        );
        if cancel_status != 0 {
            let body = json!({"reason": "测试"});
            assert_eq!(
                status(app.post(&cancel, token, &body).await),
                cancel_status,
                "{who}: cancel"
            );
        }
        assert_eq!(
            status(app.post(&accept, token, &json!({})).await),
            act_status,
            "{who}: accept"
        );
    }
    let after = json_of(app.get(&detail, &shop.dispatcher).await).await;
    assert_eq!(
        (after["status"].as_str(), after["node"]["key"].as_str()),
        (Some("open"), Some("accepted"))
    );
}

#[tokio::test]
async fn the_order_list_shows_each_orders_region_with_its_tier() {
    // Arrange
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let order = create_order(&app, &shop, "广东省深圳市南山区科技园科苑路15号3栋1201").await;

    // Act
    let list = json_of(app.get("/api/v1/work-orders", &shop.dispatcher).await).await;

    // Assert
    let listed = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|o| o["id"] == order["id"]))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        listed["region"],
        json!({"code": "440305", "name": "广东省深圳市南山区", "tier": "T1"})
    );
}

#[tokio::test]
async fn a_partner_manager_sees_their_firms_orders_and_moves_none() {
    // Arrange: two firms, a fitter of the north one, and each firm's manager.
    let app = TestApp::spawn().await;
    let shop = open_shop(&app).await;
    let mut firms = Vec::new();
    for name in ["北区服务商", "南区服务商"] {
        let created = app
            .post(
                "/api/v1/admin/partners",
                &shop.tenant.admin_token,
                &json!({"name": name}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        firms.push(
            json_of(created).await["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let fitter = app
        .create_user(
            &shop.tenant,
            json!({"username": "north.fitter", "password": PASSWORD, "role": "installer",
                   "name": "王强", "cooperation_mode": "partner", "partner_id": firms[0]}),
        )
        .await;
    let mut managers = Vec::new();
    for (username, firm) in [("north.boss", &firms[0]), ("south.boss", &firms[1])] {
        app.create_user(
            &shop.tenant,
            json!({"username": username, "password": PASSWORD, "role": "partner_manager",
                   "name": "经理", "partner_id": firm}),
        )
        .await;
        managers.push(app.token("acme", username, PASSWORD).await);
    }
    let order = create_order(&app, &shop, "深圳南山科技园").await;
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    act_ok(
        &app,
        &shop.dispatcher,
        &id,
        "assign",
        json!({"assignee_id": fitter}),
    )
    .await;
    let detail = format!("/api/v1/work-orders/{id}");
    let status = |r: reqwest::Response| r.status().as_u16();

    // Act and assert: the fitter's own manager reads the order and its
    // earnings, and may neither move nor cancel it.
    let own = &managers[0];
    let seen = json_of(app.get(&detail, own).await).await;
    assert_eq!(seen["id"], id.as_str());
    assert!(seen["earnings"]["total_fen"].is_i64(), "{seen}");
    let accept = format!("/api/v1/work-orders/{id}/actions/accept");
    assert_eq!(status(app.post(&accept, own, &json!({})).await), 409);
    let cancel = format!("/api/v1/work-orders/{id}/cancel");
    let reason = json!({"reason": "测试"});
    assert_eq!(status(app.post(&cancel, own, &reason).await), 404);
    assert_eq!(status(app.get("/api/v1/work-orders", own).await), 404);
    let mine = json_of(app.get("/api/v1/me/work-orders?status=open", own).await).await;
    assert_eq!(mine["items"][0]["id"], id.as_str(), "{mine}");

    // The other firm's manager learns nothing of it.
    let other = &managers[1];
    assert_eq!(status(app.get(&detail, other).await), 404);
    assert_eq!(status(app.post(&accept, other, &json!({})).await), 404);
    assert_eq!(status(app.post(&cancel, other, &reason).await), 404);
    let theirs = json_of(app.get("/api/v1/me/work-orders?status=open", other).await).await;
    assert_eq!(theirs["items"], json!([]));
}
