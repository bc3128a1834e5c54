//! PURE: one session's state machine. Events and `now` go in, effects come out; the worker
//! carries the effects out. No sockets, no clock, no channels.
//!
//! Game callbacks run inside `catch_unwind`: a panic ends this session with the result
//! `{"error":"game_panicked"}` and close code 1011.

use crate::game::{Action, Ctx, Game, Message, Player};
use crate::jwt::Verified;
use crate::shard::ConnId;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Close code and reason for a connection replaced by a newer one of the same player.
pub(crate) const REPLACED: (u16, &str) = (4000, "replaced");
/// Close code for a kicked player (the reason is the game's).
pub(crate) const KICKED: u16 = 4001;
/// Close code and reason for a player who never joined a session that has ended.
pub(crate) const SESSION_ENDED: (u16, &str) = (4002, "session_ended");
/// Normal end of a session.
pub(crate) const COMPLETE: (u16, &str) = (1000, "session_complete");
/// End by server shutdown.
pub(crate) const SHUTDOWN: (u16, &str) = (1001, "server_shutdown");
/// End by a panic in game logic.
pub(crate) const PANICKED: (u16, &str) = (1011, "game_panicked");

/// The time as the worker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    /// Milliseconds since the Unix epoch (token times).
    pub(crate) unix_ms: u64,
    /// Milliseconds on a monotonic clock (timers).
    pub(crate) mono_ms: u64,
}

/// What the worker must do after an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    Send(ConnId, Message),
    SendMany(Vec<ConnId>, Message),
    Close(ConnId, u16, Arc<str>),
    Timer {
        at_mono_ms: u64,
        timer: u64,
    },
    /// The session ended.
    End(Ending),
}

/// How a session ended: mint result tokens for `recipients` (connected now; send, then close
/// with `code`/`reason`) and archive `result` for all `participants`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ending {
    pub(crate) result: serde_json::Value,
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) recipients: Vec<(Arc<str>, ConnId)>,
    pub(crate) participants: Vec<Arc<str>>,
    /// Tokens the game chose for some players instead of result tokens.
    pub(crate) tokens: Vec<(String, String)>,
}

struct Slot<C> {
    player: Player<C>,
    pid: Arc<str>,
    conn: Option<ConnId>,
}

/// One live session.
pub(crate) struct Session<G: Game> {
    sid: Arc<str>,
    state: Option<Arc<dyn std::any::Any + Send + Sync>>,
    game: Option<G>,
    slots: Vec<Slot<G::Claims>>,
    by_pid: HashMap<Arc<str>, usize>,
    connected: Vec<String>,
    ended: bool,
    actions: Vec<Action>,
}

impl<G: Game> std::fmt::Debug for Session<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("players", &self.slots.len())
            .field("connected", &self.connected)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// What a join did, so the worker can index the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Joined {
    /// The player's index in the session (stable for the session's life).
    pub(crate) player: usize,
}

impl<G: Game> Session<G> {
    /// Starts a session for its first verified player: `Game::start`, then `on_join`.
    pub(crate) fn start(
        token: Arc<Verified<G::Claims>>,
        conn: ConnId,
        state: Option<Arc<dyn std::any::Any + Send + Sync>>,
        now: Now,
        out: &mut Vec<Effect>,
    ) -> (Self, Joined) {
        let mut s = Self {
            sid: token.session().into(),
            state,
            game: None,
            slots: Vec::new(),
            by_pid: HashMap::new(),
            connected: Vec::new(),
            ended: false,
            actions: Vec::new(),
        };
        let idx = s.add_slot(token, conn);
        let player = s.slots[idx].player.clone();
        // If `start` panics, `call` has already ended the session.
        if let Some(game) = s.call(now, out, |ctx| G::start(&player, ctx)) {
            s.game = Some(game);
            s.apply(now, out);
            s.run(now, out, |g, ctx| g.on_join(&player, ctx));
        }
        (s, Joined { player: idx })
    }

    /// A verified connection for this session: a new player (`on_join`), or a known one
    /// reconnecting (`on_reconnect`; an older connection is closed with 4000 `replaced`).
    pub(crate) fn join(
        &mut self,
        token: Arc<Verified<G::Claims>>,
        conn: ConnId,
        now: Now,
        out: &mut Vec<Effect>,
    ) -> Joined {
        if let Some(&idx) = self.by_pid.get(token.player()) {
            let slot = &mut self.slots[idx];
            slot.player = Player { token };
            if let Some(old) = slot.conn.replace(conn) {
                out.push(Effect::Close(old, REPLACED.0, REPLACED.1.into()));
            } else {
                self.connected.push(slot.pid.to_string());
            }
            let player = self.slots[idx].player.clone();
            self.run(now, out, |g, ctx| g.on_reconnect(&player, ctx));
            return Joined { player: idx };
        }
        let idx = self.add_slot(token, conn);
        let player = self.slots[idx].player.clone();
        self.run(now, out, |g, ctx| g.on_join(&player, ctx));
        Joined { player: idx }
    }

    /// A message from player `idx` on connection `conn` (ignored if that connection was replaced).
    pub(crate) fn message(
        &mut self,
        idx: usize,
        conn: ConnId,
        message: &Message,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        let Some(slot) = self.slots.get(idx) else {
            return;
        };
        if slot.conn != Some(conn) {
            return;
        }
        let player = slot.player.clone();
        self.run(now, out, |g, ctx| g.on_message(&player, message, ctx));
    }

    /// Player `idx`'s connection `conn` closed.
    pub(crate) fn leave(&mut self, idx: usize, conn: ConnId, now: Now, out: &mut Vec<Effect>) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.conn != Some(conn) {
            return;
        }
        slot.conn = None;
        let pid = Arc::clone(&slot.pid);
        self.connected.retain(|p| **p != *pid);
        let player = self.slots[idx].player.clone();
        self.run(now, out, |g, ctx| g.on_leave(&player, ctx));
    }

    /// The tick interval elapsed.
    pub(crate) fn tick(&mut self, now: Now, out: &mut Vec<Effect>) {
        self.run(now, out, |g, ctx| g.on_tick(ctx));
    }

    /// A timer set by the game fired.
    pub(crate) fn timer(&mut self, timer: u64, now: Now, out: &mut Vec<Effect>) {
        self.run(now, out, |g, ctx| g.on_timer(timer, ctx));
    }

    /// An event posted from outside.
    pub(crate) fn event(
        &mut self,
        event: Box<dyn std::any::Any + Send>,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        self.run(now, out, |g, ctx| g.on_event(event, ctx));
    }

    /// Ends the session because the server shuts down.
    pub(crate) fn shutdown(&mut self, out: &mut Vec<Effect>) {
        if !self.ended {
            self.finish(
                serde_json::json!({"reason": "shutdown"}),
                SHUTDOWN,
                Vec::new(),
                out,
            );
        }
    }

    /// True once the session has ended (it must then move to the archive).
    #[cfg(test)]
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// The session id.
    pub(crate) fn sid(&self) -> &Arc<str> {
        &self.sid
    }

    fn add_slot(&mut self, token: Arc<Verified<G::Claims>>, conn: ConnId) -> usize {
        let pid: Arc<str> = token.player().into();
        let idx = self.slots.len();
        self.connected.push(pid.to_string());
        self.by_pid.insert(Arc::clone(&pid), idx);
        self.slots.push(Slot {
            player: Player { token },
            pid,
            conn: Some(conn),
        });
        idx
    }

    /// Runs a callback on the live game and applies its actions.
    fn run(&mut self, now: Now, out: &mut Vec<Effect>, f: impl FnOnce(&mut G, &mut Ctx<'_>)) {
        if self.ended || self.game.is_none() {
            return;
        }
        let mut game = self.game.take();
        let done = self.call(now, out, |ctx| {
            if let Some(g) = game.as_mut() {
                f(g, ctx);
            }
        });
        if done.is_some() {
            self.game = game;
            self.apply(now, out);
        }
    }

    /// Calls `f` with a fresh context, catching panics (which end the session).
    fn call<R>(
        &mut self,
        now: Now,
        out: &mut Vec<Effect>,
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> Option<R> {
        self.actions.clear();
        let mut ctx = Ctx {
            session: &self.sid,
            connected: &self.connected,
            now: now.unix_ms / 1000,
            actions: &mut self.actions,
            slots: &self.by_pid,
            state: self.state.as_deref(),
        };
        match catch_unwind(AssertUnwindSafe(|| f(&mut ctx))) {
            Ok(r) => Some(r),
            Err(_) => {
                log::error!("game logic panicked in session {}; ending it", self.sid);
                self.actions.clear();
                self.game = None;
                let result = serde_json::json!({"error": "game_panicked"});
                self.finish(result, PANICKED, Vec::new(), out);
                None
            }
        }
    }

    /// Turns the recorded actions into effects.
    fn apply(&mut self, now: Now, out: &mut Vec<Effect>) {
        let mut actions = std::mem::take(&mut self.actions);
        for action in actions.drain(..) {
            if self.ended {
                break;
            }
            match action {
                Action::Send(slot, m) => {
                    if let Some(conn) = self.slots[slot].conn {
                        out.push(Effect::Send(conn, m));
                    }
                }
                Action::Broadcast(m, except) => {
                    let conns: Vec<ConnId> = self
                        .slots
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| except != Some(i))
                        .filter_map(|(_, s)| s.conn)
                        .collect();
                    if !conns.is_empty() {
                        out.push(Effect::SendMany(conns, m));
                    }
                }
                Action::Kick(slot, reason) => {
                    let slot = &mut self.slots[slot];
                    if let Some(conn) = slot.conn.take() {
                        out.push(Effect::Close(conn, KICKED, reason.into()));
                        let pid = Arc::clone(&slot.pid);
                        self.connected.retain(|p| **p != *pid);
                    }
                }
                Action::Timer(after, timer) => out.push(Effect::Timer {
                    at_mono_ms: now
                        .mono_ms
                        .saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
                    timer,
                }),
                Action::End(result) => self.finish(result, COMPLETE, Vec::new(), out),
                Action::EndWith(result, tokens) => self.finish(result, COMPLETE, tokens, out),
            }
        }
        // Drained: empty, but keeps its capacity for the next callback.
        self.actions = actions;
    }

    fn finish(
        &mut self,
        result: serde_json::Value,
        how: (u16, &'static str),
        tokens: Vec<(String, String)>,
        out: &mut Vec<Effect>,
    ) {
        self.ended = true;
        self.game = None;
        let recipients = self
            .slots
            .iter_mut()
            .filter_map(|s| s.conn.take().map(|c| (Arc::clone(&s.pid), c)))
            .collect();
        self.connected.clear();
        out.push(Effect::End(Ending {
            result,
            code: how.0,
            reason: how.1,
            recipients,
            participants: self.slots.iter().map(|s| Arc::clone(&s.pid)).collect(),
            tokens,
        }));
    }
}

#[cfg(test)]
mod tests;
