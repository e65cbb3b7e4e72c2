//! Prices that arrive by themselves: the refresh and backfill jobs, their
//! schedule, the fetch status, and the quarantine of bars that fail validation.
//!
//! Entry points: [`refresh::refresh_due`] (the step function of the
//! background loop and `pricetrack fetch --once`), [`refresh::refresh_now`]
//! (the "refresh now" API), [`backfill::backfill`] (`pricetrack backfill`),
//! [`status`], [`quarantine`] and [`events`].

pub mod backfill;
pub mod events;
mod listing;
pub mod policy;
pub mod ports;
pub mod quarantine;
pub mod refresh;
pub mod status;
pub mod watched;

pub use backfill::{BackfillObserver, backfill};
pub use policy::RefreshPolicy;
pub use refresh::{JobRun, RefreshReport, RunKind, refresh_due, refresh_now, sync_jobs};
