//! The `WSGIRestrict*` objects, as mod_wsgi 4.9 makes them: a restricted
//! `sys.stdin`/`sys.stdout` is a `mod_wsgi.Restricted` whose every
//! attribute raises `OSError`, and `signal.signal` is a
//! `mod_wsgi.SignalIntercept` that logs and ignores registrations.

use super::io::log_process;
use crate::common::log::{LogLevel, with_pid};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Stands in for `sys.stdin` or `sys.stdout`. Any attribute, even
/// `__class__`, raises, as mod_wsgi's does; `repr()` still works.
#[pyclass(module = "mod_wsgi", name = "Restricted", frozen)]
pub struct Restricted {
    /// `sys.stdin` or `sys.stdout`, for the message.
    what: &'static str,
}

impl Restricted {
    pub fn new(what: &'static str) -> Self {
        Self { what }
    }
}

#[pymethods]
impl Restricted {
    fn __getattribute__(&self, _name: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Err(PyOSError::new_err(format!("{} access restricted by mod_wsgi", self.what)))
    }
}

/// Replaces `signal.signal` under `WSGIRestrictSignal On`: a registration
/// is logged with the caller's stack and ignored (the handler is returned,
/// as mod_wsgi does). A process forked by the application (not the one
/// that set the interpreter up) gets the real function.
#[pyclass(module = "mod_wsgi", name = "SignalIntercept", frozen)]
pub struct SignalIntercept {
    wrapped: Py<PyAny>,
    pid: u32,
}

impl SignalIntercept {
    pub fn new(wrapped: Py<PyAny>) -> Self {
        Self { wrapped, pid: std::process::id() }
    }
}

#[pymethods]
impl SignalIntercept {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let pid = std::process::id();
        if pid != self.pid {
            return self.wrapped.call(py, args, kwargs);
        }
        let (signum, handler): (i32, Bound<'_, PyAny>) = args.extract()?;
        // The caller's frames: this call adds none, being native code.
        let stack: Vec<String> = py
            .import("traceback")
            .and_then(|tb| tb.call_method0("format_stack"))
            .and_then(|s| s.extract())
            .unwrap_or_default();
        py.detach(|| {
            log_process(
                LogLevel::Warning,
                &with_pid(format_args!("Callback registration for signal {signum} ignored.")),
            );
            for line in stack.iter().flat_map(|entry| entry.lines()) {
                log_process(LogLevel::Warning, line);
            }
        });
        Ok(handler.unbind())
    }
}
