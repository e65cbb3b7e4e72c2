//! The per-security fold: quantity, moving-average cost, lots, realized gains,
//! fees, taxes and dividends, as of the close of every day with activity.
//!
//! The fold runs in one target currency: each activity's money is converted
//! at the activity's own date. Run it in the quote currency for figures in
//! the asset's currency and in the base currency for figures "with currency
//! effect" (historical rates for cost, today's for value).

use super::{
    AnalyticsError, AnalyticsResult,
    activity::{ActivityKind, Trade},
    day::{Day, date_of},
    fx::{FxRates, convert, rate_or_error},
    ledger::{Entry, Ledger},
    lots::{CostBasisMethod, Lot, LotBook, QUANTITY_EPSILON, pro_rata},
};
use crate::Currency;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

/// A position at the close of a day, in the fold's target currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionState {
    #[serde(skip)]
    pub(crate) day: Day,
    /// Units held (negative for a short position).
    pub quantity: Decimal,
    /// Moving-average cost of the units held, excluding fees and taxes.
    pub cost_basis: Decimal,
    /// Moving-average cost of the units held, including acquisition costs.
    pub cost_basis_incl_costs: Decimal,
    /// Moving-average cost of the units held, excluding costs, in the
    /// security's quote currency (each trade at its date's rate to it).
    pub cost_basis_quote: Decimal,
    /// Σ (gross proceeds − moving-average cost of the units sold).
    pub realized_gain: Decimal,
    /// Σ (proceeds net of the sale's fees and taxes − moving-average cost
    /// including acquisition costs of the units sold).
    pub realized_gain_net: Decimal,
    /// Of the realized gain: the part from the price, Σ (proceeds − quote
    /// cost of the units sold × the sale date's rate). The rest,
    /// realized gain − this, is the currency effect.
    pub realized_price_effect: Decimal,
    /// Cost of the open lots under the fold's lot method (= moving average
    /// when the method is average cost).
    pub lot_cost_basis: Decimal,
    pub lot_cost_basis_incl_costs: Decimal,
    pub lot_cost_basis_quote: Decimal,
    /// Σ (gross proceeds − lot cost of the units sold).
    pub lot_realized_gain: Decimal,
    /// Σ (net proceeds − lot cost including acquisition costs of the units sold).
    pub lot_realized_gain_net: Decimal,
    pub lot_realized_price_effect: Decimal,
    /// Fees paid on buys, sells and transfers.
    pub trade_fees: Decimal,
    /// Taxes paid on buys, sells and transfers.
    pub trade_taxes: Decimal,
    /// Stand-alone fees about this security.
    pub other_fees: Decimal,
    /// Stand-alone taxes about this security.
    pub other_taxes: Decimal,
    pub tax_refunds: Decimal,
    pub dividends_gross: Decimal,
    pub dividend_taxes: Decimal,
    /// Σ gross + fee + tax of buys and inbound transfers.
    pub purchases_incl_costs: Decimal,
    /// Σ gross − fee − tax of sells and outbound transfers.
    pub sales_net: Decimal,
    /// Σ gross of sells and outbound transfers.
    pub sales_gross: Decimal,
    /// The latest trade, for valuing the position where no close is known.
    #[serde(skip)]
    pub(crate) last_trade: Option<LastTrade>,
}

/// A trade's gross amount (in the quote currency) and quantity; the unit
/// price is only divided out when it is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastTrade {
    pub gross: Decimal,
    pub quantity: Decimal,
}

impl LastTrade {
    pub fn price(self) -> Option<Decimal> {
        self.gross.checked_div(self.quantity)
    }
}

impl PositionState {
    fn empty(day: Day) -> Self {
        Self {
            day,
            quantity: Decimal::ZERO,
            cost_basis: Decimal::ZERO,
            cost_basis_incl_costs: Decimal::ZERO,
            cost_basis_quote: Decimal::ZERO,
            realized_gain: Decimal::ZERO,
            realized_gain_net: Decimal::ZERO,
            realized_price_effect: Decimal::ZERO,
            lot_cost_basis: Decimal::ZERO,
            lot_cost_basis_incl_costs: Decimal::ZERO,
            lot_cost_basis_quote: Decimal::ZERO,
            lot_realized_gain: Decimal::ZERO,
            lot_realized_gain_net: Decimal::ZERO,
            lot_realized_price_effect: Decimal::ZERO,
            trade_fees: Decimal::ZERO,
            trade_taxes: Decimal::ZERO,
            other_fees: Decimal::ZERO,
            other_taxes: Decimal::ZERO,
            tax_refunds: Decimal::ZERO,
            dividends_gross: Decimal::ZERO,
            dividend_taxes: Decimal::ZERO,
            purchases_incl_costs: Decimal::ZERO,
            sales_net: Decimal::ZERO,
            sales_gross: Decimal::ZERO,
            last_trade: None,
        }
    }

    pub fn date(&self) -> Date {
        date_of(self.day)
    }

    /// Unit price of the latest trade, in the quote currency.
    pub fn last_trade_price(&self) -> Option<Decimal> {
        self.last_trade.and_then(LastTrade::price)
    }

    /// Whether units are held (long or short).
    pub fn is_open(&self) -> bool {
        !self.quantity.is_zero()
    }

    /// Cost basis under the given method (excl. costs).
    pub fn cost_basis_by(&self, method: CostBasisMethod) -> Decimal {
        if method.uses_lots() {
            self.lot_cost_basis
        } else {
            self.cost_basis
        }
    }

    pub fn cost_basis_incl_costs_by(&self, method: CostBasisMethod) -> Decimal {
        if method.uses_lots() {
            self.lot_cost_basis_incl_costs
        } else {
            self.cost_basis_incl_costs
        }
    }

    /// Cost basis excl. costs in the security's quote currency.
    pub fn cost_basis_quote_by(&self, method: CostBasisMethod) -> Decimal {
        if method.uses_lots() {
            self.lot_cost_basis_quote
        } else {
            self.cost_basis_quote
        }
    }

    /// Of the realized gain: the part from prices (see [`Self::realized_price_effect`]).
    pub fn realized_price_effect_by(&self, method: CostBasisMethod) -> Decimal {
        if method.uses_lots() {
            self.lot_realized_price_effect
        } else {
            self.realized_price_effect
        }
    }

    /// Of the realized gain: the part from exchange rates.
    pub fn realized_currency_effect_by(&self, method: CostBasisMethod) -> Decimal {
        self.realized_gain_by(method) - self.realized_price_effect_by(method)
    }

    pub fn realized_gain_by(&self, method: CostBasisMethod) -> Decimal {
        if method.uses_lots() {
            self.lot_realized_gain
        } else {
            self.realized_gain
        }
    }

    /// Realized gain after the fees and taxes of both the purchases and the
    /// sales: net proceeds − cost including acquisition costs.
    pub fn realized_gain_net_by(&self, method: CostBasisMethod) -> Decimal {
        if method.uses_lots() {
            self.lot_realized_gain_net
        } else {
            self.realized_gain_net
        }
    }

    /// `market_value` − cost basis excluding costs.
    pub fn unrealized_gain_by(&self, method: CostBasisMethod, market_value: Decimal) -> Decimal {
        market_value - self.cost_basis_by(method)
    }

    /// `market_value` − cost basis including the fees and taxes paid on
    /// acquisition (the gain after costs, before any cost of selling).
    pub fn unrealized_gain_net_by(
        &self,
        method: CostBasisMethod,
        market_value: Decimal,
    ) -> Decimal {
        market_value - self.cost_basis_incl_costs_by(method)
    }
}

/// Units still held from one purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenLot {
    pub account: Option<String>,
    pub acquired: Date,
    pub quantity: Decimal,
    pub cost: Decimal,
    pub cost_incl_costs: Decimal,
}

/// Units disposed of, matched to what they cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosedLot {
    pub account: Option<String>,
    /// When the units were bought (for average cost: when the position was opened).
    pub acquired: Date,
    pub disposed: Date,
    pub quantity: Decimal,
    /// Cost of the units, excluding fees and taxes.
    pub cost: Decimal,
    /// Cost including the fees and taxes paid on acquisition.
    pub cost_incl_costs: Decimal,
    /// Gross proceeds of the units.
    pub proceeds: Decimal,
    /// Proceeds after the sale's fees and taxes.
    pub proceeds_net: Decimal,
    /// proceeds − cost.
    pub gain: Decimal,
    /// proceeds_net − cost_incl_costs: the gain after the fees and taxes of
    /// the purchase and the sale.
    pub gain_net: Decimal,
    /// Of the gain: the part from the price, proceeds − the units' cost in
    /// the quote currency × the sale date's rate.
    pub price_effect: Decimal,
    /// Of the gain: the part from the exchange rate, gain − price_effect.
    pub currency_effect: Decimal,
    /// Which disposal (in ledger order) closed these units.
    #[serde(skip)]
    pub(crate) disposal: usize,
}

/// A security's history in one currency under one lot method.
#[derive(Debug, Clone)]
pub struct PositionHistory {
    pub(crate) symbol: usize,
    pub currency: Currency,
    pub method: CostBasisMethod,
    checkpoints: Vec<PositionState>,
    pub open_lots: Vec<OpenLot>,
    pub closed_lots: Vec<ClosedLot>,
}

impl PositionHistory {
    /// The state at the close of `date` (empty before the first activity).
    pub fn at(&self, date: Date) -> PositionState {
        self.at_day(super::day::day_of(date))
    }

    pub(crate) fn at_day(&self, day: Day) -> PositionState {
        let n = self.checkpoints.partition_point(|c| c.day <= day);
        match n.checked_sub(1).and_then(|i| self.checkpoints.get(i)) {
            Some(state) => state.clone(),
            None => PositionState::empty(day),
        }
    }

    /// The state after each day with activity, in date order.
    pub fn checkpoints(&self) -> &[PositionState] {
        &self.checkpoints
    }
}

/// The value of one unit at a day, given the position then: in the fold's
/// currency and in the security's quote currency.
pub(crate) type UnitValue<'a> = dyn Fn(&PositionState) -> AnalyticsResult<(Decimal, Decimal)> + 'a;

/// A trade's money in the fold's currency.
#[derive(Debug, Clone, Copy)]
struct TradeAmounts {
    gross: Decimal,
    fee: Decimal,
    tax: Decimal,
    /// The trade currency → fold currency rate used.
    rate: Decimal,
}

/// A trade as the moving average sees it: units and costs signed the same
/// way (negative for a sale, whose "cost" is minus its proceeds).
#[derive(Debug, Clone, Copy)]
struct SignedTrade {
    quantity: Decimal,
    /// Gross amount, in the fold's currency.
    cost: Decimal,
    /// Gross + fee + tax of a purchase, gross − fee − tax of a sale.
    cost_incl: Decimal,
    /// Gross amount in the quote currency.
    cost_quote: Decimal,
    /// Quote currency → fold currency on the trade's day (for the price
    /// effect of the units it closes).
    quote_rate: Decimal,
}

/// How to run the fold.
pub(crate) struct FoldSpec<'a> {
    pub ledger: &'a Ledger,
    pub fx: &'a dyn FxRates,
    /// The currency every amount is converted into at its activity's date.
    pub target: Currency,
    pub method: CostBasisMethod,
    /// Restate the cost of the units held at the close of this day to their
    /// value then (reporting periods use the period-start value as cost).
    pub revalue_at: Option<(Day, &'a UnitValue<'a>)>,
    /// Stop after the activities of this day, so the open lots are those of
    /// its close (`None`: the whole ledger).
    pub until: Option<Day>,
}

/// The running state of the fold.
struct Fold<'a> {
    spec: &'a FoldSpec<'a>,
    state: PositionState,
    lots: LotBook,
    opened: Day,
    checkpoints: Vec<PositionState>,
    closed_lots: Vec<ClosedLot>,
    disposals: usize,
}

pub(crate) fn fold_position(
    spec: &FoldSpec<'_>,
    symbol: usize,
) -> AnalyticsResult<PositionHistory> {
    let ledger = spec.ledger;
    let info = ledger.symbol_at(symbol);
    let mut fold = Fold {
        spec,
        state: PositionState::empty(ledger.first_day().unwrap_or(0)),
        lots: LotBook::new(spec.method),
        opened: 0,
        checkpoints: Vec::with_capacity(info.entries.len()),
        closed_lots: Vec::new(),
        disposals: 0,
    };
    let mut revalued = spec.revalue_at.is_none();
    for &index in &info.entries {
        let entry = &ledger.entries()[index];
        if spec.until.is_some_and(|until| entry.day > until) {
            break;
        }
        if !revalued
            && let Some((day, _)) = spec.revalue_at
            && entry.day > day
        {
            fold.revalue()?;
            revalued = true;
        }
        if fold.checkpoints.last().is_some_and(|c| c.day == entry.day) {
            fold.checkpoints.pop();
        }
        fold.apply(entry, info.quote_currency)?;
        fold.state.day = entry.day;
        fold.checkpoints.push(fold.state.clone());
    }
    if !revalued {
        fold.revalue()?;
    }
    let open_lots = fold.open_lots();
    Ok(PositionHistory {
        symbol,
        currency: spec.target,
        method: spec.method,
        checkpoints: fold.checkpoints,
        open_lots,
        closed_lots: fold.closed_lots,
    })
}

impl Fold<'_> {
    fn to_target(&self, amount: Decimal, currency: Currency, day: Day) -> AnalyticsResult<Decimal> {
        convert(
            self.spec.fx,
            amount,
            currency,
            self.spec.target,
            date_of(day),
        )
    }

    /// Gross, fee and tax of a trade in the target currency (one rate lookup).
    fn trade_amounts(&self, t: &Trade, day: Day) -> AnalyticsResult<TradeAmounts> {
        let rate = rate_or_error(self.spec.fx, t.currency, self.spec.target, date_of(day))?;
        let fee = match t.fee_in_base {
            Some(fee) if self.spec.target == self.spec.ledger.base_currency() => fee,
            _ => t.fee * rate,
        };
        Ok(TradeAmounts {
            gross: t.gross_amount * rate,
            fee,
            tax: t.tax * rate,
            rate,
        })
    }

    /// The rate from the quote currency to the target on the trade's day, for
    /// the price effect of the units it closes: the trade's own rate when it
    /// is settled in the quote currency.
    fn quote_rate(
        &self,
        t: &Trade,
        amounts: &TradeAmounts,
        quote: Currency,
        day: Day,
    ) -> AnalyticsResult<Decimal> {
        if quote == self.spec.target {
            Ok(Decimal::ONE)
        } else if t.currency == quote {
            Ok(amounts.rate)
        } else {
            rate_or_error(self.spec.fx, quote, self.spec.target, date_of(day))
        }
    }

    fn apply(&mut self, entry: &Entry, quote: Currency) -> AnalyticsResult<()> {
        let day = entry.day;
        match &entry.kind {
            ActivityKind::Buy(t) | ActivityKind::TransferIn(t) => {
                let amounts = self.trade_amounts(t, day)?;
                let TradeAmounts {
                    gross, fee, tax, ..
                } = amounts;
                let gross_quote = self.note_trade(t, quote, day)?;
                self.state.trade_fees += fee;
                self.state.trade_taxes += tax;
                self.state.purchases_incl_costs += gross + fee + tax;
                if self.state.quantity.is_zero() {
                    self.opened = day;
                }
                // A purchase closes units only when it covers a short.
                let quote_rate = if self.state.quantity < Decimal::ZERO {
                    self.quote_rate(t, &amounts, quote, day)?
                } else {
                    Decimal::ONE
                };
                self.moving_average_trade(
                    &SignedTrade {
                        quantity: t.quantity,
                        cost: gross,
                        cost_incl: gross + fee + tax,
                        cost_quote: gross_quote,
                        quote_rate,
                    },
                    entry,
                );
                if self.spec.method.uses_lots() {
                    self.state.lot_cost_basis += gross;
                    self.state.lot_cost_basis_incl_costs += gross + fee + tax;
                    self.state.lot_cost_basis_quote += gross_quote;
                    self.lots.add(
                        entry.account,
                        Lot {
                            acquired: day,
                            quantity: t.quantity,
                            cost: gross,
                            cost_incl_costs: gross + fee + tax,
                            cost_quote: gross_quote,
                        },
                    );
                }
            }
            ActivityKind::Sell(t) | ActivityKind::TransferOut(t) => {
                let amounts = self.trade_amounts(t, day)?;
                let TradeAmounts {
                    gross, fee, tax, ..
                } = amounts;
                let gross_quote = self.note_trade(t, quote, day)?;
                let quote_rate = self.quote_rate(t, &amounts, quote, day)?;
                self.state.trade_fees += fee;
                self.state.trade_taxes += tax;
                self.state.sales_net += gross - fee - tax;
                self.state.sales_gross += gross;
                if self.state.quantity.is_zero() {
                    self.opened = day;
                }
                self.moving_average_trade(
                    &SignedTrade {
                        quantity: -t.quantity,
                        cost: -gross,
                        cost_incl: -(gross - fee - tax),
                        cost_quote: -gross_quote,
                        quote_rate,
                    },
                    entry,
                );
                if self.spec.method.uses_lots() {
                    self.relieve_lots(entry, t, gross, gross - fee - tax, quote_rate)?;
                }
                self.disposals += 1;
            }
            ActivityKind::Dividend {
                currency,
                gross,
                tax,
                ..
            } => {
                self.state.dividends_gross += self.to_target(*gross, *currency, day)?;
                self.state.dividend_taxes += self.to_target(*tax, *currency, day)?;
            }
            ActivityKind::Fee {
                currency,
                amount,
                amount_in_base,
                ..
            } => {
                self.state.other_fees += match amount_in_base {
                    Some(fee) if self.spec.target == self.spec.ledger.base_currency() => *fee,
                    _ => self.to_target(*amount, *currency, day)?,
                };
            }
            ActivityKind::Tax {
                currency, amount, ..
            } => {
                self.state.other_taxes += self.to_target(*amount, *currency, day)?;
            }
            ActivityKind::TaxRefund {
                currency, amount, ..
            } => {
                self.state.tax_refunds += self.to_target(*amount, *currency, day)?;
            }
            // Quantities were restated in post-split units when the ledger
            // was prepared; cost is unchanged by a split.
            ActivityKind::Split { .. }
            | ActivityKind::Interest { .. }
            | ActivityKind::Deposit { .. }
            | ActivityKind::Withdrawal { .. }
            | ActivityKind::Liability { .. }
            | ActivityKind::CashFlow { .. } => {}
        }
        if !self.spec.method.uses_lots() {
            self.state.lot_cost_basis = self.state.cost_basis;
            self.state.lot_cost_basis_incl_costs = self.state.cost_basis_incl_costs;
            self.state.lot_realized_gain = self.state.realized_gain;
            self.state.lot_realized_gain_net = self.state.realized_gain_net;
            self.state.lot_cost_basis_quote = self.state.cost_basis_quote;
            self.state.lot_realized_price_effect = self.state.realized_price_effect;
        }
        Ok(())
    }

    /// Remembers the trade (for valuing without a close); returns its gross
    /// amount in the quote currency.
    fn note_trade(&mut self, t: &Trade, quote: Currency, day: Day) -> AnalyticsResult<Decimal> {
        let gross = convert(
            self.spec.fx,
            t.gross_amount,
            t.currency,
            quote,
            date_of(day),
        )?;
        self.state.last_trade = Some(LastTrade {
            gross,
            quantity: t.quantity,
        });
        Ok(gross)
    }

    /// Applies a signed trade to the moving average. Trades against the
    /// position's sign close units at the average cost and realize the
    /// difference; a trade that crosses zero opens the rest on the other side.
    fn moving_average_trade(&mut self, trade: &SignedTrade, entry: &Entry) {
        let SignedTrade {
            quantity: dq,
            cost,
            cost_incl,
            cost_quote,
            quote_rate,
        } = *trade;
        let s = &mut self.state;
        let same_side =
            s.quantity.is_zero() || (s.quantity > Decimal::ZERO) == (dq > Decimal::ZERO);
        if same_side {
            s.quantity += dq;
            s.cost_basis += cost;
            s.cost_basis_incl_costs += cost_incl;
            s.cost_basis_quote += cost_quote;
        } else {
            let held = s.quantity.abs();
            let traded = dq.abs();
            let closed = held.min(traded);
            let relieved = pro_rata(s.cost_basis, closed, held);
            let relieved_incl = pro_rata(s.cost_basis_incl_costs, closed, held);
            let relieved_quote = pro_rata(s.cost_basis_quote, closed, held);
            let trade_share = |amount: Decimal| pro_rata(amount, closed, traded);
            let proceeds = trade_share(-cost);
            let proceeds_net = trade_share(-cost_incl);
            let price_effect = proceeds - relieved_quote * quote_rate;
            s.realized_gain += proceeds - relieved;
            s.realized_gain_net += proceeds_net - relieved_incl;
            s.realized_price_effect += price_effect;
            s.cost_basis -= relieved;
            s.cost_basis_incl_costs -= relieved_incl;
            s.cost_basis_quote -= relieved_quote;
            let sign = if dq > Decimal::ZERO {
                Decimal::ONE
            } else {
                Decimal::NEGATIVE_ONE
            };
            s.quantity += sign * closed;
            if !self.spec.method.uses_lots() {
                self.closed_lots.push(ClosedLot {
                    account: self
                        .spec
                        .ledger
                        .account_name(entry.account)
                        .map(str::to_owned),
                    acquired: date_of(self.opened),
                    disposed: date_of(entry.day),
                    quantity: closed,
                    cost: relieved,
                    cost_incl_costs: relieved_incl,
                    proceeds,
                    proceeds_net,
                    gain: proceeds - relieved,
                    gain_net: proceeds_net - relieved_incl,
                    price_effect,
                    currency_effect: proceeds - relieved - price_effect,
                    disposal: self.disposals,
                });
            }
            let rest = traded - closed;
            if rest > Decimal::ZERO {
                s.quantity += sign * rest;
                s.cost_basis += pro_rata(cost, rest, traded);
                s.cost_basis_incl_costs += pro_rata(cost_incl, rest, traded);
                s.cost_basis_quote += pro_rata(cost_quote, rest, traded);
                self.opened = entry.day;
            }
        }
        if s.quantity.abs() < QUANTITY_EPSILON {
            s.quantity = Decimal::ZERO;
            s.cost_basis = Decimal::ZERO;
            s.cost_basis_incl_costs = Decimal::ZERO;
            s.cost_basis_quote = Decimal::ZERO;
        }
    }

    fn relieve_lots(
        &mut self,
        entry: &Entry,
        t: &Trade,
        gross: Decimal,
        net: Decimal,
        quote_rate: Decimal,
    ) -> AnalyticsResult<()> {
        let ledger = self.spec.ledger;
        let taken = self
            .lots
            .take(entry.account, t.quantity)
            .map_err(|available| AnalyticsError::InsufficientLots {
                symbol: t.symbol.clone(),
                account: ledger
                    .account_name(entry.account)
                    .unwrap_or("(default)")
                    .to_owned(),
                date: date_of(entry.day),
                requested: t.quantity,
                available,
            })?;
        let (mut gross_left, mut net_left) = (gross, net);
        let slices = taken.len();
        for (i, lot) in taken.into_iter().enumerate() {
            // The last slice takes what is left, so the shares add up exactly.
            let (proceeds, proceeds_net) = if i + 1 == slices {
                (gross_left, net_left)
            } else {
                (
                    pro_rata(gross, lot.quantity, t.quantity),
                    pro_rata(net, lot.quantity, t.quantity),
                )
            };
            gross_left -= proceeds;
            net_left -= proceeds_net;
            self.state.lot_realized_gain += proceeds - lot.cost;
            self.state.lot_realized_gain_net += proceeds_net - lot.cost_incl_costs;
            let price_effect = proceeds - lot.cost_quote * quote_rate;
            self.state.lot_realized_price_effect += price_effect;
            self.closed_lots.push(ClosedLot {
                account: ledger.account_name(entry.account).map(str::to_owned),
                acquired: date_of(lot.acquired),
                disposed: date_of(entry.day),
                quantity: lot.quantity,
                cost: lot.cost,
                cost_incl_costs: lot.cost_incl_costs,
                proceeds,
                proceeds_net,
                gain: proceeds - lot.cost,
                gain_net: proceeds_net - lot.cost_incl_costs,
                price_effect,
                currency_effect: proceeds - lot.cost - price_effect,
                disposal: self.disposals,
            });
        }
        let (cost, cost_incl) = self.lots.total_cost();
        self.state.lot_cost_basis = cost;
        self.state.lot_cost_basis_incl_costs = cost_incl;
        self.state.lot_cost_basis_quote = self.lots.total_cost_quote();
        Ok(())
    }

    /// Restates the cost of the units held to their value at the period start.
    fn revalue(&mut self) -> AnalyticsResult<()> {
        let Some((day, unit_value)) = self.spec.revalue_at else {
            return Ok(());
        };
        if !self.state.quantity.is_zero() {
            let (unit_value, unit_value_quote) = unit_value(&self.state)?;
            let s = &mut self.state;
            s.cost_basis = s.quantity * unit_value;
            s.cost_basis_incl_costs = s.cost_basis;
            s.cost_basis_quote = s.quantity * unit_value_quote;
            self.lots.revalue(unit_value, unit_value_quote);
            if self.spec.method.uses_lots() {
                let (cost, cost_incl) = self.lots.total_cost();
                s.lot_cost_basis = cost;
                s.lot_cost_basis_incl_costs = cost_incl;
                s.lot_cost_basis_quote = self.lots.total_cost_quote();
            } else {
                s.lot_cost_basis = s.cost_basis;
                s.lot_cost_basis_incl_costs = s.cost_basis_incl_costs;
                s.lot_cost_basis_quote = s.cost_basis_quote;
            }
        }
        if self.checkpoints.last().is_some_and(|c| c.day == day) {
            self.checkpoints.pop();
        }
        let mut state = self.state.clone();
        state.day = day;
        self.checkpoints.push(state);
        Ok(())
    }

    fn open_lots(&self) -> Vec<OpenLot> {
        let ledger = self.spec.ledger;
        if self.spec.method.uses_lots() {
            self.lots
                .open_lots()
                .map(|(account, lot)| OpenLot {
                    account: ledger.account_name(account).map(str::to_owned),
                    acquired: date_of(lot.acquired),
                    quantity: lot.quantity,
                    cost: lot.cost,
                    cost_incl_costs: lot.cost_incl_costs,
                })
                .collect()
        } else if self.state.is_open() {
            vec![OpenLot {
                account: None,
                acquired: date_of(self.opened),
                quantity: self.state.quantity,
                cost: self.state.cost_basis,
                cost_incl_costs: self.state.cost_basis_incl_costs,
            }]
        } else {
            Vec::new()
        }
    }
}
