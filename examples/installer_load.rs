//! A fixed-rate load of installers using the mini-program: order lists,
//! order details, the earnings summary and moves on their orders, mixed by
//! weight, for a fixed time.
//!
//! The loop is open: request `i` is due at `start + i / rate` and is sent
//! then, whether or not the earlier answers have come back, as many
//! independent phones would send it. Each latency is measured from that
//! due time, not from when the request actually left, so that time spent
//! queueing (in the server, in the kernel, or in this generator falling
//! behind) shows in the figures instead of lowering the rate. The
//! generator's own lateness is printed too, so that a slow generator can
//! be told from a slow server.
//!
//! ```sh
//! cargo run --release --example installer_load -- --url http://127.0.0.1:8080 \
//!   --plan plan.txt --rate 500 --seconds 600 --warmup-seconds 10
//! ```
//!
//! `--plan` has one line per installer: the access token, the ids of the
//! orders that can still be moved (all at the node where `--walk` starts),
//! and the ids of the other orders it may read, the lists comma-separated
//! (`-` for none), fields separated by whitespace. Details read any of both.
//! Moves walk each open order through `--walk` one action after another; an
//! installer's orders never have two moves in flight at once, so any answer
//! other than 2xx counts as an error. The last line is `RESULT key=value
//! ...` for scripts to read.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "common/runtime.rs"]
mod runtime;
#[path = "common/tally.rs"]
mod tally;
use tally::{Tally, merge, percentile_ms};

#[derive(Debug, Parser)]
#[command(about = "Sends a fixed-rate mix of installer requests and reports latency")]
struct Args {
    /// The server's origin.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The plan: one installer a line (token, open orders, other orders).
    #[arg(long)]
    plan: std::path::PathBuf,
    /// Requests a second, of all kinds together.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// How long to send, in seconds, after the warm-up.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds sent first at the same rate and left out of the figures.
    #[arg(long, default_value_t = 0)]
    warmup_seconds: u64,
    /// Weight of order details (`GET /work-orders/{id}`).
    #[arg(long, default_value_t = 40)]
    detail_weight: u32,
    /// Weight of order lists (`GET /me/work-orders?status=open`).
    #[arg(long, default_value_t = 30)]
    list_weight: u32,
    /// Weight of earnings summaries (`GET /me/earnings/summary`).
    #[arg(long, default_value_t = 20)]
    summary_weight: u32,
    /// Weight of moves (`POST /work-orders/{id}/actions/{action}`).
    #[arg(long, default_value_t = 10)]
    action_weight: u32,
    /// The actions that take an open order from the plan to its end,
    /// comma-separated.
    #[arg(long, default_value = "accept,arrive,complete", value_delimiter = ',')]
    walk: Vec<String>,
    /// Seed of the random choice of kind and installer, so that runs compare.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The four kinds of request, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Detail,
    List,
    Summary,
    Action,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Detail, Kind::List, Kind::Summary, Kind::Action];

    fn name(self) -> &'static str {
        match self {
            Kind::Detail => "detail",
            Kind::List => "list",
            Kind::Summary => "summary",
            Kind::Action => "action",
        }
    }
}

/// One installer: its token, the orders it reads, and the moves still open
/// on its orders as (order id, index of the next action in the walk).
#[derive(Debug)]
struct Installer {
    token: String,
    orders: Vec<String>,
    open: Mutex<VecDeque<(String, usize)>>,
}

/// What every request task shares.
#[derive(Debug)]
struct Load {
    client: reqwest::Client,
    api: String,
    installers: Vec<Installer>,
    walk: Vec<String>,
    /// Answers to requests due before this instant are not counted.
    counted_from: Instant,
    tallies: Mutex<BTreeMap<Kind, Tally>>,
}

fn main() -> anyhow::Result<()> {
    runtime::block_on(run(Args::parse()))
}

async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.rate > 0.0, "--rate must be above zero");
    let weights = [
        (Kind::Detail, args.detail_weight),
        (Kind::List, args.list_weight),
        (Kind::Summary, args.summary_weight),
        (Kind::Action, args.action_weight),
    ];
    anyhow::ensure!(
        weights.iter().any(|(_, w)| *w > 0),
        "at least one weight must be above zero"
    );
    let installers = read_plan(&args.plan)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .context("failed to build the HTTP client")?;
    let start = Instant::now();
    let warmup = Duration::from_secs(args.warmup_seconds);
    let load = Arc::new(Load {
        client,
        api: format!("{}/api/v1", args.url.trim_end_matches('/')),
        installers,
        walk: args.walk.clone(),
        counted_from: start + warmup,
        tallies: Mutex::new(BTreeMap::new()),
    });
    let span = warmup + Duration::from_secs(args.seconds);
    let lag = send_at_rate(&load, &args, &weights, start, span).await?;
    let elapsed = Duration::from_secs(args.seconds);
    let tallies = std::mem::take(&mut *lock(&load.tallies));
    report(tallies, elapsed, args.rate, lag, open_moves_left(&load));
    Ok(())
}

/// Reads the plan file into installers.
fn read_plan(path: &std::path::Path) -> anyhow::Result<Vec<Installer>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let ids = |field: Option<&str>| -> Vec<String> {
        field
            .filter(|f| *f != "-")
            .map(|f| f.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let mut installers = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut fields = line.split_whitespace();
        let token = fields.next().context("a plan line without a token")?;
        let open = ids(fields.next());
        let mut orders = open.clone();
        orders.extend(ids(fields.next()));
        anyhow::ensure!(!orders.is_empty(), "a plan line names no orders");
        installers.push(Installer {
            token: token.to_owned(),
            orders,
            open: Mutex::new(open.into_iter().map(|id| (id, 0)).collect()),
        });
    }
    anyhow::ensure!(!installers.is_empty(), "the plan names no installers");
    Ok(installers)
}

/// Sends one request every `1 / rate` seconds for `span`, each in a task of
/// its own, then waits for the last answers. Answers the generator's worst
/// lateness: how long after its due time a request was handed to its task.
async fn send_at_rate(
    load: &Arc<Load>,
    args: &Args,
    weights: &[(Kind, u32)],
    start: Instant,
    span: Duration,
) -> anyhow::Result<Duration> {
    let total_weight: u32 = weights.iter().map(|(_, w)| w).sum();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut tasks = Vec::new();
    let mut lag = Duration::ZERO;
    for i in 0u64.. {
        let due = start + Duration::from_secs_f64(i as f64 / args.rate);
        if due >= start + span {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        lag = lag.max(due.elapsed());
        let kind = pick_kind(weights, rng.random_range(0..total_weight));
        let installer = rng.random_range(0..load.installers.len());
        let order = rng.random_range(0..usize::MAX);
        tasks.push(tokio::spawn(request(
            Arc::clone(load),
            kind,
            installer,
            order,
            due,
        )));
    }
    for task in tasks {
        task.await.context("a request task panicked")?;
    }
    Ok(lag)
}

/// The kind whose share of the weights holds `ticket`.
fn pick_kind(weights: &[(Kind, u32)], mut ticket: u32) -> Kind {
    for (kind, weight) in weights {
        if ticket < *weight {
            return *kind;
        }
        ticket -= weight;
    }
    Kind::Detail
}

/// Sends one request of `kind` as installer number `who`, due at `due`,
/// and records its status and its latency from `due`. `pick` chooses which
/// order a detail reads.
async fn request(load: Arc<Load>, kind: Kind, who: usize, pick: usize, due: Instant) {
    let installer = &load.installers[who];
    let status = match kind {
        Kind::Detail => {
            let id = &installer.orders[pick % installer.orders.len()];
            get(&load, installer, &format!("/work-orders/{id}")).await
        }
        Kind::List => get(&load, installer, "/me/work-orders?status=open").await,
        Kind::Summary => get(&load, installer, "/me/earnings/summary").await,
        Kind::Action => act(&load, installer).await,
    };
    if due < load.counted_from {
        return;
    }
    let micros = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
    lock(&load.tallies)
        .entry(kind)
        .or_default()
        .record(status, micros);
}

/// GETs a path under `/api/v1` as the installer; answers the status.
async fn get(load: &Load, installer: &Installer, path: &str) -> String {
    let sent = load
        .client
        .get(format!("{}{path}", load.api))
        .bearer_auth(&installer.token)
        .send()
        .await;
    status_of(sent).await
}

/// Makes the next move of one of the installer's open orders. The order is
/// taken out of the queue while its move is in flight, so that no other
/// task moves it meanwhile, and put back at the front when it has moves
/// left, so that orders are walked to their end one after another.
async fn act(load: &Load, installer: &Installer) -> String {
    let Some((id, step)) = lock(&installer.open).pop_front() else {
        return "no_open_order".to_owned();
    };
    let action = &load.walk[step];
    let sent = load
        .client
        .post(format!("{}/work-orders/{id}/actions/{action}", load.api))
        .bearer_auth(&installer.token)
        .header("idempotency-key", format!("load-{id}-{action}"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    let status = status_of(sent).await;
    if status.starts_with('2') && step + 1 < load.walk.len() {
        lock(&installer.open).push_front((id, step + 1));
    }
    status
}

/// The status of an answer, read to its end so that the connection goes
/// back to the pool; `timeout` or `error` when there was none.
async fn status_of(sent: reqwest::Result<reqwest::Response>) -> String {
    let read = match sent {
        Ok(response) => {
            let status = response.status();
            response.bytes().await.map(|_| status)
        }
        Err(error) => Err(error),
    };
    match read {
        Ok(status) => status.as_u16().to_string(),
        Err(error) if error.is_timeout() => "timeout".to_owned(),
        Err(_) => "error".to_owned(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a task panicked while holding it; the
    // counts it guards are still usable.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Moves still open across all installers when the load ended.
fn open_moves_left(load: &Load) -> usize {
    let walk = load.walk.len();
    load.installers
        .iter()
        .map(|i| {
            lock(&i.open)
                .iter()
                .map(|(_, step)| walk - step)
                .sum::<usize>()
        })
        .sum()
}

/// Requests that did not answer 2xx.
fn failures(tally: &Tally) -> u64 {
    tally
        .statuses
        .iter()
        .filter(|(status, _)| !status.starts_with('2'))
        .map(|(_, n)| n)
        .sum()
}

/// Prints a line per kind, one for all, and the `RESULT` line.
fn report(
    tallies: BTreeMap<Kind, Tally>,
    elapsed: Duration,
    target: f64,
    lag: Duration,
    moves_left: usize,
) {
    let seconds = elapsed.as_secs_f64();
    let mut per_kind = String::new();
    for kind in Kind::ALL {
        let Some(tally) = tallies.get(&kind) else {
            continue;
        };
        let mut sorted = tally.latencies_us.clone();
        sorted.sort_unstable();
        println!(
            "{:>8}: {}",
            kind.name(),
            summary_text(tally, &sorted, seconds)
        );
        per_kind.push_str(&format!(
            " {0}_rps={1:.1} {0}_p99_ms={2:.2}",
            kind.name(),
            sorted.len() as f64 / seconds,
            percentile_ms(&sorted, 0.99)
        ));
    }
    let all = merge(tallies.into_values().collect());
    println!(
        "{:>8}: {}",
        "all",
        summary_text(&all, &all.latencies_us, seconds)
    );
    let lag_ms = lag.as_secs_f64() * 1000.0;
    println!("generator: at most {lag_ms:.2} ms late; {moves_left} moves left open");
    let sent = all.latencies_us.len();
    let failed = failures(&all);
    println!(
        "RESULT requests={sent} seconds={seconds:.3} target_rps={target:.1} rps={:.1} \
         p50_ms={:.2} p99_ms={:.2} max_ms={:.2} failures={failed} error_pct={:.4} \
         lag_max_ms={lag_ms:.2} moves_left={moves_left}{per_kind} statuses={}",
        sent as f64 / seconds,
        percentile_ms(&all.latencies_us, 0.50),
        percentile_ms(&all.latencies_us, 0.99),
        percentile_ms(&all.latencies_us, 1.0),
        100.0 * failed as f64 / sent.max(1) as f64,
        all.statuses_text()
    );
}

/// `N requests, R/s, p50 …, p99 …, max …; statuses …` for one tally whose
/// latencies are `sorted`.
fn summary_text(tally: &Tally, sorted: &[u64], seconds: f64) -> String {
    format!(
        "{} requests, {:.1}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; statuses {}",
        sorted.len(),
        sorted.len() as f64 / seconds,
        percentile_ms(sorted, 0.50),
        percentile_ms(sorted, 0.99),
        percentile_ms(sorted, 1.0),
        tally.statuses_text()
    )
}
