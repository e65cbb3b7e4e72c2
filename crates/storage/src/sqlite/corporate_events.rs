//! Dividends and splits on SQLite.

use super::{SqliteStore, db, get};
use crate::codec::{corrupt, decimal_text, from_micros, micros, parse_decimal_text, symbol};
use async_trait::async_trait;
use jiff::{Timestamp, civil::Date};
use pricetrack_app::{
    market_data::CorporateEvent,
    ports::{CorporateEventStore, StoreError, StoreResult, StoredCorporateEvent},
};
use pricetrack_domain::{SplitRatio, Symbol};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

/// The columns of one event: kind, date, amount, numerator, denominator.
fn columns(e: &CorporateEvent) -> (&'static str, String, Option<String>, [Option<String>; 2]) {
    match e {
        CorporateEvent::Dividend { date, amount } => (
            "dividend",
            date.to_string(),
            Some(decimal_text(*amount)),
            [None, None],
        ),
        CorporateEvent::Split { date, ratio } => (
            "split",
            date.to_string(),
            None,
            [
                Some(decimal_text(ratio.numerator())),
                Some(decimal_text(ratio.denominator())),
            ],
        ),
    }
}

fn from_row(row: &Row<'_>) -> StoreResult<StoredCorporateEvent> {
    let kind: String = get(row, 1, "corporate_events.kind")?;
    let date: String = get(row, 2, "corporate_events.date")?;
    let date: Date = date
        .parse()
        .map_err(|e| corrupt("corporate_events.date", e))?;
    let decimal = |idx: usize, column: &'static str| -> StoreResult<_> {
        let raw: Option<String> = get(row, idx, column)?;
        let raw = raw.ok_or_else(|| corrupt(column, "missing"))?;
        parse_decimal_text(column, &raw)
    };
    let event = match kind.as_str() {
        "dividend" => CorporateEvent::Dividend {
            date,
            amount: decimal(3, "corporate_events.amount")?,
        },
        "split" => CorporateEvent::Split {
            date,
            ratio: SplitRatio::new(
                decimal(4, "corporate_events.numerator")?,
                decimal(5, "corporate_events.denominator")?,
            )
            .map_err(|e| corrupt("corporate_events.numerator", e))?,
        },
        other => return Err(corrupt("corporate_events.kind", format!("{other:?}"))),
    };
    Ok(StoredCorporateEvent {
        symbol: symbol(
            "instruments.symbol",
            &get::<String>(row, 0, "instruments.symbol")?,
        )?,
        event,
        source: get(row, 6, "corporate_events.source")?,
        recorded_at: from_micros(
            "corporate_events.recorded_at",
            get(row, 7, "corporate_events.recorded_at")?,
        )?,
    })
}

#[async_trait]
impl CorporateEventStore for SqliteStore {
    async fn upsert_corporate_events(
        &self,
        symbol: &Symbol,
        events: &[CorporateEvent],
        source: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        if events.is_empty() {
            return Ok(0);
        }
        let (symbol, events, source) = (symbol.clone(), events.to_vec(), source.to_owned());
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("recording corporate events"))?;
            let iid: i64 = tx
                .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
                .and_then(|mut s| s.query_row([symbol.as_str()], |r| r.get(0)).optional())
                .map_err(db("recording corporate events"))?
                .ok_or_else(|| StoreError::UnknownInstrument(symbol.clone()))?;
            let mut new = 0;
            for e in &events {
                let (kind, date, amount, [numerator, denominator]) = columns(e);
                let existed = tx
                    .prepare_cached(
                        "SELECT 1 FROM corporate_events
                         WHERE instrument_id = ?1 AND kind = ?2 AND date = ?3",
                    )
                    .and_then(|mut s| s.query_row(params![iid, kind, date], |_| Ok(())).optional())
                    .map_err(db("recording corporate events"))?
                    .is_some();
                tx.prepare_cached(
                    "INSERT INTO corporate_events (instrument_id, kind, date, amount, numerator,
                         denominator, source, recorded_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (instrument_id, kind, date) DO UPDATE SET
                         amount = excluded.amount, numerator = excluded.numerator,
                         denominator = excluded.denominator, source = excluded.source",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        iid,
                        kind,
                        date,
                        amount,
                        numerator,
                        denominator,
                        source,
                        micros(now)
                    ])
                })
                .map_err(db("recording corporate events"))?;
                if !existed {
                    new += 1;
                }
            }
            tx.commit().map_err(db("recording corporate events"))?;
            Ok(new)
        })
        .await
    }

    async fn corporate_events(&self, symbol: &Symbol) -> StoreResult<Vec<StoredCorporateEvent>> {
        let symbol = symbol.as_str().to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT i.symbol, e.kind, e.date, e.amount, e.numerator, e.denominator,
                         e.source, e.recorded_at
                     FROM corporate_events e JOIN instruments i ON i.id = e.instrument_id
                     WHERE i.symbol = ?1 ORDER BY e.date, e.kind",
                )
                .map_err(db("listing corporate events"))?;
            let mut rows = stmt
                .query([&symbol])
                .map_err(db("listing corporate events"))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(db("listing corporate events"))? {
                out.push(from_row(row)?);
            }
            Ok(out)
        })
        .await
    }
}
