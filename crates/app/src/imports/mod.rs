//! Transaction import from the formats users bring: our CSV and JSON,
//! Ghostfolio's export JSON and its CSV, Portfolio Performance's CSV,
//! Wealthfolio's CSV, and any broker CSV with a column mapping.
//!
//! Every parser turns the file into [`Draft`]s (one row may give two, e.g. a
//! Portfolio Performance dividend with fees is a dividend and a fee), each tagged
//! with the file's own line number. A draft becomes a domain
//! [`Transaction`] only when it has exactly the fields of its kind. The import
//! is all or nothing: any bad row, unknown instrument or ledger violation
//! (selling more than is held) is reported by line and nothing is written —
//! unless [`ImportOptions::skip_invalid`] is set, in which case those rows are
//! left out, listed by line, and the rest is written in one transaction
//! (the `skip` module says how the ledger check decides which rows stay).
//! Rows identical to a transaction already in the portfolio are skipped and
//! reported. [`check_import`] is the same import without the write (a
//! preview), so what it reports is exactly what the import would do.

mod generic;
mod ghostfolio;
mod ours;
mod pp;
mod skip;
mod wealthfolio;

pub use generic::{GenericMapping, SignConvention};
pub use ours::{CSV_COLUMNS, parse_ours_csv};
pub use skip::InvalidRow;

use crate::{
    AppContext, AppError, AppResult, FieldError,
    portfolios::{check_ledger, get_portfolio, record_transactions},
    ports::{RecordedTransaction, User},
};
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use pricetrack_domain::{
    Amount, Currency, HoldingsError, PortfolioId, Price, Quantity, SplitRatio, Symbol, Transaction,
    TransactionKind, TransactionType,
};
use rust_decimal::Decimal;
use serde::Serialize;
use std::{collections::HashMap, fmt, str::FromStr};

/// The file formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// Our CSV (`date,type,symbol,quantity,price,fee,currency,note[,amount,tax,ratio]`).
    Ours,
    /// Our JSON export (or a bare array of API transactions).
    OursJson,
    /// Ghostfolio's export (`{"activities": [...]}`).
    GhostfolioJson,
    /// Ghostfolio's CSV import format, with its header aliases.
    GhostfolioCsv,
    /// Portfolio Performance's CSV (account or portfolio transactions, English or German).
    PpCsv,
    /// Wealthfolio's activity CSV.
    WealthfolioCsv,
    /// Any CSV with a column mapping ([`GenericMapping`]).
    Generic,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 7] = [
        Self::Ours,
        Self::OursJson,
        Self::GhostfolioJson,
        Self::GhostfolioCsv,
        Self::PpCsv,
        Self::WealthfolioCsv,
        Self::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::OursJson => "json",
            Self::GhostfolioJson => "ghostfolio-json",
            Self::GhostfolioCsv => "ghostfolio-csv",
            Self::PpCsv => "pp-csv",
            Self::WealthfolioCsv => "wealthfolio-csv",
            Self::Generic => "generic",
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportFormat {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        let lower = s.trim().to_ascii_lowercase().replace('_', "-");
        let found = match lower.as_str() {
            "ours" | "csv" | "ours-csv" | "pricetrack" => Some(Self::Ours),
            "json" | "ours-json" | "pricetrack-json" => Some(Self::OursJson),
            other => Self::ALL.into_iter().find(|f| f.as_str() == other),
        };
        found.ok_or_else(|| {
            AppError::invalid_field(
                "format",
                format!(
                    "unknown import format {s:?}; use one of ours, json, ghostfolio-json, \
                     ghostfolio-csv, pp-csv, wealthfolio-csv or generic"
                ),
            )
        })
    }
}

/// Options beyond the file itself.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The column mapping of a generic CSV (required for [`ImportFormat::Generic`]).
    pub mapping: Option<GenericMapping>,
    /// The currency of rows that name none (formats without a currency column).
    pub default_currency: Option<Currency>,
    /// Leave out the rows that fail to parse, name an unknown instrument or
    /// that the ledger refuses, list them in [`ImportReport::skipped`], and
    /// import the rest; otherwise any such row fails the whole import.
    pub skip_invalid: bool,
}

/// A transaction as a row describes it, before it is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: TransactionType,
    pub time: Timestamp,
    pub currency: Currency,
    pub symbol: Option<Symbol>,
    pub quantity: Option<Decimal>,
    pub price: Option<Decimal>,
    pub fee: Option<Decimal>,
    pub amount: Option<Decimal>,
    pub tax: Option<Decimal>,
    pub ratio: Option<SplitRatio>,
    pub note: String,
}

impl Draft {
    pub fn new(kind: TransactionType, time: Timestamp, currency: Currency) -> Self {
        Self {
            kind,
            time,
            currency,
            symbol: None,
            quantity: None,
            price: None,
            fee: None,
            amount: None,
            tax: None,
            ratio: None,
            note: String::new(),
        }
    }

    /// The transaction, if the draft has exactly what its kind needs; else
    /// the errors, by field.
    pub fn build(self) -> Result<Transaction, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = self.kind;
        let mut need_symbol = || match &self.symbol {
            Some(s) => Some(s.clone()),
            None => {
                errors.push(FieldError::field(
                    "symbol",
                    format!("is required for a {kind} transaction"),
                ));
                None
            }
        };
        let symbol = match kind {
            TransactionType::Buy
            | TransactionType::Sell
            | TransactionType::TransferIn
            | TransactionType::TransferOut
            | TransactionType::Dividend
            | TransactionType::Split => need_symbol(),
            _ => None,
        };
        let mut errors2 = Vec::new();
        let mut positive = |field: &str, v: Option<Decimal>, required: bool| -> Option<Decimal> {
            match v {
                Some(v) if v > Decimal::ZERO => Some(v),
                Some(v) if v.is_zero() && !required => Some(v),
                Some(v) => {
                    errors2.push(FieldError::field(
                        field,
                        if v.is_zero() {
                            "must be greater than zero".to_owned()
                        } else {
                            format!("must not be negative, got {v}")
                        },
                    ));
                    None
                }
                None if required => {
                    errors2.push(FieldError::field(
                        field,
                        format!("is required for a {kind} transaction"),
                    ));
                    None
                }
                None => Some(Decimal::ZERO),
            }
        };
        let tx_kind = match kind {
            TransactionType::Buy
            | TransactionType::Sell
            | TransactionType::TransferIn
            | TransactionType::TransferOut => {
                let q = positive("quantity", self.quantity, true);
                let p = positive("price", self.price, true);
                let f = positive("fee", self.fee, false);
                // Only buys and sells carry a tax (deliveries have no cash leg).
                let taxed = matches!(kind, TransactionType::Buy | TransactionType::Sell);
                if !taxed && self.tax.is_some_and(|t| !t.is_zero()) {
                    errors.push(FieldError::field(
                        "tax",
                        format!("does not apply to a {kind} transaction"),
                    ));
                }
                let t = positive("tax", self.tax.filter(|_| taxed), false);
                match (symbol, q, p, f, t) {
                    (Some(symbol), Some(q), Some(p), Some(f), Some(t)) => {
                        let (quantity, price, fee, tax) = (
                            Quantity::new(q.normalize()),
                            Price::new(p.normalize()),
                            Amount::new(f.normalize()),
                            Amount::new(t.normalize()),
                        );
                        match (quantity, price, fee, tax) {
                            (Ok(quantity), Ok(price), Ok(fee), Ok(tax)) => Some(match kind {
                                TransactionType::Buy => TransactionKind::Buy {
                                    symbol,
                                    quantity,
                                    price,
                                    fee,
                                    tax,
                                },
                                TransactionType::Sell => TransactionKind::Sell {
                                    symbol,
                                    quantity,
                                    price,
                                    fee,
                                    tax,
                                },
                                TransactionType::TransferIn => TransactionKind::TransferIn {
                                    symbol,
                                    quantity,
                                    price,
                                    fee,
                                },
                                _ => TransactionKind::TransferOut {
                                    symbol,
                                    quantity,
                                    price,
                                    fee,
                                },
                            }),
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            TransactionType::Dividend | TransactionType::Interest => {
                let a = positive("amount", self.amount, true);
                let t = positive("tax", self.tax, false);
                match (a, t) {
                    (Some(a), Some(t)) => {
                        let (amount, tax_withheld) = (
                            Amount::new(a.normalize()).ok(),
                            Amount::new(t.normalize()).ok(),
                        );
                        match (kind, amount, tax_withheld) {
                            (TransactionType::Dividend, Some(amount), Some(tax_withheld)) => symbol
                                .map(|symbol| TransactionKind::Dividend {
                                    symbol,
                                    amount,
                                    tax_withheld,
                                }),
                            (_, Some(amount), Some(tax_withheld)) => {
                                Some(TransactionKind::Interest {
                                    amount,
                                    tax_withheld,
                                })
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            TransactionType::Fee
            | TransactionType::Tax
            | TransactionType::Deposit
            | TransactionType::Withdrawal => positive("amount", self.amount, true)
                .and_then(|a| Amount::new(a.normalize()).ok())
                .map(|amount| match kind {
                    TransactionType::Fee => TransactionKind::Fee {
                        symbol: self.symbol.clone(),
                        amount,
                    },
                    TransactionType::Tax => TransactionKind::Tax {
                        symbol: self.symbol.clone(),
                        amount,
                    },
                    TransactionType::Deposit => TransactionKind::Deposit { amount },
                    _ => TransactionKind::Withdrawal { amount },
                }),
            TransactionType::Split => match (symbol, self.ratio) {
                (Some(symbol), Some(ratio)) => Some(TransactionKind::Split { symbol, ratio }),
                (_, None) => {
                    errors2.push(FieldError::field(
                        "ratio",
                        "is required for a split transaction",
                    ));
                    None
                }
                _ => None,
            },
        };
        errors.extend(errors2);
        match tx_kind {
            Some(k) if errors.is_empty() => {
                Transaction::new(self.time, self.currency, self.note, k)
                    .map_err(|e| vec![FieldError::field("note", e.to_string())])
            }
            _ => Err(errors),
        }
    }
}

/// A transaction read from a file, with the file line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRow {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// 0-based position of the row among the file's rows (as in [`FieldError::index`]).
    pub index: usize,
    pub transaction: Transaction,
}

/// What a file gave: the rows that read, and the errors of those that did not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// Transactions of the rows that read, in file order.
    pub rows: Vec<ImportedRow>,
    /// Why the other rows did not read, each naming its line (file order).
    pub errors: Vec<FieldError>,
}

/// Collects rows and their errors while a file is read.
#[derive(Default)]
pub(crate) struct Collector {
    pub rows: Vec<ImportedRow>,
    pub errors: Vec<FieldError>,
    index: usize,
    /// The reader gave up here; the rest of the file was not read.
    stopped: bool,
}

impl Collector {
    /// Adds what one row of the file gave (its drafts, or why it failed).
    pub fn row(&mut self, line: u64, drafts: Result<Vec<Draft>, Vec<FieldError>>) {
        let index = self.index;
        self.index += 1;
        let with_line = |e: FieldError| FieldError {
            index: Some(index),
            line: Some(line),
            ..e
        };
        match drafts {
            Ok(drafts) => {
                // A row stands or falls whole: when one of its transactions
                // (a dividend and its fee) fails, a skipping import must not
                // keep the other half.
                let mut built = Vec::with_capacity(drafts.len());
                let mut errors = Vec::new();
                for d in drafts {
                    match d.build() {
                        Ok(transaction) => built.push(ImportedRow {
                            line,
                            index,
                            transaction,
                        }),
                        Err(errs) => errors.extend(errs.into_iter().map(with_line)),
                    }
                }
                if errors.is_empty() {
                    self.rows.extend(built);
                } else {
                    self.errors.extend(errors);
                }
            }
            Err(errs) => self.errors.extend(errs.into_iter().map(with_line)),
        }
    }

    /// The file cannot be read past `line`: a whole-file error, which no
    /// skipping gets past (the rows after it were never seen).
    pub fn stop(&mut self, line: u64, reason: impl Into<String>) {
        self.row(
            line,
            Err(vec![FieldError {
                index: None,
                line: Some(line),
                field: None,
                reason: reason.into(),
            }]),
        );
        self.stopped = true;
    }

    pub fn finish(self) -> Result<Parsed, Vec<FieldError>> {
        if self.stopped {
            Err(self.errors)
        } else {
            Ok(Parsed {
                rows: self.rows,
                errors: self.errors,
            })
        }
    }
}

/// A whole-file problem (unreadable header, not JSON…), on `line`.
pub(crate) fn file_error(line: u64, reason: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError {
        index: None,
        line: Some(line),
        field: None,
        reason: reason.into(),
    }]
}

/// Reads `bytes` in `format` into transactions, each with its file line;
/// any bad row fails the whole file.
pub fn parse(
    format: ImportFormat,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Vec<ImportedRow>, Vec<FieldError>> {
    let parsed = parse_rows(format, bytes, options)?;
    if parsed.errors.is_empty() {
        Ok(parsed.rows)
    } else {
        Err(parsed.errors)
    }
}

/// Reads `bytes` in `format`: the rows that read and the errors of those
/// that did not. `Err` is a whole-file problem (not UTF-8, no usable header,
/// not JSON, a CSV the reader cannot get past), where no row can be trusted.
pub fn parse_rows(
    format: ImportFormat,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Parsed, Vec<FieldError>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| file_error(1, format!("the file is not UTF-8 text: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    match format {
        ImportFormat::Ours => ours::parse_csv(text),
        ImportFormat::OursJson => ours::parse_json(text),
        ImportFormat::GhostfolioJson => ghostfolio::parse_json(text),
        ImportFormat::GhostfolioCsv => ghostfolio::parse_csv(text, options),
        ImportFormat::PpCsv => pp::parse_csv(text, options),
        ImportFormat::WealthfolioCsv => wealthfolio::parse_csv(text, options),
        ImportFormat::Generic => match &options.mapping {
            Some(mapping) => generic::parse_csv(text, mapping, options),
            None => Err(vec![FieldError::field(
                "map",
                "a generic CSV needs a column mapping (e.g. date=Trade Date,type=Action,symbol=Ticker,quantity=Qty,price=Price)",
            )]),
        },
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub format: ImportFormat,
    /// Transactions read from the file.
    pub read: usize,
    /// Transactions written, in file order.
    #[serde(skip)]
    pub imported: Vec<RecordedTransaction>,
    pub imported_count: usize,
    /// Rows skipped because an identical transaction is already in the portfolio.
    pub duplicates: Vec<SkippedRow>,
    /// With [`ImportOptions::skip_invalid`]: the lines left out (bad rows,
    /// unknown instruments, rows the ledger refuses), in file line order; a
    /// line with several faults is listed once for each.
    pub skipped: Vec<InvalidRow>,
    /// Only checked ([`check_import`]): nothing was written.
    pub dry_run: bool,
    /// The rows written (or, in a dry run, that would be), with their file lines.
    #[serde(skip)]
    pub rows: Vec<ImportedRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    pub line: u64,
    pub reason: String,
}

/// The identity of a transaction for duplicate detection: every field, with
/// decimals normalized.
pub(crate) fn identity(tx: &Transaction) -> String {
    crate::exports::row_of(tx).join("\u{1f}")
}

/// Imports a file into a portfolio: all rows or none, or with
/// [`ImportOptions::skip_invalid`] the rows that pass, in one store
/// transaction (a storage error writes nothing). Rows identical to a
/// transaction already in the portfolio (as many times as it is there) are
/// skipped and reported; errors name the file's line.
pub async fn import_transactions(
    ctx: &AppContext,
    user: &User,
    portfolio: PortfolioId,
    format: ImportFormat,
    bytes: &[u8],
    options: &ImportOptions,
) -> AppResult<ImportReport> {
    run_import(ctx, user, portfolio, format, bytes, options, Mode::Write).await
}

/// Everything [`import_transactions`] does but the write: the same parsing,
/// unknown-instrument and ledger checks (errors naming the file line) and
/// duplicate detection, reporting what the import would write.
pub async fn check_import(
    ctx: &AppContext,
    user: &User,
    portfolio: PortfolioId,
    format: ImportFormat,
    bytes: &[u8],
    options: &ImportOptions,
) -> AppResult<ImportReport> {
    run_import(ctx, user, portfolio, format, bytes, options, Mode::DryRun).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    DryRun,
}

async fn run_import(
    ctx: &AppContext,
    user: &User,
    portfolio: PortfolioId,
    format: ImportFormat,
    bytes: &[u8],
    options: &ImportOptions,
    mode: Mode,
) -> AppResult<ImportReport> {
    get_portfolio(ctx, user, portfolio).await?;
    let skip_invalid = options.skip_invalid;
    let parsed = parse_rows(format, bytes, options).map_err(AppError::Invalid)?;
    if !parsed.errors.is_empty() && !skip_invalid {
        return Err(AppError::Invalid(parsed.errors));
    }
    let mut skipped: Vec<InvalidRow> = parsed.errors.into_iter().map(InvalidRow::from).collect();
    let mut rows = parsed.rows;
    let read = rows.len();
    // Every instrument must exist; name the lines that use a missing one.
    let mut lines_by_symbol: HashMap<&Symbol, Vec<(u64, usize)>> = HashMap::new();
    for r in &rows {
        if let Some(s) = r.transaction.symbol() {
            lines_by_symbol
                .entry(s)
                .or_default()
                .push((r.line, r.index));
        }
    }
    let mut unknown = Vec::new();
    let mut unknown_symbols = Vec::new();
    let mut symbols: Vec<_> = lines_by_symbol.into_iter().collect();
    symbols.sort();
    for (symbol, lines) in symbols {
        if ctx.store.get_instrument(symbol).await?.is_none() {
            unknown_symbols.push(symbol.clone());
            let shown: Vec<String> = lines.iter().take(5).map(|(l, _)| l.to_string()).collect();
            unknown.push(FieldError {
                index: lines.first().map(|(_, i)| *i),
                line: lines.first().map(|(l, _)| *l),
                field: Some("symbol".to_owned()),
                reason: format!(
                    "unknown instrument {symbol} (line{} {}{}); add it first",
                    if lines.len() > 1 { "s" } else { "" },
                    shown.join(", "),
                    if lines.len() > 5 { ", …" } else { "" }
                ),
            });
        }
    }
    if !unknown.is_empty() {
        if !skip_invalid {
            return Err(AppError::Invalid(unknown));
        }
        rows.retain(|r| match r.transaction.symbol() {
            Some(s) if unknown_symbols.contains(s) => {
                skipped.push(InvalidRow {
                    line: r.line,
                    field: Some("symbol".to_owned()),
                    reason: format!("unknown instrument {s}; add it first"),
                });
                false
            }
            _ => true,
        });
    }
    // Duplicates of what is already there.
    let ledger = ctx.store.ledger(portfolio).await?;
    let mut existing: HashMap<String, usize> = HashMap::new();
    for r in &ledger {
        *existing.entry(identity(&r.transaction)).or_default() += 1;
    }
    let mut fresh: Vec<ImportedRow> = Vec::with_capacity(rows.len());
    let mut duplicates = Vec::new();
    for row in rows {
        match existing.get_mut(&identity(&row.transaction)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                duplicates.push(SkippedRow {
                    line: row.line,
                    reason: format!(
                        "identical to a {} of {} already in the portfolio",
                        row.transaction.transaction_type(),
                        row.transaction.time
                    ),
                });
            }
            _ => fresh.push(row),
        }
    }
    if skip_invalid {
        let (kept, refused) =
            skip::keep_what_the_ledger_accepts(ledger.iter().map(|r| &r.transaction), fresh);
        fresh = kept;
        skipped.extend(refused);
        // Stable: the faults of one line stay in the order they were found.
        skipped.sort_by_key(|s| s.line);
    }
    let lines: Vec<(u64, Transaction)> = fresh
        .iter()
        .map(|r| (r.line, r.transaction.clone()))
        .collect();
    let imported = match mode {
        _ if fresh.is_empty() => Vec::new(),
        Mode::Write => record_transactions(
            ctx,
            user,
            portfolio,
            fresh.iter().map(|r| r.transaction.clone()).collect(),
        )
        .await
        .map_err(|e| name_the_line(e, &lines))?,
        Mode::DryRun => {
            // The ledger as the store would order it after the insert: by
            // time, new rows after existing ones of the same time, in file
            // order (their ids would be the largest).
            let mut after: Vec<&Transaction> = ledger
                .iter()
                .map(|r| &r.transaction)
                .chain(fresh.iter().map(|r| &r.transaction))
                .collect();
            after.sort_by_key(|t| t.time);
            check_ledger(after.into_iter())
                .map_err(|e| name_the_line(AppError::Ledger(e), &lines))?;
            Vec::new()
        }
    };
    Ok(ImportReport {
        format,
        read,
        imported_count: fresh.len(),
        imported,
        duplicates,
        skipped,
        dry_run: mode == Mode::DryRun,
        rows: fresh,
    })
}

/// A ledger violation (a sale of more than is held) names the file line of
/// the transaction at fault.
fn name_the_line(e: AppError, lines: &[(u64, Transaction)]) -> AppError {
    let AppError::Ledger(ledger) = &e else {
        return e;
    };
    let (symbol, time) = match ledger {
        HoldingsError::InsufficientQuantity { symbol, time, .. }
        | HoldingsError::SplitWithoutPosition { symbol, time } => (symbol, time),
    };
    let found = lines
        .iter()
        .enumerate()
        .find(|(_, (_, tx))| tx.time == *time && tx.symbol() == Some(symbol));
    match found {
        Some((index, (line, _))) => AppError::Invalid(vec![FieldError::row(
            index,
            Some(*line),
            Some("quantity"),
            ledger.to_string(),
        )]),
        None => e,
    }
}

// ---------------------------------------------------------------- values

/// How numbers are written in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NumberStyle {
    /// `1.234,56` rather than `1,234.56`.
    pub decimal_comma: bool,
}

/// Parses a number as written in a file: thousands separators, a leading
/// sign or currency sign, `(12.34)` for negatives. `None` for an empty cell.
pub fn parse_number(raw: &str, style: NumberStyle) -> Result<Option<Decimal>, String> {
    let mut s: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '\u{a0}' | '\u{202f}'))
        .collect();
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].to_owned();
    }
    let s = s.trim_start_matches(['$', '€', '£', '¥', '+']);
    let (s, sign) = match s.strip_prefix('-') {
        Some(rest) => (rest.trim_start_matches(['$', '€', '£', '¥']), true),
        None => (s, false),
    };
    negative ^= sign;
    let cleaned = if style.decimal_comma {
        s.replace('.', "").replace(',', ".")
    } else {
        s.replace(',', "")
    };
    let value = Decimal::from_str_exact(&cleaned)
        .or_else(|_| Decimal::from_scientific(&cleaned))
        .map_err(|_| format!("{raw:?} is not a number"))?;
    Ok(Some(if negative { -value } else { value }))
}

/// A date or a time as files write them: RFC 3339, `YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM[:SS]` (UTC), `YYYYMMDD`, `DD.MM.YYYY`, `DD/MM/YYYY`,
/// `DD-MM-YYYY` — or `format` (strftime, e.g. `%m/%d/%Y`) when given.
pub fn parse_time(raw: &str, format: Option<&str>) -> Result<Timestamp, String> {
    let raw = raw.trim();
    let bad = || format!("{raw:?} is not a date");
    if let Some(fmt) = format {
        if let Ok(ts) = jiff::Timestamp::strptime(fmt, raw) {
            return Ok(ts);
        }
        if let Ok(dt) = jiff::civil::DateTime::strptime(fmt, raw) {
            return dt
                .to_zoned(TimeZone::UTC)
                .map(|z| z.timestamp())
                .map_err(|_| bad());
        }
        return jiff::civil::Date::strptime(fmt, raw)
            .map(pricetrack_domain::date_key)
            .map_err(|_| format!("{raw:?} does not match the date format {fmt:?}"));
    }
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = raw.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    if let Ok(d) = raw.parse::<Date>() {
        return Ok(pricetrack_domain::date_key(d));
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if raw.len() == 8 && digits(raw) {
        let date = Date::strptime("%Y%m%d", raw).map_err(|_| bad())?;
        return Ok(pricetrack_domain::date_key(date));
    }
    for fmt in ["%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y"] {
        if let Ok(d) = Date::strptime(fmt, raw) {
            return Ok(pricetrack_domain::date_key(d));
        }
        for time in [" %H:%M:%S", " %H:%M"] {
            if let Ok(dt) = jiff::civil::DateTime::strptime(format!("{fmt}{time}"), raw) {
                return dt
                    .to_zoned(TimeZone::UTC)
                    .map(|z| z.timestamp())
                    .map_err(|_| bad());
            }
        }
    }
    Err(format!(
        "{raw:?} is not a date (use YYYY-MM-DD, RFC 3339 or DD.MM.YYYY)"
    ))
}

/// A symbol as files write it (upper-cased; our symbols are upper-case).
pub(crate) fn symbol(raw: &str) -> Result<Option<Symbol>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    Symbol::parse(&raw.to_uppercase())
        .map(Some)
        .map_err(|e| e.to_string())
}

pub(crate) fn currency(raw: &str) -> Result<Option<Currency>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    Currency::parse(&raw.to_uppercase())
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Reads named cells of one row, collecting errors by field.
pub(crate) struct Cells<'a> {
    pub errors: Vec<FieldError>,
    pub style: NumberStyle,
    pub get: &'a dyn Fn(&str) -> Option<String>,
}

impl Cells<'_> {
    pub fn text(&self, field: &str) -> Option<String> {
        (self.get)(field)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn number(&mut self, field: &str) -> Option<Decimal> {
        let raw = self.text(field)?;
        match parse_number(&raw, self.style) {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(FieldError::field(field, e));
                None
            }
        }
    }

    pub fn time(&mut self, field: &str, format: Option<&str>) -> Option<Timestamp> {
        let Some(raw) = self.text(field) else {
            self.errors.push(FieldError::field(field, "is required"));
            return None;
        };
        match parse_time(&raw, format) {
            Ok(t) => Some(t),
            Err(e) => {
                self.errors.push(FieldError::field(field, e));
                None
            }
        }
    }

    pub fn symbol(&mut self, field: &str) -> Option<Symbol> {
        let raw = self.text(field)?;
        match symbol(&raw) {
            Ok(s) => s,
            Err(e) => {
                self.errors.push(FieldError::field(field, e));
                None
            }
        }
    }

    pub fn currency(&mut self, field: &str, default: Option<Currency>) -> Option<Currency> {
        let found = match self.text(field) {
            Some(raw) => match currency(&raw) {
                Ok(c) => c,
                Err(e) => {
                    self.errors.push(FieldError::field(field, e));
                    return None;
                }
            },
            None => None,
        };
        let c = found.or(default);
        if c.is_none() {
            self.errors.push(FieldError::field(
                field,
                "is required (or give a default currency)",
            ));
        }
        c
    }

    pub fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError::field(field, reason));
    }

    /// The drafts, unless a cell failed.
    pub fn finish(self, drafts: Vec<Draft>) -> Result<Vec<Draft>, Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(drafts)
        } else {
            Err(self.errors)
        }
    }
}

/// A CSV reader over `text` with the delimiter (auto-detected from the header
/// line when `None`: `;`, tab or `,`).
pub(crate) fn csv_reader(text: &str, delimiter: Option<u8>) -> csv::Reader<&[u8]> {
    let delimiter = delimiter.unwrap_or_else(|| {
        let header = text.lines().next().unwrap_or_default();
        let count = |c: char| header.matches(c).count();
        if count(';') > count(',') && count(';') >= count('\t') {
            b';'
        } else if count('\t') > count(',') {
            b'\t'
        } else {
            b','
        }
    });
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Lower-cased header names, and a lookup of the first present alias.
pub(crate) struct Header {
    pub names: Vec<String>,
}

impl Header {
    pub fn read(reader: &mut csv::Reader<&[u8]>) -> Result<Self, Vec<FieldError>> {
        let names = reader
            .headers()
            .map_err(|e| file_error(1, format!("cannot read the CSV header: {e}")))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
            .collect();
        Ok(Self { names })
    }

    /// The column of the first alias present.
    pub fn find(&self, aliases: &[&str]) -> Option<usize> {
        aliases
            .iter()
            .find_map(|a| self.names.iter().position(|n| n == a))
    }
}

/// Every column lookup of a row by canonical field name.
pub(crate) fn lookup<'r>(
    record: &'r csv::StringRecord,
    columns: &'r HashMap<&'static str, usize>,
) -> impl Fn(&str) -> Option<String> + 'r {
    move |field| {
        columns
            .get(field)
            .and_then(|i| record.get(*i))
            .map(str::to_owned)
    }
}

/// Counts lines up to byte offsets of one text, front to back.
pub(crate) struct LineCounter<'t> {
    text: &'t [u8],
    byte: usize,
    line: u64,
}

impl<'t> LineCounter<'t> {
    pub fn new(text: &'t str) -> Self {
        Self {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The 1-based line of the first non-blank byte at or after `offset`
    /// (the CSV reader reports a record after a blank line at the blank
    /// line's start). Offsets must not go backwards.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while offset < self.text.len() && matches!(self.text[offset], b'\n' | b'\r') {
            offset += 1;
        }
        if offset > self.byte {
            let newlines = self.text[self.byte..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += u64::try_from(newlines).unwrap_or(0);
            self.byte = offset;
        }
        self.line
    }
}

/// Reads every record of a CSV (made by [`csv_reader`] over `text`), calling
/// `row` with its record; rows are tagged with the file line they start on.
pub(crate) fn each_record(
    text: &str,
    reader: &mut csv::Reader<&[u8]>,
    collector: &mut Collector,
    mut row: impl FnMut(&csv::StringRecord) -> Result<Vec<Draft>, Vec<FieldError>>,
) {
    let mut lines = LineCounter::new(text);
    for record in reader.records() {
        match record {
            Ok(record) => {
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
                collector.row(line, row(&record));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                collector.stop(line, format!("malformed CSV: {e}"));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn numbers_are_read_as_written() {
        let point = NumberStyle::default();
        let comma = NumberStyle {
            decimal_comma: true,
        };
        assert_eq!(parse_number("1,234.56", point), Ok(Some(dec!(1234.56))));
        assert_eq!(parse_number("1.234,56", comma), Ok(Some(dec!(1234.56))));
        assert_eq!(parse_number("-0,5", comma), Ok(Some(dec!(-0.5))));
        assert_eq!(parse_number("(12.50)", point), Ok(Some(dec!(-12.50))));
        assert_eq!(parse_number("$1,505.00", point), Ok(Some(dec!(1505))));
        assert_eq!(parse_number("-$1,505.00", point), Ok(Some(dec!(-1505))));
        assert_eq!(parse_number("1e-3", point), Ok(Some(dec!(0.001))));
        assert_eq!(parse_number("  ", point), Ok(None));
        assert!(parse_number("abc", point).is_err());
    }

    #[test]
    fn dates_are_read_in_the_usual_forms() {
        let day = |s: &str| parse_time(s, None).unwrap().to_string();
        assert_eq!(day("2024-01-02"), "2024-01-02T00:00:00Z");
        assert_eq!(day("2024-01-02T10:30:00.000Z"), "2024-01-02T10:30:00Z");
        assert_eq!(day("2024-01-02 10:30"), "2024-01-02T10:30:00Z");
        assert_eq!(day("20240102"), "2024-01-02T00:00:00Z");
        assert_eq!(day("02.01.2024"), "2024-01-02T00:00:00Z");
        assert_eq!(day("02/01/2024"), "2024-01-02T00:00:00Z");
        assert_eq!(day("02.01.2024 09:05"), "2024-01-02T09:05:00Z");
        assert_eq!(
            parse_time("01/02/2024", Some("%m/%d/%Y"))
                .unwrap()
                .to_string(),
            "2024-01-02T00:00:00Z"
        );
        assert!(parse_time("yesterday", None).is_err());
        assert!(parse_time("2024-13-40", Some("%Y-%m-%d")).is_err());
    }

    #[test]
    fn rows_that_fail_to_read_are_reported_beside_those_that_read() {
        let csv = "date,type,symbol,quantity,price,fee,currency,note\n\
                   2024-01-02,buy,AAPL,10,100,0,USD,\n\
                   2024-01-03,buy,AAPL,ten,100,0,USD,\n\
                   2024-01-04,swap,AAPL,1,100,0,USD,\n\
                   2024-01-05,sell,AAPL,5,110,0,USD,\n";
        let parsed = parse_rows(
            ImportFormat::Ours,
            csv.as_bytes(),
            &ImportOptions::default(),
        )
        .expect("no whole-file error");
        let lines: Vec<u64> = parsed.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 5]);
        let skipped: Vec<InvalidRow> = parsed.errors.into_iter().map(InvalidRow::from).collect();
        let at: Vec<(u64, Option<&str>)> = skipped
            .iter()
            .map(|s| (s.line, s.field.as_deref()))
            .collect();
        assert_eq!(
            at,
            [(3, Some("quantity")), (4, Some("type"))],
            "{skipped:?}"
        );
        assert!(skipped[0].to_string().starts_with("line 3: quantity: "));
        // The strict reader refuses the same file.
        assert!(
            parse(
                ImportFormat::Ours,
                csv.as_bytes(),
                &ImportOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn a_whole_file_error_is_not_a_skippable_row() {
        let csv = "date,kind\n2024-01-02,buy\n";
        assert!(
            parse_rows(
                ImportFormat::Ours,
                csv.as_bytes(),
                &ImportOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn formats_parse_by_name() {
        for f in ImportFormat::ALL {
            assert_eq!(f.as_str().parse::<ImportFormat>().unwrap(), f);
        }
        assert_eq!("csv".parse::<ImportFormat>().unwrap(), ImportFormat::Ours);
        assert!("quicken".parse::<ImportFormat>().is_err());
    }
}
