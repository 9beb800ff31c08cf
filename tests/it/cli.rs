//! Every script command through the real binary: output formats, stdout/stderr discipline and
//! the documented exit codes. The record commands' tests run twice: on the database, and in
//! remote mode through a live `orders serve` on it (`--api URL`, `ORDERS_TOKEN`), with the same
//! output and exit codes.

use orders::auth::Role;
use predicates::prelude::*;
use serde_json::Value;

use crate::api_helpers::{Server, tokens};
use crate::helpers::TestDb;

/// Where a test's record commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// On the database.
    Local,
    /// Through a live `orders serve` on it, with an admin token for `tester`.
    Remote,
}

/// A test database and, for the remote side, the server on it.
struct Run {
    /// Stopped before the database is dropped.
    server: Option<Server>,
    db: TestDb,
}

impl Run {
    async fn seeded(side: Side) -> Self {
        Self::on(seeded().await, side)
    }

    async fn empty(side: Side) -> Self {
        Self::on(TestDb::new().await, side)
    }

    fn on(db: TestDb, side: Side) -> Self {
        Self { server: (side == Side::Remote).then(|| Server::start(&db)), db }
    }

    /// The binary on this side: remote mode gets `--api` and `ORDERS_TOKEN`.
    fn cli(&self) -> assert_cmd::Command {
        let mut cli = self.db.cli();
        if let Some(server) = &self.server {
            let token = tokens().access_token("tester", Role::Admin, None).expect("a token").0;
            cli.args(["--api", &server.base]).env("ORDERS_TOKEN", token);
        }
        cli
    }

    /// The binary on the database, for what only runs there.
    fn local(&self) -> assert_cmd::Command {
        self.db.cli()
    }

    /// How history names the writer: the local user, or the token's subject.
    fn actor(&self) -> &'static str {
        if self.server.is_some() { "tester" } else { "cli:" }
    }
}

/// Each named test body, as two tests: `locally` on the database and `through_the_api`.
macro_rules! twice {
    ($setup:ident: $($name:ident),* $(,)?) => {$(
        mod $name {
            use super::{Run, Side};

            #[tokio::test]
            async fn locally() {
                super::$name(&Run::$setup(Side::Local).await).await;
            }

            #[tokio::test]
            async fn through_the_api() {
                super::$name(&Run::$setup(Side::Remote).await).await;
            }
        }
    )*};
}

twice!(seeded:
    list_is_json_when_piped_and_honours_every_format,
    list_filters_by_range_and_service_and_limits,
    create_get_update_history_and_delete_round_trip,
    a_conflicting_create_exits_4_and_names_the_nearest_order,
    invalid_flag_values_exit_5_with_the_domain_message,
    usage_mistakes_exit_2,
    not_found_exits_3_and_conflicts_exit_4,
    services_can_be_added_renamed_listed_and_deleted,
);
twice!(empty: csv_cells_that_start_like_a_formula_get_a_leading_quote);

/// A seeded database.
async fn seeded() -> TestDb {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success().stdout("");
    db
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[tokio::test]
async fn seed_loads_the_sample_and_a_second_seed_changes_nothing() {
    let db = seeded().await;
    db.cli().arg("seed").assert().success().stderr(predicate::str::contains("0 services and 0 orders added"));
    let listed = db.cli().args(["list", "-o", "json"]).assert().success();
    let orders = json(&listed.get_output().stdout);
    let ids: Vec<i64> = orders.as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [223, 224, 225]);
    assert_eq!(orders[0]["datetime"], "2022-11-01T11:11:11.111Z");
    assert_eq!(orders[0]["totalfee"].to_string(), "100");
    assert_eq!(orders[0]["services"], serde_json::json!([{"id": 123, "name": "Inspection"}]));
    assert_eq!(orders[0]["version"], 1);
}

#[tokio::test]
async fn seed_never_writes_a_deleted_sample_order_again_and_says_so() {
    let db = seeded().await;
    db.cli().args(["delete", "224", "--yes"]).assert().success();
    db.cli().arg("seed").assert().success().stderr(
        predicate::str::contains("0 services and 0 orders added")
            .and(predicate::str::contains("sample order 224 was deleted and is not written again")),
    );
    db.cli().args(["get", "224"]).assert().code(3);
    let history = db.cli().args(["history", "224", "-o", "json"]).assert().success();
    let kinds: Vec<Value> =
        json(&history.get_output().stdout).as_array().unwrap().iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, ["created", "deleted"], "an old ETag of 224 can never match another order");
    let created = db
        .cli()
        .args(["create", "--datetime", "2022-11-01T14:11:11.111Z", "--fee", "1", "--service", "789", "-o", "json"])
        .assert()
        .success();
    assert_eq!(json(&created.get_output().stdout)["id"], 226);
}

async fn list_is_json_when_piped_and_honours_every_format(run: &Run) {
    let default = run.cli().arg("list").assert().success();
    assert!(json(&default.get_output().stdout).is_array(), "piped output defaults to JSON");
    let ndjson = run.cli().args(["list", "-o", "ndjson"]).assert().success();
    let lines: Vec<Value> =
        String::from_utf8_lossy(&ndjson.get_output().stdout).lines().map(|l| json(l.as_bytes())).collect();
    assert_eq!(lines.len(), 3);
    run.cli()
        .args(["list", "-o", "csv"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("id,datetime,totalfee,service_ids,service_names,version,created_at,updated_at\n223,2022-11-01T11:11:11.111Z,100,123,Inspection,1,"));
    run.cli()
        .args(["list", "-o", "table"])
        .assert()
        .success()
        .stdout(predicate::str::contains("223").and(predicate::str::contains("Inspection")));
}

async fn csv_cells_that_start_like_a_formula_get_a_leading_quote(run: &Run) {
    let name = r#"=HYPERLINK("http://example.com","x")"#;
    run.cli().args(["services", "add", name, "--id", "5"]).assert().success();
    run.cli().args(["create", "--datetime", "2030-01-01T00:00:00Z", "--fee", "1", "--service", "5"]).assert().success();
    let quoted = r#""'=HYPERLINK(""http://example.com"",""x"")""#;
    run.cli().args(["services", "list", "-o", "csv"]).assert().success().stdout(format!("id,name\n5,{quoted}\n"));
    run.cli()
        .args(["list", "-o", "csv"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("\n1,2030-01-01T00:00:00.000Z,1,5,{quoted},1,")));
}

async fn list_filters_by_range_and_service_and_limits(run: &Run) {
    let ids = |args: &[&str]| {
        let out = run.cli().arg("list").args(args).args(["-o", "json"]).assert().success();
        json(&out.get_output().stdout).as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&["--from", "2022-11-01T14:11:11.111Z"]), [224, 225]);
    assert_eq!(ids(&["--to", "2022-11-01T14:11:11.111Z"]), [223], "to is exclusive");
    assert_eq!(ids(&["--service", "456"]), [225]);
    assert_eq!(ids(&["--service", "999"]), Vec::<i64>::new(), "an unknown service matches nothing");
    assert_eq!(ids(&["--limit", "2"]), [223, 224]);
}

async fn create_get_update_history_and_delete_round_trip(run: &Run) {
    let created = run
        .cli()
        .args([
            "create",
            "--datetime",
            "2022-11-02T09:00:00+02:00",
            "--fee",
            "99.95",
            "--service",
            "456",
            "--service",
            "123",
        ])
        .assert()
        .success();
    let order = json(&created.get_output().stdout);
    assert_eq!(order["datetime"], "2022-11-02T07:00:00.000Z");
    assert_eq!(order["totalfee"].to_string(), "99.95");
    assert_eq!(
        order["services"],
        serde_json::json!([{"id": 123, "name": "Inspection"}, {"id": 456, "name": "Analysis"}])
    );
    let id = order["id"].as_i64().unwrap().to_string();
    assert_eq!(id, "226");

    let fetched = run.cli().args(["get", &id]).assert().success();
    assert_eq!(json(&fetched.get_output().stdout), order);

    let updated = run.cli().args(["update", &id, "--fee", "120", "--service", "789"]).assert().success();
    let updated = json(&updated.get_output().stdout);
    assert_eq!((updated["totalfee"].to_string().as_str(), updated["version"].as_i64()), ("120", Some(2)));
    assert_eq!(updated["datetime"], order["datetime"], "fields not given stay");

    run.cli()
        .args(["delete", &id, "--yes"])
        .assert()
        .success()
        .stdout("")
        .stderr(format!("orders: deleted order {id}\n"));
    run.cli().args(["get", &id]).assert().code(3).stderr(format!("orders: order {id} not found\n"));

    let history = run.cli().args(["history", &id]).assert().success();
    let kinds: Vec<String> = json(&history.get_output().stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["kind"].as_str().unwrap(), e["order"]["version"]))
        .collect();
    assert_eq!(kinds, ["created:1", "updated:2", "deleted:2"], "history survives the delete");
    let actor = json(&history.get_output().stdout)[0]["actor"].as_str().unwrap().to_owned();
    assert!(actor.starts_with(run.actor()), "{actor}");
}

async fn a_conflicting_create_exits_4_and_names_the_nearest_order(run: &Run) {
    run.cli()
        .args(["create", "--datetime", "2022-11-01T15:00:00Z", "--fee", "10", "--service", "123"])
        .assert()
        .code(4)
        .stdout("")
        .stderr("orders: order 224 at 2022-11-01T14:11:11.111Z is within 3h of 2022-11-01T15:00:00.000Z\n");
}

async fn invalid_flag_values_exit_5_with_the_domain_message(run: &Run) {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "malformed datetime",
            &["create", "--datetime", "tomorrow", "--fee", "1", "--service", "123"],
            "datetime: must be an RFC 3339 timestamp",
        ),
        (
            "datetime without offset",
            &["create", "--datetime", "2022-11-05T10:00:00", "--fee", "1", "--service", "123"],
            "datetime: must be an RFC 3339",
        ),
        ("negative fee", &["create", "--fee", "-1", "--service", "123"], "totalfee: must not be negative"),
        (
            "over-precise fee",
            &["create", "--fee", "1.005", "--service", "123"],
            "totalfee: must have at most 2 decimal places",
        ),
        (
            "fee too large",
            &["create", "--fee", "1000000000.01", "--service", "123"],
            "totalfee: must be at most 1000000000",
        ),
        ("fee not a number", &["create", "--fee", "ten", "--service", "123"], "totalfee: must be a decimal number"),
        (
            "unknown service",
            &["create", "--datetime", "2030-01-01T00:00:00Z", "--fee", "1", "--service", "999"],
            "services: unknown service id 999",
        ),
        (
            "same service twice",
            &["create", "--fee", "1", "--service", "123", "--service", "123"],
            "services: the same service twice: 123",
        ),
        ("service id zero", &["create", "--fee", "1", "--service", "0"], "services[0]: must be an integer from 1"),
        ("id out of range", &["get", "9223372036854775808"], "id: must be an integer from 1 to 9223372036854775807"),
        ("id not a number", &["get", "abc"], "id: must be an integer"),
        ("bad list bound", &["list", "--from", "2022-11-01"], "from: must be an RFC 3339"),
        ("zero limit", &["list", "--limit", "0"], "limit: must be a whole number of at least 1"),
        ("empty service name", &["services", "add", "  "], "name: must not be empty"),
        // Values that start with a hyphen are values, for the domain to judge.
        ("negative order id", &["get", "-5"], "id: must be an integer from 1"),
        ("negative service", &["create", "--fee", "1", "--service", "-1"], "services[0]: must be an integer from 1"),
        ("negative list service", &["list", "--service", "-1"], "service: must be an integer from 1"),
        ("negative limit", &["list", "--limit", "-1"], "limit: must be a whole number of at least 1"),
        (
            "datetime with a minus",
            &["create", "--fee", "1", "--service", "123", "--datetime", "-2040-01-01T00:00:00Z"],
            "datetime: must be an RFC 3339 timestamp",
        ),
        ("negative service id", &["services", "add", "X", "--id", "-1"], "id: must be an integer from 1"),
        ("negative history id", &["history", "-1"], "id: must be an integer from 1"),
    ];
    for (case, args, message) in cases {
        run.cli()
            .args(*args)
            .assert()
            .append_context("case", *case)
            .code(5)
            .stdout("")
            .stderr(predicate::str::contains(*message).and(predicate::str::starts_with("orders: ")));
    }
    run.local() // token is local only
        .args(["token", "issue", "--subject", "a", "--role", "admin", "--ttl", "-5m"])
        .assert()
        .append_context("case", "negative ttl")
        .code(5)
        .stdout("")
        .stderr(predicate::str::contains("ttl: must be a duration").and(predicate::str::starts_with("orders: ")));
    let all_at_once = run.cli().args(["create", "--datetime", "x", "--fee", "-1", "--service", "0"]).assert().code(5);
    let stderr = String::from_utf8_lossy(&all_at_once.get_output().stderr).into_owned();
    for field in ["datetime:", "totalfee:", "services[0]:"] {
        assert!(stderr.contains(field), "every field error at once, missing {field}: {stderr}");
    }
    for command in [&["create"][..], &["update", "223"][..]] {
        let unknown = run.cli().args(command).args(["--fee", "-1", "--service", "999"]).assert().code(5);
        let stderr = String::from_utf8_lossy(&unknown.get_output().stderr).into_owned();
        assert!(stderr.contains("totalfee:") && stderr.contains("unknown service id 999"), "{command:?}: {stderr}");
    }
}

async fn usage_mistakes_exit_2(run: &Run) {
    let cases: &[(&str, &[&str])] = &[
        ("unknown command", &["frobnicate"]),
        ("unknown flag", &["list", "--colour"]),
        ("missing fee", &["create", "--service", "123"]),
        ("missing service", &["create", "--fee", "1"]),
        ("update without changes", &["update", "223"]),
        ("get without id", &["get"]),
        ("unknown format", &["list", "-o", "xml"]),
        ("delete without --yes and no terminal", &["delete", "223"]),
        ("service delete without --yes", &["services", "delete", "123"]),
        ("config file that does not exist", &["--config", "nope.toml", "list"]),
        ("--read-only with a command", &["--read-only", "delete", "223", "--yes"]),
    ];
    for (case, args) in cases {
        run.cli()
            .args(*args)
            .write_stdin("")
            .assert()
            .append_context("case", *case)
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with("orders: "));
    }
    run.cli()
        .args(["list", "--colour"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("orders: unexpected argument '--colour' found\n\nUsage: orders list"));
    run.cli().args(["token", "issue", "--subject", "a", "--role", "admin", "-o", "table"]).assert().code(2);
    run.cli().args(["get", "223"]).assert().success();
}

async fn not_found_exits_3_and_conflicts_exit_4(run: &Run) {
    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("get missing order", &["get", "999"], 3, "order 999 not found"),
        ("update missing order", &["update", "999", "--fee", "1"], 3, "order 999 not found"),
        ("delete missing order", &["delete", "999", "--yes"], 3, "order 999 not found"),
        ("history of an id that never existed", &["history", "999"], 3, "order 999 not found"),
        ("rename missing service", &["services", "rename", "999", "X"], 3, "service 999 not found"),
        ("duplicate service id", &["services", "add", "Other", "--id", "123"], 4, "service 123 already exists"),
        (
            "duplicate service name, other case",
            &["services", "add", "INSPECTION"],
            4,
            "a service named \"Inspection\" already exists (id 123)",
        ),
        ("rename onto another name", &["services", "rename", "456", "testing"], 4, "already exists (id 789)"),
        ("service in use", &["services", "delete", "123", "--yes"], 4, "service 123 (Inspection) is used by 1 order"),
        (
            "update into a conflict",
            &["update", "225", "--datetime", "2022-11-01T16:00:00Z"],
            4,
            "order 224 at 2022-11-01T14:11:11.111Z is within 3h",
        ),
    ];
    for (case, args, code, message) in cases {
        run.cli()
            .args(*args)
            .assert()
            .append_context("case", *case)
            .code(*code)
            .stderr(predicate::str::contains(*message));
    }
}

async fn services_can_be_added_renamed_listed_and_deleted(run: &Run) {
    let added = run.cli().args(["services", "add", " Radon test ", "-o", "json"]).assert().success();
    assert_eq!(json(&added.get_output().stdout), serde_json::json!({"id": 790, "name": "Radon test"}));
    run.cli()
        .args(["services", "rename", "790", "Radon"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"Radon\""));
    run.cli()
        .args(["services", "add", "Mould", "--id", "5", "-o", "csv"])
        .assert()
        .success()
        .stdout("id,name\n5,Mould\n");
    run.cli().args(["services", "delete", "790", "--yes"]).assert().success();
    let listed = run.cli().args(["services", "list"]).assert().success();
    let names: Vec<String> = json(&listed.get_output().stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Mould", "Inspection", "Analysis", "Testing"]);
}

#[tokio::test]
async fn an_unreachable_database_exits_6() {
    let db = TestDb::new().await;
    db.cli()
        .env("ORDERS__DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")
        .arg("list")
        .assert()
        .code(6)
        .stderr(predicate::str::starts_with("orders: database unavailable"));
}

#[tokio::test]
async fn a_postgres_database_that_does_not_exist_exits_6_naming_it() {
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // the PostgreSQL pass of the suite asks a real server
    }
    let (server, _) = db.url.rsplit_once('/').expect("a PostgreSQL URL names its database");
    db.cli()
        .env("ORDERS__DATABASE__URL", format!("{server}/orders_no_such_database"))
        .arg("list")
        .assert()
        .code(6)
        .stderr(
            predicate::str::contains("orders: database unavailable")
                .and(predicate::str::contains("orders_no_such_database")),
        );
}

#[tokio::test]
async fn config_prints_the_effective_configuration_with_secrets_redacted() {
    let db = TestDb::new().await;
    std::fs::write(db.dir.path().join("custom.toml"), "[rules]\nmin_gap = \"90m\"\n").unwrap();
    db.cli()
        .args(["--config", "custom.toml", "config"])
        .env("ORDERS__AUTH__JWT_SECRET", "a-very-secret-value-that-is-long-enough")
        .env("ORDERS__DATABASE__URL", "postgres://app:hunter2@db:5432/orders?sslpassword=hunter3&password=hunter4")
        .env("ORDERS__TUI__READ_ONLY", "true")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("min_gap = \"1h 30m\"")
                .and(predicate::str::contains("read_only = true"))
                .and(predicate::str::contains(
                    "postgres://app:<redacted>@db:5432/orders?sslpassword=<redacted>&password=<redacted>",
                ))
                .and(predicate::str::contains("jwt_secret = \"<redacted>\""))
                .and(predicate::str::contains("hunter").not())
                .and(predicate::str::contains("a-very-secret").not()),
        );
}

#[tokio::test]
async fn a_config_file_in_the_working_folder_is_read_and_flags_override_the_environment() {
    let db = TestDb::new().await;
    std::fs::write(db.dir.path().join("orders.toml"), "[rules]\nmin_gap = \"0s\"\n").unwrap();
    db.cli().arg("seed").assert().success();
    // min_gap 0s from ./orders.toml: a create at the same instant as 223 is allowed.
    db.cli()
        .args(["create", "--datetime", "2022-11-01T11:11:11.111Z", "--fee", "1", "--service", "123"])
        .assert()
        .success();
    let other = db.dir.path().join("other.db");
    db.cli()
        .args(["--database-url", &format!("sqlite://{}", other.display()), "list"])
        .assert()
        .success()
        .stdout("[]\n");
    db.cli()
        .env("ORDERS__RULES__MIN_GAP", "soon")
        .arg("list")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("min_gap"));
}

#[tokio::test]
async fn completions_are_printed_for_each_shell() {
    let db = TestDb::new().await;
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        db.cli().args(["completions", shell]).assert().success().stdout(predicate::str::contains("orders"));
    }
}

#[tokio::test]
async fn export_then_import_into_an_empty_store_reproduces_every_order() {
    let source = seeded().await;
    source
        .cli()
        .args(["create", "--datetime", "2023-01-01T00:00:00Z", "--fee", "0.5", "--service", "123", "--service", "789"])
        .assert()
        .success();
    let exported = source.cli().arg("export").assert().success().get_output().stdout.clone();
    assert_eq!(String::from_utf8_lossy(&exported).lines().count(), 4);

    let target = TestDb::new().await;
    target
        .cli()
        .args(["import", "-"])
        .write_stdin(exported.clone())
        .assert()
        .success()
        .stderr("orders: imported 4 orders (3 new services)\n");
    let reexported = target.cli().arg("export").assert().success().get_output().stdout.clone();
    let strip = |bytes: &[u8]| -> Vec<Value> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| {
                let mut order = json(l.as_bytes());
                let object = order.as_object_mut().unwrap();
                object.remove("created_at");
                object.remove("updated_at");
                order
            })
            .collect()
    };
    assert_eq!(strip(&reexported), strip(&exported));
    let history = target.cli().args(["history", "226"]).assert().success();
    let events = json(&history.get_output().stdout);
    assert_eq!((events[0]["kind"].as_str(), events[0]["actor"].as_str()), (Some("created"), Some("import")));
}

#[tokio::test]
async fn import_reads_a_file_that_starts_with_a_byte_order_mark_and_names_a_file_it_cannot_read() {
    let db = TestDb::new().await;
    let record = |id: i64| {
        format!(
            r#"{{"id": {id}, "datetime": "2030-01-01T00:00:00Z", "totalfee": 10, "services": [{{"id": 1, "name": "Radon"}}]}}"#
        )
    };
    // Each file its own id: a deleted order's id is never taken again.
    for (id, name, text) in
        [(7, "bom.ndjson", format!("\u{feff}{}\n", record(7))), (8, "bom.json", format!("\u{feff}[{}]", record(8)))]
    {
        let path = db.dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        db.cli().arg("import").arg(&path).assert().success();
        db.cli().args(["delete", &id.to_string(), "--yes"]).assert().success();
    }
    let folder = db.dir.path().display().to_string();
    db.cli()
        .args(["import", &folder])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!("orders: cannot read {folder}: ")));
}

#[tokio::test]
async fn import_is_all_or_nothing_and_names_the_first_bad_line() {
    let db = seeded().await;
    let good =
        r#"{"id": 1, "datetime": "2030-01-01T00:00:00Z", "totalfee": 10, "services": [{"id": 1, "name": "Radon"}]}"#;
    let cases: &[(&str, String, i32, &str)] = &[
        ("not JSON", format!("{good}\n\n{{oops\n"), 5, "line 3: invalid input: record: is not JSON"),
        (
            "invalid field",
            format!("{good}\n{{\"datetime\": \"2031-01-01T00:00:00Z\", \"totalfee\": -5, \"services\": [123]}}\n"),
            5,
            "line 2: invalid input: totalfee: must not be negative",
        ),
        (
            "existing order id",
            format!(
                "{good}\n{{\"id\": 223, \"datetime\": \"2031-01-01T00:00:00Z\", \"totalfee\": 5, \"services\": [123]}}\n"
            ),
            4,
            "line 2: order 223 already exists",
        ),
        (
            "service known by another name",
            format!(
                "{good}\n{{\"datetime\": \"2031-01-01T00:00:00Z\", \"totalfee\": 5, \"services\": [{{\"id\": 123, \"name\": \"Testing\"}}]}}\n"
            ),
            4,
            "line 2: service 123 is known as \"Inspection\", not \"Testing\"",
        ),
        (
            "name known under another id",
            format!(
                "{good}\n{{\"datetime\": \"2031-01-01T00:00:00Z\", \"totalfee\": 5, \"services\": [{{\"id\": 5, \"name\": \"testing\"}}]}}\n"
            ),
            4,
            "line 2: a service named \"testing\" already exists (id 789)",
        ),
        (
            "unknown service without a name",
            format!("{good}\n{{\"datetime\": \"2031-01-01T00:00:00Z\", \"totalfee\": 5, \"services\": [42]}}\n"),
            5,
            "line 2: invalid input: services: unknown service id 42",
        ),
        (
            "conflict with the store",
            format!("{good}\n{{\"datetime\": \"2022-11-01T12:00:00Z\", \"totalfee\": 5, \"services\": [123]}}\n"),
            4,
            "line 2: order 223 at 2022-11-01T11:11:11.111Z is within 3h",
        ),
        (
            "conflict within the file",
            format!("{good}\n{{\"datetime\": \"2030-01-01T01:00:00Z\", \"totalfee\": 5, \"services\": [1]}}\n"),
            4,
            "line 2: order 1 at 2030-01-01T00:00:00.000Z is within 3h",
        ),
        (
            "array element",
            format!("[{good}, {{\"totalfee\": 5}}]"),
            5,
            "element 2: invalid input: datetime: is required",
        ),
        ("not an object", "[1]".to_owned(), 5, "element 1: invalid input: record: must be a JSON object"),
    ];
    for (case, input, code, message) in cases {
        db.cli()
            .args(["import", "-"])
            .write_stdin(input.clone())
            .assert()
            .append_context("case", *case)
            .code(*code)
            .stderr(predicate::str::contains(*message).and(predicate::str::contains("nothing imported")));
    }
    // Nothing from any failed import remains: not the good first record, not its new service.
    let listed = db.cli().args(["list"]).assert().success();
    assert_eq!(json(&listed.get_output().stdout).as_array().unwrap().len(), 3);
    let services = db.cli().args(["services", "list"]).assert().success();
    assert_eq!(json(&services.get_output().stdout).as_array().unwrap().len(), 3);
    db.cli()
        .args(["import", "missing.ndjson"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read missing.ndjson"));
}

#[tokio::test]
async fn export_piped_into_a_closed_reader_is_not_an_error() {
    let db = TestDb::new().await;
    // Far more than a pipe buffer holds, so the writer does meet the closed pipe.
    let records: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"datetime\": \"{}\", \"totalfee\": 1, \"services\": [{{\"id\": 1, \"name\": \"Radon\"}}]}}\n",
                orders::domain::Timestamp::from_millis(i * 3 * 3_600_000)
            )
        })
        .collect();
    db.cli().args(["import", "-"]).write_stdin(records).assert().success();
    let mut child = db
        .cli_process()
        .arg("export")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

/// Runs the binary with a pseudo-terminal for stdin and stdout (util-linux `script`), feeding
/// `input`; returns the exit code and what the terminal showed.
fn on_terminal(db: &TestDb, args: &str, input: &str) -> (i32, String) {
    let binary = assert_cmd::cargo::cargo_bin!("orders").display().to_string();
    let output = std::process::Command::new("script")
        .args(["-qec", &format!("{binary} {args}"), "/dev/null"])
        .current_dir(db.dir.path())
        .env_remove("ORDERS_CONFIG")
        .env("ORDERS__DATABASE__URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .expect("util-linux script runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).replace('\r', ""))
}

#[tokio::test]
async fn on_a_terminal_records_print_as_a_table() {
    let db = seeded().await;
    let (code, screen) = on_terminal(&db, "list", "");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("│ id") && screen.contains("Inspection"), "a table: {screen}");
}

#[tokio::test]
async fn on_a_terminal_delete_asks_first_and_anything_but_yes_keeps_the_order() {
    let db = seeded().await;
    let (code, screen) = on_terminal(&db, "delete 223", "n\n");
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("delete order 223 at 2022-11-01T11:11:11.111Z (Inspection, fee 100)? [y/N]"), "{screen}");
    assert!(screen.contains("cancelled"), "{screen}");
    db.cli().args(["get", "223"]).assert().success();

    let (code, screen) = on_terminal(&db, "delete 223", "y\n");
    assert_eq!(code, 0, "{screen}");
    db.cli().args(["get", "223"]).assert().code(3);
}

#[tokio::test]
async fn migrate_succeeds_on_an_empty_database_and_again_on_a_migrated_one() {
    let db = TestDb::new().await;
    db.cli()
        .env("ORDERS__DATABASE__AUTO_MIGRATE", "false")
        .arg("list")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is the database migrated? run `orders migrate`"));
    for _ in 0..2 {
        db.cli().arg("migrate").assert().success().stderr(predicate::str::contains("migrations applied"));
    }
    db.cli().args(["services", "add", "Radon", "-o", "json"]).assert().success();
    let listed = db.cli().args(["services", "list", "-o", "json"]).assert().success().get_output().stdout.clone();
    assert_eq!(json(&listed)[0]["name"], "Radon");
}
