//! The phase switch the orchestrating thread flips, and the counters each client thread
//! publishes for the progress line (each thread writes only its own; the reader sums them).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// The phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Threads mint tokens and wait.
    Prepare = 0,
    /// Connect the planned connections.
    Connect = 1,
    /// Send messages / hold / churn sessions.
    Run = 2,
    /// Stop sending; wait for what is outstanding.
    Drain = 3,
    /// Close every connection.
    Close = 4,
    /// Leave now.
    Stop = 5,
}

impl Phase {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Prepare,
            1 => Self::Connect,
            2 => Self::Run,
            3 => Self::Drain,
            4 => Self::Close,
            _ => Self::Stop,
        }
    }
}

/// What one client thread publishes.
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub(crate) connected: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) sessions: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// Nanoseconds since the epoch of the last connection that became ready.
    pub(crate) last_ready_ns: AtomicU64,
    pub(crate) connect_done: AtomicBool,
    pub(crate) drained: AtomicBool,
    pub(crate) finished: AtomicBool,
}

/// Sums over all threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) connected: u64,
    pub(crate) open: u64,
    pub(crate) failed: u64,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) sessions: u64,
    pub(crate) refused: u64,
    pub(crate) errors: u64,
    pub(crate) last_ready_ns: u64,
}

/// Shared between the orchestrator and the client threads.
#[derive(Debug)]
pub(crate) struct Control {
    phase: AtomicU8,
    /// When the run phase started, nanoseconds since the epoch.
    pub(crate) run_start_ns: AtomicU64,
    pub(crate) threads: Vec<Published>,
    wakers: Mutex<Vec<Arc<mio::Waker>>>,
}

impl Control {
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            phase: AtomicU8::new(Phase::Prepare as u8),
            run_start_ns: AtomicU64::new(0),
            threads: (0..threads).map(|_| Published::default()).collect(),
            wakers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        // Acquire pairs with `set_phase`'s Release: what was stored before the phase
        // (e.g. the run's start time) is visible once the phase is.
        Phase::from_u8(self.phase.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Moves to `phase` and wakes every client loop.
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase
            .store(phase as u8, std::sync::atomic::Ordering::Release);
        let wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        for w in wakers.iter() {
            // A failed wake only delays the thread until its next poll timeout (≤ 100 ms).
            let _ = w.wake();
        }
    }

    pub(crate) fn add_waker(&self, waker: Arc<mio::Waker>) {
        self.wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(waker);
    }

    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for p in &self.threads {
            t.connected += p.connected.load(Relaxed);
            t.open += p.open.load(Relaxed);
            t.failed += p.failed.load(Relaxed);
            t.sent += p.sent.load(Relaxed);
            t.received += p.received.load(Relaxed);
            t.sessions += p.sessions.load(Relaxed);
            t.refused += p.refused.load(Relaxed);
            t.errors += p.errors.load(Relaxed);
            t.last_ready_ns = t.last_ready_ns.max(p.last_ready_ns.load(Relaxed));
        }
        t
    }

    pub(crate) fn all(&self, flag: impl Fn(&Published) -> &AtomicBool) -> bool {
        self.threads.iter().all(|p| flag(p).load(Relaxed))
    }
}
