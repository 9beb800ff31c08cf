//! docs/limits.md, "Readers never starve writers": a streamed `GET /orders` holds no connection
//! of the store's pool, at most `server.max_streams` run at once (beyond: 503 with
//! `Retry-After` at once), and a stream whose client reads nothing for `server.stream_stall`
//! is cut. The clients here send their request on a raw socket and then read nothing, with a
//! small receive buffer, over enough orders that the server's stream outruns every buffer on
//! the way.

use std::time::{Duration, Instant};

use orders::auth::Role;
use orders::config::ServerConfig;
use orders::domain::Timestamp;
use orders::store::{Store, StoreOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::api_helpers::{Reply, TestApp, server_config, spawn_app_on};
use crate::helpers::{TestDb, new_order};

/// `server.max_streams` of these servers.
const STREAMS: usize = 2;

/// `server.stream_stall` where a test waits for the cut.
const STALL: Duration = Duration::from_millis(500);

/// `server.stream_stall` where a test must not see one.
const NO_STALL: Duration = Duration::from_secs(600);

/// Orders in the store: about 6 MB of JSON. A stalled client does not hold much, but on
/// loopback the server's send buffer grows to 4 MB: 2.8 MB sat unsent in it when a stream of
/// these stalled.
const ORDERS: usize = 30_000;

/// Longer than any answer may take here, even on a busy machine (the slowest seen: 0.7 s),
/// and shorter than the 5 s a starved request waited for a connection before it was 503.
const PROMPT: Duration = Duration::from_secs(3);

/// A server with [`STREAMS`] stream slots cut after `stall`, over a store of [`ORDERS`]
/// orders 3 h apart (ids 1 … ORDERS) whose pool has two connections.
async fn app_with_many_orders(stall: Duration) -> TestApp {
    let db = TestDb::new().await;
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let store = Store::connect(&db.url, &options).await.expect("the test store opens");
    store.add_service(Some(123), "Inspection").await.unwrap();
    let start = Timestamp::parse("2040-01-01T00:00:00Z").unwrap().millis();
    let records = (1..=ORDERS).map(|n| {
        let mut new = new_order(Timestamp::from_millis(start + n as i64 * 3 * 3_600_000), &[123]);
        new.id = Some(n as i64);
        (n, Ok(new))
    });
    store.import(records, "import").await.expect("the orders import");
    spawn_app_on(db, store, ServerConfig { max_streams: STREAMS, stream_stall: stall, ..server_config() }).await
}

/// A streamed listing whose client reads its status line and then nothing more.
async fn stalled_stream(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let token = app.token(Role::Reader);
    let request = format!("GET /orders HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0_u8; 12];
    tokio::time::timeout(PROMPT, stream.read_exact(&mut head)).await.expect("the stream answers").unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "the stream is served");
    stream
}

/// [`STREAMS`] stalled streams.
async fn stall_every_slot(app: &TestApp) -> Vec<TcpStream> {
    let mut stalled = Vec::new();
    for _ in 0..STREAMS {
        stalled.push(stalled_stream(app).await);
    }
    stalled
}

/// Reads what the server sent until the connection ends; true when it ended in the middle of
/// the chunked body (EOF or reset before the last chunk), false for a complete response.
async fn was_cut(mut stream: TcpStream) -> bool {
    let mut received = Vec::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server closes a cut stream's connection");
    !received.ends_with(b"]\r\n0\r\n\r\n")
}

/// The start of a reply's body, for a failure message (a whole listing is megabytes).
fn start_of(reply: &Reply) -> &str {
    &reply.text[..reply.text.len().min(300)]
}

/// Times `call`, asserting it answers within [`PROMPT`] with `status`.
async fn promptly(what: &str, status: u16, call: impl Future<Output = Reply>) -> Duration {
    let start = Instant::now();
    let reply = call.await;
    let took = start.elapsed();
    assert_eq!(reply.status, status, "{what}: {}", start_of(&reply));
    assert!(took < PROMPT, "{what} took {took:?} while the streams stalled");
    took
}

/// Asks for a small stream until one is served; how long that took.
async fn until_a_slot_is_free(app: &TestApp, deadline: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let reply = app.get("/orders?to=2040-01-02T00:00:00Z").await;
        if reply.status == 200 {
            return start.elapsed();
        }
        assert_eq!(reply.status, 503, "{}", start_of(&reply));
        assert!(start.elapsed() < deadline, "no stream slot came free within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stalled_streams_leave_writes_and_reads_their_connections_and_one_more_stream_is_refused_at_once() {
    let app = app_with_many_orders(NO_STALL).await;
    let stalled = stall_every_slot(&app).await;
    let start = Instant::now();
    let refused = app.get("/orders").await;
    let refused_in = start.elapsed();
    assert_eq!(refused.status, 503, "{}", start_of(&refused));
    assert_eq!(refused.problem_type(), "unavailable");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(refused_in < PROMPT, "refused at once, not after a wait: {refused_in:?}");
    let order = serde_json::json!({"datetime": "2020-01-01T00:00:00Z", "totalfee": 1, "services": [123]});
    let created = promptly("POST /orders", 201, app.send("POST", "/orders", &order)).await;
    let history = promptly("GET /orders/1/history", 200, app.get("/orders/1/history")).await;
    let one = promptly("GET /orders/2", 200, app.get("/orders/2")).await;
    let paged = promptly("GET /orders?limit=10", 200, app.get("/orders?limit=10")).await;
    eprintln!(
        "with {STREAMS} stalled streams: create {created:?}, history {history:?}, get {one:?}, page {paged:?}; \
         one more stream refused in {refused_in:?}"
    );
    drop(stalled);
}

#[tokio::test]
async fn a_stream_whose_client_reads_nothing_is_cut_after_the_stall_and_frees_its_slot() {
    let app = app_with_many_orders(STALL).await;
    let stalled = stall_every_slot(&app).await;
    assert_eq!(app.get("/orders").await.status, 503, "every slot is taken");
    let freed = until_a_slot_is_free(&app, Duration::from_secs(15)).await;
    let start = Instant::now();
    let again = app.get("/orders").await;
    assert_eq!(again.status, 200, "{}", start_of(&again));
    assert_eq!(again.json().as_array().map(Vec::len), Some(ORDERS), "a stream read to the end is whole");
    eprintln!("stalled streams cut {freed:?} after the first refusal; a whole stream then took {:?}", start.elapsed());
    for stream in stalled {
        assert!(was_cut(stream).await, "a stalled stream ends before its last chunk");
    }
}

#[tokio::test]
async fn a_stream_whose_client_goes_away_frees_its_slot_at_once() {
    let app = app_with_many_orders(NO_STALL).await;
    drop(stall_every_slot(&app).await);
    let freed = until_a_slot_is_free(&app, PROMPT).await;
    eprintln!("slots free {freed:?} after the clients left");
}

#[tokio::test]
async fn a_stream_the_database_cannot_serve_is_503_before_it_starts_and_keeps_no_slot() {
    let db = TestDb::new().await;
    let store = crate::helpers::store_with_services(&db).await;
    let limits = ServerConfig { max_streams: STREAMS, ..server_config() };
    let app = spawn_app_on(db, store.clone(), limits).await;
    assert_eq!(app.get("/orders").await.status, 200);
    store.close().await;
    for _ in 0..=STREAMS {
        let down = app.get("/orders").await;
        assert_eq!((down.status, down.problem_type().as_str()), (503, "unavailable"), "{}", start_of(&down));
        assert_eq!(down.header("retry-after"), Some("5"), "the database, not the stream slots: {}", down.text);
    }
}
