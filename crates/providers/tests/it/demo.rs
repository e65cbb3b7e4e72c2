use crate::common::*;
use pricetrack_app::market_data::PriceSource;
use pricetrack_domain::{Currency, InstrumentKind, Interval};
use pricetrack_providers::demo::DemoProvider;

fn demo(now: &str) -> DemoProvider {
    DemoProvider::new(clock(now))
}

fn demo_stock() -> pricetrack_domain::Instrument {
    instrument("DEMO-ACME", InstrumentKind::Stock, Currency::USD, "demo")
}

#[tokio::test]
async fn the_same_bar_comes_back_whatever_range_asked_it() {
    let d = demo("2025-01-01T00:00:00Z");
    let long = d
        .fetch_bars(
            &demo_stock(),
            Interval::D1,
            day("2024-01-01"),
            day("2024-07-01"),
        )
        .await
        .unwrap();
    let short = d
        .fetch_bars(
            &demo_stock(),
            Interval::D1,
            day("2024-03-01"),
            day("2024-03-08"),
        )
        .await
        .unwrap();
    assert!(long.simulated && short.simulated);
    for b in &short.bars {
        assert_eq!(long.bars.iter().find(|x| x.time == b.time), Some(b));
    }
    // Another provider instance, same answer.
    let again = demo("2025-06-01T00:00:00Z")
        .fetch_bars(
            &demo_stock(),
            Interval::D1,
            day("2024-03-01"),
            day("2024-03-08"),
        )
        .await
        .unwrap();
    assert_eq!(again.bars, short.bars);
}

#[tokio::test]
async fn stock_bars_follow_the_exchange_calendar() {
    let d = demo("2025-01-01T00:00:00Z");
    let got = d
        .fetch_bars(
            &demo_stock(),
            Interval::D1,
            day("2024-07-01"),
            day("2024-07-08"),
        )
        .await
        .unwrap();
    let days: Vec<_> = got.bars.iter().map(|b| b.date().to_string()).collect();
    // Independence Day and the weekend are closed.
    assert_eq!(
        days,
        ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"]
    );
    let m5 = d
        .fetch_bars(
            &demo_stock(),
            Interval::M5,
            ts("2024-07-02T00:00:00Z"),
            ts("2024-07-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(m5.bars.len(), 78, "6.5 hours of 5-minute bars");
    assert_eq!(m5.bars[0].time, ts("2024-07-02T13:30:00Z"));
}

#[tokio::test]
async fn daily_bars_agree_with_the_intraday_path() {
    let d = demo("2025-01-01T00:00:00Z");
    let daily = d
        .fetch_bars(
            &demo_stock(),
            Interval::D1,
            day("2024-07-02"),
            day("2024-07-03"),
        )
        .await
        .unwrap();
    let m5 = d
        .fetch_bars(
            &demo_stock(),
            Interval::M5,
            ts("2024-07-02T00:00:00Z"),
            ts("2024-07-03T00:00:00Z"),
        )
        .await
        .unwrap();
    let b = &daily.bars[0];
    assert_eq!(b.open, m5.bars[0].open);
    assert_eq!(b.close, m5.bars.last().unwrap().close);
    let hi = m5.bars.iter().map(|x| x.high).fold(f64::MIN, f64::max);
    assert_eq!(b.high, hi);
}

#[tokio::test]
async fn volatility_is_realistic_for_each_kind() {
    let d = demo("2025-01-01T00:00:00Z");
    let annual_vol = |bars: &[pricetrack_domain::Bar], per_year: f64| {
        let r: Vec<f64> = bars
            .windows(2)
            .map(|w| (w[1].close / w[0].close).ln())
            .collect();
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64;
        (var * per_year).sqrt()
    };
    let stock = d
        .fetch_bars(
            &demo_stock(),
            Interval::D1,
            day("2020-01-01"),
            day("2024-01-01"),
        )
        .await
        .unwrap();
    let btc = instrument("DEMO-BTC", InstrumentKind::Crypto, Currency::USD, "demo");
    let crypto = d
        .fetch_bars(&btc, Interval::D1, day("2020-01-01"), day("2024-01-01"))
        .await
        .unwrap();
    let fx = instrument("DEMOEUR=X", InstrumentKind::Fx, Currency::USD, "demo");
    let fxb = d
        .fetch_bars(&fx, Interval::D1, day("2020-01-01"), day("2024-01-01"))
        .await
        .unwrap();
    let (s, c, f) = (
        annual_vol(&stock.bars, 252.0),
        annual_vol(&crypto.bars, 365.0),
        annual_vol(&fxb.bars, 260.0),
    );
    assert!((0.2..0.45).contains(&s), "stock {s}");
    assert!((0.45..0.9).contains(&c), "crypto {c}");
    assert!((0.04..0.14).contains(&f), "fx {f}");
    assert_eq!(crypto.bars.len(), 1461, "crypto trades every day");
}

#[tokio::test]
async fn nothing_comes_from_the_future_and_the_running_bar_is_incomplete() {
    let d = demo("2024-07-02T15:02:00Z");
    let got = d
        .fetch_bars(
            &demo_stock(),
            Interval::M5,
            ts("2024-07-02T00:00:00Z"),
            ts("2024-07-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(got.bars.last().unwrap().time, ts("2024-07-02T15:00:00Z"));
    assert_eq!(got.incomplete, Some(ts("2024-07-02T15:00:00Z")));
    let q = d.fetch_quote(&demo_stock()).await.unwrap();
    assert!(q.simulated);
    assert_eq!(q.time, ts("2024-07-02T15:02:00Z"));
    assert!(q.previous_close.is_some());
}

#[tokio::test]
async fn weekly_and_monthly_bars_are_keyed_by_their_first_day() {
    let d = demo("2025-01-01T00:00:00Z");
    let w = d
        .fetch_bars(
            &demo_stock(),
            Interval::W1,
            day("2024-07-01"),
            day("2024-07-29"),
        )
        .await
        .unwrap();
    let days: Vec<_> = w.bars.iter().map(|b| b.date().to_string()).collect();
    assert_eq!(
        days,
        ["2024-07-01", "2024-07-08", "2024-07-15", "2024-07-22"]
    );
    let m = d
        .fetch_bars(
            &demo_stock(),
            Interval::Mo1,
            day("2024-01-01"),
            day("2024-04-01"),
        )
        .await
        .unwrap();
    assert_eq!(m.bars.len(), 3);
    assert_eq!(m.bars[1].time, day("2024-02-01"));
}

#[tokio::test]
async fn well_known_symbols_trade_near_their_real_price_levels() {
    let d = demo("2025-01-01T00:00:00Z");
    for (symbol, kind, currency, lo, hi) in [
        (
            "BTC-USD",
            InstrumentKind::Crypto,
            Currency::USD,
            10_000.0,
            400_000.0,
        ),
        ("EURUSD=X", InstrumentKind::Fx, Currency::USD, 0.8, 1.45),
        ("AAPL", InstrumentKind::Stock, Currency::USD, 30.0, 1_200.0),
        (
            "GC=F",
            InstrumentKind::Commodity,
            Currency::USD,
            500.0,
            10_000.0,
        ),
    ] {
        let i = instrument(symbol, kind, currency, "demo");
        let year = d
            .fetch_bars(&i, Interval::D1, day("2024-01-01"), day("2025-01-01"))
            .await
            .unwrap();
        assert!(!year.bars.is_empty());
        for b in &year.bars {
            assert!(
                (lo..hi).contains(&b.close),
                "{symbol} closed at {} on {}",
                b.close,
                b.time
            );
        }
    }
}
