//! Matchmaking: match requests are sessions, admission tickets are their results.
//!
//! A matchmaking server is the same server as a game server, with [`MatchRequest`] as its game
//! (chosen with [`ServerBuilder::matchmaker`], or [`ServerBuilder::matchmaker_queues`] for
//! several queues):
//!
//! 1. A **match request** is a session: its session id is the request id (a player's own id, or
//!    a party id that every party member's login token names). Its **queue** is fixed when the
//!    session starts, from its first player's claims ([`Matchmaker::queue`]). When the party is
//!    complete ([`Matchmaker::party_size`] distinct players joined) — and, if the queue's
//!    matchmaker [needs data](Matchmaker::needs_data), once a party member has sent the text
//!    `{"type":"queue","data":{…}}` — the request is sent to its queue's **pool thread**. The
//!    request carries its players' verified claims (rating, region…) and its
//!    [`Waiting::data`] (that message's `data`; `null` when the matchmaker needs no data: such
//!    a request joins the pool at once and `queue` messages are ignored).
//! 2. Each pool thread owns the pool of waiting requests of its queue. It runs
//!    [`Matchmaker::find_matches`] after every batch of new requests (it drains its channel
//!    first, then matches once) and every [`Matchmaker::interval`] (a `recv_timeout`: no busy
//!    spinning, no sleep loop).
//! 3. For each match the pool thread picks the game session id and the game-server instance
//!    ([`TicketConfig`]) and posts that **one shared match description** to every request
//!    session of the match. Each request session, on its own worker, signs its own players'
//!    **admission tickets** (one Ed25519 signature per player, with the ticket signer held in
//!    the server state) and ends with [`Ctx::end_with_tokens`](crate::Ctx::end_with_tokens):
//!    each player receives its ticket as the final text message, then close 1000
//!    `session_complete`. So signing, the expensive part, is spread over the sharded workers
//!    and the pool thread only matches. A player that reconnects later with its login token
//!    gets the same ticket from the archive.
//! 4. The ticket is a login token for a game server: `pid`, `sid` (a fresh random game session
//!    id), `aud` (the chosen instance id), `url`, `roster`, `parties`, `match`, `iat`, `exp`,
//!    `jti`, header `typ` `JWT`. A game server accepts it with
//!    `TokenSpec::default().audience(instance_id)` and the matchmaker's
//!    [`Signer::verification_keys`](crate::Signer::verification_keys), so a ticket for another
//!    instance is refused before the upgrade with HTTP 401 `invalid_audience`.
//! 5. [`NoShow`] wraps a game so that a matched session where some players never arrive ends
//!    after a deadline with the result `{"status":"no_show","missing":[…],"arrived":[…]}`.
//!
//! # Request results
//!
//! | outcome | how | each player receives |
//! |---|---|---|
//! | matched | the pool matched the request | its admission ticket (signed by the ticket signer) |
//! | cancelled | text `{"type":"cancel"}`, or a disconnect when [`Matchmaker::cancel_on_disconnect`] | a result token with `{"status":"cancelled"}` |
//! | timed out | waited longer than [`Matchmaker::max_wait`] | a result token with `{"status":"timed_out"}` |
//! | unknown queue | [`Matchmaker::queue`] names a queue the server does not run | a result token with `{"status":"error","error":"unknown_queue"}` |
//!
//! Other client messages (and any text over 16 KiB) are ignored. A player joining a request whose party is already full is
//! kicked (4001 `party_full`); a party member whose claims name another queue than the request's
//! first player is kicked (4001 `wrong_queue`).
//!
//! # Queues and sharding
//!
//! Sessions are sharded over workers, but pools are not: there is **one pool thread per queue**,
//! the single owner of that queue's pool and of its own [`Matchmaker`] value. The queues are
//! fixed when the server is built ([`Queues`]) and their pool threads are all **started up
//! front**, with the server; the table from queue name to pool channel never changes after
//! that, so request sessions read it without locks. A request session forwards its
//! `Enqueue`/`Cancel` to its queue's pool over that pool's crossbeam channel. The matchmaker of
//! each queue is made by a factory `FnMut(&str) -> M` called once per queue name at build time
//! ([`ServerBuilder::matchmaker_queues`]); [`ServerBuilder::matchmaker`] is the one-queue case
//! (queue `"default"`). Requests of different queues are never in the same pool, so they are
//! never matched together.
//!
//! # Why this is race-free
//!
//! - Only a pool's own thread reads or changes that pool, so `find_matches` sees a consistent
//!   pool and no two threads can match the same request. A request's queue is decided once,
//!   when its session starts, so the request is sent to exactly one pool.
//! - A request session lives on one worker and sends `Enqueue` at most once, before any
//!   `Cancel`, on one channel: the pool thread receives them in that order.
//! - The pool thread removes every request of a match from the pool **before** it posts
//!   anything. A request leaves the pool exactly once (matched, cancelled or timed out), and
//!   only then is exactly one outcome posted to it, so a request is matched at most once, ever.
//! - Signing happens after that decision, in the request session that received the outcome: it
//!   renders the decision (the shared match description) into its players' tickets and ends.
//!   Moving the signing there changes no ownership and adds no shared state: the description is
//!   immutable (`Arc`), the ticket signer is read-only, and a session signs only on the one
//!   `Matched` outcome it can ever receive.
//! - A `Cancel` for a request that already left the pool is ignored: the `Matched` (or
//!   `TimedOut`) event is already on its way to the session and wins. The session ends on the
//!   first outcome it receives and only ever receives one.
//! - The session id of an ended request stays in the archive until its login tokens expire, so
//!   the same request cannot be queued again.
//!
//! [`ServerBuilder::matchmaker`]: crate::ServerBuilder::matchmaker
//! [`ServerBuilder::matchmaker_queues`]: crate::ServerBuilder::matchmaker_queues

mod noshow;
mod pool;
mod queues;
mod rating;
mod request;
mod tickets;

pub use noshow::{Admission, NO_SHOW_TIMER, NoShow};
pub use pool::Pool;
pub use queues::Queues;
pub use rating::{RatedClaims, RatingMatchmaker};
pub use request::MatchRequest;
pub use tickets::{Instance, Picker, TicketConfig, pick_by_hash};

pub(crate) use queues::MatchState;

use crate::game::Player;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tickets::MatchedGame;

/// The user's matchmaking algorithm. Each queue has its own value, owned by that queue's pool
/// thread.
pub trait Matchmaker: Send + 'static {
    /// The login tokens' extra claims (rating, region, party size…).
    type Claims: DeserializeOwned + Send + Sync + 'static;

    /// Groups waiting requests into matches. `pool` holds every waiting request (oldest first is
    /// not guaranteed); `now_ms` is a monotonic clock in milliseconds (the pool thread's).
    ///
    /// Each returned [`Match`] names request ids from `pool`. A match naming an unknown id, or
    /// an id already used by another match of the same call or twice, is dropped whole with a
    /// log warning; its valid requests stay in the pool.
    fn find_matches(&mut self, pool: &[Waiting<Self::Claims>], now_ms: u64) -> Vec<Match>;

    /// How often `find_matches` runs when no new request arrives (default 100 ms).
    fn interval(&self) -> Duration {
        Duration::from_millis(100)
    }

    /// How long a request may wait before it ends with `{"status":"timed_out"}` (default: no
    /// limit).
    fn max_wait(&self) -> Option<Duration> {
        None
    }

    /// Whether a disconnecting player cancels its request (default true). Read once, when the
    /// server is built.
    fn cancel_on_disconnect(&self) -> bool {
        true
    }

    /// Whether a request waits for its data before it joins the pool (default false). Read
    /// once, when the server is built.
    ///
    /// When true, a complete request joins the pool only once a party member has sent the text
    /// `{"type":"queue","data":D}`; `D` (`null` if absent) becomes [`Waiting::data`]. The first
    /// such message counts, later ones are ignored; until it arrives the request is not in the
    /// pool (no `max_wait`), and it ends only by cancel or disconnect. When false, the request
    /// joins the pool as soon as its party is complete, with data `null`, and `queue`
    /// messages are ignored.
    fn needs_data(&self) -> bool {
        false
    }

    /// How many distinct players make the request complete, given its first player (default 1).
    /// Values below 1 count as 1.
    fn party_size(first: &Player<Self::Claims>) -> usize {
        let _ = first;
        1
    }

    /// The queue of a request, from its first player's claims: a queue name of the server's
    /// [`Queues`], or `None` for the default queue (the first of [`Queues`]; `"default"` with
    /// [`ServerBuilder::matchmaker`](crate::ServerBuilder::matchmaker)). Default: `None`.
    ///
    /// The claim it reads is chosen by the claims type, e.g. a `queue` or `region` field
    /// (`#[serde(default)] region: Option<String>` and `p.claims().region.as_deref()`), so the
    /// queue comes from the signed login token, never from the client. Runs on the request's
    /// worker when the session starts, and for each later party member (a member naming
    /// another queue is kicked with `wrong_queue`).
    fn queue(first: &Player<Self::Claims>) -> Option<&str> {
        let _ = first;
        None
    }
}

/// A request waiting in the pool.
#[derive(Debug)]
pub struct Waiting<C> {
    /// The request id: the session id of its login tokens.
    pub id: String,
    /// The tenant of the request session, when tenants are configured.
    pub tenant: Option<String>,
    /// Its players, in join order, with their verified claims.
    pub players: Vec<Player<C>>,
    /// Request data: the `data` of the client's `{"type":"queue","data":…}` message when the
    /// matchmaker [needs data](Matchmaker::needs_data), else `null`.
    pub data: serde_json::Value,
    /// When it entered the pool (the pool's monotonic clock, ms).
    pub since_ms: u64,
    /// How long it has waited, as of this `find_matches` call (ms).
    pub waited_ms: u64,
}

/// A group of requests that play together, and data for the game (copied into every ticket's
/// `match` claim).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The request ids of the match ([`Waiting::id`]).
    pub requests: Vec<String>,
    /// Match data for the game (teams, map, mode…).
    pub data: serde_json::Value,
}

/// The outcome a pool thread posts to a request session.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Matched into this game (shared by every request of the match): sign the request's
    /// players' tickets, hand them out and end with the game's result.
    Matched(Arc<MatchedGame>),
    /// Cancelled while waiting.
    Cancelled,
    /// Waited longer than `max_wait`.
    TimedOut,
}

/// What a request session tells the pool thread.
#[derive(Debug)]
pub(crate) enum ToPool<C> {
    Enqueue {
        id: String,
        tenant: Option<String>,
        players: Vec<Player<C>>,
        data: serde_json::Value,
    },
    Cancel {
        id: String,
    },
}

#[cfg(test)]
mod tests;
