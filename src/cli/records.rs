//! One small function per record command: hand the flags' text to the domain's reader, call
//! the book (the store here, or an API in remote mode), print the result. Same rules and
//! messages as the API, the same output and exit codes in either mode.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use super::args::{CreateArgs, ListArgs, RecordCommand, ServicesCommand, UpdateArgs, UsageError};
use super::output::{self, Format};
use super::progress::ExportProgress;
use crate::actor::local_actor;
use crate::book::OrderBook;
use crate::book::local::LocalBook;
use crate::domain::input::{Raw, RawOrder, RawServices, Refusal, Shape, collect};
use crate::domain::{OrderFilter, Timestamp, parse_id};
use crate::error::Error;
use crate::store::{OrderQuery, Store};

/// Runs a command on the store opened here: the local-only commands on the store itself, the
/// rest on its book, in the name of `cli:<user>`.
///
/// # Errors
/// Whatever the command failed with.
pub async fn run_local(store: &Store, command: RecordCommand) -> anyhow::Result<()> {
    match command {
        RecordCommand::Migrate => {
            store.migrate().await?;
            eprintln!("orders: migrations applied");
        }
        RecordCommand::Seed => {
            let report = store.seed(&local_actor("cli")).await?;
            let added = report.added;
            eprintln!("orders: sample loaded ({} services and {} orders added)", added.services, added.orders);
            for id in report.not_reused {
                eprintln!("orders: sample order {id} was deleted and is not written again: ids are never reused");
            }
        }
        RecordCommand::Import { file } => super::import::run(store, &file).await?,
        RecordCommand::Rules { command, output } => super::rules::run(store, command, output).await?,
        command => run(&LocalBook::new(store.clone(), local_actor("cli")), command).await?,
    }
    Ok(())
}

/// Runs a record command on `book`, the store here or an API; a command only a store opened
/// here can run is refused (usage, 2).
///
/// # Errors
/// Whatever the command failed with.
pub async fn run<B: OrderBook>(book: &B, command: RecordCommand) -> anyhow::Result<()> {
    if let Some(name) = command.local_only() {
        return Err(local_only(name).into());
    }
    match command {
        RecordCommand::List(args) => list(book, args).await?,
        RecordCommand::Get { id, output } => {
            output::print_one(output.format(), &book.get_order(id_arg("id", &id)?).await?)?
        }
        RecordCommand::History { id, output } => {
            output::print_all(output.format(), &book.history(id_arg("id", &id)?).await?)?;
        }
        RecordCommand::Create(args) => create(book, args).await?,
        RecordCommand::Update(args) => update(book, args).await?,
        RecordCommand::Delete { id, yes } => {
            let id = id_arg("id", &id)?;
            let order = book.get_order(id).await?;
            let services: Vec<&str> = order.services.iter().map(|s| s.name.as_str()).collect();
            confirm(
                yes,
                &format!("order {id} at {} ({}, fee {})", order.datetime, services.join(", "), order.totalfee),
            )?;
            book.delete_order(id, Some(order.version)).await?;
            eprintln!("orders: deleted order {id}");
        }
        RecordCommand::Services(command) => services(book, command).await?,
        RecordCommand::Export => {
            let progress = ExportProgress::start();
            output::print_stream(Format::Ndjson, progress.track(book.export_orders())).await?
        }
        // `cli` routes these to `run_local`; reached through an API they are refused alike.
        RecordCommand::Migrate => return Err(local_only("migrate").into()),
        RecordCommand::Seed => return Err(local_only("seed").into()),
        RecordCommand::Import { .. } => return Err(local_only("import").into()),
        RecordCommand::Rules { .. } => return Err(local_only("rules").into()),
    }
    Ok(())
}

/// The refusal of a command that needs the database opened here (remote mode).
pub(super) fn local_only(name: &str) -> UsageError {
    UsageError(format!(
        "{name} is local only: it needs the database, and this runs through an API (remote mode); \
         give --database-url, or `orders logout`"
    ))
}

/// Reads an id flag or argument with the domain's rule.
fn id_arg(field: &str, text: &str) -> Result<i64, Error> {
    parse_id(text).map_err(|e| Error::invalid(field, e))
}

async fn list<B: OrderBook>(book: &B, args: ListArgs) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    let from = args.from.and_then(|t| collect(&mut errors, "from", Timestamp::parse_bound(&t)));
    let to = args.to.and_then(|t| collect(&mut errors, "to", Timestamp::parse_bound(&t)));
    let service = args.service.and_then(|s| collect(&mut errors, "service", parse_id(&s)));
    let limit = args.limit.and_then(|l| {
        let parsed = l.parse::<u32>().ok().filter(|n| *n >= 1);
        collect(&mut errors, "limit", parsed.ok_or_else(|| format!("must be a whole number of at least 1, not {l:?}")))
    });
    if !errors.is_empty() {
        return Err(Error::Invalid(errors).into());
    }
    let query = OrderQuery { filter: OrderFilter { from, to, service }, limit, ..OrderQuery::default() };
    output::print_stream(args.output.format(), book.stream_orders(query)).await
}

async fn create<B: OrderBook>(book: &B, args: CreateArgs) -> anyhow::Result<()> {
    let new = match create_input(&args).order(Shape::Create) {
        Ok(new) => new,
        Err(refused) => return Err(invalid(book, refused).await),
    };
    let order = book.create_order(&new).await?;
    Ok(output::print_one(args.output.format(), &order)?)
}

/// The order `create`'s flags describe, unread.
fn create_input(args: &CreateArgs) -> RawOrder<'_> {
    RawOrder {
        datetime: args.datetime.as_deref().map(Raw::Text),
        totalfee: Some(Raw::Text(&args.fee)),
        services: Some(RawServices::Texts(&args.services)),
        ..RawOrder::default()
    }
}

async fn update<B: OrderBook>(book: &B, args: UpdateArgs) -> anyhow::Result<()> {
    let mut input = RawOrder {
        datetime: args.datetime.as_deref().map(Raw::Text),
        totalfee: args.fee.as_deref().map(Raw::Text),
        services: (!args.services.is_empty()).then_some(RawServices::Texts(&args.services)),
        ..RawOrder::default()
    };
    let id = collect(&mut input.errors, "id", parse_id(&args.id));
    match (id, input.patch()) {
        (Some(id), Ok(patch)) => {
            let order = book.update_order(id, &patch, None).await?;
            Ok(output::print_one(args.output.format(), &order)?)
        }
        (_, Err(refused)) => Err(invalid(book, refused).await),
        // The id's error is among the input's, so the patch is refused with it; should it not
        // be, the id is refused alone rather than the process panicking.
        (None, Ok(_)) => {
            Err(id_arg("id", &args.id).err().unwrap_or_else(|| Error::invalid("id", "must be an order id")).into())
        }
    }
}

/// The refused input's errors, with the unknown services among the valid ones named too.
async fn invalid<B: OrderBook>(book: &B, refused: Refusal) -> anyhow::Error {
    book.invalid(refused.errors, refused.services.as_deref()).await.into()
}

async fn services<B: OrderBook>(book: &B, command: ServicesCommand) -> anyhow::Result<()> {
    match command {
        ServicesCommand::List { output } => output::print_all(output.format(), &book.list_services().await?)?,
        ServicesCommand::Add { name, id, output } => {
            let id = id.map(|id| id_arg("id", &id)).transpose()?;
            output::print_one(output.format(), &book.add_service(id, &name).await?)?;
        }
        ServicesCommand::Rename { id, name, output } => {
            output::print_one(output.format(), &book.rename_service(id_arg("id", &id)?, &name).await?)?;
        }
        ServicesCommand::Delete { id, yes } => {
            let service = book.get_service(id_arg("id", &id)?).await?;
            confirm(yes, &format!("service {} ({})", service.id, service.name))?;
            book.delete_service(service.id).await?;
            eprintln!("orders: deleted service {}", service.id);
        }
    }
    Ok(())
}

/// Asks before deleting `what`, unless `--yes`. Without a terminal to ask on, refuses.
fn confirm(yes: bool, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!("not deleting {what} without --yes (standard input is not a terminal)")).into());
    }
    eprint!("delete {what}? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(anyhow::anyhow!("cancelled: {what} was not deleted"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::args::{Cli, Command};
    use crate::domain::input;

    fn create_args(flags: &[&str]) -> CreateArgs {
        let cli = Cli::try_parse_from(["orders", "create"].iter().chain(flags)).expect("flags clap accepts");
        let Some(Command::Records(RecordCommand::Create(args))) = cli.command else { panic!("a create") };
        args
    }

    #[test]
    fn create_flags_are_refused_field_by_field_with_the_apis_messages() {
        let flags = ["--datetime", "2016-12-31T23:59:60Z", "--fee", "1E27", "--service", "0", "--service", "x"];
        let from_flags = create_input(&create_args(&flags)).order(Shape::Create).unwrap_err();
        let body = r#"{"datetime": "2016-12-31T23:59:60Z", "totalfee": 1E27, "services": [0, "x"]}"#;
        let from_api = input::new_order(&serde_json::from_str(body).unwrap()).unwrap_err();
        assert_eq!(from_flags, from_api);
        let fields: Vec<&str> = from_flags.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["datetime", "totalfee", "services[0]", "services[1]"]);
    }

    #[test]
    fn create_flags_become_the_order_the_same_json_body_does() {
        let flags = ["--fee", "99.95", "--service", "789", "--service", "123"];
        let from_flags = create_input(&create_args(&flags)).order(Shape::Create);
        let from_api =
            input::new_order(&serde_json::from_str(r#"{"totalfee": 99.95, "services": [789, 123]}"#).unwrap());
        assert_eq!(from_flags, from_api);
    }
}
