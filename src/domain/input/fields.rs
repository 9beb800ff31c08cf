//! One reader per field of an order: whichever surface collected the raw value (a flag, a
//! form field, a JSON body), the same rules and the same messages.

use serde_json::Value;

use super::messages;
use super::raw::{Raw, RawServices};
use crate::domain::service::id_from_json;
use crate::domain::{FieldError, Money, ServiceRef, Timestamp, parse_id};

/// How a surface reads datetime text: RFC 3339 ([`Timestamp::parse`]) everywhere but the
/// dashboard, which also takes a local time.
pub type ReadTime<'a> = &'a dyn Fn(&str) -> Result<Timestamp, String>;

/// Reads an order's `id` (only import keeps one).
pub(super) fn order_id(raw: Raw<'_>) -> Result<i64, String> {
    match raw {
        Raw::Text(text) => parse_id(text),
        Raw::Json(value) => id_from_json(value, "an order id"),
    }
}

/// Reads `datetime`: text through `read_time`, and in JSON only a string.
pub(super) fn datetime(raw: Raw<'_>, read_time: ReadTime<'_>) -> Result<Timestamp, String> {
    match raw {
        Raw::Text(text) => read_time(text),
        Raw::Json(Value::String(text)) => read_time(text),
        Raw::Json(other) => Err(messages::not_a_timestamp_string(other)),
    }
}

/// Reads `totalfee`: text as typed, and in JSON only a number (read from its exact digits).
pub(super) fn totalfee(raw: Raw<'_>) -> Result<Money, String> {
    match raw {
        Raw::Text(text) => Money::parse(text),
        Raw::Json(Value::Number(number)) => Money::parse(&number.to_string()),
        Raw::Json(Value::String(_)) => Err(messages::FEE_AS_STRING.to_owned()),
        Raw::Json(other) => Err(messages::not_a_number(other)),
    }
}

/// Reads `services`: at least one, each a valid reference (its error under `services[i]`), no
/// service twice; the result is in ascending id order. Every problem goes to `errors`.
pub(super) fn services(raw: &RawServices<'_>, errors: &mut Vec<FieldError>) -> Option<Vec<ServiceRef>> {
    let named = |id| ServiceRef { id, name: None };
    let elements: Vec<Result<ServiceRef, String>> = match raw {
        RawServices::Json(Value::Array(elements)) => elements.iter().map(ServiceRef::from_json).collect(),
        RawServices::Json(other) => {
            errors.push(FieldError::new("services", messages::not_an_array(other)));
            return None;
        }
        RawServices::Texts(texts) => texts.iter().map(|text| parse_id(text).map(named)).collect(),
        RawServices::Picked(ids) => ids.iter().map(|id| Ok(named(*id))).collect(),
    };
    let (before, given) = (errors.len(), elements.len());
    let mut refs = Vec::with_capacity(elements.len());
    for (index, element) in elements.into_iter().enumerate() {
        match element {
            Ok(reference) => refs.push(reference),
            Err(message) => errors.push(FieldError::new(format!("services[{index}]"), message)),
        }
    }
    if given == 0 {
        errors.push(FieldError::new("services", messages::NO_SERVICE));
    }
    refs.sort_by_key(|r| r.id);
    if let Some(pair) = refs.windows(2).find(|pair| pair[0].id == pair[1].id) {
        errors.push(FieldError::new("services", messages::same_service_twice(pair[0].id)));
    }
    (errors.len() == before).then_some(refs)
}
