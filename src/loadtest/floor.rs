//! The floor: a bare single-loop mio + tungstenite server with a 4 KiB read buffer, no auth,
//! no workers. It accepts, completes the upgrade (resumable handshake) and echoes every data
//! message to its sender. What our server costs above it is the price of its features.

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::{Error as WsError, Message};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);
/// Accepts per listener event, and messages per connection event, before others get a turn.
const BUDGET: usize = 256;

type Handshake = MidHandshake<ServerHandshake<TcpStream, NoCallback>>;

enum Conn {
    Handshaking(Option<Box<Handshake>>),
    Open(Box<WebSocket<TcpStream>>),
}

/// The WebSocket configuration of the floor: 4 KiB read buffer, 64 KiB messages.
pub fn floor_ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(64 << 10))
        .max_frame_size(Some(64 << 10))
}

/// A running floor server.
#[derive(Debug)]
pub struct FloorHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl FloorHandle {
    /// Binds `addr` (use port 0 for any) and starts the loop on a new thread.
    ///
    /// # Errors
    /// The OS error of binding or creating the poll.
    pub fn start(addr: SocketAddr) -> io::Result<Self> {
        let mut listener = listen(addr)?;
        let addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("floor".into())
            .spawn(move || serve(poll, listener, &flag))?;
        Ok(Self {
            addr,
            stop,
            waker,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the loop, closes every connection and joins the thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Blocks until the loop ends (it only ends on [`FloorHandle::shutdown`] or an error).
    ///
    /// # Errors
    /// The error that ended the loop.
    pub fn wait(mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("floor thread panicked")),
            None => Ok(()),
        }
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FloorHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A listener with the same backlog as our server's (mio's default of 128 overflows under a
/// connect burst and turns into 1 s SYN retransmits).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(TcpListener::from_std(socket.into()))
}

fn serve(mut poll: Poll, listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    let mut events = Events::with_capacity(1024);
    let mut conns: Slab<Conn> = Slab::new();
    let mut again: Vec<usize> = Vec::new();
    let mut accept_again = false;
    let config = floor_ws_config();
    while !stop.load(Ordering::Acquire) {
        let timeout = if again.is_empty() && !accept_again {
            Duration::from_millis(200)
        } else {
            Duration::ZERO
        };
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let mut work: Vec<usize> = std::mem::take(&mut again);
        for ev in events.iter() {
            match ev.token() {
                LISTENER => accept_again = true,
                WAKER => {}
                Token(k) => work.push(k),
            }
        }
        if accept_again {
            accept_again = accept(&poll, &listener, &mut conns, &config);
        }
        for key in work {
            if drive(&mut conns, key) {
                again.push(key);
            }
        }
    }
    Ok(())
}

/// Accepts up to [`BUDGET`] connections; true when more may be waiting.
fn accept(
    poll: &Poll,
    listener: &TcpListener,
    conns: &mut Slab<Conn>,
    config: &WebSocketConfig,
) -> bool {
    for _ in 0..BUDGET {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nodelay(true);
                let entry = conns.vacant_entry();
                let token = Token(entry.key());
                if poll
                    .registry()
                    .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                    .is_err()
                {
                    continue;
                }
                let conn = match ServerHandshake::start(stream, NoCallback, Some(*config))
                    .handshake()
                {
                    Ok(ws) => Conn::Open(Box::new(ws)),
                    Err(HandshakeError::Interrupted(mid)) => Conn::Handshaking(Some(Box::new(mid))),
                    Err(HandshakeError::Failure(_)) => continue,
                };
                entry.insert(conn);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Out of fds or similar: the backlog keeps the rest; retry on the next turn.
            Err(_) => return true,
        }
    }
    true
}

/// Progresses one connection; true when its budget ran out and it must run again.
fn drive(conns: &mut Slab<Conn>, key: usize) -> bool {
    let Some(conn) = conns.get_mut(key) else {
        return false;
    };
    if let Conn::Handshaking(mid) = conn {
        let Some(m) = mid.take() else {
            conns.remove(key);
            return false;
        };
        match (*m).handshake() {
            Ok(ws) => *conn = Conn::Open(Box::new(ws)),
            Err(HandshakeError::Interrupted(m)) => {
                *mid = Some(Box::new(m));
                return false;
            }
            Err(HandshakeError::Failure(_)) => {
                conns.remove(key);
                return false;
            }
        }
    }
    let Conn::Open(ws) = conn else {
        return false;
    };
    let mut more = true;
    let mut alive = true;
    for _ in 0..BUDGET {
        match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.write(m).is_err() {
                    alive = false;
                    break;
                }
            }
            Ok(_) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                more = false;
                break;
            }
            Err(_) => {
                alive = false;
                break;
            }
        }
    }
    if alive {
        match ws.flush() {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => alive = false,
        }
    }
    if !alive {
        conns.remove(key);
        return false;
    }
    more
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream as StdStream;

    #[test]
    fn floor_echoes_over_a_real_socket() {
        let floor = FloorHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let stream = StdStream::connect(floor.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let url = format!("ws://{}/?token=x", floor.local_addr());
        let (mut ws, _) = tungstenite::client::client(url.as_str(), stream).unwrap();
        ws.send(Message::text("hello")).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("hello"));
        floor.shutdown();
    }
}
