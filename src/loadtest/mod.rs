//! The load-test harness core (feature `loadtest`), driven by `examples/loadtest.rs`.
//!
//! Synchronous and thread-per-core like the server: each client thread runs one mio event
//! loop over thousands of non-blocking sockets, does the WebSocket upgrade itself (so a
//! refusal's status and error code can be read) and then speaks WebSocket through a
//! tungstenite client over the same socket. No async runtime.
//!
//! # Scenarios
//! - `connect`: N authenticated connections as fast as possible, held for the run duration.
//!   Reports connects/s, handshake and time-to-welcome percentiles.
//! - `echo` / `chat`: C connections in sessions of K send messages, closed loop (a window of
//!   outstanding messages per connection) or open loop (a fixed total rate; latency measured
//!   from each message's intended send time, which corrects for coordinated omission).
//! - `churn`: sessions of K start, exchange a message each and end; every player's result
//!   token is verified with the server's result key, then a late joiner gets its result too.
//! - `bad-tokens`: a fraction of the connects carry forged, expired or malformed tokens and
//!   must be refused with `signature_invalid`, `token_expired`, `token_malformed`; during the
//!   run the refused ones are retried while the valid players run an echo load, whose latency
//!   is reported separately.
//! - `idle`: N connections held without traffic; server RSS per connection.
//!
//! # Measurements
//! Latency percentiles come from per-thread HDR histograms (merged at the end). Server CPU
//! time and RSS come from `/proc/<pid>/stat` and `/proc/<pid>/status` of the server process,
//! or, for a server embedded in this process, from `/proc/self` minus the harness's threads.
//!
//! # Scale
//! [`run`] raises the open-file limit as far as it may (and notes when it could not), binds
//! client sockets to sources spread over 127.0.0.0/8 when the target is on loopback (so
//! 100,000 connections do not run out of ephemeral ports), and bounds every loop in count and
//! time.
//!
//! # Examples
//! ```no_run
//! use jwt_game_server::loadtest::{self, LaunchOptions, LoadConfig, Scenario, ServerKind};
//!
//! let config = LoadConfig::new(Scenario::Echo);
//! let server = loadtest::launch(ServerKind::Ours, &LaunchOptions::new(config.scenario.game()))?;
//! let report = loadtest::run(&config, &server.target)?;
//! print!("{}", loadtest::render_table(&[report]));
//! # Ok::<(), loadtest::LoadError>(())
//! ```

mod addr;
mod child;
mod client;
mod config;
mod control;
mod error;
mod fdlimit;
pub mod floor;
mod handshake;
mod launch;
mod payload;
mod plot;
mod procstat;
mod recorder;
mod report;
mod run;
mod target;

pub use child::{ChildServer, example_path};
pub use config::{GameKind, LoadConfig, Pacing, Scenario, TokenVia};
pub use error::LoadError;
pub use fdlimit::raise_fd_limit;
pub use launch::{LaunchOptions, Launched, ServerKind, launch};
pub use plot::rtt_svg;
pub use procstat::ServerProbe;
pub use recorder::Percentiles;
pub use report::{Machine, Report, ServerUsage, render_table, write_json};
pub use run::run;
pub use target::{BadKind, Target, TokenMint, fetch_jwks, parse_ws_url, random_hs256};
