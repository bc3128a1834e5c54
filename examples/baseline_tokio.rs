//! The comparison baseline: what users would otherwise pick — tokio + tokio-tungstenite +
//! the jsonwebtoken crate — speaking the same demo protocol as `serve`. A dev-only tool for
//! `loadtest --compare baseline`; never part of the library.
//!
//! Same wire behaviour as the demo games: the token in `Authorization: Bearer`, `?token=` or
//! the first text message; 401 with `{"error":code}` before the upgrade, close 1008 with the
//! code after it. `--game chat` welcomes, broadcasts `{"pid":P,"message":M}` and ends the
//! session on `{"type":"end","result":R}` with a signed result token per player (EdDSA,
//! `typ` `jgs-result+jwt`) then close 1000 `session_complete`; a late joiner of an ended
//! session gets its result the same way. `--game echo` echoes. The WebSocket configuration is
//! the one our server uses (4 KiB read buffer, 64 KiB messages), so memory is compared fairly.
//!
//! ```text
//! cargo run --release --example baseline_tokio -- --bind 127.0.0.1:0 --keys login.jwks.json \
//!     --result-key result.jwk --game chat
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

/// tokio + tokio-tungstenite + jsonwebtoken server with the demo protocol.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: String,
    /// JWKS (or JWK) with the login keys (Ed25519 `x` or HS256 `k`).
    #[arg(long)]
    keys: std::path::PathBuf,
    /// Private Ed25519 JWK that signs result tokens (chat game).
    #[arg(long)]
    result_key: Option<std::path::PathBuf>,
    /// chat or echo.
    #[arg(long, default_value = "chat")]
    game: String,
    /// tokio worker threads (default: cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Clock skew tolerated, seconds.
    #[arg(long, default_value_t = 30)]
    leeway: u64,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

struct LoginKey {
    alg: Algorithm,
    key: DecodingKey,
}

struct ResultKey {
    kid: String,
    key: EncodingKey,
}

#[derive(Default)]
struct Sessions {
    live: HashMap<String, HashMap<String, (u64, mpsc::UnboundedSender<Message>)>>,
    /// Ended sessions: participants and result.
    archive: HashMap<String, (HashSet<String>, Value)>,
}

struct State {
    keys: HashMap<Option<String>, LoginKey>,
    result: Option<ResultKey>,
    chat: bool,
    leeway: u64,
    sessions: Mutex<Sessions>,
    next_conn: std::sync::atomic::AtomicU64,
}

fn main() -> Result<(), Error> {
    let args = Args::parse();
    let state = Arc::new(State {
        keys: load_login_keys(&std::fs::read_to_string(&args.keys)?)?,
        result: match &args.result_key {
            Some(p) => Some(load_result_key(&std::fs::read_to_string(p)?)?),
            None => None,
        },
        chat: match args.game.as_str() {
            "chat" => true,
            "echo" => false,
            g => return Err(format!("unknown game {g}").into()),
        },
        leeway: args.leeway,
        sessions: Mutex::new(Sessions::default()),
        next_conn: std::sync::atomic::AtomicU64::new(1),
    });
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n);
    }
    rt.enable_all().build()?.block_on(serve(args.bind, state))
}

async fn serve(bind: String, state: Arc<State>) -> Result<(), Error> {
    // The same backlog as our server's (`TcpListener::bind` uses 128, which overflows under a
    // connect burst and turns into 1 s SYN retransmits).
    let addr: std::net::SocketAddr = bind.parse()?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener: TcpListener = socket.listen(4096)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of fds: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, Arc::clone(&state)));
    }
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(64 << 10))
        .max_frame_size(Some(64 << 10))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A player's verified ids.
struct Ids {
    pid: String,
    sid: String,
}

fn token_from_request(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get("authorization") {
        if let Some(t) = v.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")) {
            return Some(t.trim().to_owned());
        }
    }
    let query = req.uri().query()?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned)
}

fn refusal(code: &str) -> ErrorResponse {
    let body = json!({"error": code, "message": "refused"}).to_string();
    let mut resp = ErrorResponse::new(Some(body));
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp
}

// The callback's error type is tungstenite's.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, state: Arc<State>) {
    let mut ids: Option<Result<Ids, &'static str>> = None;
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match token_from_request(req) {
            None => Ok(resp),
            Some(token) => match verify(&state, &token) {
                Ok(v) => {
                    ids = Some(Ok(v));
                    Ok(resp)
                }
                Err(code) => Err(refusal(code)),
            },
        }
    };
    let accepted =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config())).await;
    let Ok(mut ws) = accepted else {
        return;
    };
    if ids.is_none() {
        // The token as the first text message, within 10 s.
        let first = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
        ids = Some(match first {
            Ok(Some(Ok(Message::Text(t)))) => verify(&state, t.as_str()),
            Err(_) => Err("auth_timeout"),
            _ => Err("token_missing"),
        });
    }
    let ids = match ids.unwrap_or(Err("token_missing")) {
        Ok(ids) => ids,
        Err(code) => {
            let _ = ws.close(Some(close_frame(CloseCode::Policy, code))).await;
            return;
        }
    };
    if state.chat {
        chat(ws, ids, state).await;
    } else {
        while let Some(Ok(m)) = ws.next().await {
            if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                break;
            }
        }
    }
}

fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}

async fn chat(ws: tokio_tungstenite::WebSocketStream<TcpStream>, ids: Ids, state: Arc<State>) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let conn_id = state
        .next_conn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let late = join(&state, &ids, conn_id, &tx);
    if let Some(msgs) = late {
        for m in msgs {
            let _ = sink.feed(m).await;
        }
        let _ = sink.flush().await;
        return;
    }
    // Writer: batches whatever is queued into one flush.
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let closing = m.is_close();
            if sink.feed(m).await.is_err() {
                return;
            }
            while let Ok(m) = rx.try_recv() {
                let closing = m.is_close();
                if sink.feed(m).await.is_err() || closing {
                    let _ = sink.flush().await;
                    return;
                }
            }
            if sink.flush().await.is_err() || closing {
                return;
            }
        }
    });
    while let Some(Ok(m)) = stream.next().await {
        let Message::Text(text) = m else {
            if m.is_close() {
                break;
            }
            continue;
        };
        if let Some(result) = end_request(text.as_str()) {
            end_session(&state, &ids.sid, result);
            continue;
        }
        let out = Message::text(json!({"pid": ids.pid, "message": text.as_str()}).to_string());
        let s = state.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(members) = s.live.get(&ids.sid) {
            for (_, member) in members.values() {
                let _ = member.send(out.clone());
            }
        }
    }
    {
        let mut s = state.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(members) = s.live.get_mut(&ids.sid) {
            if members.get(&ids.pid).is_some_and(|(id, _)| *id == conn_id) {
                members.remove(&ids.pid);
            }
            if members.is_empty() {
                s.live.remove(&ids.sid);
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Joins the live session (welcome queued), or, for an ended session, returns what a late
/// joiner gets: its result and close 1000, or close 4003 if it never played.
fn join(
    state: &State,
    ids: &Ids,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<Message>,
) -> Option<Vec<Message>> {
    let mut s = state.sessions.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((players, result)) = s.archive.get(&ids.sid) {
        return Some(if players.contains(&ids.pid) {
            vec![
                Message::text(sign_result(state, ids, result)),
                Message::Close(Some(close_frame(CloseCode::Normal, "session_complete"))),
            ]
        } else {
            vec![Message::Close(Some(close_frame(
                CloseCode::Library(4003),
                "not_a_participant",
            )))]
        });
    }
    let members = s.live.entry(ids.sid.clone()).or_default();
    if let Some((_, old)) = members.insert(ids.pid.clone(), (conn_id, tx.clone())) {
        let _ = old.send(Message::Close(Some(close_frame(
            CloseCode::Library(4000),
            "replaced",
        ))));
    }
    let welcome = json!({"type": "welcome", "pid": ids.pid, "sid": ids.sid}).to_string();
    let _ = tx.send(Message::text(welcome));
    None
}

fn end_request(text: &str) -> Option<Value> {
    if !text.starts_with('{') || !text.contains("\"end\"") {
        return None;
    }
    let mut v: Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object_mut()?;
    if obj.get("type")?.as_str()? != "end" {
        return None;
    }
    Some(obj.remove("result").unwrap_or(Value::Null))
}

fn end_session(state: &State, sid: &str, result: Value) {
    let mut s = state.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let Some(members) = s.live.remove(sid) else {
        return;
    };
    let mut players = HashSet::new();
    for (pid, (_, tx)) in members {
        let ids = Ids {
            pid: pid.clone(),
            sid: sid.to_owned(),
        };
        let _ = tx.send(Message::text(sign_result(state, &ids, &result)));
        let _ = tx.send(Message::Close(Some(close_frame(
            CloseCode::Normal,
            "session_complete",
        ))));
        players.insert(pid);
    }
    s.archive.insert(sid.to_owned(), (players, result));
}

fn sign_result(state: &State, ids: &Ids, result: &Value) -> String {
    let Some(key) = &state.result else {
        return String::new();
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("jgs-result+jwt".into());
    header.kid = Some(key.kid.clone());
    let iat = now();
    let jti: u64 = rand_u64();
    let claims = json!({
        "iss": "baseline", "sid": ids.sid, "pid": ids.pid, "iat": iat,
        "exp": iat + 7 * 24 * 3600, "jti": format!("{jti:016x}"), "result": result,
    });
    jsonwebtoken::encode(&header, &claims, &key.key).unwrap_or_default()
}

fn rand_u64() -> u64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u64::from_le_bytes(b)
}

fn id_claim(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn verify(state: &State, token: &str) -> Result<Ids, &'static str> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "token_malformed")?;
    let key = state
        .keys
        .get(&header.kid)
        .or_else(|| {
            (state.keys.len() == 1)
                .then(|| state.keys.values().next())
                .flatten()
        })
        .ok_or("unknown_key")?;
    if header.alg != key.alg {
        return Err("invalid_algorithm");
    }
    let mut validation = Validation::new(key.alg);
    validation.leeway = state.leeway;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation).map_err(|e| match e
        .kind()
    {
        ErrorKind::InvalidSignature => "signature_invalid",
        ErrorKind::ExpiredSignature => "token_expired",
        ErrorKind::ImmatureSignature => "token_not_yet_valid",
        ErrorKind::InvalidAlgorithm => "invalid_algorithm",
        ErrorKind::InvalidIssuer => "invalid_issuer",
        ErrorKind::InvalidAudience => "invalid_audience",
        ErrorKind::MissingRequiredClaim(_) => "missing_claim",
        _ => "token_malformed",
    })?;
    let pid = id_claim(data.claims.get("pid")).ok_or("missing_claim")?;
    let sid = id_claim(data.claims.get("sid")).ok_or("missing_claim")?;
    Ok(Ids { pid, sid })
}

fn load_login_keys(json: &str) -> Result<HashMap<Option<String>, LoginKey>, Error> {
    let doc: Value = serde_json::from_str(json)?;
    let list = match doc.get("keys") {
        Some(Value::Array(a)) => a.clone(),
        _ => vec![doc],
    };
    let mut keys = HashMap::new();
    for jwk in list {
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        let key = match jwk.get("kty").and_then(Value::as_str) {
            Some("OKP") => {
                let x = jwk
                    .get("x")
                    .and_then(Value::as_str)
                    .ok_or("OKP key without x")?;
                LoginKey {
                    alg: Algorithm::EdDSA,
                    key: DecodingKey::from_ed_components(x)?,
                }
            }
            Some("oct") => {
                let k = jwk
                    .get("k")
                    .and_then(Value::as_str)
                    .ok_or("oct key without k")?;
                LoginKey {
                    alg: Algorithm::HS256,
                    key: DecodingKey::from_secret(&URL_SAFE_NO_PAD.decode(k)?),
                }
            }
            other => return Err(format!("unsupported key type {other:?}").into()),
        };
        keys.insert(kid, key);
    }
    if keys.is_empty() {
        return Err("no login keys".into());
    }
    Ok(keys)
}

/// An Ed25519 private JWK (`d` = seed) as the PKCS#8 v1 document jsonwebtoken signs with.
fn load_result_key(json: &str) -> Result<ResultKey, Error> {
    let jwk: Value = serde_json::from_str(json)?;
    let d = jwk
        .get("d")
        .and_then(Value::as_str)
        .ok_or("result key without d")?;
    let seed = URL_SAFE_NO_PAD.decode(d)?;
    if seed.len() != 32 {
        return Err("result key seed is not 32 bytes".into());
    }
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    Ok(ResultKey {
        kid: jwk
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or("result")
            .to_owned(),
        key: EncodingKey::from_ed_der(&der),
    })
}
