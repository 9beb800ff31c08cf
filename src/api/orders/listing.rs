//! `GET /orders`: filters, keyset pages with `Link: rel="next"`, and without `limit` the whole
//! set streamed as one chunked JSON array, read from the database as the client reads it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use warp::Reply as _;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, LINK};

use crate::api::error::ApiError;
use crate::api::reply::{ApiResult, json, set_header};
use crate::api::request::{Req, limit_param};
use crate::auth::Role;
use crate::domain::{OrderKey, Timestamp, parse_id};
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

fn parse_query(req: &Req) -> Result<(OrderQuery, Vec<(String, String)>), ApiError> {
    let params = req.query_params(&["from", "to", "service", "limit", "after"])?;
    let mut query = OrderQuery::default();
    for (name, value) in &params {
        let bad = |e: String| ApiError::BadRequest(format!("query parameter {name}: {e}"));
        match name.as_str() {
            "from" => query.filter.from = Some(Timestamp::parse_bound(value).map_err(bad)?),
            "to" => query.filter.to = Some(Timestamp::parse_bound(value).map_err(bad)?),
            "service" => query.filter.service = Some(parse_id(value).map_err(bad)?),
            "after" => query.after = Some(OrderKey::from_cursor(value).map_err(bad)?),
            _ => query.limit = Some(limit_param(value)?),
        }
    }
    Ok((query, params))
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
        next.push(("after", last.key().to_cursor()));
        let query = serde_urlencoded::to_string(&next).unwrap_or_default();
        set_header(&mut response, LINK, &format!("</orders?{query}>; rel=\"next\""));
    }
    Ok(response)
}

/// The whole set: a task reads the store's stream and renders each order into a bounded
/// channel the response body drains, so memory stays flat however many orders there are.
/// The first row is read before answering, so an unreachable database is a 503, not a
/// broken 200.
async fn stream(req: &Req, query: OrderQuery) -> ApiResult {
    let mut orders = Box::pin(req.state.store.stream_orders(query));
    let first = orders.next().await.transpose()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(STREAM_BUFFER);
    tokio::spawn(async move {
        let mut chunk = match first {
            None => {
                let _ = tx.send(Ok(Bytes::from_static(b"[]"))).await;
                return;
            }
            Some(order) => format!("[{}", render(&order)),
        };
        while let Some(next) = orders.next().await {
            match next {
                Ok(order) => {
                    let previous = std::mem::replace(&mut chunk, format!(",{}", render(&order)));
                    if tx.send(Ok(Bytes::from(previous))).await.is_err() {
                        return; // the client went away
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "streaming orders failed midway");
                    let _ = tx.send(Err(std::io::Error::other("the order stream failed"))).await;
                    return;
                }
            }
        }
        chunk.push(']');
        let _ = tx.send(Ok(Bytes::from(chunk))).await;
    });
    let mut response = warp::reply::stream(Chunks(rx)).into_response();
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, warp::http::HeaderValue::from_static("application/json"));
    Ok(response)
}

fn render(order: &crate::domain::Order) -> String {
    serde_json::to_string(order).unwrap_or_else(|_| "null".to_owned())
}

/// The receiving end of the channel as a body stream (`Sync`, as warp asks).
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
