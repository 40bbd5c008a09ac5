//! One protocol connection: buffered frames over a UNIX stream socket.

use crate::common::log::LogLevel;
use std::cell::RefCell;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use wsgi_core::protocol::{self, Frame, HEADER_LEN, ProtocolError};

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
    #[error("{0}")]
    Window(#[from] super::window::WindowError),
}

/// A connection kept after its request: the socket, and the bytes of the
/// next request already received (usually none).
pub struct Kept {
    pub stream: UnixStream,
    early: Vec<u8>,
}

impl Kept {
    /// Whether the next request has already begun to arrive.
    pub fn has_early_bytes(&self) -> bool {
        !self.early.is_empty()
    }
}

pub struct Conn {
    /// `None` once handed on by `keep`.
    stream: Option<UnixStream>,
    buf: Buffers,
    /// Bytes `rpos..rend` of the receive buffer are received and not yet
    /// decoded.
    rpos: usize,
    rend: usize,
    /// The start of the frame after a large one, received with its end
    /// (see `fill`); moved to the front of `rbuf` once that frame is used.
    next_head: [u8; HEADER_LEN],
    next_len: usize,
    /// Descriptors received with the bytes (SCM_RIGHTS), in order; each
    /// belongs to the next `SendFile` frame.
    fds: std::collections::VecDeque<OwnedFd>,
}

/// Room for this many descriptors in one received message.
const MAX_FDS: usize = 8;

/// `Data` and `Body` payloads of this size or more are written from where
/// they are rather than copied into the send buffer.
const DIRECT_PAYLOAD: usize = 16 * 1024;

/// A receive buffer larger than this is not kept for the thread's next
/// connection (it grew for a frame larger than the daemon's own).
const KEEP_AT_MOST: usize = 320 * 1024;

/// How much a read asks for when the next frame's size is not known yet.
const READ_AHEAD: usize = 64 * 1024;

thread_local! {
    /// The buffers of this thread's last connection. A connection per
    /// request would otherwise zero a fresh 64 KiB each time, which costs
    /// more than relaying a small response.
    static SPARE: RefCell<Option<(Vec<u8>, Vec<u8>)>> = const { RefCell::new(None) };
}

impl Conn {
    pub fn new(stream: UnixStream) -> Self {
        let (rbuf, wbuf) = SPARE
            .with(|s| s.borrow_mut().take())
            .unwrap_or_else(|| (vec![0; 64 * 1024], Vec::with_capacity(16 * 1024)));
        Self {
            stream: Some(stream),
            buf: Buffers { rbuf, wbuf },
            rpos: 0,
            rend: 0,
            next_head: [0; HEADER_LEN],
            next_len: 0,
            fds: std::collections::VecDeque::new(),
        }
    }

    /// Queues a frame; it goes out with the next `flush`.
    pub fn send(&mut self, frame: &Frame<'_>) {
        protocol::encode(frame, &mut self.buf.wbuf);
    }

    pub fn flush(&mut self) -> Result<(), WireError> {
        if !self.buf.wbuf.is_empty() {
            self.stream()?.write_all(&self.buf.wbuf)?;
            self.buf.wbuf.clear();
        }
        Ok(())
    }

    /// Sends what is queued and `frame` now. A large `Data` or `Body`
    /// payload goes from the caller's memory with the header, not through
    /// the send buffer.
    pub fn send_now(&mut self, frame: &Frame<'_>) -> Result<(), WireError> {
        match protocol::encode_head(frame, &mut self.buf.wbuf) {
            Some(payload) if payload.len() >= DIRECT_PAYLOAD => self.flush_with(payload),
            Some(payload) => {
                self.buf.wbuf.extend_from_slice(payload);
                self.flush()
            }
            None => self.flush(),
        }
    }

    /// Writes the send buffer, then `payload`, in as few calls as the
    /// socket allows.
    fn flush_with(&mut self, payload: &[u8]) -> Result<(), WireError> {
        let (mut head, mut body) = (0, 0);
        while head < self.buf.wbuf.len() || body < payload.len() {
            let mut iov = [
                libc::iovec { iov_base: self.buf.wbuf[head..].as_ptr() as *mut _, iov_len: self.buf.wbuf.len() - head },
                libc::iovec { iov_base: payload[body..].as_ptr() as *mut _, iov_len: payload.len() - body },
            ];
            // SAFETY: msghdr is plain data pointing at two buffers that
            // outlive the call; sendmsg only reads them. MSG_NOSIGNAL: a
            // closed peer is an error here, not a SIGPIPE.
            let n = unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = iov.as_mut_ptr();
                msg.msg_iovlen = iov.len() as _;
                libc::sendmsg(self.fd(), &msg, libc::MSG_NOSIGNAL)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            let n = n as usize;
            let from_head = n.min(self.buf.wbuf.len() - head);
            head += from_head;
            body += n - from_head;
        }
        self.buf.wbuf.clear();
        Ok(())
    }

    /// Sends what is queued, then `frame` with `fd` attached (SCM_RIGHTS):
    /// the peer receives its own copy of the descriptor.
    pub fn send_with_fd(&mut self, frame: &Frame<'_>, fd: RawFd) -> Result<(), WireError> {
        self.flush()?;
        let mut bytes = Vec::new();
        protocol::encode(frame, &mut bytes);
        let mut iov = libc::iovec { iov_base: bytes.as_mut_ptr().cast(), iov_len: bytes.len() };
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        let mut control = vec![0u8; space];
        // SAFETY: msghdr is plain data; the control buffer is sized with
        // CMSG_SPACE for one descriptor, filled through the CMSG macros,
        // and both buffers outlive the sendmsg call.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
            libc::sendmsg(self.fd(), &msg, libc::MSG_NOSIGNAL)
        };
        if sent < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        // The descriptor went with the first byte; the rest is plain data.
        let sent = sent as usize;
        if sent < bytes.len() {
            self.stream()?.write_all(&bytes[sent..])?;
        }
        Ok(())
    }

    /// The descriptor that came with the `SendFile` frame just received.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }

    /// Hands on the socket, to carry another request, with the bytes
    /// already received past this one's frames (the Apache child may send
    /// its next request as soon as it has the last frame), if nothing else
    /// is left: none queued to send, no descriptor not taken. The
    /// connection is unusable afterwards.
    pub fn keep(&mut self) -> Option<Kept> {
        if !self.buf.wbuf.is_empty() || !self.fds.is_empty() {
            return None;
        }
        let mut early = self.buf.rbuf[self.rpos..self.rend].to_vec();
        early.extend_from_slice(&self.next_head[..self.next_len]);
        Some(Kept { stream: self.stream.take()?, early })
    }

    /// A kept connection, its early bytes received first.
    pub fn resume(kept: Kept) -> Self {
        let mut conn = Self::new(kept.stream);
        let n = kept.early.len();
        if conn.buf.rbuf.len() < n {
            conn.buf.rbuf.resize(n, 0);
        }
        conn.buf.rbuf[..n].copy_from_slice(&kept.early);
        conn.rend = n;
        conn
    }

    fn stream(&self) -> Result<&UnixStream, WireError> {
        self.stream.as_ref().ok_or(WireError::Closed)
    }

    /// The socket's descriptor; -1 (which every call refuses) once kept.
    fn fd(&self) -> RawFd {
        self.stream.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Receives the next frame, reading from the socket as needed.
    pub fn recv(&mut self) -> Result<Frame<'_>, WireError> {
        self.recv_counting(None)
    }

    /// As `recv`, but `Release` frames are counted into `released` and
    /// passed over.
    pub fn recv_counting(&mut self, mut released: Option<&mut usize>) -> Result<Frame<'_>, WireError> {
        loop {
            self.restart_if_used();
            if let Some(count) = released.as_deref_mut()
                && self.take_release()
            {
                *count += 1;
                continue;
            }
            let avail = &self.buf.rbuf[self.rpos..self.rend];
            let need = protocol::frame_len(avail)?;
            if let Some(total) = need
                && avail.len() >= total
            {
                let start = self.rpos;
                self.rpos += total;
                let (frame, _) = protocol::decode(&self.buf.rbuf[start..start + total])?.ok_or(WireError::Closed)?;
                return Ok(frame);
            }
            self.fill(need.unwrap_or(0))?;
        }
    }

    /// Receives until `count` `Release` frames have come; any other frame
    /// is a protocol error here.
    pub fn await_releases(&mut self, mut count: usize) -> Result<(), WireError> {
        while count > 0 {
            self.restart_if_used();
            if self.take_release() {
                count -= 1;
            } else if self.rend - self.rpos >= HEADER_LEN {
                return Err(WireError::Unexpected("frame other than release"));
            } else {
                self.fill(0)?;
            }
        }
        Ok(())
    }

    /// Whether the next frame is a whole `DataAt`, received and not yet
    /// taken, after reading what has already arrived (without waiting).
    pub fn data_at_ready(&mut self) -> bool {
        let ready = |c: &Self| {
            let b = &c.buf.rbuf[c.rpos..c.rend];
            protocol::is_data_at(b) && matches!(protocol::frame_len(b), Ok(Some(n)) if b.len() >= n)
        };
        ready(self) || (self.receive_arrived() && ready(self))
    }

    /// Takes the `Release` frames that have already arrived, without
    /// waiting; returns how many.
    pub fn releases_arrived(&mut self) -> usize {
        let mut count = 0;
        loop {
            self.restart_if_used();
            if self.take_release() {
                count += 1;
            } else if self.rend - self.rpos >= HEADER_LEN || !self.receive_arrived() {
                return count;
            }
        }
    }

    /// Reads what has already arrived after the received bytes, without
    /// waiting (moving them to the front first when little room is left);
    /// false when nothing came.
    fn receive_arrived(&mut self) -> bool {
        self.restart_if_used();
        if self.rpos > 0 && self.buf.rbuf.len() - self.rend < READ_AHEAD {
            self.buf.rbuf.copy_within(self.rpos..self.rend, 0);
            (self.rpos, self.rend) = (0, self.rend - self.rpos);
        }
        match self.receive(self.rend, self.buf.rbuf.len(), false, libc::MSG_DONTWAIT) {
            Ok(n) if n > 0 => {
                self.rend += n;
                true
            }
            _ => false,
        }
    }

    /// Passes over a `Release` frame at the front of what is received.
    fn take_release(&mut self) -> bool {
        let found = self.buf.rbuf[self.rpos..self.rend].starts_with(&protocol::RELEASE_FRAME);
        if found {
            self.rpos += HEADER_LEN;
        }
        found
    }

    /// Once every received byte is used, starts again at the front of the
    /// buffer, with the next header if it came with the last frame.
    fn restart_if_used(&mut self) {
        if self.rpos == self.rend {
            self.buf.rbuf[..self.next_len].copy_from_slice(&self.next_head[..self.next_len]);
            (self.rpos, self.rend, self.next_len) = (0, self.next_len, 0);
        }
    }

    /// Receives more bytes of the frame at `rpos` (`frame_len` long, 0
    /// while its header is incomplete). A large frame is received where it
    /// belongs, up to its end, and only the next frame's header with it, so
    /// its bytes are never moved; otherwise a read takes what has arrived.
    fn fill(&mut self, frame_len: usize) -> Result<(), WireError> {
        let pending = self.rend - self.rpos;
        let room = frame_len.max(pending + READ_AHEAD);
        if self.rpos > 0 && self.rpos + room > self.buf.rbuf.len() {
            self.buf.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rpos = 0;
            self.rend = pending;
        }
        if self.buf.rbuf.len() < self.rpos + room {
            self.buf.rbuf.resize(self.rpos + room, 0);
        }
        let n = if frame_len >= DIRECT_PAYLOAD {
            let end = self.rpos + frame_len;
            let n = self.receive(self.rend, end, true, 0)?;
            let into_frame = n.min(end - self.rend);
            self.next_len = n - into_frame;
            into_frame
        } else {
            self.receive(self.rend, self.buf.rbuf.len(), false, 0)?
        };
        if n == 0 {
            return Err(WireError::Closed);
        }
        self.rend += n;
        Ok(())
    }

    /// One recvmsg into `rbuf[from..to]` (and, with `head`, the next
    /// frame's header into `next_head`), keeping any descriptors that came.
    fn receive(&mut self, from: usize, to: usize, head: bool, flags: i32) -> Result<usize, WireError> {
        let mut iov = [
            libc::iovec { iov_base: self.buf.rbuf[from..to].as_mut_ptr().cast(), iov_len: to - from },
            libc::iovec { iov_base: self.next_head.as_mut_ptr().cast(), iov_len: HEADER_LEN },
        ];
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as usize;
        // u64 words keep the control buffer aligned for cmsghdr.
        let mut control = [0u64; 16];
        let space = space.min(std::mem::size_of_val(&control));
        // SAFETY: msghdr is plain data pointing at buffers that outlive the
        // call; received descriptors are read through the CMSG macros
        // within `msg_controllen`, and each becomes an OwnedFd exactly once.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = iov.as_mut_ptr();
            msg.msg_iovlen = if head { 2 } else { 1 };
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let n = loop {
                let n = libc::recvmsg(self.fd(), &mut msg, libc::MSG_CMSG_CLOEXEC | flags);
                if n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    break n;
                }
            };
            if n < 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            // Descriptors cut off by a full control buffer would be lost
            // silently; a peer that sends more than a frame needs is broken.
            if msg.msg_flags & libc::MSG_CTRUNC != 0 {
                return Err(WireError::Unexpected("too many passed descriptors"));
            }
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg);
                    let count =
                        ((*cmsg).cmsg_len as usize - (data as usize - cmsg as usize)) / std::mem::size_of::<RawFd>();
                    for i in 0..count {
                        let fd = std::ptr::read_unaligned((data as *const RawFd).add(i));
                        self.fds.push_back(OwnedFd::from_raw_fd(fd));
                    }
                    if self.fds.len() > MAX_FDS {
                        return Err(WireError::Unexpected("descriptors without SendFile frames"));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            Ok(n as usize)
        }
    }
}

/// Whether the peer of a kept connection has sent something or closed it:
/// either way, it will not carry another request.
pub fn has_spoken(stream: &UnixStream) -> bool {
    let mut p = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: polls one descriptor we own, without waiting.
    unsafe { libc::poll(&mut p, 1, 0) != 0 }
}

/// Tells the Apache child that a kept connection will carry no request,
/// and closes it.
pub fn say_goodbye(stream: UnixStream) {
    let mut frame = Vec::with_capacity(HEADER_LEN);
    protocol::encode(&Frame::Goodbye, &mut frame);
    // SAFETY: a non-blocking send of our own bytes on our own socket; a
    // peer that is gone is no error here.
    unsafe {
        libc::send(stream.as_raw_fd(), frame.as_ptr().cast(), frame.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
    };
}

/// Log levels on the wire are Apache's (syslog) numbers.
pub fn level_to_wire(l: LogLevel) -> u8 {
    match l {
        LogLevel::Critical => 2,
        LogLevel::Error => 3,
        LogLevel::Warning => 4,
        LogLevel::Info => 6,
        LogLevel::Debug => 7,
    }
}

pub fn level_from_wire(n: u8) -> LogLevel {
    match n {
        0..=2 => LogLevel::Critical,
        3 => LogLevel::Error,
        4 | 5 => LogLevel::Warning,
        6 => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

/// A connection's receive (zeroed once when it grows) and send buffers,
/// handed to the thread's next connection when it ends.
struct Buffers {
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
}

impl Drop for Buffers {
    fn drop(&mut self) {
        if self.rbuf.len() < KEEP_AT_MOST {
            let mut wbuf = std::mem::take(&mut self.wbuf);
            wbuf.clear();
            if wbuf.capacity() >= KEEP_AT_MOST {
                wbuf = Vec::with_capacity(16 * 1024);
            }
            let rbuf = std::mem::take(&mut self.rbuf);
            SPARE.with(|s| *s.borrow_mut() = Some((rbuf, wbuf)));
        }
    }
}
