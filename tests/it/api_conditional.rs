//! Conditional requests on orders (RFC 9110 section 13): `If-Match` on `PUT`, `PATCH` and
//! `DELETE` — a list matches when any of its strong tags is the current version, `*` any
//! existing order, a weak tag never; a value of neither form is a condition that never holds —
//! and `If-None-Match` on `GET`. On SQLite and, with `ORDERS_TEST_DATABASE_URL`, PostgreSQL.

use orders::auth::Role;
use serde_json::json;

use crate::api_helpers::{Reply, TestApp, spawn_app};

/// A server with one order at version `version` (patched up to it); its path.
async fn order_at(version: i64) -> (TestApp, String) {
    let app = spawn_app().await;
    let id = app.create("2030-01-01T12:00:00Z", &[123]).await["id"].as_i64().unwrap();
    let path = format!("/orders/{id}");
    for fee in 2..=version {
        let reply = app.send("PATCH", &path, &json!({"totalfee": fee})).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    (app, path)
}

async fn patch(app: &TestApp, path: &str, body: &str, if_match: &[&str]) -> Reply {
    let headers: Vec<(&str, &str)> = if_match.iter().map(|value| ("if-match", *value)).collect();
    app.call("PATCH", path, Some(Role::Writer), Some(body), &headers).await
}

fn assert_precondition_failed(reply: &Reply, current: i64, says: &str, what: &str) {
    assert_eq!((reply.status, reply.problem_type().as_str()), (412, "precondition-failed"), "{what}: {}", reply.text);
    let problem = reply.json();
    assert_eq!(problem["current_version"], current, "{what}: {}", reply.text);
    assert!(problem["detail"].as_str().unwrap().contains(says), "{what}: {}", reply.text);
}

#[tokio::test]
async fn an_if_match_list_holds_when_any_strong_tag_is_the_current_version() {
    let (app, path) = order_at(3).await;
    for (if_match, what) in [
        ("\"1\", \"3\"", "the second of two"),
        ("\"4\",\"5\", W/\"2\", \"3\"", "the last of four, without spaces"),
        (" , \"9\" ,, \"3\" , ", "empty list elements and whitespace"),
    ] {
        // Each success moves the version on: ask for the new one again each time.
        let current = app.get(&path).await.json()["version"].as_i64().unwrap();
        let list = if_match.replace('3', &current.to_string());
        let reply = patch(&app, &path, r#"{"totalfee": 11}"#, &[&list]).await;
        assert_eq!(reply.status, 200, "{what} ({list}): {}", reply.text);
        assert_eq!(reply.json()["version"], current + 1, "{what}");
    }
}

#[tokio::test]
async fn an_if_match_list_that_names_only_other_versions_is_412_with_the_current_one() {
    let (app, path) = order_at(3).await;
    let put = json!({"datetime": "2030-01-01T12:00:00Z", "totalfee": 1, "services": [123]}).to_string();
    let headers = [("if-match", "\"1\", \"2\", \"4\"")];
    let replaced = app.call("PUT", &path, Some(Role::Writer), Some(&put), &headers).await;
    assert_precondition_failed(&replaced, 3, "does not name", "PUT");
    let deleted = app.call("DELETE", &path, Some(Role::Writer), None, &headers).await;
    assert_precondition_failed(&deleted, 3, "does not name", "DELETE");
    let tag_of_another_form = app.call("DELETE", &path, Some(Role::Writer), None, &[("if-match", "\"03\"")]).await;
    assert_precondition_failed(&tag_of_another_form, 3, "does not name", "\"03\" is another tag than \"3\"");
    assert_eq!(app.get(&path).await.json()["version"], 3, "nothing was written");
}

#[tokio::test]
async fn several_if_match_lines_are_one_list() {
    let (app, path) = order_at(2).await;
    let reply = patch(&app, &path, r#"{"totalfee": 11}"#, &["\"1\"", "\"2\""]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let deleted =
        app.call("DELETE", &path, Some(Role::Writer), None, &[("if-match", "\"1\""), ("if-match", "\"3\"")]).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
}

#[tokio::test]
async fn if_match_star_holds_for_any_existing_order_and_a_missing_one_is_404() {
    let (app, path) = order_at(2).await;
    let reply = patch(&app, &path, r#"{"totalfee": 11}"#, &["*"]).await;
    assert_eq!((reply.status, reply.json()["version"].as_i64()), (200, Some(3)), "{}", reply.text);
    let put = json!({"datetime": "2030-01-01T12:00:00Z", "totalfee": 1, "services": [123]}).to_string();
    for (method, body) in [("PUT", Some(put.as_str())), ("PATCH", Some(r#"{"totalfee": 1}"#)), ("DELETE", None)] {
        let missing = app.call(method, "/orders/424242", Some(Role::Writer), body, &[("if-match", "*")]).await;
        assert_eq!((missing.status, missing.problem_type().as_str()), (404, "not-found"), "{method}: {}", missing.text);
    }
    let deleted = app.call("DELETE", &path, Some(Role::Writer), None, &[("if-match", "*")]).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
}

#[tokio::test]
async fn a_weak_tag_never_matches_even_the_current_version() {
    let (app, path) = order_at(2).await;
    let reply = patch(&app, &path, r#"{"totalfee": 11}"#, &["W/\"2\""]).await;
    assert_precondition_failed(&reply, 2, "weak tags never match", "PATCH");
    let deleted = app.call("DELETE", &path, Some(Role::Writer), None, &[("if-match", "W/\"2\"")]).await;
    assert_precondition_failed(&deleted, 2, "weak tags never match", "DELETE");
    let empty_patch = patch(&app, &path, "{}", &["W/\"2\""]).await;
    assert_precondition_failed(&empty_patch, 2, "weak tags never match", "an empty merge patch");
}

#[tokio::test]
async fn a_malformed_if_match_is_a_condition_that_never_holds_checked_after_the_body_and_the_order() {
    let (app, path) = order_at(2).await;
    for value in ["2", "\"2", "\"1\" \"2\"", "*, \"2\"", "w/\"2\"", "\"2\"x"] {
        let reply = patch(&app, &path, r#"{"totalfee": 11}"#, &[value]).await;
        assert_precondition_failed(&reply, 2, "neither \"*\" nor a list of entity tags", value);
        let deleted = app.call("DELETE", &path, Some(Role::Writer), None, &[("if-match", value)]).await;
        assert_precondition_failed(&deleted, 2, "neither \"*\" nor a list of entity tags", value);
    }
    // docs/api.md's order: 400 and 422 before 404, 404 before 412.
    let invalid = patch(&app, &path, r#"{"totalfee": -1}"#, &["2"]).await;
    assert_eq!((invalid.status, invalid.problem_type().as_str()), (422, "validation"), "{}", invalid.text);
    let not_json = patch(&app, &path, "{", &["2"]).await;
    assert_eq!((not_json.status, not_json.problem_type().as_str()), (400, "malformed-json"), "{}", not_json.text);
    let missing = patch(&app, "/orders/424242", r#"{"totalfee": 1}"#, &["2"]).await;
    assert_eq!((missing.status, missing.problem_type().as_str()), (404, "not-found"), "{}", missing.text);
    let unknown_service = patch(&app, &path, r#"{"services": [999999]}"#, &["2"]).await;
    assert_eq!(unknown_service.status, 422, "an unknown service before the precondition: {}", unknown_service.text);
    assert_eq!(app.get(&path).await.json()["version"], 2, "nothing was written");
}

#[tokio::test]
async fn if_none_match_naming_the_current_tag_is_304_and_anything_else_gets_the_order() {
    let (app, path) = order_at(2).await;
    for (value, status) in
        [("\"2\"", 304), ("W/\"2\"", 304), ("\"1\", \"2\"", 304), ("*", 304), ("\"1\"", 200), ("2", 200), ("", 200)]
    {
        let reply = app.call("GET", &path, Some(Role::Reader), None, &[("if-none-match", value)]).await;
        assert_eq!(reply.status, status, "If-None-Match {value:?}: {}", reply.text);
        assert_eq!(reply.header("etag"), Some("\"2\""), "If-None-Match {value:?}");
        assert_eq!(reply.text.is_empty(), status == 304, "If-None-Match {value:?}");
    }
    let missing = app.call("GET", "/orders/424242", Some(Role::Reader), None, &[("if-none-match", "*")]).await;
    assert_eq!(missing.status, 404);
}
