//! The command line: the dispatch of a parsed command line to one small function per command.
//! Its shape (clap's types) lives in `args`, opening the store in `open`, rendering in `output`,
//! record commands in `records`.

mod args;
mod import;
mod open;
mod output;
mod records;
mod rules;
mod serve;
mod token;

use std::io::IsTerminal as _;
use std::sync::Arc;

use clap::CommandFactory as _;

use crate::config::{Config, Sources};
use crate::store::{Store, StoreOptions};

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
            let (url, options) = (config.database.url.expose().to_owned(), StoreOptions::from_config(&config));
            // The dashboard opens at once and keeps trying an unreachable database. A notice
            // about the rule would garble its screen: it is said once the screen is restored.
            let notice = Arc::new(std::sync::OnceLock::<String>::new());
            let kept = Arc::clone(&notice);
            let connect: crate::tui::Connect = Box::new(move || {
                let (url, options, kept) = (url.clone(), options.clone(), Arc::clone(&kept));
                Box::pin(async move {
                    let store = Store::connect(&url, &options).await?;
                    if let Some(text) = store.rule_notice() {
                        let _ = kept.set(text.to_owned());
                    }
                    Ok(store)
                })
            });
            let result = crate::tui::run(connect, config.tui.refresh, read_only).await;
            if let Some(text) = notice.get() {
                eprintln!("orders: {text}");
            }
            Ok(result?)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "orders", &mut std::io::stdout());
            Ok(())
        }
        Command::Config => {
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Serve { addr } => serve::run(&config, addr.as_deref()).await,
        Command::Token(command) => token::run(&config, command).await,
        Command::Records(command) => {
            open::with_command_store(&config, async |store| records::run(store, command).await).await
        }
    }
}
