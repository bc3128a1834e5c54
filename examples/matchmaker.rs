//! A rating-based 1v1 (and party-vs-party) matchmaker with two in-process game servers.
//!
//! ```text
//! cargo run --release --example matchmaker -- --bind 127.0.0.1:9100 [--keys login.jwks.json] \
//!     [--games 2] [--queues eu,us] [--no-show S] [--ticket-ttl S] [--sample-tokens N]
//! ```
//!
//! The first line on stdout is `listening on <addr>` (the matchmaker, with the real port when
//! bound to port 0); then one line `game <id> on <url>` per game-server instance.
//!
//! # The flow
//!
//! 1. A player (or every member of a party) connects to the matchmaker with a login token whose
//!    `sid` is the request id (a party id for parties) and whose claims may carry `rating`
//!    (default 1500) and `party_size` (default 1). Without `--keys`, an ephemeral login key is
//!    generated and `--sample-tokens` login tokens are printed to stderr.
//!    With `--queues`, the login token's `queue` claim names the queue (default: the first);
//!    each queue has its own pool thread, and requests of different queues never meet.
//! 2. When the party is complete the request enters its queue's pool. Requests of equal size
//!    are paired closest rating first; the acceptable gap starts at 50 and widens by 50 per
//!    second of waiting (`RatingMatchmaker`). Sending `{"type":"cancel"}`, or disconnecting,
//!    cancels.
//! 3. Each matched player receives one text message — its admission ticket, a JWT signed by the
//!    matchmaker's ticket key with `pid`, `sid` (the new game session), `aud` (the instance id),
//!    `url`, `roster`, `parties`, `match` — and the socket closes with 1000 `session_complete`.
//! 4. The player connects to the ticket's `url` with the ticket as its token. The game servers
//!    accept tickets for their own instance id only (`aud`), verified with the matchmaker's
//!    public key: no call back to the matchmaker, no shared state.
//! 5. The game (`{"type":"welcome",…}` on join, every text M relayed to all as
//!    `{"pid":P,"message":M}`, the text `{"type":"end","result":R}` ends it) is wrapped in
//!    `NoShow`: if someone on the roster has not arrived after `--no-show` seconds, the session
//!    ends with `{"status":"no_show","missing":[…],"arrived":[…]}` (rounded up to 10, 30 or 120 s).

use clap::Parser;
use jwt_game_server::matchmaking::RatingMatchmaker;
use jwt_game_server::{
    Admission, Ctx, Game, Instance, Keys, Message, NoShow, Player, Queues, Server, ServerHandle,
    Signer, TicketConfig, TokenSpec,
};
use serde_json::json;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs a rating matchmaker and its game servers.
#[derive(Debug, Parser)]
#[command(name = "matchmaker", version)]
struct Args {
    /// Address of the matchmaker (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9100")]
    bind: String,
    /// JWKS file with the keys that verify players' login tokens (default: a fresh key).
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// Number of in-process game-server instances.
    #[arg(long, default_value_t = 2)]
    games: usize,
    /// Comma-separated queue names (a login token's `queue` claim picks one; the first is the
    /// default).
    #[arg(
        long,
        value_name = "NAMES",
        default_value = "default",
        value_delimiter = ','
    )]
    queues: Vec<String>,
    /// Seconds a matched game waits for its whole roster (rounded up to 10, 30 or 120: the
    /// deadline is a type parameter of `NoShow`).
    #[arg(long, value_name = "S", default_value_t = 30)]
    no_show: u64,
    /// Lifetime of admission tickets, in seconds.
    #[arg(long, value_name = "S", default_value_t = 60)]
    ticket_ttl: u64,
    /// Sample login tokens to print to stderr when the login key is generated.
    #[arg(long, value_name = "N", default_value_t = 2)]
    sample_tokens: usize,
}

/// The demo chat, for ticket holders.
#[derive(Debug, Default)]
struct MatchChat;

impl Game for MatchChat {
    type Claims = Admission;

    fn start(_first: &Player<Admission>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_join(&mut self, p: &Player<Admission>, ctx: &mut Ctx<'_>) {
        let welcome = json!({"type": "welcome", "pid": p.id(), "sid": p.session(),
            "roster": p.claims().roster, "match": p.claims().match_data});
        ctx.send(p.id(), welcome);
    }

    fn on_message(&mut self, p: &Player<Admission>, m: &Message, ctx: &mut Ctx<'_>) {
        let Some(text) = m.as_text() else { return };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if v.get("type").and_then(|t| t.as_str()) == Some("end") {
                ctx.end(v.get("result").cloned().unwrap_or_default());
                return;
            }
        }
        ctx.broadcast(json!({"pid": p.id(), "message": text}));
    }
}

/// The game servers' game; the no-show deadline is a type parameter, so pick one per flag.
fn start_game(
    deadline_s: u64,
    ticket_keys: Keys,
    id: &str,
) -> Result<ServerHandle, Box<dyn std::error::Error>> {
    let b = Server::builder()
        .bind("127.0.0.1:0")
        .keys(ticket_keys)
        .tokens(TokenSpec::default().audience(id))
        .result_signer(Signer::generate_ed25519(&format!("{id}-results"))?)
        .io_threads(1)
        .workers(1);
    Ok(match deadline_s {
        0..=10 => b.game::<NoShow<MatchChat, 10_000>>().build()?.start()?,
        11..=30 => b.game::<NoShow<MatchChat, 30_000>>().build()?.start()?,
        _ => b.game::<NoShow<MatchChat, 120_000>>().build()?.start()?,
    })
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let ticket_signer = Signer::generate_ed25519("mm-tickets")?;
    let mut games = Vec::new();
    let mut instances = Vec::new();
    for i in 0..args.games.max(1) {
        let id = format!("game-{i}");
        let h = start_game(args.no_show, ticket_signer.verification_keys(), &id)?;
        instances.push(Instance::new(id, format!("ws://{}/play", h.local_addr())));
        games.push(h);
    }
    let (keys, login) = match &args.keys {
        Some(path) => (Keys::from_jwks_file(path)?, None),
        None => {
            let s = Signer::generate_ed25519("login")?;
            (s.verification_keys(), Some(s))
        }
    };
    let tickets = TicketConfig::new(ticket_signer, instances.clone())?
        .ttl(Duration::from_secs(args.ticket_ttl));
    let mm = Server::builder()
        .bind(args.bind.clone())
        .keys(keys)
        .tokens(TokenSpec::default())
        .result_signer(Signer::generate_ed25519("mm-results")?)
        .matchmaker_queues(
            Queues::new(args.queues.clone())?,
            |_queue| RatingMatchmaker::default(),
            tickets,
        )
        .build()?
        .start()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", mm.local_addr())?;
    for inst in &instances {
        writeln!(out, "game {} on {}", inst.id, inst.url)?;
    }
    out.flush()?;
    drop(out);
    if let Some(login) = login {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        for i in 0..args.sample_tokens {
            let queue = &args.queues[i % args.queues.len().max(1)];
            let claims = json!({"pid": format!("player-{i}"), "sid": format!("request-{i}"),
                "rating": 1500 + 10 * i, "queue": queue});
            let serde_json::Value::Object(map) = claims else {
                continue;
            };
            eprintln!(
                "login token for player-{i}: {}",
                login.sign("JWT", map, now, 3600)
            );
        }
    }
    mm.wait();
    for g in games {
        g.shutdown();
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("matchmaker: {e}");
            ExitCode::FAILURE
        }
    }
}
