//! Every order route's happy path with its headers (Location, ETag, Link), the streamed full
//! listing, filters, history and the change feed.

use orders::auth::Role;
use serde_json::{Value, json};

use crate::api_helpers::spawn_app;

fn ids(list: &Value) -> Vec<i64> {
    list.as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn create_returns_201_with_location_and_etag_and_get_returns_the_same_order() {
    let app = spawn_app().await;
    let reply = app
        .send("POST", "/orders", &json!({"datetime": "2030-05-01T10:00:00.123456+02:00", "totalfee": 99.95, "services": ["456", {"id": 123}]}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let order = reply.json();
    let id = order["id"].as_i64().unwrap();
    assert_eq!(reply.header("location"), Some(format!("/orders/{id}").as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(order["datetime"], "2030-05-01T08:00:00.123Z");
    assert_eq!(order["totalfee"].to_string(), "99.95");
    assert_eq!(order["services"], json!([{"id": 123, "name": "Inspection"}, {"id": 456, "name": "Analysis"}]));
    let got = app.get(&format!("/orders/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), Some("\"1\""));
    assert_eq!(got.json(), order);
}

#[tokio::test]
async fn head_answers_every_read_with_its_status_and_headers_and_no_body() {
    let app = spawn_app().await;
    let id = app.create("2030-05-01T10:00:00Z", &[123]).await["id"].as_i64().unwrap();
    let one = format!("/orders/{id}");
    let got = app.get(&one).await;
    let head = app.call("HEAD", &one, Some(Role::Reader), None, &[]).await;
    assert_eq!((head.status, head.text.as_str()), (200, ""));
    for name in ["etag", "content-type", "content-length"] {
        assert_eq!(head.header(name), got.header(name), "{name}");
    }
    let history = format!("{one}/history");
    for path in
        ["/orders", "/orders?limit=1", &history, "/services", "/events", "/healthz", "/openapi.json", "/metrics"]
    {
        let head = app.call("HEAD", path, Some(Role::Admin), None, &[]).await;
        assert_eq!((head.status, head.text.as_str()), (200, ""), "HEAD {path}");
    }
    let missing = app.call("HEAD", "/orders/999999", Some(Role::Reader), None, &[]).await;
    assert_eq!((missing.status, missing.text.as_str()), (404, ""));
    let anonymous = app.call("HEAD", &one, None, None, &[]).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn put_replaces_patch_merges_and_each_moves_the_etag() {
    let app = spawn_app().await;
    let id = app.create("2030-05-01T10:00:00Z", &[123]).await["id"].as_i64().unwrap();
    let path = format!("/orders/{id}");
    let put = app
        .call(
            "PUT",
            &path,
            Some(Role::Writer),
            Some(&json!({"datetime": "2030-05-02T10:00:00Z", "totalfee": 5, "services": [789]}).to_string()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.header("etag"), Some("\"2\""));
    assert_eq!(put.json()["services"], json!([{"id": 789, "name": "Testing"}]));
    let patch = app
        .call(
            "PATCH",
            &path,
            Some(Role::Writer),
            Some(r#"{"totalfee": 7.5}"#),
            &[("content-type", "application/merge-patch+json"), ("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(patch.status, 200, "{}", patch.text);
    assert_eq!(patch.header("etag"), Some("\"3\""));
    let order = patch.json();
    assert_eq!(
        (order["totalfee"].to_string().as_str(), order["datetime"].as_str()),
        ("7.5", Some("2030-05-02T10:00:00.000Z"))
    );
    let empty = app.call("PATCH", &path, Some(Role::Writer), Some("{}"), &[]).await;
    assert_eq!((empty.status, empty.header("etag")), (200, Some("\"3\"")), "an empty merge patch changes nothing");
}

#[tokio::test]
async fn delete_returns_204_and_history_still_shows_every_change() {
    let app = spawn_app().await;
    let id = app.create("2030-05-01T10:00:00Z", &[123]).await["id"].as_i64().unwrap();
    let path = format!("/orders/{id}");
    app.send("PATCH", &path, &json!({"totalfee": 1})).await;
    let deleted = app.call("DELETE", &path, Some(Role::Writer), None, &[("if-match", "\"2\"")]).await;
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert_eq!(app.get(&path).await.status, 404);
    let history = app.get(&format!("{path}/history")).await;
    assert_eq!(history.status, 200);
    let events = history.json();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "updated", "deleted"]);
    assert_eq!(history.json()[0]["actor"], "tester");
}

#[tokio::test]
async fn paging_follows_link_next_until_the_last_page_which_has_none() {
    let app = spawn_app().await;
    for day in 1..=5 {
        app.create(&format!("2030-06-0{day}T09:00:00Z"), &[123]).await;
    }
    let mut next = Some("/orders?limit=2".to_owned());
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(path) = next {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        seen.extend(ids(&page.json()));
        pages += 1;
        next = page.header("link").map(|link| {
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link.trim_start_matches('<').split('>').next().unwrap().to_owned()
        });
    }
    assert_eq!(pages, 3);
    let all = app.get("/orders").await;
    assert_eq!(seen, ids(&all.json()), "pages together are the whole listing, in order");
    assert_eq!(seen.len(), 5);
}

#[tokio::test]
async fn the_unpaged_listing_streams_every_order_in_datetime_order_with_filters() {
    let app = spawn_app().await;
    let late = app.create("2030-07-03T00:00:00Z", &[456]).await;
    let early = app.create("2030-07-01T00:00:00Z", &[123]).await;
    let middle = app.create("2030-07-02T00:00:00Z", &[123, 456]).await;
    let all = app.get("/orders").await;
    assert_eq!(all.header("transfer-encoding"), Some("chunked"), "the whole set is streamed");
    assert_eq!(all.json(), json!([early, middle, late]));
    let ranged = app.get("/orders?from=2030-07-02T00:00:00Z&to=2030-07-03T00:00:00Z").await;
    assert_eq!(ids(&ranged.json()), ids(&json!([middle])), "[from, to) is half-open");
    let by_service = app.get("/orders?service=456").await;
    assert_eq!(ids(&by_service.json()), ids(&json!([middle, late])));
    assert_eq!(app.get("/orders?service=424242").await.json(), json!([]), "an unknown service matches nothing");
}

#[tokio::test]
async fn the_event_feed_pages_by_seq() {
    let app = spawn_app().await;
    let id = app.create("2030-08-01T00:00:00Z", &[123]).await["id"].as_i64().unwrap();
    app.send("PATCH", &format!("/orders/{id}"), &json!({"totalfee": 3})).await;
    app.call("DELETE", &format!("/orders/{id}"), Some(Role::Writer), None, &[]).await;
    let all = app.get("/events").await.json();
    let seqs: Vec<i64> = all.as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "ascending: {seqs:?}");
    let rest = app.get(&format!("/events?after={}&limit=1", seqs[0])).await.json();
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["seq"], seqs[1]);
    assert_eq!(rest[0]["kind"], "updated");
}

#[tokio::test]
async fn the_next_page_link_keeps_the_filters_of_the_first() {
    let app = spawn_app().await;
    let mut analysis = Vec::new();
    for day in 1..=6 {
        let services: &[i64] = if day % 2 == 0 { &[456] } else { &[123] };
        let order = app.create(&format!("2030-09-0{day}T09:00:00Z"), services).await;
        if day % 2 == 0 && day > 2 {
            analysis.push(order["id"].as_i64().unwrap());
        }
    }
    let first = app.get("/orders?service=456&from=2030-09-03T00:00:00Z&limit=1").await;
    assert_eq!(ids(&first.json()), analysis[..1]);
    let link = first.header("link").expect("a next page");
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    assert!(next.contains("service=456") && next.contains("from=2030-09-03"), "{link}");
    let second = app.get(next).await;
    assert_eq!(ids(&second.json()), analysis[1..], "only the filtered orders, after the first page");
    assert_eq!(second.header("link"), None, "the last page");
}

#[tokio::test]
async fn the_event_feed_gives_at_most_100_events_unless_asked_for_more() {
    let app = spawn_app().await;
    for i in 0..101 {
        let at = 1_900_000_000_000_i64 + i * 4 * 3_600_000;
        let datetime = orders::domain::Timestamp::from_millis(at).to_string();
        app.create(&datetime, &[123]).await;
    }
    let first = app.get("/events").await.json();
    assert_eq!(first.as_array().unwrap().len(), 100);
    assert_eq!(app.get("/events?limit=1000").await.json().as_array().unwrap().len(), 101);
    let rest = app.get(&format!("/events?after={}", first[99]["seq"])).await.json();
    assert_eq!(rest.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn services_can_be_listed_added_renamed_and_deleted() {
    let app = spawn_app().await;
    let added = app.send("POST", "/services", &json!({"name": "Radon"})).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let id = added.json()["id"].as_i64().unwrap();
    assert_eq!(added.header("location"), Some(format!("/services/{id}").as_str()));
    let chosen = app.send("POST", "/services", &json!({"id": "5000", "name": "Mold"})).await;
    assert_eq!(chosen.json(), json!({"id": 5000, "name": "Mold"}));
    let renamed = app.send("PUT", &format!("/services/{id}"), &json!({"name": "Radon test"})).await;
    assert_eq!(renamed.json(), json!({"id": id, "name": "Radon test"}));
    assert_eq!(app.get(&format!("/services/{id}")).await.json()["name"], "Radon test");
    let listed = app.get("/services").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 5);
    let deleted = app.call("DELETE", &format!("/services/{id}"), Some(Role::Admin), None, &[]).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(app.get(&format!("/services/{id}")).await.status, 404);
}

#[tokio::test]
async fn health_readiness_metrics_and_the_openapi_document_answer() {
    let app = spawn_app().await;
    let health = app.call("GET", "/healthz", None, None, &[]).await;
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
    let ready = app.call("GET", "/readyz", None, None, &[]).await;
    assert_eq!((ready.status, ready.json()), (200, json!({"status": "ready"})));
    let doc = app.call("GET", "/openapi.json", None, None, &[]).await;
    assert_eq!(doc.json()["openapi"], "3.1.0");
    app.get("/orders").await;
    assert_eq!(app.get("/orders/1").await.status, 404);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains("orders_http_requests_total{method=\"GET\",route=\"/orders\",status=\"200\"} 1"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("orders_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1"));
    assert!(metrics.text.contains("orders_db_pool_connections "));
    assert!(metrics.text.contains("\norders_db_order_lookups_total 1\n"), "{}", metrics.text);
    assert!(metrics.text.contains("\norders_db_order_lookup_statements_total 1\n"), "{}", metrics.text);
}

#[tokio::test]
async fn the_request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let echoed = app.call("GET", "/healthz", None, None, &[("x-request-id", "abc-123")]).await;
    assert_eq!(echoed.header("x-request-id"), Some("abc-123"));
    let generated = app.call("GET", "/nowhere", None, None, &[]).await;
    assert_eq!(generated.header("x-request-id").map(str::len), Some(36), "a UUID for a request without one");
}

#[tokio::test]
async fn the_streamed_listing_carries_thousands_of_orders_as_one_valid_array() {
    let db = crate::helpers::TestDb::new().await;
    let store = db.store_with_gap(std::time::Duration::ZERO).await;
    store.add_service(Some(123), "Inspection").await.unwrap();
    let mut expected = Vec::new();
    for i in 0..1500_i64 {
        let at = orders::domain::Timestamp::from_millis(1_900_000_000_000 + (i % 500) * 60_000);
        expected.push(store.create_order(&crate::helpers::new_order(at, &[123]), "bulk").await.unwrap());
    }
    expected.sort_by_key(|o| (o.datetime, o.id));
    let app = crate::api_helpers::spawn_app_on(db, store, crate::api_helpers::server_config()).await;
    let all = app.get("/orders").await;
    assert_eq!(all.header("transfer-encoding"), Some("chunked"));
    let listed: Vec<i64> = ids(&all.json());
    assert_eq!(listed, expected.iter().map(|o| o.id).collect::<Vec<_>>(), "every order once, by (datetime, id)");
}
