//! Streams whose lines go to the server's error log: `wsgi.errors`
//! (attributed to its request while that lasts), and `sys.stderr`.
//!
//! As in mod_wsgi, `wsgi.errors` is an `io.TextIOWrapper` (UTF-8,
//! `errors='replace'`, line buffered, write-through) over a binary
//! [`LogBuffer`] that logs each complete line and keeps a partial last line
//! until it is flushed. [`ErrorLog`], for `sys.stderr`, does the same as one
//! text object.

use super::io::{LogLevel, SharedIo, log_process, with_io};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Sends `lines` to the request's log, or to the server's log when there
/// is no request or it is over.
fn emit(py: Python<'_>, io: Option<&SharedIo>, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let logged = io.is_some_and(|io| {
        with_io(py, io, |io| {
            for line in &lines {
                io.log(LogLevel::Error, line);
            }
            Ok(())
        })
        .is_ok()
    });
    if !logged {
        py.detach(|| lines.iter().for_each(|l| log_process(LogLevel::Error, l)));
    }
}

#[pyclass(module = "mod_wsgi")]
pub struct ErrorLog {
    /// The request the lines belong to; `None` for the process's log.
    io: Option<SharedIo>,
    partial: String,
}

impl ErrorLog {
    pub fn for_process() -> Self {
        Self { io: None, partial: String::new() }
    }
}

#[pymethods]
impl ErrorLog {
    fn write(&mut self, py: Python<'_>, text: &str) {
        self.partial.push_str(text);
        let mut lines = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            lines.push(self.partial[..i].to_string());
            self.partial.drain(..=i);
        }
        emit(py, self.io.as_ref(), lines);
    }

    fn writelines(&mut self, py: Python<'_>, lines: Vec<String>) {
        for l in lines {
            self.write(py, &l);
        }
    }

    fn flush(&mut self, py: Python<'_>) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            emit(py, self.io.as_ref(), vec![rest]);
        }
    }

    fn close(&mut self) {}

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    fn isatty(&self) -> bool {
        false
    }

    fn __del__(&mut self, py: Python<'_>) {
        self.flush(py);
    }
}

/// The binary buffer under `wsgi.errors` (mod_wsgi's `mod_wsgi.Log`).
#[pyclass(module = "mod_wsgi", name = "Log")]
pub struct LogBuffer {
    io: Option<SharedIo>,
    #[pyo3(get)]
    name: String,
    partial: Vec<u8>,
}

impl LogBuffer {
    fn take_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            lines.push(String::from_utf8_lossy(&self.partial[..i]).into_owned());
            self.partial.drain(..=i);
        }
        lines
    }
}

#[pymethods]
impl LogBuffer {
    fn write(&mut self, py: Python<'_>, data: &Bound<'_, PyBytes>) -> usize {
        let data = data.as_bytes();
        self.partial.extend_from_slice(data);
        let lines = self.take_lines();
        emit(py, self.io.as_ref(), lines);
        data.len()
    }

    fn flush(&mut self, py: Python<'_>) {
        if !self.partial.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            emit(py, self.io.as_ref(), vec![rest]);
        }
    }

    fn close(&mut self, py: Python<'_>) {
        self.flush(py);
    }

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    fn isatty(&self) -> bool {
        false
    }

    fn readable(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        true
    }

    fn seekable(&self) -> bool {
        false
    }
}

/// `wsgi.errors` for one request: a text stream as mod_wsgi's.
pub fn request_stream<'py>(py: Python<'py>, io: SharedIo) -> PyResult<Bound<'py, PyAny>> {
    let buffer = Bound::new(py, LogBuffer { io: Some(io), name: "<wsgi.errors>".into(), partial: Vec::new() })?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("encoding", "utf-8")?;
    kwargs.set_item("errors", "replace")?;
    kwargs.set_item("line_buffering", true)?;
    kwargs.set_item("write_through", true)?;
    super::script::loaded_module(py, "io")?.getattr("TextIOWrapper")?.call((buffer,), Some(&kwargs))
}
