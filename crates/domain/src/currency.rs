//! Currencies: ISO 4217 codes plus the crypto codes people hold.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Active ISO 4217 codes (plus XAU/XAG, which markets quote like currencies),
/// sorted: every stored amount's currency is parsed, so it is a binary search.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

/// Crypto-asset codes commonly used as quote or holding currencies.
const CRYPTO: &[&str] = &[
    "BTC", "ETH", "USDT", "USDC", "BNB", "SOL", "XRP", "ADA", "DOGE", "DOT", "LTC", "TRX", "AVAX",
    "LINK", "XLM", "XMR", "BCH", "DAI", "MATIC", "ATOM", "ETC", "UNI", "SHIB", "TON",
];

/// A currency code, validated against ISO 4217 and a list of crypto codes.
/// `Copy` and allocation-free: it is on every amount.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 5],
    len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown currency {0:?}: expected an ISO 4217 code such as USD, EUR, GBP or a crypto code such as BTC"
)]
pub struct CurrencyError(pub String);

impl Currency {
    pub const USD: Currency = Currency::from_known(b"USD");
    pub const EUR: Currency = Currency::from_known(b"EUR");
    pub const GBP: Currency = Currency::from_known(b"GBP");
    pub const CHF: Currency = Currency::from_known(b"CHF");
    pub const JPY: Currency = Currency::from_known(b"JPY");

    const fn from_known(code: &[u8; 3]) -> Currency {
        Currency {
            code: [code[0], code[1], code[2], 0, 0],
            len: 3,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        if ISO_4217.binary_search(&raw).is_err() && !CRYPTO.contains(&raw) {
            return Err(CurrencyError(raw.to_owned()));
        }
        let mut code = [0u8; 5];
        code[..raw.len()].copy_from_slice(raw.as_bytes());
        Ok(Currency {
            code,
            len: raw.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII codes from the lists above are ever stored.
        std::str::from_utf8(&self.code[..self.len as usize]).unwrap_or("???")
    }

    pub fn is_crypto(&self) -> bool {
        CRYPTO.contains(&self.as_str())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iso_list_is_sorted_for_its_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        for code in ISO_4217 {
            assert!(Currency::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn parses_iso_and_crypto_codes() {
        assert_eq!(Currency::parse("USD").unwrap(), Currency::USD);
        assert_eq!(Currency::parse("USDT").unwrap().as_str(), "USDT");
        assert!(Currency::parse("BTC").unwrap().is_crypto());
    }

    #[test]
    fn rejects_unknown_and_lower_case_codes() {
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert!(
            Currency::parse("GBp").is_err(),
            "pence must be converted to GBP at the edge"
        );
    }
}
