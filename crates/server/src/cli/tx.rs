//! `pricetrack tx import|export`. Parsing lives in `pricetrack_app::imports`
//! (shared with the API and the web UI); this is only the command line.

use super::acting_user;
use anyhow::Context;
use clap::{Args, Subcommand};
use pricetrack_app::{
    AppContext, AppError, FieldError,
    exports::{ExportFormat, export_transactions},
    imports::{GenericMapping, ImportFormat, ImportOptions, import_transactions},
    portfolios,
};
use pricetrack_domain::{Currency, Transaction};
use std::{io::Write, path::PathBuf, process::ExitCode};

#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Import transactions, all or nothing (errors name the file's line),
    /// unless --skip-invalid. Rows identical to a transaction already in the
    /// portfolio are skipped and listed.
    ///
    /// Formats: `ours` (default; columns
    /// `date,type,symbol,quantity,price,fee,currency,note` plus optional
    /// `amount,tax,ratio`: cash rows take `amount` or quantity × price, a split
    /// takes `ratio` like `4:1`), `json` (our export), `ghostfolio-json`,
    /// `ghostfolio-csv`, `pp-csv` (Portfolio Performance, English or German),
    /// `wealthfolio-csv` and `generic` (any CSV with `--map`).
    Import {
        file: PathBuf,
        /// Portfolio name or id.
        #[arg(long)]
        portfolio: String,
        /// File format (see above).
        #[arg(long, default_value = "ours")]
        format: String,
        #[command(flatten)]
        mapping: MappingArgs,
        /// Import the valid rows and list every skipped line with the field
        /// and reason: rows that do not read, name an unknown instrument, or
        /// that the ledger refuses (a sale of more than is held, also when
        /// the buy it needed was skipped). Exit 0 even when every row is skipped.
        #[arg(long)]
        skip_invalid: bool,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Export a portfolio's transactions as our CSV (the import format) or JSON.
    Export {
        /// Portfolio name or id.
        #[arg(long)]
        portfolio: String,
        /// csv or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

/// How a generic CSV is laid out (`--format generic`), and the currency of
/// rows that name none (any CSV format).
#[derive(Debug, Clone, Args)]
pub struct MappingArgs {
    /// Which column holds each field: `date=Trade Date,type=Action,symbol=Ticker,
    /// quantity=Qty,price=Price,fee=Commission,amount=Net Amount,tax=Tax,
    /// currency=Currency,note=Description` (date is required).
    #[arg(long)]
    pub map: Option<String>,
    /// The broker's type words: `Kauf=buy,Verkauf=sell,Dividende=dividend`.
    #[arg(long)]
    pub types: Option<String>,
    /// Column delimiter (`;`, `,`, `tab`); detected from the header by default.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// strftime format of the dates, e.g. `%d.%m.%Y` or `%m/%d/%Y`.
    #[arg(long)]
    pub date_format: Option<String>,
    /// Numbers are written `1.234,56`.
    #[arg(long)]
    pub decimal_comma: bool,
    /// Where the direction is: `type` (a type column, default), `quantity`
    /// (negative = sale) or `amount` (negative = money out).
    #[arg(long)]
    pub sign: Option<String>,
    /// Currency of rows without one.
    #[arg(long)]
    pub currency: Option<String>,
}

impl MappingArgs {
    pub fn options(&self, format: ImportFormat) -> Result<ImportOptions, AppError> {
        let mapping = match (&self.map, format) {
            (Some(map), ImportFormat::Generic) => Some(GenericMapping::parse(
                map,
                self.types.as_deref(),
                self.delimiter.as_deref(),
                self.date_format.as_deref(),
                self.decimal_comma,
                self.sign.as_deref(),
            )?),
            (Some(_), _) => {
                return Err(AppError::invalid_field(
                    "map",
                    "a column mapping applies to --format generic only",
                ));
            }
            (None, _) => None,
        };
        let default_currency = self
            .currency
            .as_deref()
            .map(|c| {
                Currency::parse(&c.to_uppercase())
                    .map_err(|e| AppError::invalid_field("currency", e.to_string()))
            })
            .transpose()?;
        Ok(ImportOptions {
            mapping,
            default_currency,
            skip_invalid: false,
        })
    }
}

pub async fn run(ctx: &AppContext, cmd: TxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TxCommand::Import {
            file,
            portfolio,
            format,
            mapping,
            skip_invalid,
            user,
        } => {
            let user = acting_user(ctx, &user).await?;
            let p = portfolios::find_portfolio(ctx, &user, &portfolio).await?;
            let format: ImportFormat = format.parse()?;
            let options = ImportOptions {
                skip_invalid,
                ..mapping.options(format)?
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let report = match import_transactions(ctx, &user, p.id, format, &bytes, &options).await
            {
                Ok(report) => report,
                Err(AppError::Invalid(errors)) => return Ok(rejected(&file, &errors)),
                Err(e) => return Err(e.into()),
            };
            // Every skipped line, as `bars import --skip-invalid` lists them.
            for s in &report.skipped {
                eprintln!("skipped: {s}");
            }
            println!(
                "imported {} transaction(s) into {} ({} read from {}, format {})",
                report.imported_count,
                p.name,
                report.read,
                file.display(),
                report.format
            );
            if !report.duplicates.is_empty() {
                println!(
                    "skipped {} duplicate(s) already in the portfolio:",
                    report.duplicates.len()
                );
                for d in &report.duplicates {
                    println!("  line {}: {}", d.line, d.reason);
                }
            }
            if skip_invalid {
                let mut lines: Vec<u64> = report.skipped.iter().map(|s| s.line).collect();
                lines.dedup();
                println!(
                    "{} imported, {} duplicate(s), {} invalid line(s) skipped",
                    report.imported_count,
                    report.duplicates.len(),
                    lines.len()
                );
                if report.imported_count == 0 {
                    println!("nothing was written: no row was left to import");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TxCommand::Export {
            portfolio,
            format,
            output,
            user,
        } => {
            let user = acting_user(ctx, &user).await?;
            let p = portfolios::find_portfolio(ctx, &user, &portfolio).await?;
            let format: ExportFormat = format.parse()?;
            let text = export_transactions(ctx, &user, p.id, format).await?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("exported {} to {}", p.name, path.display());
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An all-or-nothing import refused: every error, and the hint to skip the
/// bad rows when they are rows (a whole-file error cannot be skipped).
fn rejected(file: &std::path::Path, errors: &[FieldError]) -> ExitCode {
    for e in errors {
        eprintln!("error: {e}");
    }
    // Row errors carry the row's position; whole-file ones do not.
    if errors.iter().any(|e| e.index.is_some()) {
        eprintln!(
            "{} error(s) in {}; nothing was written (use --skip-invalid to import the valid rows)",
            errors.len(),
            file.display()
        );
    } else {
        eprintln!("nothing was written");
    }
    ExitCode::from(super::EXIT_INVALID_INPUT)
}

/// Our CSV, every bad line reported by its line in the file.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<Transaction>, Vec<FieldError>> {
    pricetrack_app::imports::parse_ours_csv(bytes)
}
