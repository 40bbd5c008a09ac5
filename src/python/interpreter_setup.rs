//! What every new interpreter gets before any WSGI script runs: the error
//! log as `sys.stderr` (and `sys.stdout` unless restricted), the
//! `WSGIRestrict*` objects, the `mod_wsgi` and `apache` modules, and the
//! python-path.

use super::errors::process_stream;
use super::file_wrapper::FileWrapper;
use super::io::log_process;
use super::restrict::{Restricted, SignalIntercept};
use super::runtime::ProcessIdentity;
use crate::common::log::{LogLevel, with_pid};
use crate::common::server_facts::ApacheFacts;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyTuple};
use std::ffi::CString;
use wsgi_core::config::PythonSettings;

/// The version reported as `mod_wsgi.version`: the mod_wsgi release whose
/// behaviour this module reproduces, so applications that check it work.
pub const COMPAT_VERSION: (u32, u32, u32) = (4, 9, 4);

/// Per-process facts the interpreters describe to applications.
#[derive(Debug, Clone, Default)]
pub struct InterpreterSettings {
    pub python_path: Vec<String>,
    pub restrict_stdin: bool,
    pub restrict_stdout: bool,
    pub restrict_signal: bool,
    pub process_group: String,
    pub maximum_processes: u32,
    pub threads_per_process: u32,
}

static APACHE: Mutex<Option<fn() -> ApacheFacts>> = Mutex::new(None);

/// Set by the server side in the parent, before any process forks; asked
/// when an interpreter is made (the server's description is complete by then).
pub fn set_apache_facts(read: fn() -> ApacheFacts) {
    *APACHE.lock() = Some(read);
}

impl InterpreterSettings {
    pub fn new(settings: &PythonSettings, process: ProcessIdentity) -> Self {
        Self {
            python_path: settings.python_path.clone(),
            restrict_stdin: settings.restrict_stdin,
            restrict_stdout: settings.restrict_stdout,
            restrict_signal: settings.restrict_signal,
            process_group: process.process_group,
            maximum_processes: process.maximum_processes,
            threads_per_process: process.threads_per_process,
        }
    }
}

static SETTINGS: Mutex<Option<InterpreterSettings>> = Mutex::new(None);

pub(super) fn configure(settings: InterpreterSettings) {
    *SETTINGS.lock() = Some(settings);
}

const SETUP: &str = include_str!("interpreter_setup.py");

/// Prepares the current interpreter (its GIL held) for application group `group`.
pub fn setup(group: &str) {
    let settings = SETTINGS.lock().clone().unwrap_or_default();
    super::attached::run(|py| {
        if let Err(e) = run_setup(py, group, &settings) {
            log_process(LogLevel::Error, &with_pid(format_args!("cannot prepare interpreter '{group}': {e}")));
        }
    });
}

fn run_setup(py: Python<'_>, group: &str, s: &InterpreterSettings) -> PyResult<()> {
    restrict(py, s)?;
    let cfg = PyDict::new(py);
    cfg.set_item("version", PyTuple::new(py, [COMPAT_VERSION.0, COMPAT_VERSION.1, COMPAT_VERSION.2])?)?;
    cfg.set_item("process_group", &s.process_group)?;
    cfg.set_item("maximum_processes", s.maximum_processes)?;
    cfg.set_item("threads_per_process", s.threads_per_process)?;
    cfg.set_item("python_path", &s.python_path)?;
    cfg.set_item("log", wrap_pyfunction!(log, py)?)?;
    cfg.set_item("note_signal_subscriber", wrap_pyfunction!(super::events::note_signal_subscriber, py)?)?;
    cfg.set_item("list_active_request", wrap_pyfunction!(super::events::list_active_request, py)?)?;
    let apache = *APACHE.lock();
    match apache.map(|read| read()) {
        Some(a) => {
            let d = PyDict::new(py);
            d.set_item("version", PyTuple::new(py, [a.version.0, a.version.1, a.version.2])?)?;
            d.set_item("description", a.description)?;
            d.set_item("mpm_name", a.mpm_name)?;
            d.set_item("build_date", a.build_date)?;
            d.set_item("maximum_processes", a.maximum_processes)?;
            d.set_item("threads_per_process", a.threads_per_process)?;
            cfg.set_item("apache", d)?;
        }
        None => cfg.set_item("apache", py.None())?,
    }
    let globals = PyDict::new(py);
    globals.set_item("__builtins__", py.import("builtins")?)?;
    globals.set_item("__name__", "mod_wsgi")?;
    globals.set_item("_settings", cfg)?;
    globals.set_item("_group", group)?;
    let code = CString::new(SETUP)?;
    py.run(&code, Some(&globals), None)?;
    let module = py.import("mod_wsgi")?.cast_into::<PyModule>()?;
    module.setattr("FileWrapper", py.get_type::<FileWrapper>())?;
    // Not add_function, which would also give the module an `__all__`.
    for f in [
        wrap_pyfunction!(super::events::request_data, &module)?,
        wrap_pyfunction!(super::metrics::request_metrics, &module)?,
        wrap_pyfunction!(super::metrics::process_metrics, &module)?,
        wrap_pyfunction!(super::metrics::server_metrics, &module)?,
        wrap_pyfunction!(super::metrics::start_recording_metrics, &module)?,
    ] {
        module.setattr(f.getattr("__name__")?.cast_into::<pyo3::types::PyString>()?, f)?;
    }
    Ok(())
}

/// `LogHandler`'s way out: each line of `message` at the level of Python
/// level number `level`, as the request's when this thread runs one.
#[pyfunction]
fn log(py: Python<'_>, level: i32, message: &str) {
    let level = match level {
        50.. => LogLevel::Critical,
        40..=49 => LogLevel::Error,
        30..=39 => LogLevel::Warning,
        20..=29 => LogLevel::Info,
        _ => LogLevel::Debug,
    };
    let lines = message.lines().map(String::from).collect();
    super::errors::log_lines(py, None, level, lines);
}

/// The standard streams and `signal.signal` as mod_wsgi 4.9 sets them:
/// the error log for stderr, and for stdout unless restricted; stdin is
/// left alone unless restricted.
fn restrict(py: Python<'_>, s: &InterpreterSettings) -> PyResult<()> {
    let sys = py.import("sys")?;
    sys.setattr("stderr", process_stream(py, "<stderr>")?)?;
    if s.restrict_stdout {
        sys.setattr("stdout", Restricted::new("sys.stdout"))?;
    } else {
        sys.setattr("stdout", process_stream(py, "<stdout>")?)?;
    }
    if s.restrict_stdin {
        sys.setattr("stdin", Restricted::new("sys.stdin"))?;
    }
    if s.restrict_signal {
        let signal = py.import("signal")?;
        let original = signal.getattr("signal")?.unbind();
        signal.setattr("signal", SignalIntercept::new(original))?;
    }
    Ok(())
}
