//! The cases; see main.rs.

use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use chrono::Duration;
use futures_util::StreamExt;
use monitor_web::Auth;
use tower::ServiceExt;
use tracker_core::{RunEnd, RunStatus, StatusUpdate, TaskStatus};

use crate::harness::{CSRF, Harness, get, now, send};
use crate::seed::{FAILING_SCRIPT, RUNNING_SCRIPT, seed};

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

pub(crate) async fn status_page_groups_scripts_with_badges_progress_and_summary(h: Harness) {
    let h = h.migrated().await;
    let seeded = seed(&h).await;
    let reply = get(&h.app(), "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    for category in ["ANNUAL_DEC", "DAILY", "PREREQ", "STATIC"] {
        assert!(html.contains(&format!("id=\"cat-{category}\"")), "category {category} missing");
    }
    assert!(html.contains(&format!("data-script=\"{RUNNING_SCRIPT}\" data-state=\"running\"")));
    assert!(html.contains(&format!("data-script=\"{FAILING_SCRIPT}\" data-state=\"failed\"")));
    assert!(html.contains("data-script=\"STATIC_01_Boundaries.R\" data-state=\"cancelled\""));
    assert!(html.contains("<progress value=\"1\" max=\"4\""), "task progress 1 of 4");
    assert!(html.contains("current task 30 of 50"), "sub-progress");
    assert!(html.contains("Geocode addresses"));
    assert!(html.contains("FileNotFoundError: cannot open file"));
    assert!(html.contains("data-stat=\"running\">1<"));
    assert!(html.contains("data-stat=\"failed_today\">1<"));
    assert!(html.contains("data-stat=\"completed_today\">1<"));
    assert!(html.contains(&format!("id=\"live-{}\"", seeded.running)), "expandable live detail");
    assert!(html.contains(&format!("href=\"/runs/{}#samples-h\">its resource samples</a>", seeded.running)));
    assert!(html.contains("data-live=\"/events/status\""));
    let jump = &html[html.find("Jump to:").unwrap()..html.find("</nav>\n\n").unwrap_or(html.len())];
    let order: Vec<usize> = [
        "#script-ANNUAL_DEC_01_Broadband.R",
        "#script-DAILY_02_Provider_Summary.py",
        "#script-DAILY_01_BDC_Locations.R",
    ]
    .iter()
    .map(|anchor| jump.find(anchor).unwrap_or_else(|| panic!("{anchor} in {jump}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "failed scripts before running ones: {jump}");
    insta::assert_snapshot!("status_page", html);
}

pub(crate) async fn empty_store_explains_how_to_track_a_script(h: Harness) {
    let h = h.migrated().await;
    let html = get(&h.app(), "/").await.text();
    assert!(html.contains("No runs yet"));
    assert!(html.contains("pipetrack run -- Rscript DAILY_01_BDC_Locations.R"));
    assert!(html.contains("pipetrack demo"));
    let history = get(&h.app(), "/history").await.text();
    assert!(history.contains("No runs match these filters"));
    let errors = get(&h.app(), "/errors").await.text();
    assert!(errors.contains("No open errors in this range"));
    let trends = get(&h.app(), "/trends").await.text();
    assert!(trends.contains("No completed runs in this range"));
}

pub(crate) async fn status_page_badges_expected_scripts_that_never_ran(h: Harness) {
    let h = h.migrated().await;
    let scripts = h.dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    for file in ["DAILY_99_New_Feed.R", "STATIC_09_Lookup.py", "notes.R", "DAILY_98_readme.md"] {
        std::fs::write(scripts.join(file), "").unwrap();
    }
    let expected = monitor_queries::scripts_in_dir(&scripts).unwrap();
    assert_eq!(expected, ["DAILY_99_New_Feed.R", "STATIC_09_Lookup.py"]);
    let h = h.expecting(expected);
    seed(&h).await;
    let html = get(&h.app(), "/").await.text();
    assert_eq!(count(&html, "<span class=\"badge b-never_run\">never run</span>"), 2);
    assert!(html.contains("<span class=\"script-name\">DAILY_99_New_Feed.R</span>"), "no link to a run");
    assert!(html.contains("<dt>Last run</dt><dd>never</dd>"));
    assert!(!html.contains("No runs yet"));
    let json = get(&h.app(), "/api/v1/status").await.json();
    let never: Vec<&str> = json["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "never_run" && s["latest"].is_null())
        .map(|s| s["script_name"].as_str().unwrap())
        .collect();
    assert_eq!(never, ["DAILY_99_New_Feed.R", "STATIC_09_Lookup.py"]);
    assert_eq!(json["scripts"].as_array().unwrap().len(), 7);
}

pub(crate) async fn api_status_gives_the_read_models_answers(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let reply = get(&h.app(), "/api/v1/status").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "application/json");
    let json = reply.json();
    let expected = serde_json::to_value(h.monitor.current_status().await.unwrap()).unwrap();
    assert_eq!(json["scripts"], expected, "the API serves monitor-queries' answer unchanged");
    assert_eq!(json["scripts"].as_array().unwrap().len(), 5);
    assert_eq!(json["summary"]["running"], 1);
    assert_eq!(json["summary"]["failed_today"], 1);
    let running = get(&h.app(), "/api/v1/running").await.json();
    assert_eq!(running, serde_json::to_value(h.monitor.running().await.unwrap()).unwrap());
    let health = get(&h.app(), "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let index = get(&h.app(), "/api/v1").await.json();
    assert!(index["endpoints"]["GET /api/v1/history"].is_string());
}

pub(crate) async fn run_page_shows_tasks_pending_messages_and_samples(h: Harness) {
    let h = h.migrated().await;
    let seeded = seed(&h).await;
    let reply = get(&h.app(), &format!("/runs/{}", seeded.running)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(html.contains("class=\"task t-done depth-0\""), "Load states is done");
    assert!(html.contains("class=\"task t-current depth-0\""), "Geocode addresses is current");
    assert_eq!(count(&html, "class=\"task t-pending\""), 2, "tasks 3 and 4 pending");
    assert!(html.contains("Task 4 of 4"));
    assert!(html.contains("Geocoding CA"));
    assert!(html.contains("180 MiB"), "resource sample");
    assert!(html.contains(&format!("data-live=\"/events/runs/{}\"", seeded.running)));
    let api = get(&h.app(), &format!("/api/v1/runs/{}", seeded.running)).await.json();
    assert_eq!(api["state"], "running");
    assert_eq!(api["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(api["samples"].as_array().unwrap().len(), 1);
    insta::assert_snapshot!("running_run_page", html.replace(&seeded.running.to_string(), "RUN_ID"));
}

pub(crate) async fn failed_run_shows_error_traceback_and_log(h: Harness) {
    let h = h.migrated().await;
    let seeded = seed(&h).await;
    let html = get(&h.app(), &format!("/runs/{}", seeded.failed_today)).await.text();
    assert!(html.contains("<strong>FileNotFoundError</strong>: cannot open file"));
    assert!(html.contains("Traceback (most recent call last):"));
    assert!(html.contains(&seeded.log_path), "log path shown");
    assert!(
        html.contains("ERROR reading /data/providers/2026-03-31.csv failed"),
        "log tail shown in the page"
    );
    let log = get(&h.app(), &format!("/runs/{}/log", seeded.failed_today)).await;
    assert_eq!(log.status, StatusCode::OK);
    assert_eq!(log.header(header::CONTENT_TYPE), "text/plain; charset=utf-8");
    assert!(log.text().starts_with("INFO starting\n"));
    let no_log = get(&h.app(), &format!("/runs/{}/log", seeded.failed_earlier)).await;
    assert_eq!(no_log.status, StatusCode::NOT_FOUND);
    assert!(no_log.text().contains("no log file"));
    let html = html.replace(&seeded.log_path, "LOG_PATH");
    insta::assert_snapshot!("failed_run_page", html);
}

pub(crate) async fn history_filters_sorts_and_pages_with_keyset_cursors(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let app = h.app();
    let mut durations = Vec::new();
    let mut uri = "/api/v1/history?category=DAILY&status=completed&sort=duration&dir=asc&limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = get(&app, &uri).await.json();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["category"], "DAILY");
            assert_eq!(item["status"], "completed");
            durations.push(item["duration_ms"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                uri = format!(
                    "/api/v1/history?category=DAILY&status=completed&sort=duration&dir=asc&limit=3&cursor={cursor}"
                );
            }
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(durations, vec![8, 10, 11, 12, 13, 14].into_iter().map(|m| m * 60_000).collect::<Vec<_>>());
    let search = get(&app, "/api/v1/history?q=providers").await.json();
    let scripts: Vec<&str> =
        search["items"].as_array().unwrap().iter().map(|i| i["script_name"].as_str().unwrap()).collect();
    assert_eq!(scripts, vec![FAILING_SCRIPT, "ANNUAL_DEC_01_Broadband.R"]);
    let old = get(&app, "/api/v1/history?from=2026-01-01&to=2026-01-31").await.json();
    assert!(old["items"].as_array().unwrap().is_empty());
}

pub(crate) async fn history_page_renders_rows_sort_links_and_export_link(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let html = get(&h.app(), "/history?category=DAILY&sort=name&dir=asc&limit=4").await.text();
    assert_eq!(count(&html, "<tr>\n    <td><a href=\"/runs/"), 4, "one page of four rows");
    assert!(html.contains("aria-sort=\"ascending\""));
    assert!(
        html.contains("href=\"/history?category=DAILY&#38;sort=name&#38;dir=desc&#38;limit=4\""),
        "flip link: {}",
        &html[html.find("<thead>").unwrap()..html.find("</thead>").unwrap()]
    );
    assert!(html.contains("rel=\"next\""));
    assert!(
        html.contains(
            "href=\"/history.csv?from=2026-03-01T12%3A00%3A00.000Z&#38;to=2026-03-31T12%3A00%3A00.001Z&#38;category=DAILY&#38;sort=name&#38;dir=asc\""
        ),
        "export keeps the filter and pins the range"
    );
    assert!(html.contains("<option selected>DAILY</option>"));
    for sort in ["name", "started", "ended", "duration", "status", "error"] {
        assert!(html.contains(&format!("sort={sort}&#38;")), "{sort} is a sort link");
    }
    let by_end = get(&h.app(), "/history?sort=ended&limit=2").await.text();
    assert!(by_end.contains("sorted by end time descending"));
    let by_error = get(&h.app(), "/api/v1/history?sort=error&status=failed").await.json();
    let errors: Vec<&str> =
        by_error["items"].as_array().unwrap().iter().map(|i| i["error_message"].as_str().unwrap()).collect();
    let mut sorted = errors.clone();
    sorted.sort_unstable();
    assert!(!errors.is_empty());
    assert_eq!(errors, sorted, "failed runs by error message, ascending");
    insta::assert_snapshot!("history_page", html);
}

pub(crate) async fn csv_export_streams_every_page_of_exactly_the_filter(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    // The harness reads two runs per query, so seven runs take four pages.
    let reply = get(&h.app(), "/history.csv?status=completed&sort=started&dir=asc").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    assert!(
        reply.header(header::CONTENT_DISPOSITION).starts_with("attachment; filename=\"pipetrack-history-")
    );
    let mut reader = csv::Reader::from_reader(reply.body.as_slice());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers[..4], ["run_id", "script", "category", "status"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|r| &r[3] == "completed"));
    let starts: Vec<&str> = rows.iter().map(|r| r.get(5).unwrap()).collect();
    let mut sorted = starts.clone();
    sorted.sort_unstable();
    assert_eq!(starts, sorted, "export keeps the filter's order");
    let api_total: usize = {
        let page = get(&h.app(), "/api/v1/history?status=completed&limit=1000").await.json();
        page["items"].as_array().unwrap().len()
    };
    assert_eq!(rows.len(), api_total, "the export has exactly the runs the filter shows");
    // Error messages with commas, quotes and newlines survive the round trip.
    let failed = get(&h.app(), "/history.csv?status=failed").await;
    let mut reader = csv::Reader::from_reader(failed.body.as_slice());
    let first = reader.records().next().unwrap().unwrap();
    assert_eq!(&first[12], "cannot open file '/data/providers/2026-03-31.csv': No such file or directory");
}

pub(crate) async fn bad_parameters_give_400_with_a_message(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let app = h.app();
    let page = get(&app, "/history?from=yesterday").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text().contains("is not a date: use YYYY-MM-DD"), "{}", page.text());
    assert!(page.text().contains("<h1>Bad request</h1>"));
    let api = get(&app, "/api/v1/history?status=bogus").await;
    assert_eq!(api.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.json()["status"], 400);
    assert!(api.json()["error"].as_str().unwrap().contains("running, completed, failed, cancelled or lost"));
    assert_eq!(get(&app, "/api/v1/history?cursor=garbage").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/runs/not-a-run").await.status, StatusCode::BAD_REQUEST);
    let unknown = get(&app, "/api/v1/runs/0195f3a0-0000-7000-8000-000000000000").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/trends?from=2026-03-10&to=2026-03-01").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/trends/charts/pie.svg").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/trends/charts/duration.gif").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/nowhere").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/api/v1/nowhere").await.json()["status"], 404);
}

pub(crate) async fn trends_page_draws_four_charts_and_statistics(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let html = get(&h.app(), &format!("/trends?script={RUNNING_SCRIPT}")).await.text();
    assert_eq!(count(&html, "<svg "), 4);
    assert!(html.contains("role=\"img\""));
    assert!(html.contains("Duration (minutes)") && html.contains("Start date (UTC)"));
    assert!(html.contains("Peak memory (MiB)") && html.contains("CPU time (seconds)"));
    assert!(
        html.contains("<title>DAILY_01_BDC_Locations.R · 2026-03-26 06:00 UTC · 14m00s</title>"),
        "hover title"
    );
    // 6 runs (5 completed + 1 running): mean of 10..14 min is 12 min.
    assert!(html.contains("<td class=\"num\">6</td><td class=\"num\">5</td><td class=\"num\">0</td><td class=\"num\">0.0%</td><td class=\"num\">12m00s</td>"), "{}", &html[html.find("<tbody><tr>").unwrap()..][..400]);
    let all = get(&h.app(), "/trends").await.text();
    assert!(all.contains("2 × FileNotFoundError: cannot open file"), "most common failures");
    assert!(!html.contains("class=\"sampled\""), "six runs are not a sample");
    insta::assert_snapshot!("trends_page", html);
    // More runs than the trend reads: the page says which figures are sampled.
    let config = monitor_queries::MonitorConfig {
        cache_ttl: chrono::Duration::zero(),
        trend_sample_limit: 3,
        ..Default::default()
    };
    let monitor = monitor_queries::Monitor::new(h.store.clone(), config)
        .with_clock(std::sync::Arc::new(h.clock.clone()));
    let app = monitor_web::router(monitor_web::AppState::new(monitor, Auth::none()));
    let sampled = get(&app, &format!("/trends?script={RUNNING_SCRIPT}")).await.text();
    assert!(
        sampled.contains("the median, the 90th percentile and the most common failures use the latest 3; the other statistics cover every run"),
        "{}",
        &sampled[sampled.find("<main").unwrap()..][..1500]
    );
    // The average is still over all five completed runs (10..14 min).
    assert!(sampled.contains("<td class=\"num\">6</td><td class=\"num\">5</td><td class=\"num\">0</td><td class=\"num\">0.0%</td><td class=\"num\">12m00s</td>"));
    let api = get(&h.app(), "/api/v1/trends?category=DAILY").await.json();
    assert_eq!(api["scope"], serde_json::json!({"kind": "category", "name": "DAILY"}));
    assert_eq!(api["failed"], 1);
}

pub(crate) async fn charts_download_as_svg_and_png(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let svg = get(&h.app(), "/trends/charts/outcomes.svg?category=DAILY").await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(svg.header(header::CONTENT_TYPE), "image/svg+xml");
    assert!(svg.header(header::CONTENT_DISPOSITION).contains("pipetrack-outcomes-"));
    let text = svg.text();
    assert!(text.starts_with("<?xml"));
    assert!(text.contains("2026-03-31: 2 runs, 0 completed, 1 failed, 1 other"), "bar hover title");
    let png = get(&h.app(), "/trends/charts/duration.png").await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.header(header::CONTENT_TYPE), "image/png");
    assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png.body[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png.body[20..24].try_into().unwrap());
    assert_eq!((width, height), (1520, 720), "twice the SVG's size");
}

async fn open_groups(h: &Harness) -> Vec<serde_json::Value> {
    get(&h.app(), "/api/v1/errors").await.json().as_array().unwrap().clone()
}

pub(crate) async fn errors_group_resolve_with_csrf_and_reopen_on_recurrence(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let groups = open_groups(&h).await;
    assert_eq!(groups.len(), 1, "both failures share one fingerprint");
    assert_eq!(groups[0]["count"], 2);
    assert_eq!(groups[0]["scripts"], serde_json::json!(["ANNUAL_DEC_01_Broadband.R", FAILING_SCRIPT]));
    let fingerprint = groups[0]["fingerprint"].as_str().unwrap().to_owned();
    let html = get(&h.app(), "/errors").await.text();
    assert!(html.contains(&format!("action=\"/errors/{fingerprint}/resolve\"")));
    assert!(html.contains(&format!("name=\"csrf\" value=\"{CSRF}\"")));
    insta::assert_snapshot!("errors_page", html.replace(&fingerprint, "FINGERPRINT"));

    let form = |body: &str| {
        let body = body.to_owned();
        let app = h.app();
        let uri = format!("/errors/{fingerprint}/resolve");
        async move {
            send(
                &app,
                Method::POST,
                &uri,
                &[("content-type", "application/x-www-form-urlencoded")],
                Body::from(body),
            )
            .await
        }
    };
    let missing = form("note=fixed+the+path").await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.text().contains("CSRF token missing or wrong"));
    assert_eq!(form("csrf=bbbb&note=x").await.status, StatusCode::FORBIDDEN);
    assert_eq!(form(&format!("csrf={CSRF}&note=")).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(open_groups(&h).await.len(), 1, "refused writes changed nothing");

    let done = form(&format!("csrf={CSRF}&note=fixed+the+input+path")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header(header::LOCATION), format!("/errors?done={fingerprint}"));
    assert!(open_groups(&h).await.is_empty());
    let after = get(&h.app(), &format!("/errors?resolved=1&done={fingerprint}")).await.text();
    assert!(after.contains("is marked resolved"));
    assert!(after.contains("by localhost: fixed the input path"));

    // The same error again: the group reopens.
    h.clock.advance(Duration::minutes(30));
    let mut again = tracker_core::Session::start(
        tracker_core::RunId::from_parts(now().timestamp_millis() as u64 + 1, [99; 10]),
        tracker_core::RunMeta { script_name: FAILING_SCRIPT.into(), ..Default::default() },
        now() + Duration::minutes(20),
    )
    .unwrap();
    let mut events = vec![again.1];
    events.extend(
        again
            .0
            .fail(
                tracker_core::ErrorInfo {
                    message: "cannot open file '/data/providers/2026-04-01.csv': No such file or directory"
                        .into(),
                    class: Some("FileNotFoundError".into()),
                    traceback: None,
                },
                Some(1),
                now() + Duration::minutes(21),
            )
            .unwrap(),
    );
    h.store.append(events).await.unwrap();
    let reopened = open_groups(&h).await;
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0]["open"], true);
    assert_eq!(reopened[0]["resolution"]["note"], "fixed the input path");
}

pub(crate) async fn error_drill_down_lists_the_groups_runs(h: Harness) {
    let h = h.migrated().await;
    let seeded = seed(&h).await;
    let fingerprint = open_groups(&h).await[0]["fingerprint"].as_str().unwrap().to_owned();
    let html = get(&h.app(), &format!("/errors/{fingerprint}")).await.text();
    assert!(html.contains(&format!("href=\"/runs/{}\"", seeded.failed_today)));
    assert!(html.contains(&format!("href=\"/runs/{}\"", seeded.failed_earlier)));
    assert!(html.contains(&format!("href=\"/runs/{}/log\"", seeded.failed_today)));
    assert_eq!(count(&html, "<tr><td><a href=\"/runs/"), 2);
    assert_eq!(get(&h.app(), "/errors/not-a-fingerprint").await.status, StatusCode::BAD_REQUEST);
    let api =
        get(&h.app(), &format!("/api/v1/history?fingerprint={fingerprint}&from=2026-01-01")).await.json();
    let runs: Vec<&str> =
        api["items"].as_array().unwrap().iter().map(|i| i["run_id"].as_str().unwrap()).collect();
    assert_eq!(runs, [seeded.failed_today.to_string(), seeded.failed_earlier.to_string()]);
    assert!(api["items"].as_array().unwrap().iter().all(|i| i["error_fingerprint"] == fingerprint.as_str()));
    let bad = get(&h.app(), "/api/v1/history?fingerprint=XYZ").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("16 hex digits"));
}

pub(crate) async fn token_auth_protects_pages_api_and_writes(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let token = "0123456789abcdef-dashboard";
    let app = h.app_with(Auth::token(token).unwrap());
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header(header::LOCATION), "/login");
    assert_eq!(get(&app, "/api/v1/status").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "/events/status").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK, "health checks need no credentials");
    assert_eq!(get(&app, "/login").await.status, StatusCode::OK);
    let bearer = format!("Bearer {token}");
    let ok = send(&app, Method::GET, "/", &[("authorization", &bearer)], Body::empty()).await;
    assert_eq!(ok.status, StatusCode::OK);

    let login = |body: String| {
        let app = app.clone();
        async move {
            send(
                &app,
                Method::POST,
                "/login",
                &[("content-type", "application/x-www-form-urlencoded")],
                Body::from(body),
            )
            .await
        }
    };
    assert_eq!(login(format!("csrf={CSRF}&token=wrong")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(format!("token={token}")).await.status,
        StatusCode::FORBIDDEN,
        "login form needs its CSRF token"
    );
    let signed_in = login(format!("csrf={CSRF}&token={token}")).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let cookie = signed_in.header(header::SET_COOKIE);
    assert!(
        cookie.starts_with("pipetrack_token=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
    );
    let with_cookie = h
        .app_with(Auth::token(token).unwrap())
        .oneshot(
            axum::http::Request::get("/history")
                .header("cookie", format!("pipetrack_token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), StatusCode::OK);

    // An API client with the bearer token needs no CSRF token; without it, it needs one.
    let fingerprint = {
        let reply =
            send(&app, Method::GET, "/api/v1/errors", &[("authorization", &bearer)], Body::empty()).await;
        reply.json()[0]["fingerprint"].as_str().unwrap().to_owned()
    };
    let uri = format!("/api/v1/errors/{fingerprint}/resolve");
    let json = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let resolved =
        send(&app, Method::POST, &uri, &json, Body::from(r#"{"note":"rotated the credentials"}"#)).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text());
    assert_eq!(resolved.json()["resolved_by"], "token");
    let local = h.app();
    let no_csrf = send(
        &local,
        Method::POST,
        &uri,
        &[("content-type", "application/json")],
        Body::from(r#"{"note":"x"}"#),
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let with_csrf = send(
        &local,
        Method::POST,
        &uri,
        &[("content-type", "application/json"), ("x-csrf-token", CSRF)],
        Body::from(r#"{"note":"again"}"#),
    )
    .await;
    assert_eq!(with_csrf.status, StatusCode::OK);
}

pub(crate) async fn basic_auth_challenges_and_names_the_resolver(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let app = h.app_with(Auth::basic("ops", "correct horse").unwrap());
    let challenge = get(&app, "/").await;
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    assert!(challenge.header(header::WWW_AUTHENTICATE).starts_with("Basic realm="));
    let wrong = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ops:wrong horse"));
    assert_eq!(
        send(&app, Method::GET, "/", &[("authorization", &wrong)], Body::empty()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let right = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ops:correct horse"));
    assert_eq!(
        send(&app, Method::GET, "/", &[("authorization", &right)], Body::empty()).await.status,
        StatusCode::OK
    );
    let fingerprint = h
        .monitor
        .error_groups(&monitor_queries::ErrorGroupFilter {
            from: now() - Duration::days(30),
            to: None,
            script: None,
            search: None,
            include_resolved: false,
        })
        .await
        .unwrap()[0]
        .fingerprint
        .clone();
    let resolved = send(
        &app,
        Method::POST,
        &format!("/errors/{fingerprint}/resolve"),
        &[("authorization", &right), ("content-type", "application/x-www-form-urlencoded")],
        Body::from(format!("csrf={CSRF}&note=done")),
    )
    .await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER);
    let groups =
        send(&app, Method::GET, "/api/v1/errors?resolved=1", &[("authorization", &right)], Body::empty())
            .await;
    assert_eq!(groups.json()[0]["resolution"]["resolved_by"], "ops");
}

pub(crate) async fn unmigrated_store_shows_a_banner_not_a_stack_trace(h: Harness) {
    let app = h.app();
    for uri in ["/", "/history", "/trends", "/errors"] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        let html = reply.text();
        assert!(
            html.contains("class=\"banner\" role=\"alert\">The store could not be read:"),
            "{uri}: {html}"
        );
        assert!(!html.contains("panicked") && !html.contains("backtrace") && !html.contains(".rs:"), "{uri}");
        assert!(html.contains("data-retry=\"10\""), "{uri}: the page tries again by itself");
        assert!(html.contains("tries again by itself every 10 seconds"), "{uri}");
    }
    let api = get(&app, "/api/v1/status").await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.json()["error"].is_string());
    let health = get(&app, "/healthz").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(health.json()["error"].as_str().unwrap().contains("pipetrack migrate"));
}

/// Reads server-sent events until one whose data contains `needle` (or panics after 10 s).
async fn wait_for_event(
    body: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    needle: &str,
) -> String {
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains(needle) {
                return event;
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("no event with {needle:?} within 10 s"))
            .expect("stream ended")
            .unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

pub(crate) async fn live_status_stream_sends_the_board_again_when_tasks_advance(h: Harness) {
    let h = h.migrated().await;
    let mut seeded = seed(&h).await;
    let response = h
        .app()
        .oneshot(axum::http::Request::get("/events/status").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let first = wait_for_event(&mut body, "event: update").await;
    assert!(first.contains("Geocode addresses"));

    let at = now() + Duration::seconds(5);
    h.clock.set(at);
    let session = &mut seeded.running_session;
    let events = vec![
        session.exit_task(TaskStatus::Completed, at).unwrap(),
        session.enter_task("Write tables", at).unwrap(),
        session
            .update(StatusUpdate { message: Some("Writing 12 tables".into()), ..Default::default() }, at)
            .unwrap(),
    ];
    h.store.append(events).await.unwrap();
    let next = wait_for_event(&mut body, "Write tables").await;
    assert!(next.contains("event: update"));
    assert!(
        next.contains("data: ") && next.contains("<progress value=\"2\" max=\"4\""),
        "progress advanced to 2 of 4"
    );
    assert!(next.contains("Writing 12 tables"));
}

pub(crate) async fn live_run_stream_ends_with_done_when_the_run_finishes(h: Harness) {
    let h = h.migrated().await;
    let mut seeded = seed(&h).await;
    let uri = format!("/events/runs/{}", seeded.running);
    let response =
        h.app().oneshot(axum::http::Request::get(uri.as_str()).body(Body::empty()).unwrap()).await.unwrap();
    let mut body = response.into_body().into_data_stream();
    wait_for_event(&mut body, "event: update").await;
    let at = now() + Duration::seconds(5);
    h.clock.set(at);
    let end = RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None };
    h.store.append(seeded.running_session.finish(end, at).unwrap()).await.unwrap();
    let done = wait_for_event(&mut body, "event: done").await;
    assert!(done.contains("b-completed"));
    let rest =
        tokio::time::timeout(StdDuration::from_secs(5), body.next()).await.expect("stream ends after done");
    assert!(rest.is_none(), "no more events after done");
}

/// Adds a stalled run (alive, but no progress for 3 h: no history, so stalled
/// after the default hour) and a lost run (no heartbeat for 10 min) to the seed.
async fn seed_stalled_and_lost(h: &Harness) {
    let mut events = Vec::new();
    let start = |script: &str, at, n: u8| {
        let meta = tracker_core::RunMeta {
            script_name: script.into(),
            total_tasks: Some(3),
            host: Some("etl-02".into()),
            ..Default::default()
        };
        tracker_core::Session::start(
            tracker_core::RunId::from_parts(
                chrono::DateTime::<chrono::Utc>::timestamp_millis(&at) as u64,
                [n; 10],
            ),
            meta,
            at,
        )
        .unwrap()
    };
    let at = now() - Duration::hours(3);
    let (mut stalled, first) = start("PERIODIC_01_Stuck_Export.R", at, 201);
    events.push(first);
    events.push(stalled.enter_task("Export tables", at + Duration::minutes(1)).unwrap());
    events.push(stalled.message("Waiting for a lock on funding", at + Duration::minutes(2)).unwrap());
    events.push(stalled.heartbeat(now() - Duration::seconds(20)).unwrap());
    let at = now() - Duration::hours(1);
    let (mut lost, first) = start("STATIC_02_Gone_Away.R", at, 202);
    events.push(first);
    events.push(lost.enter_task("Download shapes", at + Duration::minutes(1)).unwrap());
    events.push(lost.heartbeat(now() - Duration::minutes(10)).unwrap());
    h.store.append(events).await.unwrap();
}

pub(crate) async fn status_page_badges_stalled_and_lost_runs(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    seed_stalled_and_lost(&h).await;
    let html = get(&h.app(), "/").await.text();
    assert!(html.contains("data-script=\"PERIODIC_01_Stuck_Export.R\" data-state=\"stalled\""));
    assert!(html.contains("data-script=\"STATIC_02_Gone_Away.R\" data-state=\"lost\""));
    assert!(html.contains("<span class=\"badge b-stalled\">stalled</span>"), "stalled badge");
    assert!(html.contains("<span class=\"badge b-lost\">lost</span>"), "lost badge");
    assert!(html.contains("data-stat=\"stalled\">1<") && html.contains("data-stat=\"lost\">1<"));
    // Stalled and lost come first in "Jump to".
    let jump = &html[html.find("Jump to:").unwrap()..];
    let stalled = jump.find("#script-PERIODIC_01_Stuck_Export.R").unwrap();
    let lost = jump.find("#script-STATIC_02_Gone_Away.R").unwrap();
    let failed = jump.find("#script-DAILY_02_Provider_Summary.py").unwrap();
    assert!(stalled < failed && lost < failed, "stalled and lost before failed");
    let api = get(&h.app(), "/api/v1/status").await.json();
    let state = |name: &str| {
        api["scripts"].as_array().unwrap().iter().find(|s| s["script_name"] == name).unwrap()["state"].clone()
    };
    assert_eq!(state("PERIODIC_01_Stuck_Export.R"), "stalled");
    assert_eq!(state("STATIC_02_Gone_Away.R"), "lost");
    insta::assert_snapshot!("status_page_stalled_lost", html);
}

pub(crate) async fn csv_export_link_pins_the_range_the_page_showed(h: Harness) {
    let h = h.migrated().await;
    seed(&h).await;
    let html = get(&h.app(), "/history?status=completed,running").await.text();
    let start = html.find("id=\"export-csv\" href=\"").unwrap() + "id=\"export-csv\" href=\"".len();
    let link = html[start..][..html[start..].find('"').unwrap()].replace("&#38;", "&");
    assert_eq!(
        link,
        "/history.csv?from=2026-03-01T12%3A00%3A00.000Z&to=2026-03-31T12%3A00%3A00.001Z&status=completed%2Crunning",
        "from resolved, to = when the page was read"
    );
    let rows = |reply: &crate::harness::Reply| -> Vec<String> {
        let mut reader = csv::Reader::from_reader(reply.body.as_slice());
        reader.records().map(|r| r.unwrap()[1].to_owned()).collect()
    };
    let shown = rows(&get(&h.app(), &link).await);
    assert_eq!(shown.len(), 8, "seven completed runs and the running one: {shown:?}");

    // A run starts after the page was read: the page's link leaves it out.
    h.clock.advance(Duration::minutes(1));
    let at = now() + Duration::seconds(30);
    let (_, started) = tracker_core::Session::start(
        tracker_core::RunId::from_parts(at.timestamp_millis() as u64, [77; 10]),
        tracker_core::RunMeta { script_name: "DAILY_03_Late_Starter.R".into(), ..Default::default() },
        at,
    )
    .unwrap();
    h.store.append(vec![started]).await.unwrap();
    let later = rows(&get(&h.app(), &link).await);
    assert_eq!(later, shown, "the export has exactly what the page showed");
    let unpinned = rows(&get(&h.app(), "/history.csv?status=completed,running").await);
    assert!(unpinned.contains(&"DAILY_03_Late_Starter.R".to_owned()), "without the pin it is there");
    // An explicit earlier `to` stays as it was.
    let html = get(&h.app(), "/history?from=2026-03-01&to=2026-03-20").await.text();
    assert!(html.contains("to=2026-03-21T00%3A00%3A00.000Z"), "an inclusive date becomes the next midnight");
}

pub(crate) async fn error_groups_show_context_hide_missing_logs_and_say_when_capped(h: Harness) {
    let h = h.migrated().await;
    let seeded = seed(&h).await;
    let html = get(&h.app(), "/errors").await.text();
    // The latest failure (today's, with a log file and a task) gives the context.
    assert!(html.contains("Failed in task <strong>Read providers</strong>"), "failing task");
    assert!(html.contains("Start of the latest traceback"));
    assert!(html.contains("<pre class=\"traceback\">Traceback (most recent call last):\n  File &#34;DAILY_02_Provider_Summary.py&#34;"));
    assert!(html.contains(&format!("href=\"/runs/{}/log\">its log</a>", seeded.failed_today)));
    assert!(!html.contains("Counts are capped"));

    // A newer failure of the same group without a log file: no log link.
    let at = now() - Duration::minutes(30);
    let (mut again, first) = tracker_core::Session::start(
        tracker_core::RunId::from_parts(at.timestamp_millis() as u64, [88; 10]),
        tracker_core::RunMeta { script_name: FAILING_SCRIPT.into(), ..Default::default() },
        at,
    )
    .unwrap();
    let mut events = vec![first];
    events.extend(
        again
            .fail(
                tracker_core::ErrorInfo {
                    message: "cannot open file '/data/providers/2026-03-30.csv': No such file or directory"
                        .into(),
                    class: Some("FileNotFoundError".into()),
                    traceback: None,
                },
                Some(1),
                at + Duration::minutes(1),
            )
            .unwrap(),
    );
    h.store.append(events).await.unwrap();
    let html = get(&h.app(), "/errors").await.text();
    assert!(html.contains(&format!("href=\"/runs/{}\">latest run</a></p>", again.run_id())), "no log link");
    assert!(!html.contains("its log"));
    assert!(!html.contains("Start of the latest traceback"), "the latest run has no traceback");

    // Only the latest 2 failures read: the page says the counts are capped.
    let config = monitor_queries::MonitorConfig {
        cache_ttl: chrono::Duration::zero(),
        error_sample_limit: 2,
        ..Default::default()
    };
    let monitor = monitor_queries::Monitor::new(h.store.clone(), config)
        .with_clock(std::sync::Arc::new(h.clock.clone()));
    let app = monitor_web::router(monitor_web::AppState::new(monitor, Auth::none()));
    let capped = get(&app, "/errors").await.text();
    assert!(capped.contains("Counts are capped: only the latest 2 failures"), "{capped}");
}
