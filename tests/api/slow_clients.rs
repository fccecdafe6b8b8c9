//! Connections that send too slowly, or nothing at all, are cut off: a
//! request head must arrive within 5 s of the connection, and a body within
//! 5 s of its head. Each test speaks raw HTTP/1.1 over a socket, since an
//! HTTP client would not send a request this slowly.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, json_of};

/// The server's deadlines are 5 s; the slack covers a loaded test machine.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(8);
/// How long a test keeps dribbling before it gives up on being cut off.
const GIVE_UP_AFTER: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connected")
}

/// Sends `first`, then `drip` every half second, until the server closes
/// the connection. Returns what the server sent and how long it took.
async fn dribble(stream: TcpStream, first: &str, drip: &str) -> (String, Duration) {
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let first = first.to_owned();
    let drip = drip.to_owned();
    let sender = tokio::spawn(async move {
        if writer.write_all(first.as_bytes()).await.is_err() {
            return;
        }
        while started.elapsed() < GIVE_UP_AFTER {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if writer.write_all(drip.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(GIVE_UP_AFTER, reader.read_to_end(&mut answer)).await;
    sender.abort();
    // A reset after the answer is a close too.
    let _ = read.expect("the server cut the connection off before the test gave up");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = TestApp::spawn().await;
    let stream = connect(&app).await;

    let (_, took) = dribble(stream, "", "").await;

    assert!(took < CUT_OFF_WITHIN, "closed only after {took:?}");
}

#[tokio::test]
async fn a_request_head_sent_a_header_at_a_time_is_cut_off() {
    let app = TestApp::spawn().await;
    let stream = connect(&app).await;

    let (answer, took) = dribble(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: scrm.test\r\n",
        "X-Padding: slow\r\n",
    )
    .await;

    assert!(took < CUT_OFF_WITHIN, "cut off only after {took:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "unexpected answer: {answer}"
    );
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_answers_408_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let stream = connect(&app).await;
    let head = format!(
        "POST /api/v1/admin/partners HTTP/1.1\r\nHost: scrm.test\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"name\": \"",
        acme.admin_token
    );

    let (answer, took) = dribble(stream, &head, "x").await;

    assert!(took < CUT_OFF_WITHIN, "cut off only after {took:?}");
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "unexpected answer: {answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let partners = json_of(app.get("/api/v1/admin/partners", &acme.admin_token).await).await;
    assert_eq!(partners["items"].as_array().map(Vec::len), Some(0));
}
