//! The reference-case format of `shared/fixtures/reference-cases/README.md`,
//! typed: a case is activities, prices, FX rates, a base currency, an
//! evaluation date (and optionally a period start) and expected figures.
//!
//! Numbers must be exact decimals, and JSON numbers lose digits when read as
//! `f64`, so [`quote_json_numbers`] first turns every number literal into a
//! string literal; [`DecimalLiteral`] then reads either form. Parsing the
//! JSON itself is the caller's business (the domain does no I/O and has no
//! JSON parser).

use super::{
    activity::{Activity, ActivityKind, Trade},
    fx::FxTable,
    prices::PriceTable,
};
use crate::{Currency, SplitRatio, Symbol};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, de};
use std::{collections::BTreeMap, fmt, str::FromStr};

/// Rewrites a JSON text so that every number literal outside strings becomes
/// a string literal holding the same characters (`1.50` → `"1.50"`).
pub fn quote_json_numbers(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    let mut chars = json.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            out.push('"');
            out.push(c);
            while let Some(&n) = chars.peek() {
                if n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-') {
                    out.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push('"');
        } else {
            out.push(c);
        }
    }
    out
}

/// An exact decimal read from a string (`"0.1"`, `"1e-9"`) or a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalLiteral(pub Decimal);

fn parse_decimal(s: &str) -> Option<Decimal> {
    let s = s.trim();
    Decimal::from_str_exact(s)
        .or_else(|_| Decimal::from_scientific(s))
        .or_else(|_| Decimal::from_str(s))
        .ok()
}

impl<'de> Deserialize<'de> for DecimalLiteral {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = DecimalLiteral;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_decimal(v)
                    .map(DecimalLiteral)
                    .ok_or_else(|| E::custom(format!("{v:?} is not a decimal number")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(DecimalLiteral(Decimal::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(DecimalLiteral(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Shortest round-trip text of the float: exact for short literals.
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A JSON object read as a list, keeping the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Visitor<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    entries.push((k, v));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// `split_ratio` of a SPLIT activity.
#[derive(Debug, Clone, Deserialize)]
pub struct SplitRatioSpec {
    pub numerator: DecimalLiteral,
    pub denominator: DecimalLiteral,
    /// Keys this format does not define (reported, never ignored silently).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, de::IgnoredAny>,
}

/// One activity as written in a case file.
#[derive(Debug, Clone, Deserialize)]
pub struct ActivitySpec {
    pub date: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub quantity: Option<DecimalLiteral>,
    #[serde(default)]
    pub unit_price: Option<DecimalLiteral>,
    #[serde(default)]
    pub gross_amount: Option<DecimalLiteral>,
    #[serde(default)]
    pub amount: Option<DecimalLiteral>,
    #[serde(default)]
    pub fee: Option<DecimalLiteral>,
    #[serde(default)]
    pub tax: Option<DecimalLiteral>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub fee_base: Option<DecimalLiteral>,
    #[serde(default)]
    pub split_ratio: Option<SplitRatioSpec>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub price_source: Option<String>,
    /// Keys this format does not define (reported, never ignored silently).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, de::IgnoredAny>,
}

/// One case as written in a case file.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseSpec {
    pub id: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub activities: Vec<ActivitySpec>,
    #[serde(default)]
    pub market_prices: BTreeMap<String, BTreeMap<String, DecimalLiteral>>,
    #[serde(default)]
    pub fx_rates: BTreeMap<String, BTreeMap<String, DecimalLiteral>>,
    #[serde(default)]
    pub period_start: Option<String>,
    pub evaluation_date: String,
    #[serde(default)]
    pub expected: Ordered<DecimalLiteral>,
    #[serde(default)]
    pub tolerance: Ordered<DecimalLiteral>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Keys this format does not define (reported, never ignored silently).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, de::IgnoredAny>,
}

/// Absolute tolerances: a default and per-field overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    pub default_abs: Decimal,
    pub per_field: Vec<(String, Decimal)>,
}

impl Tolerance {
    /// The tolerance of a field: its own entry, else the entry of its name
    /// without the `@…` suffix, else the default.
    pub fn for_field(&self, field: &str) -> Decimal {
        let base = field.split('@').next().unwrap_or(field);
        self.per_field
            .iter()
            .find(|(k, _)| k == field)
            .or_else(|| self.per_field.iter().find(|(k, _)| k == base))
            .map_or(self.default_abs, |(_, v)| *v)
    }
}

/// A case ready to evaluate.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub source: Option<String>,
    /// The reporting currency (a placeholder for pure XIRR cases).
    pub base_currency: Currency,
    pub activities: Vec<Activity>,
    pub prices: PriceTable,
    pub fx: FxTable,
    pub period_start: Option<Date>,
    pub evaluation_date: Date,
    pub expected: Vec<(String, Decimal)>,
    pub tolerance: Tolerance,
    pub notes: Option<String>,
    /// Keys of the case or of its activities that the format does not
    /// define (`activities[2].unit` for an activity's): an input we did not
    /// read, so the case cannot be said to pass.
    pub unknown_keys: Vec<String>,
}

/// Why a case cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {id}: {message}")]
pub struct CaseError {
    pub id: String,
    pub message: String,
}

/// Reads symbols as the domain spells them; names that are not valid
/// tickers (free names of hand-priced items) are upper-cased and have other
/// characters replaced by `_`.
pub fn case_symbol(raw: &str) -> Option<Symbol> {
    Symbol::parse(raw).ok().or_else(|| {
        let cleaned: String = raw
            .chars()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '=' | '^' | '_' | '/' | ':')
                {
                    c
                } else {
                    '_'
                }
            })
            .take(crate::symbol::MAX_SYMBOL_LEN)
            .collect();
        Symbol::parse(&cleaned).ok()
    })
}

/// Splits an FX key such as `USDCHF` into its two currencies.
fn fx_pair(key: &str) -> Option<(Currency, Currency)> {
    let key = key.replace(['/', '-', '_'], "");
    (3..key.len().saturating_sub(2))
        .filter(|&i| key.is_char_boundary(i))
        .map(|i| (&key[..i], &key[i..]))
        .find_map(|(a, b)| Some((Currency::parse(a).ok()?, Currency::parse(b).ok()?)))
}

impl CaseSpec {
    pub fn into_case(self) -> Result<Case, CaseError> {
        let id = self.id.clone();
        let fail = |message: String| CaseError {
            id: id.clone(),
            message,
        };
        let date = |s: &str| -> Result<Date, CaseError> {
            s.parse().map_err(|e| fail(format!("bad date {s:?}: {e}")))
        };
        let currency = |s: &str| Currency::parse(s).map_err(|e| fail(e.to_string()));
        let base_currency = match (
            &self.currency,
            self.activities.iter().find_map(|a| a.currency.as_deref()),
        ) {
            (Some(c), _) => currency(c)?,
            (None, Some(c)) => currency(c)?,
            (None, None) => Currency::USD,
        };
        let mut unknown_keys: Vec<String> = self.unknown.keys().cloned().collect();
        for (i, a) in self.activities.iter().enumerate() {
            unknown_keys.extend(a.unknown.keys().map(|k| format!("activities[{i}].{k}")));
            if let Some(ratio) = &a.split_ratio {
                unknown_keys.extend(
                    ratio
                        .unknown
                        .keys()
                        .map(|k| format!("activities[{i}].split_ratio.{k}")),
                );
            }
        }
        let mut activities = Vec::with_capacity(self.activities.len());
        for (i, a) in self.activities.iter().enumerate() {
            let context = |m: String| fail(format!("activity #{i} ({}): {m}", a.kind));
            let day = date(&a.date)?;
            let ccy = match &a.currency {
                Some(c) => currency(c)?,
                None => base_currency,
            };
            let num = |v: &Option<DecimalLiteral>| v.map_or(Decimal::ZERO, |d| d.0);
            let symbol = || -> Result<Symbol, CaseError> {
                let raw = a
                    .symbol
                    .as_deref()
                    .ok_or_else(|| context("symbol is missing".into()))?;
                case_symbol(raw).ok_or_else(|| context(format!("unusable symbol {raw:?}")))
            };
            let optional_symbol = || a.symbol.as_deref().and_then(case_symbol);
            // `amount`, else gross amount, else quantity × unit price (a
            // Ghostfolio dividend), else the fee (a Ghostfolio FEE activity).
            let amount = || {
                a.amount
                    .or(a.gross_amount)
                    .map(|d| d.0)
                    .or_else(|| Some(a.quantity?.0 * a.unit_price?.0))
                    .or_else(|| (a.kind.eq_ignore_ascii_case("FEE")).then_some(a.fee?.0))
                    .ok_or_else(|| context("amount is missing".into()))
            };
            let trade = || -> Result<Trade, CaseError> {
                let quantity = a
                    .quantity
                    .ok_or_else(|| context("quantity is missing".into()))?
                    .0;
                let gross = match (a.gross_amount, a.unit_price) {
                    (Some(g), _) => g.0,
                    (None, Some(p)) => quantity * p.0,
                    (None, None) => {
                        return Err(context("gross_amount or unit_price is needed".into()));
                    }
                };
                Ok(Trade {
                    symbol: symbol()?,
                    currency: ccy,
                    quantity,
                    gross_amount: gross,
                    fee: num(&a.fee),
                    tax: num(&a.tax),
                    fee_in_base: a.fee_base.map(|d| d.0),
                })
            };
            let kind = match a.kind.to_ascii_uppercase().as_str() {
                "BUY" => ActivityKind::Buy(trade()?),
                "SELL" => ActivityKind::Sell(trade()?),
                "TRANSFER_IN" => ActivityKind::TransferIn(trade()?),
                "TRANSFER_OUT" => ActivityKind::TransferOut(trade()?),
                "DIVIDEND" => ActivityKind::Dividend {
                    symbol: symbol()?,
                    currency: ccy,
                    gross: amount()?,
                    tax: num(&a.tax),
                },
                "INTEREST" => ActivityKind::Interest {
                    currency: ccy,
                    gross: amount()?,
                    tax: num(&a.tax),
                },
                "FEE" => ActivityKind::Fee {
                    symbol: optional_symbol(),
                    currency: ccy,
                    amount: amount()?,
                    amount_in_base: a.fee_base.map(|d| d.0),
                },
                "TAX" => ActivityKind::Tax {
                    symbol: optional_symbol(),
                    currency: ccy,
                    amount: amount()?,
                },
                "TAX_REFUND" => ActivityKind::TaxRefund {
                    symbol: optional_symbol(),
                    currency: ccy,
                    amount: amount()?,
                },
                "DEPOSIT" => ActivityKind::Deposit {
                    currency: ccy,
                    amount: amount()?,
                },
                "WITHDRAWAL" => ActivityKind::Withdrawal {
                    currency: ccy,
                    amount: amount()?,
                },
                "LIABILITY" => ActivityKind::Liability {
                    currency: ccy,
                    amount: amount()?,
                },
                "SPLIT" => {
                    let r = a
                        .split_ratio
                        .as_ref()
                        .ok_or_else(|| context("split_ratio is missing".into()))?;
                    ActivityKind::Split {
                        symbol: symbol()?,
                        ratio: SplitRatio::new(r.numerator.0, r.denominator.0)
                            .map_err(|e| context(e.to_string()))?,
                    }
                }
                "CASH_FLOW" => ActivityKind::CashFlow { amount: amount()? },
                other => return Err(context(format!("unknown activity type {other:?}"))),
            };
            let income_symbol = match &kind {
                ActivityKind::Dividend { symbol, .. } => Some(Some(symbol.clone())),
                ActivityKind::Interest { .. } => Some(None),
                _ => None,
            };
            activities.push(Activity {
                date: day,
                account: a.account.clone(),
                kind,
            });
            // A fee charged on a dividend or interest payment is a fee about it.
            if let Some(symbol) = income_symbol
                && let Some(fee) = a.fee.filter(|f| !f.0.is_zero())
            {
                activities.push(Activity {
                    date: day,
                    account: a.account.clone(),
                    kind: ActivityKind::Fee {
                        symbol,
                        currency: ccy,
                        amount: fee.0,
                        amount_in_base: a.fee_base.map(|d| d.0),
                    },
                });
            }
        }
        let mut prices = PriceTable::new();
        for (raw, closes) in &self.market_prices {
            let symbol =
                case_symbol(raw).ok_or_else(|| fail(format!("unusable symbol {raw:?}")))?;
            let mut points = Vec::with_capacity(closes.len());
            for (d, v) in closes {
                points.push((date(d)?, v.0));
            }
            prices.insert(symbol, points);
        }
        let mut fx = FxTable::new();
        for (key, rates) in &self.fx_rates {
            let (from, to) =
                fx_pair(key).ok_or_else(|| fail(format!("unreadable FX pair {key:?}")))?;
            let mut points = Vec::with_capacity(rates.len());
            for (d, v) in rates {
                points.push((date(d)?, v.0));
            }
            fx.insert(from, to, points);
        }
        let default_abs = self
            .tolerance
            .0
            .iter()
            .find(|(k, _)| k == "default_abs")
            .map_or(Decimal::ZERO, |(_, v)| v.0);
        Ok(Case {
            base_currency,
            activities,
            prices,
            fx,
            period_start: self.period_start.as_deref().map(date).transpose()?,
            evaluation_date: date(&self.evaluation_date)?,
            expected: self.expected.0.into_iter().map(|(k, v)| (k, v.0)).collect(),
            tolerance: Tolerance {
                default_abs,
                per_field: self
                    .tolerance
                    .0
                    .into_iter()
                    .filter(|(k, _)| k != "default_abs")
                    .map(|(k, v)| (k, v.0))
                    .collect(),
            },
            notes: self.notes,
            source: self.source,
            id: self.id,
            unknown_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_numbers_but_not_strings() {
        let json = r#"{"a": -1.50e-3, "b": "x 1 \" 2", "c": [1, 2.0], "d": null, "e": true}"#;
        assert_eq!(
            quote_json_numbers(json),
            r#"{"a": "-1.50e-3", "b": "x 1 \" 2", "c": ["1", "2.0"], "d": null, "e": true}"#
        );
    }

    #[test]
    fn keys_the_format_does_not_define_are_collected() {
        let json = r#"{"id": "x", "evaluation_date": "2024-01-05", "expectd": {},
            "activities": [{"date": "2024-01-02", "type": "DEPOSIT", "amount": "1", "amout": "2"},
                           {"date": "2024-01-02", "type": "BUY", "symbol": "X", "quantity": "1",
                            "unit_price": "1", "currency": "USD"},
                           {"date": "2024-01-03", "type": "SPLIT", "symbol": "X",
                            "split_ratio": {"numerator": "2", "denominator": "1", "ratio": "2"}}]}"#;
        let spec: CaseSpec = serde_json::from_str(json).unwrap();
        let case = spec.into_case().unwrap();
        assert_eq!(
            case.unknown_keys,
            [
                "expectd",
                "activities[0].amout",
                "activities[2].split_ratio.ratio"
            ]
        );
    }

    #[test]
    fn splits_fx_keys() {
        assert_eq!(fx_pair("USDCHF"), Some((Currency::USD, Currency::CHF)));
        assert_eq!(fx_pair("EUR/USD"), Some((Currency::EUR, Currency::USD)));
        assert_eq!(fx_pair("XYZ"), None);
    }
}
