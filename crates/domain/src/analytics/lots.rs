//! Tax lots and the order in which a disposal consumes them.
//!
//! Lots are kept per securities account: a sale consumes lots of its own
//! account only (Portfolio Performance's FIFO). The moving average, by
//! contrast, pools all accounts (see `position`).

use super::day::Day;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How the cost of units sold is determined. A portfolio setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasisMethod {
    /// Moving average over all units held, pooled across accounts.
    #[default]
    AverageCost,
    /// First in, first out, within the selling account.
    Fifo,
    /// Last in, first out, within the selling account.
    Lifo,
    /// Highest unit cost first, within the selling account.
    Hifo,
}

impl CostBasisMethod {
    pub fn uses_lots(self) -> bool {
        !matches!(self, Self::AverageCost)
    }
}

/// Units bought together, with what they cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lot {
    pub acquired: Day,
    pub quantity: Decimal,
    /// Cost excluding fees and taxes.
    pub cost: Decimal,
    /// Cost including the fees and taxes paid on acquisition.
    pub cost_incl_costs: Decimal,
    /// Cost excluding fees and taxes in the security's quote currency (for
    /// the price and currency effects of a gain).
    pub cost_quote: Decimal,
}

impl Lot {
    /// Splits `quantity` units off this lot, relieving cost pro rata.
    fn split_off(&mut self, quantity: Decimal) -> Lot {
        if quantity >= self.quantity {
            let whole = self.clone();
            self.quantity = Decimal::ZERO;
            self.cost = Decimal::ZERO;
            self.cost_incl_costs = Decimal::ZERO;
            self.cost_quote = Decimal::ZERO;
            return whole;
        }
        let share = |amount: Decimal| pro_rata(amount, quantity, self.quantity);
        let part = Lot {
            acquired: self.acquired,
            quantity,
            cost: share(self.cost),
            cost_incl_costs: share(self.cost_incl_costs),
            cost_quote: share(self.cost_quote),
        };
        self.quantity -= quantity;
        self.cost -= part.cost;
        self.cost_incl_costs -= part.cost_incl_costs;
        self.cost_quote -= part.cost_quote;
        part
    }
}

/// Decimal places kept by a pro-rata share (cost of part of a lot, proceeds
/// of part of a sale): 1e-12 of a currency unit, far below any minor unit.
/// Keeping the scale bounded keeps decimal arithmetic on its fast path; sums
/// and differences stay exact, so shares always add up to the whole.
pub(crate) const PRO_RATA_DECIMALS: u32 = 12;

/// `amount × part ÷ whole`, rounded to [`PRO_RATA_DECIMALS`]; `amount` itself
/// when the part is the whole (0 when the whole is 0).
pub(crate) fn pro_rata(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal {
    if part == whole {
        return amount;
    }
    if whole.is_zero() {
        return Decimal::ZERO;
    }
    pro_rata_i128(amount, part, whole).unwrap_or_else(|| {
        (amount * part)
            .checked_div(whole)
            .map_or(Decimal::ZERO, |d| d.round_dp(PRO_RATA_DECIMALS))
    })
}

/// The same in 128-bit integers when nothing overflows (the usual case:
/// a 28-digit decimal division is far slower). Rounds half to even, like
/// `Decimal::round_dp`.
fn pro_rata_i128(amount: Decimal, part: Decimal, whole: Decimal) -> Option<Decimal> {
    let (a, p, w) = (amount.mantissa(), part.mantissa(), whole.mantissa());
    // amount × part ÷ whole = a·p/w × 10^(sw − sa − sp); scale to 10^-12.
    let shift = i64::from(PRO_RATA_DECIMALS) + i64::from(whole.scale())
        - i64::from(amount.scale())
        - i64::from(part.scale());
    let ten = |k: i64| 10_i128.checked_pow(u32::try_from(k).ok()?);
    let mut numerator = a.checked_mul(p)?;
    let mut denominator = w;
    if shift >= 0 {
        numerator = numerator.checked_mul(ten(shift)?)?;
    } else {
        denominator = denominator.checked_mul(ten(-shift)?)?;
    }
    let (q, r) = (numerator / denominator, numerator % denominator);
    let twice = r.checked_abs()?.checked_mul(2)?;
    let away = match twice.cmp(&denominator.checked_abs()?) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 != 0,
        std::cmp::Ordering::Less => false,
    };
    let negative = (numerator < 0) != (denominator < 0);
    let q = if away {
        if negative { q - 1 } else { q + 1 }
    } else {
        q
    };
    Decimal::try_from_i128_with_scale(q, PRO_RATA_DECIMALS).ok()
}

/// Quantities below this (2.2e-16, Ghostfolio's snap) are rounding residue
/// of restated splits: zero.
pub(crate) const QUANTITY_EPSILON: Decimal = Decimal::from_parts(22, 0, 0, false, 17);

/// Open lots per account.
#[derive(Debug, Clone)]
pub(crate) struct LotBook {
    method: CostBasisMethod,
    by_account: Vec<VecDeque<Lot>>,
    /// Units per account, kept as lots come and go.
    held: Vec<Decimal>,
    /// Σ cost, Σ cost incl. costs and Σ quote-currency cost of all open lots.
    cost: Decimal,
    cost_incl_costs: Decimal,
    cost_quote: Decimal,
}

impl LotBook {
    pub fn new(method: CostBasisMethod) -> Self {
        Self {
            method,
            by_account: Vec::new(),
            held: Vec::new(),
            cost: Decimal::ZERO,
            cost_incl_costs: Decimal::ZERO,
            cost_quote: Decimal::ZERO,
        }
    }

    pub fn add(&mut self, account: usize, lot: Lot) {
        if self.by_account.len() <= account {
            self.by_account.resize_with(account + 1, VecDeque::new);
            self.held.resize(account + 1, Decimal::ZERO);
        }
        self.held[account] += lot.quantity;
        self.cost += lot.cost;
        self.cost_incl_costs += lot.cost_incl_costs;
        self.cost_quote += lot.cost_quote;
        self.by_account[account].push_back(lot);
    }

    pub fn held_in(&self, account: usize) -> Decimal {
        self.held.get(account).copied().unwrap_or(Decimal::ZERO)
    }

    /// Takes `quantity` units out of `account` in the method's order.
    /// Fails with the quantity available when the account holds too little.
    pub fn take(&mut self, account: usize, quantity: Decimal) -> Result<Vec<Lot>, Decimal> {
        let available = self.held_in(account);
        if quantity > available + QUANTITY_EPSILON {
            return Err(available);
        }
        let Some(lots) = self.by_account.get_mut(account) else {
            return Ok(Vec::new());
        };
        let mut taken = Vec::new();
        let mut remaining = quantity;
        while remaining > QUANTITY_EPSILON {
            let index = match self.method {
                CostBasisMethod::AverageCost | CostBasisMethod::Fifo => 0,
                CostBasisMethod::Lifo => lots.len().saturating_sub(1),
                CostBasisMethod::Hifo => lots
                    .iter()
                    .enumerate()
                    .max_by(|(ia, a), (ib, b)| {
                        // Highest unit cost (compared without dividing);
                        // among equals the oldest.
                        (a.cost * b.quantity)
                            .cmp(&(b.cost * a.quantity))
                            .then(ib.cmp(ia))
                    })
                    .map_or(0, |(i, _)| i),
            };
            let Some(lot) = lots.get_mut(index) else {
                break;
            };
            let part = lot.split_off(remaining.min(lot.quantity));
            remaining -= part.quantity;
            if lot.quantity <= QUANTITY_EPSILON {
                lots.remove(index);
            }
            self.held[account] -= part.quantity;
            self.cost -= part.cost;
            self.cost_incl_costs -= part.cost_incl_costs;
            self.cost_quote -= part.cost_quote;
            taken.push(part);
        }
        if lots.is_empty() {
            self.held[account] = Decimal::ZERO;
        }
        if self.by_account.iter().all(VecDeque::is_empty) {
            self.cost = Decimal::ZERO;
            self.cost_incl_costs = Decimal::ZERO;
            self.cost_quote = Decimal::ZERO;
        }
        Ok(taken)
    }

    /// Every open lot with its account.
    pub fn open_lots(&self) -> impl Iterator<Item = (usize, &Lot)> {
        self.by_account
            .iter()
            .enumerate()
            .flat_map(|(account, lots)| lots.iter().map(move |lot| (account, lot)))
    }

    pub fn total_cost(&self) -> (Decimal, Decimal) {
        (self.cost, self.cost_incl_costs)
    }

    /// Σ cost of the open lots in the quote currency.
    pub fn total_cost_quote(&self) -> Decimal {
        self.cost_quote
    }

    /// Restates every open lot at its value at a period start: `unit_value`
    /// per unit in the fold's currency, `unit_value_quote` in the quote currency.
    pub fn revalue(&mut self, unit_value: Decimal, unit_value_quote: Decimal) {
        let (mut cost, mut cost_quote) = (Decimal::ZERO, Decimal::ZERO);
        for lots in &mut self.by_account {
            for lot in lots {
                lot.cost = lot.quantity * unit_value;
                lot.cost_incl_costs = lot.cost;
                lot.cost_quote = lot.quantity * unit_value_quote;
                cost += lot.cost;
                cost_quote += lot.cost_quote;
            }
        }
        self.cost = cost;
        self.cost_incl_costs = cost;
        self.cost_quote = cost_quote;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn lot(day: Day, q: Decimal, cost: Decimal) -> Lot {
        Lot {
            acquired: day,
            quantity: q,
            cost,
            cost_incl_costs: cost,
            cost_quote: cost,
        }
    }

    fn book(method: CostBasisMethod) -> LotBook {
        let mut b = LotBook::new(method);
        b.add(0, lot(1, dec!(10), dec!(100)));
        b.add(0, lot(2, dec!(10), dec!(300)));
        b.add(0, lot(3, dec!(10), dec!(200)));
        b
    }

    #[test]
    fn each_method_consumes_lots_in_its_order() {
        let cost = |m| {
            book(m)
                .take(0, dec!(15))
                .unwrap()
                .iter()
                .map(|l| l.cost)
                .sum::<Decimal>()
        };
        assert_eq!(cost(CostBasisMethod::Fifo), dec!(250));
        assert_eq!(cost(CostBasisMethod::Lifo), dec!(350));
        assert_eq!(cost(CostBasisMethod::Hifo), dec!(400));
    }

    #[test]
    fn pro_rata_shares_round_to_twelve_places_either_way() {
        for (a, p, w) in [
            (dec!(3149.20), dec!(15), dec!(109)),
            (dec!(-10), dec!(1), dec!(3)),
            (dec!(2.5), dec!(1), dec!(2)),
            (dec!(1234567.891), dec!(0.3333), dec!(7.77)),
            (dec!(0.000000000001), dec!(1), dec!(2)),
            (dec!(79228162514264.337593543950), dec!(3), dec!(7)),
        ] {
            let slow = (a * p / w).round_dp(PRO_RATA_DECIMALS);
            assert_eq!(pro_rata(a, p, w), slow, "{a} × {p} / {w}");
        }
    }

    #[test]
    fn a_sale_only_reaches_its_own_account() {
        let mut b = book(CostBasisMethod::Fifo);
        assert_eq!(b.take(1, dec!(1)), Err(Decimal::ZERO));
        assert_eq!(b.take(0, dec!(31)), Err(dec!(30)));
    }
}
