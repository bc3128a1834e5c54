//! Client sockets: non-blocking connect, optionally from a source address spread over
//! 127.0.0.0/8 so that 100,000 connections to one port do not exhaust the ephemeral ports of a
//! single source address (about 28,000 on a default Linux).

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Source addresses used: 127.0.1.1 … 127.0.250.250 (62,500 of them).
const SPREAD: u64 = 250 * 250;

/// The source address for the `n`-th connection when spreading. Never 127.0.0.x, where
/// servers usually listen.
pub(crate) fn spread_source(n: u64) -> Ipv4Addr {
    let k = n % SPREAD;
    // Both quotients are < 250, so the casts are lossless.
    Ipv4Addr::new(127, 0, 1 + (k / 250) as u8, 1 + (k % 250) as u8)
}

/// True when connections to `target` can come from any 127.0.0.0/8 source.
pub(crate) fn can_spread(target: &SocketAddr) -> bool {
    matches!(target.ip(), IpAddr::V4(ip) if ip.is_loopback())
}

/// Starts a non-blocking TCP connect to `target` (with `TCP_NODELAY`), bound first to
/// `source` when given. The connect completes later: the socket turns writable.
///
/// # Errors
/// The OS error of `socket`, `bind` or `connect` (other than "in progress").
pub(crate) fn start_connect(
    target: SocketAddr,
    source: Option<Ipv4Addr>,
) -> io::Result<mio::net::TcpStream> {
    let socket = Socket::new(
        Domain::for_address(target),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(ip) = source {
        // Reuse ports of connections still in TIME_WAIT (churn closes many).
        socket.set_reuse_address(true)?;
        socket.bind(&SockAddr::from(SocketAddr::new(IpAddr::V4(ip), 0)))?;
    }
    match socket.connect(&SockAddr::from(target)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(socket.into()))
}

/// A short, stable name for an I/O error kind, used as an error-table key.
pub(crate) fn io_kind(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "econnrefused".into(),
        Some(libc::ECONNRESET) => "econnreset".into(),
        Some(libc::EADDRINUSE) => "eaddrinuse".into(),
        Some(libc::EADDRNOTAVAIL) => "eaddrnotavail".into(),
        Some(libc::EMFILE) => "emfile".into(),
        Some(libc::ENFILE) => "enfile".into(),
        Some(libc::ETIMEDOUT) => "etimedout".into(),
        Some(libc::EPIPE) => "epipe".into(),
        Some(code) => format!("errno{code}"),
        None => format!("{:?}", e.kind()).to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_sources_stay_in_loopback_and_off_127_0_0() {
        for n in [0, 1, 249, 250, 62_499, 62_500, 1_000_003] {
            let ip = spread_source(n);
            assert!(ip.is_loopback());
            assert_ne!(ip.octets()[2], 0);
            assert_ne!(ip.octets()[3], 0);
        }
        assert_ne!(spread_source(0), spread_source(1));
        assert_eq!(spread_source(0), spread_source(SPREAD));
    }

    #[test]
    fn only_loopback_v4_targets_are_spread() {
        assert!(can_spread(&"127.0.0.1:80".parse().unwrap()));
        assert!(!can_spread(&"[::1]:80".parse().unwrap()));
        assert!(!can_spread(&"192.0.2.1:80".parse().unwrap()));
    }
}
