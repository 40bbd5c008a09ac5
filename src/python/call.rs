//! One WSGI request: find the application, call it, send what it returns.

use super::environ::{self, EnvironFlags};
use super::errors::ErrorLog;
use super::file_wrapper::FileWrapper;
use super::input::Input;
use super::interpreters;
use super::io::{LogLevel, RequestIo, SharedIo, with_io};
use super::script::{self, Obtained, Script, ScriptError};
use super::start_response::{self, ResponseState, SharedResponse, StartResponse};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;

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
    /// CGI-style variables, as bytes, in the order the server gave them.
    pub vars: Vec<(Vec<u8>, Vec<u8>)>,
    pub flags: EnvironFlags,
}

impl WsgiCall {
    /// Builds the call from the request's variables, where the server put
    /// the script (`SCRIPT_FILENAME`) and the `mod_wsgi.*` settings. Both
    /// embedded and daemon mode use this, so they cannot drift apart.
    /// `mtime` is the script's modification time in microseconds, when the
    /// caller already knows it; otherwise the file is asked.
    pub fn from_vars(
        vars: Vec<(Vec<u8>, Vec<u8>)>,
        flags: EnvironFlags,
        mtime: Option<i64>,
        case_sensitive: bool,
    ) -> Self {
        let get = |key: &str| {
            vars.iter()
                .find(|(k, _)| k.as_slice() == key.as_bytes())
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let script_path = get("SCRIPT_FILENAME").unwrap_or_default();
        let process_group = get("mod_wsgi.process_group").unwrap_or_default();
        let application_group = get("mod_wsgi.application_group").unwrap_or_default();
        let callable = get("mod_wsgi.callable_object").unwrap_or_else(|| "application".into());
        let reload = get("mod_wsgi.script_reloading").as_deref() != Some("0");
        let mtime = mtime.unwrap_or_else(|| file_mtime(&script_path));
        Self {
            module_name: wsgi_core::names::script_module_name(&script_path, case_sensitive),
            script_path,
            mtime,
            reload,
            restart_on_change: false,
            process_group,
            application_group,
            callable,
            vars,
            flags,
        }
    }
}

/// A file's modification time in microseconds since the epoch (0 if unknown).
pub fn file_mtime(path: &str) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros() as i64)
}

/// How the request ended, from the server's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The response (perhaps cut short by an error after its start) was sent.
    Sent,
    /// Nothing was sent; the server should answer with this status.
    Failed(u16),
    /// The script changed and this process must be replaced; the
    /// application was not called (daemon mode only).
    Restart,
}

/// Runs `call`, talking to the request through `io`.
pub fn run(call: WsgiCall, io: Box<dyn RequestIo>) -> Outcome {
    let io: SharedIo = Arc::new(Mutex::new(Some(io)));
    let outcome = match interpreters::enter(&call.application_group, super::interpreter_setup::setup) {
        Ok(_entered) => super::attached::run(|py| in_interpreter(py, &call, &io)).unwrap_or(Outcome::Failed(500)),
        Err(e) => {
            if let Some(io) = io.lock().as_mut() {
                io.log(LogLevel::Error, &format!("mod_wsgi (pid={}): {e}.", std::process::id()));
            }
            Outcome::Failed(500)
        }
    };
    // Objects the application kept must not reach a finished request.
    if let Some(mut io) = io.lock().take() {
        io.finish(outcome);
    }
    outcome
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

fn in_interpreter(py: Python<'_>, call: &WsgiCall, io: &SharedIo) -> Outcome {
    let pid = std::process::id();
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
                Obtained::Loaded => Some(format!(
                    "mod_wsgi (pid={pid}, process='{}', application='{}'): Loading Python script file '{}'.",
                    call.process_group, call.application_group, call.script_path
                )),
                Obtained::Reloaded => Some(format!(
                    "mod_wsgi (pid={pid}, process='{}', application='{}'): Reloading WSGI script '{}'.",
                    call.process_group, call.application_group, call.script_path
                )),
            };
            if let Some(line) = what {
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
            log(py, io, LogLevel::Error, &format!("mod_wsgi (pid={pid}): {e}"));
            if let ScriptError::Load { err, .. } = &e {
                log(
                    py,
                    io,
                    LogLevel::Error,
                    &format!("mod_wsgi (pid={pid}): Exception occurred processing WSGI script '{}'.", call.script_path),
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
    match respond(py, call, io, &app, &state) {
        Ok(()) => Outcome::Sent,
        Err(err) => {
            log(
                py,
                io,
                LogLevel::Error,
                &format!("mod_wsgi (pid={pid}): Exception occurred processing WSGI script '{}'.", call.script_path),
            );
            log_exception(py, io, &err);
            if state.lock().headers_sent() { Outcome::Sent } else { Outcome::Failed(500) }
        }
    }
}

/// Calls the application and streams its result; `close()` is called on
/// the result whatever happens.
fn respond(
    py: Python<'_>,
    call: &WsgiCall,
    io: &SharedIo,
    app: &Bound<'_, PyAny>,
    state: &SharedResponse,
) -> PyResult<()> {
    let environ = environ::build(py, &call.vars, &call.flags)?;
    environ.set_item("wsgi.input", Bound::new(py, Input::new(io.clone()))?)?;
    environ.set_item("wsgi.errors", Bound::new(py, ErrorLog::for_request(io.clone()))?)?;
    environ.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
    let start = Bound::new(py, StartResponse::new(state.clone(), io.clone()))?;
    let result = app.call1((environ, start))?;
    let sent = send_all(py, io, state, &result);
    let closed =
        if result.hasattr("close").unwrap_or(false) { result.call_method0("close").map(|_| ()) } else { Ok(()) };
    sent.and(closed)
}

fn send_all(py: Python<'_>, io: &SharedIo, state: &SharedResponse, result: &Bound<'_, PyAny>) -> PyResult<()> {
    for item in result.try_iter()? {
        let item = item?;
        let bytes = item.cast::<PyBytes>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "sequence of byte string values expected, value of type {} found",
                item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?;
        let data = bytes.as_bytes();
        if data.is_empty() {
            continue;
        }
        start_response::send(py, state, io, data)?;
    }
    if !state.lock().headers_sent() {
        start_response::send(py, state, io, b"")?;
    }
    Ok(())
}
