//! Admission on the wire (DESIGN §4): a token in `Authorization: Bearer`, in `?token=` or as the
//! first text message lets a player in; a bad token presented with the request gets HTTP 401
//! (403 for permissions) with `{"error": code, "message": text}` and no upgrade; a bad
//! first-message token gets close 1008 with the code as reason; no token in time gets 1008
//! `auth_timeout`.
//!
//! Every refusal test checks its error code on all three paths against its own server.

mod common;

use common::{
    Auth, LOGIN_KID, TestServer, assert_refusal, connect, expect_close, now, recv_json, send_text,
    sign, start_with, start_with_login, try_connect, upgrade_raw, welcome,
};
use jwt_game_server::demo::Chat;
use jwt_game_server::{AuthError, Signer, TokenSpec};
use serde_json::{Value, json};
use std::time::Duration;

const ISSUER: &str = "urn:test-auth";
const AUDIENCE: &str = "test-game";

/// The spec of the auth tests: every optional check switched on.
fn strict_spec() -> TokenSpec {
    TokenSpec::default()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(Duration::from_secs(5))
        .max_lifetime(Some(Duration::from_secs(3600)))
        .permissions_claim("perms")
        .require_permission("play")
        .max_token_bytes(2048)
}

fn strict_server() -> TestServer {
    start_with::<Chat>(|b| b.tokens(strict_spec()))
}

/// Claims that pass every check of [`strict_spec`].
fn claims(pid: &str, sid: &str) -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "pid": pid, "sid": sid, "perms": ["play"] })
}

/// `claims("alice", "room")` with `key` set to `value`.
fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims("alice", "room");
    c[key] = value;
    c
}

/// `claims("alice", "room")` without `key`.
fn claims_without(key: &str) -> Value {
    let mut c = claims("alice", "room");
    c.as_object_mut().expect("object").remove(key);
    c
}

fn good_token(s: &TestServer, pid: &str, sid: &str) -> String {
    s.token_with(claims(pid, sid), now(), 600)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks that `token` is refused with `error` on every path: header and query (HTTP status
/// and JSON body, no upgrade) and first message (close 1008 with the code).
fn assert_refused_everywhere(s: &TestServer, token: &str, error: AuthError) {
    let code = error.code();
    let status = error.http_status();
    assert_refusal(&upgrade_raw(s.addr, Some(token), None), status, code);
    assert_refusal(&upgrade_raw(s.addr, None, Some(token)), status, code);
    let mut ws = connect(s.addr, Auth::FirstMessage(token));
    expect_close(&mut ws, 1008, code);
}

// --- the three token paths -------------------------------------------------------------------

#[test]
fn token_in_authorization_header_admits_the_player() {
    let s = strict_server();
    let t = good_token(&s, "alice", "room-h");
    let mut ws = connect(s.addr, Auth::Header(&t));
    assert_eq!(recv_json(&mut ws), welcome("alice", "room-h"));
}

#[test]
fn token_in_query_parameter_admits_the_player() {
    let s = strict_server();
    let t = good_token(&s, "bob", "room-q");
    let mut ws = connect(s.addr, Auth::Query(&t));
    assert_eq!(recv_json(&mut ws), welcome("bob", "room-q"));
}

#[test]
fn token_as_first_message_admits_the_player() {
    let s = strict_server();
    let t = good_token(&s, "carol", "room-m");
    let mut ws = connect(s.addr, Auth::FirstMessage(&t));
    assert_eq!(recv_json(&mut ws), welcome("carol", "room-m"));
}

#[test]
fn message_pipelined_right_after_a_first_message_token_reaches_the_game() {
    let s = strict_server();
    let t = good_token(&s, "dave", "room-p");
    // Token and first game message leave in the same breath, before any answer.
    let mut ws = connect(s.addr, Auth::FirstMessage(&t));
    send_text(&mut ws, "hello");
    assert_eq!(recv_json(&mut ws), welcome("dave", "room-p"));
    assert_eq!(
        recv_json(&mut ws),
        json!({ "pid": "dave", "message": "hello" })
    );
}

#[test]
fn header_token_wins_over_query_token() {
    let s = strict_server();
    let t = good_token(&s, "erin", "room-both");
    let request = format!("ws://{}/play?token=garbage", s.addr);
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(request).expect("request");
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {t}").parse().expect("header value"),
    );
    let (mut ws, _) = tungstenite::client(request, common::tcp(s.addr)).expect("upgrade");
    assert_eq!(recv_json(&mut ws), welcome("erin", "room-both"));
}

#[test]
fn integer_ids_are_normalised_to_text() {
    let s = start_with::<Chat>(|b| b);
    let t = s.token_with(json!({ "pid": 42, "sid": 7 }), now(), 600);
    let mut ws = connect(s.addr, Auth::Header(&t));
    assert_eq!(recv_json(&mut ws), welcome("42", "7"));
}

#[test]
fn hs256_login_keys_admit_players() {
    let login = Signer::hs256(LOGIN_KID, &[7u8; 32]).expect("hs256 key");
    let s = start_with_login::<Chat>(login, |b| b);
    let t = s.token("frank", "room-hs");
    let mut ws = connect(s.addr, Auth::Query(&t));
    assert_eq!(recv_json(&mut ws), welcome("frank", "room-hs"));
}

#[test]
fn refused_upgrade_is_an_http_error_for_a_websocket_client() {
    let s = strict_server();
    let t = s.token_with(claims_without("aud"), now(), 600);
    match try_connect(s.addr, Auth::Header(&t)) {
        Err(common::Refused::Http(status, body)) => {
            assert_eq!(status, 401);
            let body: Value = serde_json::from_slice(&body).expect("JSON body");
            assert_eq!(body["error"], "invalid_audience");
        }
        Err(other) => panic!("expected HTTP 401, got {other:?}"),
        Ok(_) => panic!("expected HTTP 401, got an upgrade"),
    }
}

// --- each error code on the wire ------------------------------------------------------------

#[test]
fn malformed_token_is_refused_with_token_malformed() {
    let s = strict_server();
    for token in ["garbage", "a.b.c", "eyJhbGciOiJFZERTQSJ9..", "a.b.c.d"] {
        assert_refused_everywhere(&s, token, AuthError::TokenMalformed);
    }
}

#[test]
fn oversized_token_is_refused_with_token_too_large() {
    let s = strict_server();
    let t = s.token_with(claims_with("pad", "x".repeat(3000).into()), now(), 600);
    assert!(t.len() > 2048);
    assert_refused_everywhere(&s, &t, AuthError::TokenTooLarge);
}

#[test]
fn wrong_algorithm_is_refused_with_invalid_algorithm() {
    let s = strict_server();
    // HS256 under the kid of an Ed25519 key.
    let hs = Signer::hs256(LOGIN_KID, &[1u8; 32]).expect("hs256 key");
    let t = sign(&hs, claims("alice", "room"), now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::InvalidAlgorithm);
    // alg "none" with an empty signature.
    let header = json!({ "alg": "none", "typ": "JWT", "kid": LOGIN_KID }).to_string();
    let mut payload = claims("alice", "room");
    payload["iat"] = now().into();
    payload["exp"] = (now() + 600).into();
    let payload = payload.to_string();
    // (A non-empty signature segment: three non-empty segments come before the `alg` rule.)
    let none = format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(&[0u8; 64])
    );
    assert_refused_everywhere(&s, &none, AuthError::InvalidAlgorithm);
}

#[test]
fn unknown_kid_is_refused_with_unknown_key() {
    let s = strict_server();
    let other = Signer::generate_ed25519("someone-else").expect("key");
    let t = sign(&other, claims("alice", "room"), now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::UnknownKey);
}

#[test]
fn forged_signature_is_refused_with_signature_invalid() {
    let s = strict_server();
    let forger = Signer::generate_ed25519(LOGIN_KID).expect("key");
    let t = sign(&forger, claims("alice", "room"), now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::SignatureInvalid);
}

#[test]
fn expired_token_is_refused_with_token_expired() {
    let s = strict_server();
    let t = s.token_with(claims("alice", "room"), now() - 1000, 600);
    assert_refused_everywhere(&s, &t, AuthError::TokenExpired);
}

#[test]
fn future_token_is_refused_with_token_not_yet_valid() {
    let s = strict_server();
    let t = s.token_with(claims("alice", "room"), now() + 600, 600);
    assert_refused_everywhere(&s, &t, AuthError::TokenNotYetValid);
    let nbf = s.token_with(claims_with("nbf", (now() + 600).into()), now(), 1200);
    assert_refused_everywhere(&s, &nbf, AuthError::TokenNotYetValid);
}

#[test]
fn overlong_lifetime_is_refused_with_lifetime_exceeded() {
    let s = strict_server();
    let t = s.token_with(claims("alice", "room"), now(), 7200);
    assert_refused_everywhere(&s, &t, AuthError::LifetimeExceeded);
}

#[test]
fn foreign_issuer_is_refused_with_invalid_issuer() {
    let s = strict_server();
    let t = s.token_with(claims_with("iss", "urn:someone-else".into()), now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::InvalidIssuer);
    let missing = s.token_with(claims_without("iss"), now(), 600);
    assert_refused_everywhere(&s, &missing, AuthError::InvalidIssuer);
}

#[test]
fn foreign_audience_is_refused_with_invalid_audience() {
    let s = strict_server();
    let t = s.token_with(claims_with("aud", json!(["other-game"])), now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::InvalidAudience);
}

#[test]
fn token_without_session_id_is_refused_with_missing_claim() {
    let s = strict_server();
    let t = s.token_with(claims_without("sid"), now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::MissingClaim);
}

#[test]
fn result_token_type_cannot_log_in() {
    let s = strict_server();
    let Value::Object(map) = claims("alice", "room") else {
        unreachable!()
    };
    let t = s.login.sign("jgs-result+jwt", map, now(), 600);
    assert_refused_everywhere(&s, &t, AuthError::WrongTokenType);
}

#[test]
fn missing_permission_is_refused_with_403_insufficient_permissions() {
    let s = strict_server();
    let t = s.token_with(claims_with("perms", json!(["watch"])), now(), 600);
    assert_eq!(AuthError::InsufficientPermissions.http_status(), 403);
    assert_refused_everywhere(&s, &t, AuthError::InsufficientPermissions);
}

#[test]
fn binary_first_message_is_refused_with_token_missing() {
    let s = strict_server();
    let mut ws = connect(s.addr, Auth::Nothing);
    ws.send(tungstenite::Message::binary(
        good_token(&s, "alice", "room").into_bytes(),
    ))
    .expect("send binary");
    expect_close(&mut ws, 1008, AuthError::TokenMissing.code());
}

#[test]
fn no_token_in_time_is_closed_with_auth_timeout() {
    let s = start_with::<Chat>(|b| b.auth_timeout(Duration::from_millis(300)));
    let mut ws = connect(s.addr, Auth::Nothing);
    expect_close(&mut ws, 1008, AuthError::AuthTimeout.code());
}

#[test]
fn empty_bearer_and_query_tokens_fall_back_to_the_first_message() {
    let s = start_with::<Chat>(|b| b);
    let t = s.token("gina", "room-fallback");
    let request = format!("ws://{}/play?token=", s.addr);
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(request).expect("request");
    request
        .headers_mut()
        .insert("Authorization", "Bearer ".parse().expect("header value"));
    let (mut ws, _) = tungstenite::client(request, common::tcp(s.addr)).expect("upgrade");
    send_text(&mut ws, &t);
    assert_eq!(recv_json(&mut ws), welcome("gina", "room-fallback"));
}

#[test]
fn refusals_are_counted() {
    let s = strict_server();
    assert_refusal(
        &upgrade_raw(s.addr, Some("garbage"), None),
        401,
        "token_malformed",
    );
    let mut ws = connect(s.addr, Auth::FirstMessage("garbage"));
    expect_close(&mut ws, 1008, "token_malformed");
    let counted = common::poll(50, Duration::from_millis(20), || {
        (s.handle().stats().auth_failures >= 2).then_some(())
    });
    assert!(counted.is_some(), "auth_failures: {:?}", s.handle().stats());
    assert_eq!(s.handle().stats().auth_failures, 2);
}
