//! Transaction export to our CSV and JSON — the formats `imports` reads back,
//! so an export imported into an empty portfolio reproduces it exactly (same
//! times to the microsecond, same decimals, same order).

use crate::{
    AppContext, AppError, AppResult,
    imports::CSV_COLUMNS,
    portfolios::get_portfolio,
    ports::{Portfolio, RecordedTransaction, User},
    settings::method_as_str,
};
use pricetrack_domain::{PortfolioId, Transaction, TransactionKind};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::str::FromStr;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" | "ours" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            _ => Err(AppError::invalid_field(
                "format",
                format!("unknown export format {s:?}; use csv or json"),
            )),
        }
    }
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// The CSV cells of a transaction, in the order of [`CSV_COLUMNS`] then
/// `amount, tax, ratio`. Empty where the kind has no such field.
pub fn row_of(tx: &Transaction) -> [String; 11] {
    let mut row: [String; 11] = Default::default();
    row[0] = tx.time.to_string();
    row[1] = tx.transaction_type().as_str().to_owned();
    row[2] = tx.symbol().map(|s| s.to_string()).unwrap_or_default();
    row[6] = tx.currency.to_string();
    row[7].clone_from(&tx.note);
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
            row[3] = text(quantity.value());
            row[4] = text(price.value());
            row[5] = text(fee.value());
            row[9] = text(tax.value());
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
            row[3] = text(quantity.value());
            row[4] = text(price.value());
            row[5] = text(fee.value());
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
            row[8] = text(amount.value());
            row[9] = text(tax_withheld.value());
        }
        TransactionKind::Fee { amount, .. }
        | TransactionKind::Tax { amount, .. }
        | TransactionKind::Deposit { amount }
        | TransactionKind::Withdrawal { amount } => row[8] = text(amount.value()),
        TransactionKind::Split { ratio, .. } => row[10] = ratio.to_string(),
    }
    row
}

/// Our CSV: a header and one row per transaction, in ledger order.
pub fn to_csv(ledger: &[RecordedTransaction]) -> AppResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AppError::Conflict(format!("writing CSV: {e}"));
    out.write_record(CSV_COLUMNS.iter().chain(["amount", "tax", "ratio"].iter()))
        .map_err(failed)?;
    for r in ledger {
        out.write_record(row_of(&r.transaction)).map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Conflict(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Conflict(format!("writing CSV: {e}")))
}

/// One transaction as the API writes it (only the fields of its type).
pub fn transaction_json(tx: &Transaction) -> Value {
    let row = row_of(tx);
    let names = [
        "time", "type", "symbol", "quantity", "price", "fee", "currency", "note", "amount", "tax",
        "ratio",
    ];
    let mut object = Map::new();
    for (name, value) in names.iter().zip(row) {
        if !value.is_empty() || *name == "note" {
            object.insert((*name).to_owned(), Value::String(value));
        }
    }
    Value::Object(object)
}

/// Our JSON: the portfolio's settings and its transactions in ledger order.
pub fn to_json(portfolio: &Portfolio, ledger: &[RecordedTransaction]) -> Value {
    json!({
        "format": "pricetrack-transactions",
        "version": 1,
        "portfolio": {
            "name": portfolio.name,
            "base_currency": portfolio.base_currency.to_string(),
            "cost_basis_method": method_as_str(portfolio.cost_basis_method),
        },
        "transactions": ledger.iter().map(|r| transaction_json(&r.transaction)).collect::<Vec<_>>(),
    })
}

/// A portfolio's transactions in `format`.
pub async fn export_transactions(
    ctx: &AppContext,
    user: &User,
    portfolio: PortfolioId,
    format: ExportFormat,
) -> AppResult<String> {
    let p = get_portfolio(ctx, user, portfolio).await?;
    let ledger = ctx.store.ledger(p.id).await?;
    match format {
        ExportFormat::Csv => to_csv(&ledger),
        ExportFormat::Json => serde_json::to_string_pretty(&to_json(&p, &ledger))
            .map_err(|e| AppError::Conflict(format!("writing JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imports::{ImportFormat, ImportOptions, parse};
    use pricetrack_domain::{Amount, Currency, Price, Quantity, SplitRatio, Symbol, TransactionId};

    fn every_kind() -> Vec<RecordedTransaction> {
        let s = Symbol::parse("BRK.B").unwrap();
        let tx = |time: &str, note: &str, kind| RecordedTransaction {
            id: TransactionId(1),
            transaction: Transaction::new(
                time.parse().unwrap(),
                Currency::USD,
                note.to_owned(),
                kind,
            )
            .unwrap(),
        };
        let q = |v: &str| Quantity::parse(v).unwrap();
        let p = |v: &str| Price::parse(v).unwrap();
        let a = |v: &str| Amount::parse(v).unwrap();
        vec![
            tx(
                "2024-01-02T00:00:00Z",
                "",
                TransactionKind::Deposit {
                    amount: a("10000.5"),
                },
            ),
            tx(
                "2024-01-02T09:30:00.123456Z",
                "first, \"quoted\"\nline two",
                TransactionKind::Buy {
                    symbol: s.clone(),
                    quantity: q("0.000001"),
                    price: p("412.123456789"),
                    fee: a("0"),
                    tax: a("0.4"),
                },
            ),
            tx(
                "2024-01-03T00:00:00Z",
                "",
                TransactionKind::TransferIn {
                    symbol: s.clone(),
                    quantity: q("3"),
                    price: p("400"),
                    fee: a("1.25"),
                },
            ),
            tx(
                "2024-02-01T00:00:00Z",
                "",
                TransactionKind::Dividend {
                    symbol: s.clone(),
                    amount: a("1.2"),
                    tax_withheld: a("0.18"),
                },
            ),
            tx(
                "2024-02-02T00:00:00Z",
                "",
                TransactionKind::Interest {
                    amount: a("3"),
                    tax_withheld: a("0"),
                },
            ),
            tx(
                "2024-02-03T00:00:00Z",
                "",
                TransactionKind::Fee {
                    symbol: Some(s.clone()),
                    amount: a("2"),
                },
            ),
            tx(
                "2024-02-04T00:00:00Z",
                "",
                TransactionKind::Tax {
                    symbol: None,
                    amount: a("5"),
                },
            ),
            tx(
                "2024-03-01T00:00:00Z",
                "",
                TransactionKind::Split {
                    symbol: s.clone(),
                    ratio: SplitRatio::new(
                        rust_decimal::Decimal::ONE,
                        rust_decimal::Decimal::from(10),
                    )
                    .unwrap(),
                },
            ),
            tx(
                "2024-03-02T00:00:00Z",
                "",
                TransactionKind::Sell {
                    symbol: s.clone(),
                    quantity: q("0.1"),
                    price: p("4100"),
                    fee: a("1"),
                    tax: a("2.05"),
                },
            ),
            tx(
                "2024-03-03T00:00:00Z",
                "",
                TransactionKind::TransferOut {
                    symbol: s,
                    quantity: q("0.1"),
                    price: p("4000"),
                    fee: a("0"),
                },
            ),
            tx(
                "2024-03-04T00:00:00Z",
                "",
                TransactionKind::Withdrawal { amount: a("100") },
            ),
        ]
    }

    #[test]
    fn csv_and_json_exports_read_back_identically() {
        let ledger = every_kind();
        let original: Vec<Transaction> = ledger.iter().map(|r| r.transaction.clone()).collect();
        let csv = to_csv(&ledger).unwrap();
        let back = parse(
            ImportFormat::Ours,
            csv.as_bytes(),
            &ImportOptions::default(),
        )
        .unwrap();
        let back: Vec<Transaction> = back.into_iter().map(|r| r.transaction).collect();
        assert_eq!(back, original);

        let portfolio = Portfolio {
            id: PortfolioId(1),
            owner: pricetrack_domain::UserId(1),
            name: "P".into(),
            base_currency: Currency::USD,
            created_at: "2024-01-01T00:00:00Z".parse().unwrap(),
            cost_basis_method: Default::default(),
            ledger_version: 0,
        };
        let json = serde_json::to_string_pretty(&to_json(&portfolio, &ledger)).unwrap();
        let back = parse(
            ImportFormat::OursJson,
            json.as_bytes(),
            &ImportOptions::default(),
        )
        .unwrap();
        let back: Vec<Transaction> = back.into_iter().map(|r| r.transaction).collect();
        assert_eq!(back, original);
    }
}
