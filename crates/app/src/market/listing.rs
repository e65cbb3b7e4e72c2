//! Listing dates learnt from providers. The validator quarantines bars dated
//! before an instrument's listing; most users never type a listing date, but
//! Yahoo's chart metadata carries the first trading day. An instrument without
//! one adopts it — never later than a bar already stored or just fetched, so
//! nothing accepted before becomes implausible after.

use crate::context::AppContext;
use crate::error::AppResult;
use crate::ports::BarRange;
use jiff::{Timestamp, civil::Date};
use pricetrack_domain::{Bar, Instrument, Interval};

/// Sets `instrument`'s listing date from `first_trade_date` when it has none.
pub(crate) async fn adopt_first_trade_date(
    ctx: &AppContext,
    instrument: &Instrument,
    first_trade_date: Option<Date>,
    fetched: &[Bar],
) -> AppResult<()> {
    let (None, Some(first_trade)) = (instrument.listing_date, first_trade_date) else {
        return Ok(());
    };
    let mut earliest = fetched.iter().map(Bar::date).min();
    for interval in Interval::ALL {
        let oldest = ctx
            .store
            .bars(
                &instrument.symbol,
                interval,
                BarRange {
                    from: Some(Timestamp::MIN),
                    to: None,
                    limit: Some(1),
                },
            )
            .await?;
        earliest = earliest
            .into_iter()
            .chain(oldest.iter().map(Bar::date))
            .min();
    }
    let listing = earliest.map_or(first_trade, |e| e.min(first_trade));
    // Re-read: the instrument may have been edited since this fetch began.
    let Some(current) = ctx.store.get_instrument(&instrument.symbol).await? else {
        return Ok(());
    };
    if current.listing_date.is_some() {
        return Ok(());
    }
    let updated = current.with_listing_date(Some(listing));
    ctx.store.update_instrument(&updated).await?;
    ctx.listing_dates.forget(&instrument.symbol);
    ctx.quotes.forget(&instrument.symbol);
    tracing::info!(symbol = %instrument.symbol, %listing, "listing date taken from the provider's first trading day");
    Ok(())
}
