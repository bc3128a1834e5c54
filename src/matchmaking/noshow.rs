//! The game-server side of a match: the ticket's claims and the no-show deadline.

use crate::game::{Ctx, Game, Message, Player};
use serde::Deserialize;
use serde_json::json;
use std::any::Any;
use std::collections::BTreeSet;
use std::time::Duration;

/// The extra claims of an admission ticket, as a game server reads them (use it as the game's
/// `Claims`). `pid`, `sid`, `aud`, `iat`, `exp` are checked by the server itself.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Admission {
    /// Every player id of the match.
    #[serde(default)]
    pub roster: Vec<String>,
    /// The player ids of each request (party) of the match, in match order.
    #[serde(default)]
    pub parties: Vec<Vec<String>>,
    /// The match data the matchmaker chose.
    #[serde(rename = "match", default)]
    pub match_data: serde_json::Value,
    /// The URL of this game-server instance, as the matchmaker knows it.
    #[serde(default)]
    pub url: String,
}

/// The timer id [`NoShow`] uses for its deadline; the wrapped game must not use it.
pub const NO_SHOW_TIMER: u64 = u64::MAX;

/// Wraps a game played with admission tickets: if some players of the ticket's `roster` have
/// not joined `DEADLINE_MS` milliseconds after the session started, the session ends with
///
/// ```json
/// {"status": "no_show", "missing": ["p2"], "arrived": ["p1"]}
/// ```
///
/// (ids sorted), so a player whose opponent never shows up is not blocked. Once everyone has
/// arrived the deadline does nothing. Every callback is forwarded to the inner game `G`
/// (timer [`NO_SHOW_TIMER`] excepted).
#[derive(Debug)]
pub struct NoShow<G, const DEADLINE_MS: u64 = 30_000> {
    game: G,
    roster: BTreeSet<String>,
    arrived: BTreeSet<String>,
}

impl<G, const D: u64> NoShow<G, D> {
    /// The wrapped game.
    pub fn inner(&self) -> &G {
        &self.game
    }

    /// The no-show deadline.
    pub const fn deadline() -> Duration {
        Duration::from_millis(D)
    }

    /// True once every roster player has joined.
    pub fn all_arrived(&self) -> bool {
        self.roster.is_subset(&self.arrived)
    }
}

impl<G: Game<Claims = Admission>, const D: u64> Game for NoShow<G, D> {
    type Claims = Admission;

    fn start(first: &Player<Admission>, ctx: &mut Ctx<'_>) -> Self {
        ctx.set_timer(Self::deadline(), NO_SHOW_TIMER);
        Self {
            game: G::start(first, ctx),
            roster: first.claims().roster.iter().cloned().collect(),
            arrived: BTreeSet::new(),
        }
    }

    fn on_join(&mut self, p: &Player<Admission>, ctx: &mut Ctx<'_>) {
        self.arrived.insert(p.id().to_owned());
        self.game.on_join(p, ctx);
    }

    fn on_reconnect(&mut self, p: &Player<Admission>, ctx: &mut Ctx<'_>) {
        self.game.on_reconnect(p, ctx);
    }

    fn on_message(&mut self, p: &Player<Admission>, m: &Message, ctx: &mut Ctx<'_>) {
        self.game.on_message(p, m, ctx);
    }

    fn on_leave(&mut self, p: &Player<Admission>, ctx: &mut Ctx<'_>) {
        self.game.on_leave(p, ctx);
    }

    fn on_tick(&mut self, ctx: &mut Ctx<'_>) {
        self.game.on_tick(ctx);
    }

    fn on_timer(&mut self, timer: u64, ctx: &mut Ctx<'_>) {
        if timer != NO_SHOW_TIMER {
            self.game.on_timer(timer, ctx);
            return;
        }
        if self.all_arrived() {
            return;
        }
        let missing: Vec<&String> = self.roster.difference(&self.arrived).collect();
        ctx.end(json!({"status": "no_show", "missing": missing, "arrived": self.arrived}));
    }

    fn on_event(&mut self, event: Box<dyn Any + Send>, ctx: &mut Ctx<'_>) {
        self.game.on_event(event, ctx);
    }
}
