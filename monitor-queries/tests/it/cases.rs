//! The cases. Every expected value is computed by hand from the fixtures.

use chrono::Duration;
use monitor_queries::fingerprint::fingerprint;
use monitor_queries::{
    ErrorGroupFilter, HistoryFilter, HistorySort, MonitorConfig, QueryError, RunState, TrendScope,
};
use tracker_core::{RunId, RunMeta, RunStatus, Session, TaskStatus};
use tracker_db::Store;

use crate::fixtures::{End, Spec, add, at, failed, monitor, monitor_with, run_id, t0};
use crate::harness::Harness;

const DAY: i64 = 86_400;

fn ids(items: &[monitor_queries::RunSummary]) -> Vec<RunId> {
    items.iter().map(|r| r.run_id).collect()
}

/// Five completed runs of `script`, durations 100, 200, 300, 400, 1000 s, on the
/// days before t0: typical (median) 300 s, p90 760 s, stall threshold 2280 s.
async fn history_of(store: &Store, script: &str) {
    for (k, seconds) in [100, 200, 300, 400, 1000].into_iter().enumerate() {
        add(store, Spec::new(script, at(-DAY * (6 - k as i64)), seconds, End::Completed)).await;
    }
}

pub(crate) async fn current_status_shows_each_scripts_latest_run_with_typical_duration_and_eta(h: Harness) {
    let store = &h.store;
    history_of(store, "DAILY_01_BDC_Locations.R").await;
    // Started 150 s before now; task 1 of 2 done, task 2 open: 50 %.
    let running = add(
        store,
        Spec::new("DAILY_01_BDC_Locations.R", at(-150), 150, End::Running { heartbeat_after: 145 }),
    )
    .await;
    let message = "cannot open file '/data/codes.csv': No such file or directory";
    let failed_run =
        add(store, Spec::new("STATIC_02_Technology_Codes.R", at(-3600), 60, failed("simpleError", message)))
            .await;
    let (monitor, _clock) = monitor(store, at(0));

    let status = monitor.current_status().await.unwrap();
    let names: Vec<&str> = status.iter().map(|s| s.script_name.as_str()).collect();
    assert_eq!(names, ["DAILY_01_BDC_Locations.R", "STATIC_02_Technology_Codes.R"]);

    let daily = &status[0];
    assert_eq!(daily.category, "DAILY");
    assert_eq!(daily.run_count, 6);
    assert_eq!(daily.latest.as_ref().unwrap().run_id, running);
    assert_eq!(daily.latest.as_ref().unwrap().status, RunStatus::Running);
    assert_eq!(daily.state, RunState::Running);
    assert_eq!(daily.latest.as_ref().unwrap().progress_percent, Some(50.0));
    assert_eq!(daily.latest.as_ref().unwrap().current_task.as_deref(), Some("Task 1"));
    assert_eq!(daily.latest.as_ref().unwrap().elapsed_ms, Some(150_000));
    assert_eq!(daily.typical_duration_ms, Some(300_000.0));
    // Half the work left at the typical pace: now + 150 s.
    assert_eq!(daily.eta, Some(at(150)));

    let static_ = &status[1];
    assert_eq!(static_.latest.as_ref().unwrap().run_id, failed_run);
    assert_eq!(static_.state, RunState::Failed);
    assert_eq!(static_.latest.as_ref().unwrap().elapsed_ms, Some(60_000));
    assert_eq!(static_.typical_duration_ms, None);
    assert_eq!(static_.eta, None);
    assert_eq!(
        static_.latest.as_ref().unwrap().error_fingerprint,
        Some(fingerprint(Some("simpleError"), message))
    );
}

/// Expected scripts (a scripts directory and a list) without a run are listed
/// as `never_run`, in category and name order among the others.
pub(crate) async fn current_status_lists_expected_scripts_that_never_ran(h: Harness) {
    let store = &h.store;
    let dir = std::env::temp_dir().join(format!("pipetrack-scripts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("DAILY_09_subdir.R")).unwrap();
    for file in [
        "DAILY_01_BDC_Locations.R",
        "DAILY_03_Hexagon.py",
        "ANNUAL_DEC_01_Broadband.Rmd",
        "STATIC_04_Report.qmd",
        "PREREQ_01_setup.sh",
        "helper.R",
        "DAILY_05_notes.txt",
        "Makefile",
    ] {
        std::fs::write(dir.join(file), "").unwrap();
    }
    let from_dir = monitor_queries::scripts_in_dir(&dir).unwrap();
    assert_eq!(
        from_dir,
        [
            "ANNUAL_DEC_01_Broadband.Rmd",
            "DAILY_01_BDC_Locations.R",
            "DAILY_03_Hexagon.py",
            "PREREQ_01_setup.sh",
            "STATIC_04_Report.qmd"
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(monitor_queries::scripts_in_dir(&dir).unwrap_err().to_string().contains("cannot read"));

    add(store, Spec::new("DAILY_01_BDC_Locations.R", at(0), 60, End::Completed)).await;
    add(store, Spec::new("STATIC_02_Technology_Codes.R", at(100), 60, End::Completed)).await;
    let mut config = MonitorConfig { cache_ttl: Duration::zero(), ..MonitorConfig::default() };
    config.add_expected(from_dir);
    config.add_expected(["DAILY_02_Provider_Tables.R".to_owned(), "DAILY_03_Hexagon.py".to_owned()]);
    let (monitor, _clock) = monitor_with(store, at(500), config);
    let status = monitor.current_status().await.unwrap();
    let rows: Vec<(&str, &str, RunState, i64)> =
        status.iter().map(|s| (s.category.as_str(), s.script_name.as_str(), s.state, s.run_count)).collect();
    assert_eq!(
        rows,
        [
            ("ANNUAL_DEC", "ANNUAL_DEC_01_Broadband.Rmd", RunState::NeverRun, 0),
            ("DAILY", "DAILY_01_BDC_Locations.R", RunState::Completed, 1),
            ("DAILY", "DAILY_02_Provider_Tables.R", RunState::NeverRun, 0),
            ("DAILY", "DAILY_03_Hexagon.py", RunState::NeverRun, 0),
            ("PREREQ", "PREREQ_01_setup.sh", RunState::NeverRun, 0),
            ("STATIC", "STATIC_02_Technology_Codes.R", RunState::Completed, 1),
            ("STATIC", "STATIC_04_Report.qmd", RunState::NeverRun, 0),
        ]
    );
    assert!(status.iter().all(|s| s.latest.is_none() == (s.state == RunState::NeverRun)));
    let json = serde_json::to_value(&status[0]).unwrap();
    assert_eq!((json["state"].as_str(), json["latest"].is_null()), (Some("never_run"), true));
}

pub(crate) async fn stalled_and_lost_follow_the_clock_and_mark_lost_closes_runs(h: Harness) {
    let store = &h.store;
    let script = "ANNUAL_DEC_03_ACS_Hex_Aggregation.R";
    history_of(store, script).await;
    let id = run_id(at(0));
    let meta = RunMeta { script_name: script.into(), total_tasks: Some(3), ..RunMeta::default() };
    let (mut session, first) = Session::start(id, meta, at(0)).unwrap();
    let events = vec![
        first,
        session.enter_task("Processing states", at(5)).unwrap(),
        session.message("Processing CA", at(10)).unwrap(),
        session.heartbeat(at(2005)).unwrap(),
    ];
    store.append(events).await.unwrap();
    let (monitor, clock) = monitor(store, at(2010));

    // 2000 s without progress, threshold max(3 x 760 s, 10 min) = 2280 s.
    assert_eq!(monitor.current_status().await.unwrap()[0].state, RunState::Running);
    assert!(monitor.stalled_runs().await.unwrap().is_empty());
    assert!(monitor.lost_runs().await.unwrap().is_empty());

    store.append(vec![session.heartbeat(at(2300)).unwrap()]).await.unwrap();
    clock.set(at(2310)); // 2300 s without progress, heartbeat 10 s old
    assert_eq!(monitor.current_status().await.unwrap()[0].state, RunState::Stalled);
    assert_eq!(ids(&monitor.stalled_runs().await.unwrap()), [id]);
    assert!(monitor.lost_runs().await.unwrap().is_empty());
    assert_eq!(monitor.current_status().await.unwrap()[0].eta, None, "no ETA for a stalled run");

    clock.set(at(2300 + 120)); // exactly the limit: not yet lost
    assert!(monitor.lost_runs().await.unwrap().is_empty());
    clock.set(at(2300 + 121));
    assert_eq!(ids(&monitor.lost_runs().await.unwrap()), [id]);
    assert!(monitor.stalled_runs().await.unwrap().is_empty(), "lost is not also stalled");
    assert_eq!(monitor.current_status().await.unwrap()[0].state, RunState::Lost);

    assert_eq!(monitor.mark_lost().await.unwrap(), [id]);
    assert_eq!(store.run(id).await.unwrap().unwrap().status, Some(RunStatus::Lost));
    assert!(monitor.mark_lost().await.unwrap().is_empty(), "nothing left to mark");
    assert!(monitor.lost_runs().await.unwrap().is_empty());
    let latest = monitor.current_status().await.unwrap()[0].latest.clone().unwrap();
    assert_eq!((latest.status, latest.state), (RunStatus::Lost, RunState::Lost));

    // The process was alive after all: it reports, the run revives, and can be lost again.
    store.append(vec![session.heartbeat(at(2500)).unwrap()]).await.unwrap();
    assert_eq!(store.run(id).await.unwrap().unwrap().status, Some(RunStatus::Running));
    clock.set(at(2500 + 200));
    assert_eq!(monitor.mark_lost().await.unwrap(), [id], "a second mark needs a new monitor seq");
    assert_eq!(store.run(id).await.unwrap().unwrap().status, Some(RunStatus::Lost));
}

pub(crate) async fn without_history_a_run_stalls_after_the_fixed_limit(h: Harness) {
    let store = &h.store;
    let script = "PERIODIC_01_ESRI_Hex_Data.R";
    add(store, Spec::new(script, at(-DAY), 60, End::Completed)).await; // 1 < min_history
    let id = run_id(at(0));
    let meta = RunMeta { script_name: script.into(), ..RunMeta::default() };
    let (mut session, first) = Session::start(id, meta, at(0)).unwrap();
    let enter = session.enter_task("Download", at(0)).unwrap();
    store.append(vec![first, enter, session.heartbeat(at(3590)).unwrap()]).await.unwrap();
    let (monitor, clock) = monitor(store, at(3595));
    assert_eq!(monitor.current_status().await.unwrap()[0].state, RunState::Running);
    store.append(vec![session.heartbeat(at(3650)).unwrap()]).await.unwrap();
    clock.set(at(3660)); // 61 min without progress, heartbeat fresh
    assert_eq!(monitor.current_status().await.unwrap()[0].state, RunState::Stalled);
    assert_eq!(ids(&monitor.stalled_runs().await.unwrap()), [id]);
}

struct Seven {
    r: Vec<RunId>,
}

/// Seven runs an hour apart; index i is r{i+1} of the comments.
async fn seven_runs(store: &Store) -> Seven {
    let specs = [
        Spec::new("DAILY_01_BDC_Locations.R", at(0), 100, End::Completed),
        Spec::new(
            "DAILY_02_Provider_Tables.R",
            at(3600),
            300,
            failed("simpleError", "Timeout was reached after 300001 ms"),
        ),
        Spec::new("DAILY_01_BDC_Locations.R", at(7200), 200, End::Completed),
        Spec::new("STATIC_02_Technology_Codes.R", at(10800), 300, End::Completed),
        Spec::new("STATIC_02_Technology_Codes.R", at(14400), 50, End::Cancelled),
        Spec::new("DAILY_02_Provider_Tables.R", at(18000), 400, End::Completed),
        Spec::new(
            "DAILY_01_BDC_Locations.R",
            at(21600),
            250,
            failed("simpleError", "cannot open file '/data/CA.csv'"),
        ),
    ];
    let mut r = Vec::new();
    for spec in specs {
        r.push(add(store, spec).await);
    }
    Seven { r }
}

async fn all_pages(
    monitor: &monitor_queries::Monitor,
    filter: &HistoryFilter,
) -> (Vec<Vec<RunId>>, Vec<RunId>) {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = monitor.history(filter, cursor.as_deref()).await.unwrap();
        pages.push(ids(&page.items));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
    let flat = pages.concat();
    (pages, flat)
}

pub(crate) async fn history_filters_sorts_and_pages(h: Harness) {
    let store = &h.store;
    let Seven { r } = seven_runs(store).await;
    let (monitor, _clock) = monitor(store, at(30_000));
    let pick = |indexes: &[usize]| indexes.iter().map(|i| r[i - 1]).collect::<Vec<_>>();
    let filter = |f: HistoryFilter| f;

    let newest_first = monitor.history(&HistoryFilter::default(), None).await.unwrap();
    assert_eq!(ids(&newest_first.items), pick(&[7, 6, 5, 4, 3, 2, 1]));
    assert_eq!(newest_first.next_cursor, None);
    assert_eq!(newest_first.items[0].state, RunState::Failed);
    assert_eq!(newest_first.items[0].duration_ms, Some(250_000));

    let (pages, _) =
        all_pages(&monitor, &filter(HistoryFilter { limit: 3, ..HistoryFilter::default() })).await;
    assert_eq!(pages, [pick(&[7, 6, 5]), pick(&[4, 3, 2]), pick(&[1])]);

    // Duration ties (r2, r4: 300 s) break by run id, across a page boundary.
    let by_duration = HistoryFilter { sort: HistorySort::Duration, limit: 2, ..HistoryFilter::default() };
    let (pages, _) = all_pages(&monitor, &by_duration).await;
    assert_eq!(pages, [pick(&[6, 4]), pick(&[2, 7]), pick(&[3, 1]), pick(&[5])]);

    let by_name = HistoryFilter { sort: HistorySort::Name, limit: 4, ..HistoryFilter::default() };
    let (pages, _) = all_pages(&monitor, &by_name).await;
    assert_eq!(pages, [pick(&[1, 3, 7, 2]), pick(&[6, 4, 5])]);

    let by_status = HistoryFilter { sort: HistorySort::Status, ..HistoryFilter::default() };
    assert_eq!(all_pages(&monitor, &by_status).await.1, pick(&[5, 1, 3, 4, 6, 2, 7]));
    let oldest_first = HistoryFilter { descending: Some(false), limit: 4, ..HistoryFilter::default() };
    assert_eq!(all_pages(&monitor, &oldest_first).await.1, pick(&[1, 2, 3, 4, 5, 6, 7]));

    let cases: Vec<(HistoryFilter, Vec<usize>)> = vec![
        (HistoryFilter { category: Some("STATIC".into()), ..HistoryFilter::default() }, vec![5, 4]),
        (
            HistoryFilter { script: Some("DAILY_01_BDC_Locations.R".into()), ..HistoryFilter::default() },
            vec![7, 3, 1],
        ),
        (
            HistoryFilter {
                statuses: vec![RunStatus::Failed, RunStatus::Cancelled],
                ..HistoryFilter::default()
            },
            vec![7, 5, 2],
        ),
        // from is inclusive, to exclusive.
        (
            HistoryFilter { from: Some(at(7200)), to: Some(at(18_000)), ..HistoryFilter::default() },
            vec![5, 4, 3],
        ),
        (HistoryFilter { search: Some("TIMEOUT".into()), ..HistoryFilter::default() }, vec![2]),
        (HistoryFilter { search: Some("ca.csv".into()), ..HistoryFilter::default() }, vec![7]),
        (HistoryFilter { search: Some("simpleerror".into()), ..HistoryFilter::default() }, vec![7, 2]),
        (
            HistoryFilter {
                category: Some("DAILY".into()),
                statuses: vec![RunStatus::Failed],
                sort: HistorySort::Duration,
                ..HistoryFilter::default()
            },
            vec![2, 7],
        ),
    ];
    for (f, expected) in cases {
        let (_, got) = all_pages(&monitor, &HistoryFilter { limit: 2, ..f.clone() }).await;
        assert_eq!(got, pick(&expected), "{f:?}");
    }

    let page = monitor.history(&HistoryFilter { limit: 3, ..HistoryFilter::default() }, None).await.unwrap();
    let cursor = page.next_cursor.unwrap();
    let err = monitor.history(&by_duration, Some(&cursor)).await.unwrap_err();
    assert!(matches!(err, QueryError::BadCursor { .. }), "{err}");
    let err =
        monitor.history(&HistoryFilter { limit: 0, ..HistoryFilter::default() }, None).await.unwrap_err();
    assert!(err.to_string().contains("use 1 to 1000"), "{err}");
    let backwards = HistoryFilter { from: Some(at(10)), to: Some(at(5)), ..HistoryFilter::default() };
    assert!(monitor.history(&backwards, None).await.is_err());
}

/// End time and error may be NULL (running runs, successful runs): those rows
/// come last in both directions, by run id, and page without duplicates or gaps.
pub(crate) async fn history_sorts_by_end_and_error_with_nulls_last(h: Harness) {
    let store = &h.store;
    let daily = "DAILY_01_BDC_Locations.R";
    let specs = [
        Spec::new(daily, at(0), 100, failed("simpleError", "alpha failed")), // ends 100
        Spec::new(daily, at(1000), 200, End::Completed),                     // ends 1200
        Spec::new("DAILY_02_Provider_Tables.R", at(1100), 100, failed("simpleError", "beta failed")), // ends 1200
        Spec::new(daily, at(2000), 50, failed("simpleError", "alpha failed")), // ends 2050
        Spec::new(daily, at(3000), 0, End::Running { heartbeat_after: 60 }),
        Spec::new(daily, at(4000), 100, End::Completed), // ends 4100
        Spec::new(daily, at(5000), 0, End::Running { heartbeat_after: 30 }),
    ];
    let mut r = Vec::new();
    for spec in specs {
        r.push(add(store, spec).await);
    }
    let (monitor, _clock) = monitor(store, at(5100));
    let pick = |indexes: &[usize]| indexes.iter().map(|i| r[i - 1]).collect::<Vec<_>>();
    let cases = [
        (HistorySort::Ended, None, vec![6, 4, 3, 2, 1, 7, 5]),
        (HistorySort::Ended, Some(false), vec![1, 2, 3, 4, 6, 5, 7]),
        (HistorySort::Error, None, vec![1, 4, 3, 2, 5, 6, 7]),
        (HistorySort::Error, Some(true), vec![3, 4, 1, 7, 6, 5, 2]),
    ];
    for (sort, descending, expected) in cases {
        for limit in [1, 2, 3, 7, 50] {
            let filter = HistoryFilter { sort, descending, limit, ..HistoryFilter::default() };
            let (pages, flat) = all_pages(&monitor, &filter).await;
            assert_eq!(flat, pick(&expected), "{sort:?} desc={descending:?} limit={limit}");
            assert_eq!(pages.len(), expected.len().div_ceil(limit), "{sort:?} limit={limit}");
        }
    }
    let first = monitor
        .history(&HistoryFilter { sort: HistorySort::Ended, limit: 2, ..HistoryFilter::default() }, None)
        .await
        .unwrap();
    assert_eq!(first.items[0].finished_at, Some(at(4100)));
    let failed_by_error = HistoryFilter {
        sort: HistorySort::Error,
        statuses: vec![RunStatus::Failed],
        limit: 1,
        ..HistoryFilter::default()
    };
    assert_eq!(all_pages(&monitor, &failed_by_error).await.1, pick(&[1, 4, 3]));
    let cursor = first.next_cursor.unwrap();
    let err = monitor
        .history(
            &HistoryFilter { sort: HistorySort::Error, limit: 2, ..HistoryFilter::default() },
            Some(&cursor),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::BadCursor { .. }), "{err}");
}

/// 1,201 failed runs a minute apart; three (0, 600, 1200) share one error
/// fingerprint, so a page of two spans more than one scan batch (1,000 runs).
pub(crate) async fn history_filters_by_fingerprint_across_scan_batches(h: Harness) {
    let store = &h.store;
    let daily = "DAILY_01_BDC_Locations.R";
    let mut events = Vec::new();
    let mut r = Vec::new();
    for i in 0..1201_i64 {
        let end = if i % 600 == 0 {
            failed("simpleError", &format!("cannot open file '/data/X{i}.csv'"))
        } else {
            failed("simpleError", &format!("Timeout was reached after {i} ms"))
        };
        let (id, run) = Spec { tasks: 0, ..Spec::new(daily, at(i * 60), 30, end) }.events();
        events.extend(run);
        r.push(id);
    }
    store.append(events).await.unwrap();
    // Same message, another class: another fingerprint.
    let other_class = add(
        store,
        Spec::new(daily, at(1201 * 60), 30, failed("rlang_error", "cannot open file '/data/X1.csv'")),
    )
    .await;
    add(store, Spec::new(daily, at(1202 * 60), 30, End::Completed)).await;
    let (monitor, _clock) = monitor(store, at(1300 * 60));
    let fp = fingerprint(Some("simpleError"), "cannot open file '/data/X0.csv'");
    let by_fp = |f: HistoryFilter| HistoryFilter { fingerprint: Some(fp.clone()), ..f };

    let (pages, flat) =
        all_pages(&monitor, &by_fp(HistoryFilter { limit: 2, ..HistoryFilter::default() })).await;
    assert_eq!(pages, [vec![r[1200], r[600]], vec![r[0]]]);
    let page = monitor.history(&by_fp(HistoryFilter::default()), None).await.unwrap();
    assert_eq!(ids(&page.items), flat);
    assert!(page.items.iter().all(|run| run.error_fingerprint.as_deref() == Some(fp.as_str())));
    assert_eq!(page.items[0].error_message.as_deref(), Some("cannot open file '/data/X1200.csv'"));
    let oldest_first = by_fp(HistoryFilter {
        sort: HistorySort::Ended,
        descending: Some(false),
        limit: 1,
        ..HistoryFilter::default()
    });
    assert_eq!(all_pages(&monitor, &oldest_first).await.1, [r[0], r[600], r[1200]]);
    let narrowed = by_fp(HistoryFilter {
        from: Some(at(60)),
        to: Some(at(1200 * 60)),
        script: Some(daily.into()),
        error_class: Some("simpleError".into()),
        ..HistoryFilter::default()
    });
    assert_eq!(ids(&monitor.history(&narrowed, None).await.unwrap().items), [r[600]]);

    let other_fp = fingerprint(Some("rlang_error"), "cannot open file '/data/X1.csv'");
    let other = HistoryFilter { fingerprint: Some(other_fp), ..HistoryFilter::default() };
    assert_eq!(ids(&monitor.history(&other, None).await.unwrap().items), [other_class]);
    for empty in [
        by_fp(HistoryFilter { statuses: vec![RunStatus::Completed], ..HistoryFilter::default() }),
        by_fp(HistoryFilter { error_class: Some("rlang_error".into()), ..HistoryFilter::default() }),
        by_fp(HistoryFilter {
            script: Some("DAILY_02_Provider_Tables.R".into()),
            ..HistoryFilter::default()
        }),
    ] {
        assert!(monitor.history(&empty, None).await.unwrap().items.is_empty(), "{empty:?}");
    }
    let class_only = HistoryFilter { error_class: Some("rlang_error".into()), ..HistoryFilter::default() };
    assert_eq!(ids(&monitor.history(&class_only, None).await.unwrap().items), [other_class]);
    let bad = HistoryFilter { fingerprint: Some("ABC".into()), ..HistoryFilter::default() };
    let err = monitor.history(&bad, None).await.unwrap_err();
    assert!(err.to_string().contains("16 lower-case hex digits"), "{err}");
}

pub(crate) async fn history_search_treats_hostile_input_literally(h: Harness) {
    let store = &h.store;
    let messages = [
        "Loaded 100% of CA",
        "Loaded 1000 rows",
        "file a_b.csv",
        "file axb.csv",
        "O'Brien county done",
        "path C:\\data\\x",
        "plain",
    ];
    let mut r = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        r.push(
            add(
                store,
                Spec::new("DAILY_03_Hexagon_Prospecting.R", at(i as i64 * 60), 30, End::Completed)
                    .message(message),
            )
            .await,
        );
    }
    let (monitor, _clock) = monitor(store, at(10_000));
    let search = |text: &str| HistoryFilter { search: Some(text.to_owned()), ..HistoryFilter::default() };
    for (text, expected) in [
        ("100%", vec![0]),
        ("%", vec![0]),
        ("a_b", vec![2]),
        ("_", vec![2]),
        ("O'Brien", vec![4]),
        ("'", vec![4]),
        ("C:\\data", vec![5]),
        ("\\", vec![5]),
        ("'; DROP TABLE runs; --", vec![]),
        ("\" OR \"1\"=\"1", vec![]),
        ("$1", vec![]),
    ] {
        let got = ids(&monitor.history(&search(text), None).await.unwrap().items);
        let want: Vec<RunId> = expected.iter().rev().map(|&i| r[i]).collect();
        assert_eq!(got, want, "search {text:?}");
    }
    let hostile_script = HistoryFilter { script: Some("x' OR '1'='1".into()), ..HistoryFilter::default() };
    assert!(monitor.history(&hostile_script, None).await.unwrap().items.is_empty());
    let hostile_category = HistoryFilter { category: Some("%".into()), ..HistoryFilter::default() };
    assert!(monitor.history(&hostile_category, None).await.unwrap().items.is_empty());
    assert_eq!(
        monitor.history(&HistoryFilter::default(), None).await.unwrap().items.len(),
        7,
        "table intact"
    );
}

pub(crate) async fn pages_have_no_duplicates_or_gaps_under_concurrent_inserts(h: Harness) {
    let store = h.store.clone();
    let mut originals = Vec::new();
    let mut batch = Vec::new();
    for i in 0..60_i64 {
        let spec = Spec::new("DAILY_01_BDC_Locations.R", at((i * 7919) % 50_000), 10, End::Completed);
        let (id, events) = spec.events();
        originals.push(id);
        batch.extend(events);
    }
    store.append(batch).await.unwrap();
    let writer_store = store.clone();
    let writer = tokio::spawn(async move {
        for i in 0..40_i64 {
            // Interleaved with the originals: older, newer and equal start times.
            let start = at((i * 3571) % 60_000 - 5_000);
            let (_, events) = Spec::new("DAILY_01_BDC_Locations.R", start, 10, End::Completed).events();
            writer_store.append(events).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let (monitor, _clock) = monitor(&store, at(100_000));
    for sort in [HistorySort::Started, HistorySort::Name] {
        let filter = HistoryFilter { limit: 7, sort, ..HistoryFilter::default() };
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = monitor.history(&filter, cursor.as_deref()).await.unwrap();
            seen.extend(ids(&page.items));
            tokio::task::yield_now().await;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let unique: std::collections::HashSet<RunId> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: a run was listed twice");
        for id in &originals {
            assert!(unique.contains(id), "{sort:?}: run {id} that existed before paging was skipped");
        }
    }
    writer.await.unwrap();
    let everything = HistoryFilter { limit: 1000, ..HistoryFilter::default() };
    assert_eq!(monitor.history(&everything, None).await.unwrap().items.len(), 100);
}

pub(crate) async fn running_lists_tasks_and_recent_messages(h: Harness) {
    let store = &h.store;
    add(store, Spec::new("DAILY_01_BDC_Locations.R", at(-500), 100, End::Completed)).await;
    let id = run_id(at(0));
    let meta = RunMeta {
        script_name: "ANNUAL_DEC_01_Hex_Info_Base.R".into(),
        total_tasks: Some(4),
        ..RunMeta::default()
    };
    let (mut s, first) = Session::start(id, meta, at(0)).unwrap();
    let mut events = vec![first, s.enter_task("Load states", at(1)).unwrap()];
    events.push(s.exit_task(TaskStatus::Completed, at(2)).unwrap());
    events.push(s.enter_task("Processing states", at(3)).unwrap());
    for (i, state) in ["CA", "TX", "NY", "FL"].into_iter().enumerate() {
        let t = at(10 + i as i64 * 10);
        events.push(s.message(&format!("Processing {state}"), t).unwrap());
        events.push(s.progress(i as i64 + 1, 50, t).unwrap());
    }
    store.append(events).await.unwrap();
    let config =
        MonitorConfig { cache_ttl: Duration::zero(), recent_messages: 3, ..MonitorConfig::default() };
    let (monitor, _clock) = monitor_with(store, at(50), config);

    let running = monitor.running().await.unwrap();
    assert_eq!(running.len(), 1);
    let run = &running[0];
    assert_eq!(run.run.run_id, id);
    assert_eq!(run.run.state, RunState::Running);
    assert_eq!(run.run.elapsed_ms, Some(50_000));
    let tasks: Vec<(&str, TaskStatus)> = run.tasks.iter().map(|t| (t.name.as_str(), t.status)).collect();
    assert_eq!(tasks, [("Load states", TaskStatus::Completed), ("Processing states", TaskStatus::Running)]);
    assert_eq!(run.tasks[1].message.as_deref(), Some("Processing FL"));
    assert_eq!((run.tasks[1].progress_done, run.tasks[1].progress_total), (Some(4), Some(50)));
    let messages: Vec<&str> = run.recent_messages.iter().map(|m| m.message.as_str()).collect();
    assert_eq!(messages, ["Processing FL", "Processing NY", "Processing TX"]);
    assert_eq!(run.recent_messages[0].at, at(40));
    // 1 of 4 tasks done plus 4/50 of the current one.
    let percent = run.run.progress_percent.unwrap();
    assert!((percent - (1.0 + 4.0 / 50.0) / 4.0 * 100.0).abs() < 1e-9, "{percent}");
}

pub(crate) async fn recent_failures_are_newest_first_since_a_time(h: Harness) {
    let store = &h.store;
    let f1 =
        add(store, Spec::new("DAILY_01_BDC_Locations.R", at(100), 5, failed("simpleError", "one"))).await;
    let f2 =
        add(store, Spec::new("DAILY_02_Provider_Tables.R", at(200), 5, failed("simpleError", "two"))).await;
    add(store, Spec::new("DAILY_02_Provider_Tables.R", at(250), 5, End::Completed)).await;
    let f3 = add(store, Spec::new("DAILY_00a_BDC_Download.py", at(300), 5, failed("KeyError", "'CA'"))).await;
    let (monitor, _clock) = monitor(store, at(1000));
    assert_eq!(ids(&monitor.recent_failures(at(150), 10).await.unwrap()), [f3, f2]);
    assert_eq!(ids(&monitor.recent_failures(at(0), 1).await.unwrap()), [f3]);
    assert_eq!(ids(&monitor.recent_failures(at(0), 10).await.unwrap()), [f3, f2, f1]);
    let failure = &monitor.recent_failures(at(0), 1).await.unwrap()[0];
    assert_eq!(failure.error_class.as_deref(), Some("KeyError"));
    assert_eq!(failure.error_fingerprint, Some(fingerprint(Some("KeyError"), "'TX'")));
    assert!(monitor.recent_failures(at(0), 0).await.is_err());
}

pub(crate) async fn run_detail_has_tasks_messages_samples_error_and_metadata(h: Harness) {
    let store = &h.store;
    let message = "Error in curl::curl_fetch_memory(url): Timeout was reached: Operation timed out after 300001 milliseconds";
    let id =
        add(store, Spec::new("DAILY_00b_Funding_Download.py", at(0), 90, failed("simpleError", message)))
            .await;
    let (monitor, _clock) = monitor(store, at(1000));
    let detail = monitor.run_detail(id).await.unwrap();
    assert_eq!(detail.run.run_id, Some(id));
    assert_eq!(detail.run.status, Some(RunStatus::Failed));
    assert_eq!(detail.state, RunState::Failed);
    assert_eq!(detail.elapsed_ms, Some(90_000));
    assert_eq!(detail.run.host.as_deref(), Some("etl-01"));
    assert_eq!(detail.run.error_message.as_deref(), Some(message));
    assert_eq!(detail.run.error_traceback.as_deref(), Some("1: source(\"x.R\")\n2: stop(e)"));
    assert_eq!(detail.error_fingerprint, Some(fingerprint(Some("simpleError"), message)));
    let tasks: Vec<(&str, TaskStatus)> = detail.tasks.iter().map(|t| (t.name.as_str(), t.status)).collect();
    assert_eq!(tasks, [("Task 0", TaskStatus::Completed), ("Task 1", TaskStatus::Completed)]);
    let messages: Vec<&str> = detail.messages.iter().map(|m| m.message.as_str()).collect();
    assert_eq!(messages, ["working on 0", "working on 1"], "oldest first");
    assert_eq!(detail.samples.len(), 1);
    assert_eq!((detail.samples[0].rss_bytes, detail.samples[0].peak_rss_bytes), (500_000_000, 800_000_000));
    assert_eq!(detail.samples[0].at, at(90));
    assert_eq!(detail.run.peak_rss_bytes, Some(800_000_000));

    let unknown = run_id(at(5));
    let err = monitor.run_detail(unknown).await.unwrap_err();
    assert!(matches!(err, QueryError::RunNotFound { .. }), "{err}");
    assert!(err.to_string().contains(&unknown.to_string()));
}

pub(crate) async fn trends_match_statistics_computed_by_hand(h: Harness) {
    let store = &h.store;
    let script = "DAILY_04_Federal_Funding.R";
    for spec in [
        Spec::new(script, at(0), 60, End::Completed),
        Spec::new(script, at(3600), 120, End::Completed),
        Spec::new(script, at(DAY), 180, End::Completed),
        Spec::new(script, at(DAY + 3600), 30, failed("HTTPError", "HTTP 503 at 2026-03-02T07:00:00Z")),
        Spec::new(script, at(2 * DAY), 240, End::Completed),
        Spec::new(script, at(2 * DAY + 3600), 10, End::Cancelled),
        Spec::new(script, at(2 * DAY + 7200), 20, failed("HTTPError", "HTTP 502 at 2026-03-03T08:00:00Z")),
        Spec::new("DAILY_05_Update_Hex_Info_Funding.R", at(7200), 500, End::Completed),
    ] {
        add(store, spec).await;
    }
    let (monitor, _clock) = monitor(store, at(10 * DAY));
    let scope = TrendScope::Script(script.into());
    let trends = monitor.trends(&scope, t0(), at(3 * DAY)).await.unwrap();
    assert_eq!((trends.total_runs, trends.completed, trends.failed), (7, 4, 2));
    assert!((trends.failure_percent.unwrap() - 200.0 / 7.0).abs() < 1e-9);
    assert!((trends.runs_per_day - 7.0 / 3.0).abs() < 1e-9);
    let days: Vec<(&str, i64, i64, i64, Option<f64>)> = trends
        .per_day
        .iter()
        .map(|d| (d.day.as_str(), d.runs, d.completed, d.failed, d.mean_duration_ms))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-03-01", 2, 2, 0, Some(90_000.0)),
            ("2026-03-02", 2, 1, 1, Some(180_000.0)),
            ("2026-03-03", 3, 1, 1, Some(240_000.0)),
        ]
    );
    // Completed durations 60, 120, 180, 240 s.
    let d = &trends.duration;
    assert_eq!(d.count, 4);
    assert_eq!(
        (d.mean_ms, d.median_ms, d.min_ms, d.max_ms),
        (Some(150_000.0), Some(150_000.0), Some(60_000), Some(240_000))
    );
    assert!((d.stddev_ms.unwrap() - 6000_f64.sqrt() * 1000.0).abs() < 1e-6);
    assert_eq!(d.p90_ms, Some(222_000.0));
    assert_eq!(trends.runs.len(), 7);
    assert_eq!(trends.runs[0].started_at, at(2 * DAY + 7200), "newest first");
    assert_eq!(trends.runs[0].peak_rss_bytes, Some(800_000_000));
    assert_eq!(trends.common_failures.len(), 1, "503 and 502 are one group");
    assert_eq!(trends.common_failures[0].count, 2);
    assert_eq!(trends.common_failures[0].example, "HTTP 502 at 2026-03-03T08:00:00Z");
    assert!(!trends.sampled);

    let category = monitor.trends(&TrendScope::Category("DAILY".into()), t0(), at(3 * DAY)).await.unwrap();
    assert_eq!((category.total_runs, category.completed, category.duration.count), (8, 5, 5));
    assert_eq!(category.duration.max_ms, Some(500_000));
    let all = monitor.trends(&TrendScope::All, t0(), at(DAY)).await.unwrap();
    assert_eq!(all.total_runs, 3);
    // Whole days only (the per-day rollup alone), and part of one day (the runs alone).
    let midnight = t0() - Duration::hours(6);
    let whole = monitor.trends(&scope, midnight, midnight + Duration::days(3)).await.unwrap();
    assert_eq!(whole.per_day, trends.per_day);
    assert_eq!((whole.total_runs, whole.completed, whole.failed), (7, 4, 2));
    let morning = monitor.trends(&scope, t0(), at(2 * 3600)).await.unwrap();
    assert_eq!(morning.per_day.len(), 1);
    assert_eq!((morning.total_runs, morning.per_day[0].mean_duration_ms), (2, Some(90_000.0)));

    let config =
        MonitorConfig { cache_ttl: Duration::zero(), trend_sample_limit: 3, ..MonitorConfig::default() };
    let (small, _clock) = monitor_with(store, at(10 * DAY), config);
    let sampled = small.trends(&scope, t0(), at(3 * DAY)).await.unwrap();
    assert!(sampled.sampled);
    assert_eq!(sampled.total_runs, 7, "counts stay exact");
    assert_eq!(sampled.runs.len(), 3);
    // Count, mean, extremes and spread stay exact (day totals); the median and
    // p90 are the sample's, where only the 240 s run is among the latest three.
    let exact = &trends.duration;
    for (range, label) in
        [((t0(), at(3 * DAY)), "partial edge days"), ((midnight, midnight + Duration::days(3)), "whole days")]
    {
        let sampled = small.trends(&scope, range.0, range.1).await.unwrap();
        assert!(sampled.sampled, "{label}");
        let d = &sampled.duration;
        assert_eq!((d.count, d.min_ms, d.max_ms), (4, Some(60_000), Some(240_000)), "{label}");
        assert!((d.mean_ms.unwrap() - 150_000.0).abs() < 1e-6, "{label}");
        assert!((d.stddev_ms.unwrap() - exact.stddev_ms.unwrap()).abs() < 1e-6, "{label}");
        assert_eq!((d.median_ms, d.p90_ms), (Some(240_000.0), Some(240_000.0)), "{label}");
    }
    assert!(monitor.trends(&scope, at(10), at(10)).await.is_err());
}

pub(crate) async fn error_groups_fingerprint_resolve_and_reopen(h: Harness) {
    let store = &h.store;
    let file = |state: &str| format!("cannot open file '/data/bdc/{state}.csv': No such file or directory");
    let http = "503 Server Error: Service Unavailable for url: https://bdc.fcc.gov/api/public/map/downloads/listAsOfDates";
    let f1 = add(store, Spec::new("DAILY_01_BDC_Locations.R", at(0), 10, failed("simpleError", &file("CA"))))
        .await;
    let f2 =
        add(store, Spec::new("DAILY_02_Provider_Tables.R", at(3600), 10, failed("simpleError", &file("TX"))))
            .await;
    add(store, Spec::new("DAILY_00a_BDC_Download.py", at(7200), 10, failed("KeyError", "'CA'"))).await;
    add(store, Spec::new("DAILY_00a_BDC_Download.py", at(10_800), 10, failed("KeyError", "'TX'"))).await;
    add(
        store,
        Spec::new("DAILY_00a_BDC_Download.py", at(14_400), 10, failed("requests.exceptions.HTTPError", http)),
    )
    .await;
    let (monitor, clock) = monitor(store, at(20_000));
    let window =
        ErrorGroupFilter { from: at(-DAY), to: None, script: None, search: None, include_resolved: false };

    let groups = monitor.error_groups(&window).await.unwrap();
    let counts: Vec<usize> = groups.iter().map(|g| g.count).collect();
    assert_eq!(counts, [1, 2, 2], "latest first: HTTP, KeyError, file");
    let file_group = &groups[2];
    assert_eq!(file_group.fingerprint, fingerprint(Some("simpleError"), &file("NY")));
    assert_eq!(file_group.scripts, ["DAILY_01_BDC_Locations.R", "DAILY_02_Provider_Tables.R"]);
    assert_eq!((file_group.first_seen, file_group.last_seen), (at(10), at(3610)));
    assert_eq!(file_group.latest_run_id, f2);
    assert_eq!(file_group.latest_message, file("TX"));
    assert_eq!(file_group.normalized_message, "cannot open file '<v>': No such file or directory");
    assert!(file_group.open && file_group.resolution.is_none());
    assert_ne!(f1, f2);
    assert_eq!(groups[1].scripts, ["DAILY_00a_BDC_Download.py"]);
    assert_eq!(groups[0].error_class.as_deref(), Some("requests.exceptions.HTTPError"));

    let resolution =
        monitor.resolve_error_group(&file_group.fingerprint, "ana", "fixed the path").await.unwrap();
    assert_eq!((resolution.resolved_at, resolution.resolved_by.as_str()), (at(20_000), "ana"));
    let open = monitor.error_groups(&window).await.unwrap();
    assert_eq!(open.len(), 2);
    assert!(open.iter().all(|g| g.fingerprint != file_group.fingerprint));
    let all =
        monitor.error_groups(&ErrorGroupFilter { include_resolved: true, ..window.clone() }).await.unwrap();
    let resolved = all.iter().find(|g| g.fingerprint == file_group.fingerprint).unwrap();
    assert!(!resolved.open);
    assert_eq!(resolved.resolution.as_ref().map(|r| r.note.as_str()), Some("fixed the path"));

    // It happens again after the resolution: reopened, nothing written.
    add(store, Spec::new("DAILY_01_BDC_Locations.R", at(30_000), 10, failed("simpleError", &file("NY"))))
        .await;
    clock.set(at(40_000));
    let again = monitor.error_groups(&window).await.unwrap();
    let reopened = again.iter().find(|g| g.fingerprint == file_group.fingerprint).unwrap();
    assert!(reopened.open);
    assert_eq!(reopened.count, 3);
    assert_eq!(reopened.resolution.as_ref().map(|r| r.resolved_at), Some(at(20_000)));
    monitor.resolve_error_group(&file_group.fingerprint, "ben", "").await.unwrap();
    assert_eq!(monitor.error_groups(&window).await.unwrap().len(), 2);

    let searched = ErrorGroupFilter { search: Some("SERVICE unavailable".into()), ..window.clone() };
    assert_eq!(monitor.error_groups(&searched).await.unwrap().len(), 1);
    let wildcard = ErrorGroupFilter { search: Some("%".into()), include_resolved: true, ..window.clone() };
    assert!(monitor.error_groups(&wildcard).await.unwrap().is_empty());
    let script = ErrorGroupFilter { script: Some("DAILY_00a_BDC_Download.py".into()), ..window.clone() };
    assert_eq!(monitor.error_groups(&script).await.unwrap().len(), 2);

    let err = monitor.resolve_error_group("zz", "ana", "").await.unwrap_err();
    assert!(matches!(err, QueryError::InvalidArgument { field: "fingerprint", .. }), "{err}");
    let err = monitor.resolve_error_group("0123456789abcdef", "ana", "").await.unwrap_err();
    assert!(matches!(err, QueryError::UnknownFingerprint { .. }), "{err}");
    let err = monitor.resolve_error_group(&groups[0].fingerprint, " ", "").await.unwrap_err();
    assert!(matches!(err, QueryError::InvalidArgument { field: "resolved by", .. }), "{err}");
}

pub(crate) async fn cache_serves_within_ttl_and_writes_invalidate_it(h: Harness) {
    let store = &h.store;
    add(store, Spec::new("DAILY_01_BDC_Locations.R", at(0), 10, End::Completed)).await;
    let (monitor, clock) = monitor_with(store, at(1000), MonitorConfig::default());
    assert_eq!(monitor.current_status().await.unwrap().len(), 1);
    add(store, Spec::new("DAILY_02_Provider_Tables.R", at(10), 10, End::Completed)).await;
    assert_eq!(monitor.current_status().await.unwrap().len(), 1, "served from the cache");
    clock.advance(Duration::milliseconds(4_999));
    assert_eq!(monitor.current_status().await.unwrap().len(), 1, "still younger than 5 s");
    clock.advance(Duration::milliseconds(1));
    assert_eq!(monitor.current_status().await.unwrap().len(), 2, "never older than the TTL");

    // Parameters are part of the key.
    let one = |script: &str| HistoryFilter { script: Some(script.into()), ..HistoryFilter::default() };
    let a = monitor.history(&one("DAILY_01_BDC_Locations.R"), None).await.unwrap();
    let b = monitor.history(&one("DAILY_02_Provider_Tables.R"), None).await.unwrap();
    assert_eq!(
        (a.items[0].script_name.as_str(), b.items[0].script_name.as_str()),
        ("DAILY_01_BDC_Locations.R", "DAILY_02_Provider_Tables.R")
    );

    add(store, Spec::new("STATIC_04_State_Codes.R", at(20), 10, End::Completed)).await;
    assert_eq!(monitor.current_status().await.unwrap().len(), 2);
    monitor.invalidate();
    assert_eq!(monitor.current_status().await.unwrap().len(), 3, "a seen write empties the cache");

    // Writes through the monitor invalidate by themselves.
    add(store, Spec::new("STATIC_04_State_Codes.R", at(30), 10, failed("simpleError", "boom 1"))).await;
    let window =
        ErrorGroupFilter { from: t0(), to: None, script: None, search: None, include_resolved: false };
    let groups = monitor.error_groups(&window).await.unwrap();
    assert_eq!(groups.len(), 1);
    monitor.resolve_error_group(&groups[0].fingerprint, "ana", "").await.unwrap();
    assert!(monitor.error_groups(&window).await.unwrap().is_empty());

    let (uncached, _) = monitor_with(
        store,
        at(1000),
        MonitorConfig { cache_ttl: Duration::zero(), ..MonitorConfig::default() },
    );
    assert_eq!(uncached.current_status().await.unwrap().len(), 3);
    add(store, Spec::new("PREREQ_01_Install_Packages.R", at(40), 10, End::Completed)).await;
    assert_eq!(uncached.current_status().await.unwrap().len(), 4, "TTL 0 never caches");
}
