//! The `pricetrack` binary as an operator uses it, against both backends.

use pricetrack_storage::{
    DatabaseTarget,
    testing::{TestDatabase, fresh_postgres, fresh_sqlite},
};
use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Output, Stdio},
};

struct Cli {
    db: TestDatabase,
    dir: tempfile::TempDir,
}

impl Cli {
    fn database_url(&self) -> String {
        match &self.db.target {
            DatabaseTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseTarget::Postgres(url) => url.clone(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pricetrack"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", self.database_url())
            .env_remove("PRICETRACK_CONFIG")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("binary runs")
    }

    /// Runs and asserts success, returning stdout.
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

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write file");
        path.display().to_string()
    }

    /// Creates the admin user the way the first `serve` does.
    fn bootstrap(&self) {
        let out = self.ok(&["user", "add", "admin", "--admin"]);
        assert!(out.contains("added user admin"));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn cli(backend: &str) -> Option<Cli> {
    let db = match backend {
        "sqlite" => fresh_sqlite().await,
        _ => fresh_postgres().await?,
    };
    // Create the schema once up front, as `migrate` would.
    drop(db.open().await);
    Some(Cli {
        db,
        dir: tempfile::tempdir().expect("temp dir"),
    })
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test]
            async fn $case() { super::$case(super::cli("sqlite").await.expect("sqlite")); }
        )* }
        mod postgres { $(
            #[tokio::test]
            async fn $case() { if let Some(c) = super::cli("postgres").await { super::$case(c); } }
        )* }
    };
}

on_both_backends!(
    first_serve_creates_admin_and_prints_a_token_once,
    a_command_on_a_fresh_database_creates_the_admin_and_prints_its_token,
    instruments_are_managed_from_the_command_line,
    a_url_instrument_takes_its_source_from_the_command_line,
    bar_import_is_all_or_nothing_and_names_the_bad_line,
    bar_import_skip_invalid_lists_every_skipped_line,
    mixed_bar_files_need_no_symbol_and_export_round_trips,
    transactions_import_from_csv_and_show_in_holdings,
    transaction_import_skip_invalid_stores_the_good_rows_and_lists_every_skipped_line,
    transaction_import_without_skip_invalid_writes_nothing_and_hints_at_the_flag,
    users_and_tokens_are_managed_from_the_command_line,
    migrate_reports_an_up_to_date_schema,
);

/// `migrate` then `instrument add` before any `serve`: the first admin is created
/// then, its one-time token printed, and nothing is asked of the user first.
fn a_command_on_a_fresh_database_creates_the_admin_and_prints_its_token(cli: Cli) {
    let add = |symbol: &str| {
        cli.run(&[
            "instrument",
            "add",
            symbol,
            "--name",
            symbol,
            "--kind",
            "stock",
            "--currency",
            "USD",
        ])
    };
    let out = add("AAPL");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("token"))
        .unwrap_or_else(|| panic!("no token line: {err}"));
    assert!(
        line.contains("created user admin") && line.contains("pt_"),
        "{line}"
    );
    let again = add("MSFT");
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!stderr(&again).contains("token"), "{}", stderr(&again));
    // The first serve finds the admin and prints no second token.
    assert!(cli.ok(&["token", "list"]).contains("initial admin token"));
}

fn first_serve_creates_admin_and_prints_a_token_once(cli: Cli) {
    let mut child = cli
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let token_line = lines.next().expect("a line").expect("utf-8");
    let listening = lines.next().expect("a line").expect("utf-8");
    let _ = child.kill();
    let _ = child.wait();
    assert!(token_line.contains("token"), "{token_line}");
    let token = token_line
        .split_whitespace()
        .last()
        .expect("token at the end");
    assert!(token.starts_with("pt_"), "{token_line}");
    assert!(
        listening.starts_with("listening on http://127.0.0.1:"),
        "{listening}"
    );

    // The second start finds the admin and prints no token.
    let mut child = cli
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let first = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .next()
        .expect("line")
        .expect("utf-8");
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("listening on"), "{first}");
    let tokens = cli.ok(&["token", "list"]);
    assert!(tokens.contains("initial admin token"), "{tokens}");
}

fn instruments_are_managed_from_the_command_line(cli: Cli) {
    cli.bootstrap();
    cli.ok(&[
        "instrument",
        "add",
        "GC=F",
        "--name",
        "Gold futures",
        "--kind",
        "commodity",
        "--currency",
        "USD",
    ]);
    cli.ok(&[
        "instrument",
        "add",
        "ROLEX-SUB-2019",
        "--name",
        "Rolex",
        "--kind",
        "item",
        "--currency",
        "EUR",
    ]);
    let list = cli.ok(&["instrument", "list"]);
    assert!(
        list.contains("GC=F") && list.contains("Gold futures") && list.contains("2 of 2"),
        "{list}"
    );
    let show = cli.ok(&["instrument", "show", "ROLEX-SUB-2019"]);
    assert!(show.contains("\"provider\": \"manual\""), "{show}");
    let bad = cli.run(&[
        "instrument",
        "add",
        "X",
        "--name",
        "x",
        "--kind",
        "share",
        "--currency",
        "USD",
    ]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(stderr(&bad).contains("kind"), "{}", stderr(&bad));
    cli.ok(&["instrument", "rm", "GC=F"]);
    let missing = cli.run(&["instrument", "show", "GC=F"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("not found"));
}

/// `instrument add --provider url --url-source JSON`: checked like the API
/// (exit 65 naming the part at fault), stored, shown.
fn a_url_instrument_takes_its_source_from_the_command_line(cli: Cli) {
    cli.bootstrap();
    let add = |source: Option<&str>| {
        let mut args = vec![
            "instrument",
            "add",
            "KRUGER-1OZ",
            "--name",
            "Krugerrand",
            "--kind",
            "item",
            "--currency",
            "EUR",
            "--provider",
            "url",
        ];
        if let Some(s) = source {
            args.extend(["--url-source", s]);
        }
        cli.run(&args)
    };
    for (source, named) in [
        (None, "url_source"),
        (Some("{not json"), "url_source"),
        (
            Some(r#"{"url": "https://coins.test/{SYMBOL}", "extract": {"regex": "([0-9"}}"#),
            "url_source.extract.regex",
        ),
    ] {
        let out = add(source);
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        assert!(stderr(&out).contains(named), "{}", stderr(&out));
    }
    assert!(
        !cli.run(&["instrument", "show", "KRUGER-1OZ"])
            .status
            .success()
    );
    let out = add(Some(
        r#"{"url": "https://coins.test/{SYMBOL}", "extract": {"css": {"selector": "span.price"}}, "number_format": "decimal_comma"}"#,
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let show: serde_json::Value =
        serde_json::from_str(&cli.ok(&["instrument", "show", "KRUGER-1OZ"])).expect("JSON");
    assert_eq!(
        show["url_source"],
        serde_json::json!({"url": "https://coins.test/{SYMBOL}",
            "extract": {"css": {"selector": "span.price"}}, "number_format": "decimal_comma"})
    );
}

fn bar_csv(rows: usize, bad_line: Option<usize>) -> String {
    let mut csv = String::from("time,open,high,low,close,volume\n");
    for i in 0..rows {
        let line = i + 2;
        let close = if Some(line) == bad_line {
            "oops".to_owned()
        } else {
            "1.5".to_owned()
        };
        csv.push_str(&format!(
            "{},1,2,0.5,{close},10\n",
            1_700_000_100 + i as i64 * 300
        ));
    }
    csv
}

fn bar_import_is_all_or_nothing_and_names_the_bad_line(cli: Cli) {
    cli.bootstrap();
    cli.ok(&[
        "instrument",
        "add",
        "AAPL",
        "--name",
        "Apple",
        "--kind",
        "stock",
        "--currency",
        "USD",
    ]);
    let file = cli.write("bad.csv", &bar_csv(60_000, Some(50_000)));
    let out = cli.run(&[
        "bars",
        "import",
        &file,
        "--symbol",
        "AAPL",
        "--interval",
        "5m",
    ]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 50000"), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing was written"));
    let export = cli.ok(&["bars", "export", "--symbol", "AAPL", "--interval", "5m"]);
    assert_eq!(export.lines().count(), 1, "only the header: {export}");

    let not_utf8 = cli.dir.path().join("latin1.csv");
    std::fs::File::create(&not_utf8)
        .and_then(|mut f| {
            f.write_all(b"time,open,high,low,close,volume\n2024-01-02T10:00:00Z,1,2,0.5,\xe9,1\n")
        })
        .expect("write");
    let out = cli.run(&[
        "bars",
        "import",
        &not_utf8.display().to_string(),
        "--symbol",
        "AAPL",
        "--interval",
        "5m",
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));

    let good = cli.write("good.csv", &bar_csv(1_000, None));
    let out = cli.ok(&[
        "bars",
        "import",
        &good,
        "--symbol",
        "AAPL",
        "--interval",
        "5m",
    ]);
    assert!(out.contains("1000 new, 0 replaced"), "{out}");
    let again = cli.ok(&[
        "bars",
        "import",
        &good,
        "--symbol",
        "AAPL",
        "--interval",
        "5m",
    ]);
    assert!(again.contains("0 new, 1000 replaced"), "{again}");
}

fn bar_import_skip_invalid_lists_every_skipped_line(cli: Cli) {
    cli.bootstrap();
    cli.ok(&[
        "instrument",
        "add",
        "AAPL",
        "--name",
        "Apple",
        "--kind",
        "stock",
        "--currency",
        "USD",
    ]);
    // Two good days around 60 bad ones (more than a rejected file would list).
    let mut csv = String::from(
        "time,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,1\n2024-01-03,1,0.5,2,1.5,1\n2024-01-04,1,2,0.5,x,1\n",
    );
    for day in 0..58 {
        csv.push_str(&format!("{},1,2,0.5,NaN,1\n", 1_800_000_000 + day * 86_400));
    }
    csv.push_str("2024-01-05,1,2,0.5,1.5,1\n");
    let file = cli.write("bars.csv", &csv);
    let out = cli.run(&[
        "bars",
        "import",
        &file,
        "--symbol",
        "AAPL",
        "--interval",
        "1d",
        "--skip-invalid",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for line in 3..=62 {
        assert!(
            err.contains(&format!("skipped: line {line}:")),
            "line {line}: {err}"
        );
    }
    assert!(!err.contains("more"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 new"));
}

fn mixed_bar_files_need_no_symbol_and_export_round_trips(cli: Cli) {
    cli.bootstrap();
    cli.ok(&[
        "instrument",
        "add",
        "AAPL",
        "--name",
        "Apple",
        "--kind",
        "stock",
        "--currency",
        "USD",
    ]);
    cli.ok(&[
        "instrument",
        "add",
        "MSFT",
        "--name",
        "Microsoft",
        "--kind",
        "stock",
        "--currency",
        "USD",
    ]);
    let file = cli.write(
        "mixed.csv",
        "symbol,time,open,high,low,close,volume\nAAPL,2024-01-02,1,2,0.5,1.5,10\nMSFT,2024-01-02,3,4,2.5,3.5,20\nAAPL,2024-01-03,1.5,2.5,1,2,30\n",
    );
    let out = cli.ok(&["bars", "import", &file, "--interval", "1d"]);
    assert!(out.contains("3 new"), "{out}");
    let csv = cli.ok(&["bars", "export", "--symbol", "AAPL", "--interval", "1d"]);
    assert_eq!(
        csv,
        "time,open,high,low,close,volume\n2024-01-02T00:00:00Z,1,2,0.5,1.5,10\n2024-01-03T00:00:00Z,1.5,2.5,1,2,30\n"
    );
    let json = cli.ok(&[
        "bars",
        "export",
        "--symbol",
        "MSFT",
        "--interval",
        "1d",
        "--format",
        "json",
    ]);
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(parsed[0]["close"], 3.5);
    // The export is importable as is.
    let exported = cli.write("export.csv", &csv);
    let again = cli.ok(&[
        "bars",
        "import",
        &exported,
        "--symbol",
        "AAPL",
        "--interval",
        "1d",
    ]);
    assert!(again.contains("0 new, 2 replaced"), "{again}");
    let unknown = cli.write(
        "unknown.csv",
        "symbol,time,open,high,low,close,volume\nNOPE,2024-01-02,1,2,0.5,1.5,10\n",
    );
    let out = cli.run(&["bars", "import", &unknown, "--interval", "1d"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("unknown instrument NOPE"),
        "{}",
        stderr(&out)
    );
}

fn transactions_import_from_csv_and_show_in_holdings(cli: Cli) {
    cli.bootstrap();
    cli.ok(&[
        "instrument",
        "add",
        "AAPL",
        "--name",
        "Apple",
        "--kind",
        "stock",
        "--currency",
        "USD",
    ]);
    cli.ok(&["portfolio", "create", "Main", "--currency", "USD"]);
    let bad = cli.write(
        "bad.csv",
        "date,type,symbol,quantity,price,fee,currency,note\n2024-01-02,buy,AAPL,10,100,1,USD,first\n2024-01-03,sell,AAPL,20,110,1,USD,too many\n",
    );
    let out = cli.run(&["tx", "import", &bad, "--portfolio", "Main"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("only 10 held"), "{}", stderr(&out));
    let listed = cli.ok(&["portfolio", "transactions", "Main"]);
    assert_eq!(listed.lines().count(), 1, "nothing imported: {listed}");

    let good = cli.write(
        "good.csv",
        "date,type,symbol,quantity,price,fee,currency,note\n\
         2024-01-01,deposit,,,5000,,USD,start\n\
         2024-01-02,buy,AAPL,10,100,1,USD,first\n\
         2024-01-03,sell,AAPL,4,110,1,USD,\n",
    );
    let out = cli.ok(&["tx", "import", &good, "--portfolio", "Main"]);
    assert!(out.contains("imported 3 transaction(s)"), "{out}");
    let holdings = cli.ok(&["portfolio", "holdings", "Main"]);
    assert!(
        holdings.contains("AAPL") && holdings.contains("cash USD: 4438"),
        "{holdings}"
    );
    let export = cli.ok(&["tx", "export", "--portfolio", "Main"]);
    assert!(
        export.starts_with("date,type,symbol,quantity,price,fee,currency,note"),
        "{export}"
    );
}

fn users_and_tokens_are_managed_from_the_command_line(cli: Cli) {
    cli.bootstrap();
    cli.ok(&["user", "add", "alice"]);
    let dup = cli.run(&["user", "add", "alice"]);
    assert!(!dup.status.success());
    assert!(stderr(&dup).contains("already exists"));
    let users = cli.ok(&["user", "list"]);
    assert!(
        users.contains("alice") && users.contains("admin"),
        "{users}"
    );
    let token = cli.ok(&["token", "create", "--user", "alice", "--label", "ci"]);
    assert!(token.trim().starts_with("pt_"));
    let list = cli.ok(&["token", "list", "--user", "alice"]);
    assert!(
        list.contains("ci") && !list.contains(token.trim()),
        "{list}"
    );
    let id = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("id column")
        .to_owned();
    cli.ok(&["token", "revoke", &id, "--user", "alice"]);
    assert_eq!(
        cli.ok(&["token", "list", "--user", "alice"])
            .lines()
            .count(),
        1
    );
}

fn migrate_reports_an_up_to_date_schema(cli: Cli) {
    let out = cli.ok(&["migrate"]);
    assert!(out.contains("up to date"), "{out}");
}

#[test]
fn an_unknown_database_scheme_is_refused_naming_the_accepted_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_pricetrack"))
        .args(["instrument", "list"])
        .env("DATABASE_URL", "mysql://localhost/x")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
}

#[test]
fn without_configuration_the_database_is_sqlite_under_pricetrack_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_pricetrack"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("PRICETRACK_DATA")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(Path::new(&dir.path().join("pricetrack-data/pricetrack.db")).exists());
    let custom = dir.path().join("elsewhere");
    let out = Command::new(env!("CARGO_BIN_EXE_pricetrack"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("PRICETRACK_DATA", &custom)
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(custom.join("pricetrack.db").exists());
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["instrument", "add", "--help"],
        vec!["bars", "import", "--help"],
        vec!["bars", "export", "--help"],
        vec!["portfolio", "--help"],
        vec!["tx", "import", "--help"],
        vec!["user", "--help"],
        vec!["token", "--help"],
        vec!["backup", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pricetrack"))
            .args(&args)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

/// A file with good rows among a bad number, a sale that needs a later buy,
/// an unknown instrument and an unknown type (lines 3 to 6).
const MIXED_TX_CSV: &str = "date,type,symbol,quantity,price,fee,currency,note\n\
    2024-01-01,deposit,,,5000,,USD,start\n\
    2024-01-02,buy,AAPL,ten,100,1,USD,bad number\n\
    2024-01-03,sell,AAPL,5,110,1,USD,nothing held yet\n\
    2024-01-04,buy,NOPE,1,1,0,USD,unknown instrument\n\
    2024-01-05,swap,AAPL,1,1,0,USD,\n\
    2024-01-06,buy,AAPL,10,100,1,USD,good\n\
    2024-01-07,sell,AAPL,4,110,1,USD,good\n";

fn portfolio_with_aapl(cli: &Cli, name: &str) {
    cli.ok(&[
        "instrument",
        "add",
        "AAPL",
        "--name",
        "Apple",
        "--kind",
        "stock",
        "--currency",
        "USD",
    ]);
    cli.ok(&["portfolio", "create", name, "--currency", "USD"]);
}

fn transaction_import_skip_invalid_stores_the_good_rows_and_lists_every_skipped_line(cli: Cli) {
    cli.bootstrap();
    portfolio_with_aapl(&cli, "Main");
    let file = cli.write("mixed.csv", MIXED_TX_CSV);
    let args = [
        "tx",
        "import",
        &file,
        "--portfolio",
        "Main",
        "--skip-invalid",
    ];
    let out = cli.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let skipped: Vec<&str> = err.lines().filter(|l| l.starts_with("skipped: ")).collect();
    assert_eq!(skipped.len(), 4, "{err}");
    assert!(
        skipped[0].starts_with("skipped: line 3: quantity: "),
        "{err}"
    );
    assert!(
        skipped[1].starts_with("skipped: line 4: quantity: cannot sell 5 AAPL"),
        "{err}"
    );
    assert_eq!(
        skipped[2],
        "skipped: line 5: symbol: unknown instrument NOPE; add it first"
    );
    assert!(skipped[3].starts_with("skipped: line 6: type: "), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported 3 transaction(s) into Main"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 imported, 0 duplicate(s), 4 invalid line(s) skipped"),
        "{stdout}"
    );
    let listed = cli.ok(&["portfolio", "transactions", "Main"]);
    assert_eq!(listed.lines().count(), 4, "header and 3 rows: {listed}");
    let holdings = cli.ok(&["portfolio", "holdings", "Main"]);
    assert!(holdings.contains("AAPL"), "{holdings}");

    // Again: the good rows are duplicates now, the bad ones skipped as before.
    let again = cli.ok(&args);
    assert!(
        again.contains("0 imported, 3 duplicate(s), 4 invalid line(s) skipped"),
        "{again}"
    );

    // Nothing but bad rows: exit 0, nothing written, and the summary says so.
    let bad = cli.write(
        "bad.csv",
        "date,type,symbol,quantity,price,fee,currency,note\n\
         2024-02-01,sell,AAPL,100,110,1,USD,more than held\n\
         2024-02-02,buy,AAPL,1,x,0,USD,bad price\n",
    );
    let out = cli.run(&[
        "tx",
        "import",
        &bad,
        "--portfolio",
        "Main",
        "--skip-invalid",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("0 imported, 0 duplicate(s), 2 invalid line(s) skipped")
            && stdout.contains("nothing was written"),
        "{stdout}"
    );
    assert!(stderr(&out).contains("skipped: line 2: quantity: cannot sell 100 AAPL"));
    assert!(stderr(&out).contains("skipped: line 3: price: "));
    let listed = cli.ok(&["portfolio", "transactions", "Main"]);
    assert_eq!(listed.lines().count(), 4, "unchanged: {listed}");
}

fn transaction_import_without_skip_invalid_writes_nothing_and_hints_at_the_flag(cli: Cli) {
    cli.bootstrap();
    portfolio_with_aapl(&cli, "Main");
    let file = cli.write("mixed.csv", MIXED_TX_CSV);
    let out = cli.run(&["tx", "import", &file, "--portfolio", "Main"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: line 3: quantity: "), "{err}");
    assert!(err.contains("error: line 6: type: "), "{err}");
    assert!(
        err.contains("nothing was written") && err.contains("--skip-invalid"),
        "{err}"
    );
    let listed = cli.ok(&["portfolio", "transactions", "Main"]);
    assert_eq!(listed.lines().count(), 1, "nothing imported: {listed}");

    // An over-sale alone is refused the same way, naming its line.
    let oversold = cli.write(
        "oversold.csv",
        "date,type,symbol,quantity,price,fee,currency,note\n\
         2024-01-02,buy,AAPL,10,100,1,USD,\n\
         2024-01-03,sell,AAPL,20,110,1,USD,\n",
    );
    let out = cli.run(&["tx", "import", &oversold, "--portfolio", "Main"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 3: quantity: cannot sell 20 AAPL")
            && stderr(&out).contains("--skip-invalid"),
        "{}",
        stderr(&out)
    );
    let listed = cli.ok(&["portfolio", "transactions", "Main"]);
    assert_eq!(listed.lines().count(), 1, "nothing imported: {listed}");
}
