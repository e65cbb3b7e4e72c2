//! Logging setup: pretty for terminals, JSON for log collectors.

use crate::config::LogFormat;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber. `PRICETRACK_LOG` (or `RUST_LOG`) sets the filter.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PRICETRACK_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (e.g. in tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
}
