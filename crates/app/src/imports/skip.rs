//! Which rows of a skipping import the ledger keeps.
//!
//! The rule, so the result never depends on the order rows are tried in:
//! walk the new rows in ledger order (by time; the portfolio's existing
//! transactions before new ones of the same time, new ones in file order —
//! the order the store gives them once written). A row is kept when the
//! ledger made of the existing transactions, the rows kept so far and this
//! row is consistent; otherwise it is skipped, and every later row is judged
//! without it (a sale that needed a skipped buy is itself refused). The kept
//! rows therefore always form a consistent ledger with the existing ones.

use crate::{FieldError, portfolios::check_ledger};
use pricetrack_domain::{HoldingsError, Symbol, Transaction};
use serde::Serialize;
use std::{collections::HashMap, fmt};

use super::ImportedRow;

/// A line a skipping import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidRow {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub reason: String,
}

impl From<FieldError> for InvalidRow {
    fn from(e: FieldError) -> Self {
        Self {
            // Every row error of a parser names its line; 0 would mean "unknown".
            line: e.line.unwrap_or(0),
            field: e.field,
            reason: e.reason,
        }
    }
}

/// `line N: field: reason`, as the all-or-nothing errors read.
impl fmt::Display for InvalidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// One transaction of the combined ledger.
#[derive(Clone, Copy)]
enum Slot {
    Existing(usize),
    New(usize),
}

/// Splits `fresh` (in file order) into the rows the ledger keeps (still in
/// file order) and those it refuses, by the rule of this module.
pub(crate) fn keep_what_the_ledger_accepts<'a>(
    existing: impl Iterator<Item = &'a Transaction>,
    fresh: Vec<ImportedRow>,
) -> (Vec<ImportedRow>, Vec<InvalidRow>) {
    let existing: Vec<&Transaction> = existing.collect();
    let tx = |slot: Slot| match slot {
        Slot::Existing(i) => existing[i],
        Slot::New(i) => &fresh[i].transaction,
    };
    let mut merged: Vec<Slot> = (0..existing.len())
        .map(Slot::Existing)
        .chain((0..fresh.len()).map(Slot::New))
        .collect();
    // Stable: existing before new at the same time, each in its own order.
    merged.sort_by_key(|s| tx(*s).time);
    if check_ledger(merged.iter().map(|s| tx(*s))).is_ok() {
        return (fresh, Vec::new());
    }
    // The ledger's rules are per instrument (a position is never short, a
    // split needs units), so a row is judged against its instrument's
    // transactions only; the store checks the whole ledger again on write.
    let mut by_symbol: HashMap<&Symbol, Vec<Slot>> = HashMap::new();
    for slot in &merged {
        if let Some(symbol) = tx(*slot).symbol() {
            by_symbol.entry(symbol).or_default().push(*slot);
        }
    }
    let mut kept = vec![false; fresh.len()];
    let mut refused = Vec::new();
    for slot in &merged {
        let Slot::New(i) = *slot else { continue };
        let candidate = &fresh[i].transaction;
        let Some(symbol) = candidate.symbol() else {
            kept[i] = true;
            continue;
        };
        let ledger = by_symbol.get(symbol).into_iter().flatten().filter_map(|s| {
            let included = match *s {
                Slot::Existing(_) => true,
                Slot::New(j) => j == i || kept[j],
            };
            included.then(|| tx(*s))
        });
        match check_ledger(ledger) {
            Ok(()) => kept[i] = true,
            Err(e) => refused.push(refusal(fresh[i].line, candidate, &e)),
        }
    }
    let rows = fresh
        .into_iter()
        .zip(kept)
        .filter_map(|(row, keep)| keep.then_some(row))
        .collect();
    (rows, refused)
}

/// Why the ledger refuses `candidate`: its own fault, or a later transaction
/// already in the portfolio that it would make impossible.
fn refusal(line: u64, candidate: &Transaction, e: &HoldingsError) -> InvalidRow {
    let (field, symbol, time) = match e {
        HoldingsError::InsufficientQuantity { symbol, time, .. } => ("quantity", symbol, time),
        HoldingsError::SplitWithoutPosition { symbol, time } => ("symbol", symbol, time),
    };
    let own = candidate.time == *time && candidate.symbol() == Some(symbol);
    InvalidRow {
        line,
        field: Some(field.to_owned()),
        reason: if own {
            e.to_string()
        } else {
            format!("it would break a transaction already in the portfolio: {e}")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_domain::{Amount, Currency, Price, Quantity, SplitRatio, TransactionKind};
    use rust_decimal::Decimal;

    fn sym() -> Symbol {
        Symbol::parse("NOVN.SW").unwrap()
    }

    fn at(day: u32, kind: TransactionKind) -> Transaction {
        Transaction::new(
            format!("2024-01-{day:02}T10:00:00Z").parse().unwrap(),
            Currency::CHF,
            String::new(),
            kind,
        )
        .unwrap()
    }

    fn buy(day: u32, q: i64) -> Transaction {
        at(
            day,
            TransactionKind::Buy {
                symbol: sym(),
                quantity: Quantity::new(Decimal::from(q)).unwrap(),
                price: Price::new(Decimal::from(100)).unwrap(),
                fee: Amount::new(Decimal::ZERO).unwrap(),
                tax: Amount::new(Decimal::ZERO).unwrap(),
            },
        )
    }

    fn sell(day: u32, q: i64) -> Transaction {
        at(
            day,
            TransactionKind::Sell {
                symbol: sym(),
                quantity: Quantity::new(Decimal::from(q)).unwrap(),
                price: Price::new(Decimal::from(110)).unwrap(),
                fee: Amount::new(Decimal::ZERO).unwrap(),
                tax: Amount::new(Decimal::ZERO).unwrap(),
            },
        )
    }

    fn split(day: u32) -> Transaction {
        at(
            day,
            TransactionKind::Split {
                symbol: sym(),
                ratio: "2:1".parse::<SplitRatio>().unwrap(),
            },
        )
    }

    fn deposit(day: u32) -> Transaction {
        at(
            day,
            TransactionKind::Deposit {
                amount: Amount::new(Decimal::from(1000)).unwrap(),
            },
        )
    }

    /// Rows as a file gives them: line 2 onwards, in the order given.
    fn file(txs: Vec<Transaction>) -> Vec<ImportedRow> {
        txs.into_iter()
            .enumerate()
            .map(|(i, transaction)| ImportedRow {
                line: i as u64 + 2,
                index: i,
                transaction,
            })
            .collect()
    }

    fn lines(rows: &[ImportedRow]) -> Vec<u64> {
        rows.iter().map(|r| r.line).collect()
    }

    #[test]
    fn a_consistent_file_is_kept_whole() {
        let (kept, refused) =
            keep_what_the_ledger_accepts([].into_iter(), file(vec![buy(1, 10), sell(2, 10)]));
        assert_eq!(lines(&kept), [2, 3]);
        assert!(refused.is_empty());
    }

    #[test]
    fn an_over_sale_is_skipped_and_the_rest_kept() {
        let (kept, refused) = keep_what_the_ledger_accepts(
            [].into_iter(),
            file(vec![buy(1, 10), sell(2, 15), sell(3, 4), deposit(4)]),
        );
        assert_eq!(lines(&kept), [2, 4, 5]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].line, 3);
        assert_eq!(refused[0].field.as_deref(), Some("quantity"));
        assert!(refused[0].reason.contains("only 10 held"), "{refused:?}");
    }

    #[test]
    fn existing_holdings_count_and_existing_sales_are_protected() {
        let existing = [buy(1, 10), sell(20, 8)];
        // A new sale of 5 on the 10th would leave 5 for the existing sale of 8.
        let (kept, refused) =
            keep_what_the_ledger_accepts(existing.iter(), file(vec![sell(10, 5), sell(10, 2)]));
        assert_eq!(lines(&kept), [3]);
        assert_eq!(refused[0].line, 2);
        assert!(
            refused[0].reason.contains("already in the portfolio"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_sale_that_needed_a_skipped_row_is_skipped_too() {
        // The split on the 2nd has nothing to split (the buy comes on the 3rd);
        // the sale of 15 on the 4th needed the split's doubling.
        let (kept, refused) = keep_what_the_ledger_accepts(
            [].into_iter(),
            file(vec![split(2), buy(3, 10), sell(4, 15)]),
        );
        assert_eq!(lines(&kept), [3]);
        let skipped: Vec<(u64, Option<&str>)> = refused
            .iter()
            .map(|r| (r.line, r.field.as_deref()))
            .collect();
        assert_eq!(skipped, [(2, Some("symbol")), (4, Some("quantity"))]);
    }

    #[test]
    fn the_kept_rows_do_not_depend_on_the_file_order() {
        let rows = vec![
            buy(1, 10),
            sell(5, 8),
            buy(3, 1),
            sell(6, 4),
            sell(2, 9),
            deposit(4),
        ];
        let kept_of = |rows: Vec<Transaction>| {
            let (kept, _) = keep_what_the_ledger_accepts([].into_iter(), file(rows));
            let mut kept: Vec<Transaction> = kept.into_iter().map(|r| r.transaction).collect();
            kept.sort_by_key(|t| t.time);
            kept
        };
        let forward = kept_of(rows.clone());
        let mut reversed = rows.clone();
        reversed.reverse();
        let mut rotated = rows;
        rotated.rotate_left(2);
        assert_eq!(forward, kept_of(reversed));
        assert_eq!(forward, kept_of(rotated));
        // In ledger order: buy 10, sell 9 (kept), buy 1, sell 8 (2 held: skipped), sell 4 (skipped).
        assert_eq!(forward, vec![buy(1, 10), sell(2, 9), buy(3, 1), deposit(4)]);
    }

    #[test]
    fn when_every_row_is_refused_nothing_is_kept() {
        let (kept, refused) =
            keep_what_the_ledger_accepts([].into_iter(), file(vec![sell(1, 1), split(2)]));
        assert!(kept.is_empty());
        assert_eq!(refused.len(), 2);
    }
}
