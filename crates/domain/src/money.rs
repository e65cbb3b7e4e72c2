//! Exact decimal amounts. Money never touches `f64`.

use crate::Currency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    #[error("must be greater than zero, got {0}")]
    NotPositive(Decimal),
    #[error("must not be negative, got {0}")]
    Negative(Decimal),
    #[error("must be at most {max}, got {value}")]
    TooLarge { value: Decimal, max: Decimal },
}

/// Upper bounds on what one transaction can carry. They keep every product and sum
/// the ledger folds compute (quantity × price over thousands of trades) far inside
/// `Decimal`'s range (≈ 7.9 × 10^28), so arithmetic on accepted input cannot
/// overflow, while staying beyond any real holding: 10^13 units (more than the
/// supply of most tokens), a unit price of 10^12, an amount of 10^15.
const MAX_QUANTITY_DIGITS: u32 = 13;
const MAX_PRICE_DIGITS: u32 = 12;
const MAX_AMOUNT_DIGITS: u32 = 15;

/// Fails when `d` exceeds 10^`digits`.
fn at_most(d: Decimal, digits: u32) -> Result<(), AmountError> {
    let max = Decimal::from(10_i64.pow(digits));
    if d <= max {
        Ok(())
    } else {
        Err(AmountError::TooLarge { value: d, max })
    }
}

fn parse_decimal(raw: &str) -> Result<Decimal, AmountError> {
    let trimmed = raw.trim();
    Decimal::from_str_exact(trimmed)
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map(|d| d.normalize())
        .map_err(|_| AmountError::NotANumber(raw.to_owned()))
}

macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "Decimal", into = "Decimal")]
        pub struct $name(Decimal);

        impl $name {
            pub fn new(value: Decimal) -> Result<Self, AmountError> {
                let check: fn(Decimal) -> Result<(), AmountError> = $check;
                check(value)?;
                Ok(Self(value))
            }

            pub fn parse(raw: &str) -> Result<Self, AmountError> {
                Self::new(parse_decimal(raw)?)
            }

            pub fn value(self) -> Decimal {
                self.0
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = AmountError;
            fn try_from(d: Decimal) -> Result<Self, Self::Error> {
                Self::new(d)
            }
        }

        impl From<$name> for Decimal {
            fn from(v: $name) -> Decimal {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = AmountError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

fn positive(d: Decimal) -> Result<(), AmountError> {
    if d > Decimal::ZERO {
        Ok(())
    } else {
        Err(AmountError::NotPositive(d))
    }
}

fn non_negative(d: Decimal) -> Result<(), AmountError> {
    if d >= Decimal::ZERO {
        Ok(())
    } else {
        Err(AmountError::Negative(d))
    }
}

decimal_newtype!(
    /// A unit price in a transaction: exact, strictly positive, at most 10^12.
    Price,
    |d| positive(d).and_then(|()| at_most(d, MAX_PRICE_DIGITS))
);
decimal_newtype!(
    /// A number of units traded: exact, strictly positive (direction is the
    /// transaction's kind), at most 10^13.
    Quantity,
    |d| positive(d).and_then(|()| at_most(d, MAX_QUANTITY_DIGITS))
);
decimal_newtype!(
    /// A non-negative cash amount (fee, dividend, deposit…) whose sign is given by
    /// the transaction's kind; at most 10^15.
    Amount,
    |d| non_negative(d).and_then(|()| at_most(d, MAX_AMOUNT_DIGITS))
);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);
}

/// A signed exact amount in a currency, the result of computations (gains, balances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    #[test]
    fn amounts_beyond_any_real_holding_are_refused_so_folds_cannot_overflow() {
        assert!(Quantity::parse("10000000000000").is_ok());
        assert!(matches!(
            Quantity::parse("1e20"),
            Err(AmountError::TooLarge { .. })
        ));
        assert!(Price::parse("1000000000000").is_ok());
        assert!(Price::parse("1000000000000.01").is_err());
        assert!(Amount::parse("1e15").is_ok());
        let err = Amount::parse("79228162514264337593543950335").unwrap_err();
        assert!(
            err.to_string().contains("at most 1000000000000000"),
            "{err}"
        );
        // The largest trade times the largest price stays far inside Decimal.
        let trade =
            Quantity::parse("1e13").unwrap().value() * Price::parse("1e12").unwrap().value();
        assert!(trade.checked_mul(Decimal::from(1_000)).is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_exact_decimals_without_float_rounding() {
        assert_eq!(Price::parse("187.25").unwrap().value(), dec!(187.25));
        assert_eq!(Price::parse("0.1").unwrap().value() * dec!(3), dec!(0.3));
        assert_eq!(Quantity::parse("1e-3").unwrap().value(), dec!(0.001));
    }

    #[test]
    fn rejects_non_positive_prices_and_quantities_and_negative_amounts() {
        assert!(Price::parse("0").is_err());
        assert!(Quantity::parse("-1").is_err());
        assert!(Price::parse("NaN").is_err());
        assert!(Price::parse("inf").is_err());
        assert!(Amount::parse("-0.01").is_err());
        assert_eq!(Amount::parse("0").unwrap().value(), Decimal::ZERO);
    }
}
