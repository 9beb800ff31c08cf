//! The JSON adapter (API bodies, import records): refuses the fields an order does not have
//! (and, in a merge patch, every `null`), hands the rest to the shared reader as raw JSON
//! values. Also reads a service's body (`{id?, name}`).

use serde_json::{Map, Value};

use super::messages;
use super::order::{RawOrder, Refusal, Shape};
use super::raw::{Raw, RawServices};
use crate::domain::service::{id_from_json, parse_name};
use crate::domain::{FieldError, NewOrder, OrderPatch};

/// The fields of a create, a replacement and a merge patch.
const ORDER_FIELDS: &[&str] = &["datetime", "totalfee", "services"];

/// The fields of an import record: the export shape, whose version and timestamps are ignored.
const RECORD_FIELDS: &[&str] = &["id", "datetime", "totalfee", "services", "version", "created_at", "updated_at"];

/// Reads a create request (`POST /orders`).
///
/// # Errors
/// Every field error at once.
pub fn new_order(body: &Map<String, Value>) -> Result<NewOrder, Refusal> {
    fields(body, ORDER_FIELDS, false).order(Shape::Create)
}

/// Reads one import record (the export shape).
///
/// # Errors
/// Every field error at once.
pub fn import_record(body: &Map<String, Value>) -> Result<NewOrder, Refusal> {
    let mut raw = fields(body, RECORD_FIELDS, false);
    raw.id = body.get("id").map(Raw::Json);
    raw.order(Shape::Whole)
}

/// Reads a full replacement (`PUT`).
///
/// # Errors
/// Every field error at once.
pub fn replacement(body: &Map<String, Value>) -> Result<OrderPatch, Refusal> {
    fields(body, ORDER_FIELDS, false).order(Shape::Whole).map(|new| OrderPatch {
        datetime: new.datetime,
        totalfee: Some(new.totalfee),
        services: Some(new.services.iter().map(|s| s.id).collect()),
    })
}

/// Reads a JSON merge patch (RFC 7396) of an order's fields; `null` for any field is invalid.
///
/// # Errors
/// Every field error at once.
pub fn patch(body: &Map<String, Value>) -> Result<OrderPatch, Refusal> {
    fields(body, ORDER_FIELDS, true).patch()
}

/// Collects an order's fields from `body`, refusing the ones not in `allowed` (and, in a
/// merge patch, every `null`, which then counts as absent).
fn fields<'a>(body: &'a Map<String, Value>, allowed: &[&str], merge_patch: bool) -> RawOrder<'a> {
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| FieldError::new(key, messages::not_an_order_field(allowed)))
        .collect();
    if merge_patch {
        let nulls = body.iter().filter(|(_, value)| value.is_null());
        errors.extend(nulls.map(|(field, _)| FieldError::new(field, messages::NOT_NULL)));
    }
    let get = |field| body.get(field).filter(|value| !(merge_patch && value.is_null()));
    RawOrder {
        errors,
        datetime: get("datetime").map(Raw::Json),
        totalfee: get("totalfee").map(Raw::Json),
        services: get("services").map(RawServices::Json),
        ..RawOrder::default()
    }
}

/// A service's body: `{id?, name}` (or only `{name}` for a rename), every field error at once.
///
/// # Errors
/// Every field error: an unknown field, a bad id, a missing or bad name.
pub fn service(body: &Map<String, Value>, id_allowed: bool) -> Result<(Option<i64>, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    for field in body.keys() {
        if field != "name" && !(id_allowed && field == "id") {
            errors.push(FieldError::new(field, messages::NOT_A_SERVICE_FIELD));
        }
    }
    let id = match body.get("id").filter(|_| id_allowed) {
        None => None,
        Some(value) => id_from_json(value, "a service id").map_err(|e| errors.push(FieldError::new("id", e))).ok(),
    };
    let name = match body.get("name") {
        None => {
            errors.push(FieldError::new("name", messages::REQUIRED));
            None
        }
        Some(Value::String(name)) => parse_name(name).map_err(|e| errors.push(FieldError::new("name", e))).ok(),
        Some(_) => {
            errors.push(FieldError::new("name", messages::NAME_NOT_A_STRING));
            None
        }
    };
    match name {
        Some(name) if errors.is_empty() => Ok((id, name)),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use proptest::prelude::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    fn fields(result: Result<impl std::fmt::Debug, impl Into<Vec<FieldError>>>) -> Vec<String> {
        result.unwrap_err().into().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_service_body_reports_every_field_error_at_once_and_a_rename_takes_no_id() {
        assert_eq!(service(&object(json!({"id": 7, "name": " Radon "})), true), Ok((Some(7), "Radon".to_owned())));
        assert_eq!(fields(service(&object(json!({"id": 0, "name": 5, "x": 1})), true)), ["x", "id", "name"]);
        assert_eq!(fields(service(&object(json!({"id": 7, "name": "Radon"})), false)), ["id"]);
        assert_eq!(fields(service(&object(json!({})), true)), ["name"]);
    }

    #[test]
    fn a_create_without_datetime_is_accepted_and_services_are_sorted() {
        let new = new_order(&object(json!({"totalfee": 99.95, "services": [789, "123", {"id": 456}]}))).unwrap();
        assert_eq!(new.datetime, None);
        assert_eq!(new.totalfee, Money::from_cents(9995));
        assert_eq!(new.services.iter().map(|s| s.id).collect::<Vec<_>>(), [123, 456, 789]);
    }

    #[test]
    fn every_field_error_is_reported_at_once() {
        let body = object(json!({"datetime": "soon", "totalfee": "100", "services": [1, 1], "extra": true}));
        let mut got = fields(new_order(&body));
        got.sort();
        assert_eq!(got, ["datetime", "extra", "services", "totalfee"]);
    }

    #[test]
    fn invalid_create_bodies_name_the_field_and_the_reason() {
        for (body, field, reason) in [
            (json!({"services": [1]}), "totalfee", "is required"),
            (json!({"totalfee": 1}), "services", "is required"),
            (json!({"totalfee": -1, "services": [1]}), "totalfee", "negative"),
            (json!({"totalfee": 1.001, "services": [1]}), "totalfee", "2 decimal places"),
            (json!({"totalfee": 1, "services": []}), "services", "at least one"),
            (json!({"totalfee": 1, "services": 1}), "services", "array"),
            (json!({"totalfee": 1, "services": [0]}), "services[0]", "integer from 1"),
            (json!({"totalfee": 1, "services": [2, "2"]}), "services", "the same service twice: 2"),
            (json!({"totalfee": 1, "services": [1], "datetime": 5}), "datetime", "RFC 3339"),
            (serde_json::from_str(r#"{"totalfee": 1e27, "services": [1]}"#).unwrap(), "totalfee", "got 1e+27"),
            (json!({"totalfee": 1, "services": [1], "datetime": "2016-12-31T23:59:60Z"}), "datetime", "leap second"),
            (json!({"totalfee": 1, "services": [1], "datetime": "0001-01-01T00:00:00+01:00"}), "datetime", "in UTC"),
            (json!({"totalfee": 1, "services": [9_223_372_036_854_775_808_u64]}), "services[0]", "integer from 1"),
            (json!({"totalfee": 1, "services": [1], "id": 5}), "id", "not a field"),
        ] {
            let errors = new_order(&object(body.clone())).unwrap_err().errors;
            assert!(
                errors.iter().any(|e| e.field == field && e.message.contains(reason)),
                "{body}: expected {field} {reason:?}, got {errors:?}"
            );
        }
    }

    #[test]
    fn a_replacement_needs_every_field_and_a_patch_refuses_null() {
        assert_eq!(fields(replacement(&object(json!({"totalfee": 1, "services": [1]})))), ["datetime"]);
        assert_eq!(fields(patch(&object(json!({"totalfee": null})))), ["totalfee"]);
        let only_fee = patch(&object(json!({"totalfee": 5}))).unwrap();
        assert_eq!(only_fee, OrderPatch { totalfee: Some(Money::from_cents(500)), ..OrderPatch::default() });
    }

    #[test]
    fn an_import_record_keeps_its_id_and_ignores_version_and_timestamps() {
        let record = import_record(&object(json!({
            "id": 7, "datetime": "2022-11-01T11:11:11.111Z", "totalfee": 100,
            "services": [{"id": 123, "name": "Inspection"}], "version": 3,
            "created_at": "2022-01-01T00:00:00.000Z", "updated_at": "2022-01-01T00:00:00.000Z"
        })))
        .unwrap();
        assert_eq!(record.id, Some(7));
        assert_eq!(record.services[0].name.as_deref(), Some("Inspection"));
        assert_eq!(fields(import_record(&object(json!({"totalfee": 1, "services": [1]})))), ["datetime"]);
    }

    /// Any JSON number's text: integers of any size and sign, fractions, exponents.
    fn json_number() -> impl Strategy<Value = Value> {
        let text = "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,40})?([eE][+-]?[0-9]{1,25})?";
        prop_oneof![
            text.prop_map(|t| serde_json::from_str::<Value>(&t).expect("a JSON number")),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
        ]
    }

    /// Any JSON value, numbers and timestamps weighted in.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            json_number(),
            "\\PC{0,20}".prop_map(Value::String),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("id|name|x|[a-z]{1,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_json_body_is_read_or_refused_field_by_field_never_a_panic(
            fields in prop::collection::btree_map("datetime|totalfee|services|id|name|version|[a-z]{1,8}", json_value(), 0..5),
            fee in json_number(),
        ) {
            let mut body: Map<String, Value> = fields.into_iter().collect();
            let as_generated = body.clone();
            body.insert("totalfee".to_owned(), fee);
            for body in [as_generated, body] {
                let results = [
                    new_order(&body).map(drop).map_err(Vec::from),
                    import_record(&body).map(drop).map_err(Vec::from),
                    replacement(&body).map(drop).map_err(Vec::from),
                    patch(&body).map(drop).map_err(Vec::from),
                    service(&body, true).map(drop),
                ];
                for errors in results.into_iter().filter_map(Result::err) {
                    prop_assert!(!errors.is_empty());
                    for error in errors {
                        prop_assert!(!error.field.is_empty() && !error.message.is_empty(), "{:?}", error);
                    }
                }
            }
        }
    }
}
