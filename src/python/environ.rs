//! The WSGI `environ` dictionary.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// A request's CGI-style variables, as bytes, in the server's order.
pub type Vars = Vec<(Vec<u8>, Vec<u8>)>;

/// What the server knows about the request beyond its CGI variables.
pub struct EnvironFlags {
    pub https: bool,
    pub multithread: bool,
    pub multiprocess: bool,
}

/// Decodes bytes as latin-1, as WSGI requires for native strings.
pub fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    let text: String = bytes.iter().map(|&b| b as char).collect();
    PyString::new(py, &text)
}

/// Builds the dictionary: every CGI variable as a latin-1 `str`, then the
/// `wsgi.*` keys. The stream objects are added by the caller.
pub fn build<'py>(py: Python<'py>, vars: &[(Vec<u8>, Vec<u8>)], flags: &EnvironFlags) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    for (k, v) in vars {
        env.set_item(latin1(py, k), latin1(py, v))?;
    }
    env.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
    env.set_item("wsgi.url_scheme", if flags.https { "https" } else { "http" })?;
    env.set_item("wsgi.multithread", flags.multithread)?;
    env.set_item("wsgi.multiprocess", flags.multiprocess)?;
    env.set_item("wsgi.run_once", false)?;
    env.set_item("wsgi.input_terminated", true)?;
    Ok(env)
}
