//! Daemon side of one request: read the `Request` frame, run the WSGI
//! application, and talk back to the Apache child through [`SocketIo`].

use super::window::{self, Ring};
use super::wire::{Conn, WireError, level_to_wire};
use crate::python::call::{self, Outcome, WsgiCall};
use crate::python::environ::{self, EnvironFlags, Vars};
use crate::python::io::{IoError, LogLevel, QUEUE_LIMIT, RequestIo, log_process};
use std::os::unix::net::UnixStream;
use wsgi_core::protocol::{Frame, MAX_CHUNK, SECRET_LEN, secret_matches};

/// The size of the `Data` frames large writes are cut into, and the most a
/// `ReadBody` asks for: small enough that each side passes bytes on while
/// the next frame is still arriving.
const PIPELINE_CHUNK: usize = 256 * 1024;

/// A response that has sent this much sends its further large writes
/// through the shared window: mapping it costs more than a small body.
const WINDOW_AFTER: u64 = 128 * 1024;
/// Writes smaller than this go in `Data` frames even then.
const WINDOW_MIN: usize = 16 * 1024;

thread_local! {
    /// This thread's window, kept between requests once every slot of it
    /// has been released.
    static SPARE_RING: std::cell::RefCell<Option<Ring>> = const { std::cell::RefCell::new(None) };
}

/// A request's use of a shared window (see `window.rs`).
#[derive(Default)]
struct WindowUse {
    ring: Option<Ring>,
    /// The ring could not be made; `Data` frames only.
    unavailable: bool,
    /// The child has the descriptor.
    announced: bool,
    next_slot: usize,
    /// Slots the child has not released yet.
    in_flight: usize,
}

/// What a daemon process knows about its group, for every request.
pub struct GroupFacts {
    pub name: String,
    pub secret: [u8; SECRET_LEN],
    pub multiprocess: bool,
    pub multithread: bool,
    pub maximum_requests: u32,
    /// `queue-timeout`: answer 504 to a request that waited longer.
    pub queue_timeout: std::time::Duration,
    /// `header-buffer-size`: the most bytes of response headers.
    pub header_buffer_size: usize,
    /// `WSGICaseSensitivity`, which names script modules.
    pub case_sensitive: bool,
    /// `socket-timeout`: the longest wait for the Apache child.
    pub socket_timeout: std::time::Duration,
}

/// The request's I/O in a daemon process: frames to the Apache child.
struct SocketIo {
    conn: Conn,
    /// Body bytes received beyond what the application asked for.
    pending: Vec<u8>,
    pending_pos: usize,
    body_done: bool,
    header_limit: usize,
    /// The headers were refused for their size: the response is a 500.
    oversized: bool,
    /// The response was cut short after it started.
    aborted: bool,
    /// Body bytes in `Data` frames not yet flushed (see `queue`).
    queued: usize,
    /// Body bytes sent so far.
    body_sent: u64,
    window: WindowUse,
}

impl SocketIo {
    fn new(conn: Conn, group: &GroupFacts) -> Self {
        Self {
            conn,
            pending: Vec::new(),
            pending_pos: 0,
            body_done: false,
            header_limit: group.header_buffer_size,
            oversized: false,
            aborted: false,
            queued: 0,
            body_sent: 0,
            window: WindowUse::default(),
        }
    }

    /// The ring for this request's next large write, if it should use one.
    fn ring_for(&mut self, len: usize) -> Option<&mut Ring> {
        let w = &mut self.window;
        if len < WINDOW_MIN || self.body_sent < WINDOW_AFTER || w.unavailable {
            return None;
        }
        if w.ring.is_none() {
            w.ring = SPARE_RING.with(|r| r.borrow_mut().take()).or_else(|| Ring::create().ok());
            w.unavailable = w.ring.is_none();
        }
        w.ring.as_mut()
    }

    /// Sends `chunk` (at most a slot) through the window: waits for the
    /// oldest slot when all are in flight, copies, and says where it is.
    fn send_in_window(&mut self, chunk: &[u8]) -> Result<(), WireError> {
        let w = &mut self.window;
        let Some(ring) = w.ring.as_mut() else { return Err(WireError::Unexpected("window")) };
        if !w.announced {
            self.conn.send_with_fd(&Frame::Window { size: window::SIZE as u32 }, ring.fd())?;
            w.announced = true;
        }
        if w.in_flight == window::SLOTS {
            self.conn.await_releases(1)?;
            w.in_flight -= 1;
        }
        ring.write(w.next_slot, chunk);
        let offset = (w.next_slot * window::SLOT) as u32;
        self.conn.send_now(&Frame::DataAt { offset, len: chunk.len() as u32 })?;
        w.next_slot = (w.next_slot + 1) % window::SLOTS;
        w.in_flight += 1;
        Ok(())
    }
}

impl Drop for SocketIo {
    fn drop(&mut self) {
        // A ring is reused only when the child can no longer be reading it.
        if self.window.in_flight == 0
            && let Some(ring) = self.window.ring.take()
        {
            SPARE_RING.with(|r| *r.borrow_mut() = Some(ring));
        }
    }
}

fn gone(e: WireError) -> IoError {
    match e {
        WireError::Closed => IoError::ClientGone,
        other => IoError::Write(other.to_string()),
    }
}

impl RequestIo for SocketIo {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        if self.pending_pos == self.pending.len() && !self.body_done {
            let want = buf.len().clamp(64 * 1024, PIPELINE_CHUNK.min(MAX_CHUNK)) as u32;
            self.conn.send(&Frame::ReadBody(want));
            self.conn.flush().map_err(gone)?;
            let mut released = 0;
            let frame = self.conn.recv_counting(Some(&mut released)).map_err(gone)?;
            self.window.in_flight -= released.min(self.window.in_flight);
            match frame {
                Frame::Body([]) => self.body_done = true,
                Frame::Body(data) => {
                    // Straight into the caller's buffer; only what does not
                    // fit is kept.
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    self.pending.clear();
                    self.pending.extend_from_slice(&data[n..]);
                    self.pending_pos = 0;
                    return Ok(n);
                }
                Frame::ReadError(reason) => {
                    self.body_done = true;
                    return Err(IoError::Read(reason.to_string()));
                }
                _ => return Err(IoError::Read(WireError::Unexpected("non-body").to_string())),
            }
        }
        let avail = &self.pending[self.pending_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pending_pos += n;
        Ok(n)
    }

    fn send_headers(&mut self, status: &str, headers: &[(String, String)]) -> Result<(), IoError> {
        let size: usize = status.len() + headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>();
        if size > self.header_limit {
            self.oversized = true;
            let msg = format!(
                "mod_wsgi (pid={}): Response headers of {size} bytes exceed the daemon process's header-buffer-size of {} bytes.",
                std::process::id(),
                self.header_limit
            );
            self.log(LogLevel::Error, &msg);
            return Err(IoError::Write(msg));
        }
        let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.conn.send(&Frame::Headers { status, headers });
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), IoError> {
        self.queued = 0;
        let mut rest = data;
        while !rest.is_empty() {
            let windowed = self.ring_for(rest.len()).is_some();
            let (chunk, tail) = rest.split_at(rest.len().min(if windowed { window::SLOT } else { PIPELINE_CHUNK }));
            if windowed {
                self.send_in_window(chunk).map_err(gone)?;
            } else {
                self.conn.send_now(&Frame::Data(chunk)).map_err(gone)?;
            }
            self.body_sent += chunk.len() as u64;
            rest = tail;
        }
        Ok(())
    }

    fn queue(&mut self, data: &[u8]) -> Result<bool, IoError> {
        if self.queued + data.len() > QUEUE_LIMIT {
            return Ok(false);
        }
        if data.is_empty() {
            return Ok(true);
        }
        // Goes out with the next flush: the next write, log line or `End`.
        self.conn.send(&Frame::Data(data));
        self.queued += data.len();
        self.body_sent += data.len() as u64;
        Ok(true)
    }

    fn writes_without_waiting(&mut self, len: usize) -> bool {
        if len == 0 || self.ring_for(len).is_none() {
            return false;
        }
        let slots = len.div_ceil(window::SLOT);
        if self.window.in_flight + slots > window::SLOTS {
            let released = self.conn.releases_arrived();
            self.window.in_flight -= released.min(self.window.in_flight);
        }
        self.window.in_flight + slots <= window::SLOTS
    }

    fn send_file(&mut self, fd: i32, offset: u64, len: u64) -> Result<bool, IoError> {
        // The Apache child gets its own descriptor and sends the file; no
        // byte of it crosses this socket.
        self.conn.send_with_fd(&Frame::SendFile { offset, len }, fd).map_err(gone)?;
        Ok(true)
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.conn.send(&Frame::Log { level: level_to_wire(level), message });
        if self.conn.flush().is_err() {
            log_process(level, message);
        }
    }

    fn abort(&mut self) {
        self.aborted = true;
    }

    fn finish(&mut self, outcome: Outcome) {
        // `Fail` after `Headers` tells the Apache child the response was
        // cut short, so it ends it visibly incomplete.
        let outcome = if self.oversized || self.aborted { Outcome::Failed(500) } else { outcome };
        match outcome {
            Outcome::Sent => self.conn.send(&Frame::End),
            Outcome::Failed(code) => self.conn.send(&Frame::Fail(code)),
            Outcome::Restart => self.conn.send(&Frame::Retry),
        }
        let _ = self.conn.flush();
        // The ring may serve the next request once the child has sent on
        // what is in it (or gone away, which drops the ring).
        if self.window.in_flight > 0 && self.conn.await_releases(self.window.in_flight).is_ok() {
            self.window.in_flight = 0;
        }
    }
}

/// Serves one connection from an Apache child.
pub fn serve(stream: UnixStream, group: &GroupFacts) {
    let mut conn = Conn::new(stream);
    let mut vars: Vars = match conn.recv() {
        Ok(Frame::Request { secret, vars }) if secret_matches(&secret, &group.secret) => vars.into_iter().collect(),
        Ok(Frame::Request { .. }) => {
            log_process(
                LogLevel::Error,
                &format!(
                    "mod_wsgi (pid={}): Daemon process '{}' refused a request with a wrong secret; is a stale or foreign client connecting to its socket?",
                    std::process::id(),
                    group.name
                ),
            );
            return;
        }
        Ok(_) | Err(WireError::Protocol(_)) => {
            log_process(
                LogLevel::Error,
                &format!(
                    "mod_wsgi (pid={}): Daemon process '{}' received a malformed request and closed the connection.",
                    std::process::id(),
                    group.name
                ),
            );
            return;
        }
        Err(_) => return,
    };
    if let Some(waited) = queued_for(&vars)
        && !group.queue_timeout.is_zero()
        && waited > group.queue_timeout
    {
        let mut io = SocketIo::new(conn, group);
        io.log(
            LogLevel::Error,
            &format!(
                "mod_wsgi (pid={}): Queue timeout expired for WSGI daemon process '{}' (waited {} ms).",
                std::process::id(),
                group.name,
                waited.as_millis()
            ),
        );
        io.finish(Outcome::Failed(504));
        return;
    }
    let https = vars.get(b"HTTPS").is_some_and(environ::is_https);
    let flags = EnvironFlags { https, multithread: group.multithread, multiprocess: group.multiprocess };
    vars.push(b"mod_wsgi.daemon_start", environ::now_micros().to_string().as_bytes());
    let mut call = WsgiCall::from_vars(vars, flags, None, group.case_sensitive);
    call.restart_on_change = true;
    let io = SocketIo::new(conn, group);
    match call::run(call, Box::new(io)) {
        Outcome::Restart => super::process::retire("script file changed"),
        outcome => {
            if outcome == Outcome::Sent {
                super::monitor::application_loaded();
            }
            super::process::request_done(group.maximum_requests)
        }
    }
}

/// How long the request waited since the Apache child queued it
/// (`mod_wsgi.queue_start`, microseconds since the epoch).
fn queued_for(vars: &Vars) -> Option<std::time::Duration> {
    let v = vars.get(b"mod_wsgi.queue_start")?;
    let start: i64 = std::str::from_utf8(v).ok()?.parse().ok()?;
    Some(std::time::Duration::from_micros(environ::now_micros().saturating_sub(start).max(0) as u64))
}
