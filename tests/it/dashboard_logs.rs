//! No log line on the dashboard's screen: the real binary's dashboard in a pseudo-terminal
//! (expectrl, its screen read through vt100), on PostgreSQL through a TCP proxy the test
//! controls, whose database the proxy takes away twice — once holding new connections (a
//! database being restarted: sqlx then warns that a connection took long to acquire), once
//! closing them (the status bar names the problem). Every byte the dashboard writes is
//! checked for log text, and its log file for the lines. On SQLite there is no connection to
//! cut (and a lock on a WAL database does not stop its readers). On both, the dashboard, local
//! or remote, logs at DEBUG (sqlx's every statement, the HTTP client's every connection), and
//! none of it reaches the screen, all of it the file; and a log file that cannot be opened is
//! said on the terminal once the dashboard has left it.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::api_helpers::{Server, refresh_token};
use crate::helpers::TestDb;
use crate::pty::{PATIENCE, Tty, orders_command};

/// How long each cut lasts: longer than sqlx's 2 s "slow acquire" threshold, shorter than the
/// store's 5 s acquire timeout (as the 2.5 s outage of issue 18).
const CUT: Duration = Duration::from_secs(3);

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards them to the database.
    Open,
    /// Drops open ones; holds new ones unanswered until it opens again.
    Hold,
    /// Drops open ones and closes new ones at once.
    Refuse,
}

/// A TCP proxy to PostgreSQL on a runtime of its own, stopped when dropped.
struct Proxy {
    addr: std::net::SocketAddr,
    mode: watch::Sender<Mode>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the proxy listens");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watching) = watch::channel(Mode::Open);
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("a tokio listener");
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream.clone(), watching.clone()));
            }
        });
        Self { addr, mode, runtime: Some(runtime) }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Dropped inside the test's runtime, where a runtime may not block to shut down.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// One client connection, as the proxy's mode says, until the mode cuts it.
async fn forward(mut client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    let Ok(now) = mode.wait_for(|mode| *mode != Mode::Hold).await.map(|mode| *mode) else { return };
    if now == Mode::Refuse {
        let _ = client.shutdown().await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = mode.wait_for(|mode| *mode != Mode::Open) => {} // dropping both ends cuts it
    }
}

/// The dashboard on `url` (`db`'s, or through a proxy), at `rust_log` when given, refreshed by
/// the test's `r` only.
fn open(db: &TestDb, url: &str, rust_log: Option<&str>) -> Tty {
    let mut command = orders_command(db, &[]);
    command.env("ORDERS__DATABASE__URL", url).env("ORDERS__TUI__REFRESH", "1h");
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    Tty::spawn(command, 100, 30)
}

/// No log text among all the bytes the dashboard wrote to its terminal so far.
fn assert_no_log_text(tty: &Tty) {
    let raw = String::from_utf8_lossy(&tty.raw);
    for text in ["WARN", "ERROR", "INFO", "DEBUG", "sqlx", "slow threshold"] {
        assert!(!raw.contains(text), "{text:?} reached the dashboard's terminal:\n{}", tty.contents());
    }
}

/// Quits the dashboard with `q`: it exits 0.
fn quit(tty: &mut Tty) {
    tty.send("q");
    tty.assert_exited_cleanly();
}

/// The dashboard's log: its directory under the test's XDG_STATE_HOME, and all its files' text.
fn log_of(db: &TestDb) -> (PathBuf, String) {
    let dir = db.dir.path().join("state").join("orders");
    let mut text = String::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    (dir, text)
}

/// Waits until the dashboard's log holds `line`.
fn wait_for_log_line(db: &TestDb, tty: &mut Tty, line: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, text) = log_of(db);
        if text.contains(line) {
            return text;
        }
        assert!(Instant::now() < deadline, "the log never got {line:?}:\n{text}");
        tty.watch(Duration::from_millis(100));
        assert_no_log_text(tty);
    }
}

/// The directory is the owner's only (0700), and so is every file in it (0600).
fn assert_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

/// `url` (PostgreSQL) with its host and port replaced by `addr`.
fn through(url: &str, addr: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map_or(String::new(), |(user, _)| format!("{user}@"));
    format!("{scheme}://{user}{addr}/{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_cut_under_the_dashboard_shows_in_its_status_bar_and_its_log_file_never_on_its_screen() {
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // SQLite has no connection to cut: see the next test
    }
    db.cli().arg("seed").assert().success();
    let options = PgConnectOptions::from_str(&db.url).expect("a PostgreSQL URL");
    let proxy = Proxy::start(format!("{}:{}", options.get_host(), options.get_port()));
    let mut tty = open(&db, &through(&db.url, proxy.addr), None);
    let rows_without_failure =
        |screen: &str| screen.contains("2022-11-01 17:11:11.111") && !screen.contains("database unavailable");
    tty.wait_until("the seeded orders", rows_without_failure);

    // A database being restarted: connections wait, then one comes after sqlx's slow threshold.
    proxy.set(Mode::Hold);
    tty.send("r");
    tty.wait_until("the refresh under way", |screen| screen.contains("working…"));
    tty.watch(CUT);
    proxy.set(Mode::Open);
    let log = wait_for_log_line(&db, &mut tty, "time to acquire exceeded slow threshold");
    assert!(log.contains(" WARN ") && log.contains("sqlx::pool::acquire"), "{log}");
    tty.send("r");
    tty.wait_until("the orders after the restart", rows_without_failure);
    assert_no_log_text(&tty);

    // A database that refuses: the status bar says so, and clears once it answers again.
    proxy.set(Mode::Refuse);
    tty.send("r");
    tty.wait_until("the failure in the status bar", |screen| screen.contains("database unavailable"));
    tty.watch(CUT);
    assert_no_log_text(&tty);
    proxy.set(Mode::Open);
    tty.send("r");
    tty.wait_until("the orders, with the failure gone from the status bar", rows_without_failure);

    quit(&mut tty);
    assert_no_log_text(&tty);
    assert_private(&log_of(&db).0);
}

#[tokio::test]
async fn every_log_line_of_the_dashboard_goes_to_its_file_and_none_to_its_screen() {
    logs_to_its_file_only(false).await;
}

#[tokio::test]
async fn every_log_line_of_a_remote_dashboard_goes_to_its_file_and_none_to_its_screen() {
    logs_to_its_file_only(true).await;
}

/// The dashboard on a seeded database, or with `remote` on a live `orders serve` on it, logging
/// at DEBUG: sqlx's every statement, or the HTTP client's every connection.
async fn logs_to_its_file_only(remote: bool) {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    let _server = remote.then(|| {
        let server = Server::start(&db);
        let token = refresh_token(&db, "alice", "reader");
        db.cli().args(["login", &server.base]).write_stdin(token).assert().success();
        server
    });
    let mut tty = open(&db, &db.url, Some("debug"));
    tty.wait_until("the seeded orders", |screen| screen.contains("2022-11-01 17:11:11.111"));
    tty.send("r");
    let log = wait_for_log_line(&db, &mut tty, if remote { "reqwest::" } else { "sqlx::query" });
    assert!(log.contains(" DEBUG ") && log.lines().count() > 1, "{log}");
    assert!(!log.contains('\x1b'), "the file carries no colour codes:\n{log}");
    quit(&mut tty);
    assert_no_log_text(&tty);
    assert_private(&log_of(&db).0);
}

#[tokio::test]
async fn a_log_file_that_cannot_be_opened_is_said_once_the_dashboard_has_closed_never_on_its_screen() {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    std::fs::write(db.dir.path().join("state"), "a file where the state directory would be").unwrap();
    let mut tty = open(&db, &db.url, Some("debug"));
    tty.wait_until("the seeded orders", |screen| screen.contains("2022-11-01 17:11:11.111"));
    tty.send("r");
    tty.watch(Duration::from_millis(500));
    assert!(!tty.contents().contains("log file"), "{}", tty.contents());
    quit(&mut tty);
    let raw = String::from_utf8_lossy(&tty.raw);
    let restored = raw.rfind("\x1b[?1049l").expect("the alternate screen is left");
    let after = &raw[restored..];
    assert!(after.contains("orders: the dashboard could not open its log file (cannot create "), "{after:?}");
    assert!(after.contains("its log lines, if any, were dropped"), "{after:?}");
    assert_no_log_text(&tty);
}
