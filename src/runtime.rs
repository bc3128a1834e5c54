//! Starts the threads (I/O loops and workers), pins them, wires the channels; the handle.

use crate::config::{Built, ServerBuilder};
use crate::game::Game;
use crate::stats::Stats;
use crate::Error;
use std::net::SocketAddr;

/// Entry point: `Server::builder()…game::<G>().build()?.start()?`.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A builder with every option at its default.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl<G: Game> Built<G> {
    /// Binds the listeners and starts the I/O threads and workers.
    ///
    /// # Errors
    /// [`Error::Io`] if a socket cannot be bound or a thread cannot be spawned.
    pub fn start(self) -> Result<ServerHandle, Error> {
        todo!()
    }
}

/// A running server. Dropping it does not stop the server; call [`ServerHandle::shutdown`].
#[derive(Debug)]
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
}

impl ServerHandle {
    /// The first bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every bound address.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A snapshot of the counters of every thread, merged.
    pub fn stats(&self) -> Stats {
        todo!()
    }

    /// The public JWKS that verifies this server's result tokens (also served at
    /// `/.well-known/jwks.json`).
    pub fn result_jwks(&self) -> serde_json::Value {
        todo!()
    }

    /// Graceful shutdown: ends every live session with the result `{"reason":"shutdown"}`
    /// (each participant receives its result token), closes every socket with 1001 and joins
    /// all threads.
    pub fn shutdown(self) {
        todo!()
    }

    /// Blocks until the server stops (after [`ServerHandle::shutdown`] from another thread, or
    /// forever).
    pub fn wait(self) {
        todo!()
    }
}
