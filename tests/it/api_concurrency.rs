//! The scheduling rule under concurrent HTTP writers: many requests to one server, and two
//! `orders serve` processes on one database racing creates and datetime-moving updates.
//! Also: SIGTERM stops a server with exit code 0.

use orders::auth::Role;
use serde_json::{Value, json};

use crate::api_helpers::{Server, spawn_app, tokens};
use crate::helpers::{TestDb, store_with_services};

const HOUR_MS: i64 = 3_600_000;

#[tokio::test]
async fn twenty_four_concurrent_conflicting_creates_give_one_201_and_23_409() {
    let app = spawn_app().await;
    let requests = (0..24).map(|i| {
        let body = json!({"datetime": format!("2030-04-01T12:{:02}:00Z", i * 2), "totalfee": 1, "services": [123]});
        let app = &app;
        async move { app.call("POST", "/orders", Some(Role::Writer), Some(&body.to_string()), &[]).await.status }
    });
    let mut statuses = futures_util::future::join_all(requests).await;
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 23, "{statuses:?}");
}

async fn write(client: &reqwest::Client, base: &str, token: &str, i: i64) -> u16 {
    // Creates land on a 1 h grid (so most conflict); updates move existing orders around it.
    let datetime = orders::domain::Timestamp::from_millis(1_900_000_000_000 + (i % 40) * HOUR_MS).to_string();
    let request = if i % 3 == 0 {
        client.patch(format!("{base}/orders/{}", i % 7 + 1)).body(json!({"datetime": datetime}).to_string())
    } else {
        client
            .post(format!("{base}/orders"))
            .body(json!({"datetime": datetime, "totalfee": 1, "services": [123]}).to_string())
    };
    let response = request.bearer_auth(token).header("content-type", "application/json").send().await.unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn two_servers_on_one_database_racing_writes_never_break_the_scheduling_rule() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let (one, two) = (Server::start(&db), Server::start(&db));
    let token = tokens().access_token("racer", Role::Writer, None).unwrap().0;
    let client = reqwest::Client::new();
    let writes = (0..120).map(|i| {
        let base = if i % 2 == 0 { one.base.clone() } else { two.base.clone() };
        let (client, token) = (client.clone(), token.clone());
        tokio::spawn(async move { write(&client, &base, &token, i).await })
    });
    for status in futures_util::future::join_all(writes).await {
        let status = status.unwrap();
        assert!([200, 201, 404, 409].contains(&status), "only successes, missing orders and conflicts: {status}");
    }
    let orders: Vec<Value> =
        client.get(format!("{}/orders", one.base)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert!(orders.len() >= 2, "some writes succeeded: {}", orders.len());
    let stored = store.list_orders(&Default::default()).await.unwrap();
    assert_eq!(stored.len(), orders.len());
    for pair in stored.windows(2) {
        let gap = pair[1].datetime.millis() - pair[0].datetime.millis();
        assert!(gap >= 3 * HOUR_MS, "orders {} and {} are {gap} ms apart", pair[0].id, pair[1].id);
    }
    assert!(one.terminate().success(), "SIGTERM exits 0");
    assert!(two.terminate().success(), "SIGTERM exits 0");
}
