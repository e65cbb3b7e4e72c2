//! Runs the conformance suite (`conformance/mod.rs`) against every backend: each test
//! gets a fresh database. PostgreSQL cases need `PRICETRACK_TEST_POSTGRES`; see
//! `pricetrack_storage::testing`.

mod conformance;

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = pricetrack_storage::testing::fresh_sqlite().await;
                    crate::conformance::$name(db.open().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = pricetrack_storage::testing::fresh_postgres().await else {
                        return;
                    };
                    crate::conformance::$name(db.open().await).await;
                }
            )*
        }
    };
}

conformance_tests!(
    ping_answers_and_names_the_backend,
    a_created_instrument_reads_back_with_every_field,
    creating_a_duplicate_symbol_is_a_conflict_naming_the_symbol,
    updating_an_instrument_changes_its_fields_and_reports_missing_ones,
    an_instruments_url_source_round_trips_through_create_update_and_clear,
    listing_instruments_orders_by_symbol_and_filters_by_kind,
    listing_instruments_searches_symbol_and_name_case_insensitively,
    listing_instruments_paginates_and_reports_the_total,
    deleting_an_instrument_removes_it_and_its_bars,
    deleting_a_missing_instrument_reports_not_found,
    deleting_an_instrument_with_transactions_is_refused_with_the_count,
    upserting_new_bars_counts_them_as_inserted,
    upserting_the_same_bars_again_replaces_them_and_is_idempotent,
    upserting_overlapping_bars_counts_new_and_replaced_and_stores_the_new_values,
    duplicate_bars_within_one_call_keep_the_last_one,
    upserting_with_an_unknown_symbol_writes_nothing,
    bar_prices_and_times_round_trip_exactly,
    bars_from_a_start_are_the_first_limit_in_ascending_order,
    bars_without_a_start_are_the_last_limit_up_to_the_end_in_ascending_order,
    bar_ranges_are_inclusive_and_keep_intervals_and_instruments_apart,
    bars_of_an_unknown_symbol_are_empty,
    a_hundred_thousand_bars_upsert_in_one_call,
    ranges_across_many_blocks_read_like_one_sequence,
    sparse_series_still_return_the_latest_bars,
    rewriting_the_middle_of_a_series_keeps_its_neighbours,
    concurrent_writers_to_one_series_lose_no_bars,
    concurrent_upserts_report_their_own_counts_and_fail_alone,
    backfill_live_bars_and_corrections_read_as_one_sequence,
    a_created_portfolio_reads_back_by_id_and_by_name,
    another_users_portfolio_behaves_as_missing,
    a_duplicate_portfolio_name_for_the_same_owner_is_a_conflict_naming_it,
    renaming_a_portfolio_onto_an_existing_name_is_a_conflict,
    portfolios_are_listed_by_name,
    deleting_a_portfolio_deletes_its_transactions,
    inserted_transactions_get_ids_in_order_and_the_ledger_is_chronological,
    every_transaction_kind_round_trips_exactly,
    same_time_transactions_keep_recording_order_and_new_ones_come_last,
    replacing_a_transaction_keeps_its_id_and_changes_its_fields,
    deleting_a_transaction_removes_it,
    replacing_or_deleting_a_missing_transaction_reports_not_found,
    a_rejected_change_writes_nothing,
    the_validator_sees_the_ledger_as_it_would_be_after_the_change,
    a_transaction_naming_an_unknown_instrument_fails_and_writes_nothing,
    concurrent_ledger_changes_are_serialised_by_the_portfolio_lock,
    listing_transactions_filters_and_paginates_with_a_total,
    users_are_created_found_by_name_listed_and_counted,
    a_duplicate_user_name_is_a_conflict_naming_it,
    password_hashes_are_set_and_read_per_user,
    a_token_finds_its_user_and_records_its_last_use,
    tokens_are_revoked_only_by_their_owner,
    sessions_are_found_by_hash_until_they_expire_and_can_be_deleted,
    login_failures_are_counted_per_key_since_a_time_and_cleared,
    watchlists_keep_their_items_in_order_and_are_private,
    user_settings_and_provider_keys_round_trip,
    corporate_events_round_trip_exactly_oldest_first,
    recording_an_event_again_replaces_it_and_counts_only_new_ones,
    events_for_an_unknown_symbol_write_nothing_and_go_with_the_instrument,
);
