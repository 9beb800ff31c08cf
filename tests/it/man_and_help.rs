//! `orders man` (roff from clap_mangen: the top page, a command's page, every page into a
//! folder) and the `Examples:` of the common commands' `--help`: shown, accepted by the
//! command line as written, and, for the record commands, run on the sample data.

use clap::{CommandFactory as _, Parser as _};
use orders::cli::Cli;

use crate::helpers::TestDb;

/// The commands whose `--help` ends with examples.
const WITH_EXAMPLES: [&[&str]; 10] = [
    &["list"],
    &["get"],
    &["create"],
    &["update"],
    &["delete"],
    &["export"],
    &["import"],
    &["serve"],
    &["token", "issue"],
    &["login"],
];

/// roff's escaped hyphens as plain ones, for reading a page's text.
fn unescaped(roff: &[u8]) -> String {
    String::from_utf8_lossy(roff).replace("\\-", "-")
}

/// The `orders …` command lines among `help`'s examples, cut before any redirection or pipe
/// after them, as words.
fn example_lines(help: &str) -> Vec<Vec<String>> {
    let examples = help.split_once("Examples:").map_or("", |(_, examples)| examples);
    examples
        .lines()
        .filter_map(|line| line.find("orders ").map(|start| &line[start..]))
        .map(|line| {
            let command = line.split(['>', '<', '|']).next().unwrap_or(line);
            command.split_whitespace().map(str::to_owned).collect()
        })
        .collect()
}

/// The `after_help` of the command `path` names.
fn examples_of(path: &[&str]) -> String {
    let mut command = Cli::command();
    for name in path {
        command = command.find_subcommand(name).unwrap_or_else(|| panic!("no command {name}")).clone();
    }
    command.get_after_help().map(ToString::to_string).unwrap_or_default()
}

#[tokio::test]
async fn orders_man_prints_the_top_page_listing_every_commands_page() {
    let db = TestDb::new().await;
    let output = db.cli().arg("man").output().expect("man runs");

    assert!(output.status.success());
    assert!(output.stderr.is_empty());
    let page = unescaped(&output.stdout);
    assert!(page.contains(".TH orders 1"), "a section 1 page titled orders:\n{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS", ".SH \"SEE ALSO\""] {
        assert!(page.contains(section), "{section}:\n{page}");
    }
    for listed in ["orders-list(1)", "orders-import(1)", "orders-token(1)", "orders-man(1)"] {
        assert!(page.contains(listed), "{listed}:\n{page}");
    }
    assert!(!page.contains("orders-help(1)"), "no page for clap's help command");
}

#[tokio::test]
async fn orders_man_with_a_command_prints_that_commands_page_with_its_examples() {
    let db = TestDb::new().await;
    let output = db.cli().args(["man", "services", "add"]).output().expect("man runs");
    assert!(output.status.success());
    let page = unescaped(&output.stdout);
    assert!(page.contains(".TH orders-services-add 1"), "{page}");
    assert!(page.contains("--id"), "its flags:\n{page}");

    let output = db.cli().args(["man", "list"]).output().expect("man runs");
    let page = unescaped(&output.stdout);
    assert!(page.contains(".TH orders-list 1"), "{page}");
    assert!(page.contains("orders list --limit 10 -o csv"), "its examples:\n{page}");
}

#[tokio::test]
async fn orders_man_with_an_unknown_command_is_a_usage_error_naming_it() {
    let db = TestDb::new().await;
    let output = db.cli().args(["man", "services", "nope"]).output().expect("man runs");

    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("orders: no command \"services nope\""), "{stderr}");
}

#[tokio::test]
async fn orders_man_dir_writes_every_commands_page_into_the_folder() {
    let db = TestDb::new().await;
    let dir = db.dir.path().join("man1");
    std::fs::create_dir(&dir).expect("a folder");

    db.cli().args(["man", "--dir"]).arg(&dir).assert().success();

    for page in ["orders.1", "orders-list.1", "orders-services-add.1", "orders-token-issue.1", "orders-man.1"] {
        let text = std::fs::read(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(unescaped(&text).contains(".SH SYNOPSIS"), "{page}");
    }
    assert!(!dir.join("orders-help.1").exists());
}

#[tokio::test]
async fn the_common_commands_help_ends_with_examples() {
    let db = TestDb::new().await;
    for path in WITH_EXAMPLES {
        let output = db.cli().args(path).arg("--help").output().expect("help runs");
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        let examples = help.split_once("Examples:").unwrap_or_else(|| panic!("{path:?} --help:\n{help}")).1;
        assert!(examples.contains(&format!("orders {}", path.join(" "))), "{path:?} shows itself:\n{help}");
    }
}

#[test]
fn every_example_is_a_command_line_orders_accepts() {
    for path in WITH_EXAMPLES.iter().copied().chain([&["man"][..]]) {
        let lines = example_lines(&examples_of(path));
        assert!(!lines.is_empty(), "{path:?} has examples");
        for words in lines {
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{path:?}'s example {words:?} is refused: {e}");
            }
        }
    }
}

#[tokio::test]
async fn the_record_commands_examples_run_on_the_sample_data() {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    for path in ["list", "get", "create", "update", "delete"] {
        for words in example_lines(&examples_of(&[path])) {
            let output = db.cli().args(&words[1..]).output().expect("the example runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{words:?} failed: {stderr}");
        }
    }
    db.cli().args(["get", "223"]).assert().code(3);
}
