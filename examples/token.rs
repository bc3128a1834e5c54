//! Mints a login token for the `serve` example from a private key file written by `keygen`.
//!
//! ```text
//! cargo run --example token -- --key login.jwk --pid P --sid S [--ttl S] [--iss I] [--aud A] \
//!     [--claim k=v ...]
//! ```
//!
//! Prints the compact JWT (header `typ` "JWT", `kid` of the key) on stdout. The claims are
//! `pid`, `sid`, `iss` and `aud` when given, every `--claim` (a value that parses as JSON is
//! taken as JSON, `--claim level=3`, `--claim perms='["play"]'`; anything else as a string;
//! a `--claim` may override `pid`, `sid`, `iss` or `aud`), and `iat` = now, `exp` = now + ttl
//! and a fresh random `jti`.

use clap::Parser;
use jwt_game_server::Signer;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Mints a login token (compact JWT) for the demo server.
#[derive(Debug, Parser)]
#[command(name = "token", version)]
struct Args {
    /// Private JWK file of the login key (`login.jwk` from keygen).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Player id (`pid`).
    #[arg(long, value_name = "P")]
    pid: String,
    /// Session id (`sid`).
    #[arg(long, value_name = "S")]
    sid: String,
    /// Lifetime in seconds (`exp - iat`).
    #[arg(long, value_name = "S", default_value_t = 3600)]
    ttl: u64,
    /// Issuer (`iss`).
    #[arg(long, value_name = "I")]
    iss: Option<String>,
    /// Audience (`aud`).
    #[arg(long, value_name = "A")]
    aud: Option<String>,
    /// An extra claim `k=v` (repeatable); `v` is JSON when it parses, else a string.
    #[arg(long = "claim", value_name = "K=V", value_parser = parse_claim)]
    claims: Vec<(String, Value)>,
}

/// Parses `k=v`: `v` as JSON when it parses, else as a string.
fn parse_claim(arg: &str) -> Result<(String, Value), String> {
    let (k, v) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}` is not k=v"))?;
    if k.is_empty() {
        return Err(format!("`{arg}` has an empty claim name"));
    }
    let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
    Ok((k.to_owned(), value))
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("token: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<String, Box<dyn std::error::Error>> {
    let signer = Signer::from_jwk_file(&args.key)?;
    let mut claims = Map::new();
    claims.insert("pid".to_owned(), Value::String(args.pid));
    claims.insert("sid".to_owned(), Value::String(args.sid));
    if let Some(iss) = args.iss {
        claims.insert("iss".to_owned(), Value::String(iss));
    }
    if let Some(aud) = args.aud {
        claims.insert("aud".to_owned(), Value::String(aud));
    }
    for (k, v) in args.claims {
        claims.insert(k, v);
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    Ok(signer.sign("JWT", claims, now, args.ttl))
}
