//! Checks a file of reference cases (the format of
//! `shared/fixtures/reference-cases/README.md`) against our analytics:
//! `pricetrack check-cases FILE.json` calls [`run_cases`] and exits non-zero
//! unless [`CasesReport::all_passed`].
//!
//! Every expected field is evaluated by the same domain functions the API
//! uses, and reported with our value, the expected value, the tolerance and
//! its status. A field name we do not compute is reported as `unsupported`,
//! never skipped; so is a key of a case or an activity that the format does
//! not define (an input we would not read).

use pricetrack_domain::analytics::{
    cases::{CaseSpec, quote_json_numbers},
    figures::{CheckOutcome, FieldCheck, check_case},
};
use rust_decimal::Decimal;
use serde::Serialize;
use std::fmt;

/// The file as a whole could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaseFileError {
    #[error("the case file is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the case file must be a JSON array of cases")]
    NotAnArray,
}

/// The verdict on one expected field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    Pass,
    Fail,
    /// We do not compute a figure of this name.
    Unsupported,
    /// A figure we compute, but not for this case (the reason says why).
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldResult {
    pub field: String,
    /// Our value, when we computed one.
    pub ours: Option<String>,
    pub expected: Decimal,
    pub tolerance: Decimal,
    pub status: FieldStatus,
    /// Why an `error` field could not be computed.
    pub reason: Option<String>,
}

impl FieldResult {
    fn from_check(check: FieldCheck) -> Self {
        let (ours, status, reason) = match check.outcome {
            CheckOutcome::Pass(v) => (Some(v.to_string()), FieldStatus::Pass, None),
            CheckOutcome::Fail(v) => (Some(v.to_string()), FieldStatus::Fail, None),
            CheckOutcome::Unsupported => (None, FieldStatus::Unsupported, None),
            CheckOutcome::Error(e) => (None, FieldStatus::Error, Some(e)),
        };
        Self {
            field: check.field,
            ours,
            expected: check.expected,
            tolerance: check.tolerance,
            status,
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub source: Option<String>,
    /// Set when the case itself could not be read; its fields are then errors.
    pub case_error: Option<String>,
    /// Keys of the case (or `activities[i].key`) the format does not define:
    /// their values were not read, so the case does not pass.
    pub unknown_keys: Vec<String>,
    pub fields: Vec<FieldResult>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.case_error.is_none()
            && self.unknown_keys.is_empty()
            && self.fields.iter().all(|f| f.status == FieldStatus::Pass)
    }
}

/// Per case and per field: ours, expected, tolerance, status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CasesReport {
    pub cases: Vec<CaseResult>,
}

/// Field counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CaseCounts {
    pub cases: usize,
    pub cases_passed: usize,
    pub fields: usize,
    pub passed: usize,
    pub failed: usize,
    pub unsupported: usize,
    pub errors: usize,
    /// Input keys the format does not define.
    pub unknown_keys: usize,
}

impl CasesReport {
    /// True when every field of every case passed (none failed, none
    /// unsupported, none in error) and there was at least one case.
    pub fn all_passed(&self) -> bool {
        !self.cases.is_empty() && self.cases.iter().all(CaseResult::passed)
    }

    pub fn counts(&self) -> CaseCounts {
        let mut c = CaseCounts {
            cases: self.cases.len(),
            cases_passed: self.cases.iter().filter(|c| c.passed()).count(),
            unknown_keys: self.cases.iter().map(|c| c.unknown_keys.len()).sum(),
            ..CaseCounts::default()
        };
        for f in self.cases.iter().flat_map(|c| &c.fields) {
            c.fields += 1;
            match f.status {
                FieldStatus::Pass => c.passed += 1,
                FieldStatus::Fail => c.failed += 1,
                FieldStatus::Unsupported => c.unsupported += 1,
                FieldStatus::Error => c.errors += 1,
            }
        }
        c
    }

    /// An aligned plain-text table, one row per field, and a summary line.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CasesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["case", "field", "ours", "expected", "tolerance", "status"];
        let mut rows: Vec<[String; 6]> = Vec::new();
        for case in &self.cases {
            if let Some(error) = &case.case_error {
                rows.push([
                    case.id.clone(),
                    "(case)".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("error: {error}"),
                ]);
            }
            for key in &case.unknown_keys {
                rows.push([
                    case.id.clone(),
                    key.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "unsupported input key (not read)".into(),
                ]);
            }
            for field in &case.fields {
                let status = match (&field.status, &field.reason) {
                    (FieldStatus::Error, Some(reason)) => format!("error: {reason}"),
                    (status, _) => match status {
                        FieldStatus::Pass => "pass".into(),
                        FieldStatus::Fail => "FAIL".into(),
                        FieldStatus::Unsupported => "unsupported".into(),
                        FieldStatus::Error => "error".into(),
                    },
                };
                rows.push([
                    case.id.clone(),
                    field.field.clone(),
                    field.ours.clone().unwrap_or_else(|| "-".into()),
                    field.expected.normalize().to_string(),
                    field.tolerance.normalize().to_string(),
                    status,
                ]);
            }
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    writeln!(f, "{cell}")?;
                } else {
                    write!(f, "{cell:<width$}  ", width = widths[i])?;
                }
            }
            Ok(())
        };
        line(f, &header)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(f, &rule.iter().map(String::as_str).collect::<Vec<_>>())?;
        for row in &rows {
            line(f, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        let c = self.counts();
        writeln!(
            f,
            "\n{}/{} cases passed; fields: {} passed, {} failed, {} unsupported, {} errors (of {}); {} unknown input keys",
            c.cases_passed,
            c.cases,
            c.passed,
            c.failed,
            c.unsupported,
            c.errors,
            c.fields,
            c.unknown_keys
        )
    }
}

/// Evaluates every case of a case file (a JSON array of cases).
pub fn run_cases(json: &str) -> Result<CasesReport, CaseFileError> {
    let quoted = quote_json_numbers(json);
    let value: serde_json::Value = serde_json::from_str(&quoted).map_err(CaseFileError::Json)?;
    if !value.is_array() {
        return Err(CaseFileError::NotAnArray);
    }
    // Each case as raw text, so its fields keep the file's order.
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(&quoted).map_err(CaseFileError::Json)?;
    #[derive(serde::Deserialize)]
    struct Header {
        id: Option<String>,
        source: Option<String>,
    }
    let cases = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let header: Option<Header> = serde_json::from_str(item.get()).ok();
            let id = header
                .as_ref()
                .and_then(|h| h.id.clone())
                .unwrap_or_else(|| format!("#{index}"));
            let source = header.and_then(|h| h.source);
            let unreadable = |message: String| CaseResult {
                id: id.clone(),
                source: source.clone(),
                case_error: Some(message),
                unknown_keys: Vec::new(),
                fields: Vec::new(),
            };
            let spec: CaseSpec = match serde_json::from_str(item.get()) {
                Ok(spec) => spec,
                Err(e) => return unreadable(e.to_string()),
            };
            match spec.into_case() {
                Ok(case) => CaseResult {
                    id: case.id.clone(),
                    source: case.source.clone(),
                    case_error: None,
                    unknown_keys: case.unknown_keys.clone(),
                    fields: check_case(&case)
                        .into_iter()
                        .map(FieldResult::from_check)
                        .collect(),
                },
                Err(e) => unreadable(e.message),
            }
        })
        .collect();
    Ok(CasesReport { cases })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn shipped_case_file() -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/reference-cases/portfolio-cases.json");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the reference cases must be at {} (shared/ beside the repository): {e}",
                path.display()
            )
        })
    }

    #[test]
    fn the_shipped_case_file_fully_passes() {
        let report = run_cases(&shipped_case_file()).unwrap();
        assert!(report.all_passed(), "{report}");
        let counts = report.counts();
        assert!(counts.cases >= 11 && counts.fields >= 100, "{counts:?}");
    }

    const ONE_CASE: &str = r#"[{
        "id": "tiny",
        "currency": "USD",
        "activities": [
            {"date": "2024-01-02", "type": "BUY", "symbol": "ABC", "quantity": 2,
             "unit_price": 10, "gross_amount": 20, "fee": 1, "currency": "USD"}
        ],
        "market_prices": {"ABC": {"2024-01-05": 12.5}},
        "evaluation_date": "2024-01-05",
        "expected": {"quantity": 2, "current_value": 25, "net_performance": 4,
                     "sharpe_ratio": 1.5, "total_investment": 21},
        "tolerance": {"default_abs": 1e-9}
    }]"#;

    #[test]
    fn an_unknown_field_is_reported_as_unsupported_and_a_wrong_value_as_failed() {
        let report = run_cases(ONE_CASE).unwrap();
        assert!(!report.all_passed());
        let fields = &report.cases[0].fields;
        let status = |name: &str| &fields.iter().find(|f| f.field == name).unwrap().status;
        assert_eq!(status("quantity"), &FieldStatus::Pass);
        assert_eq!(status("current_value"), &FieldStatus::Pass);
        assert_eq!(status("net_performance"), &FieldStatus::Pass);
        assert_eq!(status("sharpe_ratio"), &FieldStatus::Unsupported);
        assert_eq!(status("total_investment"), &FieldStatus::Fail);
        let table = report.render();
        assert!(
            table.contains("sharpe_ratio") && table.contains("unsupported"),
            "{table}"
        );
        assert!(
            table.contains("1/5") || table.contains("3 passed"),
            "{table}"
        );
    }

    #[test]
    fn keys_the_format_does_not_define_are_reported_and_fail_the_case() {
        let json = r#"[{"id": "typo", "currency": "USD", "evaluation_date": "2024-01-05",
            "activities": [{"date": "2024-01-02", "type": "DEPOSIT", "amount": 5, "currency": "USD",
                            "ammount": 7}],
            "expected": {"value": 5}, "tolerances": {"value": 1}}]"#;
        let report = run_cases(json).unwrap();
        let case = &report.cases[0];
        assert_eq!(case.fields[0].status, FieldStatus::Pass);
        assert_eq!(case.unknown_keys, ["tolerances", "activities[0].ammount"]);
        assert!(!report.all_passed());
        let table = report.render();
        assert!(table.contains("activities[0].ammount"), "{table}");
        assert!(table.contains("2 unknown input keys"), "{table}");
    }

    #[test]
    fn an_unreadable_case_is_reported_without_hiding_the_others() {
        let json = r#"[{"id": "bad", "evaluation_date": "2024-01-01",
            "activities": [{"date": "2024-01-01", "type": "GIFT", "amount": 1}],
            "expected": {"fees": 0}}]"#;
        let report = run_cases(json).unwrap();
        assert!(!report.all_passed());
        assert!(
            report.cases[0]
                .case_error
                .as_deref()
                .unwrap()
                .contains("GIFT")
        );
        assert!(matches!(run_cases("{}"), Err(CaseFileError::NotAnArray)));
        assert!(matches!(run_cases("not json"), Err(CaseFileError::Json(_))));
    }
}
