//! Sealing and opening run on rayon's pool, whose workers the chunk-parallel code uses anyway:
//! a batch goes straight to a worker (no blocking-pool thread parked while rayon works), and the
//! async task awaits its result.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

/// A job running on the rayon pool.
pub(crate) struct CpuJob<T>(oneshot::Receiver<std::thread::Result<T>>);

/// The job panicked (or the pool dropped it).
#[derive(Debug)]
pub(crate) struct JobFailed;

/// Runs `f` on the rayon pool.
pub(crate) fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> CpuJob<T> {
    let (tx, rx) = oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
    });
    CpuJob(rx)
}

impl<T> CpuJob<T> {
    /// A job already done (work small enough to do on the caller's thread).
    pub(crate) fn ready(value: T) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Ok(value));
        CpuJob(rx)
    }
}

impl<T> Future for CpuJob<T> {
    type Output = Result<T, JobFailed>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            Ok(Ok(v)) => Ok(v),
            _ => Err(JobFailed),
        })
    }
}
