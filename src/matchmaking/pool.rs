//! The pool of waiting requests (PURE: time is passed in) and the pool thread that drives it.

use super::{Matchmaker, Outcome, TicketConfig, ToPool, Waiting};
use crate::game::Player;
use crate::runtime::Poster;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The waiting requests of one queue, owned by one thread. PURE: `now_ms` comes from the caller.
///
/// Every request leaves it exactly once: matched ([`Pool::run`]), cancelled
/// ([`Pool::cancel`]) or timed out ([`Pool::expire`]).
#[derive(Debug)]
pub struct Pool<C> {
    waiting: Vec<Waiting<C>>,
    index: HashMap<String, usize>,
}

impl<C> Default for Pool<C> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<C> Pool<C> {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of waiting requests.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// True if request `id` is waiting.
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Adds a request with data `null`. Returns false (and changes nothing) if `id` is already
    /// waiting.
    pub fn enqueue(
        &mut self,
        id: String,
        tenant: Option<String>,
        players: Vec<Player<C>>,
        now_ms: u64,
    ) -> bool {
        self.enqueue_with_data(id, tenant, players, serde_json::Value::Null, now_ms)
    }

    /// Adds a request with its [`Waiting::data`]. Returns false (and changes nothing) if `id` is
    /// already waiting.
    pub fn enqueue_with_data(
        &mut self,
        id: String,
        tenant: Option<String>,
        players: Vec<Player<C>>,
        data: serde_json::Value,
        now_ms: u64,
    ) -> bool {
        if self.index.contains_key(&id) {
            return false;
        }
        self.index.insert(id.clone(), self.waiting.len());
        self.waiting.push(Waiting {
            id,
            tenant,
            players,
            data,
            since_ms: now_ms,
            waited_ms: 0,
        });
        true
    }

    /// Removes request `id` if it is waiting.
    pub fn cancel(&mut self, id: &str) -> Option<Waiting<C>> {
        let idx = self.index.remove(id)?;
        let w = self.waiting.swap_remove(idx);
        if let Some(moved) = self.waiting.get(idx) {
            self.index.insert(moved.id.clone(), idx);
        }
        Some(w)
    }

    /// Removes and returns every request that has waited longer than `max_wait_ms`.
    pub fn expire(&mut self, max_wait_ms: u64, now_ms: u64) -> Vec<Waiting<C>> {
        let old: Vec<String> = self
            .waiting
            .iter()
            .filter(|w| now_ms.saturating_sub(w.since_ms) > max_wait_ms)
            .map(|w| w.id.clone())
            .collect();
        old.iter().filter_map(|id| self.cancel(id)).collect()
    }

    /// Runs the matchmaker once and removes the matched requests from the pool. Returns each
    /// valid match with its requests (in the order the match named them). A match naming an
    /// unknown id, or an id already taken in this run (or twice), is dropped whole with a log
    /// warning, and its requests stay in the pool.
    pub fn run<M: Matchmaker<Claims = C>>(
        &mut self,
        m: &mut M,
        now_ms: u64,
    ) -> Vec<(Vec<Waiting<C>>, serde_json::Value)> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        for w in &mut self.waiting {
            w.waited_ms = now_ms.saturating_sub(w.since_ms);
        }
        let matches = m.find_matches(&self.waiting, now_ms);
        let mut out = Vec::with_capacity(matches.len());
        for mt in matches {
            // A valid match's requests leave the pool at once, so a later match naming one of
            // them again finds it gone and is refused whole.
            let mut mine: HashSet<&str> = HashSet::new();
            let ok = !mt.requests.is_empty()
                && mt
                    .requests
                    .iter()
                    .all(|id| self.index.contains_key(id.as_str()) && mine.insert(id.as_str()));
            if !ok {
                log::warn!(
                    "matchmaker: ignoring a match with an unknown or repeated request id: {:?}",
                    mt.requests
                );
                continue;
            }
            let reqs = mt
                .requests
                .iter()
                .filter_map(|id| self.cancel(id))
                .collect();
            out.push((reqs, mt.data));
        }
        out
    }
}

/// The pool thread: owns the matchmaker and the pool, and ends when every request session's
/// sender is gone (server shutdown).
pub(crate) fn run<M: Matchmaker>(
    mut m: M,
    tickets: TicketConfig,
    rx: Receiver<ToPool<M::Claims>>,
    poster: &Poster,
) {
    let start = Instant::now();
    let now_ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let interval = m.interval().max(Duration::from_millis(1));
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    let max_wait_ms = m
        .max_wait()
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut pool = Pool::new();
    let mut next_tick = interval_ms;
    loop {
        let wait = Duration::from_millis(next_tick.saturating_sub(now_ms()));
        let mut fresh = false;
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                fresh |= apply(&mut pool, msg, now_ms(), poster);
                for msg in rx.try_iter() {
                    fresh |= apply(&mut pool, msg, now_ms(), poster);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = now_ms();
        let tick = now >= next_tick;
        if tick {
            next_tick = now.saturating_add(interval_ms);
            if let Some(max) = max_wait_ms {
                for w in pool.expire(max, now) {
                    poster.post(w.tenant.as_deref(), &w.id, Outcome::TimedOut);
                }
            }
        }
        if fresh || tick {
            for (reqs, data) in pool.run(&mut m, now) {
                deliver(&tickets, &reqs, &data, poster);
            }
        }
    }
}

/// Applies one message; true if a request entered the pool.
fn apply<C>(pool: &mut Pool<C>, msg: ToPool<C>, now_ms: u64, poster: &Poster) -> bool {
    match msg {
        ToPool::Enqueue {
            id,
            tenant,
            players,
            data,
        } => pool.enqueue_with_data(id, tenant, players, data, now_ms),
        ToPool::Cancel { id } => {
            // Not waiting: already matched or timed out, and that outcome is on its way.
            if let Some(w) = pool.cancel(&id) {
                poster.post(w.tenant.as_deref(), &w.id, Outcome::Cancelled);
            }
            false
        }
    }
}

/// Describes the game of one match (no signing: each request session signs its own players'
/// tickets) and posts it to every request session of the match.
fn deliver<C>(
    tickets: &TicketConfig,
    reqs: &[Waiting<C>],
    data: &serde_json::Value,
    poster: &Poster,
) {
    let parties: Vec<Vec<String>> = reqs
        .iter()
        .map(|w| w.players.iter().map(|p| p.id().to_owned()).collect())
        .collect();
    let game = Arc::new(tickets.describe(&parties, data));
    for w in reqs {
        poster.post(
            w.tenant.as_deref(),
            &w.id,
            Outcome::Matched(Arc::clone(&game)),
        );
    }
}
