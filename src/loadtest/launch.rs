//! Starting the servers a run compares: ours (embedded, or the `serve` example as a child
//! process), the floor (in-process, or the `loadtest` example as a child) and the tokio
//! baseline (always a child process). Each is stopped when its [`Launched`] is dropped.

use crate::jwt::Signer;
use crate::loadtest::child::{ChildServer, example_path};
use crate::loadtest::floor::FloorHandle;
use crate::loadtest::target::random_hs256;
use crate::loadtest::{GameKind, LoadError, ServerProbe, Target, TokenMint};
use crate::{Server, ServerBuilder, ServerHandle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which server to run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// This crate's server with the demo game.
    Ours,
    /// The bare mio + tungstenite floor ([`FloorHandle`]).
    Floor,
    /// tokio + tokio-tungstenite + jsonwebtoken (`examples/baseline_tokio.rs`).
    Baseline,
}

impl ServerKind {
    /// `"ours"`, `"floor"` or `"baseline"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Floor => "floor",
            Self::Baseline => "baseline",
        }
    }
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The demo game.
    pub game: GameKind,
    /// I/O threads of our server (its default when `None`).
    pub io_threads: Option<usize>,
    /// Workers of our server (its default when `None`).
    pub workers: Option<usize>,
    /// Our server with workers on threads of their own (`colocate_workers(false)`).
    pub split_workers: bool,
    /// Runtime threads of the baseline (tokio's default when `None`).
    pub baseline_threads: Option<usize>,
    /// Login tokens signed with HS256 instead of Ed25519.
    pub hs256: bool,
    /// Run our server and the floor as child processes too, so CPU and RSS are theirs alone.
    pub isolate: bool,
    /// Where `serve`, `baseline_tokio` and `loadtest` binaries are (default: next to the
    /// running executable).
    pub examples_dir: Option<PathBuf>,
}

impl LaunchOptions {
    /// Defaults for `game`: Ed25519 tokens, in-process servers, default thread counts.
    pub fn new(game: GameKind) -> Self {
        Self {
            game,
            io_threads: None,
            workers: None,
            split_workers: false,
            baseline_threads: None,
            hs256: false,
            isolate: false,
            examples_dir: None,
        }
    }
}

enum Guard {
    Embedded(Option<ServerHandle>),
    Floor(Option<FloorHandle>),
    /// Held for their `Drop`: the process is killed, the key files removed.
    Child {
        _child: ChildServer,
        _keys: KeyDir,
    },
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self {
            Self::Embedded(h) => {
                if let Some(h) = h.take() {
                    h.shutdown();
                }
            }
            Self::Floor(f) => {
                if let Some(f) = f.take() {
                    f.shutdown();
                }
            }
            Self::Child { .. } => {}
        }
    }
}

/// A temporary directory for key files, removed on drop.
struct KeyDir(Option<PathBuf>);

impl Drop for KeyDir {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A started server and the target that describes it. Dropping it stops the server.
pub struct Launched {
    /// How to reach and measure it.
    pub target: Target,
    guard: Guard,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.guard {
            Guard::Embedded(_) => "embedded",
            Guard::Floor(_) => "floor",
            Guard::Child { .. } => "child",
        };
        f.debug_struct("Launched")
            .field("target", &self.target.name)
            .field("kind", &kind)
            .finish()
    }
}

fn login_signer(hs256: bool) -> Result<Signer, LoadError> {
    if hs256 {
        random_hs256("login")
    } else {
        Ok(Signer::generate_ed25519("login")?)
    }
}

/// The floor: the echo protocol without authentication.
fn floor_target(addr: std::net::SocketAddr, login: Signer) -> Result<Target, LoadError> {
    let mut target = local_target("floor", addr, GameKind::Echo, TokenMint::new(login)?);
    target.authenticates = false;
    Ok(target)
}

fn local_target(
    name: &str,
    addr: std::net::SocketAddr,
    game: GameKind,
    tokens: TokenMint,
) -> Target {
    Target {
        name: name.to_owned(),
        addr,
        host: addr.to_string(),
        path: "/".to_owned(),
        game,
        authenticates: true,
        sends_welcome: game == GameKind::Chat,
        ends_sessions: game == GameKind::Chat,
        tokens,
        result_keys: None,
        probe: ServerProbe::InProcess,
    }
}

/// Starts `kind` on 127.0.0.1 with fresh keys.
///
/// # Errors
/// [`LoadError`] when keys, sockets or processes cannot be made.
pub fn launch(kind: ServerKind, opts: &LaunchOptions) -> Result<Launched, LoadError> {
    let login = login_signer(opts.hs256)?;
    let result = Signer::generate_ed25519("result")?;
    // Child servers inherit this process's open-file limit: lift it as far as allowed first.
    // (Where it cannot be lifted, `run` says so in its report.)
    let _ = crate::loadtest::raise_fd_limit(1 << 20);
    match (kind, opts.isolate) {
        (ServerKind::Ours, false) => launch_embedded(login, result, opts),
        (ServerKind::Floor, false) => {
            let floor = FloorHandle::start(([127, 0, 0, 1], 0).into())?;
            let target = floor_target(floor.local_addr(), login)?;
            Ok(Launched {
                target,
                guard: Guard::Floor(Some(floor)),
            })
        }
        (ServerKind::Floor, true) => {
            let program = example_path(opts.examples_dir.as_deref(), "loadtest")?;
            let args = ["--serve-floor", "--bind", "127.0.0.1:0"].map(String::from);
            let child = ChildServer::spawn(&program, &args)?;
            let mut target = floor_target(child.addr(), login)?;
            target.probe = ServerProbe::Pid(child.pid());
            Ok(Launched {
                target,
                guard: Guard::Child {
                    _child: child,
                    _keys: KeyDir(None),
                },
            })
        }
        (ServerKind::Ours, true) | (ServerKind::Baseline, _) => {
            launch_child(kind, login, result, opts)
        }
    }
}

fn launch_embedded(
    login: Signer,
    result: Signer,
    opts: &LaunchOptions,
) -> Result<Launched, LoadError> {
    let result_keys = result.verification_keys();
    let mut b: ServerBuilder = Server::builder()
        .bind("127.0.0.1:0")
        .keys(login.verification_keys())
        .result_signer(result);
    if let Some(n) = opts.io_threads {
        b = b.io_threads(n);
    }
    if let Some(n) = opts.workers {
        b = b.workers(n);
    }
    if opts.split_workers {
        b = b.colocate_workers(false);
    }
    let handle = match opts.game {
        GameKind::Chat => b.game::<crate::demo::Chat>().build()?.start()?,
        GameKind::Echo => b.game::<crate::demo::Echo>().build()?.start()?,
    };
    let mut target = local_target(
        "ours",
        handle.local_addr(),
        opts.game,
        TokenMint::new(login)?,
    );
    target.result_keys = Some(result_keys);
    Ok(Launched {
        target,
        guard: Guard::Embedded(Some(handle)),
    })
}

fn launch_child(
    kind: ServerKind,
    login: Signer,
    result: Signer,
    opts: &LaunchOptions,
) -> Result<Launched, LoadError> {
    static DIRS: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "jgs-loadtest-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    let keydir = KeyDir(Some(dir.clone()));
    // HS256 secrets must be in the login key file; Ed25519 needs only the public key.
    let login_jwk = login.public_jwk().unwrap_or_else(|| login.private_jwk());
    let login_path = dir.join("login.jwks.json");
    let result_path = dir.join("result.jwk");
    std::fs::write(
        &login_path,
        serde_json::json!({ "keys": [login_jwk] }).to_string(),
    )?;
    std::fs::write(&result_path, result.private_jwk().to_string())?;
    let result_keys = result.verification_keys();
    let mut args: Vec<String> = vec![
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--keys".into(),
        login_path.display().to_string(),
        "--result-key".into(),
        result_path.display().to_string(),
        "--game".into(),
        opts.game.name().into(),
    ];
    let program = match kind {
        ServerKind::Baseline => {
            if let Some(n) = opts.baseline_threads {
                args.extend(["--threads".into(), n.to_string()]);
            }
            example_path(opts.examples_dir.as_deref(), "baseline_tokio")?
        }
        _ => {
            if let Some(n) = opts.io_threads {
                args.extend(["--io-threads".into(), n.to_string()]);
            }
            if let Some(n) = opts.workers {
                args.extend(["--workers".into(), n.to_string()]);
            }
            if opts.split_workers {
                args.push("--split-workers".into());
            }
            example_path(opts.examples_dir.as_deref(), "serve")?
        }
    };
    let child = ChildServer::spawn(&program, &args)?;
    let mut target = local_target(kind.name(), child.addr(), opts.game, TokenMint::new(login)?);
    target.result_keys = Some(result_keys);
    target.probe = ServerProbe::Pid(child.pid());
    Ok(Launched {
        target,
        guard: Guard::Child {
            _child: child,
            _keys: keydir,
        },
    })
}
