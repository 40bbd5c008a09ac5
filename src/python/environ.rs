//! The WSGI `environ` dictionary.

use super::interpreter_setup::COMPAT_VERSION;
use super::strings::{Strings, interned, with_strings};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// `"2.4.71"` as `(2, 4, 71)`; missing or bad parts are 0.
fn version_tuple<'py>(py: Python<'py>, text: &[u8]) -> PyResult<Bound<'py, PyTuple>> {
    let text = String::from_utf8_lossy(text);
    let mut parts = text.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let v: [u32; 3] = std::array::from_fn(|_| parts.next().unwrap_or(0));
    PyTuple::new(py, v)
}

/// Requests this process has started, for `mod_wsgi.total_requests`.
static TOTAL_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// The last `mod_wsgi.thread_id` given out; ids start at 1.
static LAST_THREAD_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's `mod_wsgi.thread_id` (0: none yet) and how many
    /// requests it has handled before the current one.
    static THREAD: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// `path` with every run of slashes made one, as Apache's `ap_no2slash`.
fn no2slash(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if !(b == b'/' && out.last() == Some(&b'/')) {
            out.push(b);
        }
    }
    out
}

/// What mod_wsgi does to the server's `SCRIPT_NAME` and `PATH_INFO`: both
/// present (empty when the server gave none), repeated slashes collapsed,
/// and the results kept as `mod_wsgi.script_name` and `mod_wsgi.path_info`.
pub fn normalise_script_paths(vars: &mut Vars) {
    for (key, saved) in [(&b"SCRIPT_NAME"[..], &b"mod_wsgi.script_name"[..]), (b"PATH_INFO", b"mod_wsgi.path_info")] {
        let given = vars.get(key);
        let value = given.map(no2slash).unwrap_or_default();
        if given != Some(value.as_slice()) {
            vars.set(key, &value);
        }
        vars.set(saved, &value);
    }
}

/// Whether an `HTTPS` variable's value means the request came over TLS.
pub fn is_https(value: &[u8]) -> bool {
    matches!(value, b"1" | b"on" | b"On" | b"ON")
}

/// Microseconds since the epoch, as mod_wsgi's `*_start` values.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// One environ entry before it is in a dict: its key, and its value, or
/// `None` for a value that is the same for every request of the process
/// (taken from the template when there is one).
type Item<'py> = (Bound<'py, PyString>, Option<Bound<'py, PyAny>>);

/// The environ's entries, in order: the request's variables, then the
/// `wsgi.*` and `mod_wsgi.*` keys of `build`.
fn items<'py, 'v>(
    py: Python<'py>,
    strings: &mut Strings<'_, 'py>,
    vars: &'v Vars,
    flags: &EnvironFlags,
    apache_version: &mut Option<&'v [u8]>,
) -> PyResult<Vec<Item<'py>>> {
    let mut items: Vec<Item<'py>> = Vec::with_capacity(vars.len() + EXTRA_KEYS);
    for (k, v) in vars.iter() {
        match k {
            b"PATH" | b"HTTPS" => {}
            k if k == APACHE_VERSION_KEY.as_bytes() => {
                items.push((strings.interned(k)?, None));
                *apache_version = Some(v);
            }
            _ => {
                let (k, v) = strings.entry(k, v)?;
                items.push((k, Some(v.into_any())));
            }
        }
    }
    let scheme = strings.interned(if flags.https { b"https" } else { b"http" })?;
    let mut value = |name: &[u8], v: Option<Bound<'py, PyAny>>| -> PyResult<()> {
        items.push((strings.interned(name)?, v));
        Ok(())
    };
    // A str, as mod_wsgi has it.
    value(b"mod_wsgi.script_start", Some(now_micros().to_string().into_pyobject(py)?.into_any()))?;
    value(b"wsgi.version", None)?;
    value(b"wsgi.url_scheme", Some(scheme.into_any()))?;
    value(b"wsgi.multithread", Some(PyBool::new(py, flags.multithread).to_owned().into_any()))?;
    value(b"wsgi.multiprocess", Some(PyBool::new(py, flags.multiprocess).to_owned().into_any()))?;
    value(b"wsgi.run_once", Some(PyBool::new(py, false).to_owned().into_any()))?;
    value(b"wsgi.input_terminated", Some(PyBool::new(py, true).to_owned().into_any()))?;
    value(b"mod_wsgi.version", None)?;
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
    Ok(items)
}

/// Builds the dictionary: every CGI variable as a latin-1 `str`, then the
/// `wsgi.*` keys and the per-process `mod_wsgi.*` counters. The stream
/// objects are added by the caller.
///
/// As mod_wsgi does, `PATH` (the server's own search path) is left out,
/// and `HTTPS` is turned into `wsgi.url_scheme` and left out.
pub fn build<'py>(py: Python<'py>, vars: &Vars, flags: &EnvironFlags) -> PyResult<Bound<'py, PyDict>> {
    let mut apache_version = None;
    let items = with_strings(py, |strings| items(py, strings, vars, flags, &mut apache_version))?;
    if let Some(env) = template::copy(py, &items)? {
        return Ok(env);
    }
    let env = presized_dict(py, items.len() + EXTRA_KEYS)?;
    for (k, v) in &items {
        let v = match (v, k.to_str()?) {
            (Some(v), _) => v.clone(),
            (None, "apache.version") => version_tuple(py, apache_version.unwrap_or_default())?.into_any(),
            (None, "wsgi.version") => PyTuple::new(py, [1, 0])?.into_any(),
            (None, _) => PyTuple::new(py, [COMPAT_VERSION.0, COMPAT_VERSION.1, COMPAT_VERSION.2])?.into_any(),
        };
        env.set_item(k, v)?;
    }
    template::keep(&env, &items)?;
    Ok(env)
}

/// The last environ built on this thread, per interpreter, as a template:
/// a request with the same keys in the same order (most are) gets a copy
/// of it, a copy of a dict costing far less than filling one, with the
/// values that differ replaced. Only copies reach applications.
mod template {
    use super::Item;
    use pyo3::ffi;
    use pyo3::prelude::*;
    use pyo3::types::PyDict;
    use std::cell::RefCell;

    struct Template {
        interp: usize,
        /// Holds a reference, never released (see strings.rs: interpreters
        /// live as long as the process).
        dict: usize,
        /// The key and value objects of `dict`, in order.
        entries: Vec<(usize, usize)>,
    }

    thread_local! {
        static TEMPLATES: RefCell<Vec<Template>> = const { RefCell::new(Vec::new()) };
    }

    fn interp() -> usize {
        // SAFETY: callers hold the GIL, so there is a current interpreter.
        unsafe { ffi::PyInterpreterState_Get() as usize }
    }

    /// A copy of the template with `items`' values, if it has their keys.
    pub fn copy<'py>(py: Python<'py>, items: &[Item<'py>]) -> PyResult<Option<Bound<'py, PyDict>>> {
        let interp = interp();
        TEMPLATES.with(|t| {
            let t = t.borrow();
            let Some(tpl) = t.iter().find(|t| t.interp == interp) else { return Ok(None) };
            if tpl.entries.len() != items.len()
                || !tpl.entries.iter().zip(items).all(|((k, _), (key, _))| *k == key.as_ptr() as usize)
            {
                return Ok(None);
            }
            // SAFETY: the template is a dict of this interpreter, alive
            // through the reference it holds; PyDict_Copy returns a new
            // dict or null with an exception set.
            let env = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyDict_Copy(tpl.dict as *mut ffi::PyObject))? };
            // SAFETY: PyDict_Copy returns a dict.
            let env: Bound<'py, PyDict> = unsafe { env.cast_into_unchecked() };
            for ((_, old), (key, value)) in tpl.entries.iter().zip(items) {
                if let Some(v) = value
                    && v.as_ptr() as usize != *old
                {
                    env.set_item(key, v)?;
                }
            }
            Ok(Some(env))
        })
    }

    /// Makes a copy of `env` (just built from `items`) this thread's template.
    pub fn keep<'py>(env: &Bound<'py, PyDict>, items: &[Item<'py>]) -> PyResult<()> {
        let interp = interp();
        let dict = env.copy()?;
        let mut entries = Vec::with_capacity(items.len());
        for (key, _) in items {
            let v = dict.get_item(key)?.map_or(0, |v| v.as_ptr() as usize);
            entries.push((key.as_ptr() as usize, v));
        }
        TEMPLATES.with(|t| {
            let mut t = t.borrow_mut();
            let dict = dict.into_ptr() as usize;
            match t.iter_mut().find(|t| t.interp == interp) {
                Some(tpl) => {
                    // SAFETY: the old template's own reference, to a dict of
                    // this interpreter whose GIL is held.
                    unsafe { ffi::Py_DECREF(tpl.dict as *mut ffi::PyObject) };
                    (tpl.dict, tpl.entries) = (dict, entries);
                }
                None => t.push(Template { interp, dict, entries }),
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
