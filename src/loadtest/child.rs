//! Server processes started by the harness (the `serve` example, the tokio baseline, an
//! isolated floor): spawned, asked for their address, killed by PID at the end.

use crate::loadtest::LoadError;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long a child has to print `listening on <addr>`.
const STARTUP: Duration = Duration::from_secs(20);
/// Lines of the child's stderr kept for error messages (the rest is dropped).
const STDERR_LINES: usize = 8;

/// A server child process. Dropping it kills the process (by its PID) and reaps it.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    addr: SocketAddr,
    program: String,
}

impl ChildServer {
    /// Runs `program args…` and waits for its first stdout line `listening on <addr>`.
    /// Later stdout and stderr lines are drained (and dropped; the last stderr lines are quoted
    /// in the error when startup fails) so the child never blocks on a full pipe.
    ///
    /// # Errors
    /// [`LoadError::Spawn`] when the program cannot run or does not announce an address in
    /// time (the child is killed then).
    pub fn spawn(program: &Path, args: &[String]) -> Result<Self, LoadError> {
        let name = program.display().to_string();
        let spawn_err = |reason: String| LoadError::Spawn {
            program: name.clone(),
            reason,
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_err(e.to_string()))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            // Keeps the last lines for error messages; bounded by the child's life.
            let _ = std::thread::Builder::new()
                .name("child-stderr".into())
                .spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                        if t.len() == STDERR_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                });
        }
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_err("no stdout pipe".into()));
        };
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::Builder::new()
            .name("child-stdout".into())
            .spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(first)) = lines.next() {
                    let _ = tx.send(first);
                }
                // Bounded by the child's life: EOF when it exits.
                for _ in lines.map_while(Result::ok) {}
            });
        if let Err(e) = reader {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_err(e.to_string()));
        }
        let line = rx.recv_timeout(STARTUP);
        let addr = line
            .as_deref()
            .ok()
            .and_then(|l| l.strip_prefix("listening on "))
            .and_then(|a| a.trim().parse::<SocketAddr>().ok());
        match addr {
            Some(addr) => Ok(Self {
                child,
                addr,
                program: name,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let tail = stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
                let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
                Err(spawn_err(format!(
                    "expected `listening on <addr>` as the first line, got {line:?}; stderr: {}",
                    tail.join(" | ")
                )))
            }
        }
    }

    /// The address the child announced.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The program path.
    pub fn program(&self) -> &str {
        &self.program
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where sibling example binaries live: `dir`, else the directory of the running executable,
/// else its parent's `examples/` (for test binaries in `target/<profile>/deps`).
pub fn example_path(dir: Option<&Path>, name: &str) -> Result<PathBuf, LoadError> {
    let mut candidates = Vec::new();
    if let Some(d) = dir {
        candidates.push(d.join(name));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(d) = exe.parent() {
            candidates.push(d.join(name));
            if let Some(p) = d.parent() {
                candidates.push(p.join("examples").join(name));
            }
        }
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| LoadError::Spawn {
            program: name.to_owned(),
            reason: format!(
                "not found (looked in {}); build it with `cargo build --release --examples`",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}
