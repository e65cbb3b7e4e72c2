//! The quarantine on SQLite.

use super::{SqliteStore, db, get};
use crate::codec::{
    from_micros, from_seconds, micros, quarantine_dedupe_key as dedupe_key, symbol,
    truncate_to_micros,
};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::{
    Page, PageRequest, QuarantineDraft, QuarantineStore, QuarantinedBar, StoreError, StoreResult,
};
use pricetrack_domain::{Interval, Ohlcv, Symbol};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

const COLUMNS: &str = "q.id, q.created_at, i.symbol, q.interval, q.time, q.open, q.high, q.low,
    q.close, q.volume, q.raw, q.source, q.reason_code, q.reason";

fn from_row(row: &Row<'_>) -> StoreResult<QuarantinedBar> {
    let code: i64 = get(row, 3, "quarantine.interval")?;
    let interval = i16::try_from(code)
        .ok()
        .and_then(Interval::from_code)
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
        created_at: from_micros(
            "quarantine.created_at",
            get(row, 1, "quarantine.created_at")?,
        )?,
        draft: QuarantineDraft {
            symbol: symbol(
                "instruments.symbol",
                &get::<String>(row, 2, "instruments.symbol")?,
            )?,
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
impl QuarantineStore for SqliteStore {
    async fn add_quarantined(
        &self,
        drafts: &[QuarantineDraft],
        now: Timestamp,
    ) -> StoreResult<Vec<i64>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let drafts = drafts.to_vec();
        let now = truncate_to_micros(now);
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("quarantining bars"))?;
            let mut ids = Vec::with_capacity(drafts.len());
            let mut known: std::collections::HashMap<Symbol, i64> = Default::default();
            for d in &drafts {
                let iid = match known.get(&d.symbol) {
                    Some(iid) => *iid,
                    None => {
                        let iid: i64 = tx
                            .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
                            .and_then(|mut s| s.query_row([d.symbol.as_str()], |r| r.get(0)).optional())
                            .map_err(db("quarantining bars"))?
                            .ok_or_else(|| StoreError::UnknownInstrument(d.symbol.clone()))?;
                        known.insert(d.symbol.clone(), iid);
                        iid
                    }
                };
                let v = d.values;
                let id: i64 = tx
                    .prepare_cached(
                        "INSERT INTO quarantine (instrument_id, interval, time, open, high, low, close,
                             volume, raw, source, reason_code, reason, dedupe_key, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                         ON CONFLICT (instrument_id, interval, source, dedupe_key) DO UPDATE SET
                             time = excluded.time, open = excluded.open, high = excluded.high,
                             low = excluded.low, close = excluded.close, volume = excluded.volume,
                             raw = excluded.raw, reason_code = excluded.reason_code,
                             reason = excluded.reason, created_at = excluded.created_at
                         RETURNING id",
                    )
                    .and_then(|mut s| {
                        s.query_row(
                            params![
                                iid,
                                d.interval.code(),
                                d.time.map(|t| t.as_second()),
                                v.map(|v| v.open),
                                v.map(|v| v.high),
                                v.map(|v| v.low),
                                v.map(|v| v.close),
                                v.map(|v| v.volume),
                                d.raw,
                                d.source,
                                d.reason_code,
                                d.reason,
                                dedupe_key(d),
                                micros(now),
                            ],
                            |r| r.get(0),
                        )
                    })
                    .map_err(db("quarantining bars"))?;
                ids.push(id);
            }
            tx.commit().map_err(db("quarantining bars"))?;
            Ok(ids)
        })
        .await
    }

    async fn list_quarantined(
        &self,
        symbol: Option<&Symbol>,
        page: PageRequest,
    ) -> StoreResult<Page<QuarantinedBar>> {
        let symbol = symbol.map(|s| s.as_str().to_owned());
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(
                    "SELECT count(*) FROM quarantine q JOIN instruments i ON i.id = q.instrument_id
                     WHERE (?1 IS NULL OR i.symbol = ?1)",
                )
                .and_then(|mut s| s.query_row([&symbol], |r| r.get(0)))
                .map_err(db("counting quarantined bars"))?;
            let sql = format!(
                "SELECT {COLUMNS} FROM quarantine q JOIN instruments i ON i.id = q.instrument_id
                 WHERE (?1 IS NULL OR i.symbol = ?1) ORDER BY q.id DESC LIMIT ?2 OFFSET ?3"
            );
            let mut stmt = c
                .prepare_cached(&sql)
                .map_err(db("listing quarantined bars"))?;
            let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
            let mut rows = stmt
                .query(params![symbol, i64::from(page.limit), offset])
                .map_err(db("listing quarantined bars"))?;
            let mut items = Vec::new();
            while let Some(row) = rows.next().map_err(db("listing quarantined bars"))? {
                items.push(from_row(row)?);
            }
            Ok(Page {
                items,
                total: u64::try_from(total).unwrap_or(0),
            })
        })
        .await
    }

    async fn get_quarantined(&self, id: i64) -> StoreResult<Option<QuarantinedBar>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM quarantine q JOIN instruments i ON i.id = q.instrument_id
                 WHERE q.id = ?1"
            );
            c.prepare_cached(&sql)
                .and_then(|mut s| s.query_row([id], |row| Ok(from_row(row))).optional())
                .map_err(db("reading a quarantined bar"))?
                .transpose()
        })
        .await
    }

    async fn delete_quarantined(&self, id: i64) -> StoreResult<bool> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM quarantine WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map(|n| n > 0)
                .map_err(db("deleting a quarantined bar"))
        })
        .await
    }
}
