//! The one error type use cases return; the server maps it to HTTP and exit codes.

use crate::ports::StoreError;
use pricetrack_domain::{HoldingsError, Symbol};

/// A problem with one field of a request or one row of an upload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// 0-based position of the row in the upload, when the error is about a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// 1-based line in the uploaded file (CSV), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The field at fault, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
}

impl FieldError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            index: None,
            line: None,
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    pub fn row(
        index: usize,
        line: Option<u64>,
        field: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            index: Some(index),
            line,
            field: field.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        } else if let Some(index) = self.index {
            write!(f, "row {index}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is malformed or contradicts itself; nothing was written.
    #[error("invalid input: {}", summarize(.0))]
    Invalid(Vec<FieldError>),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Conflict(String),
    #[error(
        "instrument {symbol} is used by {transactions} transaction(s); delete or change them first"
    )]
    InstrumentInUse { symbol: Symbol, transactions: u64 },
    /// The change would make the ledger impossible (e.g. sell more than held).
    #[error(transparent)]
    Ledger(#[from] HoldingsError),
    #[error("this needs the admin role")]
    Forbidden,
    #[error("not signed in or the token is invalid")]
    Unauthenticated,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The portfolio's data cannot answer the question (a missing FX rate or
    /// price, a period that is empty, an XIRR without a solution…). The
    /// message names the pair, symbol or date.
    #[error(transparent)]
    Analytics(#[from] pricetrack_domain::analytics::AnalyticsError),
}

fn summarize(errors: &[FieldError]) -> String {
    match errors {
        [] => "no details".to_owned(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

impl AppError {
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::field(field, reason)])
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
}

pub type AppResult<T> = Result<T, AppError>;
