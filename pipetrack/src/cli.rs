//! Command-line arguments. Parsing only: each command's behaviour lives in
//! `commands/`.

use clap::{Args, Parser, Subcommand};

/// See, at a glance and live, what every script of your batch pipelines is doing.
#[derive(Debug, Parser)]
#[command(name = "pipetrack", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// Store to use: postgres://user@host:5432/db or sqlite:///path/file.db.
    /// Default: PIPETRACK_DATABASE_URL, else MONITOR_DB_* variables, else the
    /// embedded SQLite file under your data directory.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database_url: Option<String>,

    /// Never colour the output (also: NO_COLOR=1).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create or upgrade the store's tables (safe to run again: applies only what is missing).
    Migrate(JsonFlag),
    /// Database commands.
    #[command(subcommand)]
    Db(DbCommand),
    /// The latest run of every script: state (stalled and lost too), progress,
    /// current task, time, usual time, ETA.
    Status(JsonFlag),
    /// Past runs, newest first: filter by date, script, category, status or text;
    /// sort by start, end, duration, status, name or error; page with --cursor.
    History(HistoryCommand),
    /// One run in full: metadata, tasks, messages, resources, error and traceback.
    Show(ShowArgs),
    /// Failures grouped by error fingerprint; `errors resolve` marks a group resolved.
    Errors(ErrorsArgs),
    /// Every run the history filters select, as CSV (RFC 4180) or JSON Lines.
    Export(ExportArgs),
    /// Serve the dashboard (status, run detail, history, trends, errors, JSON API).
    Serve(ServeArgs),
    /// A populated dashboard with no set-up: weeks of realistic history on a fresh
    /// SQLite file, three live tracked scripts, and the dashboard.
    Demo(DemoArgs),
    /// One live script of `pipetrack demo` (runs until its standard input closes).
    #[command(hide = true)]
    DemoScript(DemoScriptArgs),
    /// Track any command with no code change: start, end, exit code, signal,
    /// duration, memory and CPU of its process tree, captured output, and
    /// `::pipetrack task-enter NAME` lines as tasks (see docs/tracking.md).
    Run(RunArgs),
    /// Events waiting on disk for the store: list them, or replay them now.
    #[command(subcommand)]
    Spool(SpoolCommand),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Script name to record (default: the script the command runs, e.g. the
    /// `X.R` of `Rscript X.R`, else the program's name).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Category (default: from the name's prefix, e.g. DAILY_ -> DAILY).
    #[arg(long, value_name = "CATEGORY")]
    pub(crate) category: Option<String>,
    /// Expected number of tasks (for progress and ETA).
    #[arg(long, value_name = "N")]
    pub(crate) tasks: Option<u32>,
    /// Directory of the captured output (default: PIPETRACK_LOG_DIR, else
    /// ~/.local/state/pipetrack/logs).
    #[arg(long, value_name = "DIR")]
    pub(crate) log_dir: Option<std::path::PathBuf>,
    /// The command and its arguments, after `--`.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SpoolCommand {
    /// The spool's segments: writer pid, state (in use, ready, corrupt), events, size.
    Status(SpoolArgs),
    /// Writes every segment no running process holds to the store, then deletes it.
    Replay(SpoolArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SpoolArgs {
    /// Spool directory (default: PIPETRACK_SPOOL_DIR, else ~/.local/state/pipetrack/spool).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<std::path::PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on. Anything but a loopback address requires
    /// PIPETRACK_DASHBOARD_TOKEN or PIPETRACK_DASHBOARD_USER/PASSWORD.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR:PORT")]
    pub(crate) bind: std::net::SocketAddr,
    /// Seconds between live updates of the status and run pages.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub(crate) live_every: u64,
    /// The pipeline's scripts directory: its scripts without a run yet show as
    /// "never run" (overrides PIPETRACK_SCRIPTS_DIR).
    #[arg(long, value_name = "DIR")]
    pub(crate) scripts_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Address to serve the dashboard on.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR:PORT")]
    pub(crate) bind: std::net::SocketAddr,
    /// Days of history to generate.
    #[arg(long, default_value_t = 366, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub(crate) days: u32,
    /// Seed of the history generator (same seed, same history).
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Keep the demo store (pipetrack-demo.db) in this directory instead of a
    /// temporary one removed at exit. An existing demo store there is replaced.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<std::path::PathBuf>,
    /// Only write the history, then exit (no live scripts, no dashboard).
    #[arg(long)]
    pub(crate) seed_only: bool,
    /// Do not start the live scripts.
    #[arg(long)]
    pub(crate) no_live: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoScriptArgs {
    /// Which live script.
    #[arg(value_enum)]
    pub(crate) role: crate::commands::demo::Role,
    /// Where the failing script writes its log.
    #[arg(long, value_name = "DIR")]
    pub(crate) log_dir: std::path::PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Connection test: which store, whether it is reachable, its schema version.
    Check(JsonFlag),
    /// Print the GRANT statements for a writer role (trackers) and a read-only role
    /// (dashboards, analysts) on a Postgres store, for an administrator to run.
    Grants(GrantsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GrantsArgs {
    /// Role that scripts and monitors connect as.
    #[arg(long, default_value = "pipetrack_writer")]
    pub(crate) writer: String,
    /// Role that dashboards and analysts connect as (SELECT only).
    #[arg(long, default_value = "pipetrack_reader")]
    pub(crate) reader: String,
    /// Schema holding the tables (default: the store's ?schema=, else public).
    #[arg(long)]
    pub(crate) schema: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Filters and order shared by `history` and `export`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Only this script (exact file name).
    #[arg(long, value_name = "NAME")]
    pub(crate) script: Option<String>,
    /// Only this category (DAILY, ANNUAL_DEC, STATIC ...).
    #[arg(long)]
    pub(crate) category: Option<String>,
    /// Only these statuses (running, completed, failed, cancelled, lost); repeat or separate with commas.
    #[arg(long)]
    pub(crate) status: Vec<String>,
    /// Runs started on or after this date (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub(crate) from: Option<String>,
    /// Runs started before this date or time.
    #[arg(long, value_name = "DATE")]
    pub(crate) to: Option<String>,
    /// Runs started in the last N days (overrides --from).
    #[arg(long, value_name = "N")]
    pub(crate) days: Option<u32>,
    /// Text in the message, error message or error class (case-insensitive, literal).
    #[arg(long, value_name = "TEXT")]
    pub(crate) search: Option<String>,
    /// Only this error class (exact).
    #[arg(long, value_name = "CLASS")]
    pub(crate) error_class: Option<String>,
    /// Only failed runs with this error fingerprint (16 hex digits, from `pipetrack errors`).
    #[arg(long, value_name = "HEX")]
    pub(crate) fingerprint: Option<String>,
    /// Order: started, ended, duration, status, name or error (runs without an
    /// end or an error come last).
    #[arg(long, default_value = "started")]
    pub(crate) sort: String,
    /// Ascending order (default for status, name and error).
    #[arg(long, conflicts_with = "desc")]
    pub(crate) asc: bool,
    /// Descending order (default for started and duration).
    #[arg(long)]
    pub(crate) desc: bool,
    /// Rows per page (1-1000).
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// Continue after the page that printed this cursor.
    #[arg(long)]
    pub(crate) cursor: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryCommand {
    #[command(flatten)]
    pub(crate) filters: HistoryArgs,
    /// Print JSON (the page and its next cursor) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The run id, or its first 8 or more characters (as `history` shows them).
    pub(crate) run_id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ErrorsArgs {
    #[command(subcommand)]
    pub(crate) command: Option<ErrorsCommand>,
    /// Failures of the last N days.
    #[arg(long, default_value_t = 30)]
    pub(crate) days: u32,
    /// Failures since this date (YYYY-MM-DD) or time (overrides --days).
    #[arg(long, value_name = "DATE")]
    pub(crate) from: Option<String>,
    /// Only failures of this script.
    #[arg(long, value_name = "NAME")]
    pub(crate) script: Option<String>,
    /// Text in the error message or class (case-insensitive, literal).
    #[arg(long, value_name = "TEXT")]
    pub(crate) search: Option<String>,
    /// Include resolved groups that did not fail again.
    #[arg(long)]
    pub(crate) all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ErrorsCommand {
    /// Mark an error group resolved; it reopens by itself if it fails again.
    Resolve {
        /// The group's fingerprint (16 hex digits, from `pipetrack errors`).
        fingerprint: String,
        /// Why or how it was resolved.
        #[arg(long)]
        note: Option<String>,
        /// Who resolved it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["csv", "json"])))]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
    /// CSV with a header row (RFC 4180).
    #[arg(long)]
    pub(crate) csv: bool,
    /// JSON Lines: one run per line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<std::path::PathBuf>,
}
