//! The request's I/O in an Apache child: body through the input filters,
//! response through the output filters.

use super::log;
use super::request::Request;
use crate::common::io::{IoError, QUEUE_LIMIT, RequestIo};
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;

pub struct ApacheIo<'r> {
    req: Request<'r>,
    input: *mut ffi::apr_bucket_brigade,
    output: *mut ffi::apr_bucket_brigade,
    /// The body length the application declared, and how much is sent.
    content_length: Option<u64>,
    sent: u64,
    /// `WSGIEnableSendfile On` for this request.
    sendfile: bool,
    /// An input filter already sent the response (an error page); what
    /// the application sends after that is dropped.
    answered: bool,
    /// Body bytes in the output brigade, not yet passed (see `queue`).
    queued: usize,
    /// Body bytes were passed down the output filters without a flush
    /// since the last one (see `pass_on`): filters may still hold them.
    unflushed: bool,
    /// The last pass failed because the client socket's timeout expired.
    timed_out: bool,
}

// SAFETY: an ApacheIo is only used while its request is being handled,
// and every use goes through the request's one Mutex (see SharedIo), so
// the request is never touched by two threads at once.
unsafe impl Send for ApacheIo<'_> {}

/// The most body bytes asked of the input filters at once. The core
/// filter reads the client socket into an 8000-byte bucket per read and
/// holds every bucket of a call until it returns; their blocks then stay
/// with the connection's allocator (`MaxMemFree`). A 256 KiB read left
/// about 32 such blocks per connection, 1.3 MiB in a busy child.
const READ_STEP: usize = 32 * 1024;

/// APR's text for a status code, as `apr_strerror` gives it.
fn strerror(status: ffi::apr_status_t) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: apr_strerror writes at most `buf.len()` bytes, NUL included,
    // and returns `buf`.
    unsafe {
        ffi::apr_strerror(status, buf.as_mut_ptr(), buf.len());
        super::cstr::string(buf.as_ptr())
    }
}

impl<'r> ApacheIo<'r> {
    pub fn new(req: Request<'r>) -> Self {
        // SAFETY: brigades are allocated from the live request's pool.
        let (input, output) = unsafe {
            (
                ffi::wsgi_shim_brigade_create(req.pool().as_ptr(), req.connection()),
                ffi::wsgi_shim_brigade_create(req.pool().as_ptr(), req.connection()),
            )
        };
        // The handler put the per-directory setting there for the environ.
        let sendfile = req.subprocess_env().get("mod_wsgi.enable_sendfile") == Some(b"1");
        Self {
            req,
            input,
            output,
            content_length: None,
            sent: 0,
            sendfile,
            answered: false,
            queued: 0,
            unflushed: false,
            timed_out: false,
        }
    }

    fn pass(&mut self) -> Result<(), IoError> {
        self.queued = 0;
        // SAFETY: the output brigade belongs to this request; passing it
        // down the request's filter chain and then emptying it is the
        // standard handler pattern.
        let status = unsafe {
            let s = ffi::ap_pass_brigade((*self.req.as_ptr()).output_filters, self.output);
            ffi::apr_brigade_cleanup(self.output.cast());
            s
        };
        self.timed_out = status == ffi::APR_TIMEUP as ffi::apr_status_t;
        if self.req.aborted() {
            Err(IoError::ClientGone)
        } else if status != 0 {
            Err(IoError::Write(strerror(status)))
        } else {
            Ok(())
        }
    }

    /// How much of `len` the declared Content-Length still allows.
    fn allowed(&self, len: u64) -> u64 {
        match self.content_length {
            Some(limit) => len.min(limit.saturating_sub(self.sent)),
            None => len,
        }
    }
}

impl<'r> ApacheIo<'r> {
    /// The request this I/O belongs to.
    pub fn request(&self) -> Request<'r> {
        self.req
    }

    /// Whether the last write to the client failed because the client
    /// did not read within the socket's timeout.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The response will be something else (an internal redirect, an
    /// error document): what the application sends is dropped.
    pub fn drop_response(&mut self) {
        self.answered = true;
    }

    /// Adds `len` bytes at `data` to the response without reading them
    /// here: they may be memory another process writes to (a daemon's
    /// window), which only the server's output touches. They go out with
    /// the next `send_added` or `pass_added`, or `write`.
    ///
    /// # Safety
    /// `data..data + len` must stay mapped until that call returns.
    pub unsafe fn add_from(&mut self, data: *const u8, len: usize) -> Result<(), IoError> {
        if self.answered {
            return Ok(());
        }
        // Never more than the declared Content-Length.
        let len = self.allowed(len as u64) as usize;
        if len == 0 {
            return Ok(());
        }
        if self.req.aborted() {
            return Err(IoError::ClientGone);
        }
        self.sent += len as u64;
        self.queued += len;
        // SAFETY: a transient bucket over the caller's bytes, which stay
        // mapped until the next pass; filters that keep it past the pass
        // copy it (set-aside).
        unsafe { ffi::wsgi_shim_brigade_append_transient(self.output, data.cast(), len) };
        Ok(())
    }

    /// Drops what `add_from` and `queue` added, unsent.
    pub fn discard_added(&mut self) {
        self.queued = 0;
        // SAFETY: empties this request's own output brigade.
        unsafe { ffi::apr_brigade_cleanup(self.output.cast()) };
    }

    /// Sends what `add_from` and `queue` added, and what was passed on
    /// without a flush before, now.
    pub fn send_added(&mut self) -> Result<(), IoError> {
        if self.queued == 0 && !self.unflushed {
            return Ok(());
        }
        // SAFETY: a flush bucket on this request's output brigade.
        unsafe { ffi::wsgi_shim_brigade_append_flush(self.output) };
        self.unflushed = false;
        self.pass()
    }

    /// Passes what `add_from` and `queue` added down the output filters
    /// without a flush: a filter may keep it (set aside, so the caller's
    /// memory is free again) until a later flush or the end of the
    /// response, as it keeps any data not followed by a flush.
    pub fn pass_added(&mut self) -> Result<(), IoError> {
        if self.queued == 0 {
            return Ok(());
        }
        self.unflushed = true;
        self.pass()
    }

    /// Passes `data` down the output filters now, with a flush or without
    /// one (see `pass_added`).
    pub fn pass_on(&mut self, data: &[u8], flush: bool) -> Result<(), IoError> {
        // SAFETY: `data` is valid for its length until the pass below
        // returns; filters that keep it past that copy it.
        unsafe { self.add_from(data.as_ptr(), data.len()) }?;
        if flush { self.send_added() } else { self.pass_added() }
    }

    /// Whether body bytes were passed on without a flush since the last one.
    pub fn unflushed(&self) -> bool {
        self.unflushed
    }

    /// Reads what body bytes are already here, without waiting: `None`
    /// when none are, `Some(0)` at the end of the body.
    pub fn read_available(&mut self, buf: &mut [u8]) -> Result<Option<usize>, IoError> {
        match self.read_step(buf, false)? {
            -2 => Ok(None),
            n => Ok(Some(n as usize)),
        }
    }

    /// One read of up to `READ_STEP` body bytes through the input filters:
    /// what the shim returns (-2: nothing yet, without `block`).
    fn read_step(&mut self, buf: &mut [u8], block: bool) -> Result<std::ffi::c_long, IoError> {
        let mut status: ffi::apr_status_t = 0;
        // SAFETY: reads into `buf` at most its length through the request's
        // input filters, using this request's input brigade.
        let n = unsafe {
            ffi::wsgi_shim_read_body_ex(
                self.req.as_ptr(),
                self.input,
                buf.as_mut_ptr().cast(),
                buf.len().min(READ_STEP),
                i32::from(block),
                &mut status,
            )
        };
        if n < 0 && n != -2 {
            // An input filter has answered the request itself (413 for a
            // body over LimitRequestBody, 400 for a bad chunk).
            if status == ffi::AP_FILTER_ERROR {
                self.answered = true;
            }
            return Err(IoError::Read(strerror(status)));
        }
        Ok(n)
    }
}

impl RequestIo for ApacheIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        Ok(self.read_step(buf, true)? as usize)
    }

    fn send_headers(&mut self, status: &str, headers: &[(String, String)]) -> Result<(), IoError> {
        if self.answered {
            return Ok(());
        }
        let code: i32 = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(500);
        self.req.set_status(code, status);
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-type") {
                self.req.set_content_type(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                match value.trim().parse::<u64>() {
                    Ok(n) => {
                        self.content_length = Some(n);
                        self.req.set_content_length(n);
                    }
                    Err(_) => self.req.add_response_header(name, value, false),
                }
            } else if name.eq_ignore_ascii_case("www-authenticate") {
                // As mod_wsgi: kept when Apache replaces the body with an
                // error document (ErrorDocument for 401).
                self.req.add_response_header(name, value, true);
            } else {
                self.req.add_response_header(name, value, false);
            }
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), IoError> {
        self.pass_on(data, true)
    }

    fn queue(&mut self, data: &[u8]) -> Result<bool, IoError> {
        if self.answered {
            return Ok(true);
        }
        let data = &data[..self.allowed(data.len() as u64) as usize];
        if self.queued + data.len() > QUEUE_LIMIT {
            return Ok(false);
        }
        if data.is_empty() {
            return Ok(true);
        }
        if self.req.aborted() {
            return Err(IoError::ClientGone);
        }
        // SAFETY: apr_brigade_write without a flush function copies `data`
        // into heap buckets of the request's output brigade; no I/O.
        let status = unsafe {
            ffi::apr_brigade_write(self.output, None, std::ptr::null_mut(), data.as_ptr().cast(), data.len())
        };
        if status != 0 {
            return Err(IoError::Write(strerror(status)));
        }
        self.sent += data.len() as u64;
        self.queued += data.len();
        Ok(true)
    }

    fn send_file(&mut self, fd: i32, offset: u64, len: u64) -> Result<bool, IoError> {
        if self.answered {
            return Ok(true);
        }
        let len = self.allowed(len);
        if len == 0 {
            return Ok(true);
        }
        if self.req.aborted() {
            return Err(IoError::ClientGone);
        }
        let (Ok(off), Ok(n)) = (ffi::apr_off_t::try_from(offset), ffi::apr_off_t::try_from(len)) else {
            return Ok(false);
        };
        // SAFETY: file buckets over a duplicate of `fd` (closed with the
        // request pool), then a flush bucket: the pass below writes them
        // out before it returns.
        let appended = unsafe {
            ffi::wsgi_shim_brigade_append_file(
                self.output,
                self.req.pool().as_ptr(),
                fd,
                off,
                n,
                i32::from(self.sendfile),
            )
        };
        if appended != 0 {
            return Ok(false);
        }
        // SAFETY: as above.
        unsafe { ffi::wsgi_shim_brigade_append_flush(self.output) };
        self.unflushed = false;
        self.sent += len;
        self.pass().map(|()| true)
    }

    fn abort(&mut self) {
        if self.queued > 0 {
            let _ = self.pass();
        }
        self.req.close_connection();
        // Without the last chunk a client sees a chunked body as cut short.
        self.req.suppress_last_chunk();
    }

    fn answered(&self) -> bool {
        self.answered
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        log::request(level, self.req, message);
    }

    fn finish(&mut self, _outcome: crate::common::io::Outcome) {
        // What `queue` kept; a client that went away is not an error here,
        // as for any other write of the response.
        if self.queued > 0
            && let Err(e) = self.pass()
        {
            log::request(LogLevel::Debug, self.req, &with_pid(format_args!("Failed to write response data: {e}.")));
        }
    }
}
