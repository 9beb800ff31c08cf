//! One small function per record command: read the flags through the domain's parsers, call
//! the store, print the result. Same rules and messages as the API.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use super::args::{CreateArgs, ListArgs, RecordCommand, ServicesCommand, UpdateArgs, UsageError};
use super::output::{self, Format};
use crate::actor::local_actor;
use crate::domain::input::service_ids_from_text;
use crate::domain::{FieldError, Money, NewOrder, OrderFilter, OrderPatch, ServiceRef, Timestamp, parse_id};
use crate::error::Error;
use crate::store::{OrderQuery, Store};

/// Runs a command that needs the store.
///
/// # Errors
/// Whatever the command failed with.
pub async fn run(store: &Store, command: RecordCommand) -> anyhow::Result<()> {
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
        RecordCommand::List(args) => list(store, args).await?,
        RecordCommand::Get { id, output } => {
            output::print_one(output.format(), &store.get_order(id_arg("id", &id)?).await?)?
        }
        RecordCommand::History { id, output } => {
            output::print_all(output.format(), &store.history(id_arg("id", &id)?).await?)?;
        }
        RecordCommand::Create(args) => create(store, args).await?,
        RecordCommand::Update(args) => update(store, args).await?,
        RecordCommand::Delete { id, yes } => {
            let id = id_arg("id", &id)?;
            let order = store.get_order(id).await?;
            let services: Vec<&str> = order.services.iter().map(|s| s.name.as_str()).collect();
            confirm(
                yes,
                &format!("order {id} at {} ({}, fee {})", order.datetime, services.join(", "), order.totalfee),
            )?;
            store.delete_order(id, Some(order.version), &local_actor("cli")).await?;
            eprintln!("orders: deleted order {id}");
        }
        RecordCommand::Services(command) => services(store, command).await?,
        RecordCommand::Export => export(store).await?,
        RecordCommand::Import { file } => super::import::run(store, &file).await?,
        RecordCommand::Rules { command, output } => super::rules::run(store, command, output).await?,
    }
    Ok(())
}

/// Reads an id flag or argument with the domain's rule.
fn id_arg(field: &str, text: &str) -> Result<i64, Error> {
    parse_id(text).map_err(|e| Error::invalid(field, e))
}

/// Collects a field's parse result, remembering its error.
fn field<T>(errors: &mut Vec<FieldError>, name: &str, result: Result<T, String>) -> Option<T> {
    result.map_err(|message| errors.push(FieldError::new(name, message))).ok()
}

async fn list(store: &Store, args: ListArgs) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    let from = args.from.and_then(|t| field(&mut errors, "from", Timestamp::parse_bound(&t)));
    let to = args.to.and_then(|t| field(&mut errors, "to", Timestamp::parse_bound(&t)));
    let service = args.service.and_then(|s| field(&mut errors, "service", parse_id(&s)));
    let limit = args.limit.and_then(|l| {
        let parsed = l.parse::<u32>().ok().filter(|n| *n >= 1);
        field(&mut errors, "limit", parsed.ok_or_else(|| format!("must be a whole number of at least 1, not {l:?}")))
    });
    if !errors.is_empty() {
        return Err(Error::Invalid(errors).into());
    }
    let query = OrderQuery { filter: OrderFilter { from, to, service }, limit, ..OrderQuery::default() };
    output::print_stream(args.output.format(), store.stream_orders(query)).await
}

async fn create(store: &Store, args: CreateArgs) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    let datetime = args.datetime.and_then(|t| field(&mut errors, "datetime", Timestamp::parse(&t)));
    let totalfee = field(&mut errors, "totalfee", Money::parse(&args.fee));
    let services = service_ids_from_text(&args.services).map_err(|e| errors.extend(e)).ok();
    let (totalfee, services) = match (totalfee, services) {
        (Some(totalfee), Some(services)) if errors.is_empty() => (totalfee, services),
        (_, services) => return Err(store.invalid(errors, services.as_deref()).await.into()),
    };
    let services = services.into_iter().map(|id| ServiceRef { id, name: None }).collect();
    let new = NewOrder { id: None, datetime, totalfee, services };
    let order = store.create_order(&new, &local_actor("cli")).await?;
    Ok(output::print_one(args.output.format(), &order)?)
}

async fn update(store: &Store, args: UpdateArgs) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    let id = field(&mut errors, "id", parse_id(&args.id));
    let patch = OrderPatch {
        datetime: args.datetime.and_then(|t| field(&mut errors, "datetime", Timestamp::parse(&t))),
        totalfee: args.fee.and_then(|f| field(&mut errors, "totalfee", Money::parse(&f))),
        services: match args.services.is_empty() {
            true => None,
            false => service_ids_from_text(&args.services).map_err(|e| errors.extend(e)).ok(),
        },
    };
    let Some(id) = id.filter(|_| errors.is_empty()) else {
        return Err(store.invalid(errors, patch.services.as_deref()).await.into());
    };
    let order = store.update_order(id, &patch, None, &local_actor("cli")).await?;
    Ok(output::print_one(args.output.format(), &order)?)
}

async fn services(store: &Store, command: ServicesCommand) -> anyhow::Result<()> {
    match command {
        ServicesCommand::List { output } => output::print_all(output.format(), &store.list_services().await?)?,
        ServicesCommand::Add { name, id, output } => {
            let id = id.map(|id| id_arg("id", &id)).transpose()?;
            output::print_one(output.format(), &store.add_service(id, &name).await?)?;
        }
        ServicesCommand::Rename { id, name, output } => {
            output::print_one(output.format(), &store.rename_service(id_arg("id", &id)?, &name).await?)?;
        }
        ServicesCommand::Delete { id, yes } => {
            let service = store.get_service(id_arg("id", &id)?).await?;
            confirm(yes, &format!("service {} ({})", service.id, service.name))?;
            store.delete_service(service.id).await?;
            eprintln!("orders: deleted service {}", service.id);
        }
    }
    Ok(())
}

async fn export(store: &Store) -> anyhow::Result<()> {
    output::print_stream(Format::Ndjson, store.export_orders()).await
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
