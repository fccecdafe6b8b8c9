//! Mass assignment: bodies that carry a field the route does not take, or
//! one the caller may not set (another tenant, a role, a status, an id, an
//! amount, an assignee), are refused, and the object they aimed at reads
//! the same afterwards.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::routes::{price_list, region_tiers, workflow};
use super::world::{Shop, World, order_for};
use crate::helpers::{PASSWORD, TestApp, confirm, dispute, json_of, mark_paid, resolve, text};

/// A request that must be refused, and the page that must not change.
struct Tampered<'a> {
    token: &'a str,
    method: Method,
    path: String,
    body: Value,
    status: StatusCode,
    code: &'static str,
    /// The field the problem must name, for a 422.
    field: Option<&'static str>,
    /// Read before and after, as (token, path).
    witness: Option<(&'a str, String)>,
}

impl<'a> Tampered<'a> {
    /// A request that must be refused as invalid, once a field is added.
    fn new(token: &'a str, method: &Method, path: &str, body: Value) -> Self {
        Self {
            token,
            method: method.clone(),
            path: path.to_owned(),
            body,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            field: None,
            witness: None,
        }
    }

    /// Adds `field` to the body, which the route must refuse by name.
    fn adding(self, field: &'static str, value: Value) -> Self {
        self.adding_at("", field, value)
    }

    /// Adds `field` to the object at the JSON pointer `at` in the body.
    fn adding_at(mut self, at: &str, field: &'static str, value: Value) -> Self {
        let target = self.body.pointer_mut(at).and_then(Value::as_object_mut);
        target
            .unwrap_or_else(|| panic!("{at} is an object"))
            .insert(field.to_owned(), value);
        self.field = Some(field);
        self
    }

    /// A body the route reads, from a caller it must turn away.
    fn answered(mut self, status: StatusCode, code: &'static str) -> Self {
        (self.status, self.code, self.field) = (status, code, None);
        self
    }

    fn seen_by(mut self, token: &'a str, path: &str) -> Self {
        self.witness = Some((token, path.to_owned()));
        self
    }

    /// Sends the request; answers what was wrong with the answer, or with
    /// the witness afterwards.
    async fn refused_without_change(self, app: &TestApp) -> Option<String> {
        let before = self.read_witness(app).await;
        let (method, path) = (self.method.clone(), self.path.as_str());
        let response = app
            .request(method, path, Some(self.token), Some(&self.body))
            .await;
        let what = format!("{} {path} {}", self.method, self.body);
        let status = response.status();
        let content_type = response.headers().get("content-type").cloned();
        let problem: Value = response.json().await.unwrap_or_default();
        let after = self.read_witness(app).await;
        let is_problem = content_type.is_some_and(|v| v == "application/problem+json");
        if status != self.status || problem["code"] != self.code || !is_problem {
            let expected = format!("{} {}", self.status, self.code);
            return Some(format!(
                "{what}: expected {expected}, got {status} {problem}"
            ));
        }
        if let Some(field) = self.field {
            let named = problem["errors"].as_array().into_iter().flatten();
            if !named.map(|e| text(&e["field"])).any(|n| n.ends_with(field)) {
                return Some(format!("{what}: {field} is not named in {problem}"));
            }
        }
        (after != before).then(|| format!("{what} changed what {path} reads"))
    }

    async fn read_witness(&self, app: &TestApp) -> Value {
        let Some((token, path)) = &self.witness else {
            return Value::Null;
        };
        let response = app.get(path, token).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        json_of(response).await
    }
}

/// Tries every tampered body; answers how many there were, and adds what
/// went wrong to `failures`.
pub async fn refuse_privileged_fields(
    app: &TestApp,
    world: &World,
    failures: &mut Vec<String>,
) -> usize {
    let mut cases = configuration(world);
    cases.extend(orders(world));
    cases.extend(self_service(world));
    let count = cases.len();
    for case in cases {
        failures.extend(case.refused_without_change(app).await);
    }
    count
}

/// Configuration: nothing an admin sends may name another tenant, an id,
/// a status, a secret or an amount the route does not take.
fn configuration(world: &World) -> Vec<Tampered<'_>> {
    let admin = world.home.tenant.admin_token.as_str();
    let away = json!(world.away.tenant.id);
    let user = json!({"username": "sneaky", "password": PASSWORD, "role": "installer",
                      "name": "王五", "cooperation_mode": "employee"});
    let item = json!({"code": "AC-X", "name": "越权", "unit": "台"});
    let secret = json!("whsec_c2VjcmV0");
    let channel = &world.home.channels[0].id;
    let rotate = format!("webhook-channels/{channel}/rotate-secret");
    let case = |method: &Method, resource: &str, body| {
        // A change would show in the resource's list, or in the resource
        // itself where a tenant has one.
        let collection = resource.split('/').next().unwrap_or_default();
        let witness = match collection {
            "region-tiers" | "settlement-settings" | "wechat-templates" => {
                format!("/api/v1/admin/{collection}")
            }
            _ => format!("/api/v1/admin/{collection}?limit=100"),
        };
        let path = format!("/api/v1/admin/{resource}");
        Tampered::new(admin, method, &path, body).seen_by(admin, &witness)
    };
    let (post, put) = (Method::POST, Method::PUT);
    vec![
        case(&post, "users", user.clone()).adding("tenant_id", away.clone()),
        case(&post, "users", user).adding("id", json!(world.away.tenant.admin_id)),
        case(&post, "partners", json!({"name": "越权"})).adding("tenant_id", away.clone()),
        case(&post, "service-items", item).adding("id", json!(world.away.service_items[0])),
        case(&put, "region-tiers", region_tiers()).adding("tenant_id", away.clone()),
        case(&post, "price-lists", price_list()).adding("status", json!("published")),
        case(&post, "price-lists", price_list()).adding_at("/prices/0", "amount_fen", json!(1)),
        case(&post, "workflows", workflow()).adding("status", json!("published")),
        case(&post, "webhook-channels", json!({"name": "越权"})).adding("secret", secret.clone()),
        case(&post, &rotate, json!({})).adding("secret", secret),
        case(
            &put,
            "wechat-templates/overdue",
            json!({"template_id": "t"}),
        )
        .adding("tenant_id", away.clone()),
        case(&put, "settlement-settings", world.settings.clone()).adding("tenant_id", away),
    ]
}

/// Orders: what the caller may not set on them, nor have them moved to.
fn orders(world: &World) -> Vec<Tampered<'_>> {
    let home = &world.home;
    let (admin, dispatcher) = (home.tenant.admin_token.as_str(), home.dispatcher.as_str());
    let installer = home.installers[0].token.as_str();
    let customer = home.customers[0].token.as_str();
    let order = order_for(&home.customers[0]);
    let other_installer = json!(home.installers[1].id);
    let post = Method::POST;
    let create = |body| {
        Tampered::new(dispatcher, &post, "/api/v1/work-orders", body)
            .seen_by(admin, "/api/v1/work-orders?limit=100")
    };
    let open = format!("/api/v1/work-orders/{}", home.open_order);
    let on_open = |token, tail: &str, body| {
        let path = format!("{open}{tail}");
        Tampered::new(token, &post, &path, body).seen_by(admin, &open)
    };
    let closed = format!("/api/v1/work-orders/{}", home.orders[0]);
    let reward = format!("{closed}/rewards-and-penalties");
    let on_closed =
        |token, body| Tampered::new(token, &post, &reward, body).seen_by(admin, &closed);
    let assign = json!({"assignee_id": other_installer});
    let (conflict, invalid_transition) = (StatusCode::CONFLICT, "invalid_transition");
    vec![
        create(order.clone()).adding("tenant_id", json!(world.away.tenant.id)),
        create(order.clone()).adding("status", json!("closed")),
        create(order.clone()).adding("assignee_id", other_installer.clone()),
        create(order.clone()).adding("external_order_no", json!("TB-1")),
        create(order.clone()).adding_at("/lines/0", "unit_price_fen", json!(1)),
        create(order).adding_at("/customer", "id", json!(home.customers[1].id)),
        // Only staff assign: an installer or a customer naming an assignee
        // moves nothing.
        on_open(installer, "/actions/accept", assign.clone())
            .answered(conflict, invalid_transition),
        on_open(customer, "/actions/assign", assign).answered(conflict, invalid_transition),
        on_open(installer, "/actions/accept", json!({})).adding("status", json!("closed")),
        on_open(dispatcher, "/cancel", json!({"reason": "测试"})).adding("status", json!("open")),
        on_closed(dispatcher, json!({"amount_fen": 100, "reason": "奖励"}))
            .adding("kind", json!("base")),
        // An installer may not set what they earn.
        on_closed(
            installer,
            json!({"amount_fen": 100_000, "reason": "自己加钱"}),
        )
        .answered(StatusCode::NOT_FOUND, "not_found"),
    ]
}

/// The routes people call about themselves.
fn self_service(world: &World) -> Vec<Tampered<'_>> {
    let home = &world.home;
    let customer = home.customers[0].token.as_str();
    let order = order_for(&home.customers[0]);
    let post = Method::POST;
    let request = |body| {
        Tampered::new(customer, &post, "/api/v1/service-requests", body)
            .seen_by(customer, "/api/v1/me/work-orders?limit=100")
    };
    let binding = json!({"code": "matrix-binding-code"});
    let login = json!({"tenant": "acme", "username": "li.wei", "password": PASSWORD});
    vec![
        request(order.clone()).adding("assignee_id", json!(home.installers[0].id)),
        request(order.clone()).adding("status", json!("closed")),
        request(order.clone()).adding("role", json!("admin")),
        request(order).adding_at("/customer", "customer_id", json!(home.customers[1].id)),
        Tampered::new(customer, &post, "/api/v1/me/wechat-binding", binding)
            .adding("user_id", json!(home.installers[0].id))
            .seen_by(customer, "/api/v1/me"),
        Tampered::new(customer, &post, "/api/v1/auth/login", login).adding("role", json!("admin")),
    ]
}

/// Takes each statement of `shop` from issued to paid: its installer
/// disputes a line, the dispatcher rejects the dispute, the installer
/// confirms and an admin pays. Before each step, the same step is tried
/// with a field the caller may not set, or by a caller who may not take
/// it. Records the disputes, and the disputed line of the first statement;
/// answers how many steps were tampered with.
pub async fn settle(app: &TestApp, shop: &mut Shop, failures: &mut Vec<String>) -> usize {
    let mut tried = 0;
    for i in 0..2 {
        let (line, dispute, count) = settle_statement(app, shop, i, failures).await;
        if i == 0 {
            shop.disputed_line = line;
        }
        shop.disputes.push(dispute);
        tried += count;
    }
    tried
}

async fn settle_statement(
    app: &TestApp,
    shop: &Shop,
    i: usize,
    failures: &mut Vec<String>,
) -> (String, String, usize) {
    let installer = shop.installers[i].token.as_str();
    let (admin, dispatcher) = (shop.tenant.admin_token.as_str(), shop.dispatcher.as_str());
    let id = &shop.statements[i];
    let path = format!("/api/v1/statements/{id}");
    let detail = json_of(app.get(&path, installer).await).await;
    let line = text(&detail["lines"][0]["id"]).to_owned();
    let post = Method::POST;
    let case =
        |token, target: &str, body| Tampered::new(token, &post, target, body).seen_by(admin, &path);
    let not_found = (StatusCode::NOT_FOUND, "not_found");

    // The installer disputes a line, and may not say what it is worth.
    let reason = json!({"line_id": line, "reason": "少算一台"});
    let disputes = format!("{path}/disputes");
    let tampered = case(installer, &disputes, reason.clone()).adding("amount_fen", json!(1));
    failures.extend(tampered.refused_without_change(app).await);
    let raised = dispute(app, installer, id, reason).await;
    assert_eq!(raised.status(), StatusCode::CREATED);
    let dispute_id = text(&json_of(raised).await["id"]).to_owned();

    // Staff answer it: not the installer, and not about another statement.
    let answer = format!("/api/v1/disputes/{dispute_id}/resolve");
    let pay_me = json!({"accept": true, "amount_fen": 100_000, "reason": "我说了算"});
    let rejected = json!({"accept": false, "reason": "核实无误"});
    let elsewhere = json!(shop.statements[1 - i]);
    let tampered = [
        case(installer, &answer, pay_me).answered(not_found.0, not_found.1),
        case(dispatcher, &answer, rejected.clone()).adding("statement_id", elsewhere),
    ];
    for case in tampered {
        failures.extend(case.refused_without_change(app).await);
    }
    let resolved = resolve(app, dispatcher, &dispute_id, rejected).await;
    assert_eq!(resolved.status(), StatusCode::OK);
    assert_eq!(confirm(app, installer, id).await.status(), StatusCode::OK);

    // An admin pays what the statement says, and only an admin.
    let paid = format!("{path}/paid");
    let reference = json!({"reference": "BANK-0001"});
    let tampered = [
        case(admin, &paid, reference.clone()).adding("total_fen", json!(1)),
        case(dispatcher, &paid, reference).answered(not_found.0, not_found.1),
    ];
    for case in tampered {
        failures.extend(case.refused_without_change(app).await);
    }
    let paid = mark_paid(app, admin, id, "BANK-0001").await;
    assert_eq!(paid.status(), StatusCode::OK);
    (line, dispute_id, 5)
}
