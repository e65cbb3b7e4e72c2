//! The server's shutdown signal, shared by everything that must end for a
//! graceful shutdown to finish.
//!
//! A graceful shutdown waits for every open connection; live streams (SSE)
//! never end on their own, so they watch this signal and close when it fires.

use std::{future::Future, sync::Arc};
use tokio::sync::watch;

/// Cloneable handle: [`Shutdown::trigger`] fires it once for every clone.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the signal (idempotent).
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal has fired (at once if it already has).
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut rx = self.0.subscribe();
        async move {
            // An error means every sender is gone: nothing can fire it any more,
            // and nothing is left to serve either.
            let _ = rx.wait_for(|fired| *fired).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_signal_even_when_it_fired_before_waiting() {
        let s = Shutdown::new();
        let waiting = tokio::spawn(s.clone().triggered());
        assert!(!s.is_triggered());
        s.clone().trigger();
        waiting.await.expect("the waiter ends");
        s.triggered().await;
        assert!(s.is_triggered());
    }
}
