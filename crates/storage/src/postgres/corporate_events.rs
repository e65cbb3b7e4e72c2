//! Dividends and splits on PostgreSQL.

use super::{PgStore, db, get};
use crate::codec::{corrupt, symbol, truncate_to_micros};
use async_trait::async_trait;
use jiff::{Timestamp, civil::Date};
use pricetrack_app::{
    market_data::CorporateEvent,
    ports::{CorporateEventStore, StoreError, StoreResult, StoredCorporateEvent},
};
use pricetrack_domain::{SplitRatio, Symbol};
use rust_decimal::Decimal;
use tokio_postgres::Row;

fn decode(row: &Row) -> StoreResult<StoredCorporateEvent> {
    let kind: String = get(row, 1, "corporate_events.kind")?;
    let date: Date = get(row, 2, "corporate_events.date")?;
    let decimal = |idx: usize, column: &'static str| -> StoreResult<Decimal> {
        get::<Option<Decimal>>(row, idx, column)?.ok_or_else(|| corrupt(column, "missing"))
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
        symbol: symbol("instruments.symbol", get(row, 0, "instruments.symbol")?)?,
        event,
        source: get(row, 6, "corporate_events.source")?,
        recorded_at: get(row, 7, "corporate_events.recorded_at")?,
    })
}

#[async_trait]
impl CorporateEventStore for PgStore {
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
        let now = truncate_to_micros(now);
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(db("recording corporate events"))?;
        let iid: i32 = tx
            .query_opt(
                "SELECT id FROM instruments WHERE symbol = $1 FOR KEY SHARE",
                &[&symbol.as_str()],
            )
            .await
            .map_err(db("recording corporate events"))?
            .map(|r| get(&r, 0, "instruments.id"))
            .transpose()?
            .ok_or_else(|| StoreError::UnknownInstrument(symbol.clone()))?;
        // xmax = 0 tells a fresh insert from an update of an existing row.
        let stmt = tx
            .prepare_cached(
                "INSERT INTO corporate_events (instrument_id, kind, date, amount, numerator,
                     denominator, source, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (instrument_id, kind, date) DO UPDATE SET
                     amount = EXCLUDED.amount, numerator = EXCLUDED.numerator,
                     denominator = EXCLUDED.denominator, source = EXCLUDED.source
                 RETURNING (xmax = 0)",
            )
            .await
            .map_err(db("recording corporate events"))?;
        let mut new = 0;
        for e in events {
            let (amount, numerator, denominator) = match e {
                CorporateEvent::Dividend { amount, .. } => (Some(*amount), None, None),
                CorporateEvent::Split { ratio, .. } => {
                    (None, Some(ratio.numerator()), Some(ratio.denominator()))
                }
            };
            let row = tx
                .query_one(
                    &stmt,
                    &[
                        &iid,
                        &e.kind(),
                        &e.date(),
                        &amount,
                        &numerator,
                        &denominator,
                        &source,
                        &now,
                    ],
                )
                .await
                .map_err(db("recording corporate events"))?;
            if get::<bool>(&row, 0, "inserted")? {
                new += 1;
            }
        }
        tx.commit()
            .await
            .map_err(db("recording corporate events"))?;
        Ok(new)
    }

    async fn corporate_events(&self, symbol: &Symbol) -> StoreResult<Vec<StoredCorporateEvent>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT i.symbol, e.kind, e.date, e.amount, e.numerator, e.denominator,
                     e.source, e.recorded_at
                 FROM corporate_events e JOIN instruments i ON i.id = e.instrument_id
                 WHERE i.symbol = $1 ORDER BY e.date, e.kind",
                &[&symbol.as_str()],
            )
            .await
            .map_err(db("listing corporate events"))?;
        rows.iter().map(decode).collect()
    }
}
