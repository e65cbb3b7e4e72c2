use crate::common::*;
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::market_data::{
    ErrorClass, FetchError, FetchErrorKind, FetchedBars, PriceSource, Quote,
};
use pricetrack_domain::{Currency, Instrument, InstrumentKind, Interval};
use pricetrack_providers::{
    Capabilities, HistoryDepth, ManualTime, Provider, ProviderOrder, ProviderSettings,
    ProvidersConfig, RateLimit, Registry, RegistryPolicy, registry::BreakerState,
};
use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

const START: &str = "2025-01-06T15:00:00Z";

/// A provider that answers from a script (then succeeds).
struct Fake {
    name: &'static str,
    caps: Capabilities,
    script: Mutex<VecDeque<Result<(), FetchError>>>,
    calls: AtomicUsize,
    times: Mutex<Vec<Timestamp>>,
    time: Arc<ManualTime>,
}

impl Fake {
    fn new(name: &'static str, time: &Arc<ManualTime>, kinds: &[InstrumentKind]) -> Arc<Self> {
        Arc::new(Self {
            name,
            caps: Capabilities {
                kinds: kinds.to_vec(),
                intervals: Interval::ALL
                    .iter()
                    .map(|i| (*i, HistoryDepth::Unlimited))
                    .collect(),
                batch_quotes: false,
                rate_limit: RateLimit::UNLIMITED,
                needs_api_key: false,
                simulated: false,
                max_request_span: Vec::new(),
            },
            script: Mutex::new(VecDeque::new()),
            calls: AtomicUsize::new(0),
            times: Mutex::new(Vec::new()),
            time: time.clone(),
        })
    }

    fn with_rate(name: &'static str, time: &Arc<ManualTime>, rate: RateLimit) -> Arc<Self> {
        let f = Self::new(name, time, &[InstrumentKind::Stock]);
        let mut f = Arc::try_unwrap(f).ok().unwrap();
        f.caps.rate_limit = rate;
        Arc::new(f)
    }

    fn then(&self, r: Result<(), FetchError>) {
        self.script.lock().unwrap().push_back(r);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn next(&self) -> Result<(), FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        use pricetrack_app::ports::Clock;
        self.times.lock().unwrap().push(self.time.now());
        self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}

#[async_trait]
impl PriceSource for Fake {
    async fn fetch_bars(
        &self,
        _: &Instrument,
        _: Interval,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<FetchedBars, FetchError> {
        self.next().map(|_| FetchedBars::empty(self.name))
    }

    async fn fetch_quote(&self, i: &Instrument) -> Result<Quote, FetchError> {
        self.next().map(|_| Quote {
            price: 1.0,
            time: Timestamp::UNIX_EPOCH,
            previous_close: None,
            currency: i.currency,
            provider: self.name.into(),
            simulated: false,
        })
    }
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &'static str {
        self.name
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    fn provider_symbol(&self, i: &Instrument) -> Option<String> {
        Some(i.symbol.to_string())
    }
}

fn err(provider: &str, kind: FetchErrorKind, class: ErrorClass) -> FetchError {
    FetchError::new(provider, kind, class, "scripted")
}

fn retry_later(provider: &str, after: Option<u64>) -> FetchError {
    err(
        provider,
        FetchErrorKind::RateLimited,
        ErrorClass::RetryLater {
            retry_after: after.map(Duration::from_secs),
        },
    )
}

fn policy() -> RegistryPolicy {
    RegistryPolicy {
        max_retries: 2,
        base_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
        jitter: 0.0,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(60),
    }
}

fn time() -> Arc<ManualTime> {
    Arc::new(ManualTime::new(ts(START)))
}

fn registry(time: &Arc<ManualTime>, providers: &[Arc<Fake>], policy: RegistryPolicy) -> Registry {
    providers.iter().fold(
        Registry::new(policy, ProviderOrder::default(), time.clone()),
        |r, p| r.with_provider(p.clone()),
    )
}

const STOCKS: &[InstrumentKind] = &[InstrumentKind::Stock];

#[tokio::test]
async fn falls_back_to_the_next_provider_on_try_next() {
    let t = time();
    let (y, s) = (
        Fake::new("yahoo", &t, STOCKS),
        Fake::new("stooq", &t, STOCKS),
    );
    y.then(Err(err(
        "yahoo",
        FetchErrorKind::Decode,
        ErrorClass::TryNext,
    )));
    let r = registry(&t, &[y.clone(), s.clone()], policy());
    let got = r
        .fetch_bars(
            &stock("AAPL"),
            Interval::D1,
            day("2025-01-01"),
            day("2025-01-06"),
        )
        .await
        .unwrap();
    assert_eq!(got.provider, "stooq");
    assert_eq!((y.calls(), s.calls()), (1, 1));
    assert!(t.sleeps().is_empty());
}

#[tokio::test]
async fn give_up_stops_the_chain() {
    let t = time();
    let (y, s) = (
        Fake::new("yahoo", &t, STOCKS),
        Fake::new("stooq", &t, STOCKS),
    );
    y.then(Err(err(
        "yahoo",
        FetchErrorKind::UnknownSymbol,
        ErrorClass::GiveUp,
    )));
    let r = registry(&t, &[y.clone(), s.clone()], policy());
    let e = r.fetch_quote(&stock("NOPE")).await.unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::UnknownSymbol);
    assert_eq!(s.calls(), 0);
}

#[tokio::test]
async fn the_instruments_own_provider_comes_first() {
    let t = time();
    let (y, s) = (
        Fake::new("yahoo", &t, STOCKS),
        Fake::new("stooq", &t, STOCKS),
    );
    let r = registry(&t, &[y.clone(), s.clone()], policy());
    let inst = instrument("AAPL", InstrumentKind::Stock, Currency::USD, "stooq");
    assert_eq!(r.chain(&inst, Some(Interval::D1)), ["stooq", "yahoo"]);
    assert_eq!(r.fetch_quote(&inst).await.unwrap().provider, "stooq");
}

#[tokio::test]
async fn retry_after_is_honoured_before_retrying_the_same_provider() {
    let t = time();
    let y = Fake::new("yahoo", &t, STOCKS);
    y.then(Err(retry_later("yahoo", Some(7))));
    y.then(Err(retry_later("yahoo", Some(7))));
    let r = registry(&t, std::slice::from_ref(&y), policy());
    let q = r.fetch_quote(&stock("AAPL")).await.unwrap();
    assert_eq!(q.provider, "yahoo");
    assert_eq!(t.sleeps(), [Duration::from_secs(7), Duration::from_secs(7)]);
    let times = y.times.lock().unwrap().clone();
    assert_eq!(
        times[1].duration_since(times[0]).as_secs(),
        7,
        "retried after exactly Retry-After"
    );
}

#[tokio::test]
async fn jitter_only_ever_adds_to_retry_after() {
    let t = time();
    let y = Fake::new("yahoo", &t, STOCKS);
    for _ in 0..2 {
        y.then(Err(retry_later("yahoo", Some(5))));
    }
    let mut p = policy();
    p.jitter = 0.5;
    let r = registry(&t, std::slice::from_ref(&y), p);
    r.fetch_quote(&stock("AAPL")).await.unwrap();
    for s in t.sleeps() {
        assert!(
            s >= Duration::from_secs(5) && s <= Duration::from_millis(7500),
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn backoff_doubles_without_retry_after_then_falls_back() {
    let t = time();
    let (y, s) = (
        Fake::new("yahoo", &t, STOCKS),
        Fake::new("stooq", &t, STOCKS),
    );
    for _ in 0..3 {
        y.then(Err(err(
            "yahoo",
            FetchErrorKind::Upstream,
            ErrorClass::retry_later(),
        )));
    }
    let r = registry(&t, &[y.clone(), s.clone()], policy());
    let got = r
        .fetch_bars(
            &stock("AAPL"),
            Interval::D1,
            day("2025-01-01"),
            day("2025-01-06"),
        )
        .await
        .unwrap();
    assert_eq!(got.provider, "stooq");
    assert_eq!(y.calls(), 3, "one try and two retries");
    assert_eq!(t.sleeps(), [Duration::from_secs(1), Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_retry_after_above_the_cap_is_not_waited_for_in_process() {
    let t = time();
    let (y, s) = (
        Fake::new("yahoo", &t, STOCKS),
        Fake::new("stooq", &t, STOCKS),
    );
    y.then(Err(retry_later("yahoo", Some(3600))));
    s.then(Err(retry_later("stooq", Some(7200))));
    let r = registry(&t, &[y.clone(), s.clone()], policy());
    let e = r.fetch_quote(&stock("AAPL")).await.unwrap_err();
    assert!(t.sleeps().is_empty());
    assert_eq!((y.calls(), s.calls()), (1, 1));
    // Every provider asked to wait: retry later, after the shortest wait.
    assert_eq!(e.kind, FetchErrorKind::Exhausted);
    assert_eq!(
        e.class,
        ErrorClass::RetryLater {
            retry_after: Some(Duration::from_secs(3600))
        }
    );
    assert!(
        e.message.contains("yahoo") && e.message.contains("stooq"),
        "{e}"
    );
}

#[tokio::test]
async fn the_token_bucket_spaces_out_requests_without_real_sleeping() {
    let t = time();
    let y = Fake::with_rate("yahoo", &t, RateLimit::new(60.0, 2));
    let r = registry(&t, std::slice::from_ref(&y), policy());
    let started = std::time::Instant::now();
    for _ in 0..5 {
        r.fetch_quote(&stock("AAPL")).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no real sleeping"
    );
    // Burst of two, then one per second.
    let times = y.times.lock().unwrap().clone();
    let offsets: Vec<i64> = times
        .iter()
        .map(|x| x.duration_since(ts(START)).as_secs())
        .collect();
    assert_eq!(offsets, [0, 0, 1, 2, 3]);
    assert_eq!(t.slept(), Duration::from_secs(3));
}

#[tokio::test]
async fn the_bucket_refills_while_idle() {
    let t = time();
    let y = Fake::with_rate("yahoo", &t, RateLimit::new(60.0, 2));
    let r = registry(&t, std::slice::from_ref(&y), policy());
    r.fetch_quote(&stock("AAPL")).await.unwrap();
    r.fetch_quote(&stock("AAPL")).await.unwrap();
    t.advance(Duration::from_secs(10));
    r.fetch_quote(&stock("AAPL")).await.unwrap();
    r.fetch_quote(&stock("AAPL")).await.unwrap();
    assert!(t.sleeps().is_empty());
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_then_half_opens_and_closes() {
    let t = time();
    let (y, s) = (
        Fake::new("yahoo", &t, STOCKS),
        Fake::new("stooq", &t, STOCKS),
    );
    let mut p = policy();
    p.max_retries = 0;
    for _ in 0..3 {
        y.then(Err(err(
            "yahoo",
            FetchErrorKind::Timeout,
            ErrorClass::retry_later(),
        )));
    }
    let r = registry(&t, &[y.clone(), s.clone()], p);
    for _ in 0..3 {
        assert_eq!(
            r.fetch_quote(&stock("AAPL")).await.unwrap().provider,
            "stooq"
        );
    }
    assert!(matches!(
        r.breaker_state("yahoo"),
        Some(BreakerState::Open { .. })
    ));
    // While open, yahoo is not even asked.
    assert_eq!(
        r.fetch_quote(&stock("AAPL")).await.unwrap().provider,
        "stooq"
    );
    assert_eq!(y.calls(), 3);
    // After the cool-down one probe goes through; it succeeds and closes.
    t.advance(Duration::from_secs(60));
    assert_eq!(
        r.fetch_quote(&stock("AAPL")).await.unwrap().provider,
        "yahoo"
    );
    assert_eq!(y.calls(), 4);
    assert_eq!(
        r.breaker_state("yahoo"),
        Some(BreakerState::Closed {
            consecutive_failures: 0
        })
    );
}

#[tokio::test]
async fn a_failed_probe_reopens_the_breaker() {
    let t = time();
    let y = Fake::new("yahoo", &t, STOCKS);
    let mut p = policy();
    p.max_retries = 0;
    for _ in 0..4 {
        y.then(Err(err(
            "yahoo",
            FetchErrorKind::Network,
            ErrorClass::retry_later(),
        )));
    }
    let r = registry(&t, std::slice::from_ref(&y), p);
    for _ in 0..3 {
        r.fetch_quote(&stock("AAPL")).await.unwrap_err();
    }
    let e = r.fetch_quote(&stock("AAPL")).await.unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::CircuitOpen, ErrorClass::TryNext)
    );
    t.advance(Duration::from_secs(61));
    r.fetch_quote(&stock("AAPL")).await.unwrap_err();
    assert_eq!(y.calls(), 4);
    match r.breaker_state("yahoo") {
        Some(BreakerState::Open { until }) => {
            assert_eq!(until, ts(START) + jiff::SignedDuration::from_secs(121))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_symbols_do_not_trip_the_breaker() {
    let t = time();
    let y = Fake::new("yahoo", &t, STOCKS);
    for _ in 0..5 {
        y.then(Err(err(
            "yahoo",
            FetchErrorKind::UnknownSymbol,
            ErrorClass::GiveUp,
        )));
    }
    let r = registry(&t, std::slice::from_ref(&y), policy());
    for _ in 0..5 {
        r.fetch_quote(&stock("NOPE")).await.unwrap_err();
    }
    assert_eq!(
        r.breaker_state("yahoo"),
        Some(BreakerState::Closed {
            consecutive_failures: 0
        })
    );
}

#[tokio::test]
async fn demo_is_never_a_fallback_and_demo_instruments_use_only_demo() {
    let t = time();
    let all = InstrumentKind::ALL;
    let (y, d) = (Fake::new("yahoo", &t, STOCKS), Fake::new("demo", &t, &all));
    y.then(Err(err(
        "yahoo",
        FetchErrorKind::Decode,
        ErrorClass::TryNext,
    )));
    let mut order = ProviderOrder::default();
    order.set(InstrumentKind::Stock, vec!["yahoo".into(), "demo".into()]);
    let r = Registry::new(policy(), order, t.clone())
        .with_provider(y.clone())
        .with_provider(d.clone());
    assert_eq!(r.chain(&stock("AAPL"), None), ["yahoo"]);
    r.fetch_quote(&stock("AAPL")).await.unwrap_err();
    assert_eq!(d.calls(), 0);
    let demo_inst = instrument("AAPL", InstrumentKind::Stock, Currency::USD, "demo");
    assert_eq!(r.chain(&demo_inst, None), ["demo"]);
    assert_eq!(r.fetch_quote(&demo_inst).await.unwrap().provider, "demo");
}

#[tokio::test]
async fn items_are_priced_by_hand_only() {
    let r = Registry::from_config_with_time(ProvidersConfig::new(), time()).unwrap();
    let watch = instrument(
        "ROLEX-SUB-2019",
        InstrumentKind::Item,
        Currency::EUR,
        "manual",
    );
    assert_eq!(r.chain(&watch, None), ["manual"]);
    let e = r.fetch_quote(&watch).await.unwrap_err();
    assert_eq!(
        (e.kind, e.class),
        (FetchErrorKind::Manual, ErrorClass::GiveUp)
    );
}

#[tokio::test]
async fn from_config_registers_every_provider_and_orders_by_kind() {
    let r = Registry::from_config_with_time(ProvidersConfig::new(), time()).unwrap();
    assert_eq!(r.provider_names().len(), 9);
    // No Alpha Vantage key: left out of the chains.
    assert_eq!(
        r.chain(&stock("AAPL"), Some(Interval::D1)),
        ["yahoo", "stooq"]
    );
    let btc = instrument("BTC-USD", InstrumentKind::Crypto, Currency::USD, "yahoo");
    assert_eq!(
        r.chain(&btc, Some(Interval::D1)),
        ["yahoo", "binance", "coingecko"]
    );
    let mut cfg = ProvidersConfig::new();
    cfg.alphavantage.api_key = Some("k".into());
    let r = Registry::from_config_with_time(cfg, time()).unwrap();
    assert_eq!(
        r.chain(&stock("AAPL"), Some(Interval::D1)),
        ["yahoo", "stooq", "alphavantage"]
    );
    // Intraday: Stooq has none.
    assert_eq!(
        r.chain(&stock("AAPL"), Some(Interval::M5)),
        ["yahoo", "alphavantage"]
    );
}

#[tokio::test]
async fn a_real_adapter_behind_the_registry_waits_out_a_429_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "2")
                .set_body_string(fixture("yahoo/error-429-edge-too-many-requests.txt")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("yahoo/chart-1d-AAPL-period.json")),
        )
        .mount(&server)
        .await;
    let mut cfg = ProvidersConfig::new();
    cfg.yahoo = ProviderSettings::with_base_url(server.uri());
    cfg.policy = policy();
    let t = time();
    let r = Registry::from_config_with_time(cfg, t.clone()).unwrap();
    let got = r
        .fetch_bars(
            &stock("AAPL"),
            Interval::D1,
            day("2020-01-01"),
            day("2020-01-03"),
        )
        .await
        .unwrap();
    assert_eq!(got.provider, "yahoo");
    assert_eq!(got.bars.len(), 1);
    assert_eq!(t.sleeps(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn batch_quotes_use_one_request_per_batching_provider() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("coingecko/simple-price-multi-ids-multi-vs.json")),
        )
        .mount(&server)
        .await;
    let mut cfg = ProvidersConfig::new();
    cfg.coingecko = ProviderSettings::with_base_url(server.uri());
    let mut order = ProviderOrder::default();
    order.set(InstrumentKind::Crypto, vec!["coingecko".into()]);
    cfg.order = order;
    let r = Registry::from_config_with_time(cfg, time()).unwrap();
    let btc = instrument(
        "BTC-USD",
        InstrumentKind::Crypto,
        Currency::USD,
        "coingecko",
    );
    let eth = instrument(
        "ETH-MYR",
        InstrumentKind::Crypto,
        Currency::parse("MYR").unwrap(),
        "coingecko",
    );
    let got = r.fetch_quotes(&[btc, eth]).await;
    assert_eq!(got[0].as_ref().unwrap().price, 5005.73);
    assert_eq!(got[1].as_ref().unwrap().price, 669.07);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_registry_is_a_price_source() {
    let r: Arc<dyn PriceSource> =
        Arc::new(Registry::from_config_with_time(ProvidersConfig::new(), time()).unwrap());
    let demo = instrument("DEMO-X", InstrumentKind::Etf, Currency::USD, "demo");
    let got = r
        .fetch_bars(&demo, Interval::D1, day("2024-12-01"), day("2025-01-01"))
        .await
        .unwrap();
    assert!(got.simulated);
    assert!(!got.bars.is_empty());
}
