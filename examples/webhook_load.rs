//! A load generator for `POST /api/v1/webhooks/{channel_id}`: it sends a
//! fixed number of signed `order.paid` events over a fixed number of
//! keep-alive connections and prints the rate, the latency percentiles and
//! how many answers had each status.
//!
//! Every event gets a fresh `webhook-id` and a fresh `order_no`, so each one
//! is a new inbox row and, once processed, a new work order; repeats would
//! measure the duplicate path instead. Bodies are built and signed inside
//! the timed loop, as a channel would, since the signing is cheap beside a
//! round trip.
//!
//! ```sh
//! cargo run --release --example webhook_load -- \
//!   --url http://127.0.0.1:8080 --channel "$CHANNEL" --secret "$SECRET" \
//!   --requests 20000 --connections 16
//! ```
//!
//! The last line is `RESULT key=value ...` for scripts to read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use scrm_service::channels::signature::SigningSecret;

#[path = "common/runtime.rs"]
mod runtime;
#[path = "common/tally.rs"]
mod tally;
use tally::{Tally, merge, percentile_ms};

#[derive(Debug, Parser)]
#[command(about = "Posts signed order.paid webhooks and reports rate and latency")]
struct Args {
    /// The server's origin.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The webhook channel's id.
    #[arg(long)]
    channel: String,
    /// The channel's `whsec_` secret.
    #[arg(long)]
    secret: String,
    /// Events to send in the measured part.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Connections, each sending one request at a time.
    #[arg(long, default_value_t = 16)]
    connections: u64,
    /// Events sent first and left out of the figures, so that connection
    /// set-up and cold caches do not count.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// A hard stop for the whole run, in seconds.
    #[arg(long, default_value_t = 180)]
    max_seconds: u64,
}

/// Everything a connection needs to build and send events.
#[derive(Debug)]
struct Sender {
    client: reqwest::Client,
    endpoint: String,
    secret: SigningSecret,
    run: String,
    next: AtomicU64,
    deadline: Instant,
}

fn main() -> anyhow::Result<()> {
    runtime::block_on(run(Args::parse()))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let secret = SigningSecret::parse(&args.secret).map_err(|e| anyhow::anyhow!("--secret {e}"))?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(args.connections)?)
        .timeout(Duration::from_secs(30))
        .build()
        .context("failed to build the HTTP client")?;
    let sender = Arc::new(Sender {
        client,
        endpoint: format!("{}/api/v1/webhooks/{}", args.url, args.channel),
        secret,
        // A tag of this run, so that a second run into the same database
        // still sends new ids.
        run: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        next: AtomicU64::new(0),
        deadline: Instant::now() + Duration::from_secs(args.max_seconds),
    });

    if args.warmup > 0 {
        let tallies = send_all(&sender, args.connections, args.warmup).await?;
        let failed = failures(&merge(tallies).statuses);
        anyhow::ensure!(failed == 0, "{failed} warm-up requests failed");
        // Each connection drew one number past the warm-up before it
        // stopped; the measured part starts right after the warm-up.
        sender.next.store(args.warmup, Ordering::Relaxed);
    }
    let first_post_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_millis();
    let started = Instant::now();
    let tallies = send_all(&sender, args.connections, args.warmup + args.requests).await?;
    let elapsed = started.elapsed();
    report(merge(tallies), elapsed, args.connections, first_post_ms);
    Ok(())
}

/// Sends events numbered up to `until` over `connections` tasks.
async fn send_all(
    sender: &Arc<Sender>,
    connections: u64,
    until: u64,
) -> anyhow::Result<Vec<Tally>> {
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(Arc::clone(sender), until)))
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await.context("a connection task panicked")?);
    }
    Ok(tallies)
}

/// One connection: takes the next event number, sends it, and repeats.
async fn connection(sender: Arc<Sender>, until: u64) -> Tally {
    let mut tally = Tally::default();
    loop {
        let n = sender.next.fetch_add(1, Ordering::Relaxed);
        if n >= until || Instant::now() >= sender.deadline {
            return tally;
        }
        let sent = Instant::now();
        let status = match send_one(&sender, n).await {
            Ok(status) => status.as_u16().to_string(),
            Err(error) if error.is_timeout() => "timeout".to_owned(),
            Err(_) => "error".to_owned(),
        };
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        tally.record(status, micros);
    }
}

async fn send_one(sender: &Sender, n: u64) -> reqwest::Result<reqwest::StatusCode> {
    let webhook_id = format!("msg_{}_{n}", sender.run);
    let now = chrono::Utc::now();
    let body = json!({"type": "order.paid", "data": {
        "order_no": format!("SO-{}-{n}", sender.run),
        "paid_at": now.to_rfc3339(),
        "customer": {"name": "张三", "phone": "13912345678",
                     "address": "深圳南山科技园科苑路15号"},
        "items": [{"service_item": "AC-INSTALL", "quantity": 2, "sale_price_fen": 100000}]
    }})
    .to_string();
    let signature = sender
        .secret
        .sign(&webhook_id, now.timestamp(), body.as_bytes());
    let response = sender
        .client
        .post(&sender.endpoint)
        .header("content-type", "application/json")
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", now.timestamp().to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    // Reading the body to its end returns the connection to the pool.
    response.bytes().await?;
    Ok(status)
}

/// Answers that are neither 202 (accepted) nor 200 (a repeat).
fn failures(statuses: &BTreeMap<String, u64>) -> u64 {
    statuses
        .iter()
        .filter(|(status, _)| !matches!(status.as_str(), "202" | "200"))
        .map(|(_, count)| count)
        .sum()
}

fn report(tally: Tally, elapsed: Duration, connections: u64, first_post_ms: u128) {
    let sent = tally.latencies_us.len();
    let rate = sent as f64 / elapsed.as_secs_f64();
    let p50 = percentile_ms(&tally.latencies_us, 0.50);
    let p99 = percentile_ms(&tally.latencies_us, 0.99);
    let max = percentile_ms(&tally.latencies_us, 1.0);
    let statuses = tally.statuses_text();
    println!(
        "{sent} requests over {connections} connections in {:.2} s: {rate:.0} requests/s, \
         p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; statuses {}",
        elapsed.as_secs_f64(),
        statuses
    );
    println!(
        "RESULT requests={sent} seconds={:.3} rps={rate:.1} p50_ms={p50:.2} p99_ms={p99:.2} \
         failures={} first_post_unix_ms={first_post_ms} statuses={}",
        elapsed.as_secs_f64(),
        failures(&tally.statuses),
        statuses
    );
}
