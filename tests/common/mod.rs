//! Shared helpers for the server integration tests (`tests/server_*.rs`, `tests/examples_cli.rs`).
//!
//! - [`TestServer`]: an embedded server on `127.0.0.1:0` with fresh login and result keys, shut
//!   down (with a bounded wait) when dropped.
//! - [`Mode`], [`start_in`] and [`both_modes!`](crate::common::both_modes): the same test body
//!   run against colocated workers (each I/O thread hosts one worker, the default) and split
//!   workers (worker threads of their own, `colocate_workers(false)`).
//! - Token minting with the server's login key, and result-token verification under the keys the
//!   server publishes ([`ServerHandle::result_jwks`]).
//! - Real tungstenite clients over blocking `TcpStream`s with read and write timeouts, so no test
//!   can hang: the token goes in `Authorization: Bearer`, in `?token=`, or as the first message.
//! - A raw HTTP client for the answers given before (or instead of) an upgrade, and hand-built
//!   masked client frames for requests and frames sent in one TCP write.
//!
//! Every loop here is bounded in iterations, and every read is bounded by [`IO_TIMEOUT`].
#![allow(dead_code, unreachable_pub)] // each test file uses a subset

pub mod examples;

use base64::Engine as _;
use jwt_game_server::{
    Game, Keys, Server, ServerBuilder, ServerHandle, Signer, TokenSpec, Verified, Verifier,
};
use serde_json::{Value, json};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::CloseFrame;
use tungstenite::{HandshakeError, Message, WebSocket};

/// Longest a test waits for any single read, write or connect.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Most events read from one socket before a helper gives up (no loop is unbounded).
pub const MAX_EVENTS: usize = 10_000;

/// The `kid` of the test login key.
pub const LOGIN_KID: &str = "login-test";

/// The `kid` of the test result key.
pub const RESULT_KID: &str = "result-test";

/// The default `iss` of result tokens.
pub const RESULT_ISSUER: &str = "jwt-game-server";

/// A client WebSocket over a plain blocking TCP stream.
pub type Ws = WebSocket<TcpStream>;

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A server running in this process, with the keys to talk to it.
pub struct TestServer {
    handle: Option<ServerHandle>,
    /// The bound address (real port).
    pub addr: SocketAddr,
    /// The private login key: mints tokens the server accepts.
    pub login: Signer,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// How the workers of a test server run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `.io_threads(2).workers(2)`: colocated workers, the default when `io_threads ==
    /// workers`. Each I/O thread hosts one worker; a connection whose session lives on the
    /// other thread moves there once its token verifies.
    Colocated,
    /// `.io_threads(1).workers(2).colocate_workers(false)`: workers are threads of their own and
    /// every message crosses I/O thread → worker → I/O thread.
    Split,
}

impl Mode {
    /// True for [`Mode::Colocated`].
    pub fn colocated(self) -> bool {
        self == Self::Colocated
    }

    /// Sets this mode's thread counts (and, for [`Mode::Split`], turns colocation off).
    /// Colocation itself is left at its default in [`Mode::Colocated`], so the tests see what
    /// users get when they set equal counts.
    pub fn apply<G>(self, builder: ServerBuilder<G>) -> ServerBuilder<G> {
        match self {
            Self::Colocated => builder.io_threads(2).workers(2),
            Self::Split => builder.io_threads(1).workers(2).colocate_workers(false),
        }
    }
}

/// Generates, for each listed `fn name(mode: Mode)`, the tests `colocated::name` and
/// `split::name`, which call it with [`Mode::Colocated`] and [`Mode::Split`].
///
/// ```ignore
/// both_modes! {
///     two_players_exchange_messages,
///     sessions_are_isolated_from_each_other,
/// }
/// ```
#[allow(unused_macros)] // each test file uses a subset
macro_rules! both_modes {
    ($($name:ident),+ $(,)?) => {
        /// Each test body run with colocated workers (2 I/O threads hosting 2 workers).
        mod colocated {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::common::Mode::Colocated);
                }
            )+
        }

        /// Each test body run with split workers (1 I/O thread, 2 worker threads).
        mod split {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::common::Mode::Split);
                }
            )+
        }
    };
}
#[allow(unused_imports)] // each test file uses a subset
pub(crate) use both_modes;

/// Starts a server for game `G` with defaults suited to tests (colocated workers on 2 I/O
/// threads, as [`Mode::Colocated`]; fresh Ed25519 keys; default token spec).
pub fn start<G: Game>() -> TestServer {
    start_with::<G>(|b| b)
}

/// Like [`start`], with `configure` applied to the builder last (so it may override anything,
/// thread counts and colocation included).
pub fn start_with<G: Game>(
    configure: impl FnOnce(ServerBuilder<G>) -> ServerBuilder<G>,
) -> TestServer {
    let login = Signer::generate_ed25519(LOGIN_KID).expect("login key");
    start_with_login::<G>(login, configure)
}

/// Like [`start_with`], with a given login signer (e.g. an HS256 one).
pub fn start_with_login<G: Game>(
    login: Signer,
    configure: impl FnOnce(ServerBuilder<G>) -> ServerBuilder<G>,
) -> TestServer {
    launch(login, Mode::Colocated, configure, None)
}

/// Starts a server for game `G` in `mode`, with `configure` applied to the builder last.
///
/// `configure` may change anything but the mode: it may set other thread counts (e.g. one
/// worker) as long as workers stay colocated in [`Mode::Colocated`] and split in
/// [`Mode::Split`]; this is checked after `build`, so a test cannot silently run in the other
/// mode.
pub fn start_in<G: Game>(
    mode: Mode,
    configure: impl FnOnce(ServerBuilder<G>) -> ServerBuilder<G>,
) -> TestServer {
    let login = Signer::generate_ed25519(LOGIN_KID).expect("login key");
    launch(login, mode, configure, Some(mode))
}

/// Builds and starts a test server: base options, then `mode`, then `configure`; when `check`
/// is given, requires the built configuration to be in that mode.
fn launch<G: Game>(
    login: Signer,
    mode: Mode,
    configure: impl FnOnce(ServerBuilder<G>) -> ServerBuilder<G>,
    check: Option<Mode>,
) -> TestServer {
    let builder = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login.verification_keys())
        .tokens(TokenSpec::default())
        .result_signer(Signer::generate_ed25519(RESULT_KID).expect("result key"))
        .game::<G>();
    let built = configure(mode.apply(builder))
        .build()
        .expect("valid test configuration");
    if let Some(mode) = check {
        assert_eq!(
            built.colocated(),
            mode.colocated(),
            "the test configuration is not in {mode:?} mode: {built:?}"
        );
    }
    let handle = built.start().expect("server starts");
    TestServer {
        addr: handle.local_addr(),
        handle: Some(handle),
        login,
    }
}

impl TestServer {
    /// The running server.
    pub fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().expect("server still running")
    }

    /// A login token for `pid` in `sid`, valid for 10 minutes.
    pub fn token(&self, pid: &str, sid: &str) -> String {
        self.token_with(json!({ "pid": pid, "sid": sid }), now(), 600)
    }

    /// A login token with exactly these claims plus `iat` = `iat`, `exp` = `iat + ttl` and a
    /// fresh `jti`.
    pub fn token_with(&self, claims: Value, iat: u64, ttl: u64) -> String {
        sign(&self.login, claims, iat, ttl)
    }

    /// A verifier for this server's result tokens, built from the public JWKS it publishes.
    pub fn result_verifier(&self) -> Verifier<Value> {
        result_verifier_from_jwks(&self.handle().result_jwks())
    }

    /// Verifies a result token of this server and checks everything DESIGN §4/§5 promise about
    /// it: header `typ` and `kid`, `iss`, `pid`, `sid`, `iat`, `exp`, `jti`. Returns the `result`.
    pub fn check_result(&self, token: &str, pid: &str, sid: &str) -> Value {
        check_result_token(&self.result_verifier(), token, pid, sid)
    }

    /// Graceful shutdown, joined on a helper thread so that a broken server cannot hang the test.
    ///
    /// # Panics
    /// If the shutdown does not finish within 20 s.
    pub fn shutdown(mut self) {
        let handle = self.handle.take().expect("server still running");
        assert!(
            shutdown_bounded(handle, Duration::from_secs(20)),
            "shutdown did not finish within 20 s"
        );
    }

    /// Starts the graceful shutdown on a helper thread and returns at once; the returned receiver
    /// yields `()` when the shutdown has finished.
    pub fn shutdown_in_background(mut self) -> mpsc::Receiver<()> {
        let handle = self.handle.take().expect("server still running");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            handle.shutdown();
            let _ = tx.send(());
        });
        rx
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // Bounded: a test that failed must not hang in its cleanup.
            let _ = shutdown_bounded(handle, Duration::from_secs(10));
        }
    }
}

/// Shuts `handle` down on a helper thread; true if it finished within `limit`.
pub fn shutdown_bounded(handle: ServerHandle, limit: Duration) -> bool {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        handle.shutdown();
        let _ = tx.send(());
    });
    rx.recv_timeout(limit).is_ok()
}

/// Signs a login token (header `typ` "JWT") with `signer`.
pub fn sign(signer: &Signer, claims: Value, iat: u64, ttl: u64) -> String {
    let Value::Object(map) = claims else {
        panic!("claims must be a JSON object");
    };
    signer.sign("JWT", map, iat, ttl)
}

/// A verifier for result tokens from a published JWKS document.
pub fn result_verifier_from_jwks(jwks: &Value) -> Verifier<Value> {
    let keys = Keys::from_jwks_str(&jwks.to_string()).expect("result JWKS parses");
    // Result tokens live longer than the default maximum lifetime of login tokens.
    Verifier::for_results(keys, TokenSpec::default().max_lifetime(None)).expect("result verifier")
}

/// Decodes one base64url segment of a compact JWS as JSON.
pub fn decode_segment(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("three segments");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("base64url segment");
    serde_json::from_slice(&bytes).expect("JSON segment")
}

/// Verifies a result token of a test server (kid [`RESULT_KID`]) and checks its header and
/// standard claims; returns its `result`.
pub fn check_result_token(verifier: &Verifier<Value>, token: &str, pid: &str, sid: &str) -> Value {
    check_result_token_kid(verifier, token, pid, sid, RESULT_KID)
}

/// Like [`check_result_token`], for a result key with id `kid`.
pub fn check_result_token_kid(
    verifier: &Verifier<Value>,
    token: &str,
    pid: &str,
    sid: &str,
    kid: &str,
) -> Value {
    let verified: Verified<Value> = verifier
        .verify(token, now())
        .unwrap_or_else(|e| panic!("result token does not verify: {e}: {token}"));
    assert_eq!(verified.player(), pid, "result token pid");
    assert_eq!(verified.session(), sid, "result token sid");
    let header = decode_segment(token, 0);
    assert_eq!(
        header["typ"], "jgs-result+jwt",
        "result token typ: {header}"
    );
    assert_eq!(header["kid"], kid, "result token kid: {header}");
    let claims = decode_segment(token, 1);
    assert_eq!(claims["iss"], RESULT_ISSUER, "result token iss: {claims}");
    assert_eq!(claims["pid"], pid, "result token pid claim: {claims}");
    assert_eq!(claims["sid"], sid, "result token sid claim: {claims}");
    let iat = claims["iat"].as_u64().expect("numeric iat");
    let exp = claims["exp"].as_u64().expect("numeric exp");
    assert!(exp > iat, "exp after iat: {claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "non-empty jti: {claims}"
    );
    assert!(claims.get("result").is_some(), "result claim: {claims}");
    claims["result"].clone()
}

/// Where the client puts its token.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// `Authorization: Bearer <token>`.
    Header(&'a str),
    /// `?token=<token>` (percent-encoded).
    Query(&'a str),
    /// The first text message after the upgrade.
    FirstMessage(&'a str),
    /// No token at all.
    Nothing,
}

/// A TCP connection to `addr` with read/write timeouts and `TCP_NODELAY`.
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("TCP connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Percent-encodes everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a WebSocket upgrade did not happen.
#[derive(Debug)]
pub enum Refused {
    /// The server answered with this HTTP status and body instead of 101.
    Http(u16, Vec<u8>),
    /// Some other failure (connection reset, timeout, protocol error).
    Other(String),
}

/// Opens a WebSocket to `addr` with the token placed as `auth` says (a first-message token is
/// sent right after the upgrade).
pub fn try_connect(addr: SocketAddr, auth: Auth<'_>) -> Result<Ws, Refused> {
    let url = match auth {
        Auth::Query(t) => format!("ws://{addr}/play?token={}", percent_encode(t)),
        _ => format!("ws://{addr}/play"),
    };
    let mut request = url.into_client_request().expect("request");
    if let Auth::Header(t) = auth {
        request.headers_mut().insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).expect("header value"),
        );
    }
    let mut ws = match tungstenite::client(request, tcp(addr)) {
        Ok((ws, _response)) => ws,
        Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let body = response.into_body().unwrap_or_default();
            return Err(Refused::Http(status, body));
        }
        Err(e) => return Err(Refused::Other(e.to_string())),
    };
    if let Auth::FirstMessage(t) = auth {
        ws.send(Message::text(t)).expect("send first-message token");
    }
    Ok(ws)
}

/// Opens a WebSocket; panics if the upgrade is refused.
pub fn connect(addr: SocketAddr, auth: Auth<'_>) -> Ws {
    try_connect(addr, auth).unwrap_or_else(|e| panic!("upgrade refused: {e:?}"))
}

/// What came next on a client socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A close frame: code and reason (`None` for a close frame without a code).
    Close(Option<(u16, String)>),
    /// The connection ended without a close frame, or a read failed or timed out.
    Gone(String),
}

/// Reads the next data or close event, skipping pings and pongs (bounded by [`MAX_EVENTS`] and
/// the socket's read timeout).
pub fn next_event(ws: &mut Ws) -> Event {
    for _ in 0..MAX_EVENTS {
        match ws.read() {
            Ok(Message::Text(t)) => return Event::Text(t.as_str().to_owned()),
            Ok(Message::Binary(b)) => return Event::Binary(b.to_vec()),
            Ok(Message::Close(frame)) => {
                // Complete the closing handshake: tungstenite queued the reply.
                let _ = ws.flush();
                return Event::Close(frame.map(close_pair));
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Err(e) => return Event::Gone(e.to_string()),
        }
    }
    Event::Gone("too many control frames".to_owned())
}

fn close_pair(frame: CloseFrame) -> (u16, String) {
    (u16::from(frame.code), frame.reason.as_str().to_owned())
}

/// Reads the next event and requires a text message.
pub fn recv_text(ws: &mut Ws) -> String {
    match next_event(ws) {
        Event::Text(t) => t,
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Reads the next event and requires a text message holding JSON.
pub fn recv_json(ws: &mut Ws) -> Value {
    let text = recv_text(ws);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Reads the next event and requires a close frame with exactly `code` and `reason`.
pub fn expect_close(ws: &mut Ws, code: u16, reason: &str) {
    match next_event(ws) {
        Event::Close(Some((c, r))) => {
            assert_eq!((c, r.as_str()), (code, reason), "close code and reason");
        }
        other => panic!("expected close {code} {reason:?}, got {other:?}"),
    }
}

/// Reads the next event and requires a close frame with `code` (any reason); returns the reason.
pub fn expect_close_code(ws: &mut Ws, code: u16) -> String {
    match next_event(ws) {
        Event::Close(Some((c, r))) => {
            assert_eq!(c, code, "close code (reason {r:?})");
            r
        }
        other => panic!("expected close {code}, got {other:?}"),
    }
}

/// Reads every event until (and including) the close frame or the end of the connection.
pub fn read_until_close(ws: &mut Ws) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..MAX_EVENTS {
        let event = next_event(ws);
        let last = matches!(event, Event::Close(_) | Event::Gone(_));
        events.push(event);
        if last {
            break;
        }
    }
    events
}

/// Reads a session-end sequence: exactly one text message (a result token) and then a close
/// with `code` and `reason`. Returns the token.
pub fn expect_result_then_close(ws: &mut Ws, code: u16, reason: &str) -> String {
    let events = read_until_close(ws);
    match events.as_slice() {
        [Event::Text(token), Event::Close(Some((c, r)))] => {
            assert_eq!((*c, r.as_str()), (code, reason), "close after the result");
            token.clone()
        }
        other => panic!("expected one result token then close {code} {reason:?}, got {other:?}"),
    }
}

/// Sends a text message.
pub fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned()))
        .expect("send text message");
}

/// Reads events until a text message satisfies `pred`, skipping others (at most `limit` events).
pub fn recv_text_matching(ws: &mut Ws, limit: usize, pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..limit {
        match next_event(ws) {
            Event::Text(t) if pred(&t) => return t,
            Event::Text(_) | Event::Binary(_) => {}
            other => panic!("connection ended while waiting for a message: {other:?}"),
        }
    }
    panic!("no matching message within {limit} events");
}

/// An HTTP response read from a raw socket.
#[derive(Debug)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as raw bytes and reads one HTTP response: the head, then `Content-Length`
/// bytes of body (or until the server closes). Bounded by [`IO_TIMEOUT`] per read and 1 MiB.
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> HttpReply {
    let mut stream = tcp(addr);
    stream.write_all(request).expect("write request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "no complete HTTP response in time"
        );
        assert!(buf.len() < 1 << 20, "HTTP response too large");
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = response.parse(&buf) {
            let status = response.code.expect("status code");
            let headers: Vec<(String, String)> = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.trim().parse::<usize>().expect("numeric Content-Length"));
            let complete = match length {
                Some(n) => buf.len() >= head_len + n,
                None => false,
            };
            if complete || eof_reached(&mut stream, &mut buf, &mut chunk) {
                let end = length.map_or(buf.len(), |n| (head_len + n).min(buf.len()));
                return HttpReply {
                    status,
                    headers,
                    body: buf[head_len..end].to_vec(),
                };
            }
            continue;
        }
        match stream.read(&mut chunk) {
            Ok(0) => panic!(
                "connection closed before a complete response: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "read failed before a complete response ({e}): {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
}

/// Reads one more chunk into `buf`; true at end of stream (or on error).
fn eof_reached(stream: &mut TcpStream, buf: &mut Vec<u8>, chunk: &mut [u8]) -> bool {
    match stream.read(chunk) {
        Ok(0) | Err(_) => true,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            false
        }
    }
}

/// A GET request head for `path`.
pub fn get(addr: SocketAddr, path: &str) -> HttpReply {
    http_raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A raw WebSocket upgrade request with the token in `Authorization: Bearer` (`header`) and/or
/// `?token=` (`query`); returns the server's HTTP answer (which must not be 101 for a refusal).
pub fn upgrade_raw(addr: SocketAddr, header: Option<&str>, query: Option<&str>) -> HttpReply {
    let path = match query {
        Some(t) => format!("/play?token={}", percent_encode(t)),
        None => "/play".to_owned(),
    };
    let auth = header.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n"
    );
    http_raw(addr, request.as_bytes())
}

/// Checks an HTTP refusal: `status`, a JSON body `{"error": code, "message": text}` with the
/// given code and a non-empty message, and no upgrade.
pub fn assert_refusal(reply: &HttpReply, status: u16, code: &str) {
    assert_eq!(
        reply.status,
        status,
        "status for {code}; body {}",
        reply.text()
    );
    assert!(
        reply.header("upgrade").is_none(),
        "a refusal must not upgrade: {reply:?}"
    );
    let body = reply.json();
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "non-empty message in {body}"
    );
    let object = body.as_object().expect("JSON object body");
    assert_eq!(object.len(), 2, "exactly error and message: {body}");
}

/// Polls `probe` every `every` until it returns `Some`, at most `attempts` times.
pub fn poll<T>(
    attempts: usize,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    for i in 0..attempts {
        if let Some(v) = probe() {
            return Some(v);
        }
        if i + 1 < attempts {
            std::thread::sleep(every);
        }
    }
    None
}

/// WebSocket opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// WebSocket opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// WebSocket opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;

/// A complete (FIN) masked client frame with `opcode` and `payload`, of any length, built by
/// hand so that several frames (or a request and frames) can go out in one TCP write.
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    // Any key will do; vary it so that no two frames of a test are masked alike by accident.
    let mask = (payload.len() as u32)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(0x37fa_213d)
        .to_be_bytes();
    let mut frame = vec![0x80 | (opcode & 0x0f)];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A masked client close frame with `code` and `reason`.
pub fn masked_close(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    masked_frame(OP_CLOSE, &payload)
}

/// Writes a WebSocket upgrade request for `target` (e.g. `/play`, or `/play?token=…`), with
/// `Authorization: Bearer <token>` when `bearer` is given, followed by `after` (e.g.
/// [`masked_frame`]s) in one TCP write, before the 101 can arrive; then reads the 101 head
/// and wraps the rest as a client WebSocket.
///
/// # Panics
/// If the answer is not a 101 (the head is shown).
pub fn upgrade_pipelined(addr: SocketAddr, target: &str, bearer: Option<&str>, after: &[u8]) -> Ws {
    let mut stream = tcp(addr);
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let mut bytes = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(after);
    stream
        .write_all(&bytes)
        .expect("write the request and the frames");
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(pos) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        assert!(head.len() < 16 * 1024, "response head too long");
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("no 101 ({e}); so far {:?}", String::from_utf8_lossy(&head)),
        };
        assert!(
            n > 0,
            "closed before the 101: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.extend_from_slice(&chunk[..n]);
    };
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "expected 101, got {:?}",
        String::from_utf8_lossy(&head)
    );
    let leftover = head[end..].to_vec();
    WebSocket::from_partially_read(stream, leftover, tungstenite::protocol::Role::Client, None)
}

/// Shuts `s` down gracefully and checks what everyone sees: each of `players` (pid, sid,
/// socket) its own result token with `{"reason":"shutdown"}`, then close 1001
/// `server_shutdown`; `pending` (upgraded, not yet authenticated) close 1001; the shutdown
/// finishes within 20 s and nothing listens afterwards.
pub fn shutdown_and_expect_results<P: AsRef<str>, S: AsRef<str>>(
    s: TestServer,
    players: &mut [(P, S, Ws)],
    pending: &mut Ws,
) {
    let addr = s.addr;
    let verifier = s.result_verifier();
    let done = s.shutdown_in_background();
    for (pid, sid, ws) in players.iter_mut() {
        let (pid, sid) = (pid.as_ref(), sid.as_ref());
        let events = read_until_close(ws);
        let [Event::Text(token), Event::Close(Some((1001, reason)))] = events.as_slice() else {
            panic!("{pid}: expected a result token then close 1001, got {events:?}");
        };
        assert_eq!(reason, "server_shutdown", "{pid}");
        assert_eq!(
            check_result_token(&verifier, token, pid, sid),
            json!({ "reason": "shutdown" }),
            "{pid}"
        );
    }
    assert_eq!(expect_close_code(pending, 1001), "server_shutdown");
    done.recv_timeout(Duration::from_secs(20))
        .expect("shutdown finished within 20 s");
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "nothing listens after shutdown"
    );
}

/// The demo `Chat` game's welcome to `pid` in `sid`.
pub fn welcome(pid: &str, sid: &str) -> Value {
    json!({ "type": "welcome", "pid": pid, "sid": sid })
}

/// The demo `Chat` game's broadcast of `message` from `pid`.
pub fn chat(pid: &str, message: &str) -> Value {
    json!({ "pid": pid, "message": message })
}

/// Connects `pid` to `sid` of a `Chat` server with a header token and reads its welcome.
pub fn join_chat(s: &TestServer, pid: &str, sid: &str) -> Ws {
    let mut ws = connect(s.addr, Auth::Header(&s.token(pid, sid)));
    assert_eq!(recv_json(&mut ws), welcome(pid, sid));
    ws
}
