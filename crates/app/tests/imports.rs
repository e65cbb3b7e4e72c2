//! Each import format against a realistic sample file
//! (`tests/fixtures/imports/`), read by the same parser the CLI, the API and
//! the UI use.

use pricetrack_app::imports::{GenericMapping, ImportFormat, ImportOptions, ImportedRow, parse};
use pricetrack_domain::{Currency, Transaction, TransactionKind, TransactionType};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imports")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(name: &str, format: ImportFormat, options: &ImportOptions) -> Vec<ImportedRow> {
    parse(format, &fixture(name), options).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn kinds(rows: &[ImportedRow]) -> Vec<&'static str> {
    rows.iter()
        .map(|r| r.transaction.transaction_type().as_str())
        .collect()
}

/// (symbol, quantity, price, fee) of a trade.
fn trade(tx: &Transaction) -> (String, Decimal, Decimal, Decimal) {
    match &tx.kind {
        TransactionKind::Buy {
            symbol,
            quantity,
            price,
            fee,
            ..
        }
        | TransactionKind::Sell {
            symbol,
            quantity,
            price,
            fee,
            ..
        }
        | TransactionKind::TransferIn {
            symbol,
            quantity,
            price,
            fee,
        }
        | TransactionKind::TransferOut {
            symbol,
            quantity,
            price,
            fee,
        } => (
            symbol.to_string(),
            quantity.value(),
            price.value(),
            fee.value(),
        ),
        other => panic!("not a trade: {other:?}"),
    }
}

/// (amount, tax) of a cash transaction.
fn cash(tx: &Transaction) -> (Decimal, Decimal) {
    match &tx.kind {
        TransactionKind::Dividend {
            amount,
            tax_withheld,
            ..
        }
        | TransactionKind::Interest {
            amount,
            tax_withheld,
        } => (amount.value(), tax_withheld.value()),
        TransactionKind::Fee { amount, .. }
        | TransactionKind::Tax { amount, .. }
        | TransactionKind::Deposit { amount }
        | TransactionKind::Withdrawal { amount } => (amount.value(), Decimal::ZERO),
        other => panic!("not cash: {other:?}"),
    }
}

#[test]
fn our_csv() {
    let rows = read("ours.csv", ImportFormat::Ours, &ImportOptions::default());
    assert_eq!(
        kinds(&rows),
        [
            "deposit",
            "buy",
            "buy",
            "dividend",
            "interest",
            "fee",
            "sell",
            "transfer_in",
            "split",
            "withdrawal"
        ]
    );
    assert_eq!(rows[1].line, 3);
    assert_eq!(
        trade(&rows[1].transaction),
        ("AAPL".into(), dec!(10), dec!(185.64), dec!(1))
    );
    assert_eq!(rows[1].transaction.time.to_string(), "2024-01-02T14:30:00Z");
    assert_eq!(rows[1].transaction.note, "first buy");
    assert_eq!(cash(&rows[3].transaction), (dec!(2.4), dec!(0.36)));
    assert_eq!(
        trade(&rows[7].transaction),
        ("VTI".into(), dec!(3), dec!(250), dec!(0))
    );
    match &rows[8].transaction.kind {
        TransactionKind::Split { ratio, .. } => assert_eq!(ratio.factor(), dec!(10)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn our_json() {
    let rows = read(
        "ours.json",
        ImportFormat::OursJson,
        &ImportOptions::default(),
    );
    assert_eq!(kinds(&rows), ["deposit", "buy", "dividend", "sell"]);
    assert_eq!(rows[1].line, 7, "the line where the object starts");
    assert_eq!(
        trade(&rows[3].transaction),
        ("AAPL".into(), dec!(4), dec!(169.2), dec!(1))
    );
}

#[test]
fn ghostfolio_export_json() {
    let rows = read(
        "ghostfolio-export.json",
        ImportFormat::GhostfolioJson,
        &ImportOptions::default(),
    );
    assert_eq!(
        kinds(&rows),
        ["fee", "buy", "dividend", "interest", "sell", "buy"]
    );
    // FEE: the charge is in `fee`, with no symbol (Ghostfolio's is a UUID).
    assert_eq!(cash(&rows[0].transaction), (dec!(49), dec!(0)));
    assert_eq!(rows[0].transaction.symbol(), None);
    assert_eq!(rows[0].transaction.note, "Account opening fee");
    assert_eq!(
        trade(&rows[1].transaction),
        ("MSFT".into(), dec!(5), dec!(298.58), dec!(19))
    );
    // DIVIDEND: quantity × unit price.
    assert_eq!(cash(&rows[2].transaction), (dec!(3.75), dec!(0)));
    assert_eq!(cash(&rows[3].transaction), (dec!(12.5), dec!(0)));
    assert_eq!(
        trade(&rows[4].transaction),
        ("MSFT".into(), dec!(2), dec!(410.1), dec!(4.95))
    );
    // ITEM: a hand-priced asset bought.
    assert_eq!(
        trade(&rows[5].transaction),
        ("ROLEX-SUB-2019".into(), dec!(1), dec!(7500), dec!(0))
    );
    assert_eq!(rows[1].transaction.currency, Currency::USD);
    assert!(rows.windows(2).all(|w| w[0].line < w[1].line));
}

#[test]
fn ghostfolio_csv_with_its_header_aliases_and_date_forms() {
    let rows = read(
        "ghostfolio.csv",
        ImportFormat::GhostfolioCsv,
        &ImportOptions::default(),
    );
    assert_eq!(kinds(&rows), ["fee", "buy", "dividend", "sell", "buy"]);
    let days: Vec<String> = rows
        .iter()
        .map(|r| r.transaction.time.to_string()[..10].to_owned())
        .collect();
    assert_eq!(
        days,
        [
            "2023-09-01",
            "2023-09-16",
            "2023-12-14",
            "2024-04-15",
            "2024-05-01"
        ]
    );
    assert_eq!(cash(&rows[0].transaction), (dec!(49), dec!(0)));
    assert_eq!(
        trade(&rows[1].transaction),
        ("MSFT".into(), dec!(5), dec!(298.58), dec!(19))
    );
    assert_eq!(rows[1].transaction.note, "My first order");
    assert_eq!(cash(&rows[2].transaction), (dec!(3.75), dec!(0)));
}

#[test]
fn portfolio_performance_csv_in_german_with_decimal_commas() {
    let rows = read(
        "pp-portfolio-transactions-de.csv",
        ImportFormat::PpCsv,
        &ImportOptions::default(),
    );
    // The sale's taxes stay on the sale.
    assert_eq!(kinds(&rows), ["buy", "transfer_in", "dividend", "sell"]);
    // Kauf: Wert 1.857,40 = 10 × price + 4,90 fees.
    assert_eq!(
        trade(&rows[0].transaction),
        ("SAP.DE".into(), dec!(10), dec!(185.25), dec!(4.9))
    );
    assert_eq!(rows[0].transaction.time.to_string(), "2024-01-02T09:05:00Z");
    assert_eq!(rows[0].transaction.currency, Currency::EUR);
    assert_eq!(
        trade(&rows[1].transaction),
        ("DTE.DE".into(), dec!(20), dec!(125), dec!(0))
    );
    // Dividende: net 18,40 + 3,60 tax = 22 gross.
    assert_eq!(cash(&rows[2].transaction), (dec!(22), dec!(3.6)));
    // Verkauf: net 899,60 + 4,90 fees + 15,50 taxes = 920 gross for 5.
    assert_eq!(
        trade(&rows[3].transaction),
        ("SAP.DE".into(), dec!(5), dec!(184), dec!(4.9))
    );
    assert!(
        matches!(&rows[3].transaction.kind, TransactionKind::Sell { tax, .. } if tax.value() == dec!(15.5)),
        "{:?}",
        rows[3].transaction
    );
    // 920 − 4,90 − 15,50: the net amount PP credited.
    assert_eq!(rows[3].transaction.cash_effect(), dec!(899.6));
    assert_eq!(rows[3].line, 5);
}

#[test]
fn portfolio_performance_csv_in_english() {
    let rows = read(
        "pp-account-transactions-en.csv",
        ImportFormat::PpCsv,
        &ImportOptions::default(),
    );
    assert_eq!(
        kinds(&rows),
        [
            "deposit",
            "buy",
            "interest",
            "fee",
            "dividend",
            "withdrawal"
        ]
    );
    assert_eq!(cash(&rows[0].transaction), (dec!(5000), dec!(0)));
    assert_eq!(
        trade(&rows[1].transaction),
        ("SAP.DE".into(), dec!(10), dec!(185.25), dec!(4.9))
    );
    assert_eq!(cash(&rows[2].transaction), (dec!(10.43), dec!(2.18)));
}

#[test]
fn wealthfolio_csv_new_and_legacy_headers() {
    let rows = read(
        "wealthfolio.csv",
        ImportFormat::WealthfolioCsv,
        &ImportOptions::default(),
    );
    assert_eq!(
        kinds(&rows),
        [
            "deposit",
            "buy",
            "buy",
            "dividend",
            "sell",
            "withdrawal",
            "interest",
            "fee",
            "transfer_in",
            "split",
            "tax"
        ]
    );
    assert_eq!(cash(&rows[0].transaction), (dec!(5000), dec!(0)));
    assert_eq!(rows[0].transaction.symbol(), None, "$CASH-USD is cash");
    assert_eq!(
        trade(&rows[1].transaction),
        ("AAPL".into(), dec!(10), dec!(185.5), dec!(4.95))
    );
    assert_eq!(cash(&rows[3].transaction), (dec!(2.4), dec!(0)));
    assert_eq!(
        trade(&rows[8].transaction),
        ("GOOGL".into(), dec!(2), dec!(140), dec!(0))
    );
    let legacy = read(
        "wealthfolio-legacy.csv",
        ImportFormat::WealthfolioCsv,
        &ImportOptions::default(),
    );
    assert_eq!(kinds(&legacy), ["buy", "dividend", "deposit", "sell"]);
    assert_eq!(cash(&legacy[1].transaction), (dec!(7.5), dec!(0)));
    assert_eq!(cash(&legacy[2].transaction), (dec!(1000), dec!(0)));
}

#[test]
fn generic_csv_with_a_column_mapping() {
    let mapping = GenericMapping::parse(
        "date=Buchungstag,type=Aktion,symbol=Ticker,quantity=Stück,price=Kurs,fee=Provision,amount=Betrag,currency=Währung,note=Beschreibung",
        Some("Kauf=buy,Verkauf=sell,Dividende=dividend"),
        Some(";"),
        Some("%d.%m.%Y"),
        true,
        None,
    )
    .unwrap();
    let options = ImportOptions {
        mapping: Some(mapping),
        default_currency: None,
        skip_invalid: false,
    };
    let rows = read("generic-broker.csv", ImportFormat::Generic, &options);
    assert_eq!(kinds(&rows), ["buy", "buy", "dividend", "sell"]);
    assert_eq!(
        trade(&rows[1].transaction),
        ("SAP.DE".into(), dec!(5), dec!(1012.5), dec!(4.9))
    );
    assert_eq!(rows[1].transaction.time.to_string(), "2024-02-01T00:00:00Z");
    assert_eq!(cash(&rows[2].transaction), (dec!(22), dec!(0)));
    assert_eq!(rows[1].transaction.note, "Großer Kauf");

    // Signed quantities, US dates, no type or price column: the price is
    // the net amount (a buy's includes the commission) ÷ quantity.
    let signed = GenericMapping::parse(
        "date=Trade Date,symbol=Symbol,quantity=Qty,amount=Net Amount,fee=Commission,currency=CCY",
        None,
        None,
        Some("%m/%d/%Y"),
        false,
        Some("quantity"),
    )
    .unwrap();
    let rows = read(
        "generic-signed.csv",
        ImportFormat::Generic,
        &ImportOptions {
            mapping: Some(signed),
            default_currency: None,
            skip_invalid: false,
        },
    );
    assert_eq!(kinds(&rows), ["buy", "sell"]);
    assert_eq!(
        trade(&rows[0].transaction),
        ("AAPL".into(), dec!(10), dec!(185.54), dec!(1))
    );
    assert_eq!(
        trade(&rows[1].transaction),
        ("AAPL".into(), dec!(4), dec!(169.2), dec!(1))
    );
    assert_eq!(rows[1].transaction.time.to_string(), "2024-03-15T00:00:00Z");
}

#[test]
fn errors_name_the_files_own_line_and_the_field() {
    let bad = "Date,Code,Currency,Price,Quantity,Action,Fee\n\
               16-09-2023,MSFT,USD,298.58,5,buy,19\n\
               \n\
               17-09-2023,MSFT,USD,abc,5,buy,0\n\
               18-09-2023,MSFT,USD,1,5,liability,0\n";
    let errors = parse(
        ImportFormat::GhostfolioCsv,
        bad.as_bytes(),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, Some(4));
    assert_eq!(errors[0].field.as_deref(), Some("unitprice"));
    assert_eq!(errors[1].line, Some(5));
    assert_eq!(errors[1].field.as_deref(), Some("type"));
    assert!(errors[1].reason.contains("LIABILITY"));

    let not_pp = parse(
        ImportFormat::PpCsv,
        b"foo,bar\n1,2\n",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(not_pp[0].line, Some(1));
    assert!(not_pp[0].reason.contains("Portfolio Performance"));

    let missing_currency = parse(
        ImportFormat::WealthfolioCsv,
        b"date,symbol,quantity,activityType,unitPrice\n2024-01-15,MSFT,1,BUY,1\n",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(missing_currency[0].field.as_deref(), Some("currency"));
    let with_default = parse(
        ImportFormat::WealthfolioCsv,
        b"date,symbol,quantity,activityType,unitPrice\n2024-01-15,MSFT,1,BUY,1\n",
        &ImportOptions {
            mapping: None,
            default_currency: Some(Currency::USD),
            skip_invalid: false,
        },
    )
    .unwrap();
    assert_eq!(
        with_default[0].transaction.transaction_type(),
        TransactionType::Buy
    );

    let bad_json = parse(
        ImportFormat::GhostfolioJson,
        b"{\"activities\": [\n {\"type\": \"BUY\", \"date\": \"2024-01-02T00:00:00.000Z\",\n  \"symbol\": \"MSFT\", \"quantity\": -1, \"unitPrice\": 0, \"fee\": 0, \"currency\": \"USD\"}]}",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(bad_json[0].line, Some(2));
    assert_eq!(bad_json[0].field.as_deref(), Some("price"));
}
