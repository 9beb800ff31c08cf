//! The shared reader's promise: one input refused through any surface's raw form (JSON,
//! flag text, the dashboard's picker) gives the same field and the same message.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::domain::{FieldError, Money, OrderPatch, Timestamp};

/// The one error of a create whose fee and datetime are valid and whose services are `services`.
fn services_error(services: RawServices<'_>) -> Vec<FieldError> {
    let fee = json!(100);
    let input = RawOrder { totalfee: Some(Raw::Json(&fee)), services: Some(services), ..RawOrder::default() };
    input.order(Shape::Create).unwrap_err().errors
}

fn texts(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

#[test]
fn no_service_is_refused_with_one_message_from_json_flags_and_the_picker() {
    let expected = vec![FieldError::new("services", messages::NO_SERVICE)];
    assert_eq!(services_error(RawServices::Json(&json!([]))), expected);
    assert_eq!(services_error(RawServices::Texts(&[])), expected);
    assert_eq!(services_error(RawServices::Picked(Vec::new())), expected);
}

#[test]
fn a_bad_or_repeated_service_id_is_refused_alike_as_json_and_as_flag_text() {
    for ids in [&["0"][..], &["-1"], &["9223372036854775808"], &["x"], &["7", "7"], &["5", "0", "5"]] {
        let as_json: Vec<Value> = ids.iter().map(|id| Value::String((*id).to_owned())).collect();
        let as_json = Value::Array(as_json);
        let as_flags = texts(ids);
        assert_eq!(
            services_error(RawServices::Json(&as_json)),
            services_error(RawServices::Texts(&as_flags)),
            "{ids:?}"
        );
    }
    assert_eq!(
        services_error(RawServices::Texts(&texts(&["0"]))),
        [FieldError::new("services[0]", "must be an integer from 1 to 9223372036854775807, not \"0\"")]
    );
}

#[test]
fn a_datetime_is_refused_alike_as_a_json_string_and_as_text() {
    for text in ["2016-12-31T23:59:60Z", "next tuesday", "0000-12-31T23:59:59Z", ""] {
        let json = Value::String(text.to_owned());
        assert_eq!(fields::datetime(Raw::Json(&json), &Timestamp::parse), Timestamp::parse(text), "{text:?}");
        assert_eq!(fields::datetime(Raw::Text(text), &Timestamp::parse), Timestamp::parse(text), "{text:?}");
    }
}

#[test]
fn every_field_error_is_reported_at_once_in_field_order_whatever_the_surface() {
    let flags = texts(&["0"]);
    let input = RawOrder {
        errors: vec![FieldError::new("id", "found by the surface")],
        datetime: Some(Raw::Text("soon")),
        totalfee: Some(Raw::Text("-1")),
        services: Some(RawServices::Texts(&flags)),
        ..RawOrder::default()
    };
    let refused = input.order(Shape::Create).unwrap_err();
    let fields: Vec<&str> = refused.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["id", "datetime", "totalfee", "services[0]"]);
}

#[test]
fn a_whole_order_needs_every_field_and_a_patch_leaves_absent_ones_alone() {
    let refused = RawOrder::default().order(Shape::Whole).unwrap_err();
    let required = ["datetime", "totalfee", "services"].map(|field| FieldError::new(field, messages::REQUIRED));
    assert_eq!(refused.errors, required);
    let fee_only = RawOrder { totalfee: Some(Raw::Text("5")), ..RawOrder::default() }.patch();
    assert_eq!(fee_only, Ok(OrderPatch { totalfee: Some(Money::from_cents(500)), ..OrderPatch::default() }));
}

#[test]
fn a_refusal_keeps_valid_services_for_the_store_to_check_and_only_those() {
    let flags = texts(&["9", "3"]);
    let valid =
        RawOrder { totalfee: Some(Raw::Text("x")), services: Some(RawServices::Texts(&flags)), ..RawOrder::default() };
    assert_eq!(valid.order(Shape::Create).unwrap_err().services, Some(vec![3, 9]));
    let repeated = texts(&["3", "3"]);
    let invalid = RawOrder { services: Some(RawServices::Texts(&repeated)), ..RawOrder::default() };
    assert_eq!(invalid.patch().unwrap_err().services, None);
}

#[test]
fn a_surface_that_reads_more_datetime_forms_says_so_in_its_own_words() {
    let local = |text: &str| Timestamp::parse(text).map_err(|_| format!("must be a local time, not {text:?}"));
    let fee = json!(1);
    let input = RawOrder {
        datetime: Some(Raw::Text("soon")),
        totalfee: Some(Raw::Json(&fee)),
        services: Some(RawServices::Picked(vec![1])),
        read_time: &local,
        ..RawOrder::default()
    };
    assert_eq!(
        input.order(Shape::Create).unwrap_err().errors,
        [FieldError::new("datetime", "must be a local time, not \"soon\"")]
    );
}

proptest! {
    #[test]
    fn a_fee_typed_as_text_reads_as_the_same_json_number_does(
        text in "-?(0|[1-9][0-9]{0,12})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,2})?",
    ) {
        let number: Value = serde_json::from_str(&text).expect("a JSON number");
        prop_assert_eq!(fields::totalfee(Raw::Text(&text)), fields::totalfee(Raw::Json(&number)));
    }

    #[test]
    fn service_ids_typed_as_flags_read_as_the_same_json_strings_do(ids in prop::collection::vec("-?[0-9]{1,20}|[a-z]{0,3}", 0..5)) {
        let as_json = Value::Array(ids.iter().cloned().map(Value::String).collect());
        let (mut from_json, mut from_flags) = (Vec::new(), Vec::new());
        let read_json = fields::services(&RawServices::Json(&as_json), &mut from_json);
        let read_flags = fields::services(&RawServices::Texts(&ids), &mut from_flags);
        prop_assert_eq!(read_json, read_flags);
        prop_assert_eq!(from_json, from_flags);
    }
}
