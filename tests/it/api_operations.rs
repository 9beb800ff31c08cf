//! Operational behaviour: `/readyz` through a database outage and back, and the OpenAPI
//! document covering every route the router answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::Duration;

use orders::api::{self, AppState};
use orders::auth::Role;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::api_helpers::{Server, spawn_app, spawn_app_on, tokens};
use crate::helpers::{TestDb, store_with_services};
use crate::openapi_check;

/// A TCP proxy that can cut every connection and refuse new ones, to play an outage.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (accept_up, accept_tasks) = (up.clone(), tasks.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: the "database" refuses
                }
                let target = target.clone();
                accept_tasks.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Self { port, up, tasks }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` → (`host:port`, the URL with `127.0.0.1:{port}` instead).
fn via_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth, rest) = rest.rsplit_once('@').map_or(("", rest), |(a, r)| (a, r));
    let (host, path) = rest.split_once('/').unwrap();
    let at = if auth.is_empty() { String::new() } else { format!("{auth}@") };
    (host.to_owned(), format!("{scheme}://{at}127.0.0.1:{port}/{path}"))
}

#[tokio::test]
async fn readyz_is_503_while_the_database_is_unreachable_and_200_once_it_returns() {
    let mut db = TestDb::new().await;
    if db.is_postgres() {
        let seeded = store_with_services(&db).await;
        seeded.close().await;
        let proxy = Proxy::start(via_proxy(&db.url, 0).0).await;
        db.url = via_proxy(&db.url, proxy.port).1;
        let store = db.store().await;
        let app = spawn_app_on(db, store, crate::api_helpers::server_config()).await;
        assert_eq!(app.call("GET", "/readyz", None, None, &[]).await.status, 200);
        proxy.cut();
        let down = app.call("GET", "/readyz", None, None, &[]).await;
        assert_eq!((down.status, down.problem_type().as_str()), (503, "unavailable"));
        assert_eq!(app.get("/orders/1").await.status, 503, "requests needing the database are 503 too");
        assert_eq!(app.call("GET", "/healthz", None, None, &[]).await.status, 200, "the process is still alive");
        proxy.restore();
        assert_eq!(app.call("GET", "/readyz", None, None, &[]).await.status, 200, "back without a restart");
    } else {
        // An embedded file cannot go away underneath open connections: close the pool instead.
        let store = store_with_services(&db).await;
        let app = spawn_app_on(db, store.clone(), crate::api_helpers::server_config()).await;
        assert_eq!(app.call("GET", "/readyz", None, None, &[]).await.status, 200);
        store.close().await;
        let down = app.call("GET", "/readyz", None, None, &[]).await;
        assert_eq!((down.status, down.problem_type().as_str()), (503, "unavailable"));
    }
}

#[tokio::test]
async fn every_route_the_router_answers_is_documented_and_nothing_else_is() {
    let app = spawn_app().await;
    let documented = openapi_check::documented_operations();
    let templates: std::collections::BTreeSet<&String> = documented.iter().map(|(_, t)| t).collect();
    for template in templates {
        let path = template.replace("{id}", "123");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let reply = app.call(method, &path, None, None, &[]).await;
            let is_documented = documented.iter().any(|(m, t)| m == method && t == template);
            assert_eq!(reply.status != 405, is_documented, "{method} {template}: {}", reply.text);
            assert!(reply.status != 404 || reply.problem_type() == "not-found", "{method} {template}");
            if is_documented {
                assert!(
                    reply.json().get("detail").is_none_or(|d| d != "no such route"),
                    "{method} {template} is documented but the router has no such route"
                );
            }
        }
    }
}

/// A server with `grace`, its address, and the sender that stops it.
async fn serve_with_grace(
    db: &TestDb,
    grace: Duration,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let store = store_with_services(db).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = orders::config::ServerConfig { shutdown_grace: grace, ..crate::api_helpers::server_config() };
    let state = AppState::new(store, tokens(), limits);
    let server = tokio::spawn(api::serve(listener, state, async move { stopped.await.unwrap_or(()) }));
    (addr, stop, server)
}

/// Sends the head and the first half of a create; returns the stream and the rest of the body.
async fn half_sent_create(addr: std::net::SocketAddr) -> (TcpStream, String) {
    let body = r#"{"datetime": "2030-01-01T00:00:00Z", "totalfee": 1, "services": [123]}"#;
    let token = tokens().access_token("drain", Role::Writer, None).unwrap().0;
    let head = format!(
        "POST /orders HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(format!("{head}{first}").as_bytes()).await.unwrap();
    (stream, rest.to_owned())
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_then_serve_returns() {
    let db = TestDb::new().await;
    let (addr, stop, server) = serve_with_grace(&db, Duration::from_secs(60)).await;
    let (mut stream, rest) = half_sent_create(addr).await;
    // Let the request reach its handler, then ask the server to stop while it waits for the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "the in-flight create completes: {response}");
    tokio::time::timeout(Duration::from_secs(30), server).await.expect("serve() returns once drained").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "no new connections after shutdown");
}

#[tokio::test]
async fn shutdown_gives_up_on_a_stalled_request_after_the_grace_period() {
    let db = TestDb::new().await;
    let (addr, stop, server) = serve_with_grace(&db, Duration::from_millis(500)).await;
    let (_stalled, _never_sent) = half_sent_create(addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("serve() returns after the grace period although a request never finished")
        .unwrap();
}

#[tokio::test]
async fn the_server_logs_one_json_line_per_request_with_its_request_id() {
    let db = TestDb::new().await;
    store_with_services(&db).await;
    let server = Server::start_logging(&db, "info");
    let client = reqwest::Client::new();
    let reply =
        client.get(format!("{}/orders/1", server.base)).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(reply.status(), 401);
    let log = server.log.clone();
    // Request lines wait in a batch, written by the background writer: the line arrives
    // while the server still runs, not only when it stops.
    let written_while_running = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        log.lock().unwrap().iter().any(|line| line.contains("trace-me-42"))
    });
    assert!(written_while_running, "the request line is written while serving: {:?}", log.lock().unwrap());
    assert!(server.terminate().success(), "SIGTERM exits 0");
    let stopped = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        log.lock().unwrap().iter().any(|line| line == "orders: stopped")
    });
    assert!(stopped, "the server says it stopped: {:?}", log.lock().unwrap());
    let lines: Vec<serde_json::Value> =
        log.lock().unwrap().iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let ours: Vec<&serde_json::Value> = lines.iter().filter(|l| l["request_id"] == "trace-me-42").collect();
    assert_eq!(ours.len(), 1, "exactly one line for the request: {lines:?}");
    let line = ours[0];
    assert_eq!(
        (line["method"].as_str(), line["route"].as_str(), line["status"].as_u64()),
        (Some("GET"), Some("/orders/{id}"), Some(401))
    );
    assert!(line["latency_ms"].is_number(), "{line}");
}

#[tokio::test]
async fn rust_log_for_the_api_target_decides_whether_request_lines_are_written() {
    let db = TestDb::new().await;
    store_with_services(&db).await;
    let mut lines_of = Vec::new();
    for level in ["info,orders::api=warn", "info"] {
        let server = Server::start_logging(&db, level);
        let reply = reqwest::Client::new()
            .get(format!("{}/orders/1", server.base))
            .header("x-request-id", "filtered-or-not")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        let log = server.log.clone();
        assert!(server.terminate().success(), "SIGTERM exits 0");
        let stopped = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(25));
            log.lock().unwrap().iter().any(|line| line == "orders: stopped")
        });
        assert!(stopped, "the server says it stopped: {:?}", log.lock().unwrap());
        let lines = log.lock().unwrap().clone();
        let at = |text: &str| lines.iter().position(|line| line.contains(text));
        lines_of.push((at("filtered-or-not"), at("orders: stopped")));
    }
    assert_eq!(lines_of[0].0, None, "RUST_LOG=orders::api=warn leaves the request line out");
    let (request, stopped) = lines_of[1];
    assert!(request.is_some() && request < stopped, "with INFO the line comes before the stop: {lines_of:?}");
}
