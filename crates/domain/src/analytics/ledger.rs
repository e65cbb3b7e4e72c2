//! The prepared ledger: activities validated, ordered by date (same-day order
//! kept, splits first on their day), cut at the evaluation date, and with
//! every quantity restated in the units valid at the evaluation date.
//!
//! Restating quantities before a split (quantity × n/d) keeps them consistent
//! with split-adjusted price series, so a position's value never jumps at a
//! split. Money amounts are never touched: the gross amount stays exact.

use super::{
    AnalyticsError, AnalyticsResult,
    activity::{Activity, ActivityKind},
    day::{Day, date_of, day_of},
};
use crate::{Currency, Symbol};
use jiff::civil::Date;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// One activity of the prepared ledger.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub day: Day,
    /// Index into [`Ledger::account_name`].
    pub account: usize,
    /// Index into [`Ledger::symbols`].
    pub symbol: Option<usize>,
    pub kind: ActivityKind,
}

/// A security that appears in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolInfo {
    pub symbol: Symbol,
    /// The currency its prices and trades are quoted in.
    pub quote_currency: Currency,
    /// Whether any buy, sell, transfer or split moves units of it.
    pub has_units: bool,
    pub(crate) entries: Vec<usize>,
}

/// Activities ready for analysis. Build once, query many times.
#[derive(Debug, Clone)]
pub struct Ledger {
    base_currency: Currency,
    evaluation_day: Day,
    entries: Vec<Entry>,
    symbols: Vec<SymbolInfo>,
    symbol_index: HashMap<Symbol, usize>,
    accounts: Vec<Option<String>>,
}

impl Ledger {
    /// Validates and orders `activities` (ledger order within a day is kept)
    /// and keeps those on or before `evaluation_date`. A liability dated
    /// later is moved to the evaluation date (Ghostfolio does the same).
    pub fn prepare(
        activities: &[Activity],
        base_currency: Currency,
        evaluation_date: Date,
    ) -> AnalyticsResult<Self> {
        let evaluation_day = day_of(evaluation_date);
        let mut ordered: Vec<(Day, bool, usize)> = Vec::with_capacity(activities.len());
        for (index, activity) in activities.iter().enumerate() {
            validate(index, activity)?;
            let mut day = day_of(activity.date);
            if day > evaluation_day {
                if matches!(activity.kind, ActivityKind::Liability { .. }) {
                    day = evaluation_day;
                } else {
                    continue;
                }
            }
            let is_split = matches!(activity.kind, ActivityKind::Split { .. });
            ordered.push((day, !is_split, index));
        }
        // Stable: same-day activities keep their order, splits go first.
        ordered.sort_by_key(|&(day, not_split, _)| (day, not_split));

        let mut ledger = Ledger {
            base_currency,
            evaluation_day,
            entries: Vec::with_capacity(ordered.len()),
            symbols: Vec::new(),
            symbol_index: HashMap::new(),
            accounts: Vec::new(),
        };
        let mut account_index: HashMap<Option<&str>, usize> = HashMap::new();
        for (day, _, index) in ordered {
            let activity = &activities[index];
            let account = *account_index
                .entry(activity.account.as_deref())
                .or_insert_with(|| {
                    ledger.accounts.push(activity.account.clone());
                    ledger.accounts.len() - 1
                });
            let symbol = activity.symbol().map(|s| ledger.intern_symbol(s));
            let entry_index = ledger.entries.len();
            if let Some(s) = symbol {
                let info = &mut ledger.symbols[s];
                info.entries.push(entry_index);
                if activity.trade().is_some() || matches!(activity.kind, ActivityKind::Split { .. })
                {
                    info.has_units = true;
                }
            }
            ledger.entries.push(Entry {
                day,
                account,
                symbol,
                kind: activity.kind.clone(),
            });
        }
        ledger.assign_quote_currencies();
        ledger.restate_quantities_in_post_split_units();
        Ok(ledger)
    }

    fn intern_symbol(&mut self, symbol: &Symbol) -> usize {
        if let Some(&i) = self.symbol_index.get(symbol) {
            return i;
        }
        self.symbols.push(SymbolInfo {
            symbol: symbol.clone(),
            quote_currency: self.base_currency,
            has_units: false,
            entries: Vec::new(),
        });
        self.symbol_index
            .insert(symbol.clone(), self.symbols.len() - 1);
        self.symbols.len() - 1
    }

    /// A security is quoted in the currency of its first trade, else of the
    /// first dividend, fee or tax about it, else in the base currency.
    fn assign_quote_currencies(&mut self) {
        for info in &mut self.symbols {
            let kinds = || info.entries.iter().map(|&e| &self.entries[e].kind);
            let from_trade = kinds().find_map(|k| match k {
                ActivityKind::Buy(t)
                | ActivityKind::Sell(t)
                | ActivityKind::TransferIn(t)
                | ActivityKind::TransferOut(t) => Some(t.currency),
                _ => None,
            });
            let from_other = || {
                kinds().find_map(|k| match k {
                    ActivityKind::Dividend { currency, .. }
                    | ActivityKind::Fee { currency, .. }
                    | ActivityKind::Tax { currency, .. }
                    | ActivityKind::TaxRefund { currency, .. } => Some(*currency),
                    _ => None,
                })
            };
            if let Some(currency) = from_trade.or_else(from_other) {
                info.quote_currency = currency;
            }
        }
    }

    /// Multiplies the quantity of every trade dated strictly before a split
    /// by the split's ratio, so all quantities are in today's units.
    fn restate_quantities_in_post_split_units(&mut self) {
        for info in &self.symbols {
            let splits: Vec<(Day, Decimal, Decimal)> = info
                .entries
                .iter()
                .filter_map(|&e| match &self.entries[e].kind {
                    ActivityKind::Split { ratio, .. } => {
                        Some((self.entries[e].day, ratio.numerator(), ratio.denominator()))
                    }
                    _ => None,
                })
                .collect();
            if splits.is_empty() {
                continue;
            }
            for &e in &info.entries {
                let day = self.entries[e].day;
                let trade = match &mut self.entries[e].kind {
                    ActivityKind::Buy(t)
                    | ActivityKind::Sell(t)
                    | ActivityKind::TransferIn(t)
                    | ActivityKind::TransferOut(t) => t,
                    _ => continue,
                };
                let later = splits.iter().filter(|(split_day, ..)| day < *split_day);
                let (mut numerator, mut denominator) = (Decimal::ONE, Decimal::ONE);
                for (_, n, d) in later {
                    numerator *= *n;
                    denominator *= *d;
                }
                if numerator != denominator {
                    trade.quantity = trade.quantity * numerator / denominator;
                }
            }
        }
    }

    /// The activities about one security only — its trades, splits, income,
    /// fees and taxes — as a ledger of their own, for the security's own
    /// figures. Quantities stay restated as in this ledger.
    pub fn for_symbol(&self, symbol: &Symbol) -> AnalyticsResult<Ledger> {
        let index = self.symbol_position(symbol)?;
        let info = &self.symbols[index];
        let entries: Vec<Entry> = info
            .entries
            .iter()
            .map(|&e| Entry {
                symbol: Some(0),
                ..self.entries[e].clone()
            })
            .collect();
        Ok(Ledger {
            base_currency: self.base_currency,
            evaluation_day: self.evaluation_day,
            symbols: vec![SymbolInfo {
                entries: (0..entries.len()).collect(),
                ..info.clone()
            }],
            symbol_index: HashMap::from([(symbol.clone(), 0)]),
            accounts: self.accounts.clone(),
            entries,
        })
    }

    /// Overrides the quote currency of a symbol (e.g. from instrument data).
    pub fn set_quote_currency(&mut self, symbol: &Symbol, currency: Currency) {
        if let Some(&i) = self.symbol_index.get(symbol) {
            self.symbols[i].quote_currency = currency;
        }
    }

    pub fn base_currency(&self) -> Currency {
        self.base_currency
    }

    pub fn evaluation_date(&self) -> Date {
        date_of(self.evaluation_day)
    }

    pub(crate) fn evaluation_day(&self) -> Day {
        self.evaluation_day
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The date of the earliest activity.
    pub fn first_date(&self) -> Option<Date> {
        self.first_day().map(date_of)
    }

    pub(crate) fn first_day(&self) -> Option<Day> {
        self.entries.first().map(|e| e.day)
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every security mentioned, in order of first appearance.
    pub fn symbols(&self) -> &[SymbolInfo] {
        &self.symbols
    }

    /// The securities whose units are traded (not just mentioned).
    pub fn holdings_symbols(&self) -> impl Iterator<Item = &SymbolInfo> {
        self.symbols.iter().filter(|s| s.has_units)
    }

    pub(crate) fn symbol_position(&self, symbol: &Symbol) -> AnalyticsResult<usize> {
        self.symbol_index
            .get(symbol)
            .copied()
            .ok_or_else(|| AnalyticsError::UnknownSymbol(symbol.clone()))
    }

    pub fn symbol_info(&self, symbol: &Symbol) -> Option<&SymbolInfo> {
        self.symbol_index.get(symbol).map(|&i| &self.symbols[i])
    }

    pub(crate) fn symbol_at(&self, index: usize) -> &SymbolInfo {
        &self.symbols[index]
    }

    pub(crate) fn account_name(&self, index: usize) -> Option<&str> {
        self.accounts.get(index).and_then(|a| a.as_deref())
    }

    /// Whether external cash flows (deposits, withdrawals) are recorded, so
    /// cash is part of the portfolio's value.
    pub fn records_cash_flows(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.kind,
                ActivityKind::Deposit { .. } | ActivityKind::Withdrawal { .. }
            )
        })
    }
}

fn validate(index: usize, activity: &Activity) -> AnalyticsResult<()> {
    let fail = |reason: String| {
        Err(AnalyticsError::InvalidActivity {
            index,
            date: activity.date,
            reason,
        })
    };
    let non_negative = |name: &str, v: Decimal| {
        if v.is_sign_negative() && !v.is_zero() {
            fail(format!("{name} must not be negative, got {v}"))
        } else {
            Ok(())
        }
    };
    match &activity.kind {
        ActivityKind::Buy(t)
        | ActivityKind::Sell(t)
        | ActivityKind::TransferIn(t)
        | ActivityKind::TransferOut(t) => {
            if t.quantity <= Decimal::ZERO {
                return fail(format!("quantity must be positive, got {}", t.quantity));
            }
            non_negative("gross amount", t.gross_amount)?;
            non_negative("fee", t.fee)?;
            non_negative("tax", t.tax)
        }
        ActivityKind::Dividend { gross, tax, .. } | ActivityKind::Interest { gross, tax, .. } => {
            non_negative("amount", *gross)?;
            non_negative("tax", *tax)
        }
        ActivityKind::Fee { amount, .. }
        | ActivityKind::Tax { amount, .. }
        | ActivityKind::TaxRefund { amount, .. }
        | ActivityKind::Deposit { amount, .. }
        | ActivityKind::Withdrawal { amount, .. }
        | ActivityKind::Liability { amount, .. } => non_negative("amount", *amount),
        ActivityKind::Split { .. } | ActivityKind::CashFlow { .. } => Ok(()),
    }
}
