//! The analytics input: one dated event in a portfolio.
//!
//! It is richer than [`crate::Transaction`] (transfers, tax refunds,
//! liabilities, per-trade taxes, accounts, bare cash flows) and converts from
//! it, so the API path and the reference-case path run the same functions.

use crate::{Currency, SplitRatio, Symbol, Transaction, TransactionKind};
use jiff::{civil::Date, tz::TimeZone};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A trade of units of one security. Money is in `currency`, which is the
/// security's quote currency unless stated otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub symbol: Symbol,
    pub currency: Currency,
    /// Units traded; positive.
    pub quantity: Decimal,
    /// Quantity × unit price, before fees and taxes. Authoritative: the unit
    /// price is derived from it.
    pub gross_amount: Decimal,
    pub fee: Decimal,
    pub tax: Decimal,
    /// The fee already converted to the base currency by the source
    /// (Ghostfolio `feeInBaseCurrency`); used instead of converting `fee`.
    #[serde(default)]
    pub fee_in_base: Option<Decimal>,
}

impl Trade {
    /// A trade at `unit_price` with a fee and no tax.
    pub fn new(
        symbol: Symbol,
        currency: Currency,
        quantity: Decimal,
        unit_price: Decimal,
        fee: Decimal,
    ) -> Self {
        Self {
            symbol,
            currency,
            quantity,
            gross_amount: quantity * unit_price,
            fee,
            tax: Decimal::ZERO,
            fee_in_base: None,
        }
    }

    #[must_use]
    pub fn with_tax(mut self, tax: Decimal) -> Self {
        self.tax = tax;
        self
    }

    /// Gross amount per unit (0 for a zero quantity).
    pub fn unit_price(&self) -> Decimal {
        self.gross_amount
            .checked_div(self.quantity)
            .unwrap_or(Decimal::ZERO)
    }

    /// What an acquisition costs all-in: gross + fee + tax.
    pub fn gross_plus_costs(&self) -> Decimal {
        self.gross_amount + self.fee + self.tax
    }

    /// What a disposal brings in net: gross − fee − tax.
    pub fn gross_minus_costs(&self) -> Decimal {
        self.gross_amount - self.fee - self.tax
    }
}

/// What happened. Amounts are non-negative; the kind gives the direction,
/// except for [`ActivityKind::CashFlow`], which is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActivityKind {
    Buy(Trade),
    Sell(Trade),
    /// Securities delivered in without a cash leg (an external inflow of value).
    TransferIn(Trade),
    /// Securities delivered out without a cash leg (an external outflow of value).
    TransferOut(Trade),
    /// A dividend: `gross` amount, `tax` withheld (net received = gross − tax).
    Dividend {
        symbol: Symbol,
        currency: Currency,
        gross: Decimal,
        tax: Decimal,
    },
    Interest {
        currency: Currency,
        gross: Decimal,
        tax: Decimal,
    },
    /// A stand-alone fee (account fee, or a fee about one security).
    Fee {
        symbol: Option<Symbol>,
        currency: Currency,
        amount: Decimal,
        #[serde(default)]
        amount_in_base: Option<Decimal>,
    },
    /// A stand-alone tax payment.
    Tax {
        symbol: Option<Symbol>,
        currency: Currency,
        amount: Decimal,
    },
    TaxRefund {
        symbol: Option<Symbol>,
        currency: Currency,
        amount: Decimal,
    },
    /// External cash into the portfolio.
    Deposit {
        currency: Currency,
        amount: Decimal,
    },
    /// External cash out of the portfolio.
    Withdrawal {
        currency: Currency,
        amount: Decimal,
    },
    /// A debt (reported as a total; it does not change values or returns).
    Liability {
        currency: Currency,
        amount: Decimal,
    },
    /// Each unit held before the split's date becomes `ratio` units.
    Split {
        symbol: Symbol,
        ratio: SplitRatio,
    },
    /// A bare dated cash flow for XIRR: negative = paid by the investor.
    CashFlow {
        amount: Decimal,
    },
}

/// One dated event. Same-day activities are applied in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub date: Date,
    /// The securities account; lot methods match lots within it, the
    /// moving average pools all accounts.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(flatten)]
    pub kind: ActivityKind,
}

impl Activity {
    pub fn new(date: Date, kind: ActivityKind) -> Self {
        Self {
            date,
            account: None,
            kind,
        }
    }

    #[must_use]
    pub fn in_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// The security this activity is about, if any.
    pub fn symbol(&self) -> Option<&Symbol> {
        match &self.kind {
            ActivityKind::Buy(t)
            | ActivityKind::Sell(t)
            | ActivityKind::TransferIn(t)
            | ActivityKind::TransferOut(t) => Some(&t.symbol),
            ActivityKind::Dividend { symbol, .. } | ActivityKind::Split { symbol, .. } => {
                Some(symbol)
            }
            ActivityKind::Fee { symbol, .. }
            | ActivityKind::Tax { symbol, .. }
            | ActivityKind::TaxRefund { symbol, .. } => symbol.as_ref(),
            ActivityKind::Interest { .. }
            | ActivityKind::Deposit { .. }
            | ActivityKind::Withdrawal { .. }
            | ActivityKind::Liability { .. }
            | ActivityKind::CashFlow { .. } => None,
        }
    }

    /// The trade carried by a buy, sell or transfer.
    pub fn trade(&self) -> Option<&Trade> {
        match &self.kind {
            ActivityKind::Buy(t)
            | ActivityKind::Sell(t)
            | ActivityKind::TransferIn(t)
            | ActivityKind::TransferOut(t) => Some(t),
            _ => None,
        }
    }
}

/// The calendar date of a transaction's timestamp, in UTC (as bars are keyed).
pub fn transaction_date(tx: &Transaction) -> Date {
    tx.time.to_zoned(TimeZone::UTC).date()
}

impl From<&Transaction> for Activity {
    fn from(tx: &Transaction) -> Self {
        let currency = tx.currency;
        let kind = match &tx.kind {
            TransactionKind::Buy {
                symbol,
                quantity,
                price,
                fee,
                tax,
            } => ActivityKind::Buy(
                Trade::new(
                    symbol.clone(),
                    currency,
                    quantity.value(),
                    price.value(),
                    fee.value(),
                )
                .with_tax(tax.value()),
            ),
            TransactionKind::Sell {
                symbol,
                quantity,
                price,
                fee,
                tax,
            } => ActivityKind::Sell(
                Trade::new(
                    symbol.clone(),
                    currency,
                    quantity.value(),
                    price.value(),
                    fee.value(),
                )
                .with_tax(tax.value()),
            ),
            TransactionKind::Dividend {
                symbol,
                amount,
                tax_withheld,
            } => ActivityKind::Dividend {
                symbol: symbol.clone(),
                currency,
                gross: amount.value(),
                tax: tax_withheld.value(),
            },
            TransactionKind::Interest {
                amount,
                tax_withheld,
            } => ActivityKind::Interest {
                currency,
                gross: amount.value(),
                tax: tax_withheld.value(),
            },
            TransactionKind::Fee { symbol, amount } => ActivityKind::Fee {
                symbol: symbol.clone(),
                currency,
                amount: amount.value(),
                amount_in_base: None,
            },
            TransactionKind::Tax { symbol, amount } => ActivityKind::Tax {
                symbol: symbol.clone(),
                currency,
                amount: amount.value(),
            },
            TransactionKind::Deposit { amount } => ActivityKind::Deposit {
                currency,
                amount: amount.value(),
            },
            TransactionKind::Withdrawal { amount } => ActivityKind::Withdrawal {
                currency,
                amount: amount.value(),
            },
            TransactionKind::Split { symbol, ratio } => ActivityKind::Split {
                symbol: symbol.clone(),
                ratio: *ratio,
            },
            TransactionKind::TransferIn {
                symbol,
                quantity,
                price,
                fee,
            } => ActivityKind::TransferIn(Trade::new(
                symbol.clone(),
                currency,
                quantity.value(),
                price.value(),
                fee.value(),
            )),
            TransactionKind::TransferOut {
                symbol,
                quantity,
                price,
                fee,
            } => ActivityKind::TransferOut(Trade::new(
                symbol.clone(),
                currency,
                quantity.value(),
                price.value(),
                fee.value(),
            )),
        };
        Activity::new(transaction_date(tx), kind)
    }
}

/// Converts a ledger (in ledger order) into analytics activities.
pub fn activities_from_transactions<'a>(
    transactions: impl IntoIterator<Item = &'a Transaction>,
) -> Vec<Activity> {
    transactions.into_iter().map(Activity::from).collect()
}
