//! Portfolios on PostgreSQL. Every query is scoped by owner: another user's portfolio
//! is indistinguishable from a missing one.

use super::{PgStore, db, get, is_unique_violation};
use crate::codec::{corrupt, currency, truncate_to_micros};
use jiff::Timestamp;
use pricetrack_app::{
    ports::{Portfolio, PortfolioDraft, PortfolioSettings, StoreError, StoreResult},
    settings::{method_as_str, parse_method},
};
use pricetrack_domain::{PortfolioId, UserId};
use tokio_postgres::Row;

const COLUMNS: &str =
    "id, owner, name, base_currency, created_at, cost_basis_method, ledger_version";

fn decode(row: &Row) -> StoreResult<Portfolio> {
    Ok(Portfolio {
        id: PortfolioId(get(row, 0, "portfolios.id")?),
        owner: UserId(get(row, 1, "portfolios.owner")?),
        name: get(row, 2, "portfolios.name")?,
        base_currency: currency(
            "portfolios.base_currency",
            get(row, 3, "portfolios.base_currency")?,
        )?,
        created_at: get(row, 4, "portfolios.created_at")?,
        cost_basis_method: {
            let raw: &str = get(row, 5, "portfolios.cost_basis_method")?;
            parse_method(raw).ok_or_else(|| corrupt("portfolios.cost_basis_method", raw))?
        },
        ledger_version: get(row, 6, "portfolios.ledger_version")?,
    })
}

fn map_conflict(
    name: &str,
    context: &'static str,
) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a portfolio named {name:?} already exists"))
        } else {
            StoreError::backend(context, e)
        }
    }
}

impl PgStore {
    pub(super) async fn pg_create_portfolio(
        &self,
        owner: UserId,
        draft: &PortfolioDraft,
        now: Timestamp,
    ) -> StoreResult<Portfolio> {
        let client = self.client().await?;
        let now = truncate_to_micros(now);
        let row = client
            .query_one(
                "INSERT INTO portfolios (owner, name, base_currency, created_at)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[&owner.0, &draft.name, &draft.base_currency.as_str(), &now],
            )
            .await
            .map_err(map_conflict(&draft.name, "creating a portfolio"))?;
        Ok(Portfolio {
            id: PortfolioId(get(&row, 0, "portfolios.id")?),
            owner,
            name: draft.name.clone(),
            base_currency: draft.base_currency,
            created_at: now,
            cost_basis_method: PortfolioSettings::default().cost_basis_method,
            ledger_version: 0,
        })
    }

    pub(super) async fn pg_get_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
    ) -> StoreResult<Option<Portfolio>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM portfolios WHERE id = $1 AND owner = $2"),
                &[&id.0, &owner.0],
            )
            .await
            .map_err(db("reading a portfolio"))?;
        row.as_ref().map(decode).transpose()
    }

    pub(super) async fn pg_portfolio_by_name(
        &self,
        owner: UserId,
        name: &str,
    ) -> StoreResult<Option<Portfolio>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM portfolios WHERE owner = $1 AND name = $2"),
                &[&owner.0, &name],
            )
            .await
            .map_err(db("reading a portfolio"))?;
        row.as_ref().map(decode).transpose()
    }

    pub(super) async fn pg_list_portfolios(&self, owner: UserId) -> StoreResult<Vec<Portfolio>> {
        let client = self.client().await?;
        // COLLATE "C": byte order, the same order SQLite gives.
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM portfolios WHERE owner = $1
                     ORDER BY name COLLATE \"C\", id"
                ),
                &[&owner.0],
            )
            .await
            .map_err(db("listing portfolios"))?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn pg_update_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
        draft: &PortfolioDraft,
    ) -> StoreResult<Option<Portfolio>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE portfolios SET name = $3, base_currency = $4
                     WHERE id = $1 AND owner = $2 RETURNING {COLUMNS}"
                ),
                &[&id.0, &owner.0, &draft.name, &draft.base_currency.as_str()],
            )
            .await
            .map_err(map_conflict(&draft.name, "updating a portfolio"))?;
        row.as_ref().map(decode).transpose()
    }

    pub(super) async fn pg_delete_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        // Transactions go with it (ON DELETE CASCADE).
        let n = client
            .execute(
                "DELETE FROM portfolios WHERE id = $1 AND owner = $2",
                &[&id.0, &owner.0],
            )
            .await
            .map_err(db("deleting a portfolio"))?;
        Ok(n > 0)
    }

    pub(super) async fn pg_set_portfolio_settings(
        &self,
        owner: UserId,
        id: PortfolioId,
        settings: &PortfolioSettings,
    ) -> StoreResult<Option<Portfolio>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE portfolios SET cost_basis_method = $3
                     WHERE id = $1 AND owner = $2 RETURNING {COLUMNS}"
                ),
                &[&id.0, &owner.0, &method_as_str(settings.cost_basis_method)],
            )
            .await
            .map_err(db("updating a portfolio's settings"))?;
        row.as_ref().map(decode).transpose()
    }
}
