//! [`OrderBook`] over `orders serve`'s HTTP API: every operation is one or a few requests,
//! sent with the token source's access token (refreshed and retried once when the server
//! says it is no longer valid), and every refusal read back as the error the server
//! classified. Listings page with keyset cursors, at most [`PAGE`] orders a request, so a
//! stream of a million orders holds one page at a time and each request stays short.

use crate::error::because;
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::credentials::Secret;
use super::http::Http;
use super::problem::Context;
use super::tokens::{TokenSource, UnverifiedClaims};
use super::wire::{self, WireEvent, WireOrder};
use crate::book::OrderBook;
use crate::domain::{Event, FieldError, NewOrder, Order, OrderFilter, OrderKey, OrderPatch, Service};
use crate::error::{Error, Result};
use crate::store::OrderQuery;

/// Orders (or history events) asked for per request: the API's largest `limit`.
const PAGE: usize = 1000;

/// The API's orders and catalogue, in the token's name.
#[derive(Debug, Clone)]
pub struct RemoteBook {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: Http,
    tokens: TokenSource,
}

/// A request body and how it is sent.
enum Body {
    Json(Value),
    MergePatch(Value),
}

/// One request, which may be sent twice (again after a refresh).
struct Call<'a> {
    method: Method,
    path: String,
    query: &'a [(&'static str, String)],
    body: Option<Body>,
    if_match: Option<i64>,
    context: Context,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: impl Into<String>, context: Context) -> Self {
        Self { method, path: path.into(), query: &[], body: None, if_match: None, context }
    }

    fn get(path: impl Into<String>, context: Context) -> Self {
        Self::new(Method::GET, path, context)
    }

    fn query(mut self, query: &'a [(&'static str, String)]) -> Self {
        self.query = query;
        self
    }

    fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    fn if_match(mut self, version: Option<i64>) -> Self {
        self.if_match = version;
        self
    }
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

impl RemoteBook {
    /// A book on the API at `api`, authenticated by `tokens`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a URL that is not http or https.
    pub fn new(api: &str, tokens: TokenSource) -> Result<Self> {
        Ok(Self { inner: Arc::new(Inner { http: Http::new(api)?, tokens }) })
    }

    /// The API's base URL.
    pub fn api(&self) -> &str {
        self.inner.http.base()
    }

    /// Who the book acts as: the current access token's subject and role, read without
    /// verifying it (the server checks every request). The dashboard opens browse-only for a
    /// `reader` and tells a `writer` that catalogue edits need `admin`.
    ///
    /// # Errors
    /// As any request when a login must refresh first; [`Error::Unauthorized`] when the token
    /// is not a JWT.
    pub async fn identity(&self) -> Result<UnverifiedClaims> {
        let token = self.inner.tokens.bearer(&self.inner.http).await?;
        UnverifiedClaims::read(token.expose())
    }

    /// Sends `call` with a current access token; once more with a fresh one when the server
    /// refuses the token and the source can renew it.
    async fn send(&self, call: Call<'_>) -> Result<reqwest::Response> {
        let Inner { http, tokens } = &*self.inner;
        let mut retried = false;
        loop {
            let token = tokens.bearer(http).await?;
            let response = http.execute(self.build(&call, &token)).await?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !retried && tokens.renew(http, &token).await? {
                retried = true;
                continue;
            }
            return http.check(response, &call.context).await;
        }
    }

    fn build(&self, call: &Call<'_>, token: &Secret) -> reqwest::RequestBuilder {
        let mut request = self.inner.http.request(call.method.clone(), &call.path).bearer_auth(token.expose());
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        request = match &call.body {
            Some(Body::Json(body)) => request.json(body),
            Some(Body::MergePatch(body)) => {
                request.header(reqwest::header::CONTENT_TYPE, "application/merge-patch+json").body(body.to_string())
            }
            None => request,
        };
        if let Some(version) = call.if_match {
            request = request.header(reqwest::header::IF_MATCH, format!("\"{version}\""));
        }
        request
    }

    /// Sends `call` and decodes its answer.
    async fn fetch<T: serde::de::DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        let response = self.send(call).await?;
        self.inner.http.json(response).await
    }

    async fn fetch_order(&self, call: Call<'_>) -> Result<Order> {
        self.fetch::<WireOrder>(call).await?.into_order()
    }

    /// One page of at most `limit` orders after `after`; whether more follow.
    async fn page(&self, query: &OrderQuery, after: Option<OrderKey>, limit: usize) -> Result<(Vec<Order>, bool)> {
        let mut params = wire::filter_params(&query.filter);
        params.push(("sort", wire::sort_param(query.sort).to_owned()));
        params.push(("limit", limit.to_string()));
        if let Some(after) = after {
            params.push(("after", wire::cursor(after)));
        }
        let response = self.send(Call::get("/orders", Context::default()).query(&params)).await?;
        let more = wire::next_link(response.headers()).is_some();
        let orders: Vec<WireOrder> = self.inner.http.json(response).await?;
        Ok((orders.into_iter().map(WireOrder::into_order).collect::<Result<_>>()?, more))
    }
}

/// How many orders the next page should ask for, when `taken` of `limit` are had: `None`
/// when no more are wanted.
fn next_page_size(limit: Option<u32>, taken: usize) -> Option<usize> {
    let wanted = limit.map_or(PAGE, |limit| (limit as usize).saturating_sub(taken).min(PAGE));
    (wanted > 0).then_some(wanted)
}

impl OrderBook for RemoteBook {
    async fn get_order(&self, id: i64) -> Result<Order> {
        self.fetch_order(Call::get(format!("/orders/{id}"), Context::record("order", id))).await
    }

    async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<Order>> {
        let (mut orders, mut after) = (Vec::new(), query.after);
        while let Some(size) = next_page_size(query.limit, orders.len()) {
            let (page, more) = self.page(query, after, size).await?;
            after = page.last().map(Order::key).or(after);
            orders.extend(page);
            if !more {
                break;
            }
        }
        Ok(orders)
    }

    fn stream_orders(&self, query: OrderQuery) -> BoxStream<'static, Result<Order>> {
        let book = self.clone();
        async_stream::try_stream! {
            let (mut taken, mut after) = (0, query.after);
            while let Some(size) = next_page_size(query.limit, taken) {
                let (page, more) = book.page(&query, after, size).await?;
                after = page.last().map(Order::key).or(after);
                taken += page.len();
                for order in page {
                    yield order;
                }
                if !more {
                    break;
                }
            }
        }
        .boxed()
    }

    async fn count_orders(&self, filter: &OrderFilter) -> Result<i64> {
        let params = wire::filter_params(filter);
        Ok(self.fetch::<Count>(Call::get("/orders/count", Context::default()).query(&params)).await?.count)
    }

    async fn create_order(&self, new: &NewOrder) -> Result<Order> {
        self.fetch_order(Call::new(Method::POST, "/orders", Context::default()).body(Body::Json(wire::new_order(new))))
            .await
    }

    async fn update_order(&self, id: i64, patch: &OrderPatch, if_version: Option<i64>) -> Result<Order> {
        let call = Call::new(Method::PATCH, format!("/orders/{id}"), Context::order_at(id, if_version))
            .body(Body::MergePatch(wire::patch(patch)))
            .if_match(if_version);
        self.fetch_order(call).await
    }

    async fn delete_order(&self, id: i64, if_version: Option<i64>) -> Result<()> {
        let call =
            Call::new(Method::DELETE, format!("/orders/{id}"), Context::order_at(id, if_version)).if_match(if_version);
        self.send(call).await.map(drop)
    }

    async fn history(&self, order_id: i64) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        let mut query = vec![("limit", PAGE.to_string())];
        loop {
            let call = Call::get(format!("/orders/{order_id}/history"), Context::record("order", order_id));
            let response = self.send(call.query(&query)).await?;
            let next = wire::next_link(response.headers());
            let page: Vec<WireEvent> = self.inner.http.json(response).await?;
            for event in page {
                events.push(event.into_event()?);
            }
            // The link's path is the server's; only its query is taken, so an API behind a
            // path prefix pages the same.
            let Some(next) = next.as_deref().and_then(|link| link.split_once('?')).map(|(_, query)| query) else {
                return Ok(events);
            };
            query = serde_urlencoded::from_str::<Vec<(String, String)>>(next)
                .map_err(|e| {
                    Error::Internal(because(format!("the API handed out an unreadable history link: {e}"), e))
                })?
                .into_iter()
                .filter_map(|(name, value)| match name.as_str() {
                    "after" => Some(("after", value)),
                    "limit" => Some(("limit", value)),
                    _ => None,
                })
                .collect();
        }
    }

    async fn list_services(&self) -> Result<Vec<Service>> {
        self.fetch(Call::get("/services", Context::default())).await
    }

    async fn get_service(&self, id: i64) -> Result<Service> {
        self.fetch(Call::get(format!("/services/{id}"), Context::record("service", id))).await
    }

    async fn add_service(&self, id: Option<i64>, name: &str) -> Result<Service> {
        let body = match id {
            Some(id) => json!({ "id": id, "name": name }),
            None => json!({ "name": name }),
        };
        self.fetch(Call::new(Method::POST, "/services", Context::default()).body(Body::Json(body))).await
    }

    async fn rename_service(&self, id: i64, name: &str) -> Result<Service> {
        let call = Call::new(Method::PUT, format!("/services/{id}"), Context::record("service", id));
        self.fetch(call.body(Body::Json(json!({ "name": name })))).await
    }

    async fn delete_service(&self, id: i64) -> Result<Service> {
        let service = self.get_service(id).await?;
        self.send(Call::new(Method::DELETE, format!("/services/{id}"), Context::record("service", id))).await?;
        Ok(service)
    }

    async fn invalid(&self, mut errors: Vec<FieldError>, services: Option<&[i64]>) -> Error {
        if let Some(ids) = services.filter(|ids| !ids.is_empty())
            && let Ok(catalogue) = self.list_services().await
        {
            let missing: Vec<String> =
                ids.iter().filter(|id| !catalogue.iter().any(|s| s.id == **id)).map(ToString::to_string).collect();
            if !missing.is_empty() {
                errors.push(FieldError::new("services", format!("unknown service id {}", missing.join(", "))));
            }
        }
        Error::Invalid(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_at_most_a_thousand_and_stop_at_the_limit() {
        assert_eq!(next_page_size(None, 5000), Some(PAGE));
        assert_eq!(next_page_size(Some(2500), 2000), Some(500));
        assert_eq!(next_page_size(Some(3), 3), None);
        assert_eq!(next_page_size(Some(0), 0), None);
    }
}
