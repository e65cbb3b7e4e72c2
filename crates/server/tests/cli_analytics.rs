//! `pricetrack check-cases` and `pricetrack portfolio summary|performance|holdings`
//! as an operator runs them (the binary, against both backends where a
//! database is involved).

use pricetrack_storage::{
    DatabaseTarget,
    testing::{TestDatabase, fresh_postgres, fresh_sqlite},
};
use std::{
    path::{Path, PathBuf},
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

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pricetrack"))
            .args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", self.database_url())
            .env_remove("PRICETRACK_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("binary runs")
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

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write file");
        path.display().to_string()
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

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn reference_cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/reference-cases/portfolio-cases.json")
}

/// `check-cases` needs no database; it runs anywhere.
fn check_cases(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pricetrack"))
        .arg("check-cases")
        .args(args)
        .env_remove("PRICETRACK_CONFIG")
        .env("DATABASE_URL", "sqlite:///nonexistent/never-opened.db")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

#[test]
fn check_cases_passes_every_shipped_reference_case() {
    let file = reference_cases();
    let out = check_cases(&[file.to_str().expect("utf-8 path")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    // Per case and field: ours, expected, tolerance, status.
    let header = text.lines().next().unwrap_or_default();
    for column in ["case", "field", "ours", "expected", "tolerance", "status"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(text.contains("gf-novn-buy-and-sell-partially"), "{text}");
    assert!(text.contains("pass"));
    assert!(
        !text
            .lines()
            .any(|l| l.ends_with("FAIL") || l.ends_with("unsupported")),
        "{text}"
    );
    let summary = text.lines().last().unwrap_or_default();
    assert!(
        summary.contains("0 failed, 0 unsupported, 0 errors"),
        "{summary}"
    );
}

#[test]
fn check_cases_fails_on_a_wrong_expected_value_or_an_unknown_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The shipped file with one expected value changed.
    let shipped = std::fs::read_to_string(reference_cases()).expect("reference cases");
    let needle = "\"expected\": {";
    let at = shipped.find(needle).expect("an expected block");
    let wrong = format!(
        "{}\"expected\": {{\"quantity\": 123456789, {}",
        &shipped[..at],
        &shipped[at + needle.len()..]
    );
    let wrong_file = dir.path().join("wrong.json");
    std::fs::write(&wrong_file, wrong).expect("write");
    let out = check_cases(&[wrong_file.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let text = stdout(&out);
    let failing: Vec<&str> = text.lines().filter(|l| l.ends_with("FAIL")).collect();
    assert_eq!(failing.len(), 1, "{text}");
    assert!(
        failing[0].contains("quantity") && failing[0].contains("123456789"),
        "{}",
        failing[0]
    );

    let unknown = dir.path().join("unknown.json");
    std::fs::write(
        &unknown,
        r#"[{"id": "one", "currency": "USD",
             "activities": [{"date": "2024-01-02", "type": "BUY", "symbol": "ABC", "quantity": 2,
                             "unit_price": 10, "gross_amount": 20, "fee": 1, "currency": "USD"}],
             "market_prices": {"ABC": {"2024-01-05": 12.5}},
             "evaluation_date": "2024-01-05",
             "expected": {"quantity": 2, "sortino_ratio": 1.5},
             "tolerance": {"default_abs": 1e-9}}]"#,
    )
    .expect("write");
    let out = check_cases(&[unknown.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("sortino_ratio") && l.contains("unsupported")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("quantity") && l.contains("pass"))
    );

    // Every expected value passes, but an activity's key is not in the
    // format (a typo of fee): its value was not read, so the case fails.
    let typo = dir.path().join("typo.json");
    std::fs::write(
        &typo,
        r#"[{"id": "typo", "currency": "USD",
             "activities": [{"date": "2024-01-02", "type": "BUY", "symbol": "ABC", "quantity": 2,
                             "unit_price": 10, "gross_amount": 20, "feee": 1, "currency": "USD"}],
             "market_prices": {"ABC": {"2024-01-05": 12.5}},
             "evaluation_date": "2024-01-05",
             "expected": {"quantity": 2}}]"#,
    )
    .expect("write");
    let out = check_cases(&[typo.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("activities[0].feee") && l.contains("unsupported")),
        "{text}"
    );
    assert!(text.contains("0/1 cases passed"), "{text}");

    let out = check_cases(&["/nonexistent/cases.json"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cases.json"), "{}", stderr(&out));
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
    portfolio_summary_performance_and_holdings_print_aligned_tables,
    a_missing_fx_rate_names_the_pair_and_date_and_exits_65,
    tx_export_and_import_round_trip_in_csv_and_json,
    tx_import_reads_other_formats_and_reports_duplicates,
);

/// `portfolio transactions` without the id column.
fn ledger(cli: &Cli, portfolio: &str) -> Vec<String> {
    cli.ok(&["portfolio", "transactions", portfolio])
        .lines()
        .skip(1)
        .map(|l| {
            l.trim_start()
                .split_once(' ')
                .map_or("", |(_, rest)| rest)
                .trim()
                .to_owned()
        })
        .collect()
}

fn tx_export_and_import_round_trip_in_csv_and_json(cli: Cli) {
    setup(&cli);
    let extra = cli.write(
        "extra.csv",
        "date,type,symbol,quantity,price,fee,currency,note,amount,tax,ratio\n\
         2024-03-05T10:11:12.345678Z,dividend,AAPL,,,,USD,\"Q1, net\",1.44,0.216,\n\
         2024-04-01T00:00:00Z,transfer_in,AAPL,0.5,171.123456,0.25,USD,moved in,,,\n\
         2024-05-01T00:00:00Z,split,AAPL,,,,USD,,,,4:1\n",
    );
    cli.ok(&["tx", "import", &extra, "--portfolio", "Main"]);
    let original = ledger(&cli, "Main");
    assert_eq!(original.len(), 6);
    for (format, import_format) in [("csv", "ours"), ("json", "json")] {
        let file = cli.dir.path().join(format!("export.{format}"));
        let file = file.to_str().expect("utf-8");
        cli.ok(&[
            "tx",
            "export",
            "--portfolio",
            "Main",
            "--format",
            format,
            "--output",
            file,
        ]);
        let copy = format!("Copy-{format}");
        cli.ok(&["portfolio", "create", &copy, "--currency", "USD"]);
        let out = cli.ok(&[
            "tx",
            "import",
            file,
            "--portfolio",
            &copy,
            "--format",
            import_format,
        ]);
        assert!(out.contains("imported 6 transaction(s)"), "{out}");
        assert_eq!(ledger(&cli, &copy), original, "{format}");
        let a = cli.ok(&["portfolio", "summary", "Main"]);
        let b = cli.ok(&["portfolio", "summary", &copy]);
        assert_eq!(
            a.lines().skip(1).collect::<Vec<_>>(),
            b.lines().skip(1).collect::<Vec<_>>()
        );
    }
    // Stdout export is the same CSV.
    let stdout = cli.ok(&["tx", "export", "--portfolio", "Main"]);
    let file = std::fs::read_to_string(cli.dir.path().join("export.csv")).expect("export");
    assert_eq!(stdout, file);
}

fn tx_import_reads_other_formats_and_reports_duplicates(cli: Cli) {
    cli.ok(&["user", "add", "admin", "--admin"]);
    cli.ok(&[
        "instrument",
        "add",
        "SAP.DE",
        "--name",
        "SAP",
        "--kind",
        "stock",
        "--currency",
        "EUR",
    ]);
    cli.ok(&["portfolio", "create", "Depot", "--currency", "EUR"]);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/tests/fixtures/imports");
    let generic = fixtures.join("generic-broker.csv");
    let generic = generic.to_str().expect("utf-8");
    let args = [
        "tx",
        "import",
        generic,
        "--portfolio",
        "Depot",
        "--format",
        "generic",
        "--map",
        "date=Buchungstag,type=Aktion,symbol=Ticker,quantity=Stück,price=Kurs,fee=Provision,amount=Betrag,currency=Währung,note=Beschreibung",
        "--types",
        "Kauf=buy,Verkauf=sell,Dividende=dividend",
        "--delimiter",
        ";",
        "--date-format",
        "%d.%m.%Y",
        "--decimal-comma",
    ];
    let out = cli.ok(&args);
    assert!(out.contains("imported 4 transaction(s)"), "{out}");
    let again = cli.ok(&args);
    assert!(again.contains("imported 0 transaction(s)"), "{again}");
    assert!(again.contains("skipped 4 duplicate(s)"), "{again}");
    assert!(
        again.contains("line 2:") && again.contains("line 5:"),
        "{again}"
    );
    // A file in another format is refused by line, nothing written.
    let pp = fixtures.join("pp-account-transactions-en.csv");
    let out = cli.run(&[
        "tx",
        "import",
        pp.to_str().expect("utf-8"),
        "--portfolio",
        "Depot",
        "--format",
        "wealthfolio-csv",
    ]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
    let out = cli.run(&[
        "tx",
        "import",
        pp.to_str().expect("utf-8"),
        "--portfolio",
        "Depot",
        "--format",
        "pp-csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let holdings = cli.ok(&["portfolio", "holdings", "Depot"]);
    assert!(holdings.contains("SAP.DE"), "{holdings}");
}

fn setup(cli: &Cli) {
    cli.ok(&["user", "add", "admin", "--admin"]);
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
    let txs = cli.write(
        "tx.csv",
        "date,type,symbol,quantity,price,fee,currency,note\n\
         2024-01-02,deposit,,,10000,,USD,start\n\
         2024-01-02,buy,AAPL,10,100,0,USD,\n\
         2024-03-01,sell,AAPL,4,130,0,USD,\n",
    );
    cli.ok(&["tx", "import", &txs, "--portfolio", "Main"]);
    let bars = cli.write(
        "bars.csv",
        "symbol,time,open,high,low,close,volume\n\
         AAPL,2024-01-02,100,100,100,100,1\n\
         AAPL,2024-03-01,130,130,130,130,1\n\
         AAPL,2024-06-14,150,150,150,150,1\n",
    );
    cli.ok(&["bars", "import", &bars, "--interval", "1d"]);
}

/// The cell of a two-column table row whose first column is `name`.
fn figure<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no row {name:?} in\n{table}"))
}

fn portfolio_summary_performance_and_holdings_print_aligned_tables(cli: Cli) {
    setup(&cli);
    let summary = cli.ok(&["portfolio", "summary", "Main"]);
    assert!(
        summary.starts_with("Main (USD, average, as of "),
        "{summary}"
    );
    // Deposit 10,000; 6 AAPL left at 150 and 10,000 − 1,000 + 520 cash.
    assert_eq!(figure(&summary, "final value"), "10420.00");
    assert_eq!(figure(&summary, "initial value"), "0.00");
    assert_eq!(figure(&summary, "flows in"), "10000.00");
    assert_eq!(figure(&summary, "realized gains"), "120.00");
    // No fees: the gains after fees are the same.
    assert_eq!(
        figure(&summary, "realized gain after fees (since inception)"),
        "120.00"
    );
    assert_eq!(
        figure(&summary, "unrealized gain after fees (now)"),
        "300.00"
    );
    // (120 realized + 300 unrealized) ÷ the 1,000 invested.
    assert_eq!(figure(&summary, "invested capital"), "1000.00");
    assert_eq!(figure(&summary, "simple return on cost"), "42.00%");
    assert_eq!(figure(&summary, "TWR"), "4.20%");
    // Rows are aligned: every value ends in the same column.
    let widths: Vec<usize> = summary.lines().skip(2).map(str::len).collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{summary}");

    let custom = cli.ok(&[
        "portfolio",
        "summary",
        "Main",
        "--from",
        "2024-03-02",
        "--to",
        "2024-06-14",
    ]);
    assert_eq!(figure(&custom, "initial value"), "10300.00");
    assert_eq!(figure(&custom, "final value"), "10420.00");
    let bad = cli.run(&["portfolio", "summary", "Main", "--period", "2Q"]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(stderr(&bad).contains("period"), "{}", stderr(&bad));

    let perf = cli.ok(&[
        "portfolio",
        "performance",
        "Main",
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-31",
        "--interval",
        "1mo",
    ]);
    let dates: Vec<&str> = perf
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        dates,
        ["2024-01-01", "2024-01-31", "2024-02-29", "2024-03-31"],
        "{perf}"
    );
    assert!(
        perf.lines().nth(1).unwrap_or_default().starts_with("date"),
        "{perf}"
    );

    let now = cli.ok(&["portfolio", "holdings", "Main"]);
    let row = now
        .lines()
        .find(|l| l.starts_with("AAPL"))
        .unwrap_or_else(|| panic!("{now}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "6", "{row}");
    assert_eq!(cells[3], "150", "{row}");
    assert!(now.contains("unrealized net"), "{now}");
    assert!(now.contains("cash USD: 9520.00"), "{now}");
    let then = cli.ok(&["portfolio", "holdings", "Main", "--at", "2024-02-01"]);
    assert!(
        then.contains("holdings at the close of 2024-02-01"),
        "{then}"
    );
    let row = then.lines().find(|l| l.starts_with("AAPL")).unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some("10"), "{row}");
    let with_period = cli.ok(&["portfolio", "holdings", "Main", "--period", "MAX"]);
    assert!(
        with_period.lines().nth(1).unwrap().contains("period gain"),
        "{with_period}"
    );

    // The combined view of every portfolio, and the cost-basis setting.
    let all = cli.ok(&["portfolio", "summary", "all"]);
    assert_eq!(figure(&all, "final value"), "10420.00");
    cli.ok(&["portfolio", "set-method", "Main", "fifo"]);
    let fifo = cli.ok(&["portfolio", "summary", "Main"]);
    assert!(fifo.starts_with("Main (USD, fifo,"), "{fifo}");
}

fn a_missing_fx_rate_names_the_pair_and_date_and_exits_65(cli: Cli) {
    cli.ok(&["user", "add", "admin", "--admin"]);
    cli.ok(&[
        "instrument",
        "add",
        "SAP",
        "--name",
        "SAP",
        "--kind",
        "stock",
        "--currency",
        "EUR",
    ]);
    cli.ok(&["portfolio", "create", "Main", "--currency", "USD"]);
    let txs = cli.write(
        "tx.csv",
        "date,type,symbol,quantity,price,fee,currency,note\n2024-01-03,buy,SAP,10,100,0,EUR,\n",
    );
    cli.ok(&["tx", "import", &txs, "--portfolio", "Main"]);
    let out = cli.run(&["portfolio", "summary", "Main"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("EURUSD") && stderr(&out).contains("2024-01-03"),
        "{}",
        stderr(&out)
    );
}
