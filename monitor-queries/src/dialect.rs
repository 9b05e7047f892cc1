//! The few places where PostgreSQL and SQLite SQL differ. Everything else in
//! this crate is written once with `$n` placeholders.

use tracker_db::Backend;

/// Case-insensitive LIKE: `ILIKE` in Postgres; SQLite's `LIKE` already ignores
/// ASCII case.
pub(crate) fn ilike(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "ILIKE",
        Backend::Sqlite => "LIKE",
    }
}

/// The UTC calendar day of a timestamp column, as `YYYY-MM-DD` text.
pub(crate) fn utc_day(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        // Stored as fixed-width RFC 3339 text in UTC.
        Backend::Sqlite => format!("substr({column}, 1, 10)"),
    }
}

/// A `LIKE` pattern matching `needle` anywhere, with `%`, `_` and `\` in the
/// needle matched literally (used with `ESCAPE '\'`).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_the_needle_are_escaped() {
        assert_eq!(contains_pattern("100%"), "%100\\%%");
        assert_eq!(contains_pattern("a_b\\c"), "%a\\_b\\\\c%");
        assert_eq!(contains_pattern("it's"), "%it's%");
    }
}
