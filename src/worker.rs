//! THIN: a worker thread: one shard of sessions, its archive and timers. Drains its channel in
//! batches, runs the pure session state machines, signs result tokens, and sends what the
//! I/O threads must do in one batch per I/O thread per loop, with one wake each.

use crate::archive::{Archive, Ended};
use crate::game::{Game, Message};
use crate::jwt::{RESULT_TOKEN_TYPE, Signer, Verified};
use crate::session::{COMPLETE, Effect, Ending, Now, SESSION_ENDED, Session};
use crate::shard::{ConnId, ToIo, ToWorker, session_key};
use crate::stats::Counters;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most messages handled before the worker flushes its outboxes.
const BATCH: usize = 4096;

/// The way to one I/O thread: its channel and its doorbell.
#[derive(Debug, Clone)]
pub(crate) struct IoLink {
    pub(crate) tx: Sender<Vec<ToIo>>,
    pub(crate) waker: Arc<crate::io::Doorbell>,
}

/// What every worker shares.
#[derive(Debug)]
pub(crate) struct WorkerConfig {
    pub(crate) signer: Arc<Signer>,
    pub(crate) result_issuer: String,
    pub(crate) result_ttl: Duration,
    pub(crate) archive_ttl: Duration,
    pub(crate) tick_interval: Option<Duration>,
    pub(crate) state: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// A worker run by an I/O thread (colocated workers) instead of a thread of its own. A trait
/// object, because the I/O thread knows the claims type but not the game.
pub(crate) trait Hosted<C>: Send {
    /// Handles `batch` (emptying it), fires due timers and sends the I/O threads their
    /// batches. Call once per loop iteration, with or without messages.
    fn step(&mut self, batch: &mut Vec<ToWorker<C>>);
    /// How long the host may sleep before the next timer, tick or archive expiry is due.
    fn wait_hint(&self) -> Duration;
    /// Ends every live session (result tokens, close 1001) and sends the batches.
    fn end_all(&mut self);
    /// Swaps what the worker queued for its host thread with `into` (empty, kept for its
    /// capacity), so the host applies it directly, with no channel and no allocation.
    fn take_output(&mut self, into: &mut Vec<ToIo>);
}

impl<G: Game> Hosted<G::Claims> for Worker<G> {
    fn step(&mut self, batch: &mut Vec<ToWorker<G::Claims>>) {
        let now = self.now();
        for m in batch.drain(..) {
            // `Shutdown` is never sent to a hosted worker: its host calls `end_all`.
            self.handle(m, now);
        }
        self.fire_due(now);
        self.flush();
    }

    fn wait_hint(&self) -> Duration {
        self.next_wait(self.now())
    }

    fn end_all(&mut self) {
        self.shutdown(self.now());
    }

    fn take_output(&mut self, into: &mut Vec<ToIo>) {
        if let Some(out) = self.host.and_then(|h| self.outbox.get_mut(h)) {
            std::mem::swap(out, into);
        }
    }
}

/// A game timer: (due on the monotonic clock, session serial, timer id, session key).
type TimerEntry = (u64, u64, u64, Arc<str>);

struct Live<G: Game> {
    session: Session<G>,
    tenant: Option<Arc<str>>,
    serial: u64,
}

/// One worker thread's state.
pub(crate) struct Worker<G: Game> {
    io: Vec<IoLink>,
    outbox: Vec<Vec<ToIo>>,
    /// The I/O thread running this worker (colocated workers): its batch is handed over by
    /// `take_output`, not sent over its channel.
    host: Option<usize>,
    config: Arc<WorkerConfig>,
    counters: Arc<Counters>,
    sessions: HashMap<Arc<str>, Live<G>>,
    conns: HashMap<ConnId, (Arc<str>, usize)>,
    archive: Archive,
    timers: BinaryHeap<Reverse<TimerEntry>>,
    effects: Vec<Effect>,
    serial: u64,
    epoch: Instant,
    next_tick_ms: Option<u64>,
}

impl<G: Game> Worker<G> {
    /// A worker writing to the I/O threads `io`; `host` is the I/O thread that runs it, if
    /// one does (colocated workers).
    pub(crate) fn new(
        io: Vec<IoLink>,
        host: Option<usize>,
        config: Arc<WorkerConfig>,
        counters: Arc<Counters>,
    ) -> Self {
        let ttl_ms = u64::try_from(config.archive_ttl.as_millis()).unwrap_or(u64::MAX);
        let next_tick_ms = config.tick_interval.map(|t| t.as_millis() as u64);
        Self {
            outbox: io.iter().map(|_| Vec::new()).collect(),
            io,
            host,
            config,
            counters,
            sessions: HashMap::new(),
            conns: HashMap::new(),
            archive: Archive::new(ttl_ms),
            timers: BinaryHeap::new(),
            effects: Vec::new(),
            serial: 0,
            epoch: Instant::now(),
            next_tick_ms,
        }
    }

    fn now(&self) -> Now {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Now {
            unix_ms,
            mono_ms: self.epoch.elapsed().as_millis() as u64,
        }
    }

    /// Runs on a thread of its own, reading `rx`, until `Shutdown` or until every I/O
    /// thread has dropped its sender.
    pub(crate) fn run(mut self, rx: Receiver<Vec<ToWorker<G::Claims>>>) {
        loop {
            let now = self.now();
            let wait = self.next_wait(now);
            let first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.shutdown(self.now());
                    return;
                }
            };
            let now = self.now();
            let mut stop = false;
            let mut handled = 0;
            let mut next = first;
            while let Some(batch) = next.take() {
                for m in batch {
                    stop |= self.handle(m, now);
                    handled += 1;
                }
                if stop || handled >= BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if stop {
                self.shutdown(now);
                return;
            }
            self.fire_due(now);
            self.flush();
        }
    }

    fn next_wait(&self, now: Now) -> Duration {
        let mut wait_ms: u64 = 1000;
        if let Some(Reverse((at, ..))) = self.timers.peek() {
            wait_ms = wait_ms.min(at.saturating_sub(now.mono_ms));
        }
        if let Some(at) = self.next_tick_ms {
            wait_ms = wait_ms.min(at.saturating_sub(now.mono_ms));
        }
        if let Some(at) = self.archive.next_expiry_ms() {
            wait_ms = wait_ms.min(at.saturating_sub(now.unix_ms));
        }
        Duration::from_millis(wait_ms)
    }

    /// Handles one message; true means shut down.
    fn handle(&mut self, m: ToWorker<G::Claims>, now: Now) -> bool {
        match m {
            ToWorker::Join { conn, token } => self.join(conn, token, now),
            ToWorker::Message { conn, message } => {
                Counters::add(&self.counters.messages_in, 1);
                let Some((key, idx)) = self.conns.get(&conn) else {
                    return false;
                };
                let key = Arc::clone(key);
                let idx = *idx;
                if let Some(live) = self.sessions.get_mut(&key) {
                    live.session
                        .message(idx, conn, &message, now, &mut self.effects);
                }
                self.apply(&key, now);
            }
            ToWorker::Leave { conn } => {
                let Some((key, idx)) = self.conns.remove(&conn) else {
                    return false;
                };
                if let Some(live) = self.sessions.get_mut(&key) {
                    live.session.leave(idx, conn, now, &mut self.effects);
                }
                self.apply(&key, now);
            }
            ToWorker::Event { key, event } => {
                if let Some(live) = self.sessions.get_mut(&key) {
                    live.session.event(event, now, &mut self.effects);
                    self.apply(&key, now);
                }
            }
            ToWorker::Adopt { .. } => {
                // Only sent to colocated workers, whose I/O thread adopts the connection.
                log::error!("a worker thread received a connection to adopt; dropping it");
            }
            ToWorker::Shutdown => return true,
        }
        false
    }

    fn join(&mut self, conn: ConnId, token: Arc<Verified<G::Claims>>, now: Now) {
        let key = session_key(token.tenant(), token.session());
        if let Some(ended) = self.archive.get(&key, now.unix_ms) {
            if ended.took_part(token.player()) {
                let jwt = match ended.token_for(token.player()) {
                    Some(t) => t.to_owned(),
                    None => {
                        let (sid, tenant, result) = (
                            Arc::clone(&ended.sid),
                            ended.tenant.clone(),
                            ended.result.clone(),
                        );
                        self.mint(&sid, tenant.as_deref(), token.player(), &result, now)
                    }
                };
                self.push(
                    conn.io,
                    ToIo::Send {
                        conn,
                        message: Message::text(jwt),
                    },
                );
                self.close(conn, COMPLETE.0, COMPLETE.1.into());
            } else {
                self.close(conn, SESSION_ENDED.0, SESSION_ENDED.1.into());
            }
            return;
        }
        let joined = if let Some(live) = self.sessions.get_mut(&key) {
            live.session.join(token, conn, now, &mut self.effects)
        } else {
            let tenant = token.tenant().map(Arc::from);
            let state = self.config.state.clone();
            let (session, joined) = Session::<G>::start(token, conn, state, now, &mut self.effects);
            self.serial += 1;
            let live = Live {
                session,
                tenant,
                serial: self.serial,
            };
            self.sessions.insert(Arc::clone(&key), live);
            Counters::add(&self.counters.sessions_started, 1);
            joined
        };
        self.conns.insert(conn, (Arc::clone(&key), joined.player));
        self.apply(&key, now);
    }

    /// Carries out the effects of the last event on session `key`.
    fn apply(&mut self, key: &Arc<str>, now: Now) {
        let mut effects = std::mem::take(&mut self.effects);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send(conn, message) => self.push(conn.io, ToIo::Send { conn, message }),
                Effect::SendMany(conns, message) => self.send_many(conns, message),
                Effect::Close(conn, code, reason) => self.close(conn, code, reason),
                Effect::Timer { at_mono_ms, timer } => {
                    if let Some(live) = self.sessions.get(key) {
                        let entry = (at_mono_ms, live.serial, timer, Arc::clone(key));
                        self.timers.push(Reverse(entry));
                    }
                }
                Effect::End(ending) => self.end(key, ending, now),
            }
        }
        self.effects = effects;
    }

    fn end(&mut self, key: &Arc<str>, ending: Ending, now: Now) {
        let Ending {
            result,
            code,
            reason,
            recipients,
            participants,
            tokens,
        } = ending;
        let Some(live) = self.sessions.remove(key) else {
            return;
        };
        if code == crate::session::PANICKED.0 {
            Counters::add(&self.counters.game_panics, 1);
        }
        let sid = Arc::clone(live.session.sid());
        for (pid, conn) in recipients {
            let chosen = tokens
                .iter()
                .find(|(p, _)| **p == *pid)
                .map(|(_, t)| t.clone());
            let jwt = chosen
                .unwrap_or_else(|| self.mint(&sid, live.tenant.as_deref(), &pid, &result, now));
            self.push(
                conn.io,
                ToIo::Send {
                    conn,
                    message: Message::text(jwt),
                },
            );
            self.close(conn, code, reason.into());
        }
        let ended = Ended {
            sid,
            tenant: live.tenant,
            result,
            participants,
            tokens,
            expires_at_ms: 0,
        };
        self.archive.insert(Arc::clone(key), ended, now.unix_ms);
        Counters::add(&self.counters.sessions_ended, 1);
        self.counters.archived.store(
            self.archive.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Signs player `pid`'s result token.
    fn mint(
        &self,
        sid: &str,
        tenant: Option<&str>,
        pid: &str,
        result: &serde_json::Value,
        now: Now,
    ) -> String {
        let mut claims = serde_json::Map::with_capacity(6);
        claims.insert("iss".into(), self.config.result_issuer.clone().into());
        claims.insert("sid".into(), sid.into());
        claims.insert("pid".into(), pid.into());
        if let Some(t) = tenant {
            claims.insert("tenant".into(), t.into());
        }
        claims.insert("result".into(), result.clone());
        Counters::add(&self.counters.result_tokens, 1);
        self.config.signer.sign(
            RESULT_TOKEN_TYPE,
            claims,
            now.unix_ms / 1000,
            self.config.result_ttl.as_secs(),
        )
    }

    fn push(&mut self, io: u16, m: ToIo) {
        if let Some(out) = self.outbox.get_mut(usize::from(io)) {
            out.push(m);
        }
    }

    fn close(&mut self, conn: ConnId, code: u16, reason: Arc<str>) {
        self.conns.remove(&conn);
        self.push(conn.io, ToIo::Close { conn, code, reason });
    }

    fn send_many(&mut self, mut conns: Vec<ConnId>, message: Message) {
        if self.io.len() == 1 || conns.iter().all(|c| c.io == conns[0].io) {
            let io = conns[0].io;
            self.push(io, ToIo::SendMany { conns, message });
            return;
        }
        conns.sort_unstable_by_key(|c| c.io);
        for group in conns.chunk_by(|a, b| a.io == b.io) {
            let io = group[0].io;
            self.push(
                io,
                ToIo::SendMany {
                    conns: group.to_vec(),
                    message: message.clone(),
                },
            );
        }
    }

    fn fire_due(&mut self, now: Now) {
        while let Some(Reverse((at, serial, timer, _))) = self.timers.peek() {
            if *at > now.mono_ms {
                break;
            }
            let (serial, timer) = (*serial, *timer);
            let Some(Reverse((.., key))) = self.timers.pop() else {
                break;
            };
            if let Some(live) = self.sessions.get_mut(&key) {
                if live.serial == serial {
                    live.session.timer(timer, now, &mut self.effects);
                    self.apply(&key, now);
                }
            }
        }
        if let (Some(at), Some(every)) = (self.next_tick_ms, self.config.tick_interval) {
            if at <= now.mono_ms {
                let keys: Vec<Arc<str>> = self.sessions.keys().cloned().collect();
                for key in keys {
                    if let Some(live) = self.sessions.get_mut(&key) {
                        live.session.tick(now, &mut self.effects);
                        self.apply(&key, now);
                    }
                }
                let every = every.as_millis().max(1) as u64;
                self.next_tick_ms = Some(at.saturating_add(every).max(now.mono_ms + 1));
            }
        }
        if self.archive.expire(now.unix_ms) > 0 {
            self.counters.archived.store(
                self.archive.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }

    /// Sends each I/O thread its batch and wakes it once.
    fn flush(&mut self) {
        for (i, out) in self.outbox.iter_mut().enumerate() {
            if out.is_empty() {
                continue;
            }
            let sent: u64 = out
                .iter()
                .map(|m| match m {
                    ToIo::Send { .. } => 1,
                    ToIo::SendMany { conns, .. } => conns.len() as u64,
                    ToIo::Close { .. } => 0,
                })
                .sum();
            Counters::add(&self.counters.messages_out, sent);
            if self.host == Some(i) {
                // The host takes it with `take_output`, on this thread.
                continue;
            }
            let batch = std::mem::take(out);
            if self.io[i].tx.send(batch).is_ok() {
                if let Err(e) = self.io[i].waker.ring() {
                    log::warn!("cannot wake I/O thread {i}: {e}");
                }
            }
        }
    }

    fn shutdown(&mut self, now: Now) {
        let keys: Vec<Arc<str>> = self.sessions.keys().cloned().collect();
        for key in keys {
            if let Some(live) = self.sessions.get_mut(&key) {
                live.session.shutdown(&mut self.effects);
                self.apply(&key, now);
            }
        }
        self.flush();
    }
}
