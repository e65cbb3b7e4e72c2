//! Market data end to end: refresh and backfill against a local fake Yahoo
//! server with a fake clock, the quarantine, replicas claiming jobs, a faulty
//! provider, and the HTTP routes — each on SQLite and PostgreSQL. No test
//! reaches the internet or sleeps to wait for a job.

mod api;
mod demo;
mod fake;
#[path = "../api/harness.rs"]
#[allow(dead_code)]
mod harness;
mod refresh;

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::refresh::$case(pricetrack_storage::testing::fresh_sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = pricetrack_storage::testing::fresh_postgres().await else { return };
                    crate::refresh::$case(db).await;
                }
            )*
        }
    };
}

macro_rules! demo_on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod demo_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::demo::$case(pricetrack_storage::testing::fresh_sqlite().await).await;
                }
            )*
        }
        mod demo_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = pricetrack_storage::testing::fresh_postgres().await else { return };
                    crate::demo::$case(db).await;
                }
            )*
        }
    };
}

macro_rules! http_on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod http_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let m = crate::api::spawn(crate::harness::Backend::Sqlite).await.expect("sqlite");
                    crate::api::$case(m).await;
                }
            )*
        }
        mod http_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(m) = crate::api::spawn(crate::harness::Backend::Postgres).await else { return };
                    crate::api::$case(m).await;
                }
            )*
        }
    };
}

on_both_backends!(
    incremental_refresh_asks_only_after_the_last_stored_bar,
    nothing_is_fetched_outside_the_session_except_the_completion_run,
    an_interrupted_backfill_resumes_from_its_saved_progress,
    two_replicas_fetch_each_due_series_once,
    a_100x_jump_is_quarantined_then_released_or_dropped,
    a_faulty_provider_cannot_corrupt_the_store,
    manual_instruments_are_never_fetched_and_demo_ones_only_from_demo,
    intraday_series_follow_open_positions_not_past_trades,
    the_providers_first_trade_date_becomes_an_unknown_listing_date,
    a_split_reported_by_the_provider_puts_the_stored_history_on_the_new_basis,
    a_url_source_with_a_date_backfills_in_spans_it_accepts,
    an_instruments_own_url_source_is_fetched_without_an_environment_source,
    backfill_progress_is_measured_from_where_the_history_begins,
    a_first_chunk_at_the_wrong_scale_is_held_back_by_the_quote,
);

http_on_both_backends!(
    refresh_now_fetches_and_status_reports_it,
    implausible_ingested_bars_are_quarantined_then_released_or_dropped,
    bars_before_the_listing_date_are_quarantined,
    an_instruments_url_source_is_checked_stored_patched_and_cleared,
    dividends_and_splits_from_the_provider_are_listed_per_instrument,
    a_misspelt_provider_is_refused_naming_the_accepted_ones,
    simulated_prices_are_labelled_in_quotes_and_bar_reads,
);

demo_on_both_backends!(the_demo_seeds_an_empty_database_once_and_keeps_it_living);
