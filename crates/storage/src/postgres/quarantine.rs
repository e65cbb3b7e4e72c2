//! The quarantine on PostgreSQL.

use super::{PgStore, count, db, get};
use crate::codec::quarantine_dedupe_key as dedupe_key;
use crate::codec::{from_seconds, symbol, truncate_to_micros};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::{
    Page, PageRequest, QuarantineDraft, QuarantineStore, QuarantinedBar, StoreError, StoreResult,
};
use pricetrack_domain::{Interval, Ohlcv, Symbol};
use tokio_postgres::Row;

const COLUMNS: &str = "q.id, q.created_at, i.symbol, q.interval, q.time, q.open, q.high, q.low,
    q.close, q.volume, q.raw, q.source, q.reason_code, q.reason";

fn decode(row: &Row) -> StoreResult<QuarantinedBar> {
    let code: i16 = get(row, 3, "quarantine.interval")?;
    let interval = Interval::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("quarantine.interval: unknown code {code}")))?;
    let time: Option<i64> = get(row, 4, "quarantine.time")?;
    let nums: [Option<f64>; 5] = [
        get(row, 5, "quarantine.open")?,
        get(row, 6, "quarantine.high")?,
        get(row, 7, "quarantine.low")?,
        get(row, 8, "quarantine.close")?,
        get(row, 9, "quarantine.volume")?,
    ];
    let values = match nums {
        [Some(open), Some(high), Some(low), Some(close), Some(volume)] => Some(Ohlcv {
            open,
            high,
            low,
            close,
            volume,
        }),
        _ => None,
    };
    Ok(QuarantinedBar {
        id: get(row, 0, "quarantine.id")?,
        created_at: get(row, 1, "quarantine.created_at")?,
        draft: QuarantineDraft {
            symbol: symbol("instruments.symbol", get(row, 2, "instruments.symbol")?)?,
            interval,
            time: time
                .map(|t| from_seconds("quarantine.time", t))
                .transpose()?,
            values,
            raw: get(row, 10, "quarantine.raw")?,
            source: get(row, 11, "quarantine.source")?,
            reason_code: get(row, 12, "quarantine.reason_code")?,
            reason: get(row, 13, "quarantine.reason")?,
        },
    })
}

#[async_trait]
impl QuarantineStore for PgStore {
    async fn add_quarantined(
        &self,
        drafts: &[QuarantineDraft],
        now: Timestamp,
    ) -> StoreResult<Vec<i64>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let now = truncate_to_micros(now);
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(db("quarantining bars"))?;
        let names: Vec<&str> = drafts.iter().map(|d| d.symbol.as_str()).collect();
        let rows = tx
            .query(
                "SELECT symbol, id FROM instruments WHERE symbol = ANY($1) FOR KEY SHARE",
                &[&names],
            )
            .await
            .map_err(db("quarantining bars"))?;
        let mut ids = std::collections::HashMap::new();
        for r in &rows {
            ids.insert(
                get::<String>(r, 0, "instruments.symbol")?,
                get::<i32>(r, 1, "instruments.id")?,
            );
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO quarantine (instrument_id, interval, time, open, high, low, close,
                     volume, raw, source, reason_code, reason, dedupe_key, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (instrument_id, interval, source, dedupe_key) DO UPDATE SET
                     time = EXCLUDED.time, open = EXCLUDED.open, high = EXCLUDED.high,
                     low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume,
                     raw = EXCLUDED.raw, reason_code = EXCLUDED.reason_code,
                     reason = EXCLUDED.reason, created_at = EXCLUDED.created_at
                 RETURNING id",
            )
            .await
            .map_err(db("quarantining bars"))?;
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts {
            let iid = *ids
                .get(d.symbol.as_str())
                .ok_or_else(|| StoreError::UnknownInstrument(d.symbol.clone()))?;
            let v = d.values;
            let row = tx
                .query_one(
                    &stmt,
                    &[
                        &iid,
                        &d.interval.code(),
                        &d.time.map(|t| t.as_second()),
                        &v.map(|v| v.open),
                        &v.map(|v| v.high),
                        &v.map(|v| v.low),
                        &v.map(|v| v.close),
                        &v.map(|v| v.volume),
                        &d.raw,
                        &d.source,
                        &d.reason_code,
                        &d.reason,
                        &dedupe_key(d),
                        &now,
                    ],
                )
                .await
                .map_err(db("quarantining bars"))?;
            out.push(get::<i64>(&row, 0, "quarantine.id")?);
        }
        tx.commit().await.map_err(db("quarantining bars"))?;
        Ok(out)
    }

    async fn list_quarantined(
        &self,
        symbol: Option<&Symbol>,
        page: PageRequest,
    ) -> StoreResult<Page<QuarantinedBar>> {
        let client = self.client().await?;
        let symbol = symbol.map(Symbol::as_str);
        let total: i64 = client
            .query_one(
                "SELECT count(*) FROM quarantine q JOIN instruments i ON i.id = q.instrument_id
                 WHERE ($1::TEXT IS NULL OR i.symbol = $1)",
                &[&symbol],
            )
            .await
            .map_err(db("counting quarantined bars"))
            .and_then(|r| get(&r, 0, "count"))?;
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM quarantine q JOIN instruments i ON i.id = q.instrument_id
                     WHERE ($1::TEXT IS NULL OR i.symbol = $1) ORDER BY q.id DESC LIMIT $2 OFFSET $3"
                ),
                &[&symbol, &i64::from(page.limit), &offset],
            )
            .await
            .map_err(db("listing quarantined bars"))?;
        Ok(Page {
            items: rows.iter().map(decode).collect::<StoreResult<_>>()?,
            total: count(total),
        })
    }

    async fn get_quarantined(&self, id: i64) -> StoreResult<Option<QuarantinedBar>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM quarantine q JOIN instruments i ON i.id = q.instrument_id
                     WHERE q.id = $1"
                ),
                &[&id],
            )
            .await
            .map_err(db("reading a quarantined bar"))?;
        row.as_ref().map(decode).transpose()
    }

    async fn delete_quarantined(&self, id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM quarantine WHERE id = $1", &[&id])
            .await
            .map_err(db("deleting a quarantined bar"))?;
        Ok(n > 0)
    }
}
