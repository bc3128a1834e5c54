//! Sessions on the wire (DESIGN §4, issue 3 items 4–6): players of one session exchange
//! messages; a second connection of a player replaces the first (4000 `replaced`); a kick is
//! 4001 with the game's reason; the end of a session gives every connected participant exactly
//! one text message — its own result JWT, verifiable under the server's published keys — and
//! close 1000 `session_complete`; the archive answers later tokens for an ended session (the
//! result for a participant, 4002 `session_ended` for anyone else) until it expires, after which
//! the session id starts a new session.
//!
//! Every test runs twice (see [`common::both_modes`]): `colocated::*` with workers hosted by
//! the I/O threads (connections move to their session's thread) and `split::*` with worker
//! threads of their own.

mod common;

use common::{
    Auth, Event, Mode, both_modes, chat, connect, expect_close, expect_result_then_close,
    join_chat, now, poll, read_until_close, recv_json, send_text, start_in, welcome,
};
use jwt_game_server::demo::Chat;
use jwt_game_server::{Ctx, Game, Message, NoClaims, Player, TokenSpec};
use serde_json::{Value, json};
use std::time::Duration;

both_modes! {
    two_players_exchange_messages,
    sessions_are_isolated_from_each_other,
    second_connection_of_a_player_replaces_the_first,
    session_end_gives_every_participant_its_own_result_token,
    late_joiner_gets_its_result_token,
    player_who_never_joined_an_ended_session_gets_session_ended,
    ended_session_cannot_start_again_while_archived_then_can_after_expiry,
    kicked_player_is_closed_with_4001_and_the_reason_and_may_reconnect,
    game_sees_start_join_leave_reconnect_in_order,
    same_session_id_under_two_tenants_is_two_sessions,
}

fn end_message(result: &Value) -> String {
    json!({ "type": "end", "result": result }).to_string()
}

fn two_players_exchange_messages(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let mut alice = join_chat(&s, "alice", "room-1");
    let mut bob = join_chat(&s, "bob", "room-1");
    send_text(&mut alice, "hi bob");
    assert_eq!(recv_json(&mut alice), chat("alice", "hi bob"));
    assert_eq!(recv_json(&mut bob), chat("alice", "hi bob"));
    send_text(&mut bob, "hi alice");
    assert_eq!(recv_json(&mut bob), chat("bob", "hi alice"));
    assert_eq!(recv_json(&mut alice), chat("bob", "hi alice"));
}

fn sessions_are_isolated_from_each_other(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let mut alice = join_chat(&s, "alice", "room-a");
    let mut bob = join_chat(&s, "bob", "room-b");
    send_text(&mut alice, "only for room a");
    send_text(&mut bob, "only for room b");
    assert_eq!(recv_json(&mut alice), chat("alice", "only for room a"));
    assert_eq!(recv_json(&mut bob), chat("bob", "only for room b"));
}

fn second_connection_of_a_player_replaces_the_first(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let mut old = join_chat(&s, "alice", "room-dup");
    let mut bob = join_chat(&s, "bob", "room-dup");
    // A fresh token for the same (session, player): the newer connection continues.
    let mut new = join_chat(&s, "alice", "room-dup");
    expect_close(&mut old, 4000, "replaced");
    send_text(&mut new, "still me");
    assert_eq!(recv_json(&mut new), chat("alice", "still me"));
    assert_eq!(recv_json(&mut bob), chat("alice", "still me"));
}

fn session_end_gives_every_participant_its_own_result_token(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let sid = "room-end";
    let pids = ["alice", "bob", "carol"];
    let mut sockets: Vec<_> = pids.iter().map(|p| join_chat(&s, p, sid)).collect();
    let result = json!({ "winner": "bob", "scores": { "alice": 1, "bob": 3, "carol": 2 } });
    send_text(&mut sockets[0], &end_message(&result));
    let mut jtis = Vec::new();
    for (pid, ws) in pids.iter().zip(&mut sockets) {
        let token = expect_result_then_close(ws, 1000, "session_complete");
        assert_eq!(s.check_result(&token, pid, sid), result);
        jtis.push(common::decode_segment(&token, 1)["jti"].clone());
    }
    jtis.sort_by_key(Value::to_string);
    jtis.dedup();
    assert_eq!(jtis.len(), pids.len(), "every result token has its own jti");
}

fn late_joiner_gets_its_result_token(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let sid = "room-late";
    let mut alice = join_chat(&s, "alice", sid);
    let mut bob = join_chat(&s, "bob", sid);
    // Bob leaves before the end; he took part, so the archive holds his result too.
    bob.close(None).expect("close");
    let _ = read_until_close(&mut bob);
    let result = json!({ "winner": "alice" });
    send_text(&mut alice, &end_message(&result));
    let token = expect_result_then_close(&mut alice, 1000, "session_complete");
    assert_eq!(s.check_result(&token, "alice", sid), result);

    for pid in ["bob", "alice"] {
        for auth in ["header", "query", "first message"] {
            let t = s.token(pid, sid);
            let mut ws = connect(
                s.addr,
                match auth {
                    "header" => Auth::Header(&t),
                    "query" => Auth::Query(&t),
                    _ => Auth::FirstMessage(&t),
                },
            );
            let token = expect_result_then_close(&mut ws, 1000, "session_complete");
            assert_eq!(s.check_result(&token, pid, sid), result, "{pid} via {auth}");
        }
    }
}

fn player_who_never_joined_an_ended_session_gets_session_ended(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| b);
    let sid = "room-closed";
    let mut alice = join_chat(&s, "alice", sid);
    send_text(&mut alice, &end_message(&json!("done")));
    let _ = expect_result_then_close(&mut alice, 1000, "session_complete");
    let t = s.token("mallory", sid);
    let mut ws = connect(s.addr, Auth::Header(&t));
    assert_eq!(
        read_until_close(&mut ws),
        [Event::Close(Some((4002, "session_ended".to_owned())))],
        "no token, only the close"
    );
}

fn ended_session_cannot_start_again_while_archived_then_can_after_expiry(mode: Mode) {
    // Tokens live at most 4 s and leeway is 0, so the archive may forget after 4 s.
    let s = start_in::<Chat>(mode, |b| {
        b.tokens(
            TokenSpec::default()
                .max_lifetime(Some(Duration::from_secs(4)))
                .leeway(Duration::ZERO),
        )
        .archive_ttl(Duration::from_secs(4))
    });
    let sid = "room-expiring";
    let token = |pid: &str| s.token_with(json!({ "pid": pid, "sid": sid }), now(), 4);
    let mut alice = connect(s.addr, Auth::Header(&token("alice")));
    assert_eq!(recv_json(&mut alice), welcome("alice", sid));
    send_text(&mut alice, &end_message(&json!({ "round": 1 })));
    let first = expect_result_then_close(&mut alice, 1000, "session_complete");
    assert_eq!(s.check_result(&first, "alice", sid), json!({ "round": 1 }));

    // Right after the end the archive answers.
    let mut again = connect(s.addr, Auth::Header(&token("alice")));
    let archived = expect_result_then_close(&mut again, 1000, "session_complete");
    assert_eq!(
        s.check_result(&archived, "alice", sid),
        json!({ "round": 1 })
    );

    // Then (bounded: 80 × 250 ms) the archive expires and the same id starts a new session.
    let fresh = poll(80, Duration::from_millis(250), || {
        let mut ws = connect(s.addr, Auth::Header(&token("alice")));
        match common::next_event(&mut ws) {
            Event::Text(t) if t.starts_with('{') => Some((ws, t)),
            Event::Text(result) => {
                assert_eq!(s.check_result(&result, "alice", sid), json!({ "round": 1 }));
                expect_close(&mut ws, 1000, "session_complete");
                None
            }
            other => panic!("unexpected answer while archived: {other:?}"),
        }
    });
    let (mut ws, first_message) = fresh.expect("the archive expired within 20 s");
    assert_eq!(
        serde_json::from_str::<Value>(&first_message).expect("JSON"),
        welcome("alice", sid)
    );
    send_text(&mut ws, &end_message(&json!({ "round": 2 })));
    let second = expect_result_then_close(&mut ws, 1000, "session_complete");
    assert_eq!(s.check_result(&second, "alice", sid), json!({ "round": 2 }));
}

/// A game that kicks whoever sends `kick me`, and echoes anything else.
struct Bouncer;

impl Game for Bouncer {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        if m.as_text() == Some("kick me") {
            ctx.kick(p.id(), "asked_for_it");
        } else {
            ctx.send(p.id(), m.clone());
        }
    }
}

fn kicked_player_is_closed_with_4001_and_the_reason_and_may_reconnect(mode: Mode) {
    let s = start_in::<Bouncer>(mode, |b| b);
    let mut ws = connect(s.addr, Auth::Header(&s.token("alice", "room-kick")));
    send_text(&mut ws, "kick me");
    assert_eq!(
        read_until_close(&mut ws),
        [Event::Close(Some((4001, "asked_for_it".to_owned())))]
    );
    let mut back = connect(s.addr, Auth::Header(&s.token("alice", "room-kick")));
    send_text(&mut back, "hello again");
    assert_eq!(common::recv_text(&mut back), "hello again");
}

/// A game that reports its joins, leaves and reconnects, and ends when asked.
struct Lifecycle;

impl Game for Lifecycle {
    type Claims = NoClaims;

    fn start(first: &Player<NoClaims>, ctx: &mut Ctx<'_>) -> Self {
        ctx.send(first.id(), format!("start {}", first.id()));
        Self
    }

    fn on_join(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        ctx.broadcast(format!("join {}", p.id()));
    }

    fn on_reconnect(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        ctx.broadcast(format!("reconnect {}", p.id()));
    }

    fn on_leave(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        ctx.broadcast(format!("leave {}", p.id()));
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        if m.as_text() == Some("end") {
            ctx.end(json!({ "ended_by": p.id(), "players": ctx.players() }));
        } else {
            ctx.broadcast_except(p.id(), m.clone());
        }
    }
}

fn game_sees_start_join_leave_reconnect_in_order(mode: Mode) {
    let s = start_in::<Lifecycle>(mode, |b| b);
    let sid = "room-life";
    let mut alice = connect(s.addr, Auth::Header(&s.token("alice", sid)));
    assert_eq!(common::recv_text(&mut alice), "start alice");
    assert_eq!(common::recv_text(&mut alice), "join alice");
    let mut bob = connect(s.addr, Auth::Query(&s.token("bob", sid)));
    assert_eq!(common::recv_text(&mut alice), "join bob");
    assert_eq!(common::recv_text(&mut bob), "join bob");
    send_text(&mut bob, "psst");
    assert_eq!(common::recv_text(&mut alice), "psst");
    bob.close(None).expect("close");
    let _ = read_until_close(&mut bob);
    assert_eq!(common::recv_text(&mut alice), "leave bob");
    let mut bob = connect(s.addr, Auth::FirstMessage(&s.token("bob", sid)));
    assert_eq!(common::recv_text(&mut alice), "reconnect bob");
    assert_eq!(common::recv_text(&mut bob), "reconnect bob");
    send_text(&mut alice, "end");
    for (pid, ws) in [("alice", &mut alice), ("bob", &mut bob)] {
        let token = expect_result_then_close(ws, 1000, "session_complete");
        let result = s.check_result(&token, pid, sid);
        assert_eq!(result["ended_by"], "alice");
        let mut players: Vec<String> =
            serde_json::from_value(result["players"].clone()).expect("players");
        players.sort();
        assert_eq!(players, ["alice", "bob"]);
    }
}

fn same_session_id_under_two_tenants_is_two_sessions(mode: Mode) {
    let s = start_in::<Chat>(mode, |b| {
        b.tokens(TokenSpec::default().tenant_claim("operatorId"))
    });
    let token = |pid: &str, tenant: &str| {
        s.token_with(
            json!({ "pid": pid, "sid": "lobby", "operatorId": tenant }),
            now(),
            600,
        )
    };
    let mut alice = connect(s.addr, Auth::Header(&token("alice", "op-a")));
    assert_eq!(recv_json(&mut alice), welcome("alice", "lobby"));
    let mut bob = connect(s.addr, Auth::Header(&token("bob", "op-b")));
    assert_eq!(recv_json(&mut bob), welcome("bob", "lobby"));
    send_text(&mut alice, "for tenant a");
    send_text(&mut bob, "for tenant b");
    assert_eq!(recv_json(&mut alice), chat("alice", "for tenant a"));
    assert_eq!(recv_json(&mut bob), chat("bob", "for tenant b"));

    send_text(&mut alice, &end_message(&json!("a done")));
    let t = expect_result_then_close(&mut alice, 1000, "session_complete");
    assert_eq!(s.check_result(&t, "alice", "lobby"), json!("a done"));
    assert_eq!(common::decode_segment(&t, 1)["tenant"], "op-a");
    // Tenant b's session of the same id lives on.
    send_text(&mut bob, "still here");
    assert_eq!(recv_json(&mut bob), chat("bob", "still here"));
}
