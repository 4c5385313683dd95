//! A body of known length produced by a task: each message is a batch of buffers (a batch of
//! opened chunks goes out as slices of one allocation, without compacting it), and the stream
//! hands them on one by one.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::StdError;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use tokio::sync::mpsc;

/// Where a producing task sends its batches, or the error that ends the body.
pub(crate) type BodySender = mpsc::Sender<Result<Vec<Bytes>, StdError>>;

struct ChannelBody {
    rx: mpsc::Receiver<Result<Vec<Bytes>, StdError>>,
    ready: VecDeque<Bytes>,
    /// Bytes still to come, when the length is known.
    remaining: Option<u64>,
}

impl Stream for ChannelBody {
    type Item = Result<Bytes, StdError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                self.remaining = self.remaining.map(|r| r.saturating_sub(b.len() as u64));
                return Poll::Ready(Some(Ok(b)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self
                    .ready
                    .extend(batch.into_iter().filter(|b| !b.is_empty())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl ByteStream for ChannelBody {
    fn remaining_length(&self) -> RemainingLength {
        match self.remaining {
            Some(r) => RemainingLength::new_exact(usize::try_from(r).unwrap_or(usize::MAX)),
            None => RemainingLength::unknown(),
        }
    }
}

/// A body of `len` bytes (`None`: not known ahead) fed through a channel of `depth` batches.
pub(crate) fn channel_body(len: Option<u64>, depth: usize) -> (BodySender, StreamingBlob) {
    let (tx, rx) = mpsc::channel(depth);
    let body = ChannelBody {
        rx,
        ready: VecDeque::new(),
        remaining: len,
    };
    (tx, StreamingBlob::new(body))
}
