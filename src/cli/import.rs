//! `orders import FILE|-`: NDJSON (or one JSON array) in the export shape, parsed record by
//! record as the store writes them, so an error names the line (or element) of the first bad
//! record and nothing is written.
//!
//! The import holds the store's write lock from its first record to its last, so it never
//! waits on its input meanwhile (docs/limits.md): standard input, a FIFO or any other file
//! that is not a regular file is read to its end into a temporary file (in `$TMPDIR`, removed
//! on exit) before the import begins. A regular file is read as the import goes: reading it
//! waits on the disk only, never on whoever wrote it, and copying it first would cost its size
//! again in time and space.
//!
//! On a terminal, stderr shows the bytes read and records parsed, then the store's writing
//! (`progress`); elsewhere nothing more than before.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek as _};
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use super::progress::ImportProgress;
use crate::domain::{NewOrder, input};
use crate::error::{Error, Result};
use crate::store::Store;

/// Imports `path` (`-` for standard input) in one transaction, with progress on stderr when
/// it is a terminal (`progress`).
///
/// # Errors
/// The first bad record, named by its line or element number, or a file that cannot be read.
pub async fn run(store: &Store, path: &Path) -> anyhow::Result<()> {
    let progress = ImportProgress::start();
    let cannot_read = || format!("cannot read {}", path.display());
    let file = if path == Path::new("-") {
        spool(io::stdin().lock(), &progress).with_context(cannot_read)?
    } else {
        let file = File::open(path).with_context(cannot_read)?;
        match file.metadata().with_context(cannot_read)?.is_file() {
            true => file,
            false => spool(file, &progress).with_context(cannot_read)?,
        }
    };
    let len = file.metadata().with_context(cannot_read)?.len();
    let mut reader = BufReader::with_capacity(1 << 16, progress.reading(file, len));
    let first = first_non_space(&mut reader).with_context(cannot_read)?;
    let is_array = first == Some(b'[');
    let result = if is_array {
        let elements: Vec<Value> = match serde_json::from_reader(reader) {
            Ok(elements) => elements,
            Err(e) => return Err(Error::invalid("file", format!("is not one JSON array of orders: {e}")).into()),
        };
        let records = elements.into_iter().enumerate().map(|(i, value)| (i + 1, record(&value)));
        store.import(progress.count(records), "import").await
    } else {
        let records = reader.lines().enumerate().filter_map(|(i, line)| match line {
            Ok(line) if line.trim().is_empty() => None,
            Ok(line) => Some((i + 1, parse_line(&line))),
            Err(e) => Some((i + 1, Err(Error::invalid("file", format!("cannot be read: {e}"))))),
        });
        store.import(progress.count(records), "import").await
    };
    drop(progress);
    let unit = if is_array { "element" } else { "line" };
    match result {
        Ok(report) => {
            let orders = counted(report.orders, "order", "orders");
            eprintln!("orders: imported {orders} ({})", counted(report.services, "new service", "new services"));
            Ok(())
        }
        Err(failure) => {
            let error = anyhow::Error::new(failure.error);
            Err(match failure.record {
                Some(n) => error.context(format!("nothing imported: {unit} {n}")),
                None => error.context("nothing imported"),
            })
        }
    }
}

/// Everything `input` holds, copied into an anonymous temporary file, rewound. Without a bar
/// to show, `input` is copied as it is, so the kernel may copy it without this process.
fn spool(mut input: impl Read, progress: &ImportProgress) -> io::Result<File> {
    let mut spooled = tempfile::tempfile()?;
    match progress.is_shown() {
        true => io::copy(&mut progress.spooling(input), &mut spooled)?,
        false => io::copy(&mut input, &mut spooled)?,
    };
    spooled.rewind()?;
    Ok(spooled)
}

fn parse_line(line: &str) -> Result<NewOrder> {
    let value: Value = serde_json::from_str(line).map_err(|e| Error::invalid("record", format!("is not JSON: {e}")))?;
    record(&value)
}

fn record(value: &Value) -> Result<NewOrder> {
    let object = value.as_object().ok_or_else(|| Error::invalid("record", "must be a JSON object (an order)"))?;
    input::import_record(object).map_err(|refused| Error::Invalid(refused.errors))
}

/// The first byte after any whitespace (and a UTF-8 byte order mark, which some editors
/// write at the start of a file), without consuming it.
fn first_non_space(reader: &mut impl BufRead) -> io::Result<Option<u8>> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if reader.fill_buf()?.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    loop {
        let buffer = reader.fill_buf()?;
        let Some(&first) = buffer.first() else { return Ok(None) };
        if first.is_ascii_whitespace() {
            reader.consume(1);
        } else {
            return Ok(Some(first));
        }
    }
}

/// `count` and the noun in its number: `1 order`, `2 orders`.
fn counted(count: impl Into<u64>, one: &str, many: &str) -> String {
    let count = count.into();
    format!("{count} {}", if count == 1 { one } else { many })
}
