//! The request's I/O in an Apache child: body through the input filters,
//! response through the output filters.

use super::log;
use super::request::Request;
use crate::ffi;
use crate::python::io::{IoError, LogLevel, RequestIo};

pub struct ApacheIo {
    req: Request,
    input: *mut ffi::apr_bucket_brigade,
    output: *mut ffi::apr_bucket_brigade,
    /// The body length the application declared, and how much is sent.
    content_length: Option<u64>,
    sent: u64,
}

// SAFETY: an ApacheIo is only used while its request is being handled,
// and every use goes through the request's one Mutex (see SharedIo), so
// the request is never touched by two threads at once.
unsafe impl Send for ApacheIo {}

impl ApacheIo {
    pub fn new(req: Request) -> Self {
        // SAFETY: brigades are allocated from the live request's pool.
        let (input, output) = unsafe {
            (
                ffi::wsgi_shim_brigade_create(req.pool(), req.connection()),
                ffi::wsgi_shim_brigade_create(req.pool(), req.connection()),
            )
        };
        Self { req, input, output, content_length: None, sent: 0 }
    }

    fn pass(&mut self) -> Result<(), IoError> {
        // SAFETY: the output brigade belongs to this request; passing it
        // down the request's filter chain and then emptying it is the
        // standard handler pattern.
        let status = unsafe {
            let s = ffi::ap_pass_brigade((*self.req.raw()).output_filters, self.output);
            ffi::apr_brigade_cleanup(self.output.cast());
            s
        };
        if status == 0 { Ok(()) } else { Err(IoError::ClientGone) }
    }
}

impl RequestIo for ApacheIo {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let mut status: ffi::apr_status_t = 0;
        // SAFETY: reads into `buf` at most its length through the request's
        // input filters, using this request's input brigade.
        let n = unsafe {
            ffi::wsgi_shim_read_body(self.req.raw(), self.input, buf.as_mut_ptr().cast(), buf.len(), &mut status)
        };
        if n < 0 {
            return Err(if status == ffi::APR_EOF as i32 || status == ffi::APR_ECONNABORTED as i32 {
                IoError::ClientGone
            } else {
                IoError::Read(format!("apr status {status}"))
            });
        }
        Ok(n as usize)
    }

    fn send_headers(&mut self, status: &str, headers: &[(String, String)]) -> Result<(), IoError> {
        let code: i32 = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(500);
        self.req.set_status(code, status);
        let out = self.req.headers_out();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-type") {
                self.req.set_content_type(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                match value.trim().parse::<u64>() {
                    Ok(n) => {
                        self.content_length = Some(n);
                        self.req.set_content_length(n);
                    }
                    Err(_) => out.add(name, value),
                }
            } else {
                out.add(name, value);
            }
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), IoError> {
        // Never more than the declared Content-Length.
        let data = match self.content_length {
            Some(limit) => &data[..data.len().min(limit.saturating_sub(self.sent) as usize)],
            None => data,
        };
        if data.is_empty() {
            return Ok(());
        }
        self.sent += data.len() as u64;
        // SAFETY: a transient bucket over `data`, which outlives the pass
        // below; filters that keep it past the pass copy it (set-aside).
        unsafe {
            ffi::wsgi_shim_brigade_append_transient(self.output, data.as_ptr().cast(), data.len());
            ffi::wsgi_shim_brigade_append_flush(self.output);
        }
        self.pass()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        log::request(level.into(), self.req.raw(), message);
    }
}
