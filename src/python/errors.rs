//! Streams whose lines go to the server's error log: `wsgi.errors`
//! (attributed to its request while that lasts), and `sys.stderr`.
//!
//! As in mod_wsgi, `wsgi.errors` is an `io.TextIOWrapper` (UTF-8,
//! `errors='replace'`, line buffered, write-through) over a binary
//! [`LogBuffer`] that logs each complete line and keeps a partial last line
//! until it is flushed. `sys.stderr` (and `sys.stdout` unless restricted)
//! are the same kind of stream, with no request.
//!
//! Making the wrapper costs more than the rest of a small request's
//! environ, so a thread keeps the last one per interpreter for its next
//! request when the application left no trace on it: no reference kept,
//! nothing written, flushed, closed, reconfigured or set on it. Such a
//! wrapper cannot be told apart from a new one.

use super::io::{SharedIo, log_process, with_io};
use crate::common::log::LogLevel;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::cell::RefCell;

thread_local! {
    /// The request this thread is running, if any: what `sys.stderr` and
    /// `print()` write during it is logged as the request's, as mod_wsgi
    /// does (the line carries the client's address).
    static CURRENT: RefCell<Option<SharedIo>> = const { RefCell::new(None) };
}

/// While the guard lives, process-wide streams written on this thread
/// are attributed to `io`'s request.
pub fn attribute_to(io: &SharedIo) -> impl Drop {
    CURRENT.with(|c| *c.borrow_mut() = Some(io.clone()));
    struct Attributed;
    impl Drop for Attributed {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
    Attributed
}

/// Sends `lines` to the request's log (a process-wide stream's: the
/// request this thread runs), or to the server's log when there is no
/// request or it is over.
fn emit(py: Python<'_>, io: Option<&SharedIo>, lines: Vec<String>) {
    log_lines(py, io, LogLevel::Error, lines);
}

/// Logs `lines` at `level` as `io`'s request's (by default the request
/// this thread runs), or as the server's when there is none.
pub fn log_lines(py: Python<'_>, io: Option<&SharedIo>, level: LogLevel, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let current = if io.is_none() { CURRENT.with(|c| c.borrow().clone()) } else { None };
    let logged = io.or(current.as_ref()).is_some_and(|io| {
        with_io(py, io, |io| {
            for line in &lines {
                io.log(level, line);
            }
            Ok(())
        })
        .is_ok()
    });
    if !logged {
        py.detach(|| lines.iter().for_each(|l| log_process(level, l)));
    }
}

/// The binary buffer under `wsgi.errors`, `sys.stderr` and `sys.stdout`
/// (mod_wsgi's `mod_wsgi.Log`).
#[pyclass(module = "mod_wsgi", name = "Log")]
pub struct LogBuffer {
    io: Option<SharedIo>,
    #[pyo3(get)]
    name: &'static str,
    partial: Vec<u8>,
    /// Called through the wrapper (by the application) at least once.
    used: bool,
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

impl LogBuffer {
    fn flush_partial(&mut self, py: Python<'_>) {
        if !self.partial.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            emit(py, self.io.as_ref(), vec![rest]);
        }
    }

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
    /// Any bytes-like object: `bytes`, `bytearray`, `memoryview`, ...
    fn write(&mut self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.used = true;
        let n = match data.cast::<PyBytes>() {
            Ok(b) => {
                self.partial.extend_from_slice(b.as_bytes());
                b.as_bytes().len()
            }
            Err(_) => {
                let copied = PyBuffer::<u8>::get(data).and_then(|b| b.to_vec(py)).map_err(|_| {
                    PyTypeError::new_err(format!("a bytes-like object is required, not '{}'", type_name(data)))
                })?;
                self.partial.extend_from_slice(&copied);
                copied.len()
            }
        };
        let lines = self.take_lines();
        emit(py, self.io.as_ref(), lines);
        Ok(n)
    }

    fn writelines(&mut self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(py, &line?)?;
        }
        Ok(())
    }

    fn flush(&mut self, py: Python<'_>) {
        self.used = true;
        self.flush_partial(py);
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

/// `wsgi.errors` of one request, and the buffer under it.
pub struct RequestStream<'py> {
    pub wrapper: Bound<'py, PyAny>,
    buffer: Bound<'py, LogBuffer>,
}

thread_local! {
    /// (interpreter address, wrapper, buffer): a stream kept for this
    /// thread's next request in that interpreter. Each holds one reference
    /// that is never released: a process has few interpreters and threads,
    /// and releasing after finalisation would crash it.
    static SPARE: RefCell<Vec<(usize, usize, usize)>> = const { RefCell::new(Vec::new()) };
}

fn current_interpreter() -> usize {
    // SAFETY: callers hold the GIL, so there is a current interpreter.
    unsafe { pyo3::ffi::PyInterpreterState_Get() as usize }
}

/// `wsgi.errors` for one request: a text stream as mod_wsgi's.
pub fn request_stream<'py>(py: Python<'py>, io: SharedIo) -> PyResult<RequestStream<'py>> {
    let interp = current_interpreter();
    let spare = SPARE.with(|s| {
        let mut s = s.borrow_mut();
        s.iter().position(|(i, _, _)| *i == interp).map(|at| s.swap_remove(at))
    });
    if let Some((_, wrapper, buffer)) = spare {
        // SAFETY: both were stored by `recycle` in this interpreter with a
        // reference each, which is handed back here.
        let (wrapper, buffer) = unsafe {
            (
                Bound::from_owned_ptr(py, wrapper as *mut pyo3::ffi::PyObject),
                Bound::from_owned_ptr(py, buffer as *mut pyo3::ffi::PyObject).cast_into_unchecked::<LogBuffer>(),
            )
        };
        buffer.borrow_mut().io = Some(io);
        return Ok(RequestStream { wrapper, buffer });
    }
    let buffer = Bound::new(py, LogBuffer { io: Some(io), name: "<wsgi.errors>", partial: Vec::new(), used: false })?;
    let wrapper = text_stream(py, &buffer)?;
    Ok(RequestStream { wrapper, buffer })
}

/// `sys.stderr` or `sys.stdout` (`name` is `<stderr>` or `<stdout>`): lines
/// go to the server's error log.
pub fn process_stream<'py>(py: Python<'py>, name: &'static str) -> PyResult<Bound<'py, PyAny>> {
    let buffer = Bound::new(py, LogBuffer { io: None, name, partial: Vec::new(), used: false })?;
    text_stream(py, &buffer)
}

/// The text stream over `buffer`, made as mod_wsgi makes it.
fn text_stream<'py>(py: Python<'py>, buffer: &Bound<'py, LogBuffer>) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "encoding"), intern!(py, "utf-8"))?;
    kwargs.set_item(intern!(py, "errors"), intern!(py, "replace"))?;
    kwargs.set_item(intern!(py, "line_buffering"), true)?;
    kwargs.set_item(intern!(py, "write_through"), true)?;
    super::script::loaded_module(py, "io")?
        .getattr(intern!(py, "TextIOWrapper"))?
        .call((buffer.clone(),), Some(&kwargs))
}

/// Ends the request's stream: logs what is left of a last line, detaches
/// the request, and keeps the stream for the next request if nothing but
/// this holds it and the application did not touch it.
pub fn finish(py: Python<'_>, stream: RequestStream<'_>) {
    let used = {
        let mut b = stream.buffer.borrow_mut();
        b.flush_partial(py);
        b.io = None;
        b.used
    };
    // The wrapper holds the buffer: one reference there and one here.
    // SAFETY: the GIL is held and both objects are alive.
    let alone = unsafe {
        pyo3::ffi::Py_REFCNT(stream.wrapper.as_ptr()) == 1 && pyo3::ffi::Py_REFCNT(stream.buffer.as_ptr()) == 2
    };
    let bare = || stream.wrapper.getattr(intern!(py, "__dict__")).ok().and_then(|d| d.len().ok()) == Some(0);
    if used || !alone || !bare() {
        return;
    }
    let interp = current_interpreter();
    let RequestStream { wrapper, buffer } = stream;
    let kept = (interp, wrapper.into_ptr() as usize, buffer.into_ptr() as usize);
    SPARE.with(|s| s.borrow_mut().push(kept));
}
