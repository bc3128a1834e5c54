//! The smallest end-to-end path: a token in the query, a message echoed, a session ended with
//! a verifiable result token, and shutdown.

use jwt_game_server::{NoClaims, Server, Signer, TokenSpec, Verifier, demo};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tungstenite::Message;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn login(signer: &Signer, pid: &str, sid: &str) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert("pid".into(), pid.into());
    claims.insert("sid".into(), sid.into());
    signer.sign("JWT", claims, now(), 300)
}

#[test]
fn chat_session_runs_and_ends_with_verifiable_result_tokens() {
    let login_key = Signer::generate_ed25519("login").unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login_key.verification_keys())
        .result_signer(Signer::generate_ed25519("result").unwrap())
        .io_threads(2)
        .workers(2)
        .game::<demo::Chat>()
        .build()
        .unwrap()
        .start()
        .unwrap();
    let addr = server.local_addr();
    let connect = |pid: &str| {
        let url = format!("ws://{addr}/?token={}", login(&login_key, pid, "room-1"));
        let (ws, resp) = tungstenite::connect(url).unwrap();
        assert_eq!(resp.status(), 101);
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
        ws
    };
    let text =
        |ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>| match ws
            .read()
            .unwrap()
        {
            Message::Text(t) => serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap(),
            other => panic!("expected text, got {other:?}"),
        };
    let mut a = connect("alice");
    assert_eq!(
        text(&mut a),
        serde_json::json!({"type":"welcome","pid":"alice","sid":"room-1"})
    );
    let mut b = connect("bob");
    assert_eq!(text(&mut b)["pid"], "bob");
    a.send(Message::text("hi bob")).unwrap();
    assert_eq!(
        text(&mut a),
        serde_json::json!({"pid":"alice","message":"hi bob"})
    );
    assert_eq!(
        text(&mut b),
        serde_json::json!({"pid":"alice","message":"hi bob"})
    );
    b.send(Message::text(r#"{"type":"end","result":{"winner":"bob"}}"#))
        .unwrap();

    let results = Verifier::<NoClaims>::for_results(
        jwt_game_server::Keys::from_jwks_str(&server.result_jwks().to_string()).unwrap(),
        TokenSpec::default().max_lifetime(None),
    )
    .unwrap();
    for (ws, pid) in [(&mut a, "alice"), (&mut b, "bob")] {
        let Message::Text(jwt) = ws.read().unwrap() else {
            panic!("no result token")
        };
        let v = results.verify(jwt.as_str(), now()).unwrap();
        assert_eq!((v.player(), v.session()), (pid, "room-1"));
        match ws.read() {
            Ok(Message::Close(Some(f))) => {
                assert_eq!(u16::from(f.code), 1000);
                assert_eq!(f.reason.as_str(), "session_complete");
            }
            other => panic!("expected close 1000, got {other:?}"),
        }
    }
    // A late connection for the ended session gets its result, then 1000.
    let mut late = connect("alice");
    let Message::Text(jwt) = late.read().unwrap() else {
        panic!("no late result")
    };
    assert_eq!(
        results.verify(jwt.as_str(), now()).unwrap().player(),
        "alice"
    );
    let stats = server.stats();
    assert_eq!(stats.sessions_ended, 1);
    assert_eq!(stats.result_tokens, 3);
    server.shutdown();
}
