//! Gains in the base currency split into the part from prices and the part
//! from exchange rates — for open positions, closed lots and the gains of a
//! reporting period — with both effects non-zero and adding up to the gain.

use jiff::civil::Date;
use pricetrack_domain::{
    Currency, Symbol,
    analytics::{
        Activity, ActivityKind, CostBasisMethod, FxTable, Inputs, Ledger, Period, PriceTable,
        Trade, holding_report::holdings_at, statement::period_capital_gains,
    },
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn spy() -> Symbol {
    Symbol::parse("SPY").unwrap()
}

/// A USD security in a EUR portfolio: buy 10 at 100 (1 USD = 0.90 EUR), sell
/// 4 at 120 (0.95); it closes at 110 on the evaluation date (0.80).
fn portfolio() -> (Ledger, PriceTable, FxTable) {
    let trade = |q, p| Trade::new(spy(), Currency::USD, q, p, Decimal::ZERO);
    let activities = [
        Activity::new(
            d("2024-01-02"),
            ActivityKind::Buy(trade(dec!(10), dec!(100))),
        ),
        Activity::new(
            d("2024-03-01"),
            ActivityKind::Sell(trade(dec!(4), dec!(120))),
        ),
    ];
    let ledger = Ledger::prepare(&activities, Currency::EUR, d("2024-06-14")).unwrap();
    let mut prices = PriceTable::new();
    prices.insert(
        spy(),
        [
            (d("2024-01-02"), dec!(100)),
            (d("2024-02-01"), dec!(105)),
            (d("2024-03-01"), dec!(120)),
            (d("2024-06-14"), dec!(110)),
        ],
    );
    let mut fx = FxTable::new();
    fx.insert(
        Currency::USD,
        Currency::EUR,
        [
            (d("2024-01-02"), dec!(0.90)),
            (d("2024-02-01"), dec!(0.92)),
            (d("2024-03-01"), dec!(0.95)),
            (d("2024-06-14"), dec!(0.80)),
        ],
    );
    (ledger, prices, fx)
}

const METHODS: [CostBasisMethod; 4] = [
    CostBasisMethod::AverageCost,
    CostBasisMethod::Fifo,
    CostBasisMethod::Lifo,
    CostBasisMethod::Hifo,
];

#[test]
fn open_positions_and_closed_lots_split_the_gain_into_price_and_currency() {
    let (ledger, prices, fx) = portfolio();
    let inputs = Inputs::new(&ledger, &prices, &fx);
    for method in METHODS {
        let holding = &holdings_at(&inputs, d("2024-06-14"), method).unwrap()[0];
        // 6 × 110 × 0.80 − 6 × 100 × 0.90 = 528 − 540.
        assert_eq!(holding.unrealized_gain, dec!(-12), "{method:?}");
        // 528 − 600 USD × 0.80: the price rose; 600 USD × (0.80 − 0.90): the dollar fell.
        assert_eq!(holding.unrealized_price_effect, dec!(48), "{method:?}");
        assert_eq!(holding.unrealized_currency_effect, dec!(-60), "{method:?}");
        assert_eq!(holding.average_cost_quote, dec!(100), "{method:?}");

        let history = inputs.position(&spy(), Currency::EUR, method).unwrap();
        let lot = &history.closed_lots[0];
        // 4 × 120 × 0.95 − 4 × 100 × 0.90 = 456 − 360.
        assert_eq!(lot.gain, dec!(96), "{method:?}");
        // 456 − 400 USD × 0.95, and 400 USD × (0.95 − 0.90).
        assert_eq!(lot.price_effect, dec!(76), "{method:?}");
        assert_eq!(lot.currency_effect, dec!(20), "{method:?}");
        let state = history.at(d("2024-06-14"));
        assert_eq!(state.realized_price_effect_by(method), dec!(76));
        assert_eq!(state.realized_currency_effect_by(method), dec!(20));
    }
}

#[test]
fn a_periods_gains_split_into_price_and_currency_from_the_period_start() {
    let (ledger, prices, fx) = portfolio();
    let inputs = Inputs::new(&ledger, &prices, &fx);
    // The units held on 1 Feb enter at their value then: 105 USD at 0.92.
    let period = Period::new(d("2024-02-01"), d("2024-06-14")).unwrap();
    for method in METHODS {
        let g = period_capital_gains(&inputs, &period, method).unwrap();
        // 456 − 4 × 105 × 0.92 = 69.6: (456 − 420 × 0.95) + 420 × (0.95 − 0.92).
        assert_eq!(g.realized, dec!(69.6), "{method:?}");
        assert_eq!(g.realized_price_effect, dec!(57), "{method:?}");
        assert_eq!(g.realized_currency_effect, dec!(12.6), "{method:?}");
        // 528 − 6 × 105 × 0.92 = −51.6: (528 − 630 × 0.80) + 630 × (0.80 − 0.92).
        assert_eq!(g.unrealized, dec!(-51.6), "{method:?}");
        assert_eq!(g.unrealized_price_effect, dec!(24), "{method:?}");
        assert_eq!(g.unrealized_currency_effect, dec!(-75.6), "{method:?}");
    }
}

#[test]
fn in_one_currency_the_whole_gain_is_price_effect() {
    let (ledger, prices, _) = portfolio();
    let ledger_usd = {
        let trade = |q, p| Trade::new(spy(), Currency::USD, q, p, Decimal::ZERO);
        let activities = [
            Activity::new(
                d("2024-01-02"),
                ActivityKind::Buy(trade(dec!(10), dec!(100))),
            ),
            Activity::new(
                d("2024-03-01"),
                ActivityKind::Sell(trade(dec!(4), dec!(120))),
            ),
        ];
        Ledger::prepare(&activities, Currency::USD, ledger.evaluation_date()).unwrap()
    };
    let fx = FxTable::new();
    let inputs = Inputs::new(&ledger_usd, &prices, &fx);
    let period = Period::new(d("2024-02-01"), d("2024-06-14")).unwrap();
    let g = period_capital_gains(&inputs, &period, CostBasisMethod::Fifo).unwrap();
    assert_eq!(g.realized, dec!(60));
    assert_eq!(g.realized_price_effect, dec!(60));
    assert_eq!(g.realized_currency_effect, Decimal::ZERO);
    assert_eq!(g.unrealized_price_effect, g.unrealized);
    assert_eq!(g.unrealized_currency_effect, Decimal::ZERO);
}
