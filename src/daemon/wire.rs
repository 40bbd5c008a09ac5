//! One protocol connection: buffered frames over a UNIX stream socket.

use crate::python::io::LogLevel;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use wsgi_core::protocol::{self, Frame, ProtocolError};

/// Why a connection stopped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connection closed by peer")]
    Closed,
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed frame: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("unexpected {0} frame")]
    Unexpected(&'static str),
}

pub struct Conn {
    stream: UnixStream,
    rbuf: Vec<u8>,
    /// Start of unread bytes in `rbuf`.
    rpos: usize,
    wbuf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: UnixStream) -> Self {
        Self { stream, rbuf: Vec::with_capacity(16 * 1024), rpos: 0, wbuf: Vec::with_capacity(16 * 1024) }
    }

    /// Queues a frame; it goes out with the next `flush`.
    pub fn send(&mut self, frame: &Frame<'_>) {
        protocol::encode(frame, &mut self.wbuf);
    }

    pub fn flush(&mut self) -> Result<(), WireError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf)?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Receives the next frame, reading from the socket as needed.
    pub fn recv(&mut self) -> Result<Frame<'_>, WireError> {
        loop {
            let avail = &self.rbuf[self.rpos..];
            if let Some(total) = protocol::frame_len(avail)?
                && avail.len() >= total
            {
                let start = self.rpos;
                self.rpos += total;
                let (frame, _) = protocol::decode(&self.rbuf[start..start + total])?.ok_or(WireError::Closed)?;
                return Ok(frame);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), WireError> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        let len = self.rbuf.len();
        let want = (len + 64 * 1024).max(self.rbuf.capacity());
        self.rbuf.resize(want, 0);
        let n = match self.stream.read(&mut self.rbuf[len..]) {
            Ok(n) => n,
            Err(e) => {
                self.rbuf.truncate(len);
                return Err(e.into());
            }
        };
        self.rbuf.truncate(len + n);
        if n == 0 { Err(WireError::Closed) } else { Ok(()) }
    }
}

/// Log levels on the wire are Apache's (syslog) numbers.
pub fn level_to_wire(l: LogLevel) -> u8 {
    match l {
        LogLevel::Error => 3,
        LogLevel::Warning => 4,
        LogLevel::Info => 6,
        LogLevel::Debug => 7,
    }
}

pub fn level_from_wire(n: u8) -> LogLevel {
    match n {
        0..=3 => LogLevel::Error,
        4 | 5 => LogLevel::Warning,
        6 => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}
