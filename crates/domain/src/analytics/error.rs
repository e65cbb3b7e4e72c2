//! Typed failures of the analytics, each naming what is missing or wrong.

use crate::{Currency, Symbol};
use jiff::civil::Date;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyticsError {
    /// No rate for the pair on or before the date. Never silently 1.0.
    #[error("no FX rate {from}{to} on or before {date}")]
    MissingFxRate {
        from: Currency,
        to: Currency,
        date: Date,
    },
    /// The pair's instrument is stored but has no rate yet: it was added
    /// (by hand or automatically) and its history is still being fetched.
    #[error(
        "no {symbol} rate on or before {date} yet; the pair was added and its history is being fetched"
    )]
    FxRatePending { symbol: Symbol, date: Date },
    #[error("no price for {symbol} on or before {date}, and no trade price to fall back on")]
    MissingPrice { symbol: Symbol, date: Date },
    #[error(
        "cannot take {requested} {symbol} out of account {account} on {date}: its open lots hold only {available}"
    )]
    InsufficientLots {
        symbol: Symbol,
        account: String,
        date: Date,
        requested: Decimal,
        available: Decimal,
    },
    #[error("activity #{index} on {date}: {reason}")]
    InvalidActivity {
        index: usize,
        date: Date,
        reason: String,
    },
    #[error("the period from {start} to {end} is empty or reversed")]
    InvalidPeriod { start: Date, end: Date },
    #[error("the portfolio does not hold {0}")]
    UnknownSymbol(Symbol),
    #[error("a holding-level figure needs exactly one security, but the portfolio has {0}")]
    NotASingleHolding(usize),
    #[error("a decimal computation overflowed while computing {0}")]
    Overflow(&'static str),
    #[error(transparent)]
    Xirr(#[from] crate::analytics::xirr::XirrError),
}

pub type AnalyticsResult<T> = Result<T, AnalyticsError>;
