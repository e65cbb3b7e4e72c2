//! Bars stored by one replica, announced to the others sharing the database.
//!
//! Each bar upsert sends, inside its own transaction (so only committed bars are
//! announced), `pg_notify` on [`CHANNEL`] with the newest bar of every series it
//! wrote. Every store listens on its own connection and hands on the notices
//! whose origin is another store: the app treats them as bars stored here (live
//! streams, quote and analytics caches) without writing anything.
//!
//! Payload: the origin (16 hex digits), then one line per series
//! `SYMBOL\tINTERVAL\tUNIX_SECONDS\tOPEN\tHIGH\tLOW\tCLOSE\tVOLUME`. Symbols hold no
//! tabs or newlines, and `f64`'s `Display` round-trips exactly. PostgreSQL limits a
//! payload to 8,000 bytes, so lines are packed into notices of at most
//! [`MAX_PAYLOAD`] bytes: a batch touching 500 series costs a handful of notices.
//!
//! While the listening connection is down (a restart of PostgreSQL, a network
//! cut) notices are lost; the listener reconnects with backoff, and the caches it
//! feeds also expire on their own (see `pricetrack_app::quote_cache`).

use futures_util::{StreamExt, stream};
use jiff::Timestamp;
use pricetrack_domain::{Bar, Interval, Ohlcv, Symbol};
use std::fmt::Write;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

/// The notification channel of stored bars.
pub(super) const CHANNEL: &str = "pricetrack_bars";

/// Below PostgreSQL's 8,000-byte payload limit with room to spare.
const MAX_PAYLOAD: usize = 7_500;

/// Notices waiting for the app before the listener pauses reading.
pub(super) const QUEUE: usize = 256;

/// A random identity per store, so a store ignores its own notices (several
/// stores may live in one process, as in tests of two replicas).
pub(super) fn new_origin() -> String {
    format!("{:016x}", RandomState::new().hash_one(std::process::id()))
}

/// The notices announcing `bars`: the newest bar per series, packed.
pub(super) fn payloads(origin: &str, bars: &[Bar]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut line = String::new();
    for bar in pricetrack_domain::newest_per_series(bars) {
        line.clear();
        // Writing to a String cannot fail.
        let _ = write!(
            line,
            "\n{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            bar.symbol.as_str(),
            bar.interval.as_str(),
            bar.time.as_second(),
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume
        );
        if !current.is_empty() && current.len() + line.len() > MAX_PAYLOAD {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(origin);
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Why a notice could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoticeError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// Why the listening connection ended.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the server closed the connection")]
    Closed,
}

/// The origin of a notice and its bars.
pub(super) fn parse(payload: &str) -> Result<(&str, Vec<Bar>), NoticeError> {
    let mut lines = payload.split('\n');
    let origin = lines.next().unwrap_or_default();
    let mut bars = Vec::new();
    for (i, text) in lines.enumerate() {
        let bad = |reason: String| NoticeError::Line {
            line: i + 2,
            reason,
        };
        let fields: Vec<&str> = text.split('\t').collect();
        let [symbol, interval, time, open, high, low, close, volume] = fields[..] else {
            return Err(bad(format!("{} fields, expected 8", fields.len())));
        };
        let number = |name: &str, raw: &str| {
            raw.parse::<f64>()
                .map_err(|e| bad(format!("{name} {raw:?}: {e}")))
        };
        let symbol = Symbol::parse(symbol).map_err(|e| bad(e.to_string()))?;
        let interval: Interval = interval.parse().map_err(|e| bad(format!("{e}")))?;
        let seconds: i64 = time
            .parse()
            .map_err(|e| bad(format!("time {time:?}: {e}")))?;
        let time = Timestamp::from_second(seconds).map_err(|e| bad(e.to_string()))?;
        let ohlcv = Ohlcv {
            open: number("open", open)?,
            high: number("high", high)?,
            low: number("low", low)?,
            close: number("close", close)?,
            volume: number("volume", volume)?,
        };
        bars.push(Bar::new(symbol, interval, time, ohlcv).map_err(|e| bad(e.to_string()))?);
    }
    Ok((origin, bars))
}

/// Listens on [`CHANNEL`] until `tx` is closed, reconnecting after failures, and
/// sends the bars of every notice from another origin.
pub(super) async fn listen(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    origin: String,
    tx: mpsc::Sender<Vec<Bar>>,
) {
    let mut backoff = Duration::from_millis(250);
    while !tx.is_closed() {
        match listen_once(&config, tls.clone(), &origin, &tx).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "bar notice listener lost its connection");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = tx.closed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// One connection's worth of listening; `Ok` once nobody reads the bars.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    origin: &str,
    tx: &mpsc::Sender<Vec<Bar>>,
) -> Result<(), ListenError> {
    let (client, mut connection) = config.connect(tls).await?;
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    // The connection only makes progress while it is polled, LISTEN included.
    let statement = format!("LISTEN {CHANNEL}");
    let listening = client.batch_execute(&statement);
    tokio::pin!(listening);
    let mut listened = false;
    loop {
        tokio::select! {
            done = &mut listening, if !listened => {
                listened = true;
                done?;
                tracing::debug!("listening for other replicas' bars");
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANNEL => {
                    match parse(n.payload()) {
                        Ok((from, _)) if from == origin => {}
                        Ok((_, bars)) if bars.is_empty() => {}
                        Ok((_, bars)) => {
                            if tx.send(bars).await.is_err() {
                                return Ok(());
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "skipping an unreadable bar notice"),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ListenError::Closed),
            },
            _ = tx.closed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(symbol: &str, minute: i64, close: f64) -> Bar {
        Bar::new(
            Symbol::parse(symbol).unwrap(),
            Interval::M5,
            Timestamp::from_second(1_700_000_100 + minute * 60).unwrap(),
            Ohlcv {
                open: close,
                high: close * 1.01,
                low: close * 0.99,
                close,
                volume: 12.5,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_notice_carries_the_newest_bar_of_each_series_exactly() {
        let bars = [
            bar("AAPL", 5, 190.1),
            bar("AAPL", 0, 189.7),
            bar("GC=F", 0, 2_031.400_000_000_1),
        ];
        let notices = payloads("00000000000000ab", &bars);
        assert_eq!(notices.len(), 1);
        let (origin, mut got) = parse(&notices[0]).unwrap();
        assert_eq!(origin, "00000000000000ab");
        got.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        assert_eq!(got, vec![bars[0].clone(), bars[2].clone()]);
    }

    #[test]
    fn many_series_are_split_into_notices_under_the_payload_limit() {
        let bars: Vec<Bar> = (0..500)
            .map(|i| bar(&format!("SYM{i}"), 0, 100.0 + f64::from(i) / 7.0))
            .collect();
        let notices = payloads("0123456789abcdef", &bars);
        assert!(notices.len() > 1 && notices.len() < 20, "{}", notices.len());
        let mut seen = 0;
        for notice in &notices {
            assert!(notice.len() <= MAX_PAYLOAD, "{}", notice.len());
            let (origin, bars) = parse(notice).unwrap();
            assert_eq!(origin, "0123456789abcdef");
            seen += bars.len();
        }
        assert_eq!(seen, 500);
    }

    #[test]
    fn a_malformed_notice_is_an_error_naming_the_line() {
        let err = parse("0123456789abcdef\nAAPL\t5m\t1700000100\t1\t2").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse("0123456789abcdef\nAAPL\t5m\t1700000100\t1\t0.5\t2\t1\t0").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
