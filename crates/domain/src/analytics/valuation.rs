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
    day::{Day, date_of},
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
    let base = ledger.base_currency();
    let Some(first) = ledger.first_day() else {
        return Ok(ValuationSeries {
            first_day: ledger.evaluation_day(),
            days: Vec::new(),
            cash_included,
        });
    };
    let first_day = first - 1;
    let last_day = ledger.evaluation_day();

    let mut currencies = CurrencyIndex::new(base);
    let symbols = ledger.symbols();
    let symbol_series: Vec<Option<&DailySeries>> =
        symbols.iter().map(|s| prices.series(&s.symbol)).collect();
    let symbol_currency: Vec<usize> = symbols
        .iter()
        .map(|s| currencies.index(s.quote_currency))
        .collect();
    let mut quantity = vec![Decimal::ZERO; symbols.len()];
    let mut last_trade: Vec<Option<LastTrade>> = vec![None; symbols.len()];
    let mut held: Vec<usize> = Vec::new();
    let mut cash_balance: Vec<Decimal> = vec![Decimal::ZERO; currencies.len()];
    let mut securities_by_currency: Vec<Decimal> = Vec::new();

    let entries = ledger.entries();
    let mut next = 0;
    let mut days = Vec::with_capacity(usize::try_from(last_day - first_day + 1).unwrap_or(0));
    for day in first_day..=last_day {
        let date = date_of(day);
        let mut inflow = Decimal::ZERO;
        let mut outflow = Decimal::ZERO;
        let mut holdings_changed = false;
        while let Some(entry) = entries.get(next).filter(|e| e.day == day) {
            next += 1;
            let to_base =
                |amount: Decimal, currency: Currency| convert(fx, amount, currency, base, date);
            let mut cash_change = |currency: Currency, amount: Decimal| {
                if cash_included {
                    let i = currencies.index(currency);
                    if cash_balance.len() <= i {
                        cash_balance.resize(i + 1, Decimal::ZERO);
                    }
                    cash_balance[i] += amount;
                }
            };
            match &entry.kind {
                ActivityKind::Buy(t) | ActivityKind::TransferIn(t) => {
                    if let Some(s) = entry.symbol {
                        quantity[s] += t.quantity;
                        last_trade[s] = Some(LastTrade {
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
                            cash_change(t.currency, -t.gross_plus_costs());
                        } else {
                            inflow += to_base(t.gross_plus_costs(), t.currency)?;
                        }
                    } else {
                        inflow += to_base(t.gross_amount + t.fee, t.currency)?;
                    }
                }
                ActivityKind::Sell(t) | ActivityKind::TransferOut(t) => {
                    if let Some(s) = entry.symbol {
                        quantity[s] -= t.quantity;
                        last_trade[s] = Some(LastTrade {
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
                            cash_change(t.currency, t.gross_minus_costs());
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
                        cash_change(*currency, gross - tax);
                    } else {
                        outflow += to_base(*gross, *currency)?;
                    }
                }
                ActivityKind::Fee {
                    currency, amount, ..
                } => {
                    if cash_included {
                        cash_change(*currency, -amount);
                    } else {
                        outflow -= to_base(*amount, *currency)?;
                    }
                }
                ActivityKind::Tax {
                    currency, amount, ..
                } => cash_change(*currency, -amount),
                ActivityKind::TaxRefund {
                    currency, amount, ..
                } => {
                    cash_change(*currency, *amount);
                }
                ActivityKind::Deposit { currency, amount } => {
                    if cash_included {
                        cash_change(*currency, *amount);
                        inflow += to_base(*amount, *currency)?;
                    }
                }
                ActivityKind::Withdrawal { currency, amount } => {
                    if cash_included {
                        cash_change(*currency, -amount);
                        outflow += to_base(*amount, *currency)?;
                    }
                }
                ActivityKind::Liability { .. }
                | ActivityKind::Split { .. }
                | ActivityKind::CashFlow { .. } => {}
            }
        }
        if holdings_changed {
            held.clear();
            held.extend((0..quantity.len()).filter(|&s| !quantity[s].is_zero()));
        }

        securities_by_currency.clear();
        securities_by_currency.resize(currencies.len(), Decimal::ZERO);
        for &s in &held {
            let price = price_for_day(
                symbol_series[s],
                day,
                last_day,
                last_trade[s],
                PriceGapPolicy::LastTradePrice,
            )
            .ok_or_else(|| AnalyticsError::MissingPrice {
                symbol: symbols[s].symbol.clone(),
                date,
            })?;
            securities_by_currency[symbol_currency[s]] += quantity[s] * price;
        }
        let mut securities_value = Decimal::ZERO;
        let mut cash_value = Decimal::ZERO;
        for (i, currency) in currencies.all().iter().enumerate() {
            let securities = securities_by_currency.get(i).copied().unwrap_or_default();
            let cash = cash_balance.get(i).copied().unwrap_or_default();
            if securities.is_zero() && cash.is_zero() {
                continue;
            }
            let rate = rate_or_error(fx, *currency, base, date)?;
            securities_value += securities * rate;
            cash_value += cash * rate;
        }
        days.push(ValuationDay {
            date,
            value: securities_value + cash_value,
            securities_value,
            cash_value,
            inflow,
            outflow,
        });
    }
    Ok(ValuationSeries {
        first_day,
        days,
        cash_included,
    })
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
