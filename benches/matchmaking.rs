//! Matchmaking benches (issue 4 targets), one run, two parts:
//!
//! 1. **Throughput through the pool** (criterion, one core): enqueue a batch of requests with
//!    spread-out ratings and run a matcher through `Pool::run` (which validates the matches and
//!    removes the matched requests) until the batch is matched. `rating_pool` is the rating
//!    example; `fifo_pool` pairs in pool order and is the same-run floor of the pool's own cost.
//!    `ticket/sign_one` is one admission ticket's signature: the cost that request sessions pay
//!    on their workers (not the pool thread) per matched player.
//! 2. **Latency, second compatible request → both tickets delivered** (a plain timed loop over
//!    real sockets on 127.0.0.1, printed as a table): a matchmaking server with the rating
//!    matchmaker; for each of `PAIRS` pairs, player 1 connects, then player 2; the time runs
//!    from just before player 2's handshake (its token is in the `Authorization` header) and
//!    from player 2's completed upgrade, to both tickets received. Same-run reference: player
//!    2's handshake alone.
//!
//! Run: `cargo bench --bench matchmaking` (about 40 s). A filter (`cargo bench --bench
//! matchmaking -- latency`) selects the parts whose names contain it.

use criterion::{BenchmarkId, Criterion, Throughput};
use jwt_game_server::matchmaking::{Pool, RatedClaims, RatingMatchmaker};
use jwt_game_server::{
    Instance, Match, Matchmaker, Player, Server, ServerHandle, Signer, TicketConfig, TokenSpec,
    Verifier, Waiting,
};
use std::hint::black_box;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::client::IntoClientRequest as _;

/// Pairs measured by the latency part (each takes a few ms).
const PAIRS: usize = 300;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Distinct verified players (reused across request ids; the matchers read only the rating).
fn players(n: usize) -> Vec<Player<RatedClaims>> {
    let now = unix_now();
    let signer = Signer::generate_ed25519("bench").expect("key");
    let verifier: Verifier<RatedClaims> =
        Verifier::new(signer.verification_keys(), TokenSpec::default()).expect("verifier");
    // A cheap deterministic spread of ratings over 0..3000 (LCG).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let rating = (x >> 33) % 3000;
            let claims = serde_json::json!({"pid": format!("p{i}"), "sid": format!("r{i}"),
                "rating": rating});
            let serde_json::Value::Object(map) = claims else {
                unreachable!()
            };
            let token = signer.sign("JWT", map, now, 600);
            Player::from(verifier.verify(&token, now).expect("verifies"))
        })
        .collect()
}

/// The same-run floor: pairs requests in pool order, ignoring ratings.
struct Fifo;

impl Matchmaker for Fifo {
    type Claims = RatedClaims;

    fn find_matches(&mut self, pool: &[Waiting<RatedClaims>], _now_ms: u64) -> Vec<Match> {
        pool.chunks_exact(2)
            .map(|pair| Match {
                requests: vec![pair[0].id.clone(), pair[1].id.clone()],
                data: serde_json::Value::Null,
            })
            .collect()
    }
}

/// Enqueues `ids` and runs `mm` (waiting time +1 s per round, so the rating window widens)
/// until fewer than 2 requests remain; returns the number of matches.
fn enqueue_and_match<M: Matchmaker<Claims = RatedClaims>>(
    mut mm: M,
    ids: &[String],
    ps: &[Player<RatedClaims>],
) -> usize {
    let mut pool = Pool::new();
    for (i, id) in ids.iter().enumerate() {
        pool.enqueue(id.clone(), None, vec![ps[i % ps.len()].clone()], 0);
    }
    let mut matched = 0;
    for round in 0..40u64 {
        matched += pool.run(&mut mm, round * 1000).len();
        if pool.len() < 2 {
            break;
        }
    }
    matched
}

fn throughput(c: &mut Criterion) {
    let ps = players(1000);
    let ids: Vec<String> = (0..100_000).map(|i| format!("req-{i}")).collect();
    for name in ["rating_pool", "fifo_pool"] {
        let mut group = c.benchmark_group(name);
        for &n in &[1_000usize, 10_000, 100_000] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("enqueue_and_match", n), &n, |b, &n| {
                b.iter(|| match name {
                    "rating_pool" => black_box(enqueue_and_match(
                        RatingMatchmaker::default(),
                        &ids[..n],
                        &ps,
                    )),
                    _ => black_box(enqueue_and_match(Fifo, &ids[..n], &ps)),
                });
            });
        }
        group.finish();
    }
    let signer = Signer::generate_ed25519("tickets").expect("key");
    let claims = serde_json::json!({"sid": "Zm9vYmFyYmF6cXV4cXV1eA", "aud": "gs-a",
        "url": "ws://10.0.0.7:9000/play", "roster": ["p1", "p2"], "parties": [["p1"], ["p2"]],
        "match": {"mode": "1v1", "ratings": [1500.0, 1510.0]}, "pid": "p1"});
    let serde_json::Value::Object(map) = claims else {
        unreachable!()
    };
    let now = unix_now();
    c.bench_function("ticket/sign_one", |b| {
        b.iter(|| black_box(signer.sign("JWT", map.clone(), now, 60)));
    });
}

/// The matchmaking server of the latency part, and its players' login key.
fn latency_server(interval: Duration) -> (ServerHandle, Signer) {
    let login = Signer::generate_ed25519("login").expect("key");
    let tickets = TicketConfig::new(
        Signer::generate_ed25519("tickets").expect("key"),
        vec![Instance::new("gs-a", "ws://127.0.0.1:1/play")],
    )
    .expect("tickets");
    let mm = RatingMatchmaker {
        interval,
        ..RatingMatchmaker::default()
    };
    let handle = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login.verification_keys())
        .tokens(TokenSpec::default())
        .result_signer(Signer::generate_ed25519("results").expect("key"))
        .io_threads(1)
        .workers(2)
        .matchmaker(mm, tickets)
        .build()
        .expect("config")
        .start()
        .expect("starts");
    (handle, login)
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// Connects with the token in the `Authorization` header (blocking, 5 s read timeout).
fn connect(addr: SocketAddr, token: &str) -> Ws {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut req = format!("ws://{addr}/")
        .into_client_request()
        .expect("request");
    let bearer = format!("Bearer {token}").parse().expect("header");
    req.headers_mut().insert("authorization", bearer);
    tungstenite::client(req, stream).expect("upgrade").0
}

/// Reads until the ticket (the first text message) arrives.
fn ticket(ws: &mut Ws) -> String {
    for _ in 0..8 {
        if let tungstenite::Message::Text(t) = ws.read().expect("ticket") {
            return t.to_string();
        }
    }
    panic!("no ticket")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn latency(pairs: usize) {
    let interval = RatingMatchmaker::default().interval;
    let (server, login) = latency_server(interval);
    let addr = server.local_addr();
    let now = unix_now();
    let token = |pid: &str| {
        let claims = serde_json::json!({"pid": pid, "sid": format!("r-{pid}"), "rating": 1500});
        let serde_json::Value::Object(map) = claims else {
            unreachable!()
        };
        login.sign("JWT", map, now, 600)
    };
    let (mut from_token, mut from_upgrade, mut handshake) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (t1, t2) = (token(&format!("a{i}")), token(&format!("b{i}")));
        let mut a = connect(addr, &t1);
        // Let player 1 reach the pool first, so player 2 is the second compatible request.
        std::thread::sleep(Duration::from_millis(2));
        let start = Instant::now();
        let mut b = connect(addr, &t2);
        let upgraded = Instant::now();
        black_box((ticket(&mut a), ticket(&mut b)));
        let done = Instant::now();
        from_token.push(done - start);
        from_upgrade.push(done - upgraded);
        handshake.push(upgraded - start);
    }
    server.shutdown();
    println!(
        "\nlatency: second compatible request -> both tickets received ({pairs} pairs, \
         interval {} ms, target <= interval + 1 ms = {} ms)",
        interval.as_millis(),
        interval.as_millis() + 1
    );
    println!("| measured from | p50 | p99 | max |\n|---|---|---|---|");
    for (name, v) in [
        (
            "player 2's token sent (before its handshake)",
            &mut from_token,
        ),
        ("player 2's upgrade completed", &mut from_upgrade),
        ("(reference) player 2's handshake alone", &mut handshake),
    ] {
        v.sort();
        let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
        println!(
            "| {name} | {} | {} | {} |",
            us(percentile(v, 0.50)),
            us(percentile(v, 0.99)),
            us(v[v.len() - 1])
        );
    }
}

/// Criterion's positional filter, if any (skipping the values of its value-taking options).
fn filter() -> Option<String> {
    const WITH_VALUE: &[&str] = &[
        "-s",
        "--save-baseline",
        "-b",
        "--baseline",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "-c",
        "--color",
        "--output-format",
        "--format",
        "--plotting-backend",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    throughput(&mut c);
    c.final_summary();
    if filter().is_none_or(|f| "latency".contains(f.as_str()))
        && !std::env::args().any(|a| a == "--list")
    {
        latency(if quick { 5 } else { PAIRS });
    }
}
