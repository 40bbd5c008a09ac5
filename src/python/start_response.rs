//! `start_response` and the `write` callable it returns, and the
//! response state they share with the iteration of the application's result.

use super::io::{SharedIo, with_io, with_io_now};
use crate::common::io::{IoError, RequestIo};
use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};
use std::sync::Arc;
use wsgi_core::headers;

/// Status and headers given to `start_response`, whether they are sent,
/// and how much body went out. Only touched with the GIL held.
#[derive(Default)]
pub struct ResponseState {
    pending: Option<(String, Vec<(String, String)>)>,
    sent: bool,
    /// The application's Content-Length, once the headers are sent.
    content_length: Option<u64>,
    /// Body bytes the application produced (also those beyond its
    /// Content-Length, which are not sent).
    produced: u64,
    /// Body bytes handed to the server.
    passed: u64,
    /// The status a failed read of the request body calls for (the
    /// client's fault: 400, or 408 for a timeout), once one failed.
    body_error: Option<u16>,
    /// The status code last given to `start_response` (0: none yet).
    status: u16,
}

pub type SharedResponse = Arc<Mutex<ResponseState>>;

impl ResponseState {
    pub fn started(&self) -> bool {
        self.pending.is_some() || self.sent
    }

    /// The status code given to `start_response`, 0 before it is called.
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn headers_sent(&self) -> bool {
        self.sent
    }

    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    pub fn produced(&self) -> u64 {
        self.produced
    }

    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// See `body_error`: what to answer when the application then fails
    /// before it answered.
    pub fn body_error(&self) -> Option<u16> {
        self.body_error
    }

    pub fn set_body_error(&mut self, status: u16) {
        self.body_error.get_or_insert(status);
    }

    /// The Content-Length among the headers not yet sent (checked as
    /// when they are sent).
    pub fn pending_content_length(&self) -> PyResult<Option<u64>> {
        match &self.pending {
            Some((_, hdrs)) => declared_length(hdrs),
            None => Ok(None),
        }
    }

    /// Adds a Content-Length to the headers not yet sent.
    pub fn set_pending_content_length(&mut self, len: u64) {
        if let Some((_, hdrs)) = &mut self.pending {
            hdrs.push(("Content-Length".into(), len.to_string()));
        }
    }

    /// Counts body bytes the server sent on its own (a file).
    pub fn count_sent(&mut self, len: u64) {
        self.produced += len;
        self.passed += len;
    }
}

/// The last Content-Length header, as mod_wsgi reads it: a whole,
/// non-negative number, else `ValueError('invalid content length')`.
fn declared_length(hdrs: &[(String, String)]) -> PyResult<Option<u64>> {
    let mut length = None;
    for (name, value) in hdrs {
        if name.eq_ignore_ascii_case("content-length") {
            let v = value.trim_start();
            let digits = v.strip_prefix('+').unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PyValueError::new_err("invalid content length"));
            }
            length = Some(digits.parse::<u64>().map_err(|_| PyValueError::new_err("invalid content length"))?);
        }
    }
    Ok(length)
}

/// Why sending failed: the application's fault (an exception for it) or
/// the connection's.
pub enum SendError {
    Py(PyErr),
    Io(IoError),
}

impl From<PyErr> for SendError {
    fn from(e: PyErr) -> Self {
        SendError::Py(e)
    }
}

/// The exception mod_wsgi raises in the application for an I/O failure.
pub fn io_to_pyerr(e: IoError) -> PyErr {
    match e {
        IoError::Finished => expired(),
        IoError::ClientGone => PyOSError::new_err("Apache/mod_wsgi client connection closed."),
        IoError::Write(m) | IoError::Read(m) => {
            PyOSError::new_err(format!("Apache/mod_wsgi failed to write response data: {m}"))
        }
    }
}

impl From<SendError> for PyErr {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Py(e) => e,
            SendError::Io(e) => io_to_pyerr(e),
        }
    }
}

/// What an object kept from a finished request raises when used.
pub fn expired() -> PyErr {
    PyRuntimeError::new_err("request object has expired")
}

/// Raises `expired()` when the request `io` belongs to is over. Never
/// blocks (so it keeps the GIL): a lock held by someone else means the
/// request is still being served, and a request that ends meanwhile is
/// caught by the I/O itself.
pub fn check_live(io: &SharedIo) -> PyResult<()> {
    match io.try_lock() {
        Some(guard) if guard.is_none() => Err(expired()),
        _ => Ok(()),
    }
}

/// When body bytes go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Now: the application may take its time before producing more.
    Now,
    /// With the next write or when the request ends: the whole body is
    /// already known (a list or tuple), so small ones are kept back and
    /// the GIL is not released for them.
    Queued,
}

/// Sends the headers if they are not yet sent, then `data` (may be empty),
/// never more body than the application's Content-Length.
pub fn send(
    py: Python<'_>,
    state: &SharedResponse,
    io: &SharedIo,
    data: &[u8],
    timing: Timing,
) -> Result<(), SendError> {
    let (headers, data) = {
        let mut st = state.lock();
        let headers = if st.sent {
            None
        } else {
            let Some((_, hdrs)) = st.pending.as_ref() else {
                return Err(PyRuntimeError::new_err("response has not been started").into());
            };
            let length = declared_length(hdrs)?;
            let pending = st.pending.take();
            st.sent = true;
            st.content_length = length;
            pending
        };
        st.produced += data.len() as u64;
        let allowed = match st.content_length {
            Some(cl) => data.len().min(usize::try_from(cl.saturating_sub(st.passed)).unwrap_or(usize::MAX)),
            None => data.len(),
        };
        st.passed += allowed as u64;
        (headers, &data[..allowed])
    };
    if timing == Timing::Queued {
        // Headers and queued bytes are kept in memory: no I/O, GIL kept.
        let queued = with_io_now(py, io, |io| {
            if let Some((status, hdrs)) = &headers {
                io.send_headers(status, hdrs)?;
            }
            if data.is_empty() { Ok(true) } else { io.queue(data) }
        })
        .map_err(SendError::Io)?;
        if queued {
            return Ok(());
        }
        return with_io(py, io, |io| io.write(data)).map_err(SendError::Io);
    }
    let send = |io: &mut dyn RequestIo| {
        if let Some((status, hdrs)) = &headers {
            io.send_headers(status, hdrs)?;
        }
        if data.is_empty() { Ok(()) } else { io.write(data) }
    };
    // Kept with the GIL when that cannot wait; otherwise released.
    let now =
        with_io_now(py, io, |io| if io.writes_without_waiting(data.len()) { send(io).map(Some) } else { Ok(None) })
            .map_err(SendError::Io)?;
    match now {
        Some(()) => Ok(()),
        None => with_io(py, io, send).map_err(SendError::Io),
    }
}

#[pyclass(module = "mod_wsgi")]
pub struct StartResponse {
    state: SharedResponse,
    io: SharedIo,
}

impl StartResponse {
    pub fn new(state: SharedResponse, io: SharedIo) -> Self {
        Self { state, io }
    }
}

fn type_name(item: &Bound<'_, PyAny>) -> String {
    item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

/// A header name, value or status as mod_wsgi accepts it: a `str` that
/// latin-1 can encode, with mod_wsgi's messages otherwise.
fn header_text(item: &Bound<'_, PyAny>) -> PyResult<String> {
    let s: String = item.extract().map_err(|_| {
        PyTypeError::new_err(format!("expected unicode object, value of type {} found", type_name(item)))
    })?;
    if s.chars().any(|c| c as u32 > 0xff) {
        return Err(PyValueError::new_err("unicode object contains non latin-1 characters"));
    }
    Ok(s)
}

/// Re-raises the exception described by an `exc_info` tuple, as
/// `PyErr_Restore(type, value, traceback)` in mod_wsgi.
fn reraise(py: Python<'_>, info: &Bound<'_, PyTuple>) -> PyErr {
    if info.len() != 3 {
        return PyTypeError::new_err(format!("function takes exactly 3 arguments ({} given)", info.len()));
    }
    let (Ok(ty), Ok(value)) = (info.get_item(0), info.get_item(1)) else {
        return PyTypeError::new_err("exception info must be a tuple");
    };
    if value.is_instance_of::<pyo3::exceptions::PyBaseException>() {
        return PyErr::from_value(value);
    }
    match ty.cast::<PyType>() {
        Ok(ty) if !value.is_none() => PyErr::from_type(ty.clone(), value.unbind()),
        Ok(ty) => PyErr::from_type(ty.clone(), ()),
        Err(_) => PyErr::from_value(py.None().into_bound(py)),
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, response_headers, exc_info=None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        response_headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Write> {
        check_live(&self.io)?;
        let headers_list = response_headers.cast::<PyList>().map_err(|_| {
            PyTypeError::new_err(format!(
                "start_response() argument 2 must be list, not {}",
                type_name(response_headers)
            ))
        })?;
        let exc_info = exc_info.filter(|e| !e.is_none());
        if let Some(info) = exc_info {
            let tuple =
                info.cast::<PyTuple>().map_err(|_| PyRuntimeError::new_err("exception info must be a tuple"))?;
            if self.state.lock().sent {
                // PEP 3333: too late to change the response; re-raise.
                return Err(reraise(py, tuple));
            }
        } else if self.state.lock().sent {
            return Err(PyRuntimeError::new_err("headers have already been sent"));
        }
        let status_obj = status;
        let status = header_text(status)?;
        headers::parse_status(&status).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut hdrs = Vec::new();
        for item in headers_list.iter() {
            let pair = item.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "list of tuple values expected for headers, value of type {} found",
                    type_name(&item)
                ))
            })?;
            if pair.len() != 2 {
                return Err(PyValueError::new_err(format!(
                    "tuple of length 2 expected for header, length is {}",
                    pair.len()
                )));
            }
            let name = header_text(&pair.get_item(0)?)?;
            let value = header_text(&pair.get_item(1)?)?;
            headers::check_header(&name, &value).map_err(|e| PyValueError::new_err(e.to_string()))?;
            hdrs.push((name, value));
        }
        super::events::response_started(py, status_obj, response_headers, exc_info);
        let code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        {
            let mut st = self.state.lock();
            st.status = code;
            st.pending = Some((status, hdrs));
        }
        Ok(Write { state: self.state.clone(), io: self.io.clone() })
    }
}

/// The `write(data)` callable returned by `start_response`.
#[pyclass(module = "mod_wsgi")]
pub struct Write {
    state: SharedResponse,
    io: SharedIo,
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        check_live(&self.io)?;
        let bytes = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("byte string value expected, value of type {} found", type_name(data)))
        })?;
        Ok(send(py, &self.state, &self.io, bytes.as_bytes(), Timing::Now)?)
    }
}
