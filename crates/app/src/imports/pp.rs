//! Portfolio Performance's CSV (its "Account Transactions" and "Portfolio
//! Transactions" layouts, English or German headers), as PP exports it.
//!
//! PP records **net** cash amounts in `Value`: a purchase debits gross plus
//! fees plus taxes, a sale credits gross minus fees and taxes, a dividend
//! credits gross minus taxes (and fees). The gross amount is rebuilt from
//! Value, Fees and Taxes, so each becomes a Pricetrack transaction at its
//! gross price. A buy's or sell's taxes stay on the trade (PP counts a
//! purchase's taxes in its cost incl. costs and a sale's in its net
//! proceeds); taxes on a delivery, which has no cash leg, become a
//! stand-alone tax about the security, and fees on income a stand-alone fee. A `;`-separated file is read with decimal commas
//! (`1.234,56`), a `,`-separated one with decimal points.

use super::{
    Cells, Collector, Draft, Header, ImportOptions, NumberStyle, Parsed, csv_reader, each_record,
};
use crate::FieldError;
use pricetrack_domain::{Currency, TransactionType};
use rust_decimal::Decimal;
use std::collections::HashMap;

const ALIASES: [(&str, &[&str]); 13] = [
    ("date", &["date", "datum"]),
    ("time", &["time", "uhrzeit", "zeit"]),
    ("type", &["type", "typ"]),
    ("value", &["value", "wert", "amount", "betrag"]),
    (
        "currency",
        &[
            "transaction currency",
            "buchungswährung",
            "currency",
            "währung",
        ],
    ),
    ("gross", &["gross amount", "bruttobetrag"]),
    ("fees", &["fees", "gebühren"]),
    ("taxes", &["taxes", "steuern"]),
    ("shares", &["shares", "stück"]),
    ("isin", &["isin"]),
    ("ticker", &["ticker symbol", "ticker-symbol", "symbol"]),
    ("name", &["security name", "wertpapiername", "security"]),
    ("note", &["note", "notiz"]),
];

/// PP's transaction types (English and German) → what they become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PpType {
    Buy,
    Sell,
    DeliveryIn,
    DeliveryOut,
    Deposit,
    Removal,
    Dividend,
    Interest,
    InterestCharge,
    Fees,
    Taxes,
    TransferIn,
    TransferOut,
}

fn pp_type(raw: &str) -> Option<PpType> {
    Some(match raw.trim().to_lowercase().as_str() {
        "buy" | "kauf" => PpType::Buy,
        "sell" | "verkauf" => PpType::Sell,
        "delivery (inbound)" | "inbound delivery" | "einlieferung" => PpType::DeliveryIn,
        "delivery (outbound)" | "outbound delivery" | "auslieferung" => PpType::DeliveryOut,
        "deposit" | "einlage" => PpType::Deposit,
        "removal" | "withdrawal" | "entnahme" => PpType::Removal,
        "dividend" | "dividende" | "dividends" => PpType::Dividend,
        "interest" | "zinsen" => PpType::Interest,
        "interest charge" | "zinsbelastung" => PpType::InterestCharge,
        "fees" | "fee" | "gebühren" => PpType::Fees,
        "taxes" | "tax" | "steuern" => PpType::Taxes,
        "transfer (inbound)" | "umbuchung (eingang)" => PpType::TransferIn,
        "transfer (outbound)" | "umbuchung (ausgang)" => PpType::TransferOut,
        _ => return None,
    })
}

pub(super) fn parse_csv(text: &str, options: &ImportOptions) -> Result<Parsed, Vec<FieldError>> {
    let mut reader = csv_reader(text, None);
    let semicolon = text
        .lines()
        .next()
        .is_some_and(|h| h.matches(';').count() > h.matches(',').count());
    let header = Header::read(&mut reader)?;
    let columns: HashMap<&'static str, usize> = ALIASES
        .iter()
        .filter_map(|(field, aliases)| header.find(aliases).map(|i| (*field, i)))
        .collect();
    let missing: Vec<&str> = ["date", "type", "value"]
        .into_iter()
        .filter(|f| !columns.contains_key(f))
        .collect();
    if !missing.is_empty() {
        return Err(super::file_error(
            1,
            format!(
                "not a Portfolio Performance CSV: no {} column (expected Date, Type, Value, \
                 Transaction Currency, Fees, Taxes, Shares, Ticker Symbol, ISIN, Security Name, Note)",
                missing.join(", ")
            ),
        ));
    }
    let style = NumberStyle {
        decimal_comma: semicolon,
    };
    let default_currency = options.default_currency;
    let mut collector = Collector::default();
    each_record(text, &mut reader, &mut collector, |record| {
        let get = super::lookup(record, &columns);
        row(&get, style, default_currency)
    });
    collector.finish()
}

fn row(
    get: &dyn Fn(&str) -> Option<String>,
    style: NumberStyle,
    default_currency: Option<Currency>,
) -> Result<Vec<Draft>, Vec<FieldError>> {
    let mut c = Cells {
        errors: Vec::new(),
        style,
        get,
    };
    let type_text = c.text("type").unwrap_or_default();
    let Some(kind) = pp_type(&type_text) else {
        return Err(vec![FieldError::field(
            "type",
            format!(
                "unsupported Portfolio Performance type {type_text:?}; expected Buy, Sell, \
                 Delivery (Inbound/Outbound), Deposit, Removal, Dividend, Interest, Interest \
                 Charge, Fees, Taxes or Transfer (Inbound/Outbound)"
            ),
        )]);
    };
    let date = c.text("date").unwrap_or_default();
    let stamp = match c.text("time") {
        Some(t) if !date.contains('T') && !date.contains(' ') => format!("{date} {t}"),
        _ => date,
    };
    let time = match super::parse_time(&stamp, None) {
        Ok(t) => Some(t),
        Err(e) => {
            c.fail("date", e);
            None
        }
    };
    let currency = c.currency("currency", default_currency);
    let value = c.number("value").map(|v| v.abs());
    let fees = c.number("fees").map(|v| v.abs()).unwrap_or_default();
    let taxes = c.number("taxes").map(|v| v.abs()).unwrap_or_default();
    let shares = c.number("shares").map(|v| v.abs());
    let symbol = match c.text("ticker") {
        Some(_) => c.symbol("ticker"),
        None => c.symbol("isin"),
    };
    let (Some(time), Some(currency), Some(value)) = (time, currency, value) else {
        if value.is_none() && c.errors.is_empty() {
            c.fail("value", "is required");
        }
        return Err(c.errors);
    };
    let note = c.text("note").unwrap_or_default();
    let draft = |kind: TransactionType| {
        let mut d = Draft::new(kind, time, currency);
        d.note.clone_from(&note);
        d
    };
    let security = |c: &mut Cells, kind: TransactionType| {
        if symbol.is_none() {
            c.fail(
                "ticker",
                format!("a {kind} needs the Ticker Symbol (or ISIN) of an instrument"),
            );
        }
        let mut d = draft(kind);
        d.symbol.clone_from(&symbol);
        d
    };
    let mut drafts = Vec::new();
    // A stand-alone tax (or fee) about the security, when the row carries one.
    let side = |kind: TransactionType, amount: Decimal, symbol| {
        (amount > Decimal::ZERO).then(|| {
            let mut d = draft(kind);
            d.symbol = symbol;
            d.amount = Some(amount);
            d
        })
    };
    match kind {
        PpType::Buy | PpType::Sell | PpType::DeliveryIn | PpType::DeliveryOut => {
            let ours = match kind {
                PpType::Buy => TransactionType::Buy,
                PpType::Sell => TransactionType::Sell,
                PpType::DeliveryIn => TransactionType::TransferIn,
                _ => TransactionType::TransferOut,
            };
            let inflow = matches!(kind, PpType::Buy | PpType::DeliveryIn);
            let gross = if inflow {
                value - fees - taxes
            } else {
                value + fees + taxes
            };
            let mut d = security(&mut c, ours);
            match shares {
                Some(q) if !q.is_zero() => {
                    d.quantity = Some(q);
                    d.price = Some(gross / q);
                }
                _ => c.fail("shares", format!("a {ours} needs the number of shares")),
            }
            d.fee = Some(fees);
            if matches!(kind, PpType::Buy | PpType::Sell) {
                d.tax = Some(taxes);
                drafts.push(d);
            } else {
                drafts.push(d);
                drafts.extend(side(TransactionType::Tax, taxes, symbol.clone()));
            }
        }
        PpType::Dividend => {
            let mut d = security(&mut c, TransactionType::Dividend);
            d.amount = Some(value + taxes + fees);
            d.tax = Some(taxes);
            drafts.push(d);
            drafts.extend(side(TransactionType::Fee, fees, symbol.clone()));
        }
        PpType::Interest => {
            let mut d = draft(TransactionType::Interest);
            d.amount = Some(value + taxes + fees);
            d.tax = Some(taxes);
            drafts.push(d);
            drafts.extend(side(TransactionType::Fee, fees, None));
        }
        PpType::Deposit | PpType::TransferIn => {
            let mut d = draft(TransactionType::Deposit);
            d.amount = Some(value);
            drafts.push(d);
        }
        PpType::Removal | PpType::TransferOut => {
            let mut d = draft(TransactionType::Withdrawal);
            d.amount = Some(value);
            drafts.push(d);
        }
        PpType::Fees | PpType::InterestCharge => {
            let mut d = draft(TransactionType::Fee);
            d.symbol.clone_from(&symbol);
            d.amount = Some(value);
            drafts.push(d);
        }
        PpType::Taxes => {
            let mut d = draft(TransactionType::Tax);
            d.symbol.clone_from(&symbol);
            d.amount = Some(value);
            drafts.push(d);
        }
    }
    c.finish(drafts)
}
