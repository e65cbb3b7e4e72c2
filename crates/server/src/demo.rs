//! `pricetrack serve --demo`: on an empty database, a dozen well-known
//! instruments across kinds on the `demo` provider (simulated prices, labelled
//! as such), a year of daily and a week of 5-minute history, a hand-priced
//! watch, a watchlist and a sample portfolio. The refresh loop then keeps
//! producing new simulated bars as time passes: a living dashboard with no
//! network. Real instruments never use the demo provider.

use anyhow::Context;
use jiff::{SignedDuration, Timestamp, civil::Date, tz::TimeZone};
use pricetrack_app::{
    AppContext,
    bars::record_manual_price,
    market::backfill,
    portfolios::{self, decimal_from_f64},
    ports::{BarRange, InstrumentQuery, PageRequest, PortfolioDraft, User},
    watchlists,
};
use pricetrack_domain::{
    Amount, Currency, Instrument, InstrumentKind, Interval, Price, ProviderName, Quantity, Symbol,
    Transaction, TransactionKind, date_key,
};
use rust_decimal::Decimal;

/// The demo instruments: symbol, name, kind, currency, exchange.
const INSTRUMENTS: [(&str, &str, InstrumentKind, Currency, Option<&str>); 12] = [
    (
        "AAPL",
        "Apple Inc. (simulated)",
        InstrumentKind::Stock,
        Currency::USD,
        Some("NASDAQ"),
    ),
    (
        "MSFT",
        "Microsoft Corporation (simulated)",
        InstrumentKind::Stock,
        Currency::USD,
        Some("NASDAQ"),
    ),
    (
        "VOD.L",
        "Vodafone Group (simulated)",
        InstrumentKind::Stock,
        Currency::GBP,
        Some("LSE"),
    ),
    (
        "VWCE.DE",
        "Vanguard FTSE All-World UCITS ETF (simulated)",
        InstrumentKind::Etf,
        Currency::EUR,
        Some("XETRA"),
    ),
    (
        "^GSPC",
        "S&P 500 (simulated)",
        InstrumentKind::Index,
        Currency::USD,
        None,
    ),
    (
        "BTC-USD",
        "Bitcoin (simulated)",
        InstrumentKind::Crypto,
        Currency::USD,
        None,
    ),
    (
        "ETH-USD",
        "Ether (simulated)",
        InstrumentKind::Crypto,
        Currency::USD,
        None,
    ),
    (
        "GC=F",
        "Gold futures (simulated)",
        InstrumentKind::Commodity,
        Currency::USD,
        None,
    ),
    (
        "EURUSD=X",
        "EUR/USD (simulated)",
        InstrumentKind::Fx,
        Currency::USD,
        None,
    ),
    (
        "AGG",
        "iShares Core US Aggregate Bond ETF (simulated)",
        InstrumentKind::Bond,
        Currency::USD,
        Some("NYSEARCA"),
    ),
    (
        "VFIAX",
        "Vanguard 500 Index Fund Admiral (simulated)",
        InstrumentKind::Fund,
        Currency::USD,
        None,
    ),
    (
        "ROLEX-SUB-2019",
        "Rolex Submariner 2019, priced by hand",
        InstrumentKind::Item,
        Currency::EUR,
        None,
    ),
];

/// The hand-priced item among [`INSTRUMENTS`].
const ITEM: &str = "ROLEX-SUB-2019";

/// What seeding created.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub instruments: usize,
    pub bars: u64,
}

fn sym(s: &str) -> anyhow::Result<Symbol> {
    Symbol::parse(s).with_context(|| format!("demo symbol {s}"))
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Seeds the demo data when the database has no instruments; `None` when it
/// had some (a demo database restarted keeps its state and just carries on).
pub async fn seed_if_empty(ctx: &AppContext, owner: &User) -> anyhow::Result<Option<DemoSummary>> {
    let existing = ctx
        .store
        .list_instruments(&InstrumentQuery {
            page: PageRequest::new(Some(1), None),
            ..InstrumentQuery::default()
        })
        .await?;
    if existing.total > 0 {
        return Ok(None);
    }
    let now = ctx.clock.now();
    let mut summary = DemoSummary::default();
    for (symbol, name, kind, currency, exchange) in INSTRUMENTS {
        let provider = if symbol == ITEM { "manual" } else { "demo" };
        let instrument = Instrument::new(
            sym(symbol)?,
            name.to_owned(),
            kind,
            currency,
            exchange.map(str::to_owned),
            ProviderName::parse(provider)?,
            None,
        )?;
        ctx.store.create_instrument(&instrument).await?;
        summary.instruments += 1;
    }
    // The portfolio and watchlist first: they make instruments "watched", so
    // the loop keeps their intraday series current.
    let held = sample_portfolio(ctx, owner, now).await?;
    let list = watchlists::create(ctx, owner, "Demo").await?;
    for s in ["AAPL", "BTC-USD", "EURUSD=X", "^GSPC", "GC=F", ITEM] {
        watchlists::add_item(ctx, owner, list.id, sym(s)?).await?;
    }
    for (symbol, ..) in INSTRUMENTS.iter().filter(|i| i.0 != ITEM) {
        let s = sym(symbol)?;
        let daily = backfill(ctx, &s, Interval::D1, now.checked_sub(days(366)).ok(), None).await?;
        summary.bars += daily.bars_stored;
        let intraday = backfill(ctx, &s, Interval::M5, now.checked_sub(days(7)).ok(), None).await?;
        summary.bars += intraday.bars_stored;
    }
    summary.bars += price_the_watch(ctx, now).await?;
    tracing::info!(
        instruments = summary.instruments,
        bars = summary.bars,
        holdings = held,
        "seeded the demo data (simulated prices)"
    );
    Ok(Some(summary))
}

/// Monthly hand-entered prices for the watch, drifting up over the year.
async fn price_the_watch(ctx: &AppContext, now: Timestamp) -> anyhow::Result<u64> {
    let today: Date = now.to_zoned(TimeZone::UTC).date();
    let mut stored = 0;
    for month in 0..12i64 {
        let date = today
            .checked_sub(jiff::Span::new().months(11 - month))
            .unwrap_or(today);
        let price = 9_200.0 + 150.0 * month as f64;
        record_manual_price(ctx, &sym(ITEM)?, date, price).await?;
        stored += 1;
    }
    Ok(stored)
}

/// The simulated close of a demo instrument on a date (for plausible buy prices).
async fn close_near(
    ctx: &AppContext,
    symbol: &Symbol,
    at: Timestamp,
) -> anyhow::Result<Option<f64>> {
    let date = at.to_zoned(TimeZone::UTC).date();
    let bars = ctx
        .store
        .bars(
            symbol,
            Interval::D1,
            BarRange {
                from: Some(date_key(date)),
                to: None,
                limit: Some(1),
            },
        )
        .await?;
    Ok(bars.first().map(|b| b.close))
}

/// A sample portfolio in USD: a deposit, a few buys at simulated prices, a dividend.
/// The buys happen after the daily history exists, so prices are looked up
/// from the provider directly.
async fn sample_portfolio(ctx: &AppContext, owner: &User, now: Timestamp) -> anyhow::Result<usize> {
    let portfolio = portfolios::create_portfolio(
        ctx,
        owner,
        PortfolioDraft {
            name: "Demo portfolio".to_owned(),
            base_currency: Currency::USD,
        },
    )
    .await?;
    let prices = ctx
        .prices
        .clone()
        .context("the demo needs the provider registry")?;
    let start = now.checked_sub(days(330)).unwrap_or(now);
    let mut txs = vec![Transaction::new(
        start,
        Currency::USD,
        "demo deposit".to_owned(),
        TransactionKind::Deposit {
            amount: Amount::new(Decimal::from(100_000))?,
        },
    )?];
    let buys: [(&str, f64, i64); 4] = [
        ("AAPL", 40.0, 320),
        ("MSFT", 20.0, 300),
        ("BTC-USD", 0.25, 250),
        ("AGG", 60.0, 200),
    ];
    for (symbol, quantity, days_ago) in buys {
        let s = sym(symbol)?;
        let when = now.checked_sub(days(days_ago)).unwrap_or(now);
        let instrument = ctx
            .store
            .get_instrument(&s)
            .await?
            .context("demo instrument")?;
        // Before the backfill runs, ask the demo provider for the day's bar.
        let price = match close_near(ctx, &s, when).await? {
            Some(p) => p,
            None => prices
                .fetch_bars(
                    &instrument,
                    Interval::D1,
                    when,
                    when.checked_add(days(5)).unwrap_or(when),
                )
                .await?
                .bars
                .first()
                .map(|b| b.close)
                .unwrap_or(100.0),
        };
        let price = decimal_from_f64(price)
            .map(|d| d.round_dp(2))
            .context("simulated price")?;
        txs.push(Transaction::new(
            when,
            Currency::USD,
            "demo buy".to_owned(),
            TransactionKind::Buy {
                symbol: s,
                quantity: Quantity::new(decimal_from_f64(quantity).context("quantity")?)?,
                price: Price::new(price)?,
                fee: Amount::new(Decimal::ONE)?,
                tax: Amount::ZERO,
            },
        )?);
    }
    txs.push(Transaction::new(
        now.checked_sub(days(60)).unwrap_or(now),
        Currency::USD,
        "demo dividend".to_owned(),
        TransactionKind::Dividend {
            symbol: sym("AAPL")?,
            amount: Amount::new(Decimal::new(1000, 2))?,
            tax_withheld: Amount::new(Decimal::new(150, 2))?,
        },
    )?);
    txs.sort_by_key(|t| t.time);
    let n = txs.len();
    portfolios::record_transactions(ctx, owner, portfolio.id, txs).await?;
    Ok(n)
}
