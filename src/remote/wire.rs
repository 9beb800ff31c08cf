//! The API's JSON shapes, read back into the domain's values (which only serialize: the
//! server never reads an order it wrote), and the domain's requests written as the API's
//! bodies and query parameters.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::domain::{
    Event, EventKind, Money, NewOrder, Order, OrderFilter, OrderKey, OrderPatch, Service, SortOrder, Timestamp,
};
use crate::error::{Error, Result};

/// An order as the API renders it.
#[derive(Deserialize)]
pub struct WireOrder {
    id: i64,
    datetime: String,
    totalfee: serde_json::Number,
    services: Vec<Service>,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl WireOrder {
    /// The order.
    ///
    /// # Errors
    /// [`Error::Internal`] when a field is not what the API promises.
    pub fn into_order(self) -> Result<Order> {
        Ok(Order {
            id: self.id,
            datetime: timestamp(&self.datetime)?,
            totalfee: Money::parse(&self.totalfee.to_string()).map_err(unreadable)?,
            services: self.services,
            version: self.version,
            created_at: timestamp(&self.created_at)?,
            updated_at: timestamp(&self.updated_at)?,
        })
    }
}

/// A history event as the API renders it.
#[derive(Deserialize)]
pub struct WireEvent {
    seq: i64,
    order_id: i64,
    kind: String,
    actor: String,
    at: String,
    order: Value,
}

impl WireEvent {
    /// The event.
    ///
    /// # Errors
    /// [`Error::Internal`] when a field is not what the API promises.
    pub fn into_event(self) -> Result<Event> {
        let kind =
            EventKind::parse(&self.kind).ok_or_else(|| unreadable(format!("unknown event kind {:?}", self.kind)))?;
        Ok(Event {
            seq: self.seq,
            order_id: self.order_id,
            kind,
            actor: self.actor,
            at: timestamp(&self.at)?,
            order: self.order,
        })
    }
}

fn timestamp(text: &str) -> Result<Timestamp> {
    Timestamp::parse(text).map_err(unreadable)
}

fn unreadable(why: impl std::fmt::Display) -> Error {
    Error::Internal(format!("the API answered an unreadable record: {why}").into())
}

/// `POST /orders`'s body.
pub fn new_order(new: &NewOrder) -> Value {
    let mut body = Map::new();
    if let Some(datetime) = new.datetime {
        body.insert("datetime".to_owned(), json!(datetime));
    }
    body.insert("totalfee".to_owned(), json!(new.totalfee));
    body.insert("services".to_owned(), new.services.iter().map(|s| s.id).collect());
    Value::Object(body)
}

/// `PATCH /orders/{id}`'s merge patch: the fields it changes.
pub fn patch(patch: &OrderPatch) -> Value {
    let mut body = Map::new();
    if let Some(datetime) = patch.datetime {
        body.insert("datetime".to_owned(), json!(datetime));
    }
    if let Some(totalfee) = patch.totalfee {
        body.insert("totalfee".to_owned(), json!(totalfee));
    }
    if let Some(services) = &patch.services {
        body.insert("services".to_owned(), json!(services));
    }
    Value::Object(body)
}

/// A filter's query parameters (`from`, `to`, `service`).
pub fn filter_params(filter: &OrderFilter) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    if let Some(from) = filter.from {
        params.push(("from", from.to_string()));
    }
    if let Some(to) = filter.to {
        params.push(("to", to.to_string()));
    }
    if let Some(service) = filter.service {
        params.push(("service", service.to_string()));
    }
    params
}

/// `sort`'s value.
pub fn sort_param(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::DatetimeAsc => "datetime",
        SortOrder::DatetimeDesc => "-datetime",
        SortOrder::IdAsc => "id",
        SortOrder::IdDesc => "-id",
    }
}

/// `after`'s value: the position as a page's `Link` hands it out, `<milliseconds>.<id>`.
pub fn cursor(key: OrderKey) -> String {
    format!("{}.{}", key.datetime.millis(), key.id)
}

/// The target of a `Link: <…>; rel="next"` header, if there is one.
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all(reqwest::header::LINK).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(
        |link| {
            let (target, params) = link.trim().split_once(';')?;
            let next = params
                .split(';')
                .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\"") || p.trim().eq_ignore_ascii_case("rel=next"));
            next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_reads_back_as_it_was_rendered() {
        let order = Order {
            id: 7,
            datetime: Timestamp::parse("2022-11-01T14:11:11.111Z").unwrap(),
            totalfee: Money::parse("99.95").unwrap(),
            services: vec![Service { id: 123, name: "Inspection".to_owned() }],
            version: 2,
            created_at: Timestamp::from_millis(1),
            updated_at: Timestamp::from_millis(2),
        };
        let wire: WireOrder = serde_json::from_str(&serde_json::to_string(&order).unwrap()).unwrap();
        assert_eq!(wire.into_order().unwrap(), order);
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::LINK,
            "</a>; rel=\"prev\", </orders/7/history?after=9&limit=2>; rel=\"next\"".parse().unwrap(),
        );
        assert_eq!(next_link(&headers).as_deref(), Some("/orders/7/history?after=9&limit=2"));
        assert_eq!(next_link(&reqwest::header::HeaderMap::new()), None);
    }
}
