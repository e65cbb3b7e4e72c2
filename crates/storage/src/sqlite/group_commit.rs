//! Group commit for bar upserts.
//!
//! SQLite has one writer. Calls of `upsert_bars` that queue up while it is busy are
//! written together in one transaction, each inside its own savepoint, in the order
//! they arrived. Why: an interleaved feed rewrites the newest block of every series
//! in every call, and a page dirtied by several calls of one transaction goes to the
//! WAL (and later through the checkpoint) once, so N queued calls cost about one
//! call's page writes. Each call keeps its own contract: its own counts (a later call
//! sees an earlier one's bars as stored, exactly as if they had run one after the
//! other), and its own outcome — a call that fails rolls back to its savepoint and
//! leaves the others in. Nobody is told "stored" before the commit.

use super::{bars, db, lock};
use crate::codec::BarBatch;
use pricetrack_app::ports::{StoreError, StoreResult, UpsertCounts};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Bars written per transaction at most, however many calls are queued: bounds the
/// latency a call waits for the calls ahead of it in its group.
const MAX_GROUP_BARS: usize = 250_000;

/// One queued call: its bars and where its outcome goes.
pub(super) struct PendingUpsert {
    batch: BarBatch,
    reply: oneshot::Sender<StoreResult<UpsertCounts>>,
}

/// The calls waiting for the writer.
#[derive(Default)]
pub(super) struct UpsertQueue {
    pending: Mutex<VecDeque<PendingUpsert>>,
}

impl UpsertQueue {
    /// Queues `batch`; the receiver gets its outcome once a writer has committed it.
    pub(super) fn push(&self, batch: BarBatch) -> oneshot::Receiver<StoreResult<UpsertCounts>> {
        let (reply, outcome) = oneshot::channel();
        lock(&self.pending).push_back(PendingUpsert { batch, reply });
        outcome
    }

    /// Takes the oldest queued calls, up to [`MAX_GROUP_BARS`] (always at least one
    /// when any is queued). Empty when another writer already took ours.
    fn take_group(&self) -> Vec<PendingUpsert> {
        let mut pending = lock(&self.pending);
        let mut group = Vec::new();
        let mut bars = 0;
        while let Some(next) = pending.front() {
            if !group.is_empty() && bars + next.batch.rows.len() > MAX_GROUP_BARS {
                break;
            }
            bars += next.batch.rows.len();
            group.extend(pending.pop_front());
        }
        group
    }

    /// Writes the calls queued so far on `writer` (which the caller holds), as one
    /// transaction, and answers each of them.
    pub(super) fn write_queued(&self, writer: &mut Connection) {
        let group = self.take_group();
        if !group.is_empty() {
            write_group(writer, group);
        }
    }
}

fn write_group(writer: &mut Connection, group: Vec<PendingUpsert>) {
    let mut tx = match writer.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for call in group {
                let _ = call.reply.send(Err(StoreError::backend(
                    "starting a bar upsert",
                    e.to_string(),
                )));
            }
            return;
        }
    };
    let alone = group.len() == 1;
    let mut outcomes = Vec::with_capacity(group.len());
    for call in group {
        let outcome = if alone {
            // Alone, the call is the transaction (dropped uncommitted on failure): a
            // savepoint would only copy every page it dirties into a sub-journal.
            bars::write_batch(&tx, call.batch)
        } else {
            // A failed call's savepoint rolls back when it is dropped.
            tx.savepoint()
                .map_err(db("starting a bar upsert"))
                .and_then(|savepoint| {
                    let counts = bars::write_batch(&savepoint, call.batch)?;
                    savepoint.commit().map_err(db("writing bars"))?;
                    Ok(counts)
                })
        };
        outcomes.push((call.reply, outcome));
    }
    let committed = if outcomes.iter().any(|(_, outcome)| outcome.is_ok()) {
        tx.commit()
    } else {
        drop(tx);
        Ok(())
    };
    for (reply, outcome) in outcomes {
        let outcome = match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(e), Ok(_)) => Err(StoreError::backend("committing bars", e.to_string())),
            (Err(_), Err(own)) => Err(own),
        };
        // The caller may have gone (a dropped request); its bars are stored anyway.
        let _ = reply.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::{SqliteStore, instruments};
    use pricetrack_domain::{
        Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, ProviderName, Symbol,
    };

    fn bars(symbol: &str, first: i64, n: i64) -> BarBatch {
        let bars: Vec<Bar> = (first..first + n)
            .map(|i| {
                let close = 100.0 + i as f64;
                let values = Ohlcv {
                    open: close,
                    high: close + 1.0,
                    low: close - 1.0,
                    close,
                    volume: 10.0,
                };
                let time = jiff::Timestamp::from_second(1_700_000_100 + 300 * i).unwrap();
                Bar::new(Symbol::parse(symbol).unwrap(), Interval::M5, time, values).unwrap()
            })
            .collect();
        BarBatch::from_bars(&bars)
    }

    #[test]
    fn queued_calls_commit_together_with_serial_counts_and_a_failed_call_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SqliteStore::open_blocking(&dir.path().join("t.db")).unwrap();
        let mut writer = lock(&store.inner.writer);
        let aapl = Instrument::new(
            Symbol::parse("AAPL").unwrap(),
            "Apple".into(),
            InstrumentKind::Stock,
            Currency::USD,
            None,
            ProviderName::manual(),
            None,
        )
        .unwrap();
        instruments::create(&writer, &aapl).unwrap();

        let queue = UpsertQueue::default();
        let first = queue.push(bars("AAPL", 0, 40));
        let mut failing = bars("AAPL", 100, 5);
        failing.symbols.push(Symbol::parse("NOPE").unwrap());
        let failing = queue.push(failing);
        let overlapping = queue.push(bars("AAPL", 30, 20));
        queue.write_queued(&mut writer);

        let counts = |rx: oneshot::Receiver<StoreResult<UpsertCounts>>| rx.blocking_recv().unwrap();
        let first = counts(first).unwrap();
        assert_eq!((first.inserted, first.replaced), (40, 0));
        assert!(matches!(
            counts(failing),
            Err(StoreError::UnknownInstrument(_))
        ));
        let overlapping = counts(overlapping).unwrap();
        assert_eq!((overlapping.inserted, overlapping.replaced), (10, 10));
        assert!(
            queue.take_group().is_empty(),
            "every queued call was written"
        );

        let stored = crate::sqlite::bars::count(&writer, &Symbol::parse("AAPL").unwrap()).unwrap();
        assert_eq!(stored, 50, "the failed call's five bars were rolled back");
    }
}
