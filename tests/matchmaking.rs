//! Matchmaking on the wire (issue 4): login token → matchmaker → admission ticket → one of two
//! game-server instances → result token. Every player gets exactly one ticket; both players of a
//! match land on the same instance and session and talk there; a cancelled request is never
//! matched; a party stays together; a no-show does not block the player who came; a ticket for
//! another instance is refused with `invalid_audience`; a request that waits too long times out;
//! requests of two queues are never matched together; a request that needs data waits for it;
//! and `examples/matchmaker.rs` does the same as a process (`example_process`).
//!
//! Real sockets on 127.0.0.1:0, blocking tungstenite clients with read timeouts; every loop is
//! bounded; no timing asserts.

mod common;
#[path = "matchmaking/example_process.rs"]
mod example_process;

use common::{
    Auth, Mode, Refused, TestServer, Ws, both_modes, check_result_token, connect, decode_segment,
    expect_result_then_close, now, recv_json, result_verifier_from_jwks, send_text,
    shutdown_bounded, sign, start_with_login, try_connect,
};
use jwt_game_server::matchmaking::{RatedClaims, RatingMatchmaker};
use jwt_game_server::{
    Admission, Ctx, Game, Instance, Match, MatchRequest, Matchmaker, Message, NoShow, Player,
    Queues, Server, ServerBuilder, ServerHandle, Signer, TicketConfig, TokenSpec, Waiting,
};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

/// The ticket key's seed (the matchmaker signs with it, game servers verify with it).
const TICKET_SEED: [u8; 32] = [7; 32];

/// A game for ticket holders: `{"type":"ready"}` to all once the whole roster joined; every
/// other text is relayed to the others as `{"from":P,"text":T}`; the text `end` ends the
/// session with `{"status":"done"}`.
#[derive(Debug, Default)]
struct Relay {
    joined: BTreeSet<String>,
}

impl Game for Relay {
    type Claims = Admission;

    fn start(_first: &Player<Admission>, _ctx: &mut Ctx<'_>) -> Self {
        Self::default()
    }

    fn on_join(&mut self, p: &Player<Admission>, ctx: &mut Ctx<'_>) {
        self.joined.insert(p.id().to_owned());
        if p.claims().roster.iter().all(|r| self.joined.contains(r)) {
            ctx.broadcast(json!({"type": "ready"}));
        }
    }

    fn on_message(&mut self, p: &Player<Admission>, m: &Message, ctx: &mut Ctx<'_>) {
        let Some(text) = m.as_text() else { return };
        if text == "end" {
            ctx.end(json!({"status": "done"}));
        } else {
            ctx.broadcast_except(p.id(), json!({"from": p.id(), "text": text}));
        }
    }
}

/// The game servers' game: no-show deadline 1.5 s.
type Matched = NoShow<Relay, 1500>;

both_modes! {
    two_hundred_players_each_get_one_ticket_and_meet_on_one_instance_and_session,
    a_cancelled_request_is_never_matched,
    a_party_of_two_stays_together,
    a_matched_player_who_never_shows_up_does_not_block_the_other,
    a_ticket_for_another_instance_is_refused_with_invalid_audience,
    a_request_that_waits_too_long_times_out,
    requests_of_two_queues_are_never_matched_together,
    a_request_waits_for_its_queue_data_before_it_joins_the_pool,
}

/// A matchmaker, two game-server instances, and the players' login key.
struct Cluster {
    mm: Option<ServerHandle>,
    mm_addr: SocketAddr,
    login: Signer,
    games: Vec<TestServer>,
    ids: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(h) = self.mm.take() {
            let _ = shutdown_bounded(h, Duration::from_secs(20));
        }
    }
}

fn ticket_signer() -> Signer {
    Signer::ed25519_from_seed("mm-tickets", &TICKET_SEED).expect("ticket key")
}

fn cluster(mode: Mode, mm: RatingMatchmaker) -> Cluster {
    cluster_with(mode, move |b, tickets| b.matchmaker(mm, tickets))
}

/// A cluster whose matchmaker server (in `mode`) is made by `make` from the configured builder
/// and tickets. The game servers are colocated, as by default.
fn cluster_with<M: Matchmaker>(
    mode: Mode,
    make: impl FnOnce(ServerBuilder, TicketConfig) -> ServerBuilder<MatchRequest<M>>,
) -> Cluster {
    let ids = vec!["gs-a".to_owned(), "gs-b".to_owned()];
    let games: Vec<TestServer> = ids
        .iter()
        .map(|id| {
            let id = id.clone();
            start_with_login::<Matched>(ticket_signer(), move |b| {
                b.tokens(TokenSpec::default().audience(id))
            })
        })
        .collect();
    let instances = ids
        .iter()
        .zip(&games)
        .map(|(id, g)| Instance::new(id.clone(), format!("ws://{}/play", g.addr)))
        .collect();
    let tickets = TicketConfig::new(ticket_signer(), instances)
        .expect("ticket config")
        .ttl(Duration::from_secs(60));
    let login = Signer::generate_ed25519("login").expect("login key");
    let builder = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login.verification_keys())
        .tokens(TokenSpec::default())
        .result_signer(Signer::generate_ed25519("result-test").expect("result key"));
    let built = make(mode.apply(builder), tickets)
        .build()
        .expect("matchmaker config");
    assert_eq!(built.colocated(), mode.colocated(), "{mode:?}: {built:?}");
    let handle = built.start().expect("matchmaker starts");
    Cluster {
        mm_addr: handle.local_addr(),
        mm: Some(handle),
        login,
        games,
        ids,
    }
}

impl Cluster {
    /// A login token for the matchmaker: player `pid` in request `rid`.
    fn login_token(&self, pid: &str, rid: &str, rating: f64, party: usize) -> String {
        let claims = json!({"pid": pid, "sid": rid, "rating": rating, "party_size": party});
        sign(&self.login, claims, now(), 600)
    }

    /// Connects `pid` to the matchmaker (request `rid`).
    fn queue(&self, pid: &str, rid: &str, rating: f64, party: usize) -> Ws {
        let token = self.login_token(pid, rid, rating, party);
        connect(self.mm_addr, Auth::Header(&token))
    }

    /// Connects solo player `pid` (request `r-<pid>`, rating 1500) to queue `queue`.
    fn queue_in(&self, pid: &str, queue: &str) -> Ws {
        let claims = json!({"pid": pid, "sid": format!("r-{pid}"), "queue": queue});
        let token = sign(&self.login, claims, now(), 600);
        connect(self.mm_addr, Auth::Header(&token))
    }

    fn mm_handle(&self) -> &ServerHandle {
        self.mm.as_ref().expect("matchmaker running")
    }

    /// The game server a ticket names.
    fn game_for(&self, ticket: &Value) -> &TestServer {
        let aud = ticket["aud"].as_str().expect("aud");
        let i = self
            .ids
            .iter()
            .position(|id| id == aud)
            .expect("known instance");
        &self.games[i]
    }
}

/// The final message of a matchmaking session: a ticket, or a matchmaker result token.
#[derive(Debug)]
enum Final {
    Ticket(String, Value),
    Result(String),
}

/// Reads a request session's end: one token, then close 1000 `session_complete`.
fn finish(ws: &mut Ws) -> Final {
    let token = expect_result_then_close(ws, 1000, "session_complete");
    let header = decode_segment(&token, 0);
    if header["typ"] == "JWT" {
        let claims = decode_segment(&token, 1);
        Final::Ticket(token, claims)
    } else {
        Final::Result(token)
    }
}

fn ticket_of(pid: &str, ws: &mut Ws) -> (String, Value) {
    match finish(ws) {
        Final::Ticket(t, c) => {
            assert_eq!(c["pid"], pid, "ticket pid");
            (t, c)
        }
        Final::Result(t) => panic!(
            "{pid}: expected a ticket, got result {}",
            decode_segment(&t, 1)
        ),
    }
}

/// Plays one matched pair on its game server: both join, get `ready`, exchange a message, end.
fn play_pair(c: &Cluster, a: &(String, String, Value), b: &(String, String, Value)) {
    let game = c.game_for(&a.2);
    let mut wa = connect(game.addr, Auth::Header(&a.1));
    let mut wb = connect(game.addr, Auth::Header(&b.1));
    assert_eq!(recv_json(&mut wa), json!({"type": "ready"}));
    assert_eq!(recv_json(&mut wb), json!({"type": "ready"}));
    send_text(&mut wa, "hello");
    assert_eq!(recv_json(&mut wb), json!({"from": a.0, "text": "hello"}));
    send_text(&mut wb, "end");
    let sid = a.2["sid"].as_str().expect("sid");
    for (pid, ws) in [(&a.0, &mut wa), (&b.0, &mut wb)] {
        let token = expect_result_then_close(ws, 1000, "session_complete");
        assert_eq!(
            game.check_result(&token, pid, sid),
            json!({"status": "done"})
        );
    }
}

fn two_hundred_players_each_get_one_ticket_and_meet_on_one_instance_and_session(mode: Mode) {
    let c = cluster(mode, RatingMatchmaker::default());
    let n = 200;
    let pids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let mut sockets: Vec<Ws> = pids
        .iter()
        .enumerate()
        .map(|(i, pid)| c.queue(pid, &format!("r-{pid}"), 1000.0 + (i / 2) as f64 * 100.0, 1))
        .collect();
    let mut by_game: HashMap<String, Vec<(String, String, Value)>> = HashMap::new();
    for (pid, ws) in pids.iter().zip(&mut sockets) {
        let (token, claims) = ticket_of(pid, ws);
        let sid = claims["sid"].as_str().expect("game sid").to_owned();
        by_game
            .entry(sid)
            .or_default()
            .push((pid.clone(), token, claims));
    }
    assert_eq!(by_game.len(), n / 2, "every match is a pair");
    let mut instances = BTreeSet::new();
    for players in by_game.values() {
        let [a, b] = players.as_slice() else {
            panic!("a match of {}", players.len())
        };
        assert_eq!(a.2["aud"], b.2["aud"], "same instance");
        assert_eq!(a.2["url"], b.2["url"], "same url");
        assert_eq!(a.2["roster"], b.2["roster"], "same roster");
        let roster: BTreeSet<&str> = a.2["roster"]
            .as_array()
            .expect("roster")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(roster, BTreeSet::from([a.0.as_str(), b.0.as_str()]));
        assert_eq!(a.2["match"]["mode"], "1v1");
        assert!(a.2["exp"].as_u64() > a.2["iat"].as_u64());
        instances.insert(a.2["aud"].as_str().expect("aud").to_owned());
    }
    assert_eq!(instances.len(), 2, "the hash picker uses both instances");
    let matches: Vec<&Vec<(String, String, Value)>> = by_game.values().collect();
    std::thread::scope(|s| {
        for chunk in matches.chunks(25) {
            let c = &c;
            s.spawn(move || {
                for m in chunk {
                    play_pair(c, &m[0], &m[1]);
                }
            });
        }
    });
}

fn a_cancelled_request_is_never_matched(mode: Mode) {
    let c = cluster(mode, RatingMatchmaker::default());
    // A lone request far from everyone: only its cancel can end it.
    let mut lone = c.queue("lone", "r-lone", 1.0e9, 1);
    send_text(&mut lone, r#"{"type":"cancel"}"#);
    let Final::Result(token) = finish(&mut lone) else {
        panic!("a cancelled request got a ticket")
    };
    let verifier = result_verifier_from_jwks(&c.mm_handle().result_jwks());
    assert_eq!(
        check_result_token(&verifier, &token, "lone", "r-lone"),
        json!({"status": "cancelled"})
    );

    // Racing cancels among compatible requests: each ends either cancelled or matched, never
    // both, and a cancelled player is in no roster. A cancel may overtake its partner's
    // enqueue, which can leave one request alone: `max_wait` ends it with `timed_out`.
    let racing = cluster(
        mode,
        RatingMatchmaker {
            max_wait: Some(Duration::from_secs(2)),
            ..RatingMatchmaker::default()
        },
    );
    let racing_verifier = result_verifier_from_jwks(&racing.mm_handle().result_jwks());
    let pids: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let mut sockets: Vec<Ws> = pids
        .iter()
        .map(|p| racing.queue(p, &format!("r-{p}"), 1500.0, 1))
        .collect();
    for ws in sockets.iter_mut().step_by(2) {
        send_text(ws, r#"{"type":"cancel"}"#);
    }
    let mut cancelled = BTreeSet::new();
    let mut alone = BTreeSet::new();
    let mut rosters: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut holders: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (i, (pid, ws)) in pids.iter().zip(&mut sockets).enumerate() {
        match finish(ws) {
            Final::Ticket(_, claims) => {
                let sid = claims["sid"].as_str().expect("sid").to_owned();
                let roster = claims["roster"].as_array().expect("roster");
                rosters.insert(
                    sid.clone(),
                    roster
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                );
                holders.entry(sid).or_default().insert(pid.clone());
            }
            Final::Result(t) => {
                let r = check_result_token(&racing_verifier, &t, pid, &format!("r-{pid}"));
                if r == json!({"status": "cancelled"}) {
                    assert_eq!(i % 2, 0, "{pid} did not cancel");
                    cancelled.insert(pid.clone());
                } else {
                    assert_eq!(r, json!({"status": "timed_out"}));
                    alone.insert(pid.clone());
                }
            }
        }
    }
    assert!(alone.len() <= 1, "two compatible requests left unmatched");
    for (sid, roster) in &rosters {
        assert!(
            roster.is_disjoint(&cancelled) && roster.is_disjoint(&alone),
            "a cancelled or timed-out player was matched in {sid}"
        );
        assert_eq!(
            roster, &holders[sid],
            "every roster member holds the ticket"
        );
    }

    // A disconnect cancels too (the default): the player's token then gets the cancelled result.
    let mut ws = c.queue("gone", "r-gone", 2.0e9, 1);
    ws.close(None).expect("close");
    let _ = common::read_until_close(&mut ws);
    let mut again = c.queue("gone", "r-gone", 2.0e9, 1);
    let Final::Result(token) = finish(&mut again) else {
        panic!("a disconnected request got a ticket")
    };
    assert_eq!(
        check_result_token(&verifier, &token, "gone", "r-gone"),
        json!({"status": "cancelled"})
    );
}

fn a_party_of_two_stays_together(mode: Mode) {
    let c = cluster(mode, RatingMatchmaker::default());
    let mut a1 = c.queue("a1", "party-a", 1500.0, 2);
    let mut s1 = c.queue("s1", "r-s1", 1500.0, 1);
    let mut b1 = c.queue("b1", "party-b", 1500.0, 2);
    let mut a2 = c.queue("a2", "party-a", 1500.0, 2);
    let mut s2 = c.queue("s2", "r-s2", 1500.0, 1);
    let mut b2 = c.queue("b2", "party-b", 1500.0, 2);
    let tickets: Vec<(String, Value)> = [
        ("a1", &mut a1),
        ("a2", &mut a2),
        ("b1", &mut b1),
        ("b2", &mut b2),
    ]
    .into_iter()
    .map(|(p, ws)| ticket_of(p, ws))
    .collect();
    let sid = &tickets[0].1["sid"];
    for (_, claims) in &tickets {
        assert_eq!(&claims["sid"], sid, "the four party players share one game");
        assert_eq!(claims["match"]["mode"], "2v2");
        let parties: BTreeSet<Vec<String>> =
            serde_json::from_value(claims["parties"].clone()).expect("parties");
        let want = BTreeSet::from([
            vec!["a1".to_owned(), "a2".to_owned()],
            vec!["b1".to_owned(), "b2".to_owned()],
        ]);
        assert_eq!(parties, want);
    }
    let (_, t1) = ticket_of("s1", &mut s1);
    let (_, t2) = ticket_of("s2", &mut s2);
    assert_eq!(t1["sid"], t2["sid"], "the solo players play each other");
    assert_ne!(&t1["sid"], sid);
}

fn a_matched_player_who_never_shows_up_does_not_block_the_other(mode: Mode) {
    let c = cluster(mode, RatingMatchmaker::default());
    let mut x = c.queue("x", "r-x", 1500.0, 1);
    let mut y = c.queue("y", "r-y", 1500.0, 1);
    let (tx, cx) = ticket_of("x", &mut x);
    let _ = ticket_of("y", &mut y);
    let game = c.game_for(&cx);
    let mut wx = connect(game.addr, Auth::Header(&tx));
    // y never comes: after the no-show deadline x gets the no-show result.
    let token = expect_result_then_close(&mut wx, 1000, "session_complete");
    let sid = cx["sid"].as_str().expect("sid");
    assert_eq!(
        game.check_result(&token, "x", sid),
        json!({"status": "no_show", "missing": ["y"], "arrived": ["x"]})
    );
}

fn a_ticket_for_another_instance_is_refused_with_invalid_audience(mode: Mode) {
    let c = cluster(mode, RatingMatchmaker::default());
    let mut x = c.queue("x", "r-x", 1500.0, 1);
    let mut y = c.queue("y", "r-y", 1500.0, 1);
    let (tx, cx) = ticket_of("x", &mut x);
    let _ = ticket_of("y", &mut y);
    let right = c.game_for(&cx).addr;
    let wrong = c
        .games
        .iter()
        .map(|g| g.addr)
        .find(|a| *a != right)
        .expect("two instances");
    match try_connect(wrong, Auth::Header(&tx)) {
        Err(Refused::Http(401, body)) => {
            let body: Value = serde_json::from_slice(&body).expect("JSON error body");
            assert_eq!(body["error"], "invalid_audience");
        }
        other => panic!(
            "expected 401 invalid_audience, got {:?}",
            other.map(|_| "upgrade")
        ),
    }
}

fn a_request_that_waits_too_long_times_out(mode: Mode) {
    let mm = RatingMatchmaker {
        max_wait: Some(Duration::from_millis(300)),
        interval: Duration::from_millis(50),
        ..RatingMatchmaker::default()
    };
    let c = cluster(mode, mm);
    let mut ws = c.queue("t", "r-t", 1500.0, 1);
    let Final::Result(token) = finish(&mut ws) else {
        panic!("a lone request got a ticket")
    };
    let verifier = result_verifier_from_jwks(&c.mm_handle().result_jwks());
    assert_eq!(
        check_result_token(&verifier, &token, "t", "r-t"),
        json!({"status": "timed_out"})
    );
}

/// The rating matchmaker of one queue, naming its queue in the match data.
struct Tagged {
    queue: String,
    inner: RatingMatchmaker,
}

impl Matchmaker for Tagged {
    type Claims = RatedClaims;

    fn find_matches(&mut self, pool: &[Waiting<RatedClaims>], now_ms: u64) -> Vec<Match> {
        let mut out = self.inner.find_matches(pool, now_ms);
        for m in &mut out {
            m.data["queue"] = json!(self.queue);
        }
        out
    }

    fn queue(first: &Player<RatedClaims>) -> Option<&str> {
        RatingMatchmaker::queue(first)
    }
}

fn requests_of_two_queues_are_never_matched_together(mode: Mode) {
    let queues = Queues::new(["eu", "us"]).expect("queues");
    let c = cluster_with(mode, |b, tickets| {
        b.matchmaker_queues(
            queues,
            |q| Tagged {
                queue: q.to_owned(),
                inner: RatingMatchmaker::default(),
            },
            tickets,
        )
    });
    // Same rating, queues interleaved: one pool would pair each `eu` with the next `us`.
    let players: Vec<(String, &str)> = (0..40)
        .map(|i| (format!("q{i}"), if i % 2 == 0 { "eu" } else { "us" }))
        .collect();
    let mut sockets: Vec<Ws> = players.iter().map(|(p, q)| c.queue_in(p, q)).collect();
    let queue_of: HashMap<&str, &str> = players.iter().map(|(p, q)| (p.as_str(), *q)).collect();
    let mut games: HashMap<String, usize> = HashMap::new();
    for ((pid, queue), ws) in players.iter().zip(&mut sockets) {
        let (_, claims) = ticket_of(pid, ws);
        assert_eq!(
            claims["match"]["queue"], *queue,
            "{pid} matched by its queue's pool"
        );
        for member in claims["roster"].as_array().expect("roster") {
            let member = member.as_str().expect("player id");
            assert_eq!(
                queue_of[member], *queue,
                "{pid} met {member} of another queue"
            );
        }
        *games
            .entry(claims["sid"].as_str().expect("sid").to_owned())
            .or_default() += 1;
    }
    assert!(games.values().all(|&n| n == 2), "every match is a pair");

    // A request without a queue claim goes to the default queue (the first, `eu`).
    let mut x = c.queue("dx", "r-dx", 1500.0, 1);
    let mut y = c.queue_in("dy", "eu");
    let (_, cx) = ticket_of("dx", &mut x);
    let (_, cy) = ticket_of("dy", &mut y);
    assert_eq!(cx["sid"], cy["sid"]);
    assert_eq!(cx["match"]["queue"], "eu");

    // A queue the server does not run: the request ends with `unknown_queue`.
    let mut lost = c.queue_in("lost", "asia");
    let Final::Result(token) = finish(&mut lost) else {
        panic!("a request of an unknown queue got a ticket")
    };
    let verifier = result_verifier_from_jwks(&c.mm_handle().result_jwks());
    assert_eq!(
        check_result_token(&verifier, &token, "lost", "r-lost"),
        json!({"status": "error", "error": "unknown_queue"})
    );
}

/// Pairs requests in pool order; needs request data, which it copies into the match data.
struct PairWithData;

impl Matchmaker for PairWithData {
    type Claims = RatedClaims;

    fn find_matches(&mut self, pool: &[Waiting<RatedClaims>], _now_ms: u64) -> Vec<Match> {
        pool.chunks_exact(2)
            .map(|pair| Match {
                requests: vec![pair[0].id.clone(), pair[1].id.clone()],
                data: json!({ pair[0].id.as_str(): pair[0].data, pair[1].id.as_str(): pair[1].data }),
            })
            .collect()
    }

    fn needs_data(&self) -> bool {
        true
    }
}

fn a_request_waits_for_its_queue_data_before_it_joins_the_pool(mode: Mode) {
    let c = cluster_with(mode, |b, tickets| b.matchmaker(PairWithData, tickets));
    // `e` never sends data, so it is not in the pool: `f` and `g` meet, not `e` and `f`.
    let mut e = c.queue("e", "r-e", 1500.0, 1);
    let mut f = c.queue("f", "r-f", 1500.0, 1);
    send_text(&mut f, r#"{"type":"queue","data":{"mode":"x"}}"#);
    let mut g = c.queue("g", "r-g", 1500.0, 1);
    send_text(&mut g, r#"{"data":{"mode":"y"},"type":"queue"}"#);
    let (_, cf) = ticket_of("f", &mut f);
    let (_, cg) = ticket_of("g", &mut g);
    assert_eq!(cf["sid"], cg["sid"]);
    assert_eq!(
        cf["match"],
        json!({"r-f": {"mode": "x"}, "r-g": {"mode": "y"}})
    );
    // Once `e` sends its data it joins, and meets the next request with data.
    send_text(&mut e, r#"{"type":"queue","data":{"mode":"late"}}"#);
    send_text(&mut e, r#"{"type":"queue","data":{"mode":"ignored"}}"#);
    let mut h = c.queue("h", "r-h", 1500.0, 1);
    send_text(&mut h, r#"{"type":"queue"}"#);
    let (_, ce) = ticket_of("e", &mut e);
    let (_, ch) = ticket_of("h", &mut h);
    assert_eq!(ce["sid"], ch["sid"]);
    assert_eq!(ce["match"], json!({"r-e": {"mode": "late"}, "r-h": null}));
}
