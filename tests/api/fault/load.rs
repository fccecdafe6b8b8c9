//! The load: a shop's signed deliveries, sent to two API processes as if to
//! one address behind a balancer. A delivery that fails is sent again to
//! the other process, unchanged, as a shop's retry would be.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::json;

use scrm_service::channels::signature::SigningSecret;

/// Deliveries in flight at once.
pub const SENDERS: usize = 16;
/// A Shenzhen address: tier T1, where one unit earns 12,000 fen.
const ADDRESS: &str = "广东省深圳市南山区科技园科苑路15号";
/// How long one delivery is tried before the shop gives up on it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// One delivery: its `webhook-id` and body.
pub struct Delivery {
    pub webhook_id: String,
    pub body: Vec<u8>,
}

/// The order number of paid order `n`.
pub fn order_no(n: usize) -> String {
    format!("SHOP-{n:05}")
}

fn paid_body(n: usize) -> Vec<u8> {
    json!({"type": "order.paid", "data": {
        "order_no": order_no(n),
        "paid_at": "2026-12-01T08:00:00Z",
        "customer": {"name": "王芳", "phone": "13912345678", "address": ADDRESS},
        "items": [{"service_item": "AC-INSTALL", "quantity": n % 3 + 1, "sale_price_fen": 100000}]
    }})
    .to_string()
    .into_bytes()
}

pub fn refunded_body(order_no: &str) -> Vec<u8> {
    json!({"type": "order.refunded", "data": {"order_no": order_no}})
        .to_string()
        .into_bytes()
}

/// Every order once, plus one in ten again: half of those under the same
/// `webhook-id`, half under a new one, all in random order.
pub fn shuffled_deliveries(orders: usize) -> Vec<Delivery> {
    let mut deliveries: Vec<Delivery> = (0..orders)
        .map(|n| Delivery {
            webhook_id: format!("evt-{n}"),
            body: paid_body(n),
        })
        .collect();
    for n in (0..orders).step_by(10) {
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

/// How many distinct `webhook-id`s the deliveries carry: the inbox rows
/// they must leave.
pub fn distinct_ids(deliveries: &[Delivery]) -> usize {
    deliveries
        .iter()
        .map(|d| d.webhook_id.as_str())
        .collect::<HashSet<_>>()
        .len()
}

/// How one delivery ended: the last status (none if no process ever
/// answered), how many times it was sent, and why the sends before the
/// last failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    pub status: Option<StatusCode>,
    pub tries: u32,
    /// Sends refused, cut off or timed out.
    pub unreachable: u32,
    /// Sends answered 5xx.
    pub server_errors: u32,
}

impl Sent {
    /// Stored now (202) or before (200): the only endings a shop accepts.
    pub fn answered(&self) -> bool {
        matches!(self.status, Some(StatusCode::ACCEPTED | StatusCode::OK))
    }
}

/// A shop with one channel, sending to two API processes.
pub struct Shop {
    client: reqwest::Client,
    endpoints: [String; 2],
    channel_id: String,
    secret: SigningSecret,
}

impl Shop {
    pub fn new(endpoints: [String; 2], channel_id: String, secret: SigningSecret) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        Self {
            client,
            endpoints,
            channel_id,
            secret,
        }
    }

    /// Sends every delivery, [`SENDERS`] at a time and alternately to each
    /// process, counting each one finished in `done`. With a `rate`, the
    /// `n`-th delivery starts no earlier than `n / rate` seconds in, so
    /// that the load, and the faults struck along it, last a known time.
    pub async fn send_all(
        &self,
        deliveries: &[Delivery],
        rate: Option<f64>,
        done: &AtomicUsize,
    ) -> Vec<Sent> {
        let started = tokio::time::Instant::now();
        futures_util::stream::iter(deliveries.iter().enumerate())
            .map(|(n, delivery)| async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(started + Duration::from_secs_f64(n as f64 / rate))
                        .await;
                }
                let sent = self.deliver(n % 2, delivery).await;
                done.fetch_add(1, Ordering::Relaxed);
                sent
            })
            .buffer_unordered(SENDERS)
            .collect()
            .await
    }

    /// Sends one delivery to endpoint `first`, and after a refused, reset
    /// or timed-out connection or a 5xx, again to the other endpoint, back
    /// and forth with a growing pause, until it is answered or given up.
    async fn deliver(&self, first: usize, delivery: &Delivery) -> Sent {
        let started = Instant::now();
        let mut endpoint = first;
        let mut sent = Sent::default();
        loop {
            sent.tries += 1;
            sent.status = self.post(endpoint, delivery).await.ok();
            match sent.status {
                None => sent.unreachable += 1,
                Some(status) if status.is_server_error() => sent.server_errors += 1,
                Some(_) => return sent,
            }
            if started.elapsed() > GIVE_UP_AFTER {
                return sent;
            }
            endpoint = 1 - endpoint;
            let pause = 50 * u64::from(sent.tries.min(20));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// Signs a delivery afresh (a retry carries a new timestamp, as the
    /// Standard Webhooks sender's does) and posts it.
    async fn post(&self, endpoint: usize, delivery: &Delivery) -> reqwest::Result<StatusCode> {
        let timestamp = Utc::now().timestamp();
        let signature = self
            .secret
            .sign(&delivery.webhook_id, timestamp, &delivery.body);
        let url = format!(
            "{}/api/v1/webhooks/{}",
            self.endpoints[endpoint], self.channel_id
        );
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await?;
        Ok(response.status())
    }
}

/// What a batch of deliveries came to.
#[derive(Debug, Default)]
pub struct Tally {
    pub accepted: usize,
    pub duplicates: usize,
    pub unanswered: usize,
    /// Deliveries sent more than once.
    pub resent: usize,
    pub tries: u64,
    pub unreachable: u64,
    pub server_errors: u64,
}

impl Tally {
    pub fn of(sent: &[Sent]) -> Self {
        let mut tally = Self::default();
        for one in sent {
            match one.status {
                Some(StatusCode::ACCEPTED) => tally.accepted += 1,
                Some(StatusCode::OK) => tally.duplicates += 1,
                _ => tally.unanswered += 1,
            }
            tally.resent += usize::from(one.tries > 1);
            tally.tries += u64::from(one.tries);
            tally.unreachable += u64::from(one.unreachable);
            tally.server_errors += u64::from(one.server_errors);
        }
        tally
    }
}
