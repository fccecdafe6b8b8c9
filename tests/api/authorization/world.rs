//! The world the matrix runs in: two tenants, each holding two of every
//! kind of object the API names by id. In each pair the first is "own": it
//! belongs to the party the signed-in callers stand for (the installer 李伟
//! of a partner firm, that firm's manager, and the customer whose phone
//! the order carries). The second belongs to someone else of the same
//! tenant. The other tenant's first object is the "foreign" one.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Installer, PASSWORD, Tenant, TestApp, act, close, create_partner, hire, hire_for_partner,
    items, json_of, month, order_through, partner_manager, text, this_month,
};
use crate::pricing::{publish_standard_list, set_up_catalogue};
use crate::webhooks::{Channel, deliver, register_channel};

/// The kinds of object a path names by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Order,
    Statement,
    Dispute,
    Notification,
    Customer,
    User,
    Partner,
    ServiceItem,
    Tier,
    PriceList,
    Workflow,
    Channel,
    Event,
    Period,
}

pub const FAMILIES: [Family; 14] = [
    Family::Order,
    Family::Statement,
    Family::Dispute,
    Family::Notification,
    Family::Customer,
    Family::User,
    Family::Partner,
    Family::ServiceItem,
    Family::Tier,
    Family::PriceList,
    Family::Workflow,
    Family::Channel,
    Family::Event,
    Family::Period,
];

/// A customer, signed in.
pub struct Customer {
    pub id: String,
    pub token: String,
    pub name: &'static str,
    pub phone: &'static str,
}

/// One tenant and everything in it that the matrix reads.
pub struct Shop {
    pub tenant: Tenant,
    pub dispatcher: String,
    /// The manager of the firm the first installer works for.
    pub manager: String,
    pub installers: [Installer; 2],
    pub customers: [Customer; 2],
    pub partners: [String; 2],
    /// Each closed: the first installer's for the first customer, the
    /// second's for the second.
    pub orders: [String; 2],
    /// The first installer's, for the first customer, assigned and waiting
    /// to be accepted.
    pub open_order: String,
    /// Each installer's statement of this month.
    pub statements: [String; 2],
    /// One dispute on each statement, once the statements are settled.
    pub disputes: Vec<String>,
    /// The line of the first statement that its installer disputed.
    pub disputed_line: String,
    pub notifications: [String; 2],
    pub service_items: [String; 2],
    pub tiers: [String; 2],
    pub price_lists: [String; 2],
    pub workflows: [String; 2],
    pub channels: [Channel; 2],
    pub events: [String; 2],
    /// This month's period and last month's.
    pub periods: [String; 2],
}

/// The tenant whose callers the matrix signs in as, and another one.
pub struct World {
    pub home: Shop,
    pub away: Shop,
    /// The home tenant's settlement settings, as they were set up.
    pub settings: Value,
}

impl World {
    pub async fn build(app: &TestApp) -> Self {
        let home = open_shop(app, "acme", HOME_CUSTOMERS).await;
        let away = open_shop(app, "globex", AWAY_CUSTOMERS).await;
        let settings = app
            .get(
                "/api/v1/admin/settlement-settings",
                &home.tenant.admin_token,
            )
            .await;
        assert_eq!(settings.status(), StatusCode::OK);
        Self {
            settings: json_of(settings).await,
            home,
            away,
        }
    }

    /// The own, the sibling and the foreign object of a family.
    pub fn targets(&self, family: Family) -> [String; 3] {
        let [own, sibling] = self.home.pair(family);
        let [foreign, _] = self.away.pair(family);
        let targets = [own, sibling, foreign];
        assert!(
            targets.iter().all(|id| !id.is_empty()),
            "{family:?}: {targets:?}"
        );
        targets
    }

    /// What no caller of the home tenant may ever read: every id and
    /// customer detail of the other tenant.
    pub fn foreign_markers(&self) -> Vec<String> {
        let mut markers = self.away.all_ids();
        markers.push(self.away.tenant.id.clone());
        for customer in &self.away.customers {
            markers.extend([customer.name.to_owned(), customer.phone.to_owned()]);
        }
        markers
    }

    /// The people and papers of the home tenant's second party, which its
    /// installer, manager and customer must never read.
    pub fn sibling_markers(&self) -> Vec<String> {
        self.home.party_markers(1)
    }

    /// The same of the first party: what only its own callers and staff read.
    pub fn own_markers(&self) -> Vec<String> {
        self.home.party_markers(0)
    }
}

impl Shop {
    pub fn pair(&self, family: Family) -> [String; 2] {
        match family {
            Family::Order => self.orders.clone(),
            Family::Statement => self.statements.clone(),
            Family::Dispute => [0, 1].map(|i| self.disputes.get(i).cloned().unwrap_or_default()),
            Family::Notification => self.notifications.clone(),
            Family::Customer => [0, 1].map(|i| self.customers[i].id.clone()),
            Family::User => [0, 1].map(|i| self.installers[i].id.clone()),
            Family::Partner => self.partners.clone(),
            Family::ServiceItem => self.service_items.clone(),
            Family::Tier => self.tiers.clone(),
            Family::PriceList => self.price_lists.clone(),
            Family::Workflow => self.workflows.clone(),
            Family::Channel => [0, 1].map(|i| self.channels[i].id.clone()),
            Family::Event => self.events.clone(),
            Family::Period => self.periods.clone(),
        }
    }

    /// Every id this shop holds.
    pub fn all_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = FAMILIES.iter().flat_map(|f| self.pair(*f)).collect();
        ids.extend([self.open_order.clone(), self.tenant.admin_id.clone()]);
        ids.retain(|id| !id.is_empty());
        ids
    }

    fn party_markers(&self, i: usize) -> Vec<String> {
        let customer = &self.customers[i];
        let mut markers = vec![
            self.installers[i].id.clone(),
            customer.id.clone(),
            customer.name.to_owned(),
            customer.phone.to_owned(),
            self.partners[i].clone(),
            self.orders[i].clone(),
            self.statements[i].clone(),
            self.notifications[i].clone(),
        ];
        markers.extend(self.disputes.get(i).cloned());
        markers
    }
}

type Cast = [(&'static str, &'static str); 2];

/// Names and phones that occur nowhere else, so that finding one in an
/// answer means the answer carried that customer's order.
const HOME_CUSTOMERS: Cast = [("赵本人", "13600000001"), ("钱隔壁", "13600000002")];
const AWAY_CUSTOMERS: Cast = [("孙外租", "13600000003"), ("李外租", "13600000004")];

async fn open_shop(app: &TestApp, code: &str, cast: Cast) -> Shop {
    let tenant = app.create_tenant(code).await;
    set_up_catalogue(app, &tenant).await;
    let first_list = publish_standard_list(app, &tenant).await;
    let second_list = publish_standard_list(app, &tenant).await;
    let (_, dispatcher) = sign_up(app, &tenant, "dispatch", json!({"role": "dispatcher"})).await;
    let partners = [
        create_partner(app, &tenant, "北区服务商").await,
        create_partner(app, &tenant, "南区服务商").await,
    ];
    let installers = [
        hire_for_partner(app, &tenant, "li.wei", &partners[0]).await,
        hire(app, &tenant, "wang.qiang").await,
    ];
    let manager = partner_manager(app, &tenant, "north.boss", &partners[0]).await;
    let customers = [
        sign_up_customer(app, &tenant, "customer.one", cast[0]).await,
        sign_up_customer(app, &tenant, "customer.two", cast[1]).await,
    ];
    let orders = [
        closed_order(app, &dispatcher, &customers[0], &installers[0]).await,
        closed_order(app, &dispatcher, &customers[1], &installers[1]).await,
    ];
    let body = order_for(&customers[0]);
    let open_order = order_through(app, &dispatcher, &body, &installers[0], &[]).await;
    let periods = close_two_months(app, &tenant).await;
    let tokens = [0, 1].map(|i| installers[i].token.clone());
    let statements = first_items_of(app, &tokens, "/api/v1/me/statements").await;
    let notifications = first_items_of(app, &tokens, "/api/v1/me/notifications").await;
    let (channels, events) = channels_with_events(app, &tenant).await;
    let admin = tenant.admin_token.clone();
    Shop {
        service_items: second_service_item(app, &tenant).await,
        tiers: ids_of(app, &admin, "/api/v1/admin/tiers", "code", ["T1", "T2"]).await,
        price_lists: [first_list, second_list].map(|l| text(&l["id"]).to_owned()),
        workflows: ids_of(app, &admin, "/api/v1/admin/workflows", "key", WORKFLOWS).await,
        tenant,
        dispatcher,
        manager,
        installers,
        customers,
        partners,
        orders,
        open_order,
        statements,
        disputes: Vec::new(),
        disputed_line: String::new(),
        notifications,
        channels,
        events,
        periods,
    }
}

const WORKFLOWS: [&str; 2] = ["install", "presale"];

/// A user of the role and details in `extra`; answers its id and token.
async fn sign_up(app: &TestApp, tenant: &Tenant, username: &str, extra: Value) -> (String, String) {
    let mut body = json!({"username": username, "password": PASSWORD, "name": "职员"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let id = app.create_user(tenant, body).await;
    let token = app.token(&tenant.code, username, PASSWORD).await;
    (id, token)
}

async fn sign_up_customer(
    app: &TestApp,
    tenant: &Tenant,
    username: &str,
    (name, phone): (&'static str, &'static str),
) -> Customer {
    let extra = json!({"role": "customer", "name": name, "phone": phone});
    let (id, token) = sign_up(app, tenant, username, extra).await;
    Customer {
        id,
        token,
        name,
        phone,
    }
}

/// An installation for `customer`, whose phone links the order to them.
pub fn order_for(customer: &Customer) -> Value {
    json!({"workflow": "install",
           "customer": {"name": customer.name, "phone": customer.phone,
                        "address": "深圳南山科技园"},
           "lines": [{"service_item": "AC-INSTALL", "quantity": 2, "sale_price_fen": 100000}]})
}

/// An order that `installer` completed and the dispatcher reviewed, so that
/// its earnings are posted and it is closed.
async fn closed_order(
    app: &TestApp,
    dispatcher: &str,
    customer: &Customer,
    installer: &Installer,
) -> String {
    let body = order_for(customer);
    let steps = ["accept", "arrive", "complete"];
    let id = order_through(app, dispatcher, &body, installer, &steps).await;
    act(app, dispatcher, &id, "review", json!({})).await;
    id
}

/// Closes last month (empty) and this month; answers their ids, this
/// month's first.
async fn close_two_months(app: &TestApp, tenant: &Tenant) -> [String; 2] {
    let mut ids = Vec::new();
    for span in [month(-1), this_month()] {
        let response = close(app, &tenant.admin_token, &span).await;
        assert_eq!(response.status(), StatusCode::CREATED, "closing {span:?}");
        ids.push(text(&json_of(response).await["id"]).to_owned());
    }
    [ids[1].clone(), ids[0].clone()]
}

/// The newest item of `path` as each of two callers reads it.
async fn first_items_of(app: &TestApp, tokens: &[String; 2], path: &str) -> [String; 2] {
    let mut ids = Vec::new();
    for token in tokens {
        let found = items(app, token, path).await;
        let first = found.first().unwrap_or_else(|| panic!("{path} is empty"));
        ids.push(text(&first["id"]).to_owned());
    }
    [ids[0].clone(), ids[1].clone()]
}

/// Two channels, each of which has delivered one event that does nothing.
async fn channels_with_events(app: &TestApp, tenant: &Tenant) -> ([Channel; 2], [String; 2]) {
    let channels = [
        register_channel(app, tenant, "天猫旗舰店").await,
        register_channel(app, tenant, "京东自营").await,
    ];
    let mut events = Vec::new();
    for (i, channel) in channels.iter().enumerate() {
        let event = json!({"type": "shop.note", "data": {"note": "矩阵"}});
        let response = deliver(app, channel, &format!("msg_matrix_{i}"), &event).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        events.push(text(&json_of(response).await["event_id"]).to_owned());
    }
    (channels, [events[0].clone(), events[1].clone()])
}

/// The catalogue's item and a second one.
async fn second_service_item(app: &TestApp, tenant: &Tenant) -> [String; 2] {
    let item = json!({"code": "AC-REPAIR", "name": "空调维修", "unit": "次"});
    let created = app
        .post("/api/v1/admin/service-items", &tenant.admin_token, &item)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let path = "/api/v1/admin/service-items";
    let codes = ["AC-INSTALL", "AC-REPAIR"];
    ids_of(app, &tenant.admin_token, path, "code", codes).await
}

/// The ids of the listed objects whose `field` is each of `values`.
async fn ids_of(
    app: &TestApp,
    token: &str,
    path: &str,
    field: &str,
    values: [&str; 2],
) -> [String; 2] {
    let listed = items(app, token, &format!("{path}?limit=100")).await;
    values.map(|value| {
        let found = listed.iter().find(|item| item[field] == value);
        let found = found.unwrap_or_else(|| panic!("{path} has no {field} {value}"));
        text(&found["id"]).to_owned()
    })
}
