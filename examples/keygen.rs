//! Writes a fresh login key and result key for the `serve` example.
//!
//! ```text
//! cargo run --example keygen -- --out DIR [--alg eddsa|hs256] [--kid K] [--result-kid K] [--force]
//! ```
//!
//! Files written in `DIR`:
//! - `login.jwks.json`: the keys the server verifies login tokens with (`serve --keys`). For
//!   EdDSA the public key only; for HS256 the shared secret (an `oct` key), so keep it private.
//! - `login.jwk`: the PRIVATE login key, which mints tokens (`token --key`, the load harness).
//! - `result.jwk`: the PRIVATE Ed25519 key the server signs result tokens with
//!   (`serve --result-key`); its public part is served at `/.well-known/jwks.json`.
//!
//! Private files are created with mode 0600 on Unix. Existing files are kept unless `--force`.

use clap::{Parser, ValueEnum};
use jwt_game_server::Signer;
use ring::rand::{SecureRandom, SystemRandom};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Login-token algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Alg {
    /// Ed25519 signatures: the server holds only the public key.
    Eddsa,
    /// HMAC-SHA-256 with a 32-byte random secret shared by the server and the token issuer.
    Hs256,
}

/// Writes a fresh login key set (login.jwks.json, login.jwk) and result key (result.jwk).
#[derive(Debug, Parser)]
#[command(name = "keygen", version)]
struct Args {
    /// Directory to write the key files into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Algorithm of the login key.
    #[arg(long, value_enum, default_value_t = Alg::Eddsa)]
    alg: Alg,
    /// Key id (`kid`) of the login key.
    #[arg(long, value_name = "K", default_value = "login-1")]
    kid: String,
    /// Key id (`kid`) of the result key.
    #[arg(long, value_name = "K", default_value = "result-1")]
    result_kid: String,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keygen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let login = match args.alg {
        Alg::Eddsa => Signer::generate_ed25519(&args.kid)?,
        Alg::Hs256 => {
            let mut secret = [0u8; 32];
            SystemRandom::new()
                .fill(&mut secret)
                .map_err(|_| "the system random number generator failed")?;
            Signer::hs256(&args.kid, &secret)?
        }
    };
    let login_jwks = match args.alg {
        Alg::Eddsa => login.verification_keys().public_jwks(),
        // An HS256 secret is never published by `public_jwks`; the server needs it anyway.
        Alg::Hs256 => serde_json::json!({ "keys": [login.private_jwk()] }),
    };
    let result = Signer::generate_ed25519(&args.result_kid)?;

    std::fs::create_dir_all(&args.out)?;
    let files = [
        ("login.jwks.json", login_jwks, args.alg == Alg::Hs256),
        ("login.jwk", login.private_jwk(), true),
        ("result.jwk", result.private_jwk(), true),
    ];
    for (name, json, private) in &files {
        let path = args.out.join(name);
        write_json(&path, json, *private, args.force)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Writes `json` (pretty, newline-terminated) to `path`; private files get mode 0600 on Unix.
fn write_json(
    path: &Path,
    json: &serde_json::Value,
    private: bool,
    force: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists (use --force to overwrite)", path.display())
        } else {
            format!("{}: {e}", path.display())
        }
    })?;
    let mut text = serde_json::to_string_pretty(json)?;
    text.push('\n');
    file.write_all(text.as_bytes())?;
    Ok(())
}
