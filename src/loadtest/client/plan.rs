//! Which connections a client thread opens in the connect phase, with tokens minted before
//! the clock starts.

use super::Shared;
use super::conn::Role;
use crate::loadtest::{BadKind, Scenario};
use std::collections::VecDeque;

/// A connection to open: who, with which token.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub(super) role: Role,
    pub(super) pid: String,
    pub(super) token: String,
}

/// One token of each bad kind, in [`BadKind::ALL`] order. Bad tokens fail before any replay
/// check, so they are reused for every bad connect.
pub(super) fn bad_tokens(sh: &Shared) -> Vec<String> {
    let sid = format!("s{}-bad", sh.nonce);
    BadKind::ALL
        .iter()
        .map(|&k| {
            sh.tokens
                .bad(k, "bad", &sid, Shared::now_secs(), sh.config.token_ttl)
        })
        .collect()
}

/// Thread `t`'s share of the connect phase: global indices `t, t+T, t+2T, …`; connection `i`
/// is player `p<i>` of session `s<nonce>-<i/K>`. For `bad-tokens`, a fraction of them carry
/// the bad tokens (kinds in turn).
pub(super) fn make_plan(sh: &Shared, t: usize, bad_tokens: &[String]) -> VecDeque<Planned> {
    let c = &sh.config;
    if c.scenario == Scenario::Churn {
        return VecDeque::new();
    }
    let now = Shared::now_secs();
    let k = c.session_size.max(1);
    let with_bad = c.scenario == Scenario::BadTokens;
    (t..c.connections)
        .step_by(c.threads)
        .map(|i| {
            let pid = format!("p{i}");
            if with_bad && is_bad(i, c.bad_fraction) {
                let j = i % BadKind::ALL.len();
                return Planned {
                    role: Role::Bad(BadKind::ALL[j]),
                    pid,
                    token: bad_tokens.get(j).cloned().unwrap_or_default(),
                };
            }
            let sid = format!("s{}-{}", sh.nonce, i / k);
            Planned {
                role: Role::Player,
                token: sh.tokens.valid(&pid, &sid, now, c.token_ttl),
                pid,
            }
        })
        .collect()
}

/// Whether connection `i` carries a bad token, spreading a fraction `f` evenly.
fn is_bad(i: usize, f: f64) -> bool {
    let before = (i as f64 * f).floor();
    let after = ((i + 1) as f64 * f).floor();
    after > before
}

#[cfg(test)]
mod tests {
    use super::is_bad;

    #[test]
    fn bad_fraction_is_spread_evenly() {
        let n = (0..1000).filter(|&i| is_bad(i, 0.25)).count();
        assert_eq!(n, 250);
        assert_eq!((0..10).filter(|&i| is_bad(i, 0.0)).count(), 0);
        assert_eq!((0..10).filter(|&i| is_bad(i, 1.0)).count(), 10);
    }
}
