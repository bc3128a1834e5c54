//! The orchestrator: starts the client threads, steps them through the phases (connect, run,
//! drain, close) with a deadline on each, samples the server at the phase boundaries, and
//! turns the merged measurements into a [`Report`].

use crate::jwt::{TokenSpec, Verifier};
use crate::loadtest::client::{Shared, run_thread};
use crate::loadtest::control::{Control, Phase, Totals};
use crate::loadtest::fdlimit::raise_fd_limit;
use crate::loadtest::procstat::{ServerProbe, current_tid};
use crate::loadtest::recorder::Recorder;
use crate::loadtest::report::{Report, ServerUsage};
use crate::loadtest::{GameKind, LoadConfig, LoadError, Scenario, Target, addr};
use std::io::Write;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::protocol::WebSocketConfig;

/// How often the orchestrator looks at the counters (and redraws the progress line).
const TICK: Duration = Duration::from_millis(10);
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// How long the close phase may take before threads are told to stop.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Runs `config` against `target` and reports what happened.
///
/// Connection failures are not errors of this function: they are counted by kind in the
/// report. The run is bounded: the connect phase by `connect_phase_timeout`, the run phase by
/// `duration`, the drain by `drain`, the close by 5 s, and every client thread by a hard
/// deadline of their sum plus a minute.
///
/// # Errors
/// [`LoadError::Config`] for bad numbers, [`LoadError::Unsupported`] when the target cannot
/// play the scenario, [`LoadError::Io`] when threads cannot be started.
pub fn run(config: &LoadConfig, target: &Target) -> Result<Report, LoadError> {
    config.validate()?;
    check_support(config.scenario, target)?;
    let mut notes = Vec::new();
    let in_process = target.probe == ServerProbe::InProcess;
    let need = config.connections as u64 * if in_process { 2 } else { 1 } + 64;
    match raise_fd_limit(need) {
        Ok(limit) if limit < need => notes.push(format!(
            "open-file limit is {limit}, below the {need} this run needs: raise it (ulimit -n) or run as root"
        )),
        Ok(_) => {}
        Err(e) => notes.push(format!("could not raise the open-file limit: {e}")),
    }
    if in_process && target.probe != ServerProbe::None {
        notes.push("server runs in the harness process: RSS includes the client's memory".into());
    }
    let results = match &target.result_keys {
        Some(keys) => Some(Verifier::for_results(
            keys.clone(),
            TokenSpec::default().max_lifetime(None),
        )?),
        None => None,
    };
    let epoch = Instant::now();
    let nonce = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() & 0xffff_ffff)
    );
    let hard_deadline = epoch
        + config.connect_phase_timeout
        + config.duration
        + config.drain
        + CLOSE_WAIT
        + Duration::from_secs(60);
    let shared = Arc::new(Shared {
        config: config.clone(),
        addr: target.addr,
        host: target.host.clone(),
        path: target.path.clone(),
        tokens: target.tokens.clone(),
        welcome: target.sends_welcome,
        results,
        control: Control::new(config.threads),
        epoch,
        nonce,
        spread: config.spread_sources && addr::can_spread(&target.addr),
        ws_config: client_ws_config(),
        hard_deadline,
    });
    let tids = Arc::new(Mutex::new(Vec::new()));
    if let Some(tid) = current_tid() {
        lock(&tids).push(tid);
    }
    let barrier = Arc::new(Barrier::new(config.threads + 1));
    let mut handles = Vec::with_capacity(config.threads);
    for t in 0..config.threads {
        let (sh, b, ids) = (Arc::clone(&shared), Arc::clone(&barrier), Arc::clone(&tids));
        let spawned = std::thread::Builder::new()
            .name(format!("loadtest-{t}"))
            .spawn(move || {
                if let Some(tid) = current_tid() {
                    lock(&ids).push(tid);
                }
                run_thread(sh, t, b)
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                // The threads already started wait at the barrier forever otherwise: release
                // them into an immediate stop.
                shared.control.set_phase(Phase::Stop);
                for _ in handles.len()..config.threads {
                    let b = Arc::clone(&barrier);
                    std::thread::spawn(move || b.wait());
                }
                barrier.wait();
                for h in handles {
                    let _ = h.join();
                }
                return Err(LoadError::Io(e));
            }
        }
    }
    barrier.wait();
    let orch = Orchestrator {
        sh: &shared,
        tids: &tids,
        probe: &target.probe,
        label: format!("{} {}", config.label, target.name),
        progress: config.progress,
    };
    let m = orch.phases();
    let mut rec = Recorder::default();
    for h in handles {
        match h.join() {
            Ok(r) => rec.merge(&r),
            Err(_) => rec.error("client_thread_panicked"),
        }
    }
    if config.progress {
        eprintln!();
    }
    Ok(build_report(config, target, &rec, &m, notes))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Client sockets: small read buffer (thousands of connections per thread), no eager writes.
fn client_ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_write_buffer_size(4 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

fn check_support(scenario: Scenario, target: &Target) -> Result<(), LoadError> {
    let unsupported = |reason| {
        Err(LoadError::Unsupported {
            scenario: scenario.name(),
            target: target.name.clone(),
            reason,
        })
    };
    match scenario {
        Scenario::Chat if target.game != GameKind::Chat => {
            unsupported("needs the chat game (broadcast)")
        }
        Scenario::Churn if !target.ends_sessions || target.game != GameKind::Chat => {
            unsupported("needs the chat game with session results")
        }
        Scenario::Churn if target.result_keys.is_none() => {
            unsupported("needs the server's result keys")
        }
        Scenario::BadTokens if !target.authenticates => unsupported("does not check tokens"),
        _ => Ok(()),
    }
}

/// What the orchestrator measured at the phase boundaries.
#[derive(Debug, Default)]
pub(crate) struct Moments {
    pub(crate) connect_secs: f64,
    pub(crate) connected_in_phase: u64,
    pub(crate) run_secs: f64,
    pub(crate) run_start: Totals,
    pub(crate) run_end: Totals,
    pub(crate) samples: [crate::loadtest::procstat::Sample; 4],
}

struct Orchestrator<'a> {
    sh: &'a Shared,
    tids: &'a Mutex<Vec<u32>>,
    probe: &'a ServerProbe,
    label: String,
    progress: bool,
}

impl Orchestrator<'_> {
    fn sample(&self) -> crate::loadtest::procstat::Sample {
        self.probe.sample(&lock(self.tids))
    }

    fn phases(&self) -> Moments {
        let c = &self.sh.control;
        let mut m = Moments::default();
        m.samples[0] = self.sample();
        let connect_start = Instant::now();
        c.set_phase(Phase::Connect);
        self.wait(
            "connect",
            connect_start + self.sh.config.connect_phase_timeout,
            None,
            |c| c.all(|p| &p.connect_done),
        );
        let totals = c.totals();
        m.connected_in_phase = totals.connected;
        let start_ns = self.sh.ns_since_epoch(connect_start);
        m.connect_secs = if totals.last_ready_ns > start_ns {
            (totals.last_ready_ns - start_ns) as f64 / 1e9
        } else {
            connect_start.elapsed().as_secs_f64()
        };
        m.samples[1] = self.sample();

        m.run_start = c.totals();
        let run_start = Instant::now();
        c.run_start_ns.store(
            self.sh.ns_since_epoch(run_start),
            std::sync::atomic::Ordering::Relaxed,
        );
        c.set_phase(Phase::Run);
        let duration = self.sh.config.duration;
        self.wait(
            "run",
            run_start + duration,
            Some((run_start, duration)),
            |c| c.all(|p| &p.finished),
        );
        m.run_end = c.totals();
        m.run_secs = run_start.elapsed().as_secs_f64();
        m.samples[2] = self.sample();

        c.set_phase(Phase::Drain);
        self.wait("drain", Instant::now() + self.sh.config.drain, None, |c| {
            c.all(|p| &p.drained)
        });
        m.samples[3] = self.sample();
        c.set_phase(Phase::Close);
        self.wait("close", Instant::now() + CLOSE_WAIT, None, |c| {
            c.all(|p| &p.finished)
        });
        c.set_phase(Phase::Stop);
        m
    }

    /// Waits until `done` or `deadline`, redrawing the progress line.
    fn wait(
        &self,
        phase: &str,
        deadline: Instant,
        clock: Option<(Instant, Duration)>,
        done: impl Fn(&Control) -> bool,
    ) {
        let mut last_draw: Option<Instant> = None;
        let mut last_totals = self.sh.control.totals();
        loop {
            let now = Instant::now();
            if now >= deadline || done(&self.sh.control) {
                break;
            }
            if self.progress && last_draw.is_none_or(|t| now - t >= PROGRESS_EVERY) {
                let totals = self.sh.control.totals();
                let dt = last_draw.map_or(0.0, |t| (now - t).as_secs_f64());
                let rate = if dt > 0.0 {
                    (totals.received - last_totals.received) as f64 / dt
                } else {
                    0.0
                };
                self.draw(phase, &totals, rate, clock);
                last_totals = totals;
                last_draw = Some(now);
            }
            std::thread::sleep(TICK.min(deadline - now));
        }
    }

    fn draw(&self, phase: &str, t: &Totals, rate: f64, clock: Option<(Instant, Duration)>) {
        let time = clock.map_or(String::new(), |(start, d)| {
            format!(
                " {:.1}/{:.0}s",
                start.elapsed().as_secs_f64(),
                d.as_secs_f64()
            )
        });
        let line = format!(
            "\r[{}] {phase}{time}  ready {}/{}  open {}  sent {}  recv {} ({:.0}/s)  sessions {}  refused {}  failed {}  errors {}   ",
            self.label,
            t.connected,
            self.sh.config.connections,
            t.open,
            t.sent,
            t.received,
            rate,
            t.sessions,
            t.refused,
            t.failed,
            t.errors,
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }
}

fn build_report(
    config: &LoadConfig,
    target: &Target,
    rec: &Recorder,
    m: &Moments,
    notes: Vec<String>,
) -> Report {
    let [s0, s1, s2, s3] = m.samples;
    let delta = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    let cpu_connect = delta(s0.cpu_secs, s1.cpu_secs);
    let cpu_run = delta(s1.cpu_secs, s3.cpu_secs);
    let per =
        |cpu: Option<f64>, n: u64, scale: f64| cpu.filter(|_| n > 0).map(|c| c / n as f64 * scale);
    let connected = m.connected_in_phase;
    let rss_per_connection = match (s0.rss_bytes, s2.rss_bytes) {
        (Some(a), Some(b)) if connected > 0 => Some((b as f64 - a as f64) / connected as f64),
        _ => None,
    };
    let server = ServerUsage {
        probe: target.probe.clone(),
        cpu_connect_secs: cpu_connect,
        cpu_per_1k_connects_ms: per(cpu_connect, connected, 1e6),
        cpu_run_secs: cpu_run,
        cpu_per_1m_messages_secs: per(cpu_run, rec.sent, 1e6),
        cpu_per_session_ms: per(cpu_run, rec.sessions, 1e3),
        rss_before_bytes: s0.rss_bytes,
        rss_connected_bytes: s1.rss_bytes,
        rss_end_bytes: s2.rss_bytes,
        rss_per_connection_bytes: rss_per_connection,
        client_cpu_connect_secs: delta(s0.client_cpu_secs, s1.client_cpu_secs),
        client_cpu_run_secs: delta(s1.client_cpu_secs, s3.client_cpu_secs),
    };
    Report::new(config, target, rec, m, server, notes)
}
