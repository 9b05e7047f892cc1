//! Metadata captured when a run starts: script name and path (detected from the
//! command line when not given), host, pid, OS user, language, git state of the
//! script's repository, working directory, log path and the redacted environment.
//!
//! Everything here is best effort: a value that cannot be read is left empty,
//! never an error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tracker_core::redact::redact_env;

/// The script a process runs: an interpreter's script argument when the process
/// is `Rscript X.R`, `R -f X.R`, `python X.py`, `bash X.sh` ..., else the executable.
pub fn detect_script() -> Option<PathBuf> {
    let args: Vec<OsString> = std::env::args_os().collect();
    script_from_args(&args).or_else(|| std::env::current_exe().ok())
}

/// The script an interpreter command line runs (`Rscript X.R`, `python3 -u X.py`,
/// `R -f X.R`, `bash X.sh` ...); `None` for other programs.
pub fn script_of_command(args: &[OsString]) -> Option<PathBuf> {
    script_from_args(args)
}

fn script_from_args(args: &[OsString]) -> Option<PathBuf> {
    let program = Path::new(args.first()?).file_name()?.to_string_lossy().to_ascii_lowercase();
    let interpreted =
        ["rscript", "r", "python", "bash", "sh", "zsh", "perl", "ruby", "node", "julia"].iter().any(|name| {
            program == *name
                || program.strip_prefix(name).is_some_and(|v| v.starts_with(['2', '3', '.', '-']))
        });
    if !interpreted {
        return None;
    }
    let mut rest = args[1..].iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = rest.next() {
        if let Some(file) = arg.strip_prefix("--file=") {
            return Some(PathBuf::from(file));
        }
        if arg == "-f" || arg == "--file" {
            return rest.next().map(PathBuf::from);
        }
        // `python -m pkg.mod` and `-c code` run no script file.
        if arg == "-m" || arg == "-c" || arg == "-e" {
            return None;
        }
        if !arg.starts_with('-') {
            return Some(PathBuf::from(arg));
        }
    }
    None
}

/// The host name.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

/// The OS user: `$USER`/`$LOGNAME`, else the name of this process's uid in /etc/passwd.
pub fn os_user() -> Option<String> {
    for var in ["USER", "LOGNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.trim().is_empty()
        {
            return Some(name);
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        (parts.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// Git commit, branch and dirty flag of the repository holding `dir`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitState {
    /// HEAD commit.
    pub commit: Option<String>,
    /// Current branch (`None` when detached).
    pub branch: Option<String>,
    /// Tracked files changed.
    pub dirty: Option<bool>,
}

/// Reads the git state of `dir` with one `git status` (no repository, no git: empty).
pub fn git_state(dir: &Path) -> GitState {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain=v2", "--branch", "--untracked-files=no"])
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(output) = output else { return GitState::default() };
    if !output.status.success() {
        return GitState::default();
    }
    parse_git_status(&String::from_utf8_lossy(&output.stdout))
}

fn parse_git_status(text: &str) -> GitState {
    let mut state = GitState { dirty: Some(false), ..GitState::default() };
    for line in text.lines() {
        if let Some(oid) = line.strip_prefix("# branch.oid ") {
            state.commit = (oid != "(initial)").then(|| oid.to_owned());
        } else if let Some(head) = line.strip_prefix("# branch.head ") {
            state.branch = (head != "(detached)").then(|| head.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            state.dirty = Some(true);
        }
    }
    state
}

/// The process environment with secrets redacted (non-UTF-8 variables are skipped).
pub fn redacted_env() -> std::collections::BTreeMap<String, String> {
    redact_env(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn interpreters_name_their_script() {
        let cases: [(&[&str], Option<&str>); 8] = [
            (&["Rscript", "--vanilla", "DAILY_01_BDC_Locations.R", "x"], Some("DAILY_01_BDC_Locations.R")),
            (&["/usr/lib/R/bin/exec/R", "--no-echo", "--file=STATIC_02.R"], Some("STATIC_02.R")),
            (&["R", "-f", "a.R"], Some("a.R")),
            (&["/usr/bin/python3.11", "-u", "DAILY_00a_BDC_Download.py"], Some("DAILY_00a_BDC_Download.py")),
            (&["python3", "-m", "pkg"], None),
            (&["bash", "PREREQ_01.sh"], Some("PREREQ_01.sh")),
            (&["./my-binary", "input.csv"], None),
            (&["rsync", "a", "b"], None),
        ];
        for (argv, expected) in cases {
            assert_eq!(script_from_args(&args(argv)), expected.map(PathBuf::from), "{argv:?}");
        }
    }

    #[test]
    fn git_status_is_parsed() {
        let clean = "# branch.oid 1234abcd\n# branch.head main\n";
        assert_eq!(
            parse_git_status(clean),
            GitState { commit: Some("1234abcd".into()), branch: Some("main".into()), dirty: Some(false) }
        );
        let dirty =
            "# branch.oid 1234abcd\n# branch.head (detached)\n1 .M N... 100644 100644 100644 a b f.R\n";
        assert_eq!(
            parse_git_status(dirty),
            GitState { commit: Some("1234abcd".into()), branch: None, dirty: Some(true) }
        );
    }

    #[test]
    fn git_state_of_this_repository_has_a_commit() {
        let state = git_state(Path::new(env!("CARGO_MANIFEST_DIR")));
        // The work tree is a git checkout in development and CI.
        assert_eq!(state.commit.as_ref().map(String::len), Some(40), "{state:?}");
        assert!(git_state(Path::new("/")).commit.is_none());
    }

    #[test]
    fn host_and_user_are_found() {
        assert!(host_name().is_some_and(|h| !h.is_empty()));
        assert!(os_user().is_some_and(|u| !u.is_empty()));
    }
}
