//! Instruments on PostgreSQL.

use super::{PgStore, count, db, get, is_unique_violation};
use crate::codec::{InstrumentRow, truncate_to_micros, url_source_json};
use pricetrack_app::ports::{DeleteOutcome, InstrumentQuery, Page, StoreError, StoreResult};
use pricetrack_domain::{Instrument, Symbol};
use tokio_postgres::{Row, types::ToSql};

const COLUMNS: &str = "symbol, name, kind, currency, exchange, provider, provider_symbol, \
    listing_date, url_source";

fn decode(row: &Row) -> StoreResult<Instrument> {
    InstrumentRow {
        symbol: get(row, 0, "instruments.symbol")?,
        name: get(row, 1, "instruments.name")?,
        kind: get(row, 2, "instruments.kind")?,
        currency: get(row, 3, "instruments.currency")?,
        exchange: get(row, 4, "instruments.exchange")?,
        provider: get(row, 5, "instruments.provider")?,
        provider_symbol: get(row, 6, "instruments.provider_symbol")?,
        listing_date: get(row, 7, "instruments.listing_date")?,
        url_source: get(row, 8, "instruments.url_source")?,
    }
    .into_instrument()
}

impl PgStore {
    pub(super) async fn pg_create_instrument(&self, i: &Instrument) -> StoreResult<()> {
        let url_source = url_source_json(i)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO instruments
                     (symbol, name, kind, currency, exchange, provider, provider_symbol, created_at,
                      listing_date, url_source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await
            .map_err(db("creating an instrument"))?;
        client
            .execute(
                &stmt,
                &[
                    &i.symbol.as_str(),
                    &i.name,
                    &i.kind.as_str(),
                    &i.currency.as_str(),
                    &i.exchange,
                    &i.provider.as_str(),
                    &i.provider_symbol,
                    &truncate_to_micros(jiff::Timestamp::now()),
                    &i.listing_date,
                    &url_source,
                ],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("instrument {} already exists", i.symbol))
                } else {
                    StoreError::backend("creating an instrument", e)
                }
            })?;
        Ok(())
    }

    pub(super) async fn pg_update_instrument(&self, i: &Instrument) -> StoreResult<bool> {
        let url_source = url_source_json(i)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE instruments
                 SET name = $2, kind = $3, currency = $4, exchange = $5, provider = $6,
                     provider_symbol = $7, listing_date = $8, url_source = $9
                 WHERE symbol = $1",
            )
            .await
            .map_err(db("updating an instrument"))?;
        let n = client
            .execute(
                &stmt,
                &[
                    &i.symbol.as_str(),
                    &i.name,
                    &i.kind.as_str(),
                    &i.currency.as_str(),
                    &i.exchange,
                    &i.provider.as_str(),
                    &i.provider_symbol,
                    &i.listing_date,
                    &url_source,
                ],
            )
            .await
            .map_err(db("updating an instrument"))?;
        Ok(n > 0)
    }

    pub(super) async fn pg_get_instrument(
        &self,
        symbol: &Symbol,
    ) -> StoreResult<Option<Instrument>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM instruments WHERE symbol = $1"
            ))
            .await
            .map_err(db("reading an instrument"))?;
        let row = client
            .query_opt(&stmt, &[&symbol.as_str()])
            .await
            .map_err(db("reading an instrument"))?;
        row.as_ref().map(decode).transpose()
    }

    pub(super) async fn pg_list_instruments(
        &self,
        q: &InstrumentQuery,
    ) -> StoreResult<Page<Instrument>> {
        let client = self.client().await?;
        let mut conditions = Vec::new();
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        if let Some(kind) = q.kind {
            args.push(Box::new(kind.as_str().to_owned()));
            conditions.push(format!("kind = ${}", args.len()));
        }
        if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            // strpos() rather than LIKE: no wildcard escaping, `%` and `_` match themselves.
            args.push(Box::new(search.to_lowercase()));
            let n = args.len();
            conditions.push(format!(
                "(strpos(lower(symbol), ${n}) > 0 OR strpos(lower(name), ${n}) > 0)"
            ));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
        let total: i64 = client
            .query_one(&format!("SELECT count(*) FROM instruments {filter}"), &refs)
            .await
            .map_err(db("counting instruments"))?
            .try_get(0)
            .map_err(db("counting instruments"))?;
        let limit = i64::from(q.page.limit);
        let offset = i64::try_from(q.page.offset).unwrap_or(i64::MAX);
        let mut refs = refs;
        refs.push(&limit);
        refs.push(&offset);
        let n = refs.len();
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM instruments {filter} ORDER BY symbol COLLATE \"C\" LIMIT ${} OFFSET ${n}",
                    n - 1
                ),
                &refs,
            )
            .await
            .map_err(db("listing instruments"))?;
        Ok(Page {
            items: rows.iter().map(decode).collect::<StoreResult<_>>()?,
            total: count(total),
        })
    }

    pub(super) async fn pg_delete_instrument(&self, symbol: &Symbol) -> StoreResult<DeleteOutcome> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(db("deleting an instrument"))?;
        // FOR UPDATE waits for bar upserts and ledger changes that hold the instrument
        // (FOR KEY SHARE), and blocks new ones until this transaction ends.
        let Some(row) = tx
            .query_opt(
                "SELECT id FROM instruments WHERE symbol = $1 FOR UPDATE",
                &[&symbol.as_str()],
            )
            .await
            .map_err(db("deleting an instrument"))?
        else {
            return Ok(DeleteOutcome::NotFound);
        };
        let id: i32 = get(&row, 0, "instruments.id")?;
        let referencing: i64 = tx
            .query_one(
                "SELECT count(*) FROM transactions WHERE instrument_id = $1",
                &[&id],
            )
            .await
            .map_err(db("counting an instrument's transactions"))?
            .try_get(0)
            .map_err(db("counting an instrument's transactions"))?;
        if referencing > 0 {
            return Ok(DeleteOutcome::Referenced {
                transactions: count(referencing),
            });
        }
        // Bar blocks have no foreign key (see the migration): they go explicitly, in
        // the same transaction.
        tx.execute("DELETE FROM bar_blocks WHERE instrument_id = $1", &[&id])
            .await
            .map_err(db("deleting an instrument's bars"))?;
        tx.execute("DELETE FROM instruments WHERE id = $1", &[&id])
            .await
            .map_err(db("deleting an instrument"))?;
        tx.commit().await.map_err(db("deleting an instrument"))?;
        Ok(DeleteOutcome::Deleted)
    }
}
