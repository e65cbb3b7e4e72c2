//! Conversions between domain values and the flat columns both backends store.
//! Decoding never panics: bad data becomes [`StoreError::Corrupt`] naming the column.

use jiff::Timestamp;
use pricetrack_app::ports::{RecordedTransaction, Role, StoreError, StoreResult};
use pricetrack_domain::{
    Amount, Bar, Currency, Instrument, InstrumentKind, Interval, Ohlcv, Price, ProviderName,
    Quantity, SplitRatio, Symbol, Transaction, TransactionId, TransactionKind, TransactionType,
};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

pub(crate) fn corrupt(column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {detail}"))
}

/// Non-bar timestamps keep microseconds in both backends (PostgreSQL's precision);
/// truncating here makes both agree on what is stored.
pub(crate) fn micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

pub(crate) fn truncate_to_micros(ts: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts)
}

pub(crate) fn from_micros(column: &str, v: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| corrupt(column, e))
}

pub(crate) fn from_seconds(column: &str, v: i64) -> StoreResult<Timestamp> {
    Timestamp::from_second(v).map_err(|e| corrupt(column, e))
}

pub(crate) fn symbol(column: &str, raw: &str) -> StoreResult<Symbol> {
    Symbol::parse(raw).map_err(|e| corrupt(column, e))
}

pub(crate) fn currency(column: &str, raw: &str) -> StoreResult<Currency> {
    Currency::parse(raw).map_err(|e| corrupt(column, e))
}

pub(crate) fn role(column: &str, raw: &str) -> StoreResult<Role> {
    Role::parse(raw).ok_or_else(|| corrupt(column, format!("unknown role {raw:?}")))
}

/// Canonical decimal text for SQLite: normalized, so equal amounts are equal strings.
pub(crate) fn decimal_text(d: Decimal) -> String {
    d.normalize().to_string()
}

pub(crate) fn parse_decimal_text(column: &str, raw: &str) -> StoreResult<Decimal> {
    Decimal::from_str_exact(raw).map_err(|e| corrupt(column, format!("{raw:?}: {e}")))
}

/// How precisely a token's last use is recorded: authenticating with a token
/// writes at most once per this span, so reads do not become writes.
pub(crate) const TOKEN_USE_RESOLUTION: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Whether a token last used at `last_used` should record a use at `now`.
pub(crate) fn token_use_is_stale(last_used: Option<Timestamp>, now: Timestamp) -> bool {
    last_used.is_none_or(|t| now.duration_since(t) >= TOKEN_USE_RESOLUTION)
}

/// The stored columns of an instrument, as text.
pub(crate) struct InstrumentRow {
    pub symbol: String,
    pub name: String,
    pub kind: String,
    pub currency: String,
    pub exchange: Option<String>,
    pub provider: String,
    pub provider_symbol: Option<String>,
    pub listing_date: Option<jiff::civil::Date>,
    /// The `url` provider's source as JSON (the environment's shape).
    pub url_source: Option<String>,
}

/// An instrument's URL source as the JSON text both backends store.
pub(crate) fn url_source_json(i: &Instrument) -> StoreResult<Option<String>> {
    i.url_source
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::backend("encoding instruments.url_source", e))
}

impl InstrumentRow {
    pub fn into_instrument(self) -> StoreResult<Instrument> {
        let kind: InstrumentKind = self
            .kind
            .parse()
            .map_err(|e| corrupt("instruments.kind", e))?;
        let provider =
            ProviderName::parse(&self.provider).map_err(|e| corrupt("instruments.provider", e))?;
        let url_source = self
            .url_source
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("instruments.url_source", e))?;
        Instrument::new(
            symbol("instruments.symbol", &self.symbol)?,
            self.name,
            kind,
            currency("instruments.currency", &self.currency)?,
            self.exchange,
            provider,
            self.provider_symbol,
        )
        .map(|i| {
            i.with_listing_date(self.listing_date)
                .with_url_source(url_source)
        })
        .map_err(|e| corrupt("instruments", e))
    }
}

/// A transaction flattened to the columns of the `transactions` table.
/// Money is kept as [`Decimal`]; each backend chooses its column type.
#[derive(Debug, Clone, Default)]
pub(crate) struct TxColumns {
    pub time: Option<Timestamp>,
    pub kind: String,
    pub symbol: Option<Symbol>,
    pub quantity: Option<Decimal>,
    pub price: Option<Decimal>,
    pub fee: Option<Decimal>,
    pub amount: Option<Decimal>,
    pub tax: Option<Decimal>,
    pub ratio: Option<String>,
    pub currency: String,
    pub note: String,
}

impl TxColumns {
    pub fn from_transaction(tx: &Transaction) -> Self {
        let mut c = TxColumns {
            time: Some(truncate_to_micros(tx.time)),
            kind: tx.transaction_type().as_str().to_owned(),
            symbol: tx.symbol().cloned(),
            currency: tx.currency.as_str().to_owned(),
            note: tx.note.clone(),
            ..Default::default()
        };
        match &tx.kind {
            TransactionKind::Buy {
                quantity,
                price,
                fee,
                tax,
                ..
            }
            | TransactionKind::Sell {
                quantity,
                price,
                fee,
                tax,
                ..
            } => {
                c.quantity = Some(quantity.value());
                c.price = Some(price.value());
                c.fee = Some(fee.value());
                c.tax = Some(tax.value());
            }
            TransactionKind::TransferIn {
                quantity,
                price,
                fee,
                ..
            }
            | TransactionKind::TransferOut {
                quantity,
                price,
                fee,
                ..
            } => {
                c.quantity = Some(quantity.value());
                c.price = Some(price.value());
                c.fee = Some(fee.value());
            }
            TransactionKind::Dividend {
                amount,
                tax_withheld,
                ..
            }
            | TransactionKind::Interest {
                amount,
                tax_withheld,
            } => {
                c.amount = Some(amount.value());
                c.tax = Some(tax_withheld.value());
            }
            TransactionKind::Fee { amount, .. }
            | TransactionKind::Tax { amount, .. }
            | TransactionKind::Deposit { amount }
            | TransactionKind::Withdrawal { amount } => c.amount = Some(amount.value()),
            TransactionKind::Split { ratio, .. } => c.ratio = Some(ratio.to_string()),
        }
        c
    }

    /// Rebuilds the domain transaction, checking each kind has exactly its fields.
    pub fn into_recorded(self, id: i64) -> StoreResult<RecordedTransaction> {
        let time = self
            .time
            .ok_or_else(|| corrupt("transactions.time", "missing"))?;
        let kind_type: TransactionType = self
            .kind
            .parse()
            .map_err(|e| corrupt("transactions.type", e))?;
        let sym = || {
            self.symbol
                .clone()
                .ok_or_else(|| corrupt("transactions.instrument_id", "missing instrument"))
        };
        let dec = |column: &'static str, v: Option<Decimal>| {
            v.ok_or_else(|| corrupt(column, format!("missing for a {} transaction", self.kind)))
        };
        let quantity = || {
            Quantity::new(dec("transactions.quantity", self.quantity)?)
                .map_err(|e| corrupt("transactions.quantity", e))
        };
        let price = || {
            Price::new(dec("transactions.price", self.price)?)
                .map_err(|e| corrupt("transactions.price", e))
        };
        let amount = |column: &'static str, v: Option<Decimal>| {
            Amount::new(dec(column, v)?).map_err(|e| corrupt(column, e))
        };
        // Trades recorded before trade taxes existed have no tax: 0.
        let trade_tax = || match self.tax {
            Some(_) => amount("transactions.tax", self.tax),
            None => Ok(Amount::ZERO),
        };
        let kind = match kind_type {
            TransactionType::Buy => TransactionKind::Buy {
                symbol: sym()?,
                quantity: quantity()?,
                price: price()?,
                fee: amount("transactions.fee", self.fee)?,
                tax: trade_tax()?,
            },
            TransactionType::Sell => TransactionKind::Sell {
                symbol: sym()?,
                quantity: quantity()?,
                price: price()?,
                fee: amount("transactions.fee", self.fee)?,
                tax: trade_tax()?,
            },
            TransactionType::TransferIn => TransactionKind::TransferIn {
                symbol: sym()?,
                quantity: quantity()?,
                price: price()?,
                fee: amount("transactions.fee", self.fee)?,
            },
            TransactionType::TransferOut => TransactionKind::TransferOut {
                symbol: sym()?,
                quantity: quantity()?,
                price: price()?,
                fee: amount("transactions.fee", self.fee)?,
            },
            TransactionType::Dividend => TransactionKind::Dividend {
                symbol: sym()?,
                amount: amount("transactions.amount", self.amount)?,
                tax_withheld: amount("transactions.tax", self.tax)?,
            },
            TransactionType::Interest => TransactionKind::Interest {
                amount: amount("transactions.amount", self.amount)?,
                tax_withheld: amount("transactions.tax", self.tax)?,
            },
            TransactionType::Fee => TransactionKind::Fee {
                symbol: self.symbol.clone(),
                amount: amount("transactions.amount", self.amount)?,
            },
            TransactionType::Tax => TransactionKind::Tax {
                symbol: self.symbol.clone(),
                amount: amount("transactions.amount", self.amount)?,
            },
            TransactionType::Deposit => TransactionKind::Deposit {
                amount: amount("transactions.amount", self.amount)?,
            },
            TransactionType::Withdrawal => TransactionKind::Withdrawal {
                amount: amount("transactions.amount", self.amount)?,
            },
            TransactionType::Split => {
                let raw = self
                    .ratio
                    .as_deref()
                    .ok_or_else(|| corrupt("transactions.ratio", "missing for a split"))?;
                TransactionKind::Split {
                    symbol: sym()?,
                    ratio: raw
                        .parse::<SplitRatio>()
                        .map_err(|e| corrupt("transactions.ratio", e))?,
                }
            }
        };
        let transaction = Transaction::new(
            time,
            currency("transactions.currency", &self.currency)?,
            self.note,
            kind,
        )
        .map_err(|e| corrupt("transactions.note", e))?;
        Ok(RecordedTransaction {
            id: TransactionId(id),
            transaction,
        })
    }
}

/// Bars of one call, resolved to instrument ids, sorted by key and deduplicated
/// (the last of equal keys wins, as if they had been written one after another).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BarRow {
    pub instrument_id: i32,
    pub interval: i16,
    /// Bar start, epoch seconds (sub-second parts are dropped).
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl BarRow {
    pub fn key(&self) -> (i32, i16, i64) {
        (self.instrument_id, self.interval, self.time)
    }
}

/// Drops all but the last of each run of equal keys in sorted rows.
fn dedup_keep_last(rows: &mut Vec<BarRow>) {
    // `dedup_by` keeps the first of a run; swap so the later one survives.
    rows.dedup_by(|later, earlier| {
        if later.key() == earlier.key() {
            std::mem::swap(later, earlier);
            true
        } else {
            false
        }
    });
}

/// The bars of one `upsert_bars` call before their symbols are resolved:
/// distinct symbols, and rows whose `instrument_id` is still an index into `symbols`.
pub(crate) struct BarBatch {
    pub symbols: Vec<Symbol>,
    pub rows: Vec<BarRow>,
}

impl BarBatch {
    pub fn from_bars(bars: &[Bar]) -> Self {
        let mut index: FxHashMap<&str, i32> = FxHashMap::default();
        let mut symbols = Vec::new();
        let rows = bars
            .iter()
            .map(|bar| {
                let next = i32::try_from(symbols.len()).unwrap_or(i32::MAX);
                let idx = *index.entry(bar.symbol.as_str()).or_insert_with(|| {
                    symbols.push(bar.symbol.clone());
                    next
                });
                BarRow {
                    instrument_id: idx,
                    interval: bar.interval.code(),
                    time: floor_second(bar.time),
                    open: bar.open,
                    high: bar.high,
                    low: bar.low,
                    close: bar.close,
                    volume: bar.volume,
                }
            })
            .collect();
        Self { symbols, rows }
    }

    /// Replaces symbol indexes by instrument ids (`ids[i]` is the id of `symbols[i]`),
    /// then sorts by key and drops duplicates (the last of equal keys wins).
    ///
    /// A feed interleaves instruments but keeps each one's bars in time order, so the
    /// rows are first distributed by instrument (a stable counting sort, linear), and
    /// only an instrument whose bars arrived out of order is sorted further.
    pub fn resolve(self, ids: &[i32]) -> Vec<BarRow> {
        let symbol_of = |row: &BarRow| usize::try_from(row.instrument_id).unwrap_or(usize::MAX);
        let mut by_id: Vec<usize> = (0..ids.len()).collect();
        by_id.sort_by_key(|&i| ids[i]);
        let mut rank = vec![0usize; ids.len()];
        for (r, &i) in by_id.iter().enumerate() {
            rank[i] = r;
        }
        let mut starts = vec![0usize; ids.len() + 1];
        for row in &self.rows {
            if let Some(&r) = rank.get(symbol_of(row)) {
                starts[r + 1] += 1;
            }
        }
        for r in 0..ids.len() {
            starts[r + 1] += starts[r];
        }
        let bounds = starts.clone();
        let placeholder = BarRow {
            instrument_id: -1,
            interval: 0,
            time: 0,
            open: 0.0,
            high: 0.0,
            low: 0.0,
            close: 0.0,
            volume: 0.0,
        };
        let mut rows = vec![placeholder; self.rows.len()];
        let mut unknown = Vec::new();
        for mut row in self.rows {
            match rank.get(symbol_of(&row)) {
                Some(&r) => {
                    row.instrument_id = ids[by_id[r]];
                    rows[starts[r]] = row;
                    starts[r] += 1;
                }
                None => {
                    row.instrument_id = -1;
                    unknown.push(row);
                }
            }
        }
        for r in 0..ids.len() {
            let series = &mut rows[bounds[r]..bounds[r + 1]];
            if !series.is_sorted_by_key(BarRow::key) {
                series.sort_by_key(BarRow::key);
            }
        }
        if !unknown.is_empty() {
            // Not produced by `from_bars`; kept sorted like the rest for safety.
            rows.extend(unknown);
            rows.sort_by_key(BarRow::key); // stable: input order decides among equals
        }
        // Equal ids for two symbols cannot happen (symbols are unique), but equal keys
        // within one instrument can: keep the last.
        dedup_keep_last(&mut rows);
        rows
    }
}

/// The largest whole second at or before `ts` (bar starts are stored in whole seconds).
pub(crate) fn floor_second(ts: Timestamp) -> i64 {
    let s = ts.as_second();
    if ts.subsec_nanosecond() < 0 { s - 1 } else { s }
}

/// The smallest whole second at or after `ts` (an inclusive lower bound on bar starts).
pub(crate) fn ceil_second(ts: Timestamp) -> i64 {
    let s = ts.as_second();
    if ts.subsec_nanosecond() > 0 { s + 1 } else { s }
}

/// Rebuilds a bar read from storage. Its invariants were checked by [`Bar::new`] when
/// it was written (the only way in), so they are not re-checked on the read hot path;
/// only the time, which cannot be represented otherwise, is validated.
pub(crate) fn bar(symbol: &Symbol, interval: Interval, time: i64, v: Ohlcv) -> StoreResult<Bar> {
    Ok(Bar {
        symbol: symbol.clone(),
        interval,
        time: from_seconds("bars.time", time)?,
        open: v.open,
        high: v.high,
        low: v.low,
        close: v.close,
        volume: v.volume,
    })
}

/// The key that makes a repeated quarantine record replace its earlier entry:
/// the bar time, or the raw record when it has no time (bounded so the unique
/// index stays small).
pub(crate) fn quarantine_dedupe_key(d: &pricetrack_app::ports::QuarantineDraft) -> String {
    match d.time {
        Some(t) => t.as_second().to_string(),
        None => format!("raw:{}", d.raw.chars().take(512).collect::<String>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i32, t: i64, close: f64) -> BarRow {
        BarRow {
            instrument_id: id,
            interval: 2,
            time: t,
            open: close,
            high: close,
            low: close,
            close,
            volume: 0.0,
        }
    }

    #[test]
    fn resolving_orders_by_instrument_id_then_time_and_keeps_the_last_duplicate() {
        // Symbol indexes 0 and 1; their ids sort the other way round.
        let batch = BarBatch {
            symbols: vec![Symbol::parse("B").unwrap(), Symbol::parse("A").unwrap()],
            rows: vec![
                row(0, 0, 1.0),
                row(1, 5, 2.0),
                row(1, 0, 3.0),
                row(1, 5, 4.0),
                row(0, 9, 5.0),
            ],
        };
        let rows = batch.resolve(&[20, 10]);
        let got: Vec<(i32, i64, f64)> = rows
            .iter()
            .map(|r| (r.instrument_id, r.time, r.close))
            .collect();
        assert_eq!(
            got,
            vec![(10, 0, 3.0), (10, 5, 4.0), (20, 0, 1.0), (20, 9, 5.0)]
        );
    }

    #[test]
    fn missing_money_decodes_to_corrupt_naming_the_column() {
        let cols = TxColumns {
            time: Some(Timestamp::UNIX_EPOCH),
            kind: "buy".into(),
            symbol: Some(Symbol::parse("AAPL").unwrap()),
            quantity: Some(Decimal::ONE),
            price: None,
            fee: Some(Decimal::ZERO),
            currency: "USD".into(),
            ..Default::default()
        };
        let err = cols.into_recorded(1).unwrap_err();
        assert!(err.to_string().contains("transactions.price"), "{err}");
    }
}
