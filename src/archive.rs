//! PURE: the archive of ended sessions, one per worker shard.
//!
//! A slab of entries, an index from session key to slab slot, and a FIFO of expiry times.
//! Every entry lives for the same TTL, so insertion order is expiry order and `expire` only
//! ever looks at the front of the queue: O(1) per expired entry, no scans, no timers.

use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// An ended session: its result and who took part.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ended {
    pub(crate) sid: Arc<str>,
    pub(crate) tenant: Option<Arc<str>>,
    pub(crate) result: serde_json::Value,
    pub(crate) participants: Vec<Arc<str>>,
    /// Tokens the game chose for some players instead of result tokens.
    pub(crate) tokens: Vec<(String, String)>,
    pub(crate) expires_at_ms: u64,
}

impl Ended {
    /// True if `pid` took part in the session.
    pub(crate) fn took_part(&self, pid: &str) -> bool {
        self.participants.iter().any(|p| **p == *pid)
    }

    /// The token the game chose for `pid`, if any.
    pub(crate) fn token_for(&self, pid: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(p, _)| p == pid)
            .map(|(_, t)| t.as_str())
    }
}

/// Ended sessions, kept for `ttl_ms` after they end.
#[derive(Debug)]
pub(crate) struct Archive {
    ttl_ms: u64,
    entries: Slab<(Arc<str>, Ended)>,
    index: HashMap<Arc<str>, usize>,
    expiry: VecDeque<(u64, usize)>,
}

impl Archive {
    /// An empty archive whose entries live `ttl_ms`.
    pub(crate) fn new(ttl_ms: u64) -> Self {
        Self {
            ttl_ms,
            entries: Slab::new(),
            index: HashMap::new(),
            expiry: VecDeque::new(),
        }
    }

    /// Archives `ended` under `key` at `now_ms` (its `expires_at_ms` is set here). A key
    /// already present is replaced (cannot happen while the worker checks the archive before
    /// starting a session).
    pub(crate) fn insert(&mut self, key: Arc<str>, mut ended: Ended, now_ms: u64) {
        let expires_at_ms = now_ms.saturating_add(self.ttl_ms);
        ended.expires_at_ms = expires_at_ms;
        if let Some(old) = self.index.remove(&key) {
            self.entries.remove(old);
            self.expiry.retain(|&(_, slot)| slot != old);
        }
        let slot = self.entries.insert((Arc::clone(&key), ended));
        self.index.insert(key, slot);
        self.expiry.push_back((expires_at_ms, slot));
    }

    /// The ended session under `key`, if still archived at `now_ms`.
    pub(crate) fn get(&self, key: &str, now_ms: u64) -> Option<&Ended> {
        let slot = *self.index.get(key)?;
        let (_, ended) = self.entries.get(slot)?;
        (ended.expires_at_ms > now_ms).then_some(ended)
    }

    /// Drops every entry expired at `now_ms`; returns how many.
    pub(crate) fn expire(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while let Some(&(at, slot)) = self.expiry.front() {
            if at > now_ms {
                break;
            }
            self.expiry.pop_front();
            if let Some((key, _)) = self.entries.try_remove(slot) {
                self.index.remove(&key);
                n += 1;
            }
        }
        n
    }

    /// When the next entry expires.
    pub(crate) fn next_expiry_ms(&self) -> Option<u64> {
        self.expiry.front().map(|&(at, _)| at)
    }

    /// How many sessions are archived.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: &mut Archive, key: &str, now: u64) {
        let ended = Ended {
            sid: key.into(),
            tenant: None,
            result: serde_json::json!({"winner": key}),
            participants: vec!["p1".into(), "p2".into()],
            tokens: vec![("p2".into(), "ticket".into())],
            expires_at_ms: 0,
        };
        a.insert(key.into(), ended, now);
    }

    #[test]
    fn entry_is_found_until_its_ttl_and_then_expires() {
        let mut a = Archive::new(1000);
        add(&mut a, "s1", 0);
        let e = a.get("s1", 999).expect("archived");
        assert!(e.took_part("p1") && !e.took_part("p3"));
        assert_eq!(
            (e.token_for("p1"), e.token_for("p2")),
            (None, Some("ticket"))
        );
        assert_eq!(e.result["winner"], "s1");
        assert!(a.get("s1", 1000).is_none(), "expired at exactly ttl");
        assert_eq!(a.expire(999), 0);
        assert_eq!(a.expire(1000), 1);
        assert_eq!(a.len(), 0);
        assert!(a.get("s1", 0).is_none());
    }

    #[test]
    fn expiry_is_fifo_and_reuses_slots_without_confusion() {
        let mut a = Archive::new(100);
        for i in 0..10u64 {
            add(&mut a, &format!("s{i}"), i * 10);
        }
        assert_eq!(a.next_expiry_ms(), Some(100));
        assert_eq!(a.expire(145), 5);
        assert_eq!(a.len(), 5);
        assert!(a.get("s4", 140).is_none());
        assert!(a.get("s5", 140).is_some());
        add(&mut a, "new", 150); // reuses a freed slab slot
        assert_eq!(a.expire(245), 5);
        assert!(a.get("new", 245).is_some());
        assert_eq!(a.expire(250), 1);
        assert_eq!(a.len(), 0);
        assert_eq!(a.next_expiry_ms(), None);
    }

    #[test]
    fn reinserting_a_key_replaces_it() {
        let mut a = Archive::new(100);
        add(&mut a, "s", 0);
        add(&mut a, "s", 50);
        assert_eq!(a.len(), 1);
        assert_eq!(a.expire(100), 0);
        assert!(a.get("s", 120).is_some());
        assert_eq!(a.expire(150), 1);
    }
}
