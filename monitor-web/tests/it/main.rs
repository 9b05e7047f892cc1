//! Handler tests of the dashboard over a seeded real store: every case runs
//! against both SQLite and Postgres, and HTML snapshots must be the same on both.

mod cases;
mod harness;
mod seed;

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::cases::$name(crate::harness::Harness::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::cases::$name(crate::harness::Harness::postgres().await).await;
                }
            )*
        }
    };
}

both_backends! {
    status_page_groups_scripts_with_badges_progress_and_summary,
    empty_store_explains_how_to_track_a_script,
    api_status_gives_the_read_models_answers,
    status_page_badges_expected_scripts_that_never_ran,
    run_page_shows_tasks_pending_messages_and_samples,
    failed_run_shows_error_traceback_and_log,
    history_filters_sorts_and_pages_with_keyset_cursors,
    history_page_renders_rows_sort_links_and_export_link,
    csv_export_streams_every_page_of_exactly_the_filter,
    bad_parameters_give_400_with_a_message,
    trends_page_draws_four_charts_and_statistics,
    charts_download_as_svg_and_png,
    errors_group_resolve_with_csrf_and_reopen_on_recurrence,
    error_drill_down_lists_the_groups_runs,
    token_auth_protects_pages_api_and_writes,
    basic_auth_challenges_and_names_the_resolver,
    unmigrated_store_shows_a_banner_not_a_stack_trace,
    live_status_stream_sends_the_board_again_when_tasks_advance,
    live_run_stream_ends_with_done_when_the_run_finishes,
    status_page_badges_stalled_and_lost_runs,
    csv_export_link_pins_the_range_the_page_showed,
    error_groups_show_context_hide_missing_logs_and_say_when_capped,
}

#[test]
fn non_loopback_bind_without_auth_is_refused() {
    let err = monitor_web::ServeOptions::new("0.0.0.0:8765".parse().unwrap(), monitor_web::Auth::none())
        .unwrap_err();
    assert!(err.to_string().contains("PIPETRACK_DASHBOARD_TOKEN"), "{err}");
    assert!(
        monitor_web::ServeOptions::new("127.0.0.1:8765".parse().unwrap(), monitor_web::Auth::none()).is_ok()
    );
    assert!(monitor_web::ServeOptions::new("[::1]:8765".parse().unwrap(), monitor_web::Auth::none()).is_ok());
    let token = monitor_web::Auth::token("0123456789abcdef0123").unwrap();
    assert!(monitor_web::ServeOptions::new("0.0.0.0:8765".parse().unwrap(), token).is_ok());
}
