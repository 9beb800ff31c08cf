//! The log format of `orders serve`: one JSON object per event and line — `timestamp` (UTC,
//! microseconds), `level`, the event's fields in order (`message` first), `target` — the shape
//! tracing-subscriber's JSON formatter with flattened events printed, written directly.
//!
//! Every request logs one such line, and tracing-subscriber's JSON formatter (each field
//! through `tracing-serde`, serde_json and a `fmt::Write` adaptor) cost more than the rest of
//! the line's work together: callgrind put it at 16 % of the server's instructions for
//! `GET /orders/{id}`. This one puts the line together in one String. Spans are not written:
//! `orders` opens none. The per-request line itself ([`RequestLine`]) skips tracing's field
//! visitor and is written in the same shape directly.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::log_sink::REQUEST_TARGET;

/// The event formatter (`tracing_subscriber::fmt().event_format(JsonLines)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        // An event from the `log` crate (sqlx logs through it) names its own target and level;
        // its `log.*` fields are that bookkeeping, not content.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        // The line is put together in a String and handed to `writer` once: each write into
        // `writer` is a dynamic call, and writing the pieces straight into it cost ~2,000 more
        // instructions per request (callgrind, GET /orders/{id}). Writing to a String cannot fail.
        let mut fields = Fields { line: line_start(*meta.level()) };
        event.record(&mut fields);
        writer.write_str(&line_end(fields.line, meta.target()))
    }
}

/// `{"timestamp":"…","level":"…"`: how every line begins.
fn line_start(level: Level) -> String {
    let mut line = String::with_capacity(256);
    let now = humantime::format_rfc3339_micros(std::time::SystemTime::now());
    let _ = write!(line, "{{\"timestamp\":\"{now}\",\"level\":\"{}\"", level.as_str());
    line
}

/// `,"target":"…"}` and the newline: how every line ends.
fn line_end(mut line: String, target: &str) -> String {
    line.push_str(",\"target\":");
    write_string(&mut line, target);
    line.push_str("}\n");
    line
}

/// One request's log line (`api::observe`), written without going through tracing's field
/// visitor: the line `tracing::info!(target: REQUEST_TARGET, method, route, path, status,
/// latency_ms, request_id, "request")` gives through [`JsonLines`], in ~1,500 fewer
/// instructions than that event's ~6,000 (callgrind, `GET /orders/{id}`).
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// The request method.
    pub method: &'a str,
    /// The route template that answered (`/orders/{id}`).
    pub route: &'a str,
    /// The path as requested.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// From the request's arrival to its response, milliseconds.
    pub latency_ms: f64,
    /// The request id sent back in `x-request-id`.
    pub request_id: &'a str,
}

impl RequestLine<'_> {
    /// The line, with its newline.
    pub fn to_json(&self) -> String {
        let mut line = line_start(Level::INFO);
        line.push_str(",\"message\":\"request\",\"method\":");
        write_string(&mut line, self.method);
        line.push_str(",\"route\":");
        write_string(&mut line, self.route);
        line.push_str(",\"path\":");
        write_string(&mut line, self.path);
        line.push_str(",\"status\":");
        line.push_str(itoa::Buffer::new().format(self.status));
        line.push_str(",\"latency_ms\":");
        write_f64(&mut line, self.latency_ms);
        line.push_str(",\"request_id\":");
        write_string(&mut line, self.request_id);
        line_end(line, REQUEST_TARGET)
    }

    /// Writes the line to `serve`'s stderr when `RUST_LOG` lets INFO of [`REQUEST_TARGET`]
    /// through (the default).
    pub fn log(&self) {
        if tracing::enabled!(target: REQUEST_TARGET, Level::INFO) {
            crate::log_sink::request_line(self.to_json().as_bytes());
        }
    }
}

/// Appends `,"name":value` for each field but the `log.*` ones. Numbers go through itoa and
/// ryu and strings are copied whole when they need no escape: through `core::fmt` the
/// request line's fields cost ~4,000 instructions (callgrind, `GET /orders/{id}`).
struct Fields {
    line: String,
}

impl Fields {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut String)) {
        if field.name().starts_with("log.") {
            return;
        }
        self.line.push(',');
        write_string(&mut self.line, field.name());
        self.line.push(':');
        value(&mut self.line);
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |out| write_f64(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |out| out.push_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |out| out.push_str(itoa::Buffer::new().format(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |out| out.push_str(if value { "true" } else { "false" }));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |out| write_string(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |out| {
            out.push('"');
            let _ = write!(Escaped(&mut *out), "{value:?}");
            out.push('"');
        });
    }
}

/// Writes `value` as a JSON number (ryu's shortest digits), or `null` when it is not finite.
fn write_f64(out: &mut String, value: f64) {
    let mut digits = ryu::Buffer::new();
    out.push_str(if value.is_finite() { digits.format_finite(value) } else { "null" });
}

/// Writes `text` as a JSON string.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    write_escaped(out, text);
    out.push('"');
}

/// Writes `text` with JSON string escapes: runs that need none are copied whole. Most text
/// needs none, which one pass without an early exit (vectorised) tells.
fn write_escaped(out: &mut String, text: &str) {
    let needs_escape = |b: u8| b == b'"' || b == b'\\' || b < b' ';
    if !text.bytes().fold(false, |any, b| any | needs_escape(b)) {
        out.push_str(text);
        return;
    }
    let mut rest = text;
    while let Some(at) = rest.bytes().position(needs_escape) {
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => {
                let _ = write!(out, "\\u{control:04x}");
            }
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// A `fmt::Write` that escapes what is written into it (for `Debug` values).
struct Escaped<W>(W);

impl Write for Escaped<&mut String> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(self.0, text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The lines written while `log` runs.
    fn lines_of(log: impl FnOnce()) -> Vec<String> {
        let written = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&written);
        let subscriber =
            tracing_subscriber::fmt().event_format(JsonLines).with_writer(move || Sink(Arc::clone(&sink))).finish();
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
    fn a_request_line_is_the_line_its_tracing_event_would_give() {
        let (method, route, path, status, latency_ms) = ("GET", "/orders/{id}", "/orders/7?x=\"q\"", 200u16, 1.25);
        let request_id = "id \\ with \" escapes";
        let direct = RequestLine { method, route, path, status, latency_ms, request_id }.to_json();
        let traced = lines_of(|| {
            tracing::info!(target: REQUEST_TARGET, method, route, path, status, latency_ms, request_id, "request");
        });
        let without_timestamp = |line: &str| line.split_once(",\"level\"").map(|(_, rest)| rest.to_owned());
        assert!(direct.ends_with('\n'));
        assert_eq!(without_timestamp(direct.trim_end()), without_timestamp(&traced[0]));
        assert!(without_timestamp(&traced[0]).is_some(), "{traced:?}");
        let parsed: serde_json::Value = serde_json::from_str(&direct).unwrap();
        assert_eq!((parsed["request_id"].as_str(), parsed["path"].as_str()), (Some(request_id), Some(path)));
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
        assert!(from_log.as_object().unwrap().keys().all(|key| !key.starts_with("log.")), "{from_log}");
    }
}
