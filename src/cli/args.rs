//! The command line's shape, as clap reads it: the commands, their flags, `-o FORMAT`, and the
//! usage error that exits with 2.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::examples;
use super::output::Format;

/// `orders`: order management from the terminal, scripts and HTTP.
#[derive(Debug, Parser)]
#[command(name = "orders", version, about, max_term_width = 100)]
#[command(
    after_help = "With no command, opens the dashboard.\nExit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict, 5 invalid input, 6 database or API unavailable, 7 not authorized."
)]
pub struct Cli {
    /// Configuration file (default: $ORDERS_CONFIG, else ./orders.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL, overriding the configuration (sqlite://FILE or postgres://…).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Work through the API of an `orders serve` at URL instead of the database (remote mode;
    /// default: client.api, else the stored login).
    #[arg(long, global = true, value_name = "URL")]
    pub api: Option<String>,
    /// Open the dashboard browse-only (no create, edit or delete).
    #[arg(long)]
    pub read_only: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The commands that work on the store (run by `records::run`).
    #[command(flatten)]
    Records(RecordCommand),
    /// Serve the JSON HTTP API until SIGINT or SIGTERM.
    #[command(after_help = examples::SERVE)]
    Serve {
        /// Listen on HOST:PORT (default: server.addr; port 0 picks a free one).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
    },
    /// Exit 0 when the `serve` at server.addr (or --url) answers /readyz with 200, else 1; for
    /// container health checks.
    Healthcheck {
        /// The server's base URL, e.g. http://127.0.0.1:8080 (default: server.addr; a wildcard
        /// address such as 0.0.0.0 is reached over loopback).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Log in to the API at URL with a refresh token read on stdin (from `orders token issue
    /// --refresh`); later commands and the dashboard then work through it.
    #[command(after_help = examples::LOGIN)]
    Login {
        /// The API's base URL, e.g. http://127.0.0.1:8080.
        url: String,
    },
    /// Forget the stored login.
    Logout,
    /// Mint or revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Print the man page (roff): the top one, or a command's.
    #[command(after_help = examples::MAN)]
    Man {
        /// The command whose page to print, e.g. `list` or `services add` (default: the top
        /// page, which lists them).
        #[arg(value_name = "COMMAND", conflicts_with = "dir")]
        command: Vec<String>,
        /// Write every page (orders.1, orders-list.1, …) into DIR instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Open the terminal dashboard (the default with no command).
    Tui {
        /// Browse only: no create, edit or delete.
        #[arg(long)]
        read_only: bool,
    },
}

/// The script commands that open the store, run one thing on it and close it.
#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Apply pending database migrations (also done automatically at start).
    Migrate,
    /// Load the sample catalogue and orders (idempotent).
    Seed,
    /// List orders by (datetime, id).
    #[command(after_help = examples::LIST)]
    List(ListArgs),
    /// Show one order.
    #[command(after_help = examples::GET)]
    Get {
        /// Order id.
        #[arg(allow_negative_numbers = true)]
        id: String,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show an order's history (also for deleted orders).
    History {
        /// Order id.
        #[arg(allow_negative_numbers = true)]
        id: String,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Create an order; prints it.
    #[command(after_help = examples::CREATE)]
    Create(CreateArgs),
    /// Change the given fields of an order; prints it.
    #[command(after_help = examples::UPDATE)]
    Update(UpdateArgs),
    /// Delete an order (asks first on a terminal; needs --yes otherwise).
    #[command(after_help = examples::DELETE)]
    Delete {
        /// Order id.
        #[arg(allow_negative_numbers = true)]
        id: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// The service catalogue.
    #[command(subcommand)]
    Services(ServicesCommand),
    /// Write every order as NDJSON, one per line, in the API's JSON shape, by id, as of one moment.
    #[command(after_help = examples::EXPORT)]
    Export,
    /// Read NDJSON (or one JSON array) in the export shape as new orders, all or nothing.
    #[command(after_help = examples::IMPORT)]
    Import {
        /// File to read, or - for standard input.
        file: PathBuf,
    },
    /// Show the scheduling rule the database holds (every process follows it).
    Rules {
        /// Change it.
        #[command(subcommand)]
        command: Option<RulesCommand>,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// `rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Change the minimum gap between orders (e.g. 3h, 90m; 0s turns the rule off), after
    /// checking every stored order against it.
    SetGap {
        /// The new gap, whole milliseconds.
        #[arg(value_name = "DURATION", allow_hyphen_values = true)]
        gap: String,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// `list` flags.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only orders at or after this instant (RFC 3339).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only orders before this instant (RFC 3339).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Only orders with this service id.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    pub service: Option<String>,
    /// At most this many orders.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub limit: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Appointment instant, RFC 3339 with an offset (default: now).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub datetime: Option<String>,
    /// Total fee, e.g. 100 or 99.95.
    #[arg(long, value_name = "F", allow_hyphen_values = true)]
    pub fee: String,
    /// Service id; repeat for several.
    #[arg(long = "service", value_name = "ID", required = true, allow_hyphen_values = true)]
    pub services: Vec<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `update` flags.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true))]
pub struct UpdateArgs {
    /// Order id.
    #[arg(allow_negative_numbers = true)]
    pub id: String,
    /// New appointment instant, RFC 3339 with an offset.
    #[arg(long, value_name = "T", group = "change", allow_hyphen_values = true)]
    pub datetime: Option<String>,
    /// New total fee.
    #[arg(long, value_name = "F", group = "change", allow_hyphen_values = true)]
    pub fee: Option<String>,
    /// New set of service ids; repeat for several.
    #[arg(long = "service", value_name = "ID", group = "change", allow_hyphen_values = true)]
    pub services: Vec<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `services` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// List the catalogue.
    List {
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a service.
    Add {
        /// Its name (unique, case-insensitively).
        name: String,
        /// Its id (default: the next free one).
        #[arg(long, value_name = "ID", allow_hyphen_values = true)]
        id: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Rename a service.
    Rename {
        /// Service id.
        #[arg(allow_negative_numbers = true)]
        id: String,
        /// The new name.
        name: String,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a service no order uses.
    Delete {
        /// Service id.
        #[arg(allow_negative_numbers = true)]
        id: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new access token (and with --refresh a refresh token).
    #[command(after_help = examples::TOKEN_ISSUE)]
    Issue {
        /// Whom the token is for; recorded as the actor of every change made with it.
        #[arg(long, value_name = "S")]
        subject: String,
        /// reader (GET), writer (+ order writes) or admin (+ service writes).
        #[arg(long, value_name = "R")]
        role: String,
        /// Lifetime of the access token (default: auth.access_ttl), e.g. 15m or 1h.
        #[arg(long, value_name = "D", allow_hyphen_values = true)]
        ttl: Option<String>,
        /// Also mint a refresh token (printed on a second line, or in the JSON).
        #[arg(long)]
        refresh: bool,
        /// `json` prints {"access_token", "expires_in", "refresh_token"?} instead of the bare
        /// token (and refresh token).
        #[arg(long, short = 'o', value_name = "FORMAT", value_parser = ["json"])]
        output: Option<String>,
    },
    /// Revoke every refresh token of a subject.
    Revoke {
        /// Whose tokens.
        #[arg(long, value_name = "S")]
        subject: String,
    },
}

/// `-o FORMAT` for record commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutputArgs {
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long, short = 'o', value_enum, value_name = "FORMAT")]
    pub output: Option<Format>,
}

impl RecordCommand {
    /// The name of a command that only works on a database opened directly, for remote mode
    /// to refuse it.
    pub(super) fn local_only(&self) -> Option<&'static str> {
        match self {
            Self::Migrate => Some("migrate"),
            Self::Seed => Some("seed"),
            Self::Import { .. } => Some("import"),
            Self::Rules { command: Some(RulesCommand::SetGap { .. }), .. } => Some("rules set-gap"),
            Self::Rules { command: None, .. } => Some("rules"),
            _ => None,
        }
    }
}

impl OutputArgs {
    /// The format asked for, else a table on a terminal and JSON otherwise.
    pub(super) fn format(self) -> Format {
        self.output.unwrap_or_else(|| if std::io::stdout().is_terminal() { Format::Table } else { Format::Json })
    }
}

/// A mistake in how the command was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
