//! `pricetrack fetch`, `backfill`, `status` and `quarantine`: the same use cases
//! as the background loop and the API.

use super::{
    acting_user,
    table::{Align, Table},
};
use crate::jobs::{MarketSettings, spawn_refresh_loop};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use pricetrack_app::{
    AppContext, AppError,
    market::{self, BackfillObserver, RefreshReport},
    ports::{BackfillProgress, FetchJob, JobKey, PageRequest},
};
use pricetrack_domain::{Interval, Symbol};
use std::{process::ExitCode, sync::Arc};

fn symbol(raw: &str) -> anyhow::Result<Symbol> {
    Symbol::parse(raw).map_err(|e| AppError::invalid_field("symbol", e.to_string()).into())
}

fn interval(raw: &str) -> anyhow::Result<Interval> {
    raw.parse::<Interval>()
        .map_err(|e| AppError::invalid_field("interval", e.to_string()).into())
}

fn when(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Run one refresh step (everything due now) and exit.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The instrument (e.g. AAPL, BTC-USD).
    pub symbol: String,
    /// 1m, 5m, 15m, 1h, 1d, 1wk or 1mo.
    #[arg(long, default_value = "1d")]
    pub interval: String,
    /// Go back to this date (YYYY-MM-DD or RFC 3339) instead of the configured depth.
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this instrument.
    pub symbol: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// List quarantined records, newest first.
    List {
        /// Only this instrument.
        #[arg(long)]
        symbol: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Skip this many records first (paging).
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Store a quarantined bar as it is.
    Release {
        id: i64,
        /// Act as this (admin) user.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Delete a quarantined record without storing it.
    Drop {
        id: i64,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

fn print_report(report: &RefreshReport) {
    let mut t = Table::new(&[
        ("symbol", Align::Left),
        ("interval", Align::Left),
        ("run", Align::Left),
        ("provider", Align::Left),
        ("requests", Align::Right),
        ("bars", Align::Right),
        ("quarantined", Align::Right),
        ("next due (UTC)", Align::Left),
        ("error", Align::Left),
    ]);
    for r in &report.runs {
        t.row(vec![
            r.symbol.to_string(),
            r.interval.to_string(),
            format!("{:?}", r.kind).to_lowercase(),
            r.provider.clone().unwrap_or_else(|| "-".into()),
            r.requests.to_string(),
            r.bars_stored.to_string(),
            r.quarantined.to_string(),
            when(Some(r.next_due_at)),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    if !report.runs.is_empty() {
        print!("{}", t.render());
    }
    println!(
        "{} series fetched, {} failed, {} request(s), {} bar(s) stored, {} quarantined{}",
        report.succeeded,
        report.failed,
        report.requests,
        report.bars_stored,
        report.quarantined,
        if report.busy > 0 {
            format!(", {} busy elsewhere", report.busy)
        } else {
            String::new()
        }
    );
}

pub async fn fetch(
    ctx: &AppContext,
    config: &crate::config::Settings,
    args: FetchArgs,
) -> anyhow::Result<ExitCode> {
    if args.once {
        let report = market::refresh_due(ctx, ctx.clock.now()).await?;
        print_report(&report);
        return Ok(if report.failed > 0 {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    }
    let settings = MarketSettings::from_lookup(|k| config.lookup(k))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = spawn_refresh_loop(ctx.clone(), settings.tick, stopped);
    eprintln!("fetching every {:?}; Ctrl-C to stop", settings.tick);
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop.send(true);
    let _ = handle.await;
    Ok(ExitCode::SUCCESS)
}

/// Draws the backfill's progress: the share of the time span covered so far,
/// from where the walk started back to where the history begins (the depth
/// asked for, the provider's declared reach or the first trading day).
struct Progress {
    bar: ProgressBar,
}

impl BackfillObserver for Progress {
    fn chunk_done(
        &self,
        key: &JobKey,
        p: &BackfillProgress,
        bars_stored: u64,
        history_start: jiff::Timestamp,
    ) {
        self.bar.set_message(format!("{key}: {bars_stored} bars"));
        if let (Some(anchor), Some(cursor)) = (p.anchor, p.cursor) {
            let total = anchor.as_second() - history_start.as_second();
            let done = anchor.as_second() - cursor.as_second();
            if total > 0 {
                self.bar.set_length(1000);
                self.bar
                    .set_position(((done.clamp(0, total) as f64 / total as f64) * 1000.0) as u64);
            }
        }
        if p.done {
            self.bar.set_position(self.bar.length().unwrap_or(1000));
        }
    }
}

pub async fn backfill(ctx: &AppContext, args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let s = symbol(&args.symbol)?;
    let i = interval(&args.interval)?;
    let from = args
        .from
        .as_deref()
        .map(|f| {
            pricetrack_app::bar_input::parse_bar_time(f, i)
                .map_err(|e| AppError::invalid_field("from", e))
        })
        .transpose()?;
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{msg:32} [{bar:40}] {percent:>3}% {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("{s} {i}"));
    let observer = Arc::new(Progress { bar: bar.clone() });
    let run = market::backfill(ctx, &s, i, from, Some(observer)).await?;
    bar.finish();
    match &run.error {
        None => {
            println!(
                "{s} {i}: {} bar(s) stored, {} quarantined, {} request(s){}",
                run.bars_stored,
                run.quarantined,
                run.requests,
                if run.backfill_done {
                    ""
                } else {
                    " (not finished; run again to continue)"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(e) => {
            eprintln!(
                "error: {s} {i}: {e}\n{} bar(s) were stored; progress is saved, run again to continue",
                run.bars_stored
            );
            Ok(ExitCode::from(2))
        }
    }
}

fn status_row(t: &mut Table, j: &FetchJob) {
    t.row(vec![
        j.symbol.to_string(),
        j.interval.to_string(),
        if j.active { "yes" } else { "no" }.into(),
        j.provider.clone().unwrap_or_else(|| "-".into())
            + if j.simulated { " (simulated)" } else { "" },
        when(j.last_success_at),
        when(Some(j.next_due_at)),
        j.failures.to_string(),
        if j.backfill.done { "done" } else { "pending" }.into(),
        j.last_error.clone().unwrap_or_default(),
    ]);
}

pub async fn status(ctx: &AppContext, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let jobs = match &args.symbol {
        Some(raw) => {
            market::status::instrument_status(ctx, &symbol(raw)?)
                .await?
                .series
        }
        None => market::status::all_series(ctx).await?,
    };
    let mut t = Table::new(&[
        ("symbol", Align::Left),
        ("interval", Align::Left),
        ("active", Align::Left),
        ("provider", Align::Left),
        ("last success (UTC)", Align::Left),
        ("next due (UTC)", Align::Left),
        ("failures", Align::Right),
        ("backfill", Align::Left),
        ("last error", Align::Left),
    ]);
    for j in &jobs {
        status_row(&mut t, j);
    }
    print!("{}", t.render());
    if jobs.is_empty() {
        eprintln!("no series are fetched yet (they are created by the first refresh step)");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn quarantine(ctx: &AppContext, cmd: QuarantineCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        QuarantineCommand::List {
            symbol: s,
            limit,
            offset,
        } => {
            let s = s.as_deref().map(symbol).transpose()?;
            let page = PageRequest::new(Some(limit), Some(offset));
            let found = market::quarantine::list(ctx, s.as_ref(), page).await?;
            let mut t = Table::new(&[
                ("id", Align::Right),
                ("symbol", Align::Left),
                ("interval", Align::Left),
                ("time (UTC)", Align::Left),
                ("close", Align::Right),
                ("source", Align::Left),
                ("reason", Align::Left),
            ]);
            for q in &found.items {
                let d = &q.draft;
                t.row(vec![
                    q.id.to_string(),
                    d.symbol.to_string(),
                    d.interval.to_string(),
                    when(d.time),
                    d.values
                        .map(|v| v.close.to_string())
                        .unwrap_or_else(|| "-".into()),
                    d.source.clone(),
                    d.reason.clone(),
                ]);
            }
            print!("{}", t.render());
            eprintln!(
                "{} of {} quarantined record(s)",
                found.items.len(),
                found.total
            );
        }
        QuarantineCommand::Release { id, user } => {
            let user = acting_user(ctx, &user).await?;
            let bar = market::quarantine::release(ctx, &user, id).await?;
            println!(
                "released {id}: stored {} {} {} close {}",
                bar.symbol, bar.interval, bar.time, bar.close
            );
        }
        QuarantineCommand::Drop { id, user } => {
            let user = acting_user(ctx, &user).await?;
            market::quarantine::drop_entry(ctx, &user, id).await?;
            println!("dropped {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
