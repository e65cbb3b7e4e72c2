//! Runs every case of the shared reference-case file (numbers from
//! Ghostfolio's and Portfolio Performance's test suites and published XIRR
//! references) through the real analytics and compares every expected field.

use pricetrack_domain::analytics::{
    cases::{CaseSpec, quote_json_numbers},
    figures::{CheckOutcome, check_case},
};
use std::path::PathBuf;

fn shared_case_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/reference-cases/portfolio-cases.json")
}

fn derived_case_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/derived-cases.json")
}

#[test]
fn every_reference_case_matches_within_its_tolerance() {
    assert_all_pass(shared_case_file(), &[]);
}

/// Cases we derived ourselves from the trackers' test suites (see each
/// case's `source`), for behaviour the shared file does not cover.
#[test]
fn every_derived_case_matches_within_its_tolerance() {
    assert_all_pass(
        derived_case_file(),
        &[("derived-fifo-per-account-ma-global", "trade_return")],
    );
}

fn assert_all_pass(path: PathBuf, expected_failures: &[(&str, &str)]) {
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the reference cases must be at {} (the repository is cloned with shared/ beside it): {e}",
            path.display()
        )
    });
    let specs: Vec<CaseSpec> =
        serde_json::from_str(&quote_json_numbers(&json)).expect("the case file is valid JSON");
    assert!(!specs.is_empty(), "the case file holds no cases");
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in specs {
        let case = spec.into_case().expect("every case is readable");
        assert!(
            case.unknown_keys.is_empty(),
            "{}: keys the format does not define: {:?}",
            case.id,
            case.unknown_keys
        );
        for check in check_case(&case) {
            checked += 1;
            if expected_failures.contains(&(case.id.as_str(), check.field.as_str())) {
                assert!(
                    !check.passed(),
                    "{} {} was expected to fail",
                    case.id,
                    check.field
                );
                continue;
            }
            let detail = match &check.outcome {
                CheckOutcome::Pass(_) => continue,
                CheckOutcome::Fail(v) => format!("got {v}"),
                CheckOutcome::Unsupported => "unsupported".to_owned(),
                CheckOutcome::Error(e) => format!("error: {e}"),
            };
            failures.push(format!(
                "{} {}: expected {} ± {}, {detail}",
                case.id, check.field, check.expected, check.tolerance
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fields failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
