//! Watchlists on PostgreSQL.

use super::{PgStore, db, get, is_unique_violation};
use crate::codec::{symbol, truncate_to_micros};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use pricetrack_app::ports::{StoreError, StoreResult, Watchlist, WatchlistStore};
use pricetrack_domain::{Symbol, UserId};

async fn lists<C: GenericClient>(
    c: &C,
    owner: UserId,
    id: Option<i64>,
) -> StoreResult<Vec<Watchlist>> {
    let heads = c
        .query(
            "SELECT id, name, created_at FROM watchlists
             WHERE owner = $1 AND ($2::BIGINT IS NULL OR id = $2) ORDER BY id",
            &[&owner.0, &id],
        )
        .await
        .map_err(db("reading watchlists"))?;
    let ids: Vec<i64> = heads
        .iter()
        .map(|r| get(r, 0, "watchlists.id"))
        .collect::<StoreResult<_>>()?;
    let items = c
        .query(
            "SELECT w.watchlist_id, i.symbol FROM watchlist_items w
             JOIN instruments i ON i.id = w.instrument_id
             WHERE w.watchlist_id = ANY($1) ORDER BY w.watchlist_id, w.position, i.symbol COLLATE \"C\"",
            &[&ids],
        )
        .await
        .map_err(db("reading watchlist items"))?;
    let mut out = Vec::with_capacity(heads.len());
    for row in &heads {
        let wid: i64 = get(row, 0, "watchlists.id")?;
        let mut symbols = Vec::new();
        for item in items.iter() {
            let owner_id: i64 = get(item, 0, "watchlist_items.watchlist_id")?;
            if owner_id == wid {
                symbols.push(symbol(
                    "instruments.symbol",
                    get(item, 1, "instruments.symbol")?,
                )?);
            }
        }
        out.push(Watchlist {
            id: wid,
            owner,
            name: get(row, 1, "watchlists.name")?,
            created_at: get(row, 2, "watchlists.created_at")?,
            symbols,
        });
    }
    Ok(out)
}

#[async_trait]
impl WatchlistStore for PgStore {
    async fn create_watchlist(
        &self,
        owner: UserId,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<Watchlist> {
        let client = self.client().await?;
        let now = truncate_to_micros(now);
        let row = client
            .query_one(
                "INSERT INTO watchlists (owner, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&owner.0, &name, &now],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("a watchlist named {name:?} already exists"))
                } else {
                    StoreError::backend("creating a watchlist", e)
                }
            })?;
        Ok(Watchlist {
            id: get(&row, 0, "watchlists.id")?,
            owner,
            name: name.to_owned(),
            created_at: now,
            symbols: Vec::new(),
        })
    }

    async fn list_watchlists(&self, owner: UserId) -> StoreResult<Vec<Watchlist>> {
        let client = self.client().await?;
        lists(&client, owner, None).await
    }

    async fn get_watchlist(&self, owner: UserId, id: i64) -> StoreResult<Option<Watchlist>> {
        let client = self.client().await?;
        Ok(lists(&client, owner, Some(id)).await?.into_iter().next())
    }

    async fn rename_watchlist(
        &self,
        owner: UserId,
        id: i64,
        name: &str,
    ) -> StoreResult<Option<Watchlist>> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE watchlists SET name = $3 WHERE id = $1 AND owner = $2",
                &[&id, &owner.0, &name],
            )
            .await
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
        Ok(lists(&client, owner, Some(id)).await?.into_iter().next())
    }

    async fn delete_watchlist(&self, owner: UserId, id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM watchlists WHERE id = $1 AND owner = $2",
                &[&id, &owner.0],
            )
            .await
            .map_err(db("deleting a watchlist"))?;
        Ok(n > 0)
    }

    async fn set_watchlist_items(
        &self,
        owner: UserId,
        id: i64,
        symbols: &[Symbol],
    ) -> StoreResult<Option<Watchlist>> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(db("changing a watchlist"))?;
        let exists = tx
            .query_opt(
                "SELECT id FROM watchlists WHERE id = $1 AND owner = $2 FOR UPDATE",
                &[&id, &owner.0],
            )
            .await
            .map_err(db("changing a watchlist"))?;
        if exists.is_none() {
            return Ok(None);
        }
        let names: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
        let rows = tx
            .query(
                "SELECT symbol, id FROM instruments WHERE symbol = ANY($1) FOR KEY SHARE",
                &[&names],
            )
            .await
            .map_err(db("changing a watchlist"))?;
        let mut ids: Vec<i32> = Vec::with_capacity(symbols.len());
        for s in symbols {
            let mut found = None;
            for r in &rows {
                let sym: &str = get(r, 0, "instruments.symbol")?;
                if sym == s.as_str() {
                    found = Some(get::<i32>(r, 1, "instruments.id")?);
                }
            }
            match found {
                Some(iid) => ids.push(iid),
                None => return Err(StoreError::UnknownInstrument(s.clone())),
            }
        }
        tx.execute(
            "DELETE FROM watchlist_items WHERE watchlist_id = $1",
            &[&id],
        )
        .await
        .map_err(db("changing a watchlist"))?;
        let positions: Vec<i32> = (0..ids.len() as i32).collect();
        tx.execute(
            "INSERT INTO watchlist_items (watchlist_id, instrument_id, position)
             SELECT $1, * FROM unnest($2::INTEGER[], $3::INTEGER[])",
            &[&id, &ids, &positions],
        )
        .await
        .map_err(db("changing a watchlist"))?;
        let out = lists(&tx, owner, Some(id)).await?.into_iter().next();
        tx.commit().await.map_err(db("changing a watchlist"))?;
        Ok(out)
    }
}
