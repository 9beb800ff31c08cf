//! Operational behaviour: `/readyz` through a database outage and back, and the OpenAPI
//! document covering every route the router answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};

use crate::api_helpers::{spawn_app, spawn_app_on};
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
        let app = spawn_app_on(db, store, 64 * 1024).await;
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
        let app = spawn_app_on(db, store.clone(), 64 * 1024).await;
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
