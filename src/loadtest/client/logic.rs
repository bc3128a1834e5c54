//! What the client loop does with each [`Incoming`] item: readiness, refusals, echoes, chat
//! deliveries, closes. Churn sessions are delegated to [`super::churn`].

use super::conn::{Incoming, Role};
use super::{Client, churn};
use crate::loadtest::control::Phase;
use crate::loadtest::payload::{self, Reply};
use crate::loadtest::recorder::record;
use crate::loadtest::{Pacing, TokenVia};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tungstenite::Message;

pub(super) fn handle(c: &mut Client, key: usize, item: Incoming) {
    match item {
        Incoming::Upgraded => on_upgraded(c, key),
        Incoming::Refused { status, code } => on_refused(c, key, status, code),
        Incoming::Data(Message::Text(text)) => on_text(c, key, text.as_str()),
        Incoming::Data(_) => {
            c.rec.received += 1;
            c.rec.error("unexpected_binary");
        }
        Incoming::CloseFrame { code, reason } => on_close_frame(c, key, code, &reason),
        Incoming::Ended(kind) => on_ended(c, key, kind),
    }
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn on_upgraded(c: &mut Client, key: usize) {
    let welcome = c.sh.welcome;
    let via = c.sh.config.token_via;
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    match conn.role {
        Role::Bad(_) => {
            record(&mut c.rec.refusal, elapsed_ns(conn.started));
            if via != TokenVia::Message {
                c.rec.error("bad:token_accepted");
                finish(c, key);
                c.close_conn(key);
            }
        }
        Role::Player => {
            record(&mut c.rec.handshake, elapsed_ns(conn.started));
            if !welcome {
                become_ready(c, key);
            }
        }
        Role::Churn { late, .. } => {
            record(&mut c.rec.handshake, elapsed_ns(conn.started));
            if late {
                become_ready(c, key);
            }
        }
    }
}

/// Counts a connection as ready for traffic.
fn become_ready(c: &mut Client, key: usize) {
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    if conn.ready || conn.finished {
        return;
    }
    conn.ready = true;
    let (role, serial) = (conn.role, conn.serial);
    c.inflight = c.inflight.saturating_sub(1);
    c.rec.connected += 1;
    let ns = c.sh.ns_since_epoch(Instant::now());
    c.published().last_ready_ns.fetch_max(ns, Relaxed);
    match role {
        Role::Player => {
            c.ready.push((key, serial));
            if c.phase == Phase::Run && c.sh.config.scenario.sends_messages() {
                fill_window(c, key, serial);
            }
        }
        Role::Churn { .. } => churn::on_ready(c, key),
        Role::Bad(_) => {}
    }
}

/// Marks the outcome of a connection as decided, so its teardown is not counted as a failure.
pub(super) fn finish(c: &mut Client, key: usize) {
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    if conn.finished {
        return;
    }
    conn.finished = true;
    if !conn.ready {
        c.inflight = c.inflight.saturating_sub(1);
    }
    if conn.outstanding > 0 {
        c.outstanding = c.outstanding.saturating_sub(u64::from(conn.outstanding));
        c.rec.lost += u64::from(conn.outstanding);
        conn.outstanding = 0;
    }
}

fn check_refusal(c: &mut Client, kind: crate::loadtest::BadKind, code: Option<&str>, what: &str) {
    match code {
        Some(code) if code == kind.expected_code() => c.rec.refusal_code(code),
        other => c.rec.error(format!(
            "bad:wrong_{what}:{}:{}",
            kind.expected_code(),
            other.unwrap_or("none")
        )),
    }
}

fn on_refused(c: &mut Client, key: usize, status: u16, code: Option<String>) {
    let Some(conn) = c.conns.get(key) else {
        return;
    };
    match conn.role {
        Role::Bad(kind) => {
            record(&mut c.rec.refusal, elapsed_ns(conn.started));
            if status == 401 || status == 403 {
                check_refusal(c, kind, code.as_deref(), "refusal");
            } else {
                c.rec.error(format!("bad:status:{status}"));
            }
            finish(c, key);
            if let Some(conn) = c.conns.try_remove(key) {
                if c.phase == Phase::Run {
                    c.relaunch_bad(conn);
                }
            }
        }
        _ => {
            c.rec.error(format!(
                "refused:{status}:{}",
                code.as_deref().unwrap_or("none")
            ));
            c.fail_conn(key);
        }
    }
}

fn on_text(c: &mut Client, key: usize, text: &str) {
    let Some(conn) = c.conns.get(key) else {
        return;
    };
    let (role, started) = (conn.role, conn.started);
    let reply = payload::classify(text);
    if reply != Reply::Welcome {
        c.rec.received += 1;
    }
    match reply {
        Reply::Welcome => {
            if matches!(role, Role::Player | Role::Churn { late: false, .. }) && !conn.ready {
                record(&mut c.rec.welcome, elapsed_ns(started));
                become_ready(c, key);
            }
        }
        Reply::Chat { pid, message } => {
            let own = pid == conn.pid;
            if let Role::Churn { .. } = role {
                churn::on_chat(c, key, own, message);
            } else if own {
                own_return(c, key, message);
            } else {
                delivery(c, message);
            }
        }
        Reply::Token(token) => {
            if let Role::Churn { .. } = role {
                churn::on_result(c, key, token);
            } else {
                c.rec.error("unexpected_result_token");
            }
        }
        Reply::Other(text) => match role {
            Role::Player => own_return(c, key, text),
            _ => c.rec.error("unexpected_message"),
        },
    }
}

/// A message from another session member (chat fan-out).
pub(super) fn delivery(c: &mut Client, message: &str) {
    match payload::decode(message) {
        Some((_, t)) => {
            let now = c.sh.ns_since_epoch(Instant::now());
            record(&mut c.rec.fanout, now.saturating_sub(t));
        }
        None => c.rec.error("unexpected_message"),
    }
}

/// One of this connection's own messages came back.
pub(super) fn own_return(c: &mut Client, key: usize, message: &str) {
    let Some((seq, t)) = payload::decode(message) else {
        c.rec.error("unexpected_message");
        return;
    };
    let now = c.sh.ns_since_epoch(Instant::now());
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    if seq != conn.expect_seq {
        c.rec.error("out_of_order");
    }
    conn.expect_seq = seq.wrapping_add(1);
    if conn.outstanding > 0 {
        conn.outstanding -= 1;
        c.outstanding = c.outstanding.saturating_sub(1);
    } else {
        c.rec.error("unsolicited_echo");
    }
    let serial = conn.serial;
    c.rec.returned += 1;
    record(&mut c.rec.rtt, now.saturating_sub(t));
    if c.phase == Phase::Run && matches!(c.sh.config.pacing, Pacing::Closed { .. }) {
        if let Role::Player = conn.role {
            fill_window(c, key, serial);
        }
    }
}

/// Closed loop: tops this connection up to the window.
pub(super) fn fill_window(c: &mut Client, key: usize, serial: u64) {
    let Pacing::Closed { window } = c.sh.config.pacing else {
        return;
    };
    for _ in 0..window {
        let Some(conn) = c.conns.get(key) else {
            return;
        };
        if conn.serial != serial || conn.finished || !conn.ready || conn.outstanding >= window {
            return;
        }
        send_payload(c, key, Instant::now());
    }
}

/// Sends the next payload on `key`, stamped with its intended send time.
pub(super) fn send_payload(c: &mut Client, key: usize, intended: Instant) {
    let t = c.sh.ns_since_epoch(intended);
    let size = c.sh.config.message_bytes;
    let mut out = Vec::new();
    let Some(conn) = c.conns.get_mut(key) else {
        return;
    };
    // The message owns its text: encode straight into it, no scratch buffer to copy from.
    let mut text = String::with_capacity(size.max(32));
    payload::encode(&mut text, conn.next_seq, t, size);
    conn.next_seq += 1;
    conn.outstanding += 1;
    c.outstanding += 1;
    c.rec.sent += 1;
    let was_dirty = conn.dirty;
    conn.send_text(text, &mut out);
    if !was_dirty && conn.dirty {
        c.dirty.push(key);
    }
    for item in out {
        handle(c, key, item);
    }
}

fn on_close_frame(c: &mut Client, key: usize, code: u16, reason: &str) {
    let via = c.sh.config.token_via;
    let Some(conn) = c.conns.get(key) else {
        return;
    };
    if conn.finished {
        return;
    }
    match conn.role {
        Role::Bad(kind) if via == TokenVia::Message => {
            if code == 1008 {
                check_refusal(c, kind, Some(reason), "close");
            } else {
                c.rec.error(format!("bad:close:{code}:{reason}"));
            }
            finish(c, key);
            if c.phase == Phase::Run {
                if let Some(conn) = c.conns.get(key) {
                    let (role, pid) = (conn.role, conn.pid.clone());
                    c.relaunch_role(role, pid);
                }
            }
        }
        Role::Churn { .. } => churn::on_close(c, key, code, reason),
        _ => {
            let prefix = conn.role.error_prefix();
            c.rec.error(format!("{prefix}closed:{code}:{reason}"));
            if !conn.ready {
                c.published().failed.fetch_add(1, Relaxed);
            }
            finish(c, key);
        }
    }
}

fn on_ended(c: &mut Client, key: usize, kind: Option<String>) {
    let Some(conn) = c.conns.get(key) else {
        return;
    };
    if conn.finished {
        c.conns.remove(key);
        return;
    }
    let prefix = conn.role.error_prefix();
    let kind = kind.unwrap_or_else(|| "closed_without_frame".into());
    c.rec.error(format!("{prefix}{kind}"));
    c.fail_conn(key);
}
