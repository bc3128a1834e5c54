//! A runnable demo server: the one the README, the load-test harness and the tests start.
//!
//! Its command line is a public contract:
//!
//! ```text
//! cargo run --release --example serve -- --bind 127.0.0.1:0 --keys login.jwks.json \
//!     --result-key result.jwk [--issuer I] [--audience A] [--leeway S] [--max-lifetime S] \
//!     [--archive-ttl S] [--io-threads N] [--workers N] [--game chat|echo]
//! ```
//!
//! The first line on stdout is `listening on <addr>` (with the real port when bound to port 0);
//! then a line of counters goes to stderr every few seconds (`--stats-interval`, 0 for none)
//! until the process is killed. Library diagnostics go to stderr at the level named by
//! `RUST_LOG` (`error`, `warn` (default), `info`, `debug`, `trace`).
//!
//! Games (see `jwt_game_server::demo`): `chat` (default) welcomes each player with
//! `{"type":"welcome","pid":P,"sid":S}`, broadcasts each text M from P as
//! `{"pid":P,"message":M}` and ends the session on `{"type":"end","result":R}`; `echo` sends
//! every message back to its sender.
//!
//! Make keys with the `keygen` example and tokens with the `token` example:
//!
//! ```text
//! cargo run --example keygen -- --out keys
//! cargo run --release --example serve -- --bind 127.0.0.1:9000 \
//!     --keys keys/login.jwks.json --result-key keys/result.jwk
//! cargo run --example token -- --key keys/login.jwk --pid alice --sid room-1
//! ```

use clap::{Parser, ValueEnum};
use jwt_game_server::demo::{Chat, Echo};
use jwt_game_server::{Game, Keys, Server, Signer, Stats, TokenSpec};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The demo games.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GameKind {
    /// Welcome, broadcast, end on request.
    Chat,
    /// Every message back to its sender.
    Echo,
}

/// Runs a demo WebSocket game server with JWT admission and signed session results.
#[derive(Debug, Parser)]
#[command(name = "serve", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port; see the `listening on` line).
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: String,
    /// JWKS file with the keys that verify login tokens (Ed25519 public keys, HS256 secrets).
    #[arg(long, value_name = "FILE")]
    keys: PathBuf,
    /// Private JWK file of the key that signs result tokens.
    #[arg(long, value_name = "FILE")]
    result_key: PathBuf,
    /// Accept only login tokens with this `iss` (repeat to accept several).
    #[arg(long, value_name = "I")]
    issuer: Vec<String>,
    /// Accept only login tokens whose `aud` contains this (repeat to accept several).
    #[arg(long, value_name = "A")]
    audience: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default 30).
    #[arg(long, value_name = "S")]
    leeway: Option<u64>,
    /// Longest accepted login-token lifetime (`exp - iat`), in seconds (default 86400).
    #[arg(long, value_name = "S")]
    max_lifetime: Option<u64>,
    /// How long ended sessions are remembered, in seconds (default and minimum: max lifetime +
    /// leeway).
    #[arg(long, value_name = "S")]
    archive_ttl: Option<u64>,
    /// I/O event-loop threads (default: available cores).
    #[arg(long, value_name = "N")]
    io_threads: Option<usize>,
    /// Session worker threads (default: available cores).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Run workers on threads of their own instead of on the I/O threads (see
    /// `ServerBuilder::colocate_workers`).
    #[arg(long)]
    split_workers: bool,
    /// The game to serve.
    #[arg(long, value_enum, default_value_t = GameKind::Chat)]
    game: GameKind,
    /// The `iss` of result tokens.
    #[arg(long, value_name = "I")]
    result_issuer: Option<String>,
    /// Pin each thread to a core.
    #[arg(long)]
    pin_cores: bool,
    /// Seconds between stats lines on stderr (0: none).
    #[arg(long, value_name = "S", default_value_t = 5)]
    stats_interval: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    StderrLogger::install();
    let outcome = match args.game {
        GameKind::Chat => run::<Chat>(&args),
        GameKind::Echo => run::<Echo>(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The token spec the flags describe.
fn token_spec(args: &Args) -> TokenSpec {
    let mut spec = TokenSpec::default();
    for issuer in &args.issuer {
        spec = spec.issuer(issuer.clone());
    }
    for audience in &args.audience {
        spec = spec.audience(audience.clone());
    }
    if let Some(leeway) = args.leeway {
        spec = spec.leeway(Duration::from_secs(leeway));
    }
    if let Some(max) = args.max_lifetime {
        spec = spec.max_lifetime(Some(Duration::from_secs(max)));
    }
    spec
}

fn run<G: Game>(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let keys = Keys::from_jwks_file(&args.keys)?;
    let result_signer = Signer::from_jwk_file(&args.result_key)?;
    let mut builder = Server::builder()
        .bind(args.bind.clone())
        .keys(keys)
        .tokens(token_spec(args))
        .result_signer(result_signer)
        .pin_cores(args.pin_cores);
    if let Some(ttl) = args.archive_ttl {
        builder = builder.archive_ttl(Duration::from_secs(ttl));
    }
    if let Some(n) = args.io_threads {
        builder = builder.io_threads(n);
    }
    if let Some(n) = args.workers {
        builder = builder.workers(n);
    }
    if args.split_workers {
        builder = builder.colocate_workers(false);
    }
    if let Some(issuer) = &args.result_issuer {
        builder = builder.result_issuer(issuer.clone());
    }
    let server = builder.game::<G>().build()?.start()?;

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    stdout.flush()?;
    drop(stdout);

    if args.stats_interval == 0 {
        server.wait();
        return Ok(());
    }
    let every = Duration::from_secs(args.stats_interval);
    loop {
        std::thread::sleep(every);
        eprintln!("{}", stats_line(&server.stats()));
    }
}

/// One line of counters.
fn stats_line(s: &Stats) -> String {
    format!(
        "stats: open={} accepted={} authenticated={} auth_failures={} sessions_live={} \
         started={} ended={} archived={} messages_in={} messages_out={} result_tokens={} \
         slow_consumers_closed={} game_panics={}",
        s.connections_open,
        s.connections_accepted,
        s.connections_authenticated,
        s.auth_failures,
        s.sessions_live,
        s.sessions_started,
        s.sessions_ended,
        s.sessions_archived,
        s.messages_in,
        s.messages_out,
        s.result_tokens,
        s.slow_consumers_closed,
        s.game_panics,
    )
}

/// A minimal `log` backend: one line per record on stderr, level from `RUST_LOG`.
struct StderrLogger;

impl StderrLogger {
    fn install() {
        let level = std::env::var("RUST_LOG")
            .ok()
            .and_then(|v| v.trim().parse::<log::LevelFilter>().ok())
            .unwrap_or(log::LevelFilter::Warn);
        static LOGGER: StderrLogger = StderrLogger;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(level);
        }
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{} {}: {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}
