//! Fetch status: what is fetched from where, when it last worked, what failed
//! and when it is next due, per series.

use super::policy::is_fetchable;
use crate::context::AppContext;
use crate::error::AppResult;
use crate::ports::FetchJob;
use pricetrack_domain::{Instrument, Symbol};
use serde::Serialize;

/// The fetch status of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentStatus {
    pub instrument: Instrument,
    /// False for instruments priced by hand: nothing is ever fetched.
    pub fetched: bool,
    /// Prices are generated (the `demo` provider), never real.
    pub simulated: bool,
    /// One entry per series (interval), ordered by interval.
    pub series: Vec<FetchJob>,
}

/// The status of one instrument (404 when it does not exist).
pub async fn instrument_status(ctx: &AppContext, symbol: &Symbol) -> AppResult<InstrumentStatus> {
    let instrument = crate::instruments::get_instrument(ctx, symbol).await?;
    let series = ctx.store.list_fetch_jobs(Some(symbol)).await?;
    Ok(InstrumentStatus {
        fetched: is_fetchable(&instrument),
        simulated: instrument.provider.as_str() == "demo" || series.iter().any(|s| s.simulated),
        instrument,
        series,
    })
}

/// Every series' status, ordered by symbol and interval.
pub async fn all_series(ctx: &AppContext) -> AppResult<Vec<FetchJob>> {
    Ok(ctx.store.list_fetch_jobs(None).await?)
}
