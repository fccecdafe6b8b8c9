//! The fault test: paid orders from a channel flow through real
//! `scrm-worker` processes on the machine's PostgreSQL and Redis while
//! workers are SIGKILLed and Redis is flushed. Nothing may be lost and
//! nothing may happen twice.
//!
//! It runs only when both `SCRM_TEST_POSTGRES_URL` and
//! `SCRM_TEST_REDIS_URL` are set. Its Redis is database 9 of that server,
//! so that the flush touches no other test's stream.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use scrm_service::channels::signature::SigningSecret;

use crate::helpers::{Setup, TestApp, json_of, postgres_url, redis_url, say};
use crate::pricing::{publish_standard_list, set_up_catalogue};

const ORDERS: usize = 2_000;
const WORKERS: usize = 3;
/// Deliveries in flight at once.
const SENDERS: usize = 16;
/// The longest the backlog may take to drain after the last fault.
const DRAIN_LIMIT: Duration = Duration::from_secs(240);
/// A Shenzhen address: tier T1, where one unit earns 12,000 fen.
const ADDRESS: &str = "广东省深圳市南山区科技园科苑路15号";
const UNIT_FEN: i64 = 12_000;

/// The `scrm-worker` binary that `cargo test --workspace` builds beside
/// this test binary (the worker package's own tests need it).
fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary sits in target/<profile>/deps");
    let binary = dir.join("scrm-worker");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let built = Command::new(cargo)
            .args(["build", "-p", "scrm-worker"])
            .status()
            .expect("cargo runs");
        assert!(built.success(), "scrm-worker builds");
    }
    binary
}

/// The test's Redis URL, on database 9 of the suite's server.
fn fault_redis_url(base: &str) -> String {
    let trimmed = base.trim_end_matches('/');
    let without_db = match trimmed.rsplit_once('/') {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => head,
        _ => trimmed,
    };
    format!("{without_db}/9")
}

struct Workers {
    app_database: String,
    redis: String,
    stream: String,
    running: Vec<Child>,
}

impl Workers {
    fn start(&self) -> Child {
        Command::new(worker_binary())
            .env("DATABASE_URL", &self.app_database)
            .env("REDIS_URL", &self.redis)
            .env("REDIS_STREAM", &self.stream)
            // Small pools: the suite's other tests share the server's
            // hundred connections with these workers.
            .env("DATABASE_POOL_SIZE", "4")
            .env("RUST_LOG", "warn")
            .env_remove("WECHAT_APPID")
            .env_remove("WECHAT_SECRET")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scrm-worker starts")
    }

    /// SIGKILLs worker `n` and starts a new one in its place.
    fn kill_and_restart(&mut self, n: usize) {
        let victim = &mut self.running[n];
        victim.kill().expect("the worker is killed");
        let _ = victim.wait();
        self.running[n] = self.start();
    }

    /// Asks every worker to stop with SIGTERM; answers whether each exited 0.
    fn terminate_all(&mut self) -> Vec<bool> {
        for child in &self.running {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        self.running
            .iter_mut()
            .map(|child| child.wait().is_ok_and(|status| status.success()))
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One delivery: its `webhook-id` and body.
struct Delivery {
    webhook_id: String,
    body: Vec<u8>,
}

fn paid_body(n: usize) -> Vec<u8> {
    json!({"type": "order.paid", "data": {
        "order_no": format!("SHOP-{n:05}"),
        "paid_at": "2026-12-01T08:00:00Z",
        "customer": {"name": "王芳", "phone": "13912345678", "address": ADDRESS},
        "items": [{"service_item": "AC-INSTALL", "quantity": n % 3 + 1, "sale_price_fen": 100000}]
    }})
    .to_string()
    .into_bytes()
}

fn refunded_body(order_no: &str) -> Vec<u8> {
    json!({"type": "order.refunded", "data": {"order_no": order_no}})
        .to_string()
        .into_bytes()
}

/// Every order once, plus 10 % again: half under the same `webhook-id`,
/// half under a new one, in random order.
fn shuffled_deliveries() -> Vec<Delivery> {
    let mut deliveries: Vec<Delivery> = (0..ORDERS)
        .map(|n| Delivery {
            webhook_id: format!("evt-{n}"),
            body: paid_body(n),
        })
        .collect();
    for n in (0..ORDERS).step_by(10) {
        let webhook_id = if n % 20 == 0 {
            format!("evt-{n}")
        } else {
            format!("evt-{n}-again")
        };
        deliveries.push(Delivery {
            webhook_id,
            body: paid_body(n),
        });
    }
    deliveries.shuffle(&mut rand::rng());
    deliveries
}

async fn post_signed(
    app: &TestApp,
    channel: &str,
    secret: &SigningSecret,
    delivery: &Delivery,
) -> StatusCode {
    let timestamp = Utc::now().timestamp();
    let signature = secret.sign(&delivery.webhook_id, timestamp, &delivery.body);
    app.client
        .post(app.url(&format!("/api/v1/webhooks/{channel}")))
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.body.clone())
        .send()
        .await
        .expect("the webhook is sent")
        .status()
}

/// Posts a batch of deliveries, several at once; answers their statuses.
async fn post_all(
    app: &TestApp,
    channel: &str,
    secret: &SigningSecret,
    batch: &[Delivery],
) -> Vec<StatusCode> {
    futures_util::stream::iter(batch)
        .map(|delivery| post_signed(app, channel, secret, delivery))
        .buffer_unordered(SENDERS)
        .collect()
        .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .expect("the count runs")
        .expect("a count row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

/// Waits until `sql` counts zero; answers how long that took.
async fn until_zero(app: &TestApp, sql: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let left = count(app, sql).await;
        if left == 0 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{left} rows still match after {limit:?}: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn pending_jobs(redis: &redis::Client, stream: &str) -> (usize, usize) {
    let mut connection = redis
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg("scrm-workers")
        .query_async(&mut connection)
        .await
        .unwrap_or_default();
    let length: usize = redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut connection)
        .await
        .unwrap_or(0);
    (pending.count(), length)
}

async fn flush(redis: &redis::Client) {
    let mut connection = redis
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut connection)
        .await
        .expect("the test's Redis database is flushed");
}

async fn order_id(app: &TestApp, order_no: &str) -> String {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT CAST(id AS TEXT) FROM work_orders WHERE external_order_no = $1",
            [order_no.into()],
        ))
        .await
        .expect("the lookup runs")
        .expect("the order exists");
    row.try_get_by_index::<String>(0).expect("an id")
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_orders_survive_killed_workers_and_a_flushed_redis_without_doubling() {
    let (Some(_), Some(base_redis)) = (postgres_url(), redis_url()) else {
        say("SKIPPED fault test: set SCRM_TEST_POSTGRES_URL and SCRM_TEST_REDIS_URL");
        return;
    };
    // Arrange: an API process that only serves, three workers, a channel.
    let redis = fault_redis_url(&base_redis);
    let app = TestApp::spawn_with(Setup {
        redis_url: Some(redis.clone()),
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let redis_client = redis::Client::open(redis.as_str()).expect("a Redis URL");
    flush(&redis_client).await;
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(&app, &tenant).await;
    publish_standard_list(&app, &tenant).await;
    let (installer_id, installer) = app.create_installer(&tenant, "li.wei").await;
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
    let mut workers = Workers {
        app_database: app.database_url.clone(),
        redis: redis.clone(),
        stream: app.redis_stream.clone(),
        running: Vec::new(),
    };
    workers.running = (0..WORKERS).map(|_| workers.start()).collect();
    let deliveries = shuffled_deliveries();

    // Act: deliver in five parts, with a fault between each two.
    let part = deliveries.len().div_ceil(5);
    let mut statuses = Vec::new();
    for (n, batch) in deliveries.chunks(part).enumerate() {
        statuses.extend(post_all(&app, &channel_id, &secret, batch).await);
        match n {
            0 => workers.kill_and_restart(0),
            1 => flush(&redis_client).await,
            2 => workers.kill_and_restart(1),
            3 => workers.kill_and_restart(2),
            _ => {}
        }
    }
    let drained = until_zero(
        &app,
        "SELECT COUNT(*) FROM webhook_events WHERE status <> 'processed'",
        DRAIN_LIMIT,
    )
    .await;
    say(&format!(
        "fault test: backlog drained {drained:?} after the last fault"
    ));

    // Assert: every delivery answered, each order once, nothing pending.
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let repeated = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(accepted, ORDERS + ORDERS / 20, "one 202 per webhook-id");
    assert_eq!(repeated, ORDERS / 20, "a repeated webhook-id answers 200");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM work_orders").await,
        ORDERS as i64
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(DISTINCT external_order_no) FROM work_orders"
        )
        .await,
        ORDERS as i64
    );
    let started = Instant::now();
    loop {
        let (pending, length) = pending_jobs(&redis_client, &app.redis_stream).await;
        if pending == 0 && length == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{pending} jobs still pending, {length} in the stream"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Act again: settle twenty orders, then refund ten of them, each refund
    // delivered twice under two webhook-ids, with a worker killed meanwhile.
    for n in 0..20 {
        let id = order_id(&app, &format!("SHOP-{n:05}")).await;
        settle(&app, &tenant.admin_token, &installer, &installer_id, &id).await;
    }
    let refunds: Vec<Delivery> = (0..10)
        .flat_map(|n| {
            ["a", "b"].map(|copy| Delivery {
                webhook_id: format!("refund-{n}-{copy}"),
                body: refunded_body(&format!("SHOP-{n:05}")),
            })
        })
        .collect();
    let (first, second) = refunds.split_at(refunds.len() / 2);
    post_all(&app, &channel_id, &secret, first).await;
    workers.kill_and_restart(0);
    post_all(&app, &channel_id, &secret, second).await;
    until_zero(
        &app,
        "SELECT COUNT(*) FROM webhook_events WHERE status <> 'processed'",
        DRAIN_LIMIT,
    )
    .await;

    // Assert: no earnings line twice, and the ledger sums to the ten orders
    // that kept their earnings.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM (SELECT work_order_id, line_no, entry FROM earnings_lines \
             GROUP BY work_order_id, line_no, entry HAVING COUNT(*) > 1) AS doubled"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM earnings_lines WHERE entry = 'reversal'"
        )
        .await,
        10
    );
    let kept: i64 = (10..20).map(|n| UNIT_FEN * (n % 3 + 1)).sum();
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM earnings_lines"
        )
        .await,
        kept
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM work_orders WHERE status = 'cancelled'"
        )
        .await,
        10
    );
    let exits = workers.terminate_all();
    assert!(
        exits.iter().all(|ok| *ok),
        "every worker exits 0 on SIGTERM: {exits:?}"
    );
}
