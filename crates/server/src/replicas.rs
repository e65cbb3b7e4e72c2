//! Several replicas on one PostgreSQL database: bars another replica stores
//! reach this one's live streams and caches (see the storage's `bar_notify`).

use crate::shutdown::Shutdown;
use pricetrack_app::{AppContext, bars::stored_elsewhere};
use tokio::task::JoinHandle;

/// Hands the bars other replicas store to this process's caches and live
/// subscribers until `shutdown` fires; `None` when the store has no other
/// writers (SQLite).
pub fn relay_foreign_bars(ctx: AppContext, shutdown: Shutdown) -> Option<JoinHandle<()>> {
    let mut foreign = ctx.store.subscribe_foreign_bars()?;
    Some(tokio::spawn(async move {
        let stop = shutdown.triggered();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                bars = foreign.recv() => match bars {
                    Some(bars) => stored_elsewhere(&ctx, &bars),
                    None => break,
                },
                () = &mut stop => break,
            }
        }
    }))
}
