//! docs/limits.md against hostile clients, over real sockets with small configured limits:
//! request headers within `server.header_timeout`, idle keep-alive connections closed, at most
//! `server.max_connections` open at once, shutdown within the grace plus a second however a
//! client behaves, and `server.rate_limit` per token subject or per client address.

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orders::auth::Role;
use orders::config::ServerConfig;
use orders::domain::{NewOrder, Timestamp};
use orders::store::Store;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::api_helpers::{Reply, SECRET, TestApp, read_response, server_config, spawn_app_on, tokens};
use crate::helpers::{TestDb, new_order, store_with_services};
use crate::openapi_check;

/// Far more than any bound here needs; only a server that never closes comes near it.
const PATIENCE: Duration = Duration::from_secs(10);

async fn app_with(limits: ServerConfig) -> TestApp {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    spawn_app_on(db, store, limits).await
}

fn addr_of(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().expect("the test server's address")
}

fn bearer(subject: &str, role: Role) -> String {
    format!("Bearer {}", tokens().access_token(subject, role, None).unwrap().0)
}

/// Reads until the server closes the connection (end of stream or reset); what arrived.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = vec![0_u8; 64 * 1024];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closed the connection within {PATIENCE:?}");
    received
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test]
async fn request_headers_not_finished_within_the_header_timeout_are_cut_while_full_requests_are_answered() {
    let timeout = Duration::from_millis(300);
    let app = app_with(ServerConfig { header_timeout: timeout, ..server_config() }).await;
    let addr = addr_of(&app);
    let start = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A slowloris: a byte of headers every 50 ms, never the blank line that ends them.
    let (mut dripping, mut drip) = TcpStream::connect(addr).await.unwrap().into_split();
    let dripper = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ".iter().cycle().take(400) {
            if drip.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut prompt = TcpStream::connect(addr).await.unwrap();
    prompt.write_all(HEALTHZ.as_bytes()).await.unwrap();
    assert!(read_response(&mut prompt).await.starts_with("HTTP/1.1 200"), "a full request is answered meanwhile");

    assert!(read_until_closed(&mut silent).await.is_empty(), "a connection that sends nothing gets nothing");
    let mut rest = Vec::new();
    let cut_after = tokio::time::timeout(PATIENCE, dripping.read_to_end(&mut rest)).await;
    assert!(cut_after.is_ok(), "the dripping client is cut although it keeps sending");
    let elapsed = start.elapsed();
    assert!(elapsed >= timeout, "not before the timeout: {elapsed:?}");
    assert!(elapsed < timeout * 10, "the dripping client is cut about when its time is up: {elapsed:?}");
    dripper.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let app = app_with(ServerConfig { header_timeout: timeout, ..server_config() }).await;
    let mut stream = TcpStream::connect(addr_of(&app)).await.unwrap();
    for n in 1..=2 {
        stream.write_all(HEALTHZ.as_bytes()).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"), "request {n} on one connection");
    }
    let idle_since = Instant::now();
    assert!(read_until_closed(&mut stream).await.is_empty(), "closed without a word");
    assert!(idle_since.elapsed() >= timeout, "kept open for the timeout: {:?}", idle_since.elapsed());
}

#[tokio::test]
async fn at_most_max_connections_are_served_at_once_and_the_next_is_served_once_one_closes() {
    let app = app_with(ServerConfig { max_connections: 2, ..server_config() }).await;
    let addr = addr_of(&app);
    let mut open = Vec::new();
    for n in 1..=2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(HEALTHZ.as_bytes()).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"), "connection {n} is served");
        open.push(stream);
    }
    let mut waiting = TcpStream::connect(addr).await.expect("the kernel queues the third");
    waiting.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), read_response(&mut waiting)).await;
    assert!(early.is_err(), "a third connection is not served while two are open");
    drop(open.pop());
    let served = tokio::time::timeout(PATIENCE, read_response(&mut waiting)).await;
    assert!(served.expect("served once a slot is free").starts_with("HTTP/1.1 200"));
}

/// `serve()` over `store` within `limits`: its address, the sender that stops it, its task.
async fn serve(
    store: Store,
    limits: ServerConfig,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = orders::api::AppState::new(store, tokens(), limits);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(orders::api::serve(listener, state, async move { stopped.await.unwrap_or(()) }));
    (addr, stop, server)
}

#[tokio::test]
async fn shutdown_closes_idle_and_silent_connections_at_once_instead_of_waiting_out_the_grace() {
    let db = TestDb::new().await;
    let long = Duration::from_secs(60);
    let limits = ServerConfig { shutdown_grace: long, header_timeout: long, ..server_config() };
    let (addr, stop, server) = serve(store_with_services(&db).await, limits).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(HEALTHZ.as_bytes()).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"), "served, then kept alive");
    let mut silent = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // accepted

    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server).await.expect("serve() returns long before the 60 s grace").unwrap();
    assert!(read_until_closed(&mut idle).await.is_empty(), "the idle connection is closed");
    assert!(read_until_closed(&mut silent).await.is_empty(), "the silent connection is closed");
}

/// A store holding `count` orders, 3 h apart: a streamed listing of them is megabytes, more
/// than the sockets between a server and a client that reads nothing can hold.
async fn store_with_orders(db: &TestDb, count: i64) -> Store {
    let store = store_with_services(db).await;
    let start = Timestamp::parse("2040-01-01T00:00:00Z").unwrap().millis();
    let records = (1..=count).map(|n| {
        let order = NewOrder { id: Some(n), ..new_order(Timestamp::from_millis(start + n * 3 * 3_600_000), &[123]) };
        (n as usize, Ok(order))
    });
    store.import(records.collect::<Vec<_>>(), "bulk").await.expect("the orders import");
    store
}

const MANY_ORDERS: i64 = 40_000;

/// Asks for the whole listing and reads only the start of the answer, then nothing more.
async fn stall_a_stream(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head =
        format!("GET /orders HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\n\r\n", bearer("staller", Role::Reader));
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut status = [0_u8; 12];
    stream.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200", "the stream starts");
    // Let the server fill the socket buffers and block on the client.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream
}

#[tokio::test]
async fn shutdown_cuts_a_stream_its_client_never_reads_within_the_grace_plus_a_second() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, MANY_ORDERS).await;
    let grace = Duration::from_secs(1);
    let (addr, stop, server) = serve(store, ServerConfig { shutdown_grace: grace, ..server_config() }).await;
    let mut stalled = stall_a_stream(addr).await;

    let asked = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(grace + Duration::from_secs(1), server)
        .await
        .expect("serve() returns within the grace plus a second")
        .unwrap();
    let took = asked.elapsed();
    assert!(took >= grace, "the stream stalled, so the whole grace was waited: {took:?}");
    let rest = read_until_closed(&mut stalled).await;
    assert!(!rest.ends_with(b"\r\n0\r\n\r\n"), "the listing was cut, not finished ({} more bytes)", rest.len());
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_after_the_stream_stall_and_frees_its_connection_slot() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, MANY_ORDERS).await;
    let stall = Duration::from_millis(500);
    let limits = ServerConfig { max_connections: 1, stream_stall: stall, ..server_config() };
    let (addr, _stop, _server) = serve(store, limits).await;
    let _stalled = stall_a_stream(addr).await;

    // The only connection slot is the stalled client's: the next client is served only once
    // the server has closed that socket, which a client that never reads would not do.
    let mut next = TcpStream::connect(addr).await.expect("the kernel queues it");
    next.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let served = tokio::time::timeout(PATIENCE, read_response(&mut next)).await;
    assert!(served.expect("served once the stalled client is cut").starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn orders_serve_exits_0_within_the_grace_plus_a_second_after_sigterm_although_a_stream_is_stalled() {
    let db = TestDb::new().await;
    store_with_orders(&db, MANY_ORDERS).await.close().await;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("orders"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(db.dir.path())
        .env_remove("ORDERS_CONFIG")
        .env("ORDERS__DATABASE__URL", &db.url)
        .env("ORDERS__AUTH__JWT_SECRET", SECRET)
        .env("ORDERS__SERVER__SHUTDOWN_GRACE", "1s")
        .env("RUST_LOG", "error")
        .stderr(Stdio::piped())
        .spawn()
        .expect("orders serve starts");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("orders: listening on http://").map(str::to_owned))
        .expect("the server says where it listens");
    // Keep reading stderr: a server whose stderr is closed fails to say it stopped.
    std::thread::spawn(move || lines.for_each(drop));
    let _stalled = stall_a_stream(addr.parse().unwrap()).await;

    let asked = Instant::now();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > PATIENCE {
            child.kill().unwrap();
            panic!("orders serve still runs {PATIENCE:?} after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = asked.elapsed();
    assert!(status.success(), "exit 0: {status:?}");
    assert!(took <= Duration::from_secs(2), "within the 1 s grace plus a second: {took:?}");
}

/// A request with its own `Authorization` (or none), checked against the OpenAPI document.
async fn call_as(app: &TestApp, method: &str, path: &str, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("authorization", a)).into_iter().collect();
    app.call(method, path, None, None, &headers).await
}

/// A request and the status it gets while its client is within the rate.
struct Probe<'a> {
    method: &'a str,
    path: &'a str,
    authorization: Option<&'a str>,
    body: Option<&'a str>,
    otherwise: u16,
}

impl Probe<'_> {
    /// Sends the request until it is refused with 429, asserting `otherwise` until then; the
    /// 429. At most 50 times: at a rate of 1 a second, 50 requests never all pass unless they
    /// take 50 s.
    async fn until_refused(&self, app: &TestApp) -> Reply {
        let (method, path) = (self.method, self.path);
        let headers: Vec<(&str, &str)> = self.authorization.map(|a| ("authorization", a)).into_iter().collect();
        for _ in 0..50 {
            let reply = app.call(method, path, None, self.body, &headers).await;
            if reply.status == 429 {
                return reply;
            }
            assert_eq!(reply.status, self.otherwise, "{method} {path} before it is refused: {}", reply.text);
        }
        panic!("{method} {path} was never refused");
    }
}

/// `GET path`.
fn get<'a>(path: &'a str, authorization: Option<&'a str>) -> Probe<'a> {
    Probe { method: "GET", path, authorization, body: None, otherwise: 200 }
}

fn assert_rate_limited(reply: &Reply) {
    assert_eq!((reply.status, reply.problem_type().as_str()), (429, "rate-limited"), "{}", reply.text);
    let seconds: u64 = reply.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
}

#[tokio::test]
async fn a_subject_over_the_rate_limit_gets_429_with_retry_after_and_other_subjects_are_not_affected() {
    let app = app_with(ServerConfig { rate_limit: 1, ..server_config() }).await;
    let alice = bearer("alice", Role::Reader);
    assert_eq!(call_as(&app, "GET", "/services", Some(&alice)).await.status, 200, "the burst of one");
    assert_rate_limited(&get("/services", Some(&alice)).until_refused(&app).await);
    let alice_as_writer = bearer("alice", Role::Writer);
    assert_eq!(
        call_as(&app, "GET", "/orders/1", Some(&alice_as_writer)).await.status,
        429,
        "the subject, not the token"
    );
    let forbidden = call_as(&app, "DELETE", "/services/123", Some(&alice)).await;
    assert_eq!(forbidden.status, 403, "a role too low is 403 before the rate");

    assert_eq!(
        call_as(&app, "GET", "/services", Some(&bearer("bob", Role::Reader))).await.status,
        200,
        "bob has his own"
    );
    let forged = call_as(&app, "GET", "/services", Some("Bearer not-a-token")).await;
    assert_eq!(forged.status, 401, "a bad token is 401 whatever the rate");
    assert_eq!(call_as(&app, "GET", "/healthz", None).await.status, 200, "the address is counted apart");
}

/// `GET path` from a client whose source address is `from` (any of 127.0.0.0/8 reaches the
/// server on 127.0.0.1), checked against the OpenAPI document.
async fn get_from(app: &TestApp, from: IpAddr, path: &str) -> u16 {
    let client = reqwest::Client::builder().local_address(from).build().unwrap();
    let response = client.get(format!("{}{path}", app.base)).send().await.expect("the server answers");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let text = response.text().await.unwrap();
    openapi_check::check("GET", path, status, &headers, &text).unwrap_or_else(|e| panic!("{e}: {text}"));
    status
}

#[tokio::test]
async fn routes_without_a_token_are_limited_per_client_address() {
    let app = app_with(ServerConfig { rate_limit: 1, ..server_config() }).await;
    let refresh = Probe {
        method: "POST",
        path: "/auth/refresh",
        authorization: None,
        body: Some(r#"{"refresh_token": "unknown"}"#),
        otherwise: 401,
    };
    for probe in [get("/healthz", None), get("/readyz", None), get("/openapi.json", None), refresh] {
        assert_rate_limited(&probe.until_refused(&app).await);
    }
    assert_eq!(get_from(&app, "127.0.0.2".parse().unwrap(), "/healthz").await, 200, "another address has its own");
    let reader = bearer("reader", Role::Reader);
    assert_eq!(
        call_as(&app, "GET", "/services", Some(&reader)).await.status,
        200,
        "a token's subject is counted apart"
    );
}

#[tokio::test]
async fn a_rate_limit_of_zero_refuses_nothing() {
    let app = app_with(ServerConfig { rate_limit: 0, ..server_config() }).await;
    let alice = bearer("alice", Role::Reader);
    for n in 0..200 {
        assert_eq!(call_as(&app, "GET", "/healthz", None).await.status, 200, "unauthenticated request {n}");
        assert_eq!(call_as(&app, "GET", "/services", Some(&alice)).await.status, 200, "authenticated request {n}");
    }
}
