//! The queues of a matchmaking server: one pool thread per queue, started with the server, and
//! the server-wide table request sessions use to reach them.

use super::{MatchRequest, Matchmaker, TicketConfig, ToPool, pool};
use crate::ConfigError;
use crate::config::ServerBuilder;
use crossbeam_channel::Sender;
use std::collections::HashMap;
use std::sync::Arc;

/// Most queues one server runs (each is a thread).
const MAX_QUEUES: usize = 256;

/// The queue names of a matchmaking server (see the [module docs](crate::matchmaking)): one
/// pool thread each, all started with the server. The first name is the default queue, used
/// when [`Matchmaker::queue`] returns `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queues {
    names: Vec<String>,
}

/// The name of the one queue of a single-queue matchmaker.
const DEFAULT_QUEUE: &str = "default";

impl Default for Queues {
    /// One queue, `"default"`.
    fn default() -> Self {
        Self {
            names: vec![DEFAULT_QUEUE.to_owned()],
        }
    }
}

impl Queues {
    /// These queues; the first is the default queue.
    ///
    /// # Errors
    /// A [`ConfigError`] (option `queues`) if there is no name or more than 256, or a name is
    /// empty, holds a NUL or repeats.
    pub fn new<I, S>(names: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() || names.len() > MAX_QUEUES {
            return Err(ConfigError::new(
                "queues",
                format!("between 1 and {MAX_QUEUES} queues are required"),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() || n.contains('\0') {
                return Err(ConfigError::new(
                    "queues",
                    "a queue name is empty or holds a NUL",
                ));
            }
            if names[..i].contains(n) {
                return Err(ConfigError::new("queues", format!("queue {n:?} repeats")));
            }
        }
        Ok(Self { names })
    }

    /// The queue names, default first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The default queue (the first name).
    pub fn default_queue(&self) -> &str {
        &self.names[0]
    }
}

/// The server-wide state of a matchmaking server, read by request sessions. Immutable once the
/// server is built.
#[derive(Debug)]
pub(crate) struct MatchState<C> {
    /// Queue name → index into `pools`.
    index: HashMap<String, usize>,
    /// Each queue's pool, default queue first.
    pools: Vec<QueueRef<C>>,
    /// Signs the tickets (request sessions sign their own players' tickets).
    pub(crate) tickets: TicketConfig,
}

/// One queue as request sessions see it: its pool channel and its matchmaker's settings.
#[derive(Debug)]
struct QueueRef<C> {
    tx: Sender<ToPool<C>>,
    needs_data: bool,
    cancel_on_disconnect: bool,
}

impl<C> MatchState<C> {
    /// The queue index of `name` (`None` names the default queue, index 0); `None` if the
    /// server runs no such queue.
    pub(crate) fn queue_index(&self, name: Option<&str>) -> Option<usize> {
        match name {
            None => Some(0),
            Some(n) => self.index.get(n).copied(),
        }
    }

    /// Sends `msg` to pool `queue`; false if that pool has stopped.
    pub(crate) fn send(&self, queue: usize, msg: ToPool<C>) -> bool {
        self.pools
            .get(queue)
            .is_some_and(|q| q.tx.send(msg).is_ok())
    }

    /// [`Matchmaker::needs_data`] of queue `queue`'s matchmaker.
    pub(crate) fn needs_data(&self, queue: usize) -> bool {
        self.pools.get(queue).is_some_and(|q| q.needs_data)
    }

    /// [`Matchmaker::cancel_on_disconnect`] of queue `queue`'s matchmaker.
    pub(crate) fn cancel_on_disconnect(&self, queue: usize) -> bool {
        self.pools.get(queue).is_none_or(|q| q.cancel_on_disconnect)
    }
}

impl<G> ServerBuilder<G> {
    /// Makes this server a matchmaking server with one queue, `"default"`: sessions are match
    /// requests, matched by `m` on a pool thread started with the server, and admitted to game
    /// servers with tickets from `tickets` (see the [module docs](crate::matchmaking)).
    ///
    /// This uses the builder's server-wide state slot ([`ServerBuilder::state`]) for the pools'
    /// channels and the ticket signer; do not set another state afterwards.
    pub fn matchmaker<M: Matchmaker>(
        self,
        m: M,
        tickets: TicketConfig,
    ) -> ServerBuilder<MatchRequest<M>> {
        self.match_pools(vec![(DEFAULT_QUEUE.to_owned(), m)], tickets)
    }

    /// Makes this server a matchmaking server with several queues: `make` is called once per
    /// queue name, now, and each matchmaker it returns runs on its own pool thread, started
    /// with the server. A request goes to the queue [`Matchmaker::queue`] names; requests of
    /// different queues are never matched together. Otherwise as
    /// [`matchmaker`](Self::matchmaker).
    pub fn matchmaker_queues<M: Matchmaker>(
        self,
        queues: Queues,
        mut make: impl FnMut(&str) -> M,
        tickets: TicketConfig,
    ) -> ServerBuilder<MatchRequest<M>> {
        let pools = queues
            .names
            .into_iter()
            .map(|name| {
                let m = make(&name);
                (name, m)
            })
            .collect();
        self.match_pools(pools, tickets)
    }

    /// Wires one pool thread per `(queue, matchmaker)`, default queue first (not empty).
    fn match_pools<M: Matchmaker>(
        self,
        pools: Vec<(String, M)>,
        tickets: TicketConfig,
    ) -> ServerBuilder<MatchRequest<M>> {
        let mut index = HashMap::new();
        let mut refs = Vec::new();
        let mut threads = Vec::new();
        for (i, (name, m)) in pools.into_iter().enumerate() {
            let (tx, rx) = crossbeam_channel::unbounded();
            index.insert(name.clone(), i);
            refs.push(QueueRef {
                tx,
                needs_data: m.needs_data(),
                cancel_on_disconnect: m.cancel_on_disconnect(),
            });
            threads.push((name, m, rx));
        }
        let mut b = self.game::<MatchRequest<M>>();
        b.state = Some(Arc::new(MatchState::<M::Claims> {
            index,
            pools: refs,
            tickets: tickets.clone(),
        }));
        b.on_start.push(Box::new(move |poster| {
            for (name, m, rx) in threads {
                let poster = poster.clone();
                let tickets = tickets.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("jgs-mm-{name}"))
                    .spawn(move || pool::run(m, tickets, rx, &poster));
                if let Err(e) = spawned {
                    log::error!("matchmaker: cannot start the pool thread of queue {name:?}: {e}");
                }
            }
        }));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::Queues;

    #[test]
    fn queue_names_are_checked() {
        assert_eq!(Queues::default().default_queue(), "default");
        let q = Queues::new(["eu", "us"]).expect("valid");
        assert_eq!(q.names(), ["eu", "us"]);
        assert_eq!(q.default_queue(), "eu");
        assert!(Queues::new(Vec::<String>::new()).is_err());
        assert!(Queues::new(["eu", ""]).is_err());
        assert!(Queues::new(["eu", "eu"]).is_err());
        assert!(Queues::new((0..300).map(|i| i.to_string())).is_err());
    }
}
