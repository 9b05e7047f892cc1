//! The store's contract: every case runs against both SQLite and Postgres.

mod cases;
mod harness;
mod roles;
mod tls;
mod worker;

test_support::on_both_stores! {
    migrations_apply_from_empty_and_rerun_as_no_op,
    an_unmigrated_store_says_to_run_migrate,
    a_full_run_lands_in_runs_tasks_events_and_scripts,
    every_final_status_is_stored,
    every_status_pair_follows_the_lifecycle,
    bad_input_is_refused_with_a_clear_error,
    refused_transitions_are_kept_in_history_and_reported,
    replaying_a_batch_changes_nothing,
    batches_of_any_size_give_the_same_projection,
    events_before_the_start_wait_then_fold_in,
    a_joined_process_stored_first_gives_way_to_the_main_start,
    the_per_day_rollup_follows_every_kind_of_write,
    the_v9_backfill_fills_the_duration_statistics,
    events_replayed_after_a_run_was_marked_lost_rebuild_it,
    an_invalid_event_refuses_the_whole_batch,
    hostile_text_is_stored_verbatim,
    resource_samples_are_stored_with_run_totals,
    scripts_point_at_their_latest_run,
    concurrent_writers_in_one_process_lose_nothing,
    concurrent_writer_processes_lose_nothing,
}
