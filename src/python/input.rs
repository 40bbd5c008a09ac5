//! `wsgi.input`: the request body, streamed from the server as the
//! application reads it (never buffered whole).

use super::io::{SharedIo, with_io};
use super::start_response::{SharedResponse, check_live};
use crate::common::io::IoError;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// How much to ask the server for when a line or `read()` needs more.
const CHUNK: usize = 64 * 1024;
/// How much to ask for at a time when the application wants the whole body:
/// in daemon mode each request for more is a round trip to the Apache child.
const CHUNK_ALL: usize = 1024 * 1024;

#[pyclass(module = "mod_wsgi")]
pub struct Input {
    io: SharedIo,
    /// Bytes received but not yet returned, from `pos`.
    buf: Vec<u8>,
    /// End of the received bytes in `buf` (which may be longer).
    end: usize,
    pos: usize,
    eof: bool,
    /// CONTENT_LENGTH, when the request declared one, and how many body
    /// bytes have arrived: the buffer is sized once for the whole body.
    declared: Option<u64>,
    received: u64,
    /// The response state, told when a read fails (see `failed`).
    state: SharedResponse,
}

/// The exception mod_wsgi raises for a failed read: `OSError` with APR's
/// reason (a client that went away mid-body reads as "Partial results are
/// valid but processing is incomplete"), `RuntimeError` once the request
/// is over.
fn to_pyerr(e: IoError) -> PyErr {
    match e {
        IoError::Finished => super::start_response::expired(),
        IoError::ClientGone => PyOSError::new_err(
            "Apache/mod_wsgi request data read error: Partial results are valid but processing is incomplete.",
        ),
        IoError::Read(m) | IoError::Write(m) => {
            PyOSError::new_err(format!("Apache/mod_wsgi request data read error: {m}."))
        }
    }
}

/// The status for a request whose body could not be read, as Apache's
/// modules answer it (`ap_map_http_request_error(rv, HTTP_BAD_REQUEST)`):
/// 408 when the read timed out (mod_reqtimeout, `Timeout`), 400 otherwise
/// (a truncated or malformed body, a client gone mid-body).
fn status_for(e: &IoError) -> u16 {
    match e {
        // APR_TIMEUP and ETIMEDOUT, as apr_strerror words them.
        IoError::Read(m) if m.contains("timeout specified has expired") || m.contains("timed out") => 408,
        _ => 400,
    }
}

impl Input {
    pub fn new(io: SharedIo, declared: Option<u64>, state: SharedResponse) -> Self {
        Self { io, buf: Vec::new(), pos: 0, end: 0, eof: false, declared, received: 0, state }
    }

    /// A read failed: the exception for the application, and a note that
    /// the request, not the application, is at fault should the
    /// application fail because of it before it answers.
    fn failed(&self, e: IoError) -> PyErr {
        if e != IoError::Finished {
            self.state.lock().set_body_error(status_for(&e));
        }
        to_pyerr(e)
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Receives body bytes until at least `need` are buffered or the body
    /// ends, in one release of the GIL: the server hands over a network
    /// read (often 8000 bytes) at a time, and a GIL hand-over per read
    /// would cost more than the read. False when nothing more came.
    fn fill_to(&mut self, py: Python<'_>, need: usize) -> PyResult<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos == self.end {
            (self.pos, self.end) = (0, 0);
        } else if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            (self.pos, self.end) = (0, self.end - self.pos);
        }
        let need = need.max(1);
        let start = self.end;
        // Body bytes still to come, as the request declared them.
        let declared = self.declared.map(|d| d.saturating_sub(self.received));
        let mut buf = std::mem::take(&mut self.buf);
        let (buf, end, got) = with_io(py, &self.io, move |io| {
            let mut end = start;
            let result = loop {
                if end >= need {
                    break Ok(false);
                }
                // Room for what is wanted (at least a chunk), and one byte
                // more for the read that finds the end of the body; the
                // buffer only grows, zeroed once.
                let left = match declared {
                    Some(d) if d > (end - start) as u64 => (d - (end - start) as u64) as usize,
                    Some(_) => 1,
                    None => usize::MAX,
                };
                let wanted = (need - end).min(left).min(CHUNK_ALL);
                if buf.len() - end < wanted.min(CHUNK) {
                    buf.resize(end + wanted.max(CHUNK) + 1, 0);
                }
                match io.read(&mut buf[end..]) {
                    Ok(0) => break Ok(true),
                    Ok(n) => end += n,
                    Err(e) => break Err(e),
                }
            };
            Ok((buf, end, result))
        })
        .unwrap_or_else(|e| (Vec::new(), start, Err(e)));
        self.buf = buf;
        self.received += (end - start) as u64;
        self.end = end;
        match got {
            Ok(at_end) => {
                self.eof = at_end;
                Ok(end > start)
            }
            Err(IoError::Finished) => {
                // The buffer went with the request.
                (self.pos, self.end, self.eof) = (0, 0, true);
                Err(to_pyerr(IoError::Finished))
            }
            Err(e) => {
                self.eof = true;
                Err(self.failed(e))
            }
        }
    }

    /// How much a read of `wanted` bytes should receive straight into its
    /// bytes object: a large read with nothing buffered, of a body whose
    /// length is declared (so the object is sized right).
    fn direct_size(&self, wanted: usize) -> Option<usize> {
        if self.eof || self.pos != self.end {
            return None;
        }
        let left = usize::try_from(self.declared?.saturating_sub(self.received)).ok()?;
        let n = wanted.min(left);
        (n >= CHUNK).then_some(n)
    }

    /// Receives up to `n` body bytes into a new bytes object, in one
    /// release of the GIL: one copy fewer than through the buffer.
    fn read_direct<'py>(&mut self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let len = isize::try_from(n).map_err(|_| pyo3::exceptions::PyOverflowError::new_err("read too large"))?;
        // SAFETY: the GIL is held; a new bytes object of `len` bytes whose
        // contents are ours to fill until it is returned (or null and an
        // exception).
        let obj = unsafe { pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), len) };
        // SAFETY: `obj` is a new reference or null.
        let mut obj = unsafe { Bound::from_owned_ptr_or_err(py, obj)? };
        // SAFETY: `obj` is a bytes object; its buffer is `n` bytes long.
        let at = unsafe { pyo3::ffi::PyBytes_AsString(obj.as_ptr()) } as usize;
        let got = with_io(py, &self.io, move |io| {
            // SAFETY: the new object's buffer, which nothing else sees
            // until it is returned, and `obj` keeps alive meanwhile.
            let buf = unsafe { std::slice::from_raw_parts_mut(at as *mut u8, n) };
            let mut got = 0;
            while got < n {
                match io.read(&mut buf[got..]) {
                    Ok(0) => return Ok((got, true, None)),
                    Ok(k) => got += k,
                    Err(e) => return Ok((got, true, Some(e))),
                }
            }
            Ok((got, false, None))
        });
        let (got, at_end, failed) = got.map_err(|e| self.failed(e))?;
        self.received += got as u64;
        self.eof = at_end;
        if let Some(e) = failed {
            // What came before the failure stays readable, as in `fill_to`.
            // SAFETY: `got` bytes of the buffer were written.
            let head = unsafe { std::slice::from_raw_parts(at as *const u8, got) };
            self.buf.clear();
            self.buf.extend_from_slice(head);
            (self.pos, self.end) = (0, got);
            return Err(self.failed(e));
        }
        if got < n {
            let mut p = obj.into_ptr();
            // SAFETY: `p` is the only reference to a bytes object not yet
            // shared, which _PyBytes_Resize may reallocate (or free, with
            // an exception set, leaving null).
            let status = unsafe { _PyBytes_Resize(&mut p, got as isize) };
            // SAFETY: the resized object, or null with an exception set.
            obj = unsafe { Bound::from_owned_ptr_or_err(py, p)? };
            if status != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        // SAFETY: a bytes object, as made above.
        Ok(unsafe { obj.cast_into_unchecked() })
    }

    /// The next `n` buffered bytes (fewer at the end) as a bytes object.
    fn take<'py>(&mut self, py: Python<'py>, n: usize) -> Bound<'py, PyBytes> {
        let n = n.min(self.buffered().len());
        let out = PyBytes::new(py, &self.buf[self.pos..self.pos + n]);
        self.pos += n;
        out
    }

    fn read_line<'py>(&mut self, py: Python<'py>, limit: Option<usize>) -> PyResult<Bound<'py, PyBytes>> {
        let mut scanned = 0;
        loop {
            let avail = self.buffered();
            let cap = limit.map_or(avail.len(), |l| l.min(avail.len()));
            if let Some(i) = avail[scanned..cap].iter().position(|&b| b == b'\n') {
                return Ok(self.take(py, scanned + i + 1));
            }
            scanned = cap;
            if limit.is_some_and(|l| cap >= l) {
                return Ok(self.take(py, cap));
            }
            if !self.fill_to(py, self.buffered().len() + 1)? {
                return Ok(self.take(py, usize::MAX));
            }
        }
    }
}

unsafe extern "C" {
    /// CPython's resize of a bytes object nobody else holds yet
    /// (exported, though not in the limited API).
    fn _PyBytes_Resize(bytes: *mut *mut pyo3::ffi::PyObject, size: pyo3::ffi::Py_ssize_t) -> std::ffi::c_int;
}

fn size_arg(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size=None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        check_live(&self.io)?;
        let wanted = size_arg(size).unwrap_or(usize::MAX);
        if let Some(n) = self.direct_size(wanted) {
            return self.read_direct(py, n);
        }
        let data = match size_arg(size) {
            // As mod_wsgi: wait for `n` bytes unless the body ends first.
            Some(n) => {
                while self.buffered().len() < n && self.fill_to(py, n)? {}
                self.take(py, n)
            }
            None => {
                while self.fill_to(py, usize::MAX)? {}
                self.take(py, usize::MAX)
            }
        };
        Ok(data)
    }

    #[pyo3(signature = (size=None))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        check_live(&self.io)?;
        self.read_line(py, size_arg(size))
    }

    #[pyo3(signature = (hint=None))]
    fn readlines<'py>(&mut self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        check_live(&self.io)?;
        let hint = size_arg(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.read_line(py, None)?;
            if line.as_bytes().is_empty() {
                break;
            }
            total += line.as_bytes().len();
            lines.append(line)?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        check_live(&self.io)?;
        let line = self.read_line(py, None)?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }

    fn close(&mut self) {}
}
