//! Per-thread measurements (histograms, counters, errors by kind), merged after the run.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Latencies are recorded in nanoseconds, 3 significant digits, up to 10 minutes.
fn histogram() -> Histogram<u64> {
    // Constant, valid bounds: construction cannot fail.
    Histogram::new_with_bounds(1, 600_000_000_000, 3).unwrap_or_else(|_| unreachable!())
}

/// Everything one client thread measured.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    /// Socket creation → `101 Switching Protocols`, valid tokens.
    pub(crate) handshake: Histogram<u64>,
    /// Socket creation → welcome message (games that send one).
    pub(crate) welcome: Histogram<u64>,
    /// Socket creation → refusal, bad tokens.
    pub(crate) refusal: Histogram<u64>,
    /// Send (intended) → own message back.
    pub(crate) rtt: Histogram<u64>,
    /// Send (intended) → delivery to another session member (chat).
    pub(crate) fanout: Histogram<u64>,
    /// Session start → last result verified (churn).
    pub(crate) session: Histogram<u64>,
    /// Failures by kind.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Expected refusals (bad tokens) by error code.
    pub(crate) refused: BTreeMap<String, u64>,
    /// Valid connects started.
    pub(crate) attempted: u64,
    /// Valid connects that became ready.
    pub(crate) connected: u64,
    /// Bad-token connects started.
    pub(crate) bad_attempted: u64,
    /// Data messages sent.
    pub(crate) sent: u64,
    /// Data messages received (all of them, fan-out included).
    pub(crate) received: u64,
    /// Own messages that came back.
    pub(crate) returned: u64,
    /// Messages sent but never returned (at the end of the drain).
    pub(crate) lost: u64,
    /// Sessions that completed (churn).
    pub(crate) sessions: u64,
    /// Result tokens that verified with the right pid and sid (churn).
    pub(crate) results_verified: u64,
    /// Of those, the ones received by late joiners.
    pub(crate) late_results_verified: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            handshake: histogram(),
            welcome: histogram(),
            refusal: histogram(),
            rtt: histogram(),
            fanout: histogram(),
            session: histogram(),
            errors: BTreeMap::new(),
            refused: BTreeMap::new(),
            attempted: 0,
            connected: 0,
            bad_attempted: 0,
            sent: 0,
            received: 0,
            returned: 0,
            lost: 0,
            sessions: 0,
            results_verified: 0,
            late_results_verified: 0,
        }
    }
}

impl Recorder {
    /// Counts one failure of `kind`.
    pub(crate) fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    /// Counts one expected refusal with `code`.
    pub(crate) fn refusal_code(&mut self, code: &str) {
        match self.refused.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                self.refused.insert(code.to_owned(), 1);
            }
        }
    }

    /// Total failures.
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in [
            (&mut self.handshake, &other.handshake),
            (&mut self.welcome, &other.welcome),
            (&mut self.refusal, &other.refusal),
            (&mut self.rtt, &other.rtt),
            (&mut self.fanout, &other.fanout),
            (&mut self.session, &other.session),
        ] {
            if mine.add(theirs).is_err() {
                *self.errors.entry("histogram_merge".into()).or_default() += 1;
            }
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.refused {
            *self.refused.entry(k.clone()).or_default() += v;
        }
        self.attempted += other.attempted;
        self.connected += other.connected;
        self.bad_attempted += other.bad_attempted;
        self.sent += other.sent;
        self.received += other.received;
        self.returned += other.returned;
        self.lost += other.lost;
        self.sessions += other.sessions;
        self.results_verified += other.results_verified;
        self.late_results_verified += other.late_results_verified;
    }
}

/// Records `ns` (at least 1) into `h`.
pub(crate) fn record(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.max(1));
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Percentiles {
    /// The percentiles of `h`, or `None` when it is empty.
    pub(crate) fn of(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        Some(Self {
            count: h.len(),
            mean_us: h.mean() / 1_000.0,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_histograms() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        record(&mut a.rtt, 1_000);
        record(&mut b.rtt, 3_000);
        b.error("econnreset");
        b.refusal_code("token_expired");
        b.sent = 5;
        a.merge(&b);
        assert_eq!(a.rtt.len(), 2);
        assert_eq!(a.errors.get("econnreset"), Some(&1));
        assert_eq!(a.refused.get("token_expired"), Some(&1));
        assert_eq!(a.sent, 5);
        let p = Percentiles::of(&a.rtt).unwrap();
        assert_eq!(p.count, 2);
        assert!(p.max_us >= 2.9 && p.max_us <= 3.1);
        assert!(Percentiles::of(&Recorder::default().rtt).is_none());
    }
}
