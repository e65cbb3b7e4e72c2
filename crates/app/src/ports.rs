//! Ports: the small capability traits the use cases need from the outside
//! world. Storage backends and providers implement them; tests fake them.

use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_domain::{
    Bar, Currency, HoldingsError, Instrument, InstrumentKind, Interval, PortfolioId, Symbol,
    Transaction, TransactionId, TransactionType, UserId,
};
use serde::{Deserialize, Serialize};

/// A failure inside a store. Backends put the operation and the cause in the message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. an instrument symbol that already exists).
    #[error("{0}")]
    Conflict(String),
    /// A row references an instrument that does not exist.
    #[error("unknown instrument {0}")]
    UnknownInstrument(Symbol),
    /// The database could not be reached or failed; not the caller's fault.
    #[error("{context}: {source}")]
    Backend {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Data in the database could not be decoded into domain values.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a listing and the total number of matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Offset pagination, bounded so no request can ask for everything at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u64,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 1000;
    pub const DEFAULT_LIMIT: u32 = 100;

    pub fn new(limit: Option<u32>, offset: Option<u64>) -> Self {
        Self {
            limit: limit
                .unwrap_or(Self::DEFAULT_LIMIT)
                .clamp(1, Self::MAX_LIMIT),
            offset: offset.unwrap_or(0),
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstrumentQuery {
    pub kind: Option<InstrumentKind>,
    /// Case-insensitive substring of the symbol or the name.
    pub search: Option<String>,
    pub page: PageRequest,
}

/// What happened to a delete request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    /// Refused because transactions reference the instrument.
    Referenced {
        transactions: u64,
    },
}

#[async_trait]
pub trait InstrumentStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the symbol exists.
    async fn create_instrument(&self, instrument: &Instrument) -> StoreResult<()>;
    /// Returns false when no instrument has that symbol.
    async fn update_instrument(&self, instrument: &Instrument) -> StoreResult<bool>;
    async fn get_instrument(&self, symbol: &Symbol) -> StoreResult<Option<Instrument>>;
    /// Ordered by symbol.
    async fn list_instruments(&self, query: &InstrumentQuery) -> StoreResult<Page<Instrument>>;
    /// Deletes the instrument and its bars, unless transactions reference it.
    async fn delete_instrument(&self, symbol: &Symbol) -> StoreResult<DeleteOutcome>;
}

/// Which bars of a series to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BarRange {
    /// Inclusive lower bound on the bar start.
    pub from: Option<Timestamp>,
    /// Inclusive upper bound on the bar start.
    pub to: Option<Timestamp>,
    /// With `from`: the first `limit` bars from it. Without: the last `limit` bars up to `to`.
    /// Either way the result is in ascending time.
    pub limit: Option<u32>,
}

/// How many rows of an upsert were new and how many replaced an existing bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub replaced: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, rhs: Self) {
        self.inserted += rhs.inserted;
        self.replaced += rhs.replaced;
    }
}

#[async_trait]
pub trait BarStore: Send + Sync {
    /// Writes bars idempotently (a bar with the same instrument, interval and
    /// start replaces the stored one), in batches inside transactions:
    /// either every bar is written or none. Fails with
    /// [`StoreError::UnknownInstrument`] if a symbol does not exist.
    async fn upsert_bars(&self, bars: &[Bar]) -> StoreResult<UpsertCounts>;
    /// Bars of one series in ascending time.
    async fn bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: BarRange,
    ) -> StoreResult<Vec<Bar>>;
    /// Number of bars stored for an instrument (all intervals).
    async fn count_bars(&self, symbol: &Symbol) -> StoreResult<u64>;
}

/// A portfolio and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Portfolio {
    pub id: PortfolioId,
    pub owner: UserId,
    pub name: String,
    pub base_currency: Currency,
    pub created_at: Timestamp,
    /// How the cost of units sold is determined (default: average cost).
    pub cost_basis_method: pricetrack_domain::analytics::CostBasisMethod,
    /// Incremented by every committed change of the portfolio's ledger (in the
    /// same database transaction); analytics caches are keyed by it.
    pub ledger_version: i64,
}

/// A portfolio's settings beyond its name and base currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortfolioSettings {
    pub cost_basis_method: pricetrack_domain::analytics::CostBasisMethod,
}

/// The user-editable fields of a portfolio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioDraft {
    pub name: String,
    pub base_currency: Currency,
}

#[async_trait]
pub trait PortfolioStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the owner has a portfolio of that name.
    async fn create_portfolio(
        &self,
        owner: UserId,
        draft: &PortfolioDraft,
        now: Timestamp,
    ) -> StoreResult<Portfolio>;
    /// Another user's portfolio is `None`, exactly like a missing one.
    async fn get_portfolio(&self, owner: UserId, id: PortfolioId)
    -> StoreResult<Option<Portfolio>>;
    async fn portfolio_by_name(&self, owner: UserId, name: &str) -> StoreResult<Option<Portfolio>>;
    /// Ordered by name.
    async fn list_portfolios(&self, owner: UserId) -> StoreResult<Vec<Portfolio>>;
    async fn update_portfolio(
        &self,
        owner: UserId,
        id: PortfolioId,
        draft: &PortfolioDraft,
    ) -> StoreResult<Option<Portfolio>>;
    /// Deletes the portfolio and its transactions.
    async fn delete_portfolio(&self, owner: UserId, id: PortfolioId) -> StoreResult<bool>;
    /// Stores the portfolio's settings; `None` when the owner has no such portfolio.
    async fn set_portfolio_settings(
        &self,
        owner: UserId,
        id: PortfolioId,
        settings: &PortfolioSettings,
    ) -> StoreResult<Option<Portfolio>>;
}

/// A transaction as stored, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTransaction {
    pub id: TransactionId,
    pub transaction: Transaction,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionFilter {
    pub symbol: Option<Symbol>,
    pub kind: Option<TransactionType>,
    /// Inclusive.
    pub from: Option<Timestamp>,
    /// Inclusive.
    pub to: Option<Timestamp>,
}

/// A change to a portfolio's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerChange {
    Insert(Vec<Transaction>),
    Replace(TransactionId, Transaction),
    Delete(TransactionId),
}

/// The result of applying a [`LedgerChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerOutcome {
    /// Ids of inserted or replaced transactions, in the order given.
    Applied(Vec<TransactionId>),
    /// The transaction to replace or delete does not exist in this portfolio.
    TransactionNotFound,
    /// The ledger after the change failed validation; nothing was written.
    Rejected(HoldingsError),
}

/// Checks a whole ledger (chronological, ties by id) before a change commits.
pub type LedgerValidator =
    dyn Fn(&[RecordedTransaction]) -> Result<(), HoldingsError> + Send + Sync;

#[async_trait]
pub trait TransactionStore: Send + Sync {
    /// Applies the change atomically: the store computes the ledger as it would
    /// be after the change (chronological; same-time transactions in id order,
    /// new ones after existing ones), calls `validate` on it while holding the
    /// portfolio's write lock, and commits only if it passes. Fails with
    /// [`StoreError::UnknownInstrument`] if a transaction names a missing instrument.
    async fn apply_ledger_change(
        &self,
        portfolio: PortfolioId,
        change: LedgerChange,
        validate: &LedgerValidator,
    ) -> StoreResult<LedgerOutcome>;
    async fn get_transaction(
        &self,
        portfolio: PortfolioId,
        id: TransactionId,
    ) -> StoreResult<Option<RecordedTransaction>>;
    /// Chronological, ties by id.
    async fn list_transactions(
        &self,
        portfolio: PortfolioId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<RecordedTransaction>>;
    /// The whole ledger, chronological, ties by id.
    async fn ledger(&self, portfolio: PortfolioId) -> StoreResult<Vec<RecordedTransaction>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// An API token's public record; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: i64,
    pub user: UserId,
    pub label: String,
    /// First characters of the token, to recognise it in a list.
    pub prefix: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the name is taken.
    async fn create_user(&self, name: &str, role: Role, now: Timestamp) -> StoreResult<User>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
    async fn set_password_hash(&self, user: UserId, hash: &str) -> StoreResult<bool>;
    async fn password_hash(&self, user: UserId) -> StoreResult<Option<String>>;
    /// Stores a token by its SHA-256 hash (hex).
    async fn create_token(
        &self,
        user: UserId,
        label: &str,
        prefix: &str,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<TokenRecord>;
    /// Finds the user owning the token with this hash and records its use
    /// (to the minute: a use within a minute of the recorded one writes nothing).
    async fn user_by_token_hash(&self, hash_hex: &str, now: Timestamp)
    -> StoreResult<Option<User>>;
    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<TokenRecord>>;
    async fn revoke_token(&self, user: UserId, token_id: i64) -> StoreResult<bool>;
}

/// Everything the application needs from its database.
#[async_trait]
pub trait Store:
    InstrumentStore
    + BarStore
    + PortfolioStore
    + TransactionStore
    + UserStore
    + SessionStore
    + WatchlistStore
    + SettingsStore
    + JobStore
    + QuarantineStore
    + CorporateEventStore
{
    /// Which backend this is (`sqlite` or `postgres`).
    fn backend(&self) -> &'static str;
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// From now on, the newest bar of each series that *other* processes sharing
    /// this database store, as their writes commit (several replicas on one
    /// PostgreSQL). `None` where no other process writes (a SQLite file belongs
    /// to one process). Dropping the receiver stops listening.
    fn subscribe_foreign_bars(&self) -> Option<tokio::sync::mpsc::Receiver<Vec<Bar>>> {
        None
    }
}

pub use crate::market::ports::*;

// ---------------------------------------------------------------- web UI stores

/// A signed-in browser session, found by the SHA-256 hash of its cookie secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: User,
    /// The synchronizer token every form of this session must send back.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Browser sessions and the login rate limit, in the database so that several
/// replicas share them.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(
        &self,
        id_hash: &str,
        user: UserId,
        csrf_token: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The session with this hash, unless it expired before `now`.
    async fn session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;
    /// Removes every session that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64>;
    /// Records a failed sign-in for `key` (user name and client address).
    async fn record_login_failure(&self, key: &str, now: Timestamp) -> StoreResult<()>;
    /// Failed sign-ins for `key` at or after `since`.
    async fn count_login_failures(&self, key: &str, since: Timestamp) -> StoreResult<u64>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}

/// A user's named list of instruments, in the user's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watchlist {
    pub id: i64,
    pub owner: UserId,
    pub name: String,
    pub created_at: Timestamp,
    pub symbols: Vec<Symbol>,
}

#[async_trait]
pub trait WatchlistStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the owner has a watchlist of that name.
    async fn create_watchlist(
        &self,
        owner: UserId,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<Watchlist>;
    /// Ordered by creation (id).
    async fn list_watchlists(&self, owner: UserId) -> StoreResult<Vec<Watchlist>>;
    /// Another user's watchlist is `None`, like a missing one.
    async fn get_watchlist(&self, owner: UserId, id: i64) -> StoreResult<Option<Watchlist>>;
    async fn rename_watchlist(
        &self,
        owner: UserId,
        id: i64,
        name: &str,
    ) -> StoreResult<Option<Watchlist>>;
    async fn delete_watchlist(&self, owner: UserId, id: i64) -> StoreResult<bool>;
    /// Replaces the items with `symbols`, in that order. Fails with
    /// [`StoreError::UnknownInstrument`] (writing nothing) when one does not exist.
    async fn set_watchlist_items(
        &self,
        owner: UserId,
        id: i64,
        symbols: &[Symbol],
    ) -> StoreResult<Option<Watchlist>>;
}

/// Light, dark, or whatever the browser prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Auto, Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A user's preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSettings {
    pub base_currency: Currency,
    pub cost_basis_method: pricetrack_domain::analytics::CostBasisMethod,
    pub theme: Theme,
    /// The watchlist shown on the dashboard (the first one when unset).
    pub dashboard_watchlist: Option<i64>,
}

impl Default for UserSettings {
    fn default() -> Self {
        Self {
            base_currency: Currency::USD,
            cost_basis_method: Default::default(),
            theme: Theme::Auto,
            dashboard_watchlist: None,
        }
    }
}

/// A provider API key as stored (the secret is only ever shown masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderKey {
    pub provider: String,
    pub key: String,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn user_settings(&self, user: UserId) -> StoreResult<Option<UserSettings>>;
    async fn save_user_settings(&self, user: UserId, settings: &UserSettings) -> StoreResult<()>;
    /// Ordered by provider name.
    async fn provider_keys(&self) -> StoreResult<Vec<ProviderKey>>;
    /// Sets (or with `None` removes) the instance-wide key of a provider.
    async fn set_provider_key(
        &self,
        provider: &str,
        key: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()>;
}

/// The current time, injectable so tests control it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<Timestamp>);

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
