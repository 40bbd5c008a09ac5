//! mod_wsgi's events (`subscribe_events`, `subscribe_shutdown`), the
//! per-request scratchpad (`request_data()`, `active_requests`), and the
//! signals a daemon process hands to `subscribe_signals` callbacks.
//!
//! Subscriptions live in each interpreter's `mod_wsgi` module, so an event
//! reaches the callbacks of the interpreter it happens in; the process
//! events (`process_stopping`, signals) go to every interpreter.

use super::io::{LogLevel, log_process};
use super::metrics::Finished;
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The request this thread runs, as `request_data()` and the events of
/// `start_response` find it. The pointers are borrowed from the live
/// [`Scope`], which holds them for the request.
#[derive(Clone, Copy)]
struct Current {
    data: *mut ffi::PyObject,
    id: *mut ffi::PyObject,
    subscribers: bool,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// This interpreter's `mod_wsgi` module, when it has one.
fn module(py: Python<'_>) -> Option<Bound<'_, PyAny>> {
    let key = super::strings::interned(py, b"mod_wsgi").ok()?;
    super::script::sys_modules(py).ok()?.get_item(key).ok().flatten()
}

/// `mod_wsgi.<name>` as a list, when it is one and not empty.
fn callbacks<'py>(module: &Bound<'py, PyAny>, name: &[u8]) -> Option<Bound<'py, PyList>> {
    let key = super::strings::interned(module.py(), name).ok()?;
    let list = module.getattr(key).ok()?.cast_into::<PyList>().ok()?;
    (!list.is_empty()).then_some(list)
}

/// One request's scratchpad and identity, from before the application is
/// called to after its response is sent.
pub struct Scope<'py> {
    module: Option<Bound<'py, PyAny>>,
    pub data: Bound<'py, PyDict>,
    pub id: Option<Bound<'py, PyString>>,
    /// Whether this interpreter has event subscribers (checked once).
    pub subscribers: bool,
}

impl<'py> Scope<'py> {
    /// Opens the request's scope: its `request_data()` dict, listed in
    /// `mod_wsgi.active_requests` under `request_id`.
    pub fn begin(py: Python<'py>, request_id: Option<&[u8]>) -> PyResult<Self> {
        let module = module(py);
        let data = PyDict::new(py);
        let id = request_id.map(|id| super::strings::latin1(py, id)).transpose()?;
        if let (Some(m), Some(id)) = (&module, &id)
            && let Ok(active) = m.getattr(super::strings::interned(py, b"active_requests")?)
            && let Ok(active) = active.cast::<PyDict>()
        {
            active.set_item(id, &data)?;
        }
        let subscribers = module.as_ref().and_then(|m| callbacks(m, b"event_callbacks")).is_some();
        let current =
            Current { data: data.as_ptr(), id: id.as_ref().map_or(std::ptr::null_mut(), |i| i.as_ptr()), subscribers };
        CURRENT.with(|c| c.set(Some(current)));
        Ok(Scope { module, data, id, subscribers })
    }

    /// Calls the subscribers with event `name` and `kwargs` (which their
    /// returned dicts update); the `request_data` and `request_id` keys
    /// are added here.
    pub fn publish(&self, name: &str, kwargs: &Bound<'py, PyDict>) {
        let Some(module) = &self.module else { return };
        let Some(list) = callbacks(module, b"event_callbacks") else { return };
        let py = kwargs.py();
        if let Some(id) = &self.id {
            let _ = kwargs.set_item("request_id", id);
        }
        let _ = kwargs.set_item("request_data", &self.data);
        call_all(py, name, &list, kwargs);
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(None));
        if let (Some(m), Some(id)) = (&self.module, &self.id) {
            let py = m.py();
            let removed = super::strings::interned(py, b"active_requests")
                .and_then(|k| m.getattr(k))
                .and_then(|a| Ok(a.cast_into::<PyDict>()?))
                .and_then(|a| if a.contains(id)? { a.del_item(id) } else { Ok(()) });
            if removed.is_err() {
                // SAFETY: the GIL is held (the scope lives inside the request's attached call).
                unsafe { ffi::PyErr_Clear() };
            }
        }
    }
}

/// Calls each callback of `list` (a copy: a callback may subscribe more)
/// as `callback(name, **kwargs)`; a dict it returns updates `kwargs` for
/// the next ones. Exceptions are logged, as mod_wsgi logs them.
fn call_all(py: Python<'_>, name: &str, list: &Bound<'_, PyList>, kwargs: &Bound<'_, PyDict>) {
    let Ok(args) = PyTuple::new(py, [name]) else { return };
    for callback in list.to_tuple().iter() {
        match callback.call(&args, Some(kwargs)) {
            Ok(result) => {
                if let Ok(update) = result.cast::<PyDict>() {
                    let _ = kwargs.update(update.as_mapping());
                }
            }
            Err(e) => {
                let mut lines =
                    vec![format!("mod_wsgi (pid={}): Exception occurred within event callback.", std::process::id())];
                lines.extend(super::call::traceback_lines(py, &e));
                py.detach(|| lines.iter().for_each(|l| log_process(LogLevel::Error, l)));
            }
        }
    }
}

/// `mod_wsgi.request_data()`.
#[pyfunction]
pub fn request_data(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    match CURRENT.with(Cell::get) {
        // SAFETY: the scope of this thread's request holds the dict alive
        // until it clears CURRENT; the GIL is held.
        Some(c) if !c.data.is_null() => Ok(unsafe { Bound::from_borrowed_ptr(py, c.data) }),
        _ => Err(PyRuntimeError::new_err("no active request for thread")),
    }
}

/// The `response_started` event, from `start_response` on the request's
/// own thread.
pub fn response_started(
    py: Python<'_>,
    status: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    exc_info: Option<&Bound<'_, PyAny>>,
) {
    let Some(current) = CURRENT.with(Cell::get).filter(|c| c.subscribers) else { return };
    let Some(list) = module(py).and_then(|m| callbacks(&m, b"event_callbacks")) else { return };
    let kwargs = PyDict::new(py);
    let set = || -> PyResult<()> {
        set_current(py, &kwargs, current)?;
        kwargs.set_item("response_status", status)?;
        kwargs.set_item("response_headers", headers)?;
        kwargs.set_item("exception_info", exc_info.map_or_else(|| py.None().into_bound(py), Clone::clone))?;
        Ok(())
    };
    if set().is_ok() {
        call_all(py, "response_started", &list, &kwargs);
    }
}

/// `request_id` and `request_data` of the current request.
fn set_current(py: Python<'_>, kwargs: &Bound<'_, PyDict>, c: Current) -> PyResult<()> {
    if !c.id.is_null() {
        // SAFETY: held by the live scope, as in request_data.
        kwargs.set_item("request_id", unsafe { Bound::from_borrowed_ptr(py, c.id) })?;
    }
    // SAFETY: as above.
    kwargs.set_item("request_data", unsafe { Bound::from_borrowed_ptr(py, c.data) })
}

/// The `request_exception` event: `err` came out of the application.
pub fn request_exception(py: Python<'_>, err: &PyErr) {
    let Some(current) = CURRENT.with(Cell::get).filter(|c| c.subscribers) else { return };
    let Some(list) = module(py).and_then(|m| callbacks(&m, b"event_callbacks")) else { return };
    let kwargs = PyDict::new(py);
    let info = (err.get_type(py), err.value(py), err.traceback(py));
    let set = || -> PyResult<()> {
        set_current(py, &kwargs, current)?;
        kwargs.set_item("exception_info", info.into_pyobject(py)?)?;
        Ok(())
    };
    if set().is_ok() {
        call_all(py, "request_exception", &list, &kwargs);
    }
}

fn seconds(us: i64) -> f64 {
    us as f64 / 1e6
}

/// The `request_finished` event. `cpu` is the thread's user and system
/// CPU seconds for the request.
pub fn request_finished(scope: &Scope<'_>, f: &Finished, cpu: (f64, f64)) {
    let py = scope.data.py();
    let kwargs = PyDict::new(py);
    let set = || -> PyResult<()> {
        kwargs.set_item("input_reads", f.input_reads)?;
        kwargs.set_item("input_length", f.input_bytes)?;
        kwargs.set_item("input_time", f.input_us as f64 / 1e6)?;
        kwargs.set_item("output_length", f.output_bytes)?;
        kwargs.set_item("output_writes", f.output_writes)?;
        kwargs.set_item("cpu_user_time", cpu.0)?;
        kwargs.set_item("cpu_system_time", cpu.1)?;
        kwargs.set_item("cpu_time", cpu.0 + cpu.1)?;
        kwargs.set_item("output_time", f.output_us as f64 / 1e6)?;
        kwargs.set_item("application_finish", seconds(f.application_finish))?;
        kwargs.set_item("application_time", seconds(f.application_finish - f.application_start))?;
        // mod_wsgi 6 adds these.
        kwargs.set_item("thread_id", f.thread_id)?;
        kwargs.set_item("request_start", seconds(f.request_start))?;
        kwargs.set_item("queue_start", seconds(f.queue_start))?;
        kwargs.set_item("daemon_start", seconds(f.daemon_start))?;
        kwargs.set_item("application_start", seconds(f.application_start))?;
        kwargs.set_item("status", f.status)?;
        kwargs.set_item("gil_wait_time", f.gil_wait_us as f64 / 1e6)?;
        kwargs.set_item("gil_wait_count", f.gil_wait_count)?;
        Ok(())
    };
    if set().is_ok() {
        scope.publish("request_finished", &kwargs);
    }
}

/// Why this process stops, for `process_stopping` ("" until known).
static SHUTDOWN_REASON: AtomicU8 = AtomicU8::new(0);

/// Records why the process stops (the first reason given wins).
pub fn set_shutdown_reason(reason: wsgi_core::telemetry::StopReason) {
    let _ = SHUTDOWN_REASON.compare_exchange(0, reason.code(), Ordering::SeqCst, Ordering::SeqCst);
}

fn shutdown_reason() -> &'static str {
    wsgi_core::telemetry::StopReason::from_code(SHUTDOWN_REASON.load(Ordering::SeqCst)).map_or("", |r| r.name())
}

/// Runs `f` attached in each interpreter of the process (the main one
/// first), for the process-wide events.
fn in_every_interpreter(f: &mut dyn FnMut(Python<'_>)) {
    let mut groups = super::interpreters::group_names();
    groups.insert(0, String::new());
    for group in groups {
        if let Ok(_entered) = super::interpreters::enter(&group, super::interpreter_setup::setup) {
            super::attached::run(&mut *f);
        }
    }
}

/// Publishes `process_stopping` in every interpreter: to the
/// `subscribe_events` callbacks, then the `subscribe_shutdown` ones.
/// Called once, before Python is finalised.
pub fn process_stopping() {
    let reason = shutdown_reason();
    in_every_interpreter(&mut |py| {
        let Some(module) = module(py) else { return };
        let kwargs = PyDict::new(py);
        if kwargs.set_item("shutdown_reason", reason).is_err() {
            return;
        }
        for list in [b"event_callbacks".as_slice(), b"shutdown_callbacks"] {
            if let Some(list) = callbacks(&module, list) {
                call_all(py, "process_stopping", &list, &kwargs);
            }
        }
    });
}

/// How many `subscribe_signals` callbacks the process's interpreters hold.
static SIGNAL_SUBSCRIBERS: AtomicUsize = AtomicUsize::new(0);

/// Called by `mod_wsgi.subscribe_signals`.
#[pyfunction]
pub fn note_signal_subscriber() {
    SIGNAL_SUBSCRIBERS.fetch_add(1, Ordering::SeqCst);
}

/// Hands `signal` (SIGHUP or SIGUSR2, received by a daemon process) to the
/// `subscribe_signals` callbacks, as `callback(signal.Signals(n))`; false
/// when there are none, and the signal keeps its usual meaning.
pub fn deliver_signal(signal: i32) -> bool {
    if SIGNAL_SUBSCRIBERS.load(Ordering::SeqCst) == 0 {
        return false;
    }
    in_every_interpreter(&mut |py| {
        let Some(list) = module(py).and_then(|m| callbacks(&m, b"signal_callbacks")) else { return };
        let sig = match py.import("signal").and_then(|s| s.getattr("Signals")?.call1((signal,))) {
            Ok(sig) => sig,
            Err(_) => {
                let Ok(n) = signal.into_pyobject(py);
                n.into_any()
            }
        };
        for callback in list.to_tuple().iter() {
            if let Err(e) = callback.call1((&sig,)) {
                let mut lines =
                    vec![format!("mod_wsgi (pid={}): Exception occurred within signal callback.", std::process::id())];
                lines.extend(super::call::traceback_lines(py, &e));
                py.detach(|| lines.iter().for_each(|l| log_process(LogLevel::Error, l)));
            }
        }
    });
    true
}
