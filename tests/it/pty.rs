//! The real binary in a pseudo-terminal (expectrl), its screen read through a terminal emulator
//! (vt100), with every byte it wrote kept: what the dashboard's end-to-end tests drive.

use std::io::{ErrorKind, Write as _};
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;

use crate::helpers::TestDb;

/// How long any one screen may take to appear, or the program to end, before the test gives
/// up (a hang, not a timing assertion: a slow machine only takes longer).
pub const PATIENCE: Duration = Duration::from_secs(120);

/// `orders` with `args` in `db`'s folder, on its database, as a person at a terminal would run
/// it: no configuration file, no token or API from the environment, UTC, no colour, and the
/// dashboard's log in the test's own state folder (`db.dir/state`).
pub fn orders_command(db: &TestDb, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orders"));
    command.args(args);
    as_a_person_runs_it(&mut command, db);
    command
}

/// Gives `command` the environment of [`orders_command`].
pub fn as_a_person_runs_it<'c>(command: &'c mut Command, db: &TestDb) -> &'c mut Command {
    command
        .current_dir(db.dir.path())
        .env_remove("ORDERS_CONFIG")
        .env("ORDERS__DATABASE__URL", &db.url)
        .env("XDG_CONFIG_HOME", db.dir.path().join("config"))
        .env("XDG_STATE_HOME", db.dir.path().join("state"))
        .env_remove("ORDERS_TOKEN")
        .env_remove("ORDERS__CLIENT__API")
        .env_remove("RUST_LOG")
        .env("TZ", "UTC")
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
}

/// A program running in a pseudo-terminal of `cols` × `rows`.
pub struct Tty {
    session: expectrl::session::OsSession,
    screen: vt100::Parser,
    /// Every byte the program wrote to the terminal so far.
    pub raw: Vec<u8>,
}

impl Tty {
    /// Starts `command` in a pseudo-terminal of `cols` × `rows`.
    pub fn spawn(command: Command, cols: u16, rows: u16) -> Self {
        let mut session = expectrl::Session::spawn(command).expect("the program starts in a pty");
        session.get_process_mut().set_window_size(cols, rows).expect("the pty's size");
        Self { session, screen: vt100::Parser::new(rows, cols, 0), raw: Vec::new() }
    }

    /// Reads what the program wrote so far; false once it has closed the terminal.
    pub fn pump(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        loop {
            match self.session.try_read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    self.screen.process(&buf[..n]);
                    self.raw.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(_) => return false, // EIO: the process has closed the pty
            }
        }
    }

    /// The screen's text.
    pub fn contents(&self) -> String {
        self.screen.screen().contents()
    }

    /// Waits until the screen shows `text`.
    pub fn wait_for(&mut self, text: &str) {
        self.wait_until(&format!("showing {text:?}"), |screen| screen.contains(text));
    }

    /// Waits until `done` holds for the screen's text; `what` names it in the failure.
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let open = self.pump();
            if done(&self.contents()) {
                return;
            }
            assert!(open, "the program ended before {what}:\n{}", self.contents());
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("the screen never got to {what}:\n{}", self.contents());
    }

    /// Keeps reading the terminal for `how_long`, whatever it shows.
    pub fn watch(&mut self, how_long: Duration) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            self.pump();
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Types `keys`.
    pub fn send(&mut self, keys: &str) {
        self.session.write_all(keys.as_bytes()).expect("keys reach the pty");
        self.session.flush().expect("keys reach the pty");
    }

    /// Reads the terminal until the program has ended and every writer has closed it (a
    /// shell's children too); how it ended. A program still running after [`PATIENCE`] is
    /// killed and fails the test.
    pub fn wait_for_end(&mut self) -> WaitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.session.get_process().status().expect("the program's status");
            let open = self.pump();
            if status != WaitStatus::StillAlive && !open {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.session.get_process_mut().exit(true);
                panic!("the program did not end:\n{}", self.contents());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Waits for the program to end and asserts that it exited 0.
    pub fn assert_exited_cleanly(&mut self) {
        let process = self.session.get_process().pid();
        let status = self.wait_for_end();
        assert_eq!(status, WaitStatus::Exited(process, 0), "{}", self.contents());
    }

    /// [`Tty::assert_exited_cleanly`], and the dashboard gave the terminal back as it found
    /// it: the alternate screen left, mouse capture released, the cursor shown.
    pub fn assert_exited_and_restored(&mut self) {
        self.assert_exited_cleanly();
        let raw = String::from_utf8_lossy(&self.raw);
        assert!(raw.contains("\x1b[?1049l"), "the alternate screen is left");
        assert!(raw.contains("\x1b[?1000l"), "mouse capture is released");
        assert!(raw.contains("\x1b[?25h"), "the cursor is shown again");
    }
}
