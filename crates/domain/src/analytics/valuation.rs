//! The daily valuation of the whole portfolio: value at each day's close and
//! the external flows of the day, from the day before the first activity to
//! the evaluation date. Returns, drawdowns and period statements are computed
//! from it.
//!
//! What counts as value and as an external flow depends on whether cash is
//! part of the portfolio ([`CashTreatment`]):
//!
//! * **cash included** (the ledger records deposits/withdrawals): value =
//!   securities + cash in every currency; flows = deposits, withdrawals and
//!   transfers of securities in/out. Buys and sells only move value between
//!   cash and securities; interest and dividends are gains, fees and taxes
//!   losses (Portfolio Performance's client-level figures).
//! * **cash excluded** (no deposits recorded, cash is outside): value =
//!   securities only; a purchase is an inflow at gross + fee, a sale an
//!   outflow at gross − fee, dividends and interest are paid out (outflows,
//!   gross), stand-alone fees are paid in (negative outflows), taxes are
//!   ignored (Portfolio Performance's security-level figures).

use super::{
    AnalyticsError, AnalyticsResult,
    activity::ActivityKind,
    day::{Day, date_of, day_of},
    fx::{FxRates, convert, rate_or_error},
    ledger::Ledger,
    position::LastTrade,
    prices::{DailySeries, PriceTable},
};
use crate::Currency;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Whether cash balances are part of the portfolio's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashTreatment {
    /// Included when the ledger records deposits or withdrawals.
    #[default]
    Auto,
    Included,
    Excluded,
}

impl CashTreatment {
    pub fn includes_cash(self, ledger: &Ledger) -> bool {
        match self {
            Self::Auto => ledger.records_cash_flows(),
            Self::Included => true,
            Self::Excluded => false,
        }
    }
}

/// One day of the valuation, all in the base currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValuationDay {
    pub date: Date,
    /// Total value at the close (securities + cash when cash is included).
    pub value: Decimal,
    pub securities_value: Decimal,
    pub cash_value: Decimal,
    /// External inflows, counted at the start of the day.
    pub inflow: Decimal,
    /// External outflows, counted at the end of the day.
    pub outflow: Decimal,
}

/// The portfolio's value day by day.
#[derive(Debug, Clone)]
pub struct ValuationSeries {
    first_day: Day,
    days: Vec<ValuationDay>,
    cash_included: bool,
}

impl ValuationSeries {
    pub fn days(&self) -> &[ValuationDay] {
        &self.days
    }

    pub fn cash_included(&self) -> bool {
        self.cash_included
    }

    pub fn first_date(&self) -> Option<Date> {
        self.days.first().map(|d| d.date)
    }

    /// The day's record; before the series it is zero, after it the last
    /// value holds with no flows.
    pub(crate) fn at_day(&self, day: Day) -> ValuationDay {
        let zero = |date| ValuationDay {
            date,
            value: Decimal::ZERO,
            securities_value: Decimal::ZERO,
            cash_value: Decimal::ZERO,
            inflow: Decimal::ZERO,
            outflow: Decimal::ZERO,
        };
        if day < self.first_day {
            return zero(date_of(day));
        }
        let index = usize::try_from(day - self.first_day).unwrap_or(usize::MAX);
        match self.days.get(index) {
            Some(d) => d.clone(),
            None => match self.days.last() {
                Some(last) => ValuationDay {
                    date: date_of(day),
                    inflow: Decimal::ZERO,
                    outflow: Decimal::ZERO,
                    ..last.clone()
                },
                None => zero(date_of(day)),
            },
        }
    }

    /// Total value at the close of `date`.
    pub fn value_at(&self, date: Date) -> Decimal {
        self.at_day(super::day::day_of(date)).value
    }
}

/// How a position without any close on or before a day is valued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceGapPolicy {
    /// At the unit price of its latest trade (hand-priced assets, new listings).
    #[default]
    LastTradePrice,
    /// At the close of the evaluation date, else the latest trade price
    /// (Ghostfolio's chart behaviour).
    EvaluationDatePrice,
}

/// Finds a security's price for a day under a gap policy.
pub(crate) fn price_for_day(
    series: Option<&DailySeries>,
    day: Day,
    evaluation_day: Day,
    last_trade: Option<LastTrade>,
    policy: PriceGapPolicy,
) -> Option<Decimal> {
    let close = series.and_then(|s| s.at_day(day));
    let last_trade_price = || last_trade.and_then(LastTrade::price);
    close.or_else(|| match policy {
        PriceGapPolicy::LastTradePrice => last_trade_price(),
        PriceGapPolicy::EvaluationDatePrice => series
            .and_then(|s| s.at_day(evaluation_day))
            .or_else(last_trade_price),
    })
}

/// Values the portfolio every day from the day before its first activity to
/// the evaluation date.
pub fn valuation_series(
    ledger: &Ledger,
    prices: &PriceTable,
    fx: &dyn FxRates,
    cash: CashTreatment,
) -> AnalyticsResult<ValuationSeries> {
    let cash_included = cash.includes_cash(ledger);
    let Some(first) = ledger.first_day() else {
        return Ok(ValuationSeries {
            first_day: ledger.evaluation_day(),
            days: Vec::new(),
            cash_included,
        });
    };
    let first_day = first - 1;
    let last_day = ledger.evaluation_day();
    let mut fold = DailyFold::new(ledger, prices, fx, cash_included);
    let mut days = Vec::with_capacity(usize::try_from(last_day - first_day + 1).unwrap_or(0));
    for day in first_day..=last_day {
        days.push(fold.value_day(day)?);
    }
    Ok(ValuationSeries {
        first_day,
        days,
        cash_included,
    })
}

/// [`valuation_series`] for a ledger that differs from the one `previous` was
/// computed from (with the same prices and FX rates) only in activities on or
/// after `changed_from`: the days before it are taken from `previous`, the
/// fold's state at that day is rebuilt by replaying the earlier activities
/// (no valuation), and only the days from `changed_from` on are valued again.
/// The result equals a full computation; when `previous` cannot be reused
/// (another first day, cash treatment or evaluation day) it is one.
///
/// The caller guarantees the premise. Splits restate earlier activities, so a
/// change that adds, moves or removes a split is not such a change.
pub fn valuation_series_from(
    ledger: &Ledger,
    prices: &PriceTable,
    fx: &dyn FxRates,
    cash: CashTreatment,
    previous: &ValuationSeries,
    changed_from: Date,
) -> AnalyticsResult<ValuationSeries> {
    let cash_included = cash.includes_cash(ledger);
    let (Some(first), Some(previous_last)) = (ledger.first_day(), previous.days.last()) else {
        return valuation_series(ledger, prices, fx, cash);
    };
    let first_day = first - 1;
    let last_day = ledger.evaluation_day();
    let previous_last_day = day_of(previous_last.date);
    let resume_day = day_of(changed_from).min(previous_last_day + 1);
    if previous.first_day != first_day
        || previous.cash_included != cash_included
        || previous_last_day > last_day
        || resume_day <= first_day
    {
        return valuation_series(ledger, prices, fx, cash);
    }
    let kept = usize::try_from(resume_day - first_day).unwrap_or(0);
    let mut days = Vec::with_capacity(usize::try_from(last_day - first_day + 1).unwrap_or(0));
    days.extend_from_slice(&previous.days[..kept]);
    let mut fold = DailyFold::new(ledger, prices, fx, cash_included);
    fold.replay_until(resume_day)?;
    for day in resume_day..=last_day {
        days.push(fold.value_day(day)?);
    }
    Ok(ValuationSeries {
        first_day,
        days,
        cash_included,
    })
}

/// The state of the daily valuation as it walks the ledger day by day:
/// quantities, the last trade of each security (the price of unpriced days)
/// and cash per currency.
struct DailyFold<'a> {
    ledger: &'a Ledger,
    fx: &'a dyn FxRates,
    cash_included: bool,
    base: Currency,
    last_day: Day,
    currencies: CurrencyIndex,
    symbol_series: Vec<Option<&'a DailySeries>>,
    symbol_currency: Vec<usize>,
    quantity: Vec<Decimal>,
    last_trade: Vec<Option<LastTrade>>,
    /// Securities with a non-zero quantity.
    held: Vec<usize>,
    cash_balance: Vec<Decimal>,
    securities_by_currency: Vec<Decimal>,
    /// The next ledger entry to apply.
    next: usize,
}

impl<'a> DailyFold<'a> {
    fn new(
        ledger: &'a Ledger,
        prices: &'a PriceTable,
        fx: &'a dyn FxRates,
        cash_included: bool,
    ) -> Self {
        let base = ledger.base_currency();
        let mut currencies = CurrencyIndex::new(base);
        let symbols = ledger.symbols();
        let symbol_series = symbols.iter().map(|s| prices.series(&s.symbol)).collect();
        let symbol_currency = symbols
            .iter()
            .map(|s| currencies.index(s.quote_currency))
            .collect();
        let cash_balance = vec![Decimal::ZERO; currencies.len()];
        Self {
            ledger,
            fx,
            cash_included,
            base,
            last_day: ledger.evaluation_day(),
            currencies,
            symbol_series,
            symbol_currency,
            quantity: vec![Decimal::ZERO; symbols.len()],
            last_trade: vec![None; symbols.len()],
            held: Vec::new(),
            cash_balance,
            securities_by_currency: Vec::new(),
            next: 0,
        }
    }

    /// Applies every entry dated before `day` without valuing any day.
    fn replay_until(&mut self, day: Day) -> AnalyticsResult<()> {
        while let Some(entry_day) = self.ledger.entries().get(self.next).map(|e| e.day) {
            if entry_day >= day {
                break;
            }
            self.apply_day(entry_day)?;
        }
        self.refresh_held();
        Ok(())
    }

    /// Applies the entries of `day` and values the portfolio at its close.
    fn value_day(&mut self, day: Day) -> AnalyticsResult<ValuationDay> {
        let date = date_of(day);
        let (inflow, outflow, holdings_changed) = self.apply_day(day)?;
        if holdings_changed {
            self.refresh_held();
        }
        self.securities_by_currency.clear();
        self.securities_by_currency
            .resize(self.currencies.len(), Decimal::ZERO);
        let symbols = self.ledger.symbols();
        for &s in &self.held {
            let price = price_for_day(
                self.symbol_series[s],
                day,
                self.last_day,
                self.last_trade[s],
                PriceGapPolicy::LastTradePrice,
            )
            .ok_or_else(|| AnalyticsError::MissingPrice {
                symbol: symbols[s].symbol.clone(),
                date,
            })?;
            self.securities_by_currency[self.symbol_currency[s]] += self.quantity[s] * price;
        }
        let mut securities_value = Decimal::ZERO;
        let mut cash_value = Decimal::ZERO;
        for (i, currency) in self.currencies.all().iter().enumerate() {
            let securities = self
                .securities_by_currency
                .get(i)
                .copied()
                .unwrap_or_default();
            let cash = self.cash_balance.get(i).copied().unwrap_or_default();
            if securities.is_zero() && cash.is_zero() {
                continue;
            }
            let rate = rate_or_error(self.fx, *currency, self.base, date)?;
            securities_value += securities * rate;
            cash_value += cash * rate;
        }
        Ok(ValuationDay {
            date,
            value: securities_value + cash_value,
            securities_value,
            cash_value,
            inflow,
            outflow,
        })
    }

    fn refresh_held(&mut self) {
        self.held.clear();
        let quantity = &self.quantity;
        self.held
            .extend((0..quantity.len()).filter(|&s| !quantity[s].is_zero()));
    }

    fn cash_change(&mut self, currency: Currency, amount: Decimal) {
        if self.cash_included {
            let i = self.currencies.index(currency);
            if self.cash_balance.len() <= i {
                self.cash_balance.resize(i + 1, Decimal::ZERO);
            }
            self.cash_balance[i] += amount;
        }
    }

    /// Applies the entries dated `day`: the day's external inflow and outflow
    /// in the base currency, and whether any quantity changed.
    fn apply_day(&mut self, day: Day) -> AnalyticsResult<(Decimal, Decimal, bool)> {
        let date = date_of(day);
        let (fx, base, cash_included) = (self.fx, self.base, self.cash_included);
        let to_base =
            |amount: Decimal, currency: Currency| convert(fx, amount, currency, base, date);
        let symbols = self.ledger.symbols();
        let entries = self.ledger.entries();
        let mut inflow = Decimal::ZERO;
        let mut outflow = Decimal::ZERO;
        let mut holdings_changed = false;
        while let Some(entry) = entries.get(self.next).filter(|e| e.day == day) {
            self.next += 1;
            match &entry.kind {
                ActivityKind::Buy(t) | ActivityKind::TransferIn(t) => {
                    if let Some(s) = entry.symbol {
                        self.quantity[s] += t.quantity;
                        self.last_trade[s] = Some(LastTrade {
                            gross: convert(
                                fx,
                                t.gross_amount,
                                t.currency,
                                symbols[s].quote_currency,
                                date,
                            )?,
                            quantity: t.quantity,
                        });
                        holdings_changed = true;
                    }
                    let is_buy = matches!(entry.kind, ActivityKind::Buy(_));
                    if cash_included {
                        if is_buy {
                            self.cash_change(t.currency, -t.gross_plus_costs());
                        } else {
                            inflow += to_base(t.gross_plus_costs(), t.currency)?;
                        }
                    } else {
                        inflow += to_base(t.gross_amount + t.fee, t.currency)?;
                    }
                }
                ActivityKind::Sell(t) | ActivityKind::TransferOut(t) => {
                    if let Some(s) = entry.symbol {
                        self.quantity[s] -= t.quantity;
                        self.last_trade[s] = Some(LastTrade {
                            gross: convert(
                                fx,
                                t.gross_amount,
                                t.currency,
                                symbols[s].quote_currency,
                                date,
                            )?,
                            quantity: t.quantity,
                        });
                        holdings_changed = true;
                    }
                    let is_sell = matches!(entry.kind, ActivityKind::Sell(_));
                    if cash_included {
                        if is_sell {
                            self.cash_change(t.currency, t.gross_minus_costs());
                        } else {
                            outflow += to_base(t.gross_minus_costs(), t.currency)?;
                        }
                    } else {
                        outflow += to_base(t.gross_amount - t.fee, t.currency)?;
                    }
                }
                ActivityKind::Dividend {
                    currency,
                    gross,
                    tax,
                    ..
                }
                | ActivityKind::Interest {
                    currency,
                    gross,
                    tax,
                } => {
                    if cash_included {
                        self.cash_change(*currency, gross - tax);
                    } else {
                        outflow += to_base(*gross, *currency)?;
                    }
                }
                ActivityKind::Fee {
                    currency, amount, ..
                } => {
                    if cash_included {
                        self.cash_change(*currency, -amount);
                    } else {
                        outflow -= to_base(*amount, *currency)?;
                    }
                }
                ActivityKind::Tax {
                    currency, amount, ..
                } => self.cash_change(*currency, -amount),
                ActivityKind::TaxRefund {
                    currency, amount, ..
                } => self.cash_change(*currency, *amount),
                ActivityKind::Deposit { currency, amount } => {
                    if cash_included {
                        self.cash_change(*currency, *amount);
                        inflow += to_base(*amount, *currency)?;
                    }
                }
                ActivityKind::Withdrawal { currency, amount } => {
                    if cash_included {
                        self.cash_change(*currency, -amount);
                        outflow += to_base(*amount, *currency)?;
                    }
                }
                ActivityKind::Liability { .. }
                | ActivityKind::Split { .. }
                | ActivityKind::CashFlow { .. } => {}
            }
        }
        Ok((inflow, outflow, holdings_changed))
    }
}

/// Small dense numbering of the currencies in play.
struct CurrencyIndex {
    list: Vec<Currency>,
    index: HashMap<Currency, usize>,
}

impl CurrencyIndex {
    fn new(base: Currency) -> Self {
        let mut s = Self {
            list: Vec::new(),
            index: HashMap::new(),
        };
        s.index(base);
        s
    }

    fn index(&mut self, currency: Currency) -> usize {
        if let Some(&i) = self.index.get(&currency) {
            return i;
        }
        self.list.push(currency);
        self.index.insert(currency, self.list.len() - 1);
        self.list.len() - 1
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn all(&self) -> &[Currency] {
        &self.list
    }
}
