//! What every new interpreter gets before any WSGI script runs: the error
//! log as `sys.stderr` (and `sys.stdout` unless restricted), the
//! `WSGIRestrict*` behaviours, the `mod_wsgi` module, and the python-path.

use super::errors::ErrorLog;
use super::file_wrapper::FileWrapper;
use super::io::{LogLevel, log_process};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};
use std::ffi::CString;

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

static SETTINGS: Mutex<Option<InterpreterSettings>> = Mutex::new(None);

pub fn configure(settings: InterpreterSettings) {
    *SETTINGS.lock() = Some(settings);
}

const SETUP: &str = include_str!("interpreter_setup.py");

/// Prepares the current interpreter (its GIL held) for application group `group`.
pub fn setup(group: &str) {
    let settings = SETTINGS.lock().clone().unwrap_or_default();
    super::attached::run(|py| {
        if let Err(e) = run_setup(py, group, &settings) {
            log_process(
                LogLevel::Error,
                &format!("mod_wsgi (pid={}): cannot prepare interpreter '{group}': {e}", std::process::id()),
            );
        }
    });
}

fn run_setup(py: Python<'_>, group: &str, s: &InterpreterSettings) -> PyResult<()> {
    let cfg = PyDict::new(py);
    cfg.set_item("restrict_stdin", s.restrict_stdin)?;
    cfg.set_item("restrict_stdout", s.restrict_stdout)?;
    cfg.set_item("restrict_signal", s.restrict_signal)?;
    cfg.set_item("version", PyTuple::new(py, [COMPAT_VERSION.0, COMPAT_VERSION.1, COMPAT_VERSION.2])?)?;
    cfg.set_item("process_group", &s.process_group)?;
    cfg.set_item("maximum_processes", s.maximum_processes)?;
    cfg.set_item("threads_per_process", s.threads_per_process)?;
    cfg.set_item("python_path", &s.python_path)?;
    let warn = PyCFunction::new_closure(py, None, None, |args, _kwargs| -> PyResult<()> {
        let msg: String = args.get_item(0)?.extract()?;
        args.py().detach(|| log_process(LogLevel::Warning, &msg));
        Ok(())
    })?;
    let globals = PyDict::new(py);
    globals.set_item("__builtins__", py.import("builtins")?)?;
    globals.set_item("_settings", cfg)?;
    globals.set_item("_log_stream", Bound::new(py, ErrorLog::for_process())?)?;
    globals.set_item("_warn", warn)?;
    globals.set_item("_group", group)?;
    let code = CString::new(SETUP)?;
    py.run(&code, Some(&globals), None)?;
    let module = py.import("mod_wsgi")?;
    module.setattr("FileWrapper", py.get_type::<FileWrapper>())?;
    Ok(())
}
