//! The WebSocket side of a connection: read frames (first-message token, data to the worker),
//! queue outbound messages under the byte cap, close with a code, flush once per iteration.

use super::conn::State;
use super::{CLOSE_GRACE_MS, IoThread};
use crate::game::Message;
use crate::shard::{ConnId, ToWorker};
use crate::stats::Counters;
use std::io::{self, Read};
use tungstenite::Error as WsError;
use tungstenite::error::CapacityError;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

/// Close code and reason for a client that does not read fast enough.
pub(crate) const SLOW_CONSUMER: (u16, &str) = (1008, "slow_consumer");

/// What a read error means for the connection.
enum Outcome {
    /// Nothing more to read now.
    Idle,
    /// Close with this code and reason (the worker is told the player left).
    Close(u16, &'static str),
    /// The socket is finished: drop it (the worker is told the player left).
    Drop,
}

fn classify(e: &WsError) -> Outcome {
    match e {
        WsError::Io(e) if e.kind() == io::ErrorKind::WouldBlock => Outcome::Idle,
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            Outcome::Close(1009, "message_too_big")
        }
        WsError::Capacity(_) => Outcome::Close(1009, "frame_too_big"),
        WsError::Protocol(_) => Outcome::Close(1002, "protocol_error"),
        WsError::Utf8(_) => Outcome::Close(1007, "invalid_utf8"),
        WsError::WriteBufferFull(_) => Outcome::Close(SLOW_CONSUMER.0, SLOW_CONSUMER.1),
        _ => Outcome::Drop,
    }
}

impl<C: serde::de::DeserializeOwned + Send + Sync + 'static> IoThread<C> {
    /// Reads every available frame.
    pub(super) fn read_ws(&mut self, slot: usize) {
        let max_in_row = 1024;
        for _ in 0..max_in_row {
            let Some(conn) = self.conns.get_mut(slot) else {
                return;
            };
            let (ws, joined) = match &mut conn.state {
                State::Ws { ws, joined } => (ws, *joined),
                State::Closing { ws, frames: true } => match ws.read() {
                    Ok(_) => continue,
                    Err(e) => match classify(&e) {
                        Outcome::Idle => return,
                        _ => {
                            self.remove(slot, false);
                            return;
                        }
                    },
                },
                State::Closing { ws, frames: false } => {
                    let mut sink = [0u8; 1024];
                    match ws.get_mut().tcp.read(&mut sink) {
                        Ok(0) => self.remove(slot, false),
                        Ok(_) => continue,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => self.remove(slot, false),
                    }
                    return;
                }
                _ => return,
            };
            let msg = match ws.read() {
                Ok(m) => m,
                Err(e) => {
                    match classify(&e) {
                        Outcome::Idle => {}
                        Outcome::Close(code, reason) => {
                            if reason == SLOW_CONSUMER.1 {
                                Counters::add(&self.counters.slow_consumers, 1);
                            }
                            self.leave(slot);
                            self.close_ws(slot, code, reason);
                            // tungstenite's reader is in an error state: never read frames again.
                            if let Some(State::Closing { frames, .. }) =
                                self.conns.get_mut(slot).map(|c| &mut c.state)
                            {
                                *frames = false;
                            }
                        }
                        Outcome::Drop => self.remove(slot, true),
                    }
                    return;
                }
            };
            conn.last_rx_ms = self.now_ms;
            conn.ping_sent_ms = None;
            match msg {
                tungstenite::Message::Text(_) | tungstenite::Message::Binary(_) if joined => {
                    let Some(w) = conn.worker else { continue };
                    let id = ConnId {
                        io: self.index,
                        slot: slot as u32,
                        generation: conn.generation,
                    };
                    self.to_workers[usize::from(w)].push(ToWorker::Message {
                        conn: id,
                        message: Message(msg),
                    });
                }
                tungstenite::Message::Text(token) => self.first_message_token(slot, &token),
                tungstenite::Message::Binary(_) => {
                    Counters::add(&self.counters.auth_failures, 1);
                    self.close_ws(slot, 1008, crate::AuthError::TokenMissing.code());
                }
                tungstenite::Message::Close(_) => {
                    // tungstenite queued the reply; flush it, then the next read ends the socket.
                    self.leave(slot);
                    if let Some(conn) = self.conns.get_mut(slot) {
                        let state = std::mem::replace(&mut conn.state, State::Gone);
                        if let State::Ws { ws, .. } | State::Closing { ws, .. } = state {
                            conn.state = State::Closing { ws, frames: true };
                        }
                    }
                    self.mark_dirty(slot);
                }
                tungstenite::Message::Ping(_) => self.mark_dirty(slot),
                tungstenite::Message::Pong(_) | tungstenite::Message::Frame(_) => {}
            }
        }
        // More frames than one turn allows: come back after the others had theirs.
        self.pending_reads.push(slot);
    }

    fn first_message_token(&mut self, slot: usize, token: &str) {
        let token = token.trim();
        if token.len() > self.shared.verifier.spec().max_token_bytes_value() {
            Counters::add(&self.counters.auth_failures, 1);
            self.close_ws(slot, 1008, crate::AuthError::TokenTooLarge.code());
            return;
        }
        match self.verify_token(token) {
            Ok(v) => self.join(slot, v),
            Err(e) => {
                Counters::add(&self.counters.auth_failures, 1);
                self.close_ws(slot, 1008, e.code());
            }
        }
    }

    /// Queues `message` on `conn` (if it is still that connection and open).
    pub(super) fn send(&mut self, conn: ConnId, message: tungstenite::Message) {
        if !self.is_current(conn) {
            return;
        }
        let slot = conn.slot as usize;
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        let State::Ws { ws, .. } = &mut c.state else {
            return;
        };
        match ws.write(message) {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(WsError::WriteBufferFull(_)) => {
                Counters::add(&self.counters.slow_consumers, 1);
                self.leave(slot);
                self.close_ws(slot, SLOW_CONSUMER.0, SLOW_CONSUMER.1);
                return;
            }
            Err(e) => {
                log::debug!("write failed: {e}");
                self.remove(slot, true);
                return;
            }
        }
        self.mark_dirty(slot);
    }

    /// Sends a close frame (after what is queued) and waits a grace period for the peer.
    /// The worker is not told: callers that need it call `leave` first.
    pub(super) fn close_ws(&mut self, slot: usize, code: u16, reason: &str) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let state = std::mem::replace(&mut conn.state, State::Gone);
        let State::Ws { mut ws, .. } = state else {
            conn.state = state;
            return;
        };
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let generation = conn.generation;
        match ws.close(Some(frame)) {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(WsError::WriteBufferFull(_)) => {
                // No room even for the close frame: the peer is not reading. Drop it.
                conn.state = State::Closing { ws, frames: true };
                self.remove(slot, false);
                return;
            }
            Err(_) => {
                conn.state = State::Closing { ws, frames: true };
                self.remove(slot, false);
                return;
            }
        }
        conn.state = State::Closing { ws, frames: true };
        self.close_deadlines
            .push_back((self.now_ms + CLOSE_GRACE_MS, slot, generation));
        self.mark_dirty(slot);
    }

    /// Flushes every connection written this iteration, once.
    pub(super) fn flush_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for slot in dirty {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            conn.dirty = false;
            let result = match &mut conn.state {
                State::Respond { stream } => match stream.drain() {
                    Ok(()) if !stream.has_pending() => Err(()),
                    Ok(()) => Ok(()),
                    Err(_) => Err(()),
                },
                State::Ws { ws, .. } => match ws.flush() {
                    Ok(()) => Ok(()),
                    Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                    Err(_) => Err(()),
                },
                State::Closing { ws, .. } => match ws.flush() {
                    Ok(()) => Ok(()),
                    Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                    Err(_) => Err(()),
                },
                State::Http { .. } | State::Gone => Ok(()),
            };
            if result.is_err() {
                // A finished response, a completed close handshake, or a dead socket.
                let joined = self
                    .conns
                    .get(slot)
                    .is_some_and(|c| matches!(c.state, State::Ws { .. }));
                self.remove(slot, joined);
            }
        }
    }
}
