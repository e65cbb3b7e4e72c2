//! Any broker's CSV, read through a column mapping given on the command line
//! or in the API query: which column holds each field, the delimiter, the
//! date format, decimal commas, how the broker names transaction types and
//! which sign convention it uses.
//!
//! `--map "date=Trade Date,type=Action,symbol=Ticker,quantity=Qty,price=Price,fee=Commission,amount=Net Amount,currency=Currency,note=Description"`
//! `--types "Kauf=buy,Verkauf=sell,Dividende=dividend"`

use super::{
    Cells, Collector, Draft, Header, ImportOptions, NumberStyle, Parsed, csv_reader, each_record,
};
use crate::{AppError, FieldError};
use pricetrack_domain::{Currency, SplitRatio, TransactionType};
use rust_decimal::Decimal;
use std::{collections::HashMap, str::FromStr};

/// The fields a mapping can name.
pub const FIELDS: [&str; 12] = [
    "date", "time", "type", "symbol", "quantity", "price", "fee", "amount", "tax", "currency",
    "note", "ratio",
];

/// How a broker encodes the direction of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignConvention {
    /// A type column says what each row is; numbers are magnitudes.
    #[default]
    TypeColumn,
    /// No type column (or an ambiguous one): a positive quantity is a buy, a
    /// negative one a sale.
    SignedQuantity,
    /// No type column: a negative amount is money out (a buy when the row has
    /// a quantity, else a withdrawal), a positive one money in (a sale, else a
    /// deposit).
    SignedAmount,
}

impl FromStr for SignConvention {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "type" | "type-column" | "explicit" => Ok(Self::TypeColumn),
            "quantity" | "signed-quantity" => Ok(Self::SignedQuantity),
            "amount" | "signed-amount" => Ok(Self::SignedAmount),
            _ => Err(AppError::invalid_field(
                "sign",
                format!("unknown sign convention {s:?}; use type, quantity or amount"),
            )),
        }
    }
}

/// A generic CSV's layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenericMapping {
    /// Field → the file's column header (compared case-insensitively).
    pub columns: HashMap<String, String>,
    /// Broker type word (lower case) → ours.
    pub types: HashMap<String, TransactionType>,
    /// `;`, `,`, tab…; detected from the header when `None`.
    pub delimiter: Option<u8>,
    /// strftime format of the date column (`%d.%m.%Y`); common forms when `None`.
    pub date_format: Option<String>,
    pub decimal_comma: bool,
    pub sign: SignConvention,
}

impl GenericMapping {
    /// Builds a mapping from the command-line / query forms:
    /// `map` = `field=Column,…`, `types` = `Word=type,…`.
    pub fn parse(
        map: &str,
        types: Option<&str>,
        delimiter: Option<&str>,
        date_format: Option<&str>,
        decimal_comma: bool,
        sign: Option<&str>,
    ) -> Result<Self, AppError> {
        let mut columns = HashMap::new();
        for pair in map.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((field, column)) = pair.split_once('=') else {
                return Err(AppError::invalid_field(
                    "map",
                    format!("{pair:?} is not field=Column"),
                ));
            };
            let field = field.trim().to_ascii_lowercase();
            if !FIELDS.contains(&field.as_str()) {
                return Err(AppError::invalid_field(
                    "map",
                    format!("unknown field {field:?}; map any of {}", FIELDS.join(", ")),
                ));
            }
            columns.insert(field, column.trim().to_owned());
        }
        if !columns.contains_key("date") {
            return Err(AppError::invalid_field("map", "the mapping needs date=…"));
        }
        let mut type_map = HashMap::new();
        for pair in types
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((word, ours)) = pair.split_once('=') else {
                return Err(AppError::invalid_field(
                    "types",
                    format!("{pair:?} is not Word=type"),
                ));
            };
            let ours = ours
                .parse::<TransactionType>()
                .map_err(|e| AppError::invalid_field("types", e.to_string()))?;
            type_map.insert(word.trim().to_lowercase(), ours);
        }
        let delimiter = match delimiter.map(str::trim) {
            None | Some("") => None,
            Some("tab" | "\\t") => Some(b'\t'),
            Some("semicolon") => Some(b';'),
            Some("comma") => Some(b','),
            Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
            Some(d) => {
                return Err(AppError::invalid_field(
                    "delimiter",
                    format!("{d:?} is not one character (or tab)"),
                ));
            }
        };
        let sign = sign.map(str::parse).transpose()?.unwrap_or_default();
        if sign == SignConvention::TypeColumn && !columns.contains_key("type") {
            return Err(AppError::invalid_field(
                "map",
                "map a type column (type=…), or choose a sign convention (quantity or amount)",
            ));
        }
        Ok(Self {
            columns,
            types: type_map,
            delimiter,
            date_format: date_format.map(str::to_owned).filter(|f| !f.is_empty()),
            decimal_comma,
            sign,
        })
    }
}

pub(super) fn parse_csv(
    text: &str,
    mapping: &GenericMapping,
    options: &ImportOptions,
) -> Result<Parsed, Vec<FieldError>> {
    let mut reader = csv_reader(text, mapping.delimiter);
    let header = Header::read(&mut reader)?;
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    let mut missing = Vec::new();
    for field in FIELDS {
        if let Some(name) = mapping.columns.get(field) {
            match header.find(&[name.to_lowercase().as_str()]) {
                Some(i) => {
                    columns.insert(field, i);
                }
                None => missing.push(format!("{field}={name}")),
            }
        }
    }
    if !missing.is_empty() {
        return Err(super::file_error(
            1,
            format!(
                "the header has no column for {} (it has: {})",
                missing.join(", "),
                header.names.join(", ")
            ),
        ));
    }
    let style = NumberStyle {
        decimal_comma: mapping.decimal_comma,
    };
    let mut collector = Collector::default();
    each_record(text, &mut reader, &mut collector, |record| {
        let get = super::lookup(record, &columns);
        row(&get, mapping, style, options.default_currency)
    });
    collector.finish()
}

fn row(
    get: &dyn Fn(&str) -> Option<String>,
    mapping: &GenericMapping,
    style: NumberStyle,
    default_currency: Option<Currency>,
) -> Result<Vec<Draft>, Vec<FieldError>> {
    let mut c = Cells {
        errors: Vec::new(),
        style,
        get,
    };
    let date = c.text("date").unwrap_or_default();
    let stamp = match c.text("time") {
        Some(t) => format!("{date} {t}"),
        None => date,
    };
    let format = mapping.date_format.as_deref().map(|f| {
        if c.text("time").is_some() && !f.contains("%H") {
            format!("{f} %H:%M:%S")
        } else {
            f.to_owned()
        }
    });
    let time = match super::parse_time(&stamp, format.as_deref()) {
        Ok(t) => Some(t),
        Err(e) => {
            c.fail("date", e);
            None
        }
    };
    let currency = c.currency("currency", default_currency);
    let quantity = c.number("quantity");
    let price = c.number("price").map(|p| p.abs());
    let fee = c.number("fee").map(|f| f.abs());
    let amount = c.number("amount");
    let tax = c.number("tax").map(|t| t.abs());
    let symbol = c.symbol("symbol");
    let kind = match mapping.sign {
        SignConvention::TypeColumn => {
            let word = c.text("type").unwrap_or_default();
            mapping
                .types
                .get(&word.to_lowercase())
                .copied()
                .or_else(|| word.parse::<TransactionType>().ok())
                .or_else(|| {
                    c.fail(
                        "type",
                        format!(
                            "unknown type {word:?}; map it with --types \"{word}=buy\" (or sell, dividend, …)"
                        ),
                    );
                    None
                })
        }
        SignConvention::SignedQuantity => match quantity {
            Some(q) if q > Decimal::ZERO => Some(TransactionType::Buy),
            Some(q) if q < Decimal::ZERO => Some(TransactionType::Sell),
            _ => {
                c.fail("quantity", "a signed quantity (+ buy, − sell) is required");
                None
            }
        },
        SignConvention::SignedAmount => match (amount, quantity) {
            (Some(a), Some(q)) if !q.is_zero() && a < Decimal::ZERO => Some(TransactionType::Buy),
            (Some(a), Some(q)) if !q.is_zero() && a > Decimal::ZERO => Some(TransactionType::Sell),
            (Some(a), _) if a < Decimal::ZERO => Some(TransactionType::Withdrawal),
            (Some(a), _) if a > Decimal::ZERO => Some(TransactionType::Deposit),
            _ => {
                c.fail("amount", "a signed amount (− out, + in) is required");
                None
            }
        },
    };
    let (Some(time), Some(currency), Some(kind)) = (time, currency, kind) else {
        return Err(c.errors);
    };
    let quantity = quantity.map(|q| q.abs());
    let amount = amount.map(|a| a.abs());
    let mut d = Draft::new(kind, time, currency);
    d.note = c.text("note").unwrap_or_default();
    match kind {
        TransactionType::Buy
        | TransactionType::Sell
        | TransactionType::TransferIn
        | TransactionType::TransferOut => {
            d.symbol = symbol;
            d.quantity = quantity;
            let taxed = matches!(kind, TransactionType::Buy | TransactionType::Sell);
            // Without a price column the unit price is the gross amount ÷ quantity:
            // a buy's amount includes its fee (and tax), a sale's has them deducted.
            d.price = price.or(match (amount, quantity) {
                (Some(a), Some(q)) if !q.is_zero() => {
                    let f = fee.unwrap_or_default() + tax.filter(|_| taxed).unwrap_or_default();
                    let gross =
                        if matches!(kind, TransactionType::Buy | TransactionType::TransferIn) {
                            a - f
                        } else {
                            a + f
                        };
                    Some(gross / q)
                }
                _ => None,
            });
            d.fee = fee;
            if taxed {
                d.tax = tax;
            }
        }
        TransactionType::Split => {
            d.symbol = symbol;
            let raw = c.text("ratio").or_else(|| quantity.map(|q| q.to_string()));
            match raw.map(|r| r.parse::<SplitRatio>()) {
                Some(Ok(r)) => d.ratio = Some(r),
                Some(Err(e)) => c.fail("ratio", e.to_string()),
                None => c.fail("ratio", "is required for a split"),
            }
        }
        _ => {
            d.amount = amount.or(match (quantity, price) {
                (Some(q), Some(p)) => Some(q * p),
                _ => None,
            });
            if kind == TransactionType::Fee && d.amount.is_none() {
                d.amount = fee;
            }
            if matches!(kind, TransactionType::Dividend | TransactionType::Interest) {
                d.tax = tax;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_parse_and_name_what_is_wrong() {
        let m = GenericMapping::parse(
            "date=Trade Date, type=Action,symbol=Ticker",
            Some("Kauf=buy,Verkauf=sell"),
            Some(";"),
            Some("%d.%m.%Y"),
            true,
            None,
        )
        .unwrap();
        assert_eq!(m.columns["date"], "Trade Date");
        assert_eq!(m.types["kauf"], TransactionType::Buy);
        assert_eq!(m.delimiter, Some(b';'));
        let field = |r: Result<GenericMapping, AppError>| match r {
            Err(AppError::Invalid(e)) => e[0].field.clone().unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(GenericMapping::parse(
                "date=D,colour=C",
                None,
                None,
                None,
                false,
                None
            )),
            "map"
        );
        assert_eq!(
            field(GenericMapping::parse(
                "date=D,type=T",
                Some("X=gift"),
                None,
                None,
                false,
                None
            )),
            "types"
        );
        assert_eq!(
            field(GenericMapping::parse(
                "date=D", None, None, None, false, None
            )),
            "map"
        );
        assert_eq!(
            field(GenericMapping::parse(
                "date=D",
                None,
                None,
                None,
                false,
                Some("sideways")
            )),
            "sign"
        );
    }
}
