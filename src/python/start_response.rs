//! `start_response` and the `write` callable it returns, and the
//! response state they share with the iteration of the application's result.

use super::io::{IoError, SharedIo, with_io};
use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Arc;
use wsgi_core::headers;

/// Status and headers given to `start_response`, and whether they are sent.
/// Only touched with the GIL held.
#[derive(Default)]
pub struct ResponseState {
    pending: Option<(String, Vec<(String, String)>)>,
    sent: bool,
}

pub type SharedResponse = Arc<Mutex<ResponseState>>;

impl ResponseState {
    pub fn started(&self) -> bool {
        self.pending.is_some() || self.sent
    }

    pub fn headers_sent(&self) -> bool {
        self.sent
    }
}

fn io_err(e: IoError) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(e.to_string())
}

/// Sends the headers if they are not yet sent, then `data` (may be empty).
pub fn send(py: Python<'_>, state: &SharedResponse, io: &SharedIo, data: &[u8]) -> PyResult<()> {
    let headers = {
        let mut st = state.lock();
        if st.sent {
            None
        } else {
            let pending = st.pending.take().ok_or_else(|| PyRuntimeError::new_err("response has not been started"))?;
            st.sent = true;
            Some(pending)
        }
    };
    with_io(py, io, |io| {
        if let Some((status, hdrs)) = &headers {
            io.send_headers(status, hdrs)?;
        }
        if data.is_empty() { Ok(()) } else { io.write(data) }
    })
    .map_err(io_err)
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

/// A header name, value or status as mod_wsgi accepts it: a `str` that
/// latin-1 can encode, with mod_wsgi's messages otherwise.
fn header_text(item: &Bound<'_, PyAny>) -> PyResult<String> {
    let s: String = item.extract().map_err(|_| {
        let ty = item.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        PyTypeError::new_err(format!("expected unicode object, value of type {ty} found"))
    })?;
    if s.chars().any(|c| c as u32 > 0xff) {
        return Err(PyValueError::new_err("unicode object contains non latin-1 characters"));
    }
    Ok(s)
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
        let exc_info = exc_info.filter(|e| !e.is_none());
        if let Some(info) = exc_info {
            let tuple = info
                .cast::<PyTuple>()
                .map_err(|_| PyTypeError::new_err("exc_info must be a tuple of (type, value, traceback)"))?;
            if self.state.lock().sent {
                // PEP 3333: too late to change the response; re-raise.
                let value = tuple.get_item(1)?;
                return Err(PyErr::from_value(value));
            }
        } else if self.state.lock().sent {
            return Err(PyRuntimeError::new_err("headers have already been sent"));
        }
        let status = header_text(status)?;
        headers::parse_status(&status).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut hdrs = Vec::new();
        for item in response_headers.try_iter()? {
            let item = item?;
            let pair = item
                .cast::<PyTuple>()
                .map_err(|_| PyTypeError::new_err("response header must be a (name, value) tuple"))?;
            if pair.len() != 2 {
                return Err(PyValueError::new_err("response header must be a (name, value) tuple"));
            }
            let name = header_text(&pair.get_item(0)?)?;
            let value = header_text(&pair.get_item(1)?)?;
            headers::check_header(&name, &value).map_err(|e| PyValueError::new_err(e.to_string()))?;
            hdrs.push((name, value));
        }
        self.state.lock().pending = Some((status, hdrs));
        let _ = py;
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
        let bytes =
            data.cast::<PyBytes>().map_err(|_| PyTypeError::new_err("write() argument must be a bytes object"))?;
        send(py, &self.state, &self.io, bytes.as_bytes())
    }
}
