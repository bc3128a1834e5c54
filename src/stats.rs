//! Per-thread counters, merged when read; Prometheus text.

/// A merged snapshot of the server's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sockets accepted since start.
    pub connections_accepted: u64,
    /// Sockets open now.
    pub connections_open: u64,
    /// Connections admitted (token verified) since start.
    pub connections_authenticated: u64,
    /// Admitted connections moved to the I/O thread hosting their session's worker
    /// (colocated workers) since start.
    pub connections_moved: u64,
    /// Connections refused for a token (any auth error) since start.
    pub auth_failures: u64,
    /// Sessions live now.
    pub sessions_live: u64,
    /// Sessions started since start.
    pub sessions_started: u64,
    /// Sessions ended since start.
    pub sessions_ended: u64,
    /// Ended sessions held in the archive now.
    pub sessions_archived: u64,
    /// WebSocket data messages received from clients.
    pub messages_in: u64,
    /// WebSocket data messages sent to clients.
    pub messages_out: u64,
    /// Result tokens signed.
    pub result_tokens: u64,
    /// Connections closed for exceeding the outbound byte cap.
    pub slow_consumers_closed: u64,
    /// Game-logic panics caught.
    pub game_panics: u64,
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One thread's counters. Only the owning thread writes them (uncontended relaxed atomics);
/// readers merge all threads' counters into a [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) authenticated: AtomicU64,
    pub(crate) moved: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) sessions_started: AtomicU64,
    pub(crate) sessions_ended: AtomicU64,
    pub(crate) archived: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) result_tokens: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) game_panics: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter (owner thread only).
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

/// Every thread's counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Registry {
    pub(crate) threads: Vec<Arc<Counters>>,
}

impl Registry {
    /// Merges every thread's counters.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut s = Stats::default();
        let mut closed = 0;
        for c in &self.threads {
            s.connections_accepted += c.accepted.load(Relaxed);
            closed += c.closed.load(Relaxed);
            s.connections_authenticated += c.authenticated.load(Relaxed);
            s.connections_moved += c.moved.load(Relaxed);
            s.auth_failures += c.auth_failures.load(Relaxed);
            s.sessions_started += c.sessions_started.load(Relaxed);
            s.sessions_ended += c.sessions_ended.load(Relaxed);
            s.sessions_archived += c.archived.load(Relaxed);
            s.messages_in += c.messages_in.load(Relaxed);
            s.messages_out += c.messages_out.load(Relaxed);
            s.result_tokens += c.result_tokens.load(Relaxed);
            s.slow_consumers_closed += c.slow_consumers.load(Relaxed);
            s.game_panics += c.game_panics.load(Relaxed);
        }
        s.connections_open = s.connections_accepted.saturating_sub(closed);
        s.sessions_live = s.sessions_started.saturating_sub(s.sessions_ended);
        s
    }
}

impl Stats {
    /// The counters in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let rows: [(&str, &str, &str, u64); 14] = [
            (
                "connections_accepted_total",
                "counter",
                "Sockets accepted.",
                self.connections_accepted,
            ),
            (
                "connections_open",
                "gauge",
                "Sockets open now.",
                self.connections_open,
            ),
            (
                "connections_authenticated_total",
                "counter",
                "Connections admitted by a verified token.",
                self.connections_authenticated,
            ),
            (
                "connections_moved_total",
                "counter",
                "Admitted connections moved to their session's thread.",
                self.connections_moved,
            ),
            (
                "auth_failures_total",
                "counter",
                "Connections refused for their token.",
                self.auth_failures,
            ),
            (
                "sessions_live",
                "gauge",
                "Sessions live now.",
                self.sessions_live,
            ),
            (
                "sessions_started_total",
                "counter",
                "Sessions started.",
                self.sessions_started,
            ),
            (
                "sessions_ended_total",
                "counter",
                "Sessions ended.",
                self.sessions_ended,
            ),
            (
                "sessions_archived",
                "gauge",
                "Ended sessions held in the archive.",
                self.sessions_archived,
            ),
            (
                "messages_in_total",
                "counter",
                "Data messages received.",
                self.messages_in,
            ),
            (
                "messages_out_total",
                "counter",
                "Data messages sent.",
                self.messages_out,
            ),
            (
                "result_tokens_total",
                "counter",
                "Result tokens signed.",
                self.result_tokens,
            ),
            (
                "slow_consumers_closed_total",
                "counter",
                "Connections closed for the outbound cap.",
                self.slow_consumers_closed,
            ),
            (
                "game_panics_total",
                "counter",
                "Game-logic panics caught.",
                self.game_panics,
            ),
        ];
        let mut out = String::with_capacity(2048);
        for (name, kind, help, value) in rows {
            out.push_str(&format!(
                "# HELP jgs_{name} {help}\n# TYPE jgs_{name} {kind}\njgs_{name} {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_merges_threads_and_derives_gauges() {
        let a = Arc::new(Counters::default());
        let b = Arc::new(Counters::default());
        Counters::add(&a.accepted, 5);
        Counters::add(&b.accepted, 3);
        Counters::add(&a.closed, 2);
        Counters::add(&b.sessions_started, 4);
        Counters::add(&a.sessions_ended, 1);
        let s = Registry {
            threads: vec![a, b],
        }
        .snapshot();
        assert_eq!(s.connections_accepted, 8);
        assert_eq!(s.connections_open, 6);
        assert_eq!(s.sessions_live, 3);
        let text = s.to_prometheus();
        assert!(text.contains("jgs_connections_open 6\n"));
        assert!(text.contains("# TYPE jgs_sessions_live gauge\n"));
    }
}
