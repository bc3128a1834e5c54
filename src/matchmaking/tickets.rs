//! Admission tickets: game login JWTs signed by the matchmaker, routed to a game-server instance.

use crate::ConfigError;
use crate::jwt::{LOGIN_TOKEN_TYPE, Signer};
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// One game-server instance tickets may send players to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance id: the ticket's `aud`, which that game server requires
    /// (`TokenSpec::default().audience(id)`).
    pub id: String,
    /// Where players connect (the ticket's `url` claim), e.g. `ws://10.0.0.7:9000/play`.
    pub url: String,
}

impl Instance {
    /// An instance with this id and URL.
    pub fn new(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            url: url.into(),
        }
    }
}

/// Chooses the instance of a new game session: `(game sid, instances) → index` (taken modulo
/// the number of instances).
pub type Picker = fn(&str, &[Instance]) -> usize;

/// The default [`Picker`]: a stable hash (FNV-1a, 64 bit) of the game session id modulo the
/// number of instances, so every matchmaker process routes a session the same way with no
/// shared state.
pub fn pick_by_hash(game_sid: &str, instances: &[Instance]) -> usize {
    let h = crate::shard::fnv1a(game_sid.bytes());
    let n = instances.len().max(1) as u64;
    usize::try_from(h % n).unwrap_or(0)
}

/// How admission tickets are made: the signing key, their lifetime, the game-server instances
/// and how one is picked.
#[derive(Clone)]
pub struct TicketConfig {
    signer: Arc<Signer>,
    ttl: Duration,
    instances: Vec<Instance>,
    picker: Picker,
    rng: SystemRandom,
}

impl std::fmt::Debug for TicketConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketConfig")
            .field("kid", &self.signer.kid())
            .field("ttl", &self.ttl)
            .field("instances", &self.instances)
            .finish_non_exhaustive()
    }
}

impl TicketConfig {
    /// Tickets signed by `signer` for these instances, valid 60 s, routed by [`pick_by_hash`].
    ///
    /// # Errors
    /// A [`ConfigError`] (option `instances`) if the list is empty or an id repeats or is empty.
    pub fn new(signer: Signer, instances: Vec<Instance>) -> Result<Self, ConfigError> {
        if instances.is_empty() {
            return Err(ConfigError::new(
                "instances",
                "at least one game-server instance is required",
            ));
        }
        for (i, inst) in instances.iter().enumerate() {
            if inst.id.is_empty() {
                return Err(ConfigError::new("instances", "an instance id is empty"));
            }
            if instances[..i].iter().any(|o| o.id == inst.id) {
                return Err(ConfigError::new(
                    "instances",
                    format!("instance id {:?} repeats", inst.id),
                ));
            }
        }
        Ok(Self {
            signer: Arc::new(signer),
            ttl: Duration::from_secs(60),
            instances,
            picker: pick_by_hash,
            rng: SystemRandom::new(),
        })
    }

    /// Ticket lifetime (default 60 s; at least 1 s).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How the instance of a game session is chosen (default [`pick_by_hash`]).
    pub fn picker(mut self, picker: Picker) -> Self {
        self.picker = picker;
        self
    }

    /// The configured instances.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The ticket signer (its [`Signer::verification_keys`] are what game servers accept).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// A fresh random game session id: 16 bytes from the system RNG, base64url.
    pub(crate) fn new_game_sid(&self) -> String {
        let mut b = [0u8; 16];
        if self.rng.fill(&mut b).is_err() {
            // Not reachable on supported platforms; fall back to a clock-derived id.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            b = t.to_le_bytes();
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    /// Describes a new game for the requests of one match (`parties` lists each request's
    /// player ids): picks a fresh game session id and its instance, and builds the claims every
    /// ticket of the match shares. Cheap (no signature): the pool thread calls it, and each
    /// request session then signs its own players' tickets with [`TicketConfig::sign`].
    pub(crate) fn describe(&self, parties: &[Vec<String>], data: &Value) -> MatchedGame {
        let sid = self.new_game_sid();
        let idx = (self.picker)(&sid, &self.instances) % self.instances.len();
        let inst = &self.instances[idx];
        let roster: Vec<&String> = parties.iter().flatten().collect();
        let mut claims = Map::new();
        claims.insert("sid".into(), sid.clone().into());
        claims.insert("aud".into(), inst.id.clone().into());
        claims.insert("url".into(), inst.url.clone().into());
        claims.insert("roster".into(), json!(roster));
        claims.insert("parties".into(), json!(parties));
        claims.insert("match".into(), data.clone());
        let result = json!({
            "status": "matched",
            "game_sid": sid,
            "instance": inst.id,
            "url": inst.url,
        });
        MatchedGame { claims, result }
    }

    /// Signs player `pid`'s admission ticket for `game` (one Ed25519 signature): the shared
    /// claims plus `pid`, `iat` = `now_unix`, `exp` = `iat` + ttl and a fresh `jti`.
    pub(crate) fn sign(&self, game: &MatchedGame, pid: &str, now_unix: u64) -> String {
        let mut claims = game.claims.clone();
        claims.insert("pid".into(), pid.into());
        self.signer
            .sign(LOGIN_TOKEN_TYPE, claims, now_unix, self.ttl.as_secs())
    }
}

/// One match as the pool decided it, before any ticket is signed: posted (shared) to every
/// request session of the match.
#[derive(Debug)]
pub(crate) struct MatchedGame {
    /// The claims every ticket of the match shares (all but `pid`, `iat`, `exp`, `jti`).
    pub(crate) claims: Map<String, Value>,
    /// The request sessions' result: `{"status":"matched","game_sid","instance","url"}`.
    pub(crate) result: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_picker_is_stable_and_in_range() {
        let inst = vec![Instance::new("a", "ws://a"), Instance::new("b", "ws://b")];
        for sid in ["x", "y", "abcdef", ""] {
            let i = pick_by_hash(sid, &inst);
            assert!(i < 2);
            assert_eq!(i, pick_by_hash(sid, &inst));
        }
        assert_eq!(pick_by_hash("anything", &[]), 0);
    }

    #[test]
    fn tickets_of_one_match_share_the_game_and_name_their_player() {
        use crate::jwt::{TokenSpec, Verifier};
        let signer = Signer::generate_ed25519("mm").expect("key");
        let keys = signer.verification_keys();
        let inst = vec![Instance::new("a", "ws://a"), Instance::new("b", "ws://b")];
        let t = TicketConfig::new(signer, inst).expect("config");
        let parties = vec![
            vec!["p1".to_owned()],
            vec!["p2".to_owned(), "p3".to_owned()],
        ];
        let game = t.describe(&parties, &json!({"mode": "x"}));
        let aud = game.claims["aud"].as_str().expect("aud").to_owned();
        let verifier: Verifier<crate::Admission> =
            Verifier::new(keys, TokenSpec::default().audience(aud)).expect("verifier");
        let now = 1_700_000_000;
        for pid in ["p1", "p2", "p3"] {
            let v = verifier
                .verify(&t.sign(&game, pid, now), now)
                .expect("verifies");
            assert_eq!(v.player(), pid);
            assert_eq!(Some(v.session()), game.result["game_sid"].as_str());
            assert_eq!(v.claims().roster, ["p1", "p2", "p3"]);
            assert_eq!(v.claims().parties, parties);
            assert_eq!(v.expires_at(), now + 60);
        }
    }

    #[test]
    fn empty_or_repeated_instances_are_refused() {
        let s = || Signer::generate_ed25519("mm").expect("key");
        assert!(TicketConfig::new(s(), vec![]).is_err());
        let dup = vec![Instance::new("a", "u"), Instance::new("a", "v")];
        assert!(TicketConfig::new(s(), dup).is_err());
    }
}
