//! PURE: connection handles, the stable shard function and the messages between threads.

use crate::game::Message;
use crate::jwt::Verified;
use std::sync::Arc;

/// Names one connection: the I/O thread that owns it, its slab slot and a generation, so a
/// reused slot never receives another connection's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ConnId {
    pub(crate) io: u16,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// The key of a session: tenant and session id (a tenant of `""` when none is configured).
pub(crate) fn session_key(tenant: Option<&str>, sid: &str) -> Arc<str> {
    // Length-prefixed, so no (tenant, sid) pair can collide with another.
    let tenant = tenant.unwrap_or("");
    format!("{}:{tenant}{sid}", tenant.len()).into()
}

/// FNV-1a, 64 bit: a stable hash (same value in every process and version).
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The worker that owns a session: FNV-1a over (tenant, sid), modulo the worker count.
/// Stable across runs and processes, so tools can predict placement.
pub(crate) fn shard_of(tenant: Option<&str>, sid: &str, workers: usize) -> usize {
    let tenant = tenant.unwrap_or("");
    // 0xff never occurs in UTF-8: no (tenant, sid) pair hashes the bytes of another.
    let h = fnv1a(tenant.bytes().chain([0xff]).chain(sid.bytes()));
    // Fold the high bits in: FNV's low bits are weak for short keys.
    ((h ^ (h >> 32)) % workers.max(1) as u64) as usize
}

/// I/O thread → worker.
#[derive(Debug)]
pub(crate) enum ToWorker<C> {
    /// A connection's token verified: join (or start) its session.
    Join {
        conn: ConnId,
        token: Arc<Verified<C>>,
    },
    /// Colocated workers only: a connection whose token verified on another I/O thread moves
    /// to this worker's I/O thread, which adopts it and joins it to its session.
    Adopt {
        conn: crate::io::Migrant,
        token: Arc<Verified<C>>,
    },
    /// A data message from a joined connection.
    Message { conn: ConnId, message: Message },
    /// A joined connection closed (not on the worker's request).
    Leave { conn: ConnId },
    /// An event for the live session `key` (dropped if it is not live).
    Event {
        key: Arc<str>,
        event: Box<dyn std::any::Any + Send>,
    },
    /// End every live session (result tokens, close 1001) and stop.
    Shutdown,
}

/// Worker → I/O thread. Sent in batches (`Vec<ToIo>`), one wake per batch.
#[derive(Debug)]
pub(crate) enum ToIo {
    /// Queue a message on one connection.
    Send { conn: ConnId, message: Message },
    /// Queue one shared message on several connections of this I/O thread.
    SendMany {
        conns: Vec<ConnId>,
        message: Message,
    },
    /// Send a close frame (after everything queued before it) and drop the connection.
    Close {
        conn: ConnId,
        code: u16,
        reason: Arc<str>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_stable_and_in_range() {
        for n in 1..8 {
            for sid in ["a", "room-1", "42", ""] {
                let s = shard_of(Some("op"), sid, n);
                assert!(s < n);
                assert_eq!(s, shard_of(Some("op"), sid, n));
            }
        }
        // Known value: changing the hash would move sessions between workers.
        assert_eq!(
            shard_of(None, "room-1", 1000),
            shard_of(Some(""), "room-1", 1000)
        );
    }

    #[test]
    fn shard_spreads_sessions_over_workers() {
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[shard_of(None, &i.to_string(), 4)] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn tenant_separates_equal_session_ids() {
        assert_ne!(session_key(Some("a"), "1"), session_key(Some("b"), "1"));
        assert_ne!(
            session_key(Some("a\u{0}"), "1"),
            session_key(Some("a"), "\u{0}1")
        );
    }
}
