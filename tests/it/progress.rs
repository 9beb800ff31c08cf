//! Progress on stderr for `import` and `export`: with a pseudo-terminal as stderr (expectrl,
//! the screen read through vt100) the bar is drawn and cleared before the command ends; with
//! stderr a pipe nothing is drawn, and stdout is the same byte for byte.

use std::path::{Path, PathBuf};

use expectrl::process::unix::WaitStatus;

use orders::auth::Role;

use crate::api_helpers::{Server, tokens};
use crate::helpers::TestDb;
use crate::pty::{Tty, as_a_person_runs_it};

/// Records in the test file: enough for many read buffers and batches.
const RECORDS: usize = 3_000;

/// `orders` run through `sh -c SCRIPT` in a pseudo-terminal (`$0` is the binary), read to its
/// end: what it drew, the screen it left, and how it ended.
struct Run {
    raw: String,
    screen: String,
    status: WaitStatus,
}

fn in_terminal(db: &TestDb, script: &str, env: &[(&str, &str)]) -> Run {
    let mut command = std::process::Command::new("sh");
    command.args(["-c", script, env!("CARGO_BIN_EXE_orders")]);
    as_a_person_runs_it(&mut command, db).envs(env.iter().copied());
    let mut tty = Tty::spawn(command, 120, 30);
    let status = tty.wait_for_end();
    Run { raw: String::from_utf8_lossy(&tty.raw).into_owned(), screen: tty.contents(), status }
}

impl Run {
    fn assert_succeeded(&self) {
        assert!(matches!(self.status, WaitStatus::Exited(_, 0)), "{:?}, screen:\n{}", self.status, self.screen);
    }
}

/// `RECORDS` orders 4 h apart, in the export shape, as NDJSON.
fn write_orders(dir: &Path) -> PathBuf {
    let path = dir.join("orders.ndjson");
    let lines: String = (0..RECORDS)
        .map(|i| {
            let day = i / 6;
            let (year, month, mday) = (2001 + day / 336, 1 + day / 28 % 12, 1 + day % 28);
            format!(
                "{{\"id\":{},\"datetime\":\"{year}-{month:02}-{mday:02}T{:02}:00:00Z\",\"totalfee\":{}.25,\
                 \"services\":[{{\"id\":123,\"name\":\"Inspection\"}},{{\"id\":456,\"name\":\"Analysis\"}}]}}\n",
                i + 1,
                i % 6 * 4,
                i % 500
            )
        })
        .collect();
    std::fs::write(&path, lines).expect("the test file is written");
    path
}

#[tokio::test]
async fn an_import_on_a_terminal_shows_progress_and_clears_it_before_it_reports() {
    let db = TestDb::new().await;
    db.cli().arg("migrate").assert().success();
    write_orders(db.dir.path());

    let run = in_terminal(&db, r#"exec "$0" import orders.ndjson"#, &[]);

    run.assert_succeeded();
    assert!(run.raw.contains("importing ["), "the bar is drawn:\n{}", run.raw);
    assert!(run.raw.contains("orders read"), "records are counted:\n{}", run.raw);
    let report = format!("orders: imported {RECORDS} orders (2 new services)");
    assert!(run.screen.contains(&report), "the report is shown:\n{}", run.screen);
    assert!(
        !run.screen.contains("importing") && !run.screen.contains("writing"),
        "the bar is cleared:\n{}",
        run.screen
    );
}

#[tokio::test]
async fn an_import_from_standard_input_on_a_terminal_shows_progress_too() {
    let db = TestDb::new().await;
    db.cli().arg("migrate").assert().success();
    write_orders(db.dir.path());

    let run = in_terminal(&db, r#"exec "$0" import - < orders.ndjson"#, &[]);

    run.assert_succeeded();
    assert!(run.raw.contains("importing ["), "the bar is drawn:\n{}", run.raw);
    assert!(run.screen.contains(&format!("orders: imported {RECORDS} orders")), "{}", run.screen);
    assert!(!run.screen.contains("importing"), "the bar is cleared:\n{}", run.screen);
}

#[tokio::test]
async fn an_import_with_stderr_a_pipe_says_what_it_always_said_and_draws_nothing() {
    let db = TestDb::new().await;
    db.cli().arg("migrate").assert().success();
    let file = write_orders(db.dir.path());

    let output = db.cli().arg("import").arg(&file).output().expect("import runs");

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("orders: imported {RECORDS} orders (2 new services)\n")
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn an_export_to_a_file_from_a_terminal_shows_progress_and_writes_what_a_pipe_gets() {
    exports_with_progress(false).await;
}

#[tokio::test]
async fn a_remote_export_to_a_file_from_a_terminal_shows_progress_and_writes_what_a_pipe_gets() {
    exports_with_progress(true).await;
}

/// Exports `RECORDS` orders to a file from a terminal and through a pipe, on the database or,
/// with `remote`, through a live `orders serve` on it with a reader's token.
async fn exports_with_progress(remote: bool) {
    let db = TestDb::new().await;
    db.cli().arg("migrate").assert().success();
    let file = write_orders(db.dir.path());
    db.cli().arg("import").arg(&file).assert().success();
    let server = remote.then(|| Server::start(&db));
    let token = tokens().access_token("tester", Role::Reader, None).expect("a token").0;
    let api = server.as_ref().map_or(String::new(), |server| server.base.clone());
    let (script, env) = match remote {
        true => (
            r#"exec "$0" --api "$API" export > exported.ndjson"#,
            vec![("API", api.as_str()), ("ORDERS_TOKEN", token.as_str())],
        ),
        false => (r#"exec "$0" export > exported.ndjson"#, vec![]),
    };

    let run = in_terminal(&db, script, &env);
    let mut piped = db.cli();
    piped.envs(env.iter().copied());
    if remote {
        piped.args(["--api", &api]);
    }
    let piped = piped.arg("export").output().expect("export runs");

    run.assert_succeeded();
    assert!(run.raw.contains("exporting ") && run.raw.contains(" orders"), "the spinner is drawn:\n{}", run.raw);
    assert!(!run.screen.contains("exporting"), "the bar is cleared:\n{}", run.screen);
    assert!(piped.status.success());
    assert!(piped.stderr.is_empty(), "nothing on a piped stderr: {}", String::from_utf8_lossy(&piped.stderr));
    let from_terminal = std::fs::read(db.dir.path().join("exported.ndjson")).expect("the export's file");
    assert_eq!(from_terminal, piped.stdout, "the same orders, byte for byte");
    assert_eq!(piped.stdout.iter().filter(|b| **b == b'\n').count(), RECORDS);
}

#[tokio::test]
async fn an_export_onto_the_terminal_itself_draws_no_bar_among_the_orders() {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();

    let run = in_terminal(&db, r#"exec "$0" export"#, &[]);

    run.assert_succeeded();
    assert!(!run.raw.contains("exporting"), "no bar:\n{}", run.raw);
    assert!(run.screen.contains("\"id\":225"), "the orders are written:\n{}", run.screen);
}
