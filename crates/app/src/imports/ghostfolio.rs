//! Ghostfolio: its export JSON (`{"meta": …, "activities": [...]}`) and its
//! CSV import format with the header aliases Ghostfolio accepts
//! (`qty`/`quantity`/`shares`/`units`, `price`/`unitprice`/`value`,
//! `commission`/`fee`, `code`/`symbol`/`ticker`, `action`/`type`, …).
//!
//! Activity types: BUY, SELL, DIVIDEND (quantity × unit price), INTEREST
//! (quantity × unit price), FEE (the fee), ITEM (a purchase of a hand-priced
//! asset). A fee on a dividend or interest becomes a stand-alone fee.
//! LIABILITY has no counterpart in a Pricetrack ledger and is refused by
//! line. Ghostfolio writes every number positive; the type gives the direction.

use super::{
    Cells, Collector, Draft, Header, ImportOptions, NumberStyle, Parsed, csv_reader, each_record,
    ours::{json_items, json_text},
};
use crate::FieldError;
use pricetrack_domain::{Currency, TransactionType};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Canonical field → Ghostfolio's header aliases (lower case).
const ALIASES: [(&str, &[&str]); 9] = [
    ("account", &["account", "accountid"]),
    ("comment", &["comment", "note"]),
    ("currency", &["ccy", "currency", "currencyprimary"]),
    ("date", &["trade date", "tradedate", "date"]),
    ("fee", &["commission", "fee", "ibcommission"]),
    ("quantity", &["qty", "quantity", "shares", "units"]),
    ("symbol", &["code", "symbol", "ticker"]),
    ("type", &["action", "buy/sell", "type"]),
    (
        "unitprice",
        &[
            "price",
            "purchase price",
            "tradeprice",
            "unitprice",
            "value",
        ],
    ),
];

pub(super) fn parse_csv(text: &str, options: &ImportOptions) -> Result<Parsed, Vec<FieldError>> {
    let mut reader = csv_reader(text, None);
    let header = Header::read(&mut reader)?;
    let columns: HashMap<&'static str, usize> = ALIASES
        .iter()
        .filter_map(|(field, aliases)| header.find(aliases).map(|i| (*field, i)))
        .collect();
    let missing: Vec<&str> = ["date", "type", "symbol", "quantity", "unitprice"]
        .into_iter()
        .filter(|f| !columns.contains_key(f))
        .collect();
    if !missing.is_empty() {
        return Err(super::file_error(
            1,
            format!(
                "not a Ghostfolio CSV: no column for {} (accepted headers: {})",
                missing.join(", "),
                ALIASES
                    .iter()
                    .map(|(f, a)| format!("{f} = {}", a.join("/")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    }
    let mut collector = Collector::default();
    let default_currency = options.default_currency;
    each_record(text, &mut reader, &mut collector, |record| {
        let get = super::lookup(record, &columns);
        activity(&get, default_currency)
    });
    collector.finish()
}

pub(super) fn parse_json(text: &str) -> Result<Parsed, Vec<FieldError>> {
    let items = json_items(text, "activities")?;
    let mut collector = Collector::default();
    for (line, item) in items {
        let value: serde_json::Map<String, serde_json::Value> =
            match serde_json::from_str(item.get()) {
                Ok(v) => v,
                Err(e) => {
                    collector.row(
                        line,
                        Err(vec![FieldError::field("activity", e.to_string())]),
                    );
                    continue;
                }
            };
        let get = |field: &str| {
            let key = match field {
                "unitprice" => "unitPrice",
                other => other,
            };
            value.get(key).and_then(json_text)
        };
        collector.row(line, activity(&get, None));
    }
    collector.finish()
}

/// One Ghostfolio activity (fields: date, type, symbol, quantity, unitprice,
/// fee, currency, comment).
fn activity(
    get: &dyn Fn(&str) -> Option<String>,
    default_currency: Option<Currency>,
) -> Result<Vec<Draft>, Vec<FieldError>> {
    let mut c = Cells {
        errors: Vec::new(),
        style: NumberStyle::default(),
        get,
    };
    let kind_text = c.text("type").unwrap_or_default();
    let time = c.time("date", None);
    let currency = c.currency("currency", default_currency);
    let quantity = c.number("quantity").map(|q| q.abs());
    let unit_price = c.number("unitprice").map(|p| p.abs());
    let fee = c.number("fee").map(|f| f.abs()).unwrap_or_default();
    let (Some(time), Some(currency)) = (time, currency) else {
        return Err(c.errors);
    };
    let note = c.text("comment").unwrap_or_default();
    let with_note = |mut d: Draft| {
        d.note.clone_from(&note);
        d
    };
    let mut drafts = Vec::new();
    let amount = match (quantity, unit_price) {
        (Some(q), Some(p)) => Some(q * p),
        _ => None,
    };
    // A fee beside income is a separate stand-alone fee.
    let side_fee = |symbol| {
        (fee > Decimal::ZERO).then(|| {
            let mut f = with_note(Draft::new(TransactionType::Fee, time, currency));
            f.symbol = symbol;
            f.amount = Some(fee);
            f
        })
    };
    match kind_text.to_ascii_uppercase().as_str() {
        "BUY" | "SELL" | "ITEM" => {
            let kind = if kind_text.eq_ignore_ascii_case("SELL") {
                TransactionType::Sell
            } else {
                TransactionType::Buy
            };
            let mut d = with_note(Draft::new(kind, time, currency));
            d.symbol = c.symbol("symbol");
            d.quantity = quantity;
            d.price = unit_price;
            d.fee = Some(fee);
            drafts.push(d);
        }
        "DIVIDEND" => {
            let mut d = with_note(Draft::new(TransactionType::Dividend, time, currency));
            d.symbol = c.symbol("symbol");
            d.amount = amount;
            drafts.extend(side_fee(d.symbol.clone()));
            drafts.insert(0, d);
        }
        "INTEREST" => {
            let mut d = with_note(Draft::new(TransactionType::Interest, time, currency));
            d.amount = amount;
            drafts.push(d);
            drafts.extend(side_fee(None));
        }
        "FEE" => {
            // Ghostfolio records the charge in `fee` (quantity 0); some files
            // put it in quantity × unit price instead.
            let mut d = with_note(Draft::new(TransactionType::Fee, time, currency));
            d.amount = Some(fee).filter(|f| !f.is_zero()).or(amount);
            drafts.push(d);
        }
        "LIABILITY" => c.fail(
            "type",
            "LIABILITY activities have no counterpart in a Pricetrack ledger; remove them from the file",
        ),
        other => c.fail(
            "type",
            format!(
                "unknown Ghostfolio activity type {other:?}; expected BUY, SELL, DIVIDEND, INTEREST, FEE or ITEM"
            ),
        ),
    }
    c.finish(drafts)
}
