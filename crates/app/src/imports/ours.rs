//! Our own formats: the CSV `pricetrack tx export` writes
//! (`date,type,symbol,quantity,price,fee,currency,note` plus the optional
//! `amount,tax,ratio`) and the JSON export (or a bare array of API
//! transactions).

use super::{
    Cells, Collector, Draft, Header, NumberStyle, Parsed, csv_reader, each_record, file_error,
    lookup,
};
use crate::FieldError;
use pricetrack_domain::{SplitRatio, TransactionType};
use std::collections::HashMap;

/// Required columns of our CSV, in export order.
pub const CSV_COLUMNS: [&str; 8] = [
    "date", "type", "symbol", "quantity", "price", "fee", "currency", "note",
];
/// Optional columns (exported after the required ones).
pub const OPTIONAL_COLUMNS: [&str; 3] = ["amount", "tax", "ratio"];

/// Our CSV as `Transaction`s, every bad line reported (the parser the CLI, the
/// API and the UI's upload share).
pub fn parse_ours_csv(
    bytes: &[u8],
) -> Result<Vec<pricetrack_domain::Transaction>, Vec<FieldError>> {
    super::parse(
        super::ImportFormat::Ours,
        bytes,
        &super::ImportOptions::default(),
    )
    .map(|rows| rows.into_iter().map(|r| r.transaction).collect())
}

pub(super) fn parse_csv(text: &str) -> Result<Parsed, Vec<FieldError>> {
    let mut reader = csv_reader(text, Some(b','));
    let header = Header::read(&mut reader)?;
    let missing: Vec<&str> = CSV_COLUMNS
        .iter()
        .copied()
        .filter(|c| !header.names.iter().any(|h| h == c))
        .collect();
    let unknown: Vec<&String> = header
        .names
        .iter()
        .filter(|h| !CSV_COLUMNS.contains(&h.as_str()) && !OPTIONAL_COLUMNS.contains(&h.as_str()))
        .collect();
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(file_error(
            1,
            format!(
                "the header must have the columns {} (optional: {}); missing: {missing:?}, unknown: {unknown:?}",
                CSV_COLUMNS.join(","),
                OPTIONAL_COLUMNS.join(","),
            ),
        ));
    }
    let columns: HashMap<&'static str, usize> = CSV_COLUMNS
        .iter()
        .chain(OPTIONAL_COLUMNS.iter())
        .filter_map(|c| header.find(&[c]).map(|i| (*c, i)))
        .collect();
    let mut collector = Collector::default();
    each_record(text, &mut reader, &mut collector, |record| {
        let get = lookup(record, &columns);
        row(&get)
    });
    collector.finish()
}

/// One row of our CSV. Cash rows take `amount`, or quantity × price when it
/// is absent; a split takes `ratio`, or the quantity as its factor.
fn row(get: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Draft>, Vec<FieldError>> {
    let mut c = Cells {
        errors: Vec::new(),
        style: NumberStyle::default(),
        get,
    };
    let kind_text = c.text("type").unwrap_or_default();
    let kind = match kind_text.parse::<TransactionType>() {
        Ok(k) => k,
        Err(e) => return Err(vec![FieldError::field("type", e.to_string())]),
    };
    let time = c.time("date", None);
    let currency = c.currency("currency", None);
    let symbol = c.symbol("symbol");
    let (quantity, price, fee, amount, tax) = (
        c.number("quantity"),
        c.number("price"),
        c.number("fee"),
        c.number("amount"),
        c.number("tax"),
    );
    let ratio_text = c.text("ratio");
    let (Some(time), Some(currency)) = (time, currency) else {
        return Err(c.errors);
    };
    let mut d = Draft::new(kind, time, currency);
    d.note = c.text("note").unwrap_or_default();
    match kind {
        TransactionType::Buy
        | TransactionType::Sell
        | TransactionType::TransferIn
        | TransactionType::TransferOut => {
            d.symbol = symbol;
            d.quantity = quantity;
            d.price = price;
            d.fee = fee;
            // Buys and sells carry a tax; deliveries have no cash leg to tax.
            let taxed = matches!(kind, TransactionType::Buy | TransactionType::Sell);
            if taxed {
                d.tax = tax;
            }
            for (field, v) in [("amount", amount), ("tax", tax.filter(|_| !taxed))] {
                if v.is_some_and(|v| !v.is_zero()) {
                    c.fail(field, format!("does not apply to a {kind} transaction"));
                }
            }
        }
        TransactionType::Split => {
            d.symbol = symbol;
            let raw = ratio_text.or_else(|| quantity.map(|q| q.to_string()));
            match raw.map(|r| r.parse::<SplitRatio>()) {
                Some(Ok(r)) => d.ratio = Some(r),
                Some(Err(e)) => c.fail("ratio", e.to_string()),
                None => c.fail("ratio", "is required for a split transaction"),
            }
        }
        _ => {
            // Cash rows: amount, or quantity × price, or whichever of them is given.
            d.amount = amount.or(match (quantity, price) {
                (Some(q), Some(p)) => Some(q * p),
                (None, Some(p)) => Some(p),
                (Some(q), None) => Some(q),
                (None, None) => None,
            });
            if kind == TransactionType::Fee && d.amount.is_none() {
                d.amount = fee;
            } else if fee.is_some_and(|f| !f.is_zero()) {
                c.fail("fee", format!("does not apply to a {kind} transaction"));
            }
            if matches!(kind, TransactionType::Dividend | TransactionType::Interest) {
                d.tax = tax;
            } else if tax.is_some_and(|t| !t.is_zero()) {
                c.fail("tax", format!("does not apply to a {kind} transaction"));
            }
            if matches!(
                kind,
                TransactionType::Dividend | TransactionType::Fee | TransactionType::Tax
            ) {
                d.symbol = symbol;
            }
        }
    }
    c.finish(vec![d])
}

/// Our JSON: `{"transactions": [...]}` (the export) or a bare array, each
/// item the API's transaction (`type`, `time`, `currency` and the fields of
/// its type).
pub(super) fn parse_json(text: &str) -> Result<Parsed, Vec<FieldError>> {
    let items = json_items(text, "transactions")?;
    let mut collector = Collector::default();
    for (line, item) in items {
        let value: serde_json::Map<String, serde_json::Value> =
            match serde_json::from_str(item.get()) {
                Ok(v) => v,
                Err(e) => {
                    collector.row(
                        line,
                        Err(vec![FieldError::field("transaction", e.to_string())]),
                    );
                    continue;
                }
            };
        let known = [
            "type", "time", "date", "symbol", "quantity", "price", "fee", "amount", "tax", "ratio",
            "currency", "note", "id",
        ];
        let unknown: Vec<FieldError> = value
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| FieldError::field(k, "unknown field"))
            .collect();
        if !unknown.is_empty() {
            collector.row(line, Err(unknown));
            continue;
        }
        let get = |field: &str| {
            let field = if field == "date" && !value.contains_key("date") {
                "time"
            } else {
                field
            };
            value.get(field).and_then(json_text)
        };
        collector.row(line, row(&get));
    }
    collector.finish()
}

/// A JSON scalar as text (numbers exactly as written).
pub(super) fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The items of the array under `key` (or of a top-level array), each with
/// the file line where it starts.
pub(super) fn json_items<'a>(
    text: &'a str,
    key: &str,
) -> Result<Vec<(u64, &'a serde_json::value::RawValue)>, Vec<FieldError>> {
    let not_json = |e: serde_json::Error| {
        file_error(
            u64::try_from(e.line()).unwrap_or(0),
            format!("the file is not valid JSON: {e}"),
        )
    };
    let trimmed = text.trim_start();
    let items: Vec<&serde_json::value::RawValue> = if trimmed.starts_with('[') {
        serde_json::from_str(text).map_err(not_json)?
    } else {
        let object: HashMap<&str, &serde_json::value::RawValue> =
            serde_json::from_str(text).map_err(not_json)?;
        let list = object.get(key).ok_or_else(|| {
            file_error(
                1,
                format!("expected a JSON array, or an object with {key:?}"),
            )
        })?;
        serde_json::from_str(list.get()).map_err(not_json)?
    };
    let base = text.as_ptr() as usize;
    Ok(items
        .into_iter()
        .map(|raw| {
            let offset = (raw.get().as_ptr() as usize).saturating_sub(base);
            let line = text
                .get(..offset)
                .map_or(0, |before| before.matches('\n').count() + 1);
            (u64::try_from(line).unwrap_or(0), raw)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_buys_dividends_and_deposits() {
        let csv = "date,type,symbol,quantity,price,fee,currency,note\n\
                   2024-01-02,deposit,,,10000,,USD,initial\n\
                   2024-01-03,buy,AAPL,10,187.25,1,USD,\n\
                   2024-02-15,dividend,AAPL,10,0.24,,USD,Q1\n";
        let rows = parse_csv(csv).unwrap().rows;
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].transaction.cash_effect().to_string(), "2.4");
        assert_eq!(rows[2].line, 4);
    }

    #[test]
    fn bad_lines_are_reported_by_file_line() {
        let csv = "date,type,symbol,quantity,price,fee,currency,note\n\
                   2024-01-03,buy,AAPL,10,187.25,1,USD,\n\
                   2024-01-04,buy,AAPL,-1,187.25,1,USD,\n\
                   2024-01-05,gift,AAPL,1,1,0,USD,\n";
        let errors = parse_csv(csv).unwrap().errors;
        assert_eq!(errors[0].line, Some(3));
        assert_eq!(errors[0].field.as_deref(), Some("quantity"));
        assert_eq!(errors[1].line, Some(4));
        assert_eq!(errors[1].field.as_deref(), Some("type"));
    }

    #[test]
    fn json_items_know_their_lines() {
        let json = "{\"transactions\": [\n  {\"type\": \"deposit\", \"time\": \"2024-01-02\", \"amount\": 10, \"currency\": \"USD\"},\n  {\"type\": \"deposit\", \"time\": \"2024-01-03\", \"amount\": -1, \"currency\": \"USD\"}\n]}";
        let errors = parse_json(json).unwrap().errors;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(3));
        assert_eq!(errors[0].field.as_deref(), Some("amount"));
    }
}
