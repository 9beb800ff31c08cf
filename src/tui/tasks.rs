//! The book calls behind each [`Effect`] (the store here, or the API in remote mode): run off
//! the UI task, each answers with one [`Action`] that the event loop feeds back into `update`.
//! Writes are made in the book's name (`tui:<user>`, or the token's subject).

use super::app::{Action, Anchor, Effect, Loaded};
use super::window::{Direction, PAGE};
use crate::Error;
use crate::book::OrderBook;
use crate::domain::{Order, OrderFilter, OrderKey, SortOrder};
use crate::store::OrderQuery;

/// Carries out a store effect; `None` for effects that are not store calls (`Copy`).
pub async fn perform<B: OrderBook>(book: &B, effect: Effect) -> Option<Action> {
    Some(match effect {
        Effect::Load { generation, filter, id, sort, anchor, select, rows } => {
            let result = match id {
                Some(id) => by_id(book, id, &filter).await,
                None => load(book, filter, sort, anchor, rows).await,
            };
            Action::Loaded(
                generation,
                result.map(|mut loaded| {
                    loaded.select = select.or(loaded.select);
                    loaded
                }),
            )
        }
        Effect::Extend { generation, filter, sort, direction, after } => {
            let sort = if direction == Direction::Forward { sort } else { sort.reversed() };
            let page = page(book, filter, sort, Some(after), PAGE).await;
            Action::Extended(
                generation,
                direction,
                after,
                page.map(|rows| {
                    let complete = rows.len() < PAGE as usize;
                    (rows, complete)
                }),
            )
        }
        Effect::Count { generation, filter } => Action::Counted(generation, book.count_orders(&filter).await),
        Effect::LoadServices => Action::Services(book.list_services().await),
        Effect::Create(new) => Action::Saved(book.create_order(&new).await),
        Effect::Update { id, patch, version } => Action::Saved(book.update_order(id, &patch, Some(version)).await),
        Effect::Reload(id) => Action::Reloaded(book.get_order(id).await),
        Effect::Delete { id, version } => Action::Deleted(id, book.delete_order(id, Some(version)).await),
        Effect::Find(id) => Action::Found(book.get_order(id).await),
        Effect::History(id) => Action::History(id, book.history(id).await),
        Effect::SaveService { id: None, name } => Action::ServiceSaved(false, book.add_service(None, &name).await),
        Effect::SaveService { id: Some(id), name } => Action::ServiceSaved(false, book.rename_service(id, &name).await),
        Effect::DeleteService(id) => Action::ServiceSaved(true, book.delete_service(id).await),
        Effect::Copy(_) => return None,
    })
}

async fn page<B: OrderBook>(
    book: &B,
    filter: OrderFilter,
    sort: SortOrder,
    after: Option<OrderKey>,
    limit: u32,
) -> Result<Vec<Order>, Error> {
    book.list_orders(&OrderQuery { filter, sort, after, limit: Some(limit) }).await
}

/// Rows around the anchor: up to `rows` before it (nearest last) and `rows` from it on.
async fn load<B: OrderBook>(
    book: &B,
    filter: OrderFilter,
    sort: SortOrder,
    anchor: Anchor,
    rows: u32,
) -> Result<Loaded, Error> {
    match anchor {
        Anchor::Start => {
            let rows_after = page(book, filter, sort, None, rows).await?;
            let at_end = rows_after.len() < rows as usize;
            Ok(Loaded { rows: rows_after, at_start: true, at_end, select: None, fallback: 0 })
        }
        Anchor::End => {
            let mut before = page(book, filter, sort.reversed(), None, rows).await?;
            before.reverse();
            let at_start = before.len() < rows as usize;
            let fallback = before.len().saturating_sub(1);
            Ok(Loaded { rows: before, at_start, at_end: true, select: None, fallback })
        }
        Anchor::Around(key) => {
            let mut before = page(book, filter.clone(), sort.reversed(), Some(key), rows).await?;
            // Rows after the one just before the anchor: the anchor itself (if still there) on.
            let from = before.first().map(Order::key);
            let after = page(book, filter, sort, from, rows * 2).await?;
            let (at_start, at_end) = (before.len() < rows as usize, after.len() < rows as usize * 2);
            before.reverse();
            let fallback = before.len();
            before.extend(after);
            Ok(Loaded { rows: before, at_start, at_end, select: None, fallback })
        }
    }
}

/// The one order a filter by id shows (if it also matches the rest of the filter).
async fn by_id<B: OrderBook>(book: &B, id: i64, filter: &OrderFilter) -> Result<Loaded, Error> {
    let rows = match book.get_order(id).await {
        Ok(order) => vec![order].into_iter().filter(|o| matches(o, filter)).collect(),
        Err(Error::NotFound { .. }) => Vec::new(),
        Err(error) => return Err(error),
    };
    Ok(Loaded { rows, at_start: true, at_end: true, select: Some(id), fallback: 0 })
}

fn matches(order: &Order, filter: &OrderFilter) -> bool {
    filter.from.is_none_or(|from| order.datetime >= from)
        && filter.to.is_none_or(|to| order.datetime < to)
        && filter.service.is_none_or(|id| order.services.iter().any(|s| s.id == id))
}
