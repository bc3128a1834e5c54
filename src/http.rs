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

impl<'a> HttpRequest<'a> {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The credential of `Authorization: Bearer <credential>`, trimmed.
    pub(crate) fn bearer(&self) -> Option<&'a str> {
        let value = std::str::from_utf8(self.header("authorization")?).ok()?;
        let (scheme, rest) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
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

/// Why a request head could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadRequest {
    /// Not HTTP/1.1 syntax → 400.
    Malformed,
    /// Head (or head + body) larger than the limit → 431.
    TooLarge,
}

/// What the I/O layer should do with a complete request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// A WebSocket upgrade, with the `Sec-WebSocket-Key` and the token if one came with it.
    Upgrade {
        key: &'a [u8],
        token: Option<&'a str>,
    },
    /// `GET /healthz`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// `GET /.well-known/jwks.json`.
    Jwks,
    /// Anything else: the user's handler, else 404.
    Other,
}

/// A complete request: the borrowed request and how many bytes of the buffer it used.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) request: HttpRequest<'a>,
    pub(crate) consumed: usize,
}

const MAX_HEADERS: usize = 32;

/// Parses one request from `buf`. `Ok(None)`: incomplete, read more (unless `buf` already
/// holds `max` bytes, which is `TooLarge`).
pub(crate) fn parse_request(buf: &[u8], max: usize) -> Result<Option<Parsed<'_>>, BadRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= max {
                Err(BadRequest::TooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(BadRequest::TooLarge),
        Err(_) => return Err(BadRequest::Malformed),
    };
    if req.version != Some(1) {
        return Err(BadRequest::Malformed);
    }
    let method = req.method.ok_or(BadRequest::Malformed)?;
    let target = req.path.ok_or(BadRequest::Malformed)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let hs: Vec<(&str, &[u8])> = req.headers.iter().map(|h| (h.name, h.value)).collect();
    let mut content_length = 0usize;
    for (name, value) in &hs {
        if name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(value).map_err(|_| BadRequest::Malformed)?;
            content_length = v.trim().parse().map_err(|_| BadRequest::Malformed)?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are not supported on this port.
            return Err(BadRequest::Malformed);
        }
    }
    let total = head_len
        .checked_add(content_length)
        .ok_or(BadRequest::TooLarge)?;
    if total > max {
        return Err(BadRequest::TooLarge);
    }
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(Parsed {
        request: HttpRequest {
            method,
            path,
            query,
            headers: hs,
            body: &buf[head_len..total],
        },
        consumed: total,
    }))
}

fn header_has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// The value of query parameter `name` (not percent-decoded: JWTs need no escaping).
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Routes a complete request.
pub(crate) fn route<'a>(req: &HttpRequest<'a>) -> Route<'a> {
    let upgrade = req
        .header("upgrade")
        .is_some_and(|v| header_has_token(v, "websocket"));
    if req.method == "GET" && upgrade {
        let key = req.header("sec-websocket-key");
        let version_ok = req
            .header("sec-websocket-version")
            .is_some_and(|v| v == b"13");
        let connection_ok = req
            .header("connection")
            .is_some_and(|v| header_has_token(v, "upgrade"));
        if let (Some(key), true, true) = (key, version_ok, connection_ok) {
            let token = req
                .bearer()
                .or_else(|| query_param(req.query, "token"))
                .filter(|t| !t.is_empty());
            return Route::Upgrade { key, token };
        }
        return Route::Other;
    }
    match (req.method, req.path) {
        ("GET", "/healthz") => Route::Health,
        ("GET", "/metrics") => Route::Metrics,
        ("GET", "/.well-known/jwks.json") => Route::Jwks,
        _ => Route::Other,
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

impl HttpResponse {
    /// The whole response as bytes (`Connection: close`).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// The refusal of a token before the upgrade: 401/403 with `{"error","message"}`.
    pub(crate) fn auth_error(e: crate::AuthError) -> Self {
        Self::json(
            e.http_status(),
            &serde_json::json!({"error": e.code(), "message": e.message()}),
        )
    }
}

/// The `101 Switching Protocols` answer to a WebSocket key.
pub(crate) fn switching_protocols(key: &[u8]) -> Vec<u8> {
    let accept = tungstenite::handshake::derive_accept_key(key);
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &[u8] = b"GET /play?x=1&token=abc.def.ghi HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn upgrade_with_query_token_is_routed_with_its_token() {
        let p = parse_request(UPGRADE, 8192).unwrap().unwrap();
        assert_eq!(p.consumed, UPGRADE.len());
        assert_eq!(
            route(&p.request),
            Route::Upgrade {
                key: b"dGhlIHNhbXBsZSBub25jZQ==",
                token: Some("abc.def.ghi")
            }
        );
    }

    #[test]
    fn bearer_header_wins_over_query() {
        let req = b"GET /?token=q HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer  h.h.h \r\n\r\n";
        let p = parse_request(req, 8192).unwrap().unwrap();
        assert_eq!(
            route(&p.request),
            Route::Upgrade {
                key: b"k",
                token: Some("h.h.h")
            }
        );
    }

    #[test]
    fn upgrade_without_token_routes_with_none() {
        let req = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let p = parse_request(req, 8192).unwrap().unwrap();
        assert_eq!(
            route(&p.request),
            Route::Upgrade {
                key: b"k",
                token: None
            }
        );
    }

    #[test]
    fn incomplete_head_waits_and_oversized_head_is_too_large() {
        assert!(parse_request(&UPGRADE[..40], 8192).unwrap().is_none());
        assert_eq!(
            parse_request(&UPGRADE[..40], 40).unwrap_err(),
            BadRequest::TooLarge
        );
        assert_eq!(
            parse_request(b"NOT HTTP\r\n\r\n", 8192).unwrap_err(),
            BadRequest::Malformed
        );
    }

    #[test]
    fn body_is_read_by_content_length() {
        let req = b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        assert!(
            parse_request(&req[..req.len() - 1], 8192)
                .unwrap()
                .is_none()
        );
        let p = parse_request(req, 8192).unwrap().unwrap();
        assert_eq!(p.request.body, b"hello");
        assert_eq!(route(&p.request), Route::Other);
        assert_eq!(parse_request(req, 40).unwrap_err(), BadRequest::TooLarge);
    }

    #[test]
    fn builtin_routes() {
        for (path, want) in [
            ("/healthz", Route::Health),
            ("/metrics", Route::Metrics),
            ("/.well-known/jwks.json", Route::Jwks),
            ("/other", Route::Other),
        ] {
            let req = format!("GET {path} HTTP/1.1\r\n\r\n");
            let p = parse_request(req.as_bytes(), 8192).unwrap().unwrap();
            assert_eq!(route(&p.request), want);
        }
    }

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        let r = String::from_utf8(switching_protocols(b"dGhlIHNhbXBsZSBub25jZQ==")).unwrap();
        assert!(r.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }

    #[test]
    fn auth_error_response_has_json_code() {
        let r = HttpResponse::auth_error(crate::AuthError::InsufficientPermissions);
        assert_eq!(r.status, 403);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"], "insufficient_permissions");
        let bytes = String::from_utf8(r.to_bytes()).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    }
}
