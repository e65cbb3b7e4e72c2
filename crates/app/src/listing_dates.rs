//! What the validator needs to know of an instrument, cached briefly: its
//! listing date, whether its kind can split, and its known splits (and
//! whether its prices are simulated, for labelling reads). The
//! validator needs them for every series in every ingest batch (a live feed's
//! 5,000-bar batch spans 500 instruments), and they rarely change. This
//! process's changes take effect at once; another replica's within [`TTL`].

use crate::{AppContext, AppResult};
use jiff::civil::Date;
use pricetrack_domain::{
    Symbol,
    validation::{KnownSplit, kind_can_split},
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How long looked-up facts are trusted.
pub const TTL: Duration = Duration::from_secs(60);

/// The validator's facts about one instrument.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidationFacts {
    /// `None` when unknown (or no such instrument).
    pub listing_date: Option<Date>,
    /// False for kinds that never split (crypto, FX).
    pub splits_possible: bool,
    /// Known splits, oldest first.
    pub splits: Arc<[KnownSplit]>,
    /// Prices are generated (the `demo` provider), for labelling reads.
    pub simulated: bool,
}

/// Validation facts by symbol.
#[derive(Default)]
pub struct ListingDates {
    entries: Mutex<HashMap<Symbol, (Instant, ValidationFacts)>>,
}

impl ListingDates {
    fn cached(&self, symbol: &Symbol) -> Option<ValidationFacts> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(symbol)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, facts)| facts.clone())
    }

    /// The instrument's listing date (`None` when unknown or no such instrument).
    pub async fn get(&self, ctx: &AppContext, symbol: &Symbol) -> AppResult<Option<Date>> {
        Ok(self.facts(ctx, symbol).await?.listing_date)
    }

    /// Everything the validator needs to know of `symbol`.
    pub async fn facts(&self, ctx: &AppContext, symbol: &Symbol) -> AppResult<ValidationFacts> {
        if let Some(facts) = self.cached(symbol) {
            return Ok(facts);
        }
        let facts = match ctx.store.get_instrument(symbol).await? {
            None => ValidationFacts::default(),
            Some(instrument) => {
                let mut splits: Vec<KnownSplit> = ctx
                    .store
                    .corporate_events(symbol)
                    .await?
                    .iter()
                    .filter_map(|e| e.event.known_split())
                    .collect();
                splits.sort_by_key(|s| s.date);
                ValidationFacts {
                    listing_date: instrument.listing_date,
                    splits_possible: kind_can_split(instrument.kind),
                    splits: splits.into(),
                    simulated: instrument.provider.as_str() == "demo",
                }
            }
        };
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(symbol.clone(), (Instant::now(), facts.clone()));
        Ok(facts)
    }

    /// Drops what is known of `symbol` (it was created, changed or deleted,
    /// or a corporate event of it was recorded).
    pub fn forget(&self, symbol: &Symbol) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(symbol);
    }
}
