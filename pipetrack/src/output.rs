//! Presentation helpers: error lines, exit codes, tables that fit 80 columns,
//! durations and colours.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use comfy_table::{Cell, ContentArrangement, Table, presets};
use tracker_db::DbError;

/// Prints one `error: ...` line on stderr.
#[allow(clippy::print_stderr)]
pub(crate) fn error_line(message: &str) {
    eprintln!("error: {message}");
}

/// The message of an error chain on one line (outermost context first).
pub(crate) fn describe_error(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// 2 for configuration and usage problems the user must fix, 1 otherwise.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<DbError>() {
        Some(DbError::Config(_) | DbError::NotMigrated { .. } | DbError::SchemaTooNew { .. }) => 2,
        _ if err.downcast_ref::<tracker_db::ConfigError>().is_some() => 2,
        _ => 1,
    }
}

/// Whether to colour output.
pub(crate) fn use_color(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// A table that wraps to the terminal (or 80 columns when not a terminal).
pub(crate) fn table(headers: &[&str], color: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Dynamic).set_header(
        headers.iter().map(|h| {
            let cell = Cell::new(h);
            if color { cell.add_attribute(comfy_table::Attribute::Bold) } else { cell }
        }),
    );
    if !std::io::stdout().is_terminal() {
        table.set_width(80);
    }
    if !color {
        table.force_no_tty();
    }
    table
}

/// `1h02m`, `4m05s`, `12s`.
pub(crate) fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "-".to_owned() };
    let secs = ms / 1000;
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// `2026-03-01 06:00` in UTC.
pub(crate) fn timestamp(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// Prints a value as pretty JSON on stdout.
#[allow(clippy::print_stdout)]
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints text on stdout.
#[allow(clippy::print_stdout)]
pub(crate) fn print(text: &str) {
    println!("{text}");
}
