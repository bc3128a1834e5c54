//! `POST /internal/auth/validate-token` over a real socket: valid, refused, wrong key, disabled.

use jwt_game_server::{Server, ServerHandle, Signer, demo};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "internal-key-0123456789";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn start(login: &Signer, internal: Option<&str>) -> ServerHandle {
    let mut b = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login.verification_keys())
        .result_signer(Signer::generate_ed25519("result").unwrap())
        .io_threads(1)
        .workers(1);
    if let Some(k) = internal {
        b = b.internal_api_key(k);
    }
    b.game::<demo::Echo>().build().unwrap().start().unwrap()
}

/// Sends one request, returns (status, body).
fn post(server: &ServerHandle, bearer: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "POST /internal/auth/validate-token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8(resp).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn token(login: &Signer, ttl: u64) -> String {
    let mut c = serde_json::Map::new();
    c.insert("pid".into(), "alice".into());
    c.insert("sid".into(), "room".into());
    login.sign("JWT", c, now(), ttl)
}

#[test]
fn valid_token_is_reported_with_its_ids_and_expiry() {
    let login = Signer::generate_ed25519("login").unwrap();
    let server = start(&login, Some(KEY));
    let (status, body) = post(
        &server,
        KEY,
        &format!(r#"{{"token":"{}"}}"#, token(&login, 300)),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["playerId"], "alice");
    assert_eq!(body["sessionId"], "room");
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    let remaining = body["remainingTime"].as_u64().unwrap();
    assert!((1..=300).contains(&remaining), "{remaining}");
    server.shutdown();
}

#[test]
fn forged_token_is_reported_invalid_with_its_code() {
    let login = Signer::generate_ed25519("login").unwrap();
    let other = Signer::generate_ed25519("login").unwrap();
    let server = start(&login, Some(KEY));
    let (status, body) = post(
        &server,
        KEY,
        &format!(r#"{{"token":"{}"}}"#, token(&other, 300)),
    );
    assert_eq!(status, 200);
    assert_eq!(body["valid"], false);
    assert_eq!(body["error"], "signature_invalid");
    server.shutdown();
}

#[test]
fn wrong_internal_key_is_401_and_the_endpoint_is_404_when_not_configured() {
    let login = Signer::generate_ed25519("login").unwrap();
    let server = start(&login, Some(KEY));
    let (status, body) = post(&server, "wrong-key-0123456789", r#"{"token":"x"}"#);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    server.shutdown();
    let server = start(&login, None);
    let (status, _) = post(&server, KEY, r#"{"token":"x"}"#);
    assert_eq!(status, 404);
    server.shutdown();
}

#[test]
fn short_internal_key_is_refused_by_build() {
    let login = Signer::generate_ed25519("login").unwrap();
    let err = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login.verification_keys())
        .result_signer(Signer::generate_ed25519("result").unwrap())
        .internal_api_key("short")
        .game::<demo::Echo>()
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "internal_api_key");
}
