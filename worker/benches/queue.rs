//! How many jobs per second the Redis-stream queue carries when the handler
//! does nothing, so that what is left is the queue's own cost: serialising
//! jobs, `XADD`, `XREADGROUP`, parsing, dispatch, `XACK` and `XDEL`.
//!
//! One producer task queues N jobs (200,000 unless `BENCH_QUEUE_JOBS` says
//! otherwise) in pipelined batches of 1,000 while the consumers run. The
//! clock starts before the first `enqueue_many` and stops once every job
//! has run and the stream is empty with nothing pending, so a job counts
//! only when it is acknowledged and deleted. Each consumer setting
//! (`BATCHxCONCURRENCY`, or `BATCHxCONCURRENCYxCONSUMERS`) runs in turn on a
//! fresh stream; `BENCH_QUEUE_CONFIGS` replaces the list.
//!
//! Beside them runs a floor: the same Redis commands issued by a bare loop,
//! without serde, handlers, spans or the consumer's state, which shows how
//! much of each figure Redis and the round trips take.
//!
//! It uses `BENCH_REDIS_URL` (default database 5 of the local Redis) and not
//! `REDIS_URL`, because it deletes its stream before every run and must
//! never inherit a shell's pointer to a Redis that others use.
//!
//! Run it with `cargo bench -p scrm-worker --bench queue`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamReadOptions, StreamReadReply};
use tokio::sync::Notify;

use scrm_service::domain::WebhookEventId;
use scrm_worker::jobs::ProcessWebhookEvent;
use scrm_worker::queue::{Handlers, Job, Queue};
use scrm_worker::redis_stream::{self, ConsumerOptions, RedisConsumer, RedisQueue};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379/5";
const DEFAULT_STREAM: &str = "scrm-bench:jobs";
const DEFAULT_JOBS: u64 = 200_000;
/// The defaults first, then larger batches with proportionally more jobs
/// in flight, then two consumers as two workers would run.
const DEFAULT_CONFIGS: &str = "64x16,256x64,512x128,1024x256,2048x512,64x16x2,1024x256x2";
/// Jobs per `enqueue_many`: one pipelined round trip each.
const PRODUCER_BATCH: u64 = 1_000;
/// No single run may take longer than this; a stalled queue fails the
/// bench instead of hanging it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// One consumer setting to measure.
#[derive(Debug, Clone, Copy)]
struct Setting {
    batch: usize,
    concurrency: usize,
    consumers: usize,
}

impl Setting {
    fn parse(text: &str) -> anyhow::Result<Self> {
        let parts: Vec<usize> = text
            .split('x')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("`{text}` is not BATCHxCONCURRENCY[xCONSUMERS]"))?;
        match parts[..] {
            [batch, concurrency] => Ok(Self {
                batch,
                concurrency,
                consumers: 1,
            }),
            [batch, concurrency, consumers] => Ok(Self {
                batch,
                concurrency,
                consumers,
            }),
            _ => anyhow::bail!("`{text}` is not BATCHxCONCURRENCY[xCONSUMERS]"),
        }
    }

    fn label(&self) -> String {
        format!(
            "batch {} x concurrency {} x {} consumer(s)",
            self.batch, self.concurrency, self.consumers
        )
    }
}

/// What one run measured.
#[derive(Debug)]
struct Outcome {
    label: String,
    jobs: u64,
    produced_in: Duration,
    drained_in: Duration,
    rss_kib: u64,
}

impl Outcome {
    fn print(&self) {
        let seconds = self.drained_in.as_secs_f64();
        println!(
            "{:<48} {:>8} jobs  {:>7.3} s  {:>9.0} jobs/s  (queued in {:.3} s)  RSS {:.1} MiB",
            self.label,
            self.jobs,
            seconds,
            self.jobs as f64 / seconds,
            self.produced_in.as_secs_f64(),
            self.rss_kib as f64 / 1024.0
        );
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn main() -> anyhow::Result<()> {
    // The worker's own log setup, so that the per-job span costs what it
    // costs in `scrm-worker`.
    scrm_worker::telemetry::init(scrm_worker::telemetry::LogFormat::Pretty);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let url = env_or("BENCH_REDIS_URL", DEFAULT_URL);
    let stream = env_or("REDIS_STREAM", DEFAULT_STREAM);
    let jobs: u64 = env_or("BENCH_QUEUE_JOBS", &DEFAULT_JOBS.to_string())
        .parse()
        .context("BENCH_QUEUE_JOBS must be a whole number")?;
    let settings: Vec<Setting> = env_or("BENCH_QUEUE_CONFIGS", DEFAULT_CONFIGS)
        .split(',')
        .map(Setting::parse)
        .collect::<anyhow::Result<_>>()?;
    let client = redis::Client::open(url.as_str()).context("bad BENCH_REDIS_URL")?;
    let mut admin = redis_stream::gauge_connection(&client).await?;

    let mut outcomes = Vec::new();
    for batch in [64, 1024] {
        reset(&mut admin, &stream).await?;
        outcomes.push(floor(&client, &stream, jobs, batch).await?);
    }
    for setting in settings {
        reset(&mut admin, &stream).await?;
        outcomes.push(measure(&client, &mut admin, &stream, jobs, setting).await?);
    }
    reset(&mut admin, &stream).await?;

    println!();
    println!("queue throughput, {jobs} jobs per run, no-op handler");
    for outcome in &outcomes {
        outcome.print();
    }
    let (rss, peak) = memory_kib()?;
    println!(
        "process memory at the end: VmRSS {:.1} MiB, VmHWM (peak) {:.1} MiB",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    Ok(())
}

/// Deletes the stream (and with it the group), then creates both afresh.
async fn reset(admin: &mut ConnectionManager, stream: &str) -> anyhow::Result<()> {
    redis::cmd("DEL")
        .arg(stream)
        .query_async::<()>(admin)
        .await
        .context("DEL failed")?;
    redis_stream::ensure_group(admin, stream).await
}

/// Queues `jobs` jobs in pipelined batches; answers how long that took.
async fn produce(queue: RedisQueue, jobs: u64, started: Instant) -> anyhow::Result<Duration> {
    let mut sent = 0;
    while sent < jobs {
        let size = PRODUCER_BATCH.min(jobs - sent);
        let batch = (0..size)
            .map(|_| {
                Job::new(&ProcessWebhookEvent {
                    event_id: WebhookEventId::generate(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        queue.enqueue_many(batch).await.map_err(|e| e.0)?;
        sent += size;
    }
    Ok(started.elapsed())
}

/// Handlers with one job kind whose handler only counts, and wakes the
/// bench when the last job has run.
fn counting_handlers(ran: Arc<AtomicU64>, all_ran: Arc<Notify>, jobs: u64) -> Handlers {
    Handlers::new().register(move |_: ProcessWebhookEvent| {
        let ran = Arc::clone(&ran);
        let all_ran = Arc::clone(&all_ran);
        async move {
            if ran.fetch_add(1, Ordering::Relaxed) + 1 == jobs {
                all_ran.notify_one();
            }
            Ok(())
        }
    })
}

async fn measure(
    client: &redis::Client,
    admin: &mut ConnectionManager,
    stream: &str,
    jobs: u64,
    setting: Setting,
) -> anyhow::Result<Outcome> {
    let ran = Arc::new(AtomicU64::new(0));
    let all_ran = Arc::new(Notify::new());
    let options = ConsumerOptions {
        batch: setting.batch,
        concurrency: setting.concurrency,
        ..ConsumerOptions::default()
    };
    let mut consumers = Vec::new();
    for _ in 0..setting.consumers {
        let handlers = counting_handlers(Arc::clone(&ran), Arc::clone(&all_ran), jobs);
        let name = redis_stream::consumer_name();
        consumers.push(RedisConsumer::start(client, stream, name, handlers, options, None).await?);
    }
    // Let the consumers connect and block on the empty stream first, so
    // the run measures steady work and not the first connection.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let producer = tokio::spawn(produce(RedisQueue::new(client, stream), jobs, started));
    tokio::time::timeout(RUN_LIMIT, all_ran.notified())
        .await
        .with_context(|| format!("{} did not run every job in time", setting.label()))?;
    let produced_in = producer.await.context("the producer panicked")??;
    wait_until_empty(admin, stream).await?;
    let drained_in = started.elapsed();

    for consumer in consumers {
        consumer.stop(Duration::from_secs(5)).await;
    }
    anyhow::ensure!(
        ran.load(Ordering::Relaxed) == jobs,
        "a job ran more than once"
    );
    Ok(Outcome {
        label: setting.label(),
        jobs,
        produced_in,
        drained_in,
        rss_kib: memory_kib()?.0,
    })
}

/// Polls XLEN and XPENDING until both are 0: the last batch's XACK and XDEL
/// follow its handlers by one round trip.
async fn wait_until_empty(admin: &mut ConnectionManager, stream: &str) -> anyhow::Result<()> {
    for _ in 0..5_000 {
        let gauges = redis_stream::queue_gauges(admin, stream).await?;
        if gauges[0].1 == 0 && gauges[1].1 == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let gauges = redis_stream::queue_gauges(admin, stream).await?;
    anyhow::bail!("the stream did not empty: {gauges:?}")
}

/// The floor: the consumer's command pattern (read a batch, then one
/// pipelined XACK + XDEL) in a bare loop that neither parses jobs nor runs
/// anything, beside the same producer.
async fn floor(
    client: &redis::Client,
    stream: &str,
    jobs: u64,
    batch: usize,
) -> anyhow::Result<Outcome> {
    let mut connection = redis_stream::gauge_connection(client).await?;
    let options = StreamReadOptions::default()
        .group(redis_stream::GROUP, "floor")
        .count(batch)
        .block(100);
    let started = Instant::now();
    let producer = tokio::spawn(produce(RedisQueue::new(client, stream), jobs, started));
    let mut done = 0;
    while done < jobs {
        anyhow::ensure!(started.elapsed() < RUN_LIMIT, "the floor loop stalled");
        let reply: Option<StreamReadReply> = connection
            .xread_options(&[stream], &[">"], &options)
            .await
            .context("XREADGROUP failed")?;
        let ids: Vec<String> = reply
            .map(|r| {
                r.keys
                    .into_iter()
                    .flat_map(|k| k.ids)
                    .map(|e| e.id)
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        pipe.xack(stream, redis_stream::GROUP, &ids)
            .ignore()
            .xdel(stream, &ids)
            .ignore();
        pipe.query_async::<()>(&mut connection)
            .await
            .context("XACK and XDEL failed")?;
        done += ids.len() as u64;
    }
    let drained_in = started.elapsed();
    let produced_in = producer.await.context("the producer panicked")??;
    Ok(Outcome {
        label: format!("floor: bare XREADGROUP/XACK+XDEL loop, batch {batch}"),
        jobs,
        produced_in,
        drained_in,
        rss_kib: memory_kib()?.0,
    })
}

/// This process's resident set and its peak, in KiB, from /proc.
fn memory_kib() -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").context("no /proc/self/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .with_context(|| format!("no {name} in /proc/self/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
