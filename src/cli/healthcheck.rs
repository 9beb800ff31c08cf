//! `orders healthcheck [--url URL]`: asks an `orders serve` for `GET /readyz` and succeeds only
//! on 200, for container health checks (the image's `HEALTHCHECK`). The server is the one at
//! `--url`, else the one `server.addr` names, reached over loopback when that address is a
//! wildcard (`0.0.0.0`, `[::]`). Anything else (refused, timed out, any other status) is exit 1
//! with one line saying why; a URL that is not `http(s)://HOST[:PORT]` is a usage error (2).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

use super::args::UsageError;
use crate::config::Config;

/// How long the whole check may take. Longer than `/readyz`'s own 2 s wait for the database, so
/// a slow database is reported as the server's 503 rather than as a timeout.
const TIMEOUT: Duration = Duration::from_secs(4);

/// How long connecting may take: loopback or a neighbour answers at once or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The server did not answer `/readyz` with 200: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unhealthy(String);

/// Checks the server at `url`, else at `server.addr`.
///
/// # Errors
/// [`UsageError`] for a malformed URL or address; [`Unhealthy`] when the server cannot be
/// reached or answers anything but 200.
pub async fn run(config: &Config, url: Option<&str>) -> anyhow::Result<()> {
    let base = match url {
        Some(url) => base_url(url)?,
        None => url_of_addr(&config.server.addr)?,
    };
    let readyz = readyz_url(&base);
    let client = reqwest::Client::builder()
        .no_proxy() // a proxy from the environment must not stand between a probe and its server
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| Unhealthy(format!("cannot start an HTTP client: {e}")))?;
    let response = client.get(readyz.clone()).send().await.map_err(|e| Unhealthy(unreachable(&readyz, &e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::OK {
        eprintln!("orders: {readyz} answered {status}");
        Ok(())
    } else {
        Err(Unhealthy(format!("{readyz} answered {status}")).into())
    }
}

/// Why `readyz` could not be asked: a timeout, else the innermost cause (e.g. `Connection
/// refused`), which reqwest's own message leaves out.
fn unreachable(readyz: &Url, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("{readyz} cannot be reached: no answer within {}s", TIMEOUT.as_secs());
    }
    format!("{readyz} cannot be reached: {}", crate::error::innermost_cause(error))
}

/// `--url`: an `http` or `https` URL with a host; its path is where the server is mounted.
fn base_url(text: &str) -> Result<Url, UsageError> {
    Url::parse(text.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| UsageError(format!("--url {text:?} is not an http(s)://HOST[:PORT] URL")))
}

/// `server.addr` as a URL to connect to: a wildcard address means this machine, over loopback.
fn url_of_addr(addr: &str) -> Result<Url, UsageError> {
    let host_port = match addr.parse::<SocketAddr>() {
        Ok(socket) => SocketAddr::new(loopback_if_wildcard(socket.ip()), socket.port()).to_string(),
        Err(_) => addr.to_owned(), // HOST:PORT with a name, e.g. localhost:8080
    };
    Url::parse(&format!("http://{host_port}"))
        .ok()
        .filter(|url| url.has_host() && url.port().is_some())
        .ok_or_else(|| UsageError(format!("server.addr {addr:?} is not HOST:PORT; name the server with --url")))
}

fn loopback_if_wildcard(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// `base` + `/readyz`, keeping a path prefix the server is mounted under.
fn readyz_url(base: &Url) -> Url {
    let mut url = base.clone();
    let path = format!("{}/readyz", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_server_addr_is_reached_over_loopback_and_any_other_as_it_is() {
        for (addr, readyz) in [
            ("0.0.0.0:8080", "http://127.0.0.1:8080/readyz"),
            ("[::]:8080", "http://[::1]:8080/readyz"),
            ("127.0.0.1:9000", "http://127.0.0.1:9000/readyz"),
            ("10.1.2.3:8080", "http://10.1.2.3:8080/readyz"),
            ("localhost:8080", "http://localhost:8080/readyz"),
            ("replica-1:8080", "http://replica-1:8080/readyz"),
        ] {
            assert_eq!(readyz_url(&url_of_addr(addr).unwrap()).as_str(), readyz, "{addr}");
        }
    }

    #[test]
    fn a_server_addr_that_is_not_host_and_port_is_a_usage_error() {
        for addr in ["", "8080", "localhost", "http://x:1", "a b:80"] {
            assert!(url_of_addr(addr).is_err(), "{addr:?} accepted");
        }
    }

    #[test]
    fn readyz_is_asked_for_under_the_path_the_url_names() {
        for (url, readyz) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/readyz"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/readyz"),
            ("https://api.example.com/orders/?x=1", "https://api.example.com/orders/readyz"),
        ] {
            assert_eq!(readyz_url(&base_url(url).unwrap()).as_str(), readyz, "{url}");
        }
    }

    #[test]
    fn a_url_that_is_not_http_with_a_host_is_a_usage_error() {
        for url in ["", "127.0.0.1:8080", "ftp://host/", "http://", "not a url", "file:///readyz"] {
            let refused = base_url(url).expect_err(url);
            assert!(refused.0.contains("--url"), "{url}: {}", refused.0);
        }
    }
}
