//! Instruments' listing dates, cached briefly for the validator: it needs the
//! date of every series in every ingest batch (a live feed's 5,000-bar batch
//! spans 500 instruments), and instruments rarely change. This process's
//! instrument changes take effect at once; another replica's within [`TTL`].

use crate::{AppContext, AppResult};
use jiff::civil::Date;
use pricetrack_domain::Symbol;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a looked-up listing date is trusted.
pub const TTL: Duration = Duration::from_secs(60);

/// Listing dates (or their absence) by symbol.
#[derive(Default)]
pub struct ListingDates {
    entries: Mutex<HashMap<Symbol, (Instant, Option<Date>)>>,
}

impl ListingDates {
    fn cached(&self, symbol: &Symbol) -> Option<Option<Date>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(symbol)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, date)| *date)
    }

    /// The instrument's listing date (`None` when unknown or no such instrument).
    pub async fn get(&self, ctx: &AppContext, symbol: &Symbol) -> AppResult<Option<Date>> {
        if let Some(date) = self.cached(symbol) {
            return Ok(date);
        }
        let date = ctx
            .store
            .get_instrument(symbol)
            .await?
            .and_then(|i| i.listing_date);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(symbol.clone(), (Instant::now(), date));
        Ok(date)
    }

    /// Drops what is known of `symbol` (it was created, changed or deleted).
    pub fn forget(&self, symbol: &Symbol) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(symbol);
    }
}
