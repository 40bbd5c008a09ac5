//! The WSGI `environ` dictionary.

use super::interpreter_setup::COMPAT_VERSION;
use super::strings::{entry, interned};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
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

/// Builds the dictionary: every CGI variable as a latin-1 `str`, then the
/// `wsgi.*` keys and the per-process `mod_wsgi.*` counters. The stream
/// objects are added by the caller.
///
/// As mod_wsgi does, `PATH` (the server's own search path) is left out,
/// and `HTTPS` is turned into `wsgi.url_scheme` and left out.
pub fn build<'py>(py: Python<'py>, vars: &Vars, flags: &EnvironFlags) -> PyResult<Bound<'py, PyDict>> {
    let env = presized_dict(py, vars.len() + EXTRA_KEYS)?;
    for (k, v) in vars.iter() {
        match k {
            b"PATH" | b"HTTPS" => {}
            k if k == APACHE_VERSION_KEY.as_bytes() => set(&env, k, version_tuple(py, v)?)?,
            _ => {
                let (k, v) = entry(py, k, v)?;
                env.set_item(k, v)?;
            }
        }
    }
    set(&env, b"mod_wsgi.script_start", now_micros().to_string())?;
    set(&env, b"wsgi.version", PyTuple::new(py, [1, 0])?)?;
    set(&env, b"wsgi.url_scheme", interned(py, if flags.https { b"https" } else { b"http" })?)?;
    set(&env, b"wsgi.multithread", flags.multithread)?;
    set(&env, b"wsgi.multiprocess", flags.multiprocess)?;
    set(&env, b"wsgi.run_once", false)?;
    set(&env, b"wsgi.input_terminated", true)?;
    set(&env, b"mod_wsgi.version", PyTuple::new(py, [COMPAT_VERSION.0, COMPAT_VERSION.1, COMPAT_VERSION.2])?)?;
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
    set(&env, b"mod_wsgi.total_requests", total)?;
    set(&env, b"mod_wsgi.thread_id", thread_id)?;
    set(&env, b"mod_wsgi.thread_requests", thread_requests)?;
    Ok(env)
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
