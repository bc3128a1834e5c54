//! What a load-test run does: the scenario, its size, its pacing and its limits.

use crate::loadtest::LoadError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A load-test scenario (see the [module docs](crate::loadtest)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// N authenticated connections as fast as possible, held for the run duration.
    Connect,
    /// C connections sending messages that the `echo` game returns to the sender.
    Echo,
    /// C connections in sessions of K; every message is broadcast to the whole session.
    Chat,
    /// Sessions start, play, end; every result token is verified; a late joiner gets its result.
    Churn,
    /// A fraction of the connects carry forged, expired or malformed tokens; the valid players
    /// run an echo load and their latency is reported separately.
    BadTokens,
    /// N connections held without traffic; the server's RSS per connection is reported.
    Idle,
}

impl Scenario {
    /// Every scenario, in documentation order.
    pub const ALL: [Self; 6] = [
        Self::Connect,
        Self::Echo,
        Self::Chat,
        Self::Churn,
        Self::BadTokens,
        Self::Idle,
    ];

    /// The command-line name, e.g. `"bad-tokens"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Echo => "echo",
            Self::Chat => "chat",
            Self::Churn => "churn",
            Self::BadTokens => "bad-tokens",
            Self::Idle => "idle",
        }
    }

    /// The connection count used when none is given.
    pub const fn default_connections(self) -> usize {
        match self {
            Self::Connect => 2_000,
            Self::Echo | Self::Chat | Self::BadTokens => 1_000,
            Self::Churn => 200,
            Self::Idle => 10_000,
        }
    }

    /// The demo game this scenario needs on the server.
    pub const fn game(self) -> GameKind {
        match self {
            Self::Connect | Self::Chat | Self::Churn => GameKind::Chat,
            Self::Echo | Self::BadTokens | Self::Idle => GameKind::Echo,
        }
    }

    /// True when the scenario sends data messages during the run phase.
    pub(crate) const fn sends_messages(self) -> bool {
        matches!(self, Self::Echo | Self::Chat | Self::BadTokens)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                LoadError::Config(format!(
                    "unknown scenario `{s}` (expected connect, echo, chat, churn, bad-tokens or idle)"
                ))
            })
    }
}

/// Which demo game (`jwt_game_server::demo`) the server under test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GameKind {
    /// [`crate::demo::Chat`]: welcome on join, broadcast, `{"type":"end"}` ends the session.
    Chat,
    /// [`crate::demo::Echo`]: every message back to its sender.
    Echo,
}

impl GameKind {
    /// `"chat"` or `"echo"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Echo => "echo",
        }
    }
}

impl FromStr for GameKind {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chat" => Ok(Self::Chat),
            "echo" => Ok(Self::Echo),
            _ => Err(LoadError::Config(format!(
                "unknown game `{s}` (expected chat or echo)"
            ))),
        }
    }
}

/// Where a client puts its login token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenVia {
    /// `Authorization: Bearer <jwt>` on the upgrade request.
    Header,
    /// `?token=<jwt>` on the upgrade request.
    Query,
    /// The first text message after the upgrade.
    Message,
}

impl FromStr for TokenVia {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "header" => Ok(Self::Header),
            "query" => Ok(Self::Query),
            "message" => Ok(Self::Message),
            _ => Err(LoadError::Config(format!(
                "unknown token placement `{s}` (expected header, query or message)"
            ))),
        }
    }
}

/// How messages are paced during the run phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pacing {
    /// Closed loop: each connection keeps `window` messages outstanding and sends the next one
    /// when one comes back.
    Closed {
        /// Outstanding messages per connection (at least 1).
        window: u32,
    },
    /// Open loop: `rate` messages per second in total, spread round-robin over the connections.
    /// Latency is measured from each message's *intended* send time, so a stalled server cannot
    /// hide its stall (coordinated omission is corrected).
    Open {
        /// Messages per second over all connections.
        rate: f64,
    },
}

/// Everything a run needs besides its target.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// Connections (concurrent players; for churn, players in concurrent sessions).
    pub connections: usize,
    /// Players per session (session id shared by K consecutive connections).
    pub session_size: usize,
    /// How long the run phase lasts (message load, hold, or session churn).
    pub duration: Duration,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// Client event-loop threads (one mio loop each).
    pub threads: usize,
    /// Size of each data message in bytes (at least 24: sequence number and timestamp).
    pub message_bytes: usize,
    /// Where the login token goes.
    pub token_via: TokenVia,
    /// For `bad-tokens`: the fraction of connects that carry a bad token.
    pub bad_fraction: f64,
    /// Connects in flight per client thread during the connect phase.
    pub connect_window: usize,
    /// Deadline per connection from socket creation to ready (upgrade, plus welcome when the
    /// game sends one).
    pub connect_timeout: Duration,
    /// Deadline for the whole connect phase.
    pub connect_phase_timeout: Duration,
    /// After the run phase: how long to wait for outstanding replies.
    pub drain: Duration,
    /// Lifetime of minted login tokens in seconds.
    pub token_ttl: u64,
    /// Bind client sockets to sources spread over 127.0.0.0/8 (when the target is loopback).
    pub spread_sources: bool,
    /// Print a live progress line on stderr.
    pub progress: bool,
    /// Prefix of the progress line (e.g. `"echo ours"`).
    pub label: String,
}

impl LoadConfig {
    /// The defaults for `scenario`: its default connection count, sessions of 4, a 5 s run,
    /// closed loop with window 1, one client thread per two cores, 32-byte messages, tokens in
    /// the `Authorization` header.
    pub fn new(scenario: Scenario) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            scenario,
            connections: scenario.default_connections(),
            session_size: 4,
            duration: Duration::from_secs(5),
            pacing: Pacing::Closed { window: 1 },
            threads: (cores / 2).max(1),
            message_bytes: 32,
            token_via: TokenVia::Header,
            bad_fraction: 0.5,
            connect_window: 256,
            connect_timeout: Duration::from_secs(10),
            connect_phase_timeout: Duration::from_secs(120),
            drain: Duration::from_secs(5),
            token_ttl: 3_600,
            spread_sources: true,
            progress: false,
            label: scenario.name().to_owned(),
        }
    }

    /// Checks the numbers.
    ///
    /// # Errors
    /// [`LoadError::Config`] naming the bad field.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |what: &str| Err(LoadError::Config(what.to_owned()));
        if self.connections == 0 || self.connections > 2_000_000 {
            return bad("connections must be between 1 and 2,000,000");
        }
        if self.session_size == 0 || self.session_size > 10_000 {
            return bad("session size must be between 1 and 10,000");
        }
        if self.threads == 0 || self.threads > 256 {
            return bad("threads must be between 1 and 256");
        }
        if self.duration > Duration::from_secs(24 * 3600) {
            return bad("duration must be at most 24 h");
        }
        if !(24..=60_000).contains(&self.message_bytes) {
            return bad("message size must be between 24 and 60,000 bytes");
        }
        if !(0.0..=1.0).contains(&self.bad_fraction) {
            return bad("bad-token fraction must be between 0 and 1");
        }
        if self.connect_window == 0 {
            return bad("connect window must be at least 1");
        }
        if self.token_ttl == 0 {
            return bad("token ttl must be at least 1 s");
        }
        match self.pacing {
            Pacing::Closed { window } if window == 0 || window > 10_000 => {
                bad("window must be between 1 and 10,000")
            }
            Pacing::Open { rate } if !(rate > 0.0 && rate <= 1e8) => {
                bad("rate must be between 0 and 100,000,000 messages/s")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>().ok(), Some(s));
        }
        assert!("nope".parse::<Scenario>().is_err());
    }

    #[test]
    fn zero_window_is_refused() {
        let mut c = LoadConfig::new(Scenario::Echo);
        c.pacing = Pacing::Closed { window: 0 };
        assert!(c.validate().is_err());
        c.pacing = Pacing::Open { rate: f64::NAN };
        assert!(c.validate().is_err());
        c.pacing = Pacing::Open { rate: 1000.0 };
        assert!(c.validate().is_ok());
    }
}
