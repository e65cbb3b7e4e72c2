//! Pricetrack's use cases. Every entry point (HTTP API, web UI, CLI, background
//! jobs) calls these functions with an explicit [`AppContext`].

pub mod analytics;
pub mod auth;
pub mod bar_input;
pub mod bars;
pub mod context;
pub mod error;
pub mod exports;
pub mod fx_pairs;
pub mod imports;
pub mod instruments;
pub mod listing_dates;
pub mod market;
pub mod market_data;
pub mod newest_closes;
pub mod portfolio_analytics;
pub mod portfolios;
pub mod ports;
pub mod quote_cache;
pub mod reference_cases;
pub mod sessions;
pub mod settings;
pub mod watchlists;

pub use context::AppContext;
pub use error::{AppError, AppResult, FieldError};
