//! Core pinning: the only `unsafe` in the crate (`sched_setaffinity`/`sched_getaffinity`).
#![allow(unsafe_code)]

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
}
