//! Instruments: anything with a price, from a listed stock to a watch priced by hand.

use crate::{Currency, Symbol, UrlSource};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// What kind of thing an instrument is; drives provider defaults and market hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstrumentKind {
    Stock,
    Etf,
    Fund,
    Bond,
    Crypto,
    Commodity,
    Fx,
    Index,
    /// Something with no market, priced by hand (a watch, a card collection, a car).
    Item,
}

impl InstrumentKind {
    pub const ALL: [InstrumentKind; 9] = [
        Self::Stock,
        Self::Etf,
        Self::Fund,
        Self::Bond,
        Self::Crypto,
        Self::Commodity,
        Self::Fx,
        Self::Index,
        Self::Item,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Etf => "etf",
            Self::Fund => "fund",
            Self::Bond => "bond",
            Self::Crypto => "crypto",
            Self::Commodity => "commodity",
            Self::Fx => "fx",
            Self::Index => "index",
            Self::Item => "item",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    #[error(
        "unknown instrument kind {0:?}; expected one of stock, etf, fund, bond, crypto, commodity, fx, index, item"
    )]
    UnknownKind(String),
    #[error(
        "invalid provider name {0:?}: use lower-case letters, digits, '-' or '_' (e.g. yahoo, manual)"
    )]
    InvalidProvider(String),
    #[error("name must not be empty")]
    EmptyName,
    #[error("name is longer than 200 characters")]
    NameTooLong,
    #[error("{field} is longer than 64 characters")]
    FieldTooLong { field: &'static str },
}

impl FromStr for InstrumentKind {
    type Err = InstrumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| InstrumentError::UnknownKind(s.to_owned()))
    }
}

impl fmt::Display for InstrumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of a market-data provider (`yahoo`, `stooq`, `manual`, …).
/// Which names exist is the provider registry's business, not the domain's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderName(String);

impl ProviderName {
    pub fn parse(raw: &str) -> Result<Self, InstrumentError> {
        let ok = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InstrumentError::InvalidProvider(raw.to_owned()))
        }
    }

    pub fn manual() -> Self {
        Self("manual".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderName {
    type Error = InstrumentError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ProviderName> for String {
    fn from(p: ProviderName) -> Self {
        p.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A priced thing. `provider_symbol` is the provider's own spelling when it
/// differs from ours (`BTC-USD` is `bitcoin` on CoinGecko).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub symbol: Symbol,
    pub name: String,
    pub kind: InstrumentKind,
    pub currency: Currency,
    pub exchange: Option<String>,
    pub provider: ProviderName,
    pub provider_symbol: Option<String>,
    /// The first trading day, when known: bars before it are held back by
    /// the validator (a provider mixing in another listing's history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_date: Option<jiff::civil::Date>,
    /// Where the `url` provider reads the price (the environment's
    /// `PRICETRACK_PROVIDER_URL_SOURCES` is the fallback when this is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_source: Option<UrlSource>,
}

impl Instrument {
    /// Builds an instrument, checking the free-text fields.
    pub fn new(
        symbol: Symbol,
        name: String,
        kind: InstrumentKind,
        currency: Currency,
        exchange: Option<String>,
        provider: ProviderName,
        provider_symbol: Option<String>,
    ) -> Result<Self, InstrumentError> {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(InstrumentError::EmptyName);
        }
        if name.chars().count() > 200 {
            return Err(InstrumentError::NameTooLong);
        }
        let exchange = non_blank(exchange);
        let provider_symbol = non_blank(provider_symbol);
        if exchange.as_ref().is_some_and(|e| e.len() > 64) {
            return Err(InstrumentError::FieldTooLong { field: "exchange" });
        }
        if provider_symbol.as_ref().is_some_and(|e| e.len() > 64) {
            return Err(InstrumentError::FieldTooLong {
                field: "provider_symbol",
            });
        }
        Ok(Self {
            symbol,
            name,
            kind,
            currency,
            exchange,
            provider,
            provider_symbol,
            listing_date: None,
            url_source: None,
        })
    }

    /// The same instrument with its first trading day set (or cleared).
    pub fn with_listing_date(mut self, listing_date: Option<jiff::civil::Date>) -> Self {
        self.listing_date = listing_date;
        self
    }

    /// The same instrument with its own URL source set (or cleared).
    pub fn with_url_source(mut self, url_source: Option<UrlSource>) -> Self {
        self.url_source = url_source;
        self
    }

    /// The symbol to ask the provider for.
    pub fn provider_symbol_or_symbol(&self) -> &str {
        self.provider_symbol
            .as_deref()
            .unwrap_or(self.symbol.as_str())
    }
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
