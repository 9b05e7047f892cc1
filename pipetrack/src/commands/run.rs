//! `pipetrack run -- <command> [args…]`: tracks any command, in any language,
//! with no change to it.
//!
//! The run is created here (stream 0) and its start flushed before the command
//! starts. The command inherits `PIPETRACK_RUN_ID` (an instrumented script
//! joins this run instead of starting another), `PIPETRACK_PIPELINE_RUN_ID`
//! (shared by every script of one `make` invocation), `PIPETRACK_ERROR_FILE`
//! (where a joined script leaves its error for us to record) and
//! `PIPETRACK_LOG_PATH`. Its stdout and stderr are shown as usual and copied to
//! a log file; lines of the form `::pipetrack <verb> <args>` become task events.
//! The whole process tree is sampled for memory and CPU. The run ends as
//! completed (exit 0), failed (non-zero exit, with the last stderr lines or the
//! script's own error) or cancelled (killed by a signal), and `pipetrack run`
//! exits with the command's status (128 + signal when signalled).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracker_client::config::{self, StoreSetting};
use tracker_client::resources::TreeSampler;
use tracker_client::{ClientConfig, InitOptions, RunEnd, RunStatus, StatusFields, TaskStatus, Tracker};
use tracker_core::ErrorInfo;
use tracker_core::redact::mask_url_credentials;
use tracker_core::validate::{MAX_ERROR_MESSAGE, MAX_TRACEBACK, sanitize_line};
use uuid::Uuid;

use crate::cli::RunArgs;

/// Lines of stderr kept for the error message of a failed run.
const STDERR_TAIL: usize = 20;
/// Prefix of the line protocol.
pub(crate) const DIRECTIVE_PREFIX: &str = "::pipetrack ";

/// What the command line says about the script it runs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CommandInfo {
    pub(crate) script_name: String,
    pub(crate) script_path: Option<PathBuf>,
    pub(crate) language: &'static str,
}

/// Script name, path and language of a command: the script an interpreter runs
/// (`Rscript X.R` → `X.R`, R), else the program itself (shell).
pub(crate) fn describe_command(command: &[OsString]) -> CommandInfo {
    let program = Path::new(&command[0]);
    let program_name = program.file_name().map_or_else(|| program.to_string_lossy(), |n| n.to_string_lossy());
    let lower = program_name.to_ascii_lowercase();
    let script = tracker_client::meta::script_of_command(command);
    let language = if lower == "rscript" || lower == "r" {
        "R"
    } else if lower.starts_with("python") {
        "python"
    } else {
        match script.as_ref().and_then(|s| s.extension()).and_then(|e| e.to_str()) {
            Some("R" | "r") => "R",
            Some("py") => "python",
            _ => "shell",
        }
    };
    let script_path = script.or_else(|| Some(program.to_path_buf()));
    let script_name = script_path
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or_else(|| program_name.clone().into_owned(), |n| n.to_string_lossy().into_owned());
    CommandInfo { script_name, script_path, language }
}

/// The pipeline run id: inherited, else derived from the `make` process this
/// command runs under (host, its pid and start time), so every script of one
/// `make` invocation shares it without any Makefile change.
fn pipeline_run_id(inherited: Option<Uuid>) -> Option<Uuid> {
    if inherited.is_some() {
        return inherited;
    }
    if std::env::var_os("MAKELEVEL").is_none() && std::env::var_os("MAKEFLAGS").is_none() {
        return None;
    }
    let (pid, start) = make_ancestor()?;
    let host = tracker_client::meta::host_name().unwrap_or_default();
    Some(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("pipetrack-make:{host}:{pid}:{start}").as_bytes()))
}

/// `(pid, start time in clock ticks since boot)` of the nearest ancestor named
/// make/gmake (recipes run under `sh -c`), else of the parent.
fn make_ancestor() -> Option<(u32, u64)> {
    let stat = |pid: u32| -> Option<(String, u32, u64)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let name = text[open + 1..close].to_owned();
        let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
        // fields[0] is field 3 (state): ppid is field 4, starttime field 22.
        Some((name, fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
    };
    let parent = std::os::unix::process::parent_id();
    let mut pid = parent;
    for _ in 0..8 {
        let (name, ppid, start) = stat(pid)?;
        if name == "make" || name == "gmake" {
            return Some((pid, start));
        }
        if ppid <= 1 {
            break;
        }
        pid = ppid;
    }
    stat(parent).map(|(_, _, start)| (parent, start))
}

/// A task event written by the command as a line of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Directive {
    /// `::pipetrack task-enter NAME`
    TaskEnter(String),
    /// `::pipetrack task-exit [failed]`
    TaskExit(TaskStatus),
    /// `::pipetrack message TEXT`
    Message(String),
    /// `::pipetrack progress DONE TOTAL`
    Progress(i64, i64),
    /// `::pipetrack total N`
    Total(i64),
}

/// Parses one line of output: `None` when it is not a directive, an error
/// message when it is a malformed one.
pub(crate) fn parse_directive(line: &str) -> Option<Result<Directive, String>> {
    let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(DIRECTIVE_PREFIX)?;
    let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let args = args.trim();
    let number = |text: &str, what: &str| {
        text.parse::<i64>().map_err(|_| format!("{what} {text:?} is not a whole number"))
    };
    Some(match verb {
        "task-enter" if !args.is_empty() => Ok(Directive::TaskEnter(args.to_owned())),
        "task-enter" => Err("task-enter needs a task name".to_owned()),
        "task-exit" => match args {
            "" | "completed" => Ok(Directive::TaskExit(TaskStatus::Completed)),
            "failed" => Ok(Directive::TaskExit(TaskStatus::Failed)),
            other => Err(format!("task-exit takes nothing or `failed`, not {other:?}")),
        },
        "message" => Ok(Directive::Message(args.to_owned())),
        "progress" => {
            let mut parts = args.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(done), Some(total), None) => number(done, "done")
                    .and_then(|d| number(total, "total").map(|t| Directive::Progress(d, t))),
                _ => Err("progress takes two numbers: DONE TOTAL".to_owned()),
            }
        }
        "total" => number(args, "total").map(Directive::Total),
        other => {
            Err(format!("unknown verb {other:?} (known: task-enter, task-exit, message, progress, total)"))
        }
    })
}

fn apply(tracker: &Tracker, directive: Directive) -> Result<(), tracker_client::ClientError> {
    match directive {
        Directive::TaskEnter(name) => tracker.enter(&name),
        Directive::TaskExit(status) => tracker.exit_with(status),
        Directive::Message(text) => tracker.message(&text),
        Directive::Progress(done, total) => tracker.progress(done, total),
        Directive::Total(total) => {
            tracker.status(StatusFields { total_tasks: Some(total), ..StatusFields::default() })
        }
    }
}

#[allow(clippy::print_stderr)] // pipetrack's own notes go to stderr, next to the command's
fn note(message: &str) {
    eprintln!("pipetrack: {message}");
}

/// Where the command's output is copied: `PIPETRACK_LOG_DIR`, else `logs/` in
/// pipetrack's state directory.
fn log_dir() -> PathBuf {
    std::env::var_os("PIPETRACK_LOG_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| config::state_dir(&|name| std::env::var(name).ok()).join("logs"), PathBuf::from)
}

/// `<dir>/<script>-<UTC time>-<pid>.log` (the log path is part of the run's
/// start, so it is named before the run id exists).
fn open_log(dir: &Path, script_name: &str) -> Option<(PathBuf, std::fs::File)> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let safe: String = script_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    let path = dir.join(format!("{safe}-{stamp}-{}.log", std::process::id()));
    let opened = std::fs::create_dir_all(dir).and_then(|()| std::fs::File::create(&path));
    match opened {
        Ok(file) => Some((path, file)),
        Err(err) => {
            note(&format!(
                "cannot write the log file {} ({err}); output is shown but not kept",
                path.display()
            ));
            None
        }
    }
}

/// Copies a pipe of the command to our own stream and the log, parsing directives.
async fn pump<R, W>(
    mut from: R,
    mut to: W,
    log: Option<Arc<Mutex<std::fs::File>>>,
    tracker: Arc<Tracker>,
    tail: Option<Arc<Mutex<VecDeque<String>>>>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        // Shown at once (progress bars without newlines too), then kept.
        let _ = to.write_all(chunk).await;
        let _ = to.flush().await;
        if let Some(log) = &log {
            let _ = log.lock().unwrap_or_else(PoisonError::into_inner).write_all(chunk);
        }
        for &byte in chunk {
            if byte == b'\n' {
                handle_line(&line, &tracker, tail.as_ref());
                line.clear();
            } else if line.len() < 64 * 1024 {
                line.push(byte);
            }
        }
    }
    if !line.is_empty() {
        handle_line(&line, &tracker, tail.as_ref());
    }
}

fn handle_line(line: &[u8], tracker: &Tracker, tail: Option<&Arc<Mutex<VecDeque<String>>>>) {
    let text = String::from_utf8_lossy(line);
    if let Some(parsed) = parse_directive(&text) {
        let result = parsed.and_then(|d| apply(tracker, d).map_err(|e| e.to_string()));
        if let Err(reason) = result {
            note(&format!("ignoring the line {:?}: {reason}", text.trim_end()));
        }
        return;
    }
    if let Some(tail) = tail {
        let clean = sanitize_line(&text, 2_000);
        if !clean.is_empty() {
            let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(clean);
        }
    }
}

/// Forwards termination signals to the command. With a terminal on stdin the
/// command shares our process group, so Ctrl-C (SIGINT) and hang-ups already
/// reach it and only SIGTERM is forwarded; without one (make, cron, CI) the
/// command runs in its own group and all four are forwarded, each exactly once.
fn forward_signals(child: u32, interactive: bool) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [SignalKind::terminate(), SignalKind::interrupt(), SignalKind::hangup(), SignalKind::quit()];
    for kind in kinds {
        // Installing the handler also keeps pipetrack alive to record the end.
        let mut stream = signal(kind)?;
        let forward = !interactive || kind == SignalKind::terminate();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if forward {
                    let _ = tracker_client::resources::send_signal(child, kind.as_raw_value());
                }
            }
        });
    }
    Ok(())
}

fn error_from_tail(tail: &VecDeque<String>, code: i32) -> ErrorInfo {
    let message = tail
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| format!("the command exited with status {code}"));
    let traceback = (!tail.is_empty()).then(|| tail.iter().cloned().collect::<Vec<_>>().join("\n"));
    ErrorInfo {
        message: message.chars().take(MAX_ERROR_MESSAGE).collect(),
        class: None,
        traceback: traceback.map(|t| tracker_core::validate::truncate_keep_tail(&t, MAX_TRACEBACK)),
    }
}

/// Reads (and removes) the error a joined script left for us.
fn take_error_file(path: &Path) -> Option<ErrorInfo> {
    let bytes = std::fs::read(path).ok()?;
    let _ = std::fs::remove_file(path);
    serde_json::from_slice(&bytes).ok()
}

/// `pipetrack run`.
pub(crate) async fn run(database_url: Option<&str>, args: RunArgs) -> anyhow::Result<ExitCode> {
    let command = args.command;
    let info = describe_command(&command);
    let mut client = ClientConfig::from_env();
    if let Some(url) = database_url {
        client.store = StoreSetting::Given(crate::commands::config(Some(url))?);
    }
    // The whole process tree is sampled below; the tracker's own sampling would see only us.
    client.sample_interval = None;
    let sample_every = ClientConfig::from_env()
        .sample_interval
        .unwrap_or(Duration::from_secs(10))
        .min(Duration::from_secs(5));
    // A `pipetrack run` inside a tracked script starts a run of its own, under that one.
    let parent_run_id = client.inherited.run_id.take();
    client.inherited.error_file = None;
    let pipeline_run_id = pipeline_run_id(client.inherited.pipeline_run_id);
    let tracker = Arc::new(Tracker::new(client));

    // What comes from the command line is recorded, never refused: control
    // characters (a newline inside `sh -c '...'`) become spaces.
    let script_name = args.name.clone().unwrap_or_else(|| sanitize_line(&info.script_name, 200));
    let command_line = command.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let command_line = mask_url_credentials(&command_line).unwrap_or(command_line);
    let command_line = sanitize_line(&command_line, tracker_core::validate::MAX_METADATA);
    let mut options = InitOptions {
        script_name: Some(script_name.clone()),
        script_path: info.script_path.as_ref().filter(|p| p.exists()).map(|p| p.display().to_string()),
        category: args.category.clone(),
        total_tasks: args.tasks.map(i64::from),
        language: Some(info.language.to_owned()),
        command: Some(command_line),
        parent_run_id,
        pipeline_run_id,
        no_join: true,
        ..InitOptions::default()
    };
    let log = open_log(&args.log_dir.clone().unwrap_or_else(log_dir), &script_name);
    options.log_path = log.as_ref().map(|(path, _)| path.display().to_string());
    let run_id = tracker.init(options)?;
    // Before the command starts, so the run exists when a joining script writes to it.
    tracker.flush(Duration::from_secs(2));

    let error_file = std::env::temp_dir().join(format!("pipetrack-{run_id}.error.json"));
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .env(config::RUN_ID_VAR, run_id.to_string())
        .env(config::ERROR_FILE_VAR, &error_file)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(id) = pipeline_run_id {
        cmd.env(config::PIPELINE_RUN_ID_VAR, id.to_string());
    }
    if let Some((path, _)) = &log {
        cmd.env(config::LOG_PATH_VAR, path);
    }
    if !interactive {
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Ok(not_started(&tracker, &command[0], &err, log.as_ref().map(|(p, _)| p.as_path())));
        }
    };
    let pid = child.id().unwrap_or(0);
    if let Err(err) = forward_signals(pid, interactive) {
        note(&format!("cannot forward signals to the command ({err})"));
    }
    let log_file = log.map(|(_, file)| Arc::new(Mutex::new(file)));
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let stdout = child
        .stdout
        .take()
        .map(|out| tokio::spawn(pump(out, tokio::io::stdout(), log_file.clone(), tracker.clone(), None)));
    let stderr = child.stderr.take().map(|err| {
        tokio::spawn(pump(err, tokio::io::stderr(), log_file.clone(), tracker.clone(), Some(tail.clone())))
    });

    let sampler = Arc::new(Mutex::new(TreeSampler::new(pid)));
    let sampling = {
        let (sampler, tracker) = (sampler.clone(), tracker.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(sample_every);
            loop {
                ticks.tick().await;
                let sample = sampler.lock().unwrap_or_else(PoisonError::into_inner).sample();
                match sample {
                    Some(sample) => {
                        let _ = tracker.sample(sample);
                    }
                    None => break,
                }
            }
        })
    };

    let status = child.wait().await;
    sampling.abort();
    for pump in [stdout, stderr].into_iter().flatten() {
        let _ = pump.await;
    }
    let status = match status {
        Ok(status) => status,
        Err(err) => {
            let _ = tracker.error(&format!("lost track of the command: {err}"), Some("WaitError"), None);
            tracker.shutdown(tracker_client::ExitReason::Code(1));
            anyhow::bail!("waiting for the command failed: {err}");
        }
    };
    if let Some((cpu, max_rss)) = tracker_client::resources::children_usage() {
        let sample = sampler.lock().unwrap_or_else(PoisonError::into_inner).finish(cpu, max_rss);
        let _ = tracker.sample(sample);
    }
    let script_error = take_error_file(&error_file);
    let (end, exit) = match (status.code(), status.signal()) {
        // A script that reported its own failure (track_error) failed, whatever its exit status.
        (Some(0), _) if script_error.is_some() => {
            (RunEnd { status: RunStatus::Failed, exit_code: Some(0), signal: None, error: script_error }, 0)
        }
        (Some(0), _) => {
            (RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None }, 0)
        }
        (Some(code), _) => {
            let error = script_error.unwrap_or_else(|| {
                error_from_tail(&tail.lock().unwrap_or_else(PoisonError::into_inner), code)
            });
            (
                RunEnd { status: RunStatus::Failed, exit_code: Some(code), signal: None, error: Some(error) },
                code,
            )
        }
        (None, Some(signal)) => (
            RunEnd {
                status: RunStatus::Cancelled,
                exit_code: None,
                signal: Some(signal),
                error: script_error,
            },
            128 + signal,
        ),
        (None, None) => {
            (RunEnd { status: RunStatus::Failed, exit_code: None, signal: None, error: script_error }, 1)
        }
    };
    if let Err(err) = tracker.finish_with(end) {
        note(&format!("cannot record the end of run {run_id}: {err}"));
    }
    tracker.shutdown(tracker_client::ExitReason::Code(exit));
    Ok(ExitCode::from((exit & 0xff) as u8))
}

/// The command could not be started: record the run as failed, say why, and
/// exit like a shell would (127 not found, 126 not executable).
fn not_started(tracker: &Tracker, program: &OsString, err: &std::io::Error, log: Option<&Path>) -> ExitCode {
    let name = program.to_string_lossy();
    let (code, message) = match err.kind() {
        std::io::ErrorKind::NotFound => {
            (127, format!("command not found: {name} (check the name, or that its directory is on PATH)"))
        }
        std::io::ErrorKind::PermissionDenied => {
            (126, format!("cannot execute {name}: permission denied (is it executable? chmod +x)"))
        }
        _ => (126, format!("cannot start {name}: {err}")),
    };
    crate::output::error_line(&message);
    let end = RunEnd {
        status: RunStatus::Failed,
        exit_code: Some(code),
        signal: None,
        error: Some(ErrorInfo {
            message: message.clone(),
            class: Some("CommandNotStarted".into()),
            traceback: None,
        }),
    };
    let _ = tracker.finish_with(end);
    tracker.shutdown(tracker_client::ExitReason::Code(code));
    if let Some(log) = log {
        let _ = std::fs::write(log, format!("pipetrack: {message}\n"));
    }
    ExitCode::from(code as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn commands_name_their_script_and_language() {
        let cases = [
            (&["Rscript", "DAILY_01_BDC_Locations.R"][..], "DAILY_01_BDC_Locations.R", "R"),
            (&["python3", "-u", "jobs/DAILY_00a_BDC_Download.py"][..], "DAILY_00a_BDC_Download.py", "python"),
            (&["bash", "PREREQ_01_Setup.sh", "--fast"][..], "PREREQ_01_Setup.sh", "shell"),
            (&["/usr/local/bin/STATIC_07_Import", "x"][..], "STATIC_07_Import", "shell"),
            (&["make", "all"][..], "make", "shell"),
        ];
        for (command, name, language) in cases {
            let info = describe_command(&os(command));
            assert_eq!((info.script_name.as_str(), info.language), (name, language), "{command:?}");
        }
    }

    #[test]
    fn directives_are_parsed_and_bad_ones_explained() {
        assert_eq!(parse_directive("plain output"), None);
        assert_eq!(parse_directive(" ::pipetrack task-enter x"), None, "only at the start of a line");
        assert_eq!(
            parse_directive("::pipetrack task-enter Load states\n"),
            Some(Ok(Directive::TaskEnter("Load states".into())))
        );
        assert_eq!(
            parse_directive("::pipetrack task-exit"),
            Some(Ok(Directive::TaskExit(TaskStatus::Completed)))
        );
        assert_eq!(
            parse_directive("::pipetrack task-exit failed"),
            Some(Ok(Directive::TaskExit(TaskStatus::Failed)))
        );
        assert_eq!(
            parse_directive("::pipetrack message 3 of 50 states"),
            Some(Ok(Directive::Message("3 of 50 states".into())))
        );
        assert_eq!(parse_directive("::pipetrack progress 3 50\r\n"), Some(Ok(Directive::Progress(3, 50))));
        assert_eq!(parse_directive("::pipetrack total 12"), Some(Ok(Directive::Total(12))));
        for (line, fragment) in [
            ("::pipetrack task-enter", "needs a task name"),
            ("::pipetrack task-exit maybe", "not \"maybe\""),
            ("::pipetrack progress 3", "two numbers"),
            ("::pipetrack progress three 50", "\"three\" is not a whole number"),
            ("::pipetrack launch", "unknown verb \"launch\""),
        ] {
            let err = parse_directive(line).unwrap().unwrap_err();
            assert!(err.contains(fragment), "{line}: {err}");
        }
    }

    #[test]
    fn failed_runs_take_their_message_from_the_last_stderr_line() {
        let tail: VecDeque<String> =
            ["Loading", "Error in f(): object 'x' not found", ""].map(String::from).into();
        let error = error_from_tail(&tail, 1);
        assert_eq!(error.message, "Error in f(): object 'x' not found");
        assert_eq!(error.traceback.as_deref(), Some("Loading\nError in f(): object 'x' not found\n"));
        assert_eq!(error_from_tail(&VecDeque::new(), 4).message, "the command exited with status 4");
    }
}
