//! Secret redaction for captured environments: secrets never reach the store.

use std::collections::BTreeMap;

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// Substrings that mark an environment variable name as secret (case-insensitive).
const SECRET_KEY_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "COOKIE",
    "SESSION",
    "DSN",
    "PRIVATE",
    "SIGNATURE",
    "CERT",
    "PASS",
];

/// Variables whose name contains `PWD` but which are not secrets.
const NOT_SECRET: &[&str] = &["PWD", "OLDPWD"];

/// Whether an environment variable name looks like it holds a secret.
pub fn is_secret_key(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if NOT_SECRET.contains(&upper.as_str()) {
        return false;
    }
    SECRET_KEY_PARTS.iter().any(|part| upper.contains(part))
}

/// Masks credentials embedded in a value: `scheme://user:password@host` keeps the
/// user and host, loses the password. Returns `None` when nothing was masked.
pub fn mask_url_credentials(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut changed = false;
    while let Some(scheme_end) = rest.find("://") {
        let authority_start = scheme_end + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        let authority_end = rest.find(['/', '?', '#', ' ', '\'', '"']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                out.push_str(&userinfo[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
                changed = true;
            } else {
                out.push_str(authority);
            }
        } else {
            out.push_str(authority);
        }
        rest = &rest[authority_end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Redacts one variable: secret-looking names lose their value, values with
/// embedded credentials are masked, everything else is kept.
pub fn redact_value(name: &str, value: &str) -> String {
    if is_secret_key(name) {
        REDACTED.to_owned()
    } else {
        mask_url_credentials(value).unwrap_or_else(|| value.to_owned())
    }
}

/// Redacts an environment, sorted by name.
pub fn redact_env<I, K, V>(vars: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    vars.into_iter().map(|(k, v)| (k.as_ref().to_owned(), redact_value(k.as_ref(), v.as_ref()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_redacted_case_insensitively() {
        let env = redact_env([
            ("MONITOR_DB_PASSWORD", "hunter2"),
            ("github_token", "ghp_x"),
            ("AWS_SECRET_ACCESS_KEY", "abc"),
            ("api_key", "k"),
            ("SLACK_WEBHOOK_AUTH", "a"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/x.json"),
            ("SESSION_COOKIE", "c"),
            ("SENTRY_DSN", "https://k@sentry"),
            ("HOME", "/home/ana"),
            ("PWD", "/srv/pipeline"),
        ]);
        for key in [
            "MONITOR_DB_PASSWORD",
            "github_token",
            "AWS_SECRET_ACCESS_KEY",
            "api_key",
            "SLACK_WEBHOOK_AUTH",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "SESSION_COOKIE",
            "SENTRY_DSN",
        ] {
            assert_eq!(env[key], REDACTED, "{key}");
        }
        assert_eq!(env["HOME"], "/home/ana");
        assert_eq!(env["PWD"], "/srv/pipeline");
    }

    #[test]
    fn credentials_inside_urls_are_masked() {
        let env = redact_env([
            ("DATABASE_URL", "postgres://etl:s3cr3t@db.internal:5432/bbc"),
            ("MIRROR", "https://example.org/path?a=b"),
            ("TWO", "a://u:p@h b://v:q@i/x"),
        ]);
        assert_eq!(env["DATABASE_URL"], "postgres://etl:***@db.internal:5432/bbc");
        assert_eq!(env["MIRROR"], "https://example.org/path?a=b");
        assert_eq!(env["TWO"], "a://u:***@h b://v:***@i/x");
        assert!(!env.values().any(|v| v.contains("s3cr3t")));
    }

    #[test]
    fn user_without_password_is_kept() {
        assert_eq!(mask_url_credentials("postgres://etl@db/x"), None);
    }
}
