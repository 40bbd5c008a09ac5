//! One WSGI request: find the application, call it, send what it returns.

use super::environ::{self, EnvironFlags};
use super::errors;
use super::events;
use super::file_wrapper::{self, FilePlan, FileWrapper};
use super::input::Input;
use super::interpreters;
use super::io::{SharedIo, TakeBack, with_io, with_io_now};
use super::meter::{Meter, Metered};
use super::metrics::Finished;
use super::script::{self, Obtained, Script, ScriptError};
use super::start_response::{self, ResponseState, SendError, SharedResponse, StartResponse, Timing};
use crate::common::io::{IoError, Outcome, RequestIo};
use crate::common::log::{LogLevel, with_pid};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;
use std::time::Instant;

/// Everything the WSGI layer needs to run one request.
pub struct WsgiCall {
    pub script_path: String,
    pub module_name: String,
    pub mtime: i64,
    pub reload: bool,
    /// Replace the process instead of reloading a changed script (daemon mode).
    pub restart_on_change: bool,
    pub process_group: String,
    pub application_group: String,
    pub callable: String,
    /// `mod_wsgi.request_start`, `queue_start` and `daemon_start` in µs
    /// since the epoch (0 when absent: the last two in embedded mode; a
    /// daemon sets them).
    pub times: [i64; 3],
    /// CGI-style variables, as bytes, in the order the server gave them.
    pub vars: environ::Vars,
    pub flags: EnvironFlags,
    /// `WSGIPassApacheRequest On` in embedded mode: the `request_rec`'s
    /// address, given to the application as `environ['apache.request_rec']`.
    pub apache_request: Option<usize>,
}

impl WsgiCall {
    /// Builds the call from the request's variables, where the server put
    /// the script (`SCRIPT_FILENAME`) and the `mod_wsgi.*` settings. Both
    /// embedded and daemon mode use this, so they cannot drift apart.
    /// `mtime` is the script's modification time in microseconds, when the
    /// caller already knows it; otherwise the file is asked.
    pub fn from_vars(vars: environ::Vars, flags: EnvironFlags, mtime: Option<i64>, case_sensitive: bool) -> Self {
        let [script_path, handler_script, process_group, application_group, callable, reload] = vars.get_many([
            b"SCRIPT_FILENAME",
            b"mod_wsgi.handler_script",
            b"mod_wsgi.process_group",
            b"mod_wsgi.application_group",
            b"mod_wsgi.callable_object",
            b"mod_wsgi.script_reloading",
        ]);
        // Near the end of the variables, so found at once.
        let times = [micros(vars.get(b"mod_wsgi.request_start")), 0, 0];
        let text = |v: Option<&[u8]>| v.map(wsgi_core::text::lossy);
        // A WSGIHandlerScript serves the request in place of the file.
        let script_path = text(handler_script.filter(|h| !h.is_empty()).or(script_path)).unwrap_or_default();
        let process_group = text(process_group).unwrap_or_default();
        let application_group = text(application_group).unwrap_or_default();
        let callable = text(callable).unwrap_or_else(|| "application".into());
        let reload = reload != Some(b"0");
        let mtime = mtime.unwrap_or_else(|| file_mtime(&script_path));
        Self {
            module_name: module_name(&script_path, case_sensitive),
            script_path,
            mtime,
            reload,
            restart_on_change: false,
            process_group,
            application_group,
            callable,
            times,
            vars,
            flags,
            apache_request: None,
        }
    }
}

/// Microseconds since the epoch in a variable's value, digits as the
/// server writes them (0 when absent or not a number).
pub fn micros(v: Option<&[u8]>) -> i64 {
    let Some(v) = v.filter(|v| !v.is_empty() && v.len() <= 18) else { return 0 };
    v.iter().try_fold(0i64, |n, &b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))).unwrap_or(0)
}

thread_local! {
    /// The last script this thread named: requests mostly go to the same
    /// few scripts, and the name is an MD5 of the path.
    static LAST_NAME: std::cell::RefCell<(String, bool, String)> = const {
        std::cell::RefCell::new((String::new(), false, String::new()))
    };
}

/// `wsgi_core::names::script_module_name`, remembered for the last script.
fn module_name(path: &str, case_sensitive: bool) -> String {
    LAST_NAME.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != path || last.1 != case_sensitive || last.2.is_empty() {
            *last = (path.to_string(), case_sensitive, wsgi_core::names::script_module_name(path, case_sensitive));
        }
        last.2.clone()
    })
}

/// A file's modification time in microseconds since the epoch (0 if unknown).
pub fn file_mtime(path: &str) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros() as i64)
}

/// Runs `call`, talking to the request through `io`.
pub fn run(call: WsgiCall, io: Box<dyn RequestIo>) -> Outcome {
    let io: SharedIo = Arc::new(Mutex::new(Some(io)));
    let _take_back = TakeBack(&io);
    // Set when someone will read the request's I/O figures.
    let mut meter: Option<Arc<Meter>> = None;
    let _attributed = super::errors::attribute_to(&io);
    super::metrics::begin();
    let [request_start, queue_start, daemon_start] = call.times;
    let mut finished = Finished { request_start, queue_start, daemon_start, ..Finished::default() };
    let waiting = Instant::now();
    let outcome = match interpreters::enter(&call.application_group, super::interpreter_setup::setup) {
        Ok(_entered) => {
            let waited = waiting.elapsed();
            super::attached::run(|py| in_interpreter(py, &call, &io, &mut meter, &mut finished, waited))
                .unwrap_or(Outcome::Failed(500))
        }
        Err(e) => {
            if let Some(io) = io.lock().as_mut() {
                io.log(LogLevel::Error, &with_pid(format_args!("{e}.")));
            }
            Outcome::Failed(500)
        }
    };
    // Objects the application kept must not reach a finished request.
    if let Some(mut io) = io.lock().take() {
        io.finish(outcome);
    }
    if finished.status == 0
        && let Outcome::Failed(code) = outcome
    {
        finished.status = code;
    }
    finished.thread_id = environ::thread_id();
    if let Some(m) = &meter {
        metered(&mut finished, m);
    }
    super::metrics::end(&finished);
    outcome
}

/// Copies the I/O counters into `f`.
fn metered(f: &mut Finished, m: &Meter) {
    f.input_bytes = Meter::get(&m.input_bytes);
    f.input_reads = Meter::get(&m.input_reads);
    f.input_us = Meter::get(&m.input_us);
    f.output_bytes = Meter::get(&m.output_bytes);
    f.output_writes = Meter::get(&m.output_writes);
    f.output_us = Meter::get(&m.output_us);
}

fn log(py: Python<'_>, io: &SharedIo, level: LogLevel, msg: &str) {
    let _ = with_io(py, io, |io| {
        io.log(level, msg);
        Ok(())
    });
}

/// Logs the current Python exception's traceback, one log line per line.
/// A Python exception's traceback, one log line per line.
pub fn traceback_lines(py: Python<'_>, err: &PyErr) -> Vec<String> {
    py.import("traceback")
        .and_then(|tb| tb.getattr("format_exception")?.call1((err.get_type(py), err.value(py), err.traceback(py))))
        .and_then(|lines| lines.extract::<Vec<String>>())
        .map(|lines| lines.concat())
        .unwrap_or_else(|_| format!("{err}"))
        .lines()
        .map(String::from)
        .collect()
}

fn log_exception(py: Python<'_>, io: &SharedIo, err: &PyErr) {
    for line in traceback_lines(py, err) {
        log(py, io, LogLevel::Error, &line);
    }
}

fn in_interpreter(
    py: Python<'_>,
    call: &WsgiCall,
    io: &SharedIo,
    meter: &mut Option<Arc<Meter>>,
    finished: &mut Finished,
    waited: std::time::Duration,
) -> Outcome {
    let script = Script {
        path: &call.script_path,
        module_name: &call.module_name,
        mtime: call.mtime,
        reload: call.reload,
        restart_on_change: call.restart_on_change,
    };
    let app = match script::module(py, &script) {
        Ok((module, how)) => {
            let what = match how {
                Obtained::Cached => None,
                Obtained::Loaded => Some("Loading Python script file"),
                Obtained::Reloaded => Some("Reloading WSGI script"),
            };
            if let Some(what) = what {
                let line = script::load_line(&call.process_group, &call.application_group, what, &call.script_path);
                log(py, io, LogLevel::Info, &line);
            }
            script::application(&module, &call.script_path, &call.callable)
        }
        Err(ScriptError::Changed { .. }) => return Outcome::Restart,
        Err(e) => Err(e),
    };
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            log(py, io, LogLevel::Error, &with_pid(&e));
            if let ScriptError::Load { err, .. } = &e {
                log(
                    py,
                    io,
                    LogLevel::Error,
                    &with_pid(format_args!("Exception occurred processing WSGI script '{}'.", call.script_path)),
                );
                log_exception(py, io, err);
            }
            // mod_wsgi answers a script without the callable with 404.
            return Outcome::Failed(match e {
                ScriptError::NoCallable { .. } => 404,
                ScriptError::Load { .. } | ScriptError::Changed { .. } => 500,
            });
        }
    };
    let state: SharedResponse = Arc::new(Mutex::new(ResponseState::default()));
    let scope = Some(events::Scope::begin(py, call.vars.get(b"mod_wsgi.request_id")));
    let subscribers = scope.as_ref().is_some_and(|s| s.subscribers);
    let measured = subscribers || super::metrics::recording();
    super::meter::measure_gil(measured);
    if measured {
        // Nothing has used the request's I/O yet, so nothing holds it.
        if let Some(mut slot) = io.try_lock()
            && let Some(inner) = slot.take()
        {
            let m = Arc::new(Meter::default());
            m.timed.store(subscribers, std::sync::atomic::Ordering::Relaxed);
            *slot = Some(Box::new(Metered::new(inner, m.clone())));
            *meter = Some(m);
        }
    }
    let cpu_before = subscribers.then(super::metrics::thread_cpu);
    super::timeout::began(&call.application_group);
    let timed_out = std::cell::Cell::new(false);
    let report = |err: &PyErr| {
        if super::timeout::is_request_timeout(py, err) {
            timed_out.set(true);
            report_timeout(py, io, &call.script_path, err);
        } else {
            report_exception(py, io, &call.script_path, err);
        }
        events::request_exception(py, err);
    };
    let outcome = respond(py, call, io, &app, &state, &report, scope.as_ref(), finished, measured);
    if measured {
        finished.application_finish = crate::common::now_micros();
    }
    finished.status = state.lock().status();
    super::timeout::ended();
    if measured {
        let (us, n) = super::meter::gil_waits();
        finished.gil_wait_us = us + waited.as_micros() as u64;
        finished.gil_wait_count = n + 1;
    }
    super::meter::measure_gil(false);
    if let (Some(scope), Some(before)) = (&scope, cpu_before) {
        if let Some(m) = meter.as_ref() {
            metered(finished, m);
        }
        finished.thread_id = environ::thread_id();
        let after = super::metrics::thread_cpu();
        events::request_finished(scope, finished, ((after.0 - before.0).max(0.0), (after.1 - before.1).max(0.0)));
    }
    drop(scope);
    let answered = with_io_now(py, io, |io| Ok(io.answered())).unwrap_or(false);
    // Copied out: the lock must not be held while the GIL is released.
    let (sent, content_length, passed, produced, body_error) = {
        let st = state.lock();
        (st.headers_sent(), st.content_length(), st.passed(), st.produced(), st.body_error())
    };
    if answered || sent {
        if outcome.is_err() {
            abort(py, io);
        } else if let Some(cl) = content_length
            && passed < cl
            && !is_head(call)
        {
            // mod_wsgi says nothing and keeps the connection, so the client
            // waits for bytes that never come; see docs/differences.md.
            log(
                py,
                io,
                LogLevel::Warning,
                &with_pid(format_args!(
                    "Content length mismatch, expected {cl}, response generated {produced}: {}",
                    call.script_path
                )),
            );
            abort(py, io);
        }
        Outcome::Sent
    } else {
        // An application that failed after the request body could not be
        // read failed because of the request: answer as Apache's modules
        // do for a body they cannot read (400, or 408 for a timeout), not
        // 500. mod_wsgi 4.9.4 answers 500; see docs/differences.md.
        // One unwound by RequestTimeout is a 504, as in mod_wsgi 6.
        Outcome::Failed(if timed_out.get() { 504 } else { body_error.unwrap_or(500) })
    }
}

fn is_head(call: &WsgiCall) -> bool {
    call.vars.get(b"REQUEST_METHOD") == Some(b"HEAD")
}

/// Ends a response that was cut short so that the client can tell.
fn abort(py: Python<'_>, io: &SharedIo) {
    let _ = with_io(py, io, |io| {
        io.abort();
        Ok(())
    });
}

/// Logs an exception from the application as mod_wsgi does.
fn report_exception(py: Python<'_>, io: &SharedIo, script: &str, err: &PyErr) {
    let head = if err.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
        with_pid(format_args!("SystemExit exception raised by WSGI script '{script}' ignored."))
    } else {
        with_pid(format_args!("Exception occurred processing WSGI script '{script}'."))
    };
    log(py, io, LogLevel::Error, &head);
    log_exception(py, io, err);
}

/// Logs a request that `mod_wsgi.RequestTimeout` unwound: where it was.
fn report_timeout(py: Python<'_>, io: &SharedIo, script: &str, err: &PyErr) {
    log(
        py,
        io,
        LogLevel::Error,
        &with_pid(format_args!(
            "Request in WSGI script '{script}' ran past request-timeout and was interrupted (mod_wsgi.RequestTimeout); the process keeps serving."
        )),
    );
    log_exception(py, io, err);
}

/// Calls the application and streams its result, reporting exceptions as
/// they happen; `close()` is called on the result whatever happens (also
/// when iterating raised or the client went away). `Err(())`: an exception
/// ended the response early.
#[allow(clippy::too_many_arguments)]
fn respond(
    py: Python<'_>,
    call: &WsgiCall,
    io: &SharedIo,
    app: &Bound<'_, PyAny>,
    state: &SharedResponse,
    report: &dyn Fn(&PyErr),
    scope: Option<&events::Scope<'_>>,
    finished: &mut Finished,
    measured: bool,
) -> Result<(), ()> {
    let errors = match errors::request_stream(py, io.clone()) {
        Ok(e) => e,
        Err(e) => {
            report(&e);
            return Err(());
        }
    };
    let result = call_application(py, call, io, app, state, &errors.wrapper, scope, finished, measured);
    let outcome = match result {
        Ok(result) => {
            let sent = send_result(py, io, state, &result).map_err(|e| report(&e));
            let closed = close_result(&result).map_err(|e| report(&e));
            sent.and(closed)
        }
        Err(e) => {
            report(&e);
            Err(())
        }
    };
    // What the application wrote without a newline is logged now.
    errors::finish(py, errors);
    outcome
}

#[allow(clippy::too_many_arguments)]
fn call_application<'py>(
    py: Python<'py>,
    call: &WsgiCall,
    io: &SharedIo,
    app: &Bound<'py, PyAny>,
    state: &SharedResponse,
    errors: &Bound<'py, PyAny>,
    scope: Option<&events::Scope<'py>>,
    finished: &mut Finished,
    measured: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let environ = environ::build(py, &call.vars, &call.flags)?;
    let declared = call.vars.get(b"CONTENT_LENGTH").and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok());
    environ::set(&environ, b"wsgi.input", Bound::new(py, Input::new(io.clone(), declared, state.clone()))?)?;
    environ::set(&environ, b"wsgi.errors", errors)?;
    environ::set(&environ, b"wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
    if let Some(r) = call.apache_request {
        // SAFETY: a capsule holding the address, with no name or
        // destructor, as mod_wsgi makes it; only C code that knows Apache
        // reads it, during the request.
        let capsule = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                pyo3::ffi::PyCapsule_New(r as *mut std::ffi::c_void, std::ptr::null(), None),
            )?
        };
        environ::set(&environ, b"apache.request_rec", capsule)?;
    }
    let start = Bound::new(py, StartResponse::new(state.clone(), io.clone()))?;
    if measured {
        finished.application_start = crate::common::now_micros();
    }
    let Some(scope) = scope.filter(|s| s.subscribers) else { return app.call1((environ, start)) };
    // Subscribers may replace the application (mod_wsgi's hook for
    // middleware added at run time).
    let kwargs = request_started(py, call, app, &environ, finished)?;
    scope.publish("request_started", &kwargs);
    let app = kwargs.get_item("application_object")?.unwrap_or_else(|| app.clone());
    app.call1((environ, start))
}

/// The keyword arguments of `request_started` (less the scope's own).
fn request_started<'py>(
    py: Python<'py>,
    call: &WsgiCall,
    app: &Bound<'py, PyAny>,
    environ: &Bound<'py, pyo3::types::PyDict>,
    f: &Finished,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let count = |name: &[u8]| {
        call.vars.get(name).and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("thread_id", environ::thread_id())?;
    kwargs.set_item("daemon_connects", count(b"mod_wsgi.daemon_connects"))?;
    kwargs.set_item("daemon_restarts", count(b"mod_wsgi.daemon_restarts"))?;
    kwargs.set_item("request_start", f.request_start as f64 / 1e6)?;
    kwargs.set_item("queue_start", f.queue_start as f64 / 1e6)?;
    kwargs.set_item("daemon_start", f.daemon_start as f64 / 1e6)?;
    kwargs.set_item("application_object", app)?;
    kwargs.set_item("request_environ", environ)?;
    kwargs.set_item("application_start", f.application_start as f64 / 1e6)?;
    Ok(kwargs)
}

/// A list or tuple itself (not a subclass, which may add `close()` or
/// iterate lazily).
fn is_plain_sequence(result: &Bound<'_, PyAny>) -> bool {
    result.is_exact_instance_of::<pyo3::types::PyList>() || result.is_exact_instance_of::<pyo3::types::PyTuple>()
}

fn close_result(result: &Bound<'_, PyAny>) -> PyResult<()> {
    // The common `return [body]`: a plain list or tuple has no close().
    if is_plain_sequence(result) {
        return Ok(());
    }
    if result.hasattr("close").unwrap_or(false) { result.call_method0("close").map(|_| ()) } else { Ok(()) }
}

/// Sends the application's result: a file wrapper over a regular file
/// through the server's file sending where it can, else item by item.
fn send_result(py: Python<'_>, io: &SharedIo, state: &SharedResponse, result: &Bound<'_, PyAny>) -> PyResult<()> {
    // Not locked while plan() runs Python code (tell()).
    let nothing_written = state.lock().produced() == 0;
    if nothing_written && let Some(plan) = file_wrapper::plan(result) {
        let sent = send_file(py, io, state, &plan);
        file_wrapper::restore_offset(&plan);
        if sent? {
            return Ok(());
        }
    }
    send_items(py, io, state, result)
}

/// Sends the file of `plan` (with a Content-Length, the application's or
/// what is left of the file); false when the server cannot and the caller
/// must iterate instead.
fn send_file(py: Python<'_>, io: &SharedIo, state: &SharedResponse, plan: &FilePlan) -> PyResult<bool> {
    let len = {
        let mut st = state.lock();
        match st.pending_content_length()? {
            Some(cl) => cl.min(plan.available),
            None => {
                st.set_pending_content_length(plan.available);
                plan.available
            }
        }
    };
    match start_response::send(py, state, io, b"", Timing::Now) {
        Ok(()) => {}
        Err(SendError::Io(_)) => return Ok(true),
        Err(SendError::Py(e)) => return Err(e),
    }
    let (fd, offset) = (plan.fd, plan.offset);
    match with_io(py, io, |io| io.send_file(fd, offset, len)) {
        Ok(true) => {
            state.lock().count_sent(len);
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(e) => {
            log_write_failure(py, io, &e);
            Ok(true)
        }
    }
}

/// mod_wsgi logs a failed write of the response at debug level only: the
/// client went away, and that is not the application's fault.
fn log_write_failure(py: Python<'_>, io: &SharedIo, e: &IoError) {
    let why = match e {
        IoError::Write(m) | IoError::Read(m) => format!("Failed to write response data: {m}"),
        IoError::ClientGone | IoError::Finished => "Client closed connection".to_string(),
    };
    log(py, io, LogLevel::Debug, &with_pid(format_args!("{why}.")));
}

/// The TypeError mod_wsgi raises for a body item that is not bytes.
fn not_bytes(item: &Bound<'_, PyAny>) -> PyErr {
    pyo3::exceptions::PyTypeError::new_err(format!(
        "sequence of byte string values expected, value of type {} found",
        item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
    ))
}

fn send_items(py: Python<'_>, io: &SharedIo, state: &SharedResponse, result: &Bound<'_, PyAny>) -> PyResult<()> {
    // A list or tuple is the whole body already: nothing to stream.
    let whole = is_plain_sequence(result);
    let timing = if whole { Timing::Queued } else { Timing::Now };
    if whole && result.len()? > 1 {
        // Every item is checked before the first goes out, so that a bad
        // one (`[b'a', None]`) fails the request with a 500, instead of
        // a 200 cut short after the items before it (mod_wsgi 4.9.4 sends
        // those and leaves the client waiting; see docs/differences.md).
        // One item is checked below before it is sent.
        for item in result.try_iter()? {
            let item = item?;
            if item.cast::<PyBytes>().is_err() {
                return Err(not_bytes(&item));
            }
        }
    }
    for item in result.try_iter()? {
        let item = item?;
        let bytes = item.cast::<PyBytes>().map_err(|_| not_bytes(&item))?;
        let data = bytes.as_bytes();
        if data.is_empty() {
            continue;
        }
        match start_response::send(py, state, io, data, timing) {
            Ok(()) => {}
            Err(SendError::Py(e)) => return Err(e),
            // The client went away: stop, without blaming the application.
            Err(SendError::Io(e)) => {
                log_write_failure(py, io, &e);
                return Ok(());
            }
        }
    }
    if !state.lock().headers_sent() {
        match start_response::send(py, state, io, b"", timing) {
            Ok(()) | Err(SendError::Io(_)) => {}
            Err(SendError::Py(e)) => return Err(e),
        }
    }
    Ok(())
}
