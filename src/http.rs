//! PURE: HTTP/1.1 request-head parsing, routing and responses. No sockets.

/// A parsed HTTP request head (borrowed from the connection's buffer), handed to an
/// [`HttpHandler`].
#[derive(Debug)]
pub struct HttpRequest<'a> {
    /// The method, e.g. `"GET"`.
    pub method: &'a str,
    /// The path without the query, e.g. `"/status"`.
    pub path: &'a str,
    /// The query string without `?` (empty when absent).
    pub query: &'a str,
    /// Header names and values, in order.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// The body (only when `Content-Length` was given and fits the request limit).
    pub body: &'a [u8],
}

impl HttpRequest<'_> {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// An HTTP response: status, content type and body. The connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code, e.g. 200.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }
}

/// Answers HTTP requests that are neither WebSocket upgrades nor built-in routes
/// (`/healthz`, `/metrics`, `/.well-known/jwks.json`). Any `Fn(&HttpRequest) -> Option<HttpResponse>`
/// closure is one; `None` means 404.
pub trait HttpHandler: Send + Sync + 'static {
    /// The response, or `None` for 404.
    fn handle(&self, request: &HttpRequest<'_>) -> Option<HttpResponse>;
}

impl<F> HttpHandler for F
where
    F: Fn(&HttpRequest<'_>) -> Option<HttpResponse> + Send + Sync + 'static,
{
    fn handle(&self, request: &HttpRequest<'_>) -> Option<HttpResponse> {
        self(request)
    }
}
