//! The holdings fold: transactions in, positions and cash out.
//!
//! Average-cost basis, fees excluded from the basis (they are reported
//! separately), splits applied in place. This fold is the ledger's validator
//! (no sale of more than is held, no split of nothing); the analytics
//! (`analytics`) compute the figures. Both read a day the same way: a split
//! applies to the units held at the start of its (UTC) day, before that day's
//! other activities, which are already in post-split units.

use crate::{Currency, Symbol, Transaction, TransactionKind};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Where the fold finds the latest price of an instrument.
pub trait PriceLookup {
    /// The last known price of `symbol`, in the instrument's quote currency.
    fn last_price(&self, symbol: &Symbol) -> Option<Decimal>;
}

impl PriceLookup for BTreeMap<Symbol, Decimal> {
    fn last_price(&self, symbol: &Symbol) -> Option<Decimal> {
        self.get(symbol).copied()
    }
}

/// One open (or recently closed) position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub symbol: Symbol,
    /// The currency the position was traded in.
    pub currency: Currency,
    pub quantity: Decimal,
    /// Cost per unit held, excluding fees.
    pub average_cost: Decimal,
    /// Acquisition cost of the units still held, excluding fees.
    pub cost_basis: Decimal,
    /// Gross proceeds minus average cost of the units sold (fees excluded).
    pub realized_gain: Decimal,
    /// Fees paid on this instrument's trades and stand-alone fees about it.
    pub fees: Decimal,
    /// Gross dividends received.
    pub dividends: Decimal,
    pub last_price: Option<Decimal>,
    pub market_value: Option<Decimal>,
    pub unrealized_gain: Option<Decimal>,
    /// Unrealized gain as a fraction of the cost basis (0.1 = 10 %).
    pub unrealized_gain_pct: Option<Decimal>,
}

/// Cash held in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashBalance {
    pub currency: Currency,
    pub balance: Decimal,
}

/// Positions (open ones, sorted by symbol) and cash per currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holdings {
    pub positions: Vec<Holding>,
    pub cash: Vec<CashBalance>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldingsError {
    #[error("cannot sell {requested} {symbol} on {time}: only {held} held at that time")]
    InsufficientQuantity {
        symbol: Symbol,
        requested: Decimal,
        held: Decimal,
        time: jiff::Timestamp,
    },
    #[error("cannot split {symbol} on {time}: no units held at the start of that (UTC) day")]
    SplitWithoutPosition {
        symbol: Symbol,
        time: jiff::Timestamp,
    },
}

/// Running state of one position during the fold.
#[derive(Debug, Clone)]
struct Position {
    currency: Currency,
    quantity: Decimal,
    cost_basis: Decimal,
    realized_gain: Decimal,
    fees: Decimal,
    dividends: Decimal,
}

impl Position {
    fn new(currency: Currency) -> Self {
        Self {
            currency,
            quantity: Decimal::ZERO,
            cost_basis: Decimal::ZERO,
            realized_gain: Decimal::ZERO,
            fees: Decimal::ZERO,
            dividends: Decimal::ZERO,
        }
    }
}

/// Transactions in the order they are applied: as given, except that a split
/// goes first on its UTC day (the order the analytics' ledger uses).
fn splits_first_on_their_day<'a>(
    transactions: impl IntoIterator<Item = &'a Transaction>,
) -> Vec<&'a Transaction> {
    let mut ordered: Vec<&Transaction> = transactions.into_iter().collect();
    let is_split = |tx: &Transaction| matches!(tx.kind, TransactionKind::Split { .. });
    if ordered.iter().any(|tx| is_split(tx)) {
        // Stable: the other transactions keep their order.
        ordered.sort_by_key(|tx| {
            (
                crate::analytics::activity::transaction_date(tx),
                !is_split(tx),
            )
        });
    }
    ordered
}

/// Folds transactions, which must be in chronological order (same-time
/// transactions in the order they were recorded), into holdings. A split
/// applies before the other transactions of its day.
///
/// Fails when a sell exceeds the quantity held at that moment, naming how much was held.
pub fn fold_holdings<'a>(
    transactions: impl IntoIterator<Item = &'a Transaction>,
    prices: &impl PriceLookup,
) -> Result<Holdings, HoldingsError> {
    let mut positions: BTreeMap<Symbol, Position> = BTreeMap::new();
    let mut cash: BTreeMap<Currency, Decimal> = BTreeMap::new();

    for tx in splits_first_on_their_day(transactions) {
        *cash.entry(tx.currency).or_default() += tx.cash_effect();
        match &tx.kind {
            TransactionKind::Buy {
                symbol,
                quantity,
                price,
                fee,
                ..
            }
            | TransactionKind::TransferIn {
                symbol,
                quantity,
                price,
                fee,
            } => {
                let p = positions
                    .entry(symbol.clone())
                    .or_insert_with(|| Position::new(tx.currency));
                p.quantity += quantity.value();
                p.cost_basis += quantity.value() * price.value();
                p.fees += fee.value();
            }
            TransactionKind::Sell {
                symbol,
                quantity,
                price,
                fee,
                ..
            }
            | TransactionKind::TransferOut {
                symbol,
                quantity,
                price,
                fee,
            } => {
                let held = positions.get(symbol).map_or(Decimal::ZERO, |p| p.quantity);
                if quantity.value() > held {
                    return Err(HoldingsError::InsufficientQuantity {
                        symbol: symbol.clone(),
                        requested: quantity.value(),
                        held,
                        time: tx.time,
                    });
                }
                if let Some(p) = positions.get_mut(symbol) {
                    let relieved = p.cost_basis * quantity.value() / p.quantity;
                    p.realized_gain += quantity.value() * price.value() - relieved;
                    p.quantity -= quantity.value();
                    p.cost_basis -= relieved;
                    p.fees += fee.value();
                    if p.quantity.is_zero() {
                        p.cost_basis = Decimal::ZERO;
                    }
                }
            }
            TransactionKind::Dividend { symbol, amount, .. } => {
                positions
                    .entry(symbol.clone())
                    .or_insert_with(|| Position::new(tx.currency))
                    .dividends += amount.value();
            }
            TransactionKind::Fee {
                symbol: Some(symbol),
                amount,
            } => {
                positions
                    .entry(symbol.clone())
                    .or_insert_with(|| Position::new(tx.currency))
                    .fees += amount.value();
            }
            TransactionKind::Split { symbol, ratio } => match positions.get_mut(symbol) {
                Some(p) if !p.quantity.is_zero() => p.quantity *= ratio.factor(),
                _ => {
                    return Err(HoldingsError::SplitWithoutPosition {
                        symbol: symbol.clone(),
                        time: tx.time,
                    });
                }
            },
            TransactionKind::Fee { symbol: None, .. }
            | TransactionKind::Tax { .. }
            | TransactionKind::Interest { .. }
            | TransactionKind::Deposit { .. }
            | TransactionKind::Withdrawal { .. } => {}
        }
    }

    let positions = positions
        .into_iter()
        .filter(|(_, p)| !p.quantity.is_zero())
        .map(|(symbol, p)| {
            let last_price = prices.last_price(&symbol);
            let market_value = last_price.map(|price| price * p.quantity);
            let unrealized_gain = market_value.map(|v| v - p.cost_basis);
            let unrealized_gain_pct = unrealized_gain
                .filter(|_| !p.cost_basis.is_zero())
                .map(|g| g / p.cost_basis);
            Holding {
                average_cost: p.cost_basis / p.quantity,
                symbol,
                currency: p.currency,
                quantity: p.quantity.normalize(),
                cost_basis: p.cost_basis,
                realized_gain: p.realized_gain,
                fees: p.fees,
                dividends: p.dividends,
                last_price,
                market_value,
                unrealized_gain,
                unrealized_gain_pct,
            }
        })
        .collect();
    let cash = cash
        .into_iter()
        .map(|(currency, balance)| CashBalance { currency, balance })
        .collect();
    Ok(Holdings { positions, cash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Amount, Price, Quantity, SplitRatio};
    use rust_decimal_macros::dec;

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn tx(day: &str, kind: TransactionKind) -> Transaction {
        Transaction::new(
            format!("{day}T00:00:00Z").parse().unwrap(),
            Currency::CHF,
            String::new(),
            kind,
        )
        .unwrap()
    }

    fn buy(day: &str, q: &str, p: &str, fee: &str) -> Transaction {
        tx(
            day,
            TransactionKind::Buy {
                symbol: sym("NOVN.SW"),
                quantity: Quantity::parse(q).unwrap(),
                price: Price::parse(p).unwrap(),
                fee: Amount::parse(fee).unwrap(),
                tax: Amount::ZERO,
            },
        )
    }

    fn sell(day: &str, q: &str, p: &str, fee: &str) -> Transaction {
        tx(
            day,
            TransactionKind::Sell {
                symbol: sym("NOVN.SW"),
                quantity: Quantity::parse(q).unwrap(),
                price: Price::parse(p).unwrap(),
                fee: Amount::parse(fee).unwrap(),
                tax: Amount::ZERO,
            },
        )
    }

    #[test]
    fn partial_sell_realizes_gain_against_average_cost() {
        // Ghostfolio's NOVN case: buy 2 @ 75.80, sell 1 @ 85.73, close 87.80.
        let txs = [
            buy("2022-03-07", "2", "75.80", "2.95"),
            sell("2022-04-08", "1", "85.73", "1.30"),
        ];
        let prices = BTreeMap::from([(sym("NOVN.SW"), dec!(87.80))]);
        let h = fold_holdings(&txs, &prices).unwrap();
        let p = &h.positions[0];
        assert_eq!(p.quantity, dec!(1));
        assert_eq!(p.cost_basis, dec!(75.80));
        assert_eq!(p.realized_gain, dec!(9.93));
        assert_eq!(p.unrealized_gain, Some(dec!(12.00)));
        assert_eq!(p.fees, dec!(4.25));
        assert_eq!(
            h.cash[0].balance,
            dec!(-151.60) - dec!(2.95) + dec!(85.73) - dec!(1.30)
        );
    }

    #[test]
    fn selling_more_than_held_names_the_quantity_held() {
        let txs = [
            buy("2022-03-07", "2", "75.80", "0"),
            sell("2022-04-08", "3", "85.73", "0"),
        ];
        let err = fold_holdings(&txs, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("only 2 held"), "{err}");
    }

    #[test]
    fn split_multiplies_quantity_and_keeps_cost_basis() {
        let txs = [
            buy("2020-01-02", "10", "400", "0"),
            tx(
                "2020-08-31",
                TransactionKind::Split {
                    symbol: sym("NOVN.SW"),
                    ratio: SplitRatio::new(dec!(4), dec!(1)).unwrap(),
                },
            ),
        ];
        let h = fold_holdings(&txs, &BTreeMap::new()).unwrap();
        assert_eq!(h.positions[0].quantity, dec!(40));
        assert_eq!(h.positions[0].cost_basis, dec!(4000));
        assert_eq!(h.positions[0].average_cost, dec!(100));
    }

    #[test]
    fn a_split_applies_before_the_other_transactions_of_its_day() {
        // 10 held; on the split's day a buy of 5 (already in post-split units)
        // at 09:00, the 2:1 split recorded at 12:00, a sale of 25 at 15:00.
        let at = |time: &str, kind| {
            Transaction::new(time.parse().unwrap(), Currency::CHF, String::new(), kind).unwrap()
        };
        let split = at(
            "2024-06-10T12:00:00Z",
            TransactionKind::Split {
                symbol: sym("NOVN.SW"),
                ratio: SplitRatio::new(dec!(2), dec!(1)).unwrap(),
            },
        );
        let mut buy_today = buy("2024-06-10", "5", "50", "0");
        buy_today.time = "2024-06-10T09:00:00Z".parse().unwrap();
        let mut sell_today = sell("2024-06-10", "25", "55", "0");
        sell_today.time = "2024-06-10T15:00:00Z".parse().unwrap();
        let txs = [
            buy("2024-06-03", "10", "100", "0"),
            buy_today.clone(),
            split.clone(),
            sell_today,
        ];
        // 10 × 2 + 5 − 25: nothing left, as the analytics see it.
        let h = fold_holdings(&txs, &BTreeMap::new()).unwrap();
        assert!(h.positions.is_empty(), "{:?}", h.positions);
        // Selling the 30 a timestamp order would give is refused.
        let mut sell_30 = sell("2024-06-10", "30", "55", "0");
        sell_30.time = "2024-06-10T15:00:00Z".parse().unwrap();
        let txs = [
            buy("2024-06-03", "10", "100", "0"),
            buy_today,
            split,
            sell_30,
        ];
        let err = fold_holdings(&txs, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("only 25 held"), "{err}");
    }

    #[test]
    fn a_split_on_the_day_of_the_first_purchase_has_nothing_to_split() {
        // The buy at 09:00 is already in post-split units; at the start of
        // the day nothing was held, so the split would apply to nothing.
        let mut buy_today = buy("2024-06-10", "5", "50", "0");
        buy_today.time = "2024-06-10T09:00:00Z".parse().unwrap();
        let split = Transaction::new(
            "2024-06-10T12:00:00Z".parse().unwrap(),
            Currency::CHF,
            String::new(),
            TransactionKind::Split {
                symbol: sym("NOVN.SW"),
                ratio: SplitRatio::new(dec!(2), dec!(1)).unwrap(),
            },
        )
        .unwrap();
        let err = fold_holdings(&[buy_today, split], &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(err, HoldingsError::SplitWithoutPosition { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("start of that"), "{err}");
    }

    #[test]
    fn closed_positions_are_not_listed_and_reopen_at_fresh_cost() {
        let txs = [
            buy("2022-01-03", "1", "100", "0"),
            sell("2022-01-04", "1", "120", "0"),
            buy("2022-01-04", "1", "90", "0"),
        ];
        let h = fold_holdings(&txs, &BTreeMap::new()).unwrap();
        assert_eq!(h.positions.len(), 1);
        assert_eq!(h.positions[0].average_cost, dec!(90));
        assert_eq!(h.positions[0].realized_gain, dec!(20));
    }
}
