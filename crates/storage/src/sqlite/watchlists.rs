//! Watchlists on SQLite.

use super::{SqliteStore, db, get, is_unique_violation};
use crate::codec::{from_micros, micros, symbol, truncate_to_micros};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::{StoreError, StoreResult, Watchlist, WatchlistStore};
use pricetrack_domain::{Symbol, UserId};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

fn items(c: &Connection, id: i64) -> StoreResult<Vec<Symbol>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT i.symbol FROM watchlist_items w JOIN instruments i ON i.id = w.instrument_id
             WHERE w.watchlist_id = ?1 ORDER BY w.position, i.symbol",
        )
        .map_err(db("reading watchlist items"))?;
    let mut rows = stmt.query([id]).map_err(db("reading watchlist items"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("reading watchlist items"))? {
        out.push(symbol(
            "instruments.symbol",
            &get::<String>(row, 0, "instruments.symbol")?,
        )?);
    }
    Ok(out)
}

fn lists(c: &Connection, owner: UserId, id: Option<i64>) -> StoreResult<Vec<Watchlist>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT id, name, created_at FROM watchlists
             WHERE owner = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY id",
        )
        .map_err(db("reading watchlists"))?;
    let mut rows = stmt
        .query(params![owner.0, id])
        .map_err(db("reading watchlists"))?;
    let mut heads = Vec::new();
    while let Some(row) = rows.next().map_err(db("reading watchlists"))? {
        heads.push((
            get::<i64>(row, 0, "watchlists.id")?,
            get::<String>(row, 1, "watchlists.name")?,
            from_micros(
                "watchlists.created_at",
                get(row, 2, "watchlists.created_at")?,
            )?,
        ));
    }
    heads
        .into_iter()
        .map(|(id, name, created_at)| {
            Ok(Watchlist {
                id,
                owner,
                name,
                created_at,
                symbols: items(c, id)?,
            })
        })
        .collect()
}

fn one(c: &Connection, owner: UserId, id: i64) -> StoreResult<Option<Watchlist>> {
    Ok(lists(c, owner, Some(id))?.into_iter().next())
}

#[async_trait]
impl WatchlistStore for SqliteStore {
    async fn create_watchlist(
        &self,
        owner: UserId,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<Watchlist> {
        let name = name.to_owned();
        let now = truncate_to_micros(now);
        self.write(move |c| {
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO watchlists (owner, name, created_at) VALUES (?1, ?2, ?3) RETURNING id",
                )
                .and_then(|mut s| s.query_row(params![owner.0, name, micros(now)], |r| r.get(0)))
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!("a watchlist named {name:?} already exists"))
                    } else {
                        StoreError::backend("creating a watchlist", e)
                    }
                })?;
            Ok(Watchlist {
                id,
                owner,
                name,
                created_at: now,
                symbols: Vec::new(),
            })
        })
        .await
    }

    async fn list_watchlists(&self, owner: UserId) -> StoreResult<Vec<Watchlist>> {
        self.read(move |c| lists(c, owner, None)).await
    }

    async fn get_watchlist(&self, owner: UserId, id: i64) -> StoreResult<Option<Watchlist>> {
        self.read(move |c| one(c, owner, id)).await
    }

    async fn rename_watchlist(
        &self,
        owner: UserId,
        id: i64,
        name: &str,
    ) -> StoreResult<Option<Watchlist>> {
        let name = name.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE watchlists SET name = ?3 WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![id, owner.0, name]))
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!("a watchlist named {name:?} already exists"))
                    } else {
                        StoreError::backend("renaming a watchlist", e)
                    }
                })?;
            if n == 0 {
                return Ok(None);
            }
            one(c, owner, id)
        })
        .await
    }

    async fn delete_watchlist(&self, owner: UserId, id: i64) -> StoreResult<bool> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM watchlists WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![id, owner.0]))
                .map(|n| n > 0)
                .map_err(db("deleting a watchlist"))
        })
        .await
    }

    async fn set_watchlist_items(
        &self,
        owner: UserId,
        id: i64,
        symbols: &[Symbol],
    ) -> StoreResult<Option<Watchlist>> {
        let symbols = symbols.to_vec();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("changing a watchlist"))?;
            let exists: Option<i64> = tx
                .prepare_cached("SELECT id FROM watchlists WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.query_row(params![id, owner.0], |r| r.get(0)).optional())
                .map_err(db("changing a watchlist"))?;
            if exists.is_none() {
                return Ok(None);
            }
            let mut instrument_ids = Vec::with_capacity(symbols.len());
            for s in &symbols {
                let iid: Option<i64> = tx
                    .prepare_cached("SELECT id FROM instruments WHERE symbol = ?1")
                    .and_then(|mut st| st.query_row([s.as_str()], |r| r.get(0)).optional())
                    .map_err(db("changing a watchlist"))?;
                match iid {
                    Some(iid) => instrument_ids.push(iid),
                    None => return Err(StoreError::UnknownInstrument(s.clone())),
                }
            }
            tx.prepare_cached("DELETE FROM watchlist_items WHERE watchlist_id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db("changing a watchlist"))?;
            for (position, iid) in instrument_ids.iter().enumerate() {
                tx.prepare_cached(
                    "INSERT INTO watchlist_items (watchlist_id, instrument_id, position) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![id, iid, position as i64]))
                .map_err(db("changing a watchlist"))?;
            }
            let out = one(&tx, owner, id)?;
            tx.commit().map_err(db("changing a watchlist"))?;
            Ok(out)
        })
        .await
    }
}
