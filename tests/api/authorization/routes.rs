//! The route table: every operation of the API, what the matrix sends it,
//! and what each role must be answered about each object.
//!
//! A role's answers come in threes: about the own object, the sibling
//! object of the same tenant, and the foreign object of the other tenant
//! (see `world`). A route without an id has one answer, repeated. Actions
//! that would change an object are sent to objects whose state refuses
//! them (closed orders, paid statements, answered disputes, published
//! versions), so a caller who may reach the object gets 409 and one who
//! may not gets 404, and the matrix can run in any order. Routes that only
//! create are answered 201 the one time a role may call them.

use reqwest::Method;
use serde_json::{Value, json};

use super::world::{Family, World};
use crate::helpers::{PASSWORD, this_month};

pub const NOT_FOUND: u16 = 404;
pub const UNAUTHORIZED: u16 = 401;

/// A role's answers about the own, the sibling and the foreign object.
pub type Answers = [u16; 3];

/// Reaches everything of its own tenant and nothing of another.
fn tenant(status: u16) -> Answers {
    [status, status, NOT_FOUND]
}

/// Reaches only what is its own.
fn own(status: u16) -> Answers {
    [status, NOT_FOUND, NOT_FOUND]
}

/// The same answer whatever the object, or where there is none.
fn each(status: u16) -> Answers {
    [status; 3]
}

/// The route, or every object it names, is not for this role.
const NONE: Answers = [NOT_FOUND; 3];

/// What the matrix sends one route and expects back.
pub struct Route {
    pub method: Method,
    /// As the OpenAPI document spells it.
    pub path: &'static str,
    pub query: String,
    /// What `{id}` or `{channel_id}` names, if the path has one.
    pub family: Option<Family>,
    pub body: fn(&World) -> Option<Value>,
    /// Admin, dispatcher, installer, partner manager, customer.
    pub roles: [Answers; 5],
    /// A caller without a token.
    pub anonymous: u16,
}

impl Route {
    fn new(method: Method, path: &'static str) -> Self {
        Self {
            method,
            path,
            query: String::new(),
            family: None,
            body: |_| None,
            roles: [NONE; 5],
            anonymous: UNAUTHORIZED,
        }
    }

    fn on(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    fn query(mut self, query: String) -> Self {
        self.query = query;
        self
    }

    fn body(mut self, body: fn(&World) -> Option<Value>) -> Self {
        self.body = body;
        self
    }

    fn roles(mut self, roles: [Answers; 5]) -> Self {
        self.roles = roles;
        self
    }

    /// Only admins: the rest of the tenant gets 404.
    fn admin(self, answers: Answers) -> Self {
        self.roles([answers, NONE, NONE, NONE, NONE])
    }

    /// Admins and dispatchers alike.
    fn staff(self, answers: Answers) -> Self {
        self.roles([answers, answers, NONE, NONE, NONE])
    }

    /// Every signed-in role alike.
    fn signed_in(self, answers: Answers) -> Self {
        self.roles([answers; 5])
    }

    /// Open to everyone, with or without a token.
    fn public(self, status: u16) -> Self {
        let mut route = self.signed_in(each(status));
        route.anonymous = status;
        route
    }

    /// The path with its parameters filled in, and the query.
    pub fn url(&self, target: Option<&str>) -> String {
        let mut path = self.path.replace("{action}", "accept");
        path = path.replace("{kind}", "overdue");
        if let Some(target) = target {
            path = path.replace("{id}", target).replace("{channel_id}", target);
        }
        if self.query.is_empty() {
            path
        } else {
            format!("{path}?{}", self.query)
        }
    }

    /// Whether anyone may call it without a token.
    pub fn is_public(&self) -> bool {
        self.anonymous != UNAUTHORIZED
    }
}

fn get(path: &'static str) -> Route {
    Route::new(Method::GET, path)
}

fn post(path: &'static str) -> Route {
    Route::new(Method::POST, path)
}

fn put(path: &'static str) -> Route {
    Route::new(Method::PUT, path)
}

/// The code WeChat exchanges for the account the matrix binds.
pub const BINDING_CODE: &str = "matrix-binding-code";

/// Every operation of the API.
pub fn table() -> Vec<Route> {
    let mut routes = operations_and_me();
    routes.extend(work_orders_and_statements());
    routes.extend(admin_people_and_catalogue());
    routes.extend(admin_pricing_and_workflows());
    routes.extend(admin_channels_and_settlement());
    routes
}

fn operations_and_me() -> Vec<Route> {
    use Family::*;
    vec![
        get("/healthz").public(200),
        get("/readyz").public(200),
        get("/metrics").public(200),
        post("/api/v1/auth/login")
            .body(|_| Some(json!({"tenant": "acme", "username": "li.wei", "password": PASSWORD})))
            .public(200),
        post("/api/v1/auth/refresh")
            .body(|_| Some(json!({"refresh_token": "not-a-refresh-token"})))
            .public(401),
        post("/api/v1/auth/wechat/login")
            .body(|_| Some(json!({"tenant": "no-such-tenant", "code": BINDING_CODE})))
            .public(404),
        get("/api/v1/me").signed_in(each(200)),
        // The first caller binds the WeChat account; it is then taken.
        post("/api/v1/me/wechat-binding")
            .body(|_| Some(json!({"code": BINDING_CODE})))
            .roles([each(204), each(409), each(409), each(409), each(409)]),
        get("/api/v1/me/work-orders").signed_in(each(200)),
        get("/api/v1/me/earnings").signed_in(each(200)),
        get("/api/v1/me/earnings/summary").signed_in(each(200)),
        get("/api/v1/me/statements").signed_in(each(200)),
        get("/api/v1/me/notifications").signed_in(each(200)),
        post("/api/v1/me/notifications/read-all").signed_in(each(200)),
        post("/api/v1/me/notifications/{id}/read")
            .on(Notification)
            .roles([NONE, NONE, own(200), NONE, NONE]),
    ]
}

fn work_orders_and_statements() -> Vec<Route> {
    use Family::*;
    let readers = [tenant(200), tenant(200), own(200), own(200), own(200)];
    let statement_readers = [tenant(200), tenant(200), own(200), own(200), NONE];
    vec![
        post("/api/v1/work-orders")
            .body(|w| Some(super::world::order_for(&w.home.customers[0])))
            .staff(each(201)),
        get("/api/v1/work-orders").staff(each(200)),
        get("/api/v1/work-orders/{id}").on(Order).roles(readers),
        post("/api/v1/work-orders/{id}/actions/{action}")
            .on(Order)
            .body(|_| Some(json!({})))
            .roles([tenant(409), tenant(409), own(409), own(409), own(409)]),
        post("/api/v1/work-orders/{id}/cancel")
            .on(Order)
            .body(|_| Some(json!({"reason": "客户改约"})))
            .staff(tenant(409)),
        post("/api/v1/work-orders/{id}/rewards-and-penalties")
            .on(Order)
            .body(|_| Some(json!({"amount_fen": 500, "reason": "好评"})))
            .staff(tenant(201)),
        post("/api/v1/service-requests")
            .body(|w| Some(super::world::order_for(&w.home.customers[0])))
            .roles([NONE, NONE, NONE, NONE, each(201)]),
        get("/api/v1/customers/{id}/journey").on(Customer).roles([
            tenant(200),
            tenant(200),
            NONE,
            NONE,
            own(200),
        ]),
        get("/api/v1/statements").staff(each(200)),
        get("/api/v1/statements/{id}")
            .on(Statement)
            .roles(statement_readers),
        get("/api/v1/statements/{id}/export.csv")
            .on(Statement)
            .roles(statement_readers),
        // Acting on a statement is its installer's alone, even where staff
        // and the firm's manager may read it.
        post("/api/v1/statements/{id}/confirm")
            .on(Statement)
            .roles([NONE, NONE, own(409), NONE, NONE]),
        post("/api/v1/statements/{id}/disputes")
            .on(Statement)
            .body(|w| Some(json!({"line_id": w.home.disputed_line, "reason": "少算一台"})))
            .roles([NONE, NONE, own(409), NONE, NONE]),
        post("/api/v1/statements/{id}/paid")
            .on(Statement)
            .body(|_| Some(json!({"reference": "BANK-0001"})))
            .admin(tenant(409)),
        post("/api/v1/disputes/{id}/resolve")
            .on(Dispute)
            .body(|_| Some(json!({"accept": false, "reason": "核实无误"})))
            .staff(tenant(409)),
        // Signed by the channel, never by a user: unsigned, every channel
        // that exists answers 401, whoever asks.
        post("/api/v1/webhooks/{channel_id}")
            .on(Channel)
            .body(|_| Some(json!({"type": "order.paid", "data": {}})))
            .signed_in(each(401)),
    ]
}

fn admin_people_and_catalogue() -> Vec<Route> {
    use Family::*;
    vec![
        post("/api/v1/admin/users")
            .body(|_| {
                Some(json!({"username": "matrix.user", "password": PASSWORD,
                            "role": "customer", "name": "新客户", "phone": "13600000009"}))
            })
            .admin(each(201)),
        get("/api/v1/admin/users").admin(each(200)),
        get("/api/v1/admin/users/{id}").on(User).admin(tenant(200)),
        post("/api/v1/admin/partners")
            .body(|_| Some(json!({"name": "矩阵服务商"})))
            .admin(each(201)),
        get("/api/v1/admin/partners").admin(each(200)),
        get("/api/v1/admin/partners/{id}")
            .on(Partner)
            .admin(tenant(200)),
        post("/api/v1/admin/service-items")
            .body(|_| Some(json!({"code": "AC-CLEAN", "name": "空调清洗", "unit": "台"})))
            .admin(each(201)),
        get("/api/v1/admin/service-items").admin(each(200)),
        get("/api/v1/admin/service-items/{id}")
            .on(ServiceItem)
            .admin(tenant(200)),
        post("/api/v1/admin/tiers")
            .body(|_| Some(json!({"code": "T9", "name": "九档"})))
            .admin(each(201)),
        get("/api/v1/admin/tiers").admin(each(200)),
        get("/api/v1/admin/tiers/{id}").on(Tier).admin(tenant(200)),
        put("/api/v1/admin/region-tiers")
            .body(|_| Some(region_tiers()))
            .admin(each(200)),
        get("/api/v1/admin/region-tiers").admin(each(200)),
        post("/api/v1/admin/regions/resolve")
            .body(|_| Some(json!({"address": "深圳南山科技园"})))
            .admin(each(200)),
    ]
}

/// The mapping the catalogue was set up with, so putting it changes nothing.
pub fn region_tiers() -> Value {
    json!({"default_tier": "T3", "mappings": [
        {"region_code": "44", "tier": "T2"}, {"region_code": "4403", "tier": "T1"}]})
}

fn admin_pricing_and_workflows() -> Vec<Route> {
    use Family::*;
    vec![
        post("/api/v1/admin/price-lists")
            .body(|_| Some(price_list()))
            .admin(each(201)),
        get("/api/v1/admin/price-lists").admin(each(200)),
        get("/api/v1/admin/price-lists/{id}")
            .on(PriceList)
            .admin(tenant(200)),
        post("/api/v1/admin/price-lists/{id}/publish")
            .on(PriceList)
            .admin(tenant(409)),
        post("/api/v1/admin/price-lists/{id}/preview")
            .on(PriceList)
            .admin(tenant(200)),
        post("/api/v1/admin/quotes/estimate")
            .body(|_| {
                Some(
                    json!({"region_code": "440305", "cooperation_mode": "employee",
                            "lines": [{"service_item": "AC-INSTALL", "quantity": 1,
                                       "sale_price_fen": 100000}]}),
                )
            })
            .admin(each(200)),
        post("/api/v1/admin/workflows")
            .body(|_| Some(workflow()))
            .admin(each(201)),
        get("/api/v1/admin/workflows").admin(each(200)),
        get("/api/v1/admin/workflows/{id}")
            .on(Workflow)
            .admin(tenant(200)),
        post("/api/v1/admin/workflows/{id}/publish")
            .on(Workflow)
            .admin(tenant(409)),
    ]
}

/// A draft price list like the standard one.
pub fn price_list() -> Value {
    json!({"name": "矩阵价目", "effective_from": "2026-01-01T00:00:00Z", "prices": [
        {"service_item": "AC-INSTALL", "tier": "T1", "unit_price_fen": 12000}]})
}

/// A workflow of two nodes under a key of its own.
pub fn workflow() -> Value {
    json!({"key": "callback", "name": "回访", "business_type": "callback",
        "nodes": [{"key": "new", "name": "待回访", "phase": "after_sale", "kind": "start"},
                  {"key": "done", "name": "已回访", "phase": "after_sale", "kind": "end"}],
        "transitions": [{"from": "new", "to": "done", "action": "call",
                         "roles": ["dispatcher"]}]})
}

fn admin_channels_and_settlement() -> Vec<Route> {
    use Family::*;
    let (from, to) = this_month();
    vec![
        post("/api/v1/admin/webhook-channels")
            .body(|_| Some(json!({"name": "拼多多"})))
            .admin(each(201)),
        get("/api/v1/admin/webhook-channels").admin(each(200)),
        post("/api/v1/admin/webhook-channels/{id}/rotate-secret")
            .on(Channel)
            .admin(tenant(200)),
        get("/api/v1/admin/webhook-events").admin(each(200)),
        get("/api/v1/admin/webhook-events/{id}")
            .on(Event)
            .admin(tenant(200)),
        post("/api/v1/admin/webhook-events/{id}/replay")
            .on(Event)
            .admin(tenant(200)),
        get("/api/v1/admin/wechat-templates").admin(each(200)),
        put("/api/v1/admin/wechat-templates/{kind}")
            .body(|_| Some(json!({"template_id": "tmpl-overdue"})))
            .admin(each(200)),
        // This month is closed already: closing it again answers it.
        post("/api/v1/admin/settlement-periods")
            .body(|_| {
                let (from, to) = this_month();
                Some(json!({"from": from, "to": to}))
            })
            .admin(each(200)),
        get("/api/v1/admin/settlement-periods").admin(each(200)),
        get("/api/v1/admin/settlement-periods/{id}")
            .on(Period)
            .admin(tenant(200)),
        get("/api/v1/admin/settlement-periods/{id}/export.csv")
            .on(Period)
            .admin(tenant(200)),
        get("/api/v1/admin/settlement-settings").admin(each(200)),
        put("/api/v1/admin/settlement-settings")
            .body(|w| Some(w.settings.clone()))
            .admin(each(200)),
        get("/api/v1/admin/fairness-report")
            .query(format!("from={from}&to={to}"))
            .admin(each(200)),
    ]
}
