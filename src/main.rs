//! The `orders` binary: parse the command line, run it, and turn any error into
//! `orders: <message>` on stderr and the documented exit code.

use std::process::ExitCode;

use clap::Parser as _;
use orders::Error;
use orders::cli::{Cli, UsageError};
use orders::config::ConfigError;
use orders::logging::Destination;

/// mimalloc rather than glibc's malloc. sqlx's SQLite worker thread allocates every row it
/// steps and the thread decoding it frees it: across threads, glibc's arenas made a 1M-order
/// SQLite `export` 1.2-1.7 s of system time; mimalloc frees to the owning thread's heap.
/// Built without transparent huge pages (`no_thp`): with them, the kernel backed mimalloc's
/// arena with 2 MiB pages, and 4,000 half-open connections took `serve` to 133 MiB resident
/// instead of 75 MiB (the same allocations; THP commits them 2 MiB at a time). Delete it (back
/// to the system allocator) when a 1M-order SQLite `export` with glibc's malloc comes within
/// ~10 % of this one (docs/benchmark-history.md, optimisation 11, has the A/B).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version: stdout, exit 0
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // A usage error (2), in the one diagnostic shape: `orders: <message>` and clap's
            // usage line and hint below it. Help shown for a missing subcommand stays as it is.
            let text = e.render().to_string();
            match text.strip_prefix("error: ") {
                Some(message) => eprint!("orders: {message}"),
                None => eprint!("{text}"),
            }
            return ExitCode::from(2);
        }
    };
    orders::logging::init(match cli.command {
        Some(orders::cli::Command::Serve { .. }) => Destination::Serve,
        None | Some(orders::cli::Command::Tui { .. }) => Destination::Dashboard,
        Some(_) => Destination::Stderr,
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("orders: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(orders::cli::run(cli));
    orders::logging::finish();
    if let Some(why) = orders::logging::unopened_file() {
        eprintln!("orders: {why}");
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("orders: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The exit codes of the README: 1 other, 2 usage, 3 not found, 4 conflict, 5 invalid input,
/// 6 database or API unavailable, 7 not authorized (remote mode: a token the API refuses, or
/// a role too low for the command).
fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return match err {
                Error::NotFound { .. } => 3,
                Error::Schedule { .. }
                | Error::GapViolated { .. }
                | Error::Duplicate(_)
                | Error::InUse(_)
                | Error::Stale { .. } => 4,
                Error::Invalid(_) => 5,
                Error::Unavailable(_) | Error::Busy(_) => 6,
                Error::Unauthorized(_) | Error::Forbidden(_) => 7,
                Error::Internal(_) => 1,
            };
        }
        if cause.is::<UsageError>() {
            return 2;
        }
        if let Some(err) = cause.downcast_ref::<ConfigError>() {
            return match err {
                ConfigError::Missing(_) => 2,
                ConfigError::Invalid(_) => 5,
            };
        }
    }
    1
}

/// `orders export | head` closes the pipe early; that is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
