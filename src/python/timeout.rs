//! `interrupt-timeout=` (mod_wsgi 6): a request running past
//! `request-timeout` gets `mod_wsgi.RequestTimeout` raised in its thread,
//! the next time that thread runs Python code. The daemon's monitor asks
//! for that and judges, from how long ago it did, whether to recycle the
//! process instead.
//!
//! Requests are tracked only in processes where it is enabled.

use crate::common::log::with_pid;
use parking_lot::Mutex;
use pyo3::ffi;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);

struct Running {
    /// `threading.get_ident()` of the request's thread.
    ident: u64,
    group: String,
    started: Instant,
    interrupted: Option<Instant>,
}

static RUNNING: Mutex<Vec<Running>> = Mutex::new(Vec::new());

/// Turns tracking on (a daemon process with interrupt-timeout set).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

fn this_thread() -> u64 {
    // SAFETY: pthread_self has no preconditions; it is what CPython
    // reports as the thread's ident.
    unsafe { libc::pthread_self() as u64 }
}

/// A request of application group `group` starts on this thread.
pub(super) fn began(group: &str) {
    if ENABLED.load(Ordering::Relaxed) {
        let ident = this_thread();
        RUNNING.lock().push(Running { ident, group: group.to_string(), started: Instant::now(), interrupted: None });
    }
}

/// This thread's request ended; whether it had been interrupted. An
/// exception asked for but not yet raised is withdrawn, so it cannot hit
/// the thread's next request. The GIL of the request's interpreter is held.
pub(super) fn ended() -> bool {
    if !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    let ident = this_thread();
    let mut running = RUNNING.lock();
    let Some(at) = running.iter().position(|r| r.ident == ident) else { return false };
    let interrupted = running.swap_remove(at).interrupted.is_some();
    drop(running);
    if interrupted {
        // SAFETY: the GIL is held in the interpreter the request ran in;
        // a null exception clears the thread's pending one.
        unsafe { ffi::PyThreadState_SetAsyncExc(ident as std::ffi::c_long, std::ptr::null_mut()) };
    }
    interrupted
}

/// Raises `RequestTimeout` in every request running longer than `limit`
/// and not interrupted yet; returns how long ago the longest-ago
/// interrupted request still running was interrupted.
pub fn interrupt_overdue(limit: Duration) -> Option<Duration> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    let overdue: Vec<(u64, String)> = {
        let mut running = RUNNING.lock();
        running
            .iter_mut()
            .filter(|r| r.interrupted.is_none() && r.started.elapsed() >= limit)
            .map(|r| {
                r.interrupted = Some(Instant::now());
                (r.ident, r.group.clone())
            })
            .collect()
    };
    for (ident, group) in overdue {
        interrupt(ident, &group);
    }
    RUNNING.lock().iter().filter_map(|r| r.interrupted.map(|t| t.elapsed())).max()
}

/// Raises the interpreter's `mod_wsgi.RequestTimeout` in thread `ident`.
fn interrupt(ident: u64, group: &str) {
    let Ok(_entered) = super::interpreters::enter(group, super::interpreter_setup::setup) else { return };
    super::attached::run(|py| {
        let class = py.import("mod_wsgi").and_then(|m| m.getattr("RequestTimeout"));
        let found = match &class {
            // SAFETY: the GIL is held in the request's interpreter; the
            // class is a live object, which SetAsyncExc takes a reference to.
            Ok(c) => unsafe { ffi::PyThreadState_SetAsyncExc(ident as std::ffi::c_long, c.as_ptr()) == 1 },
            Err(_) => false,
        };
        let line = if found {
            with_pid(format_args!(
                "A request in application group '{group}' ran past request-timeout; raising mod_wsgi.RequestTimeout in its thread."
            ))
        } else {
            with_pid(format_args!(
                "A request in application group '{group}' ran past request-timeout, and its thread could not be interrupted."
            ))
        };
        py.detach(|| super::io::log_process(crate::common::log::LogLevel::Warning, &line));
    });
}

/// Whether `err` is this interpreter's `mod_wsgi.RequestTimeout`.
pub(super) fn is_request_timeout(py: Python<'_>, err: &PyErr) -> bool {
    let Ok(module) = super::script::loaded_module(py, "mod_wsgi") else { return false };
    module.getattr("RequestTimeout").is_ok_and(|c| err.get_type(py).is(&c))
}
