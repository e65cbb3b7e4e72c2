//! Fetch jobs on SQLite. Claims run inside `BEGIN IMMEDIATE` on the single
//! writer connection, so two claimers (threads or processes) never get the same job.

use super::{SqliteStore, db, get};
use crate::codec::{from_micros, micros, symbol};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::{
    BackfillProgress, ClaimedJob, FetchJob, FetchRunRecord, FetchRunResult, JobKey, JobStore,
    StoreError, StoreResult,
};
use pricetrack_domain::{Interval, Symbol};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

/// Columns of a job joined with its instrument, in the order [`job_from_row`] reads them.
const JOB_COLUMNS: &str = "i.symbol, j.interval, j.active, j.next_due_at, j.claimed_until,
    j.claimed_by, j.last_attempt_at, j.last_success_at, j.last_error, j.last_error_at,
    j.failures, j.failures_total, j.provider, j.simulated, j.backfill_done,
    j.backfill_anchor, j.backfill_cursor, j.backfill_floor";

fn opt_micros(column: &str, v: Option<i64>) -> StoreResult<Option<Timestamp>> {
    v.map(|v| from_micros(column, v)).transpose()
}

fn job_from_row(row: &Row<'_>) -> StoreResult<FetchJob> {
    let code: i64 = get(row, 1, "fetch_jobs.interval")?;
    let interval = i16::try_from(code)
        .ok()
        .and_then(Interval::from_code)
        .ok_or_else(|| StoreError::Corrupt(format!("fetch_jobs.interval: unknown code {code}")))?;
    Ok(FetchJob {
        symbol: symbol(
            "instruments.symbol",
            &get::<String>(row, 0, "instruments.symbol")?,
        )?,
        interval,
        active: get::<i64>(row, 2, "fetch_jobs.active")? != 0,
        next_due_at: from_micros(
            "fetch_jobs.next_due_at",
            get(row, 3, "fetch_jobs.next_due_at")?,
        )?,
        claimed_until: opt_micros(
            "fetch_jobs.claimed_until",
            get(row, 4, "fetch_jobs.claimed_until")?,
        )?,
        claimed_by: get(row, 5, "fetch_jobs.claimed_by")?,
        last_attempt_at: opt_micros(
            "fetch_jobs.last_attempt_at",
            get(row, 6, "fetch_jobs.last_attempt_at")?,
        )?,
        last_success_at: opt_micros(
            "fetch_jobs.last_success_at",
            get(row, 7, "fetch_jobs.last_success_at")?,
        )?,
        last_error: get(row, 8, "fetch_jobs.last_error")?,
        last_error_at: opt_micros(
            "fetch_jobs.last_error_at",
            get(row, 9, "fetch_jobs.last_error_at")?,
        )?,
        failures: u32::try_from(get::<i64>(row, 10, "fetch_jobs.failures")?).unwrap_or(u32::MAX),
        failures_total: u64::try_from(get::<i64>(row, 11, "fetch_jobs.failures_total")?)
            .unwrap_or(0),
        provider: get(row, 12, "fetch_jobs.provider")?,
        simulated: get::<i64>(row, 13, "fetch_jobs.simulated")? != 0,
        backfill: BackfillProgress {
            done: get::<i64>(row, 14, "fetch_jobs.backfill_done")? != 0,
            anchor: opt_micros(
                "fetch_jobs.backfill_anchor",
                get(row, 15, "fetch_jobs.backfill_anchor")?,
            )?,
            cursor: opt_micros(
                "fetch_jobs.backfill_cursor",
                get(row, 16, "fetch_jobs.backfill_cursor")?,
            )?,
            floor: opt_micros(
                "fetch_jobs.backfill_floor",
                get(row, 17, "fetch_jobs.backfill_floor")?,
            )?,
        },
    })
}

fn instrument_id(c: &Connection, symbol: &Symbol) -> StoreResult<Option<i64>> {
    c.prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
        .and_then(|mut s| s.query_row([symbol.as_str()], |r| r.get(0)).optional())
        .map_err(db("looking up an instrument"))
}

fn claimed(c: &Connection, instrument_id: i64, interval: Interval) -> StoreResult<ClaimedJob> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM fetch_jobs j JOIN instruments i ON i.id = j.instrument_id
         WHERE j.instrument_id = ?1 AND j.interval = ?2"
    );
    let job = c
        .prepare_cached(&sql)
        .map_err(db("reading a fetch job"))?
        .query_row(params![instrument_id, interval.code()], |row| {
            Ok(job_from_row(row))
        })
        .map_err(db("reading a fetch job"))??;
    let instrument = super::instruments::get_one(c, &job.symbol)?
        .ok_or_else(|| StoreError::UnknownInstrument(job.symbol.clone()))?;
    Ok(ClaimedJob { job, instrument })
}

fn claim_due(
    c: &mut Connection,
    now: Timestamp,
    lease_until: Timestamp,
    worker: &str,
    limit: u32,
) -> StoreResult<Vec<ClaimedJob>> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db("claiming fetch jobs"))?;
    let due: Vec<(i64, i64)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT instrument_id, interval FROM fetch_jobs
                 WHERE active = 1 AND next_due_at <= ?1
                   AND (claimed_until IS NULL OR claimed_until <= ?1)
                 ORDER BY next_due_at, instrument_id, interval LIMIT ?2",
            )
            .map_err(db("claiming fetch jobs"))?;
        let rows = stmt
            .query_map(params![micros(now), i64::from(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db("claiming fetch jobs"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("claiming fetch jobs"))?
    };
    let mut out = Vec::with_capacity(due.len());
    for (iid, code) in due {
        tx.prepare_cached(
            "UPDATE fetch_jobs SET claimed_until = ?3, claimed_by = ?4
             WHERE instrument_id = ?1 AND interval = ?2",
        )
        .and_then(|mut s| s.execute(params![iid, code, micros(lease_until), worker]))
        .map_err(db("claiming fetch jobs"))?;
        let interval = i16::try_from(code)
            .ok()
            .and_then(Interval::from_code)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("fetch_jobs.interval: unknown code {code}"))
            })?;
        out.push(claimed(&tx, iid, interval)?);
    }
    tx.commit().map_err(db("claiming fetch jobs"))?;
    Ok(out)
}

fn claim_one(
    c: &mut Connection,
    key: &JobKey,
    now: Timestamp,
    lease_until: Timestamp,
    worker: &str,
) -> StoreResult<Option<ClaimedJob>> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db("claiming a fetch job"))?;
    let Some(iid) = instrument_id(&tx, &key.symbol)? else {
        return Ok(None);
    };
    let n = tx
        .prepare_cached(
            "UPDATE fetch_jobs SET claimed_until = ?3, claimed_by = ?4
             WHERE instrument_id = ?1 AND interval = ?2
               AND (claimed_until IS NULL OR claimed_until <= ?5 OR claimed_by = ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                iid,
                key.interval.code(),
                micros(lease_until),
                worker,
                micros(now)
            ])
        })
        .map_err(db("claiming a fetch job"))?;
    if n == 0 {
        return Ok(None);
    }
    let job = claimed(&tx, iid, key.interval)?;
    tx.commit().map_err(db("claiming a fetch job"))?;
    Ok(Some(job))
}

fn save_progress(
    c: &mut Connection,
    key: &JobKey,
    worker: &str,
    p: &BackfillProgress,
    lease_until: Timestamp,
) -> StoreResult<bool> {
    let Some(iid) = instrument_id(c, &key.symbol)? else {
        return Ok(false);
    };
    let n = c
        .prepare_cached(
            "UPDATE fetch_jobs SET backfill_done = ?4, backfill_anchor = ?5, backfill_cursor = ?6,
                 backfill_floor = ?7, claimed_until = ?8
             WHERE instrument_id = ?1 AND interval = ?2 AND claimed_by = ?3",
        )
        .and_then(|mut s| {
            s.execute(params![
                iid,
                key.interval.code(),
                worker,
                p.done,
                p.anchor.map(micros),
                p.cursor.map(micros),
                p.floor.map(micros),
                micros(lease_until)
            ])
        })
        .map_err(db("saving backfill progress"))?;
    Ok(n > 0)
}

fn finish(c: &mut Connection, key: &JobKey, worker: &str, r: &FetchRunRecord) -> StoreResult<bool> {
    let Some(iid) = instrument_id(c, &key.symbol)? else {
        return Ok(false);
    };
    let p = &r.backfill;
    let common = params![
        iid,
        key.interval.code(),
        worker,
        micros(r.at),
        micros(r.next_due_at),
        p.done,
        p.anchor.map(micros),
        p.cursor.map(micros),
        p.floor.map(micros),
    ];
    let n = match &r.result {
        FetchRunResult::Success {
            provider,
            simulated,
        } => {
            let mut all: Vec<&dyn rusqlite::ToSql> = common.to_vec();
            all.push(provider);
            all.push(simulated);
            c.prepare_cached(
                "UPDATE fetch_jobs SET last_attempt_at = ?4, next_due_at = ?5, backfill_done = ?6,
                     backfill_anchor = ?7, backfill_cursor = ?8, backfill_floor = ?9,
                     last_success_at = ?4, failures = 0, provider = COALESCE(?10, provider),
                     simulated = ?11,
                     claimed_until = NULL, claimed_by = NULL
                 WHERE instrument_id = ?1 AND interval = ?2 AND claimed_by = ?3",
            )
            .and_then(|mut s| s.execute(all.as_slice()))
        }
        FetchRunResult::Failure { error } => {
            let mut all: Vec<&dyn rusqlite::ToSql> = common.to_vec();
            all.push(error);
            c.prepare_cached(
                "UPDATE fetch_jobs SET last_attempt_at = ?4, next_due_at = ?5, backfill_done = ?6,
                     backfill_anchor = ?7, backfill_cursor = ?8, backfill_floor = ?9,
                     last_error = ?10, last_error_at = ?4, failures = failures + 1,
                     failures_total = failures_total + 1,
                     claimed_until = NULL, claimed_by = NULL
                 WHERE instrument_id = ?1 AND interval = ?2 AND claimed_by = ?3",
            )
            .and_then(|mut s| s.execute(all.as_slice()))
        }
    }
    .map_err(db("recording a fetch run"))?;
    Ok(n > 0)
}

fn list(c: &Connection, symbol: Option<&Symbol>) -> StoreResult<Vec<FetchJob>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM fetch_jobs j JOIN instruments i ON i.id = j.instrument_id
         WHERE (?1 IS NULL OR i.symbol = ?1) ORDER BY i.symbol, j.interval"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(db("listing fetch jobs"))?;
    let mut rows = stmt
        .query([symbol.map(Symbol::as_str)])
        .map_err(db("listing fetch jobs"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("listing fetch jobs"))? {
        out.push(job_from_row(row)?);
    }
    Ok(out)
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn ensure_fetch_jobs(&self, keys: &[JobKey], due: Timestamp) -> StoreResult<u64> {
        let keys = keys.to_vec();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("creating fetch jobs"))?;
            let mut created = 0;
            for key in &keys {
                let Some(iid) = instrument_id(&tx, &key.symbol)? else {
                    continue;
                };
                created += tx
                    .prepare_cached(
                        "INSERT INTO fetch_jobs (instrument_id, interval, next_due_at)
                         VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    )
                    .and_then(|mut s| s.execute(params![iid, key.interval.code(), micros(due)]))
                    .map_err(db("creating fetch jobs"))? as u64;
                tx.prepare_cached(
                    "UPDATE fetch_jobs SET active = 1 WHERE instrument_id = ?1 AND interval = ?2 AND active = 0",
                )
                .and_then(|mut s| s.execute(params![iid, key.interval.code()]))
                .map_err(db("activating fetch jobs"))?;
            }
            tx.commit().map_err(db("creating fetch jobs"))?;
            Ok(created)
        })
        .await
    }

    async fn deactivate_fetch_jobs(&self, keys: &[JobKey]) -> StoreResult<u64> {
        let keys = keys.to_vec();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("deactivating fetch jobs"))?;
            let mut changed = 0;
            for key in &keys {
                changed += tx
                    .prepare_cached(
                        "UPDATE fetch_jobs SET active = 0
                         WHERE instrument_id = (SELECT id FROM instruments WHERE symbol = ?1)
                           AND interval = ?2 AND active = 1",
                    )
                    .and_then(|mut s| s.execute(params![key.symbol.as_str(), key.interval.code()]))
                    .map_err(db("deactivating fetch jobs"))? as u64;
            }
            tx.commit().map_err(db("deactivating fetch jobs"))?;
            Ok(changed)
        })
        .await
    }

    async fn claim_due_fetch_jobs(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let worker = worker.to_owned();
        self.write(move |c| claim_due(c, now, lease_until, &worker, limit))
            .await
    }

    async fn claim_fetch_job(
        &self,
        key: &JobKey,
        now: Timestamp,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Option<ClaimedJob>> {
        let (key, worker) = (key.clone(), worker.to_owned());
        self.write(move |c| claim_one(c, &key, now, lease_until, &worker))
            .await
    }

    async fn save_backfill_progress(
        &self,
        key: &JobKey,
        worker: &str,
        progress: &BackfillProgress,
        lease_until: Timestamp,
    ) -> StoreResult<bool> {
        let (key, worker, progress) = (key.clone(), worker.to_owned(), *progress);
        self.write(move |c| save_progress(c, &key, &worker, &progress, lease_until))
            .await
    }

    async fn finish_fetch_job(
        &self,
        key: &JobKey,
        worker: &str,
        record: &FetchRunRecord,
    ) -> StoreResult<bool> {
        let (key, worker, record) = (key.clone(), worker.to_owned(), record.clone());
        self.write(move |c| finish(c, &key, &worker, &record)).await
    }

    async fn list_fetch_jobs(&self, symbol: Option<&Symbol>) -> StoreResult<Vec<FetchJob>> {
        let symbol = symbol.cloned();
        self.read(move |c| list(c, symbol.as_ref())).await
    }

    async fn watchlisted_symbols(&self) -> StoreResult<Vec<Symbol>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT symbol FROM instruments
                     WHERE id IN (SELECT instrument_id FROM watchlist_items)
                     ORDER BY symbol",
                )
                .map_err(db("listing watchlisted instruments"))?;
            let mut rows = stmt
                .query([])
                .map_err(db("listing watchlisted instruments"))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(db("listing watchlisted instruments"))? {
                out.push(symbol(
                    "instruments.symbol",
                    &get::<String>(row, 0, "instruments.symbol")?,
                )?);
            }
            Ok(out)
        })
        .await
    }
}
