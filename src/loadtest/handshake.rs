//! PURE: the client side of the WebSocket upgrade (RFC 6455 §4.1), hand-rolled so that a
//! refusal's status and JSON error code can be read, and so a mio loop can drive it byte by
//! byte.

use crate::loadtest::TokenVia;
use tungstenite::handshake::derive_accept_key;

/// Largest response head (and refusal body) the client accepts.
const MAX_RESPONSE: usize = 16 * 1024;

/// A ready-to-send upgrade request and the `Sec-WebSocket-Accept` value it expects back.
#[derive(Debug, Clone)]
pub(crate) struct UpgradeRequest {
    pub(crate) bytes: Vec<u8>,
    pub(crate) accept: String,
}

/// Builds the upgrade request for `path` on `host`, with `token` placed as `via` says
/// (for [`TokenVia::Message`] the request carries no token).
pub(crate) fn build_request(
    host: &str,
    path: &str,
    token: Option<&str>,
    via: TokenVia,
) -> UpgradeRequest {
    let key = tungstenite::handshake::client::generate_key();
    let accept = derive_accept_key(key.as_bytes());
    let mut req = String::with_capacity(256 + token.map_or(0, str::len));
    req.push_str("GET ");
    req.push_str(path);
    if let (Some(t), TokenVia::Query) = (token, via) {
        req.push(if path.contains('?') { '&' } else { '?' });
        req.push_str("token=");
        push_query_escaped(&mut req, t);
    }
    req.push_str(" HTTP/1.1\r\nHost: ");
    req.push_str(host);
    req.push_str(
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: ",
    );
    req.push_str(&key);
    req.push_str("\r\n");
    if let (Some(t), TokenVia::Header) = (token, via) {
        req.push_str("Authorization: Bearer ");
        // Header values cannot carry CR or LF; a (bad) token with them is cut there.
        req.push_str(t.split(['\r', '\n']).next().unwrap_or(""));
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    UpgradeRequest {
        bytes: req.into_bytes(),
        accept,
    }
}

/// Percent-encodes everything but the URL-safe characters JWTs are made of.
fn push_query_escaped(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// What the bytes received so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Upgrade {
    /// Not a complete response yet: read more.
    Incomplete,
    /// 101 with the right accept key; the WebSocket starts at byte `head_len`.
    Switched {
        /// Length of the response head; later bytes are WebSocket frames.
        head_len: usize,
    },
    /// Any other status; `code` is the JSON body's `error` field when there is one.
    Refused {
        /// The HTTP status.
        status: u16,
        /// `{"error": code}` from the body.
        code: Option<String>,
    },
    /// Not an acceptable response (the text says why).
    Invalid(&'static str),
}

/// Parses the response in `buf`. `eof` says the peer closed, so no more bytes will come.
pub(crate) fn parse_response(buf: &[u8], accept: &str, eof: bool) -> Upgrade {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if eof => return Upgrade::Invalid("eof_in_response"),
        Ok(httparse::Status::Partial) if buf.len() > MAX_RESPONSE => {
            return Upgrade::Invalid("response_too_large");
        }
        Ok(httparse::Status::Partial) => return Upgrade::Incomplete,
        Err(_) => return Upgrade::Invalid("bad_response"),
    };
    let status = resp.code.unwrap_or(0);
    if status == 101 {
        let header = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        return match header("Sec-WebSocket-Accept") {
            Some(v) if v == accept.as_bytes() => Upgrade::Switched { head_len },
            Some(_) => Upgrade::Invalid("bad_accept_key"),
            None => Upgrade::Invalid("no_accept_key"),
        };
    }
    let content_length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Content-Length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let body = &buf[head_len..];
    let complete = match content_length {
        Some(n) => body.len() >= n.min(MAX_RESPONSE),
        None => eof,
    };
    if !complete {
        if eof {
            return Upgrade::Refused { status, code: None };
        }
        if buf.len() > 2 * MAX_RESPONSE {
            return Upgrade::Invalid("response_too_large");
        }
        return Upgrade::Incomplete;
    }
    let body = &body[..content_length.unwrap_or(body.len()).min(body.len())];
    Upgrade::Refused {
        status,
        code: error_code(body),
    }
}

/// The `error` member of a JSON object body.
fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v.get("error")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_token_request_is_well_formed() {
        let r = build_request("127.0.0.1:9", "/play", Some("a.b-c_d"), TokenVia::Query);
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(text.starts_with("GET /play?token=a.b-c_d HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        assert!(!text.contains("Authorization"));
    }

    #[test]
    fn header_token_cannot_inject_headers() {
        let r = build_request("h", "/", Some("x\r\nEvil: 1"), TokenVia::Header);
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(text.contains("Authorization: Bearer x\r\n"));
        assert!(!text.contains("Evil"));
    }

    #[test]
    fn switching_protocols_needs_the_right_key() {
        let r = build_request("h", "/", None, TokenVia::Message);
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\nWXYZ",
            r.accept
        );
        let head = ok.len() - 4;
        assert_eq!(
            parse_response(ok.as_bytes(), &r.accept, false),
            Upgrade::Switched { head_len: head }
        );
        assert_eq!(
            parse_response(&ok.as_bytes()[..20], &r.accept, false),
            Upgrade::Incomplete
        );
        let wrong = ok.replace(&r.accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(
            parse_response(wrong.as_bytes(), &r.accept, false),
            Upgrade::Invalid("bad_accept_key")
        );
    }

    #[test]
    fn refusal_body_code_is_read_when_complete() {
        let body = r#"{"error":"token_expired","message":"the token has expired"}"#;
        let resp = format!(
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(
            parse_response(resp.as_bytes(), "k", false),
            Upgrade::Refused {
                status: 401,
                code: Some("token_expired".into())
            }
        );
        assert_eq!(
            parse_response(&resp.as_bytes()[..resp.len() - 3], "k", false),
            Upgrade::Incomplete
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n", "k", true),
            Upgrade::Refused {
                status: 404,
                code: None
            }
        );
        assert_eq!(
            parse_response(b"garbage\r\n\r\n", "k", false),
            Upgrade::Invalid("bad_response")
        );
    }
}
