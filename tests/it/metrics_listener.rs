//! The metrics listener (`server.metrics_addr`) of a real `orders serve`: `GET /metrics` without
//! a token, with the process's metrics and the build; every other path 404; none unless asked
//! for; the main listener's `/metrics` still behind a token; bounded by the header timeout and
//! a connection cap of its own, and stopped with the server.

use std::io::{BufRead as _, BufReader, Lines};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::Duration;

use orders::auth::Role;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::api_helpers::{SECRET, read_response, tokens};
use crate::helpers::{TestDb, store_with_services};

/// Far more than any bound here needs; only a server that never closes comes near it.
const PATIENCE: Duration = Duration::from_secs(10);

/// A scrape, as raw bytes on a kept-alive connection.
const SCRAPE: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: metrics\r\n\r\n";

/// The process metrics every scrape carries.
const PROCESS_METRICS: [&str; 7] = [
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "process_threads",
];

/// An `orders serve` on `127.0.0.1:0`, with what it said when it started; killed when dropped.
struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT` of the API.
    base: String,
    /// The line after "listening on": where the metrics are, or that there is no listener.
    metrics_line: String,
}

impl Serve {
    /// Starts one with `ORDERS__SERVER__METRICS_ADDR` set to `metrics_addr` (unset for `None`)
    /// and the other `[server]` keys in `env`.
    fn start(db: &TestDb, metrics_addr: Option<&str>, env: &[(&str, &str)]) -> Self {
        let mut command = serve_command(db, metrics_addr, env);
        let mut child = command.stderr(Stdio::piped()).spawn().expect("orders serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let base = next_line(&mut lines, "the listening line")
            .strip_prefix("orders: listening on ")
            .expect("the first line says where the API listens")
            .to_owned();
        let metrics_line = next_line(&mut lines, "the metrics line");
        // Keep reading stderr, so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, base, metrics_line }
    }

    /// `http://127.0.0.1:PORT` of the metrics listener.
    fn metrics_base(&self) -> String {
        let url = self.metrics_line.strip_prefix("orders: metrics without a token on ");
        let url = url.unwrap_or_else(|| panic!("a metrics listener: {}", self.metrics_line));
        url.strip_suffix("/metrics").expect("the URL of /metrics").to_owned()
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn serve_command(db: &TestDb, metrics_addr: Option<&str>, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("orders"));
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(db.dir.path())
        .env_remove("ORDERS_CONFIG")
        .env_remove("ORDERS__SERVER__METRICS_ADDR")
        .env("ORDERS__DATABASE__URL", &db.url)
        .env("ORDERS__AUTH__JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn");
    if let Some(addr) = metrics_addr {
        command.env("ORDERS__SERVER__METRICS_ADDR", addr);
    }
    command.envs(env.iter().copied());
    command
}

fn next_line(lines: &mut Lines<BufReader<ChildStderr>>, what: &str) -> String {
    lines.next().unwrap_or_else(|| panic!("{what}: stderr ended")).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A GET with an optional reader token: status and body.
async fn get(url: &str, token: bool) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if token {
        request = request.bearer_auth(tokens().access_token("scraper", Role::Reader, None).unwrap().0);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_metrics_listener_answers_without_a_token_with_the_process_metrics_and_the_build() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let serve = Serve::start(&db, Some("127.0.0.1:0"), &[]);
    assert_eq!(get(&format!("{}/healthz", serve.base), false).await.0, 200);

    let response = reqwest::get(format!("{}/metrics", serve.metrics_base())).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    for name in PROCESS_METRICS {
        assert!(text.contains(&format!("\n{name} ")), "{name} in {text}");
    }
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let build = format!("orders_build_info{{profile=\"{profile}\",version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&build), "{build} in {text}");
    let counted = "orders_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n";
    assert!(text.contains(counted), "the main listener's requests: {text}");
    assert!(text.contains("\norders_db_pool_connections "), "{text}");
}

#[tokio::test]
async fn every_other_path_on_the_metrics_listener_is_404_even_with_a_token() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let serve = Serve::start(&db, Some("127.0.0.1:0"), &[]);
    let metrics = serve.metrics_base();
    for path in ["/", "/orders", "/orders/1", "/services", "/events", "/openapi.json", "/healthz", "/readyz"] {
        for token in [false, true] {
            assert_eq!(get(&format!("{metrics}{path}"), token).await.0, 404, "GET {path} (token: {token})");
        }
    }
    for path in ["/orders", "/openapi.json", "/healthz"] {
        assert_eq!(get(&format!("{}{path}", serve.base), true).await.0, 200, "{path} on the main listener");
    }
    for path in ["/metrics/x", "/metricsx", "/auth/token"] {
        assert_eq!(get(&format!("{metrics}{path}"), false).await.0, 404, "GET {path}");
    }
    let client = reqwest::Client::new();
    let login = client.post(format!("{metrics}/auth/token")).body("{}").send().await.unwrap();
    assert_eq!(login.status().as_u16(), 404, "no token endpoint");
    let post = client.post(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn the_main_listeners_metrics_still_need_a_token_and_say_the_same() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let serve = Serve::start(&db, Some("127.0.0.1:0"), &[]);
    let (status, _) = get(&format!("{}/metrics", serve.base), false).await;
    assert_eq!(status, 401, "no token, no metrics on the main listener");
    let (status, main) = get(&format!("{}/metrics", serve.base), true).await;
    let (_, scraped) = get(&format!("{}/metrics", serve.metrics_base()), false).await;
    assert_eq!(status, 200);
    let names = |text: &str| -> Vec<String> {
        let mut names: Vec<String> =
            text.lines().filter_map(|line| line.strip_prefix("# TYPE ")).map(str::to_owned).collect();
        names.sort();
        names
    };
    assert_eq!(names(&main), names(&scraped), "the same metrics on both");
    assert!(main.contains("\nprocess_resident_memory_bytes "), "{main}");
}

#[tokio::test]
async fn without_a_metrics_addr_serve_opens_no_metrics_listener_and_says_so() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    for metrics_addr in [None, Some("")] {
        let serve = Serve::start(&db, metrics_addr, &[]);
        assert_eq!(
            serve.metrics_line, "orders: no metrics listener (server.metrics_addr is unset); /metrics needs a token",
            "ORDERS__SERVER__METRICS_ADDR={metrics_addr:?}"
        );
    }
    let printed = db.cli().arg("config").assert().success();
    let printed = String::from_utf8_lossy(&printed.get_output().stdout).into_owned();
    assert!(!printed.contains("metrics_addr"), "unset by default:\n{printed}");
}

#[tokio::test]
async fn a_metrics_addr_that_cannot_be_bound_stops_serve_before_it_listens() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let output = serve_command(&db, Some(&taken), &[]).output().expect("orders serve runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {taken} (server.metrics_addr)")), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[tokio::test]
async fn the_metrics_listener_closes_a_connection_that_sends_no_headers_within_the_header_timeout() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let serve = Serve::start(&db, Some("127.0.0.1:0"), &[("ORDERS__SERVER__HEADER_TIMEOUT", "1s")]);
    let addr = serve.metrics_base().trim_start_matches("http://").to_owned();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, silent.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a silent connection is closed, not kept");
}

#[tokio::test]
async fn the_metrics_listener_caps_its_connections_apart_from_the_apis() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let serve = Serve::start(&db, Some("127.0.0.1:0"), &[("ORDERS__SERVER__MAX_CONNECTIONS", "1")]);
    let addr = serve.metrics_base().trim_start_matches("http://").to_owned();
    let mut held = TcpStream::connect(&addr).await.unwrap();
    held.write_all(SCRAPE).await.unwrap();
    assert!(read_response(&mut held).await.starts_with("HTTP/1.1 200"), "the first connection is served");
    assert_eq!(get(&format!("{}/healthz", serve.base), false).await.0, 200, "the API has its own slot");
    let mut waiting = TcpStream::connect(&addr).await.expect("the kernel queues the second");
    waiting.write_all(SCRAPE).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), read_response(&mut waiting)).await;
    assert!(early.is_err(), "a second metrics connection is not served while the first is open");
    drop(held);
    let served = tokio::time::timeout(PATIENCE, read_response(&mut waiting)).await;
    assert!(served.expect("served once the first closed").starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn sigterm_stops_the_metrics_listener_with_the_server() {
    let db = TestDb::new().await;
    store_with_services(&db).await.close().await;
    let serve = Serve::start(&db, Some("127.0.0.1:0"), &[]);
    let metrics = serve.metrics_base();
    assert_eq!(get(&format!("{metrics}/metrics"), false).await.0, 200);
    assert!(serve.terminate().success(), "SIGTERM exits 0");
    let refused = reqwest::get(format!("{metrics}/metrics")).await;
    assert!(refused.is_err(), "nothing listens after the server stopped: {refused:?}");
}
