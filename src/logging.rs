//! Where and how `orders` logs: tracing events, filtered by `RUST_LOG`, to stderr or, for the
//! dashboard, to a file.
//!
//! `orders serve` writes one JSON object per event and line (default level INFO, so one line
//! per request, target `orders::api::request`): tracing-subscriber's JSON format with the
//! event's fields flattened into it, `timestamp` (UTC, microseconds), `level`, `message` and
//! the event's other fields in order, then `target`. Events that crates send through the
//! `log` facade also carry its `log.target`, `log.module_path`, `log.file` and `log.line`.
//! The dashboard's terminal is its screen: no log line may reach it, so its lines (default
//! level WARN, no colour) go to a file (`file`); when that cannot be opened they are dropped
//! and `main` says so once the screen is restored. Every other command writes tracing's
//! human-readable lines to stderr (default level WARN), in colour only when stderr is a
//! terminal and `NO_COLOR` is not set. Lines crates send through the `log` facade (sqlx's)
//! take the same way as the process's own.
//!
//! `serve`'s lines go through tracing-appender's non-blocking writer: the request path hands
//! its line to a thread of its own, which writes through a 64 KiB buffer flushed whenever no
//! line waits, so under load many lines leave in one `write`. Measured with rounds alternated
//! (release `serve` on SQLite, 10k orders, `GET /orders/{id}` by wrk with 2 threads and 32
//! connections, stderr to a file, the shared 2-core machine): writing each line to stderr on
//! the request path made 22.2k req/s where the hand-written formatter and batched sink before
//! this made 32.3k (median of 6 rounds); this writer made 19.2k against their 20.1k (3 rounds)
//! and 24.0k against 24.6k (3 rounds, with direct writes at 24.1k in that busier hour), at
//! ~39 µs of server CPU per request against their ~34. Delete it (write to
//! `std::io::stderr`) once alternated rounds show direct writes within noise of it.

mod file;

use std::ffi::OsString;
use std::io::{BufWriter, IsTerminal as _};
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

/// `serve`'s log writer thread, running until [`finish`].
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Where a command's log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `orders serve`: JSON lines on stderr.
    Serve,
    /// The dashboard (local or remote): human-readable lines in its log file.
    Dashboard,
    /// Any other command: human-readable lines on stderr.
    Stderr,
}

/// Why the dashboard's log file could not be opened, when it could not.
static UNOPENED: OnceLock<String> = OnceLock::new();

/// Installs the process's subscriber for `destination`.
pub fn init(destination: Destination) {
    let default = if destination == Destination::Serve { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    match destination {
        Destination::Serve => {
            let (writer, guard) = NonBlockingBuilder::default()
                .lossy(false)
                .thread_name("log-writer")
                .finish(BufWriter::with_capacity(64 * 1024, std::io::stderr()));
            *WRITER.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
            json_lines(filter, writer).init();
        }
        Destination::Dashboard => match file::directory().and_then(|dir| file::open(&dir)) {
            Ok(appender) => {
                tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(appender).init()
            }
            // No subscriber: every event is dropped, none reaches the screen.
            Err(why) => drop(UNOPENED.set(why)),
        },
        Destination::Stderr => {
            let colour = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
            tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
        }
    }
}

/// Why the dashboard logged nothing, when its log file could not be opened: for `main` to
/// say once the dashboard's screen is gone.
pub fn unopened_file() -> Option<String> {
    UNOPENED
        .get()
        .map(|why| format!("the dashboard could not open its log file ({why}): its log lines, if any, were dropped"))
}

/// Whether lines on stderr carry colour: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (no-color.org).
fn colour(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Writes every line still waiting and stops `serve`'s log writer: `serve` calls it before it
/// says it stopped, and `main` before it exits. Events after it are dropped.
pub fn finish() {
    drop(WRITER.lock().unwrap_or_else(PoisonError::into_inner).take());
}

/// `serve`'s subscriber, writing its lines to `writer`.
fn json_lines<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The lines `serve`'s subscriber writes while `log` runs.
    fn lines_of(log: impl FnOnce()) -> Vec<String> {
        let written = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&written);
        let subscriber = json_lines(EnvFilter::new("trace"), move || Sink(Arc::clone(&sink)));
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_on_stderr_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsString::new())), "an empty NO_COLOR asks for nothing");
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
        assert!(!colour(false, Some("1".into())));
    }

    #[test]
    fn serves_lines_carry_no_colour_codes_even_from_the_log_facade() {
        let _ = tracing_log::LogTracer::init();
        let lines = lines_of(|| {
            tracing::warn!(target: "orders::api", error = "boom", "busy");
            log::warn!(target: "sqlx::pool::acquire", "acquired connection, but time to acquire exceeded slow threshold");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|line| !line.contains('\x1b')), "{lines:?}");
    }

    #[test]
    fn an_event_is_one_json_object_with_its_fields_in_order_between_level_and_target() {
        let lines = lines_of(|| {
            tracing::info!(target: "orders::api", method = "GET", status = 200u16, latency_ms = 0.25, ok = true, "request");
            tracing::warn!(odd = "quote \" backslash \\ newline \n bell \u{7} é", debug = ?Some(-3), "second");
        });
        assert_eq!(lines.len(), 2);
        let order = ["{\"timestamp\":", "\"level\":", "\"message\":", "\"method\":", "\"status\":", "\"target\":"];
        let positions: Vec<usize> = order.iter().map(|key| lines[0].find(key).unwrap_or(usize::MAX)).collect();
        assert!(positions.is_sorted() && positions[5] < usize::MAX, "{}", lines[0]);
        let lines: Vec<serde_json::Value> =
            lines.iter().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))).collect();
        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "request");
        assert_eq!((first["method"].as_str(), first["status"].as_u64()), (Some("GET"), Some(200)));
        assert_eq!((first["latency_ms"].as_f64(), first["ok"].as_bool()), (Some(0.25), Some(true)));
        assert_eq!(first["target"], "orders::api");
        let at = first["timestamp"].as_str().unwrap();
        assert!(at.len() == 27 && at.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        assert_eq!(lines[1]["odd"], "quote \" backslash \\ newline \n bell \u{7} é");
        assert_eq!(lines[1]["debug"], "Some(-3)");
        let quoted = lines_of(|| tracing::info!(text = ?"a \"b\"", "m"));
        assert!(quoted[0].contains(r#""text":"\"a \\\"b\\\"\"""#), "{}", quoted[0]);
        assert_eq!(lines[1]["level"], "WARN");
        let _ = tracing_log::LogTracer::init();
        let from_log = lines_of(|| log::info!(target: "sqlx::query", "slow statement"));
        let from_log: serde_json::Value = serde_json::from_str(&from_log[0]).unwrap();
        assert_eq!((from_log["target"].as_str(), from_log["level"].as_str()), (Some("sqlx::query"), Some("INFO")));
        assert_eq!(from_log["message"], "slow statement");
        // Beside the `log` facade's own `log.*` fields, the keys of any other event.
        let keys = from_log.as_object().unwrap().keys().filter(|key| !key.starts_with("log."));
        assert_eq!(keys.collect::<Vec<_>>(), ["level", "message", "target", "timestamp"], "{from_log}");
    }
}
