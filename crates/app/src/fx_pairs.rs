//! FX pair instruments that register themselves. The analytics convert with
//! rates stored as ordinary `fx` instruments (`USDEUR=X`); when a ledger
//! change or a new base currency needs a conversion no stored pair answers
//! (directly, inverted, or crossed through USD or EUR), the pair is added
//! here as a system action — whoever's transaction needed it — and the
//! refresh job backfills it like any instrument added through the API.
//!
//! Adding a pair never fails the write that needed it: the ledger change is
//! committed first, and a failure here is logged.

use crate::context::AppContext;
use crate::portfolio_analytics::{fx_candidates, fx_symbol};
use crate::ports::{StoreError, StoreResult};
use crate::settings::provider_suggestions;
use pricetrack_domain::{Currency, Instrument, InstrumentKind, ProviderName, Symbol, Transaction};
use std::collections::BTreeSet;

/// Whether FX providers quote this currency against others: ISO fiat codes.
/// Crypto assets are priced as instruments in their own quote currency, and
/// the metals XAU/XAG are commodities, not currency pairs.
pub fn has_fx_market(currency: Currency) -> bool {
    !currency.is_crypto() && !matches!(currency.as_str(), "XAU" | "XAG")
}

/// Whether the stored symbols answer `from → to`: the pair, its inverse, or a
/// cross through USD or EUR with both legs stored (as the rate lookup does).
fn answered(from: Currency, to: Currency, stored: &BTreeSet<Symbol>) -> bool {
    let either = |a: Currency, b: Currency| {
        [fx_symbol(a, b), fx_symbol(b, a)]
            .into_iter()
            .flatten()
            .any(|s| stored.contains(&s))
    };
    either(from, to)
        || [Currency::USD, Currency::EUR]
            .into_iter()
            .filter(|p| *p != from && *p != to)
            .any(|pivot| either(from, pivot) && either(pivot, to))
}

/// The FX pair symbols to add so that every one of `currencies` converts into
/// `base`, given the symbols of the stored instruments. Each is the direct
/// pair `{FROM}{BASE}=X`, the form the rate lookup tries first.
pub fn pairs_needed(
    currencies: &BTreeSet<Currency>,
    base: Currency,
    stored: &BTreeSet<Symbol>,
) -> Vec<Symbol> {
    if !has_fx_market(base) {
        return Vec::new();
    }
    currencies
        .iter()
        .filter(|c| **c != base && has_fx_market(**c))
        .filter(|c| !answered(**c, base, stored))
        .filter_map(|c| fx_symbol(*c, base))
        .collect()
}

/// The instrument for the pair 1 `from` in `to`: kind `fx`, quoted in `to`,
/// fetched from the fx kind's default provider order.
pub fn pair_instrument(from: Currency, to: Currency) -> Option<Instrument> {
    let symbol = fx_symbol(from, to)?;
    let provider = provider_suggestions(InstrumentKind::Fx)
        .first()
        .and_then(|p| ProviderName::parse(p).ok())?;
    Instrument::new(
        symbol,
        format!("{from}/{to}"),
        InstrumentKind::Fx,
        to,
        None,
        provider,
        None,
    )
    .ok()
}

/// What converting some transactions into a base needs: their currencies
/// and the instruments whose quote currencies count as well.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversions {
    currencies: BTreeSet<Currency>,
    symbols: BTreeSet<Symbol>,
}

impl Conversions {
    pub fn of<'a>(transactions: impl IntoIterator<Item = &'a Transaction>) -> Self {
        let mut out = Self::default();
        for t in transactions {
            out.currencies.insert(t.currency);
            if let Some(s) = t.symbol() {
                out.symbols.insert(s.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.currencies.is_empty() && self.symbols.is_empty()
    }

    /// The currencies, with the instruments' quote currencies added.
    async fn currencies(&self, ctx: &AppContext) -> StoreResult<BTreeSet<Currency>> {
        let mut currencies = self.currencies.clone();
        for symbol in &self.symbols {
            if let Some(instrument) = ctx.store.get_instrument(symbol).await? {
                currencies.insert(instrument.currency);
            }
        }
        Ok(currencies)
    }
}

/// Adds the FX pairs converting `needs` into `base` requires. Errors are
/// logged, never returned: the write that called this is already committed.
pub async fn ensure_for(ctx: &AppContext, base: Currency, needs: &Conversions) {
    if needs.is_empty() {
        return;
    }
    if let Err(e) = try_ensure_for(ctx, base, needs).await {
        tracing::warn!(error = %e, %base, "could not add the FX pairs a portfolio needs");
    }
}

async fn try_ensure_for(ctx: &AppContext, base: Currency, needs: &Conversions) -> StoreResult<()> {
    let currencies = needs.currencies(ctx).await?;
    let candidates: BTreeSet<Symbol> = currencies
        .iter()
        .filter(|c| **c != base)
        .flat_map(|c| fx_candidates(*c, base))
        .collect();
    let mut stored = BTreeSet::new();
    for symbol in candidates {
        if ctx.store.get_instrument(&symbol).await?.is_some() {
            stored.insert(symbol);
        }
    }
    for symbol in pairs_needed(&currencies, base, &stored) {
        let Some(instrument) = currencies
            .iter()
            .find(|c| fx_symbol(**c, base).as_ref() == Some(&symbol))
            .and_then(|from| pair_instrument(*from, base))
        else {
            continue;
        };
        create_if_absent(ctx, &instrument).await?;
    }
    Ok(())
}

/// Creates the instrument unless it exists. A concurrent request that created
/// it first (a unique conflict) is success: either way the pair is stored.
async fn create_if_absent(ctx: &AppContext, instrument: &Instrument) -> StoreResult<()> {
    let created = ctx.store.create_instrument(instrument).await;
    // After the write, as the admin path does: a listing-date lookup racing
    // it cannot keep the "no such instrument" answer.
    ctx.listing_dates.forget(&instrument.symbol);
    match created {
        Ok(()) => {
            tracing::info!(symbol = %instrument.symbol, "added the FX pair a portfolio needs");
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    #[test]
    fn a_foreign_currency_needs_the_direct_pair_into_the_base() {
        let needed = pairs_needed(&set(&[Currency::USD]), Currency::EUR, &BTreeSet::new());
        assert_eq!(needed, vec![sym("USDEUR=X")]);
    }

    #[test]
    fn the_base_currency_itself_needs_nothing() {
        let needed = pairs_needed(&set(&[Currency::EUR]), Currency::EUR, &BTreeSet::new());
        assert!(needed.is_empty());
    }

    #[test]
    fn a_stored_pair_or_its_inverse_answers_the_conversion() {
        let currencies = set(&[Currency::USD]);
        for stored in ["USDEUR=X", "EURUSD=X"] {
            let needed = pairs_needed(&currencies, Currency::EUR, &set(&[sym(stored)]));
            assert!(needed.is_empty(), "{stored}");
        }
    }

    #[test]
    fn a_cross_through_usd_or_eur_with_both_legs_stored_answers_the_conversion() {
        // GBP → CHF through USD: GBPUSD=X and the inverse leg CHFUSD=X.
        let stored = set(&[sym("GBPUSD=X"), sym("CHFUSD=X")]);
        assert!(pairs_needed(&set(&[Currency::GBP]), Currency::CHF, &stored).is_empty());
        // One leg only is not enough.
        let one_leg = set(&[sym("GBPUSD=X")]);
        assert_eq!(
            pairs_needed(&set(&[Currency::GBP]), Currency::CHF, &one_leg),
            vec![sym("GBPCHF=X")]
        );
    }

    #[test]
    fn crypto_and_metals_get_no_fx_pair() {
        let none = BTreeSet::new();
        let currencies = set(&[cur("BTC"), cur("XAU"), Currency::USD]);
        assert_eq!(
            pairs_needed(&currencies, Currency::CHF, &none),
            vec![sym("USDCHF=X")]
        );
        assert!(pairs_needed(&set(&[Currency::USD]), cur("BTC"), &none).is_empty());
    }

    #[test]
    fn the_pair_instrument_is_fx_quoted_in_its_second_currency() {
        let i = pair_instrument(Currency::USD, Currency::EUR).unwrap();
        assert_eq!(i.symbol, sym("USDEUR=X"));
        assert_eq!(i.kind, InstrumentKind::Fx);
        assert_eq!(i.currency, Currency::EUR);
        assert_eq!(i.name, "USD/EUR");
        assert_eq!(i.provider.as_str(), "yahoo");
    }
}
