//! The included load-test harness.
//!
//! With no arguments it starts an embedded server (fresh key, 127.0.0.1, any port) and runs a
//! small fixed workload — `connect` with 2,000 connections, then `echo` with 1,000 connections
//! for 5 s — printing a live progress line on stderr and a table on stdout.
//!
//! ```text
//! cargo run --release --features loadtest --example loadtest
//! cargo run --release --features loadtest --example loadtest -- \
//!     --scenario echo --connections 1000 --rate 50000 --compare floor,baseline --json echo.json
//! cargo run --release --features loadtest --example loadtest -- \
//!     --url ws://127.0.0.1:9000/ --key login.jwk --server-pid 1234 --scenario idle
//! ```
//! `--compare baseline` needs `target/release/examples/baseline_tokio`
//! (`cargo build --release --examples`).

use clap::Parser;
use jwt_game_server::Signer;
use jwt_game_server::loadtest::{
    self, GameKind, LaunchOptions, LoadConfig, LoadError, Pacing, Report, Scenario, ServerKind,
    ServerProbe, Target, TokenMint, TokenVia, floor::FloorHandle,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Load-test a jwt-game-server (embedded by default, or a running one with --url).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Scenarios to run, comma-separated: connect, echo, chat, churn, bad-tokens, idle.
    #[arg(long, default_value = "connect,echo", value_delimiter = ',')]
    scenario: Vec<String>,
    /// Connections (default per scenario: connect 2000, echo/chat/bad-tokens 1000,
    /// churn 200, idle 10000). A list (`100,1000,5000`) runs each scenario at each count.
    #[arg(long, value_delimiter = ',')]
    connections: Vec<usize>,
    /// Players per session.
    #[arg(long, default_value_t = 4)]
    session_size: usize,
    /// Run-phase seconds (default: connect 1, idle 10, others 5).
    #[arg(long)]
    duration: Option<f64>,
    /// Open loop: messages per second in total (latency from intended send times).
    #[arg(long)]
    rate: Option<f64>,
    /// Closed loop: outstanding messages per connection.
    #[arg(long, default_value_t = 1)]
    window: u32,
    /// Client event-loop threads (default: half the cores, at least 1).
    #[arg(long)]
    threads: Option<usize>,
    /// Message size in bytes.
    #[arg(long, default_value_t = 32)]
    message_bytes: usize,
    /// Where tokens go: header, query or message.
    #[arg(long, default_value = "header")]
    token_via: String,
    /// bad-tokens: fraction of connects with a bad token.
    #[arg(long, default_value_t = 0.5)]
    bad_fraction: f64,
    /// Connects in flight per client thread.
    #[arg(long, default_value_t = 256)]
    connect_window: usize,
    /// Seconds a connection may take to become ready.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// The demo game (default: chat for connect/chat/churn, echo otherwise).
    #[arg(long)]
    game: Option<String>,
    /// Target a running server instead of an embedded one (ws://host:port/path).
    #[arg(long, requires = "key")]
    url: Option<String>,
    /// With --url: a private JWK (or JWKS with one key) that signs login tokens.
    #[arg(long)]
    key: Option<PathBuf>,
    /// With --url: the `iss` to put in tokens.
    #[arg(long)]
    issuer: Option<String>,
    /// With --url: the `aud` to put in tokens.
    #[arg(long)]
    audience: Option<String>,
    /// With --url: the server's PID, for CPU and RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also run each scenario against these, side by side: floor, baseline.
    #[arg(long, value_delimiter = ',')]
    compare: Vec<String>,
    /// I/O threads of our server.
    #[arg(long)]
    io_threads: Option<usize>,
    /// Workers of our server.
    #[arg(long)]
    workers: Option<usize>,
    /// Our server with workers on threads of their own, not on its I/O threads.
    #[arg(long)]
    split_workers: bool,
    /// Runtime threads of the tokio baseline.
    #[arg(long)]
    baseline_threads: Option<usize>,
    /// Sign login tokens with HS256 instead of Ed25519.
    #[arg(long)]
    hs256: bool,
    /// Run our server (the `serve` example) and the floor as child processes, so their CPU
    /// and RSS are measured alone.
    #[arg(long)]
    isolate: bool,
    /// Where the example binaries are (default: next to this one).
    #[arg(long)]
    examples_dir: Option<PathBuf>,
    /// Write every report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write an SVG of round-trip p50/p99 against connection count (use with a list of
    /// --connections and an echo or chat scenario).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
    /// Do not bind client sockets to sources spread over 127.0.0.0/8.
    #[arg(long)]
    no_spread: bool,
    /// Internal: run the floor server on --bind and print `listening on <addr>`.
    #[arg(long, hide = true)]
    serve_floor: bool,
    /// Internal: the floor's bind address.
    #[arg(long, hide = true, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.serve_floor {
        return serve_floor(args.bind);
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve_floor(bind: SocketAddr) -> ExitCode {
    match FloorHandle::start(bind) {
        Ok(floor) => {
            println!("listening on {}", floor.local_addr());
            let _ = std::io::stdout().flush();
            match floor.wait() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("floor: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::from(2)
        }
    }
}

fn config_for(
    args: &Args,
    scenario: Scenario,
    connections: Option<usize>,
) -> Result<LoadConfig, LoadError> {
    let mut c = LoadConfig::new(scenario);
    if let Some(n) = connections {
        c.connections = n;
    }
    c.session_size = args.session_size;
    c.duration = match (args.duration, scenario) {
        (Some(s), _) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s),
        (Some(_), _) => return Err(LoadError::Config("duration must be >= 0".into())),
        (None, Scenario::Connect) => Duration::from_secs(1),
        (None, Scenario::Idle) => Duration::from_secs(10),
        (None, _) => Duration::from_secs(5),
    };
    c.pacing = match args.rate {
        Some(rate) => Pacing::Open { rate },
        None => Pacing::Closed {
            window: args.window,
        },
    };
    if let Some(t) = args.threads {
        c.threads = t;
    }
    c.message_bytes = args.message_bytes;
    c.token_via = args.token_via.parse::<TokenVia>()?;
    c.bad_fraction = args.bad_fraction;
    c.connect_window = args.connect_window;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(LoadError::Config("timeout must be > 0".into()));
    }
    c.connect_timeout = Duration::from_secs_f64(args.timeout);
    c.spread_sources = !args.no_spread;
    c.progress = !args.quiet;
    c.validate()?;
    Ok(c)
}

fn remote_target(args: &Args, url: &str, game: GameKind) -> Result<Target, LoadError> {
    let key = args
        .key
        .as_ref()
        .ok_or_else(|| LoadError::Config("--url needs --key".into()))?;
    let mut tokens = TokenMint::new(Signer::from_jwk_file(key)?)?;
    if let Some(i) = &args.issuer {
        tokens = tokens.issuer(i.clone());
    }
    if let Some(a) = &args.audience {
        tokens = tokens.audience(a.clone());
    }
    let mut target = Target::remote(url, tokens, game)?;
    if let Some(pid) = args.server_pid {
        target.probe = ServerProbe::Pid(pid);
    }
    Ok(target)
}

/// Runs one scenario against one server; the server is stopped before returning.
fn run_one(
    args: &Args,
    scenario: Scenario,
    connections: Option<usize>,
    kind: Option<ServerKind>,
    game: GameKind,
) -> Result<Report, LoadError> {
    let config = config_for(args, scenario, connections)?;
    match kind {
        None => {
            let url = args.url.as_deref().unwrap_or_default();
            loadtest::run(&config, &remote_target(args, url, game)?)
        }
        Some(kind) => {
            let opts = LaunchOptions {
                game,
                io_threads: args.io_threads,
                workers: args.workers,
                split_workers: args.split_workers,
                baseline_threads: args.baseline_threads,
                hs256: args.hs256,
                isolate: args.isolate,
                examples_dir: args.examples_dir.clone(),
            };
            let server = loadtest::launch(kind, &opts)?;
            loadtest::run(&config, &server.target)
        }
    }
}

fn run(args: &Args) -> Result<bool, LoadError> {
    let scenarios: Vec<Scenario> = args
        .scenario
        .iter()
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut others = Vec::new();
    for c in &args.compare {
        match c.trim() {
            "floor" => others.push(ServerKind::Floor),
            "baseline" => others.push(ServerKind::Baseline),
            "" => {}
            x => {
                return Err(LoadError::Config(format!(
                    "unknown --compare target `{x}` (expected floor, baseline)"
                )));
            }
        }
    }
    let game_override = args
        .game
        .as_deref()
        .map(str::parse::<GameKind>)
        .transpose()?;
    let machine = loadtest::Machine::this();
    println!(
        "machine: {} cores, {}",
        machine.nproc,
        machine.cpu.as_deref().unwrap_or("unknown CPU")
    );
    let mut all = Vec::new();
    let mut ok = true;
    let counts: Vec<Option<usize>> = if args.connections.is_empty() {
        vec![None]
    } else {
        args.connections.iter().copied().map(Some).collect()
    };
    let first = if args.url.is_some() {
        None
    } else {
        Some(ServerKind::Ours)
    };
    for scenario in scenarios {
        let game = game_override.unwrap_or(scenario.game());
        for &count in &counts {
            let mut reports = Vec::new();
            let kinds = std::iter::once(first).chain(others.iter().copied().map(Some));
            for kind in kinds {
                // The floor only echoes: it plays connect, echo and idle as an echo server.
                let game = if kind == Some(ServerKind::Floor) {
                    GameKind::Echo
                } else {
                    game
                };
                match run_one(args, scenario, count, kind, game) {
                    Ok(r) => reports.push(r),
                    Err(e @ LoadError::Unsupported { .. }) => eprintln!("skipped: {e}"),
                    Err(e) => {
                        eprintln!(
                            "{} against {}: {e}",
                            scenario,
                            kind.map_or("the URL", ServerKind::name)
                        );
                        ok = false;
                    }
                }
            }
            if !reports.is_empty() {
                println!();
                print!("{}", loadtest::render_table(&reports));
            }
            all.extend(reports);
        }
    }
    if let Some(path) = &args.json {
        loadtest::write_json(path, &all)?;
        println!("\nwrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        match loadtest::rtt_svg(&all) {
            Some(svg) => {
                std::fs::write(path, svg)?;
                println!("wrote {}", path.display());
            }
            None => eprintln!("no round trips measured: no plot written"),
        }
    }
    Ok(ok && !all.is_empty())
}
