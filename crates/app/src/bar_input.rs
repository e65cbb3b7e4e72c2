//! Parsing bar uploads (JSON arrays and CSV) into domain bars, row by row,
//! so every problem is reported with the row and field at fault.
//! Shared by the HTTP API and the CLI.

use crate::error::FieldError;
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use pricetrack_domain::{Bar, Interval, Ohlcv, Symbol, date_key};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Read;

/// A row that parsed and passed the bar invariants.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBar {
    pub index: usize,
    pub line: Option<u64>,
    pub bar: Bar,
}

/// The outcome of parsing one row.
pub type RowResult = Result<ParsedBar, FieldError>;

/// Unix times above this are taken as milliseconds (≈ year 5138 in seconds).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Parses a bar time: RFC 3339, a date (`2024-01-02`), or unix seconds/milliseconds.
///
/// Daily and longer bars are keyed by their trading date at 00:00 UTC: a date is
/// used as is, an RFC 3339 time gives the date in its own offset (so
/// `2020-01-02T09:30:00-05:00` is 2 January), and a unix time gives its UTC date.
pub fn parse_bar_time(raw: &str, interval: Interval) -> Result<Timestamp, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("time is empty".to_owned());
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = raw
            .parse()
            .map_err(|_| format!("{raw:?} is not a valid unix time"))?;
        return from_unix(n, interval);
    }
    if let Ok(date) = raw.parse::<Date>()
        && raw.len() == 10
    {
        return Ok(date_key(date));
    }
    let ts: Timestamp = raw.parse().map_err(|_| {
        format!("{raw:?} is not a time: use RFC 3339 (2024-01-02T14:30:00Z), a date (2024-01-02) or unix seconds/milliseconds")
    })?;
    if interval.is_date_keyed() {
        // The date as written, in the writer's own offset, is the trading date.
        // RFC 3339 starts with the local date, so that is the date as written.
        let date = raw
            .get(..10)
            .and_then(|d| d.parse::<Date>().ok())
            .unwrap_or_else(|| ts.to_zoned(TimeZone::UTC).date());
        return Ok(date_key(date));
    }
    Ok(ts)
}

fn from_unix(n: i64, interval: Interval) -> Result<Timestamp, String> {
    let ts = if n >= MILLIS_THRESHOLD {
        Timestamp::from_millisecond(n)
    } else {
        Timestamp::from_second(n)
    }
    .map_err(|e| format!("unix time {n} is out of range: {e}"))?;
    Ok(if interval.is_date_keyed() {
        date_key(ts.to_zoned(TimeZone::UTC).date())
    } else {
        ts
    })
}

/// A bar time in JSON: a string or a unix number.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTime {
    Text(String),
    Unix(i64),
}

/// A price or volume in JSON: a number, or a decimal string.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonNumber {
    Number(f64),
    Text(String),
}

impl JsonNumber {
    fn value(&self, field: &str) -> Result<f64, String> {
        match self {
            JsonNumber::Number(n) => Ok(*n),
            JsonNumber::Text(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{field} {s:?} is not a number")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBar {
    symbol: Option<String>,
    time: JsonTime,
    open: JsonNumber,
    high: JsonNumber,
    low: JsonNumber,
    close: JsonNumber,
    #[serde(default)]
    volume: Option<JsonNumber>,
}

/// Where the symbol of each row comes from.
#[derive(Debug, Clone)]
pub enum SymbolSource {
    /// Every row belongs to this instrument; a `symbol` field/column is not allowed.
    Fixed(Symbol),
    /// Each row names its instrument.
    PerRow,
}

/// Parses a JSON array of bar objects. A body that is not a JSON array is one error
/// without an index; otherwise every element yields a row result.
pub fn parse_json_bars(
    body: &[u8],
    interval: Interval,
    symbols: &SymbolSource,
) -> Result<Vec<RowResult>, FieldError> {
    let text = std::str::from_utf8(body).map_err(|e| FieldError {
        index: None,
        line: None,
        field: None,
        reason: format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()),
    })?;
    let rows: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| FieldError {
        index: None,
        line: Some(e.line() as u64),
        field: None,
        reason: format!("body is not a JSON array of bars: {e}"),
    })?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let row: JsonBar = serde_json::from_str(raw.get())
                .map_err(|e| FieldError::row(index, None, None, e.to_string()))?;
            let symbol = row_symbol(index, None, row.symbol.as_deref(), symbols)?;
            let time = match &row.time {
                JsonTime::Text(s) => parse_bar_time(s, interval),
                JsonTime::Unix(n) => from_unix(*n, interval),
            }
            .map_err(|e| FieldError::row(index, None, Some("time"), e))?;
            let num = |field: &str, v: &JsonNumber| {
                v.value(field)
                    .map_err(|e| FieldError::row(index, None, Some(field), e))
            };
            let values = Ohlcv {
                open: num("open", &row.open)?,
                high: num("high", &row.high)?,
                low: num("low", &row.low)?,
                close: num("close", &row.close)?,
                volume: match &row.volume {
                    Some(v) => num("volume", v)?,
                    None => 0.0,
                },
            };
            build_bar(index, None, symbol, interval, time, values)
        })
        .collect())
}

fn row_symbol(
    index: usize,
    line: Option<u64>,
    given: Option<&str>,
    symbols: &SymbolSource,
) -> Result<Symbol, FieldError> {
    match (symbols, given) {
        (SymbolSource::Fixed(s), None) => Ok(s.clone()),
        (SymbolSource::Fixed(s), Some(g)) if g == s.as_str() => Ok(s.clone()),
        (SymbolSource::Fixed(s), Some(g)) => Err(FieldError::row(
            index,
            line,
            Some("symbol"),
            format!("row is for {g:?} but this upload is for {s}"),
        )),
        (SymbolSource::PerRow, Some(g)) => Symbol::parse(g)
            .map_err(|e| FieldError::row(index, line, Some("symbol"), e.to_string())),
        (SymbolSource::PerRow, None) => Err(FieldError::row(
            index,
            line,
            Some("symbol"),
            "symbol is missing",
        )),
    }
}

fn build_bar(
    index: usize,
    line: Option<u64>,
    symbol: Symbol,
    interval: Interval,
    time: Timestamp,
    values: Ohlcv,
) -> RowResult {
    Bar::new(symbol, interval, time, values)
        .map(|bar| ParsedBar { index, line, bar })
        .map_err(|e| FieldError::row(index, line, bar_error_field(&e), e.to_string()))
}

fn bar_error_field(e: &pricetrack_domain::BarError) -> Option<&'static str> {
    use pricetrack_domain::BarError as E;
    match e {
        E::PriceNotPositive { field, .. } | E::OutsideRange { field, .. } => Some(field),
        E::BadVolume(_) => Some("volume"),
        E::HighBelowLow { .. } => Some("high"),
        E::NotDateAligned { .. } => Some("time"),
    }
}

const SINGLE_HEADER: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];
const MIXED_HEADER: [&str; 7] = ["symbol", "time", "open", "high", "low", "close", "volume"];

/// Streams bars out of CSV: header `time,open,high,low,close,volume`, or with a
/// leading `symbol` column for feeds that mix instruments. Reads record by
/// record, so a file of any size is never loaded whole.
pub struct CsvBarReader<R: Read> {
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    interval: Interval,
    symbols: SymbolSource,
    has_symbol_column: bool,
    /// Symbols already parsed from this file: a feed repeats a few hundred symbols,
    /// and sharing one `Symbol` per series saves a parse and an allocation per row.
    seen_symbols: FxHashMap<Box<str>, Symbol>,
    index: usize,
    done: bool,
}

/// Bound on [`CsvBarReader`]'s symbol memo, so a file of unique names cannot grow it.
const MAX_SEEN_SYMBOLS: usize = 10_000;

impl<R: Read> CsvBarReader<R> {
    /// Reads and checks the header. When `symbols` is `Fixed`, a header with a
    /// leading `symbol` column is accepted too (rows must then name that symbol).
    pub fn new(input: R, interval: Interval, symbols: SymbolSource) -> Result<Self, FieldError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            // Fields are trimmed where they are read: the csv crate's trimming rebuilds
            // every record, a quarter of the parsing time.
            .from_reader(input);
        let header_error = |reason: String| FieldError {
            index: None,
            line: Some(1),
            field: None,
            reason,
        };
        let header = reader
            .byte_headers()
            .map_err(|e| header_error(format!("cannot read the CSV header: {e}")))?
            .clone();
        let names: Vec<String> = header
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_ascii_lowercase()
            })
            .collect();
        let has_symbol_column = if names == MIXED_HEADER {
            true
        } else if names == SINGLE_HEADER && matches!(symbols, SymbolSource::Fixed(_)) {
            false
        } else {
            let expected = match symbols {
                SymbolSource::Fixed(_) => {
                    "time,open,high,low,close,volume (or symbol,time,open,high,low,close,volume)"
                }
                SymbolSource::PerRow => "symbol,time,open,high,low,close,volume",
            };
            return Err(header_error(format!(
                "the CSV header is {:?}; expected {expected}",
                names.join(",")
            )));
        };
        Ok(Self {
            reader,
            record: csv::ByteRecord::new(),
            interval,
            symbols,
            has_symbol_column,
            seen_symbols: FxHashMap::default(),
            index: 0,
            done: false,
        })
    }

    fn parse_record(&mut self, index: usize, line: Option<u64>) -> RowResult {
        let expected = if self.has_symbol_column { 7 } else { 6 };
        if self.record.len() != expected {
            return Err(FieldError::row(
                index,
                line,
                None,
                format!("expected {expected} fields, found {}", self.record.len()),
            ));
        }
        let symbol = if self.has_symbol_column {
            let text = std::str::from_utf8(self.record[0].trim_ascii())
                .map_err(|_| FieldError::row(index, line, Some("symbol"), "is not valid UTF-8"))?;
            match (&self.symbols, self.seen_symbols.get(text)) {
                (SymbolSource::PerRow, Some(symbol)) => symbol.clone(),
                (SymbolSource::PerRow, None) => {
                    let symbol = row_symbol(index, line, Some(text), &self.symbols)?;
                    if self.seen_symbols.len() >= MAX_SEEN_SYMBOLS {
                        self.seen_symbols.clear();
                    }
                    self.seen_symbols.insert(text.into(), symbol.clone());
                    symbol
                }
                (SymbolSource::Fixed(_), _) => row_symbol(index, line, Some(text), &self.symbols)?,
            }
        } else {
            row_symbol(index, line, None, &self.symbols)?
        };
        let field = |i: usize, name: &str| -> Result<&str, FieldError> {
            std::str::from_utf8(self.record[i].trim_ascii())
                .map_err(|_| FieldError::row(index, line, Some(name), "is not valid UTF-8"))
        };
        let offset = usize::from(self.has_symbol_column);
        let time = parse_bar_time(field(offset, "time")?, self.interval)
            .map_err(|e| FieldError::row(index, line, Some("time"), e))?;
        let mut nums = [0f64; 5];
        for (k, name) in ["open", "high", "low", "close", "volume"]
            .iter()
            .enumerate()
        {
            let text = field(offset + 1 + k, name)?;
            nums[k] = if text.is_empty() && *name == "volume" {
                0.0
            } else {
                text.parse::<f64>().ok().ok_or_else(|| {
                    FieldError::row(index, line, Some(name), format!("{text:?} is not a number"))
                })?
            };
        }
        let values = Ohlcv {
            open: nums[0],
            high: nums[1],
            low: nums[2],
            close: nums[3],
            volume: nums[4],
        };
        build_bar(index, line, symbol, self.interval, time, values)
    }
}

impl<R: Read> Iterator for CsvBarReader<R> {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        if self.done {
            return None;
        }
        let index = self.index;
        self.index += 1;
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map(|p| p.line());
                Some(self.parse_record(index, line))
            }
            Err(e) => {
                // A malformed record ends the file: the reader cannot resynchronise reliably.
                self.done = true;
                let line = e.position().map(|p| p.line());
                Some(Err(FieldError::row(
                    index,
                    line,
                    None,
                    format!("malformed CSV: {e}"),
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym() -> Symbol {
        Symbol::parse("AAPL").unwrap()
    }

    #[test]
    fn bar_time_accepts_rfc3339_dates_and_unix_seconds_or_millis() {
        let t = parse_bar_time("2024-01-02T14:30:00Z", Interval::M5).unwrap();
        assert_eq!(t.as_second(), 1_704_205_800);
        assert_eq!(parse_bar_time("1704205800", Interval::M5).unwrap(), t);
        assert_eq!(parse_bar_time("1704205800000", Interval::M5).unwrap(), t);
        assert_eq!(
            parse_bar_time("2024-01-02", Interval::D1).unwrap(),
            "2024-01-02T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_bar_time("yesterday", Interval::D1).is_err());
    }

    #[test]
    fn daily_bar_time_uses_the_date_in_the_writers_offset() {
        let t = parse_bar_time("2020-01-02T07:00:00+07:00", Interval::D1).unwrap();
        assert_eq!(t, "2020-01-02T00:00:00Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn csv_fields_and_header_padded_with_spaces_read_as_written_without_them() {
        let csv = " symbol , time ,open,high,low,close, volume\r\n  BRK.B ,\t1704205800 , 1.5,2 ,1, 1.75 ,  \r\n";
        let rows: Vec<_> = CsvBarReader::new(csv.as_bytes(), Interval::M5, SymbolSource::PerRow)
            .unwrap()
            .collect();
        let bar = rows[0].clone().unwrap().bar;
        assert_eq!(bar.symbol.as_str(), "BRK.B");
        assert_eq!(bar.time.as_second(), 1_704_205_800);
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (1.5, 2.0, 1.0, 1.75, 0.0)
        );
    }

    #[test]
    fn csv_reports_the_file_line_of_a_bad_value() {
        let csv = "time,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,x,0.5,1.5,10\n";
        let rows: Vec<_> =
            CsvBarReader::new(csv.as_bytes(), Interval::D1, SymbolSource::Fixed(sym()))
                .unwrap()
                .collect();
        assert!(rows[0].is_ok());
        let err = rows[1].clone().unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.field.as_deref(), Some("high"));
    }

    #[test]
    fn mixed_csv_rows_keep_their_own_symbols_and_a_bad_symbol_fails_every_time() {
        let csv = "symbol,time,open,high,low,close,volume\n\
                   AAPL,2024-01-02,1,2,0.5,1.5,10\n\
                   bad sym,2024-01-02,1,2,0.5,1.5,10\n\
                   MSFT,2024-01-02,1,2,0.5,1.5,10\n\
                   AAPL,2024-01-03,1,2,0.5,1.5,10\n\
                   bad sym,2024-01-03,1,2,0.5,1.5,10\n";
        let rows: Vec<_> = CsvBarReader::new(csv.as_bytes(), Interval::D1, SymbolSource::PerRow)
            .unwrap()
            .collect();
        let symbols: Vec<Option<String>> = rows
            .iter()
            .map(|r| r.as_ref().ok().map(|p| p.bar.symbol.to_string()))
            .collect();
        let named = |s: &str| Some(s.to_owned());
        assert_eq!(
            symbols,
            vec![named("AAPL"), None, named("MSFT"), named("AAPL"), None]
        );
        for bad in [&rows[1], &rows[4]] {
            let err = bad.clone().unwrap_err();
            assert_eq!(err.field.as_deref(), Some("symbol"), "{}", err.reason);
        }
        assert_eq!(rows[4].clone().unwrap_err().line, Some(6));
    }

    #[test]
    fn csv_for_one_instrument_refuses_rows_of_another_after_accepting_its_own() {
        let csv = "symbol,time,open,high,low,close,volume\n\
                   AAPL,2024-01-02,1,2,0.5,1.5,10\n\
                   MSFT,2024-01-02,1,2,0.5,1.5,10\n\
                   AAPL,2024-01-03,1,2,0.5,1.5,10\n";
        let rows: Vec<_> =
            CsvBarReader::new(csv.as_bytes(), Interval::D1, SymbolSource::Fixed(sym()))
                .unwrap()
                .collect();
        assert!(rows[0].is_ok() && rows[2].is_ok());
        let err = rows[1].clone().unwrap_err();
        assert!(err.reason.contains("MSFT"), "{}", err.reason);
    }

    #[test]
    fn csv_with_a_wrong_header_is_refused_naming_the_expected_one() {
        let err = CsvBarReader::new(
            "date,o,h,l,c,v\n".as_bytes(),
            Interval::D1,
            SymbolSource::PerRow,
        )
        .err()
        .unwrap();
        assert!(err.reason.contains("symbol,time,open"), "{}", err.reason);
    }

    #[test]
    fn json_rows_report_unknown_fields_and_bad_invariants_by_index() {
        let body = br#"[{"time":"2024-01-02","open":1,"high":2,"low":0.5,"close":1.5,"volume":1},
                       {"time":"2024-01-03","open":1,"high":0.5,"low":2,"close":1.5},
                       {"time":"2024-01-04","open":1,"high":2,"low":0.5,"close":1.5,"colour":"red"}]"#;
        let rows = parse_json_bars(body, Interval::D1, &SymbolSource::Fixed(sym())).unwrap();
        assert!(rows[0].is_ok());
        assert_eq!(rows[1].clone().unwrap_err().index, Some(1));
        assert!(rows[2].clone().unwrap_err().reason.contains("colour"));
    }
}
