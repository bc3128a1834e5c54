//! The churn scenario: sessions of K chat players start, exchange one message each, end; every
//! player's result token is verified (right pid and sid, server's result key), then a late
//! joiner (player 0 with a fresh token) must receive its result too. Then the next session.

use super::conn::Role;
use super::logic::{self, finish};
use super::{Client, Planned, Shared};
use crate::loadtest::control::Phase;
use crate::loadtest::recorder::record;
use slab::Slab;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Joining,
    Playing,
    Ending,
    Late,
}

#[derive(Debug)]
struct Session {
    sid: String,
    serial: u64,
    members: Vec<Option<(usize, u64)>>,
    late: Option<(usize, u64)>,
    welcomed: usize,
    closed_ok: usize,
    stage: Stage,
    started: Instant,
}

/// One thread's churn state.
#[derive(Debug)]
pub(super) struct Churn {
    sessions: Slab<Session>,
    deadlines: VecDeque<(Instant, usize, u64)>,
    concurrent: usize,
    size: usize,
    started: u64,
    timeout: Duration,
    prefix: String,
}

impl Churn {
    pub(super) fn new(sh: &Shared, t: usize) -> Self {
        let c = &sh.config;
        let size = c.session_size.max(1);
        let total = c.connections.div_ceil(size);
        // This thread's share of the concurrent sessions (at least one).
        let concurrent = (total / c.threads + usize::from(t < total % c.threads)).max(1);
        Self {
            sessions: Slab::new(),
            deadlines: VecDeque::new(),
            concurrent,
            size,
            started: 0,
            timeout: c.connect_timeout * 3,
            prefix: format!("c{}-{t}", sh.nonce),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|d| d.0)
    }

    pub(super) fn is_idle(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// Run phase begins: start this thread's share of concurrent sessions.
pub(super) fn start_all(c: &mut Client) {
    for _ in 0..c.churn.concurrent {
        start_session(c);
    }
}

fn start_session(c: &mut Client) {
    if c.phase != Phase::Run {
        return;
    }
    let ch = &mut c.churn;
    ch.started += 1;
    let sid = format!("{}-{}", ch.prefix, ch.started);
    let size = ch.size;
    let now = Instant::now();
    let serial = ch.started;
    let key = ch.sessions.insert(Session {
        sid: sid.clone(),
        serial,
        members: vec![None; size],
        late: None,
        welcomed: 0,
        closed_ok: 0,
        stage: Stage::Joining,
        started: now,
    });
    ch.deadlines.push_back((now + ch.timeout, key, serial));
    let secs = Shared::now_secs();
    for index in 0..size {
        let pid = format!("p{index}");
        let token = c.sh.tokens.valid(&pid, &sid, secs, c.sh.config.token_ttl);
        c.deferred.push(Planned {
            role: Role::Churn {
                session: key,
                index,
                late: false,
            },
            pid,
            token,
        });
    }
}

/// A member's connection was created (launch): remember its key.
pub(super) fn attach(c: &mut Client, role: Role, key: usize, serial: u64) {
    let Role::Churn {
        session,
        index,
        late,
    } = role
    else {
        return;
    };
    let Some(s) = c.churn.sessions.get_mut(session) else {
        return;
    };
    if late {
        s.late = Some((key, serial));
    } else if let Some(slot) = s.members.get_mut(index) {
        *slot = Some((key, serial));
    }
}

fn role_of(c: &Client, key: usize) -> Option<(usize, usize, bool)> {
    match c.conns.get(key)?.role {
        Role::Churn {
            session,
            index,
            late,
        } => Some((session, index, late)),
        _ => None,
    }
}

/// A member is ready (welcome, or upgrade for a late joiner).
pub(super) fn on_ready(c: &mut Client, key: usize) {
    let Some((session, _, false)) = role_of(c, key) else {
        return;
    };
    let Some(s) = c.churn.sessions.get_mut(session) else {
        return;
    };
    s.welcomed += 1;
    if s.welcomed < s.members.len() || s.stage != Stage::Joining {
        return;
    }
    s.stage = Stage::Playing;
    let members: Vec<(usize, u64)> = s.members.iter().flatten().copied().collect();
    let now = Instant::now();
    for (k, serial) in members {
        if c.conns.get(k).is_some_and(|m| m.serial == serial) {
            logic::send_payload(c, k, now);
        }
    }
}

/// A chat broadcast reached a member.
pub(super) fn on_chat(c: &mut Client, key: usize, own: bool, message: &str) {
    let Some((session, index, _)) = role_of(c, key) else {
        return;
    };
    if own {
        logic::own_return(c, key, message);
    } else {
        logic::delivery(c, message);
    }
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    conn.broadcasts += 1;
    let seen = conn.broadcasts as usize;
    let Some(s) = c.churn.sessions.get_mut(session) else {
        return;
    };
    // Player 0 has seen every member's message: the worker has handled them all, so every
    // member gets them before the result. End the session.
    if index == 0 && s.stage == Stage::Playing && seen == s.members.len() {
        s.stage = Stage::Ending;
        let end = format!(
            r#"{{"type":"end","result":{{"winner":"p0","sid":"{}"}}}}"#,
            s.sid
        );
        let mut out = Vec::new();
        if let Some(conn) = c.conns.get_mut(key) {
            conn.send_text(end, &mut out);
            if conn.dirty {
                c.dirty.push(key);
            }
        }
        for item in out {
            logic::handle(c, key, item);
        }
    }
}

/// A member received a result token: verify it.
pub(super) fn on_result(c: &mut Client, key: usize, token: &str) {
    let Some((session, _, late)) = role_of(c, key) else {
        return;
    };
    let Some(sid) = c.churn.sessions.get(session).map(|s| s.sid.clone()) else {
        return;
    };
    let Some(verifier) = c.sh.results.as_ref() else {
        c.rec.error("churn:no_result_keys");
        return;
    };
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    match verifier.verify(token, Shared::now_secs()) {
        Ok(v) if v.player() == conn.pid && v.session() == sid => {
            conn.result_ok = true;
            c.rec.results_verified += 1;
            if late {
                c.rec.late_results_verified += 1;
            }
        }
        Ok(_) => c.rec.error("churn:result_for_someone_else"),
        Err(e) => c.rec.error(format!("churn:result_invalid:{}", e.code())),
    }
}

/// A member was closed by the server.
pub(super) fn on_close(c: &mut Client, key: usize, code: u16, reason: &str) {
    let Some((session, _, late)) = role_of(c, key) else {
        return;
    };
    let result_ok = c.conns.get(key).is_some_and(|m| m.result_ok);
    finish(c, key);
    if code != 1000 || reason != "session_complete" {
        c.rec.error(format!("churn:closed:{code}:{reason}"));
        abort(c, session);
        return;
    }
    if !result_ok {
        c.rec.error("churn:closed_without_result");
        abort(c, session);
        return;
    }
    let Some(s) = c.churn.sessions.get_mut(session) else {
        return;
    };
    if late {
        let elapsed = u64::try_from(s.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        record(&mut c.rec.session, elapsed);
        c.rec.sessions += 1;
        c.churn.sessions.remove(session);
        start_session(c);
        return;
    }
    s.closed_ok += 1;
    if s.closed_ok == s.members.len() && s.stage != Stage::Late {
        s.stage = Stage::Late;
        let token =
            c.sh.tokens
                .valid("p0", &s.sid, Shared::now_secs(), c.sh.config.token_ttl);
        c.deferred.push(Planned {
            role: Role::Churn {
                session,
                index: 0,
                late: true,
            },
            pid: "p0".into(),
            token,
        });
    }
}

/// Gives up on a session: its remaining connections are dropped, a new one starts.
pub(super) fn abort(c: &mut Client, session: usize) {
    let Some(s) = c.churn.sessions.try_remove(session) else {
        return;
    };
    c.rec.error("churn:session_aborted");
    for (key, serial) in s.members.into_iter().flatten().chain(s.late) {
        if c.conns.get(key).is_some_and(|m| m.serial == serial) {
            finish(c, key);
            c.conns.remove(key);
        }
    }
    // Launches not yet made for this session are dropped too.
    c.deferred
        .retain(|p| !matches!(p.role, Role::Churn { session: s2, .. } if s2 == session));
    start_session(c);
}

/// Sessions past their deadline are aborted.
pub(super) fn expire(c: &mut Client, now: Instant) {
    while let Some(&(deadline, key, serial)) = c.churn.deadlines.front() {
        if deadline > now {
            break;
        }
        c.churn.deadlines.pop_front();
        if c.churn
            .sessions
            .get(key)
            .is_some_and(|s| s.serial == serial)
        {
            c.rec.error("churn:session_timeout");
            abort(c, key);
        }
    }
}
