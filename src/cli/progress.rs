//! Progress on stderr for the two long commands, `import` and `export` (indicatif), shown only
//! when a person is watching: stderr is a terminal (and, for `export`, stdout is not the same
//! screen). Otherwise the bar is hidden and scripts see exactly what they saw without it.
//!
//! An import shows the bytes of its input read and the records parsed, then, once the last
//! record is handed to the store, a spinner while the store writes and commits; standard input
//! (or a FIFO) is first spooled, under a spinner with the bytes read.
//!
//! An export shows a spinner with the orders written, uncounted: measured on SQLite at 1M
//! orders, a count before the export (66 ms alone) made the export 1.5 s slower (2.5-3.6 s
//! became 4.2-6.2 s; SQLite then read 1.9M pages from the file instead of 14k), and through an
//! API the count would be of another moment than the pages read. The bar is redrawn at most 20
//! times a second and updated per read buffer or per batch of orders, never per byte. It is cleared when the command ends, whether it
//! succeeded or not, and by Ctrl-C, which then ends the process as SIGINT would have.

use std::io::{IsTerminal as _, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{Stream, StreamExt as _};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often a spinner turns while nothing else moves (the store writing, the count).
const SPIN: Duration = Duration::from_millis(100);

/// Orders between two updates of the export's bar: the bar's own rate limit already skips
/// drawing, this spares even asking it.
const EXPORT_STEP: u64 = 256;

const SPOOLING: &str = "{spinner} reading the input: {binary_bytes} ({binary_bytes_per_sec})";
const READING: &str = "{spinner} importing [{wide_bar}] {binary_bytes}/{binary_total_bytes}, {records} orders read";
const WRITING: &str = "{spinner} writing {records} orders…";
const EXPORTING: &str = "{spinner} exporting {human_pos} orders ({per_sec})";

/// The progress of one import: hidden unless stderr is a terminal.
pub(super) struct ImportProgress {
    bar: ProgressBar,
    records: Arc<AtomicU64>,
}

impl ImportProgress {
    /// A hidden bar unless stderr is a terminal.
    pub(super) fn start() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self { bar: ProgressBar::hidden(), records: Arc::default() };
        }
        let bar = visible();
        clear_on_interrupt(&bar);
        Self { bar, records: Arc::default() }
    }

    /// Whether anything is drawn.
    pub(super) fn is_shown(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Shows standard input being spooled; `input` counts what is read from it.
    pub(super) fn spooling<R: Read>(&self, input: R) -> impl Read {
        self.bar.set_style(style(SPOOLING, None));
        self.bar.enable_steady_tick(SPIN);
        self.bar.wrap_read(input)
    }

    /// Shows `input`, `len` bytes long, being read (and its records parsed).
    pub(super) fn reading<R: Read>(&self, input: R, len: u64) -> impl Read {
        self.bar.disable_steady_tick();
        self.bar.set_style(style(READING, Some(&self.records)));
        self.bar.set_length(len);
        self.bar.set_position(0);
        self.bar.reset_eta();
        self.bar.tick();
        self.bar.wrap_read(input)
    }

    /// `records`, counted as the store takes them; when it has taken the last, a spinner says
    /// how many it is writing until the import ends.
    pub(super) fn count<I: Iterator>(&self, records: I) -> impl Iterator<Item = I::Item> {
        Counted { records, count: Arc::clone(&self.records), bar: self.bar.clone(), done: false }
    }
}

impl Drop for ImportProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// An iterator of records that counts them for the bar.
struct Counted<I> {
    records: I,
    count: Arc<AtomicU64>,
    bar: ProgressBar,
    done: bool,
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let next = self.records.next();
        match next {
            Some(_) => {
                self.count.fetch_add(1, Ordering::Relaxed);
            }
            None if !self.done => {
                self.done = true;
                self.bar.set_style(style(WRITING, Some(&self.count)));
                self.bar.enable_steady_tick(SPIN);
            }
            None => {}
        }
        next
    }
}

/// The progress of one export: hidden unless stderr is a terminal and stdout is not one (the
/// orders written on the screen are their own progress, and a bar would be drawn among them).
pub(super) struct ExportProgress {
    bar: ProgressBar,
}

impl ExportProgress {
    /// A hidden bar unless stderr is a terminal and stdout is not.
    pub(super) fn start() -> Self {
        if !std::io::stderr().is_terminal() || std::io::stdout().is_terminal() {
            return Self { bar: ProgressBar::hidden() };
        }
        let bar = visible();
        clear_on_interrupt(&bar);
        bar.set_style(style(EXPORTING, None));
        bar.enable_steady_tick(SPIN);
        Self { bar }
    }

    /// `orders`, counted on the bar as they pass.
    pub(super) fn track<S: Stream>(&self, orders: S) -> impl Stream<Item = S::Item> {
        let bar = self.bar.clone();
        let mut passed = 0u64;
        orders.inspect(move |_| {
            passed += 1;
            if passed.is_multiple_of(EXPORT_STEP) {
                bar.set_position(passed);
            }
        })
    }
}

impl Drop for ExportProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A bar drawn on stderr, once it has a style.
fn visible() -> ProgressBar {
    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
}

/// The style `template` describes, with `{records}` the count `records` holds. The templates
/// are this module's constants (a unit test parses each); should one not parse, a plain
/// spinner rather than a failed command.
fn style(template: &str, records: Option<&Arc<AtomicU64>>) -> ProgressStyle {
    let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner());
    let style = style.progress_chars("=> ");
    match records {
        Some(records) => {
            let records = Arc::clone(records);
            style.with_key("records", move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{}", HumanCount(records.load(Ordering::Relaxed)));
            })
        }
        None => style,
    }
}

/// On Ctrl-C, clears `bar`, says so and ends the process by SIGINT, as it would have ended
/// without the bar (a transaction in progress is rolled back by the database, as then). The
/// handler stays for the rest of the process, which ends with the command.
fn clear_on_interrupt(bar: &ProgressBar) {
    let bar = bar.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            bar.finish_and_clear();
            eprintln!("orders: interrupted");
            let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGINT);
            std::process::exit(130);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for template in [SPOOLING, READING, WRITING, EXPORTING] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn counted_records_pass_unchanged_and_are_counted_once_each() {
        let progress = ImportProgress { bar: ProgressBar::hidden(), records: Arc::default() };
        let passed: Vec<u32> = progress.count([3, 1, 2].into_iter()).collect();
        assert_eq!(passed, [3, 1, 2]);
        assert_eq!(progress.records.load(Ordering::Relaxed), 3);
    }
}
