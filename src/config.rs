//! The server builder: every option, its default, and the validation in [`ServerBuilder::build`].

use crate::ConfigError;
use crate::game::Game;
use crate::http::HttpHandler;
use crate::jwt::{Keys, Signer, TokenSpec, Verifier};
use std::any::Any;
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Limits on connections and messages. Each has a default sized for many mostly idle players.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) auth_timeout: Duration,
    pub(crate) max_request_bytes: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) max_frame_bytes: usize,
    pub(crate) max_outbound_bytes: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) read_buffer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 200_000,
            handshake_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            max_request_bytes: 8 * 1024,
            max_message_bytes: 64 * 1024,
            max_frame_bytes: 64 * 1024,
            max_outbound_bytes: 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            read_buffer_bytes: 1024,
        }
    }
}

/// Builds a [`Server`](crate::Server). Options are plain nouns; [`ServerBuilder::build`] checks
/// them all and names the first bad one.
///
/// The game type is chosen with [`ServerBuilder::game`].
pub struct ServerBuilder<G = ()> {
    pub(crate) bind: Vec<String>,
    pub(crate) keys: Option<Keys>,
    pub(crate) spec: TokenSpec,
    pub(crate) signer: Option<Signer>,
    pub(crate) result_issuer: String,
    pub(crate) result_ttl: Duration,
    pub(crate) io_threads: Option<usize>,
    pub(crate) workers: Option<usize>,
    pub(crate) colocate: Option<bool>,
    pub(crate) pin_cores: bool,
    pub(crate) core_ids: Option<Vec<usize>>,
    pub(crate) archive_ttl: Option<Duration>,
    pub(crate) tick_interval: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) http_handler: Option<Arc<dyn HttpHandler>>,
    pub(crate) internal_key: Option<String>,
    pub(crate) state: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) on_start: Vec<OnStart>,
    pub(crate) _game: PhantomData<fn() -> G>,
}

/// Run once the threads are up, with a way to post events to sessions (e.g. a matchmaker's pool).
pub(crate) type OnStart = Box<dyn FnOnce(crate::runtime::Poster) + Send>;

impl<G> std::fmt::Debug for ServerBuilder<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("bind", &self.bind)
            .field("io_threads", &self.io_threads)
            .field("workers", &self.workers)
            .field("pin_cores", &self.pin_cores)
            .finish_non_exhaustive()
    }
}

impl Default for ServerBuilder<()> {
    fn default() -> Self {
        Self {
            bind: Vec::new(),
            keys: None,
            spec: TokenSpec::default(),
            signer: None,
            result_issuer: "jwt-game-server".to_owned(),
            result_ttl: Duration::from_secs(7 * 24 * 3600),
            io_threads: None,
            workers: None,
            colocate: None,
            pin_cores: false,
            core_ids: None,
            archive_ttl: None,
            tick_interval: None,
            limits: Limits::default(),
            http_handler: None,
            internal_key: None,
            state: None,
            on_start: Vec::new(),
            _game: PhantomData,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty => $($field:ident).+) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$($field).+ = value;
            self
        }
    };
}

impl<G> ServerBuilder<G> {
    /// Chooses the game logic.
    pub fn game<H: Game>(self) -> ServerBuilder<H> {
        ServerBuilder {
            bind: self.bind,
            keys: self.keys,
            spec: self.spec,
            signer: self.signer,
            result_issuer: self.result_issuer,
            result_ttl: self.result_ttl,
            io_threads: self.io_threads,
            workers: self.workers,
            colocate: self.colocate,
            pin_cores: self.pin_cores,
            core_ids: self.core_ids,
            archive_ttl: self.archive_ttl,
            tick_interval: self.tick_interval,
            limits: self.limits,
            http_handler: self.http_handler,
            internal_key: self.internal_key,
            state: self.state,
            on_start: self.on_start,
            _game: PhantomData,
        }
    }

    /// Adds an address to listen on (e.g. `"0.0.0.0:9000"`, `"127.0.0.1:0"`). Required.
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind.push(addr.into());
        self
    }

    /// The keys that verify login tokens. Required.
    pub fn keys(mut self, keys: Keys) -> Self {
        self.keys = Some(keys);
        self
    }

    setter!(
        /// Which login tokens to accept (issuer, audience, leeway, claim names…).
        tokens: TokenSpec => spec
    );

    /// The key that signs result tokens. Required.
    pub fn result_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The `iss` of result tokens (default `"jwt-game-server"`).
    pub fn result_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.result_issuer = issuer.into();
        self
    }

    setter!(
        /// Lifetime of result tokens (default 7 days).
        result_ttl: Duration => result_ttl
    );

    /// I/O event-loop threads (default: available cores).
    pub fn io_threads(mut self, n: usize) -> Self {
        self.io_threads = Some(n);
        self
    }

    /// Session worker threads (default: available cores).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Runs each worker's sessions on an I/O thread instead of a thread of its own
    /// (default: on when `io_threads == workers`, as with the defaults). After its token
    /// verifies, a connection moves to the thread that owns its session, so every message
    /// after that is read, handled by the game and answered on one thread, with no hand-off.
    /// Off: workers are threads of their own and every message crosses I/O thread → worker
    /// → I/O thread over channels (lets `workers` differ from `io_threads`).
    ///
    /// Colocated, game callbacks run on the I/O threads: a callback that takes long delays the
    /// other connections of its thread. Keep them short (post slow work elsewhere and feed the
    /// answer back with [`Poster`](crate::Poster)), or turn colocation off.
    pub fn colocate_workers(mut self, on: bool) -> Self {
        self.colocate = Some(on);
        self
    }

    setter!(
        /// Pins each thread to a core (round robin over the available cores, or `core_ids`).
        pin_cores: bool => pin_cores
    );

    /// Pins threads to these cores, round robin (I/O threads first, then workers that have
    /// threads of their own). Implies pinning.
    pub fn core_ids(mut self, ids: Vec<usize>) -> Self {
        self.core_ids = Some(ids);
        self.pin_cores = true;
        self
    }

    /// How long ended sessions are kept (default: maximum token lifetime + leeway, the least
    /// that keeps "at most once" true; shorter is refused by `build`).
    pub fn archive_ttl(mut self, ttl: Duration) -> Self {
        self.archive_ttl = Some(ttl);
        self
    }

    /// Calls [`Game::on_tick`] at this interval (default: never).
    pub fn tick_interval(mut self, every: Duration) -> Self {
        self.tick_interval = Some(every);
        self
    }

    setter!(
        /// Most open connections; further sockets are closed at accept (default 200,000).
        max_connections: usize => limits.max_connections
    );
    setter!(
        /// Time from accept to a complete WebSocket upgrade (default 10 s).
        handshake_timeout: Duration => limits.handshake_timeout
    );
    setter!(
        /// Time from upgrade to the first-message token, when no token came with the request
        /// (default 10 s); then close 1008 `auth_timeout`.
        auth_timeout: Duration => limits.auth_timeout
    );
    setter!(
        /// Largest HTTP request head in bytes (default 8 KiB); larger gets 431 and is closed.
        max_request_bytes: usize => limits.max_request_bytes
    );
    setter!(
        /// Largest WebSocket message in bytes (default 64 KiB); larger closes with 1009.
        max_message_bytes: usize => limits.max_message_bytes
    );
    setter!(
        /// Largest WebSocket frame in bytes (default 64 KiB).
        max_frame_bytes: usize => limits.max_frame_bytes
    );
    setter!(
        /// Most bytes queued for one slow client (default 1 MiB); beyond, it is closed with 1008
        /// `slow_consumer` and others are unaffected.
        max_outbound_bytes: usize => limits.max_outbound_bytes
    );
    setter!(
        /// Keepalive: a ping after this much silence, close if the next interval is silent too
        /// (default 30 s).
        ping_interval: Duration => limits.ping_interval
    );
    setter!(
        /// Initial read buffer per connection in bytes (default 1 KiB: an idle authenticated
        /// connection then costs about 2.4 KB; tungstenite grows it for a larger frame).
        read_buffer_bytes: usize => limits.read_buffer_bytes
    );

    /// Server-wide state every game callback can read with [`Ctx::state`](crate::Ctx::state).
    pub fn state<T: Any + Send + Sync>(mut self, state: T) -> Self {
        self.state = Some(Arc::new(state));
        self
    }

    /// Enables `POST /internal/auth/validate-token` for back-end services presenting this key
    /// as `Authorization: Bearer` (at least 16 bytes; off by default).
    pub fn internal_api_key(mut self, key: impl Into<String>) -> Self {
        self.internal_key = Some(key.into());
        self
    }

    /// Answers HTTP requests that are not WebSocket upgrades nor built-in routes.
    pub fn http_handler(mut self, handler: impl HttpHandler) -> Self {
        self.http_handler = Some(Arc::new(handler));
        self
    }
}

/// A validated configuration, ready to [`start`](Built::start).
pub struct Built<G: Game> {
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) verifier: Arc<Verifier<G::Claims>>,
    pub(crate) signer: Arc<Signer>,
    pub(crate) result_issuer: String,
    pub(crate) result_ttl: Duration,
    pub(crate) io_threads: usize,
    pub(crate) workers: usize,
    pub(crate) colocate: bool,
    pub(crate) cores: Option<Vec<usize>>,
    pub(crate) archive_ttl: Duration,
    pub(crate) tick_interval: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) http_handler: Option<Arc<dyn HttpHandler>>,
    pub(crate) internal_key: Option<String>,
    pub(crate) state: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) on_start: Vec<OnStart>,
}

impl<G: Game> Built<G> {
    /// I/O event-loop threads the server will run.
    pub fn io_threads(&self) -> usize {
        self.io_threads
    }

    /// Session workers (shards) the server will run.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// True when each worker runs on an I/O thread (see [`ServerBuilder::colocate_workers`]).
    pub fn colocated(&self) -> bool {
        self.colocate
    }
}

impl<G: Game> std::fmt::Debug for Built<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("addrs", &self.addrs)
            .field("io_threads", &self.io_threads)
            .field("workers", &self.workers)
            .field("colocate", &self.colocate)
            .field("archive_ttl", &self.archive_ttl)
            .finish_non_exhaustive()
    }
}

fn positive(option: &str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(option, "must be at least 1"));
    }
    Ok(value)
}

fn nonzero(option: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::new(option, "must be longer than zero"));
    }
    Ok(value)
}

impl<G: Game> ServerBuilder<G> {
    /// Checks every option.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad option: no `bind`, no `keys`, no `result_signer`,
    /// zero threads or limits, `colocate_workers(true)` with `workers != io_threads`, a token
    /// spec without maximum lifetime, or an `archive_ttl` shorter than maximum token lifetime +
    /// leeway.
    pub fn build(self) -> Result<Built<G>, ConfigError> {
        if self.bind.is_empty() {
            return Err(ConfigError::new("bind", "at least one address is required"));
        }
        let mut addrs = Vec::new();
        for b in &self.bind {
            let mut resolved = b
                .to_socket_addrs()
                .map_err(|e| ConfigError::new("bind", format!("{b}: {e}")))?;
            let addr = resolved
                .next()
                .ok_or_else(|| ConfigError::new("bind", format!("{b}: no address")))?;
            addrs.push(addr);
        }
        let keys = self
            .keys
            .ok_or_else(|| ConfigError::new("keys", "the login-token keys are required"))?;
        let signer = self.signer.ok_or_else(|| {
            ConfigError::new("result_signer", "a result-token signer is required")
        })?;
        let cores_available = std::thread::available_parallelism().map_or(1, |n| n.get());
        let io_threads = positive("io_threads", self.io_threads.unwrap_or(cores_available))?;
        let workers = positive("workers", self.workers.unwrap_or(cores_available))?;
        let colocate = match self.colocate {
            Some(true) if workers != io_threads => {
                return Err(ConfigError::new(
                    "colocate_workers",
                    format!("needs workers == io_threads (they are {workers} and {io_threads})"),
                ));
            }
            Some(on) => on,
            None => workers == io_threads,
        };
        let lifetime = self.spec.max_lifetime_value().ok_or_else(|| {
            ConfigError::new(
                "tokens",
                "a maximum token lifetime is required: the archive must outlive every token",
            )
        })?;
        let floor = lifetime + self.spec.leeway_value();
        let archive_ttl = self.archive_ttl.unwrap_or(floor);
        if archive_ttl < floor {
            return Err(ConfigError::new(
                "archive_ttl",
                format!(
                    "{}s is shorter than the maximum token lifetime + leeway ({}s): an ended session could start again",
                    archive_ttl.as_secs(),
                    floor.as_secs()
                ),
            ));
        }
        if let Some(t) = self.tick_interval {
            nonzero("tick_interval", t)?;
        }
        nonzero("result_ttl", self.result_ttl)?;
        let l = &self.limits;
        positive("max_connections", l.max_connections)?;
        nonzero("handshake_timeout", l.handshake_timeout)?;
        nonzero("auth_timeout", l.auth_timeout)?;
        nonzero("ping_interval", l.ping_interval)?;
        if l.max_request_bytes < 256 {
            return Err(ConfigError::new(
                "max_request_bytes",
                "must be at least 256",
            ));
        }
        positive("max_message_bytes", l.max_message_bytes)?;
        positive("max_frame_bytes", l.max_frame_bytes)?;
        if l.max_outbound_bytes < 4096 {
            return Err(ConfigError::new(
                "max_outbound_bytes",
                "must be at least 4096",
            ));
        }
        if l.read_buffer_bytes < 256 {
            return Err(ConfigError::new(
                "read_buffer_bytes",
                "must be at least 256",
            ));
        }
        if self.internal_key.as_ref().is_some_and(|k| k.len() < 16) {
            return Err(ConfigError::new(
                "internal_api_key",
                "must be at least 16 bytes",
            ));
        }
        if self.result_issuer.is_empty() {
            return Err(ConfigError::new("result_issuer", "must not be empty"));
        }
        let cores = match (self.pin_cores, self.core_ids) {
            (_, Some(ids)) if ids.is_empty() => {
                return Err(ConfigError::new("core_ids", "must name at least one core"));
            }
            (_, Some(ids)) => Some(ids),
            (true, None) => Some(crate::affinity::allowed_cores()),
            (false, None) => None,
        };
        let verifier = Verifier::new(keys, self.spec).map_err(|e| {
            ConfigError::new(
                format!("keys/tokens: {}", e.option()),
                e.reason().to_owned(),
            )
        })?;
        Ok(Built {
            addrs,
            verifier: Arc::new(verifier),
            signer: Arc::new(signer),
            result_issuer: self.result_issuer,
            result_ttl: self.result_ttl,
            io_threads,
            workers,
            colocate,
            cores,
            archive_ttl,
            tick_interval: self.tick_interval,
            limits: self.limits,
            http_handler: self.http_handler,
            internal_key: self.internal_key,
            state: self.state,
            on_start: self.on_start,
        })
    }
}
