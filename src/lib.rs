//! # jwt-game-server
//!
//! WebSocket game and matchmaking servers where players prove who they are with JWTs, each
//! session happens at most once, and every participant leaves with a signed result token.
//! Thread-per-core and synchronous: mio event loops, no async runtime.
#![deny(missing_docs)]

mod affinity;
mod config;
mod error;
mod game;
mod http;
mod runtime;
mod stats;
pub mod jwt;

pub use config::{Built, ServerBuilder};
pub use error::{AuthError, ConfigError, Error};
pub use game::{Ctx, Game, Message, Player};
pub use http::{HttpHandler, HttpRequest, HttpResponse};
pub use runtime::{Server, ServerHandle};
pub use stats::Stats;
pub use jwt::{Algorithm, Keys, NoClaims, Signer, TokenSpec, Verified, Verifier};
