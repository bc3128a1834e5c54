//! The example binaries, as the tests that run them as processes find them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// `target/<profile>/examples`, found from the test binary (`target/<profile>/deps/…`).
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    profile_dir.join("examples")
}

/// The newest modification time under `path`, `depth` directory levels deep.
fn newest_mtime(path: &Path, depth: usize) -> SystemTime {
    let Ok(meta) = std::fs::metadata(path) else {
        return UNIX_EPOCH;
    };
    let mut newest = meta.modified().unwrap_or(UNIX_EPOCH);
    if meta.is_dir() && depth > 0 {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            newest = newest.max(newest_mtime(&entry.path(), depth - 1));
        }
    }
    newest
}

/// The path of example `name`, built first (same profile) if missing or older than its
/// sources. A tree that does not build now (being edited) still has the binary built with the
/// tests; without one there is nothing to test.
pub fn example(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let bin = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = newest_mtime(&root.join("src"), 4)
        .max(newest_mtime(
            &root.join("examples").join(format!("{name}.rs")),
            0,
        ))
        .max(newest_mtime(&root.join("Cargo.toml"), 0));
    let fresh = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .is_ok_and(|built| built >= sources);
    if !fresh {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root)
            .args(["build", "--example", name, "--quiet"]);
        if cfg!(not(debug_assertions)) {
            cmd.arg("--release");
        }
        if !cmd.status().is_ok_and(|status| status.success()) {
            eprintln!(
                "cargo build --example {name} failed; using {}",
                bin.display()
            );
        }
    }
    assert!(bin.exists(), "example binary {} is missing", bin.display());
    bin
}

/// A spawned example, killed by its PID (only that one) when dropped, whatever happens.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
