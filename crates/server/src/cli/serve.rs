//! `pricetrack serve`.

use crate::{
    config::Settings,
    http::{self, AppState},
};
use anyhow::Context;
use pricetrack_app::auth;
use std::{net::SocketAddr, process::ExitCode, sync::Arc};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides PRICETRACK_BIND).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Do not fetch prices in the background (the API's "refresh now" still works).
    #[arg(long)]
    pub no_fetch: bool,
    /// On an empty database, create simulated demo instruments, history and a
    /// sample portfolio; the background loop then keeps them moving.
    #[arg(long)]
    pub demo: bool,
}

pub async fn run(mut settings: Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    if let Some(bind) = args.bind {
        settings.bind = bind;
    }
    let ctx = super::open_context(&settings).await?;
    if let Some(issued) = auth::bootstrap_admin(&ctx).await? {
        // Printed once, on one line, so scripts can pick it up.
        println!(
            "created user admin; API token (shown once): {}",
            issued.secret
        );
    }
    if args.demo {
        let owner = auth::user_by_name(&ctx, "admin")
            .await
            .context("the demo data belongs to the admin user")?;
        if let Some(seeded) = crate::demo::seed_if_empty(&ctx, &owner).await? {
            println!(
                "demo: created {} instruments and {} simulated bars",
                seeded.instruments, seeded.bars
            );
        }
    }
    // Portfolios are prepared while the server starts taking requests, so
    // the first page view finds its figures ready.
    pricetrack_app::portfolio_analytics::warm_everyone(&ctx);
    let (stop_fetching, stopped) = tokio::sync::watch::channel(false);
    let fetcher = if args.no_fetch {
        tracing::info!("background fetching is off (--no-fetch)");
        None
    } else {
        let tick = crate::jobs::MarketSettings::from_lookup(|k| settings.lookup(k))?.tick;
        Some(crate::jobs::spawn_refresh_loop(ctx.clone(), tick, stopped))
    };
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, backend = ctx.store.backend(), "pricetrack listening");
    println!("listening on http://{local}");
    let state = AppState::new(ctx, Arc::new(settings));
    http::serve(listener, state, shutdown_signal()).await?;
    let _ = stop_fetching.send(true);
    if let Some(handle) = fetcher {
        // A step in progress finishes its current requests; don't wait forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), handle).await;
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
