//! Raising this process's open-file limit (`RLIMIT_NOFILE`) for large connection counts.
//! The `unsafe` OS calls live in the crate's affinity module, the only place with `unsafe`.

use std::io;

/// Raises the soft (and, when allowed, the hard) open-file limit to at least `want`.
///
/// Returns the soft limit in force afterwards, which may be lower than `want` when the hard
/// limit cannot be raised (an unprivileged process) — callers should say so.
///
/// # Errors
/// The OS error of `getrlimit`/`setrlimit`.
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    crate::affinity::raise_fd_limit(want)
}
