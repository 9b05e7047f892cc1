//! monitor-queries against real stores: every case runs on SQLite and on Postgres.

mod cases;
mod fixtures;
mod harness;

test_support::on_both_stores! {
    current_status_shows_each_scripts_latest_run_with_typical_duration_and_eta,
    current_status_lists_expected_scripts_that_never_ran,
    stalled_and_lost_follow_the_clock_and_mark_lost_closes_runs,
    without_history_a_run_stalls_after_the_fixed_limit,
    history_filters_sorts_and_pages,
    history_sorts_by_end_and_error_with_nulls_last,
    history_filters_by_fingerprint_across_scan_batches,
    history_search_treats_hostile_input_literally,
    pages_have_no_duplicates_or_gaps_under_concurrent_inserts,
    running_lists_tasks_and_recent_messages,
    recent_failures_are_newest_first_since_a_time,
    run_detail_has_tasks_messages_samples_error_and_metadata,
    trends_match_statistics_computed_by_hand,
    error_groups_fingerprint_resolve_and_reopen,
    cache_serves_within_ttl_and_writes_invalidate_it,
}
