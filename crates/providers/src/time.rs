//! Injectable time: the registry's rate limiter, backoff and circuit breaker
//! read the clock and sleep through this trait, so tests run them with a fake
//! clock and never really sleep.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::ports::Clock;
use std::{sync::Mutex, time::Duration};

/// A clock that can also wait.
#[async_trait]
pub trait TimeSource: Clock {
    async fn sleep(&self, duration: Duration);
}

/// Wall-clock time and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTime;

impl Clock for SystemTime {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

#[async_trait]
impl TimeSource for SystemTime {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A fake clock: `sleep` returns at once and moves the clock forward by the
/// requested duration, recording it so tests can assert on every wait.
#[derive(Debug)]
pub struct ManualTime {
    now: Mutex<Timestamp>,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualTime {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        *now = now.saturating_add(by).unwrap_or(*now);
    }

    /// Every duration slept so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Total time slept.
    pub fn slept(&self) -> Duration {
        self.sleeps().iter().sum()
    }
}

impl Clock for ManualTime {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl TimeSource for ManualTime {
    async fn sleep(&self, duration: Duration) {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(duration);
        self.advance(duration);
    }
}
