//! # jwt-game-server
//!
//! WebSocket game and matchmaking servers where players prove who they are with JWTs, each
//! session happens at most once, and every participant leaves with a signed result token.
//! Thread-per-core and synchronous: mio event loops, no async runtime.
//!
//! ```no_run
//! use jwt_game_server::{Ctx, Game, Message, NoClaims, Player, Server, Signer, TokenSpec};
//!
//! /// A chat room that ends when the last player leaves.
//! struct Chat;
//!
//! impl Game for Chat {
//!     type Claims = NoClaims;
//!     fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self { Chat }
//!     fn on_message(&mut self, _p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
//!         ctx.broadcast(m.clone())
//!     }
//!     fn on_leave(&mut self, _p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
//!         if ctx.players().is_empty() {
//!             ctx.end(serde_json::json!({ "reason": "empty" }))
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let login = Signer::generate_ed25519("login")?; // your auth service holds this key
//! let server = Server::builder()
//!     .bind("127.0.0.1:9000")
//!     .keys(login.verification_keys())
//!     .tokens(TokenSpec::default().issuer("urn:auth").audience("game"))
//!     .result_signer(Signer::generate_ed25519("result")?)
//!     .io_threads(2)
//!     .workers(2)
//!     .game::<Chat>()
//!     .build()?
//!     .start()?;
//! server.wait();
//! # Ok(())
//! # }
//! ```
//!
//! ## Threads
//!
//! With the defaults (`io_threads == workers`, one each per core), workers are *colocated*: I/O
//! thread *i* hosts the sessions of shard *i*. A connection is accepted by whichever thread the
//! kernel picks (`SO_REUSEPORT`); once its token verifies, it moves to the thread owning its
//! session (the shard is a stable hash of tenant and session id), once. From then on each of
//! its frames is read, handled by [`Game`] and answered on one thread, and a broadcast reaches
//! every member of the session without leaving it. Events posted with [`Poster`] and moving
//! connections travel over crossbeam channels. [`ServerBuilder::colocate_workers`]`(false)`
//! runs workers on threads of their own instead: every message then crosses I/O thread →
//! worker → I/O thread, and `workers` may differ from `io_threads`.
//!
//! ## Error codes
//!
//! A refused token is answered before the upgrade with HTTP 401 (403 where noted) and the body
//! `{"error": code, "message": text}`, or, for a token sent as the first message, with close
//! 1008 and the code as reason. The codes are [`AuthError::code`]:
//!
//! | code | meaning |
//! |---|---|
//! | `token_missing` | no token in `Authorization: Bearer`, `?token=`, or the first message |
//! | `token_too_large` | longer than `TokenSpec::max_token_bytes` (checked before decoding) |
//! | `token_malformed` | not a compact JWS with JSON-object header and claims; bad base64url; duplicate names; `crit`; `b64`; a claim of the wrong type |
//! | `invalid_algorithm` | `alg` is not the selected key's algorithm (`none` included) |
//! | `unknown_key` | no configured key has the header's `kid` |
//! | `signature_invalid` | the signature does not verify |
//! | `token_expired` | `exp` + leeway is in the past |
//! | `token_not_yet_valid` | `nbf` or `iat` − leeway is in the future |
//! | `lifetime_exceeded` | `exp − iat` above the maximum lifetime, or no `iat` while one is set |
//! | `invalid_issuer` | `iss` missing or not accepted |
//! | `invalid_audience` | `aud` missing or names no accepted audience |
//! | `missing_claim` | `exp`, the player or session id, the tenant, or a required claim is absent |
//! | `wrong_token_type` | header `typ` is not a login type (a result token can never log in) |
//! | `insufficient_permissions` | a required permission is missing (HTTP 403) |
//! | `wrong_tenant` | the tenant is not served here (HTTP 403) |
//! | `token_replayed` | the token id was already used |
//! | `auth_timeout` | no first-message token within the auth timeout (close 1008) |
//!
//! ## Close codes
//!
//! | code | reason | when |
//! |---|---|---|
//! | 1000 | `session_complete` | after the player's result token (session ended, or a late join of an ended session) |
//! | 1001 | `server_shutdown` | graceful shutdown (live sessions first send their result tokens) |
//! | 1002 | `protocol_error` | a WebSocket protocol violation |
//! | 1007 | `invalid_utf8` | a text message that is not UTF-8 |
//! | 1008 | an auth code, or `slow_consumer` | first-message token refused; outbound byte cap exceeded |
//! | 1009 | `message_too_big` / `frame_too_big` | above `max_message_bytes` / `max_frame_bytes` |
//! | 1011 | `game_panicked` | the game logic panicked; that session ended with `{"error":"game_panicked"}` |
//! | 4000 | `replaced` | the same player connected again to the same session; the newer connection continues |
//! | 4001 | the game's reason | [`Ctx::kick`] |
//! | 4002 | `session_ended` | a valid token for an ended session, from a player who never joined it |
//! | 4003 | `idle_timeout` | a keepalive ping went unanswered |
#![deny(missing_docs)]

mod affinity;
mod archive;
mod config;
pub mod demo;
mod error;
mod game;
mod http;
mod io;
pub mod jwt;
#[cfg(feature = "loadtest")]
pub mod loadtest;
pub mod matchmaking;
mod runtime;
mod session;
mod shard;
mod stats;
mod validate;
mod worker;

pub use config::{Built, ServerBuilder};
pub use error::{AuthError, ConfigError, Error};
pub use game::{Ctx, Game, Message, Player};
pub use http::{HttpHandler, HttpRequest, HttpResponse};
pub use jwt::{Algorithm, Keys, NoClaims, Signer, TokenSpec, Verified, Verifier};
pub use matchmaking::{
    Admission, Instance, Match, MatchRequest, Matchmaker, NoShow, Queues, TicketConfig, Waiting,
};
pub use runtime::{Poster, Server, ServerHandle};
pub use stats::Stats;
