//! Speed of the portfolio analytics on a synthetic portfolio: 10,000
//! transactions over 200 instruments in three currencies and 10 years of
//! daily prices. Run with
//! `cargo run --release -p pricetrack-domain --example bench_analytics`.

use jiff::{ToSpan, civil::Date};
use pricetrack_domain::{
    Currency, Symbol,
    analytics::{
        Activity, ActivityKind, CashTreatment, CostBasisMethod, FxTable, Inputs, Ledger, Period,
        PeriodPreset, PeriodSpec, PriceTable, Trade,
        holding_report::holdings_at,
        risk::{drawdown_series, max_drawdown, volatility},
        roai::RoaiHolding,
        statement::{period_irr, period_statement},
        twr::ttwror,
    },
};
use rust_decimal::Decimal;
use std::{collections::BTreeMap, hint::black_box, time::Instant};

const INSTRUMENTS: usize = 200;
const TRANSACTIONS: usize = 10_000;
const YEARS: i64 = 10;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Portfolio {
    activities: Vec<Activity>,
    prices: BTreeMap<Symbol, Vec<(Date, Decimal)>>,
    fx: FxTable,
    end: Date,
}

fn synthetic() -> Portfolio {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Date::new(2015, 1, 1).unwrap();
    let days = YEARS * 365 + 2;
    let end = start.checked_add(days.days()).unwrap();
    let currencies = [Currency::EUR, Currency::USD, Currency::CHF];
    let symbols: Vec<(Symbol, Currency)> = (0..INSTRUMENTS)
        .map(|i| {
            (
                Symbol::parse(&format!("SYM{i:03}")).unwrap(),
                currencies[i % 3],
            )
        })
        .collect();
    // Prices on weekdays only (weekends carried forward), a random walk.
    let mut prices = BTreeMap::new();
    let mut closes: Vec<Vec<Decimal>> = Vec::new();
    for (symbol, _) in &symbols {
        let mut p = Decimal::from(20 + rng.below(200));
        let mut series = Vec::new();
        let mut dense = Vec::new();
        for d in 0..=days {
            let date = start.checked_add(d.days()).unwrap();
            if date.weekday().to_monday_one_offset() <= 5 {
                let step = Decimal::new(rng.below(401) as i64 - 200, 4); // ±2 %
                p = (p * (Decimal::ONE + step))
                    .round_dp(4)
                    .max(Decimal::new(1, 2));
                series.push((date, p));
            }
            dense.push(p);
        }
        prices.insert(symbol.clone(), series);
        closes.push(dense);
    }
    let mut fx = FxTable::new();
    for (i, c) in [Currency::USD, Currency::CHF].into_iter().enumerate() {
        let mut rate = Decimal::new(9 + i as i64, 1);
        let points: Vec<(Date, Decimal)> = (0..=days)
            .map(|d| {
                rate = (rate * (Decimal::ONE + Decimal::new(rng.below(201) as i64 - 100, 5)))
                    .round_dp(6);
                (start.checked_add(d.days()).unwrap(), rate)
            })
            .collect();
        fx.insert(c, Currency::EUR, points);
    }
    // Deposits monthly, then buys, sells and dividends spread over the years.
    let mut activities = Vec::with_capacity(TRANSACTIONS);
    let mut held = vec![Decimal::ZERO; INSTRUMENTS];
    let mut day_of_tx: Vec<i64> = (0..TRANSACTIONS as i64 - YEARS * 12)
        .map(|_| rng.below(days as u64) as i64)
        .collect();
    day_of_tx.extend((0..YEARS * 12).map(|m| m * 30));
    day_of_tx.sort_unstable();
    let mut deposits_left = YEARS * 12;
    for d in day_of_tx {
        let date = start.checked_add(d.days()).unwrap();
        if deposits_left > 0 && d % 30 == 0 {
            deposits_left -= 1;
            activities.push(Activity::new(
                date,
                ActivityKind::Deposit {
                    currency: Currency::EUR,
                    amount: Decimal::from(50_000),
                },
            ));
            continue;
        }
        let i = rng.below(INSTRUMENTS as u64) as usize;
        let (symbol, currency) = symbols[i].clone();
        let price = closes[i][d as usize];
        let kind = match rng.below(10) {
            0..=5 => {
                let q = Decimal::from(1 + rng.below(20));
                held[i] += q;
                ActivityKind::Buy(Trade::new(symbol, currency, q, price, Decimal::new(495, 2)))
            }
            6..=8 if held[i] > Decimal::ZERO => {
                let q = Decimal::from(1 + rng.below(10)).min(held[i]);
                held[i] -= q;
                ActivityKind::Sell(Trade::new(symbol, currency, q, price, Decimal::new(495, 2)))
            }
            _ => ActivityKind::Dividend {
                symbol,
                currency,
                gross: Decimal::new(1 + rng.below(5000) as i64, 2),
                tax: Decimal::ZERO,
            },
        };
        activities.push(Activity::new(date, kind));
    }
    Portfolio {
        activities,
        prices,
        fx,
        end,
    }
}

/// Median and fastest of `runs` timings of `f`, in milliseconds (the
/// fastest is the least disturbed by other processes on a shared machine).
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], samples[0])
}

fn main() {
    let p = synthetic();
    let base = Currency::EUR;
    let runs = 15;
    let mut rows: Vec<(String, (f64, f64), &str)> = Vec::new();

    let price_table_ms = time(runs, || PriceTable::from_points(&p.prices));
    let prices = PriceTable::from_points(&p.prices);
    let prepare_ms = time(runs, || {
        Ledger::prepare(&p.activities, base, p.end).unwrap()
    });
    let ledger = Ledger::prepare(&p.activities, base, p.end).unwrap();
    let inputs = Inputs::new(&ledger, &prices, &p.fx);
    rows.push((
        "build price table (200 × 10 y, dense by day)".into(),
        price_table_ms,
        "—",
    ));
    rows.push((
        "prepare ledger (validate, order, restate splits)".into(),
        prepare_ms,
        "—",
    ));

    for method in [CostBasisMethod::AverageCost, CostBasisMethod::Fifo] {
        let ms = time(runs, || holdings_at(&inputs, p.end, method).unwrap());
        rows.push((
            (if method == CostBasisMethod::Fifo {
                "holdings at date, FIFO lots"
            } else {
                "holdings at date, average cost"
            })
            .into(),
            ms,
            "≤ 10 ms",
        ));
    }
    let series_ms = time(runs, || {
        let valuation = inputs.valuation(CashTreatment::Auto).unwrap();
        let period = Period::new(ledger.first_date().unwrap(), p.end).unwrap();
        let twr = ttwror(&valuation, &period);
        let drawdown = drawdown_series(&twr);
        (
            valuation.days().len(),
            twr.total(),
            drawdown.len(),
            max_drawdown(&twr),
            volatility(&twr),
        )
    });
    rows.push((
        "daily performance series (value, flows, TWR, drawdown), 3,650 days".into(),
        series_ms,
        "≤ 50 ms",
    ));

    let valuation = inputs.valuation(CashTreatment::Auto).unwrap();
    let max = Period::resolve(
        PeriodSpec::Preset(PeriodPreset::Max),
        p.end,
        ledger.first_date(),
    )
    .unwrap();
    let xirr_ms = time(200, || period_irr(&valuation, &max).unwrap());
    rows.push((
        "XIRR over MAX (monthly deposits + final value)".into(),
        xirr_ms,
        "≤ 1 ms",
    ));
    let securities_only = inputs.valuation(CashTreatment::Excluded).unwrap();
    let flows = pricetrack_domain::analytics::statement::irr_cash_flows(&securities_only, &max);
    let xirr_many_ms = time(200, || period_irr(&securities_only, &max).unwrap());
    let xirr_many_label = format!(
        "XIRR over MAX, securities only ({} dated flows)",
        flows.len()
    );
    rows.push((xirr_many_label, xirr_many_ms, "≤ 1 ms"));
    let statement_ms = time(runs, || {
        period_statement(&inputs, &valuation, &max, CostBasisMethod::Fifo).unwrap()
    });
    rows.push((
        "period statement MAX (FIFO gains, totals, TWR, IRR)".into(),
        statement_ms,
        "—",
    ));
    let roai_ms = time(runs, || {
        ledger
            .holdings_symbols()
            .map(|s| {
                RoaiHolding::new(inputs, &s.symbol)
                    .unwrap()
                    .figures_at(p.end)
                    .unwrap()
            })
            .collect::<Vec<_>>()
    });
    rows.push((
        "Ghostfolio ROAI figures, all 200 holdings".into(),
        roai_ms,
        "—",
    ));

    let irr = period_irr(&valuation, &max).unwrap();
    let twr = ttwror(&valuation, &max).total();
    println!(
        "synthetic portfolio: {} activities, {} instruments, {} days of prices, base EUR (USD, CHF via FX); TWR {:.4}, XIRR {:.4}\n",
        p.activities.len(),
        INSTRUMENTS,
        valuation.days().len(),
        twr,
        irr
    );
    println!("| operation | median (ms) | fastest (ms) | target |");
    println!("|---|---:|---:|---|");
    for (name, (median, fastest), target) in rows {
        println!("| {name} | {median:.3} | {fastest:.3} | {target} |");
    }
}
