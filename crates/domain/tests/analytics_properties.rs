//! Properties the analytics must have whatever the numbers.

use jiff::{ToSpan, civil::Date};
use pricetrack_domain::{
    Currency, SplitRatio, Symbol,
    analytics::{
        Activity, ActivityKind, CashTreatment, CostBasisMethod, Inputs, Ledger, NoFxRates, Period,
        PriceTable, Trade, twr::ttwror, xirr::xirr_days,
    },
};
use proptest::prelude::*;
use rust_decimal::Decimal;

const EUR: Currency = Currency::EUR;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn day(n: i64) -> Date {
    Date::new(2020, 1, 1)
        .unwrap()
        .checked_add(n.days())
        .unwrap()
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn buy(d: i64, symbol: &str, quantity: i64, unit_price: Decimal, fee: Decimal) -> Activity {
    Activity::new(
        day(d),
        ActivityKind::Buy(Trade::new(
            sym(symbol),
            EUR,
            Decimal::from(quantity),
            unit_price,
            fee,
        )),
    )
}

fn sell(d: i64, symbol: &str, quantity: i64, unit_price: Decimal, fee: Decimal) -> Activity {
    Activity::new(
        day(d),
        ActivityKind::Sell(Trade::new(
            sym(symbol),
            EUR,
            Decimal::from(quantity),
            unit_price,
            fee,
        )),
    )
}

fn deposit(d: i64, amount: Decimal) -> Activity {
    Activity::new(
        day(d),
        ActivityKind::Deposit {
            currency: EUR,
            amount,
        },
    )
}

fn prices(symbol: &str, closes: &[Decimal]) -> PriceTable {
    let mut table = PriceTable::new();
    table.insert(
        sym(symbol),
        closes.iter().enumerate().map(|(i, c)| (day(i as i64), *c)),
    );
    table
}

/// Daily closes: positive, in cents, moving at most ±5 % a day.
fn closes(days: usize) -> impl Strategy<Value = Vec<Decimal>> {
    (
        1_000i64..100_000,
        prop::collection::vec(-500i64..=500, days - 1),
    )
        .prop_map(|(start, moves)| {
            let mut c = vec![cents(start)];
            for m in moves {
                let last = *c.last().unwrap();
                let next = (last * (Decimal::from(10_000 + m)) / Decimal::from(10_000)).round_dp(2);
                c.push(next.max(cents(1)));
            }
            c
        })
}

/// Buys and sells of one security that never sell more than held:
/// (day, quantity > 0 buys / < 0 sells, fee in cents), days ascending.
fn trades(days: i64) -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
    prop::collection::vec((0..days, 1i64..50, any::<bool>(), 0i64..500), 1..25).prop_map(|raw| {
        let mut raw = raw;
        raw.sort_by_key(|t| t.0);
        let mut held = 0;
        let mut out = Vec::new();
        for (d, q, is_sell, fee) in raw {
            if is_sell && held > 0 {
                let q = q.min(held);
                held -= q;
                out.push((d, -q, fee));
            } else {
                held += q;
                out.push((d, q, fee));
            }
        }
        out
    })
}

fn trade_activities(trades: &[(i64, i64, i64)], closes: &[Decimal]) -> Vec<Activity> {
    trades
        .iter()
        .map(|&(d, q, fee)| {
            let price = closes[d as usize];
            if q > 0 {
                buy(d, "SEC", q, price, cents(fee))
            } else {
                sell(d, "SEC", -q, price, cents(fee))
            }
        })
        .collect()
}

fn total_gain(ledger: &Ledger, prices: &PriceTable, method: CostBasisMethod) -> Decimal {
    let inputs = Inputs::new(ledger, prices, &NoFxRates);
    let history = inputs.position(&sym("SEC"), EUR, method).unwrap();
    let state = history.at(ledger.evaluation_date());
    let price = prices
        .close_on_or_before(&sym("SEC"), ledger.evaluation_date())
        .unwrap();
    state.realized_gain_by(method) + state.quantity * price - state.cost_basis_by(method)
}

/// Realized + unrealized gain after fees and taxes.
fn total_gain_net(ledger: &Ledger, prices: &PriceTable, method: CostBasisMethod) -> Decimal {
    let inputs = Inputs::new(ledger, prices, &NoFxRates);
    let history = inputs.position(&sym("SEC"), EUR, method).unwrap();
    let state = history.at(ledger.evaluation_date());
    let price = prices
        .close_on_or_before(&sym("SEC"), ledger.evaluation_date())
        .unwrap();
    state.realized_gain_net_by(method)
        + state.unrealized_gain_net_by(method, state.quantity * price)
}

const DAYS: usize = 60;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_round_trip_at_one_price_without_fees_gains_nothing(
        quantity in 1i64..10_000, price in 1i64..10_000_000, d in 0i64..30, hold in 0i64..30,
    ) {
        let activities = [
            buy(d, "SEC", quantity, cents(price), Decimal::ZERO),
            sell(d + hold, "SEC", quantity, cents(price), Decimal::ZERO),
        ];
        let ledger = Ledger::prepare(&activities, EUR, day(70)).unwrap();
        let table = prices("SEC", &[cents(price)]);
        for method in [CostBasisMethod::AverageCost, CostBasisMethod::Fifo, CostBasisMethod::Lifo, CostBasisMethod::Hifo] {
            let state = Inputs::new(&ledger, &table, &NoFxRates)
                .position(&sym("SEC"), EUR, method).unwrap().at(day(70));
            prop_assert_eq!(state.quantity, Decimal::ZERO);
            prop_assert_eq!(state.realized_gain_by(method), Decimal::ZERO);
            prop_assert_eq!(state.cost_basis_by(method), Decimal::ZERO);
        }
    }

    #[test]
    fn fifo_and_average_cost_agree_on_total_gain(closes in closes(DAYS), trades in trades(DAYS as i64)) {
        let activities = trade_activities(&trades, &closes);
        let ledger = Ledger::prepare(&activities, EUR, day(DAYS as i64 - 1)).unwrap();
        let table = prices("SEC", &closes);
        let average = total_gain(&ledger, &table, CostBasisMethod::AverageCost);
        for method in [CostBasisMethod::Fifo, CostBasisMethod::Lifo, CostBasisMethod::Hifo] {
            let lots = total_gain(&ledger, &table, method);
            // Pro-rata shares are rounded to 1e-12 per sale.
            prop_assert!((average - lots).abs() < Decimal::new(1, 9), "{method:?}: {average} vs {lots}");
        }
    }

    #[test]
    fn the_gain_after_fees_is_the_gain_less_every_trade_fee(closes in closes(DAYS), trades in trades(DAYS as i64)) {
        let activities = trade_activities(&trades, &closes);
        let ledger = Ledger::prepare(&activities, EUR, day(DAYS as i64 - 1)).unwrap();
        let table = prices("SEC", &closes);
        let fees: Decimal = trades.iter().map(|t| cents(t.2)).sum();
        for method in [CostBasisMethod::AverageCost, CostBasisMethod::Fifo, CostBasisMethod::Lifo, CostBasisMethod::Hifo] {
            let gross = total_gain(&ledger, &table, method);
            let net = total_gain_net(&ledger, &table, method);
            prop_assert!((gross - fees - net).abs() < Decimal::new(1, 9), "{method:?}: {gross} − {fees} vs {net}");
        }
    }

    #[test]
    fn a_split_changes_no_value(
        closes in closes(DAYS), trades in trades(40), ratio in (1i64..5, 1i64..5), split_day in 40i64..DAYS as i64,
    ) {
        let (n, d) = ratio;
        let activities = trade_activities(&trades, &closes);
        let mut with_split = activities.clone();
        with_split.push(Activity::new(day(split_day), ActivityKind::Split {
            symbol: sym("SEC"),
            ratio: SplitRatio::new(Decimal::from(n), Decimal::from(d)).unwrap(),
        }));
        // Without the split recorded, quantities and closes stay in the old
        // units; with it, the closes are split-adjusted (× d/n throughout),
        // as price providers deliver them.
        let adjusted: Vec<Decimal> = closes.iter().map(|c| c * Decimal::from(d) / Decimal::from(n)).collect();
        let end = day(DAYS as i64 - 1);
        let plain = Ledger::prepare(&activities, EUR, end).unwrap();
        let split = Ledger::prepare(&with_split, EUR, end).unwrap();
        let plain_prices = prices("SEC", &closes);
        let split_prices = prices("SEC", &adjusted);
        let v_plain = Inputs::new(&plain, &plain_prices, &NoFxRates).valuation(CashTreatment::Excluded).unwrap();
        let v_split = Inputs::new(&split, &split_prices, &NoFxRates).valuation(CashTreatment::Excluded).unwrap();
        for (a, b) in v_plain.days().iter().zip(v_split.days()) {
            prop_assert!((a.value - b.value).abs() < Decimal::new(1, 9), "{}: {} vs {}", a.date, a.value, b.value);
        }
        let cost = |l: &Ledger, p: &PriceTable| Inputs::new(l, p, &NoFxRates)
            .position(&sym("SEC"), EUR, CostBasisMethod::AverageCost).unwrap().at(end);
        let (a, b) = (cost(&plain, &plain_prices), cost(&split, &split_prices));
        prop_assert!((a.cost_basis - b.cost_basis).abs() < Decimal::new(1, 9), "{} vs {}", a.cost_basis, b.cost_basis);
        prop_assert!((a.quantity * Decimal::from(n) / Decimal::from(d) - b.quantity).abs() < Decimal::new(1, 12));
    }

    #[test]
    fn a_valuation_resumed_from_the_changed_date_equals_a_full_one(
        closes in closes(DAYS), before in trades(DAYS as i64), after in trades(DAYS as i64),
        cut in 1i64..DAYS as i64, with_cash in any::<bool>(), removed in any::<bool>(),
    ) {
        // Ledger A and ledger B agree on every activity before `cut`; B has
        // other activities from `cut` on. A's valuation is reused for B.
        let mut a: Vec<Activity> = trade_activities(&before, &closes)
            .into_iter()
            .filter(|x| x.date < day(cut))
            .collect();
        let mut b = a.clone();
        // Trades after the cut that never sell more than is held by then.
        let held: i64 = before.iter().filter(|t| t.0 < cut).map(|t| t.1).sum();
        let mut running = held;
        for &(d, q, fee) in &after {
            let d = cut + d % (DAYS as i64 - cut);
            let q = if q < 0 { -(-q).min(running) } else { q };
            if q == 0 { continue; }
            running += q;
            b.push(trade_activities(&[(d, q, fee)], &closes).remove(0));
        }
        if with_cash {
            for list in [&mut a, &mut b] {
                list.push(deposit(0, cents(100_000_000)));
            }
        }
        if removed {
            std::mem::swap(&mut a, &mut b);
        }
        let end = day(DAYS as i64 - 1);
        let table = prices("SEC", &closes);
        let valuation = |activities: &[Activity]| {
            let ledger = Ledger::prepare(activities, EUR, end).unwrap();
            Inputs::new(&ledger, &table, &NoFxRates).valuation(CashTreatment::Auto)
        };
        let (Ok(previous), Ok(full)) = (valuation(&a), valuation(&b)) else {
            // A ledger that sells more than it holds is refused either way.
            return Ok(());
        };
        let ledger_b = Ledger::prepare(&b, EUR, end).unwrap();
        let resumed = Inputs::new(&ledger_b, &table, &NoFxRates)
            .valuation_from(CashTreatment::Auto, &previous, day(cut))
            .unwrap();
        prop_assert_eq!(resumed.days(), full.days());
        prop_assert_eq!(resumed.cash_included(), full.cash_included());
    }

    #[test]
    fn twr_of_one_holding_without_flows_is_its_price_return(closes in closes(DAYS), quantity in 1i64..1000) {
        let activities = [buy(0, "SEC", quantity, closes[0], Decimal::ZERO)];
        let end = day(DAYS as i64 - 1);
        let ledger = Ledger::prepare(&activities, EUR, end).unwrap();
        let table = prices("SEC", &closes);
        let valuation = Inputs::new(&ledger, &table, &NoFxRates).valuation(CashTreatment::Auto).unwrap();
        let twr = ttwror(&valuation, &Period::new(day(-1), end).unwrap());
        let price_return = closes[DAYS - 1] / closes[0] - Decimal::ONE;
        let expected: f64 = price_return.try_into().unwrap();
        prop_assert!((twr.total() - expected).abs() < 1e-12, "{} vs {expected}", twr.total());
    }

    #[test]
    fn a_deposit_invested_at_the_previous_close_does_not_change_twr(
        closes in closes(DAYS), quantity in 1i64..1000, extra in 1i64..1000, t in 1i64..DAYS as i64,
    ) {
        let cost = closes[0] * Decimal::from(quantity);
        let base = vec![deposit(0, cost), buy(0, "SEC", quantity, closes[0], Decimal::ZERO)];
        let mut more = base.clone();
        let previous_close = closes[t as usize - 1];
        more.push(deposit(t, previous_close * Decimal::from(extra)));
        more.push(buy(t, "SEC", extra, previous_close, Decimal::ZERO));
        let end = day(DAYS as i64 - 1);
        let table = prices("SEC", &closes);
        let twr = |activities: &[Activity]| {
            let ledger = Ledger::prepare(activities, EUR, end).unwrap();
            let valuation = Inputs::new(&ledger, &table, &NoFxRates).valuation(CashTreatment::Auto).unwrap();
            ttwror(&valuation, &Period::new(day(0), end).unwrap()).total()
        };
        let (a, b) = (twr(&base), twr(&more));
        prop_assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn the_order_of_activities_on_different_days_does_not_matter(
        closes in closes(DAYS), trades in trades(DAYS as i64), keys in prop::collection::vec(any::<u32>(), 25),
    ) {
        let mut activities = trade_activities(&trades, &closes);
        activities.push(deposit(0, cents(100_000_000)));
        activities.push(Activity::new(day(5), ActivityKind::Dividend { symbol: sym("SEC"), currency: EUR, gross: cents(1234), tax: cents(100) }));
        // Shuffle, keeping the relative order of activities on the same day.
        let mut order: Vec<usize> = (0..activities.len()).collect();
        order.sort_by_key(|&i| keys.get(i).copied().unwrap_or(0));
        let mut shuffled: Vec<Activity> = order.iter().map(|&i| activities[i].clone()).collect();
        let mut same_day: std::collections::BTreeMap<Date, Vec<Activity>> = Default::default();
        for a in &activities {
            same_day.entry(a.date).or_default().push(a.clone());
        }
        let mut taken: std::collections::BTreeMap<Date, usize> = Default::default();
        for slot in &mut shuffled {
            let n = taken.entry(slot.date).or_default();
            *slot = same_day[&slot.date][*n].clone();
            *n += 1;
        }
        let end = day(DAYS as i64 - 1);
        let table = prices("SEC", &closes);
        let run = |acts: &[Activity]| {
            let ledger = Ledger::prepare(acts, EUR, end).unwrap();
            let inputs = Inputs::new(&ledger, &table, &NoFxRates);
            let valuation = inputs.valuation(CashTreatment::Auto).unwrap();
            let fifo = inputs.position(&sym("SEC"), EUR, CostBasisMethod::Fifo).unwrap().at(end);
            let twr = ttwror(&valuation, &Period::new(day(-1), end).unwrap()).total();
            (valuation.days().to_vec(), fifo, twr)
        };
        prop_assert_eq!(run(&activities), run(&shuffled));
    }

    #[test]
    fn xirr_recovers_the_rate_that_generated_the_flows(
        rate_bp in -9_000i64..100_000, flows in prop::collection::vec((1i32..3650, 1.0f64..10_000.0), 1..8),
    ) {
        // Investments at random days, all paid back with interest at the end.
        let rate = rate_bp as f64 / 10_000.0;
        let end = 3650;
        let mut cash_flows: Vec<(i32, f64)> = vec![(0, -1000.0)];
        let mut payoff = 1000.0 * (1.0 + rate).powf(f64::from(end) / 365.0);
        for (d, amount) in flows {
            cash_flows.push((d, -amount));
            payoff += amount * (1.0 + rate).powf(f64::from(end - d) / 365.0);
        }
        cash_flows.push((end, payoff));
        let found = xirr_days(&cash_flows).unwrap();
        prop_assert!((found - rate).abs() < 1e-7 * (1.0 + rate.abs()), "{found} vs {rate}");
    }
}
