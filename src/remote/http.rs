//! The HTTP transport of remote mode: the API's base URL and one connection-pooling client.
//! Failures to reach the API or to read its answer become [`Error::Unavailable`] naming the
//! URL; answers that are not a success become the crate's errors through [`super::problem`].

use crate::error::because;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::problem::{self, Context};
use crate::error::{Error, Result};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, answer included (a page is at most 1,000 orders).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The API's base URL and the client that reaches it.
#[derive(Debug, Clone)]
pub struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    /// A client for the API at `base` (`http://host:port`, optionally with a path prefix).
    ///
    /// # Errors
    /// [`Error::Invalid`] (field `api`) for anything but an http or https URL;
    /// [`Error::Internal`] when no TLS client can be built.
    pub fn new(base: &str) -> Result<Self> {
        let trimmed = base.trim().trim_end_matches('/');
        let url = reqwest::Url::parse(trimmed).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if url.is_none() || trimmed.contains(['?', '#']) {
            return Err(Error::invalid("api", format!("must be an http:// or https:// URL, not {base:?}")));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("orders/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(because(format!("cannot build the HTTP client: {e}"), e)))?;
        Ok(Self { base: trimmed.to_owned(), client })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (which starts with `/` and may carry a query).
    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Sends a request.
    ///
    /// # Errors
    /// [`Error::Unavailable`] naming the API when it cannot be reached or does not answer in time.
    pub(super) async fn execute(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        request.send().await.map_err(|e| self.unreachable(&e))
    }

    /// A JSON `POST` without a token (`/auth/refresh`).
    ///
    /// # Errors
    /// As [`Http::execute`].
    pub(super) async fn send_unauthenticated(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response> {
        self.execute(self.request(method, path).json(body)).await
    }

    /// The response when it is a success, else the error it stands for.
    ///
    /// # Errors
    /// The crate's error for the status and problem body (see [`problem::classify`]).
    pub(super) async fn check(&self, response: reqwest::Response, context: &Context) -> Result<reqwest::Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        Err(problem::classify(status.as_u16(), &body, context, &self.base))
    }

    /// The body, decoded.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when it cannot be read to its end; [`Error::Internal`] when it is
    /// not what the API promises.
    pub(super) async fn json<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<T> {
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Internal(because(format!("the API at {} answered unreadable JSON: {e}", self.base), e)))
    }

    /// A transport failure, naming the API and the innermost cause (never a token: requests
    /// carry them only in headers, which errors do not quote).
    fn unreachable(&self, err: &reqwest::Error) -> Error {
        let cause = crate::error::innermost_cause(err);
        let what = if err.is_timeout() { "did not answer in time" } else { "cannot be reached" };
        Error::Unavailable(format!("the API at {} {what} ({cause})", self.base).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_name_an_api() {
        assert_eq!(Http::new("http://127.0.0.1:8080/").unwrap().base(), "http://127.0.0.1:8080");
        assert_eq!(Http::new("https://orders.example.com/api").unwrap().base(), "https://orders.example.com/api");
        for bad in ["127.0.0.1:8080", "ftp://x", "http://", "http://x/?a=1", ""] {
            assert!(matches!(Http::new(bad), Err(Error::Invalid(_))), "{bad:?}");
        }
    }
}
