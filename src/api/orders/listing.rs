//! `GET /orders`: filters, keyset pages with `Link: rel="next"`, and without `limit` the whole
//! set streamed as one chunked JSON array, read from the database as the client reads it, on a
//! connection of its own, at most `server.max_streams` at once, cut when its client stalls.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc::{Receiver, Sender};
use warp::Reply as _;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, LINK};

use crate::api::error::ApiError;
use crate::api::reply::{ApiResult, json, set_header};
use crate::api::request::{Req, id_text, limit_param};
use crate::auth::Role;
use crate::domain::{Order, OrderFilter, OrderKey, SortOrder, Timestamp};
use crate::error::Error;
use crate::store::OrderQuery;

/// How many rendered orders may wait for a slow client.
const STREAM_BUFFER: usize = 16;

/// `GET /orders`.
pub(super) async fn list(req: Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let (query, params) = parse_query(&req)?;
    match query.limit {
        Some(limit) => page(&req, query, limit, &params).await,
        None => stream(&req, query).await,
    }
}

/// `GET /orders/count`: `{"count": N}` for the filters `GET /orders` takes.
pub(super) async fn count(req: Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let mut filter = OrderFilter::default();
    for (name, value) in &req.query_params(&["from", "to", "service"])? {
        set_filter(&mut filter, name, value)?;
    }
    let count = req.state.store.count_orders(&filter).await?;
    json(StatusCode::OK, &serde_json::json!({ "count": count }))
}

fn parse_query(req: &Req) -> Result<(OrderQuery, Vec<(String, String)>), ApiError> {
    let params = req.query_params(&["from", "to", "service", "sort", "limit", "after"])?;
    let mut query = OrderQuery::default();
    for (name, value) in &params {
        let bad = |e: String| ApiError::BadRequest(format!("query parameter {name}: {e}"));
        match name.as_str() {
            "sort" => query.sort = sort_param(value).map_err(bad)?,
            "after" => query.after = Some(parse_cursor(value).map_err(bad)?),
            "limit" => query.limit = Some(limit_param(value)?),
            _ => set_filter(&mut query.filter, name, value)?,
        }
    }
    Ok((query, params))
}

/// One of the filters (`from`, `to`, `service`).
fn set_filter(filter: &mut OrderFilter, name: &str, value: &str) -> Result<(), ApiError> {
    let bad = |e: String| ApiError::BadRequest(format!("query parameter {name}: {e}"));
    match name {
        "from" => filter.from = Some(Timestamp::parse_bound(value).map_err(bad)?),
        "to" => filter.to = Some(Timestamp::parse_bound(value).map_err(bad)?),
        _ => filter.service = Some(id_text(value).map_err(bad)?),
    }
    Ok(())
}

/// `sort`: `datetime` (the default), `-datetime`, `id` or `-id`.
fn sort_param(value: &str) -> Result<SortOrder, String> {
    match value {
        "datetime" => Ok(SortOrder::DatetimeAsc),
        "-datetime" => Ok(SortOrder::DatetimeDesc),
        "id" => Ok(SortOrder::IdAsc),
        "-id" => Ok(SortOrder::IdDesc),
        _ => Err(format!("must be datetime, -datetime, id or -id, not {value:?}")),
    }
}

/// The `after` a page's `Link` hands out: the last order's position, `<datetime as
/// milliseconds since the Unix epoch>.<id>` (a `sort` by id reads only the id).
fn cursor(key: OrderKey) -> String {
    format!("{}.{}", key.datetime.millis(), key.id)
}

/// Reads an `after`: any two integers joined by a dot, each optionally negative. Every such
/// pair is a position; one past the range of a 64-bit integer is read as that range's end,
/// which lies beyond every order in the same direction, so the page is the same.
fn parse_cursor(text: &str) -> Result<OrderKey, String> {
    let bad = || format!("must be <milliseconds>.<id> as a Link header hands it out, not {text:?}");
    let (millis, id) = text.split_once('.').ok_or_else(bad)?;
    let (millis, id) = (saturating_integer(millis).ok_or_else(bad)?, saturating_integer(id).ok_or_else(bad)?);
    Ok(OrderKey { datetime: Timestamp::from_millis(millis), id })
}

/// `-?[0-9]+` as an `i64`, clamped to its range.
fn saturating_integer(text: &str) -> Option<i64> {
    let (negative, digits) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(if negative { i64::MIN } else { i64::MAX }))
}

/// One page; `Link: <…>; rel="next"` when more remain.
async fn page(req: &Req, mut query: OrderQuery, limit: u32, params: &[(String, String)]) -> ApiResult {
    query.limit = Some(limit + 1);
    let mut orders = req.state.store.list_orders(&query).await?;
    let more = orders.len() > limit as usize;
    orders.truncate(limit as usize);
    let mut response = json(StatusCode::OK, &orders)?;
    if let (true, Some(last)) = (more, orders.last()) {
        let mut next: Vec<(&str, String)> =
            params.iter().filter(|(n, _)| n != "after").map(|(n, v)| (n.as_str(), v.clone())).collect();
        next.push(("after", cursor(last.key())));
        let query = serde_urlencoded::to_string(&next).unwrap_or_default();
        set_header(&mut response, LINK, &format!("</orders?{query}>; rel=\"next\""));
    }
    Ok(response)
}

/// The whole set: a task reads the store's stream and renders each order into a bounded
/// channel the response body drains, so memory stays flat however many orders there are.
///
/// docs/limits.md, "readers never starve writers": the store reads on a connection of its own
/// (none of the pool's), at most `server.max_streams` streams run at once (beyond: 503 at once,
/// never a wait), and a client that takes nothing for `server.stream_stall` is cut: the task
/// ends at once, closing its database connection and freeing its slot. The body then ends in
/// an error, so once the client reads what is already buffered, hyper closes the connection
/// without the final chunk: the client sees a broken response, never a complete-looking one.
/// (A client that never reads again keeps its TCP connection until the connection loop closes
/// it; nothing here can reach a socket hyper is blocked writing to.) The first row is read
/// before answering, so an unreachable database is a 503, not a broken 200.
async fn stream(req: &Req, query: OrderQuery) -> ApiResult {
    let slot = Arc::clone(&req.state.streams).try_acquire_owned().map_err(|_| {
        let most = req.state.limits.max_streams;
        Error::Busy(format!("{most} streamed listings are running, the most at once; try again, or page with limit"))
    })?;
    let mut orders = Box::pin(req.state.store.stream_orders(query));
    let first = orders.next().await.transpose()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(STREAM_BUFFER);
    let cut = Cut { stall: req.state.limits.stream_stall, query: req.query.clone() };
    tokio::spawn(async move {
        let _slot = slot; // freed when the task ends, however it ends
        produce(first, orders, &tx, &cut).await;
    });
    let mut response = warp::reply::stream(Chunks { rx, complete: false }).into_response();
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, warp::http::HeaderValue::from_static("application/json"));
    Ok(response)
}

/// When a stream is cut, and what its warning names.
struct Cut {
    stall: Duration,
    query: String,
}

/// Renders `first` and the rest of `orders` into `tx` as one JSON array. Stops early when the
/// client went away, took nothing for the stall, or the database failed midway; the body then
/// ends in an error (see [`Chunks`]).
async fn produce(
    first: Option<Order>,
    mut orders: impl Stream<Item = crate::error::Result<Order>> + Unpin,
    tx: &Sender<Piece>,
    cut: &Cut,
) {
    let Some(order) = first else {
        deliver(tx, Piece::Last(Bytes::from_static(b"[]")), cut, 0).await;
        return;
    };
    let (mut chunk, mut sent) = (format!("[{}", render(&order)), 0_u64);
    while let Some(next) = orders.next().await {
        let order = match next {
            Ok(order) => order,
            Err(err) => {
                tracing::error!(error = %err, sent, "streaming orders failed midway");
                return;
            }
        };
        let previous = std::mem::replace(&mut chunk, format!(",{}", render(&order)));
        if !deliver(tx, Piece::More(Bytes::from(previous)), cut, sent).await {
            return;
        }
        sent += 1;
    }
    chunk.push(']');
    deliver(tx, Piece::Last(Bytes::from(chunk)), cut, sent).await;
}

/// Hands one piece to the body; false when the stream must end: the client went away, or
/// took nothing for the stall (logged: `sent` orders had gone).
async fn deliver(tx: &Sender<Piece>, piece: Piece, cut: &Cut, sent: u64) -> bool {
    match tokio::time::timeout(cut.stall, tx.send(piece)).await {
        Ok(delivered) => delivered.is_ok(),
        Err(_) => {
            let (stall, query) = (cut.stall, &cut.query);
            tracing::warn!(%query, sent, "cut a streamed listing: its client read nothing for {stall:?}");
            false
        }
    }
}

fn render(order: &Order) -> String {
    serde_json::to_string(order).unwrap_or_else(|_| "null".to_owned())
}

/// What the producing task hands the body: more of the array, or its end.
enum Piece {
    More(Bytes),
    Last(Bytes),
}

/// The receiving end of the channel as a body stream (`Sync`, as warp asks). A channel that
/// closes before the last piece (the task was cut, or the database failed midway) ends the
/// body in an error.
struct Chunks {
    rx: Receiver<Piece>,
    complete: bool,
}

impl Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.complete {
            return Poll::Ready(None);
        }
        Poll::Ready(match ready!(self.rx.poll_recv(cx)) {
            Some(Piece::More(chunk)) => Some(Ok(chunk)),
            Some(Piece::Last(chunk)) => {
                self.complete = true;
                Some(Ok(chunk))
            }
            None => {
                self.complete = true;
                Some(Err(std::io::Error::other("the order stream was cut short")))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_any_two_integers_are_a_position() {
        let key = OrderKey { datetime: Timestamp::from_millis(-5), id: 42 };
        assert_eq!(parse_cursor(&cursor(key)), Ok(key));
        let far = parse_cursor("99999999999999999999.-99999999999999999999").unwrap();
        assert_eq!((far.datetime.millis(), far.id), (i64::MAX, i64::MIN));
        for bad in ["", "1", "1.", ".1", "1.2.3", "+1.2", "1.x", "MTIzLjQ", "1 .2"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sort_takes_the_four_orders() {
        assert_eq!(sort_param("-id"), Ok(SortOrder::IdDesc));
        assert!(sort_param("name").is_err());
    }
}
