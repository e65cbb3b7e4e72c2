//! Portfolio transactions: each kind carries exactly its own fields.

use crate::{Amount, Currency, Price, Quantity, Symbol};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// A split: each unit held before becomes `numerator / denominator` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SplitRatio {
    numerator: Decimal,
    denominator: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error(
        "split ratio {0:?} is not of the form N:M (e.g. 4:1, or 1:10 for a reverse split) with N, M > 0"
    )]
    BadSplitRatio(String),
    #[error(
        "unknown transaction type {0:?}; expected one of buy, sell, dividend, interest, fee, tax, deposit, withdrawal, split, transfer_in, transfer_out"
    )]
    UnknownType(String),
    #[error("note is longer than 2000 characters")]
    NoteTooLong,
}

impl SplitRatio {
    pub fn new(numerator: Decimal, denominator: Decimal) -> Result<Self, TransactionError> {
        if numerator <= Decimal::ZERO || denominator <= Decimal::ZERO {
            return Err(TransactionError::BadSplitRatio(format!(
                "{numerator}:{denominator}"
            )));
        }
        Ok(Self {
            numerator: numerator.normalize(),
            denominator: denominator.normalize(),
        })
    }

    pub fn numerator(self) -> Decimal {
        self.numerator
    }

    pub fn denominator(self) -> Decimal {
        self.denominator
    }

    /// Units after the split for each unit before.
    pub fn factor(self) -> Decimal {
        self.numerator / self.denominator
    }
}

impl FromStr for SplitRatio {
    type Err = TransactionError;
    /// Accepts `4:1`, `4/1` or a bare factor `4`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TransactionError::BadSplitRatio(s.to_owned());
        let parse = |p: &str| Decimal::from_str_exact(p.trim()).map_err(|_| bad());
        let (n, d) = match s.split_once([':', '/']) {
            Some((n, d)) => (parse(n)?, parse(d)?),
            None => (parse(s)?, Decimal::ONE),
        };
        Self::new(n, d).map_err(|_| bad())
    }
}

impl fmt::Display for SplitRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.numerator, self.denominator)
    }
}

/// What happened, with exactly the fields that kind of event has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionKind {
    /// A purchase at `price` per unit; `fee` and `tax` (a transaction tax,
    /// stamp duty) are paid on top and are part of the cost incl. costs.
    Buy {
        symbol: Symbol,
        quantity: Quantity,
        price: Price,
        fee: Amount,
        tax: Amount,
    },
    /// A sale at `price` per unit; `fee` and `tax` (e.g. a tax withheld on
    /// the gain) are deducted from the proceeds.
    Sell {
        symbol: Symbol,
        quantity: Quantity,
        price: Price,
        fee: Amount,
        tax: Amount,
    },
    /// Gross dividend `amount`; `tax_withheld` is deducted before it reaches cash.
    Dividend {
        symbol: Symbol,
        amount: Amount,
        tax_withheld: Amount,
    },
    Interest {
        amount: Amount,
        tax_withheld: Amount,
    },
    /// A stand-alone fee (account fee), optionally about one instrument.
    Fee {
        symbol: Option<Symbol>,
        amount: Amount,
    },
    Tax {
        symbol: Option<Symbol>,
        amount: Amount,
    },
    Deposit {
        amount: Amount,
    },
    Withdrawal {
        amount: Amount,
    },
    Split {
        symbol: Symbol,
        ratio: SplitRatio,
    },
    /// Securities delivered into the portfolio without a cash leg (moved in
    /// from another broker, a gift, an inheritance). `price` is the value per
    /// unit that becomes the cost basis; `fee` is part of what the delivery cost.
    TransferIn {
        symbol: Symbol,
        quantity: Quantity,
        price: Price,
        fee: Amount,
    },
    /// Securities delivered out of the portfolio without a cash leg, valued at
    /// `price` per unit.
    TransferOut {
        symbol: Symbol,
        quantity: Quantity,
        price: Price,
        fee: Amount,
    },
}

/// The kind of a transaction without its fields, for filters and wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionType {
    Buy,
    Sell,
    Dividend,
    Interest,
    Fee,
    Tax,
    Deposit,
    Withdrawal,
    Split,
    TransferIn,
    TransferOut,
}

impl TransactionType {
    pub const ALL: [TransactionType; 11] = [
        Self::Buy,
        Self::Sell,
        Self::Dividend,
        Self::Interest,
        Self::Fee,
        Self::Tax,
        Self::Deposit,
        Self::Withdrawal,
        Self::Split,
        Self::TransferIn,
        Self::TransferOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
            Self::Dividend => "dividend",
            Self::Interest => "interest",
            Self::Fee => "fee",
            Self::Tax => "tax",
            Self::Deposit => "deposit",
            Self::Withdrawal => "withdrawal",
            Self::Split => "split",
            Self::TransferIn => "transfer_in",
            Self::TransferOut => "transfer_out",
        }
    }
}

impl FromStr for TransactionType {
    type Err = TransactionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == lower)
            .ok_or_else(|| TransactionError::UnknownType(s.to_owned()))
    }
}

impl fmt::Display for TransactionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dated event in a portfolio, in the currency it was settled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub time: Timestamp,
    pub currency: Currency,
    pub note: String,
    pub kind: TransactionKind,
}

impl Transaction {
    pub fn new(
        time: Timestamp,
        currency: Currency,
        note: String,
        kind: TransactionKind,
    ) -> Result<Self, TransactionError> {
        if note.chars().count() > 2000 {
            return Err(TransactionError::NoteTooLong);
        }
        Ok(Self {
            time,
            currency,
            note,
            kind,
        })
    }

    pub fn transaction_type(&self) -> TransactionType {
        match self.kind {
            TransactionKind::Buy { .. } => TransactionType::Buy,
            TransactionKind::Sell { .. } => TransactionType::Sell,
            TransactionKind::Dividend { .. } => TransactionType::Dividend,
            TransactionKind::Interest { .. } => TransactionType::Interest,
            TransactionKind::Fee { .. } => TransactionType::Fee,
            TransactionKind::Tax { .. } => TransactionType::Tax,
            TransactionKind::Deposit { .. } => TransactionType::Deposit,
            TransactionKind::Withdrawal { .. } => TransactionType::Withdrawal,
            TransactionKind::Split { .. } => TransactionType::Split,
            TransactionKind::TransferIn { .. } => TransactionType::TransferIn,
            TransactionKind::TransferOut { .. } => TransactionType::TransferOut,
        }
    }

    /// The instrument this transaction is about, if any.
    pub fn symbol(&self) -> Option<&Symbol> {
        match &self.kind {
            TransactionKind::Buy { symbol, .. }
            | TransactionKind::Sell { symbol, .. }
            | TransactionKind::Dividend { symbol, .. }
            | TransactionKind::Split { symbol, .. }
            | TransactionKind::TransferIn { symbol, .. }
            | TransactionKind::TransferOut { symbol, .. } => Some(symbol),
            TransactionKind::Fee { symbol, .. } | TransactionKind::Tax { symbol, .. } => {
                symbol.as_ref()
            }
            TransactionKind::Interest { .. }
            | TransactionKind::Deposit { .. }
            | TransactionKind::Withdrawal { .. } => None,
        }
    }

    /// The signed effect on the cash balance in `currency`.
    pub fn cash_effect(&self) -> Decimal {
        match &self.kind {
            TransactionKind::Buy {
                quantity,
                price,
                fee,
                tax,
                ..
            } => -(quantity.value() * price.value()) - fee.value() - tax.value(),
            TransactionKind::Sell {
                quantity,
                price,
                fee,
                tax,
                ..
            } => quantity.value() * price.value() - fee.value() - tax.value(),
            TransactionKind::Dividend {
                amount,
                tax_withheld,
                ..
            }
            | TransactionKind::Interest {
                amount,
                tax_withheld,
            } => amount.value() - tax_withheld.value(),
            TransactionKind::Fee { amount, .. }
            | TransactionKind::Tax { amount, .. }
            | TransactionKind::Withdrawal { amount } => -amount.value(),
            TransactionKind::Deposit { amount } => amount.value(),
            // Transfers deliver securities without a cash leg.
            TransactionKind::Split { .. }
            | TransactionKind::TransferIn { .. }
            | TransactionKind::TransferOut { .. } => Decimal::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn split_ratio_parses_colon_slash_and_bare_factor() {
        assert_eq!("4:1".parse::<SplitRatio>().unwrap().factor(), dec!(4));
        assert_eq!("1/10".parse::<SplitRatio>().unwrap().factor(), dec!(0.1));
        assert_eq!("3".parse::<SplitRatio>().unwrap().factor(), dec!(3));
        assert!("0:1".parse::<SplitRatio>().is_err());
        assert!("a:b".parse::<SplitRatio>().is_err());
    }

    #[test]
    fn buy_cash_effect_includes_fee() {
        let tx = Transaction::new(
            "2024-01-02T00:00:00Z".parse().unwrap(),
            Currency::USD,
            String::new(),
            TransactionKind::Buy {
                symbol: Symbol::parse("AAPL").unwrap(),
                quantity: Quantity::parse("10").unwrap(),
                price: Price::parse("187.25").unwrap(),
                fee: Amount::parse("1.5").unwrap(),
                tax: Amount::parse("0.5").unwrap(),
            },
        )
        .unwrap();
        assert_eq!(tx.cash_effect(), dec!(-1874.5));
        assert_eq!(tx.transaction_type().as_str(), "buy");
    }

    #[test]
    fn transfers_have_no_cash_leg_and_parse_by_snake_case_name() {
        let tx = Transaction::new(
            "2024-01-02T00:00:00Z".parse().unwrap(),
            Currency::USD,
            String::new(),
            TransactionKind::TransferIn {
                symbol: Symbol::parse("AAPL").unwrap(),
                quantity: Quantity::parse("10").unwrap(),
                price: Price::parse("187.25").unwrap(),
                fee: Amount::parse("1.5").unwrap(),
            },
        )
        .unwrap();
        assert_eq!(tx.cash_effect(), Decimal::ZERO);
        assert_eq!(tx.transaction_type().as_str(), "transfer_in");
        assert_eq!(tx.symbol().map(Symbol::as_str), Some("AAPL"));
        assert_eq!(
            "Transfer_Out".parse::<TransactionType>().unwrap(),
            TransactionType::TransferOut
        );
    }

    #[test]
    fn transaction_type_parsing_is_case_insensitive_and_names_the_bad_value() {
        assert_eq!(
            "BUY".parse::<TransactionType>().unwrap(),
            TransactionType::Buy
        );
        let err = "purchase".parse::<TransactionType>().unwrap_err();
        assert!(err.to_string().contains("purchase"));
    }
}
