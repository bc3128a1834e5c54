//! The HTTP side of a connection: read the request, route it, answer it or upgrade it to a
//! WebSocket, verifying a token that came with the request before answering.

use super::conn::State;
use super::{IoThread, ms};
use crate::AuthError;
use crate::http::{self, BadRequest, HttpResponse, Route};
use crate::jwt::Verified;
use crate::shard::{ToWorker, shard_of};
use crate::stats::Counters;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};
use tungstenite::WebSocket;
use tungstenite::protocol::{Role, WebSocketConfig};

/// Seconds since the Unix epoch (the I/O layer reads the clock; the verifier does not).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Most tokens a thread remembers as verified (the cache is emptied when full).
const TOKEN_CACHE_ENTRIES: usize = 4096;

enum Next {
    Wait,
    Close,
    Respond(Vec<u8>),
    Upgrade {
        response: Vec<u8>,
        leftover: Vec<u8>,
        token: Option<String>,
    },
}

impl<C: serde::de::DeserializeOwned + Send + Sync + 'static> IoThread<C> {
    /// Reads the request head; routes it once complete.
    pub(super) fn read_http(&mut self, slot: usize) {
        let max = self.shared.limits.max_request_bytes;
        let next = {
            let Some(conn) = self.conns.get_mut(slot) else {
                return;
            };
            let State::Http { stream, buf } = &mut conn.state else {
                return;
            };
            let mut chunk = [0u8; 2048];
            let mut closed = false;
            loop {
                if buf.len() >= max {
                    break;
                }
                let room = (max - buf.len()).min(chunk.len());
                match stream.read(&mut chunk[..room]) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        if n < room {
                            // A short read drained the socket: the next bytes raise a new
                            // edge, so skip the read that would only say WouldBlock.
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            if closed {
                Next::Close
            } else {
                Self::route_request(&self.shared, buf, max)
            }
        };
        match next {
            Next::Wait => {}
            Next::Close => self.remove(slot, false),
            Next::Respond(bytes) => self.respond(slot, &bytes),
            Next::Upgrade {
                response,
                leftover,
                token,
            } => {
                self.upgrade(slot, &response, leftover, token.as_deref());
            }
        }
    }

    fn route_request(shared: &super::IoShared<C>, buf: &[u8], max: usize) -> Next {
        let parsed = match http::parse_request(buf, max) {
            Ok(Some(p)) => p,
            Ok(None) => return Next::Wait,
            Err(BadRequest::Malformed) => {
                return Next::Respond(HttpResponse::text(400, "bad request\n").to_bytes());
            }
            Err(BadRequest::TooLarge) => {
                return Next::Respond(HttpResponse::text(431, "request too large\n").to_bytes());
            }
        };
        let req = &parsed.request;
        let response = match http::route(req) {
            Route::Upgrade { key, token } => {
                return Next::Upgrade {
                    response: http::switching_protocols(key),
                    leftover: buf[parsed.consumed..].to_vec(),
                    token: token.map(str::to_owned),
                };
            }
            Route::Health => HttpResponse::text(200, "ok\n"),
            Route::Metrics => HttpResponse {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                body: shared.registry.snapshot().to_prometheus().into_bytes(),
            },
            Route::Jwks => HttpResponse {
                status: 200,
                content_type: "application/json",
                body: shared.jwks.clone(),
            },
            Route::Other if req.path == crate::validate::PATH && shared.internal_key.is_some() => {
                let key = shared.internal_key.as_deref().unwrap_or_default();
                crate::validate::answer(req, key, &shared.verifier, unix_now())
            }
            Route::Other => shared
                .http_handler
                .as_ref()
                .and_then(|h| h.handle(req))
                .unwrap_or_else(|| HttpResponse::text(404, "not found\n")),
        };
        Next::Respond(response.to_bytes())
    }

    /// Writes `bytes` and closes once they are out.
    fn respond(&mut self, slot: usize, bytes: &[u8]) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let state = std::mem::replace(&mut conn.state, State::Gone);
        let (State::Http { mut stream, .. } | State::Respond { mut stream }) = state else {
            conn.state = state;
            return;
        };
        stream.queue(bytes);
        conn.state = State::Respond { stream };
        self.mark_dirty(slot);
    }

    fn upgrade(&mut self, slot: usize, response: &[u8], leftover: Vec<u8>, token: Option<&str>) {
        let verified = match token {
            Some(t) => match self.verify_token(t) {
                Ok(v) => Some(v),
                Err(e) => {
                    Counters::add(&self.counters.auth_failures, 1);
                    let bytes = HttpResponse::auth_error(e).to_bytes();
                    self.respond(slot, &bytes);
                    return;
                }
            },
            None => None,
        };
        let limits = &self.shared.limits;
        let config = WebSocketConfig::default()
            .read_buffer_size(limits.read_buffer_bytes)
            .write_buffer_size((limits.max_outbound_bytes / 4).min(16 * 1024))
            .max_write_buffer_size(limits.max_outbound_bytes)
            .max_message_size(Some(limits.max_message_bytes))
            .max_frame_size(Some(limits.max_frame_bytes));
        let now_ms = self.now_ms;
        let auth_deadline = now_ms + ms(limits.auth_timeout);
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let state = std::mem::replace(&mut conn.state, State::Gone);
        let State::Http { mut stream, .. } = state else {
            conn.state = state;
            return;
        };
        stream.queue(response);
        let ws = WebSocket::from_partially_read(stream, leftover, Role::Server, Some(config));
        conn.state = State::Ws {
            ws: Box::new(ws),
            joined: false,
        };
        conn.last_rx_ms = now_ms;
        let generation = conn.generation;
        match verified {
            Some(v) => self.join(slot, v),
            None => self
                .auth_deadlines
                .push_back((auth_deadline, slot, generation)),
        }
        self.mark_dirty(slot);
        // Frames may have arrived with the request.
        self.read_ws(slot);
    }

    /// Verifies a login token, answering repeats of a recently verified token from a small
    /// per-thread cache (until their `exp`), so reconnect storms skip the signature check.
    pub(super) fn verify_token(&mut self, token: &str) -> Result<Arc<Verified<C>>, AuthError> {
        let now = unix_now();
        let leeway = self.shared.verifier.spec().leeway_value().as_secs();
        if let Some(v) = self.token_cache.get(token) {
            if v.expires_at().saturating_add(leeway) >= now {
                return Ok(Arc::clone(v));
            }
        }
        let v = Arc::new(self.shared.verifier.verify(token, now)?);
        if self.token_cache.len() >= TOKEN_CACHE_ENTRIES {
            self.token_cache.clear();
        }
        self.token_cache.insert(token.into(), Arc::clone(&v));
        Ok(v)
    }

    /// The token verified: the connection joins its session on the owning worker (with
    /// colocated workers, on the thread hosting it, moving there first if need be).
    pub(super) fn join(&mut self, slot: usize, verified: Arc<Verified<C>>) {
        Counters::add(&self.counters.authenticated, 1);
        let w = shard_of(verified.tenant(), verified.session(), self.to_workers.len());
        if w != usize::from(self.index) && self.shared.colocated() {
            if self.shared.stop.load(Ordering::Acquire) {
                // Shutting down: its session is ending (or over) wherever it lives.
                self.close_ws(slot, crate::session::SHUTDOWN.0, crate::session::SHUTDOWN.1);
                return;
            }
            // The session lives on another thread: the connection moves there.
            if let Some(State::Ws { joined, .. }) = self.conns.get_mut(slot).map(|c| &mut c.state) {
                *joined = true;
            }
            if let Some(conn) = self.emigrate(slot) {
                Counters::add(&self.counters.moved, 1);
                self.to_workers[w].push(ToWorker::Adopt {
                    conn,
                    token: verified,
                });
            }
            return;
        }
        let conn = self.conn_id(slot);
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        if let State::Ws { joined, .. } = &mut c.state {
            *joined = true;
        }
        c.worker = Some(w as u16);
        self.to_workers[w].push(ToWorker::Join {
            conn,
            token: verified,
        });
    }
}
