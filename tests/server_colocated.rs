//! Colocated workers (the default when `io_threads == workers`): I/O thread *i* hosts worker
//! *i*, and a connection whose token verifies on the other thread moves to the thread hosting
//! its session (`Stats::connections_moved`). These tests check what the move must preserve:
//! every player of a session hears every other, frames sent right behind the token (in the same
//! TCP write) arrive after the move in order, posted events, timers and ticks reach hosted
//! workers, and a graceful shutdown gives moved connections their result tokens too. And the
//! option itself: `colocate_workers(true)` needs equal thread counts; `false` keeps the split.
//!
//! Which I/O thread accepts a socket is up to the kernel (`SO_REUSEPORT` hashes the client's
//! address and port), so no single connection is sure to move. Tests that need a move open
//! connections, each fully checked, until at least one has moved: at most [`MAX_ATTEMPTS`],
//! each missing with odds of about ½.

mod common;

use common::{
    Auth, Event, Mode, OP_TEXT, TestServer, Ws, chat, connect, get, join_chat, masked_close,
    masked_frame, now, poll, read_until_close, recv_json, recv_text, send_text, start_in,
    start_with, upgrade_pipelined, welcome,
};
use jwt_game_server::demo::Chat;
use jwt_game_server::{Ctx, Game, Message, NoClaims, Player, Server, Signer, TokenSpec};
use serde_json::{Value, json};
use std::any::Any;
use std::io::Write;
use std::time::Duration;

/// Most connections a test opens while waiting for one to move (a miss has odds of ½ each).
const MAX_ATTEMPTS: usize = 64;

/// Connections moved so far.
fn moved(s: &TestServer) -> u64 {
    s.handle().stats().connections_moved
}

/// Runs `attempt(0)`, `attempt(1)`, … until at least `min` attempts ran and at least one
/// connection moved since the first (at most [`MAX_ATTEMPTS`]); then requires that a move
/// happened. Returns the number of attempts. Each attempt must check its own outcome: any of
/// them may be the one that moved.
fn until_moved(s: &TestServer, min: usize, mut attempt: impl FnMut(usize)) -> usize {
    let before = moved(s);
    let mut n = 0;
    while n < MAX_ATTEMPTS && (n < min || moved(s) == before) {
        attempt(n);
        n += 1;
    }
    let seen = poll(50, Duration::from_millis(20), || {
        (moved(s) > before).then_some(())
    });
    assert!(
        seen.is_some(),
        "no connection moved in {n} attempts: {:?}",
        s.handle().stats()
    );
    n
}

#[test]
fn every_player_of_a_session_hears_every_other_across_moves() {
    let s = start_in::<Chat>(Mode::Colocated, |b| b);
    let sid = "crowd";
    let mut players: Vec<(String, Ws)> = Vec::new();
    let n = until_moved(&s, 12, |i| {
        let pid = format!("p{i:02}");
        let ws = join_chat(&s, &pid, sid);
        players.push((pid, ws));
    });
    assert_eq!(players.len(), n);

    let stats = s.handle().stats();
    assert_eq!(stats.connections_authenticated, n as u64, "{stats:?}");
    assert!(
        (1..=n as u64).contains(&stats.connections_moved),
        "each connection moves at most once: {stats:?}"
    );
    assert_eq!(
        stats.sessions_started, 1,
        "one session, wherever the sockets landed"
    );

    for (pid, ws) in &mut players {
        send_text(ws, &format!("hello from {pid}"));
    }
    let mut expected: Vec<Value> = players
        .iter()
        .map(|(pid, _)| chat(pid, &format!("hello from {pid}")))
        .collect();
    expected.sort_by_key(Value::to_string);
    let mut first_order: Option<Vec<Value>> = None;
    for (pid, ws) in &mut players {
        let heard: Vec<Value> = (0..n).map(|_| recv_json(ws)).collect();
        let mut sorted = heard.clone();
        sorted.sort_by_key(Value::to_string);
        assert_eq!(sorted, expected, "{pid} heard every message exactly once");
        // One worker broadcasts them one after another: everyone hears the same order.
        match &first_order {
            None => first_order = Some(heard),
            Some(order) => assert_eq!(&heard, order, "{pid} heard another order"),
        }
    }

    // The Prometheus counter is the stat.
    let moves = moved(&s);
    let metrics = get(s.addr, "/metrics").text();
    let line = format!("jgs_connections_moved_total {moves}");
    assert!(
        metrics.lines().any(|l| l == line),
        "missing {line:?} in:\n{metrics}"
    );
}

/// The data messages written in the same TCP write as the first-message token that precedes
/// them, as (how many, bytes each). The server reads 1 KiB at a time (the default
/// `read_buffer_bytes`): a few small ones are all read with the token and travel with the
/// connection; of many, some still wait in the socket when it verifies; of large ones, the
/// first is cut in two by the move.
const PIPELINED: [(usize, usize); 3] = [(4, 40), (40, 40), (3, 20_000)];

#[test]
fn messages_right_behind_a_first_message_token_arrive_in_order_after_a_move() {
    let s = start_in::<Chat>(Mode::Colocated, |b| b);
    let mut expected = 0;
    for (count, size) in PIPELINED {
        let attempts = until_moved(&s, 1, |i| {
            let (pid, sid) = ("racer", format!("pipe-{count}x{size}-{i}"));
            let token = s.token(pid, &sid);
            let mut ws = connect(s.addr, Auth::Nothing);
            let data: Vec<String> = (0..count)
                .map(|k| {
                    let head = format!("message {k:02} right behind the token ");
                    let pad = size.saturating_sub(head.len());
                    head + &"abcdefgh".repeat(pad / 8 + 1)[..pad]
                })
                .collect();
            let mut bytes = masked_frame(OP_TEXT, token.as_bytes());
            for d in &data {
                bytes.extend_from_slice(&masked_frame(OP_TEXT, d.as_bytes()));
            }
            ws.get_mut()
                .write_all(&bytes)
                .expect("write token and data");
            let at = format!("{count} messages of {size} bytes, attempt {i}");
            assert_eq!(recv_json(&mut ws), welcome(pid, &sid), "{at}");
            for (k, d) in data.iter().enumerate() {
                assert_eq!(recv_json(&mut ws), chat(pid, d), "{at}: message {k}");
            }
        });
        expected += (attempts * count) as u64;
    }
    // The tokens were not game messages; every data message was, once.
    let counted = poll(50, Duration::from_millis(20), || {
        (s.handle().stats().messages_in == expected).then_some(())
    });
    assert!(
        counted.is_some(),
        "messages_in should be {expected}: {:?}",
        s.handle().stats()
    );
}

#[test]
fn frames_in_the_same_write_as_a_header_token_upgrade_arrive_after_a_move() {
    let s = start_in::<Chat>(Mode::Colocated, |b| b);
    until_moved(&s, 1, |i| {
        let (pid, sid) = ("early", format!("same-write-{i}"));
        let token = s.token(pid, &sid);
        // Two whole frames and the first half of a third go with the request.
        let third = masked_frame(OP_TEXT, b"third, cut in two by the move");
        let (half, rest) = third.split_at(third.len() / 2);
        let frames = [
            masked_frame(OP_TEXT, b"first, with the request"),
            masked_frame(OP_TEXT, b"second, with the request"),
            half.to_vec(),
        ]
        .concat();
        let mut ws = upgrade_pipelined(s.addr, "/play", Some(&token), &frames);
        assert_eq!(recv_json(&mut ws), welcome(pid, &sid), "attempt {i}");
        assert_eq!(recv_json(&mut ws), chat(pid, "first, with the request"));
        assert_eq!(recv_json(&mut ws), chat(pid, "second, with the request"));
        // The 101 came from the connection's final thread: the rest of the third frame is
        // read there.
        ws.get_mut().write_all(rest).expect("write the rest");
        assert_eq!(
            recv_json(&mut ws),
            chat(pid, "third, cut in two by the move")
        );
        // And the connection goes on as usual.
        send_text(&mut ws, "later");
        assert_eq!(recv_json(&mut ws), chat(pid, "later"));
    });
}

/// Reports joins and leaves to the whole session.
struct Roster;

impl Game for Roster {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_join(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        ctx.broadcast(format!("join {}", p.id()));
    }

    fn on_leave(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        ctx.broadcast(format!("leave {}", p.id()));
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        ctx.send(p.id(), m.clone());
    }
}

#[test]
fn a_goodbye_right_behind_the_token_is_a_join_then_a_leave_after_the_move() {
    let s = start_in::<Roster>(Mode::Colocated, |b| b);
    for hang_up in [false, true] {
        let how = if hang_up { "hang-up" } else { "close frame" };
        // Here the ghost itself must move (the host's move does not count): the host's move,
        // if any, is counted before its join is reported, so a later change is the ghost's.
        let mut ghost_moved = false;
        for i in 0..MAX_ATTEMPTS {
            let sid = format!("ghost-{hang_up}-{i}");
            let mut host = connect(s.addr, Auth::Header(&s.token("host", &sid)));
            assert_eq!(recv_text(&mut host), "join host");
            let before = moved(&s);
            let mut ghost = connect(s.addr, Auth::Nothing);
            let mut bytes = masked_frame(OP_TEXT, s.token("ghost", &sid).as_bytes());
            if !hang_up {
                bytes.extend_from_slice(&masked_close(1000, "bye"));
            }
            ghost
                .get_mut()
                .write_all(&bytes)
                .expect("write token and goodbye");
            if hang_up {
                ghost
                    .get_mut()
                    .shutdown(std::net::Shutdown::Write)
                    .expect("half-close");
            }
            assert_eq!(recv_text(&mut host), "join ghost", "{how}, attempt {i}");
            ghost_moved = moved(&s) > before;
            assert_eq!(recv_text(&mut host), "leave ghost", "{how}, attempt {i}");
            // The ghost's socket ends too.
            let events = read_until_close(&mut ghost);
            assert!(
                matches!(events.last(), Some(Event::Close(_) | Event::Gone(_))),
                "{how}: {events:?}"
            );
            if ghost_moved {
                break;
            }
        }
        assert!(
            ghost_moved,
            "{how}: no ghost moved in {MAX_ATTEMPTS} attempts: {:?}",
            s.handle().stats()
        );
    }
}

/// Broadcasts every posted `String` event; tells each player when it has joined.
struct Herald;

impl Game for Herald {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_join(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        ctx.send(p.id(), "joined");
    }

    fn on_message(&mut self, _p: &Player<NoClaims>, _m: &Message, _ctx: &mut Ctx<'_>) {}

    fn on_event(&mut self, event: Box<dyn Any + Send>, ctx: &mut Ctx<'_>) {
        match event.downcast::<String>() {
            Ok(text) => ctx.broadcast(*text),
            Err(_) => ctx.broadcast("an event of another type"),
        }
    }
}

/// Events posted to each session.
const EVENTS: usize = 20;

#[test]
fn posted_events_reach_sessions_on_hosted_workers_in_order() {
    let s = start_in::<Herald>(Mode::Colocated, |b| {
        b.tokens(TokenSpec::default().tenant_claim("operatorId"))
    });
    // Four sessions (the same ids under two tenants); their stable placement puts them on both
    // workers. Two players each, so some connections move.
    let sessions = [
        ("op-a", "lobby"),
        ("op-a", "arena"),
        ("op-b", "lobby"),
        ("op-b", "arena"),
    ];
    let mut players = Vec::new();
    for (tenant, sid) in sessions {
        for pid in ["red", "blue"] {
            let claims = json!({ "pid": pid, "sid": sid, "operatorId": tenant });
            let mut ws = connect(s.addr, Auth::Header(&s.token_with(claims, now(), 600)));
            // Events for a session that is not live are dropped: post only after the joins.
            assert_eq!(recv_text(&mut ws), "joined");
            players.push((tenant, sid, pid, ws));
        }
    }

    let poster = s.handle().poster();
    let posting = std::thread::spawn(move || {
        for k in 0..EVENTS {
            for (tenant, sid) in sessions {
                assert!(
                    poster.post(Some(tenant), sid, format!("{tenant}/{sid}/{k}")),
                    "the server is running"
                );
            }
        }
    });
    for (tenant, sid, pid, ws) in &mut players {
        for k in 0..EVENTS {
            assert_eq!(
                recv_text(ws),
                format!("{tenant}/{sid}/{k}"),
                "{pid} of {tenant}/{sid}: event {k}"
            );
        }
    }
    posting.join().expect("posting thread");
    // A final event of another type: the exact boxed value reaches the game.
    assert!(s.handle().poster().post(Some("op-b"), "arena", 7u32));
    for (tenant, sid, pid, ws) in &mut players {
        if (*tenant, *sid) == ("op-b", "arena") {
            assert_eq!(recv_text(ws), "an event of another type", "{pid}");
        }
    }
}

/// Timers chained from the session's start, and ticks; ends once three of each fired.
#[derive(Default)]
struct Clock {
    timers: u64,
    ticks: u64,
}

/// The interval of [`Clock`]'s timers and of the server's ticks.
const CLOCK_STEP: Duration = Duration::from_millis(20);

impl Clock {
    fn maybe_end(&self, ctx: &mut Ctx<'_>) {
        if self.timers == 3 && self.ticks >= 3 {
            ctx.end(json!({ "timers": self.timers, "ticks": self.ticks }));
        }
    }
}

impl Game for Clock {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, ctx: &mut Ctx<'_>) -> Self {
        ctx.set_timer(CLOCK_STEP, 1);
        Self::default()
    }

    fn on_message(&mut self, _p: &Player<NoClaims>, _m: &Message, _ctx: &mut Ctx<'_>) {}

    fn on_timer(&mut self, timer: u64, ctx: &mut Ctx<'_>) {
        self.timers = timer;
        ctx.broadcast(format!("timer {timer}"));
        if timer < 3 {
            ctx.set_timer(CLOCK_STEP, timer + 1);
        }
        self.maybe_end(ctx);
    }

    fn on_tick(&mut self, ctx: &mut Ctx<'_>) {
        self.ticks += 1;
        if self.ticks <= 3 {
            ctx.broadcast(format!("tick {}", self.ticks));
        }
        self.maybe_end(ctx);
    }
}

#[test]
fn timers_and_ticks_fire_on_hosted_workers_without_client_traffic() {
    let s = start_in::<Clock>(Mode::Colocated, |b| b.tick_interval(CLOCK_STEP));
    // Four sessions whose stable placement puts them on both workers; after its upgrade no
    // client sends a byte, so only the worker's own due times can wake its I/O thread.
    let sids = ["clock-0", "clock-1", "clock-2", "clock-3"];
    let mut clients: Vec<(&str, Ws)> = sids
        .iter()
        .map(|sid| {
            (
                *sid,
                connect(s.addr, Auth::Header(&s.token("watcher", sid))),
            )
        })
        .collect();
    for (sid, ws) in &mut clients {
        let events = read_until_close(ws);
        let texts: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        let timers: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.starts_with("timer "))
            .collect();
        let ticks: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.starts_with("tick "))
            .collect();
        assert_eq!(
            timers,
            ["timer 1", "timer 2", "timer 3"],
            "{sid}: {events:?}"
        );
        assert_eq!(ticks, ["tick 1", "tick 2", "tick 3"], "{sid}: {events:?}");
        assert_eq!(
            texts.len(),
            7,
            "six messages and a result token: {events:?}"
        );
        let token = texts[6];
        let result = s.check_result(token, "watcher", sid);
        assert_eq!(result["timers"], 3, "{sid}: {result}");
        assert!(
            result["ticks"].as_u64().is_some_and(|t| t >= 3),
            "{sid}: {result}"
        );
        assert_eq!(
            events.last(),
            Some(&Event::Close(Some((1000, "session_complete".to_owned())))),
            "{sid}"
        );
    }
    assert_eq!(s.handle().stats().messages_in, 0, "no client traffic");
}

#[test]
fn shutdown_gives_every_participant_including_moved_ones_its_result_then_1001() {
    let s = start_in::<Chat>(Mode::Colocated, |b| b);
    let addr = s.addr;
    let mut players: Vec<(String, String, Ws)> = Vec::new();
    until_moved(&s, 8, |i| {
        let (pid, sid) = (format!("p{i}"), format!("live-{}", i % 4));
        let ws = join_chat(&s, &pid, &sid);
        players.push((pid, sid, ws));
    });
    // One more, whose token came as its first message (it may have moved too).
    let late_sid = "live-0";
    let mut first_message = connect(addr, Auth::FirstMessage(&s.token("late", late_sid)));
    assert_eq!(recv_json(&mut first_message), welcome("late", late_sid));
    players.push(("late".to_owned(), late_sid.to_owned(), first_message));
    // Upgraded but not yet authenticated: no session, so no result token.
    let mut pending = connect(addr, Auth::Nothing);
    common::shutdown_and_expect_results(s, &mut players, &mut pending);
}

#[test]
fn colocate_workers_needs_as_many_workers_as_io_threads() {
    let login = Signer::generate_ed25519(common::LOGIN_KID).expect("login key");
    for (io_threads, workers) in [(1, 2), (2, 1), (3, 2)] {
        let err = Server::builder()
            .bind("127.0.0.1:0")
            .keys(login.verification_keys())
            .result_signer(Signer::generate_ed25519(common::RESULT_KID).expect("result key"))
            .io_threads(io_threads)
            .workers(workers)
            .colocate_workers(true)
            .game::<Chat>()
            .build()
            .expect_err("colocated workers need workers == io_threads");
        assert_eq!(
            err.option(),
            "colocate_workers",
            "{io_threads} I/O threads, {workers} workers: {err}"
        );
        assert!(!err.reason().is_empty(), "{err}");
    }
    // Equal counts build, colocated explicitly or by default.
    for on in [Some(true), None] {
        let builder = Server::builder()
            .bind("127.0.0.1:0")
            .keys(login.verification_keys())
            .result_signer(Signer::generate_ed25519(common::RESULT_KID).expect("result key"))
            .io_threads(2)
            .workers(2);
        let builder = match on {
            Some(on) => builder.colocate_workers(on),
            None => builder,
        };
        let built = builder.game::<Chat>().build();
        assert!(built.is_ok(), "{on:?}: {built:?}");
    }
}

#[test]
fn split_workers_with_equal_counts_work_and_never_move_a_connection() {
    let s = start_with::<Chat>(|b| b.io_threads(2).workers(2).colocate_workers(false));
    // Enough players over enough sessions that, were workers colocated, some would move.
    let mut players: Vec<(String, String, Ws)> = (0..16)
        .map(|i| {
            let (pid, sid) = (format!("p{i}"), format!("split-{}", i % 4));
            let ws = join_chat(&s, &pid, &sid);
            (pid, sid, ws)
        })
        .collect();
    for (pid, _, ws) in &mut players {
        send_text(ws, &format!("from {pid}"));
    }
    for (pid, sid, ws) in &mut players {
        let mut heard: Vec<String> = (0..4)
            .map(|_| recv_json(ws)["pid"].as_str().expect("pid").to_owned())
            .collect();
        heard.sort();
        let mut expected: Vec<String> = (0..16)
            .filter(|i| format!("split-{}", i % 4) == *sid)
            .map(|i| format!("p{i}"))
            .collect();
        expected.sort();
        assert_eq!(heard, expected, "{pid} in {sid}");
    }
    let stats = s.handle().stats();
    assert_eq!(stats.connections_authenticated, 16, "{stats:?}");
    assert_eq!(
        stats.connections_moved, 0,
        "split workers never move: {stats:?}"
    );
    assert_eq!(stats.sessions_started, 4, "{stats:?}");
}
