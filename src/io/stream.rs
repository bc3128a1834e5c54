//! A TCP stream with a queue of bytes to write first (an HTTP response head, a 101), so the
//! response and the WebSocket frames that follow it go out in order without blocking.

use mio::net::TcpStream;
use std::io::{self, Read, Write};

/// A non-blocking TCP stream with a pending-bytes prefix.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) tcp: TcpStream,
    pending: Vec<u8>,
    written: usize,
}

impl Stream {
    pub(crate) fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            pending: Vec::new(),
            written: 0,
        }
    }

    /// Queues `bytes` to go out before anything else written later.
    pub(crate) fn queue(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// True when queued bytes remain.
    pub(crate) fn has_pending(&self) -> bool {
        self.written < self.pending.len()
    }

    /// Writes queued bytes until done or the socket would block.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        while self.written < self.pending.len() {
            match self.tcp.write(&self.pending[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending = Vec::new();
        self.written = 0;
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

/// While queued bytes remain (a 101 not yet written), frames up to this total join the
/// queue, so the response and the first frames (a welcome) leave in one `send`.
const COALESCE_BYTES: usize = 8 * 1024;

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.has_pending() && self.pending.len() + buf.len() <= COALESCE_BYTES {
            self.pending.extend_from_slice(buf);
            self.drain()?;
            return Ok(buf.len());
        }
        self.drain()?;
        if self.has_pending() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        if self.has_pending() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.tcp.flush()
    }
}
