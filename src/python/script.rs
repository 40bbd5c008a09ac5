//! Loading a WSGI script file as a module, and reloading it when it changes.

use crate::common::log::with_pid;
use parking_lot::Mutex;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use std::ffi::CString;

/// The module attribute that records the file's mtime when loaded.
const MTIME_ATTR: &str = "__mtime__";

/// Serialises loads, so one script is not executed twice at once.
static LOADING: Mutex<()> = Mutex::new(());

/// Why a script could not provide an application.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("Target WSGI script '{path}' cannot be loaded as Python module.")]
    Load { path: String, err: PyErr },
    #[error("Target WSGI script '{path}' does not contain WSGI application '{callable}'.")]
    NoCallable { path: String, callable: String },
    /// The file changed since it was loaded, and this process must be
    /// replaced rather than reload it (daemon mode).
    #[error("Target WSGI script '{path}' has changed since it was loaded.")]
    Changed { path: String },
}

/// Where the script is and how to treat it.
pub struct Script<'a> {
    pub path: &'a str,
    pub module_name: &'a str,
    /// The file's modification time as the server saw it.
    pub mtime: i64,
    /// `WSGIScriptReloading On`: act when `mtime` differs.
    pub reload: bool,
    /// On a change, report [`ScriptError::Changed`] instead of reloading
    /// the module (daemon mode replaces the whole process, as mod_wsgi does).
    pub restart_on_change: bool,
}

/// What is in `sys.modules` for a script.
enum Cached<'py> {
    Current(Bound<'py, PyModule>),
    /// Loaded from an older version of the file.
    Stale,
    /// In `sys.modules` but not yet recorded as loaded: another thread is
    /// executing it (its imports release the GIL) or its load failed.
    Loading,
    Absent,
}

/// `sys.modules` of the current interpreter, without the import machinery
/// (this runs on every request).
pub fn sys_modules(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    // SAFETY: the GIL is held; PySys_GetObject returns a borrowed
    // reference (or null without an exception set).
    let modules = unsafe { Bound::from_borrowed_ptr_or_opt(py, ffi::PySys_GetObject(c"modules".as_ptr())) };
    match modules {
        Some(m) => Ok(m.cast_into::<PyDict>()?),
        None => Ok(py.import("sys")?.getattr("modules")?.cast_into::<PyDict>()?),
    }
}

/// A module that is normally imported already (`io`, ...), from
/// `sys.modules` when it is there.
pub fn loaded_module<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    match sys_modules(py)?.get_item(name)? {
        Some(m) => Ok(m),
        None => Ok(py.import(name)?.into_any()),
    }
}

fn cached<'py>(py: Python<'py>, s: &Script<'_>) -> PyResult<Cached<'py>> {
    let modules = sys_modules(py)?;
    let name = super::strings::interned(py, s.module_name.as_bytes())?;
    let Some(m) = modules.get_item(name)? else { return Ok(Cached::Absent) };
    let Ok(m) = m.cast_into::<PyModule>() else { return Ok(Cached::Absent) };
    // Set only once the module has run to the end.
    let recorded: Option<i64> = m.getattr(intern!(py, MTIME_ATTR)).ok().and_then(|v| v.extract().ok());
    match recorded {
        None => Ok(Cached::Loading),
        Some(t) if s.reload && t != s.mtime => Ok(Cached::Stale),
        Some(_) => Ok(Cached::Current(m)),
    }
}

fn exec<'py>(py: Python<'py>, s: &Script<'_>) -> PyResult<Bound<'py, PyModule>> {
    let source = std::fs::read(s.path).map_err(|e| pyo3::exceptions::PyIOError::new_err(format!("{}: {e}", s.path)))?;
    let builtins = py.import("builtins")?;
    let code = builtins.getattr("compile")?.call1((source, s.path, "exec", 0, true))?;
    let name = CString::new(s.module_name)?;
    let path = CString::new(s.path)?;
    // SAFETY: GIL held; PyImport_ExecCodeModuleEx returns a new reference
    // or null with an exception set (and removes the module on failure).
    let module = unsafe {
        let m = ffi::PyImport_ExecCodeModuleEx(name.as_ptr(), code.as_ptr(), path.as_ptr());
        Bound::from_owned_ptr_or_err(py, m)?
    };
    let module = module.cast_into::<PyModule>()?;
    module.setattr(MTIME_ATTR, s.mtime)?;
    Ok(module)
}

/// How [`module`] obtained the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtained {
    /// Already loaded and current.
    Cached,
    /// Loaded now, for the first time in this interpreter.
    Loaded,
    /// Loaded again because the file changed.
    Reloaded,
}

/// mod_wsgi's info line for a script file loaded into `application` of
/// daemon group `process` ('' outside one): "`what` 'script'".
pub fn load_line(process: &str, application: &str, what: &str, script: &str) -> String {
    format!(
        "mod_wsgi (pid={}, process='{process}', application='{application}'): {what} '{script}'.",
        std::process::id()
    )
}

/// The script's module, loaded (or reloaded) as needed.
pub fn module<'py>(py: Python<'py>, s: &Script<'_>) -> Result<(Bound<'py, PyModule>, Obtained), ScriptError> {
    let load_err = |err| ScriptError::Load { path: s.path.to_string(), err };
    let changed = || ScriptError::Changed { path: s.path.to_string() };
    // The script's own reload_required() asked for a reload.
    let mut asked = false;
    match cached(py, s).map_err(load_err)? {
        Cached::Current(m) if !reload_required(py, &m, s) => return Ok((m, Obtained::Cached)),
        Cached::Current(_) | Cached::Stale if s.restart_on_change => return Err(changed()),
        Cached::Current(_) => asked = true,
        // A module another thread is still loading is waited for below,
        // never taken for a changed file nor used half-run.
        _ => {}
    }
    let _loading = py.detach(|| LOADING.lock());
    let how = match cached(py, s).map_err(load_err)? {
        Cached::Current(_) if asked => Obtained::Reloaded,
        Cached::Current(m) => return Ok((m, Obtained::Cached)),
        Cached::Stale if s.restart_on_change => return Err(changed()),
        Cached::Stale => Obtained::Reloaded,
        // Under the lock nobody is loading it: put there by other code.
        Cached::Loading | Cached::Absent => Obtained::Loaded,
    };
    let modules = py.import("sys").and_then(|sys| sys.getattr("modules")).map_err(load_err)?;
    if modules.contains(s.module_name).unwrap_or(false) {
        let _ = modules.del_item(s.module_name);
    }
    exec(py, s).map(|m| (m, how)).map_err(load_err)
}

/// Whether the script's `reload_required(resource)` function (if it has
/// one, and reloading is on) says to load it again, as mod_wsgi asks it
/// before each request with the script's path. An exception in it is
/// logged, and the script kept.
fn reload_required(py: Python<'_>, module: &Bound<'_, PyModule>, s: &Script<'_>) -> bool {
    if !s.reload {
        return false;
    }
    let Ok(name) = super::strings::interned(py, b"reload_required") else { return false };
    let Ok(Some(f)) = module.dict().get_item(name) else { return false };
    match f.call1((s.path,)).and_then(|r| r.is_truthy()) {
        Ok(yes) => yes,
        Err(e) => {
            let mut lines = vec![with_pid(format_args!("Exception occurred processing WSGI script '{}'.", s.path))];
            lines.extend(super::call::traceback_lines(py, &e));
            super::errors::log_lines(py, None, crate::common::log::LogLevel::Error, lines);
            false
        }
    }
}

/// The application callable named `callable` in the script.
pub fn application<'py>(
    module: &Bound<'py, PyModule>,
    path: &str,
    callable: &str,
) -> Result<Bound<'py, PyAny>, ScriptError> {
    super::strings::interned(module.py(), callable.as_bytes())
        .ok()
        .and_then(|name| module.getattr(name).ok())
        .filter(|a| a.is_callable())
        .ok_or_else(|| ScriptError::NoCallable { path: path.to_string(), callable: callable.to_string() })
}
