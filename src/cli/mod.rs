//! The command line: the dispatch of a parsed command line to one small function per command.
//! Its shape (clap's types) lives in `args`, opening the store in `open`, rendering in `output`,
//! record commands in `records`, `login` and `logout` in `login`. Remote mode (`--api`,
//! `client.api`, a stored login) runs the record commands and the dashboard through the API;
//! the commands that need the database itself refuse it.

mod args;
mod dashboard;
mod examples;
mod healthcheck;
mod import;
mod login;
mod man;
mod open;
mod output;
mod progress;
mod records;
mod rules;
mod serve;
mod token;

use std::io::IsTerminal as _;

use clap::CommandFactory as _;

use crate::config::{Config, Sources};
use crate::error::Error;
use crate::remote::{self, CredentialsFile, RemoteBook, Secret, Selection};

pub use args::{
    Cli, Command, CreateArgs, ListArgs, OutputArgs, RecordCommand, RulesCommand, ServicesCommand, TokenCommand,
    UpdateArgs, UsageError,
};
pub use output::Format;

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command failed with; `main` turns it into a message and an exit code.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let sources = Sources { file: cli.config.clone(), database_url: cli.database_url.clone() };
    let config = Config::load(&sources)?;
    let selection = Selection {
        api_flag: cli.api.clone(),
        configured_api: config.client.api.clone(),
        env_token: std::env::var("ORDERS_TOKEN").ok().map(Secret::new),
        database_url_flag: cli.database_url.is_some(),
    };
    let command = cli.command.unwrap_or(Command::Tui { read_only: false });
    if cli.read_only && !matches!(command, Command::Tui { .. }) {
        // Silently ignored, it would let `orders --read-only delete 5` delete.
        return Err(
            UsageError("--read-only opens the dashboard browse-only; it applies to no command".to_owned()).into()
        );
    }
    match command {
        Command::Tui { read_only } => {
            if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
                let hint = "the dashboard needs a terminal; scripts use a command (see orders --help)";
                return Err(UsageError(hint.to_owned()).into());
            }
            let read_only = cli.read_only || read_only || config.tui.read_only;
            dashboard::run(&config, remote_book(selection)?, read_only).await
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "orders", &mut std::io::stdout());
            Ok(())
        }
        Command::Config => {
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Man { command, dir } => man::run(&command, dir.as_deref()),
        Command::Login { url } => login::login(&url).await,
        Command::Logout => login::logout(),
        Command::Serve { addr } => {
            refuse_remote("serve", selection)?;
            serve::run(&config, addr.as_deref()).await
        }
        Command::Healthcheck { url } => healthcheck::run(&config, url.as_deref()).await,
        Command::Token(command) => {
            refuse_remote("token", selection)?;
            token::run(&config, command).await
        }
        Command::Records(command) => match remote_book(selection)? {
            Some(book) => records::run(&book, command).await,
            None => open::with_command_store(&config, async |store| records::run_local(store, command).await).await,
        },
    }
}

/// The book on the API `selection` asks for, or `None` for local mode.
fn remote_book(selection: Selection) -> crate::Result<Option<RemoteBook>> {
    match CredentialsFile::default_location() {
        Ok(file) => remote::open(selection, &file),
        // Nowhere a login could be (neither XDG_CONFIG_HOME nor HOME, as under some service
        // managers): local, unless an API is named.
        Err(_)
            if selection.database_url_flag || (selection.api_flag.is_none() && selection.configured_api.is_none()) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Refuses a command that needs the database opened here when `selection` is remote mode.
fn refuse_remote(name: &str, selection: Selection) -> anyhow::Result<()> {
    match remote_book(selection) {
        Ok(None) => Ok(()),
        Ok(Some(_)) | Err(Error::Unauthorized(_)) => Err(records::local_only(name).into()),
        Err(e) => Err(e.into()),
    }
}
