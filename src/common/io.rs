//! The contract between the WSGI layer and whoever owns the request: the
//! Apache child in embedded mode (`apache::request_io`), the socket to the
//! Apache child in a daemon process (`daemon::daemon_side`).

use super::log::LogLevel;

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
    fn finish(&mut self, _outcome: Outcome) {}
}

/// The most body bytes a request's I/O keeps back with `queue`.
pub const QUEUE_LIMIT: usize = 64 * 1024;

/// How the request ended, from the server's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The response (perhaps cut short by an error after its start) was sent.
    Sent,
    /// Nothing was sent; the server should answer with this status.
    Failed(u16),
    /// The script changed and this process must be replaced; the
    /// application was not called (daemon mode only).
    Restart,
}
