//! Pricetrack's domain model: pure types and functions, no I/O.
//!
//! Values are parsed at the edge (`FromStr`/`TryFrom`) so that an invalid
//! symbol, currency, bar or transaction cannot be represented.

pub mod analytics;
pub mod bar;
pub mod calendar;
pub mod currency;
pub mod holdings;
pub mod ids;
pub mod instrument;
pub mod money;
pub mod symbol;
pub mod transaction;
pub mod url_source;
pub mod validation;

pub use bar::{Bar, BarError, Interval, IntervalParseError, Ohlcv, date_key, newest_per_series};
pub use currency::{Currency, CurrencyError};
pub use holdings::{CashBalance, Holding, Holdings, HoldingsError, PriceLookup, fold_holdings};
pub use ids::{PortfolioId, TransactionId, UserId};
pub use instrument::{Instrument, InstrumentError, InstrumentKind, ProviderName};
pub use money::{Amount, AmountError, Money, Price, Quantity};
pub use symbol::{Symbol, SymbolError};
pub use transaction::{
    SplitRatio, Transaction, TransactionError, TransactionKind, TransactionType,
};
pub use url_source::{Extractor, NumberFormat, UrlSource};
