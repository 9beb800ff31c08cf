//! `GET /orders/{id}/history`: one order's events, oldest first, paged by `after` (a `seq`)
//! and `limit` as `/events` is, with `Link: <…>; rel="next"` while more remain.

use warp::http::StatusCode;
use warp::http::header::LINK;

use crate::api::events::seq_page;
use crate::api::reply::{ApiResult, json, set_header};
use crate::api::request::{Req, path_id};
use crate::auth::Role;

/// One page of the order's history (404 for an id that never existed).
pub(super) async fn page(id: &str, req: &Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let id = path_id("order", id)?;
    let (after, limit) = seq_page(req)?;
    // One more than asked for tells whether another page follows.
    let mut events = req.state.store.history_page(id, after, limit.saturating_add(1)).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let mut response = json(StatusCode::OK, &events)?;
    if let (true, Some(last)) = (more, events.last()) {
        let next = format!("</orders/{id}/history?after={}&limit={limit}>; rel=\"next\"", last.seq);
        set_header(&mut response, LINK, &next);
    }
    Ok(response)
}
