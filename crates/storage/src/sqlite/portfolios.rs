//! Portfolios on SQLite. Every query is scoped by owner: another user's portfolio
//! is indistinguishable from a missing one.

use super::{db, get, is_unique_violation};
use crate::codec::{corrupt, currency, from_micros, micros, truncate_to_micros};
use jiff::Timestamp;
use pricetrack_app::{
    ports::{Portfolio, PortfolioDraft, PortfolioSettings, StoreError, StoreResult},
    settings::{method_as_str, parse_method},
};
use pricetrack_domain::{PortfolioId, UserId};
use rusqlite::{Connection, Row, params};

const COLUMNS: &str =
    "id, owner, name, base_currency, created_at, cost_basis_method, ledger_version";

fn decode(row: &Row<'_>) -> StoreResult<Portfolio> {
    Ok(Portfolio {
        id: PortfolioId(get(row, 0, "portfolios.id")?),
        owner: UserId(get(row, 1, "portfolios.owner")?),
        name: get(row, 2, "portfolios.name")?,
        base_currency: currency(
            "portfolios.base_currency",
            &get::<String>(row, 3, "portfolios.base_currency")?,
        )?,
        created_at: from_micros(
            "portfolios.created_at",
            get(row, 4, "portfolios.created_at")?,
        )?,
        cost_basis_method: {
            let raw: String = get(row, 5, "portfolios.cost_basis_method")?;
            parse_method(&raw).ok_or_else(|| corrupt("portfolios.cost_basis_method", raw))?
        },
        ledger_version: get(row, 6, "portfolios.ledger_version")?,
    })
}

fn name_conflict(name: &str) -> StoreError {
    StoreError::Conflict(format!("a portfolio named {name:?} already exists"))
}

fn query_one(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    context: &'static str,
) -> StoreResult<Option<Portfolio>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db(context))?;
    let mut rows = stmt.query(params).map_err(db(context))?;
    match rows.next().map_err(db(context))? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn create(
    conn: &Connection,
    owner: UserId,
    draft: &PortfolioDraft,
    now: Timestamp,
) -> StoreResult<Portfolio> {
    let now = truncate_to_micros(now);
    let id = conn
        .prepare_cached(
            "INSERT INTO portfolios (owner, name, base_currency, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![
                    owner.0,
                    draft.name,
                    draft.base_currency.as_str(),
                    micros(now)
                ],
                |row| row.get(0),
            )
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                name_conflict(&draft.name)
            } else {
                StoreError::backend("creating a portfolio", e)
            }
        })?;
    Ok(Portfolio {
        id: PortfolioId(id),
        owner,
        name: draft.name.clone(),
        base_currency: draft.base_currency,
        created_at: now,
        cost_basis_method: PortfolioSettings::default().cost_basis_method,
        ledger_version: 0,
    })
}

pub(super) fn get_one(
    conn: &Connection,
    owner: UserId,
    id: PortfolioId,
) -> StoreResult<Option<Portfolio>> {
    query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM portfolios WHERE id = ?1 AND owner = ?2"),
        params![id.0, owner.0],
        "reading a portfolio",
    )
}

pub(super) fn by_name(
    conn: &Connection,
    owner: UserId,
    name: &str,
) -> StoreResult<Option<Portfolio>> {
    query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM portfolios WHERE owner = ?1 AND name = ?2"),
        params![owner.0, name],
        "reading a portfolio",
    )
}

pub(super) fn list(conn: &Connection, owner: UserId) -> StoreResult<Vec<Portfolio>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM portfolios WHERE owner = ?1 ORDER BY name, id"
        ))
        .map_err(db("listing portfolios"))?;
    let mut rows = stmt.query([owner.0]).map_err(db("listing portfolios"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("listing portfolios"))? {
        out.push(decode(row)?);
    }
    Ok(out)
}

pub(super) fn update(
    conn: &Connection,
    owner: UserId,
    id: PortfolioId,
    draft: &PortfolioDraft,
) -> StoreResult<Option<Portfolio>> {
    let sql = format!(
        "UPDATE portfolios SET name = ?3, base_currency = ?4
         WHERE id = ?1 AND owner = ?2 RETURNING {COLUMNS}"
    );
    query_one(
        conn,
        &sql,
        params![id.0, owner.0, draft.name, draft.base_currency.as_str()],
        "updating a portfolio",
    )
    .map_err(|e| match e {
        StoreError::Backend { source, .. }
            if source
                .downcast_ref::<rusqlite::Error>()
                .is_some_and(is_unique_violation) =>
        {
            name_conflict(&draft.name)
        }
        other => other,
    })
}

pub(super) fn delete(conn: &Connection, owner: UserId, id: PortfolioId) -> StoreResult<bool> {
    // Transactions go with it (ON DELETE CASCADE).
    let n = conn
        .prepare_cached("DELETE FROM portfolios WHERE id = ?1 AND owner = ?2")
        .and_then(|mut stmt| stmt.execute(params![id.0, owner.0]))
        .map_err(db("deleting a portfolio"))?;
    Ok(n > 0)
}

pub(super) fn set_settings(
    conn: &Connection,
    owner: UserId,
    id: PortfolioId,
    settings: &PortfolioSettings,
) -> StoreResult<Option<Portfolio>> {
    query_one(
        conn,
        &format!(
            "UPDATE portfolios SET cost_basis_method = ?3
             WHERE id = ?1 AND owner = ?2 RETURNING {COLUMNS}"
        ),
        params![id.0, owner.0, method_as_str(settings.cost_basis_method)],
        "updating a portfolio's settings",
    )
}

/// Marks the ledger as changed; called inside the ledger change's transaction.
pub(super) fn bump_ledger_version(conn: &Connection, id: PortfolioId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE portfolios SET ledger_version = ledger_version + 1 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id.0]))
        .map_err(db("recording a ledger change"))?;
    Ok(())
}
