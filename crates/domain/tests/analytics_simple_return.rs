//! Simple return on cost of a period: (realized + unrealized gains + net
//! income) ÷ invested capital (securities held at the start at their value
//! then, plus the gross cost of the period's purchases).

use jiff::civil::Date;
use pricetrack_domain::{
    Currency, Symbol,
    analytics::{
        Activity, ActivityKind, Inputs, Ledger, NoFxRates, PriceTable, Trade,
        figures::{FigureContext, FigureValue},
    },
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn x() -> Symbol {
    Symbol::parse("X").unwrap()
}

fn trade(quantity: Decimal, price: Decimal) -> Trade {
    // A fee on every trade: the simple return ignores it, as the gains do.
    Trade::new(x(), Currency::USD, quantity, price, dec!(5))
}

/// Buy 10 at 100, (period start: close 120), buy 5 at 130, a dividend of 20
/// with 3 withheld, sell 6 at 140, close 150.
fn activities() -> Vec<Activity> {
    vec![
        Activity::new(
            d("2024-01-02"),
            ActivityKind::Buy(trade(dec!(10), dec!(100))),
        ),
        Activity::new(
            d("2024-04-10"),
            ActivityKind::Buy(trade(dec!(5), dec!(130))),
        ),
        Activity::new(
            d("2024-05-01"),
            ActivityKind::Dividend {
                symbol: x(),
                currency: Currency::USD,
                gross: dec!(20),
                tax: dec!(3),
            },
        ),
        Activity::new(
            d("2024-05-15"),
            ActivityKind::Sell(trade(dec!(6), dec!(140))),
        ),
    ]
}

fn figures(period_start: Option<Date>) -> (Decimal, Decimal) {
    let activities = activities();
    let ledger = Ledger::prepare(&activities, Currency::USD, d("2024-06-28")).unwrap();
    let mut prices = PriceTable::new();
    prices.insert(
        x(),
        [
            (d("2024-01-02"), dec!(100)),
            (d("2024-03-28"), dec!(120)),
            (d("2024-06-28"), dec!(150)),
        ],
    );
    let context = FigureContext::new(
        Inputs::new(&ledger, &prices, &NoFxRates),
        period_start,
        &activities,
    )
    .unwrap();
    let exact = |name: &str| match context.evaluate(name).unwrap() {
        FigureValue::Exact(v) => v,
        other => panic!("{name}: {other:?}"),
    };
    (
        exact("period_invested_capital"),
        exact("simple_return_on_cost"),
    )
}

#[test]
fn a_period_counts_the_units_held_at_its_start_at_their_value_then() {
    let (invested, simple) = figures(Some(d("2024-03-31")));
    // 10 × 120 held at the start + 5 × 130 bought.
    assert_eq!(invested, dec!(1850));
    // Realized 6 × 140 − (6 × 120) = 120; unrealized 9 × 150 − (4 × 120 +
    // 5 × 130) = 220; net dividend 17.
    assert_eq!(simple, dec!(357) / dec!(1850));
}

#[test]
fn since_inception_it_is_the_total_gain_and_net_income_over_everything_bought() {
    let (invested, simple) = figures(None);
    assert_eq!(invested, dec!(1650));
    // Realized 6 × 40 = 240; unrealized 1350 − (400 + 650) = 300; net dividend 17.
    assert_eq!(simple, dec!(557) / dec!(1650));
}
