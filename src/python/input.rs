//! `wsgi.input`: the request body, streamed from the server as the
//! application reads it (never buffered whole).

use super::io::{IoError, SharedIo, with_io};
use super::start_response::check_live;
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

impl Input {
    pub fn new(io: SharedIo) -> Self {
        Self { io, buf: Vec::new(), pos: 0, end: 0, eof: false }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Receives up to `want` more bytes into the buffer; false at end. The
    /// buffer only grows (zeroed once), so large reads cost no re-zeroing.
    fn fill(&mut self, py: Python<'_>, want: usize) -> PyResult<bool> {
        if self.eof {
            return Ok(false);
        }
        let want = want.max(1);
        if self.pos == self.end {
            (self.pos, self.end) = (0, 0);
        } else if self.buf.len() - self.end < want {
            self.buf.copy_within(self.pos..self.end, 0);
            (self.pos, self.end) = (0, self.end - self.pos);
        }
        if self.buf.len() < self.end + want {
            self.buf.resize(self.end + want, 0);
        }
        let start = self.end;
        let mut tmp = std::mem::take(&mut self.buf);
        let (tmp, got) = with_io(py, &self.io, |io| {
            let got = io.read(&mut tmp[start..start + want]);
            Ok((tmp, got))
        })
        .unwrap_or_else(|e| (Vec::new(), Err(e)));
        self.buf = tmp;
        match got {
            Ok(n) => {
                self.end += n;
                if n == 0 {
                    self.eof = true;
                }
                Ok(n > 0)
            }
            Err(IoError::Finished) => {
                // The buffer went with the request.
                (self.pos, self.end, self.eof) = (0, 0, true);
                Err(to_pyerr(IoError::Finished))
            }
            Err(e) => {
                self.eof = true;
                Err(to_pyerr(e))
            }
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.buffered().len());
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        out
    }

    fn read_line(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<u8>> {
        let mut scanned = 0;
        loop {
            let avail = self.buffered();
            let cap = limit.map_or(avail.len(), |l| l.min(avail.len()));
            if let Some(i) = avail[scanned..cap].iter().position(|&b| b == b'\n') {
                return Ok(self.take(scanned + i + 1));
            }
            scanned = cap;
            if limit.is_some_and(|l| cap >= l) {
                return Ok(self.take(cap));
            }
            if !self.fill(py, CHUNK)? {
                return Ok(self.take(self.buffered().len()));
            }
        }
    }
}

fn size_arg(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size=None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        check_live(&self.io)?;
        let data = match size_arg(size) {
            // As mod_wsgi: wait for `n` bytes unless the body ends first.
            Some(n) => {
                while self.buffered().len() < n {
                    let want = (n - self.buffered().len()).min(CHUNK_ALL);
                    if !self.fill(py, want)? {
                        break;
                    }
                }
                self.take(n)
            }
            None => {
                while self.fill(py, CHUNK_ALL)? {}
                self.take(self.buffered().len())
            }
        };
        Ok(PyBytes::new(py, &data))
    }

    #[pyo3(signature = (size=None))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        check_live(&self.io)?;
        let line = self.read_line(py, size_arg(size))?;
        Ok(PyBytes::new(py, &line))
    }

    #[pyo3(signature = (hint=None))]
    fn readlines<'py>(&mut self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        check_live(&self.io)?;
        let hint = size_arg(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.read_line(py, None)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.append(PyBytes::new(py, &line))?;
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
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }

    fn close(&mut self) {}
}
