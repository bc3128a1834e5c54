//! Join before first message, under load (issue 3 item 3): thousands of connections, each
//! sending its first game message the instant it can — right after the upgrade, right behind a
//! first-message token, or even in the same TCP write as the upgrade request itself — must all
//! be echoed back by the `Echo` game. The C++ ancestor lost first messages here; zero may be
//! lost.
//!
//! Bounded: every socket has read/write timeouts and every loop a fixed count. No timing is
//! asserted (that belongs in benchmarks); the elapsed time is only printed.

mod common;

use common::{IO_TIMEOUT, TestServer, now, percent_encode, start_with, tcp};
use jwt_game_server::demo::Echo;
use std::net::TcpStream;
use std::time::Instant;
use tungstenite::protocol::WebSocket;
use tungstenite::{Message, client::IntoClientRequest};

/// Connections in the load test (fewer when the open-file limit cannot hold both ends).
const CONNECTIONS: usize = 2000;
/// Client threads opening them.
const CLIENT_THREADS: usize = 4;
/// Players per session.
const PER_SESSION: usize = 10;

/// How connection `i` presents its token and first message.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// Bearer header; the first message right after the upgrade.
    Header,
    /// `?token=`; the first message right after the upgrade.
    Query,
    /// Token as first text message, the game message right behind it, without waiting.
    FirstMessage,
    /// Upgrade request and a masked first frame in one TCP write, before the 101 arrives.
    SameWrite,
}

/// The soft open-file limit from `/proc/self/limits` (Linux), if known.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(usize::MAX);
    }
    soft.parse().ok()
}

/// [`CONNECTIONS`], or as many as fit the open-file limit: both ends live in this process.
fn connections() -> usize {
    let fit = open_file_limit().map_or(CONNECTIONS, |l| l.saturating_sub(256) / 2);
    if fit < CONNECTIONS {
        eprintln!("open-file limit allows {fit} connections, not {CONNECTIONS}");
    }
    CONNECTIONS.min(fit)
}

fn path_of(i: usize) -> Path {
    match i % 4 {
        0 => Path::Header,
        1 => Path::Query,
        2 => Path::FirstMessage,
        _ => Path::SameWrite,
    }
}

/// Writes the upgrade request (token in the query) and the first message frame in one write,
/// then reads the 101 head and wraps the rest as a client WebSocket.
fn connect_same_write(s: &TestServer, token: &str, first: &str) -> WebSocket<TcpStream> {
    let target = format!("/play?token={}", percent_encode(token));
    common::upgrade_pipelined(
        s.addr,
        &target,
        None,
        &common::masked_frame(0x1, first.as_bytes()),
    )
}

/// Opens connection `i` and sends its first message as early as its path allows.
fn open(s: &TestServer, i: usize, token: &str) -> WebSocket<TcpStream> {
    let first = format!("first {i}");
    let mut ws = match path_of(i) {
        Path::SameWrite => return connect_same_write(s, token, &first),
        Path::Header => common::connect(s.addr, common::Auth::Header(token)),
        Path::Query => common::connect(s.addr, common::Auth::Query(token)),
        Path::FirstMessage => {
            // Token and message go out back to back in one flush.
            let request = format!("ws://{}/play", s.addr)
                .into_client_request()
                .expect("request");
            let (mut ws, _) = tungstenite::client(request, tcp(s.addr)).expect("upgrade");
            ws.write(Message::text(token.to_owned()))
                .expect("queue token");
            ws.write(Message::text(first)).expect("queue first message");
            ws.flush().expect("flush");
            return ws;
        }
    };
    ws.send(Message::text(first)).expect("send first message");
    ws
}

#[test]
fn no_first_message_is_lost_under_load() {
    let n = connections();
    assert!(n >= 500, "the open-file limit is too low for a load test");
    let s = start_with::<Echo>(|b| b.io_threads(2).workers(2));
    let iat = now();
    let tokens: Vec<String> = (0..n)
        .map(|i| {
            let claims = serde_json::json!({
                "pid": format!("p{i}"),
                "sid": format!("load-{}", i / PER_SESSION),
            });
            s.token_with(claims, iat, 600)
        })
        .collect();

    let started = Instant::now();
    let lost: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENT_THREADS)
            .map(|t| {
                let (s, tokens) = (&s, &tokens);
                scope.spawn(move || {
                    let mine: Vec<usize> = (t..n).step_by(CLIENT_THREADS).collect();
                    let mut sockets = Vec::with_capacity(mine.len());
                    for &i in &mine {
                        sockets.push((i, open(s, i, &tokens[i])));
                    }
                    let mut lost = Vec::new();
                    for (i, ws) in &mut sockets {
                        match common::next_event(ws) {
                            common::Event::Text(t) if t == format!("first {i}") => {}
                            other => lost.push(format!("{i} ({:?}): {other:?}", path_of(*i))),
                        }
                    }
                    lost
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("client thread"))
            .collect()
    });
    eprintln!(
        "{n} connections, first messages echoed in {:?} (read timeout {IO_TIMEOUT:?})",
        started.elapsed()
    );
    assert!(
        lost.is_empty(),
        "{} of {n} first messages lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let stats = s.handle().stats();
    assert_eq!(stats.connections_authenticated, n as u64, "{stats:?}");
    assert_eq!(
        stats.sessions_started,
        n.div_ceil(PER_SESSION) as u64,
        "{stats:?}"
    );
}
