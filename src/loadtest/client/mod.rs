//! One client event loop per thread: a mio `Poll`, a `Slab` of connections, a deadline queue,
//! and the scenario logic (in [`logic`] and [`churn`]). Every loop is bounded: by the phase the
//! orchestrator sets, by per-connection deadlines, and by a hard deadline of its own.

mod churn;
mod conn;
mod logic;
mod plan;

use crate::jwt::{NoClaims, Verifier};
use crate::loadtest::addr::{io_kind, spread_source, start_connect};
use crate::loadtest::control::{Control, Phase, Published};
use crate::loadtest::handshake::build_request;
use crate::loadtest::recorder::Recorder;
use crate::loadtest::{BadKind, LoadConfig, Pacing, TokenMint};
use conn::{Conn, Incoming, Role};
use mio::{Events, Interest, Poll, Token, Waker};
use plan::Planned;
use slab::Slab;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::protocol::WebSocketConfig;

const WAKER: Token = Token(usize::MAX);
/// Longest sleep in `poll`, so a lost wake-up costs at most this.
const MAX_POLL: Duration = Duration::from_millis(100);
/// How long the close phase waits for servers to finish the close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Most open-loop sends per loop iteration (the rest follow on the next one).
const SEND_BUDGET: u64 = 8_192;

/// Everything the client threads share (read-only after start).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: LoadConfig,
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) tokens: TokenMint,
    pub(crate) welcome: bool,
    pub(crate) results: Option<Verifier<NoClaims>>,
    pub(crate) control: Control,
    pub(crate) epoch: Instant,
    /// Distinguishes this run's session ids from earlier runs against the same server.
    pub(crate) nonce: String,
    pub(crate) spread: bool,
    pub(crate) ws_config: WebSocketConfig,
    /// Hard deadline for every client thread.
    pub(crate) hard_deadline: Instant,
}

impl Shared {
    pub(crate) fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    pub(crate) fn ns_since_epoch(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One client thread's loop state.
struct Client {
    sh: Arc<Shared>,
    t: usize,
    poll: Poll,
    conns: Slab<Conn>,
    rec: Recorder,
    /// Connect-phase plan, then bad-token relaunches.
    plan: VecDeque<Planned>,
    /// Launches requested while handling events (done after the batch).
    deferred: Vec<Planned>,
    inflight: usize,
    deadlines: VecDeque<(Instant, usize, u64)>,
    ready: Vec<(usize, u64)>,
    rr: usize,
    /// Open loop: index of the next message of this thread and the per-thread rate.
    open_k: u64,
    run_start: Instant,
    phase: Phase,
    serial: u64,
    sources: u64,
    outstanding: u64,
    incoming: Vec<Incoming>,
    dirty: Vec<usize>,
    again: Vec<usize>,
    churn: churn::Churn,
    close_deadline: Option<Instant>,
    /// One token of each bad kind (bad tokens fail before any replay check, so they are reused).
    bad_tokens: Vec<String>,
    /// The bad connections of the plan: in the run phase each keeps reconnecting.
    bad_roles: Vec<(Role, String)>,
}

/// Runs client thread `t`: prepares its share, waits at `barrier`, runs until told to stop.
pub(crate) fn run_thread(sh: Arc<Shared>, t: usize, barrier: Arc<Barrier>) -> Recorder {
    let client = Client::new(Arc::clone(&sh), t);
    barrier.wait();
    match client {
        Ok(mut c) => {
            c.run();
            c.rec
        }
        Err(e) => {
            let mut rec = Recorder::default();
            rec.error(format!("client_setup:{}", io_kind(&e)));
            sh.control.threads[t].connect_done.store(true, Relaxed);
            sh.control.threads[t].drained.store(true, Relaxed);
            sh.control.threads[t].finished.store(true, Relaxed);
            rec
        }
    }
}

impl Client {
    fn new(sh: Arc<Shared>, t: usize) -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        sh.control.add_waker(waker);
        let bad_tokens = plan::bad_tokens(&sh);
        let plan = plan::make_plan(&sh, t, &bad_tokens);
        let bad_roles = plan
            .iter()
            .filter(|p| matches!(p.role, Role::Bad(_)))
            .map(|p| (p.role, p.pid.clone()))
            .collect();
        let churn = churn::Churn::new(&sh, t);
        Ok(Self {
            sh,
            t,
            poll,
            conns: Slab::new(),
            rec: Recorder::default(),
            plan,
            deferred: Vec::new(),
            inflight: 0,
            deadlines: VecDeque::new(),
            ready: Vec::new(),
            rr: 0,
            open_k: 0,
            run_start: Instant::now(),
            phase: Phase::Prepare,
            serial: 0,
            sources: 0,
            outstanding: 0,
            incoming: Vec::new(),
            dirty: Vec::new(),
            again: Vec::new(),
            churn,
            close_deadline: None,
            bad_tokens,
            bad_roles,
        })
    }

    fn published(&self) -> &Published {
        &self.sh.control.threads[self.t]
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            if now >= self.sh.hard_deadline {
                self.rec.error("client_hard_deadline");
                break;
            }
            let phase = self.sh.control.phase();
            if phase != self.phase {
                self.enter(phase, now);
            }
            if self.phase == Phase::Stop {
                break;
            }
            if self.phase == Phase::Close
                && (self.conns.is_empty() || self.close_deadline.is_some_and(|d| now >= d))
            {
                break;
            }
            self.launch_planned();
            self.send_due(now);
            self.flush_dirty();
            self.publish();
            let timeout = self.poll_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.rec.error(format!("poll:{}", io_kind(&e)));
                    break;
                }
            }
            for ev in events.iter() {
                if ev.token() != WAKER {
                    self.drive(ev.token().0);
                }
            }
            for key in std::mem::take(&mut self.again) {
                self.drive(key);
            }
            self.expire(Instant::now());
            let deferred = std::mem::take(&mut self.deferred);
            for p in deferred {
                self.launch(p);
            }
            self.flush_dirty();
        }
        self.conns.clear();
        self.publish();
        self.published().finished.store(true, Relaxed);
    }

    fn enter(&mut self, phase: Phase, now: Instant) {
        self.phase = phase;
        match phase {
            Phase::Run => {
                let ns = self.sh.control.run_start_ns.load(Relaxed);
                self.run_start = self.sh.epoch + Duration::from_nanos(ns);
                self.plan.clear();
                for (role, pid) in self.bad_roles.clone() {
                    self.relaunch_role(role, pid);
                }
                if self.sh.config.scenario == crate::loadtest::Scenario::Churn {
                    churn::start_all(self);
                } else if self.sh.config.scenario.sends_messages() {
                    if let Pacing::Closed { .. } = self.sh.config.pacing {
                        for (key, serial) in self.ready.clone() {
                            logic::fill_window(self, key, serial);
                        }
                    }
                }
            }
            Phase::Close => {
                self.plan.clear();
                self.rec.lost += self.outstanding;
                if self.outstanding > 0 {
                    *self.rec.errors.entry("lost_messages".into()).or_default() += self.outstanding;
                }
                self.outstanding = 0;
                let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                for key in keys {
                    self.close_conn(key);
                }
                self.close_deadline = Some(now + CLOSE_GRACE);
            }
            _ => {}
        }
    }

    fn close_conn(&mut self, key: usize) {
        let mut out = std::mem::take(&mut self.incoming);
        if let Some(c) = self.conns.get_mut(key) {
            c.finished = true;
            if c.is_open() {
                c.close(&mut out);
                c.flush_now(&mut out);
            } else {
                self.conns.remove(key);
            }
        }
        out.clear();
        self.incoming = out;
    }

    fn launch_planned(&mut self) {
        let window = self.sh.config.connect_window;
        let phase_ok = matches!(self.phase, Phase::Connect | Phase::Run);
        while phase_ok && self.inflight < window {
            let Some(p) = self.plan.pop_front() else {
                break;
            };
            self.launch(p);
        }
        if self.phase >= Phase::Connect && self.plan.is_empty() && self.inflight == 0 {
            self.published().connect_done.store(true, Relaxed);
        }
    }

    /// Opens one connection (counted in flight until ready, refused or failed).
    fn launch(&mut self, p: Planned) {
        match p.role {
            Role::Bad(_) => self.rec.bad_attempted += 1,
            _ => self.rec.attempted += 1,
        }
        let stream = loop {
            let source = self.sh.spread.then(|| {
                self.sources += 1;
                spread_source(self.sources * self.sh.config.threads as u64 + self.t as u64)
            });
            match start_connect(self.sh.addr, source) {
                Ok(s) => break s,
                Err(e)
                    if source.is_some()
                        && matches!(e.raw_os_error(), Some(libc::EADDRINUSE))
                        && self.sources % 4 != 0 =>
                {
                    continue;
                }
                Err(e) => {
                    let prefix = p.role.error_prefix();
                    self.rec.error(format!("{prefix}connect:{}", io_kind(&e)));
                    self.on_launch_failed(p.role);
                    return;
                }
            }
        };
        let request = build_request(
            &self.sh.host,
            &self.sh.path,
            Some(&p.token),
            self.sh.config.token_via,
        );
        self.serial += 1;
        let mut conn = Conn::new(
            self.serial,
            p.role,
            p.pid,
            stream,
            request,
            self.sh.config.token_via,
            Some(p.token),
        );
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        let registered = conn.stream_mut().map(|s| {
            self.poll
                .registry()
                .register(s, Token(key), Interest::READABLE | Interest::WRITABLE)
        });
        if let Some(Err(e)) = registered {
            self.rec.error(format!("register:{}", io_kind(&e)));
            self.on_launch_failed(p.role);
            return;
        }
        entry.insert(conn);
        churn::attach(self, p.role, key, self.serial);
        self.inflight += 1;
        let deadline = Instant::now() + self.sh.config.connect_timeout;
        self.deadlines.push_back((deadline, key, self.serial));
    }

    fn on_launch_failed(&mut self, role: Role) {
        if let Role::Churn { session, .. } = role {
            churn::abort(self, session);
        }
    }

    fn drive(&mut self, key: usize) {
        let mut out = std::mem::take(&mut self.incoming);
        let Some(conn) = self.conns.get_mut(key) else {
            self.incoming = out;
            return;
        };
        let serial = conn.serial;
        if conn.drive(&self.sh.ws_config, &mut out) {
            self.again.push(key);
        }
        for item in out.drain(..) {
            // The connection may have been removed by an earlier item.
            if self.conns.get(key).is_none_or(|c| c.serial != serial) {
                break;
            }
            logic::handle(self, key, item);
        }
        if let Some(c) = self.conns.get(key) {
            if c.serial == serial && c.dirty {
                self.dirty.push(key);
            }
        }
        self.incoming = out;
    }

    fn flush_dirty(&mut self) {
        let mut out = std::mem::take(&mut self.incoming);
        for key in std::mem::take(&mut self.dirty) {
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            if c.dirty {
                c.flush_now(&mut out);
            }
            let serial = c.serial;
            for item in out.drain(..) {
                if self.conns.get(key).is_none_or(|c| c.serial != serial) {
                    break;
                }
                logic::handle(self, key, item);
            }
        }
        self.incoming = out;
    }

    /// Open loop: sends every message whose intended time has come.
    fn send_due(&mut self, now: Instant) {
        let Pacing::Open { rate } = self.sh.config.pacing else {
            return;
        };
        if self.phase != Phase::Run || !self.sh.config.scenario.sends_messages() {
            return;
        }
        let per_thread = rate / self.sh.config.threads as f64;
        let elapsed = now.saturating_duration_since(self.run_start).as_secs_f64();
        let due = (elapsed * per_thread) as u64;
        let mut budget = SEND_BUDGET;
        while self.open_k < due && budget > 0 && !self.ready.is_empty() {
            budget -= 1;
            let intended =
                self.run_start + Duration::from_secs_f64(self.open_k as f64 / per_thread);
            self.open_k += 1;
            let i = self.rr % self.ready.len();
            self.rr = self.rr.wrapping_add(1);
            let (key, serial) = self.ready[i];
            if !self
                .conns
                .get(key)
                .is_some_and(|c| c.serial == serial && c.ready && !c.finished)
            {
                self.ready.swap_remove(i);
                continue;
            }
            logic::send_payload(self, key, intended);
        }
        if self.open_k < due && self.ready.is_empty() {
            // Nobody to send to: the missed messages count as errors, not as silence.
            *self
                .rec
                .errors
                .entry("no_open_connection".into())
                .or_default() += due - self.open_k;
            self.open_k = due;
        }
    }

    fn poll_timeout(&self, now: Instant) -> Duration {
        if !self.again.is_empty() || !self.deferred.is_empty() {
            return Duration::ZERO;
        }
        let mut t = MAX_POLL;
        if let Some((d, _, _)) = self.deadlines.front() {
            t = t.min(d.saturating_duration_since(now));
        }
        if let Some(d) = self.churn.next_deadline() {
            t = t.min(d.saturating_duration_since(now));
        }
        if let (Pacing::Open { rate }, Phase::Run) = (self.sh.config.pacing, self.phase) {
            if self.sh.config.scenario.sends_messages() {
                let per_thread = rate / self.sh.config.threads as f64;
                let next =
                    self.run_start + Duration::from_secs_f64(self.open_k as f64 / per_thread);
                t = t.min(next.saturating_duration_since(now));
            }
        }
        t
    }

    /// Connections not ready by their deadline fail with a timeout.
    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, key, serial)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let Some(c) = self.conns.get(key) else {
                continue;
            };
            if c.serial != serial || c.ready || c.finished {
                continue;
            }
            let what = if c.is_open() { "welcome" } else { "handshake" };
            let prefix = c.role.error_prefix();
            self.rec.error(format!("{prefix}timeout:{what}"));
            self.fail_conn(key);
        }
        churn::expire(self, now);
    }

    /// Drops a connection that failed before or after becoming ready (errors already counted).
    fn fail_conn(&mut self, key: usize) {
        let Some(c) = self.conns.try_remove(key) else {
            return;
        };
        if !c.ready && !c.finished {
            self.inflight = self.inflight.saturating_sub(1);
            self.published().failed.fetch_add(1, Relaxed);
        }
        if c.ready && !c.finished {
            self.outstanding = self.outstanding.saturating_sub(u64::from(c.outstanding));
            self.rec.lost += u64::from(c.outstanding);
        }
        match c.role {
            Role::Bad(_) if self.phase == Phase::Run => self.relaunch_bad(c),
            Role::Churn { session, .. } => churn::abort(self, session),
            _ => {}
        }
    }

    /// Bad-token pressure continues during the run phase: a finished bad connect is replaced.
    fn relaunch_bad(&mut self, c: Conn) {
        self.relaunch_role(c.role, c.pid);
    }

    fn relaunch_role(&mut self, role: Role, pid: String) {
        if let Role::Bad(kind) = role {
            let i = BadKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
            self.deferred.push(Planned {
                role,
                pid,
                token: self.bad_tokens.get(i).cloned().unwrap_or_default(),
            });
        }
    }

    fn publish(&self) {
        let p = self.published();
        p.connected.store(self.rec.connected, Relaxed);
        p.open.store(self.conns.len() as u64, Relaxed);
        p.sent.store(self.rec.sent, Relaxed);
        p.received.store(self.rec.received, Relaxed);
        p.sessions.store(self.rec.sessions, Relaxed);
        p.refused.store(self.rec.refused.values().sum(), Relaxed);
        p.errors.store(self.rec.error_count(), Relaxed);
        let drained = self.phase >= Phase::Drain && self.outstanding == 0 && self.churn.is_idle();
        p.drained.store(drained, Relaxed);
    }
}
