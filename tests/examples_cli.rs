//! The example binaries as a user runs them (issue 3 item 8): `keygen` writes key files,
//! `serve` prints `listening on <addr>` first and serves the demo games, `token` mints login
//! tokens, and `chat_game` (the README's complete game) plays to a signed result.
//!
//! The binaries are looked up next to this test binary (`target/<profile>/examples/`) and built
//! with `cargo build --examples` (same profile) when missing or older than their sources.
//! Every spawned server is killed by its PID when the test ends, whatever happens.

mod common;

use common::examples::{KillOnDrop, example};
use common::{
    Auth, Event, assert_refusal, check_result_token_kid, connect, expect_result_then_close, get,
    read_until_close, recv_json, recv_text, result_verifier_from_jwks, send_text, upgrade_raw,
};
use jwt_game_server::{Keys, Signer, TokenSpec, Verifier};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest wait for a spawned server's `listening on` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("jgs-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs an example to completion (bounded by the example itself: these exit at once).
fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"))
}

/// Runs an example that must succeed; returns its stdout.
fn run_ok(name: &str, args: &[&str]) -> String {
    let out = run(name, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 stdout")
}

fn keygen(dir: &TempDir, extra: &[&str]) {
    let out = dir.0.to_str().expect("UTF-8 temp path");
    let mut args = vec!["--out", out];
    args.extend_from_slice(extra);
    run_ok("keygen", &args);
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read key file");
    serde_json::from_str(&text).expect("key file is JSON")
}

/// Mints a login token with the `token` example.
fn token(key: &Path, pid: &str, sid: &str, extra: &[&str]) -> String {
    let key = key.to_str().expect("UTF-8 path");
    let mut args = vec!["--key", key, "--pid", pid, "--sid", sid];
    args.extend_from_slice(extra);
    let out = run_ok("token", &args);
    let token = out.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "compact JWT: {out:?}");
    token
}

/// A running example server, killed by PID on drop.
struct Server {
    _child: KillOnDrop,
    addr: SocketAddr,
    stderr: PathBuf,
}

impl Server {
    /// Spawns `name` with `args` (cwd `dir`), waits for its first stdout line, which must be
    /// `listening on <addr>`.
    fn spawn(name: &str, args: &[&str], dir: &TempDir) -> Self {
        let stderr = dir.path(&format!("{name}.stderr"));
        let mut child = Command::new(example(name))
            .args(args)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self {
            _child: KillOnDrop(child),
            addr: "0.0.0.0:0".parse().expect("placeholder"),
            stderr,
        };
        let line = rx.recv_timeout(STARTUP_TIMEOUT).unwrap_or_default();
        let Some(addr) = line.trim_end().strip_prefix("listening on ") else {
            panic!(
                "{name}: first stdout line {line:?} is not `listening on <addr>`; stderr:\n{}",
                server.stderr_text()
            );
        };
        server.addr = addr.parse().expect("a socket address");
        server
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

fn serve_args<'a>(keys: &'a str, result: &'a str) -> Vec<&'a str> {
    vec![
        "--bind",
        "127.0.0.1:0",
        "--keys",
        keys,
        "--result-key",
        result,
        "--io-threads",
        "1",
        "--workers",
        "2",
    ]
}

#[test]
fn keygen_writes_public_jwks_and_private_keys() {
    let dir = TempDir::new("keygen");
    keygen(&dir, &["--kid", "k-2024"]);
    let jwks = read_json(&dir.path("login.jwks.json"));
    let keys = jwks["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kid"], "k-2024");
    assert_eq!(keys[0]["kty"], "OKP");
    assert!(keys[0].get("d").is_none(), "public only: {jwks}");
    let login = read_json(&dir.path("login.jwk"));
    assert_eq!(login["kid"], "k-2024");
    assert!(login["d"].is_string(), "private login key: {login}");
    let result = read_json(&dir.path("result.jwk"));
    assert_eq!(result["kid"], "result-1");
    assert!(result["d"].is_string(), "private result key: {result}");
    // The files load with the library.
    Keys::from_jwks_file(dir.path("login.jwks.json")).expect("login JWKS loads");
    Signer::from_jwk_file(dir.path("login.jwk")).expect("login key loads");
    Signer::from_jwk_file(dir.path("result.jwk")).expect("result key loads");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for private in ["login.jwk", "result.jwk"] {
            let mode = std::fs::metadata(dir.path(private))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{private} is private: {mode:o}");
        }
    }
    // Existing keys are kept unless --force.
    let again = run("keygen", &["--out", dir.0.to_str().expect("path")]);
    assert!(!again.status.success(), "keygen must not overwrite keys");
    assert_eq!(read_json(&dir.path("login.jwk")), login);
    keygen(&dir, &["--force"]);
    assert_ne!(read_json(&dir.path("login.jwk")), login);
}

#[test]
fn token_example_mints_the_requested_claims() {
    let dir = TempDir::new("token");
    keygen(&dir, &[]);
    let t = token(
        &dir.path("login.jwk"),
        "alice",
        "room-9",
        &[
            "--ttl",
            "120",
            "--iss",
            "urn:cli",
            "--aud",
            "game",
            "--claim",
            "level=3",
            "--claim",
            r#"perms=["play","chat"]"#,
            "--claim",
            "note=hello world",
        ],
    );
    let header = common::decode_segment(&t, 0);
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], "login-1");
    let claims = common::decode_segment(&t, 1);
    assert_eq!(claims["pid"], "alice");
    assert_eq!(claims["sid"], "room-9");
    assert_eq!(claims["iss"], "urn:cli");
    assert_eq!(claims["aud"], "game");
    assert_eq!(claims["level"], 3);
    assert_eq!(claims["perms"], json!(["play", "chat"]));
    assert_eq!(claims["note"], "hello world");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        120
    );
    assert!(claims["jti"].is_string());
    let keys = Keys::from_jwks_file(dir.path("login.jwks.json")).expect("keys");
    let verifier: Verifier<Value> = Verifier::new(
        keys,
        TokenSpec::default().issuer("urn:cli").audience("game"),
    )
    .expect("verifier");
    let v = verifier.verify(&t, common::now()).expect("token verifies");
    assert_eq!((v.player(), v.session()), ("alice", "room-9"));
}

#[test]
fn serve_chat_end_to_end_with_keygen_and_token() {
    let dir = TempDir::new("serve-chat");
    keygen(&dir, &[]);
    let (keys, result_key) = (dir.path("login.jwks.json"), dir.path("result.jwk"));
    let (keys, result_key) = (keys.to_str().expect("p"), result_key.to_str().expect("p"));
    let server = Server::spawn("serve", &serve_args(keys, result_key), &dir);
    let login = dir.path("login.jwk");
    let sid = "cli-room";

    let mut alice = connect(server.addr, Auth::Header(&token(&login, "alice", sid, &[])));
    assert_eq!(
        recv_json(&mut alice),
        json!({ "type": "welcome", "pid": "alice", "sid": sid })
    );
    let mut bob = connect(
        server.addr,
        Auth::FirstMessage(&token(&login, "bob", sid, &[])),
    );
    assert_eq!(
        recv_json(&mut bob),
        json!({ "type": "welcome", "pid": "bob", "sid": sid })
    );
    send_text(&mut alice, "hello from the CLI");
    for ws in [&mut alice, &mut bob] {
        assert_eq!(
            recv_json(ws),
            json!({ "pid": "alice", "message": "hello from the CLI" })
        );
    }
    let result = json!({ "winner": "bob" });
    send_text(
        &mut bob,
        &json!({ "type": "end", "result": result }).to_string(),
    );

    // Result tokens verify under the JWKS served over HTTP and under result.jwk's public part.
    let jwks = get(server.addr, "/.well-known/jwks.json").json();
    let from_http = result_verifier_from_jwks(&jwks);
    let from_file = Verifier::for_results(
        Signer::from_jwk_file(result_key)
            .expect("result key")
            .verification_keys(),
        TokenSpec::default().max_lifetime(None),
    )
    .expect("verifier");
    for (pid, ws) in [("alice", &mut alice), ("bob", &mut bob)] {
        let t = expect_result_then_close(ws, 1000, "session_complete");
        for verifier in [&from_http, &from_file] {
            assert_eq!(
                check_result_token_kid(verifier, &t, pid, sid, "result-1"),
                result
            );
        }
    }
    // A late token for the ended session gets the archived result.
    let mut late = connect(server.addr, Auth::Query(&token(&login, "alice", sid, &[])));
    let t = expect_result_then_close(&mut late, 1000, "session_complete");
    assert_eq!(
        check_result_token_kid(&from_http, &t, "alice", sid, "result-1"),
        result
    );
    assert_eq!(get(server.addr, "/healthz").status, 200);
    drop(server);
}

#[test]
fn serve_echo_with_hs256_issuer_and_audience() {
    let dir = TempDir::new("serve-echo");
    keygen(&dir, &["--alg", "hs256", "--kid", "shared"]);
    let jwks = read_json(&dir.path("login.jwks.json"));
    assert_eq!(jwks["keys"][0]["kty"], "oct", "{jwks}");
    let (keys, result_key) = (dir.path("login.jwks.json"), dir.path("result.jwk"));
    let (keys, result_key) = (keys.to_str().expect("p"), result_key.to_str().expect("p"));
    let mut args = serve_args(keys, result_key);
    args.extend([
        "--game",
        "echo",
        "--issuer",
        "urn:cli",
        "--audience",
        "arena",
        "--leeway",
        "0",
        "--max-lifetime",
        "600",
        "--archive-ttl",
        "900",
    ]);
    let server = Server::spawn("serve", &args, &dir);
    let login = dir.path("login.jwk");
    let good = token(
        &login,
        "p1",
        "echo-room",
        &["--iss", "urn:cli", "--aud", "arena", "--ttl", "300"],
    );
    assert_eq!(common::decode_segment(&good, 0)["alg"], "HS256");
    let mut ws = connect(server.addr, Auth::Header(&good));
    send_text(&mut ws, "ping?");
    assert_eq!(recv_text(&mut ws), "ping?");

    let no_aud = token(
        &login,
        "p2",
        "echo-room",
        &["--iss", "urn:cli", "--ttl", "300"],
    );
    assert_refusal(
        &upgrade_raw(server.addr, Some(&no_aud), None),
        401,
        "invalid_audience",
    );
    let too_long = token(
        &login,
        "p3",
        "echo-room",
        &["--iss", "urn:cli", "--aud", "arena", "--ttl", "3600"],
    );
    assert_refusal(
        &upgrade_raw(server.addr, None, Some(&too_long)),
        401,
        "lifetime_exceeded",
    );
}

#[test]
fn serve_refuses_to_start_on_bad_options() {
    let dir = TempDir::new("serve-bad");
    keygen(&dir, &[]);
    let (keys, result_key) = (dir.path("login.jwks.json"), dir.path("result.jwk"));
    let (keys, result_key) = (keys.to_str().expect("p"), result_key.to_str().expect("p"));
    // An archive shorter than token lifetime + leeway would let a session happen twice.
    let mut args = serve_args(keys, result_key);
    args.extend([
        "--max-lifetime",
        "600",
        "--leeway",
        "30",
        "--archive-ttl",
        "60",
    ]);
    let out = run("serve", &args);
    assert!(!out.status.success(), "serve must refuse a short archive");
    assert!(out.stdout.is_empty(), "nothing on stdout: {:?}", out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("archive_ttl"), "names the option: {stderr}");
    // A missing key file.
    let missing = dir.path("missing.json");
    let args = serve_args(missing.to_str().expect("p"), result_key);
    let out = run("serve", &args);
    assert!(
        !out.status.success(),
        "serve must refuse a missing key file"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn chat_game_example_plays_to_a_signed_result() {
    let dir = TempDir::new("chat-game");
    keygen(&dir, &[]);
    let server = Server::spawn("chat_game", &["127.0.0.1:0"], &dir);
    let login = dir.path("login.jwk");
    let sid = "match-1";
    let mut ada = connect(
        server.addr,
        Auth::Header(&token(&login, "p1", sid, &["--claim", "name=Ada"])),
    );
    let mut bob = connect(
        server.addr,
        Auth::Header(&token(&login, "p2", sid, &["--claim", "name=Bob"])),
    );
    send_text(&mut bob, "point");
    assert_eq!(recv_text(&mut bob), "you have 1");
    for n in 1..=3 {
        send_text(&mut ada, "point");
        assert_eq!(recv_text(&mut ada), format!("you have {n}"));
    }
    let jwks = get(server.addr, "/.well-known/jwks.json").json();
    let verifier = result_verifier_from_jwks(&jwks);
    for (pid, ws) in [("p1", &mut ada), ("p2", &mut bob)] {
        assert_eq!(recv_text(ws), "Ada wins");
        let t = expect_result_then_close(ws, 1000, "session_complete");
        assert_eq!(
            check_result_token_kid(&verifier, &t, pid, sid, "result-1"),
            json!({ "winner": "p1" })
        );
    }
    // A token without the game's `name` claim is refused.
    let nameless = token(&login, "p3", "match-2", &[]);
    let mut ws = connect(server.addr, Auth::FirstMessage(&nameless));
    assert_eq!(
        read_until_close(&mut ws),
        [Event::Close(Some((1008, "token_malformed".to_owned())))],
        "the claims type does not deserialise"
    );
}
