//! Instrument symbols as markets write them.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr, sync::Arc};

/// Longest symbol accepted; long enough for free names of hand-priced items.
pub const MAX_SYMBOL_LEN: usize = 64;

/// An upper-case ticker (`AAPL`, `BRK.B`, `BTC-USD`, `GC=F`, `EURUSD=X`, `^GSPC`,
/// `VWCE.DE`, `7203.T`) or a free name for a hand-priced item (`ROLEX-SUB-2019`).
///
/// Allowed: `A-Z`, `0-9` and the punctuation real markets use (`. - = ^ _ / :`).
/// Lower-case input is rejected rather than silently upper-cased, so that the
/// stored symbol is always the one the user typed. Cheap to clone (shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(Arc<str>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("symbol is empty")]
    Empty,
    #[error("symbol is longer than {MAX_SYMBOL_LEN} characters")]
    TooLong,
    #[error(
        "symbol {symbol:?} contains {found:?}; allowed are upper-case letters, digits and . - = ^ _ / :"
    )]
    InvalidCharacter { symbol: String, found: char },
    #[error("symbol {0:?} must contain at least one letter or digit")]
    NoAlphanumeric(String),
}

impl Symbol {
    pub fn parse(raw: &str) -> Result<Self, SymbolError> {
        if raw.is_empty() {
            return Err(SymbolError::Empty);
        }
        if raw.len() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong);
        }
        if let Some(found) = raw.chars().find(|c| !is_symbol_char(*c)) {
            return Err(SymbolError::InvalidCharacter {
                symbol: raw.to_owned(),
                found,
            });
        }
        if !raw.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(SymbolError::NoAlphanumeric(raw.to_owned()));
        }
        Ok(Self(Arc::from(raw)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_symbol_char(c: char) -> bool {
    c.is_ascii_uppercase()
        || c.is_ascii_digit()
        || matches!(c, '.' | '-' | '=' | '^' | '_' | '/' | ':')
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = SymbolError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> Self {
        s.0.to_string()
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tickers_from_real_markets() {
        for s in [
            "AAPL",
            "BRK.B",
            "BTC-USD",
            "GC=F",
            "EURUSD=X",
            "^GSPC",
            "VWCE.DE",
            "7203.T",
            "ROLEX-SUB-2019",
        ] {
            assert_eq!(Symbol::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn rejects_lower_case_spaces_and_empties() {
        assert_eq!(Symbol::parse(""), Err(SymbolError::Empty));
        assert!(matches!(
            Symbol::parse("aapl"),
            Err(SymbolError::InvalidCharacter { found: 'a', .. })
        ));
        assert!(Symbol::parse("A B").is_err());
        assert!(Symbol::parse("<script>").is_err());
        assert!(Symbol::parse("...").is_err());
        assert!(Symbol::parse(&"A".repeat(65)).is_err());
    }
}
