//! Fetch jobs on PostgreSQL. Replicas claim due jobs with `FOR UPDATE SKIP
//! LOCKED`: a row another replica is claiming is skipped, not waited for, and
//! once claimed its lease (`claimed_until`) keeps it out of every other claim.

use super::{PgStore, db, get};
use crate::codec::{InstrumentRow, symbol, truncate_to_micros};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use pricetrack_app::ports::{
    BackfillProgress, ClaimedJob, FetchJob, FetchRunRecord, FetchRunResult, JobKey, JobStore,
    StoreError, StoreResult,
};
use pricetrack_domain::{Interval, Symbol};
use tokio_postgres::Row;

/// Job columns, then the instrument's, in the order [`decode`] reads them.
const JOB_COLUMNS: &str = "i.symbol, j.interval, j.active, j.next_due_at, j.claimed_until,
    j.claimed_by, j.last_attempt_at, j.last_success_at, j.last_error, j.last_error_at,
    j.failures, j.failures_total, j.provider, j.simulated, j.backfill_done,
    j.backfill_anchor, j.backfill_cursor, j.backfill_floor,
    i.name, i.kind, i.currency, i.exchange, i.provider, i.provider_symbol, i.listing_date,
    i.url_source";

fn interval(code: i16) -> StoreResult<Interval> {
    Interval::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("fetch_jobs.interval: unknown code {code}")))
}

fn decode(row: &Row) -> StoreResult<ClaimedJob> {
    let job = FetchJob {
        symbol: symbol("instruments.symbol", get(row, 0, "instruments.symbol")?)?,
        interval: interval(get(row, 1, "fetch_jobs.interval")?)?,
        active: get(row, 2, "fetch_jobs.active")?,
        next_due_at: get(row, 3, "fetch_jobs.next_due_at")?,
        claimed_until: get(row, 4, "fetch_jobs.claimed_until")?,
        claimed_by: get(row, 5, "fetch_jobs.claimed_by")?,
        last_attempt_at: get(row, 6, "fetch_jobs.last_attempt_at")?,
        last_success_at: get(row, 7, "fetch_jobs.last_success_at")?,
        last_error: get(row, 8, "fetch_jobs.last_error")?,
        last_error_at: get(row, 9, "fetch_jobs.last_error_at")?,
        failures: u32::try_from(get::<i32>(row, 10, "fetch_jobs.failures")?).unwrap_or(0),
        failures_total: u64::try_from(get::<i64>(row, 11, "fetch_jobs.failures_total")?)
            .unwrap_or(0),
        provider: get(row, 12, "fetch_jobs.provider")?,
        simulated: get(row, 13, "fetch_jobs.simulated")?,
        backfill: BackfillProgress {
            done: get(row, 14, "fetch_jobs.backfill_done")?,
            anchor: get(row, 15, "fetch_jobs.backfill_anchor")?,
            cursor: get(row, 16, "fetch_jobs.backfill_cursor")?,
            floor: get(row, 17, "fetch_jobs.backfill_floor")?,
        },
    };
    let instrument = InstrumentRow {
        symbol: job.symbol.as_str().to_owned(),
        name: get(row, 18, "instruments.name")?,
        kind: get(row, 19, "instruments.kind")?,
        currency: get(row, 20, "instruments.currency")?,
        exchange: get(row, 21, "instruments.exchange")?,
        provider: get(row, 22, "instruments.provider")?,
        provider_symbol: get(row, 23, "instruments.provider_symbol")?,
        listing_date: get(row, 24, "instruments.listing_date")?,
        url_source: get(row, 25, "instruments.url_source")?,
    }
    .into_instrument()?;
    Ok(ClaimedJob { job, instrument })
}

fn t(ts: Timestamp) -> Timestamp {
    truncate_to_micros(ts)
}

async fn read_jobs<C: GenericClient>(
    c: &C,
    ids: &[i32],
    intervals: &[i16],
) -> StoreResult<Vec<ClaimedJob>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM fetch_jobs j JOIN instruments i ON i.id = j.instrument_id
         JOIN unnest($1::INTEGER[], $2::SMALLINT[]) AS k(iid, iv)
           ON j.instrument_id = k.iid AND j.interval = k.iv
         ORDER BY j.next_due_at, j.instrument_id, j.interval"
    );
    let rows = c
        .query(&sql, &[&ids, &intervals])
        .await
        .map_err(db("reading claimed fetch jobs"))?;
    rows.iter().map(decode).collect()
}

#[async_trait]
impl JobStore for PgStore {
    async fn ensure_fetch_jobs(&self, keys: &[JobKey], due: Timestamp) -> StoreResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let client = self.client().await?;
        let symbols: Vec<&str> = keys.iter().map(|k| k.symbol.as_str()).collect();
        let codes: Vec<i16> = keys.iter().map(|k| k.interval.code()).collect();
        let created = client
            .execute(
                "INSERT INTO fetch_jobs (instrument_id, interval, next_due_at)
                 SELECT i.id, k.iv, $3 FROM unnest($1::TEXT[], $2::SMALLINT[]) AS k(sym, iv)
                 JOIN instruments i ON i.symbol = k.sym
                 ON CONFLICT DO NOTHING",
                &[&symbols, &codes, &t(due)],
            )
            .await
            .map_err(db("creating fetch jobs"))?;
        client
            .execute(
                "UPDATE fetch_jobs j SET active = TRUE
                 FROM unnest($1::TEXT[], $2::SMALLINT[]) AS k(sym, iv), instruments i
                 WHERE i.symbol = k.sym AND j.instrument_id = i.id AND j.interval = k.iv
                   AND NOT j.active",
                &[&symbols, &codes],
            )
            .await
            .map_err(db("activating fetch jobs"))?;
        Ok(created)
    }

    async fn deactivate_fetch_jobs(&self, keys: &[JobKey]) -> StoreResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let client = self.client().await?;
        let symbols: Vec<&str> = keys.iter().map(|k| k.symbol.as_str()).collect();
        let codes: Vec<i16> = keys.iter().map(|k| k.interval.code()).collect();
        client
            .execute(
                "UPDATE fetch_jobs j SET active = FALSE
                 FROM unnest($1::TEXT[], $2::SMALLINT[]) AS k(sym, iv), instruments i
                 WHERE i.symbol = k.sym AND j.instrument_id = i.id AND j.interval = k.iv
                   AND j.active",
                &[&symbols, &codes],
            )
            .await
            .map_err(db("deactivating fetch jobs"))
    }

    async fn claim_due_fetch_jobs(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH due AS (
                     SELECT instrument_id, interval FROM fetch_jobs
                     WHERE active AND next_due_at <= $1
                       AND (claimed_until IS NULL OR claimed_until <= $1)
                     ORDER BY next_due_at, instrument_id, interval
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 UPDATE fetch_jobs j SET claimed_until = $3, claimed_by = $4
                 FROM due WHERE j.instrument_id = due.instrument_id AND j.interval = due.interval
                 RETURNING j.instrument_id, j.interval",
                &[&t(now), &i64::from(limit), &t(lease_until), &worker],
            )
            .await
            .map_err(db("claiming fetch jobs"))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut intervals = Vec::with_capacity(rows.len());
        for r in &rows {
            ids.push(get::<i32>(r, 0, "fetch_jobs.instrument_id")?);
            intervals.push(get::<i16>(r, 1, "fetch_jobs.interval")?);
        }
        read_jobs(&client, &ids, &intervals).await
    }

    async fn claim_fetch_job(
        &self,
        key: &JobKey,
        now: Timestamp,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Option<ClaimedJob>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE fetch_jobs j SET claimed_until = $3, claimed_by = $4
                 FROM instruments i
                 WHERE i.symbol = $1 AND j.instrument_id = i.id AND j.interval = $2
                   AND (j.claimed_until IS NULL OR j.claimed_until <= $5 OR j.claimed_by = $4)
                 RETURNING j.instrument_id, j.interval",
                &[
                    &key.symbol.as_str(),
                    &key.interval.code(),
                    &t(lease_until),
                    &worker,
                    &t(now),
                ],
            )
            .await
            .map_err(db("claiming a fetch job"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let ids = [get::<i32>(&row, 0, "fetch_jobs.instrument_id")?];
        let intervals = [get::<i16>(&row, 1, "fetch_jobs.interval")?];
        Ok(read_jobs(&client, &ids, &intervals)
            .await?
            .into_iter()
            .next())
    }

    async fn save_backfill_progress(
        &self,
        key: &JobKey,
        worker: &str,
        p: &BackfillProgress,
        lease_until: Timestamp,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE fetch_jobs j SET backfill_done = $4, backfill_anchor = $5,
                     backfill_cursor = $6, backfill_floor = $7, claimed_until = $8
                 FROM instruments i
                 WHERE i.symbol = $1 AND j.instrument_id = i.id AND j.interval = $2
                   AND j.claimed_by = $3",
                &[
                    &key.symbol.as_str(),
                    &key.interval.code(),
                    &worker,
                    &p.done,
                    &p.anchor.map(t),
                    &p.cursor.map(t),
                    &p.floor.map(t),
                    &t(lease_until),
                ],
            )
            .await
            .map_err(db("saving backfill progress"))?;
        Ok(n > 0)
    }

    async fn finish_fetch_job(
        &self,
        key: &JobKey,
        worker: &str,
        r: &FetchRunRecord,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let p = &r.backfill;
        let (success, provider, simulated, error) = match &r.result {
            FetchRunResult::Success {
                provider,
                simulated,
            } => (true, provider.as_deref(), *simulated, None),
            FetchRunResult::Failure { error } => (false, None, false, Some(error.as_str())),
        };
        let n = client
            .execute(
                "UPDATE fetch_jobs j SET last_attempt_at = $4, next_due_at = $5,
                     backfill_done = $6, backfill_anchor = $7, backfill_cursor = $8,
                     backfill_floor = $9,
                     last_success_at = CASE WHEN $10 THEN $4 ELSE j.last_success_at END,
                     failures = CASE WHEN $10 THEN 0 ELSE j.failures + 1 END,
                     failures_total = j.failures_total + CASE WHEN $10 THEN 0 ELSE 1 END,
                     provider = CASE WHEN $10 THEN COALESCE($11, j.provider) ELSE j.provider END,
                     simulated = CASE WHEN $10 THEN $12 ELSE j.simulated END,
                     last_error = CASE WHEN $10 THEN j.last_error ELSE $13 END,
                     last_error_at = CASE WHEN $10 THEN j.last_error_at ELSE $4 END,
                     claimed_until = NULL, claimed_by = NULL
                 FROM instruments i
                 WHERE i.symbol = $1 AND j.instrument_id = i.id AND j.interval = $2
                   AND j.claimed_by = $3",
                &[
                    &key.symbol.as_str(),
                    &key.interval.code(),
                    &worker,
                    &t(r.at),
                    &t(r.next_due_at),
                    &p.done,
                    &p.anchor.map(t),
                    &p.cursor.map(t),
                    &p.floor.map(t),
                    &success,
                    &provider,
                    &simulated,
                    &error,
                ],
            )
            .await
            .map_err(db("recording a fetch run"))?;
        Ok(n > 0)
    }

    async fn list_fetch_jobs(&self, symbol: Option<&Symbol>) -> StoreResult<Vec<FetchJob>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM fetch_jobs j JOIN instruments i ON i.id = j.instrument_id
             WHERE ($1::TEXT IS NULL OR i.symbol = $1)
             ORDER BY i.symbol COLLATE \"C\", j.interval"
        );
        let rows = client
            .query(&sql, &[&symbol.map(Symbol::as_str)])
            .await
            .map_err(db("listing fetch jobs"))?;
        rows.iter().map(|r| decode(r).map(|c| c.job)).collect()
    }

    async fn watchlisted_symbols(&self) -> StoreResult<Vec<Symbol>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT symbol FROM instruments
                 WHERE id IN (SELECT instrument_id FROM watchlist_items)
                 ORDER BY symbol COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db("listing watchlisted instruments"))?;
        rows.iter()
            .map(|r| symbol("instruments.symbol", get(r, 0, "instruments.symbol")?))
            .collect()
    }
}
