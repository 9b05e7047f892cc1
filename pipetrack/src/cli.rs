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
    /// The latest run of every script: status, progress, current task, timing.
    Status(JsonFlag),
    /// Serve the dashboard (status, run detail, history, trends, errors, JSON API).
    Serve(ServeArgs),
    /// A populated dashboard with no set-up: weeks of realistic history on a fresh
    /// SQLite file, three live tracked scripts, and the dashboard.
    Demo(DemoArgs),
    /// One live script of `pipetrack demo` (runs until its standard input closes).
    #[command(hide = true)]
    DemoScript(DemoScriptArgs),
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
