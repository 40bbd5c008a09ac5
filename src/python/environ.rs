//! The WSGI `environ` dictionary.

use super::interpreter_setup::COMPAT_VERSION;
use super::strings::{Strings, interned, latin1, with_strings};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use wsgi_core::request_environ;
pub use wsgi_core::vars::Vars;

/// What the server knows about the request beyond its CGI variables.
pub struct EnvironFlags {
    pub https: bool,
    pub multithread: bool,
    pub multiprocess: bool,
}

/// The variable that carries the httpd version (`"2.4.71"`) from the
/// server to here, where it becomes the tuple mod_wsgi puts in
/// `environ['apache.version']`.
pub const APACHE_VERSION_KEY: &str = "apache.version";

/// Requests this process has started, for `mod_wsgi.total_requests`.
static TOTAL_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// The last `mod_wsgi.thread_id` given out; ids start at 1.
static LAST_THREAD_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's `mod_wsgi.thread_id` (0: none yet) and how many
    /// requests it has handled before the current one.
    static THREAD: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// This thread's `mod_wsgi.thread_id` (0 before its first request).
pub fn thread_id() -> u64 {
    THREAD.with(|t| t.get().0)
}

/// How many threads have been given a `mod_wsgi.thread_id`.
pub fn threads_started() -> u64 {
    LAST_THREAD_ID.load(Ordering::Relaxed)
}

/// One environ entry before it is in a dict: its key, and its value, or
/// `None` for a value that is the same for every request (see [`FIXED`]).
type Item<'py> = (Bound<'py, PyString>, Option<Bound<'py, PyAny>>);

/// The `wsgi.*` and `mod_wsgi.*` entries after the request's variables:
/// those whose value changes from request to request (or with `flags`)
/// with their value, then the fixed ones with `None`.
fn extras<'py>(py: Python<'py>, strings: &mut Strings<'_, 'py>, flags: &EnvironFlags) -> PyResult<Vec<Item<'py>>> {
    let mut items = Vec::with_capacity(EXTRA_KEYS);
    let scheme = strings.interned(if flags.https { b"https" } else { b"http" })?;
    let mut value = |name: &[u8], v: Option<Bound<'py, PyAny>>| -> PyResult<()> {
        items.push((strings.interned(name)?, v));
        Ok(())
    };
    // A str, as mod_wsgi has it.
    value(b"mod_wsgi.script_start", Some(crate::common::now_micros().to_string().into_pyobject(py)?.into_any()))?;
    value(b"wsgi.url_scheme", Some(scheme.into_any()))?;
    value(b"wsgi.multithread", Some(PyBool::new(py, flags.multithread).to_owned().into_any()))?;
    value(b"wsgi.multiprocess", Some(PyBool::new(py, flags.multiprocess).to_owned().into_any()))?;
    // Counted as mod_wsgi counts: the values before this request.
    let total = TOTAL_REQUESTS.fetch_add(1, Ordering::Relaxed);
    let (thread_id, thread_requests) = THREAD.with(|t| {
        let (mut id, count) = t.get();
        if id == 0 {
            id = LAST_THREAD_ID.fetch_add(1, Ordering::Relaxed) + 1;
        }
        t.set((id, count + 1));
        (id, count)
    });
    value(b"mod_wsgi.total_requests", Some(total.into_pyobject(py)?.into_any()))?;
    value(b"mod_wsgi.thread_id", Some(thread_id.into_pyobject(py)?.into_any()))?;
    value(b"mod_wsgi.thread_requests", Some(thread_requests.into_pyobject(py)?.into_any()))?;
    for name in FIXED {
        value(name, None)?;
    }
    Ok(items)
}

/// `wsgi.run_once` for this process: a daemon with one thread that serves
/// one request (threads=1 maximum-requests=1), as mod_wsgi sets it.
static RUN_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets `wsgi.run_once`; called before any request.
pub fn set_run_once(once: bool) {
    RUN_ONCE.store(once, Ordering::Relaxed);
}

/// The extras whose value is the same for every request: set when a dict
/// is filled, and already in the template's copies.
const FIXED: [&[u8]; 4] = [b"wsgi.version", b"wsgi.run_once", b"wsgi.input_terminated", b"mod_wsgi.version"];

/// The value of the fixed extra `name` (one of [`FIXED`]).
fn fixed_value<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    Ok(match name {
        "wsgi.version" => PyTuple::new(py, [1, 0])?.into_any(),
        "wsgi.run_once" => PyBool::new(py, RUN_ONCE.load(Ordering::Relaxed)).to_owned().into_any(),
        "wsgi.input_terminated" => PyBool::new(py, true).to_owned().into_any(),
        _ => PyTuple::new(py, [COMPAT_VERSION.0, COMPAT_VERSION.1, COMPAT_VERSION.2])?.into_any(),
    })
}

/// The value of variable `name` in the environ (`apache.version` as a
/// tuple of its parts).
pub(super) fn var_value<'py>(py: Python<'py>, name: &[u8], value: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if name == APACHE_VERSION_KEY.as_bytes() {
        Ok(PyTuple::new(py, request_environ::version_parts(value))?.into_any())
    } else {
        Ok(latin1(py, value)?.into_any())
    }
}

/// Builds the dictionary: every CGI variable as a latin-1 `str` (but see
/// `wsgi_core::request_environ::left_out`), then the `wsgi.*` keys and the
/// per-process `mod_wsgi.*` counters. The stream objects are added by the
/// caller.
pub fn build<'py>(py: Python<'py>, vars: &Vars, flags: &EnvironFlags) -> PyResult<Bound<'py, PyDict>> {
    let template = template::copy(py, vars)?;
    let extras = with_strings(py, |strings| extras(py, strings, flags))?;
    if let Some(env) = template {
        for (k, v) in &extras {
            if let Some(v) = v {
                env.set_item(k, v)?;
            }
        }
        return Ok(env);
    }
    let env = presized_dict(py, vars.len() + EXTRA_KEYS)?;
    let keys = with_strings(py, |strings| {
        let mut keys = Vec::with_capacity(vars.len());
        for (k, v) in vars.iter() {
            if request_environ::left_out(k) {
                keys.push(None);
                continue;
            }
            let key = strings.interned(k)?;
            env.set_item(&key, var_value(py, k, v)?)?;
            keys.push(Some(key));
        }
        Ok::<_, PyErr>(keys)
    })?;
    for (k, v) in &extras {
        let v = match v {
            Some(v) => v.clone(),
            None => fixed_value(py, k.to_str()?)?,
        };
        env.set_item(k, v)?;
    }
    // A name given twice would make the template's value of it depend on
    // which entry changed: such requests get none.
    if env.len() == keys.iter().flatten().count() + extras.len() {
        template::keep(&env, vars, &keys)?;
    }
    Ok(env)
}

/// The last environ built on this thread, per interpreter, as a template:
/// a request with the same variable names in the same order (most have)
/// gets a copy of it, a copy of a dict costing far less than filling one,
/// with the values that differ from the template's own replaced. Only
/// copies reach applications.
mod template {
    use super::{Vars, var_value};
    use pyo3::ffi;
    use pyo3::prelude::*;
    use pyo3::types::{PyDict, PyString};
    use std::cell::RefCell;

    struct Template {
        interp: usize,
        /// Holds a reference, never released (see strings.rs: interpreters
        /// live as long as the process).
        dict: usize,
        /// The variables `dict` was made from.
        vars: Vars,
        /// The key of each variable in `dict` (0: left out). The strings
        /// are held by the string cache, or by `dict`.
        keys: Vec<usize>,
    }

    thread_local! {
        static TEMPLATES: RefCell<Vec<Template>> = const { RefCell::new(Vec::new()) };
    }

    fn interp() -> usize {
        // SAFETY: callers hold the GIL, so there is a current interpreter.
        unsafe { ffi::PyInterpreterState_Get() as usize }
    }

    /// A copy of the template with `vars`' values, if it has their names.
    pub fn copy<'py>(py: Python<'py>, vars: &Vars) -> PyResult<Option<Bound<'py, PyDict>>> {
        let interp = interp();
        TEMPLATES.with(|t| {
            let t = t.borrow();
            let Some(tpl) = t.iter().find(|t| t.interp == interp) else { return Ok(None) };
            if !tpl.vars.same_names(vars) {
                return Ok(None);
            }
            // SAFETY: the template is a dict of this interpreter, alive
            // through the reference it holds; PyDict_Copy returns a new
            // dict or null with an exception set.
            let env = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyDict_Copy(tpl.dict as *mut ffi::PyObject))? };
            // SAFETY: PyDict_Copy returns a dict.
            let env: Bound<'py, PyDict> = unsafe { env.cast_into_unchecked() };
            for i in vars.changed_from(&tpl.vars) {
                let (key, (name, value)) = (tpl.keys[i], vars.entry(i));
                if key != 0 {
                    // SAFETY: a string of this interpreter that the template's
                    // dict (alive, above) holds as a key.
                    let key: Bound<'py, PyString> =
                        unsafe { Bound::from_borrowed_ptr(py, key as *mut ffi::PyObject).cast_into_unchecked() };
                    env.set_item(key, var_value(py, name, value)?)?;
                }
            }
            Ok(Some(env))
        })
    }

    /// Makes a copy of `env` (just built from `vars`, whose keys in it are
    /// `keys`) this thread's template.
    pub fn keep(env: &Bound<'_, PyDict>, vars: &Vars, keys: &[Option<Bound<'_, PyString>>]) -> PyResult<()> {
        let interp = interp();
        let dict = env.copy()?.into_ptr() as usize;
        let keys = keys.iter().map(|k| k.as_ref().map_or(0, |k| k.as_ptr() as usize)).collect();
        let vars = vars.clone();
        TEMPLATES.with(|t| {
            let mut t = t.borrow_mut();
            match t.iter_mut().find(|t| t.interp == interp) {
                Some(tpl) => {
                    // SAFETY: the old template's own reference, to a dict of
                    // this interpreter whose GIL is held.
                    unsafe { ffi::Py_DECREF(tpl.dict as *mut ffi::PyObject) };
                    (tpl.dict, tpl.vars, tpl.keys) = (dict, vars, keys);
                }
                None => t.push(Template { interp, dict, vars, keys }),
            }
        });
        Ok(())
    }
}

/// The keys `build` and its caller add to the server's variables.
const EXTRA_KEYS: usize = 14;

unsafe extern "C" {
    /// CPython's own constructor for a dict that will hold `minused` items
    /// (exported, though not in the limited API).
    fn _PyDict_NewPresized(minused: pyo3::ffi::Py_ssize_t) -> *mut pyo3::ffi::PyObject;
}

/// An empty dict with room for `n` items, so filling it never resizes.
fn presized_dict(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyDict>> {
    let n = pyo3::ffi::Py_ssize_t::try_from(n).unwrap_or(0);
    // SAFETY: the GIL is held; the call returns a new dict or null with an
    // exception set.
    unsafe { Ok(Bound::from_owned_ptr_or_err(py, _PyDict_NewPresized(n))?.cast_into_unchecked()) }
}

/// `env[name] = value`, with the key from the per-interpreter cache.
pub fn set<'py>(env: &Bound<'py, PyDict>, name: &[u8], value: impl IntoPyObject<'py>) -> PyResult<()> {
    env.set_item(interned(env.py(), name)?, value)
}
