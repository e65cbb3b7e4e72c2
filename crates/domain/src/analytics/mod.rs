//! Portfolio analytics: holdings, cost basis (average cost, FIFO, LIFO,
//! HIFO), gains, income, FX, time- and money-weighted returns, period
//! statements, risk, allocation and the named figures of the reference
//! trackers (Ghostfolio's ROAI, Portfolio Performance's TTWROR/IRR/delta).
//!
//! Pure functions over [`Activity`] lists, a [`PriceTable`] and an
//! [`FxRates`] lookup. Money is exact [`rust_decimal::Decimal`]; returns and
//! rates are `f64` where chaining, powers or a root finder need it.
//! Every figure is defined in `docs/metrics.md`.

pub mod activity;
pub mod allocation;
pub mod calendar_returns;
pub mod cases;
pub mod contribution;
pub(crate) mod day;
pub mod error;
pub mod figures;
pub mod fx;
pub mod holding_report;
pub mod income;
pub mod ledger;
pub mod lots;
pub mod period;
pub mod position;
pub mod pp;
pub mod prices;
pub mod risk;
pub mod roai;
pub mod statement;
pub mod twr;
pub mod valuation;
pub mod xirr;

pub use activity::{Activity, ActivityKind, Trade, activities_from_transactions};
pub use error::{AnalyticsError, AnalyticsResult};
pub use fx::{FxRates, FxTable, NoFxRates};
pub use ledger::{Ledger, SymbolInfo};
pub use lots::CostBasisMethod;
pub use period::{Period, PeriodPreset, PeriodSpec};
pub use position::{ClosedLot, OpenLot, PositionHistory, PositionState};
pub use prices::{DailySeries, PriceTable};
pub use valuation::{CashTreatment, PriceGapPolicy, ValuationDay, ValuationSeries};
pub use xirr::{XirrError, xirr};

use crate::{Currency, Symbol};

/// Everything the analytics read: the prepared ledger, prices and FX rates.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub ledger: &'a Ledger,
    pub prices: &'a PriceTable,
    pub fx: &'a dyn FxRates,
}

impl<'a> Inputs<'a> {
    pub fn new(ledger: &'a Ledger, prices: &'a PriceTable, fx: &'a dyn FxRates) -> Self {
        Self { ledger, prices, fx }
    }

    /// Folds one security's activities with every amount in `currency`
    /// (converted at each activity's date) under a cost-basis method.
    pub fn position(
        &self,
        symbol: &Symbol,
        currency: Currency,
        method: CostBasisMethod,
    ) -> AnalyticsResult<PositionHistory> {
        let index = self.ledger.symbol_position(symbol)?;
        self.position_history(index, currency, method)
    }

    pub(crate) fn position_history(
        &self,
        symbol: usize,
        currency: Currency,
        method: CostBasisMethod,
    ) -> AnalyticsResult<PositionHistory> {
        self.position_history_until(symbol, currency, method, None)
    }

    /// The fold up to the close of `until` (its open lots are that day's).
    pub(crate) fn position_history_until(
        &self,
        symbol: usize,
        currency: Currency,
        method: CostBasisMethod,
        until: Option<day::Day>,
    ) -> AnalyticsResult<PositionHistory> {
        position::fold_position(
            &position::FoldSpec {
                ledger: self.ledger,
                fx: self.fx,
                target: currency,
                method,
                revalue_at: None,
                until,
            },
            symbol,
        )
    }

    /// The portfolio's daily valuation.
    pub fn valuation(&self, cash: CashTreatment) -> AnalyticsResult<ValuationSeries> {
        valuation::valuation_series(self.ledger, self.prices, self.fx, cash)
    }

    /// The daily valuation, reusing `previous` before `changed_from` (see
    /// [`valuation::valuation_series_from`]).
    pub fn valuation_from(
        &self,
        cash: CashTreatment,
        previous: &ValuationSeries,
        changed_from: jiff::civil::Date,
    ) -> AnalyticsResult<ValuationSeries> {
        valuation::valuation_series_from(
            self.ledger,
            self.prices,
            self.fx,
            cash,
            previous,
            changed_from,
        )
    }
}
