//! The port traits on [`SqliteStore`]: each method moves its owned inputs onto the
//! blocking pool and runs one of the synchronous functions of the sibling modules.

use super::{SqliteStore, bars, db, instruments, lock, portfolios, transactions, users};
use crate::codec::BarBatch;
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::*;
use pricetrack_domain::{Bar, Instrument, Interval, PortfolioId, Symbol, TransactionId, UserId};
use rusqlite::TransactionBehavior;
use std::sync::Arc;
use tokio::sync::oneshot;

#[async_trait]
impl InstrumentStore for SqliteStore {
    async fn create_instrument(&self, instrument: &Instrument) -> StoreResult<()> {
        let instrument = instrument.clone();
        self.write(move |c| instruments::create(c, &instrument))
            .await
    }

    async fn update_instrument(&self, instrument: &Instrument) -> StoreResult<bool> {
        let instrument = instrument.clone();
        self.write(move |c| instruments::update(c, &instrument))
            .await
    }

    async fn get_instrument(&self, symbol: &Symbol) -> StoreResult<Option<Instrument>> {
        let symbol = symbol.clone();
        self.read(move |c| instruments::get_one(c, &symbol)).await
    }

    async fn list_instruments(&self, query: &InstrumentQuery) -> StoreResult<Page<Instrument>> {
        let query = query.clone();
        self.read(move |c| instruments::list(c, &query)).await
    }

    async fn delete_instrument(&self, symbol: &Symbol) -> StoreResult<DeleteOutcome> {
        let symbol = symbol.clone();
        self.write(move |c| instruments::delete(c, &symbol)).await
    }
}

#[async_trait]
impl BarStore for SqliteStore {
    async fn upsert_bars(&self, bars: &[Bar]) -> StoreResult<UpsertCounts> {
        if bars.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let batch = BarBatch::from_bars(bars);
        self.upsert_bar_batch(batch).await
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: BarRange,
    ) -> StoreResult<Vec<Bar>> {
        let symbol = symbol.clone();
        self.read(move |c| bars::range(c, &symbol, interval, range))
            .await
    }

    async fn count_bars(&self, symbol: &Symbol) -> StoreResult<u64> {
        let symbol = symbol.clone();
        self.read(move |c| bars::count(c, &symbol)).await
    }
}

#[async_trait]
impl PortfolioStore for SqliteStore {
    async fn create_portfolio(
        &self,
        owner: UserId,
        draft: &PortfolioDraft,
        now: Timestamp,
    ) -> StoreResult<Portfolio> {
        let draft = draft.clone();
        self.write(move |c| portfolios::create(c, owner, &draft, now))
            .await
    }

    async fn get_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
    ) -> StoreResult<Option<Portfolio>> {
        self.read(move |c| portfolios::get_one(c, owner, id)).await
    }

    async fn portfolio_by_name(&self, owner: UserId, name: &str) -> StoreResult<Option<Portfolio>> {
        let name = name.to_owned();
        self.read(move |c| portfolios::by_name(c, owner, &name))
            .await
    }

    async fn list_portfolios(&self, owner: UserId) -> StoreResult<Vec<Portfolio>> {
        self.read(move |c| portfolios::list(c, owner)).await
    }

    async fn update_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
        draft: &PortfolioDraft,
    ) -> StoreResult<Option<Portfolio>> {
        let draft = draft.clone();
        self.write(move |c| portfolios::update(c, owner, id, &draft))
            .await
    }

    async fn delete_portfolio(&self, owner: UserId, id: PortfolioId) -> StoreResult<bool> {
        self.write(move |c| portfolios::delete(c, owner, id)).await
    }

    async fn set_portfolio_settings(
        &self,
        owner: UserId,
        id: PortfolioId,
        settings: &PortfolioSettings,
    ) -> StoreResult<Option<Portfolio>> {
        let settings = *settings;
        self.write(move |c| portfolios::set_settings(c, owner, id, &settings))
            .await
    }
}

#[async_trait]
impl TransactionStore for SqliteStore {
    async fn apply_ledger_change(
        &self,
        portfolio: PortfolioId,
        change: LedgerChange,
        validate: &LedgerValidator,
    ) -> StoreResult<LedgerOutcome> {
        // The validator is borrowed, so it cannot move onto the blocking pool. The
        // blocking task writes the change inside BEGIN IMMEDIATE (holding the writer
        // and SQLite's write lock), hands the resulting ledger over, and waits for the
        // verdict before committing or rolling back.
        let (ledger_tx, ledger_rx) = oneshot::channel::<Vec<RecordedTransaction>>();
        let (verdict_tx, verdict_rx) = oneshot::channel::<bool>();
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || -> StoreResult<LedgerOutcome> {
            let mut conn = lock(&inner.writer);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("starting a ledger change"))?;
            let Some(ids) = transactions::apply(&tx, portfolio, &change)? else {
                return Ok(LedgerOutcome::TransactionNotFound);
            };
            portfolios::bump_ledger_version(&tx, portfolio)?;
            let ledger = transactions::ledger(&tx, portfolio)?;
            if ledger_tx.send(ledger).is_err() {
                // The caller went away: dropping `tx` rolls back.
                return Ok(LedgerOutcome::Applied(Vec::new()));
            }
            match verdict_rx.blocking_recv() {
                Ok(true) => {
                    tx.commit().map_err(db("committing a ledger change"))?;
                    Ok(LedgerOutcome::Applied(ids))
                }
                // Rejected (or the caller went away): dropping `tx` rolls back. The
                // async side reports the validation error.
                _ => Ok(LedgerOutcome::Applied(Vec::new())),
            }
        });
        let verdict = match ledger_rx.await {
            Ok(ledger) => validate(&ledger),
            // The task finished before producing a ledger: not found, or an error.
            Err(_) => {
                return task
                    .await
                    .map_err(|e| StoreError::backend("SQLite task", e))?;
            }
        };
        // If the send fails the task is gone and has rolled back; its result says why.
        let _ = verdict_tx.send(verdict.is_ok());
        let outcome = task
            .await
            .map_err(|e| StoreError::backend("SQLite task", e))??;
        Ok(match verdict {
            Ok(()) => outcome,
            Err(rejection) => LedgerOutcome::Rejected(rejection),
        })
    }

    async fn get_transaction(
        &self,
        portfolio: PortfolioId,
        id: TransactionId,
    ) -> StoreResult<Option<RecordedTransaction>> {
        self.read(move |c| transactions::get_one(c, portfolio, id))
            .await
    }

    async fn list_transactions(
        &self,
        portfolio: PortfolioId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<RecordedTransaction>> {
        let filter = filter.clone();
        self.read(move |c| transactions::list(c, portfolio, &filter, page))
            .await
    }

    async fn ledger(&self, portfolio: PortfolioId) -> StoreResult<Vec<RecordedTransaction>> {
        self.read(move |c| transactions::ledger(c, portfolio)).await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, name: &str, role: Role, now: Timestamp) -> StoreResult<User> {
        let name = name.to_owned();
        self.write(move |c| users::create_user(c, &name, role, now))
            .await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let name = name.to_owned();
        self.read(move |c| users::user_by_name(c, &name)).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(users::list_users).await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.read(users::count_users).await
    }

    async fn set_password_hash(&self, user: UserId, hash: &str) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.write(move |c| users::set_password_hash(c, user, &hash))
            .await
    }

    async fn password_hash(&self, user: UserId) -> StoreResult<Option<String>> {
        self.read(move |c| users::password_hash(c, user)).await
    }

    async fn create_token(
        &self,
        user: UserId,
        label: &str,
        prefix: &str,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<TokenRecord> {
        let (label, prefix, hash) = (label.to_owned(), prefix.to_owned(), hash_hex.to_owned());
        self.write(move |c| users::create_token(c, user, &label, &prefix, &hash, now))
            .await
    }

    async fn user_by_token_hash(
        &self,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        let hash = hash_hex.to_owned();
        let Some((user, last_used)) = self.read(move |c| users::token_user(c, &hash)).await? else {
            return Ok(None);
        };
        // A read-only request must not queue behind the single writer: the last
        // use is recorded at most once per TOKEN_USE_RESOLUTION.
        if crate::codec::token_use_is_stale(last_used, now) {
            let hash = hash_hex.to_owned();
            self.write(move |c| users::record_token_use(c, &hash, now))
                .await?;
        }
        Ok(Some(user))
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<TokenRecord>> {
        self.read(move |c| users::list_tokens(c, user)).await
    }

    async fn revoke_token(&self, user: UserId, token_id: i64) -> StoreResult<bool> {
        self.write(move |c| users::revoke_token(c, user, token_id))
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map(|_| ())
                .map_err(db("pinging SQLite"))
        })
        .await
    }
}
