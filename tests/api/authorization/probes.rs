//! Guessing ids: every route with an id is asked, by the caller most
//! likely to be let in, about ids that name nothing of theirs. Random ids,
//! ids one step from real ones, the other tenant's ids of every kind and
//! in every spelling a UUID parser accepts, and strings that are no id at
//! all must each answer as an object nobody has: 404, or, for the foreign
//! object of the route's own kind, what the matrix expects for it.

use futures_util::StreamExt;
use uuid::Uuid;

use super::matrix::{Caller, Check, callers, send};
use super::routes::{NOT_FOUND, Route, UNAUTHORIZED};
use super::world::{FAMILIES, Family, World};
use crate::helpers::TestApp;

/// How many probes are in flight at once.
const CONCURRENCY: usize = 16;

/// One guess at one route.
struct Probe<'a> {
    route: &'a Route,
    caller: &'a Caller,
    id: String,
    expected: u16,
}

/// Sends every probe; answers how many it sent and every answer that was
/// not as expected.
pub async fn run(app: &TestApp, world: &World, table: &[Route]) -> (usize, Vec<String>) {
    let callers = callers(world);
    let everything = &callers[callers.len() - 1].unseen;
    let mut probes = Vec::new();
    for route in table {
        let Some(family) = route.family else {
            continue;
        };
        let (caller, foreign) = prober(route, &callers);
        for (id, expected) in guesses(world, family, foreign) {
            probes.push(Probe {
                route,
                caller,
                id,
                expected,
            });
        }
    }
    let sent = probes.len();
    let failures = futures_util::stream::iter(probes)
        .map(|probe| async move {
            let url = probe.route.url(Some(&encode(&probe.id)));
            let response = send(app, probe.route, &url, probe.caller, world).await;
            let check = Check {
                expected: probe.expected,
                shown: everything,
                refused: everything,
            };
            let failure = check.inspect(response).await?;
            let (method, role) = (&probe.route.method, probe.caller.role);
            Some(format!("{method} {url} as {role}: {failure}"))
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|failure| async move { failure })
        .collect::<Vec<String>>()
        .await;
    (sent, failures)
}

/// The first role that reaches its own object on this route, or nobody
/// where no role does; and what that caller gets for the foreign object.
fn prober<'a>(route: &Route, callers: &'a [Caller]) -> (&'a Caller, u16) {
    let reaching = route
        .roles
        .iter()
        .position(|answers| ![NOT_FOUND, UNAUTHORIZED].contains(&answers[0]));
    match reaching {
        Some(i) => (&callers[i], route.roles[i][2]),
        None => (&callers[callers.len() - 1], route.anonymous),
    }
}

/// Every guess at an id of `family`, with the status it must get.
fn guesses(world: &World, family: Family, foreign: u16) -> Vec<(String, u16)> {
    let [own, sibling, away] = world.targets(family);
    let mut guesses: Vec<(String, u16)> = (0..8)
        .map(|_| (Uuid::new_v4().to_string(), NOT_FOUND))
        .collect();
    for real in [&own, &sibling, &away] {
        guesses.extend(neighbours(real).into_iter().map(|id| (id, NOT_FOUND)));
    }
    guesses.extend(spellings(&away).into_iter().map(|id| (id, foreign)));
    for other in FAMILIES.iter().filter(|f| !kin(**f, family)) {
        let ids = world.away.pair(*other).into_iter();
        let ids = ids.chain(world.home.pair(*other));
        guesses.extend(ids.filter(|id| !id.is_empty()).map(|id| (id, NOT_FOUND)));
    }
    guesses.extend(malformed(&own).into_iter().map(|id| (id, NOT_FOUND)));
    guesses
}

/// Whether ids of the two families may name the same object: customers are
/// users, so an admin rightly finds a customer's id among the users.
fn kin(a: Family, b: Family) -> bool {
    let people = [Family::User, Family::Customer];
    a == b || (people.contains(&a) && people.contains(&b))
}

/// Ids one step away from a real one, and one with a bit flipped inside its
/// random part.
fn neighbours(real: &str) -> Vec<String> {
    let Ok(uuid) = Uuid::parse_str(real) else {
        return Vec::new();
    };
    let n = uuid.as_u128();
    [n.wrapping_add(1), n.wrapping_sub(1), n ^ (1 << 70)]
        .into_iter()
        .map(|n| Uuid::from_u128(n).to_string())
        .collect()
}

/// The same id as a UUID parser also reads it.
fn spellings(real: &str) -> Vec<String> {
    let Ok(uuid) = Uuid::parse_str(real) else {
        return Vec::new();
    };
    vec![
        real.to_uppercase(),
        uuid.simple().to_string(),
        uuid.braced().to_string(),
        uuid.urn().to_string(),
    ]
}

/// Strings that are not ids, some of them nearly the caller's own.
fn malformed(own: &str) -> Vec<String> {
    let mut strings: Vec<String> = [
        "0",
        "1",
        "-1",
        "null",
        "undefined",
        "me",
        "' OR '1'='1",
        "1; DROP TABLE users",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "\u{0}",
        "客户",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    strings.push("a".repeat(300));
    strings.push(own[..own.len().saturating_sub(1)].to_owned());
    strings.push(format!("{own}0"));
    strings.push(format!(" {own}"));
    strings.push(own.replacen(|c: char| c.is_ascii_hexdigit(), "g", 1));
    strings
}

/// Percent-encodes everything but letters, digits and `-`, so that each
/// guess stays one path segment.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
