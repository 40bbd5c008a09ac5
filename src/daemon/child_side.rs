//! An Apache child's side of one request in daemon mode: hand the request
//! to a daemon process over its socket and relay what comes back,
//! streaming both ways. The daemon process's side is `daemon_side.rs`.

use super::body_buffer::BodyBuffer;
use super::status::{Status, Unavailable};
use super::window::View;
use super::wire::{Conn, WireError, has_spoken, level_from_wire};
use crate::apache::client_timeout::ClientTimeout;
use crate::apache::log;
use crate::apache::request::Request;
use crate::apache::request_io::ApacheIo;
use crate::common::io::{IoError, RequestIo};
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};
use wsgi_core::headers::Diversion;
use wsgi_core::protocol::{Frame, SECRET_LEN};
use wsgi_core::response_flush::{self, Arrived, Flush};

/// Where a group's daemons listen, and how long to keep trying.
pub struct Target<'a> {
    pub group: &'a str,
    pub socket: &'a Path,
    pub secret: &'a [u8; SECRET_LEN],
    pub connect_timeout: Duration,
    pub socket_timeout: Option<Duration>,
    /// The client socket's timeout while the response is relayed
    /// (`DaemonProcess::response_timeout`); `None` keeps Apache's.
    pub response_timeout: Option<Duration>,
    /// The group's `request-timeout` (zero: none), to explain a cut-off request.
    pub request_timeout: Duration,
    /// The group's `response-flush-delay` (see `wsgi_core::response_flush`).
    pub flush_delay: Duration,
    pub status: &'a Status,
    /// `WSGIErrorOverride On` for this request.
    pub error_override: bool,
}

/// While the group's processes keep failing to start, waits for one to be
/// ready, unless the next attempt comes after connect-timeout.
fn wait_for_start(t: &Target<'_>) -> Result<(), Unavailable> {
    let deadline = Instant::now() + t.connect_timeout;
    loop {
        let Some(u) = t.status.unavailable() else { return Ok(()) };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || u.retry_in >= left {
            return Err(u);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Connects, retrying while the daemon's backlog is full or it restarts.
fn connect(t: &Target<'_>) -> std::io::Result<UnixStream> {
    let deadline = Instant::now() + t.connect_timeout;
    let mut delay = Duration::from_millis(5);
    loop {
        match UnixStream::connect(t.socket) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() < deadline && e.kind() != std::io::ErrorKind::PermissionDenied => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
}

thread_local! {
    /// This thread's connection kept from its last request to each group's
    /// socket (the entry stays, empty, while a request uses it).
    static KEPT: std::cell::RefCell<Vec<(std::path::PathBuf, Option<UnixStream>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The connection kept for `socket`, if its daemon has not closed it or
/// said `Goodbye` since.
fn take_kept(socket: &Path) -> Option<UnixStream> {
    let stream = KEPT.with(|k| k.borrow_mut().iter_mut().find(|(p, _)| p == socket)?.1.take())?;
    (!has_spoken(&stream)).then_some(stream)
}

fn keep(socket: &Path, stream: UnixStream) {
    KEPT.with(|k| {
        let mut k = k.borrow_mut();
        match k.iter_mut().find(|(p, _)| p == socket) {
            Some((_, slot)) => *slot = Some(stream),
            None => k.push((socket.to_path_buf(), Some(stream))),
        }
    });
}

/// Runs the request in the daemon; returns the handler's status.
pub fn run(req: Request, target: &Target<'_>, vars: &crate::python::environ::Vars) -> i32 {
    let refuse = |status: u32, msg: String| {
        log::request(LogLevel::Error, req, &with_pid(msg));
        status as i32
    };
    let queued_us = crate::common::now_micros();
    let queued = queued_us.to_string();
    let _waiting = super::metrics::Waiting::enter(&target.status.metrics, queued_us.max(0) as u64);
    let base: Vec<(&[u8], &[u8])> =
        vars.iter().chain([(b"mod_wsgi.queue_start".as_slice(), queued.as_bytes())]).collect();
    if let Err(u) = wait_for_start(target) {
        let reason = if u.reason.is_empty() { "see the daemon's earlier log lines".to_string() } else { u.reason };
        return refuse(
            ffi::HTTP_SERVICE_UNAVAILABLE,
            format!(
                "Daemon process group '{}' has no process to take the request: its processes exit during start-up ({} failures in a row; next attempt in {}s). Last failure: {reason}",
                target.group,
                u.failures,
                u.retry_in.as_secs()
            ),
        );
    }
    let mut io = ApacheIo::new(req);
    // A process being replaced answers Retry without running the request;
    // its successor takes it from the listen queue.
    let deadline = Instant::now() + target.connect_timeout;
    let mut attempts = 0u32;
    let mut kept = take_kept(target.socket);
    loop {
        let reused = kept.is_some();
        attempts += 1;
        // As mod_wsgi reports them: connection attempts, and restarts met.
        let connects = attempts.to_string();
        let restarts = (attempts - 1).to_string();
        let mut vars = base.clone();
        vars.push((b"mod_wsgi.daemon_connects", connects.as_bytes()));
        vars.push((b"mod_wsgi.daemon_restarts", restarts.as_bytes()));
        let stream = match kept.take().map_or_else(|| connect(target), Ok) {
            Ok(s) => s,
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    "; the Apache child user cannot reach the socket: check socket-user= of WSGIDaemonProcess, or set WSGISocketPrefix to a directory it can access"
                } else {
                    ""
                };
                return refuse(
                    ffi::HTTP_SERVICE_UNAVAILABLE,
                    format!(
                        "Unable to connect to WSGI daemon process '{}' on '{}': {e}{hint}.",
                        target.group,
                        target.socket.display()
                    ),
                );
            }
        };
        if !reused {
            let _ = stream.set_read_timeout(target.socket_timeout);
            let _ = stream.set_write_timeout(target.socket_timeout);
        }
        let mut conn = Conn::new(stream);
        conn.send(&Frame::Request { secret: *target.secret, vars });
        let mut started = false;
        let mut body = None;
        let sent_at = Instant::now();
        let result = relay(&mut conn, &mut io, &mut started, &mut body, target);
        // Once the response has started, its status is already sent.
        let unless_started = |code: u32| if started { ffi::OK } else { code };
        match result {
            Ok(status) => {
                // The daemon sends nothing after the last frame but Goodbye.
                if let Some(kept) = conn.keep()
                    && !kept.has_early_bytes()
                {
                    keep(target.socket, kept.stream);
                }
                return status;
            }
            // The daemon closed the kept connection without reading this;
            // that connection does not count as an attempt.
            Err(Relay::Goodbye) if reused => {
                attempts -= 1;
                continue;
            }
            Err(Relay::Goodbye) => {
                return refuse(
                    ffi::HTTP_BAD_GATEWAY,
                    format!("Daemon process '{}' closed a new connection before taking the request.", target.group),
                );
            }
            Err(Relay::Retry) if Instant::now() < deadline => continue,
            Err(Relay::Retry) => {
                return refuse(
                    ffi::HTTP_SERVICE_UNAVAILABLE,
                    format!(
                        "Daemon process '{}' kept restarting; no process took the request within connect-timeout.",
                        target.group
                    ),
                );
            }
            Err(Relay::Client(_)) if io.timed_out() => {
                let waited = target.response_timeout.map_or("Apache's Timeout".to_string(), |t| {
                    format!("{} seconds (response-socket-timeout)", t.as_secs())
                });
                return refuse(
                    ffi::OK,
                    format!(
                        "Unable to proxy response from daemon process '{}' to client (write timeout): the client read nothing for {waited}.",
                        target.group
                    ),
                );
            }
            Err(Relay::Client(e)) => {
                log::request(
                    LogLevel::Info,
                    req,
                    &with_pid(format_args!(
                        "Client went away during a request to daemon process '{}': {e}.",
                        target.group
                    )),
                );
                return ffi::OK as i32;
            }
            Err(Relay::Daemon(WireError::Closed))
                if !target.request_timeout.is_zero() && sent_at.elapsed() >= target.request_timeout =>
            {
                return refuse(
                    unless_started(ffi::HTTP_GATEWAY_TIME_OUT),
                    format!(
                        "Daemon process '{}' stopped this request after its request-timeout of {} seconds.",
                        target.group,
                        target.request_timeout.as_secs()
                    ),
                );
            }
            Err(Relay::Io(e)) if is_timeout(&e) => {
                return refuse(
                    unless_started(ffi::HTTP_GATEWAY_TIME_OUT),
                    format!(
                        "Timeout when reading response from daemon process '{}' (socket-timeout {} seconds).",
                        target.group,
                        target.socket_timeout.unwrap_or_default().as_secs()
                    ),
                );
            }
            Err(Relay::Io(e)) | Err(Relay::Daemon(WireError::Io(e))) => {
                return refuse(
                    unless_started(ffi::HTTP_BAD_GATEWAY),
                    format!("Daemon process '{}' connection failed: {e}.", target.group),
                );
            }
            Err(Relay::Daemon(e)) => {
                let what = match e {
                    WireError::Closed => "closed the connection before sending a complete response; the daemon process probably died (see earlier log lines)".to_string(),
                    other => format!("failed: {other}"),
                };
                return refuse(
                    unless_started(ffi::HTTP_BAD_GATEWAY),
                    format!("Daemon process '{}' {what}.", target.group),
                );
            }
        }
    }
}

enum Relay {
    /// The daemon side failed or sent nonsense.
    Daemon(WireError),
    /// The socket to the daemon failed (a timeout, most often).
    Io(std::io::Error),
    /// The daemon process is being replaced; ask again.
    Retry,
    /// The daemon closed a kept connection instead of reading the request:
    /// it said `Goodbye`, or had closed by the time the request was written
    /// (so it cannot have run it).
    Goodbye,
    /// The client went away; nothing more to do.
    Client(IoError),
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// Separates socket errors (timeouts) from protocol failures.
fn daemon_err(e: WireError) -> Relay {
    match e {
        WireError::Io(io) => Relay::Io(io),
        other => Relay::Daemon(other),
    }
}

/// Reads up to `body.len()` bytes for a `ReadBody`: one read that waits,
/// then whatever else has already arrived, so a large body does not cost a
/// round trip per network read. An error met after some bytes is kept in
/// `deferred` and reported by the next call, after those bytes.
fn read_body(io: &mut ApacheIo, body: &mut [u8], deferred: &mut Option<String>) -> Result<usize, String> {
    if let Some(reason) = deferred.take() {
        return Err(reason);
    }
    let reason = |e: IoError| match e {
        IoError::Read(r) => r,
        other => other.to_string(),
    };
    let mut got = io.read(body).map_err(reason)?;
    while got > 0 && got < body.len() {
        match io.read_available(&mut body[got..]) {
            Ok(Some(n)) if n > 0 => got += n,
            Ok(_) => break,
            Err(e) => {
                *deferred = Some(reason(e));
                break;
            }
        }
    }
    Ok(got)
}

/// Passes the window bytes added to the response on (with a flush if
/// `flush`), then frees their slots.
fn release(conn: &mut Conn, io: &mut ApacheIo, unreleased: &mut usize, flush: bool) -> Result<(), Relay> {
    if flush { io.send_added() } else { io.pass_added() }.map_err(Relay::Client)?;
    for _ in 0..std::mem::take(unreleased) {
        conn.send(&Frame::Release);
    }
    conn.flush().map_err(daemon_err)
}

fn relay(
    conn: &mut Conn,
    io: &mut ApacheIo,
    started: &mut bool,
    body: &mut Option<BodyBuffer>,
    target: &Target<'_>,
) -> Result<i32, Relay> {
    // The daemon's shared memory for large bodies, once it sends it, and
    // how many of its slots are added to the response but not released.
    let mut window: Option<View> = None;
    let mut unreleased = 0usize;
    let mut diverted = None;
    // Set once the response starts, as mod_wsgi does; restored on return.
    let mut client_timeout = None;
    let result =
        relay_frames(conn, io, started, body, &mut window, &mut unreleased, target, &mut diverted, &mut client_timeout);
    if unreleased > 0 {
        // Nothing may point into the window once it is unmapped.
        io.discard_added();
    }
    match (result, diverted) {
        (Ok(_), Some(Diverted::Redirect(location))) => {
            io.request().internal_redirect(&location);
            Ok(ffi::OK as i32)
        }
        (Ok(_), Some(Diverted::ErrorDocument(code))) => Ok(i32::from(code)),
        (result, _) => result,
    }
}

/// Whether body bytes passed on now go with a flush: only when the daemon
/// has stopped sending (see `wsgi_core::response_flush`).
fn flush_now(arrived: Arrived, delay: Duration) -> bool {
    response_flush::decide(arrived, delay) == Flush::Now
}

/// Flushes what was passed on without a flush once the daemon has sent
/// nothing more for the group's `response-flush-delay`.
fn settle(conn: &Conn, io: &mut ApacheIo, delay: Duration) -> Result<(), Relay> {
    let due = match response_flush::decide(conn.arrived(), delay) {
        Flush::Now => true,
        Flush::NotYet => false,
        Flush::After(limit) => !conn.wait_for_more(limit).map_err(daemon_err)?,
    };
    if due { io.send_added().map_err(Relay::Client) } else { Ok(()) }
}

/// A daemon response Apache replaces (see `wsgi_core::headers::diversion`).
enum Diverted {
    Redirect(String),
    ErrorDocument(u16),
}

/// Whether the daemon's response is replaced; if so the application's
/// body is dropped as it comes, and a redirect keeps its other headers.
fn divert(io: &mut ApacheIo, status: &str, headers: &[(&str, &str)], error_override: bool) -> Option<Diverted> {
    let code = wsgi_core::headers::parse_status(status).ok()?;
    let diverted = match wsgi_core::headers::diversion(code, headers, error_override)? {
        Diversion::InternalRedirect(location) => {
            let req = io.request();
            for (k, v) in headers.iter().filter(|(k, _)| wsgi_core::headers::kept_on_redirect(k)) {
                req.add_response_header(k, v, true);
            }
            Diverted::Redirect(location.to_string())
        }
        Diversion::ErrorDocument(code) => Diverted::ErrorDocument(code),
    };
    io.drop_response();
    Some(diverted)
}

#[allow(clippy::too_many_arguments)]
fn relay_frames(
    conn: &mut Conn,
    io: &mut ApacheIo,
    started: &mut bool,
    body: &mut Option<BodyBuffer>,
    window: &mut Option<View>,
    unreleased: &mut usize,
    target: &Target<'_>,
    diverted: &mut Option<Diverted>,
    client_timeout: &mut Option<ClientTimeout>,
) -> Result<i32, Relay> {
    conn.flush().map_err(|e| match e {
        WireError::Io(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => Relay::Goodbye,
        other => daemon_err(other),
    })?;
    let mut deferred = None;
    let mut first = true;
    let delay = target.flush_delay;
    loop {
        if io.unflushed() {
            settle(conn, io, delay)?;
        }
        let (frame, next) = conn.recv_with_next().map_err(daemon_err)?;
        let was_first = std::mem::replace(&mut first, false);
        match frame {
            Frame::ReadBody(n) => {
                let buffer = match body {
                    Some(b) => b,
                    None => body.insert(BodyBuffer::take().map_err(Relay::Io)?),
                };
                let bytes = buffer.bytes();
                let want = (n as usize).clamp(1, bytes.len());
                let read = read_body(io, &mut bytes[..want], &mut deferred);
                let done = matches!(read, Ok(0) | Err(_));
                let sent = match read {
                    Ok(got) => conn.send_now(&Frame::Body(&bytes[..got])),
                    // The application gets the reason, as in embedded mode;
                    // what it sends next is dropped if Apache has already
                    // answered (ApacheIo knows).
                    Err(reason) => conn.send_now(&Frame::ReadError(&reason)),
                };
                // At the end of the body the buffer goes back at once.
                if done {
                    *body = None;
                }
                sent.map_err(daemon_err)?;
            }
            Frame::Headers { status, headers } => {
                // The daemon runs application code: its status and headers
                // are checked again before they reach the client.
                let valid = wsgi_core::headers::parse_status(status).is_ok()
                    && headers.iter().all(|(k, v)| wsgi_core::headers::check_header(k, v).is_ok());
                if !valid {
                    return Err(Relay::Daemon(WireError::Unexpected("invalid status line or header")));
                }
                *diverted = divert(io, status, &headers, target.error_override);
                if diverted.is_some() {
                    continue;
                }
                if let Some(t) = target.response_timeout {
                    *client_timeout = ClientTimeout::set(io.request(), t);
                }
                let headers: Vec<(String, String)> =
                    headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                io.send_headers(status, &headers).map_err(Relay::Client)?;
                *started = true;
            }
            Frame::Data(data) => io.pass_on(data, flush_now(next, delay)).map_err(Relay::Client)?,
            Frame::Window { size } => {
                let fd = conn.take_fd().ok_or(Relay::Daemon(WireError::Unexpected("window without a descriptor")))?;
                *window = Some(View::map(&fd, size).map_err(|e| Relay::Daemon(WireError::Window(e)))?);
            }
            Frame::DataAt { offset, len } => {
                let at = window.as_ref().and_then(|w| w.at(offset, len));
                let at = at.ok_or(Relay::Daemon(WireError::Unexpected("data-at outside the window")))?;
                // SAFETY: `at` lies inside the window, mapped until `window`
                // drops at the end of this function, after the pass in
                // `release` (filters that keep the bytes copy them).
                unsafe { io.add_from(at, len as usize) }.map_err(Relay::Client)?;
                *unreleased += 1;
                // What the daemon has already put in the window is passed
                // on in one go; then its slots are free again.
                if !conn.data_at_ready() {
                    let flush = flush_now(conn.arrived(), delay);
                    release(conn, io, unreleased, flush)?;
                }
            }
            Frame::SendFile { offset, len } => {
                let fd =
                    conn.take_fd().ok_or(Relay::Daemon(WireError::Unexpected("send-file without a descriptor")))?;
                // The daemon runs application code: only a regular file is
                // sent (a pipe or socket would block this thread), and never
                // past its end.
                let meta = std::fs::File::from(fd.try_clone().map_err(|e| Relay::Daemon(WireError::Io(e)))?)
                    .metadata()
                    .map_err(|e| Relay::Daemon(WireError::Io(e)))?;
                if !meta.is_file() {
                    return Err(Relay::Daemon(WireError::Unexpected(
                        "send-file of something that is not a regular file",
                    )));
                }
                let len = len.min(meta.len().saturating_sub(offset));
                // The file bucket works on its own duplicate; ours closes here.
                let sent = io.send_file(fd.as_raw_fd(), offset, len).map_err(Relay::Client)?;
                if !sent {
                    return Err(Relay::Daemon(WireError::Unexpected("send-file the server cannot send")));
                }
            }
            Frame::Log { level, message } => log::remote(level_from_wire(level), io.request(), message),
            Frame::End => return Ok(ffi::OK as i32),
            // The application failed after the headers of a diverted response.
            Frame::Fail(code) if diverted.take().is_some() => return Ok(code as i32),
            Frame::Retry if !*started => return Err(Relay::Retry),
            Frame::Goodbye if was_first => return Err(Relay::Goodbye),
            Frame::Retry => return Err(Relay::Daemon(WireError::Unexpected("retry after headers"))),
            Frame::Fail(_) if *started => {
                io.abort();
                return Ok(ffi::OK as i32);
            }
            // Apache already sent its own error page: add nothing.
            Frame::Fail(_) if io.answered() => return Ok(ffi::OK as i32),
            Frame::Fail(code) => return Ok(code as i32),
            Frame::Goodbye => return Err(Relay::Daemon(WireError::Unexpected("goodbye during a request"))),
            Frame::Request { .. } | Frame::Body(_) | Frame::ReadError(_) | Frame::Release => {
                return Err(Relay::Daemon(WireError::Unexpected("request-side")));
            }
        }
    }
}
