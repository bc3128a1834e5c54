//! A rating-based matchmaker: two requests of the same size, closest ratings first, with a
//! window that widens the longer a request waits.

use super::{Match, Matchmaker, Waiting};
use crate::game::Player;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// The login-token claims [`RatingMatchmaker`] reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RatedClaims {
    /// The player's rating (default 1500).
    #[serde(default = "default_rating")]
    pub rating: f64,
    /// How many players queue together in this request (default 1; at most 16).
    #[serde(default = "one")]
    pub party_size: usize,
    /// The queue to match in (default: the server's default queue; see
    /// [`Matchmaker::queue`]).
    #[serde(default)]
    pub queue: Option<String>,
}

fn default_rating() -> f64 {
    1500.0
}

fn one() -> usize {
    1
}

/// Pairs requests of the same size (1v1, or party against party: 2v2 for two parties of 2).
///
/// A request's rating is the mean of its players'. Two requests are compatible when their
/// ratings differ by at most the window of the one that has waited longer:
/// `base_window + widen_per_sec × waited seconds`, capped at `max_window`. Among compatible
/// pairs the closest ratings are matched first. Match data:
/// `{"mode":"1v1"|"2v2"|…, "ratings":[a, b]}`.
#[derive(Debug, Clone)]
pub struct RatingMatchmaker {
    /// Window with no waiting (default 50).
    pub base_window: f64,
    /// How much the window widens per second waited (default 50).
    pub widen_per_sec: f64,
    /// Largest window (default 1000).
    pub max_window: f64,
    /// How often the pool is matched without new requests (default 100 ms).
    pub interval: Duration,
    /// Longest wait before `timed_out` (default none).
    pub max_wait: Option<Duration>,
}

impl Default for RatingMatchmaker {
    fn default() -> Self {
        Self {
            base_window: 50.0,
            widen_per_sec: 50.0,
            max_window: 1000.0,
            interval: Duration::from_millis(100),
            max_wait: None,
        }
    }
}

impl RatingMatchmaker {
    /// The window of a request that has waited `waited_ms`.
    pub fn window(&self, waited_ms: u64) -> f64 {
        let widened = self.base_window + self.widen_per_sec * (waited_ms as f64 / 1000.0);
        widened.min(self.max_window)
    }
}

fn rating_of(w: &Waiting<RatedClaims>) -> f64 {
    let n = w.players.len().max(1) as f64;
    let sum: f64 = w
        .players
        .iter()
        .map(|p| p.claims().rating)
        .filter(|r| r.is_finite())
        .sum();
    sum / n
}

impl Matchmaker for RatingMatchmaker {
    type Claims = RatedClaims;

    fn find_matches(&mut self, pool: &[Waiting<RatedClaims>], _now_ms: u64) -> Vec<Match> {
        let mut by_size: BTreeMap<usize, Vec<(f64, usize)>> = BTreeMap::new();
        for (i, w) in pool.iter().enumerate() {
            by_size
                .entry(w.players.len())
                .or_default()
                .push((rating_of(w), i));
        }
        let mut out = Vec::new();
        let mut used = vec![false; pool.len()];
        for (size, mut group) in by_size {
            group.sort_by(|a, b| a.0.total_cmp(&b.0));
            // (gap, (rating, index) of each side): the ratings are kept for the match data.
            let mut pairs: Vec<_> = group
                .windows(2)
                .map(|w| (w[1].0 - w[0].0, w[0], w[1]))
                .collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (gap, (ra, a), (rb, b)) in pairs {
                if used[a] || used[b] {
                    continue;
                }
                let waited = pool[a].waited_ms.max(pool[b].waited_ms);
                if gap > self.window(waited) {
                    continue;
                }
                used[a] = true;
                used[b] = true;
                out.push(Match {
                    requests: vec![pool[a].id.clone(), pool[b].id.clone()],
                    data: json!({
                        "mode": format!("{size}v{size}"),
                        "ratings": [ra, rb],
                    }),
                });
            }
        }
        out
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn max_wait(&self) -> Option<Duration> {
        self.max_wait
    }

    fn party_size(first: &Player<RatedClaims>) -> usize {
        first.claims().party_size.clamp(1, 16)
    }

    fn queue(first: &Player<RatedClaims>) -> Option<&str> {
        first.claims().queue.as_deref()
    }
}
