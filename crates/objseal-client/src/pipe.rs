//! An `AsyncWrite` into a bounded channel, whose reader can be told that the writer failed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::PollSender;

/// Writes become `Ok(bytes)` items; [`fail`](Self::fail) sends one `Err`, so the reading side ends
/// with an error rather than a short, successful end of stream.
pub(crate) struct ChannelWriter {
    sender: PollSender<io::Result<Bytes>>,
}

impl ChannelWriter {
    pub(crate) fn new(sender: Sender<io::Result<Bytes>>) -> Self {
        Self {
            sender: PollSender::new(sender),
        }
    }

    /// Tells the reader that the data is incomplete.
    pub(crate) async fn fail(&mut self, error: io::Error) {
        if let Some(sender) = self.sender.get_ref() {
            let _ = sender.send(Err(error)).await;
        }
    }
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.sender.poll_reserve(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the writing side stopped",
            ))),
            Poll::Ready(Ok(())) => {
                let len = buf.len();
                match self.sender.send_item(Ok(Bytes::copy_from_slice(buf))) {
                    Ok(()) => Poll::Ready(Ok(len)),
                    Err(_) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the writing side stopped",
                    ))),
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sender.close();
        Poll::Ready(Ok(()))
    }
}
