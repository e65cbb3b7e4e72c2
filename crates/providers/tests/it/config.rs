use pricetrack_domain::InstrumentKind;
use pricetrack_providers::{ConfigError, ProvidersConfig, config::CoinGeckoPlan};
use std::{collections::HashMap, time::Duration};

fn from(vars: &[(&str, &str)]) -> Result<ProvidersConfig, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ProvidersConfig::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn base_urls_and_keys_come_from_the_environment() {
    let cfg = from(&[
        (
            "PRICETRACK_PROVIDER_YAHOO_BASE_URL",
            "http://127.0.0.1:9001",
        ),
        ("PRICETRACK_PROVIDER_ALPHAVANTAGE_API_KEY", "secret"),
        ("PRICETRACK_PROVIDER_COINGECKO_PLAN", "pro"),
        ("PRICETRACK_PROVIDER_TIMEOUT_SECS", "2.5"),
        ("PRICETRACK_PROVIDER_ORDER_STOCK", "stooq, yahoo"),
        ("PRICETRACK_PROVIDER_BREAKER_THRESHOLD", "9"),
    ])
    .unwrap();
    assert_eq!(cfg.yahoo.base_url.as_deref(), Some("http://127.0.0.1:9001"));
    assert_eq!(cfg.stooq.base_url, None, "real host by default");
    assert_eq!(cfg.alphavantage.api_key.as_deref(), Some("secret"));
    assert_eq!(cfg.coingecko_plan, CoinGeckoPlan::Pro);
    assert_eq!(cfg.timeout, Duration::from_millis(2500));
    assert_eq!(cfg.order.get(InstrumentKind::Stock), ["stooq", "yahoo"]);
    assert_eq!(cfg.policy.breaker_threshold, 9);
    assert!(!format!("{cfg:?}").contains("secret"), "keys never printed");
}

#[test]
fn bad_values_are_refused_with_the_key_named() {
    let e = from(&[("PRICETRACK_PROVIDER_STOOQ_BASE_URL", "ftp://x")]).unwrap_err();
    assert!(
        e.to_string().contains("PRICETRACK_PROVIDER_STOOQ_BASE_URL"),
        "{e}"
    );
    let e = from(&[("PRICETRACK_PROVIDER_ORDER_CRYPTO", "binance,kraken")]).unwrap_err();
    assert!(e.to_string().contains("kraken"), "{e}");
    assert!(from(&[("PRICETRACK_PROVIDER_TIMEOUT_SECS", "-1")]).is_err());
    assert!(from(&[("PRICETRACK_PROVIDER_URL_SOURCES", "[1]")]).is_err());
}

#[test]
fn url_sources_are_read_as_json() {
    let cfg = from(&[(
        "PRICETRACK_PROVIDER_URL_SOURCES",
        r#"{"GOLD-COIN": {"url": "https://example.test/{SYMBOL}", "extract": {"regex": "([0-9.,]+) EUR"}}}"#,
    )])
    .unwrap();
    assert_eq!(cfg.url_sources.len(), 1);
}

#[test]
fn an_empty_environment_is_the_default() {
    let cfg = from(&[]).unwrap();
    assert_eq!(cfg.yahoo.base_url, None);
    assert_eq!(
        cfg.order.get(InstrumentKind::Crypto),
        ["binance", "coingecko", "yahoo"]
    );
    assert_eq!(cfg.order.get(InstrumentKind::Item), ["manual"]);
}
