//! Error fingerprints: the same failure, reported with different numbers, ids,
//! paths, times or quoted values, gets the same fingerprint, so errors group
//! by what went wrong rather than by their exact text.
//!
//! The message is normalised (see [`normalize_message`]), prefixed with the
//! error class, and hashed with SHA-256; the fingerprint is the first 8 bytes
//! in hex (16 characters). SHA-256 is stable across versions and platforms, so
//! a fingerprint stored in `error_resolutions` stays valid.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use sha2::{Digest, Sha256};

/// Longest part of a message that takes part in the fingerprint, in characters:
/// errors that differ only after this are the same error.
const MAX_NORMALIZED: usize = 500;

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this file, checked by the tests below.
    Regex::new(pattern).unwrap_or_else(|err| panic!("invalid built-in pattern {pattern:?}: {err}"))
}

/// Quoted values: 'x', "x", `x`, ‘x’, “x”. An apostrophe inside a word (can't)
/// does not open a quote.
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"(^|[^\w])(?:'[^'\n]*'|"[^"\n]*"|`[^`\n]*`|‘[^’\n]*’|“[^”\n]*”)"#));
static URL: LazyLock<Regex> = LazyLock::new(|| regex(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\x22<>()]+"));
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?)?\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
    )
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
});
static IP: LazyLock<Regex> = LazyLock::new(|| regex(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"));
/// Absolute paths (Unix, home, Windows drive), starting after a space or punctuation.
static PATH: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"(^|[\s(\[{=,:])(?:~?/|[A-Za-z]:\\)[^\s'"(),;\[\]{}<>]*"#));
/// Hex literals and long hex words (object ids, hashes, H3 cells).
static HEX: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})\b"));
/// Numbers that stand alone (42, 3.2, 1,234,567, -7), not digits inside words (DAILY_01, utf8).
static NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"(^|[^\w.])-?\d+(?:[.,]\d+)*\b"));
static SPACE: LazyLock<Regex> = LazyLock::new(|| regex(r"\s+"));

/// The message with its variable parts masked: quoted values become `'<v>'`,
/// URLs `<url>`, timestamps and dates `<ts>`, UUIDs `<uuid>`, IP addresses
/// `<ip>`, absolute paths `<path>`, hex ids `<hex>`, numbers `<n>`; runs of
/// white space become one space; the result is cut to 500 characters.
pub fn normalize_message(message: &str) -> String {
    let text = QUOTED.replace_all(message, "$1'<v>'");
    let text = URL.replace_all(&text, "<url>");
    let text = TIMESTAMP.replace_all(&text, "<ts>");
    let text = UUID.replace_all(&text, "<uuid>");
    let text = IP.replace_all(&text, "<ip>");
    let text = PATH.replace_all(&text, "$1<path>");
    let text = HEX.replace_all(&text, |caps: &Captures<'_>| {
        let word = &caps[0];
        // A long word of letters a-f only ("defaced") is a word, not an id.
        if word.bytes().all(|b| b.is_ascii_digit()) {
            "<n>".to_owned()
        } else if word.starts_with("0x") || word.starts_with("0X") || word.bytes().any(|b| b.is_ascii_digit())
        {
            "<hex>".to_owned()
        } else {
            word.to_owned()
        }
    });
    let text = NUMBER.replace_all(&text, "$1<n>");
    let text = SPACE.replace_all(text.trim(), " ");
    text.chars().take(MAX_NORMALIZED).collect()
}

/// The fingerprint of an error: 16 hex digits from its class and normalised message.
pub fn fingerprint(error_class: Option<&str>, message: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(error_class.unwrap_or("").trim().as_bytes());
    hasher.update(b"\n");
    hasher.update(normalize_message(message).as_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(16);
    for byte in digest.iter().take(8) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Whether `text` has the shape of a fingerprint (16 lower-case hex digits).
pub fn is_fingerprint(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(
            normalize_message("cannot open file '/data/bdc/CA.csv': No such file or directory"),
            "cannot open file '<v>': No such file or directory"
        );
        assert_eq!(
            normalize_message(
                "Timeout was reached: [broadbandmap.fcc.gov] Operation timed out after 300001 milliseconds with 0 bytes received"
            ),
            "Timeout was reached: [broadbandmap.fcc.gov] Operation timed out after <n> milliseconds with <n> bytes received"
        );
        assert_eq!(
            normalize_message(
                "job 0193a1e2-5c3b-7d10-8a4e-2f6b9c0d1e23 failed at 2026-03-01T06:00:12Z on 10.0.0.5:5432"
            ),
            "job <uuid> failed at <ts> on <ip>"
        );
        assert_eq!(
            normalize_message("GET https://bdc.fcc.gov/api/x?as_of=2026-01-01 returned 503"),
            "GET <url> returned <n>"
        );
        assert_eq!(
            normalize_message("can't write to /srv/out/hex_872a1072fffffff.parquet (object 0x7f3a2b)"),
            "can't write to <path> (object <hex>)"
        );
        assert_eq!(
            normalize_message("Key (hex_id)=(872a1072fffffff) already exists."),
            "Key (hex_id)=(<hex>) already exists."
        );
        assert_eq!(
            normalize_message("DAILY_01 needs utf8 and h3 level7, got -3.5 and 1,234,567"),
            "DAILY_01 needs utf8 and h3 level7, got <n> and <n>"
        );
        assert_eq!(
            normalize_message("missing value where TRUE/FALSE needed"),
            "missing value where TRUE/FALSE needed"
        );
        assert_eq!(normalize_message("  two\n\tlines  "), "two lines");
    }

    #[test]
    fn fingerprints_are_stable_hex_and_depend_on_the_class() {
        let a = fingerprint(Some("KeyError"), "'CA'");
        assert!(is_fingerprint(&a), "{a}");
        assert_eq!(a, fingerprint(Some("KeyError"), "'TX'"));
        assert_ne!(a, fingerprint(Some("ValueError"), "'CA'"));
        assert!(!is_fingerprint("ABCDEF0123456789"));
        assert!(!is_fingerprint("abc"));
        let long_a = format!("{}A", "x ".repeat(400));
        let long_b = format!("{}B", "x ".repeat(400));
        assert_eq!(
            fingerprint(None, &long_a),
            fingerprint(None, &long_b),
            "only the first 500 characters count"
        );
    }
}
