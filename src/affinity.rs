//! The OS calls that need `unsafe`, and the only `unsafe` in the crate: core pinning
//! (`sched_setaffinity`/`sched_getaffinity`) and the open-file limit (`setrlimit`).
#![allow(unsafe_code)]

use std::io;

/// The cores this process may run on (0..available_parallelism when unknown).
pub(crate) fn allowed_cores() -> Vec<usize> {
    // SAFETY: `set` is a plain-old-data bitmask that we zero before the call; the kernel writes
    // at most `size_of::<cpu_set_t>()` bytes into it, the size we pass.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 means this thread; `set` is valid for writes of the given size.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc == 0 {
        // SAFETY: CPU_ISSET only reads the initialised bitmask for indices below CPU_SETSIZE.
        let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect();
        if !cores.is_empty() {
            return cores;
        }
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    (0..n).collect()
}

/// Pins the calling thread to `core`. Returns false (and logs) if the kernel refuses.
pub(crate) fn pin_current_thread(core: usize) -> bool {
    if core >= libc::CPU_SETSIZE as usize {
        log::warn!("cannot pin to core {core}: beyond CPU_SETSIZE");
        return false;
    }
    // SAFETY: zeroed cpu_set_t is the empty set; CPU_SET writes one bit below CPU_SETSIZE
    // (checked above); sched_setaffinity reads exactly size_of::<cpu_set_t>() bytes.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        log::warn!(
            "cannot pin to core {core}: {}",
            std::io::Error::last_os_error()
        );
    }
    rc == 0
}

/// Raises the soft (and, when allowed, the hard) open-file limit to at least `want`.
///
/// Returns the soft limit in force afterwards, which may be lower than `want` when the hard
/// limit cannot be raised (an unprivileged process) — callers should say so.
///
/// # Errors
/// The OS error of `getrlimit`/`setrlimit`.
// `rlim_t` is not `u64` on every platform.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn raise_fd_limit(want: u64) -> io::Result<u64> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` only writes a `struct rlimit` through the pointer, which points to a
    // live, properly aligned local of exactly that type.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let want = want as libc::rlim_t;
    if current.rlim_cur >= want {
        return Ok(current.rlim_cur as u64);
    }
    // First try to lift the hard limit too (works as root, up to fs.nr_open).
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
        .unwrap_or(want);
    let target = want.min(nr_open).max(current.rlim_cur);
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: current.rlim_max.max(target),
    };
    // SAFETY: `setrlimit` only reads the `struct rlimit` behind the pointer, a live local.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return Ok(target as u64);
    }
    // Not privileged: go as far as the hard limit allows.
    let soft = libc::rlimit {
        rlim_cur: want.min(current.rlim_max),
        rlim_max: current.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(soft.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_cores_is_never_empty_and_pinning_to_one_of_them_works() {
        let cores = allowed_cores();
        assert!(!cores.is_empty());
        let first = cores[0];
        let ok = std::thread::spawn(move || pin_current_thread(first))
            .join()
            .unwrap();
        assert!(ok);
    }

    #[test]
    fn raising_the_fd_limit_to_a_small_value_keeps_the_current_limit() {
        let now = raise_fd_limit(16).expect("getrlimit works");
        assert!(now >= 16);
    }
}
