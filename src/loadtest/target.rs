//! The server under test as the clients see it: its address, how to mint tokens for it, what
//! its demo game does, and where to read its CPU and memory.

use crate::jwt::{Algorithm, Keys, LOGIN_TOKEN_TYPE, Signer};
use crate::loadtest::{GameKind, LoadError, ServerProbe};
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// A kind of bad token sent by the `bad-tokens` scenario, with the code it must be refused with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadKind {
    /// Signed by another key under the same `kid`: `signature_invalid`.
    Forged,
    /// Expired an hour ago: `token_expired`.
    Expired,
    /// Not a JWT at all: `token_malformed`.
    Malformed,
}

impl BadKind {
    /// The kinds, cycled through in order.
    pub const ALL: [Self; 3] = [Self::Forged, Self::Expired, Self::Malformed];

    /// The error code the server must refuse this token with.
    pub const fn expected_code(self) -> &'static str {
        match self {
            Self::Forged => "signature_invalid",
            Self::Expired => "token_expired",
            Self::Malformed => "token_malformed",
        }
    }
}

/// Mints login tokens (and bad ones) for a target.
#[derive(Debug, Clone)]
pub struct TokenMint {
    signer: Arc<Signer>,
    forger: Arc<Signer>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl TokenMint {
    /// Tokens signed by `signer`; forged tokens use a fresh key of the same algorithm and `kid`.
    ///
    /// # Errors
    /// [`LoadError::Key`] if no forging key can be generated.
    pub fn new(signer: Signer) -> Result<Self, LoadError> {
        let forger = match signer.algorithm() {
            Algorithm::EdDSA => Signer::generate_ed25519(signer.kid())?,
            Algorithm::HS256 => Signer::hs256(signer.kid(), &random_secret()?)?,
        };
        Ok(Self {
            signer: Arc::new(signer),
            forger: Arc::new(forger),
            issuer: None,
            audience: None,
        })
    }

    /// Puts `iss` in every token.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Puts `aud` in every token.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The signing key.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    fn claims(&self, pid: &str, sid: &str) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("pid".into(), Value::String(pid.to_owned()));
        claims.insert("sid".into(), Value::String(sid.to_owned()));
        if let Some(iss) = &self.issuer {
            claims.insert("iss".into(), Value::String(iss.clone()));
        }
        if let Some(aud) = &self.audience {
            claims.insert("aud".into(), Value::String(aud.clone()));
        }
        claims
    }

    /// A valid login token for `pid` in `sid`, issued at `now` and valid for `ttl` seconds.
    pub fn valid(&self, pid: &str, sid: &str, now: u64, ttl: u64) -> String {
        self.signer
            .sign(LOGIN_TOKEN_TYPE, self.claims(pid, sid), now, ttl)
    }

    /// A bad token of `kind` for `pid` in `sid`.
    pub fn bad(&self, kind: BadKind, pid: &str, sid: &str, now: u64, ttl: u64) -> String {
        match kind {
            BadKind::Forged => self
                .forger
                .sign(LOGIN_TOKEN_TYPE, self.claims(pid, sid), now, ttl),
            BadKind::Expired => {
                let issued = now.saturating_sub(7_200);
                self.signer
                    .sign(LOGIN_TOKEN_TYPE, self.claims(pid, sid), issued, 3_600)
            }
            BadKind::Malformed => "eyJub3Q.a-token.at_all".to_owned(),
        }
    }
}

fn random_secret() -> Result<[u8; 32], LoadError> {
    use ring::rand::SecureRandom;
    let mut secret = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| LoadError::Config("the system RNG failed".into()))?;
    Ok(secret)
}

/// A fresh random HS256 signer (32-byte secret) under `kid`.
///
/// # Errors
/// [`LoadError`] if the RNG fails.
pub fn random_hs256(kid: &str) -> Result<Signer, LoadError> {
    Ok(Signer::hs256(kid, &random_secret()?)?)
}

/// The server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// A short name for tables: `ours`, `floor`, `baseline`, or the URL.
    pub name: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header.
    pub host: String,
    /// The request path (with any query).
    pub path: String,
    /// The demo game the server runs.
    pub game: GameKind,
    /// False for servers that accept any token (the floor).
    pub authenticates: bool,
    /// True when the game sends a welcome on join (the chat game; not the floor).
    pub sends_welcome: bool,
    /// True when the server ends sessions with result tokens (needed by `churn`).
    pub ends_sessions: bool,
    /// Token minting.
    pub tokens: TokenMint,
    /// Keys that verify the server's result tokens (needed by `churn`).
    pub result_keys: Option<Keys>,
    /// Where the server's CPU time and RSS are read.
    pub probe: ServerProbe,
}

impl Target {
    /// A running server at `url` (`ws://host:port/path`), whose login tokens `tokens` mints.
    /// The game is assumed to be `game`; result keys are fetched from
    /// `/.well-known/jwks.json` when the game is chat (so `churn` can verify results).
    ///
    /// # Errors
    /// [`LoadError::Config`] for a URL that is not `ws://` or does not resolve.
    pub fn remote(url: &str, tokens: TokenMint, game: GameKind) -> Result<Self, LoadError> {
        let (addr, host, path) = parse_ws_url(url)?;
        let result_keys = match game {
            GameKind::Chat => fetch_jwks(addr, &host).ok(),
            GameKind::Echo => None,
        };
        Ok(Self {
            name: url.to_owned(),
            addr,
            host,
            path,
            game,
            authenticates: true,
            sends_welcome: game == GameKind::Chat,
            ends_sessions: game == GameKind::Chat,
            tokens,
            result_keys,
            probe: ServerProbe::None,
        })
    }
}

/// Splits `ws://host:port/path` into a resolved address, the host header and the path.
///
/// # Errors
/// [`LoadError::Config`] when the URL is not `ws://…` or does not resolve.
pub fn parse_ws_url(url: &str) -> Result<(SocketAddr, String, String), LoadError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| LoadError::Config(format!("`{url}`: only ws:// URLs are supported")))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() {
        return Err(LoadError::Config(format!("`{url}`: no host")));
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| LoadError::Config(format!("`{url}`: {e}")))?
        .next()
        .ok_or_else(|| LoadError::Config(format!("`{url}`: no address")))?;
    Ok((addr, authority.to_owned(), path))
}

/// Fetches and parses `GET /.well-known/jwks.json` (plain HTTP/1.1, 5 s deadlines).
///
/// # Errors
/// [`LoadError`] when the request fails or the body is not a JWKS.
pub fn fetch_jwks(addr: SocketAddr, host: &str) -> Result<Keys, LoadError> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let req =
        format!("GET /.well-known/jwks.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.take(1 << 20).read_to_end(&mut buf)?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| LoadError::Config("jwks: no HTTP response".into()))?;
    if !buf.starts_with(b"HTTP/1.1 200") && !buf.starts_with(b"HTTP/1.0 200") {
        return Err(LoadError::Config("jwks: status is not 200".into()));
    }
    let body = std::str::from_utf8(&buf[split + 4..])
        .map_err(|_| LoadError::Config("jwks: body is not UTF-8".into()))?;
    Ok(Keys::from_jwks_str(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_are_split() {
        let (addr, host, path) = parse_ws_url("ws://127.0.0.1:9000/play?x=1").unwrap();
        assert_eq!(addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(host, "127.0.0.1:9000");
        assert_eq!(path, "/play?x=1");
        let (_, _, path) = parse_ws_url("ws://127.0.0.1:9000").unwrap();
        assert_eq!(path, "/");
        let (_, _, path) = parse_ws_url("ws://127.0.0.1:9000?a=b").unwrap();
        assert_eq!(path, "/?a=b");
        assert!(parse_ws_url("http://127.0.0.1:1/").is_err());
        assert!(parse_ws_url("ws:///x").is_err());
    }
}
