//! The command line: every operator task, against either backend.

mod analytics;
mod bars;
mod manage;
mod market;
mod serve;
mod table;
pub mod tx;

use crate::config::Settings;
use anyhow::Context;
use clap::{Parser, Subcommand};
use pricetrack_app::{AppContext, AppError, auth, ports::SystemClock};
use std::{path::PathBuf, process::ExitCode, sync::Arc};

/// Exit code for input that was refused (sysexits EX_DATAERR).
pub const EXIT_INVALID_INPUT: u8 = 65;

#[derive(Debug, Parser)]
#[command(name = "pricetrack", version, about = "Self-hosted price tracker and portfolio manager", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (and web UI) server.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage instruments (shared by all users).
    #[command(subcommand)]
    Instrument(manage::InstrumentCommand),
    /// Import and export price bars.
    #[command(subcommand)]
    Bars(bars::BarsCommand),
    /// Manage portfolios.
    #[command(subcommand)]
    Portfolio(manage::PortfolioCommand),
    /// Import and list transactions.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Manage users.
    #[command(subcommand)]
    User(manage::UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(manage::TokenCommand),
    /// Fetch prices of every series that is due (`--once`), or keep doing so.
    Fetch(market::FetchArgs),
    /// Fill an instrument's price history (resumable; shows progress).
    Backfill(market::BackfillArgs),
    /// Show what is fetched from where, last success and errors, next due time.
    Status(market::StatusArgs),
    /// List, release or drop bars the validator held back.
    #[command(subcommand)]
    Quarantine(market::QuarantineCommand),
    /// Copy the SQLite database to a file while the server may be running.
    Backup {
        /// Destination file.
        dest: PathBuf,
    },
    /// Check portfolio calculations against a file of reference cases (the
    /// format of shared/fixtures/reference-cases): per case and field our
    /// value, the expected value and pass/fail; exits non-zero if any field
    /// fails or is unsupported.
    CheckCases {
        /// The JSON case file.
        file: PathBuf,
    },
}

/// Opens the configured database (applying migrations) and builds the context.
pub async fn open_context(settings: &Settings) -> anyhow::Result<AppContext> {
    let target = settings.database_target()?;
    let store = pricetrack_storage::open(&target)
        .await
        .with_context(|| format!("opening {}", target.describe()))?;
    crate::jobs::configure(AppContext::new(store, Arc::new(SystemClock)), settings)
}

/// Runs a command and returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load()?;
    if matches!(cli.command, Command::Serve(_)) {
        crate::telemetry::init(settings.log_format);
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(settings, args).await,
        Command::Migrate => {
            let target = settings.database_target()?;
            let applied = pricetrack_storage::migrate(&target).await?;
            if applied.is_empty() {
                println!("{}: schema is up to date", target.describe());
            } else {
                println!("{}: applied {}", target.describe(), applied.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { dest } => {
            let target = settings.database_target()?;
            pricetrack_storage::backup_sqlite(&target, &dest).await?;
            println!("backed up {} to {}", target.describe(), dest.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckCases { file } => analytics::check_cases(&file),
        Command::Instrument(cmd) => manage::instrument(&open_context(&settings).await?, cmd).await,
        Command::Bars(cmd) => bars::run(&open_context(&settings).await?, cmd).await,
        Command::Portfolio(cmd) => manage::portfolio(&open_context(&settings).await?, cmd).await,
        Command::Tx(cmd) => tx::run(&open_context(&settings).await?, cmd).await,
        Command::User(cmd) => manage::user(&open_context(&settings).await?, cmd).await,
        Command::Token(cmd) => manage::token(&open_context(&settings).await?, cmd).await,
        Command::Fetch(args) => {
            market::fetch(&open_context(&settings).await?, &settings, args).await
        }
        Command::Backfill(args) => market::backfill(&open_context(&settings).await?, args).await,
        Command::Status(args) => market::status(&open_context(&settings).await?, args).await,
        Command::Quarantine(cmd) => market::quarantine(&open_context(&settings).await?, cmd).await,
    };
    match result {
        Err(e) => match e.downcast::<AppError>() {
            Ok(AppError::Invalid(errors)) => {
                for error in &errors {
                    eprintln!("error: {error}");
                }
                eprintln!("nothing was written");
                Ok(ExitCode::from(EXIT_INVALID_INPUT))
            }
            Ok(AppError::Analytics(e)) => {
                eprintln!("error: {e}");
                Ok(ExitCode::from(EXIT_INVALID_INPUT))
            }
            Ok(other) => Err(other.into()),
            Err(e) => Err(e),
        },
        ok => ok,
    }
}

/// The user a command acts as (operators act for any user by name).
pub async fn acting_user(
    ctx: &AppContext,
    name: &str,
) -> anyhow::Result<pricetrack_app::ports::User> {
    // A command run on a fresh database before `serve` ever started creates the
    // first admin exactly as `serve` would, token line included, so it is not lost.
    if name == "admin"
        && let Some(issued) = auth::bootstrap_admin(ctx).await?
    {
        eprintln!(
            "created user admin; API token (shown once): {}",
            issued.secret
        );
    }
    Ok(auth::user_by_name(ctx, name).await?)
}
