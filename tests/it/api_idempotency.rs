//! `Idempotency-Key` on `POST /orders`: replay, mismatch, refusals remembered, keys scoped to
//! the subject, concurrent repeats, and a replay after a server restart.

use orders::auth::Role;
use serde_json::json;

use crate::api_helpers::{TestApp, spawn_app, spawn_app_on};

const BODY: &str = r#"{"datetime": "2030-02-01T10:00:00Z", "totalfee": 12.5, "services": [123]}"#;

async fn post(app: &TestApp, key: &str, body: &str) -> crate::api_helpers::Reply {
    app.call("POST", "/orders", Some(Role::Writer), Some(body), &[("idempotency-key", key)]).await
}

async fn order_count(app: &TestApp) -> usize {
    app.get("/orders").await.json().as_array().unwrap().len()
}

#[tokio::test]
async fn a_repeat_with_the_same_key_and_body_replays_the_first_response_and_writes_nothing() {
    let app = spawn_app().await;
    let first = post(&app, "k-1", BODY).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let same_json_reordered = r#"{"services": [123], "totalfee": 12.5, "datetime": "2030-02-01T10:00:00Z"}"#;
    let again = post(&app, "k-1", same_json_reordered).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(order_count(&app).await, 1);
    assert_eq!(app.get("/events").await.json().as_array().unwrap().len(), 1, "no second history event");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_idempotency_mismatch() {
    let app = spawn_app().await;
    assert_eq!(post(&app, "k-2", BODY).await.status, 201);
    let other = post(&app, "k-2", r#"{"datetime": "2030-03-01T10:00:00Z", "totalfee": 1, "services": [123]}"#).await;
    assert_eq!((other.status, other.problem_type().as_str()), (422, "idempotency-mismatch"));
    assert_eq!(order_count(&app).await, 1);
}

#[tokio::test]
async fn a_refusal_is_remembered_too_and_keys_belong_to_their_subject() {
    let app = spawn_app().await;
    let conflicting = r#"{"datetime": "2030-02-01T11:00:00Z", "totalfee": 1, "services": [123]}"#;
    let first = post(&app, "a", BODY).await;
    assert_eq!(first.status, 201);
    let refused = post(&app, "b", conflicting).await;
    assert_eq!(refused.status, 409);
    // With the conflicting order gone, a retry would now succeed: only a remembered answer is 409.
    let id = first.json()["id"].as_i64().unwrap();
    assert_eq!(app.call("DELETE", &format!("/orders/{id}"), Some(Role::Writer), None, &[]).await.status, 204);
    let replayed = post(&app, "b", conflicting).await;
    assert_eq!(
        (replayed.status, replayed.text.as_str()),
        (409, refused.text.as_str()),
        "the first answer, not a retry"
    );
    let other_subject = app.tokens().access_token("someone-else", Role::Writer, None).unwrap().0;
    let theirs = app
        .call(
            "POST",
            "/orders",
            None,
            Some(conflicting),
            &[("idempotency-key", "b"), ("authorization", &format!("Bearer {other_subject}"))],
        )
        .await;
    assert_eq!(theirs.status, 201, "another subject's key 'b' is a different key: {}", theirs.text);
}

#[tokio::test]
async fn a_body_refused_as_such_is_remembered_under_its_key_like_any_answer_below_500() {
    let app = spawn_app().await;
    // 400: not JSON. The repeat replays it; the same key with a good body is another request.
    let malformed = post(&app, "m", "{").await;
    assert_eq!(malformed.status, 400);
    let again = post(&app, "m", "{").await;
    assert_eq!((again.status, again.text.as_str()), (400, malformed.text.as_str()));
    let good = post(&app, "m", BODY).await;
    assert_eq!((good.status, good.problem_type().as_str()), (422, "idempotency-mismatch"), "{}", good.text);
    // 415: the wrong content type, the body never read.
    let plain = [("idempotency-key", "t"), ("content-type", "text/plain")];
    let unsupported = app.call("POST", "/orders", Some(Role::Writer), Some(BODY), &plain).await;
    assert_eq!(unsupported.status, 415);
    assert_eq!(app.call("POST", "/orders", Some(Role::Writer), Some(BODY), &plain).await.status, 415);
    assert_eq!(post(&app, "t", BODY).await.status, 422, "JSON under the key of a refused text body");
    // 413: over the body limit.
    let oversized = format!(r#"{{"x": "{}"}}"#, "a".repeat(70 * 1024));
    assert_eq!(post(&app, "big", &oversized).await.status, 413);
    assert_eq!(post(&app, "big", BODY).await.status, 422, "a good body under the key of a refused large one");
    assert_eq!(order_count(&app).await, 0);
    // A malformed key is refused after the body's own 415, as docs/api.md's precedence says.
    let both = [("idempotency-key", ""), ("content-type", "text/plain")];
    assert_eq!(app.call("POST", "/orders", Some(Role::Writer), Some(BODY), &both).await.status, 415);
}

#[tokio::test]
async fn concurrent_repeats_of_one_key_create_one_order() {
    let app = spawn_app().await;
    let replies = futures_util::future::join_all((0..8).map(|_| post(&app, "same", BODY))).await;
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.text, replies[0].text, "every repeat gets the one response");
    }
    assert_eq!(order_count(&app).await, 1);
}

#[tokio::test]
async fn a_repeat_after_a_server_restart_still_gets_the_first_answer() {
    let app = spawn_app().await;
    let first = post(&app, "restart", BODY).await;
    assert_eq!(first.status, 201);
    let (db, _) = app.stop().await;
    let store = db.store().await;
    let restarted = spawn_app_on(db, store, crate::api_helpers::server_config()).await;
    let again = post(&restarted, "restart", BODY).await;
    assert_eq!((again.status, again.text.as_str()), (201, first.text.as_str()));
    assert_eq!(order_count(&restarted).await, 1);
    let bad = restarted
        .call("POST", "/orders", Some(Role::Writer), Some(BODY), &[("idempotency-key", &"x".repeat(300))])
        .await;
    assert_eq!((bad.status, bad.problem_type().as_str()), (400, "bad-request"), "an overlong key");
    let unchanged = json!(first.json());
    assert_eq!(restarted.get("/orders/1").await.json(), unchanged);
}

#[tokio::test]
async fn a_key_older_than_24_hours_is_forgotten() {
    use sqlx::Connection as _;
    let app = spawn_app().await;
    assert_eq!(post(&app, "old", BODY).await.status, 201);
    let mut conn = sqlx::AnyConnection::connect(&app.db().url).await.expect("a direct connection");
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - 90000000").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let other = r#"{"datetime": "2030-06-01T10:00:00Z", "totalfee": 1, "services": [123]}"#;
    let reused = post(&app, "old", other).await;
    assert_eq!(reused.status, 201, "25 h later the key is free again: {}", reused.text);
    assert_eq!(order_count(&app).await, 2);
}
