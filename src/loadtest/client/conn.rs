//! One client connection's I/O: non-blocking connect, hand-rolled upgrade, then a tungstenite
//! client over the same socket. Knows nothing of scenarios: it reports what happened as
//! [`Incoming`] items for the client loop to act on.

use crate::loadtest::TokenVia;
use crate::loadtest::addr::io_kind;
use crate::loadtest::handshake::{Upgrade, UpgradeRequest, parse_response};
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::time::Instant;
use tungstenite::protocol::{Role as WsRole, WebSocket, WebSocketConfig};
use tungstenite::{Error as WsError, Message};

/// Most messages read from one socket per readiness event before others get a turn.
const READ_BUDGET: usize = 256;

/// Most bytes read while waiting for the upgrade response.
const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A valid player (connect, echo, chat, idle, bad-tokens' valid share).
    Player,
    /// A connection carrying a bad token.
    Bad(crate::loadtest::BadKind),
    /// A churn session member: session slab key, player index, late joiner or not.
    Churn {
        session: usize,
        index: usize,
        late: bool,
    },
}

impl Role {
    /// The prefix of this connection's error kinds: bad-token connections are counted apart.
    pub(crate) fn error_prefix(&self) -> &'static str {
        if matches!(self, Self::Bad(_)) {
            "bad:"
        } else {
            ""
        }
    }
}

enum State {
    Handshaking {
        stream: TcpStream,
        connected: bool,
        request: UpgradeRequest,
        written: usize,
        response: Vec<u8>,
    },
    Open(Box<WebSocket<TcpStream>>),
    Gone,
}

/// What a drive of the connection produced.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// `101 Switching Protocols` arrived.
    Upgraded,
    /// The upgrade was refused with `status` (and the JSON body's `error` code).
    Refused { status: u16, code: Option<String> },
    /// A data message.
    Data(Message),
    /// A close frame from the server.
    CloseFrame { code: u16, reason: String },
    /// The connection is over: `None` after a clean close, else the failure kind.
    Ended(Option<String>),
}

/// One client connection.
pub(crate) struct Conn {
    /// Unique per thread; guards against a reused slab slot.
    pub(crate) serial: u64,
    pub(crate) role: Role,
    pub(crate) pid: String,
    /// A token still to be sent as the first message (token via message).
    pub(crate) first_message: Option<String>,
    pub(crate) started: Instant,
    /// Counted as connected (ready for traffic).
    pub(crate) ready: bool,
    /// The outcome is decided; the rest is only teardown.
    pub(crate) finished: bool,
    /// Data written but not flushed yet.
    pub(crate) dirty: bool,
    pub(crate) next_seq: u64,
    pub(crate) expect_seq: u64,
    pub(crate) outstanding: u32,
    /// Chat broadcasts seen (churn).
    pub(crate) broadcasts: u32,
    /// A verified result token arrived (churn).
    pub(crate) result_ok: bool,
    state: State,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("serial", &self.serial)
            .field("role", &self.role)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(crate) fn new(
        serial: u64,
        role: Role,
        pid: String,
        stream: TcpStream,
        request: UpgradeRequest,
        token_via: TokenVia,
        token: Option<String>,
    ) -> Self {
        Self {
            serial,
            role,
            pid,
            first_message: if token_via == TokenVia::Message {
                token
            } else {
                None
            },
            started: Instant::now(),
            ready: false,
            finished: false,
            dirty: false,
            next_seq: 0,
            expect_seq: 0,
            outstanding: 0,
            broadcasts: 0,
            result_ok: false,
            state: State::Handshaking {
                stream,
                connected: false,
                request,
                written: 0,
                response: Vec::new(),
            },
        }
    }

    /// The socket, for registration.
    pub(crate) fn stream_mut(&mut self) -> Option<&mut TcpStream> {
        match &mut self.state {
            State::Handshaking { stream, .. } => Some(stream),
            State::Open(ws) => Some(ws.get_mut()),
            State::Gone => None,
        }
    }

    /// True once the WebSocket is open.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// Progresses on a readiness event. Returns true when the read budget ran out and the
    /// connection must be driven again without waiting for a new event.
    pub(crate) fn drive(&mut self, config: &WebSocketConfig, out: &mut Vec<Incoming>) -> bool {
        if let State::Handshaking { .. } = self.state {
            self.drive_handshake(config, out);
        }
        match &mut self.state {
            State::Open(_) => {
                if self.dirty {
                    self.flush_now(out);
                }
                self.read_open(out)
            }
            _ => false,
        }
    }

    fn fail(&mut self, kind: String, out: &mut Vec<Incoming>) {
        self.state = State::Gone;
        out.push(Incoming::Ended(Some(kind)));
    }

    fn drive_handshake(&mut self, config: &WebSocketConfig, out: &mut Vec<Incoming>) {
        let State::Handshaking {
            stream,
            connected,
            request,
            written,
            response,
        } = &mut self.state
        else {
            return;
        };
        if !*connected {
            match stream.take_error() {
                Ok(Some(e)) | Err(e) => return self.fail(format!("connect:{}", io_kind(&e)), out),
                Ok(None) => {}
            }
            match stream.peer_addr() {
                Ok(_) => *connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.fail(format!("connect:{}", io_kind(&e)), out),
            }
        }
        while *written < request.bytes.len() {
            match stream.write(&request.bytes[*written..]) {
                Ok(0) => return self.fail("handshake:write_zero".into(), out),
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(format!("handshake:{}", io_kind(&e)), out),
            }
        }
        let mut buf = [0u8; 4096];
        let mut eof = false;
        // Bounded by the response cap: a server cannot keep us reading.
        while response.len() <= MAX_HANDSHAKE_BYTES {
            match stream.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => response.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(format!("handshake:{}", io_kind(&e)), out),
            }
        }
        let outcome = parse_response(response, &request.accept, eof);
        match outcome {
            Upgrade::Incomplete => {}
            Upgrade::Switched { head_len } => {
                let leftover = response[head_len..].to_vec();
                let State::Handshaking { stream, .. } =
                    std::mem::replace(&mut self.state, State::Gone)
                else {
                    return;
                };
                let ws =
                    WebSocket::from_partially_read(stream, leftover, WsRole::Client, Some(*config));
                self.state = State::Open(Box::new(ws));
                out.push(Incoming::Upgraded);
                if let Some(token) = self.first_message.take() {
                    self.send_text(token, out);
                }
            }
            Upgrade::Refused { status, code } => {
                self.state = State::Gone;
                out.push(Incoming::Refused { status, code });
            }
            Upgrade::Invalid(why) => self.fail(format!("handshake:{why}"), out),
        }
    }

    fn read_open(&mut self, out: &mut Vec<Incoming>) -> bool {
        let State::Open(ws) = &mut self.state else {
            return false;
        };
        for _ in 0..READ_BUDGET {
            match ws.read() {
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.as_str().to_owned())
                    });
                    out.push(Incoming::CloseFrame { code, reason });
                    // tungstenite queued the reply; it is written by the next read or flush.
                    self.dirty = true;
                }
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => out.push(Incoming::Data(m)),
                Ok(_) => {
                    // Ping (a pong is queued automatically), pong, raw frame.
                    self.dirty = true;
                }
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.dirty {
                        self.flush_now(out);
                    }
                    return false;
                }
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    self.state = State::Gone;
                    out.push(Incoming::Ended(None));
                    return false;
                }
                Err(e) => {
                    let kind = ws_error_kind(&e);
                    self.fail(kind, out);
                    return false;
                }
            }
        }
        true
    }

    /// Queues a text message (flushed by [`Conn::flush_now`]).
    pub(crate) fn send_text(&mut self, text: String, out: &mut Vec<Incoming>) {
        let State::Open(ws) = &mut self.state else {
            return;
        };
        match ws.write(Message::text(text)) {
            Ok(()) => self.dirty = true,
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => self.dirty = true,
            Err(e) => {
                let kind = ws_error_kind(&e);
                self.fail(kind, out);
            }
        }
    }

    /// Starts a clean close (code 1000).
    pub(crate) fn close(&mut self, out: &mut Vec<Incoming>) {
        if let State::Open(ws) = &mut self.state {
            let frame = tungstenite::protocol::CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Normal,
                reason: "done".into(),
            };
            match ws.close(Some(frame)) {
                Ok(()) => self.dirty = true,
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => self.dirty = true,
                Err(_) => {
                    self.state = State::Gone;
                    out.push(Incoming::Ended(None));
                }
            }
        }
    }

    /// Writes what is buffered. On `WouldBlock` the socket's next writable event retries.
    pub(crate) fn flush_now(&mut self, out: &mut Vec<Incoming>) {
        let State::Open(ws) = &mut self.state else {
            return;
        };
        match ws.flush() {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => self.dirty = false,
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => self.dirty = true,
            Err(e) => {
                let kind = ws_error_kind(&e);
                self.fail(kind, out);
            }
        }
    }
}

/// A short key for a tungstenite error.
fn ws_error_kind(e: &WsError) -> String {
    match e {
        WsError::Io(io) => format!("io:{}", io_kind(io)),
        WsError::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            "reset_without_close".into()
        }
        WsError::Protocol(p) => format!("protocol:{p}"),
        WsError::Capacity(_) => "capacity".into(),
        WsError::WriteBufferFull(_) => "client_write_buffer_full".into(),
        WsError::Utf8(_) => "utf8".into(),
        other => format!("ws:{other}"),
    }
}
