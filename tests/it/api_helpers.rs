//! `spawn_app()`: the production `serve()` on a pre-bound port-0 listener over a fresh test
//! database, and a client whose every response is checked against `/openapi.json`.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orders::api::{self, AppState};
use orders::auth::{Claims, Role, Tokens};
use orders::config::{AuthConfig, Config, DEFAULTS, ServerConfig};
use orders::store::Store;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestDb, store_with_services};
use crate::openapi_check;

/// The signing secret of the test servers.
pub const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";

/// The default configuration's `[auth]`, with [`SECRET`].
pub fn auth_config() -> AuthConfig {
    let config: Config = toml::from_str(DEFAULTS).expect("the defaults parse");
    config.auth
}

/// The token minter and checker the test servers use.
pub fn tokens() -> Tokens {
    Tokens::new(SECRET.as_bytes(), &auth_config()).expect("a long enough secret")
}

/// A running server over its own database (with the sample catalogue).
pub struct TestApp {
    db: Option<TestDb>,
    /// The store the server uses.
    pub store: Store,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What a call got back, already checked against the OpenAPI document.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body text.
    pub text: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem `type` word.
    pub fn problem_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

/// A server over a fresh database with the sample catalogue.
pub async fn spawn_app() -> TestApp {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    spawn_app_on(db, store, server_config()).await
}

/// The default `[server]` of the test servers: the documented defaults with a 5 s shutdown
/// grace and no rate limit (tests that check a limit set their own).
pub fn server_config() -> ServerConfig {
    let config: Config = toml::from_str(DEFAULTS).expect("the defaults parse");
    ServerConfig { shutdown_grace: Duration::from_secs(5), rate_limit: 0, ..config.server }
}

/// A server over `store` (on `db`) within `limits`.
pub async fn spawn_app_on(db: TestDb, store: Store, limits: ServerConfig) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr: SocketAddr = listener.local_addr().unwrap();
    let state = AppState::new(store.clone(), tokens(), limits);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(api::serve(listener, state, shutdown));
    TestApp {
        db: Some(db),
        store,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// The test's database.
    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("the database")
    }

    /// A valid access token with `role`.
    pub fn token(&self, role: Role) -> String {
        tokens().access_token("tester", role, None).unwrap().0
    }

    /// The server's token minter.
    pub fn tokens(&self) -> Tokens {
        tokens()
    }

    /// A token with arbitrary claims, signed with the server's secret.
    pub fn signed(&self, claims: &Claims) -> String {
        tokens().sign(claims).unwrap()
    }

    /// Sends a request: `role` adds a valid bearer token, `body` is sent as JSON text with
    /// `Content-Type: application/json` unless `headers` names another one.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<Role>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request =
            self.client.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", self.base));
        if let Some(role) = role {
            request = request.bearer_auth(self.token(role));
        }
        if let Some(body) = body {
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                request = request.header("content-type", "application/json");
            }
            request = request.body(body.to_owned());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        if let Err(mismatch) = openapi_check::check(method, path, status, &headers, &text) {
            panic!("response does not match openapi.json: {mismatch}\nbody: {text}");
        }
        Reply { status, headers, text }
    }

    /// `GET` as `reader`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, Some(Role::Reader), None, &[]).await
    }

    /// A JSON body request as `admin`.
    pub async fn send(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.call(method, path, Some(Role::Admin), Some(&body.to_string()), &[]).await
    }

    /// Creates an order as `admin`, asserting 201; returns it.
    pub async fn create(&self, datetime: &str, services: &[i64]) -> Value {
        let reply = self
            .send("POST", "/orders", &serde_json::json!({"datetime": datetime, "totalfee": 100, "services": services}))
            .await;
        assert_eq!(reply.status, 201, "create at {datetime}: {}", reply.text);
        reply.json()
    }

    /// Stops the server (draining) and hands back its database.
    pub async fn stop(mut self) -> (TestDb, Store) {
        self.shutdown().await;
        (self.db.take().expect("the database"), self.store.clone())
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("serve() ends cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A refresh token for `subject` as `role`, minted as an admin does, on the database.
pub fn refresh_token(db: &TestDb, subject: &str, role: &str) -> String {
    let issued = db
        .cli()
        .args(["token", "issue", "--subject", subject, "--role", role, "--refresh", "-o", "json"])
        .env("ORDERS__AUTH__JWT_SECRET", SECRET)
        .assert()
        .success();
    let issued: Value = serde_json::from_slice(&issued.get_output().stdout).unwrap();
    issued["refresh_token"].as_str().expect("a refresh token").to_owned()
}

/// A `orders serve` process on `db`, with its address; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Every stderr line after the "listening" one, as they arrive.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts one, logging at `RUST_LOG=warn`.
    pub fn start(db: &TestDb) -> Self {
        Self::start_logging(db, "warn")
    }

    /// Starts one with `RUST_LOG` set to `level`.
    pub fn start_logging(db: &TestDb, level: &str) -> Self {
        Self::spawn(db, "127.0.0.1:0", level)
    }

    /// Starts one listening on `addr` (`HOST:PORT`), e.g. where an earlier one listened.
    pub fn start_at(db: &TestDb, addr: &str) -> Self {
        Self::spawn(db, addr, "warn")
    }

    fn spawn(db: &TestDb, addr: &str, level: &str) -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("orders"))
            .args(["serve", "--addr", addr])
            .current_dir(db.dir.path())
            .env_remove("ORDERS_CONFIG")
            .env("ORDERS__DATABASE__URL", &db.url)
            .env("ORDERS__AUTH__JWT_SECRET", SECRET)
            .env("RUST_LOG", level)
            .stderr(Stdio::piped())
            .spawn()
            .expect("orders serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("the server says where it listens").unwrap();
            if let Some(addr) = line.strip_prefix("orders: listening on ") {
                break addr.to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = log.clone();
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| sink.lock().unwrap().push(line)));
        Self { child, base, log }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads one response with a `Content-Length` body; its text.
pub async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0_u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::io::AsyncReadExt::read(stream, &mut buf).await.expect("the response arrives");
        assert!(n > 0, "the connection closed mid-response: {text:?}");
        bytes.extend_from_slice(&buf[..n]);
    }
}
