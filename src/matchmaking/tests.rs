//! Unit tests of the pure pool and the rating matchmaker, with a simulated clock.

use super::{Match, Matchmaker, Pool, RatedClaims, RatingMatchmaker, Waiting};
use crate::game::Player;
use crate::jwt::{Signer, TokenSpec, Verifier};
use serde_json::json;

const NOW: u64 = 1_700_000_000;

fn players(n: usize) -> Vec<Player<RatedClaims>> {
    let signer = Signer::generate_ed25519("login").expect("key");
    let verifier: Verifier<RatedClaims> =
        Verifier::new(signer.verification_keys(), TokenSpec::default()).expect("verifier");
    (0..n)
        .map(|i| {
            let claims =
                json!({"pid": format!("p{i}"), "sid": format!("r{i}"), "rating": 1000 + i * 10});
            let serde_json::Value::Object(map) = claims else {
                unreachable!()
            };
            let token = signer.sign("JWT", map, NOW, 60);
            Player::from(verifier.verify(&token, NOW).expect("verifies"))
        })
        .collect()
}

fn pool_of(ps: &[Player<RatedClaims>]) -> Pool<RatedClaims> {
    let mut pool = Pool::new();
    for p in ps {
        assert!(pool.enqueue(p.session().to_owned(), None, vec![p.clone()], 0));
    }
    pool
}

/// Returns whatever it was told to, to test the pool's validation.
struct Scripted(Vec<Match>);

impl Matchmaker for Scripted {
    type Claims = RatedClaims;
    fn find_matches(&mut self, _pool: &[Waiting<RatedClaims>], _now_ms: u64) -> Vec<Match> {
        std::mem::take(&mut self.0)
    }
}

fn m(ids: &[&str]) -> Match {
    Match {
        requests: ids.iter().map(|s| (*s).to_owned()).collect(),
        data: json!(null),
    }
}

#[test]
fn matched_requests_leave_the_pool_and_bad_matches_are_dropped_whole() {
    let ps = players(6);
    let mut pool = pool_of(&ps);
    let mut mm = Scripted(vec![
        m(&["r0", "r1"]),
        m(&["r1", "r2"]),     // r1 already taken
        m(&["r3", "nobody"]), // unknown id
        m(&["r4", "r4"]),     // repeated id
        m(&[]),               // empty
        m(&["r3", "r5"]),
    ]);
    let out = pool.run(&mut mm, 10);
    let ids: Vec<Vec<String>> = out
        .iter()
        .map(|(reqs, _)| reqs.iter().map(|w| w.id.clone()).collect())
        .collect();
    assert_eq!(ids, vec![vec!["r0", "r1"], vec!["r3", "r5"]]);
    assert_eq!(pool.len(), 2);
    assert!(pool.contains("r2") && pool.contains("r4"));
    // Matched at most once: a later run cannot match them again.
    let again = pool.run(&mut Scripted(vec![m(&["r0", "r2"])]), 20);
    assert!(again.is_empty());
}

#[test]
fn cancel_and_expire_remove_each_request_once() {
    let ps = players(3);
    let mut pool = pool_of(&ps);
    assert!(
        !pool.enqueue("r0".into(), None, vec![ps[0].clone()], 5),
        "no duplicates"
    );
    assert!(pool.cancel("r1").is_some());
    assert!(pool.cancel("r1").is_none());
    let gone = pool.expire(100, 101);
    assert_eq!(gone.len(), 2);
    assert!(pool.is_empty());
}

#[test]
fn rating_matches_closest_first_and_widens_with_waiting() {
    let ps = players(3); // ratings 1000, 1010, 1020
    let mut pool = pool_of(&ps[..1]);
    pool.enqueue("twin".into(), None, vec![players(1).remove(0)], 0);
    let mut mm = RatingMatchmaker::default();
    // Two requests rated 1000: matched at once.
    assert_eq!(pool.run(&mut mm, 0).len(), 1);

    // 1000, 1010, 1020: the closest pair is matched, the third waits.
    let mut pool = pool_of(&ps);
    let out = pool.run(&mut mm, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(pool.len(), 1);

    // A gap of 200 needs (200 - 50) / 50 = 3 s of waiting.
    let mut far = RatingMatchmaker::default();
    let mut pool = Pool::new();
    pool.enqueue("a".into(), None, vec![ps[0].clone()], 0);
    let mut rich = players(21);
    pool.enqueue("b".into(), None, vec![rich.remove(20)], 0); // rating 1200
    assert!(pool.run(&mut far, 1000).is_empty());
    assert_eq!(pool.run(&mut far, 3100).len(), 1);
}

#[test]
fn parties_only_meet_parties_of_their_size() {
    let ps = players(4);
    let mut pool = Pool::new();
    pool.enqueue("duo".into(), None, vec![ps[0].clone(), ps[1].clone()], 0);
    pool.enqueue("solo".into(), None, vec![ps[2].clone()], 0);
    let mut mm = RatingMatchmaker::default();
    assert!(pool.run(&mut mm, 100_000).is_empty());
    pool.enqueue("duo2".into(), None, vec![ps[3].clone(), ps[2].clone()], 0);
    let out = pool.run(&mut mm, 100_000);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1["mode"], "2v2");
}
