//! Runs the table: every route, as every role and as nobody, about every
//! object, and reads each answer for its status and for what it must not
//! carry.

use reqwest::{Response, StatusCode};

use super::routes::{NOT_FOUND, Route};
use super::world::World;
use crate::helpers::{TestApp, content_type_of};

/// Who sends a request, and what its answers must never contain.
pub struct Caller {
    pub role: &'static str,
    pub token: Option<String>,
    /// Strings no successful answer to this caller may contain.
    pub unseen: Vec<String>,
}

/// The five roles of the home tenant, then a caller without a token. Staff
/// may read all of their tenant; the installer, the firm's manager and the
/// customer only their own party's objects.
pub fn callers(world: &World) -> Vec<Caller> {
    let home = &world.home;
    let foreign = world.foreign_markers();
    let mut outsider = foreign.clone();
    outsider.extend(world.sibling_markers());
    let mut nobody = outsider.clone();
    nobody.extend(world.own_markers());
    let caller = |role, token: &String, unseen: &Vec<String>| Caller {
        role,
        token: Some(token.clone()),
        unseen: unseen.clone(),
    };
    vec![
        caller("admin", &home.tenant.admin_token, &foreign),
        caller("dispatcher", &home.dispatcher, &foreign),
        caller("installer", &home.installers[0].token, &outsider),
        caller("partner manager", &home.manager, &outsider),
        caller("customer", &home.customers[0].token, &outsider),
        Caller {
            role: "no token",
            token: None,
            unseen: nobody,
        },
    ]
}

/// Sends every cell of the table; answers how many it sent and every
/// answer that was not as expected.
pub async fn run(app: &TestApp, world: &World, table: &[Route]) -> (usize, Vec<String>) {
    let callers = callers(world);
    let everything = &callers[callers.len() - 1].unseen;
    let mut failures = Vec::new();
    let mut cells = 0;
    for route in table {
        let targets = route.family.map(|family| world.targets(family));
        for (i, caller) in callers.iter().enumerate() {
            let answers = route.roles.get(i).copied();
            let answers = answers.unwrap_or([route.anonymous; 3]);
            let shown = if route.is_public() {
                &callers[2].unseen
            } else {
                &caller.unseen
            };
            let objects: Vec<Option<&str>> = match &targets {
                Some(ids) => ids.iter().map(|id| Some(id.as_str())).collect(),
                None => vec![None],
            };
            for (k, target) in objects.into_iter().enumerate() {
                cells += 1;
                let url = route.url(target);
                let response = send(app, route, &url, caller, world).await;
                let check = Check {
                    expected: answers[k],
                    shown,
                    refused: everything,
                };
                if let Some(failure) = check.inspect(response).await {
                    failures.push(format!(
                        "{} {url} as {}: {failure}",
                        route.method, caller.role
                    ));
                }
            }
        }
    }
    (cells, failures)
}

pub async fn send(
    app: &TestApp,
    route: &Route,
    url: &str,
    caller: &Caller,
    world: &World,
) -> Response {
    let body = (route.body)(world);
    app.request(
        route.method.clone(),
        url,
        caller.token.as_deref(),
        body.as_ref(),
    )
    .await
}

/// What one answer must be.
pub struct Check<'a> {
    pub expected: u16,
    /// What a successful answer must not contain.
    pub shown: &'a [String],
    /// What a refusal must not contain.
    pub refused: &'a [String],
}

impl Check<'_> {
    /// Answers what is wrong with `response`, if anything.
    pub async fn inspect(&self, response: Response) -> Option<String> {
        let status = response.status();
        let content_type = content_type_of(&response);
        let body = response.text().await.unwrap_or_default();
        let unseen = if status.is_success() {
            self.shown
        } else {
            self.refused
        };
        if let Some(leak) = unseen.iter().find(|marker| body.contains(marker.as_str())) {
            return Some(format!("{status} carries {leak}: {}", clip(&body)));
        }
        if status.as_u16() != self.expected {
            return Some(format!(
                "expected {}, got {status}: {}",
                self.expected,
                clip(&body)
            ));
        }
        refusal_shape(status, &content_type, &body)
    }
}

/// A refusal is problem+json, and a 404 is the plain `not_found` that an
/// object nobody has would get.
fn refusal_shape(status: StatusCode, content_type: &str, body: &str) -> Option<String> {
    if status.is_success() {
        return None;
    }
    if content_type != "application/problem+json" {
        return Some(format!("{status} is {content_type}: {}", clip(body)));
    }
    let not_found = r#""code":"not_found""#;
    if status.as_u16() == NOT_FOUND && !body.contains(not_found) {
        return Some(format!("404 is not the plain not_found: {}", clip(body)));
    }
    None
}

fn clip(body: &str) -> String {
    body.chars().take(200).collect()
}
