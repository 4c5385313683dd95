//! Time, injectable: the keystore asks a [`Clock`] for "now" whenever a rule depends on it (deletion
//! windows, automatic rotation, cache ages), so tests can jump days ahead with a [`TestClock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time, as a duration since the Unix epoch.
pub trait Clock: Send + Sync + core::fmt::Debug {
    /// Now, since the Unix epoch.
    fn now(&self) -> Duration;

    /// Now in whole seconds since the Unix epoch (the unit of every date in the [`Kms`](crate::Kms)
    /// results).
    fn unix_secs(&self) -> u64 {
        self.now().as_secs()
    }
}

/// The operating system's wall clock. A clock set before 1970 reads as the epoch.
///
/// ```
/// use objseal_kms::clock::{Clock, SystemClock};
/// assert!(SystemClock.unix_secs() > 1_600_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that stands still until told to move: for tests of deletion windows, rotation schedules
/// and cache ages. Shareable (`Arc<TestClock>` is an `Arc<dyn Clock>`).
///
/// ```
/// use std::time::Duration;
/// use objseal_kms::clock::{Clock, TestClock};
/// let clock = TestClock::at_secs(1_000);
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.unix_secs(), 1_005);
/// clock.advance_days(1);
/// assert_eq!(clock.unix_secs(), 1_005 + 86_400);
/// clock.set(Duration::from_millis(1_500));
/// assert_eq!(clock.now(), Duration::from_millis(1_500));
/// ```
#[derive(Debug, Default)]
pub struct TestClock {
    nanos: AtomicU64,
}

impl TestClock {
    /// A clock reading `now`.
    pub fn new(now: Duration) -> Self {
        let clock = Self::default();
        clock.set(now);
        clock
    }

    /// A clock reading `secs` seconds after the epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self::new(Duration::from_secs(secs))
    }

    /// Sets the time (saturating at about year 2554, the range of nanoseconds in a `u64`).
    pub fn set(&self, now: Duration) {
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(nanos, Ordering::SeqCst);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` with a closure that never fails cannot return `Err`.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Moves the time forward by whole seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }

    /// Moves the time forward by whole days of 86,400 seconds.
    pub fn advance_days(&self, days: u64) {
        self.advance(Duration::from_secs(days.saturating_mul(86_400)));
    }
}

impl Clock for TestClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
