//! Ghostfolio's "ROAI" figures (return on average investment), per holding
//! and summed over the portfolio.
//!
//! * total investment: moving-average cost excl. fees, each purchase at its
//!   own date's FX rate;
//! * gross performance: realized gain + (current value − total investment);
//!   fees, dividends and interest excluded;
//! * net performance: gross − fees of the holding's buys and sells
//!   (stand-alone fees are not subtracted);
//! * time-weighted investment (TWI): the mean of the previous day's total
//!   investment over the days on which units were held at the day's start;
//! * percentages: performance ÷ TWI.
//!
//! Values on days before the first known close use the evaluation date's
//! close (Ghostfolio's chart rule, [`PriceGapPolicy::EvaluationDatePrice`]).

use super::{
    AnalyticsResult, Inputs,
    day::{Day, day_of},
    fx::rate_or_error,
    lots::CostBasisMethod,
    position::{PositionHistory, PositionState},
    valuation::{PriceGapPolicy, price_for_day},
};
use crate::Symbol;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

/// Ghostfolio's figures for one holding (or summed over holdings) at a day's close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoaiFigures {
    pub date: Date,
    /// Units held (0 for sums over several holdings).
    pub quantity: Decimal,
    /// Moving-average cost per unit in the quote currency (|investment / quantity|).
    pub average_price: Decimal,
    /// Close used for the valuation, in the quote currency.
    pub market_price: Option<Decimal>,
    pub market_price_base: Option<Decimal>,
    /// quantity × market price, in the base currency at the day's rate.
    pub current_value: Decimal,
    /// Moving-average cost excl. fees, base currency at historical rates.
    pub total_investment: Decimal,
    /// The same in the quote currency.
    pub total_investment_asset_ccy: Decimal,
    pub realized_gain: Decimal,
    pub gross_performance: Decimal,
    pub net_performance: Decimal,
    /// Fees of the holding's buys and sells (what net performance subtracts).
    pub trade_fees: Decimal,
    pub time_weighted_investment: Decimal,
    /// gross performance ÷ TWI (0 without any invested day).
    pub gross_performance_pct: Decimal,
    /// net performance ÷ TWI (0 without any invested day).
    pub net_performance_pct: Decimal,
    /// net performance ÷ TWI, or ÷ total investment before any day counts
    /// for TWI (Ghostfolio's chart value).
    pub net_performance_pct_chart: Decimal,
    /// net performance ÷ mean of the positive daily total investments from
    /// the day before the first activity to this day.
    pub net_performance_pct_avg_daily_investment: Decimal,
    /// That mean: the denominator of the previous figure (0 when no day
    /// had a positive total investment).
    pub average_daily_investment: Decimal,
}

/// One holding's histories, in its quote currency and in the base currency.
pub struct RoaiHolding<'a> {
    inputs: Inputs<'a>,
    symbol: usize,
    in_base: PositionHistory,
    in_quote: PositionHistory,
}

impl<'a> RoaiHolding<'a> {
    pub fn new(inputs: Inputs<'a>, symbol: &Symbol) -> AnalyticsResult<Self> {
        let index = inputs.ledger.symbol_position(symbol)?;
        let quote = inputs.ledger.symbol_at(index).quote_currency;
        let base = inputs.ledger.base_currency();
        Ok(Self {
            inputs,
            symbol: index,
            in_base: inputs.position_history(index, base, CostBasisMethod::AverageCost)?,
            in_quote: inputs.position_history(index, quote, CostBasisMethod::AverageCost)?,
        })
    }

    /// The moving-average history in the base currency.
    pub fn history_in_base(&self) -> &PositionHistory {
        &self.in_base
    }

    /// The moving-average history in the quote currency.
    pub fn history_in_quote(&self) -> &PositionHistory {
        &self.in_quote
    }

    /// The close used on `day` under Ghostfolio's rule.
    pub(crate) fn price_at(&self, day: Day, state: &PositionState) -> Option<Decimal> {
        let ledger = self.inputs.ledger;
        price_for_day(
            self.inputs
                .prices
                .series(&ledger.symbol_at(self.symbol).symbol),
            day,
            ledger.evaluation_day(),
            state.last_trade,
            PriceGapPolicy::EvaluationDatePrice,
        )
    }

    /// Figures with currency effect: costs at historical rates, value at the day's rate.
    pub fn figures_at(&self, date: Date) -> AnalyticsResult<RoaiFigures> {
        Ok(averaged(self.unaveraged_at(date)?, date))
    }

    /// Figures without currency effect: every amount converted at the
    /// evaluation date's rate, so currency moves contribute nothing.
    pub fn figures_at_evaluation_rate(&self, date: Date) -> AnalyticsResult<RoaiFigures> {
        Ok(averaged(self.unaveraged_at_evaluation_rate(date)?, date))
    }

    /// [`Self::figures_at`] but the average daily investment.
    fn unaveraged_at(&self, date: Date) -> AnalyticsResult<Unaveraged<'_>> {
        let day = day_of(date);
        let base = self.in_base.at_day(day);
        let quote_state = self.in_quote.at_day(day);
        let ledger = self.inputs.ledger;
        let info = ledger.symbol_at(self.symbol);
        let market_price = self.price_at(day, &quote_state);
        let rate = || {
            rate_or_error(
                self.inputs.fx,
                info.quote_currency,
                ledger.base_currency(),
                date,
            )
        };
        // Only a held position needs the rate; the converted price is informative.
        let market_price_base = market_price.and_then(|p| rate().ok().map(|r| p * r));
        let current_value = if base.quantity.is_zero() {
            Decimal::ZERO
        } else {
            let price = market_price.ok_or_else(|| super::AnalyticsError::MissingPrice {
                symbol: info.symbol.clone(),
                date,
            })?;
            base.quantity * price * rate()?
        };
        Ok(self.assemble(
            date,
            &base,
            &quote_state,
            market_price,
            market_price_base,
            current_value,
            (&self.in_base, Decimal::ONE),
        ))
    }

    /// [`Self::figures_at_evaluation_rate`] but the average daily investment.
    fn unaveraged_at_evaluation_rate(&self, date: Date) -> AnalyticsResult<Unaveraged<'_>> {
        let ledger = self.inputs.ledger;
        let info = ledger.symbol_at(self.symbol);
        let rate = rate_or_error(
            self.inputs.fx,
            info.quote_currency,
            ledger.base_currency(),
            ledger.evaluation_date(),
        )?;
        let day = day_of(date);
        let quote_state = self.in_quote.at_day(day);
        let market_price = self.price_at(day, &quote_state);
        let current_value = if quote_state.quantity.is_zero() {
            Decimal::ZERO
        } else {
            quote_state.quantity
                * market_price.ok_or_else(|| super::AnalyticsError::MissingPrice {
                    symbol: info.symbol.clone(),
                    date,
                })?
        };
        let at_rate = |s: &PositionState| {
            let mut s = s.clone();
            s.cost_basis *= rate;
            s.realized_gain *= rate;
            s.trade_fees *= rate;
            s
        };
        // TWI and the average daily investment of the quote-currency
        // history, converted at the same rate.
        Ok(self.assemble(
            date,
            &at_rate(&quote_state),
            &quote_state,
            market_price,
            market_price.map(|p| p * rate),
            current_value * rate,
            (&self.in_quote, rate),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble<'h>(
        &self,
        date: Date,
        state: &PositionState,
        quote_state: &PositionState,
        market_price: Option<Decimal>,
        market_price_base: Option<Decimal>,
        current_value: Decimal,
        (history, factor): (&'h PositionHistory, Decimal),
    ) -> Unaveraged<'h> {
        let day = day_of(date);
        let gross = state.realized_gain + current_value - state.cost_basis;
        let net = gross - state.trade_fees;
        let average_price = quote_state
            .cost_basis
            .checked_div(quote_state.quantity)
            .map_or(Decimal::ZERO, |p| p.abs());
        let twi = time_weighted_investment(history.checkpoints(), day).map(|t| t * factor);
        let figures = RoaiFigures {
            date,
            quantity: state.quantity,
            average_price,
            market_price,
            market_price_base,
            current_value,
            total_investment: state.cost_basis,
            total_investment_asset_ccy: quote_state.cost_basis,
            realized_gain: state.realized_gain,
            gross_performance: gross,
            net_performance: net,
            trade_fees: state.trade_fees,
            time_weighted_investment: Decimal::ZERO,
            gross_performance_pct: Decimal::ZERO,
            net_performance_pct: Decimal::ZERO,
            net_performance_pct_chart: Decimal::ZERO,
            net_performance_pct_avg_daily_investment: Decimal::ZERO,
            average_daily_investment: Decimal::ZERO,
        };
        (with_twi(figures, twi), (history, factor))
    }
}

/// Figures whose average daily investment (and the percentage dividing by
/// it) is still to be filled in, with the history it is the average of and
/// the factor converting that history's amounts.
type Unaveraged<'h> = (RoaiFigures, (&'h PositionHistory, Decimal));

/// Fills in one holding's own average daily investment up to `date`.
fn averaged((figures, (history, factor)): Unaveraged<'_>, date: Date) -> RoaiFigures {
    let average = average_daily_investment(history.checkpoints(), day_of(date)).map(|a| a * factor);
    with_average_daily(figures, average)
}

/// Fills in the average daily investment and the percentage that divides by it.
fn with_average_daily(mut f: RoaiFigures, average: Option<Decimal>) -> RoaiFigures {
    f.average_daily_investment = average.unwrap_or(Decimal::ZERO);
    f.net_performance_pct_avg_daily_investment = average
        .filter(|a| *a > Decimal::ZERO)
        .and_then(|a| f.net_performance.checked_div(a))
        .unwrap_or(Decimal::ZERO);
    f
}

/// Fills in TWI and the percentages that divide by it.
fn with_twi(mut f: RoaiFigures, twi: Option<Decimal>) -> RoaiFigures {
    let ratio = |num: Decimal, den: Decimal| {
        if den > Decimal::ZERO {
            num.checked_div(den).unwrap_or(Decimal::ZERO)
        } else {
            Decimal::ZERO
        }
    };
    f.time_weighted_investment = twi.unwrap_or(Decimal::ZERO);
    f.gross_performance_pct = ratio(f.gross_performance, f.time_weighted_investment);
    f.net_performance_pct = ratio(f.net_performance, f.time_weighted_investment);
    f.net_performance_pct_chart = match twi {
        Some(t) => ratio(f.net_performance, t),
        None => ratio(f.net_performance, f.total_investment),
    };
    f
}

/// Mean of I(d − 1) over the days d ≤ `end` after the first activity on
/// which units were held at the start of the day (I = total investment after
/// the day's activities). `None` when no day qualifies.
pub(crate) fn time_weighted_investment(checkpoints: &[PositionState], end: Day) -> Option<Decimal> {
    let mut sum = Decimal::ZERO;
    let mut days = 0_i64;
    for (k, c) in checkpoints.iter().enumerate() {
        if c.day >= end {
            break;
        }
        let next = checkpoints.get(k + 1).map_or(end, |n| n.day.min(end));
        let n = i64::from(next - c.day);
        if c.quantity > Decimal::ZERO && n > 0 {
            sum += c.cost_basis * Decimal::from(n);
            days += n;
        }
    }
    (days > 0).then(|| sum / Decimal::from(days))
}

/// Mean of the positive I(d) for d from the day before the first activity
/// to `end`, both included (I = total investment after the day's activities).
pub(crate) fn average_daily_investment(checkpoints: &[PositionState], end: Day) -> Option<Decimal> {
    let mut sum = Decimal::ZERO;
    let mut days = 0_i64;
    for (k, c) in checkpoints.iter().enumerate() {
        if c.day > end {
            break;
        }
        let last = checkpoints.get(k + 1).map_or(end, |n| (n.day - 1).min(end));
        let n = i64::from(last - c.day + 1);
        if c.cost_basis > Decimal::ZERO && n > 0 {
            sum += c.cost_basis * Decimal::from(n);
            days += n;
        }
    }
    (days > 0).then(|| sum / Decimal::from(days))
}

/// [`average_daily_investment`] of a portfolio: the mean of the positive
/// I(d) = Σ factor × total investment of each history after day d, over the
/// days to `end` (the portfolio's own daily total investment, as Ghostfolio
/// averages it for the portfolio's chart; not a sum of the holdings' means).
fn portfolio_average_daily_investment(
    histories: &[(&PositionHistory, Decimal)],
    end: Day,
) -> Option<Decimal> {
    // The day-by-day changes of I, one per checkpoint.
    let mut changes: Vec<(Day, Decimal)> =
        Vec::with_capacity(histories.iter().map(|(h, _)| h.checkpoints().len()).sum());
    for (history, factor) in histories {
        let mut previous = Decimal::ZERO;
        for c in history.checkpoints().iter().take_while(|c| c.day <= end) {
            let value = c.cost_basis * *factor;
            changes.push((c.day, value - previous));
            previous = value;
        }
    }
    // Same-day changes are summed, so their order does not matter.
    changes.sort_unstable_by_key(|c| c.0);
    let (mut total, mut sum, mut days) = (Decimal::ZERO, Decimal::ZERO, 0_i64);
    for (k, &(day, change)) in changes.iter().enumerate() {
        total += change;
        let next = match changes.get(k + 1) {
            Some(&(next, _)) if next == day => continue,
            Some(&(next, _)) => next,
            None => end + 1,
        };
        if total > Decimal::ZERO {
            let n = i64::from(next - day);
            sum += total * Decimal::from(n);
            days += n;
        }
    }
    (days > 0).then(|| sum / Decimal::from(days))
}

/// Ghostfolio's figures of a whole portfolio at a day's close: the holdings'
/// figures summed, percentages recomputed from the sums (Σ performance ÷ Σ
/// TWI, as Ghostfolio's portfolio calculator does), and the average daily
/// investment that of the portfolio's own daily total investment, so every
/// holding counts from its purchase on, whatever its performance. With
/// `at_evaluation_rate`, every amount at the evaluation date's rate (the
/// figures without currency effect).
pub fn portfolio_figures<'h>(
    holdings: &'h [RoaiHolding<'_>],
    date: Date,
    at_evaluation_rate: bool,
) -> AnalyticsResult<RoaiFigures> {
    let unaveraged = |h: &'h RoaiHolding<'_>| {
        if at_evaluation_rate {
            h.unaveraged_at_evaluation_rate(date)
        } else {
            h.unaveraged_at(date)
        }
    };
    if let [single] = holdings {
        return Ok(averaged(unaveraged(single)?, date));
    }
    // The holdings' own averages are not needed: one pass over all of
    // their histories gives the portfolio's.
    let mut figures = Vec::with_capacity(holdings.len());
    let mut histories = Vec::with_capacity(holdings.len());
    for h in holdings {
        let (f, history) = unaveraged(h)?;
        figures.push(f);
        histories.push(history);
    }
    let sum = |f: fn(&RoaiFigures) -> Decimal| figures.iter().map(f).sum::<Decimal>();
    let twi_total = sum(|f| f.time_weighted_investment);
    let summed = RoaiFigures {
        date,
        quantity: Decimal::ZERO,
        average_price: Decimal::ZERO,
        market_price: None,
        market_price_base: None,
        current_value: sum(|f| f.current_value),
        total_investment: sum(|f| f.total_investment),
        total_investment_asset_ccy: Decimal::ZERO,
        realized_gain: sum(|f| f.realized_gain),
        gross_performance: sum(|f| f.gross_performance),
        net_performance: sum(|f| f.net_performance),
        trade_fees: sum(|f| f.trade_fees),
        time_weighted_investment: Decimal::ZERO,
        gross_performance_pct: Decimal::ZERO,
        net_performance_pct: Decimal::ZERO,
        net_performance_pct_chart: Decimal::ZERO,
        net_performance_pct_avg_daily_investment: Decimal::ZERO,
        average_daily_investment: Decimal::ZERO,
    };
    let average_daily = portfolio_average_daily_investment(&histories, day_of(date));
    Ok(with_twi(
        with_average_daily(summed, average_daily),
        (twi_total > Decimal::ZERO).then_some(twi_total),
    ))
}
