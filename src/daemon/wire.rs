//! One protocol connection: buffered frames over a UNIX stream socket.

use crate::common::log::LogLevel;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, UnixAddr, recvmsg, send, sendmsg};
use std::io::{IoSlice, IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use wsgi_core::protocol::{self, Frame, HEADER_LEN, ProtocolError};
use wsgi_core::response_flush::Arrived;
use wsgi_core::spares::Spares;

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
    /// Payload bytes still to come of a `Data` frame handed out in parts
    /// (see `recv_counting`).
    data_left: usize,
    /// Descriptors received with the bytes (SCM_RIGHTS), in order; each
    /// belongs to the next `SendFile` frame.
    fds: std::collections::VecDeque<OwnedFd>,
}

/// Room for this many descriptors in one received message.
const MAX_FDS: usize = 8;

/// The control buffer of a receive: room for `MAX_FDS` descriptors,
/// aligned for the `cmsghdr` the kernel writes at its start.
#[repr(C, align(8))]
struct ControlBuffer([u8; CONTROL_SPACE]);
const CONTROL_SPACE: usize = nix::sys::socket::cmsg_space::<[RawFd; MAX_FDS]>();

/// `Data` and `Body` payloads of this size or more are written from where
/// they are rather than copied into the send buffer.
const DIRECT_PAYLOAD: usize = 16 * 1024;

/// A buffer that holds this much or more is not kept for the thread's
/// next connection (it grew for a frame larger than the peer's own). Its
/// capacity counts, not its length: a grown Vec holds up to twice what
/// it was asked for.
const KEEP_AT_MOST: usize = 320 * 1024;

/// How much a read asks for when the next frame's size is not known yet.
const READ_AHEAD: usize = 64 * 1024;

/// The buffers of ended connections, for the process's next ones. A
/// connection per request would otherwise zero a fresh 64 KiB each time,
/// which costs more than relaying a small response; shared by the
/// threads, they are as many as connections were open at once.
static SPARE: Spares<(Vec<u8>, Vec<u8>), 64> = Spares::new();

impl Conn {
    pub fn new(stream: UnixStream) -> Self {
        let (rbuf, wbuf) = SPARE.take().unwrap_or_else(|| (vec![0; 64 * 1024], Vec::with_capacity(16 * 1024)));
        Self {
            stream: Some(stream),
            buf: Buffers { rbuf, wbuf },
            rpos: 0,
            rend: 0,
            next_head: [0; HEADER_LEN],
            next_len: 0,
            data_left: 0,
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
            let iov = [IoSlice::new(&self.buf.wbuf[head..]), IoSlice::new(&payload[body..])];
            // MSG_NOSIGNAL: a closed peer is an error here, not a SIGPIPE.
            let n = match sendmsg::<UnixAddr>(self.fd(), &iov, &[], MsgFlags::MSG_NOSIGNAL, None) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(std::io::Error::from(e).into()),
            };
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
        let fds = [fd];
        let sent = sendmsg::<UnixAddr>(
            self.fd(),
            &[IoSlice::new(&bytes)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(std::io::Error::from)?;
        // The descriptor went with the first byte; the rest is plain data.
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
        if !self.buf.wbuf.is_empty() || !self.fds.is_empty() || self.data_left > 0 {
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

    /// Receives the next frame, reading from the socket as needed. A
    /// `Data` frame larger than the receive buffer comes as several `Data`
    /// frames, its payload in the parts that arrive: the buffer does not
    /// grow for a response body, and each part is passed on as it comes.
    pub fn recv(&mut self) -> Result<Frame<'_>, WireError> {
        self.recv_counting(None)
    }

    /// As `recv`, and what has already been received after that frame.
    pub fn recv_with_next(&mut self) -> Result<(Frame<'_>, Arrived), WireError> {
        self.receive_frame(None)
    }

    /// As `recv`, but `Release` frames are counted into `released` and
    /// passed over.
    pub fn recv_counting(&mut self, released: Option<&mut usize>) -> Result<Frame<'_>, WireError> {
        self.receive_frame(released).map(|(frame, _)| frame)
    }

    /// What has been received and not yet handed out, found without
    /// reading the socket.
    pub fn arrived(&self) -> Arrived {
        let received = &self.buf.rbuf[self.rpos..self.rend];
        if self.data_left > 0 {
            // The rest of a large `Data` frame, if any of it is here.
            return if received.is_empty() { Arrived::Nothing } else { Arrived::Body };
        }
        let next = if received.is_empty() { &self.next_head[..self.next_len] } else { received };
        if next.is_empty() {
            Arrived::Nothing
        } else if protocol::is_data(next) || protocol::is_data_at(next) {
            Arrived::Body
        } else if protocol::is_end(next) {
            Arrived::End
        } else {
            Arrived::Other
        }
    }

    /// Waits up to `limit` for the peer to send something (or close);
    /// false if it sent nothing in that time.
    pub fn wait_for_more(&self, limit: std::time::Duration) -> Result<bool, WireError> {
        let stream = self.stream()?;
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // Rounded up: a delay below a millisecond still waits.
            let timeout = PollTimeout::try_from(left.as_micros().div_ceil(1000)).unwrap_or(PollTimeout::MAX);
            match poll(&mut [PollFd::new(stream.as_fd(), PollFlags::POLLIN)], timeout) {
                Ok(n) => return Ok(n > 0),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
    }

    fn receive_frame(&mut self, mut released: Option<&mut usize>) -> Result<(Frame<'_>, Arrived), WireError> {
        loop {
            if self.data_left > 0 {
                return self.data_part();
            }
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
                && total > self.buf.rbuf.len()
                && avail.len() < total
                && protocol::is_data(avail)
            {
                self.rpos += HEADER_LEN;
                self.data_left = total - HEADER_LEN;
                return self.data_part();
            }
            if let Some(total) = need
                && avail.len() >= total
            {
                let start = self.rpos;
                self.rpos += total;
                let next = self.arrived();
                let (frame, _) = protocol::decode(&self.buf.rbuf[start..start + total])?.ok_or(WireError::Closed)?;
                return Ok((frame, next));
            }
            self.fill(need.unwrap_or(0))?;
        }
    }

    /// The next part of the `Data` frame being handed out in parts: what
    /// has arrived of it, after one read if nothing has.
    fn data_part(&mut self) -> Result<(Frame<'_>, Arrived), WireError> {
        if self.rpos == self.rend {
            // Every received byte is used: read into the whole buffer.
            (self.rpos, self.rend) = (0, 0);
            let n = self.receive(0, self.buf.rbuf.len(), false, MsgFlags::empty())?;
            if n == 0 {
                return Err(WireError::Closed);
            }
            self.rend = n;
        }
        let start = self.rpos;
        let n = self.data_left.min(self.rend - start);
        self.rpos += n;
        self.data_left -= n;
        let next = self.arrived();
        Ok((Frame::Data(&self.buf.rbuf[start..start + n]), next))
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
        if self.buf.rbuf.len() - self.rend < READ_AHEAD {
            self.move_to_front();
        }
        match self.receive(self.rend, self.buf.rbuf.len(), false, MsgFlags::MSG_DONTWAIT) {
            Ok(n) if n > 0 => {
                self.rend += n;
                true
            }
            _ => false,
        }
    }

    /// Receives the next frame's payload straight into `dest` if it is a
    /// `Body` that fits there, so that the kernel's copy is the only one
    /// (through the receive buffer, a large body would also be copied out
    /// of it, and the buffer grown and zeroed for it). `Release` frames
    /// before it are counted into `released`. `Ok(None)`: the next frame
    /// is another, or larger than `dest`, and is left for `recv_counting`.
    pub fn recv_body_into(&mut self, dest: &mut [u8], released: &mut usize) -> Result<Option<usize>, WireError> {
        if self.data_left > 0 {
            return Ok(None);
        }
        loop {
            self.restart_if_used();
            if self.take_release() {
                *released += 1;
                continue;
            }
            let have = self.rend - self.rpos;
            if have >= HEADER_LEN {
                break;
            }
            // Only the header's missing bytes: the payload goes to `dest`.
            if self.rpos + HEADER_LEN > self.buf.rbuf.len() {
                self.move_to_front();
            }
            let n = self.receive(self.rend, self.rpos + HEADER_LEN, false, MsgFlags::empty())?;
            if n == 0 {
                return Err(WireError::Closed);
            }
            self.rend += n;
        }
        let head = &self.buf.rbuf[self.rpos..self.rend];
        let len = protocol::frame_len(head)?.unwrap_or(HEADER_LEN) - HEADER_LEN;
        if !protocol::is_body(head) || len > dest.len() {
            return Ok(None);
        }
        self.rpos += HEADER_LEN;
        let here = len.min(self.rend - self.rpos);
        dest[..here].copy_from_slice(&self.buf.rbuf[self.rpos..self.rpos + here]);
        self.rpos += here;
        let fd = self.fd();
        let mut got = here;
        while got < len {
            let n = recv_into(fd, &mut [IoSliceMut::new(&mut dest[got..len])], MsgFlags::empty(), &mut self.fds)?;
            if n == 0 {
                return Err(WireError::Closed);
            }
            got += n;
        }
        Ok(Some(len))
    }

    /// Moves the received bytes not yet used to the front of the buffer,
    /// to make room after them.
    fn move_to_front(&mut self) {
        if self.rpos > 0 {
            self.buf.rbuf.copy_within(self.rpos..self.rend, 0);
            (self.rpos, self.rend) = (0, self.rend - self.rpos);
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
        if self.rpos + room > self.buf.rbuf.len() {
            self.move_to_front();
        }
        if self.buf.rbuf.len() < self.rpos + room {
            self.buf.rbuf.resize(self.rpos + room, 0);
        }
        let n = if frame_len >= DIRECT_PAYLOAD {
            let end = self.rpos + frame_len;
            let n = self.receive(self.rend, end, true, MsgFlags::empty())?;
            let into_frame = n.min(end - self.rend);
            self.next_len = n - into_frame;
            into_frame
        } else {
            self.receive(self.rend, self.buf.rbuf.len(), false, MsgFlags::empty())?
        };
        if n == 0 {
            return Err(WireError::Closed);
        }
        self.rend += n;
        Ok(())
    }

    /// One recvmsg into `rbuf[from..to]` (and, with `head`, the next
    /// frame's header into `next_head`), keeping any descriptors that came.
    fn receive(&mut self, from: usize, to: usize, head: bool, flags: MsgFlags) -> Result<usize, WireError> {
        let fd = self.fd();
        let mut iov =
            [IoSliceMut::new(&mut self.buf.rbuf[from..to]), IoSliceMut::new(&mut self.next_head[..HEADER_LEN])];
        let iov = if head { &mut iov[..] } else { &mut iov[..1] };
        recv_into(fd, iov, flags, &mut self.fds)
    }
}

/// One recvmsg on `fd` into `iov`, keeping any descriptors that came in
/// `fds`.
fn recv_into(
    fd: RawFd,
    iov: &mut [IoSliceMut<'_>],
    flags: MsgFlags,
    fds: &mut std::collections::VecDeque<OwnedFd>,
) -> Result<usize, WireError> {
    let mut control = ControlBuffer([0; CONTROL_SPACE]);
    let msg = loop {
        match recvmsg::<()>(fd, iov, Some(&mut control.0), MsgFlags::MSG_CMSG_CLOEXEC | flags) {
            Err(Errno::EINTR) => continue,
            result => break result.map_err(std::io::Error::from)?,
        }
    };
    // Descriptors cut off by a full control buffer would be lost
    // silently; a peer that sends more than a frame needs is broken.
    let cmsgs = msg.cmsgs().map_err(|_| WireError::Unexpected("too many passed descriptors"))?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            for fd in received {
                // SAFETY: a descriptor the kernel just installed in this
                // process for us; it becomes an OwnedFd exactly once.
                fds.push_back(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            if fds.len() > MAX_FDS {
                return Err(WireError::Unexpected("descriptors without SendFile frames"));
            }
        }
    }
    Ok(msg.bytes)
}

/// Whether the peer of a kept connection has sent something or closed it:
/// either way, it will not carry another request.
pub fn has_spoken(stream: &UnixStream) -> bool {
    // A failed poll, like an event, means the connection is not reused.
    !matches!(poll(&mut [PollFd::new(stream.as_fd(), PollFlags::POLLIN)], PollTimeout::ZERO), Ok(0))
}

/// Tells the Apache child that a kept connection will carry no request,
/// and closes it.
pub fn say_goodbye(stream: &UnixStream) {
    let mut frame = Vec::with_capacity(HEADER_LEN);
    protocol::encode(&Frame::Goodbye, &mut frame);
    // Non-blocking. It fails only when the peer is gone or has stopped
    // reading, and then the close that follows tells it as much.
    let _ = send(stream.as_raw_fd(), &frame, MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT);
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
/// kept for a later connection when it ends.
struct Buffers {
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
}

impl Drop for Buffers {
    fn drop(&mut self) {
        if self.rbuf.capacity() < KEEP_AT_MOST {
            let mut wbuf = std::mem::take(&mut self.wbuf);
            wbuf.clear();
            if wbuf.capacity() >= KEEP_AT_MOST {
                wbuf = Vec::with_capacity(16 * 1024);
            }
            SPARE.give_back((std::mem::take(&mut self.rbuf), wbuf));
        }
    }
}
