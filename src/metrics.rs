//! Prometheus metrics, served as text at `/metrics`: requests by route and
//! status, a latency histogram by route, and the worker's metrics (jobs,
//! webhook events, notification deliveries, queue and inbox gauges).

use anyhow::Context;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use scrm_worker::metrics::WorkerMetrics;

/// The process's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// The job and delivery metrics, fed by the worker tasks of this process
    /// and by the gauges read at each scrape.
    pub worker: WorkerMetrics,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status.",
            ),
            &["method", "route", "status"],
        )
        .context("bad counter definition")?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer HTTP requests.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .context("bad histogram definition")?;
        registry
            .register(Box::new(requests.clone()))
            .context("failed to register a counter")?;
        registry
            .register(Box::new(latency.clone()))
            .context("failed to register a histogram")?;
        let worker = WorkerMetrics::register(&registry)?;
        Ok(Self {
            worker,
            registry,
            requests,
            latency,
        })
    }

    /// Counts one answered request. `route` is the matched pattern, never the
    /// raw path, so that ids do not multiply the series.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .context("failed to encode metrics")?;
        String::from_utf8(buffer).context("metrics are not UTF-8")
    }
}
