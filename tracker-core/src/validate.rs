//! Input validation for everything a script can pass in: names, messages, counters.
//!
//! Bindings call these before anything is queued, so a bad argument becomes a
//! clear error in the caller's language instead of a corrupt row later.

use crate::error::CoreError;

/// Longest script name accepted, in characters.
pub const MAX_SCRIPT_NAME: usize = 200;
/// Longest task name accepted, in characters.
pub const MAX_TASK_NAME: usize = 500;
/// Longest progress or status message accepted, in characters.
pub const MAX_MESSAGE: usize = 4_000;
/// Longest error message accepted, in characters.
pub const MAX_ERROR_MESSAGE: usize = 16_000;
/// Longest traceback kept, in characters (longer ones are cut by [`truncate_keep_tail`]).
pub const MAX_TRACEBACK: usize = 64_000;
/// Longest path, host, user or other metadata value, in characters.
pub const MAX_METADATA: usize = 4_096;
/// Largest task count.
pub const MAX_TASKS: i64 = 10_000_000;

/// How strict a text field is about line breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// A single line: no control characters at all (tab included).
    Line,
    /// Free text: newlines, carriage returns and tabs allowed.
    Multiline,
}

/// Checks a required text field: non-empty after trimming, within `max`
/// characters, no control characters (beyond those `kind` allows). Returns the
/// trimmed text.
pub fn required_text<'a>(
    field: &'static str,
    value: &'a str,
    max: usize,
    kind: TextKind,
) -> Result<&'a str, CoreError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(CoreError::Empty { field });
    }
    optional_text(field, trimmed, max, kind)
}

/// Checks an optional text field (empty allowed) for length and control characters.
pub fn optional_text<'a>(
    field: &'static str,
    value: &'a str,
    max: usize,
    kind: TextKind,
) -> Result<&'a str, CoreError> {
    // Fastest path, the usual case: printable ASCII only (one pass over the bytes).
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        if value.len() > max {
            return Err(CoreError::TooLong { field, len: value.len(), max });
        }
        return Ok(value);
    }
    // ASCII with control characters or line breaks: bytes are characters.
    if value.is_ascii() {
        let allowed = |b: u8| kind == TextKind::Multiline && matches!(b, b'\n' | b'\r' | b'\t');
        if let Some(position) = value.bytes().position(|b| (b < 0x20 || b == 0x7f) && !allowed(b)) {
            let code = u32::from(value.as_bytes()[position]);
            return Err(CoreError::ControlCharacter { field, code, position });
        }
        if value.len() > max {
            return Err(CoreError::TooLong { field, len: value.len(), max });
        }
        return Ok(value);
    }
    let mut len = 0;
    for (position, ch) in value.chars().enumerate() {
        len += 1;
        let allowed = kind == TextKind::Multiline && matches!(ch, '\n' | '\r' | '\t');
        if ch.is_control() && !allowed {
            return Err(CoreError::ControlCharacter { field, code: ch as u32, position });
        }
    }
    if len > max {
        return Err(CoreError::TooLong { field, len, max });
    }
    Ok(value)
}

/// Decodes bytes handed over by a binding (R strings may be Latin-1) as UTF-8.
pub fn utf8<'a>(field: &'static str, bytes: &'a [u8]) -> Result<&'a str, CoreError> {
    std::str::from_utf8(bytes).map_err(|err| CoreError::NotUtf8 { field, offset: err.valid_up_to() })
}

/// Checks a counter given as a signed number (R and Python integers can be negative).
pub fn counter(field: &'static str, value: i64, max: i64) -> Result<u64, CoreError> {
    if value < 0 {
        return Err(CoreError::Negative { field, value });
    }
    if value > max {
        return Err(CoreError::CounterTooLarge { field, value, max });
    }
    Ok(value as u64)
}

/// Checks a total-tasks value.
pub fn total_tasks(value: i64) -> Result<u32, CoreError> {
    counter("total_tasks", value, MAX_TASKS).map(|v| v as u32)
}

/// Checks a progress pair: both non-negative, `done <= total`.
pub fn progress(done: i64, total: i64) -> Result<(u64, u64), CoreError> {
    let done = counter("progress done", done, i64::MAX)?;
    let total = counter("progress total", total, i64::MAX)?;
    if done > total {
        return Err(CoreError::ProgressBeyondTotal { done, total });
    }
    Ok((done, total))
}

/// Cuts `text` to at most `max` characters, keeping the end (where a traceback's
/// innermost frame is) and marking the cut.
pub fn truncate_keep_tail(text: &str, max: usize) -> String {
    const MARK: &str = "[… truncated …]\n";
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(MARK.chars().count());
    let tail: String = text.chars().skip(count - keep).collect();
    format!("{MARK}{tail}")
}

/// Replaces control characters that a single-line field cannot hold with spaces and
/// cuts to `max` characters; for callers (like `pipetrack run` reading a child's
/// output) that must record something rather than refuse.
pub fn sanitize_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_names_are_refused() {
        for value in ["", "   ", "\t"] {
            let err = required_text("task name", value, 10, TextKind::Line).unwrap_err();
            assert_eq!(err, CoreError::Empty { field: "task name" });
        }
    }

    #[test]
    fn over_long_names_report_length_and_limit() {
        let err = required_text("task name", &"x".repeat(11), 10, TextKind::Line).unwrap_err();
        assert_eq!(err.to_string(), "task name is 11 characters long, over the limit of 10: shorten it");
        // Characters, not bytes: ten 3-byte characters fit.
        assert!(required_text("task name", &"€".repeat(10), 10, TextKind::Line).is_ok());
    }

    #[test]
    fn control_characters_are_refused_with_position() {
        let err = required_text("task name", "ab\u{7}c", 10, TextKind::Line).unwrap_err();
        assert_eq!(err, CoreError::ControlCharacter { field: "task name", code: 7, position: 2 });
        assert!(required_text("task name", "a\nb", 10, TextKind::Line).is_err());
        assert_eq!(optional_text("message", "a\nb\tc", 10, TextKind::Multiline).unwrap(), "a\nb\tc");
        assert!(optional_text("message", "a\u{0}b", 10, TextKind::Multiline).is_err());
    }

    #[test]
    fn the_ascii_fast_path_agrees_with_the_character_check() {
        for byte in 0..=0x7f_u8 {
            let ch = char::from(byte);
            for kind in [TextKind::Line, TextKind::Multiline] {
                let (ascii_text, general_text) = (format!("ab{ch}"), format!("é{ch}"));
                let ascii = optional_text("message", &ascii_text, 10, kind);
                // The same character after a non-ASCII one takes the general path.
                let general = optional_text("message", &general_text, 10, kind);
                assert_eq!(ascii.is_ok(), general.is_ok(), "byte {byte:#x}, {kind:?}");
                if let Err(CoreError::ControlCharacter { code, position, .. }) = ascii {
                    assert_eq!((code, position), (u32::from(byte), 2));
                }
            }
        }
        assert!(matches!(
            optional_text("message", "abcdefghijk", 10, TextKind::Line),
            Err(CoreError::TooLong { len: 11, .. })
        ));
    }

    #[test]
    fn names_are_trimmed() {
        assert_eq!(required_text("task name", "  Load  ", 10, TextKind::Line).unwrap(), "Load");
    }

    #[test]
    fn non_utf8_bytes_name_the_offset() {
        let err = utf8("task name", b"ok\xff").unwrap_err();
        assert_eq!(err, CoreError::NotUtf8 { field: "task name", offset: 2 });
        assert_eq!(utf8("task name", "Zürich".as_bytes()).unwrap(), "Zürich");
    }

    #[test]
    fn counters_reject_negative_and_huge() {
        assert_eq!(total_tasks(-1).unwrap_err(), CoreError::Negative { field: "total_tasks", value: -1 });
        assert!(matches!(total_tasks(MAX_TASKS + 1), Err(CoreError::CounterTooLarge { .. })));
        assert_eq!(total_tasks(7).unwrap(), 7);
    }

    #[test]
    fn progress_must_not_exceed_total() {
        assert_eq!(progress(3, 50).unwrap(), (3, 50));
        assert_eq!(progress(0, 0).unwrap(), (0, 0));
        assert_eq!(progress(51, 50).unwrap_err(), CoreError::ProgressBeyondTotal { done: 51, total: 50 });
        assert!(matches!(progress(-1, 5), Err(CoreError::Negative { .. })));
    }

    #[test]
    fn truncation_keeps_the_tail() {
        let text = format!("{}END", "a".repeat(100));
        let cut = truncate_keep_tail(&text, 40);
        assert!(cut.ends_with("END"));
        assert!(cut.starts_with("[… truncated …]"));
        assert_eq!(cut.chars().count(), 40);
        assert_eq!(truncate_keep_tail("short", 40), "short");
    }

    #[test]
    fn sanitize_replaces_controls() {
        assert_eq!(sanitize_line("a\u{1b}[31mb\n", 100), "a [31mb");
    }
}
