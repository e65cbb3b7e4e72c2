//! Wealthfolio's activity CSV: `date,symbol,quantity,activityType,unitPrice,
//! currency,fee,amount` (older files) or `date,type,symbol,quantity,unit_price,
//! currency,fee,amount,comment` (newer ones), with optional `instrumentType`,
//! `fxRate`, `subtype` columns (ignored).
//!
//! Types: BUY, SELL, DIVIDEND, INTEREST, DEPOSIT, WITHDRAWAL, FEE, TAX, SPLIT
//! (quantity or amount = the split factor), TRANSFER_IN / TRANSFER_OUT and
//! ADD_HOLDING / REMOVE_HOLDING (securities delivered without cash; with a
//! `$CASH-…` symbol, a cash deposit or withdrawal). Cash rows use `amount`,
//! or quantity × unit price.

use super::{
    Cells, Collector, Draft, Header, ImportOptions, NumberStyle, Parsed, csv_reader, each_record,
};
use crate::FieldError;
use pricetrack_domain::{Currency, SplitRatio, TransactionType};
use std::collections::HashMap;

const ALIASES: [(&str, &[&str]); 9] = [
    ("date", &["date"]),
    ("type", &["activitytype", "activity_type", "type"]),
    ("symbol", &["symbol"]),
    ("quantity", &["quantity"]),
    ("price", &["unitprice", "unit_price", "price"]),
    ("currency", &["currency"]),
    ("fee", &["fee"]),
    ("amount", &["amount"]),
    ("comment", &["comment", "notes", "note"]),
];

pub(super) fn parse_csv(text: &str, options: &ImportOptions) -> Result<Parsed, Vec<FieldError>> {
    let mut reader = csv_reader(text, None);
    let header = Header::read(&mut reader)?;
    let columns: HashMap<&'static str, usize> = ALIASES
        .iter()
        .filter_map(|(field, aliases)| header.find(aliases).map(|i| (*field, i)))
        .collect();
    let missing: Vec<&str> = ["date", "type", "symbol"]
        .into_iter()
        .filter(|f| !columns.contains_key(f))
        .collect();
    if !missing.is_empty() {
        return Err(super::file_error(
            1,
            format!(
                "not a Wealthfolio CSV: no {} column (expected date, symbol, quantity, \
                 activityType, unitPrice, currency, fee, amount)",
                missing.join(", ")
            ),
        ));
    }
    let default_currency = options.default_currency;
    let mut collector = Collector::default();
    each_record(text, &mut reader, &mut collector, |record| {
        let get = super::lookup(record, &columns);
        row(&get, default_currency)
    });
    collector.finish()
}

fn row(
    get: &dyn Fn(&str) -> Option<String>,
    default_currency: Option<Currency>,
) -> Result<Vec<Draft>, Vec<FieldError>> {
    let mut c = Cells {
        errors: Vec::new(),
        style: NumberStyle::default(),
        get,
    };
    let type_text = c.text("type").unwrap_or_default().to_ascii_uppercase();
    let time = c.time("date", None);
    let currency = c.currency("currency", default_currency);
    let raw_symbol = c.text("symbol").unwrap_or_default();
    let cash_symbol = raw_symbol.is_empty() || raw_symbol.to_ascii_uppercase().starts_with("$CASH");
    let symbol = if cash_symbol {
        None
    } else {
        c.symbol("symbol")
    };
    let quantity = c.number("quantity").map(|v| v.abs());
    let price = c.number("price").map(|v| v.abs());
    let fee = c.number("fee").map(|v| v.abs()).unwrap_or_default();
    let amount = c.number("amount").map(|v| v.abs());
    let (Some(time), Some(currency)) = (time, currency) else {
        return Err(c.errors);
    };
    let note = c.text("comment").unwrap_or_default();
    let cash_amount = amount.filter(|a| !a.is_zero()).or(match (quantity, price) {
        (Some(q), Some(p)) => Some(q * p),
        _ => None,
    });
    let draft = |kind: TransactionType| {
        let mut d = Draft::new(kind, time, currency);
        d.note.clone_from(&note);
        d
    };
    let trade = |kind: TransactionType| {
        let mut d = draft(kind);
        d.symbol.clone_from(&symbol);
        d.quantity = quantity;
        d.price = price.filter(|p| !p.is_zero()).or_else(|| {
            // A holding moved in by value: the unit price is amount ÷ quantity.
            match (amount, quantity) {
                (Some(a), Some(q)) if !q.is_zero() => Some(a / q),
                _ => None,
            }
        });
        d.fee = Some(fee);
        d
    };
    let cash = |kind: TransactionType, with_symbol: bool| {
        let mut d = draft(kind);
        d.amount = cash_amount;
        if with_symbol {
            d.symbol.clone_from(&symbol);
        }
        d
    };
    let mut drafts = Vec::new();
    let fee_row = |drafts: &mut Vec<Draft>, with_symbol: bool| {
        if !fee.is_zero() {
            let mut f = draft(TransactionType::Fee);
            f.amount = Some(fee);
            if with_symbol {
                f.symbol.clone_from(&symbol);
            }
            drafts.push(f);
        }
    };
    match type_text.as_str() {
        "BUY" => drafts.push(trade(TransactionType::Buy)),
        "SELL" => drafts.push(trade(TransactionType::Sell)),
        "ADD_HOLDING" => drafts.push(trade(TransactionType::TransferIn)),
        "REMOVE_HOLDING" => drafts.push(trade(TransactionType::TransferOut)),
        "TRANSFER_IN" if !cash_symbol => drafts.push(trade(TransactionType::TransferIn)),
        "TRANSFER_OUT" if !cash_symbol => drafts.push(trade(TransactionType::TransferOut)),
        "DEPOSIT" | "TRANSFER_IN" => {
            drafts.push(cash(TransactionType::Deposit, false));
            fee_row(&mut drafts, false);
        }
        "WITHDRAWAL" | "TRANSFER_OUT" => {
            drafts.push(cash(TransactionType::Withdrawal, false));
            fee_row(&mut drafts, false);
        }
        "DIVIDEND" => {
            drafts.push(cash(TransactionType::Dividend, true));
            fee_row(&mut drafts, true);
        }
        "INTEREST" => {
            drafts.push(cash(TransactionType::Interest, false));
            fee_row(&mut drafts, false);
        }
        "FEE" => {
            let mut d = cash(TransactionType::Fee, !cash_symbol);
            if d.amount.is_none() || d.amount.is_some_and(|a| a.is_zero()) {
                d.amount = Some(fee);
            }
            drafts.push(d);
        }
        "TAX" => drafts.push(cash(TransactionType::Tax, !cash_symbol)),
        "SPLIT" => {
            let mut d = draft(TransactionType::Split);
            d.symbol.clone_from(&symbol);
            let factor = amount.filter(|a| !a.is_zero()).or(quantity);
            match factor.map(|f| SplitRatio::new(f, rust_decimal::Decimal::ONE)) {
                Some(Ok(r)) => d.ratio = Some(r),
                Some(Err(e)) => c.fail("quantity", e.to_string()),
                None => c.fail("quantity", "a SPLIT needs its factor in quantity or amount"),
            }
            drafts.push(d);
        }
        other => c.fail(
            "type",
            format!(
                "unsupported Wealthfolio activity type {other:?}; expected BUY, SELL, DIVIDEND, \
                 INTEREST, DEPOSIT, WITHDRAWAL, FEE, TAX, SPLIT, TRANSFER_IN, TRANSFER_OUT, \
                 ADD_HOLDING or REMOVE_HOLDING"
            ),
        ),
    }
    c.finish(drafts)
}
