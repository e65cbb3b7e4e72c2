//! `pricetrack bars import|export`.

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pricetrack_app::{
    AppContext, AppError, FieldError,
    bar_input::{CsvBarReader, SymbolSource},
    market::quarantine::{SOURCE_IMPORT, validate_and_store},
    ports::BarRange,
};
use pricetrack_domain::{Bar, Interval, Symbol};
use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Bars written per store call (one transaction each).
const CHUNK: usize = 50_000;
/// Errors printed before summarising the rest.
const MAX_PRINTED_ERRORS: usize = 50;

#[derive(Debug, Subcommand)]
pub enum BarsCommand {
    /// Import bars from CSV: `time,open,high,low,close,volume` with --symbol, or
    /// `symbol,time,open,high,low,close,volume` for files that mix instruments.
    /// All-or-nothing: any invalid line aborts before anything is written, unless --skip-invalid.
    Import {
        file: PathBuf,
        /// The instrument of every row (not needed when the file has a symbol column).
        #[arg(long)]
        symbol: Option<String>,
        /// 1m, 5m, 15m, 1h, 1d, 1wk or 1mo.
        #[arg(long)]
        interval: String,
        /// Store the valid lines and list every skipped line with the reason.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Export an instrument's bars.
    Export {
        /// The instrument whose bars to write.
        #[arg(long)]
        symbol: String,
        /// Bar interval: 1m, 5m, 15m, 1h, 1d, 1wk or 1mo.
        #[arg(long, default_value = "1d")]
        interval: String,
        /// Inclusive start (RFC 3339, date or unix seconds).
        #[arg(long)]
        from: Option<String>,
        /// Inclusive end.
        #[arg(long)]
        to: Option<String>,
        /// csv (the import format) or json.
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

fn interval(raw: &str) -> anyhow::Result<Interval> {
    raw.parse::<Interval>()
        .map_err(|e| AppError::invalid_field("interval", e.to_string()).into())
}

pub async fn run(ctx: &AppContext, cmd: BarsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BarsCommand::Import {
            file,
            symbol,
            interval: i,
            skip_invalid,
        } => {
            let symbols = match symbol {
                Some(s) => SymbolSource::Fixed(
                    Symbol::parse(&s)
                        .map_err(|e| AppError::invalid_field("symbol", e.to_string()))?,
                ),
                None => SymbolSource::PerRow,
            };
            import(ctx, &file, interval(&i)?, symbols, skip_invalid).await
        }
        BarsCommand::Export {
            symbol,
            interval: i,
            from,
            to,
            format,
            output,
        } => {
            let symbol = Symbol::parse(&symbol)
                .map_err(|e| AppError::invalid_field("symbol", e.to_string()))?;
            let i = interval(&i)?;
            let bound = |field: &str, v: Option<String>| {
                v.map(|v| {
                    pricetrack_app::bar_input::parse_bar_time(&v, i)
                        .map_err(|e| AppError::invalid_field(field, e))
                })
                .transpose()
            };
            let (from, to) = (bound("from", from)?, bound("to", to)?);
            pricetrack_app::instruments::get_instrument(ctx, &symbol).await?;
            let sink: Box<dyn Write> = match &output {
                Some(path) => Box::new(
                    File::create(path).with_context(|| format!("creating {}", path.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            let written = export(ctx, &symbol, i, from, to, format, BufWriter::new(sink)).await?;
            eprintln!("exported {written} bar(s) of {symbol} {i}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open_rows(
    path: &Path,
    interval: Interval,
    symbols: SymbolSource,
    progress: &ProgressBar,
) -> anyhow::Result<CsvBarReader<Box<dyn Read>>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader: Box<dyn Read> =
        Box::new(progress.wrap_read(BufReader::with_capacity(1 << 20, file)));
    CsvBarReader::new(reader, interval, symbols).map_err(|e| AppError::Invalid(vec![e]).into())
}

fn progress_bar(path: &Path, label: &'static str) -> ProgressBar {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(label);
    bar
}

/// Bar times seen for one series, for the duplicate check. Files are nearly always
/// in time order, so times go into a sorted vector (8 bytes each); the rare time that
/// arrives out of order is looked up there and kept in a set beside it.
#[derive(Default)]
struct SeenTimes {
    ascending: Vec<i64>,
    out_of_order: std::collections::BTreeSet<i64>,
}

impl SeenTimes {
    /// Records `time`; false when it was seen before.
    fn insert(&mut self, time: i64) -> bool {
        match self.ascending.last() {
            Some(&last) if time <= last => {
                self.ascending.binary_search(&time).is_err() && self.out_of_order.insert(time)
            }
            _ => {
                self.ascending.push(time);
                true
            }
        }
    }
}

/// Two passes over the file, streamed: the first validates every line (and
/// checks the instruments exist), the second writes in chunks. An invalid file
/// therefore changes nothing. The file is never held in memory; what the first
/// pass keeps is 8 bytes per row for the duplicate check (see [`SeenTimes`]) and
/// the invalid lines.
async fn import(
    ctx: &AppContext,
    path: &Path,
    interval: Interval,
    symbols: SymbolSource,
    skip_invalid: bool,
) -> anyhow::Result<ExitCode> {
    let check = progress_bar(path, "checking");
    let mut errors: Vec<FieldError> = Vec::new();
    let mut bad_lines: HashSet<usize> = HashSet::new();
    let mut seen: HashMap<Symbol, SeenTimes> = HashMap::new();
    let mut known: HashMap<Symbol, bool> = HashMap::new();
    let mut valid = 0u64;
    for row in open_rows(path, interval, symbols.clone(), &check)? {
        let parsed = match row {
            Ok(p) => p,
            Err(e) => {
                bad_lines.insert(e.index.unwrap_or(usize::MAX));
                errors.push(e);
                continue;
            }
        };
        let exists = match known.get(&parsed.bar.symbol) {
            Some(&k) => k,
            None => {
                let k = ctx
                    .store
                    .get_instrument(&parsed.bar.symbol)
                    .await
                    .map_err(AppError::from)?
                    .is_some();
                known.insert(parsed.bar.symbol.clone(), k);
                k
            }
        };
        let problem = if !exists {
            Some((
                "symbol",
                format!("unknown instrument {}; add it first", parsed.bar.symbol),
            ))
        } else if !seen
            .entry(parsed.bar.symbol.clone())
            .or_default()
            .insert(parsed.bar.time.as_second())
        {
            Some((
                "time",
                format!(
                    "duplicate time {} for {}",
                    parsed.bar.time, parsed.bar.symbol
                ),
            ))
        } else {
            None
        };
        match problem {
            Some((field, reason)) => {
                bad_lines.insert(parsed.index);
                errors.push(FieldError::row(
                    parsed.index,
                    parsed.line,
                    Some(field),
                    reason,
                ));
            }
            None => valid += 1,
        }
    }
    check.finish_and_clear();
    drop(seen);

    if !errors.is_empty() {
        // Every skipped line is listed; a rejected file lists enough to fix it by.
        let shown = if skip_invalid {
            errors.len()
        } else {
            MAX_PRINTED_ERRORS
        };
        for e in errors.iter().take(shown) {
            eprintln!("{}: {e}", if skip_invalid { "skipped" } else { "error" });
        }
        if errors.len() > shown {
            eprintln!("… and {} more", errors.len() - shown);
        }
        if !skip_invalid {
            eprintln!(
                "{} invalid line(s) in {}; nothing was written (use --skip-invalid to import the rest)",
                errors.len(),
                path.display()
            );
            return Ok(ExitCode::from(super::EXIT_INVALID_INPUT));
        }
    }

    let write = progress_bar(path, "importing");
    let mut chunk: Vec<Bar> = Vec::with_capacity(CHUNK);
    let (mut inserted, mut replaced, mut quarantined) = (0u64, 0u64, 0usize);
    for row in open_rows(path, interval, symbols, &write)? {
        let Ok(parsed) = row else { continue };
        if bad_lines.contains(&parsed.index) {
            continue;
        }
        chunk.push(parsed.bar);
        if chunk.len() == CHUNK {
            // Well-formed but implausible bars (jumps, future times) go to quarantine.
            let bars = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            let out = validate_and_store(ctx, bars, SOURCE_IMPORT).await?;
            (inserted, replaced) = (inserted + out.inserted, replaced + out.replaced);
            quarantined += out.quarantined.len();
        }
    }
    let out = validate_and_store(ctx, chunk, SOURCE_IMPORT).await?;
    (inserted, replaced) = (inserted + out.inserted, replaced + out.replaced);
    quarantined += out.quarantined.len();
    write.finish_and_clear();
    println!(
        "imported {valid} bar(s) from {}: {inserted} new, {replaced} replaced, {} skipped",
        path.display(),
        errors.len()
    );
    if quarantined > 0 {
        println!(
            "{quarantined} implausible bar(s) were quarantined instead (see `pricetrack quarantine list`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams the series page by page so an export never holds it all in memory.
async fn export(
    ctx: &AppContext,
    symbol: &Symbol,
    interval: Interval,
    from: Option<jiff::Timestamp>,
    to: Option<jiff::Timestamp>,
    format: ExportFormat,
    mut out: impl Write,
) -> anyhow::Result<u64> {
    const PAGE: u32 = 50_000;
    let mut cursor = from;
    let mut written = 0u64;
    match format {
        ExportFormat::Csv => writeln!(out, "time,open,high,low,close,volume")?,
        ExportFormat::Json => write!(out, "[")?,
    }
    loop {
        let range = BarRange {
            from: Some(cursor.unwrap_or(jiff::Timestamp::MIN)),
            to,
            limit: Some(PAGE),
        };
        let page = ctx
            .store
            .bars(symbol, interval, range)
            .await
            .map_err(AppError::from)?;
        for bar in &page {
            match format {
                ExportFormat::Csv => writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume
                )?,
                ExportFormat::Json => {
                    if written > 0 {
                        write!(out, ",")?;
                    }
                    let row = crate::http::dto::BarOut::from(bar);
                    write!(out, "\n{}", serde_json::to_string(&row)?)?;
                }
            }
            written += 1;
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => {
                cursor = Some(last.time + jiff::SignedDuration::from_secs(1))
            }
            _ => break,
        }
    }
    if let ExportFormat::Json = format {
        writeln!(out, "\n]")?;
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::SeenTimes;

    #[test]
    fn duplicates_are_found_in_and_out_of_order() {
        let mut seen = SeenTimes::default();
        assert!(seen.insert(10) && seen.insert(20) && seen.insert(30));
        assert!(!seen.insert(20), "a repeat of an ascending time");
        assert!(seen.insert(15), "a new time out of order");
        assert!(!seen.insert(15), "a repeat of an out-of-order time");
        assert!(!seen.insert(30));
        assert!(seen.insert(40));
    }
}
