//! `examples/matchmaker.rs` run as a process, as a user runs it: two queues, two game servers,
//! its printed sample login tokens → tickets → a game → signed results.
//!
//! The binary is looked up next to this test binary (`target/<profile>/examples/`) and built
//! with `cargo build --example matchmaker` (same profile) when missing or older than its
//! sources. The child is killed by its PID when the test ends, whatever happens.

use crate::common::{
    Auth, check_result_token_kid, connect, decode_segment, expect_result_then_close, get,
    recv_json, result_verifier_from_jwks, send_text,
};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest wait for the child's start-up lines (it may be built first).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends every line of `r` (at most 1000) to `tx`.
fn forward_lines(r: impl std::io::Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().take(1000) {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
}

/// Receives lines until `want` says it has enough, or `STARTUP_TIMEOUT` passes.
fn lines_until(rx: &mpsc::Receiver<String>, mut want: impl FnMut(&str) -> bool) {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    for _ in 0..1000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            panic!("the matchmaker example printed too little before the timeout")
        };
        if want(&line) {
            return;
        }
    }
    panic!("no expected line in the first 1000");
}

/// `ws://127.0.0.1:PORT/play` → `127.0.0.1:PORT`.
fn addr_of(url: &str) -> SocketAddr {
    let rest = url.strip_prefix("ws://").expect("ws:// URL");
    rest.split('/').next().expect("host").parse().expect("addr")
}

#[test]
fn the_matchmaker_example_matches_its_sample_players_per_queue_and_they_play() {
    let mut child = Command::new(crate::common::examples::example("matchmaker"))
        .args(["--bind", "127.0.0.1:0", "--games", "2", "--queues", "eu,us"])
        .args(["--sample-tokens", "4", "--no-show", "10"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the matchmaker example");
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let _guard = crate::common::examples::KillOnDrop(child);
    let (tx, stdout) = mpsc::channel();
    forward_lines(out.expect("stdout"), tx);
    let (tx, stderr) = mpsc::channel();
    forward_lines(err.expect("stderr"), tx);

    // stdout: `listening on <addr>`, then `game <id> on <url>` per instance.
    let mut mm: Option<SocketAddr> = None;
    let mut games: HashMap<String, String> = HashMap::new();
    lines_until(&stdout, |line| {
        if let Some(a) = line.strip_prefix("listening on ") {
            assert!(mm.is_none(), "`listening on` comes first, once");
            mm = Some(a.parse().expect("matchmaker address"));
        } else if let Some((id, url)) = line
            .strip_prefix("game ")
            .and_then(|g| g.split_once(" on "))
        {
            assert!(mm.is_some(), "`listening on` is the first line");
            games.insert(id.to_owned(), url.to_owned());
        }
        games.len() == 2
    });
    let mm = mm.expect("matchmaker address");
    // stderr: `login token for player-I: <jwt>`; player-I is in queue eu (even I) or us (odd).
    let mut tokens: HashMap<String, String> = HashMap::new();
    lines_until(&stderr, |line| {
        if let Some((pid, token)) = line
            .strip_prefix("login token for ")
            .and_then(|l| l.split_once(": "))
        {
            tokens.insert(pid.to_owned(), token.to_owned());
        }
        tokens.len() == 4
    });

    let pids: Vec<String> = (0..4).map(|i| format!("player-{i}")).collect();
    let mut sockets: Vec<_> = pids
        .iter()
        .map(|p| connect(mm, Auth::Header(&tokens[p])))
        .collect();
    let mut tickets: HashMap<String, (String, Value)> = HashMap::new();
    for (pid, ws) in pids.iter().zip(&mut sockets) {
        let ticket = expect_result_then_close(ws, 1000, "session_complete");
        assert_eq!(
            decode_segment(&ticket, 0)["typ"],
            "JWT",
            "{pid} got a ticket"
        );
        let claims = decode_segment(&ticket, 1);
        assert_eq!(claims["pid"], *pid);
        tickets.insert(pid.clone(), (ticket, claims));
    }
    for (a, b) in [("player-0", "player-2"), ("player-1", "player-3")] {
        let (ta, ca) = &tickets[a];
        let (tb, cb) = &tickets[b];
        let roster: BTreeSet<&str> = ca["roster"]
            .as_array()
            .expect("roster")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(roster, BTreeSet::from([a, b]), "each queue matches its own");
        assert_eq!(ca["sid"], cb["sid"]);
        let url = games[ca["aud"].as_str().expect("aud")].as_str();
        assert_eq!(ca["url"], url, "the ticket names its instance's URL");

        // Both play on the instance the ticket names; `a` ends the game.
        let game = addr_of(url);
        let mut wa = connect(game, Auth::Header(ta));
        let mut wb = connect(game, Auth::Header(tb));
        for (pid, ws) in [(a, &mut wa), (b, &mut wb)] {
            let welcome = recv_json(ws);
            assert_eq!(welcome["type"], "welcome");
            assert_eq!(welcome["pid"], pid);
        }
        send_text(&mut wa, r#"{"type":"end","result":{"winner":"me"}}"#);
        let jwks = get(game, "/.well-known/jwks.json").json();
        let verifier = result_verifier_from_jwks(&jwks);
        let sid = ca["sid"].as_str().expect("sid");
        let kid = format!("{}-results", ca["aud"].as_str().expect("aud"));
        for (pid, ws) in [(a, &mut wa), (b, &mut wb)] {
            let result = expect_result_then_close(ws, 1000, "session_complete");
            assert_eq!(
                check_result_token_kid(&verifier, &result, pid, sid, &kid),
                json!({"winner": "me"})
            );
        }
    }
}
