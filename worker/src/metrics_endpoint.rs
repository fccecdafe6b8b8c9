//! `/metrics` for `scrm-worker`, which serves no other HTTP. Each worker
//! counts what it handled itself (jobs, webhook events and notification
//! deliveries by outcome), so a scraper reads every worker for those; the
//! gauges of the whole deployment (stream, inbox, outbox) come from any API
//! process's `/metrics`.
//!
//! A whole HTTP server would be one more dependency for one route that a
//! scraper calls every few seconds: this listener reads one request head,
//! answers it and closes the connection.

use std::time::Duration;

use anyhow::Context;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest a request head may be.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client has to send its request head and read the answer, so
/// that a slow or silent connection cannot hold a task for long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers `GET /metrics` on `listener` with `registry`'s metrics in the
/// Prometheus text format, and 404 to anything else, until the task is
/// dropped.
pub async fn serve(listener: TcpListener, registry: Registry) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(error.message = %error, "failed to accept a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let answered = tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &registry)).await;
            if let Ok(Err(error)) = answered {
                tracing::debug!(
                    error.message = format!("{error:#}"),
                    "a metrics request failed"
                );
            }
        });
    }
}

async fn answer(mut stream: TcpStream, registry: &Registry) -> anyhow::Result<()> {
    let head = read_head(&mut stream).await?;
    let wants_metrics = head
        .split(|&b| b == b'\r')
        .next()
        .is_some_and(|line| line.starts_with(b"GET /metrics ") || line == b"GET /metrics");
    let (status, body) = if wants_metrics {
        let mut body = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut body)
            .context("failed to encode the metrics")?;
        ("200 OK", body)
    } else {
        ("404 Not Found", b"not found\n".to_vec())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .context("failed to write a metrics answer")?;
    stream
        .write_all(&body)
        .await
        .context("failed to write a metrics answer")?;
    stream
        .shutdown()
        .await
        .context("failed to close a metrics connection")
}

/// Reads until the blank line that ends a request head.
async fn read_head(stream: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        anyhow::ensure!(head.len() < MAX_HEAD_BYTES, "a request head over 8 KiB");
        let read = stream
            .read(&mut buffer)
            .await
            .context("failed to read a metrics request")?;
        anyhow::ensure!(read > 0, "the client closed before its request head ended");
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::WorkerMetrics;

    async fn get(addr: std::net::SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn the_worker_answers_its_own_counters_on_metrics_and_404_elsewhere() {
        let registry = Registry::new();
        let metrics = WorkerMetrics::register(&registry).expect("register");
        metrics
            .jobs
            .with_label_values(&["process_webhook_event", "done"])
            .inc_by(3);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(serve(listener, registry));

        let metrics = get(addr, "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await;
        let other = get(addr, "GET /admin HTTP/1.1\r\nhost: x\r\n\r\n").await;
        server.abort();

        assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
        assert!(
            metrics
                .contains("worker_jobs_total{kind=\"process_webhook_event\",outcome=\"done\"} 3"),
            "{metrics}"
        );
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    }
}
