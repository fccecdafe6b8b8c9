//! A load generator for reads: it GETs a set of paths round-robin with one
//! bearer token, over a fixed number of keep-alive connections, for a fixed
//! time, and prints the rate, the latency percentiles and the statuses.
//!
//! ```sh
//! cargo run --release --example read_load -- --url http://127.0.0.1:8080 \
//!   --token "$TOKEN" --paths-file paths.txt --connections 8 --seconds 20
//! ```
//!
//! `--paths-file` holds one path per line (such as
//! `/api/v1/work-orders/…`); `--path` may be given instead, once or more.
//! The last line is `RESULT key=value ...` for scripts to read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

#[path = "common/runtime.rs"]
mod runtime;
#[path = "common/tally.rs"]
mod tally;
use tally::{Tally, merge, percentile_ms};

#[derive(Debug, Parser)]
#[command(about = "GETs paths with a bearer token and reports rate and latency")]
struct Args {
    /// The server's origin.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The bearer token.
    #[arg(long)]
    token: String,
    /// A path to GET; repeat for several.
    #[arg(long)]
    path: Vec<String>,
    /// A file of paths, one per line.
    #[arg(long)]
    paths_file: Option<std::path::PathBuf>,
    /// Connections, each sending one request at a time.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds sent first and left out of the figures.
    #[arg(long, default_value_t = 0)]
    warmup_seconds: u64,
}

struct Reader {
    client: reqwest::Client,
    origin: String,
    token: String,
    paths: Vec<String>,
    next: AtomicUsize,
}

fn main() -> anyhow::Result<()> {
    runtime::block_on(run(Args::parse()))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut paths = args.path.clone();
    if let Some(file) = &args.paths_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("failed to read {}", file.display()))?;
        paths.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    anyhow::ensure!(!paths.is_empty(), "give --path or --paths-file");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .context("failed to build the HTTP client")?;
    let reader = Arc::new(Reader {
        client,
        origin: args.url.clone(),
        token: args.token.clone(),
        paths,
        next: AtomicUsize::new(0),
    });
    if args.warmup_seconds > 0 {
        read_for(
            &reader,
            args.connections,
            Duration::from_secs(args.warmup_seconds),
        )
        .await?;
    }
    let started = Instant::now();
    let tallies = read_for(&reader, args.connections, Duration::from_secs(args.seconds)).await?;
    report(merge(tallies), started.elapsed(), args.connections);
    Ok(())
}

async fn read_for(
    reader: &Arc<Reader>,
    connections: usize,
    span: Duration,
) -> anyhow::Result<Vec<Tally>> {
    let until = Instant::now() + span;
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(Arc::clone(reader), until)))
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await.context("a connection task panicked")?);
    }
    Ok(tallies)
}

async fn connection(reader: Arc<Reader>, until: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < until {
        let n = reader.next.fetch_add(1, Ordering::Relaxed);
        let path = &reader.paths[n % reader.paths.len()];
        let sent = Instant::now();
        let status = match get_one(&reader, path).await {
            Ok(status) => status.as_u16().to_string(),
            Err(error) if error.is_timeout() => "timeout".to_owned(),
            Err(_) => "error".to_owned(),
        };
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        tally.record(status, micros);
    }
    tally
}

async fn get_one(reader: &Reader, path: &str) -> reqwest::Result<reqwest::StatusCode> {
    let response = reader
        .client
        .get(format!("{}{path}", reader.origin))
        .bearer_auth(&reader.token)
        .send()
        .await?;
    let status = response.status();
    // Reading the body to its end returns the connection to the pool.
    response.bytes().await?;
    Ok(status)
}

fn report(tally: Tally, elapsed: Duration, connections: usize) {
    let sent = tally.latencies_us.len();
    let rate = sent as f64 / elapsed.as_secs_f64();
    let p50 = percentile_ms(&tally.latencies_us, 0.50);
    let p99 = percentile_ms(&tally.latencies_us, 0.99);
    let max = percentile_ms(&tally.latencies_us, 1.0);
    let failures: u64 = tally
        .statuses
        .iter()
        .filter(|(status, _)| status.as_str() != "200")
        .map(|(_, n)| n)
        .sum();
    println!(
        "{sent} requests over {connections} connections in {:.2} s: {rate:.0} requests/s, \
         p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; statuses {}",
        elapsed.as_secs_f64(),
        tally.statuses_text()
    );
    println!(
        "RESULT requests={sent} seconds={:.3} rps={rate:.1} p50_ms={p50:.2} p99_ms={p99:.2} \
         max_ms={max:.2} failures={failures} statuses={}",
        elapsed.as_secs_f64(),
        tally.statuses_text()
    );
}
