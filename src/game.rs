//! The game-logic trait and the context handed to it.
//!
//! A [`Game`] value is one live session. It is created by [`Game::start`] when the first verified
//! player of a session arrives and lives on exactly one worker thread, so it needs no locks.
//! Callbacks never touch sockets: they record actions on the [`Ctx`] (send, broadcast, kick,
//! timers, end), which the worker carries out after the callback returns.

use crate::jwt::Verified;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One WebSocket data message (text or binary). Cloning is cheap (the payload is shared), so a
/// broadcast costs one allocation however many players receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(pub(crate) tungstenite::Message);

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self(tungstenite::Message::Text(text.into().into()))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Self(tungstenite::Message::Binary(data.into().into()))
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match &self.0 {
            tungstenite::Message::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The payload bytes (text as UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            tungstenite::Message::Text(t) => t.as_bytes(),
            tungstenite::Message::Binary(b) => b,
            _ => &[],
        }
    }

    /// True for a text message.
    pub fn is_text(&self) -> bool {
        matches!(self.0, tungstenite::Message::Text(_))
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True if the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Self::text(s)
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Self::binary(b)
    }
}

impl From<&serde_json::Value> for Message {
    fn from(v: &serde_json::Value) -> Self {
        Self::text(v.to_string())
    }
}

impl From<serde_json::Value> for Message {
    fn from(v: serde_json::Value) -> Self {
        Self::text(v.to_string())
    }
}

/// A verified participant of a session: the ids from its login token and the game's extra claims.
#[derive(Debug)]
pub struct Player<C> {
    pub(crate) token: Arc<Verified<C>>,
}

impl<C> Clone for Player<C> {
    fn clone(&self) -> Self {
        Self {
            token: Arc::clone(&self.token),
        }
    }
}

impl<C> Player<C> {
    /// The player id.
    pub fn id(&self) -> &str {
        self.token.player()
    }

    /// The session id.
    pub fn session(&self) -> &str {
        self.token.session()
    }

    /// The tenant, when the token spec names a tenant claim.
    pub fn tenant(&self) -> Option<&str> {
        self.token.tenant()
    }

    /// The permissions, when the token spec names a permissions claim.
    pub fn permissions(&self) -> &[String] {
        self.token.permissions()
    }

    /// The game's extra claims from the login token.
    pub fn claims(&self) -> &C {
        self.token.claims()
    }

    /// The whole verified login token.
    pub fn token(&self) -> &Verified<C> {
        &self.token
    }
}

/// Game logic for one session. See the crate docs for a complete example.
///
/// All callbacks run on the session's worker thread. A panic in any of them ends this session
/// with the result `{"error":"game_panicked"}` and close code 1011; the server keeps running.
pub trait Game: Sized + Send + 'static {
    /// The token's extra claims, deserialised for the game (use [`crate::NoClaims`] for none,
    /// or `serde_json::Value` for all of them).
    type Claims: DeserializeOwned + Send + Sync + 'static;

    /// Creates the session for its first verified player. [`Game::on_join`] follows for that
    /// same player.
    fn start(first: &Player<Self::Claims>, ctx: &mut Ctx<'_>) -> Self;

    /// A player joined (the first connection of this player in this session).
    fn on_join(&mut self, player: &Player<Self::Claims>, ctx: &mut Ctx<'_>) {
        let _ = (player, ctx);
    }

    /// A player connected again, replacing its older connection (which was closed with
    /// 4000 `replaced`), or came back after leaving.
    fn on_reconnect(&mut self, player: &Player<Self::Claims>, ctx: &mut Ctx<'_>) {
        let _ = (player, ctx);
    }

    /// A player sent a message.
    fn on_message(&mut self, player: &Player<Self::Claims>, message: &Message, ctx: &mut Ctx<'_>);

    /// A player's connection closed (it may reconnect while the session lives).
    fn on_leave(&mut self, player: &Player<Self::Claims>, ctx: &mut Ctx<'_>) {
        let _ = (player, ctx);
    }

    /// Called every tick interval (see the builder's `tick_interval`) while the session lives.
    fn on_tick(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }

    /// A timer set with [`Ctx::set_timer`] fired.
    fn on_timer(&mut self, timer: u64, ctx: &mut Ctx<'_>) {
        let _ = (timer, ctx);
    }

    /// An event posted to this session from outside with [`Poster::post`](crate::Poster::post)
    /// (an admin action, a matchmaker's decision…). Downcast it to the type that was posted.
    fn on_event(&mut self, event: Box<dyn Any + Send>, ctx: &mut Ctx<'_>) {
        let _ = (event, ctx);
    }
}

/// What a callback asked for; carried out by the worker after the callback returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// To the player in this slot of the session.
    Send(usize, Message),
    /// To every connected player but the one in this slot, if any.
    Broadcast(Message, Option<usize>),
    Kick(usize, String),
    Timer(Duration, u64),
    End(serde_json::Value),
    EndWith(serde_json::Value, Vec<(String, String)>),
}

/// The context of a callback: who is connected, what time it is, and the actions to take.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub(crate) session: &'a str,
    pub(crate) connected: &'a [String],
    pub(crate) now: u64,
    pub(crate) actions: &'a mut Vec<Action>,
    /// Player id → slot, so actions name players without copying their ids.
    pub(crate) slots: &'a HashMap<Arc<str>, usize>,
    pub(crate) state: Option<&'a (dyn Any + Send + Sync)>,
}

impl Ctx<'_> {
    /// Sends `message` to player `pid` (dropped if that player is not connected).
    pub fn send(&mut self, pid: &str, message: impl Into<Message>) {
        if let Some(&slot) = self.slots.get(pid) {
            self.actions.push(Action::Send(slot, message.into()));
        }
    }

    /// Sends `message` to every connected player (one shared payload).
    pub fn broadcast(&mut self, message: impl Into<Message>) {
        self.actions.push(Action::Broadcast(message.into(), None));
    }

    /// Sends `message` to every connected player but `pid`.
    pub fn broadcast_except(&mut self, pid: &str, message: impl Into<Message>) {
        let except = self.slots.get(pid).copied();
        self.actions.push(Action::Broadcast(message.into(), except));
    }

    /// Closes player `pid`'s connection with 4001 and `reason`; the player may reconnect.
    pub fn kick(&mut self, pid: &str, reason: &str) {
        if let Some(&slot) = self.slots.get(pid) {
            self.actions.push(Action::Kick(slot, reason.to_owned()));
        }
    }

    /// Calls [`Game::on_timer`] with `timer` after `after`.
    pub fn set_timer(&mut self, after: Duration, timer: u64) {
        self.actions.push(Action::Timer(after, timer));
    }

    /// Ends the session with `result`: every participant still connected receives its own
    /// signed result token and is closed with 1000 `session_complete`.
    pub fn end(&mut self, result: serde_json::Value) {
        self.actions.push(Action::End(result));
    }

    /// Ends the session with `result`, but hands the players named in `tokens` the given token
    /// as their final message instead of a server-signed result token (a matchmaker hands out
    /// admission tickets this way). Everyone else gets the usual result token.
    pub fn end_with_tokens(&mut self, result: serde_json::Value, tokens: Vec<(String, String)>) {
        self.actions.push(Action::EndWith(result, tokens));
    }

    /// The server-wide state set with the builder's `state`, if it is a `T`.
    pub fn state<T: Any>(&self) -> Option<&T> {
        self.state.and_then(|s| s.downcast_ref::<T>())
    }

    /// The ids of the players connected now.
    pub fn players(&self) -> &[String] {
        self.connected
    }

    /// The session id.
    pub fn session(&self) -> &str {
        self.session
    }

    /// Now, in seconds since the Unix epoch (as given to the worker).
    pub fn now(&self) -> u64 {
        self.now
    }
}
