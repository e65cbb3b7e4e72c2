//! The pricetrack server as a library, so tests can start it on a pre-bound
//! listener with a fresh database.

pub mod cli;
pub mod client_address;
pub mod config;
pub mod demo;
pub mod http;
pub mod jobs;
pub mod provider_keys;
pub mod replicas;
pub mod shutdown;
pub mod telemetry;
pub mod ui;
