//! mod_wsgi's events (`subscribe_events`, `subscribe_shutdown`), the
//! per-request scratchpad (`request_data()`, `active_requests`), and the
//! signals a daemon process hands to `subscribe_signals` callbacks.
//!
//! Subscriptions live in each interpreter's `mod_wsgi` module, so an event
//! reaches the callbacks of the interpreter it happens in; the process
//! events (`process_stopping`, signals) go to every interpreter.

use super::io::log_process;
use super::metrics::Finished;
use crate::common::log::{LogLevel, with_pid};
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The request this thread runs. Its scratchpad dict and id string are
/// made on demand (most requests never need them): `data` and `id` are
/// references owned here, released when the request's [`Scope`] ends.
#[derive(Clone, Copy)]
struct Current {
    handles: Option<Handles>,
    /// The request id's bytes, borrowed from the request's variables,
    /// which outlive the scope.
    id_bytes: Option<(*const u8, usize)>,
    data: *mut ffi::PyObject,
    id: *mut ffi::PyObject,
    subscribers: bool,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

impl Current {
    /// The request id as a string, made now if needed.
    fn id<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        if self.id.is_null() {
            let (ptr, len) = self.id_bytes?;
            // SAFETY: the bytes of the request's variables, alive for the scope.
            let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
            self.id = super::strings::latin1(py, bytes).ok()?.into_ptr();
        }
        // SAFETY: owned by this record (above), released only when it ends.
        Some(unsafe { Bound::from_borrowed_ptr(py, self.id).cast_into_unchecked() })
    }

    /// The scratchpad, made now if needed and then listed in
    /// `active_requests` when that dict exists.
    fn data<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.data.is_null() {
            let data = PyDict::new(py);
            if let (Some(active), Some(id)) = (self.handles.and_then(|h| h.active_requests(py)), self.id(py)) {
                active.set_item(id, &data)?;
            }
            self.data = data.into_ptr();
        }
        // SAFETY: owned by this record, as `id`.
        Ok(unsafe { Bound::from_borrowed_ptr(py, self.data).cast_into_unchecked() })
    }
}

/// Runs `f` on this thread's request record, keeping what it made. The
/// record is taken meanwhile, so that Python code `f` may run (a
/// finalizer) finds no request rather than a copy that would make a
/// second dict.
fn with_current<R>(f: impl FnOnce(&mut Current) -> R) -> Option<R> {
    let mut current = CURRENT.with(Cell::take)?;
    let r = f(&mut current);
    CURRENT.with(|c| c.set(Some(current)));
    Some(r)
}

/// This thread's handles on one interpreter's `mod_wsgi` module: its
/// `__dict__`, and the keys looked up in it on every request. Each holds a
/// reference never released (as the spare streams of errors.rs do: a
/// process has few interpreters and threads, and they live as long as it).
#[derive(Clone, Copy)]
struct Handles {
    interp: usize,
    dict: *mut ffi::PyObject,
    active: *mut ffi::PyObject,
    callbacks: *mut ffi::PyObject,
}

thread_local! {
    static HANDLES: std::cell::RefCell<Vec<Handles>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The current interpreter's handles, made on first use on this thread.
fn handles(py: Python<'_>) -> Option<Handles> {
    // SAFETY: the GIL is held, so there is a current interpreter.
    let interp = unsafe { ffi::PyInterpreterState_Get() } as usize;
    if let Some(h) = HANDLES.with(|h| h.borrow().iter().find(|h| h.interp == interp).copied()) {
        return Some(h);
    }
    let key = super::strings::interned(py, b"mod_wsgi").ok()?;
    let module = super::script::sys_modules(py).ok()?.get_item(key).ok().flatten()?;
    let dict = module.getattr("__dict__").ok()?.cast_into::<PyDict>().ok()?;
    let h = Handles {
        interp,
        dict: dict.into_ptr(),
        active: PyString::intern(py, "active_requests").into_ptr(),
        callbacks: PyString::intern(py, "event_callbacks").into_ptr(),
    };
    HANDLES.with(|v| v.borrow_mut().push(h));
    Some(h)
}

impl Handles {
    /// `mod_wsgi.<key>` (borrowed), if set.
    fn get<'py>(&self, py: Python<'py>, key: *mut ffi::PyObject) -> Option<Bound<'py, PyAny>> {
        // SAFETY: the GIL is held in the interpreter the handles belong to
        // (callers look them up for the current one); both objects are
        // alive through the references the handles hold. PyDict_GetItem
        // returns a borrowed reference or null, and sets no exception.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, ffi::PyDict_GetItem(self.dict, key)) }
    }

    fn active_requests<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyDict>> {
        self.get(py, self.active)?.cast_into::<PyDict>().ok()
    }

    /// `mod_wsgi.event_callbacks`, when it is a list and not empty.
    fn event_callbacks<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyList>> {
        let list = self.get(py, self.callbacks)?.cast_into::<PyList>().ok()?;
        (!list.is_empty()).then_some(list)
    }

    /// Another list of the module (rare events), when not empty.
    fn list<'py>(&self, py: Python<'py>, name: &str) -> Option<Bound<'py, PyList>> {
        let key = PyString::new(py, name);
        let list = self.get(py, key.as_ptr())?.cast_into::<PyList>().ok()?;
        (!list.is_empty()).then_some(list)
    }
}

/// One request's scratchpad and identity, from before the application is
/// called to after its response is sent.
pub struct Scope<'py> {
    py: Python<'py>,
    /// Whether this interpreter has event subscribers (checked once).
    pub subscribers: bool,
}

impl<'py> Scope<'py> {
    /// Opens the request's scope. Its `request_data()` dict is made now
    /// when events need it or `mod_wsgi.active_requests` has been used
    /// (and must list it), else when asked for. `request_id` must outlive
    /// the scope.
    pub fn begin(py: Python<'py>, request_id: Option<&[u8]>) -> Self {
        let handles = handles(py);
        let subscribers = handles.is_some_and(|h| h.event_callbacks(py).is_some());
        let mut current = Current {
            handles,
            id_bytes: request_id.map(|id| (id.as_ptr(), id.len())),
            data: std::ptr::null_mut(),
            id: std::ptr::null_mut(),
            subscribers,
        };
        let eager = subscribers || handles.is_some_and(|h| h.active_requests(py).is_some());
        // A dict that cannot be made now is made (or fails) when asked for.
        if eager && current.data(py).is_err() {
            // SAFETY: the GIL is held; the failure left an exception set.
            unsafe { ffi::PyErr_Clear() };
        }
        CURRENT.with(|c| c.set(Some(current)));
        Scope { py, subscribers }
    }

    /// Calls the subscribers with event `name` and `kwargs` (which their
    /// returned dicts update); the `request_data` and `request_id` keys
    /// are added here.
    pub fn publish(&self, name: &str, kwargs: &Bound<'py, PyDict>) {
        let py = self.py;
        let Some(Some(list)) = with_current(|c| c.handles.and_then(|h| h.event_callbacks(py))) else { return };
        if set_current(py, kwargs).is_ok() {
            call_all(py, name, &list, kwargs);
        }
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        let Some(c) = CURRENT.with(|c| c.take()) else { return };
        let py = self.py;
        // SAFETY: the GIL is held (the scope lives inside the request's
        // attached call); `data` and `id` are this record's own
        // references, released once. A key the application removed from
        // active_requests sets KeyError, which is cleared.
        unsafe {
            if !c.data.is_null() {
                if !c.id.is_null()
                    && let Some(active) = c.handles.and_then(|h| h.active_requests(py))
                    && ffi::PyDict_DelItem(active.as_ptr(), c.id) != 0
                {
                    ffi::PyErr_Clear();
                }
                ffi::Py_DECREF(c.data);
            }
            if !c.id.is_null() {
                ffi::Py_DECREF(c.id);
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
                let mut lines = vec![with_pid("Exception occurred within event callback.")];
                lines.extend(super::call::traceback_lines(py, &e));
                py.detach(|| lines.iter().for_each(|l| log_process(LogLevel::Error, l)));
            }
        }
    }
}

/// `mod_wsgi.request_data()`.
#[pyfunction]
pub fn request_data(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    with_current(|c| c.data(py)).unwrap_or_else(|| Err(PyRuntimeError::new_err("no active request for thread")))
}

/// Called when `mod_wsgi.active_requests` is first used in an interpreter
/// (the module makes the dict then): lists the asking request in it.
/// Requests of other threads running at that moment are not listed.
#[pyfunction]
pub fn list_active_request(py: Python<'_>, active: &Bound<'_, PyDict>) -> PyResult<()> {
    let made = with_current(|c| -> PyResult<()> {
        let data = c.data(py)?;
        if let Some(id) = c.id(py) {
            active.set_item(id, data)?;
        }
        Ok(())
    });
    made.unwrap_or(Ok(()))
}

/// The `response_started` event, from `start_response` on the request's
/// own thread.
pub fn response_started(
    py: Python<'_>,
    status: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    exc_info: Option<&Bound<'_, PyAny>>,
) {
    if !CURRENT.with(Cell::get).is_some_and(|c| c.subscribers) {
        return;
    }
    let Some(list) = handles(py).and_then(|h| h.event_callbacks(py)) else { return };
    let kwargs = PyDict::new(py);
    let set = || -> PyResult<()> {
        set_current(py, &kwargs)?;
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
fn set_current(py: Python<'_>, kwargs: &Bound<'_, PyDict>) -> PyResult<()> {
    with_current(|c| -> PyResult<()> {
        if let Some(id) = c.id(py) {
            kwargs.set_item("request_id", id)?;
        }
        kwargs.set_item("request_data", c.data(py)?)
    })
    .unwrap_or(Ok(()))
}

/// The `request_exception` event: `err` came out of the application.
pub fn request_exception(py: Python<'_>, err: &PyErr) {
    if !CURRENT.with(Cell::get).is_some_and(|c| c.subscribers) {
        return;
    }
    let Some(list) = handles(py).and_then(|h| h.event_callbacks(py)) else { return };
    let kwargs = PyDict::new(py);
    let info = (err.get_type(py), err.value(py), err.traceback(py));
    let set = || -> PyResult<()> {
        set_current(py, &kwargs)?;
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
    let py = scope.py;
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
        let Some(h) = handles(py) else { return };
        let kwargs = PyDict::new(py);
        if kwargs.set_item("shutdown_reason", reason).is_err() {
            return;
        }
        for list in ["event_callbacks", "shutdown_callbacks"] {
            if let Some(list) = h.list(py, list) {
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
        let Some(list) = handles(py).and_then(|h| h.list(py, "signal_callbacks")) else { return };
        let sig = match py.import("signal").and_then(|s| s.getattr("Signals")?.call1((signal,))) {
            Ok(sig) => sig,
            Err(_) => {
                let Ok(n) = signal.into_pyobject(py);
                n.into_any()
            }
        };
        for callback in list.to_tuple().iter() {
            if let Err(e) = callback.call1((&sig,)) {
                let mut lines = vec![with_pid("Exception occurred within signal callback.")];
                lines.extend(super::call::traceback_lines(py, &e));
                py.detach(|| lines.iter().for_each(|l| log_process(LogLevel::Error, l)));
            }
        }
    });
    true
}
