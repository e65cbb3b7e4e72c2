//! Ghostfolio's ROAI figures of a portfolio of several holdings.

use jiff::civil::Date;
use pricetrack_domain::{
    Currency, Symbol,
    analytics::{
        Activity, ActivityKind, FxTable, Inputs, Ledger, NoFxRates, PriceTable, Trade,
        figures::{FigureContext, FigureValue},
        roai::{RoaiHolding, portfolio_figures},
    },
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn buy(date: &str, symbol: &str) -> Activity {
    Activity::new(
        d(date),
        ActivityKind::Buy(Trade::new(
            Symbol::parse(symbol).unwrap(),
            Currency::USD,
            dec!(1),
            dec!(100),
            Decimal::ZERO,
        )),
    )
}

/// The average daily investment of a portfolio is the mean of its own daily
/// total investment, so a holding whose net performance is 0 still counts.
#[test]
fn the_average_daily_investment_counts_every_holding() {
    // FLAT is bought on 1 Jan and never moves; UP is bought on 6 Jan and
    // closes at 110 on 11 Jan. Total investment: 100 for 5 days, then 200
    // for 6 days.
    let activities = [buy("2024-01-01", "FLAT"), buy("2024-01-06", "UP")];
    let ledger = Ledger::prepare(&activities, Currency::USD, d("2024-01-11")).unwrap();
    let mut prices = PriceTable::new();
    prices.insert(
        Symbol::parse("FLAT").unwrap(),
        [(d("2024-01-01"), dec!(100))],
    );
    prices.insert(
        Symbol::parse("UP").unwrap(),
        [(d("2024-01-06"), dec!(100)), (d("2024-01-11"), dec!(110))],
    );
    let context =
        FigureContext::new(Inputs::new(&ledger, &prices, &NoFxRates), None, &activities).unwrap();
    let exact = |name: &str| match context.evaluate(name).unwrap() {
        FigureValue::Exact(v) => v,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(exact("net_performance"), dec!(10));
    let expected = dec!(10) / (dec!(1700) / dec!(11));
    let got = exact("net_performance_pct_avg_daily_investment");
    assert!((got - expected).abs() < dec!(1e-20), "{got} vs {expected}");
}

/// The same portfolio bought in USD and reported in CHF, the rate moving
/// from 0.8 (both purchases) to 1.0 (the evaluation date).
#[test]
fn the_portfolio_average_converts_like_the_rest_of_each_variant() {
    let activities = [buy("2024-01-01", "FLAT"), buy("2024-01-06", "UP")];
    let ledger = Ledger::prepare(&activities, Currency::CHF, d("2024-01-11")).unwrap();
    let mut prices = PriceTable::new();
    prices.insert(
        Symbol::parse("FLAT").unwrap(),
        [(d("2024-01-01"), dec!(100))],
    );
    prices.insert(
        Symbol::parse("UP").unwrap(),
        [(d("2024-01-06"), dec!(100)), (d("2024-01-11"), dec!(110))],
    );
    let mut fx = FxTable::new();
    fx.insert(
        Currency::USD,
        Currency::CHF,
        [(d("2024-01-01"), dec!(0.8)), (d("2024-01-11"), dec!(1.0))],
    );
    let inputs = Inputs::new(&ledger, &prices, &fx);
    let holdings: Vec<RoaiHolding<'_>> = ["FLAT", "UP"]
        .iter()
        .map(|s| RoaiHolding::new(inputs, &Symbol::parse(s).unwrap()).unwrap())
        .collect();
    let close = |got: Decimal, expected: Decimal| {
        assert!((got - expected).abs() < dec!(1e-20), "{got} vs {expected}");
    };
    // With currency effect: costs at 0.8 (80 for 5 days, then 160 for 6),
    // value 210 at 1.0, so net performance 50.
    let with = portfolio_figures(&holdings, d("2024-01-11"), false).unwrap();
    assert_eq!(with.net_performance, dec!(50));
    close(with.average_daily_investment, dec!(1360) / dec!(11));
    close(
        with.net_performance_pct_avg_daily_investment,
        dec!(50) / (dec!(1360) / dec!(11)),
    );
    // Without: everything at 1.0, as if it were one currency.
    let without = portfolio_figures(&holdings, d("2024-01-11"), true).unwrap();
    assert_eq!(without.net_performance, dec!(10));
    close(without.average_daily_investment, dec!(1700) / dec!(11));
    close(
        without.net_performance_pct_avg_daily_investment,
        dec!(10) / (dec!(1700) / dec!(11)),
    );
}
