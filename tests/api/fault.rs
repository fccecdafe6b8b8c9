//! The fault test, which is also the soak test. Paid orders from a shop
//! flow through two API processes (this test's own and a `scrm serve
//! --no-worker` child) and three `scrm-worker` processes, while workers and
//! the API child are SIGKILLed, Redis is restarted empty and flushed, and
//! the database's connections are dropped. Nothing may be lost, and
//! nothing may happen twice.
//!
//! It runs when `SCRM_TEST_POSTGRES_URL` is set and `redis-server` is on
//! `PATH`. It starts a Redis of its own on a free port, so that restarting
//! and flushing it touches no other test, and it drops only its own
//! database's connections. The suite runs it at a modest size;
//! `bench/soak.sh` runs it long, through the `SCRM_SOAK_*` variables that
//! [`Size::from_env`] reads.

mod checks;
mod faults;
mod load;
mod processes;

use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use scrm_service::channels::signature::SigningSecret;

use self::checks::{UNSETTLED, expect, scalar, stream_state, until_drained};
use self::faults::{FaultCounts, plan, strike, strike_during_load};
use self::load::{Delivery, Sent, Shop, Tally, distinct_ids, order_no, refunded_body};
use self::processes::{Cluster, LogFolder, PrivateRedis, redis_server_binary};
use crate::helpers::{PASSWORD, Setup, Tenant, TestApp, json_of, postgres_url, say};
use crate::pricing::{publish_standard_list, set_up_catalogue};

const WORKERS: usize = 3;
const INSTALLER: &str = "li.wei";
/// What one unit earns at the shop's address (tier T1).
const UNIT_FEN: i64 = 12_000;

/// The size of a run: the suite's by default, and from these variables
/// when set (`bench/soak.sh` sets them for the long run).
struct Size {
    /// `SCRM_SOAK_EVENTS`: paid orders, each delivered once, and one in
    /// ten delivered again.
    orders: usize,
    /// `SCRM_SOAK_RATE`: deliveries started a second, or as fast as
    /// they go when 0.
    rate: Option<f64>,
    faults: FaultCounts,
    /// `SCRM_SOAK_DRAIN_LIMIT_SECS`: the longest the backlog may take to
    /// drain after the last fault.
    drain_limit: Duration,
}

impl Size {
    fn from_env() -> Self {
        let orders = env_number("SCRM_SOAK_EVENTS", 2_000);
        assert!(orders >= 20, "SCRM_SOAK_EVENTS must be at least 20");
        let rate = env_number("SCRM_SOAK_RATE", 150);
        Self {
            orders,
            rate: (rate > 0).then_some(rate as f64),
            faults: FaultCounts {
                worker_kills: env_number("SCRM_SOAK_WORKER_KILLS", 3),
                api_kills: env_number("SCRM_SOAK_API_KILLS", 1),
                redis_restarts: env_number("SCRM_SOAK_REDIS_RESTARTS", 1),
                redis_flushes: env_number("SCRM_SOAK_REDIS_FLUSHES", 1),
                connection_drops: env_number("SCRM_SOAK_PG_DROPS", 3),
            },
            drain_limit: Duration::from_secs(env_number("SCRM_SOAK_DRAIN_LIMIT_SECS", 240) as u64),
        }
    }
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {text:?}")),
        _ => default,
    }
}

/// The tenant the shop sells for: its catalogue and price list, an
/// installer, and the shop's channel.
struct Fixture {
    tenant: Tenant,
    installer_id: String,
    channel_id: String,
    secret: SigningSecret,
}

impl Fixture {
    async fn set_up(app: &TestApp) -> Self {
        let tenant = app.create_tenant("acme").await;
        set_up_catalogue(app, &tenant).await;
        publish_standard_list(app, &tenant).await;
        let (installer_id, _) = app.create_installer(&tenant, INSTALLER).await;
        let channel = json_of(
            app.post(
                "/api/v1/admin/webhook-channels",
                &tenant.admin_token,
                &json!({"name": "天猫旗舰店"}),
            )
            .await,
        )
        .await;
        let channel_id = channel["id"].as_str().expect("a channel id").to_owned();
        let secret = SigningSecret::parse(channel["secret"].as_str().expect("a secret"))
            .expect("a whsec_ secret");
        Self {
            tenant,
            installer_id,
            channel_id,
            secret,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_orders_survive_killed_processes_and_lost_connections_exactly_once() {
    if postgres_url().is_none() {
        say("SKIPPED fault test: set SCRM_TEST_POSTGRES_URL");
        return;
    }
    let Some(redis_server) = redis_server_binary() else {
        say("SKIPPED fault test: it starts a Redis of its own, and redis-server is not on PATH");
        return;
    };
    let size = Size::from_env();
    let logs = LogFolder::new();

    // Arrange: a Redis of the test's own, this test's API (serving only),
    // the API child, the workers, a shop and the deliveries.
    let redis = PrivateRedis::start(redis_server, &logs).await;
    let app = TestApp::spawn_with(Setup {
        redis_url: Some(redis.url()),
        no_worker: true,
        // The run measures survival, not the allowance.
        webhook_rate_limit: Some(u32::MAX),
        ..Setup::default()
    })
    .await;
    let fixture = Fixture::set_up(&app).await;
    let mut cluster = Cluster::start(redis, &app, WORKERS, &logs).await;
    let shop = Shop::new(
        [app.address.clone(), cluster.api_address()],
        fixture.channel_id.clone(),
        fixture.secret.clone(),
    );
    let deliveries = load::shuffled_deliveries(size.orders);
    say_size(&size, &deliveries);

    // Act: send everything while the faults strike; wait for the backlog.
    let started = Instant::now();
    let (sent, last_fault) = send_under_faults(&shop, &deliveries, &size, &mut cluster, &app).await;
    let load_time = started.elapsed();
    let drained = until_drained(&app, &cluster.redis.client(), last_fault, size.drain_limit).await;
    say_load(&Tally::of(&sent), load_time, drained, size.drain_limit);

    // Assert: every delivery answered, every order once, nothing left.
    assert_every_delivery_answered(&sent);
    assert_each_order_once(&app, size.orders, distinct_ids(&deliveries)).await;
    assert_stream_empty(&app, &cluster).await;

    // Act again: settle twenty orders, then refund ten of them, each refund
    // delivered twice under two webhook-ids, with a worker killed meanwhile.
    refund_ten_settled_orders(&app, &fixture, &shop, &mut cluster).await;

    // Assert: no earnings line twice, the ledger sums to the ten orders that
    // kept their earnings, and every process stops cleanly.
    assert_ledger_balances(&app).await;
    let exits = cluster.terminate();
    assert!(
        exits.iter().all(|(_, ok)| *ok),
        "every process exits 0 on SIGTERM: {exits:?}"
    );
    say("fault test: check passed: every worker and the API process exit 0 on SIGTERM");
}

/// Sends every delivery while the planned faults strike; answers how each
/// delivery ended, and when the last fault struck.
async fn send_under_faults(
    shop: &Shop,
    deliveries: &[Delivery],
    size: &Size,
    cluster: &mut Cluster,
    app: &TestApp,
) -> (Vec<Sent>, Instant) {
    let plan = plan(&size.faults, WORKERS);
    let done = AtomicUsize::new(0);
    tokio::join!(
        shop.send_all(deliveries, size.rate, &done),
        strike_during_load(&plan, &done, deliveries.len(), cluster, &app.db)
    )
}

fn say_size(size: &Size, deliveries: &[Delivery]) {
    let again = deliveries.len() - size.orders;
    let pace = size
        .rate
        .map_or("as fast as they go".to_owned(), |r| format!("{r} a second"));
    say(&format!(
        "fault test: {} paid orders in {} deliveries ({again} delivered again, {} of them \
         under a new webhook-id), started {pace} by {} senders, to 2 API processes; \
         {WORKERS} workers",
        size.orders,
        deliveries.len(),
        distinct_ids(deliveries) - size.orders,
        load::SENDERS,
    ));
    say(&format!("fault test: faults planned: {}", size.faults));
}

fn say_load(tally: &Tally, load_time: Duration, drained: Duration, limit: Duration) {
    say(&format!(
        "fault test: load sent in {:.1}s: {} answered 202, {} answered 200, {} unanswered",
        load_time.as_secs_f64(),
        tally.accepted,
        tally.duplicates,
        tally.unanswered,
    ));
    say(&format!(
        "fault test: {} deliveries were sent again to the other API process: {} sends \
         found it unreachable, {} were answered 5xx ({} sends in all)",
        tally.resent, tally.unreachable, tally.server_errors, tally.tries
    ));
    say(&format!(
        "fault test: backlog drained {:.1}s after the last fault (limit {}s)",
        drained.as_secs_f64(),
        limit.as_secs()
    ));
}

fn assert_every_delivery_answered(sent: &[Sent]) {
    let unanswered: Vec<_> = sent.iter().filter(|s| !s.answered()).take(5).collect();
    assert!(
        unanswered.is_empty(),
        "every delivery ends with 202 or 200; some did not: {unanswered:?}"
    );
    say(&format!(
        "fault test: check passed: all {} deliveries ended with 202 or 200",
        sent.len()
    ));
}

async fn assert_each_order_once(app: &TestApp, orders: usize, webhook_ids: usize) {
    let orders = orders as i64;
    expect(
        app,
        "SELECT COUNT(*) FROM work_orders",
        orders,
        "work orders",
    )
    .await;
    expect(
        app,
        "SELECT COUNT(DISTINCT external_order_no) FROM work_orders",
        orders,
        "order numbers with a work order: none lost",
    )
    .await;
    expect(
        app,
        "SELECT COUNT(*) FROM webhook_events",
        webhook_ids as i64,
        "inbox events, one per webhook-id",
    )
    .await;
    expect(app, UNSETTLED, 0, "inbox events left accepted or failed").await;
    expect(
        app,
        "SELECT COUNT(*) FROM webhook_events WHERE status = 'dead'",
        0,
        "dead inbox events",
    )
    .await;
}

async fn assert_stream_empty(app: &TestApp, cluster: &Cluster) {
    let (pending, length) = stream_state(&cluster.redis.client(), &app.redis_stream).await;
    assert_eq!(
        (pending, length),
        (0, 0),
        "jobs pending, and entries in the stream"
    );
    say("fault test: check passed: no job pending, and nothing in the stream (0)");
}

async fn refund_ten_settled_orders(
    app: &TestApp,
    fixture: &Fixture,
    shop: &Shop,
    cluster: &mut Cluster,
) {
    // Signed in afresh: a long run outlives the first access tokens.
    let admin = app.token(&fixture.tenant.code, "admin", PASSWORD).await;
    let installer = app.token(&fixture.tenant.code, INSTALLER, PASSWORD).await;
    for n in 0..20 {
        let id = order_id(app, &order_no(n)).await;
        settle(app, &admin, &installer, &fixture.installer_id, &id).await;
    }
    let refunds: Vec<Delivery> = (0..10)
        .flat_map(|n| {
            ["a", "b"].map(|copy| Delivery {
                webhook_id: format!("refund-{n}-{copy}"),
                body: refunded_body(&order_no(n)),
            })
        })
        .collect();
    let (first, second) = refunds.split_at(refunds.len() / 2);
    let done = AtomicUsize::new(0);
    let mut sent = shop.send_all(first, None, &done).await;
    let what = strike(faults::Fault::KillWorker(0), cluster, &app.db).await;
    say(&format!("fault test: during the refunds: {what}"));
    sent.extend(shop.send_all(second, None, &done).await);
    assert_every_delivery_answered(&sent);
    until_drained(
        app,
        &cluster.redis.client(),
        Instant::now(),
        Duration::from_secs(240),
    )
    .await;
}

async fn assert_ledger_balances(app: &TestApp) {
    expect(
        app,
        "SELECT COUNT(*) FROM (SELECT work_order_id, line_no, entry FROM earnings_lines \
         GROUP BY work_order_id, line_no, entry HAVING COUNT(*) > 1) AS doubled",
        0,
        "earnings lines posted twice",
    )
    .await;
    expect(
        app,
        "SELECT COUNT(*) FROM earnings_lines WHERE entry = 'reversal'",
        10,
        "reversals, one per refunded order",
    )
    .await;
    let kept: i64 = (10..20).map(|n| UNIT_FEN * (n % 3 + 1)).sum();
    expect(
        app,
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM earnings_lines",
        kept,
        "ledger sum in fen, the ten orders that kept their earnings",
    )
    .await;
    expect(
        app,
        "SELECT COUNT(*) FROM work_orders WHERE status = 'cancelled'",
        10,
        "cancelled orders",
    )
    .await;
    expect(
        app,
        "SELECT COUNT(*) FROM webhook_events WHERE status <> 'processed'",
        0,
        "inbox events not processed, refunds included",
    )
    .await;
}

async fn order_id(app: &TestApp, order_no: &str) -> String {
    scalar(
        &app.db,
        "SELECT CAST(id AS TEXT) FROM work_orders WHERE external_order_no = $1",
        [order_no.into()],
    )
    .await
}

/// Takes one order from paid to completed, which posts its earnings.
async fn settle(app: &TestApp, admin: &str, installer: &str, installer_id: &str, id: &str) {
    let act = |token: &str, action: &str, body: Value| {
        let path = format!("/api/v1/work-orders/{id}/actions/{action}");
        let token = token.to_owned();
        async move { app.post(&path, &token, &body).await.status() }
    };
    assert_eq!(
        act(admin, "assign", json!({"assignee_id": installer_id})).await,
        StatusCode::OK
    );
    for action in ["accept", "arrive", "complete"] {
        assert_eq!(act(installer, action, json!({})).await, StatusCode::OK);
    }
}
