//! The dashboard's log file. The dashboard's terminal is its screen, so its log lines go to a
//! file instead: `dashboard.YYYY-MM-DD.log` (the UTC day) in `$XDG_STATE_HOME/orders/`, else
//! `~/.local/state/orders/`, appended to, a new file each day and only the last
//! [`KEPT_FILES`] kept (tracing-appender's rolling appender), so the log cannot grow without
//! bound. The directory is created readable by its owner only (0700), and the files are made
//! so (0600) when the dashboard starts: tracing-appender creates them with the process's
//! umask, so a file begun at midnight while a dashboard runs keeps that mode until the next
//! start, inside the 0700 directory.

use std::path::{Path, PathBuf};

use tracing_appender::rolling::{RollingFileAppender, Rotation};

use crate::user_dirs::{self, Base};

/// The name every log file starts with, before its day.
pub const PREFIX: &str = "dashboard";

/// The name every log file ends with, after its day.
pub const SUFFIX: &str = "log";

/// How many daily files are kept (the oldest is deleted when a new day begins).
pub const KEPT_FILES: usize = 7;

/// The directory the dashboard's log files are kept in, from the environment.
///
/// # Errors
/// When neither `XDG_STATE_HOME` (an absolute path) nor `HOME` is set.
pub fn directory() -> Result<PathBuf, String> {
    user_dirs::orders_dir(Base::State)
}

/// Opens the log in `dir` (creating it, 0700, when missing) and makes its files 0600.
///
/// # Errors
/// When the directory or today's file cannot be created, or a file's mode cannot be set: the
/// message names the path.
pub fn open(dir: &Path) -> Result<RollingFileAppender, String> {
    user_dirs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix(SUFFIX)
        .max_log_files(KEPT_FILES)
        .build(dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))?;
    make_private(dir).map_err(|e| format!("cannot make the log files in {} private: {e}", dir.display()))?;
    Ok(appender)
}

/// Whether `name` is one of the log's files.
pub fn is_log_file(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(SUFFIX))
        .is_some_and(|day| day.ends_with('.'))
}

/// Gives every log file in `dir` mode 0600.
fn make_private(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    for entry in std::fs::read_dir(dir)? {
        use std::os::unix::fs::PermissionsExt as _;
        let entry = entry?;
        if !entry.file_name().to_str().is_some_and(is_log_file) {
            continue;
        }
        let mut permissions = entry.metadata()?.permissions();
        if permissions.mode() & 0o777 != 0o600 {
            permissions.set_mode(0o600);
            std::fs::set_permissions(entry.path(), permissions)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn only_the_dashboards_daily_files_count_as_its_log() {
        assert!(is_log_file("dashboard.2026-12-06.log"));
        assert!(!is_log_file("dashboard.log.bak"));
        assert!(!is_log_file("dashboards.2026-12-06.log"));
        assert!(!is_log_file("credentials.toml"));
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_created_0700_and_the_file_appended_to_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state").join("orders");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        for line in ["first\n", "second\n"] {
            let mut appender = open(&dir).unwrap();
            appender.write_all(line.as_bytes()).unwrap();
            appender.flush().unwrap();
        }
        assert_eq!(mode(&dir), 0o700);
        let files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), "first\nsecond\n");
    }

    #[test]
    fn only_the_last_days_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=KEPT_FILES + 3 {
            std::fs::write(dir.path().join(format!("{PREFIX}.2020-01-{day:02}.{SUFFIX}")), "old\n").unwrap();
        }
        drop(open(dir.path()).unwrap());
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        // Which old ones go depends on the files' creation times, here all but equal.
        assert_eq!(names.len(), KEPT_FILES, "{names:?}");
        assert!(names.iter().any(|name| !name.starts_with("dashboard.2020-")), "today's is one: {names:?}");
    }
}
