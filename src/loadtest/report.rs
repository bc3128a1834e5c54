//! The result of a run: every number the harness prints, as a serialisable struct, a text
//! table (one column per target, ratios against the first) and the `--json` file.

use crate::loadtest::procstat::{ServerProbe, cpu_model};
use crate::loadtest::recorder::{Percentiles, Recorder};
use crate::loadtest::run::Moments;
use crate::loadtest::{LoadConfig, Pacing, Scenario, Target, TokenVia};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The server's CPU time and memory during a run (when it could be read).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerUsage {
    /// Where the numbers were read.
    pub probe: ServerProbe,
    /// CPU seconds during the connect phase.
    pub cpu_connect_secs: Option<f64>,
    /// CPU milliseconds per 1,000 connections made in the connect phase.
    pub cpu_per_1k_connects_ms: Option<f64>,
    /// CPU seconds during the run and drain phases.
    pub cpu_run_secs: Option<f64>,
    /// CPU seconds per 1,000,000 messages sent by the clients (run and drain).
    pub cpu_per_1m_messages_secs: Option<f64>,
    /// CPU milliseconds per completed session (churn).
    pub cpu_per_session_ms: Option<f64>,
    /// RSS before the first connect.
    pub rss_before_bytes: Option<u64>,
    /// RSS after the connect phase.
    pub rss_connected_bytes: Option<u64>,
    /// RSS at the end of the run phase (connections still open).
    pub rss_end_bytes: Option<u64>,
    /// (RSS at the end of the run phase − RSS before) / connections made.
    pub rss_per_connection_bytes: Option<f64>,
    /// The load generator's own CPU seconds during the connect phase (all client threads).
    pub client_cpu_connect_secs: Option<f64>,
    /// The load generator's own CPU seconds during the run and drain phases.
    pub client_cpu_run_secs: Option<f64>,
}

/// What one run measured. Rates are per second of the phase they belong to.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The target's name (`ours`, `floor`, `baseline`, or a URL).
    pub target: String,
    /// The scenario.
    pub scenario: Scenario,
    /// Connections asked for.
    pub connections: usize,
    /// Players per session.
    pub session_size: usize,
    /// Client threads.
    pub threads: usize,
    /// Run-phase length asked for, seconds.
    pub duration_secs: f64,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// Where tokens went.
    pub token_via: TokenVia,
    /// Message size in bytes.
    pub message_bytes: usize,
    /// Valid connects started (all phases).
    pub attempted: u64,
    /// Valid connects that became ready (all phases).
    pub connected: u64,
    /// Connections ready at the end of the connect phase.
    pub connected_in_connect_phase: u64,
    /// Seconds from the first connect to the last one ready (connect phase).
    pub connect_secs: f64,
    /// Connections ready per second in the connect phase.
    pub connects_per_sec: f64,
    /// Socket creation → 101, valid tokens.
    pub handshake: Option<Percentiles>,
    /// Socket creation → welcome message.
    pub welcome: Option<Percentiles>,
    /// Seconds the run phase lasted.
    pub run_secs: f64,
    /// Data messages sent by the clients (all phases).
    pub messages_sent: u64,
    /// Data messages received by the clients, fan-out included (all phases).
    pub messages_received: u64,
    /// Own messages that came back.
    pub messages_returned: u64,
    /// Own messages that never came back.
    pub messages_lost: u64,
    /// Messages sent per second during the run phase.
    pub sent_per_sec: f64,
    /// Messages received per second during the run phase.
    pub received_per_sec: f64,
    /// Round trip of own messages (from the intended send time).
    pub rtt: Option<Percentiles>,
    /// Delivery to other session members (chat).
    pub fanout: Option<Percentiles>,
    /// Sessions completed (churn).
    pub sessions_completed: u64,
    /// Sessions completed per second of the run phase.
    pub sessions_per_sec: f64,
    /// Session start → late joiner's result verified.
    pub session: Option<Percentiles>,
    /// Result tokens verified (right key, pid and sid).
    pub results_verified: u64,
    /// Of those, by late joiners.
    pub late_results_verified: u64,
    /// Bad-token connects started.
    pub bad_attempted: u64,
    /// Bad tokens refused with the expected code, by code.
    pub refused: BTreeMap<String, u64>,
    /// Bad tokens refused per second of the run phase.
    pub refused_per_sec: f64,
    /// Socket creation → refusal, bad tokens.
    pub refusal: Option<Percentiles>,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Sum of `errors`.
    pub error_total: u64,
    /// The server's CPU and memory.
    pub server: ServerUsage,
    /// Caveats (fd limit, in-process RSS).
    pub notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(
        config: &LoadConfig,
        target: &Target,
        rec: &Recorder,
        m: &Moments,
        server: ServerUsage,
        notes: Vec<String>,
    ) -> Self {
        let rate = |a: u64, b: u64| {
            if m.run_secs > 0.0 {
                b.saturating_sub(a) as f64 / m.run_secs
            } else {
                0.0
            }
        };
        Self {
            target: target.name.clone(),
            scenario: config.scenario,
            connections: config.connections,
            session_size: config.session_size,
            threads: config.threads,
            duration_secs: config.duration.as_secs_f64(),
            pacing: config.pacing,
            token_via: config.token_via,
            message_bytes: config.message_bytes,
            attempted: rec.attempted,
            connected: rec.connected,
            connected_in_connect_phase: m.connected_in_phase,
            connect_secs: m.connect_secs,
            connects_per_sec: if m.connect_secs > 0.0 {
                m.connected_in_phase as f64 / m.connect_secs
            } else {
                0.0
            },
            handshake: Percentiles::of(&rec.handshake),
            welcome: Percentiles::of(&rec.welcome),
            run_secs: m.run_secs,
            messages_sent: rec.sent,
            messages_received: rec.received,
            messages_returned: rec.returned,
            messages_lost: rec.lost,
            sent_per_sec: rate(m.run_start.sent, m.run_end.sent),
            received_per_sec: rate(m.run_start.received, m.run_end.received),
            rtt: Percentiles::of(&rec.rtt),
            fanout: Percentiles::of(&rec.fanout),
            sessions_completed: rec.sessions,
            sessions_per_sec: rate(m.run_start.sessions, m.run_end.sessions),
            session: Percentiles::of(&rec.session),
            results_verified: rec.results_verified,
            late_results_verified: rec.late_results_verified,
            bad_attempted: rec.bad_attempted,
            refused: rec.refused.clone(),
            refused_per_sec: rate(m.run_start.refused, m.run_end.refused),
            refusal: Percentiles::of(&rec.refusal),
            errors: rec.errors.clone(),
            error_total: rec.error_count(),
            server,
            notes,
        }
    }
}

/// Which way a metric is better, for reading the ratio columns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
    Neither,
}

type Metric = (&'static str, Better, Unit, fn(&Report) -> Option<f64>);

#[derive(Clone, Copy)]
enum Unit {
    Count,
    Rate,
    Micros,
    Millis,
    Secs,
    Bytes,
}

fn p(f: fn(&Percentiles) -> f64, h: Option<Percentiles>) -> Option<f64> {
    h.as_ref().map(f)
}

fn nonzero(v: f64) -> Option<f64> {
    (v > 0.0).then_some(v)
}

const METRICS: &[Metric] = &[
    ("connections ready", Better::Higher, Unit::Count, |r| {
        Some(r.connected_in_connect_phase as f64)
    }),
    ("connects/s", Better::Higher, Unit::Rate, |r| {
        nonzero(r.connects_per_sec)
    }),
    ("handshake p50", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p50_us, r.handshake)
    }),
    ("handshake p99", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p99_us, r.handshake)
    }),
    ("time-to-welcome p50", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p50_us, r.welcome)
    }),
    ("time-to-welcome p99", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p99_us, r.welcome)
    }),
    ("msgs/s sent", Better::Higher, Unit::Rate, |r| {
        nonzero(r.sent_per_sec)
    }),
    ("msgs/s received", Better::Higher, Unit::Rate, |r| {
        nonzero(r.received_per_sec)
    }),
    ("rtt p50", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p50_us, r.rtt)
    }),
    ("rtt p90", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p90_us, r.rtt)
    }),
    ("rtt p99", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p99_us, r.rtt)
    }),
    ("rtt p99.9", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p999_us, r.rtt)
    }),
    ("rtt max", Better::Lower, Unit::Micros, |r| {
        p(|h| h.max_us, r.rtt)
    }),
    ("fan-out p50", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p50_us, r.fanout)
    }),
    ("fan-out p99", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p99_us, r.fanout)
    }),
    ("sessions/s", Better::Higher, Unit::Rate, |r| {
        nonzero(r.sessions_per_sec)
    }),
    ("session p50", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p50_us, r.session)
    }),
    ("session p99", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p99_us, r.session)
    }),
    ("results verified", Better::Neither, Unit::Count, |r| {
        nonzero(r.results_verified as f64)
    }),
    ("bad tokens refused/s", Better::Higher, Unit::Rate, |r| {
        nonzero(r.refused_per_sec)
    }),
    ("refusal p99", Better::Lower, Unit::Micros, |r| {
        p(|h| h.p99_us, r.refusal)
    }),
    ("errors", Better::Lower, Unit::Count, |r| {
        Some(r.error_total as f64)
    }),
    (
        "server CPU per 1k connects",
        Better::Lower,
        Unit::Millis,
        |r| r.server.cpu_per_1k_connects_ms,
    ),
    ("server CPU per 1M msgs", Better::Lower, Unit::Secs, |r| {
        r.server.cpu_per_1m_messages_secs
    }),
    ("server CPU per session", Better::Lower, Unit::Millis, |r| {
        r.server.cpu_per_session_ms
    }),
    (
        "server CPU (connect phase)",
        Better::Neither,
        Unit::Secs,
        |r| r.server.cpu_connect_secs,
    ),
    ("server CPU (run phase)", Better::Neither, Unit::Secs, |r| {
        r.server.cpu_run_secs
    }),
    (
        "client CPU (connect phase)",
        Better::Neither,
        Unit::Secs,
        |r| r.server.client_cpu_connect_secs,
    ),
    ("client CPU (run phase)", Better::Neither, Unit::Secs, |r| {
        r.server.client_cpu_run_secs
    }),
    ("server RSS at end", Better::Lower, Unit::Bytes, |r| {
        r.server.rss_end_bytes.map(|b| b as f64)
    }),
    (
        "server RSS per connection",
        Better::Lower,
        Unit::Bytes,
        |r| r.server.rss_per_connection_bytes,
    ),
];

fn fmt_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Count => format!("{v:.0}"),
        Unit::Rate if v >= 10_000.0 => format!("{:.1}k", v / 1e3),
        Unit::Rate => format!("{v:.0}"),
        Unit::Micros if v >= 10_000.0 => format!("{:.1} ms", v / 1e3),
        Unit::Micros if v >= 1_000.0 => format!("{:.2} ms", v / 1e3),
        Unit::Micros => format!("{v:.0} µs"),
        Unit::Millis => format!("{v:.1} ms"),
        Unit::Secs => format!("{v:.2} s"),
        Unit::Bytes if v.abs() >= 10.0 * 1024.0 * 1024.0 => format!("{:.0} MiB", v / 1048576.0),
        Unit::Bytes if v.abs() >= 10.0 * 1024.0 => format!("{:.1} KiB", v / 1024.0),
        Unit::Bytes => format!("{v:.0} B"),
    }
}

/// A text table: one column per report, then `first/other` ratio columns. Rows without any
/// value are left out; errors by kind and notes follow the table.
pub fn render_table(reports: &[Report]) -> String {
    let mut out = String::new();
    let Some(first) = reports.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "scenario {}: {} connections, sessions of {}, {} client threads, {:?}",
        first.scenario, first.connections, first.session_size, first.threads, first.pacing
    );
    let mut header: Vec<String> = vec!["metric".into()];
    header.extend(reports.iter().map(|r| r.target.clone()));
    header.extend(
        reports
            .iter()
            .skip(1)
            .map(|r| format!("{}/{}", first.target, r.target)),
    );
    let mut rows = vec![header];
    for (name, better, unit, get) in METRICS {
        let values: Vec<Option<f64>> = reports.iter().map(get).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let arrow = match better {
            Better::Higher => " ↑",
            Better::Lower => " ↓",
            Better::Neither => "",
        };
        let mut row = vec![format!("{name}{arrow}")];
        row.extend(
            values
                .iter()
                .map(|v| v.map_or_else(|| "-".to_owned(), |v| fmt_value(*unit, v))),
        );
        for other in values.iter().skip(1) {
            row.push(match (values[0], other, better) {
                (_, _, Better::Neither) => String::new(),
                (Some(a), Some(b), _) if *b != 0.0 => format!("{:.2}x", a / b),
                _ => "-".into(),
            });
        }
        rows.push(row);
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for r in reports {
        if !r.refused.is_empty() {
            let list: Vec<String> = r.refused.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "refused as expected ({}): {}",
                r.target,
                list.join(", ")
            );
        }
        if !r.errors.is_empty() {
            let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "errors ({}): {}", r.target, list.join(", "));
        }
        for n in &r.notes {
            let _ = writeln!(out, "note ({}): {n}", r.target);
        }
    }
    out
}

/// The machine a run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Available cores.
    pub nproc: usize,
    /// CPU model name, when `/proc/cpuinfo` has one.
    pub cpu: Option<String>,
}

impl Machine {
    /// This machine.
    pub fn this() -> Self {
        Self {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpu_model(),
        }
    }
}

/// Writes `{"machine":…, "reports":[…]}` to `path` (the `--json` file).
///
/// # Errors
/// The I/O error of writing the file.
pub fn write_json(path: &Path, reports: &[Report]) -> std::io::Result<()> {
    let doc = serde_json::json!({
        "tool": "jwt-game-server loadtest",
        "machine": Machine::this(),
        "reports": reports,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}
