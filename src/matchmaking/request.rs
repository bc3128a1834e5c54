//! A match request as a session: collects its party, queues it, hands out its outcome.

use super::{MatchState, Matchmaker, Outcome, ToPool};
use crate::game::{Ctx, Game, Message, Player};
use crate::jwt::Verified;
use serde_json::json;
use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

/// The game of a matchmaking server: one session is one match request (see the
/// [module docs](crate::matchmaking)). Built by
/// [`ServerBuilder::matchmaker`](crate::ServerBuilder::matchmaker).
pub struct MatchRequest<M: Matchmaker> {
    party_size: usize,
    /// The queue index (fixed at start); `None` if the first player's queue is not served.
    queue: Option<usize>,
    players: Vec<Player<M::Claims>>,
    /// The request data, once a `{"type":"queue"}` message gave it.
    data: Option<serde_json::Value>,
    queued: bool,
    closing: bool,
    _m: PhantomData<fn() -> M>,
}

impl<M: Matchmaker> std::fmt::Debug for MatchRequest<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchRequest")
            .field("party_size", &self.party_size)
            .field("queue", &self.queue)
            .field("players", &self.players.len())
            .field("has_data", &self.data.is_some())
            .field("queued", &self.queued)
            .finish()
    }
}

impl<C> From<Verified<C>> for Player<C> {
    /// A player from a verified login token (for driving a [`Pool`](super::Pool) directly, e.g.
    /// in benches and tests).
    fn from(token: Verified<C>) -> Self {
        Self {
            token: Arc::new(token),
        }
    }
}

/// Longest text parsed as a control message; longer texts are ignored.
const MAX_CONTROL_BYTES: usize = 16 * 1024;

/// A client message a request session understands.
#[derive(Debug, PartialEq)]
enum Control {
    /// `{"type":"cancel"}`.
    Cancel,
    /// `{"type":"queue","data":D}`: the request data (`null` when `data` is absent).
    Queue(serde_json::Value),
}

/// Parses `{"type":"cancel"}` and `{"type":"queue","data":…}` (any member order, extra members
/// allowed); anything else (binary, not JSON, another type, over 16 KiB) is `None`.
fn control(m: &Message) -> Option<Control> {
    let text = m.as_text()?;
    if text.len() > MAX_CONTROL_BYTES || !(text.contains("cancel") || text.contains("queue")) {
        return None;
    }
    let serde_json::Value::Object(mut v) = serde_json::from_str(text).ok()? else {
        return None;
    };
    match v.get("type")?.as_str()? {
        "cancel" => Some(Control::Cancel),
        "queue" => Some(Control::Queue(v.remove("data").unwrap_or_default())),
        _ => None,
    }
}

impl<M: Matchmaker> MatchRequest<M> {
    fn state<'c>(ctx: &'c Ctx<'_>) -> Option<&'c MatchState<M::Claims>> {
        ctx.state::<MatchState<M::Claims>>()
    }

    /// The pools and this request's queue in them, when both are known.
    fn pool<'c>(&self, ctx: &'c Ctx<'_>) -> Option<(&'c MatchState<M::Claims>, usize)> {
        Some((Self::state(ctx)?, self.queue?))
    }

    /// True if `p` is one of this request's players.
    fn is_member(&self, p: &Player<M::Claims>) -> bool {
        self.players.iter().any(|q| q.id() == p.id())
    }

    /// Sends the request to its queue's pool once it is complete: every party member joined
    /// and, when the queue's matchmaker needs data, the data arrived.
    fn enqueue_if_complete(&mut self, ctx: &mut Ctx<'_>) {
        let Some((state, queue)) = self.pool(ctx) else {
            return;
        };
        if self.queued || self.closing || self.players.len() < self.party_size {
            return;
        }
        if state.needs_data(queue) && self.data.is_none() {
            return;
        }
        let msg = ToPool::Enqueue {
            id: ctx.session().to_owned(),
            tenant: self.players[0].tenant().map(str::to_owned),
            players: self.players.clone(),
            data: self.data.take().unwrap_or_default(),
        };
        if state.send(queue, msg) {
            self.queued = true;
        } else {
            self.closing = true;
            ctx.end(json!({"status": "error", "error": "matchmaker_stopped"}));
        }
    }

    /// Cancels: straight away while the party is incomplete, through the pool once queued.
    fn cancel(&mut self, ctx: &mut Ctx<'_>) {
        if self.closing {
            return;
        }
        self.closing = true;
        if !self.queued {
            ctx.end(json!({"status": "cancelled"}));
            return;
        }
        let id = ctx.session().to_owned();
        let sent = self
            .pool(ctx)
            .is_some_and(|(s, q)| s.send(q, ToPool::Cancel { id }));
        if !sent {
            ctx.end(json!({"status": "cancelled"}));
        }
    }
}

impl<M: Matchmaker> Game for MatchRequest<M> {
    type Claims = M::Claims;

    fn start(first: &Player<M::Claims>, ctx: &mut Ctx<'_>) -> Self {
        Self {
            party_size: M::party_size(first).max(1),
            queue: Self::state(ctx).and_then(|s| s.queue_index(M::queue(first))),
            players: Vec::new(),
            data: None,
            queued: false,
            closing: false,
            _m: PhantomData,
        }
    }

    fn on_join(&mut self, p: &Player<M::Claims>, ctx: &mut Ctx<'_>) {
        if self.queued || self.closing || self.players.len() >= self.party_size {
            ctx.kick(p.id(), "party_full");
            return;
        }
        let Some(state) = Self::state(ctx) else {
            log::error!("matchmaker: no pool channels in the server state");
            self.closing = true;
            ctx.end(json!({"status": "error", "error": "no_matchmaker"}));
            return;
        };
        let Some(queue) = self.queue else {
            self.closing = true;
            ctx.end(json!({"status": "error", "error": "unknown_queue"}));
            return;
        };
        if state.queue_index(M::queue(p)) != Some(queue) {
            ctx.kick(p.id(), "wrong_queue");
            return;
        }
        self.players.push(p.clone());
        self.enqueue_if_complete(ctx);
    }

    fn on_message(&mut self, p: &Player<M::Claims>, m: &Message, ctx: &mut Ctx<'_>) {
        match control(m) {
            Some(Control::Cancel) => self.cancel(ctx),
            Some(Control::Queue(data))
                if !self.queued
                    && self.data.is_none()
                    && self.is_member(p)
                    && self.pool(ctx).is_some_and(|(s, q)| s.needs_data(q)) =>
            {
                self.data = Some(data);
                self.enqueue_if_complete(ctx);
            }
            _ => {}
        }
    }

    fn on_leave(&mut self, p: &Player<M::Claims>, ctx: &mut Ctx<'_>) {
        let cancels = self
            .pool(ctx)
            .is_none_or(|(s, q)| s.cancel_on_disconnect(q));
        if self.is_member(p) && cancels {
            self.cancel(ctx);
        }
    }

    fn on_event(&mut self, event: Box<dyn Any + Send>, ctx: &mut Ctx<'_>) {
        let Ok(outcome) = event.downcast::<Outcome>() else {
            return;
        };
        match *outcome {
            Outcome::Matched(game) => {
                let tokens = match Self::state(ctx) {
                    Some(state) => self
                        .players
                        .iter()
                        .map(|p| {
                            let pid = p.id().to_owned();
                            let ticket = state.tickets.sign(&game, &pid, ctx.now());
                            (pid, ticket)
                        })
                        .collect(),
                    None => Vec::new(),
                };
                ctx.end_with_tokens(game.result.clone(), tokens);
            }
            Outcome::Cancelled => ctx.end(json!({"status": "cancelled"})),
            Outcome::TimedOut => ctx.end(json!({"status": "timed_out"})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Control, control};
    use crate::Message;
    use serde_json::json;

    #[test]
    fn only_type_cancel_and_type_queue_are_control_messages() {
        let c = |t: &str| control(&Message::text(t));
        assert_eq!(c(r#"{"type":"cancel"}"#), Some(Control::Cancel));
        assert_eq!(c(r#"{"x":1,"type":"cancel"}"#), Some(Control::Cancel));
        assert_eq!(
            c(r#"{"data":{"mode":"ranked"},"type":"queue"}"#),
            Some(Control::Queue(json!({"mode": "ranked"})))
        );
        assert_eq!(c(r#"{"type":"queue"}"#), Some(Control::Queue(json!(null))));
        assert_eq!(c(r#"{"type":"other","cancel":1}"#), None);
        assert_eq!(c("cancel"), None);
        assert_eq!(c(r#"["queue"]"#), None);
        assert_eq!(c(r#"{"type":"cancel""#), None);
        let big = format!(r#"{{"type":"queue","data":"{}"}}"#, "x".repeat(20_000));
        assert_eq!(c(&big), None);
        assert_eq!(
            control(&Message::binary(b"{\"type\":\"cancel\"}".to_vec())),
            None
        );
    }
}
