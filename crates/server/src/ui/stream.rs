//! Live prices over Server-Sent Events: `GET /api/v1/stream?symbols=A,B`.
//!
//! Authenticated by a bearer token or the UI's session cookie. Every time bars
//! of a watched symbol are stored (`AppContext::bar_events`), one `bar` event
//! carries the new bar and the display-ready quote (last, change, change %, day
//! range, sparkline). The stream starts with a `hello` event carrying `retry:`
//! so EventSource reconnects after a restart, and sends a heartbeat comment
//! every 15 s; `X-Accel-Buffering: no` and `Cache-Control: no-cache` keep
//! reverse proxies from buffering it.
//!
//! Every event has an id, so a reconnecting EventSource sends `Last-Event-ID`;
//! such a request first gets one `bar` event with the current quote of each
//! watched symbol, making up for what was missed while it was away. Streams end
//! when the server shuts down (`AppState::shutdown`), so a graceful shutdown
//! does not wait for them.

use super::{session_from_headers, views};
use crate::http::{AppState, problem::ApiError};
use crate::shutdown::Shutdown;
use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::stream::{self, Stream, StreamExt};
use pricetrack_app::{AppContext, auth, context::BarsStored};
use pricetrack_domain::Symbol;
use serde::Deserialize;
use std::{collections::HashSet, convert::Infallible, time::Duration};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
pub struct StreamParams {
    /// Comma-separated symbols to watch (at most 500); empty or absent: all.
    pub symbols: Option<String>,
}

/// The JSON of one `bar` event.
pub async fn bar_event_json(ctx: &AppContext, e: &BarsStored) -> serde_json::Value {
    let mut out = serde_json::json!({
        "symbol": e.symbol.as_str(),
        "interval": e.interval.as_str(),
        "time": e.latest.time.to_string(),
        "open": e.latest.open,
        "high": e.latest.high,
        "low": e.latest.low,
        "close": e.latest.close,
        "volume": e.latest.volume,
    });
    if let Ok(Some(i)) = ctx.store.get_instrument(&e.symbol).await
        && let Ok(row) = views::quote_row(ctx, &i).await
    {
        add_quote(&mut out, row);
    }
    out
}

fn add_quote(out: &mut serde_json::Value, row: views::QuoteRow) {
    out["last"] = row.last.into();
    out["change"] = row.change.into();
    out["change_pct"] = row.pct.into();
    out["dir"] = row.dir.into();
    out["range"] = row.range.into();
    out["spark"] = row.spark.into();
    out["quote_time"] = row.time.into();
}

/// The catch-up event of one symbol: its current quote (no bar), or `None`
/// when it has no price yet.
async fn quote_event_json(ctx: &AppContext, symbol: &Symbol) -> Option<serde_json::Value> {
    let i = ctx.store.get_instrument(symbol).await.ok()??;
    let row = views::quote_row(ctx, &i).await.ok()?;
    if !row.has_price {
        return None;
    }
    let mut out = serde_json::json!({ "symbol": symbol.as_str(), "catch_up": true });
    add_quote(&mut out, row);
    Some(out)
}

/// Event ids are the server's time in milliseconds: unique enough for
/// `Last-Event-ID`, whose presence is what matters.
fn event_id(ctx: &AppContext) -> String {
    ctx.clock.now().as_millisecond().to_string()
}

fn bar_event(ctx: &AppContext, data: &serde_json::Value) -> Event {
    Event::default()
        .event("bar")
        .id(event_id(ctx))
        .data(data.to_string())
}

fn events(
    ctx: AppContext,
    rx: Receiver<BarsStored>,
    symbols: HashSet<Symbol>,
    catch_up: Vec<Symbol>,
    shutdown: Shutdown,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let hello = Event::default()
        .event("hello")
        .id(event_id(&ctx))
        .retry(Duration::from_secs(2))
        .data("connected");
    let hello = stream::once(async move { Ok(hello) });
    let quotes_ctx = ctx.clone();
    let quotes = stream::iter(catch_up).filter_map(move |symbol| {
        let ctx = quotes_ctx.clone();
        async move {
            let data = quote_event_json(&ctx, &symbol).await?;
            Some(Ok(bar_event(&ctx, &data)))
        }
    });
    let bars = stream::unfold((ctx, rx, symbols), |(ctx, mut rx, symbols)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if symbols.is_empty() || symbols.contains(&e.symbol) => {
                    let data = bar_event_json(&ctx, &e).await;
                    let event = bar_event(&ctx, &data);
                    return Some((Ok(event), (ctx, rx, symbols)));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    hello
        .chain(quotes)
        .chain(bars)
        .take_until(shutdown.triggered())
}

/// Live bars of the given symbols as Server-Sent Events.
#[utoipa::path(get, path = "/stream", tag = "bars", params(StreamParams),
    responses((status = 200, description = "text/event-stream of `bar` events", content_type = "text/event-stream"), (status = 401)),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<Response, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    match bearer {
        Some(token) => {
            auth::authenticate(&state.ctx, token.trim()).await?;
        }
        None => {
            if session_from_headers(&state, &headers).await?.is_none() {
                return Err(ApiError::unauthenticated());
            }
        }
    }
    let mut symbols = HashSet::new();
    for raw in params.symbols.as_deref().unwrap_or("").split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let s = Symbol::parse(raw).map_err(|e| ApiError::field("symbols", e.to_string()))?;
        symbols.insert(s);
    }
    if symbols.len() > 500 {
        return Err(ApiError::field("symbols", "at most 500 symbols per stream"));
    }
    // Subscribed before the catch-up quotes are read, so no bar falls between.
    let rx = state.ctx.bar_events.subscribe();
    let catch_up = if headers.contains_key("last-event-id") {
        let mut list: Vec<Symbol> = symbols.iter().cloned().collect();
        list.sort();
        list
    } else {
        Vec::new()
    };
    let sse = Sse::new(events(
        state.ctx.clone(),
        rx,
        symbols,
        catch_up,
        state.shutdown.clone(),
    ))
    .keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    );
    let mut response = sse.into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
