//! `orders man`: the man pages, in roff, made by clap_mangen from the same command line
//! `--help` describes. As git and cargo do, each command has a page of its own: `orders(1)`
//! lists the commands as `orders-list(1)`, `orders-services-add(1)`, …; `orders man` prints
//! the top page, `orders man services add` that command's, and `orders man --dir DIR` writes
//! every page into DIR for a package to install.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::args::{Cli, UsageError};

/// The top page's last section: where the commands' pages are, when none is installed.
const SEE_ALSO: &str = r#".SH "SEE ALSO"
\fBorders man\fR \fICOMMAND\fR prints a command's page, e.g. \fBorders man services add | man \-l \-\fR;
\fBorders man \-\-dir\fR \fIDIR\fR writes every page into \fIDIR\fR.
\fBorders\fR \fICOMMAND\fR \fB\-\-help\fR shows the same, with examples.
"#;

/// Prints the page of the command `path` names (the top page when empty), or writes every
/// page into `dir`.
///
/// # Errors
/// A command that does not exist (usage), or a page that cannot be written.
pub(super) fn run(path: &[String], dir: Option<&Path>) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        clap_mangen::generate_to(Cli::command(), dir)
            .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        eprintln!("orders: man pages written into {}", dir.display());
        return Ok(());
    }
    let page = clap_mangen::Man::new(page_of(path)?);
    let mut out = std::io::stdout().lock();
    page.render(&mut out)?;
    if path.is_empty() {
        out.write_all(SEE_ALSO.as_bytes())?;
    }
    Ok(out.flush()?)
}

/// The command `path` names (`[]`: the top one), built so that its page is titled with its
/// full name (`orders-services-add`), as `clap_mangen::generate_to` builds them.
fn page_of(path: &[String]) -> Result<clap::Command, UsageError> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    for (depth, name) in path.iter().enumerate() {
        let Some(sub) = command.find_subcommand(name).filter(|sub| !sub.is_hide_set()) else {
            let parent: String = path[..depth].iter().map(|name| format!(" {name}")).collect();
            let asked = path[..=depth].join(" ");
            return Err(UsageError(format!("no command {asked:?}: `orders man{parent}` lists the commands")));
        };
        command = sub.clone();
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &[&str]) -> Vec<String> {
        path.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_nested_command_has_a_page_titled_with_its_full_name() {
        let page = page_of(&names(&["services", "add"])).expect("services add exists");
        assert_eq!(page.get_display_name(), Some("orders-services-add"));
    }

    #[test]
    fn an_unknown_command_is_a_usage_error_naming_it() {
        let error = page_of(&names(&["services", "nope"])).expect_err("no such command");
        assert!(error.0.contains("\"services nope\""), "{}", error.0);
    }
}
