//! tracker-client against real stores: every case runs on SQLite and on
//! PostgreSQL (never mocked, never skipped), plus the fork storm, the killed
//! process and the worker processes those need.

mod cases;
mod harness;
mod worker;

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    crate::cases::$name(crate::harness::Harness::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    crate::cases::$name(crate::harness::Harness::postgres());
                }
            )*
        }
    };
}

both_backends! {
    all_events_of_a_run_land_with_metadata,
    store_down_then_up_lands_every_event_exactly_once,
    a_slow_store_overflows_the_queue_into_the_spool_and_nothing_is_lost,
    a_killed_process_leaves_a_spool_the_next_process_replays,
    spool_replay_as_operators_run_it,
    a_sigterm_flushes_then_ends_the_process,
    a_fork_storm_reports_into_the_parent_run,
    a_joining_process_adds_a_stream_not_a_run,
    exit_reasons_finish_the_run,
    heartbeats_and_resource_samples_are_recorded,
    high_rate_updates_are_coalesced_to_the_latest_value,
    bad_input_is_a_clear_error_never_a_panic,
}

#[test]
fn a_second_shutdown_waits_for_the_first() {
    cases::a_second_shutdown_waits_for_the_first();
}
