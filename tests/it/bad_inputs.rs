//! One table of bad inputs through all four entry points: `POST /orders`, `orders create`
//! flags, the dashboard's form (its real key handling, update and store tasks, through the
//! test driver) and an `import` line. Each is refused with its own status or exit code and the
//! same message, nothing is written, and the server keeps answering (nothing panicked).
//!
//! Where an entry point cannot express an input at all, or refuses it before the domain sees
//! it, the case says so and why, beside the expected outcome.

use crossterm::event::KeyCode;
use orders::auth::Role;
use orders::book::local::LocalBook;
use orders::domain::OrderFilter;
use orders::tui::app::Mode;
use orders::tui::driver::Driver;
use orders::tui::form::Field;
use predicates::prelude::*;

use crate::api_helpers::{TestApp, spawn_app};

/// One of the four ways in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `POST /orders` (JSON).
    Http,
    /// `orders create --datetime T --fee F --service ID…`.
    Cli,
    /// The dashboard's new-order form, typed key by key.
    Dashboard,
    /// One NDJSON line given to `orders import -`.
    Import,
}

/// How a fee is written.
#[derive(Debug, Clone, Copy)]
enum Fee {
    /// A JSON number's text in JSON; the same text typed as a flag or into the form.
    Number(&'static str),
    /// A JSON string (only JSON can tell it from a number).
    JsonString(&'static str),
}

/// What an entry point does instead of the common refusal.
#[derive(Debug, Clone, Copy)]
enum Otherwise {
    /// The input cannot be given here at all; why.
    Unsayable(&'static str),
    /// Refused before the domain reads the fields: the HTTP status or exit code, and a part
    /// of the message.
    Refused(u16, &'static str),
    /// Refused by the domain with this message for the field instead.
    Message(&'static str),
}

/// A valid datetime, for cases about another field.
const WHEN: &str = "2030-01-01T00:00:00Z";

/// The one bad-inputs table.
struct Case {
    what: &'static str,
    datetime: &'static str,
    fee: Fee,
    /// Service ids as JSON literals and flag texts; the form picks them from the catalogue.
    services: &'static [&'static str],
    /// The field refused, as the API names it.
    field: &'static str,
    /// The message every entry point gives for it.
    message: &'static str,
    otherwise: &'static [(Entry, Otherwise)],
}

const NOT_IN_THE_PICKER: Otherwise =
    Otherwise::Unsayable("the form's picker offers only the catalogue's services, each picked or not");

const CASES: &[Case] = &[
    Case {
        what: "fee past any amount (the overflow that closed the connection)",
        datetime: WHEN,
        fee: Fee::Number("1e27"),
        services: &["123"],
        field: "totalfee",
        message: "must be at most 1000000000, got 1e+27",
        otherwise: &[],
    },
    Case {
        what: "fee past the maximum by a cent",
        datetime: WHEN,
        fee: Fee::Number("1000000000.01"),
        services: &["123"],
        field: "totalfee",
        message: "must be at most 1000000000, got 1000000000.01",
        otherwise: &[],
    },
    Case {
        what: "negative fee",
        datetime: WHEN,
        fee: Fee::Number("-1"),
        services: &["123"],
        field: "totalfee",
        message: "must not be negative, got -1",
        otherwise: &[],
    },
    Case {
        what: "fee with three decimal places",
        datetime: WHEN,
        fee: Fee::Number("1.001"),
        services: &["123"],
        field: "totalfee",
        message: "must have at most 2 decimal places, got 1.001",
        otherwise: &[],
    },
    Case {
        what: "fee far too fine",
        datetime: WHEN,
        fee: Fee::Number("1e-400"),
        services: &["123"],
        field: "totalfee",
        message: "must have at most 2 decimal places, got 1e-400",
        otherwise: &[],
    },
    Case {
        what: "fee as a JSON string",
        datetime: WHEN,
        fee: Fee::JsonString("100"),
        services: &["123"],
        field: "totalfee",
        message: "must be a JSON number, not a string",
        otherwise: &[
            (Entry::Cli, Otherwise::Unsayable("a flag is text: --fee 100 is the number 100")),
            (Entry::Dashboard, Otherwise::Unsayable("the fee field is text: 100 is the number 100")),
        ],
    },
    Case {
        what: "fee with a plus sign (not a JSON number)",
        datetime: WHEN,
        fee: Fee::Number("+5"),
        services: &["123"],
        field: "totalfee",
        message: "must be a decimal number, not \"+5\"",
        otherwise: &[
            (Entry::Http, Otherwise::Refused(400, "the body is not valid JSON")),
            (Entry::Import, Otherwise::Refused(5, "line 1: invalid input: record: is not JSON")),
        ],
    },
    Case {
        what: "fee that is no number",
        datetime: WHEN,
        fee: Fee::JsonString("ten"),
        services: &["123"],
        field: "totalfee",
        message: "must be a JSON number, not a string",
        otherwise: &[
            (Entry::Cli, Otherwise::Message("must be a decimal number, not \"ten\"")),
            (Entry::Dashboard, Otherwise::Message("must be a decimal number, not \"ten\"")),
        ],
    },
    Case {
        what: "year 10000 once the offset is applied",
        datetime: "9999-12-31T23:59:59.999-01:00",
        fee: Fee::Number("100"),
        services: &["123"],
        field: "datetime",
        message: "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z in UTC, not \"9999-12-31T23:59:59.999-01:00\"",
        otherwise: &[],
    },
    Case {
        what: "year 0 once the offset is applied",
        datetime: "0001-01-01T00:00:00+01:00",
        fee: Fee::Number("100"),
        services: &["123"],
        field: "datetime",
        message: "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z in UTC, not \"0001-01-01T00:00:00+01:00\"",
        otherwise: &[],
    },
    Case {
        what: "year 0",
        datetime: "0000-01-01T00:00:00+01:00",
        fee: Fee::Number("100"),
        services: &["123"],
        field: "datetime",
        message: "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z in UTC, not \"0000-01-01T00:00:00+01:00\"",
        otherwise: &[],
    },
    Case {
        what: "leap second",
        datetime: "2016-12-31T23:59:60Z",
        fee: Fee::Number("100"),
        services: &["123"],
        field: "datetime",
        message: "must not be a leap second (second 60), not \"2016-12-31T23:59:60Z\"",
        otherwise: &[],
    },
    Case {
        what: "garbage datetime",
        datetime: "next tuesday",
        fee: Fee::Number("100"),
        services: &["123"],
        field: "datetime",
        message: "must be an RFC 3339 timestamp with an offset, like 2022-11-01T11:11:11.111Z, not \"next tuesday\"",
        otherwise: &[(
            Entry::Dashboard,
            // The form also takes a local time, so its hint names both forms.
            Otherwise::Message(
                "must be a local time like 2022-11-01 12:00 or RFC 3339 like 2022-11-01T11:11:11Z, not \"next tuesday\"",
            ),
        )],
    },
    Case {
        what: "no service",
        datetime: WHEN,
        fee: Fee::Number("100"),
        services: &[],
        field: "services",
        message: "must name at least one service",
        otherwise: &[(Entry::Cli, Otherwise::Refused(2, "the following required arguments were not provided"))],
    },
    Case {
        what: "the same service twice",
        datetime: WHEN,
        fee: Fee::Number("100"),
        services: &["123", "123"],
        field: "services",
        message: "the same service twice: 123",
        otherwise: &[(Entry::Dashboard, NOT_IN_THE_PICKER)],
    },
    Case {
        what: "unknown service (in the form: deleted after the form opened)",
        datetime: WHEN,
        fee: Fee::Number("100"),
        services: &["999"],
        field: "services",
        message: "unknown service id 999",
        otherwise: &[],
    },
    Case {
        what: "service id 0",
        datetime: WHEN,
        fee: Fee::Number("100"),
        services: &["0"],
        field: "services[0]",
        message: "must be an integer from 1 to 9223372036854775807, not \"0\"",
        otherwise: &[(Entry::Dashboard, NOT_IN_THE_PICKER)],
    },
    Case {
        what: "service id 2^63",
        datetime: WHEN,
        fee: Fee::Number("100"),
        services: &["9223372036854775808"],
        field: "services[0]",
        message: "must be an integer from 1 to 9223372036854775807, not \"9223372036854775808\"",
        otherwise: &[(Entry::Dashboard, NOT_IN_THE_PICKER)],
    },
    Case {
        what: "negative service id",
        datetime: WHEN,
        fee: Fee::Number("100"),
        services: &["-1"],
        field: "services[0]",
        message: "must be an integer from 1 to 9223372036854775807, not \"-1\"",
        otherwise: &[(Entry::Dashboard, NOT_IN_THE_PICKER)],
    },
];

impl Case {
    fn otherwise(&self, entry: Entry) -> Option<Otherwise> {
        self.otherwise.iter().find(|(e, _)| *e == entry).map(|(_, o)| *o)
    }

    /// The message expected at `entry`, unless it refuses earlier or cannot say it.
    fn message_at(&self, entry: Entry) -> &'static str {
        match self.otherwise(entry) {
            Some(Otherwise::Message(message)) => message,
            _ => self.message,
        }
    }

    /// The case as a JSON object's text (`POST /orders`, an import line).
    fn json(&self) -> String {
        let fee = match self.fee {
            Fee::Number(text) => text.to_owned(),
            Fee::JsonString(text) => format!("{text:?}"),
        };
        let datetime = serde_json::to_string(self.datetime).unwrap();
        format!(r#"{{"datetime": {datetime}, "totalfee": {fee}, "services": [{}]}}"#, self.services.join(", "))
    }

    fn fee_text(&self) -> &'static str {
        match self.fee {
            Fee::Number(text) | Fee::JsonString(text) => text,
        }
    }
}

// Multi-threaded: the CLI runs block this thread, and the store must meanwhile hand back the
// connection of the dashboard's refused create (its rollback frees PostgreSQL's write lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_refused_alike_through_the_api_the_cli_the_dashboard_and_import() {
    let app = spawn_app().await;
    for case in CASES {
        through_http(&app, case).await;
        through_cli(&app, case);
        through_dashboard(&app, case).await;
        through_import(&app, case);
    }
    assert_eq!(app.store.count_orders(&OrderFilter::default()).await.unwrap(), 0, "nothing was written");
    assert_eq!(app.get("/healthz").await.status, 200, "the server still answers");
}

async fn through_http(app: &TestApp, case: &Case) {
    let reply = app.call("POST", "/orders", Some(Role::Writer), Some(&case.json()), &[]).await;
    let what = format!("HTTP, {}: {}", case.what, reply.text);
    match case.otherwise(Entry::Http) {
        Some(Otherwise::Refused(status, part)) => {
            assert_eq!(reply.status, status, "{what}");
            assert!(reply.json()["detail"].as_str().unwrap_or_default().contains(part), "{what}");
        }
        Some(Otherwise::Unsayable(why)) => panic!("{what}: JSON can say anything ({why})"),
        _ => {
            assert_eq!((reply.status, reply.problem_type().as_str()), (422, "validation"), "{what}");
            let expected = serde_json::json!({"field": case.field, "message": case.message_at(Entry::Http)});
            let errors = reply.json()["errors"].as_array().cloned().unwrap_or_default();
            assert!(errors.contains(&expected), "{what}: expected {expected}");
        }
    }
}

fn through_cli(app: &TestApp, case: &Case) {
    if let Some(Otherwise::Unsayable(_)) = case.otherwise(Entry::Cli) {
        return;
    }
    let mut args = vec!["create", "--datetime", case.datetime, "--fee", case.fee_text()];
    for service in case.services {
        args.extend(["--service", service]);
    }
    let mut command = app.db().cli();
    let assert = command.args(&args).assert().append_context("CLI", case.what).stdout("");
    match case.otherwise(Entry::Cli) {
        Some(Otherwise::Refused(code, part)) => {
            assert.code(i32::from(code)).stderr(predicate::str::contains(part));
        }
        _ => {
            let expected = format!("{}: {}", case.field, case.message_at(Entry::Cli));
            assert.code(5).stderr(predicate::str::starts_with("orders: ").and(predicate::str::contains(expected)));
        }
    }
}

fn through_import(app: &TestApp, case: &Case) {
    let mut command = app.db().cli();
    let assert = command
        .args(["import", "-"])
        .write_stdin(format!("{}\n", case.json()))
        .assert()
        .append_context("import", case.what)
        .stdout("")
        .stderr(predicate::str::contains("nothing imported"));
    match case.otherwise(Entry::Import) {
        Some(Otherwise::Refused(code, part)) => {
            assert.code(i32::from(code)).stderr(predicate::str::contains(part));
        }
        Some(Otherwise::Unsayable(why)) => panic!("import, {}: JSON can say anything ({why})", case.what),
        _ => {
            let expected = format!("line 1: invalid input: {}: {}", case.field, case.message_at(Entry::Import));
            assert.code(5).stderr(predicate::str::contains(expected));
        }
    }
}

/// Opens the form, types the datetime and the fee, picks the services by name and saves. A
/// service the catalogue does not have is added before the dashboard opens and deleted once
/// it is picked: the one way the form meets an unknown service.
async fn through_dashboard(app: &TestApp, case: &Case) {
    if let Some(Otherwise::Unsayable(_)) = case.otherwise(Entry::Dashboard) {
        return;
    }
    let catalogue = app.store.list_services().await.unwrap();
    let ids: Vec<i64> = case.services.iter().map(|s| s.parse().expect("a service id the form can pick")).collect();
    let gone: Vec<i64> = ids.iter().copied().filter(|id| !catalogue.iter().any(|s| s.id == *id)).collect();
    for id in &gone {
        app.store.add_service(Some(*id), &format!("Vanishing{id}")).await.unwrap();
    }
    let mut tui = Driver::open(LocalBook::new(app.store.clone(), "tui:test"), false, 100, 30).await;
    tui.press(KeyCode::Char('n')).await;
    tui.type_text(case.datetime).await;
    tui.press(KeyCode::Tab).await;
    tui.type_text(case.fee_text()).await;
    tui.press(KeyCode::Tab).await;
    for id in &ids {
        let name = tui.app.services.iter().find(|s| s.id == *id).map(|s| s.name.clone()).expect("in the picker");
        tui.type_text(&name).await;
        tui.press(KeyCode::Char(' ')).await;
        for _ in 0..3 {
            tui.press(KeyCode::Tab).await; // round to the picker again, which forgets what was typed
        }
    }
    for id in &gone {
        app.store.delete_service(*id).await.unwrap();
    }
    tui.press(KeyCode::Enter).await;
    let what = format!("dashboard, {}:\n{}", case.what, tui.screen());
    let Mode::Form(form) = &tui.app.mode else { panic!("{what}\nthe form stays open") };
    let field = match case.field {
        "datetime" => Field::Datetime,
        "totalfee" => Field::Fee,
        _ => Field::Services,
    };
    assert_eq!(form.error(field), Some(case.message_at(Entry::Dashboard)), "{what}");
    assert_eq!((form.datetime.value(), form.fee.value()), (case.datetime, case.fee_text()), "nothing typed is lost");
}

/// An order id as each entry point takes one: a path, an argument, the `:` jump prompt, an
/// import record's `id`. (`1.0` is not here: the API reads it as 1, as JSON Schema counts it an
/// integer and the OpenAPI document types path ids as integers; see `api::request::whole_number`.)
const BAD_IDS: &[&str] = &["0", "-1", "9223372036854775808", "abc"];

#[tokio::test]
async fn every_bad_order_id_is_refused_alike_through_the_api_the_cli_the_dashboard_and_import() {
    let app = spawn_app().await;
    let mut tui = Driver::open(LocalBook::new(app.store.clone(), "tui:test"), false, 100, 30).await;
    for id in BAD_IDS {
        let message = format!("must be an integer from 1 to 9223372036854775807, not {id:?}");
        let reply = app.get(&format!("/orders/{id}")).await;
        assert_eq!((reply.status, reply.problem_type().as_str()), (400, "bad-request"), "{id}");
        assert_eq!(reply.json()["detail"], format!("order id {message}"), "{id}");

        app.db().cli().args(["get", id]).assert().code(5).stderr(format!("orders: invalid input: id: {message}\n"));

        tui.press(KeyCode::Char(':')).await;
        tui.type_text(id).await;
        tui.press(KeyCode::Enter).await;
        let status = tui.app.status.as_ref().map(|s| (s.text.clone(), s.error));
        assert_eq!(status, Some((format!("order id {message}"), true)), "{id}");
        tui.press(KeyCode::Esc).await;

        let literal = if id.parse::<f64>().is_ok() { (*id).to_owned() } else { format!("{id:?}") };
        let line = format!(r#"{{"id": {literal}, "datetime": "{WHEN}", "totalfee": 1, "services": [123]}}"#);
        app.db()
            .cli()
            .args(["import", "-"])
            .write_stdin(line)
            .assert()
            .code(5)
            .stderr(predicate::str::contains(format!("line 1: invalid input: id: {message}")));
    }
    assert_eq!(app.store.count_orders(&OrderFilter::default()).await.unwrap(), 0);
}

/// A listing's bounds: `from`/`to` query parameters, `list --from/--to`, the dashboard's
/// `from:`/`to:` filter terms (import has none).
#[tokio::test]
async fn listing_bounds_outside_the_range_are_refused_alike_through_the_api_the_cli_and_the_dashboard() {
    let app = spawn_app().await;
    let mut tui = Driver::open(LocalBook::new(app.store.clone(), "tui:test"), false, 100, 30).await;
    for bound in ["from", "to"] {
        let range = "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z in UTC";
        for (text, message) in [
            ("0000-12-31T23:59:59.999Z", format!("{range}, not \"0000-12-31T23:59:59.999Z\"")),
            ("9999-12-31T23:59:59.999-00:01", format!("{range}, not \"9999-12-31T23:59:59.999-00:01\"")),
            ("0001-01-01T00:00:00+00:01", format!("{range}, not \"0001-01-01T00:00:00+00:01\"")),
            ("2016-12-31T23:59:60Z", "must not be a leap second (second 60), not \"2016-12-31T23:59:60Z\"".to_owned()),
        ] {
            let encoded = text.replace('+', "%2B");
            let reply = app.get(&format!("/orders?{bound}={encoded}")).await;
            assert_eq!((reply.status, reply.problem_type().as_str()), (400, "bad-request"), "{bound}={text}");
            assert_eq!(reply.json()["detail"], format!("query parameter {bound}: {message}"), "{bound}={text}");

            let flag = format!("--{bound}");
            let assert = app.db().cli().args(["list", &flag, text]).assert();
            assert.code(5).stderr(format!("orders: invalid input: {bound}: {message}\n"));

            tui.press(KeyCode::Char('/')).await;
            tui.type_text(&format!("{bound}:{text}")).await;
            tui.press(KeyCode::Enter).await;
            let status = tui.app.status.as_ref().map(|s| (s.text.clone(), s.error));
            assert_eq!(status, Some((format!("{bound} {message}"), true)), "{bound}:{text}");
            tui.press(KeyCode::Esc).await;
        }
    }
    let within = app.get("/orders?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z").await;
    assert_eq!(within.status, 200, "the range's own ends are fine: {}", within.text);
}

/// Configuration is typed too: a lock wait bound past what the clock can count made the first
/// write panic (an `Instant` overflow); it is no bound instead.
#[tokio::test]
async fn a_lock_timeout_past_what_the_clock_can_count_is_no_bound_not_a_panic() {
    let db = crate::helpers::TestDb::new().await;
    db.cli()
        .env("ORDERS__DATABASE__LOCK_TIMEOUT", "500000000000y")
        .args(["services", "add", "Radon", "-o", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"name\": \"Radon\""));
}
