//! The accept loop under the API, with the connection bounds of docs/limits.md that warp's own
//! server leaves out (it gives hyper no timer, so hyper's header-read timeout is silently off):
//! request headers must arrive within `server.header_timeout`, which also bounds how long a
//! kept-alive connection may sit idle waiting for its next request; at most
//! `server.max_connections` connections are open at once (beyond, accepting pauses and new
//! clients wait in the kernel's queue); and shutdown stops accepting, lets in-flight requests
//! finish for at most `server.shutdown_grace`, then cuts every connection still open.
//!
//! A client that stops reading its response is cut too: a write to its socket that cannot
//! proceed for `server.stream_stall` fails the connection (a streamed listing notices the stall
//! itself and frees its database connection; this closes the socket, which would otherwise sit
//! on its send buffer until the client read again). Sockets run with TCP_NODELAY: the last
//! chunk of a streamed response otherwise waited ~40 ms on Nagle's algorithm and delayed ACKs.
//!
//! Every request carries its client's address as a [`Peer`] extension, for the rate limit.
//!
//! HTTP/1.1 only: hyper-util's protocol-sniffing `auto` builder reads the first bytes of a
//! connection with no timer at all, so a client that connects and sends nothing would hold its
//! connection forever, and hyper's HTTP/2 server has neither a header-read nor an idle timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_io_timeout::TimeoutStream;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::config::ServerConfig;

/// The address of the client a request came from (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// How long accepting pauses after an error that is not about one connection (out of file
/// descriptors, say), so the loop does not spin while nothing can be accepted.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How many connections may wait in the kernel's queue to be accepted: tokio's default of 128
/// dropped 3 of 1,000 back-to-back connection attempts (each such client then waits a second
/// for its retry).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` (`HOST:PORT`, the first address it resolves to) with [`LISTEN_BACKLOG`].
///
/// # Errors
/// When the address does not resolve or cannot be bound.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let resolved = tokio::net::lookup_host(addr).await?.next();
    let addr = resolved.ok_or_else(|| std::io::Error::other(format!("{addr} resolves to no address")))?;
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `routes` on `listener` within `limits` until `shutdown` resolves, then drains: idle
/// connections close at once, in-flight requests get `limits.shutdown_grace` to finish, and
/// whatever is still open after it is cut. Returns once every connection is closed.
pub async fn run(
    listener: TcpListener,
    routes: BoxedFilter<(Response,)>,
    limits: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let http = Arc::new(http);
    let write_stall = limits.stream_stall;
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, then a connection: while every slot is taken, nothing is accepted.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break, // never closed; stop serving rather than spin
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection =
                    Connection { http: http.clone(), routes: routes.clone(), peer, write_stall, _slot: permit };
                connections.spawn(connection.serve(stream, graceful.watcher()));
                reap(&mut connections);
            }
            Err(err) => accept_failed(&err).await,
        }
    }
    drop(listener); // new clients are refused from here on
    drain(graceful, connections, limits.shutdown_grace).await;
}

/// One accepted connection and what it needs.
struct Connection {
    http: Arc<http1::Builder>,
    routes: BoxedFilter<(Response,)>,
    peer: SocketAddr,
    /// How long a write to the client may make no progress before the connection is cut.
    write_stall: Duration,
    /// Held while the connection is open; dropping it lets the loop accept another.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    /// Serves requests on `stream` until the client or hyper closes it (header timeout, idle
    /// keep-alive, an error) or, once shutdown began, until the request in flight is answered.
    async fn serve(self, stream: TcpStream, watcher: Watcher) {
        let Self { http, routes, peer, write_stall, _slot } = self;
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(target: "orders::api", %peer, error = %err, "cannot set TCP_NODELAY");
        }
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(write_stall));
        let routes = TowerToHyperService::new(warp::service(routes));
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(Peer(peer));
            routes.call(request)
        });
        let connection = http.serve_connection(TokioIo::new(Box::pin(stream)), service);
        if let Err(err) = watcher.watch(connection).await {
            // Timeouts and clients that vanish mid-request land here; nothing to answer.
            tracing::debug!(target: "orders::api", %peer, error = %err, "connection closed");
        }
    }
}

/// Collects the connections that have ended, so the set holds only open ones (and the odd one
/// that ended since the last accept).
fn reap(connections: &mut JoinSet<()>) {
    while let Some(ended) = connections.try_join_next() {
        if let Err(err) = ended
            && err.is_panic()
        {
            tracing::error!(target: "orders::api", error = %err, "a connection task panicked");
        }
    }
}

/// An accept error about one connection (reset before it was accepted) is skipped; any other
/// (out of file descriptors) pauses accepting briefly.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
    if !matches!(err.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
        tracing::warn!(target: "orders::api", error = %err, "cannot accept a connection");
        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
    }
}

/// Asks every connection to finish (idle ones close at once, busy ones after their response),
/// waits at most `grace` for them, then cuts the rest. A cut connection drops its response
/// body, which ends whatever task was producing it (a streamed listing).
async fn drain(graceful: GracefulShutdown, mut connections: JoinSet<()>, grace: Duration) {
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        reap(&mut connections);
        tracing::warn!(
            target: "orders::api",
            open = connections.len(),
            "shutdown grace elapsed: cutting the connections still open"
        );
    }
    connections.shutdown().await;
}
