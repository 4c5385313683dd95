//! Request bodies that stop arriving: a client that sends its headers and then too little of its
//! body, or nothing, would otherwise hold its connection slot and its request for ever (a
//! slow-loris on the body; hyper's header timeout covers only the headers). A body that delivers
//! nothing for [`ServerConfig::body_timeout`](super::ServerConfig::body_timeout) while the server
//! waits for it ends with [`BodyStalled`], which the write answers as Amazon S3 does: 400
//! `RequestTimeout`.
//!
//! Only time spent *waiting for the client* counts: the clock starts when a read finds nothing
//! ready and stops at the next frame, so a server that reads slowly (a slow backend behind a
//! gateway) never times its client out.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// The request body stopped arriving for longer than the server waits.
#[derive(Debug)]
pub struct BodyStalled(pub Duration);

/// How [`BodyStalled`] reads; found in the text of errors that wrap it without a `source`.
const STALLED: &str = "no request body bytes arrived for";

impl fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STALLED} {} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for BodyStalled {}

/// Whether `e`, or an error it wraps, is a [`BodyStalled`]. s3s's aws-chunked decoder wraps a
/// body's error into its own without a `source`, keeping only its text: that text counts too.
pub(crate) fn is_stalled(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyStalled>() || err.to_string().contains(STALLED) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// `inner`, ended with [`BodyStalled`] once the client has delivered nothing for `timeout`
/// while it was being read.
pub(crate) struct StallGuard<B> {
    inner: B,
    timeout: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
    done: bool,
}

impl<B> StallGuard<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            waiting: None,
            done: false,
        }
    }
}

type StdError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Body for StallGuard<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.done = true;
                        Poll::Ready(Some(Err(Box::new(BodyStalled(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, StreamBody};

    fn body(
        items: impl futures::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Unpin,
    ) -> StallGuard<
        StreamBody<impl futures::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Unpin>,
    > {
        StallGuard::new(StreamBody::new(items), Duration::from_millis(200))
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_ends_in_body_stalled() {
        use futures::StreamExt as _;
        let first = futures::stream::iter([Ok(Frame::data(Bytes::from_static(b"abc")))]);
        let mut b = body(first.chain(futures::stream::pending()));
        let frame = b.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"abc"));
        let err = b.frame().await.unwrap().unwrap_err();
        assert!(is_stalled(&*err), "{err}");
        assert!(b.frame().await.is_none());
        assert!(b.is_end_stream());
    }

    #[tokio::test]
    async fn time_the_reader_takes_does_not_count() {
        let items = futures::stream::iter([
            Ok(Frame::data(Bytes::from_static(b"a"))),
            Ok(Frame::data(Bytes::from_static(b"b"))),
        ]);
        let mut b = body(items);
        assert!(b.frame().await.unwrap().is_ok());
        // The reader dawdles far past the timeout between reads: the client is not to blame.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(b.frame().await.unwrap().is_ok());
        assert!(b.frame().await.is_none());
    }
}
