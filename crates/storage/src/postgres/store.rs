//! The port traits on [`PgStore`], delegating to the sibling modules.

use super::{PgStore, bar_notify, db};
use crate::codec::BarBatch;
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::*;
use pricetrack_domain::{Bar, Instrument, Interval, PortfolioId, Symbol, TransactionId, UserId};

#[async_trait]
impl InstrumentStore for PgStore {
    async fn create_instrument(&self, instrument: &Instrument) -> StoreResult<()> {
        self.pg_create_instrument(instrument).await
    }

    async fn update_instrument(&self, instrument: &Instrument) -> StoreResult<bool> {
        self.pg_update_instrument(instrument).await
    }

    async fn get_instrument(&self, symbol: &Symbol) -> StoreResult<Option<Instrument>> {
        self.pg_get_instrument(symbol).await
    }

    async fn list_instruments(&self, query: &InstrumentQuery) -> StoreResult<Page<Instrument>> {
        self.pg_list_instruments(query).await
    }

    async fn delete_instrument(&self, symbol: &Symbol) -> StoreResult<DeleteOutcome> {
        self.pg_delete_instrument(symbol).await
    }
}

#[async_trait]
impl BarStore for PgStore {
    async fn upsert_bars(&self, bars: &[Bar]) -> StoreResult<UpsertCounts> {
        if bars.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let notices = bar_notify::payloads(&self.origin, bars);
        self.pg_upsert_bars(BarBatch::from_bars(bars), &notices)
            .await
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: BarRange,
    ) -> StoreResult<Vec<Bar>> {
        self.pg_bars(symbol, interval, range).await
    }

    async fn count_bars(&self, symbol: &Symbol) -> StoreResult<u64> {
        self.pg_count_bars(symbol).await
    }
}

#[async_trait]
impl PortfolioStore for PgStore {
    async fn create_portfolio(
        &self,
        owner: UserId,
        draft: &PortfolioDraft,
        now: Timestamp,
    ) -> StoreResult<Portfolio> {
        self.pg_create_portfolio(owner, draft, now).await
    }

    async fn get_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
    ) -> StoreResult<Option<Portfolio>> {
        self.pg_get_portfolio(owner, id).await
    }

    async fn portfolio_by_name(&self, owner: UserId, name: &str) -> StoreResult<Option<Portfolio>> {
        self.pg_portfolio_by_name(owner, name).await
    }

    async fn list_portfolios(&self, owner: UserId) -> StoreResult<Vec<Portfolio>> {
        self.pg_list_portfolios(owner).await
    }

    async fn update_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
        draft: &PortfolioDraft,
    ) -> StoreResult<Option<Portfolio>> {
        self.pg_update_portfolio(owner, id, draft).await
    }

    async fn delete_portfolio(&self, owner: UserId, id: PortfolioId) -> StoreResult<bool> {
        self.pg_delete_portfolio(owner, id).await
    }

    async fn set_portfolio_settings(
        &self,
        owner: UserId,
        id: PortfolioId,
        settings: &PortfolioSettings,
    ) -> StoreResult<Option<Portfolio>> {
        self.pg_set_portfolio_settings(owner, id, settings).await
    }
}

#[async_trait]
impl TransactionStore for PgStore {
    async fn apply_ledger_change(
        &self,
        portfolio: PortfolioId,
        change: LedgerChange,
        validate: &LedgerValidator,
    ) -> StoreResult<LedgerOutcome> {
        self.pg_apply_ledger_change(portfolio, change, validate)
            .await
    }

    async fn get_transaction(
        &self,
        portfolio: PortfolioId,
        id: TransactionId,
    ) -> StoreResult<Option<RecordedTransaction>> {
        self.pg_get_transaction(portfolio, id).await
    }

    async fn list_transactions(
        &self,
        portfolio: PortfolioId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<RecordedTransaction>> {
        self.pg_list_transactions(portfolio, filter, page).await
    }

    async fn ledger(&self, portfolio: PortfolioId) -> StoreResult<Vec<RecordedTransaction>> {
        self.pg_ledger(portfolio).await
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, name: &str, role: Role, now: Timestamp) -> StoreResult<User> {
        self.pg_create_user(name, role, now).await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        self.pg_user_by_name(name).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.pg_list_users().await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.pg_count_users().await
    }

    async fn set_password_hash(&self, user: UserId, hash: &str) -> StoreResult<bool> {
        self.pg_set_password_hash(user, hash).await
    }

    async fn password_hash(&self, user: UserId) -> StoreResult<Option<String>> {
        self.pg_password_hash(user).await
    }

    async fn create_token(
        &self,
        user: UserId,
        label: &str,
        prefix: &str,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<TokenRecord> {
        self.pg_create_token(user, label, prefix, hash_hex, now)
            .await
    }

    async fn user_by_token_hash(
        &self,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        self.pg_user_by_token_hash(hash_hex, now).await
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<TokenRecord>> {
        self.pg_list_tokens(user).await
    }

    async fn revoke_token(&self, user: UserId, token_id: i64) -> StoreResult<bool> {
        self.pg_revoke_token(user, token_id).await
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(db("pinging PostgreSQL"))?;
        Ok(())
    }

    fn subscribe_foreign_bars(&self) -> Option<tokio::sync::mpsc::Receiver<Vec<Bar>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(bar_notify::QUEUE);
        tokio::spawn(bar_notify::listen(
            self.config.clone(),
            self.tls.clone(),
            self.origin.clone(),
            tx,
        ));
        Some(rx)
    }
}
