//! A small, fixed history: five scripts in four categories, completed runs on
//! earlier days, one run in progress, two failures with the same error (one
//! with a readable log file), a cancelled run and resource samples.

use chrono::{DateTime, Duration, Utc};
use tracker_core::{
    ErrorInfo, Event, ResourceSample, RunEnd, RunId, RunMeta, RunStatus, Session, TaskStatus,
};

use crate::harness::{Harness, now};

pub(crate) const RUNNING_SCRIPT: &str = "DAILY_01_BDC_Locations.R";
pub(crate) const FAILING_SCRIPT: &str = "DAILY_02_Provider_Summary.py";

/// Ids of the runs tests look at.
pub(crate) struct Seeded {
    pub(crate) running: RunId,
    pub(crate) running_session: Session,
    pub(crate) failed_today: RunId,
    pub(crate) failed_earlier: RunId,
    pub(crate) log_path: String,
}

struct Builder {
    events: Vec<Event>,
    next: u8,
}

impl Builder {
    fn start(
        &mut self,
        script: &str,
        at: DateTime<Utc>,
        total_tasks: Option<u32>,
        log_path: Option<String>,
    ) -> Session {
        self.next += 1;
        let run_id = RunId::from_parts(at.timestamp_millis() as u64, [self.next; 10]);
        let meta = RunMeta {
            script_name: script.into(),
            total_tasks,
            host: Some("etl-01".into()),
            pid: Some(4242),
            os_user: Some("etl".into()),
            language: Some(if script.contains(".py") { "python" } else { "R" }.into()),
            log_path,
            ..RunMeta::default()
        };
        let (session, event) = Session::start(run_id, meta, at).unwrap();
        self.events.push(event);
        session
    }

    fn task(&mut self, session: &mut Session, name: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.events.push(session.enter_task(name, from).unwrap());
        self.events.push(session.exit_task(TaskStatus::Completed, to).unwrap());
    }

    fn sample(&mut self, session: &mut Session, at: DateTime<Utc>, mib: u64, cpu: f64) {
        let sample = ResourceSample {
            rss_bytes: mib * 1024 * 1024,
            peak_rss_bytes: mib * 1024 * 1024,
            cpu_seconds: cpu,
            read_bytes: 10 * 1024 * 1024,
            write_bytes: 2 * 1024 * 1024,
        };
        self.events.push(session.sample(sample, at).unwrap());
    }

    fn complete(&mut self, session: &mut Session, at: DateTime<Utc>) {
        let end = RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None };
        self.events.extend(session.finish(end, at).unwrap());
    }

    fn completed_run(&mut self, script: &str, at: DateTime<Utc>, minutes: i64, mib: u64) {
        let mut s = self.start(script, at, Some(3), None);
        let end = at + Duration::minutes(minutes);
        let third = Duration::minutes(minutes) / 3;
        self.task(&mut s, "Load inputs", at, at + third);
        self.task(&mut s, "Transform", at + third, at + third * 2);
        self.sample(&mut s, at + third * 2, mib, (minutes * 50) as f64);
        self.task(&mut s, "Write outputs", at + third * 2, end);
        self.complete(&mut s, end);
    }
}

fn error(day: &str) -> ErrorInfo {
    ErrorInfo {
        message: format!("cannot open file '/data/providers/{day}.csv': No such file or directory"),
        class: Some("FileNotFoundError".into()),
        traceback: Some(format!(
            "Traceback (most recent call last):\n  File \"DAILY_02_Provider_Summary.py\", line 12, in <module>\n    open('/data/providers/{day}.csv')"
        )),
    }
}

pub(crate) async fn seed(harness: &Harness) -> Seeded {
    let now = now();
    let today = now - Duration::hours(12); // 00:00
    let mut b = Builder { events: Vec::new(), next: 0 };
    for day in 1..=5 {
        b.completed_run(
            RUNNING_SCRIPT,
            today - Duration::days(day) + Duration::hours(6),
            9 + day,
            200 + day as u64 * 10,
        );
    }
    b.completed_run(FAILING_SCRIPT, today - Duration::days(1) + Duration::hours(7), 8, 150);
    b.completed_run("PREREQ_00_Setup.sh", today + Duration::hours(5), 1, 20);

    // Failed today, with a log file the server can read.
    let log_path = harness.dir.join("DAILY_02.log");
    std::fs::write(
        &log_path,
        "INFO starting\nINFO reading providers\nERROR reading /data/providers/2026-03-31.csv failed\n",
    )
    .unwrap();
    let log_path = log_path.display().to_string();
    let at = today + Duration::hours(7);
    let mut failing = b.start(FAILING_SCRIPT, at, Some(2), Some(log_path.clone()));
    b.events.push(failing.enter_task("Read providers", at).unwrap());
    b.events.extend(failing.fail(error("2026-03-31"), Some(1), at + Duration::minutes(2)).unwrap());
    let failed_today = failing.run_id();

    // The same error two days ago in another script.
    let at = today - Duration::days(2) + Duration::hours(3);
    let mut other = b.start("ANNUAL_DEC_01_Broadband.R", at, None, None);
    b.events.extend(other.fail(error("2026-03-29"), Some(1), at + Duration::minutes(4)).unwrap());
    let failed_earlier = other.run_id();

    // Cancelled three days ago.
    let at = today - Duration::days(3) + Duration::hours(9);
    let mut cancelled = b.start("STATIC_01_Boundaries.R", at, Some(5), None);
    b.task(&mut cancelled, "Download shapes", at, at + Duration::minutes(3));
    let end = RunEnd { status: RunStatus::Cancelled, exit_code: None, signal: Some(15), error: None };
    b.events.extend(cancelled.finish(end, at + Duration::minutes(4)).unwrap());

    // Running now: task 2 of 4, 30 of 50 items.
    let at = now - Duration::minutes(5);
    let mut running = b.start(RUNNING_SCRIPT, at, Some(4), None);
    b.task(&mut running, "Load states", at, at + Duration::minutes(1));
    b.events.push(running.enter_task("Geocode addresses", at + Duration::minutes(1)).unwrap());
    b.events.push(running.message("Geocoding CA", at + Duration::minutes(2)).unwrap());
    b.events.push(running.progress(30, 50, now - Duration::seconds(10)).unwrap());
    b.sample(&mut running, now - Duration::seconds(10), 180, 95.0);
    let running_id = running.run_id();

    harness.store.append(b.events).await.expect("seed appends");
    Seeded { running: running_id, running_session: running, failed_today, failed_earlier, log_path }
}
