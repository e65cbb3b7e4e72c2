//! Adapter and registry tests against local fake servers replaying recorded
//! provider responses. No test reaches the internet.

mod alphavantage;
mod binance;
mod coingecko;
mod common;
mod config;
mod demo;
mod errors;
mod finnhub;
mod registry;
mod stooq;
mod url_source;
mod yahoo;
