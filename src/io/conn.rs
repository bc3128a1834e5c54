//! One connection's state on its I/O thread.

use crate::io::stream::Stream;
use tungstenite::WebSocket;

/// Where a connection is in its life.
#[derive(Debug)]
pub(crate) enum State {
    /// Reading the HTTP request head (and body, for handler requests).
    Http { stream: Stream, buf: Vec<u8> },
    /// Writing an HTTP response, then closing.
    Respond { stream: Stream },
    /// An open WebSocket; `joined` once its token verified and the worker was told.
    Ws {
        ws: Box<WebSocket<Stream>>,
        joined: bool,
    },
    /// A close frame is queued; waiting for it to flush and for the peer's close. After a
    /// read error (`frames: false`) tungstenite's reader is not used again: incoming bytes are
    /// discarded until the peer hangs up or the grace period ends.
    Closing {
        ws: Box<WebSocket<Stream>>,
        frames: bool,
    },
    /// Only for the instant a state is moved out to build the next one.
    Gone,
}

/// A connection in the I/O thread's slab.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) generation: u32,
    pub(crate) state: State,
    /// The worker that owns this connection's session, once joined.
    pub(crate) worker: Option<u16>,
    /// When data last arrived (ms on the thread's monotonic clock).
    pub(crate) last_rx_ms: u64,
    /// When a keepalive ping went out unanswered.
    pub(crate) ping_sent_ms: Option<u64>,
    /// Queued for a flush this iteration.
    pub(crate) dirty: bool,
}

impl Conn {
    /// The TCP stream, whatever the state.
    pub(crate) fn tcp(&mut self) -> Option<&mut mio::net::TcpStream> {
        match &mut self.state {
            State::Http { stream, .. } | State::Respond { stream } => Some(&mut stream.tcp),
            State::Ws { ws, .. } | State::Closing { ws, .. } => Some(&mut ws.get_mut().tcp),
            State::Gone => None,
        }
    }
}
