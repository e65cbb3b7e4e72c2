//! Portfolio and transaction use cases. Portfolios belong to one user; another
//! user's portfolio is indistinguishable from a missing one.

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::fx_pairs::Conversions;
use crate::ports::{
    LedgerChange, LedgerOutcome, Page, PageRequest, Portfolio, PortfolioDraft, PortfolioSettings,
    RecordedTransaction, StoreError, TransactionFilter, User,
};
use pricetrack_domain::{
    HoldingsError, PortfolioId, Symbol, Transaction, TransactionId, fold_holdings,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

pub fn validate_portfolio_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid_field("name", "must not be empty"));
    }
    if name.chars().count() > 100 {
        return Err(AppError::invalid_field(
            "name",
            "must be at most 100 characters",
        ));
    }
    Ok(name.to_owned())
}

fn name_conflict(e: StoreError, name: &str) -> AppError {
    match e {
        StoreError::Conflict(_) => {
            AppError::Conflict(format!("you already have a portfolio named {name:?}"))
        }
        e => e.into(),
    }
}

pub async fn create_portfolio(
    ctx: &AppContext,
    actor: &User,
    draft: PortfolioDraft,
) -> AppResult<Portfolio> {
    let draft = PortfolioDraft {
        name: validate_portfolio_name(&draft.name)?,
        ..draft
    };
    ctx.store
        .create_portfolio(actor.id, &draft, ctx.clock.now())
        .await
        .map_err(|e| name_conflict(e, &draft.name))
}

/// Creates a portfolio with its settings (all or nothing).
pub async fn create_portfolio_with_settings(
    ctx: &AppContext,
    actor: &User,
    draft: PortfolioDraft,
    settings: PortfolioSettings,
) -> AppResult<Portfolio> {
    let created = create_portfolio(ctx, actor, draft).await?;
    if settings == PortfolioSettings::default() {
        return Ok(created);
    }
    match ctx
        .store
        .set_portfolio_settings(actor.id, created.id, &settings)
        .await
    {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(AppError::not_found(format!("portfolio {}", created.id))),
        Err(e) => {
            // Undo the creation so a failed request leaves nothing behind.
            if let Err(undo) = ctx.store.delete_portfolio(actor.id, created.id).await {
                tracing::warn!(error = %undo, "could not remove a half-created portfolio");
            }
            Err(e.into())
        }
    }
}

/// Changes a portfolio's settings (its cost-basis method). Cached analytics
/// are keyed by the method, so figures follow at once.
pub async fn set_portfolio_settings(
    ctx: &AppContext,
    actor: &User,
    id: PortfolioId,
    settings: PortfolioSettings,
) -> AppResult<Portfolio> {
    ctx.store
        .set_portfolio_settings(actor.id, id, &settings)
        .await?
        .ok_or_else(|| AppError::not_found(format!("portfolio {id}")))
}

pub async fn get_portfolio(
    ctx: &AppContext,
    actor: &User,
    id: PortfolioId,
) -> AppResult<Portfolio> {
    ctx.store
        .get_portfolio(actor.id, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("portfolio {id}")))
}

/// Finds a portfolio by id (if the reference is numeric) or by name.
pub async fn find_portfolio(
    ctx: &AppContext,
    actor: &User,
    reference: &str,
) -> AppResult<Portfolio> {
    if let Ok(id) = reference.parse::<i64>()
        && let Some(p) = ctx.store.get_portfolio(actor.id, PortfolioId(id)).await?
    {
        return Ok(p);
    }
    ctx.store
        .portfolio_by_name(actor.id, reference)
        .await?
        .ok_or_else(|| AppError::not_found(format!("portfolio {reference:?}")))
}

pub async fn list_portfolios(ctx: &AppContext, actor: &User) -> AppResult<Vec<Portfolio>> {
    Ok(ctx.store.list_portfolios(actor.id).await?)
}

pub async fn update_portfolio(
    ctx: &AppContext,
    actor: &User,
    id: PortfolioId,
    draft: PortfolioDraft,
) -> AppResult<Portfolio> {
    let draft = PortfolioDraft {
        name: validate_portfolio_name(&draft.name)?,
        ..draft
    };
    let before = get_portfolio(ctx, actor, id).await?;
    let updated = ctx
        .store
        .update_portfolio(actor.id, id, &draft)
        .await
        .map_err(|e| name_conflict(e, &draft.name))?
        .ok_or_else(|| AppError::not_found(format!("portfolio {id}")))?;
    if updated.base_currency != before.base_currency {
        // The whole ledger now converts into the new base.
        match ctx.store.ledger(id).await {
            Ok(ledger) => {
                let needs = Conversions::of(ledger.iter().map(|r| &r.transaction));
                crate::fx_pairs::ensure_for(ctx, updated.base_currency, &needs).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, portfolio = id.0, "could not read the ledger to add the FX pairs its new base currency needs");
            }
        }
    }
    Ok(updated)
}

pub async fn delete_portfolio(ctx: &AppContext, actor: &User, id: PortfolioId) -> AppResult<()> {
    if ctx.store.delete_portfolio(actor.id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found(format!("portfolio {id}")))
    }
}

/// The rule every ledger must satisfy after any change: it folds into holdings
/// (no sell of more than is held at that moment, no split of nothing).
fn ledger_is_consistent(ledger: &[RecordedTransaction]) -> Result<(), HoldingsError> {
    check_ledger(ledger.iter().map(|r| &r.transaction))
}

/// [`ledger_is_consistent`] over transactions in ledger order (for checks
/// of a change that is not written, e.g. an import's dry run).
pub(crate) fn check_ledger<'a>(
    ledger: impl Iterator<Item = &'a Transaction>,
) -> Result<(), HoldingsError> {
    fold_holdings(ledger, &BTreeMap::<Symbol, Decimal>::new()).map(|_| ())
}

/// Applies a ledger change, then re-prepares the owner's analytics in the
/// background so the next view of them does not wait for it.
async fn apply(
    ctx: &AppContext,
    actor: &User,
    portfolio: &Portfolio,
    change: LedgerChange,
) -> AppResult<Vec<TransactionId>> {
    let written = match &change {
        LedgerChange::Insert(txs) => Conversions::of(txs),
        LedgerChange::Replace(_, tx) => Conversions::of([tx]),
        LedgerChange::Delete(_) => Conversions::default(),
    };
    let outcome = ctx
        .store
        .apply_ledger_change(portfolio.id, change, &ledger_is_consistent)
        .await
        .map_err(|e| match e {
            StoreError::UnknownInstrument(s) => {
                AppError::invalid_field("symbol", format!("unknown instrument {s}; add it first"))
            }
            e => e.into(),
        })?;
    match outcome {
        LedgerOutcome::Applied(ids) => {
            // After the commit, so the write never waits on or fails with it.
            crate::fx_pairs::ensure_for(ctx, portfolio.base_currency, &written).await;
            crate::portfolio_analytics::warm(ctx, actor);
            Ok(ids)
        }
        LedgerOutcome::TransactionNotFound => Err(AppError::not_found("transaction")),
        LedgerOutcome::Rejected(e) => Err(AppError::Ledger(e)),
    }
}

/// Records transactions atomically: all of them, or none if any breaks the ledger.
pub async fn record_transactions(
    ctx: &AppContext,
    actor: &User,
    portfolio: PortfolioId,
    transactions: Vec<Transaction>,
) -> AppResult<Vec<RecordedTransaction>> {
    let portfolio = get_portfolio(ctx, actor, portfolio).await?;
    let ids = apply(
        ctx,
        actor,
        &portfolio,
        LedgerChange::Insert(transactions.clone()),
    )
    .await?;
    Ok(ids
        .into_iter()
        .zip(transactions)
        .map(|(id, transaction)| RecordedTransaction { id, transaction })
        .collect())
}

pub async fn replace_transaction(
    ctx: &AppContext,
    actor: &User,
    portfolio: PortfolioId,
    id: TransactionId,
    transaction: Transaction,
) -> AppResult<RecordedTransaction> {
    let portfolio = get_portfolio(ctx, actor, portfolio).await?;
    apply(
        ctx,
        actor,
        &portfolio,
        LedgerChange::Replace(id, transaction.clone()),
    )
    .await?;
    Ok(RecordedTransaction { id, transaction })
}

pub async fn delete_transaction(
    ctx: &AppContext,
    actor: &User,
    portfolio: PortfolioId,
    id: TransactionId,
) -> AppResult<()> {
    let portfolio = get_portfolio(ctx, actor, portfolio).await?;
    apply(ctx, actor, &portfolio, LedgerChange::Delete(id))
        .await
        .map(|_| ())
}

pub async fn get_transaction(
    ctx: &AppContext,
    actor: &User,
    portfolio: PortfolioId,
    id: TransactionId,
) -> AppResult<RecordedTransaction> {
    get_portfolio(ctx, actor, portfolio).await?;
    ctx.store
        .get_transaction(portfolio, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("transaction {id}")))
}

pub async fn list_transactions(
    ctx: &AppContext,
    actor: &User,
    portfolio: PortfolioId,
    filter: &TransactionFilter,
    page: PageRequest,
) -> AppResult<Page<RecordedTransaction>> {
    get_portfolio(ctx, actor, portfolio).await?;
    Ok(ctx.store.list_transactions(portfolio, filter, page).await?)
}

/// The shortest decimal that prints as the same `f64` (so 187.25 stays 187.25).
pub fn decimal_from_f64(value: f64) -> Option<Decimal> {
    if !value.is_finite() {
        return None;
    }
    let text = value.to_string();
    Decimal::from_str_exact(&text)
        .ok()
        .or_else(|| Decimal::from_scientific(&format!("{value:e}")).ok())
}
