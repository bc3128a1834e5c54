//! Failure behaviour (DESIGN §4, §6): a panic in game logic ends only that session (each of its
//! players gets a result token for `{"error":"game_panicked"}` and close 1011) while the server
//! and other sessions go on; graceful shutdown ends live sessions with `{"reason":"shutdown"}`
//! and closes every socket with 1001; an oversized message closes with 1009; and the plain HTTP
//! routes: `/healthz`, `/.well-known/jwks.json`, `/metrics`, the user handler, 404 and 400.
//!
//! Every test runs twice (see [`common::both_modes`]): `colocated::*` with workers hosted by
//! the I/O threads (connections move to their session's thread) and `split::*` with worker
//! threads of their own.

mod common;

use common::{
    Auth, Event, Mode, both_modes, connect, expect_result_then_close, get, http_raw, poll,
    recv_text, send_text, start_in,
};
use jwt_game_server::demo::{Chat, Echo};
use jwt_game_server::{Ctx, Game, HttpRequest, HttpResponse, Message, NoClaims, Player};
use serde_json::json;
use std::time::Duration;
use tungstenite::Message as WsMessage;

both_modes! {
    game_panic_ends_only_its_session_with_1011,
    panic_in_start_ends_that_session_with_1011,
    shutdown_ends_live_sessions_and_closes_everyone_with_1001,
    oversized_message_is_closed_with_1009,
    binary_messages_round_trip,
    healthz_answers_200,
    jwks_route_serves_the_result_public_keys,
    metrics_route_serves_prometheus_text,
    unknown_path_is_404,
    malformed_request_is_400,
    user_http_handler_answers_other_routes,
}

/// Echoes every message to its sender, but panics on the text `panic`.
struct Fragile;

impl Game for Fragile {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        assert_ne!(
            m.as_text(),
            Some("panic"),
            "deliberate panic in a test game"
        );
        ctx.send(p.id(), m.clone());
    }
}

fn game_panic_ends_only_its_session_with_1011(mode: Mode) {
    // One worker, so both sessions share it: one I/O thread hosting it (colocated), or one
    // I/O thread and one worker thread (split).
    let s = start_in::<Fragile>(mode, |b| b.io_threads(1).workers(1));
    let mut a1 = connect(s.addr, Auth::Header(&s.token("a1", "doomed")));
    let mut a2 = connect(s.addr, Auth::Header(&s.token("a2", "doomed")));
    let mut b1 = connect(s.addr, Auth::Header(&s.token("b1", "healthy")));
    // Both sessions live on the single worker; make sure every join happened.
    for (ws, text) in [
        (&mut a1, "a1 here"),
        (&mut a2, "a2 here"),
        (&mut b1, "b1 here"),
    ] {
        send_text(ws, text);
        assert_eq!(recv_text(ws), text);
    }

    send_text(&mut a1, "panic");
    for (pid, ws) in [("a1", &mut a1), ("a2", &mut a2)] {
        let token = expect_result_then_close(ws, 1011, "game_panicked");
        assert_eq!(
            s.check_result(&token, pid, "doomed"),
            json!({ "error": "game_panicked" })
        );
    }

    // The other session and the server go on.
    send_text(&mut b1, "still alive");
    assert_eq!(recv_text(&mut b1), "still alive");
    let mut c1 = connect(s.addr, Auth::Header(&s.token("c1", "newcomer")));
    send_text(&mut c1, "hello");
    assert_eq!(recv_text(&mut c1), "hello");
    let counted = poll(50, Duration::from_millis(20), || {
        (s.handle().stats().game_panics == 1).then_some(())
    });
    assert!(counted.is_some(), "stats: {:?}", s.handle().stats());
}

/// Panics when the session starts.
struct Stillborn;

impl Game for Stillborn {
    type Claims = NoClaims;

    fn start(first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        assert_ne!(first.id(), "jinx", "deliberate panic in Game::start");
        Self
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        ctx.send(p.id(), m.clone());
    }
}

fn panic_in_start_ends_that_session_with_1011(mode: Mode) {
    let s = start_in::<Stillborn>(mode, |b| b);
    let mut jinx = connect(s.addr, Auth::Header(&s.token("jinx", "cursed")));
    let token = expect_result_then_close(&mut jinx, 1011, "game_panicked");
    assert_eq!(
        s.check_result(&token, "jinx", "cursed"),
        json!({ "error": "game_panicked" })
    );
    let mut ok = connect(s.addr, Auth::Header(&s.token("ok", "blessed")));
    send_text(&mut ok, "fine");
    assert_eq!(recv_text(&mut ok), "fine");
}

fn shutdown_ends_live_sessions_and_closes_everyone_with_1001(mode: Mode) {
    // Two I/O threads and two workers in both modes: colocated (connections move), or split
    // (`colocate_workers(false)` from the mode stays), so every worker's batch crosses threads.
    let s = start_in::<Chat>(mode, |b| b.io_threads(2).workers(2));
    let addr = s.addr;
    let mut players = Vec::new();
    for (pid, sid) in [
        ("alice", "s1"),
        ("bob", "s1"),
        ("carol", "s2"),
        ("dave", "s3"),
    ] {
        let mut ws = connect(addr, Auth::Header(&s.token(pid, sid)));
        let welcome = common::recv_json(&mut ws);
        assert_eq!(welcome["pid"], pid);
        players.push((pid, sid, ws));
    }
    // Upgraded but not yet authenticated: no session, so no result token.
    let mut pending = connect(addr, Auth::Nothing);
    common::shutdown_and_expect_results(s, &mut players, &mut pending);
}

fn oversized_message_is_closed_with_1009(mode: Mode) {
    let s = start_in::<Echo>(mode, |b| b.max_message_bytes(1024).max_frame_bytes(1024));
    let mut ws = connect(s.addr, Auth::Header(&s.token("big", "mouth")));
    let fits = "x".repeat(1024);
    send_text(&mut ws, &fits);
    assert_eq!(recv_text(&mut ws), fits);
    ws.send(WsMessage::binary(vec![0u8; 4096]))
        .expect("send large");
    common::expect_close(&mut ws, 1009, "message_too_big");
    // Others are unaffected.
    let mut other = connect(s.addr, Auth::Header(&s.token("small", "mouth-2")));
    send_text(&mut other, "ok");
    assert_eq!(recv_text(&mut other), "ok");
}

fn binary_messages_round_trip(mode: Mode) {
    let s = start_in::<Echo>(mode, |b| b);
    let mut ws = connect(s.addr, Auth::Header(&s.token("bin", "ary")));
    let payload: Vec<u8> = (0..=255).collect();
    ws.send(WsMessage::binary(payload.clone())).expect("send");
    assert_eq!(common::next_event(&mut ws), Event::Binary(payload));
}

fn healthz_answers_200(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let reply = get(s.addr, "/healthz");
    assert_eq!(reply.status, 200, "{reply:?}");
}

fn jwks_route_serves_the_result_public_keys(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let reply = get(s.addr, "/.well-known/jwks.json");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{reply:?}"
    );
    let jwks = reply.json();
    assert_eq!(jwks, s.handle().result_jwks());
    let keys = jwks["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kid"], common::RESULT_KID);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(keys[0].get("d").is_none(), "no private part: {jwks}");

    // A result token verifies under the keys fetched over HTTP.
    let mut ws = connect(s.addr, Auth::Header(&s.token("alice", "jwks-room")));
    let _welcome = recv_text(&mut ws);
    send_text(&mut ws, r#"{"type":"end","result":7}"#);
    let token = expect_result_then_close(&mut ws, 1000, "session_complete");
    let verifier = common::result_verifier_from_jwks(&jwks);
    assert_eq!(
        common::check_result_token(&verifier, &token, "alice", "jwks-room"),
        json!(7)
    );
}

fn metrics_route_serves_prometheus_text(mode: Mode) {
    let s = start_in::<Echo>(mode, |b| b);
    let mut ws = connect(s.addr, Auth::Header(&s.token("m", "metrics")));
    send_text(&mut ws, "count me");
    assert_eq!(recv_text(&mut ws), "count me");
    let reply = get(s.addr, "/metrics");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "{reply:?}"
    );
    let text = reply.text();
    for line in [
        "# TYPE jgs_connections_accepted_total counter",
        "# TYPE jgs_connections_open gauge",
        "jgs_connections_authenticated_total 1",
        "jgs_sessions_live 1",
        "jgs_sessions_started_total 1",
        "jgs_messages_in_total 1",
        "jgs_messages_out_total 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once(' ').expect("name value");
        assert!(name.starts_with("jgs_"), "{line}");
        value.parse::<u64>().expect("integer sample");
    }
}

fn unknown_path_is_404(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    assert_eq!(get(s.addr, "/nope").status, 404);
    assert_eq!(get(s.addr, "/healthz/extra").status, 404);
    let post = http_raw(
        s.addr,
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(post.status, 404);
}

fn malformed_request_is_400(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        let reply = http_raw(s.addr, request);
        assert_eq!(
            reply.status,
            400,
            "{:?} -> {reply:?}",
            String::from_utf8_lossy(request)
        );
    }
}

fn user_http_handler_answers_other_routes(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| {
        b.http_handler(|req: &HttpRequest<'_>| {
            (req.path == "/status").then(|| {
                HttpResponse::json(200, &json!({ "query": req.query, "method": req.method }))
            })
        })
    });
    let reply = get(s.addr, "/status?verbose=1");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({ "query": "verbose=1", "method": "GET" })
    );
    assert_eq!(get(s.addr, "/other").status, 404);
    // Built-in routes stay built in.
    assert_eq!(get(s.addr, "/healthz").status, 200);
}
