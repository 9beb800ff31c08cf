//! Where `orders serve` writes its log: stderr, with the one line per request gathered and
//! written in batches.
//!
//! Written one by one, each request line was a `write` system call of its own (and, when
//! stderr is a pipe to a log collector, a wake-up of that process), and the two tokio workers
//! queued on stderr's lock: strace counted 1.03 `write` and 0.55 `futex` calls per
//! `GET /orders/{id}`. Request lines ([`request_line`]) now wait in a buffer that is written
//! when it holds [`BATCH`] bytes, every [`INTERVAL`] by a flusher thread, and by [`flush`],
//! which `serve` calls before it says it stopped. Every other line (the tracing events:
//! warnings, errors, shutdown) is written at once, after whatever waits, so lines keep their
//! order. A process killed with SIGKILL loses at most the last [`INTERVAL`] of request lines.

use std::io;
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Request lines wait at most this long.
const INTERVAL: Duration = Duration::from_millis(100);
/// A buffer this full is written at once.
const BATCH: usize = 32 * 1024;
/// The target of the per-request lines (`json_log::RequestLine`): `RUST_LOG` lets them through
/// as if they were INFO events of it, so `RUST_LOG=orders::api=warn` still silences them.
pub const REQUEST_TARGET: &str = "orders::api::request";

/// The request lines waiting for stderr.
static STDERR: Mutex<Batch<ToStderr>> = Mutex::new(Batch { pending: Vec::new(), out: ToStderr });

/// The `MakeWriter` of `serve`'s subscriber: its lines go out at once, after what waits.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchedStderr;

impl BatchedStderr {
    /// This writer, with its flusher thread started (once per process).
    pub fn start() -> Self {
        static FLUSHER: Once = Once::new();
        FLUSHER.call_once(|| {
            let flusher = std::thread::Builder::new().name("log-flush".to_owned()).spawn(|| {
                loop {
                    std::thread::sleep(INTERVAL);
                    flush();
                }
            });
            // Without the thread, lines still go out once BATCH bytes wait, and at stop.
            if let Err(e) = flusher {
                eprintln!("orders: log lines will be written in batches only: cannot start the flusher: {e}");
            }
        });
        Self
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line
    }
}

/// One tracing event's line on its way to stderr.
#[derive(Debug)]
pub struct Line;

impl io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        stderr().add(buf, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Adds one request's line to the batch.
pub fn request_line(line: &[u8]) {
    let _ = stderr().add(line, true);
}

/// Writes every waiting line to stderr now.
pub fn flush() {
    let _ = stderr().write_out();
}

fn stderr() -> MutexGuard<'static, Batch<ToStderr>> {
    STDERR.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lines on their way to `out`: those that wait are kept until [`BATCH`] bytes wait or
/// another line comes that does not.
struct Batch<W> {
    pending: Vec<u8>,
    out: W,
}

impl<W: io::Write> Batch<W> {
    fn add(&mut self, line: &[u8], waits: bool) -> io::Result<()> {
        self.pending.extend_from_slice(line);
        if waits && self.pending.len() < BATCH { Ok(()) } else { self.write_out() }
    }

    /// Writes what waits and empties the batch, written or not: a line that cannot be
    /// written is dropped, as an unbuffered write would drop it.
    fn write_out(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.out.write_all(&self.pending);
        self.pending.clear();
        if self.pending.capacity() > 4 * BATCH {
            self.pending.shrink_to(BATCH);
        }
        written
    }
}

/// Process stderr, locked for each batch.
struct ToStderr;

impl io::Write for ToStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        io::stderr().lock().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_lines_go_out_before_the_next_line_that_does_not_wait_or_when_the_batch_is_full() {
        let mut batch = Batch { pending: Vec::new(), out: Vec::new() };
        batch.add(b"request 1\n", true).unwrap();
        batch.add(b"request 2\n", true).unwrap();
        assert!(batch.out.is_empty(), "request lines wait");
        batch.add(b"warning\n", false).unwrap();
        assert_eq!(batch.out, b"request 1\nrequest 2\nwarning\n", "in their order");
        assert!(batch.pending.is_empty());

        let long = vec![b'x'; BATCH - 1];
        batch.add(&long, true).unwrap();
        assert_eq!(batch.out.len(), 28, "one byte short of a full batch waits");
        batch.add(b"\n", true).unwrap();
        assert_eq!(batch.out.len(), 28 + BATCH, "a full batch is written");
        batch.add(b"last\n", true).unwrap();
        batch.write_out().unwrap();
        assert!(batch.out.ends_with(b"last\n") && batch.pending.is_empty(), "a flush writes what waits");
    }
}
