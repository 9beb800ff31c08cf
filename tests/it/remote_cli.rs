//! Remote mode through the real binary: `orders login` and `orders logout` with the
//! credentials file, history naming the token's subject, a reader's token refused on a write
//! (exit 7), a spent login (exit 7, "log in again"), an API that goes away (exit 6), and the
//! local-only commands refused (exit 2).

use std::os::unix::fs::PermissionsExt as _;

use orders::auth::Role;
use predicates::prelude::*;
use serde_json::Value;

use crate::api_helpers::{Server, refresh_token, tokens};
use crate::helpers::TestDb;

/// A seeded database with a server on it.
async fn served() -> (Server, TestDb) {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    (Server::start(&db), db)
}

fn credentials(db: &TestDb) -> std::path::PathBuf {
    db.dir.path().join("config/orders/credentials.toml")
}

#[tokio::test]
async fn login_keeps_a_private_login_that_later_commands_use_and_history_names_its_subject() {
    let (server, db) = served().await;
    let token = refresh_token(&db, "alice", "writer");
    let login = db.cli().args(["login", &server.base]).write_stdin(format!("{token}\n")).assert().success();
    let (stdout, stderr) = (&login.get_output().stdout, String::from_utf8_lossy(&login.get_output().stderr));
    assert!(stdout.is_empty());
    assert_eq!(stderr, format!("orders: logged in to {} as alice (writer)\n", server.base));
    let file = credentials(&db);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(!stored.contains(&token), "the refresh token given is spent: the rotated one is kept");

    let updated = db.cli().args(["update", "223", "--fee", "5", "-o", "json"]).assert().success();
    let updated: Value = serde_json::from_slice(&updated.get_output().stdout).unwrap();
    assert_eq!(updated["totalfee"], 5);
    let history = db.cli().args(["history", "223", "-o", "json"]).assert().success();
    let events: Value = serde_json::from_slice(&history.get_output().stdout).unwrap();
    assert_eq!(events[1]["actor"], "alice", "the write is in the token's subject's name");
    for output in [&history.get_output().stdout, &history.get_output().stderr] {
        let text = String::from_utf8_lossy(output);
        assert!(!text.contains(&token) && !text.contains("refresh_token"), "no token is printed: {text}");
    }

    db.cli().arg("logout").assert().success().stderr(format!("orders: logged out of {}\n", server.base));
    assert!(!file.exists());
    db.cli().args(["rules"]).assert().success(); // local again
    db.cli().arg("logout").assert().success().stderr("orders: not logged in\n");
}

#[tokio::test]
async fn a_spent_login_exits_7_and_says_to_log_in_again() {
    let (server, db) = served().await;
    let token = refresh_token(&db, "alice", "writer");
    db.cli().args(["login", &server.base]).write_stdin(token.clone()).assert().success();
    let file = credentials(&db);
    let spent = std::fs::read(&file).unwrap();
    db.cli().args(["get", "223"]).assert().success(); // refreshes: the stored token is used up
    std::fs::write(&file, spent).unwrap();
    db.cli()
        .args(["get", "223"])
        .assert()
        .code(7)
        .stdout("")
        .stderr(predicate::str::contains("log in again").and(predicate::str::contains(&server.base)));
    db.cli().args(["login", &server.base]).write_stdin(token).assert().code(7);
}

#[tokio::test]
async fn a_reader_token_reads_and_every_write_exits_7_with_the_reason() {
    let (server, db) = served().await;
    let reader = tokens().access_token("rita", Role::Reader, None).unwrap().0;
    let remote = || {
        let mut cli = db.cli();
        cli.args(["--api", &server.base]).env("ORDERS_TOKEN", &reader);
        cli
    };
    remote().args(["get", "223"]).assert().success();
    remote().args(["list"]).assert().success();
    for write in [
        &["create", "--fee", "1", "--service", "123", "--datetime", "2030-01-01T00:00:00Z"][..],
        &["update", "223", "--fee", "1"],
        &["delete", "223", "--yes"],
        &["services", "add", "Radon"],
    ] {
        remote()
            .args(write)
            .assert()
            .append_context("command", format!("{write:?}"))
            .code(7)
            .stdout("")
            .stderr(predicate::str::starts_with("orders: role reader may not"));
    }
    db.cli().args(["--api", &server.base]).env("ORDERS_TOKEN", "not-a-token").args(["get", "223"]).assert().code(7);
}

#[tokio::test]
async fn an_api_that_goes_away_exits_6_naming_it() {
    let (server, db) = served().await;
    let token = tokens().access_token("tester", Role::Admin, None).unwrap().0;
    let base = server.base.clone();
    let get = || db.cli().args(["--api", &base, "get", "223"]).env("ORDERS_TOKEN", &token).assert();
    get().success();
    assert!(server.terminate().success());
    get().code(6).stdout("").stderr(predicate::str::starts_with(format!("orders: the API at {base} cannot")));
}

#[tokio::test]
async fn local_only_commands_say_so_and_exit_2_in_remote_mode() {
    let (server, db) = served().await;
    let token = tokens().access_token("tester", Role::Admin, None).unwrap().0;
    for command in [
        &["migrate"][..],
        &["seed"],
        &["import", "-"],
        &["rules"],
        &["rules", "set-gap", "1h"],
        &["serve"],
        &["token", "issue", "--subject", "a", "--role", "reader"],
    ] {
        db.cli()
            .args(["--api", &server.base])
            .args(command)
            .env("ORDERS_TOKEN", &token)
            .write_stdin("")
            .assert()
            .append_context("command", format!("{command:?}"))
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("is local only"));
    }
    let explicit = db.url.clone();
    db.cli().args(["--api", &server.base, "--database-url", &explicit, "rules"]).assert().success();
}
