//! Turns untrusted JSON (API bodies, import records) and flag text (CLI) into domain values,
//! reporting every field error at once with the same messages everywhere.

use serde_json::{Map, Value};

use super::service::{id_from_json, parse_name};
use super::{FieldError, Money, NewOrder, OrderPatch, ServiceRef, Timestamp, parse_id};

/// Which fields an order input must, may and must not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `POST /orders`, `orders create`: datetime optional; totalfee and services required.
    Create,
    /// `PUT`: datetime, totalfee and services all required.
    Replace,
    /// An `import` record in the export shape: id optional, version and timestamps ignored.
    Import,
}

/// Reads a create request.
///
/// # Errors
/// Every field error at once.
pub fn new_order(body: &Map<String, Value>) -> Result<NewOrder, Vec<FieldError>> {
    order_fields(body, Shape::Create)
}

/// Reads one import record (the export shape).
///
/// # Errors
/// Every field error at once.
pub fn import_record(body: &Map<String, Value>) -> Result<NewOrder, Vec<FieldError>> {
    order_fields(body, Shape::Import)
}

/// Reads a full replacement (`PUT`).
///
/// # Errors
/// Every field error at once.
pub fn replacement(body: &Map<String, Value>) -> Result<OrderPatch, Vec<FieldError>> {
    order_fields(body, Shape::Replace).map(|new| OrderPatch {
        datetime: new.datetime,
        totalfee: Some(new.totalfee),
        services: Some(new.services.iter().map(|s| s.id).collect()),
    })
}

/// Reads a JSON merge patch (RFC 7396) of an order's fields; `null` for any field is invalid.
///
/// # Errors
/// Every field error at once.
pub fn patch(body: &Map<String, Value>) -> Result<OrderPatch, Vec<FieldError>> {
    let mut errors = unknown_fields(body, &["datetime", "totalfee", "services"]);
    for (field, value) in body {
        if value.is_null() {
            errors.push(FieldError::new(field, "must not be null: it cannot be removed"));
        }
    }
    let present = |field| body.get(field).filter(|v| !v.is_null());
    let datetime = present("datetime").and_then(|v| collect(&mut errors, "datetime", datetime_from_json(v)));
    let totalfee = present("totalfee").and_then(|v| collect(&mut errors, "totalfee", fee_from_json(v)));
    let services = present("services").and_then(|v| services_from_json(v, &mut errors));
    if errors.is_empty() {
        Ok(OrderPatch { datetime, totalfee, services: services.map(|s| s.iter().map(|s| s.id).collect()) })
    } else {
        Err(errors)
    }
}

fn order_fields(body: &Map<String, Value>, shape: Shape) -> Result<NewOrder, Vec<FieldError>> {
    let allowed: &[&str] = match shape {
        Shape::Import => &["id", "datetime", "totalfee", "services", "version", "created_at", "updated_at"],
        _ => &["datetime", "totalfee", "services"],
    };
    let mut errors = unknown_fields(body, allowed);
    let id = match body.get("id") {
        Some(value) if shape == Shape::Import => collect(
            &mut errors,
            "id",
            super::service::id_from_json(value).map_err(|e| e.replace("service id", "order id")),
        ),
        _ => None,
    };
    let datetime = match body.get("datetime") {
        None if shape == Shape::Create => None,
        None => {
            errors.push(FieldError::new("datetime", "is required"));
            None
        }
        Some(value) => collect(&mut errors, "datetime", datetime_from_json(value)),
    };
    let totalfee =
        required(body, "totalfee", &mut errors).and_then(|v| collect(&mut errors, "totalfee", fee_from_json(v)));
    let services = required(body, "services", &mut errors).and_then(|v| services_from_json(v, &mut errors));
    match (totalfee, services) {
        (Some(totalfee), Some(services)) if errors.is_empty() => Ok(NewOrder { id, datetime, totalfee, services }),
        _ => Err(errors),
    }
}

fn unknown_fields(body: &Map<String, Value>, allowed: &[&str]) -> Vec<FieldError> {
    body.keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| {
            FieldError::new(key, format!("is not a field of an order (expected one of: {})", allowed.join(", ")))
        })
        .collect()
}

fn required<'a>(body: &'a Map<String, Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<&'a Value> {
    let value = body.get(field);
    if value.is_none() {
        errors.push(FieldError::new(field, "is required"));
    }
    value
}

fn collect<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
    result.map_err(|message| errors.push(FieldError::new(field, message))).ok()
}

fn datetime_from_json(value: &Value) -> Result<Timestamp, String> {
    match value {
        Value::String(text) => Timestamp::parse(text),
        other => Err(format!("must be an RFC 3339 timestamp string, not {other}")),
    }
}

fn fee_from_json(value: &Value) -> Result<Money, String> {
    match value {
        Value::Number(number) => Money::parse(&number.to_string()),
        Value::String(_) => Err("must be a JSON number, not a string".to_owned()),
        other => Err(format!("must be a JSON number, not {other}")),
    }
}

/// Reads a `services` array: non-empty, each element one of the reference shapes, no service
/// twice; the result is in ascending id order.
fn services_from_json(value: &Value, errors: &mut Vec<FieldError>) -> Option<Vec<ServiceRef>> {
    let Value::Array(elements) = value else {
        errors.push(FieldError::new("services", format!("must be an array of service ids, not {value}")));
        return None;
    };
    let before = errors.len();
    let mut refs = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        if let Some(r) = collect(errors, &format!("services[{index}]"), ServiceRef::from_json(element)) {
            refs.push(r);
        }
    }
    if elements.is_empty() {
        errors.push(FieldError::new("services", "must name at least one service"));
    }
    let ids: Vec<i64> = refs.iter().map(|r| r.id).collect();
    if let Err(message) = check_distinct(&ids) {
        errors.push(FieldError::new("services", message));
    }
    refs.sort_by_key(|r| r.id);
    (errors.len() == before).then_some(refs)
}

/// The body's `services` as ids, when that field is present and valid whatever the others
/// are: the store then names unknown ones beside the other field errors.
pub fn service_ids(body: &Map<String, Value>) -> Option<Vec<i64>> {
    let refs = services_from_json(body.get("services")?, &mut Vec::new())?;
    Some(refs.into_iter().map(|r| r.id).collect())
}

/// Checks that no service id appears twice.
///
/// # Errors
/// A message naming the first id that does.
pub fn check_distinct(ids: &[i64]) -> Result<(), String> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    match sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(format!("the same service twice: {}", pair[0])),
        None => Ok(()),
    }
}

/// Reads service ids given as flag text (`--service 123 --service 456`) for the CLI: the same
/// rules as the API's `services` field.
///
/// # Errors
/// Every problem at once, under the field names the API uses.
pub fn service_ids_from_text(texts: &[String]) -> Result<Vec<i64>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut ids = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        match parse_id(text) {
            Ok(id) => ids.push(id),
            Err(message) => errors.push(FieldError::new(format!("services[{index}]"), message)),
        }
    }
    if texts.is_empty() {
        errors.push(FieldError::new("services", "must name at least one service"));
    }
    if let Err(message) = check_distinct(&ids) {
        errors.push(FieldError::new("services", message));
    }
    ids.sort_unstable();
    if errors.is_empty() { Ok(ids) } else { Err(errors) }
}

/// A service's body: `{id?, name}` (or only `{name}` for a rename), every field error at once.
///
/// # Errors
/// Every field error: an unknown field, a bad id, a missing or bad name.
pub fn service(body: &Map<String, Value>, id_allowed: bool) -> Result<(Option<i64>, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    for field in body.keys() {
        if field != "name" && !(id_allowed && field == "id") {
            errors.push(FieldError::new(field, "is not a field of a service"));
        }
    }
    let id = match body.get("id").filter(|_| id_allowed) {
        None => None,
        Some(value) => id_from_json(value).map_err(|e| errors.push(FieldError::new("id", e))).ok(),
    };
    let name = match body.get("name") {
        None => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        Some(Value::String(name)) => parse_name(name).map_err(|e| errors.push(FieldError::new("name", e))).ok(),
        Some(_) => {
            errors.push(FieldError::new("name", "must be a string"));
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
    use proptest::prelude::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    fn fields(result: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
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
            let errors = new_order(&object(body.clone())).unwrap_err();
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

    #[test]
    fn flag_service_ids_follow_the_same_rules() {
        assert_eq!(service_ids_from_text(&["456".into(), "123".into()]), Ok(vec![123, 456]));
        assert!(service_ids_from_text(&[]).is_err());
        assert!(service_ids_from_text(&["1".into(), "1".into()]).is_err());
        assert!(service_ids_from_text(&["x".into()]).is_err());
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
                    new_order(&body).map(drop),
                    import_record(&body).map(drop),
                    replacement(&body).map(drop),
                    patch(&body).map(drop),
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
