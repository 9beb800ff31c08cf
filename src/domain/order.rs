//! Orders and their history: the stored order, what a create or an update asks for, how a
//! listing is filtered, ordered and paged, and the events that record every change.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::{Money, Service, ServiceRef, Timestamp};

/// An order as stored, in the API's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    /// 1 … 2^63−1.
    pub id: i64,
    /// The appointment instant.
    pub datetime: Timestamp,
    /// What the order costs.
    pub totalfee: Money,
    /// The services, in ascending id order.
    pub services: Vec<Service>,
    /// 1 on create, +1 on every update.
    pub version: i64,
    /// When the store created it.
    pub created_at: Timestamp,
    /// When the store last changed it.
    pub updated_at: Timestamp,
}

impl Order {
    /// The position of this order in the (datetime, id) ordering.
    pub fn key(&self) -> OrderKey {
        OrderKey { datetime: self.datetime, id: self.id }
    }
}

/// What a create (or an import record) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Only import keeps a given id; a create gets the next free one.
    pub id: Option<i64>,
    /// Omitted on create means now.
    pub datetime: Option<Timestamp>,
    /// What the order costs.
    pub totalfee: Money,
    /// At least one, no duplicates, in ascending id order.
    pub services: Vec<ServiceRef>,
}

/// The fields an update changes; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPatch {
    /// A new appointment instant.
    pub datetime: Option<Timestamp>,
    /// A new fee.
    pub totalfee: Option<Money>,
    /// A new set of service ids, ascending, no duplicates.
    pub services: Option<Vec<i64>>,
}

impl OrderPatch {
    /// Whether the patch changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.datetime.is_none() && self.totalfee.is_none() && self.services.is_none()
    }
}

/// Which orders a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Orders at or after this instant.
    pub from: Option<Timestamp>,
    /// Orders strictly before this instant.
    pub to: Option<Timestamp>,
    /// Orders that include this service id.
    pub service: Option<i64>,
}

/// The order in which a listing runs; every variant is index-backed and total (ties by id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// By (datetime, id), earliest first: the API's order.
    #[default]
    DatetimeAsc,
    /// By (datetime, id), latest first.
    DatetimeDesc,
    /// By id, lowest first.
    IdAsc,
    /// By id, highest first.
    IdDesc,
}

impl SortOrder {
    /// The same column, the other direction.
    pub fn reversed(self) -> Self {
        match self {
            Self::DatetimeAsc => Self::DatetimeDesc,
            Self::DatetimeDesc => Self::DatetimeAsc,
            Self::IdAsc => Self::IdDesc,
            Self::IdDesc => Self::IdAsc,
        }
    }
}

/// A position in a listing: the last order a page showed. Pages continue strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    /// The order's datetime.
    pub datetime: Timestamp,
    /// The order's id.
    pub id: i64,
}

impl OrderKey {
    /// The opaque cursor text the API hands out for `after`.
    pub fn to_cursor(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.datetime.millis(), self.id))
    }

    /// Reads a cursor made by [`OrderKey::to_cursor`].
    ///
    /// # Errors
    /// A message when the text is not such a cursor.
    pub fn from_cursor(cursor: &str) -> Result<Self, String> {
        let bad = || format!("is not a cursor this server handed out: {cursor:?}");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (millis, id) = text.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            datetime: Timestamp::from_millis(millis.parse().map_err(|_| bad())?),
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The order was created (or imported).
    Created,
    /// The order was changed.
    Updated,
    /// The order was deleted.
    Deleted,
}

impl EventKind {
    /// The stored and printed word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }

    /// Reads the stored word.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Created, Self::Updated, Self::Deleted].into_iter().find(|k| k.as_str() == word)
    }
}

/// One entry of the history: a change to one order, as it was right after the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Increases strictly across all orders, in commit order.
    pub seq: i64,
    /// The order changed.
    pub order_id: i64,
    /// What happened.
    pub kind: EventKind,
    /// Who did it: a token subject, `cli:<user>`, `tui:<user>` or `import`.
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// The order after the change (for a delete, as it was when deleted).
    pub order: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key = OrderKey { datetime: Timestamp::from_millis(-5), id: 42 };
        assert_eq!(OrderKey::from_cursor(&key.to_cursor()), Ok(key));
        for bad in ["", "!!!", "bm9wZQ"] {
            assert!(OrderKey::from_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn event_kinds_read_back_what_they_print() {
        for kind in [EventKind::Created, EventKind::Updated, EventKind::Deleted] {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("renamed"), None);
    }
}
