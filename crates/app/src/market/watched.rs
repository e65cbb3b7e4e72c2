//! Which instruments someone watches: those on a watchlist and those held in
//! a portfolio right now. Intraday series are kept current only for these; a
//! position sold in full stops costing a fetch every minute.

use crate::context::AppContext;
use crate::error::AppResult;
use crate::ports::Portfolio;
use pricetrack_domain::holdings::fold_holdings;
use pricetrack_domain::{PortfolioId, Symbol};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The instruments held per portfolio, keyed by the ledger version they were
/// folded from, so a refresh step re-reads only ledgers that changed.
#[derive(Debug, Default)]
pub struct OpenPositions {
    by_portfolio: Mutex<HashMap<PortfolioId, HeldAt>>,
}

/// The instruments held, and the ledger version they were folded from.
type HeldAt = (i64, Arc<BTreeSet<Symbol>>);

impl OpenPositions {
    fn cached(&self, portfolio: &Portfolio) -> Option<Arc<BTreeSet<Symbol>>> {
        let map = self.by_portfolio.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&portfolio.id)
            .filter(|(version, _)| *version == portfolio.ledger_version)
            .map(|(_, held)| held.clone())
    }

    fn remember(&self, portfolio: &Portfolio, held: Arc<BTreeSet<Symbol>>) {
        let mut map = self.by_portfolio.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(portfolio.id, (portfolio.ledger_version, held));
    }

    /// Drops portfolios that no longer exist.
    fn retain(&self, live: &BTreeSet<PortfolioId>) {
        let mut map = self.by_portfolio.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|id, _| live.contains(id));
    }
}

/// Instruments on anyone's watchlist or with a quantity held in any portfolio now.
pub async fn watched_symbols(ctx: &AppContext) -> AppResult<BTreeSet<Symbol>> {
    let mut watched: BTreeSet<Symbol> =
        ctx.store.watchlisted_symbols().await?.into_iter().collect();
    let mut live = BTreeSet::new();
    for user in ctx.store.list_users().await? {
        for portfolio in ctx.store.list_portfolios(user.id).await? {
            live.insert(portfolio.id);
            watched.extend(held_in(ctx, &portfolio).await?.iter().cloned());
        }
    }
    ctx.open_positions.retain(&live);
    Ok(watched)
}

async fn held_in(ctx: &AppContext, portfolio: &Portfolio) -> AppResult<Arc<BTreeSet<Symbol>>> {
    if let Some(held) = ctx.open_positions.cached(portfolio) {
        return Ok(held);
    }
    let ledger = ctx.store.ledger(portfolio.id).await?;
    let transactions = ledger.iter().map(|r| &r.transaction);
    let held: BTreeSet<Symbol> = match fold_holdings(transactions, &BTreeMap::new()) {
        Ok(holdings) => holdings.positions.into_iter().map(|h| h.symbol).collect(),
        // Stored ledgers are validated on write; should one still not fold,
        // keep every instrument it mentions current rather than none.
        Err(e) => {
            tracing::warn!(portfolio = portfolio.id.0, error = %e, "ledger does not fold; watching every instrument it trades");
            ledger
                .iter()
                .filter_map(|r| r.transaction.symbol().cloned())
                .collect()
        }
    };
    let held = Arc::new(held);
    ctx.open_positions.remember(portfolio, held.clone());
    Ok(held)
}
