//! Rendering records for scripts and people: `-o table|json|ndjson|csv`. Listings are written
//! as they are read, so a JSON array of a million orders never sits in memory (a table does,
//! to size its columns; it is meant for terminals).
//!
//! CSV is opened in spreadsheets, which evaluate a cell that starts like a formula (a service
//! named `=HYPERLINK(…)`). Every cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return gets a leading `'` (OWASP's advice on CSV injection), whichever column it is in. No
//! number this writes can start so — fees are ≥ 0, ids, versions and sequence numbers ≥ 1, and
//! datetimes in years 0001–9999 start with a digit — so numbers are never touched, and no
//! cell is let through for looking like a number: a service named `-5` is text, quoted like
//! `-5+A1` would be (what a spreadsheet takes for a number depends on its locale).

use std::io::{self, Write};

use comfy_table::{Table, presets};
use futures_util::{Stream, StreamExt as _};
use serde::Serialize;

use crate::domain::{Event, Order, Service};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    Table,
    /// JSON: an object, or an array for listings.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
}

/// Something a record command prints.
pub trait Record: Serialize {
    /// Column names of the table format.
    const TABLE: &'static [&'static str];
    /// Column names of the CSV format (every field, machine-friendly).
    const CSV: &'static [&'static str];
    /// One table row.
    fn table_row(&self) -> Vec<String>;
    /// One CSV row.
    fn csv_row(&self) -> Vec<String>;
}

fn service_names(services: &[Service]) -> String {
    services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The names in one CSV cell, `;` between them; a `;` or `\` inside a name is escaped with
/// `\`, so the cell splits back into exactly the names (the CSV quoting is the writer's).
fn csv_service_names(services: &[Service]) -> String {
    let escaped = services.iter().map(|s| s.name.replace('\\', "\\\\").replace(';', "\\;"));
    escaped.collect::<Vec<_>>().join(";")
}

fn service_ids(services: &[Service]) -> String {
    services.iter().map(|s| s.id.to_string()).collect::<Vec<_>>().join(";")
}

impl Record for Order {
    const TABLE: &'static [&'static str] = &["id", "datetime", "totalfee", "services", "version"];
    const CSV: &'static [&'static str] =
        &["id", "datetime", "totalfee", "service_ids", "service_names", "version", "created_at", "updated_at"];
    fn table_row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.datetime.to_string(),
            self.totalfee.to_string(),
            service_names(&self.services),
            self.version.to_string(),
        ]
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.datetime.to_string(),
            self.totalfee.to_string(),
            service_ids(&self.services),
            csv_service_names(&self.services),
            self.version.to_string(),
            self.created_at.to_string(),
            self.updated_at.to_string(),
        ]
    }
}

impl Record for Service {
    const TABLE: &'static [&'static str] = &["id", "name"];
    const CSV: &'static [&'static str] = &["id", "name"];
    fn table_row(&self) -> Vec<String> {
        vec![self.id.to_string(), self.name.clone()]
    }
    fn csv_row(&self) -> Vec<String> {
        self.table_row()
    }
}

impl Record for Event {
    const TABLE: &'static [&'static str] = &["seq", "kind", "actor", "at", "datetime", "totalfee", "services"];
    const CSV: &'static [&'static str] = &["seq", "order_id", "kind", "actor", "at", "order"];
    fn table_row(&self) -> Vec<String> {
        let field = |name: &str| match self.order.get(name) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(value) => value.to_string(),
            None => String::new(),
        };
        let services = self.order.get("services").and_then(|s| s.as_array()).map(|services| {
            services.iter().filter_map(|s| s.get("name").and_then(|n| n.as_str())).collect::<Vec<_>>().join(", ")
        });
        vec![
            self.seq.to_string(),
            self.kind.as_str().to_owned(),
            self.actor.clone(),
            self.at.to_string(),
            field("datetime"),
            field("totalfee"),
            services.unwrap_or_default(),
        ]
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.seq.to_string(),
            self.order_id.to_string(),
            self.kind.as_str().to_owned(),
            self.actor.clone(),
            self.at.to_string(),
            self.order.to_string(),
        ]
    }
}

/// Prints one record (the result of `get`, `create`, `update`, `services add` …).
///
/// # Errors
/// When standard output cannot be written.
pub fn print_one<R: Record>(format: Format, record: &R) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, record)?;
            writeln!(out)
        }
        _ => write_all(format, std::slice::from_ref(record), &mut out),
    }
}

/// Prints records already in memory.
///
/// # Errors
/// When standard output cannot be written.
pub fn print_all<R: Record>(format: Format, records: &[R]) -> io::Result<()> {
    write_all(format, records, &mut io::stdout().lock())
}

fn write_all<R: Record>(format: Format, records: &[R], out: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Table => {
            let mut table = Table::new();
            table.load_preset(presets::UTF8_BORDERS_ONLY).set_header(R::TABLE.to_vec());
            for record in records {
                table.add_row(record.table_row());
            }
            writeln!(out, "{table}")
        }
        Format::Json | Format::Ndjson | Format::Csv => {
            let mut writer = Writer::new::<R>(format, out)?;
            records.iter().try_for_each(|record| writer.write(record))?;
            writer.finish()
        }
    }
}

/// Prints records as a stream yields them. A table collects them first.
///
/// # Errors
/// The stream's first error, or a failure to write standard output.
pub async fn print_stream<R, S>(format: Format, stream: S) -> anyhow::Result<()>
where
    R: Record,
    S: Stream<Item = crate::Result<R>>,
{
    let mut stream = std::pin::pin!(stream);
    if format == Format::Table {
        let mut records = Vec::new();
        while let Some(record) = stream.next().await {
            records.push(record?);
        }
        return Ok(print_all(format, &records)?);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut writer = Writer::new::<R>(format, &mut out)?;
    while let Some(record) = stream.next().await {
        writer.write(&record?)?;
    }
    writer.finish()?;
    out.flush()?;
    Ok(())
}

/// Writes a sequence of records in a streaming format, one at a time.
struct Writer<'w, W: Write> {
    format: Format,
    out: &'w mut W,
    written: usize,
}

impl<'w, W: Write> Writer<'w, W> {
    fn new<R: Record>(format: Format, out: &'w mut W) -> io::Result<Self> {
        if format == Format::Csv {
            write_csv_row(out, R::CSV.iter().copied())?;
        }
        Ok(Self { format, out, written: 0 })
    }

    fn write<R: Record>(&mut self, record: &R) -> io::Result<()> {
        match self.format {
            Format::Json => {
                self.out.write_all(if self.written == 0 { b"[\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *self.out, record)?;
            }
            Format::Ndjson | Format::Table => {
                serde_json::to_writer(&mut *self.out, record)?;
                self.out.write_all(b"\n")?;
            }
            Format::Csv => {
                write_csv_row(self.out, record.csv_row().iter().map(String::as_str))?;
            }
        }
        self.written += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<()> {
        match self.format {
            Format::Json if self.written == 0 => self.out.write_all(b"[]\n"),
            Format::Json => self.out.write_all(b"\n]\n"),
            _ => Ok(()),
        }
    }
}

fn write_csv_row<'a>(out: &mut impl Write, cells: impl Iterator<Item = &'a str>) -> io::Result<()> {
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    csv.write_record(cells.map(inert_cell))?;
    csv.flush()
}

/// A cell a spreadsheet will not evaluate: `'` before a leading `=`, `+`, `-`, `@`, tab or CR.
fn inert_cell(cell: &str) -> std::borrow::Cow<'_, [u8]> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into_bytes().into()
    } else {
        cell.as_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Money, Timestamp};

    #[test]
    fn a_csv_row_keeps_service_names_with_commas_semicolons_quotes_and_backslashes_apart() {
        let at = Timestamp::from_millis(0);
        let names = ["a, b", "x;y", r"back\slash", "Radon \"deluxe\""];
        let order = Order {
            id: 7,
            datetime: at,
            totalfee: Money::from_cents(100),
            services: names.iter().zip(1..).map(|(name, id)| Service { id, name: (*name).to_owned() }).collect(),
            version: 1,
            created_at: at,
            updated_at: at,
        };
        let cell = &order.csv_row()[4];
        assert_eq!(cell, r#"a, b;x\;y;back\\slash;Radon "deluxe""#);
        let mut out = Vec::new();
        write_csv_row(&mut out, order.csv_row().iter().map(String::as_str)).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(line.contains(r#","a, b;x\;y;back\\slash;Radon ""deluxe""","#), "{line}");
    }

    fn csv_line(cells: &[&str]) -> String {
        let mut out = Vec::new();
        write_csv_row(&mut out, cells.iter().copied()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_csv_cell_that_starts_like_a_formula_gets_a_leading_quote() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n"),
            ("+1+1", "'+1+1\n"),
            ("-5", "'-5\n"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0\n"),
            ("@SUM(A1)", "'@SUM(A1)\n"),
            ("\tTab", "'\tTab\n"),
            ("\rReturn", "\"'\rReturn\"\n"),
            ("Inspection", "Inspection\n"),
            ("a=b", "a=b\n"),
            ("", "\"\"\n"),
        ] {
            assert_eq!(csv_line(&[cell]), written, "{cell:?}");
        }
    }

    #[test]
    fn numbers_and_datetimes_in_csv_are_written_as_they_are() {
        let at = Timestamp::parse("0001-01-01T00:00:00Z").unwrap();
        let order = Order {
            id: 1,
            datetime: at,
            totalfee: Money::from_cents(0),
            services: vec![Service { id: 9_223_372_036_854_775_807, name: "=1+1".to_owned() }],
            version: 1,
            created_at: at,
            updated_at: Timestamp::MAX,
        };
        assert_eq!(
            csv_line(&order.csv_row().iter().map(String::as_str).collect::<Vec<_>>()),
            "1,0001-01-01T00:00:00.000Z,0,9223372036854775807,'=1+1,1,0001-01-01T00:00:00.000Z,9999-12-31T23:59:59.999Z\n"
        );
    }
}
