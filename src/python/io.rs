//! How the WSGI layer talks to whoever owns the request: the Apache child
//! in embedded mode, the socket to the Apache child in daemon mode.

use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};

/// Severity of a message for the error log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Critical,
    Error,
    Warning,
    Info,
    Debug,
}

/// A failure of the request's I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    #[error("client closed connection")]
    ClientGone,
    #[error("request body could not be read: {0}")]
    Read(String),
    #[error("response could not be written: {0}")]
    Write(String),
    #[error("request has already finished")]
    Finished,
}

/// The request's I/O, as the WSGI layer needs it. Every method may block;
/// callers release the GIL around them.
pub trait RequestIo: Send {
    /// Reads request body bytes into `buf`; 0 at the end of the body.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError>;
    /// Sets the response status line (`"200 OK"`) and headers, once,
    /// before the first body byte.
    fn send_headers(&mut self, status: &str, headers: &[(String, String)]) -> Result<(), IoError>;
    /// Sends body bytes to the client now.
    fn write(&mut self, data: &[u8]) -> Result<(), IoError>;
    /// Keeps body bytes to go out with the next `write` or when the
    /// request finishes, without I/O (so without releasing the GIL), for a
    /// body that is known whole (a list or tuple). `Ok(false)`: not kept
    /// (this side cannot, or [`QUEUE_LIMIT`] would be passed); the caller
    /// writes them instead.
    fn queue(&mut self, _data: &[u8]) -> Result<bool, IoError> {
        Ok(false)
    }
    /// Whether `write` of `len` bytes would return without waiting for a
    /// peer (in daemon mode, while the shared window has free slots), so
    /// that the caller may keep the GIL: a GIL hand-over per chunk costs
    /// more than copying it.
    fn writes_without_waiting(&mut self, _len: usize) -> bool {
        false
    }
    /// Sends `len` bytes of the regular file open as `fd`, from `offset`,
    /// after the headers, without passing them through Python (Apache file
    /// buckets; sendfile where enabled). The file's own offset may move;
    /// the caller restores it. `Ok(false)`: this side cannot, and the
    /// caller sends the file by reading it instead.
    fn send_file(&mut self, _fd: i32, _offset: u64, _len: u64) -> Result<bool, IoError> {
        Ok(false)
    }
    /// The response was cut short after it started (an error, or fewer
    /// body bytes than its Content-Length): end it so that the client sees
    /// it is incomplete and does not wait for more.
    fn abort(&mut self) {}
    /// The server itself already answered the request (an input filter
    /// sent an error page when the body could not be read), so what the
    /// application sends is dropped and the handler must not add a page.
    fn answered(&self) -> bool {
        false
    }
    /// mod_ssl's `ssl_is_https` for the request's connection (false where
    /// there is no mod_ssl to ask).
    fn ssl_is_https(&mut self) -> bool {
        false
    }
    /// mod_ssl's `ssl_var_lookup`: a variable of the request's TLS
    /// connection (`SSL_PROTOCOL`, ...), `None` when unset or unknown.
    fn ssl_var_lookup(&mut self, _name: &[u8]) -> Option<Vec<u8>> {
        None
    }
    /// Writes a line to the error log, attributed to this request.
    fn log(&mut self, level: LogLevel, message: &str);
    /// Called once when the application is done, with how it ended.
    fn finish(&mut self, _outcome: super::call::Outcome) {}
}

/// The request's I/O shared by the objects handed to the application
/// (`wsgi.input`, `wsgi.errors`, `start_response`). Lock it only with the
/// GIL released: a thread that holds the GIL and waits for this lock would
/// stall the holder's return. Empty once the request has finished.
pub type SharedIo = Arc<Mutex<Option<Box<dyn RequestIo>>>>;

/// The most body bytes a request's I/O keeps back with `queue`.
pub const QUEUE_LIMIT: usize = 64 * 1024;

/// Runs `f`, which must not block, on the request's I/O, keeping the GIL
/// when the I/O is free (it is busy only while an application thread uses
/// it); otherwise as [`with_io`]. A GIL hand-over costs more than a small
/// response.
pub fn with_io_now<R: Send>(
    py: pyo3::Python<'_>,
    io: &SharedIo,
    f: impl FnOnce(&mut dyn RequestIo) -> Result<R, IoError> + Send,
) -> Result<R, IoError> {
    match io.try_lock() {
        Some(mut guard) => match guard.as_mut() {
            Some(io) => f(io.as_mut()),
            None => Err(IoError::Finished),
        },
        None => with_io(py, io, f),
    }
}

/// Runs `f` on the request's I/O with the GIL released.
pub fn with_io<R: Send>(
    py: pyo3::Python<'_>,
    io: &SharedIo,
    f: impl FnOnce(&mut dyn RequestIo) -> Result<R, IoError> + Send,
) -> Result<R, IoError> {
    if !super::meter::measuring_gil() {
        return py.detach(|| match io.lock().as_mut() {
            Some(io) => f(io.as_mut()),
            None => Err(IoError::Finished),
        });
    }
    let (result, released) = py.detach(|| {
        let r = match io.lock().as_mut() {
            Some(io) => f(io.as_mut()),
            None => Err(IoError::Finished),
        };
        (r, std::time::Instant::now())
    });
    super::meter::gil_waited(released);
    result
}

/// Where messages with no request go: the server's error log, once the
/// embedding side has said how to reach it.
static PROCESS_LOGGER: OnceLock<fn(LogLevel, &str)> = OnceLock::new();

pub fn set_process_logger(f: fn(LogLevel, &str)) {
    let _ = PROCESS_LOGGER.set(f);
}

/// Logs a message that belongs to no request.
pub fn log_process(level: LogLevel, message: &str) {
    match PROCESS_LOGGER.get() {
        Some(f) => f(level, message),
        None => eprintln!("{message}"),
    }
}
