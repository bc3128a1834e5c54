//! Unit tests of the session state machine.

use super::*;
use crate::jwt::{Signer, TokenSpec, Verifier};
use std::time::Duration;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: Now = Now {
    unix_ms: 1_700_000_000_000,
    mono_ms: 5_000,
};

fn token(pid: &str, sid: &str) -> Arc<Verified<serde_json::Value>> {
    let signer = Signer::hs256("k", SECRET).unwrap();
    let mut claims = serde_json::Map::new();
    claims.insert("pid".into(), pid.into());
    claims.insert("sid".into(), sid.into());
    let jwt = signer.sign("JWT", claims, NOW.unix_ms / 1000, 60);
    let v = Verifier::new(signer.verification_keys(), TokenSpec::default()).unwrap();
    Arc::new(v.verify(&jwt, NOW.unix_ms / 1000).unwrap())
}

fn conn(slot: u32) -> ConnId {
    ConnId {
        io: 0,
        slot,
        generation: 1,
    }
}

/// Records every callback and reacts to a few commands.
#[derive(Debug, Default)]
struct Probe {
    log: Vec<String>,
}

impl Game for Probe {
    type Claims = serde_json::Value;
    fn start(first: &Player<Self::Claims>, ctx: &mut Ctx<'_>) -> Self {
        ctx.send(first.id(), "started");
        Self {
            log: vec![format!("start {}", first.id())],
        }
    }
    fn on_join(&mut self, p: &Player<Self::Claims>, ctx: &mut Ctx<'_>) {
        self.log.push(format!("join {}", p.id()));
        ctx.broadcast(format!("joined {}", p.id()));
    }
    fn on_reconnect(&mut self, p: &Player<Self::Claims>, ctx: &mut Ctx<'_>) {
        ctx.send(p.id(), "welcome back");
    }
    fn on_message(&mut self, p: &Player<Self::Claims>, m: &Message, ctx: &mut Ctx<'_>) {
        match m.as_text() {
            Some("panic") => panic!("test panic"),
            Some("end") => {
                ctx.send(p.id(), "bye");
                ctx.end(serde_json::json!({"winner": p.id()}));
                ctx.send(p.id(), "after end");
            }
            Some("kick") => ctx.kick("b", "naughty"),
            Some("timer") => ctx.set_timer(Duration::from_millis(250), 7),
            Some("others") => ctx.broadcast_except(p.id(), "hi others"),
            _ => ctx.broadcast(m.clone()),
        }
    }
    fn on_leave(&mut self, p: &Player<Self::Claims>, ctx: &mut Ctx<'_>) {
        if ctx.players().is_empty() {
            ctx.end(serde_json::json!({"reason": "empty", "last": p.id()}));
        }
    }
}

fn two_players() -> (Session<Probe>, Vec<Effect>) {
    let mut out = Vec::new();
    let (mut s, j) = Session::<Probe>::start(token("a", "s1"), conn(1), None, NOW, &mut out);
    assert_eq!(j.player, 0);
    let j = s.join(token("b", "s1"), conn(2), NOW, &mut out);
    assert_eq!(j.player, 1);
    (s, out)
}

#[test]
fn start_sends_then_joins_first_player_before_anything_else() {
    let mut out = Vec::new();
    let (s, _) = Session::<Probe>::start(token("a", "s1"), conn(1), None, NOW, &mut out);
    assert_eq!(
        out,
        vec![
            Effect::Send(conn(1), Message::text("started")),
            Effect::SendMany(vec![conn(1)], Message::text("joined a")),
        ]
    );
    assert_eq!(s.game.as_ref().unwrap().log, ["start a", "join a"]);
    assert_eq!(&**s.sid(), "s1");
}

#[test]
fn broadcast_reaches_every_connected_player_and_except_skips_one() {
    let (mut s, mut out) = two_players();
    out.clear();
    s.message(0, conn(1), &Message::text("hello"), NOW, &mut out);
    assert_eq!(
        out,
        vec![Effect::SendMany(
            vec![conn(1), conn(2)],
            Message::text("hello")
        )]
    );
    out.clear();
    s.message(0, conn(1), &Message::text("others"), NOW, &mut out);
    assert_eq!(
        out,
        vec![Effect::SendMany(vec![conn(2)], Message::text("hi others"))]
    );
}

#[test]
fn reconnect_replaces_the_older_connection() {
    let (mut s, mut out) = two_players();
    out.clear();
    let j = s.join(token("b", "s1"), conn(3), NOW, &mut out);
    assert_eq!(j.player, 1);
    assert_eq!(
        out,
        vec![
            Effect::Close(conn(2), 4000, "replaced".into()),
            Effect::Send(conn(3), Message::text("welcome back")),
        ]
    );
    out.clear();
    // The replaced connection's late messages are ignored.
    s.message(1, conn(2), &Message::text("stale"), NOW, &mut out);
    assert!(out.is_empty());
    s.leave(1, conn(2), NOW, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.connected, ["a", "b"]);
}

#[test]
fn end_stops_further_actions_and_lists_recipients_and_participants() {
    let (mut s, mut out) = two_players();
    s.leave(1, conn(2), NOW, &mut out);
    out.clear();
    s.message(0, conn(1), &Message::text("end"), NOW, &mut out);
    assert!(s.is_ended());
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0], Effect::Send(conn(1), Message::text("bye")));
    let Effect::End(Ending {
        result,
        code,
        reason,
        recipients,
        participants,
        ..
    }) = &out[1]
    else {
        panic!("expected End, got {:?}", out[1]);
    };
    assert_eq!(result, &serde_json::json!({"winner": "a"}));
    assert_eq!((*code, *reason), COMPLETE);
    assert_eq!(recipients, &vec![(Arc::from("a"), conn(1))]);
    assert_eq!(participants, &vec![Arc::from("a"), Arc::from("b")]);
    out.clear();
    s.message(0, conn(1), &Message::text("x"), NOW, &mut out);
    assert!(out.is_empty(), "an ended session does nothing");
}

#[test]
fn last_leave_can_end_the_session() {
    let (mut s, mut out) = two_players();
    s.leave(0, conn(1), NOW, &mut out);
    out.clear();
    s.leave(1, conn(2), NOW, &mut out);
    let Some(Effect::End(Ending {
        result, recipients, ..
    })) = out.last()
    else {
        panic!("{out:?}")
    };
    assert_eq!(result["last"], "b");
    assert!(recipients.is_empty());
}

#[test]
fn panic_ends_the_session_with_1011_and_an_error_result() {
    let (mut s, mut out) = two_players();
    out.clear();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    s.message(1, conn(2), &Message::text("panic"), NOW, &mut out);
    std::panic::set_hook(hook);
    assert!(s.is_ended());
    let [
        Effect::End(Ending {
            result,
            code,
            recipients,
            ..
        }),
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(result, &serde_json::json!({"error": "game_panicked"}));
    assert_eq!(*code, 1011);
    assert_eq!(recipients.len(), 2);
}

#[test]
fn kick_closes_with_4001_and_timer_is_scheduled_on_the_monotonic_clock() {
    let (mut s, mut out) = two_players();
    out.clear();
    s.message(0, conn(1), &Message::text("kick"), NOW, &mut out);
    assert_eq!(out, vec![Effect::Close(conn(2), KICKED, "naughty".into())]);
    assert_eq!(s.connected, ["a"]);
    out.clear();
    s.message(0, conn(1), &Message::text("timer"), NOW, &mut out);
    assert_eq!(
        out,
        vec![Effect::Timer {
            at_mono_ms: NOW.mono_ms + 250,
            timer: 7
        }]
    );
}

#[test]
fn shutdown_ends_with_1001_once() {
    let (mut s, mut out) = two_players();
    out.clear();
    s.shutdown(&mut out);
    s.shutdown(&mut out);
    assert_eq!(out.len(), 1);
    let Effect::End(Ending {
        code,
        reason,
        result,
        ..
    }) = &out[0]
    else {
        panic!()
    };
    assert_eq!((*code, *reason), SHUTDOWN);
    assert_eq!(result["reason"], "shutdown");
}
