//! `SO_REUSEPORT` listeners: one per I/O thread on the same address, so the kernel spreads
//! incoming connections over the threads with no shared accept queue.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// Binds a non-blocking listener on `addr` with `SO_REUSEADDR` and `SO_REUSEPORT`.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<mio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// Binds `threads` listeners on each address; a port 0 is resolved by the first bind and
/// reused by the others. Returns the listeners per thread and the bound addresses.
pub(crate) fn bind_all(
    addrs: &[SocketAddr],
    threads: usize,
) -> io::Result<(Vec<Vec<mio::net::TcpListener>>, Vec<SocketAddr>)> {
    let mut per_thread: Vec<Vec<mio::net::TcpListener>> =
        (0..threads).map(|_| Vec::new()).collect();
    let mut bound = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        let first = bind(addr)?;
        let real = first.local_addr()?;
        bound.push(real);
        per_thread[0].push(first);
        for listeners in per_thread.iter_mut().skip(1) {
            listeners.push(bind(real)?);
        }
    }
    Ok((per_thread, bound))
}
