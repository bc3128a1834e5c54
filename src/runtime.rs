//! Starts the threads (I/O loops and workers), pins them, wires the channels; the handle.

use crate::config::{Built, ServerBuilder};
use crate::game::Game;
use crate::io::{IoShared, IoThread, bind_all};
use crate::shard::{ToWorker, session_key, shard_of};
use crate::stats::{Counters, Registry, Stats};
use crate::worker::{IoLink, Worker, WorkerConfig};
use crate::{Error, affinity};
use crossbeam_channel::unbounded;
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

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
        // Every connection is a file descriptor: make room for the configured maximum.
        let want = self.limits.max_connections as u64 + 256;
        match affinity::raise_fd_limit(want) {
            Ok(got) if got < want => log::warn!(
                "open-file limit is {got}, below max_connections + 256 = {want}; connections beyond it will be refused"
            ),
            Ok(_) => {}
            Err(e) => log::warn!("cannot read or raise the open-file limit: {e}"),
        }
        let (listeners, addrs) = bind_all(&self.addrs, self.io_threads)?;
        let mut registry = Registry::default();
        let io_counters: Vec<Arc<Counters>> = (0..self.io_threads)
            .map(|_| Arc::new(Counters::default()))
            .collect();
        let worker_counters: Vec<Arc<Counters>> = (0..self.workers)
            .map(|_| Arc::new(Counters::default()))
            .collect();
        registry.threads.extend(io_counters.iter().cloned());
        registry.threads.extend(worker_counters.iter().cloned());

        let (worker_txs, worker_rxs): (Vec<_>, Vec<_>) =
            (0..self.workers).map(|_| unbounded()).unzip();
        let (io_txs, io_rxs): (Vec<_>, Vec<_>) = (0..self.io_threads).map(|_| unbounded()).unzip();
        let jwks =
            serde_json::json!({"keys": self.signer.public_jwk().into_iter().collect::<Vec<_>>()});
        let shared = Arc::new(IoShared {
            verifier: Arc::clone(&self.verifier),
            limits: self.limits.clone(),
            workers: worker_txs.clone(),
            http_handler: self.http_handler.clone(),
            registry: registry.clone(),
            jwks: jwks.to_string().into_bytes(),
            internal_key: self.internal_key.clone(),
            open: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            hosts: std::sync::OnceLock::new(),
        });

        let mut io_threads = Vec::new();
        let mut wakers = Vec::new();
        for (i, (ls, rx)) in listeners.into_iter().zip(io_rxs).enumerate() {
            let (t, waker) = IoThread::new(
                i as u16,
                ls,
                rx,
                Arc::clone(&shared),
                Arc::clone(&io_counters[i]),
            )?;
            io_threads.push(t);
            wakers.push(waker);
        }
        let links: Vec<IoLink> = io_txs
            .into_iter()
            .zip(&wakers)
            .map(|(tx, w)| IoLink {
                tx,
                waker: Arc::clone(w),
            })
            .collect();
        let config = Arc::new(WorkerConfig {
            signer: Arc::clone(&self.signer),
            result_issuer: self.result_issuer.clone(),
            result_ttl: self.result_ttl,
            archive_ttl: self.archive_ttl,
            tick_interval: self.tick_interval,
            state: self.state.clone(),
        });
        let core_for = |n: usize| self.cores.as_ref().map(|c| c[n % c.len()]);

        let mut worker_handles = Vec::new();
        let hosts = if self.colocate {
            wakers.clone()
        } else {
            Vec::new()
        };
        let _ = shared.hosts.set(hosts.clone());
        for (i, rx) in worker_rxs.into_iter().enumerate() {
            let worker = Worker::<G>::new(
                links.clone(),
                self.colocate.then_some(i),
                Arc::clone(&config),
                Arc::clone(&worker_counters[i]),
            );
            if self.colocate {
                io_threads[i].host(Box::new(worker), rx);
                continue;
            }
            let core = core_for(self.io_threads + i);
            let h = std::thread::Builder::new()
                .name(format!("jgs-worker-{i}"))
                .spawn(move || {
                    if let Some(c) = core {
                        affinity::pin_current_thread(c);
                    }
                    worker.run(rx);
                })?;
            worker_handles.push(h);
        }
        drop(links);
        let mut io_handles = Vec::new();
        for (i, t) in io_threads.into_iter().enumerate() {
            let core = core_for(i);
            let h = std::thread::Builder::new()
                .name(format!("jgs-io-{i}"))
                .spawn(move || {
                    if let Some(c) = core {
                        affinity::pin_current_thread(c);
                    }
                    t.run();
                })?;
            io_handles.push(h);
        }
        let posting = worker_txs.clone();
        let poster = Poster {
            workers: posting.len(),
            inner: Arc::new(move |w: usize, key: Arc<str>, event: Box<dyn Any + Send>| {
                let sent = posting[w]
                    .send(vec![ToWorker::Event { key, event }])
                    .is_ok();
                if let (true, Some(bell)) = (sent, hosts.get(w)) {
                    let _ = bell.ring();
                }
                sent
            }),
        };
        for f in self.on_start {
            f(poster.clone());
        }
        let io_shared = Arc::clone(&shared);
        let colocate = self.colocate;
        Ok(ServerHandle {
            poster,
            addrs,
            registry,
            jwks,
            inner: Some(Inner {
                // Workers first: they end their sessions and send their last batches to the
                // I/O threads, which then close what is left with 1001. Colocated workers are
                // ended by their I/O threads when those see `stop`.
                stop_workers: Box::new(move || {
                    if colocate {
                        return;
                    }
                    for tx in &worker_txs {
                        let _ = tx.send(vec![ToWorker::Shutdown]);
                    }
                }),
                stop_io: Box::new(move || io_shared.stop.store(true, Ordering::Release)),
                wakers,
                workers: worker_handles,
                io: io_handles,
            }),
        })
    }
}

type Callback = Box<dyn Fn() + Send + Sync>;
type PostFn = dyn Fn(usize, Arc<str>, Box<dyn Any + Send>) -> bool + Send + Sync;

/// Posts events to live sessions from any thread: the session's game receives them in
/// [`Game::on_event`](crate::Game::on_event), on its own worker, in posting order.
#[derive(Clone)]
pub struct Poster {
    workers: usize,
    inner: Arc<PostFn>,
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster")
            .field("workers", &self.workers)
            .finish()
    }
}

impl Poster {
    /// Posts `event` to the live session `sid` (of `tenant`, when tenants are configured).
    /// Returns false if the server has stopped. An event for a session that is not live
    /// (not started, or ended) is dropped by its worker.
    pub fn post<E: Any + Send>(&self, tenant: Option<&str>, sid: &str, event: E) -> bool {
        let w = shard_of(tenant, sid, self.workers);
        (self.inner)(w, session_key(tenant, sid), Box::new(event))
    }
}

struct Inner {
    stop_workers: Callback,
    stop_io: Callback,
    wakers: Vec<Arc<crate::io::Doorbell>>,
    workers: Vec<JoinHandle<()>>,
    io: Vec<JoinHandle<()>>,
}

/// A running server. Dropping it does not stop the server; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    poster: Poster,
    addrs: Vec<SocketAddr>,
    registry: Registry,
    jwks: serde_json::Value,
    inner: Option<Inner>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
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

    /// A way to post events to live sessions from any thread.
    pub fn poster(&self) -> Poster {
        self.poster.clone()
    }

    /// A snapshot of the counters of every thread, merged.
    pub fn stats(&self) -> Stats {
        self.registry.snapshot()
    }

    /// The public JWKS that verifies this server's result tokens (also served at
    /// `/.well-known/jwks.json`).
    pub fn result_jwks(&self) -> serde_json::Value {
        self.jwks.clone()
    }

    /// Graceful shutdown: ends every live session with the result `{"reason":"shutdown"}`
    /// (each participant receives its result token), closes every socket with 1001 and joins
    /// all threads.
    pub fn shutdown(mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        (inner.stop_workers)();
        for h in inner.workers {
            let _ = h.join();
        }
        (inner.stop_io)();
        for w in &inner.wakers {
            let _ = w.wake();
        }
        for h in inner.io {
            let _ = h.join();
        }
    }

    /// Blocks until the server's threads end (they run until shutdown).
    pub fn wait(mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        for h in inner.io {
            let _ = h.join();
        }
        for h in inner.workers {
            let _ = h.join();
        }
    }
}
