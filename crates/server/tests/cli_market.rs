//! `pricetrack fetch`, `backfill`, `status` and `quarantine` as an operator uses
//! them, against both backends. Only the `demo` provider is used: no network.

use pricetrack_storage::{
    DatabaseTarget,
    testing::{TestDatabase, fresh_postgres, fresh_sqlite},
};
use std::process::{Command, Output, Stdio};

struct Cli {
    db: TestDatabase,
    dir: tempfile::TempDir,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let url = match &self.db.target {
            DatabaseTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseTarget::Postgres(url) => url.clone(),
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pricetrack"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", url)
            .env_remove("PRICETRACK_CONFIG")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("binary runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pricetrack {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

async fn cli(backend: &str) -> Option<Cli> {
    let db = match backend {
        "sqlite" => fresh_sqlite().await,
        _ => fresh_postgres().await?,
    };
    drop(db.open().await);
    Some(Cli {
        db,
        dir: tempfile::tempdir().expect("temp dir"),
    })
}

async fn backfill_fetch_and_status(backend: &str) {
    let Some(c) = cli(backend).await else { return };
    c.ok(&["user", "add", "admin", "--admin"]);
    c.ok(&[
        "instrument",
        "add",
        "DEMO-BTC",
        "--name",
        "Simulated coin",
        "--kind",
        "crypto",
        "--currency",
        "USD",
        "--provider",
        "demo",
    ]);
    c.ok(&[
        "instrument",
        "add",
        "WATCH",
        "--name",
        "A watch",
        "--kind",
        "item",
        "--currency",
        "EUR",
    ]);
    let out = c.ok(&[
        "backfill",
        "DEMO-BTC",
        "--interval",
        "1d",
        "--from",
        "2024-01-01",
    ]);
    assert!(out.contains("DEMO-BTC 1d:"), "{out}");
    assert!(out.contains("bar(s) stored"), "{out}");
    // Hand-priced instruments are never fetched.
    let out = c.run(&["backfill", "WATCH"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("priced by hand"));

    // The backfilled series is not due before the day ends; a new instrument is
    // picked up and backfilled by the next step.
    c.ok(&[
        "instrument",
        "add",
        "DEMO-ETH",
        "--name",
        "Another simulated coin",
        "--kind",
        "crypto",
        "--currency",
        "USD",
        "--provider",
        "demo",
    ]);
    let out = c.ok(&["fetch", "--once"]);
    assert!(
        out.contains("DEMO-ETH") && !out.contains("DEMO-BTC"),
        "{out}"
    );
    assert!(out.contains("1 series fetched, 0 failed"), "{out}");
    let out = c.ok(&["fetch", "--once"]);
    assert!(
        out.contains("0 series fetched, 0 failed, 0 request(s)"),
        "nothing due: {out}"
    );
    let out = c.ok(&["status"]);
    let header = out.lines().next().unwrap_or_default();
    assert!(header.starts_with("symbol"), "{out}");
    assert!(
        header.contains("next due (UTC)") && header.contains("failures"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("DEMO-BTC") && l.contains("1d"))
        .expect("a row for the daily series");
    assert!(
        row.contains("demo (simulated)") && row.contains("done"),
        "{row}"
    );
    assert!(!out.contains("WATCH"), "{out}");
    let out = c.ok(&["status", "DEMO-BTC"]);
    assert!(out.lines().count() >= 2, "{out}");
}

async fn imports_quarantine_implausible_bars(backend: &str) {
    let Some(c) = cli(backend).await else { return };
    c.ok(&["user", "add", "admin", "--admin"]);
    c.ok(&[
        "instrument",
        "add",
        "AET.L",
        "--name",
        "Aetherium",
        "--kind",
        "stock",
        "--currency",
        "GBP",
        "--provider",
        "manual",
    ]);
    let path = c.dir.path().join("aet.csv");
    std::fs::write(
        &path,
        "time,open,high,low,close,volume\n\
         2022-05-16,14.55,14.55,14.55,14.55,0\n\
         2022-05-17,14.55,14.55,14.55,14.55,0\n\
         2022-05-18,0.1455,0.1455,0.1455,0.1455,0\n\
         2022-05-19,14.55,14.55,14.55,14.55,0\n",
    )
    .expect("write");
    let out = c.ok(&[
        "bars",
        "import",
        &path.display().to_string(),
        "--symbol",
        "AET.L",
        "--interval",
        "1d",
    ]);
    assert!(
        out.contains("1 implausible bar(s) were quarantined"),
        "{out}"
    );
    let list = c.ok(&["quarantine", "list", "--symbol", "AET.L"]);
    let row = list
        .lines()
        .find(|l| l.contains("AET.L"))
        .expect("a quarantined row");
    assert!(row.contains("import") && row.contains("0.1455"), "{list}");
    let id = row.split_whitespace().next().expect("id").to_owned();
    let out = c.ok(&["quarantine", "release", &id]);
    assert!(out.contains("released"), "{out}");
    let out = c.run(&["quarantine", "drop", &id]);
    assert!(!out.status.success(), "already released");
    let exported = c.ok(&["bars", "export", "--symbol", "AET.L"]);
    assert_eq!(
        exported.lines().count(),
        5,
        "header and four bars: {exported}"
    );
}

async fn a_misspelt_provider_is_refused(backend: &str) {
    let Some(c) = cli(backend).await else { return };
    c.ok(&["user", "add", "admin", "--admin"]);
    let out = c.run(&[
        "instrument",
        "add",
        "AAPL",
        "--name",
        "Apple",
        "--kind",
        "stock",
        "--currency",
        "USD",
        "--provider",
        "yahooo",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("provider") && err.contains("\"yahooo\"") && err.contains("alphavantage"),
        "{err}"
    );
    let out = c.ok(&["instrument", "list"]);
    assert!(
        out.contains("0 of 0 instrument(s)"),
        "nothing was stored: {out}"
    );
}

#[tokio::test]
async fn sqlite_a_misspelt_provider_is_refused() {
    a_misspelt_provider_is_refused("sqlite").await;
}

#[tokio::test]
async fn postgres_a_misspelt_provider_is_refused() {
    a_misspelt_provider_is_refused("postgres").await;
}

#[tokio::test]
async fn sqlite_backfill_fetch_and_status() {
    backfill_fetch_and_status("sqlite").await;
}

#[tokio::test]
async fn postgres_backfill_fetch_and_status() {
    backfill_fetch_and_status("postgres").await;
}

#[tokio::test]
async fn sqlite_imports_quarantine_implausible_bars() {
    imports_quarantine_implausible_bars("sqlite").await;
}

#[tokio::test]
async fn postgres_imports_quarantine_implausible_bars() {
    imports_quarantine_implausible_bars("postgres").await;
}
