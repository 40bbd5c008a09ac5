//! A daemon process's side of one request: read the `Request` frame, run
//! the WSGI application, and talk back to the Apache child through
//! [`SocketIo`]. The Apache child's side is `child_side.rs`.

use super::window;
use super::wire::{Conn, Kept, WireError, level_to_wire, say_goodbye};
use crate::common::io::{IoError, Outcome, QUEUE_LIMIT, RequestIo};
use crate::common::log::{LogLevel, with_pid};
use crate::common::now_micros;
use crate::python::call::{self, WsgiCall};
use crate::python::environ::{EnvironFlags, Vars};
use crate::python::io::log_process;
use wsgi_core::protocol::{Frame, MAX_CHUNK, SECRET_LEN, secret_matches};

/// The size of the `Data` frames large writes are cut into, and the most a
/// `ReadBody` asks for: small enough that each side passes bytes on while
/// the next frame is still arriving.
pub const PIPELINE_CHUNK: usize = 256 * 1024;

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
    /// `chroot=`: scripts are named by Apache from outside the jail.
    pub chroot: Option<String>,
}

/// Where a finished request leaves its connection when the Apache child
/// may send another request on it.
type KeptSlot = std::sync::Arc<parking_lot::Mutex<Option<Kept>>>;

/// The request's I/O in a daemon process: frames to the Apache child.
struct SocketIo {
    conn: Conn,
    kept: KeptSlot,
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
    window: window::Sender,
}

impl SocketIo {
    fn new(conn: Conn, group: &GroupFacts) -> Self {
        Self {
            conn,
            kept: KeptSlot::default(),
            pending: Vec::new(),
            pending_pos: 0,
            body_done: false,
            header_limit: group.header_buffer_size,
            oversized: false,
            aborted: false,
            queued: 0,
            body_sent: 0,
            window: window::Sender::default(),
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
            let frame = match self.conn.recv_body_into(buf, &mut released) {
                Ok(Some(0)) => Ok(Frame::Body(&[])),
                Ok(Some(n)) => {
                    self.window.released(released);
                    return Ok(n);
                }
                // Not a body that fits `buf`: through the receive buffer.
                Ok(None) => self.conn.recv_counting(Some(&mut released)),
                Err(e) => Err(e),
            };
            self.window.released(released);
            match frame.map_err(gone)? {
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
            let msg = with_pid(format_args!(
                "Response headers of {size} bytes exceed the daemon process's header-buffer-size of {} bytes.",
                self.header_limit
            ));
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
            let windowed = self.window.takes(rest.len(), self.body_sent);
            let (chunk, tail) = rest.split_at(rest.len().min(if windowed { window::SLOT } else { PIPELINE_CHUNK }));
            if windowed {
                self.window.send(&mut self.conn, chunk).map_err(gone)?;
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
        len > 0 && self.window.takes(len, self.body_sent) && self.window.has_room(&mut self.conn, len)
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
            Outcome::Restart => {
                // Before the child hears Retry: the request it sends again
                // must not be taken by another thread of this process.
                super::process::retire_for_changed_script();
                self.conn.send(&Frame::Retry)
            }
        }
        let flushed = self.conn.flush().is_ok();
        let settled = self.window.finish(&mut self.conn);
        // After Retry the process is going: the connection is not kept.
        if outcome == Outcome::Restart || !flushed {
            return;
        }
        match self.conn.keep() {
            Some(kept) if settled => *self.kept.lock() = Some(kept),
            // The child may have kept it after End or Fail: it must not
            // send its next request into a silent close.
            Some(kept) => say_goodbye(&kept.stream),
            None => {}
        }
    }
}

/// Serves one request from an Apache child; gives back the connection if
/// it may carry the child's next request.
pub fn serve(mut conn: Conn, group: &GroupFacts) -> Option<Kept> {
    let mut vars: Vars = match conn.recv() {
        Ok(Frame::Request { secret, vars }) if secret_matches(&secret, &group.secret) => vars.into_iter().collect(),
        Ok(Frame::Request { .. }) => {
            log_process(
                LogLevel::Error,
                &with_pid(format_args!(
                    "Daemon process '{}' refused a request with a wrong secret; is a stale or foreign client connecting to its socket?",
                    group.name
                )),
            );
            return None;
        }
        Ok(_) | Err(WireError::Protocol(_)) => {
            log_process(
                LogLevel::Error,
                &with_pid(format_args!(
                    "Daemon process '{}' received a malformed request and closed the connection.",
                    group.name
                )),
            );
            return None;
        }
        Err(_) => return None,
    };
    let queued = call::micros(vars.get(b"mod_wsgi.queue_start"));
    super::metrics::picked_up(queued);
    if let Some(waited) = queued_for(queued)
        && !group.queue_timeout.is_zero()
        && waited > group.queue_timeout
    {
        let mut io = SocketIo::new(conn, group);
        io.log(
            LogLevel::Error,
            &with_pid(format_args!(
                "Queue timeout expired for WSGI daemon process '{}' (waited {} ms).",
                group.name,
                waited.as_millis()
            )),
        );
        io.finish(Outcome::Failed(504));
        return io.kept.lock().take();
    }
    if let Some(root) = &group.chroot
        && let Err(msg) = script_inside_jail(&mut vars, root)
    {
        let mut io = SocketIo::new(conn, group);
        io.log(LogLevel::Error, &with_pid(msg));
        io.finish(Outcome::Failed(500));
        return io.kept.lock().take();
    }
    if vars.get(b"mod_wsgi.ignore_activity") == Some(b"1".as_slice()) {
        super::monitor::ignore_this_request();
    }
    if super::process::script_changed() {
        let mut io = SocketIo::new(conn, group);
        io.finish(Outcome::Restart);
        return None;
    }
    let https = vars.get(b"HTTPS").is_some_and(wsgi_core::vars::is_https);
    let flags = EnvironFlags { https, multithread: group.multithread, multiprocess: group.multiprocess };
    let daemon_start = now_micros();
    vars.push(b"mod_wsgi.daemon_start", daemon_start.to_string().as_bytes());
    let mut call = WsgiCall::from_vars(vars, flags, None, group.case_sensitive);
    call.restart_on_change = true;
    (call.times[1], call.times[2]) = (queued, daemon_start);
    let io = SocketIo::new(conn, group);
    let kept = io.kept.clone();
    match call::run(call, Box::new(io)) {
        Outcome::Restart => {}
        outcome => {
            if outcome == Outcome::Sent {
                super::monitor::application_loaded();
            }
            super::process::request_done(group.maximum_requests)
        }
    }
    kept.lock().take()
}

/// Names the script as the jailed process sees it; its path must lie in
/// the jail, as mod_wsgi requires.
fn script_inside_jail(vars: &mut Vars, root: &str) -> Result<(), String> {
    let path = vars.get(b"SCRIPT_FILENAME").map(wsgi_core::text::lossy).unwrap_or_default();
    let inside = wsgi_core::paths::inside_jail(&path, root)
        .ok_or_else(|| format!("WSGI script '{path}' not located within chroot directory '{root}'."))?
        .to_string();
    vars.set(b"SCRIPT_FILENAME", inside.as_bytes());
    Ok(())
}

/// How long the request waited since the Apache child queued it at
/// `start` (`mod_wsgi.queue_start`, microseconds since the epoch; 0: unknown).
fn queued_for(start: i64) -> Option<std::time::Duration> {
    (start > 0).then(|| std::time::Duration::from_micros(now_micros().saturating_sub(start).max(0) as u64))
}
