use jiff::Timestamp;
use pricetrack_app::ports::{Clock, FixedClock};
use pricetrack_domain::{Currency, Instrument, InstrumentKind, ProviderName, Symbol};
use pricetrack_providers::AdapterConfig;
use std::{sync::Arc, time::Duration};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// A recorded provider response from `shared/fixtures/providers/`.
pub fn fixture(rel: &str) -> String {
    let p = format!(
        "{}/../../../shared/fixtures/providers/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// A fixture of this crate (`tests/fixtures/`).
pub fn local_fixture(rel: &str) -> String {
    let p = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn day(s: &str) -> Timestamp {
    pricetrack_domain::date_key(s.parse().unwrap())
}

pub fn instrument(sym: &str, kind: InstrumentKind, ccy: Currency, provider: &str) -> Instrument {
    Instrument::new(
        Symbol::parse(sym).unwrap(),
        format!("{sym} test"),
        kind,
        ccy,
        None,
        ProviderName::parse(provider).unwrap(),
        None,
    )
    .unwrap()
}

pub fn stock(sym: &str) -> Instrument {
    instrument(sym, InstrumentKind::Stock, Currency::USD, "yahoo")
}

pub fn clock(at: &str) -> Arc<dyn Clock> {
    Arc::new(FixedClock::new(ts(at)))
}

/// Adapter settings pointed at a fake server, with a fixed clock.
pub fn adapter(base: &str, now: &str) -> AdapterConfig {
    AdapterConfig::new(base)
        .with_clock(clock(now))
        .with_timeout(Duration::from_secs(5))
}

/// A server answering every GET with `status` and `body`.
pub async fn serve(status: u16, body: impl Into<String>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body.into()))
        .mount(&server)
        .await;
    server
}

/// A server answering every GET with a recorded file.
pub async fn serve_fixture(status: u16, rel: &str) -> MockServer {
    serve(status, fixture(rel)).await
}

/// The query parameters of the `n`th request the server received.
pub async fn query_of(server: &MockServer, n: usize) -> Vec<(String, String)> {
    let reqs = server.received_requests().await.unwrap_or_default();
    reqs.get(n)
        .map(|r| {
            r.url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn param(q: &[(String, String)], key: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// A raw TCP server that promises `declared` bytes, sends `body` and hangs up:
/// a truncated response.
pub async fn truncated_server(body: &'static str, declared: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Serve a bounded number of connections, then stop.
        for _ in 0..8 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n"
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    format!("http://{addr}")
}
