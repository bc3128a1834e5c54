//! THIN: the I/O threads. One mio `Poll` per thread, its own `SO_REUSEPORT` listeners, its
//! connections in a `Slab` indexed by `mio::Token`, one `Waker` for the workers.
//!
//! Per loop iteration: poll; accept and read every ready socket (HTTP → route → upgrade →
//! verify → join; WebSocket frames → worker); with colocated workers, adopt the connections
//! other threads moved here and run the hosted worker; apply the workers' batches (send,
//! close); flush each written socket once; hand each worker its batch; expire deadlines.
//!
//! Colocated workers: I/O thread *i* hosts worker *i*. A connection whose session belongs to
//! another thread's worker moves there right after its token verifies (deregistered here,
//! registered there), so from its join on, every frame is read, handled by the game and
//! answered on one thread.

mod conn;
mod listener;
mod stream;
mod upgrade;
mod websocket;

pub(crate) use listener::bind_all;

use crate::config::Limits;
use crate::http::HttpHandler;
use crate::jwt::Verifier;
use crate::shard::{ConnId, ToIo, ToWorker};
use crate::stats::{Counters, Registry};
use crate::worker::Hosted;
use conn::{Conn, State};
use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stream::Stream;

const WAKER: Token = Token(usize::MAX);
const LISTENER_BASE: usize = usize::MAX - 1024;

/// Close code and reason when the keepalive ping goes unanswered.
pub(crate) const IDLE_TIMEOUT: (u16, &str) = (4003, "idle_timeout");
/// The most work (signature checks, game calls) done between two flushes within one
/// iteration: a poll that returns hundreds of handshakes must not hold every answer back
/// until the last one is verified.
const FLUSH_EVERY: Duration = Duration::from_micros(200);
/// How long a closing connection may wait for the peer's close frame.
const CLOSE_GRACE_MS: u64 = 3000;

/// What every I/O thread shares (read-only after start).
pub(crate) struct IoShared<C> {
    pub(crate) verifier: Arc<Verifier<C>>,
    pub(crate) limits: Limits,
    pub(crate) workers: Vec<Sender<Vec<ToWorker<C>>>>,
    pub(crate) http_handler: Option<Arc<dyn HttpHandler>>,
    pub(crate) registry: Registry,
    pub(crate) jwks: Vec<u8>,
    pub(crate) internal_key: Option<String>,
    pub(crate) open: AtomicUsize,
    pub(crate) stop: AtomicBool,
    /// Colocated workers: the doorbell of the I/O thread hosting each worker, rung after
    /// sending to that worker (set once, before the threads run). Empty otherwise.
    pub(crate) hosts: std::sync::OnceLock<Vec<Arc<Doorbell>>>,
}

impl<C> IoShared<C> {
    /// Wakes the I/O thread hosting worker `w`, if workers are colocated.
    pub(crate) fn ring_host(&self, w: usize) {
        if let Some(bell) = self.hosts.get().and_then(|h| h.get(w)) {
            if let Err(e) = bell.ring() {
                log::warn!("cannot wake the I/O thread of worker {w}: {e}");
            }
        }
    }

    /// True when I/O thread `w` hosts worker `w`.
    pub(crate) fn colocated(&self) -> bool {
        self.hosts.get().is_some_and(|h| !h.is_empty())
    }
}

/// A connection on its way to the I/O thread that hosts its session's worker.
#[derive(Debug)]
pub(crate) struct Migrant(Box<Conn>);

/// The worker an I/O thread hosts (colocated workers) and its inbox.
struct Hosting<C> {
    worker: Box<dyn Hosted<C>>,
    inbox: Receiver<Vec<ToWorker<C>>>,
    /// Its sessions were ended at shutdown: connections adopted later are closed with 1001.
    ended: bool,
}

/// How workers wake an I/O thread: only when it is parked in `poll` (or about to be), so a
/// busy thread is not interrupted once per batch.
#[derive(Debug)]
pub(crate) struct Doorbell {
    waker: Waker,
    parked: AtomicBool,
}

impl Doorbell {
    /// Wakes the thread if it may be parked. Call after sending on its channel: the thread
    /// announces `parked` before it checks the channel one last time, so either it sees the
    /// message or this sees the flag (both sides use sequentially consistent ordering).
    pub(crate) fn ring(&self) -> io::Result<()> {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            self.waker.wake()?;
        }
        Ok(())
    }

    /// Wakes the thread unconditionally (shutdown).
    pub(crate) fn wake(&self) -> io::Result<()> {
        self.waker.wake()
    }
}

/// One I/O thread.
pub(crate) struct IoThread<C> {
    doorbell: Arc<Doorbell>,
    index: u16,
    poll: Poll,
    listeners: Vec<TcpListener>,
    conns: Slab<Conn>,
    next_generation: u32,
    rx: Receiver<Vec<ToIo>>,
    hosting: Option<Hosting<C>>,
    /// The hosted worker's output, swapped in by `take_output` (kept for its capacity).
    hosted_out: Vec<ToIo>,
    shared: Arc<IoShared<C>>,
    counters: Arc<Counters>,
    to_workers: Vec<Vec<ToWorker<C>>>,
    dirty: Vec<usize>,
    token_cache: std::collections::HashMap<Box<str>, Arc<crate::jwt::Verified<C>>>,
    pending_reads: Vec<usize>,
    handshake_deadlines: VecDeque<(u64, usize, u32)>,
    auth_deadlines: VecDeque<(u64, usize, u32)>,
    close_deadlines: VecDeque<(u64, usize, u32)>,
    epoch: Instant,
    now_ms: u64,
    /// When this iteration last flushed (see `FLUSH_EVERY`).
    flushed_at: Instant,
    next_keepalive_ms: u64,
}

/// Pops the front of a deadline queue if it is due at `now`. Each queue holds one kind of
/// deadline, all of the same length, so it is sorted by insertion.
fn pop_due(q: &mut VecDeque<(u64, usize, u32)>, now: u64) -> Option<(usize, u32)> {
    let &(at, slot, generation) = q.front()?;
    if at > now {
        return None;
    }
    q.pop_front();
    Some((slot, generation))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<C: serde::de::DeserializeOwned + Send + Sync + 'static> IoThread<C> {
    /// A new I/O thread (not yet running) with its poll and doorbell.
    pub(crate) fn new(
        index: u16,
        listeners: Vec<TcpListener>,
        rx: Receiver<Vec<ToIo>>,
        shared: Arc<IoShared<C>>,
        counters: Arc<Counters>,
    ) -> io::Result<(Self, Arc<Doorbell>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Doorbell {
            waker: Waker::new(poll.registry(), WAKER)?,
            parked: AtomicBool::new(false),
        });
        let mut listeners = listeners;
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l, Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        let n_workers = shared.workers.len();
        let keepalive = ms(shared.limits.ping_interval);
        Ok((
            Self {
                doorbell: Arc::clone(&waker),
                index,
                poll,
                listeners,
                conns: Slab::new(),
                next_generation: 0,
                rx,
                hosting: None,
                hosted_out: Vec::new(),
                shared,
                counters,
                to_workers: (0..n_workers).map(|_| Vec::new()).collect(),
                dirty: Vec::new(),
                token_cache: std::collections::HashMap::new(),
                pending_reads: Vec::new(),
                handshake_deadlines: VecDeque::new(),
                auth_deadlines: VecDeque::new(),
                close_deadlines: VecDeque::new(),
                epoch: Instant::now(),
                now_ms: 0,
                flushed_at: Instant::now(),
                next_keepalive_ms: keepalive,
            },
            waker,
        ))
    }

    /// Hosts a worker: this thread runs it and drains its `inbox` (colocated workers).
    pub(crate) fn host(&mut self, worker: Box<dyn Hosted<C>>, inbox: Receiver<Vec<ToWorker<C>>>) {
        self.hosting = Some(Hosting {
            worker,
            inbox,
            ended: false,
        });
    }

    /// Runs the loop until the server stops and every connection is closed (or a grace
    /// period passed).
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut stopping_since: Option<u64> = None;
        loop {
            self.doorbell.parked.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            let me = usize::from(self.index);
            let hosted_idle = self
                .hosting
                .as_ref()
                .is_none_or(|h| h.inbox.is_empty() && self.to_workers[me].is_empty());
            let timeout = if self.rx.is_empty() && hosted_idle {
                self.poll_timeout()
            } else {
                Duration::ZERO
            };
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.doorbell.parked.store(false, Ordering::SeqCst);
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("I/O thread {}: poll failed: {e}", self.index);
                    return;
                }
            }
            self.now_ms = ms(self.epoch.elapsed());
            self.flushed_at = Instant::now();
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    Token(slot) => {
                        let (r, w) = (event.is_readable(), event.is_writable());
                        let handled =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                self.ready(slot, r, w);
                            }));
                        if handled.is_err() {
                            // A bug must cost one connection, not the thread's thousands.
                            log::error!(
                                "I/O thread {}: panic on a connection; dropping it",
                                self.index
                            );
                            self.remove(slot, true);
                        }
                    }
                }
                self.maybe_flush();
            }
            for slot in std::mem::take(&mut self.pending_reads) {
                self.read_ws(slot);
            }
            self.drain_inbox();
            self.run_hosted();
            self.drain_workers();
            self.flush_dirty();
            self.send_to_workers();
            self.expire_deadlines();
            if self.shared.stop.load(Ordering::Acquire) {
                let since = *stopping_since.get_or_insert_with(|| {
                    self.end_hosted();
                    self.begin_shutdown();
                    self.now_ms
                });
                self.flush_dirty();
                // A connection still on its way here is adopted (and closed with 1001) first.
                let inbox_empty = self.hosting.as_ref().is_none_or(|h| h.inbox.is_empty());
                let drained = self.conns.is_empty() && inbox_empty;
                if drained || self.now_ms.saturating_sub(since) > 2 * CLOSE_GRACE_MS {
                    let slots: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                    for slot in slots {
                        self.remove(slot, false);
                    }
                    return;
                }
            }
        }
    }

    /// Mid-iteration, once `FLUSH_EVERY` has passed since the last flush: lets the hosted
    /// worker answer what was read so far, and writes it.
    fn maybe_flush(&mut self) {
        if self.flushed_at.elapsed() >= FLUSH_EVERY {
            self.flush_now();
            self.flushed_at = Instant::now();
        }
    }

    fn flush_now(&mut self) {
        self.drain_inbox();
        self.run_hosted();
        self.drain_workers();
        self.flush_dirty();
        self.send_to_workers();
    }

    fn poll_timeout(&self) -> Duration {
        if !self.pending_reads.is_empty() {
            return Duration::ZERO;
        }
        let now = ms(self.epoch.elapsed());
        let mut next = self.next_keepalive_ms;
        if let Some(h) = &self.hosting {
            next = next.min(now.saturating_add(ms(h.worker.wait_hint())));
        }
        for q in [
            &self.handshake_deadlines,
            &self.auth_deadlines,
            &self.close_deadlines,
        ] {
            if let Some(&(at, ..)) = q.front() {
                next = next.min(at);
            }
        }
        Duration::from_millis(next.saturating_sub(now).clamp(1, 500))
    }

    fn conn_id(&self, slot: usize) -> ConnId {
        ConnId {
            io: self.index,
            slot: slot as u32,
            generation: self.conns[slot].generation,
        }
    }

    fn accept(&mut self, which: usize) {
        loop {
            let Some(listener) = self.listeners.get(which) else {
                return;
            };
            let (tcp, _peer) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: stop accepting this round, retry on the next event.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            if self.shared.stop.load(Ordering::Relaxed) {
                continue;
            }
            let open = self.shared.open.fetch_add(1, Ordering::Relaxed);
            if open >= self.shared.limits.max_connections {
                self.shared.open.fetch_sub(1, Ordering::Relaxed);
                log::debug!("max_connections reached; refusing a connection");
                continue;
            }
            Counters::add(&self.counters.accepted, 1);
            let _ = tcp.set_nodelay(true);
            let conn = Conn {
                generation: 0,
                state: State::Http {
                    stream: Stream::new(tcp),
                    buf: Vec::new(),
                },
                worker: None,
                last_rx_ms: self.now_ms,
                ping_sent_ms: None,
                dirty: false,
            };
            let Some(slot) = self.insert(conn) else {
                continue;
            };
            let generation = self.conns[slot].generation;
            let deadline = self.now_ms + ms(self.shared.limits.handshake_timeout);
            self.handshake_deadlines
                .push_back((deadline, slot, generation));
        }
    }

    /// Gives `conn` a fresh generation, registers it with this thread's poll and stores it.
    /// `None` (the socket is dropped and counted closed) if it cannot be registered.
    fn insert(&mut self, mut conn: Conn) -> Option<usize> {
        self.next_generation = self.next_generation.wrapping_add(1);
        conn.generation = self.next_generation;
        let entry = self.conns.vacant_entry();
        let slot = entry.key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        let reg = match conn.tcp() {
            Some(tcp) => self.poll.registry().register(tcp, Token(slot), interest),
            None => Err(io::ErrorKind::NotConnected.into()),
        };
        if let Err(e) = reg {
            log::warn!("cannot register a connection: {e}");
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
            Counters::add(&self.counters.closed, 1);
            return None;
        }
        entry.insert(conn);
        Some(slot)
    }

    /// A socket is ready.
    fn ready(&mut self, slot: usize, readable: bool, writable: bool) {
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        match conn.state {
            State::Http { .. } => {
                if readable {
                    self.read_http(slot);
                }
            }
            State::Respond { .. } => self.mark_dirty(slot),
            State::Gone => {}
            State::Ws { .. } | State::Closing { .. } => {
                if readable {
                    self.read_ws(slot);
                }
                if writable {
                    self.mark_dirty(slot);
                }
            }
        }
    }

    fn mark_dirty(&mut self, slot: usize) {
        if let Some(conn) = self.conns.get_mut(slot) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    /// Applies every batch the workers sent.
    fn drain_workers(&mut self) {
        while let Ok(batch) = self.rx.try_recv() {
            for m in batch {
                self.apply(m);
            }
        }
    }

    /// Carries out one thing a worker asked for.
    fn apply(&mut self, m: ToIo) {
        match m {
            ToIo::Send { conn, message } => self.send(conn, message.0),
            ToIo::SendMany { conns, message } => {
                for conn in conns {
                    self.send(conn, message.0.clone());
                }
            }
            ToIo::Close { conn, code, reason } => {
                if self.is_current(conn) {
                    let slot = conn.slot as usize;
                    self.conns[slot].worker = None;
                    self.close_ws(slot, code, &reason);
                }
            }
        }
    }

    fn is_current(&self, conn: ConnId) -> bool {
        self.conns
            .get(conn.slot as usize)
            .is_some_and(|c| c.generation == conn.generation)
    }

    /// Hands each worker the batch gathered this iteration. What the hosted worker has not
    /// handled yet (a leave found while flushing) stays queued, ahead of the next iteration's
    /// joins and messages, for the next `run_hosted`.
    fn send_to_workers(&mut self) {
        let hosted = self.hosting.is_some().then_some(usize::from(self.index));
        for (w, batch) in self.to_workers.iter_mut().enumerate() {
            if batch.is_empty() || hosted == Some(w) {
                continue;
            }
            let batch = std::mem::take(batch);
            if self.shared.workers[w].send(batch).is_err() {
                log::debug!("worker {w} is gone; dropping its batch");
                continue;
            }
            self.shared.ring_host(w);
        }
    }

    /// Colocated workers: adopts the connections other threads moved here and queues what
    /// was posted for the hosted worker.
    fn drain_inbox(&mut self) {
        let me = usize::from(self.index);
        while let Some(batch) = self.hosting.as_ref().and_then(|h| h.inbox.try_recv().ok()) {
            for m in batch {
                match m {
                    ToWorker::Adopt { conn, token } => self.adopt(conn, token),
                    m => self.to_workers[me].push(m),
                }
            }
        }
    }

    /// Runs the hosted worker on this iteration's batch and carries out what it asked of
    /// this thread.
    fn run_hosted(&mut self) {
        let me = usize::from(self.index);
        let Some(h) = &mut self.hosting else {
            return;
        };
        if h.ended {
            self.to_workers[me].clear();
            return;
        }
        h.worker.step(&mut self.to_workers[me]);
        self.apply_hosted_output();
    }

    /// Carries out what the hosted worker queued for this thread.
    fn apply_hosted_output(&mut self) {
        let mut out = std::mem::take(&mut self.hosted_out);
        if let Some(h) = &mut self.hosting {
            h.worker.take_output(&mut out);
        }
        for m in out.drain(..) {
            self.apply(m);
        }
        self.hosted_out = out;
    }

    /// Shutdown, colocated workers: ends the hosted sessions (result tokens, 1001) before the
    /// sockets are closed.
    fn end_hosted(&mut self) {
        self.drain_inbox();
        self.run_hosted();
        if let Some(h) = &mut self.hosting {
            h.worker.end_all();
            h.ended = true;
        }
        self.apply_hosted_output();
    }

    /// Takes a connection off this thread, to move it to the thread hosting its worker.
    fn emigrate(&mut self, slot: usize) -> Option<Migrant> {
        let mut c = self.conns.try_remove(slot)?;
        if let Some(tcp) = c.tcp() {
            let _ = self.poll.registry().deregister(tcp);
        }
        c.worker = None;
        c.dirty = false;
        Some(Migrant(Box::new(c)))
    }

    /// Registers a connection another thread moved here and joins it to its session on the
    /// hosted worker; frames that arrived with its token are read next.
    fn adopt(&mut self, Migrant(mut conn): Migrant, token: Arc<crate::jwt::Verified<C>>) {
        let ended = self.hosting.as_ref().is_some_and(|h| h.ended);
        conn.worker = (!ended).then_some(self.index);
        conn.last_rx_ms = self.now_ms;
        conn.ping_sent_ms = None;
        conn.dirty = false;
        let Some(slot) = self.insert(*conn) else {
            return;
        };
        if ended {
            self.close_ws(slot, crate::session::SHUTDOWN.0, crate::session::SHUTDOWN.1);
            return;
        }
        let id = self.conn_id(slot);
        self.to_workers[usize::from(self.index)].push(ToWorker::Join { conn: id, token });
        self.mark_dirty(slot);
        self.read_ws(slot);
    }

    fn expire_deadlines(&mut self) {
        let now = self.now_ms;
        while let Some((slot, generation)) = pop_due(&mut self.handshake_deadlines, now) {
            let Some(c) = self.conns.get(slot) else {
                continue;
            };
            if c.generation == generation
                && matches!(c.state, State::Http { .. } | State::Respond { .. })
            {
                self.remove(slot, true);
            }
        }
        while let Some((slot, generation)) = pop_due(&mut self.auth_deadlines, now) {
            let Some(c) = self.conns.get(slot) else {
                continue;
            };
            if c.generation == generation && matches!(c.state, State::Ws { joined: false, .. }) {
                Counters::add(&self.counters.auth_failures, 1);
                let e = crate::AuthError::AuthTimeout;
                self.close_ws(slot, 1008, e.code());
            }
        }
        while let Some((slot, generation)) = pop_due(&mut self.close_deadlines, now) {
            let Some(c) = self.conns.get(slot) else {
                continue;
            };
            if c.generation == generation && matches!(c.state, State::Closing { .. }) {
                self.remove(slot, false);
            }
        }
        if now >= self.next_keepalive_ms {
            self.keepalive();
            self.next_keepalive_ms = now + ms(self.shared.limits.ping_interval) / 2;
        }
    }

    fn keepalive(&mut self) {
        let interval = ms(self.shared.limits.ping_interval);
        let now = self.now_ms;
        let mut silent = Vec::new();
        let mut to_ping = Vec::new();
        for (slot, c) in self.conns.iter() {
            if !matches!(c.state, State::Ws { .. }) || now.saturating_sub(c.last_rx_ms) < interval {
                continue;
            }
            match c.ping_sent_ms {
                Some(at) if now.saturating_sub(at) >= interval => silent.push(slot),
                Some(_) => {}
                None => to_ping.push(slot),
            }
        }
        for slot in to_ping {
            self.conns[slot].ping_sent_ms = Some(now);
            let id = self.conn_id(slot);
            self.send(id, tungstenite::Message::Ping(Default::default()));
        }
        for slot in silent {
            self.leave(slot);
            self.close_ws(slot, IDLE_TIMEOUT.0, IDLE_TIMEOUT.1);
        }
    }

    /// Tells the worker a joined connection went away (not on the worker's request).
    fn leave(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        if let Some(w) = c.worker.take() {
            let conn = ConnId {
                io: self.index,
                slot: slot as u32,
                generation: c.generation,
            };
            self.to_workers[usize::from(w)].push(ToWorker::Leave { conn });
        }
    }

    /// Drops a connection now.
    fn remove(&mut self, slot: usize, notify_worker: bool) {
        if notify_worker {
            self.leave(slot);
        }
        // Closing the socket (dropping it) takes it out of the poll: no `deregister` call.
        if self.conns.try_remove(slot).is_some() {
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
            Counters::add(&self.counters.closed, 1);
        }
    }

    /// Shutdown: stop accepting, close every connection with 1001.
    fn begin_shutdown(&mut self) {
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.drain_workers();
        let slots: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for slot in slots {
            match self.conns[slot].state {
                State::Ws { .. } => {
                    self.conns[slot].worker = None;
                    self.close_ws(slot, crate::session::SHUTDOWN.0, crate::session::SHUTDOWN.1);
                }
                State::Closing { .. } | State::Gone => {}
                State::Http { .. } | State::Respond { .. } => self.remove(slot, false),
            }
        }
    }
}
