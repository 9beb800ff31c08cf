//! Every row of the status table of docs/api.md, and the precedence between them, table-driven: each case
//! names the situation it stands for.

use orders::auth::Role;
use serde_json::json;

use crate::api_helpers::{TestApp, spawn_app};

/// One request and what it must get.
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    role: Option<Role>,
    body: Option<String>,
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
    kind: &'static str,
}

fn case(what: &'static str, method: &'static str, path: impl Into<String>, status: u16, kind: &'static str) -> Case {
    Case { what, method, path: path.into(), role: Some(Role::Admin), body: None, headers: Vec::new(), status, kind }
}

impl Case {
    fn body(mut self, body: impl ToString) -> Self {
        self.body = Some(body.to_string());
        self
    }
    fn role(mut self, role: Option<Role>) -> Self {
        self.role = role;
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

async fn run(app: &TestApp, cases: Vec<Case>) {
    for case in cases {
        let reply = app.call(case.method, &case.path, case.role, case.body.as_deref(), &case.headers).await;
        assert_eq!(reply.status, case.status, "{}: {} {} → {}", case.what, case.method, case.path, reply.text);
        assert_eq!(reply.problem_type(), case.kind, "{}: {}", case.what, reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{}: every error is a problem",
            case.what
        );
    }
}

/// Two orders: 12:00 with service 123, and a day later with 456.
async fn app_with_orders() -> (TestApp, i64) {
    let app = spawn_app().await;
    let first = app.create("2030-01-01T12:00:00Z", &[123]).await;
    app.create("2030-01-02T12:00:00Z", &[456]).await;
    (app, first["id"].as_i64().unwrap())
}

#[tokio::test]
async fn every_row_of_the_status_table_answers_its_status_and_problem_type() {
    let (app, id) = app_with_orders().await;
    let one = format!("/orders/{id}");
    let valid = json!({"datetime": "2030-03-01T00:00:00Z", "totalfee": 10, "services": [123]});
    let big = format!("{{\"totalfee\": 1, \"services\": [123], \"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    run(
        &app,
        vec![
            case("body not JSON", "POST", "/orders", 400, "malformed-json").body("{\"totalfee\": "),
            case("body not an object", "POST", "/orders", 400, "malformed-json").body("[1, 2]"),
            case("empty body", "POST", "/orders", 400, "malformed-json").body(""),
            case("path id zero", "GET", "/orders/0", 400, "bad-request"),
            case("path id above 2^63-1", "GET", "/orders/9223372036854775808", 400, "bad-request"),
            case("path id not a number", "GET", "/orders/abc", 400, "bad-request"),
            case("service path id negative", "GET", "/services/-1", 400, "bad-request"),
            case("limit zero", "GET", "/orders?limit=0", 400, "bad-request"),
            case("limit above 1000", "GET", "/orders?limit=1001", 400, "bad-request"),
            case("from not RFC 3339", "GET", "/orders?from=yesterday", 400, "bad-request"),
            case("after not a cursor", "GET", "/orders?limit=5&after=nonsense!", 400, "bad-request"),
            case("service filter not an id", "GET", "/orders?service=x", 400, "bad-request"),
            case("unknown query parameter", "GET", "/orders?page=2", 400, "bad-request"),
            case("sort not one of the four", "GET", "/orders?sort=desc", 400, "bad-request"),
            case("events after negative", "GET", "/events?after=-1", 400, "bad-request"),
            case("events limit above 1000", "GET", "/events?limit=5000", 400, "bad-request"),
            case("field missing", "POST", "/orders", 422, "validation").body(json!({"services": [123]})),
            case("unknown field", "POST", "/orders", 422, "validation")
                .body(json!({"totalfee": 1, "services": [123], "x": 1})),
            case("fee as a string", "POST", "/orders", 422, "validation")
                .body(json!({"totalfee": "1", "services": [123]})),
            case("fee with 3 decimals", "POST", "/orders", 422, "validation")
                .body(json!({"totalfee": 1.005, "services": [123]})),
            case("fee negative", "POST", "/orders", 422, "validation").body(json!({"totalfee": -1, "services": [123]})),
            case("unknown service id", "POST", "/orders", 422, "validation")
                .body(json!({"totalfee": 1, "services": [999_999]})),
            case("same service twice", "POST", "/orders", 422, "validation")
                .body(json!({"totalfee": 1, "services": [123, "123"]})),
            case("PUT without datetime", "PUT", &one, 422, "validation")
                .body(json!({"totalfee": 1, "services": [123]})),
            case("PATCH with null", "PATCH", &one, 422, "validation").body(json!({"totalfee": null})),
            case("service name empty", "POST", "/services", 422, "validation").body(json!({"name": "  "})),
            case("no such order", "GET", "/orders/424242", 404, "not-found"),
            case("history of an id that never existed", "GET", "/orders/424242/history", 404, "not-found"),
            case("no such service", "GET", "/services/424242", 404, "not-found"),
            case("no such route", "GET", "/nowhere", 404, "not-found"),
            case("no such sub-route", "GET", format!("{one}/nothing"), 404, "not-found"),
            case("wrong method on /orders", "DELETE", "/orders", 405, "method-not-allowed"),
            case("wrong method on /orders/{id}", "POST", &one, 405, "method-not-allowed"),
            case("wrong method on /auth/refresh", "GET", "/auth/refresh", 405, "method-not-allowed"),
            case("wrong method on /healthz", "POST", "/healthz", 405, "method-not-allowed"),
            case("wrong method on /metrics", "POST", "/metrics", 405, "method-not-allowed"),
            case("scheduling rule", "POST", "/orders", 409, "schedule-conflict")
                .body(json!({"datetime": "2030-01-01T14:59:59.999Z", "totalfee": 1, "services": [123]})),
            case("service id taken", "POST", "/services", 409, "duplicate").body(json!({"id": 123, "name": "Other"})),
            case("service name taken", "POST", "/services", 409, "duplicate").body(json!({"name": "inspection"})),
            case("service in use", "DELETE", "/services/123", 409, "in-use"),
            case("stale If-Match on PUT", "PUT", &one, 412, "precondition-failed")
                .body(&valid)
                .header("if-match", "\"7\""),
            case("stale If-Match on PATCH", "PATCH", &one, 412, "precondition-failed")
                .body(json!({"totalfee": 5}))
                .header("if-match", "\"2\""),
            case("stale If-Match on DELETE", "DELETE", &one, 412, "precondition-failed").header("if-match", "\"9\""),
            case("weak If-Match never matches", "DELETE", &one, 412, "precondition-failed")
                .header("if-match", "W/\"1\""),
            case("body over the limit", "POST", "/orders", 413, "payload-too-large").body(&big),
            case("body as text/plain", "POST", "/orders", 415, "unsupported-media-type")
                .body(&valid)
                .header("content-type", "text/plain"),
            case("merge-patch type on PUT", "PUT", &one, 415, "unsupported-media-type")
                .body(&valid)
                .header("content-type", "application/merge-patch+json"),
            case("no token", "GET", "/orders", 401, "unauthorized").role(None),
            case("reader writes", "POST", "/orders", 403, "forbidden").role(Some(Role::Reader)).body(&valid),
            case("writer changes the catalogue", "POST", "/services", 403, "forbidden")
                .role(Some(Role::Writer))
                .body(json!({"name": "New"})),
        ],
    )
    .await;
}

#[tokio::test]
async fn when_several_errors_apply_the_first_in_spec_order_wins() {
    let (app, id) = app_with_orders().await;
    let one = format!("/orders/{id}");
    let conflicting = json!({"datetime": "2030-01-02T13:00:00Z", "totalfee": 1, "services": [123]});
    let big = "x".repeat(70 * 1024);
    run(
        &app,
        vec![
            case("404 route before 401", "GET", "/nowhere", 404, "not-found").role(None),
            case("405 before 401", "DELETE", "/orders", 405, "method-not-allowed").role(None),
            case("401 before 403 and 400", "POST", "/orders", 401, "unauthorized").role(None).body("{"),
            case("403 before 415", "POST", "/orders", 403, "forbidden")
                .role(Some(Role::Reader))
                .body("x")
                .header("content-type", "text/plain"),
            case("415 before 413", "POST", "/orders", 415, "unsupported-media-type")
                .body(&big)
                .header("content-type", "text/plain"),
            case("413 before 400", "POST", "/orders", 413, "payload-too-large").body(&big),
            case("400 body before 422", "PUT", "/orders/0", 400, "malformed-json").body("{"),
            case("400 path id before 422", "PUT", "/orders/0", 400, "bad-request").body(json!({"x": 1})),
            case("422 before 404", "PUT", "/orders/424242", 422, "validation").body(json!({"totalfee": 1})),
            case("422 unknown service before 409", "POST", "/orders", 422, "validation")
                .body(json!({"datetime": "2030-01-02T13:00:00Z", "totalfee": 1, "services": [5]})),
            case("404 before 412", "PUT", "/orders/424242", 404, "not-found")
                .body(&conflicting)
                .header("if-match", "\"9\""),
            case("412 before 409", "PUT", &one, 412, "precondition-failed")
                .body(&conflicting)
                .header("if-match", "\"9\""),
        ],
    )
    .await;
}

#[tokio::test]
async fn validation_problems_list_every_field_error_at_once() {
    let app = spawn_app().await;
    let reply =
        app.send("POST", "/orders", &json!({"datetime": "soon", "totalfee": "1", "services": [], "x": 1})).await;
    assert_eq!(reply.status, 422);
    let fields: Vec<String> =
        reply.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    for field in ["datetime", "totalfee", "services", "x"] {
        assert!(fields.iter().any(|f| f == field), "{field} should be reported: {fields:?}");
    }
    // An unknown service is among them too, on a create and on an update.
    let id = app.create("2030-01-01T00:00:00Z", &[123]).await["id"].as_i64().unwrap();
    let bad = json!({"datetime": "soon", "totalfee": -1, "services": [123, 999]});
    for (method, path) in [("POST", "/orders".to_owned()), ("PUT", format!("/orders/{id}"))] {
        let reply = app.send(method, &path, &bad).await;
        assert_eq!(reply.status, 422, "{method}: {}", reply.text);
        let errors = reply.json()["errors"].clone();
        let messages: Vec<String> =
            errors.as_array().unwrap().iter().map(|e| format!("{}: {}", e["field"], e["message"])).collect();
        assert_eq!(messages.len(), 3, "{method}: {messages:?}");
        assert!(messages.iter().any(|m| m.contains("unknown service id 999")), "{method}: {messages:?}");
    }
}

#[tokio::test]
async fn a_schedule_conflict_names_the_conflicting_order_and_the_gap() {
    let (app, id) = app_with_orders().await;
    let reply = app
        .send("POST", "/orders", &json!({"datetime": "2030-01-01T13:00:00Z", "totalfee": 1, "services": [123]}))
        .await;
    assert_eq!(reply.status, 409);
    let body = reply.json();
    assert_eq!(body["conflicting_order"], json!({"id": id, "datetime": "2030-01-01T12:00:00.000Z"}));
    assert_eq!(body["min_gap_seconds"], json!(10_800));
}

#[tokio::test]
async fn unauthorized_carries_www_authenticate_and_405_carries_allow() {
    let app = spawn_app().await;
    let reply = app.call("GET", "/orders", None, None, &[]).await;
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    for (method, path, allow) in [
        ("DELETE", "/orders", "GET, HEAD, POST"),
        ("POST", "/orders/1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("PUT", "/orders/1/history", "GET, HEAD"),
        ("PATCH", "/services/1", "GET, HEAD, PUT, DELETE"),
        ("DELETE", "/services", "GET, HEAD, POST"),
        ("POST", "/events", "GET, HEAD"),
        ("GET", "/auth/refresh", "POST"),
        ("HEAD", "/auth/refresh", "POST"),
        ("DELETE", "/readyz", "GET, HEAD"),
        ("PUT", "/metrics", "GET, HEAD"),
        ("POST", "/openapi.json", "GET, HEAD"),
    ] {
        let reply = app.call(method, path, None, None, &[]).await;
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_with_413_without_a_content_length() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = spawn_app().await;
    let address = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /orders HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.token(Role::Admin)
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    // 80 chunks of 1 KiB: past the 64 KiB limit, with no Content-Length to refuse it early.
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    for _ in 0..80 {
        if socket.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server may answer and close before the body ends
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut response = String::new();
    let _ = socket.read_to_string(&mut response).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"payload-too-large\""), "{response}");
}

#[tokio::test]
async fn if_match_star_writes_whatever_the_version_and_a_weak_tag_matches_nothing() {
    let (app, id) = app_with_orders().await;
    let path = format!("/orders/{id}");
    let patch = json!({"totalfee": 7}).to_string();
    let any = app.call("PATCH", &path, Some(Role::Writer), Some(&patch), &[("if-match", "*")]).await;
    assert_eq!((any.status, any.json()["version"].as_i64()), (200, Some(2)), "{}", any.text);
    let weak = app.call("PATCH", &path, Some(Role::Writer), Some(&patch), &[("if-match", "W/\"2\"")]).await;
    assert_eq!((weak.status, weak.problem_type().as_str()), (412, "precondition-failed"), "{}", weak.text);
}

#[tokio::test]
async fn an_internal_error_is_a_500_problem_that_tells_nothing_of_the_internals() {
    use sqlx::{Connection as _, Executor as _};
    let (app, id) = app_with_orders().await;
    // A history event nobody can read (written by hand: the store never writes one).
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.db().url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("UPDATE history SET snapshot = 'not json' WHERE order_id = {id}")))
        .await
        .unwrap();
    let reply = app.call("GET", &format!("/orders/{id}/history"), Some(Role::Reader), None, &[]).await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert_eq!(reply.problem_type(), "internal");
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert_eq!(reply.json()["detail"], "an internal error occurred", "{}", reply.text);
    assert!(!reply.text.contains("snapshot") && !reply.text.contains("history event"), "{}", reply.text);
    // The server keeps serving.
    let order = app.call("GET", &format!("/orders/{id}"), Some(Role::Reader), None, &[]).await;
    assert_eq!(order.status, 200);
}
