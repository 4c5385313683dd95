//! Progress bars on standard error — only when it is a terminal, never with `--quiet` or `--json` —
//! and the adapters that count the bytes going through.
//!
//! The adapters do blocking I/O inside `poll_read`/`poll_write`. They are polled only by the
//! future that `Runtime::block_on` drives on the main thread (the client spawns its uploads and
//! opens its chunks elsewhere), so a slow pipe holds up the main thread alone, which is the
//! backpressure wanted, and no runtime worker ever blocks.

use std::io::{self, IsTerminal, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::args::OutputOptions;

/// Whether bars are drawn: standard error is a terminal, and neither `--quiet` nor `--json`.
pub fn wanted(out: &OutputOptions) -> bool {
    !out.quiet && !out.json && io::stderr().is_terminal()
}

/// A bar of `total` bytes (a spinner counting bytes when the total is unknown) labelled `what`,
/// or a hidden one when `show` is false.
pub fn bar(show: bool, total: Option<u64>, what: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let target = ProgressDrawTarget::stderr();
    let bar = match total {
        Some(len) => {
            let bar = ProgressBar::with_draw_target(Some(len), target);
            bar.set_style(style(
                "{msg} {wide_bar} {binary_bytes}/{binary_total_bytes} {percent:>3}% \
                 {binary_bytes_per_sec} {eta}",
            ));
            bar
        }
        None => {
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(style(
                "{spinner} {msg} {binary_bytes} {binary_bytes_per_sec} {elapsed}",
            ));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }
    };
    bar.set_message(what);
    bar
}

/// Finishes `bar`, leaving it on screen, and ends its line (indicatif leaves the cursor on it).
pub fn finish(bar: &ProgressBar) {
    if !bar.is_hidden() {
        bar.finish();
        eprintln!();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏  ")
}

/// An [`AsyncRead`] over a blocking reader that advances a bar by the bytes read.
pub struct CountingReader<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read + Unpin> CountingReader<R> {
    /// Counts what `inner` yields on `bar`.
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Self { inner, bar }
    }
}

impl<R: Read + Unpin> AsyncRead for CountingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.inner.read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    this.bar.inc(n as u64);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// An [`AsyncWrite`] over a blocking writer that advances a bar by the bytes written.
pub struct CountingWriter<W> {
    inner: W,
    bar: ProgressBar,
}

impl<W: Write + Unpin> CountingWriter<W> {
    /// Counts what goes to `inner` on `bar`.
    pub fn new(inner: W, bar: ProgressBar) -> Self {
        Self { inner, bar }
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write + Unpin> AsyncWrite for CountingWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = this.inner.write(buf)?;
        this.bar.inc(n as u64);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().inner.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
