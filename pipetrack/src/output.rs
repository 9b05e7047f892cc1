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

/// How a column's cells are shortened when a table is wider than the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Never shortened (states, times, ids).
    Keep,
    /// An ellipsis in the middle, keeping both ends (script names: the prefix
    /// says the category, the end tells similar names apart).
    Middle,
    /// An ellipsis at the end (messages, task names).
    End,
}

/// The width tables are fitted to: the terminal's, or 80 columns when not a terminal.
pub(crate) fn screen_width() -> usize {
    Table::new().width().map_or(80, usize::from)
}

/// Shortens the cells of the `Cut::End` columns (messages), then of the
/// `Cut::Middle` ones (names), widest column first, until every row fits
/// `width` on one line (each column takes its width plus one space either
/// side). Columns never shrink below their header or 8 characters.
pub(crate) fn fit(headers: &[&str], rows: &mut [Vec<String>], cuts: &[Cut], width: usize) {
    let chars = |text: &str| text.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| chars(h)).collect();
    for row in rows.iter() {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(chars(cell));
        }
    }
    let budget = width.saturating_sub(2 * headers.len());
    while widths.iter().sum::<usize>() > budget {
        let widest = (0..widths.len())
            .filter(|&i| cuts.get(i).is_some_and(|c| *c != Cut::Keep) && widths[i] > chars(headers[i]).max(8))
            .max_by_key(|&i| (cuts[i] == Cut::End, widths[i], std::cmp::Reverse(i)));
        let Some(i) = widest else { break };
        widths[i] -= 1;
    }
    for row in rows.iter_mut() {
        for ((cell, &w), cut) in row.iter_mut().zip(&widths).zip(cuts) {
            *cell = shorten(cell, w, *cut);
        }
    }
}

/// `text` in at most `width` characters, an ellipsis marking what was cut.
pub(crate) fn shorten(text: &str, width: usize, cut: Cut) -> String {
    let count = text.chars().count();
    if count <= width || cut == Cut::Keep || width == 0 {
        return text.to_owned();
    }
    let kept = width - 1;
    match cut {
        Cut::End | Cut::Keep => format!("{}…", text.chars().take(kept).collect::<String>()),
        Cut::Middle => {
            let head = kept.div_ceil(2);
            let tail = kept - head;
            let head_text: String = text.chars().take(head).collect();
            let tail_text: String = text.chars().skip(count - tail).collect();
            format!("{head_text}…{tail_text}")
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_with_an_ellipsis_until_the_rows_fit() {
        assert_eq!(shorten("STATIC_02_Technology_Codes.R", 15, Cut::Middle), "STATIC_…Codes.R");
        assert_eq!(shorten("cannot open file", 8, Cut::End), "cannot …");
        assert_eq!(shorten("short", 8, Cut::Middle), "short");
        let mut rows = vec![vec!["STATIC_02_Technology_Codes.R".to_owned(), "completed".to_owned()]];
        fit(&["SCRIPT", "STATE"], &mut rows, &[Cut::Middle, Cut::Keep], 30);
        assert_eq!(rows[0], ["STATIC_0…_Codes.R", "completed"]);
        assert_eq!(rows[0][0].chars().count() + rows[0][1].chars().count() + 4, 30);
    }
}
