//! Cutting off slow clients. A connection that dribbles its request would
//! otherwise hold a worker's attention for as long as it likes: the server
//! gives a client [`HEAD_DEADLINE`] to send its request head (actix's
//! client request timeout, set in `startup`) and, through the middleware
//! here, [`BODY_DEADLINE`] more to send its body. A body that misses the
//! deadline answers 408 `request_timeout` and the connection is closed,
//! since the rest of the body was never read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::time::{Instant, Sleep, sleep_until};

/// How long a client has to send its request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// How long a client has, once the head has arrived, to send the whole
/// body. The largest body the API takes (a 256 KiB webhook) needs about
/// 52 KB/s to make it, far below any server that sends webhooks.
pub const BODY_DEADLINE: Duration = Duration::from_secs(5);

/// Middleware: puts a deadline on the request's body.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let body = req.take_payload();
    // A request without a body (most GETs) has nothing to wait for.
    if matches!(body, Payload::None) {
        req.set_payload(body);
        return next.call(req).await;
    }
    let limited = Deadline {
        body,
        until: Instant::now() + BODY_DEADLINE,
        timer: None,
        expired: false,
    };
    let limited: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(limited);
    req.set_payload(Payload::from(limited));
    next.call(req).await
}

/// Whether a body failed to arrive because it missed [`BODY_DEADLINE`].
pub fn is_body_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut)
}

/// A body that ends in an error once its deadline has passed. The timer is
/// made only when the body is waited for, so a request without a body, or
/// one whose body has already arrived, costs none.
struct Deadline {
    body: Payload,
    until: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        // What has already arrived is passed on even at the deadline.
        if let Poll::Ready(chunk) = self.body.poll_next_unpin(cx) {
            return Poll::Ready(chunk);
        }
        let until = self.until;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(until)));
        match timer.poll_unpin(cx) {
            Poll::Ready(()) => {
                self.expired = true;
                let late = io::Error::new(io::ErrorKind::TimedOut, "the body arrived too slowly");
                Poll::Ready(Some(Err(PayloadError::Io(late))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
