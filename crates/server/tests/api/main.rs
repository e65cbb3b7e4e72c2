//! Black-box tests of the HTTP API: the real server on a random port, a fresh
//! database per test, every test run against SQLite and PostgreSQL.

mod cases;
mod harness;

/// Instantiates each case once per backend.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = crate::harness::spawn_app(crate::harness::Backend::Sqlite).await.expect("sqlite is always available");
                    crate::cases::$case(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(app) = crate::harness::spawn_app(crate::harness::Backend::Postgres).await else { return };
                    crate::cases::$case(app).await;
                }
            )*
        }
    };
}

on_both_backends!(
    requests_without_a_valid_token_get_401_problems,
    health_and_readiness_answer_without_a_token,
    instruments_can_be_created_read_searched_updated_and_deleted,
    symbols_with_punctuation_work_url_encoded,
    only_admins_change_instruments,
    deleting_an_instrument_used_by_transactions_is_refused_with_the_count,
    deleting_an_instrument_deletes_its_bars,
    bar_ingest_counts_new_and_replaced_rows_for_json_and_csv,
    bar_reads_are_ordered_and_honour_from_to_and_limit,
    invalid_bar_uploads_are_refused_naming_the_row_and_write_nothing,
    skip_invalid_stores_the_good_rows_and_reports_the_bad,
    a_csv_with_a_bad_value_on_line_50000_is_refused_naming_that_line,
    mixed_feeds_reject_unknown_symbols_row_by_row,
    a_batch_of_100000_bars_is_accepted_in_one_request,
    hand_entered_prices_become_daily_bars_and_feed_the_quote,
    portfolios_are_private_to_their_owner,
    portfolio_crud_round_trips,
    transactions_can_be_recorded_listed_filtered_updated_and_deleted,
    selling_more_than_is_held_is_refused_saying_how_much_is_held,
    holdings_show_quantity_cost_value_and_gain,
    malformed_json_wrong_types_and_unknown_fields_get_field_errors,
    wrong_types_name_the_field_even_inside_arrays_and_queries,
    framework_refusals_are_problem_documents,
    openapi_documents_every_route,
    tokens_can_be_created_listed_and_revoked,
);

/// A body over `PRICETRACK_MAX_BODY_MB` is a 413 problem naming the limit, and
/// nothing of it is stored.
async fn an_oversized_upload_is_a_413_problem_naming_the_limit(backend: harness::Backend) {
    let settings = pricetrack_server::config::Settings {
        max_body_mb: 1,
        ..Default::default()
    };
    let Some(app) = harness::spawn_app_with(backend, settings).await else {
        return;
    };
    app.add_instrument("AAPL", "stock", "USD").await;
    let mut csv = String::from("time,open,high,low,close,volume\n");
    let mut day = jiff::civil::date(1990, 1, 1);
    while csv.len() <= 1 << 20 {
        csv.push_str(&format!("{day},1.5,2.5,1.25,2.25,1000000\n"));
        day = day.tomorrow().expect("a valid date");
    }
    let p = harness::problem(
        app.post_csv("/api/v1/instruments/AAPL/bars?interval=1d", csv)
            .await,
        413,
    )
    .await;
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("1 MB") && detail.contains("PRICETRACK_MAX_BODY_MB"),
        "{p}"
    );
    let bars = harness::json(app.get("/api/v1/instruments/AAPL/bars?interval=1d").await).await;
    assert_eq!(bars["bars"].as_array().map(Vec::len), Some(0), "{bars}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_oversized_upload_is_a_413_problem_naming_the_limit() {
    an_oversized_upload_is_a_413_problem_naming_the_limit(harness::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_oversized_upload_is_a_413_problem_naming_the_limit() {
    an_oversized_upload_is_a_413_problem_naming_the_limit(harness::Backend::Postgres).await;
}
