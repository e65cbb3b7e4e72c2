//! API data transfer objects and their conversion to and from domain values.
//! Field names here are the public contract: keep them stable.

use jiff::Timestamp;
use pricetrack_app::{
    FieldError,
    ports::{Portfolio, RecordedTransaction},
};
use pricetrack_domain::{
    Amount, Bar, Currency, Instrument, InstrumentKind, Price, ProviderName, Quantity, SplitRatio,
    Symbol, Transaction, TransactionKind, TransactionType, UrlSource,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A decimal sent as a JSON string (`"187.25"`, exact) or a number.
#[derive(Debug, Clone, PartialEq)]
pub struct DecimalInput(pub String);

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Accepts a decimal string (preferred: exact) or a JSON number; anything else
        /// is an error that says what was expected (serde adds the field's path).
        struct DecimalVisitor;

        impl serde::de::Visitor<'_> for DecimalVisitor {
            type Value = DecimalInput;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a decimal number as a string, e.g. \"187.25\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(DecimalInput(v.to_owned()))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(DecimalInput(v.to_string()))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(DecimalInput(v.to_string()))
            }

            // A float's shortest representation is what the sender wrote in nearly all cases.
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(DecimalInput(v.to_string()))
            }
        }

        d.deserialize_any(DecimalVisitor)
    }
}

/// Writes a value with its `Display` form, without an intermediate `String`.
fn display<T: std::fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Collects field errors so a request reports every problem at once.
#[derive(Default)]
pub struct Checker {
    pub errors: Vec<FieldError>,
}

impl Checker {
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(FieldError::field(field, e.to_string()));
                None
            }
        }
    }

    pub fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError::field(field, reason));
    }

    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

/// A time given as RFC 3339 or as a date (meaning 00:00 UTC that day).
pub fn parse_time(raw: &str) -> Result<Timestamp, String> {
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = raw.parse::<jiff::civil::Date>() {
        return Ok(pricetrack_domain::date_key(date));
    }
    Err(format!(
        "{raw:?} is not a time: use RFC 3339 (2024-01-02T14:30:00Z) or a date (2024-01-02)"
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentOut {
    pub symbol: String,
    pub name: String,
    pub kind: String,
    pub currency: String,
    pub exchange: Option<String>,
    pub provider: String,
    pub provider_symbol: Option<String>,
    /// First trading day (`YYYY-MM-DD`), when known; bars before it are quarantined.
    pub listing_date: Option<String>,
    /// Where the `url` provider reads the price: `url` (http(s) template;
    /// `{SYMBOL}` and `{DATE}` are filled in), `extract` (one of
    /// `{"json_path": "…"}`, `{"css": {"selector": "…", "attribute": "…"}}`,
    /// `{"regex": "…"}`) and `number_format` (`auto`, `decimal_point`,
    /// `decimal_comma`; default `auto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, example = json!({"url": "https://example.test/coins/{SYMBOL}", "extract": {"css": {"selector": "span.price"}}, "number_format": "decimal_comma"}))]
    pub url_source: Option<UrlSource>,
}

impl From<&Instrument> for InstrumentOut {
    fn from(i: &Instrument) -> Self {
        Self {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            kind: i.kind.to_string(),
            currency: i.currency.to_string(),
            exchange: i.exchange.clone(),
            provider: i.provider.to_string(),
            provider_symbol: i.provider_symbol.clone(),
            listing_date: i.listing_date.map(|d| d.to_string()),
            url_source: i.url_source.clone(),
        }
    }
}

/// Body of `POST /instruments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentIn {
    /// Upper-case ticker (`AAPL`, `GC=F`) or a free name for a hand-priced item.
    pub symbol: String,
    pub name: String,
    /// stock, etf, fund, bond, crypto, commodity, fx, index or item.
    pub kind: String,
    /// Quote currency, ISO 4217 (or a crypto code).
    pub currency: String,
    pub exchange: Option<String>,
    /// Market-data provider; default `manual` for items, `yahoo` otherwise.
    pub provider: Option<String>,
    pub provider_symbol: Option<String>,
    /// First trading day (`YYYY-MM-DD`); bars before it are quarantined.
    pub listing_date: Option<String>,
    /// Where the `url` provider reads the price: `url` (http(s) template;
    /// `{SYMBOL}` and `{DATE}` are filled in), `extract` (one of
    /// `{"json_path": "…"}`, `{"css": {"selector": "…", "attribute": "…"}}`,
    /// `{"regex": "…"}`) and `number_format` (`auto`, `decimal_point`,
    /// `decimal_comma`; default `auto`).
    /// Required when `provider` is `url` and the server's
    /// `PRICETRACK_PROVIDER_URL_SOURCES` has no source for the symbol.
    #[schema(value_type = Option<Object>, example = json!({"url": "https://example.test/coins/{SYMBOL}", "extract": {"css": {"selector": "span.price"}}, "number_format": "decimal_comma"}))]
    pub url_source: Option<serde_json::Value>,
}

/// Body of `PATCH /instruments/{symbol}`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub currency: Option<String>,
    pub exchange: Option<String>,
    pub provider: Option<String>,
    pub provider_symbol: Option<String>,
    /// `YYYY-MM-DD`, or an empty string to clear it.
    pub listing_date: Option<String>,
    /// A new source for the `url` provider (shape as on create), or `null`
    /// to clear it (the environment's source, if any, is then used).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, nullable)]
    pub url_source: Option<serde_json::Value>,
}

/// A field that may be `null`: absent is `None`, `null` is `Some(Null)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// A `url_source` field: `null` is none; an object must have the source's
/// shape and compile (URL, JSONPath, CSS selector, regex). Errors name the
/// part at fault, e.g. `url_source.extract.regex`.
pub fn url_source(c: &mut Checker, raw: serde_json::Value) -> Option<Option<UrlSource>> {
    if raw.is_null() {
        return Some(None);
    }
    let src: UrlSource = c.check(
        "url_source",
        serde_json::from_value(raw).map_err(|e| {
            format!(
                "{e}; expected {{\"url\": \"https://…\", \"extract\": {{\"json_path\"|\"css\"|\"regex\": …}}, \"number_format\": \"auto\"}}"
            )
        }),
    )?;
    match pricetrack_providers::url_source::validate(&src) {
        Ok(()) => Some(Some(src)),
        Err(e) => {
            c.fail(&format!("url_source.{}", e.field), e.message);
            None
        }
    }
}

/// A listing date field: `None` when absent or blank.
fn listing_date(c: &mut Checker, raw: Option<&str>) -> Option<Option<jiff::civil::Date>> {
    match raw.map(str::trim) {
        None | Some("") => Some(None),
        Some(v) => c
            .check(
                "listing_date",
                v.parse::<jiff::civil::Date>()
                    .map_err(|_| format!("{v:?} is not a date like 2020-11-13")),
            )
            .map(Some),
    }
}

fn default_provider(kind: InstrumentKind) -> &'static str {
    if kind == InstrumentKind::Item {
        "manual"
    } else {
        "yahoo"
    }
}

impl InstrumentIn {
    pub fn into_domain(self) -> Result<Instrument, Vec<FieldError>> {
        let mut c = Checker::default();
        let symbol = c.check("symbol", Symbol::parse(&self.symbol));
        let kind = c.check("kind", self.kind.parse::<InstrumentKind>());
        let currency = c.check("currency", Currency::parse(&self.currency));
        let provider = kind.and_then(|k| {
            let name = self
                .provider
                .clone()
                .unwrap_or_else(|| default_provider(k).to_owned());
            c.check("provider", ProviderName::parse(&name))
        });
        let listed = listing_date(&mut c, self.listing_date.as_deref());
        let source = url_source(&mut c, self.url_source.unwrap_or_default());
        let instrument = match (symbol, kind, currency, provider, listed, source) {
            (Some(s), Some(k), Some(cur), Some(p), Some(listed), Some(source)) => c
                .check(
                    "name",
                    Instrument::new(s, self.name, k, cur, self.exchange, p, self.provider_symbol),
                )
                .map(|i| i.with_listing_date(listed).with_url_source(source)),
            _ => None,
        };
        c.finish(instrument)
    }
}

impl InstrumentPatch {
    pub fn apply(self, current: Instrument) -> Result<Instrument, Vec<FieldError>> {
        let mut c = Checker::default();
        let kind = match &self.kind {
            Some(k) => c.check("kind", k.parse::<InstrumentKind>()),
            None => Some(current.kind),
        };
        let currency = match &self.currency {
            Some(v) => c.check("currency", Currency::parse(v)),
            None => Some(current.currency),
        };
        let provider = match &self.provider {
            Some(v) => c.check("provider", ProviderName::parse(v)),
            None => Some(current.provider.clone()),
        };
        let listed = match &self.listing_date {
            Some(raw) => listing_date(&mut c, Some(raw)),
            None => Some(current.listing_date),
        };
        let source = match self.url_source {
            Some(raw) => url_source(&mut c, raw),
            None => Some(current.url_source),
        };
        let instrument = match (kind, currency, provider, listed, source) {
            (Some(k), Some(cur), Some(p), Some(listed), Some(source)) => c
                .check(
                    "name",
                    Instrument::new(
                        current.symbol.clone(),
                        self.name.unwrap_or(current.name),
                        k,
                        cur,
                        self.exchange.or(current.exchange),
                        p,
                        self.provider_symbol.or(current.provider_symbol),
                    ),
                )
                .map(|i| i.with_listing_date(listed).with_url_source(source)),
            _ => None,
        };
        c.finish(instrument)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BarOut {
    /// Bar start, RFC 3339 UTC. Daily bars: 00:00 UTC of the trading date.
    #[serde(serialize_with = "display")]
    #[schema(value_type = String, format = DateTime)]
    pub time: Timestamp,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl From<&Bar> for BarOut {
    fn from(b: &Bar) -> Self {
        Self {
            time: b.time,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioOut {
    pub id: i64,
    pub name: String,
    pub base_currency: String,
    pub created_at: String,
    /// How the cost of units sold is determined: average (default), fifo, lifo or hifo.
    pub cost_basis_method: String,
}

impl From<&Portfolio> for PortfolioOut {
    fn from(p: &Portfolio) -> Self {
        Self {
            id: p.id.0,
            name: p.name.clone(),
            base_currency: p.base_currency.to_string(),
            created_at: p.created_at.to_string(),
            cost_basis_method: pricetrack_app::settings::method_as_str(p.cost_basis_method)
                .to_owned(),
        }
    }
}

/// Body of `POST /portfolios` and `PUT /portfolios/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortfolioIn {
    pub name: String,
    /// ISO 4217; default USD.
    pub base_currency: Option<String>,
    /// average (default), fifo, lifo or hifo. On PUT, leaving it out keeps the current method.
    pub cost_basis_method: Option<String>,
}

/// A transaction on the wire. Which fields apply depends on `type`:
/// buy/sell: symbol, quantity, price, fee, tax (a tax paid on the trade,
/// default 0); transfer_in/transfer_out (securities
/// delivered in or out without a cash leg; `price` is the value per unit):
/// symbol, quantity, price, fee; dividend: symbol, amount, tax;
/// interest: amount, tax; fee/tax: amount (symbol optional);
/// deposit/withdrawal: amount; split: symbol, ratio (`4:1`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionIn {
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339, or a date meaning 00:00 UTC.
    pub time: String,
    pub symbol: Option<String>,
    #[schema(value_type = Option<String>, example = "10")]
    pub quantity: Option<DecimalInput>,
    #[schema(value_type = Option<String>, example = "187.25")]
    pub price: Option<DecimalInput>,
    #[schema(value_type = Option<String>)]
    pub fee: Option<DecimalInput>,
    #[schema(value_type = Option<String>)]
    pub amount: Option<DecimalInput>,
    /// Tax withheld on a dividend or interest, or paid on a buy or sell
    /// (decimal string; default 0).
    #[schema(value_type = Option<String>)]
    pub tax: Option<DecimalInput>,
    /// Split ratio, `new:old` (e.g. `4:1`; `1:10` for a reverse split).
    pub ratio: Option<String>,
    pub currency: String,
    pub note: Option<String>,
}

const TX_FIELDS: [&str; 7] = [
    "symbol", "quantity", "price", "fee", "amount", "tax", "ratio",
];

fn allowed_fields(kind: TransactionType) -> &'static [&'static str] {
    match kind {
        TransactionType::Buy | TransactionType::Sell => {
            &["symbol", "quantity", "price", "fee", "tax"]
        }
        TransactionType::TransferIn | TransactionType::TransferOut => {
            &["symbol", "quantity", "price", "fee"]
        }
        TransactionType::Dividend => &["symbol", "amount", "tax"],
        TransactionType::Interest => &["amount", "tax"],
        TransactionType::Fee | TransactionType::Tax => &["symbol", "amount"],
        TransactionType::Deposit | TransactionType::Withdrawal => &["amount"],
        TransactionType::Split => &["symbol", "ratio"],
    }
}

impl TransactionIn {
    fn present(&self, field: &str) -> bool {
        match field {
            "symbol" => self.symbol.is_some(),
            "quantity" => self.quantity.is_some(),
            "price" => self.price.is_some(),
            "fee" => self.fee.is_some(),
            "amount" => self.amount.is_some(),
            "tax" => self.tax.is_some(),
            "ratio" => self.ratio.is_some(),
            _ => false,
        }
    }

    pub fn into_domain(self) -> Result<Transaction, Vec<FieldError>> {
        let mut c = Checker::default();
        let Some(kind) = c.check("type", self.kind.parse::<TransactionType>()) else {
            return Err(c.errors);
        };
        for field in TX_FIELDS {
            if self.present(field) && !allowed_fields(kind).contains(&field) {
                c.fail(field, format!("does not apply to a {kind} transaction"));
            }
        }
        let time = c.check("time", parse_time(&self.time));
        let currency = c.check("currency", Currency::parse(&self.currency));
        let symbol = |c: &mut Checker, required: bool| match &self.symbol {
            Some(s) => c.check("symbol", Symbol::parse(s)).map(Some),
            None if required => {
                c.fail("symbol", format!("is required for a {kind} transaction"));
                None
            }
            None => Some(None),
        };
        let required = |c: &mut Checker, field: &str, v: &Option<DecimalInput>| match v {
            Some(v) => Some(v.0.clone()),
            None => {
                c.fail(field, format!("is required for a {kind} transaction"));
                None
            }
        };
        let quantity = |c: &mut Checker| {
            required(c, "quantity", &self.quantity)
                .and_then(|v| c.check("quantity", Quantity::parse(&v)))
        };
        let price = |c: &mut Checker| {
            required(c, "price", &self.price).and_then(|v| c.check("price", Price::parse(&v)))
        };
        let amount = |c: &mut Checker| {
            required(c, "amount", &self.amount).and_then(|v| c.check("amount", Amount::parse(&v)))
        };
        let optional_amount = |c: &mut Checker, field: &str, v: &Option<DecimalInput>| match v {
            Some(v) => c.check(field, Amount::parse(&v.0)),
            None => Some(Amount::ZERO),
        };

        let tx_kind = match kind {
            TransactionType::Buy
            | TransactionType::Sell
            | TransactionType::TransferIn
            | TransactionType::TransferOut => {
                let (s, q, p, f, t) = (
                    symbol(&mut c, true),
                    quantity(&mut c),
                    price(&mut c),
                    optional_amount(&mut c, "fee", &self.fee),
                    optional_amount(&mut c, "tax", &self.tax),
                );
                match (s, q, p, f, t) {
                    (Some(Some(symbol)), Some(quantity), Some(price), Some(fee), Some(tax)) => {
                        Some(match kind {
                            TransactionType::Buy => TransactionKind::Buy {
                                symbol,
                                quantity,
                                price,
                                fee,
                                tax,
                            },
                            TransactionType::TransferIn => TransactionKind::TransferIn {
                                symbol,
                                quantity,
                                price,
                                fee,
                            },
                            TransactionType::TransferOut => TransactionKind::TransferOut {
                                symbol,
                                quantity,
                                price,
                                fee,
                            },
                            _ => TransactionKind::Sell {
                                symbol,
                                quantity,
                                price,
                                fee,
                                tax,
                            },
                        })
                    }
                    _ => None,
                }
            }
            TransactionType::Dividend => {
                let (s, a, t) = (
                    symbol(&mut c, true),
                    amount(&mut c),
                    optional_amount(&mut c, "tax", &self.tax),
                );
                match (s, a, t) {
                    (Some(Some(symbol)), Some(amount), Some(tax_withheld)) => {
                        Some(TransactionKind::Dividend {
                            symbol,
                            amount,
                            tax_withheld,
                        })
                    }
                    _ => None,
                }
            }
            TransactionType::Interest => {
                let (a, t) = (amount(&mut c), optional_amount(&mut c, "tax", &self.tax));
                a.zip(t)
                    .map(|(amount, tax_withheld)| TransactionKind::Interest {
                        amount,
                        tax_withheld,
                    })
            }
            TransactionType::Fee | TransactionType::Tax => {
                let (s, a) = (symbol(&mut c, false), amount(&mut c));
                s.zip(a).map(|(symbol, amount)| {
                    if kind == TransactionType::Fee {
                        TransactionKind::Fee { symbol, amount }
                    } else {
                        TransactionKind::Tax { symbol, amount }
                    }
                })
            }
            TransactionType::Deposit => {
                amount(&mut c).map(|amount| TransactionKind::Deposit { amount })
            }
            TransactionType::Withdrawal => {
                amount(&mut c).map(|amount| TransactionKind::Withdrawal { amount })
            }
            TransactionType::Split => {
                let s = symbol(&mut c, true);
                let r = match &self.ratio {
                    Some(r) => c.check("ratio", r.parse::<SplitRatio>()),
                    None => {
                        c.fail("ratio", "is required for a split transaction");
                        None
                    }
                };
                match (s, r) {
                    (Some(Some(symbol)), Some(ratio)) => {
                        Some(TransactionKind::Split { symbol, ratio })
                    }
                    _ => None,
                }
            }
        };
        let tx = match (time, currency, tx_kind) {
            (Some(time), Some(currency), Some(kind)) => c.check(
                "note",
                Transaction::new(time, currency, self.note.unwrap_or_default(), kind),
            ),
            _ => None,
        };
        c.finish(tx)
    }
}

/// A stored transaction. Only the fields of its `type` are present.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionOut {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub fee: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub tax: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    pub currency: String,
    pub note: String,
}

impl From<&RecordedTransaction> for TransactionOut {
    fn from(r: &RecordedTransaction) -> Self {
        let tx = &r.transaction;
        let mut out = TransactionOut {
            id: r.id.0,
            kind: tx.transaction_type().to_string(),
            time: tx.time.to_string(),
            symbol: tx.symbol().map(|s| s.to_string()),
            quantity: None,
            price: None,
            fee: None,
            amount: None,
            tax: None,
            ratio: None,
            currency: tx.currency.to_string(),
            note: tx.note.clone(),
        };
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
                out.quantity = Some(quantity.value());
                out.price = Some(price.value());
                out.fee = Some(fee.value());
                out.tax = Some(tax.value());
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
                out.quantity = Some(quantity.value());
                out.price = Some(price.value());
                out.fee = Some(fee.value());
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
                out.amount = Some(amount.value());
                out.tax = Some(tax_withheld.value());
            }
            TransactionKind::Fee { amount, .. }
            | TransactionKind::Tax { amount, .. }
            | TransactionKind::Deposit { amount }
            | TransactionKind::Withdrawal { amount } => out.amount = Some(amount.value()),
            TransactionKind::Split { ratio, .. } => out.ratio = Some(ratio.to_string()),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(json: &str) -> Result<Transaction, Vec<FieldError>> {
        serde_json::from_str::<TransactionIn>(json)
            .unwrap()
            .into_domain()
    }

    #[test]
    fn a_buy_needs_symbol_quantity_and_price() {
        let errors = tx(r#"{"type":"buy","time":"2024-01-02","currency":"USD"}"#).unwrap_err();
        let fields: Vec<_> = errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(fields, ["symbol", "quantity", "price"]);
    }

    #[test]
    fn fields_of_another_type_are_refused_by_name() {
        let errors = tx(
            r#"{"type":"deposit","time":"2024-01-02","currency":"USD","amount":"10","price":"1"}"#,
        )
        .unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("price"));
    }

    #[test]
    fn decimals_stay_exact_from_strings_and_numbers() {
        let t = tx(r#"{"type":"buy","time":"2024-01-02T10:00:00Z","currency":"USD","symbol":"AAPL","quantity":0.1,"price":"187.25"}"#).unwrap();
        match t.kind {
            TransactionKind::Buy {
                quantity, price, ..
            } => {
                assert_eq!(quantity.value().to_string(), "0.1");
                assert_eq!(price.value().to_string(), "187.25");
            }
            _ => panic!("not a buy"),
        }
    }

    #[test]
    fn negative_quantity_is_refused_naming_the_field() {
        let errors = tx(r#"{"type":"sell","time":"2024-01-02","currency":"USD","symbol":"AAPL","quantity":"-5","price":"1"}"#).unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("quantity"));
    }
}
