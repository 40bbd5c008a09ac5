//! WSGI applications used as fixtures, and helpers to read their output.

use std::collections::BTreeMap;

use super::http::Response;

/// The Quick Configuration Guide's hello-world application, verbatim.
pub const HELLO_WORLD: &str = include_str!("../apps/common/hello_world.py");

/// Answers with one `key=repr(value)` line per environ entry, sorted.
/// Read it with [`environ`].
pub const ENVIRON: &str = include_str!("../apps/common/environ.py");

/// Parses the output of [`ENVIRON`]: key -> Python repr of the value.
/// Panics (showing the response) unless it is a 200.
pub fn environ(resp: &Response) -> BTreeMap<String, String> {
    assert_eq!(resp.status, 200, "environ app failed:\n{resp:?}");
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The Python repr of a plain str: `py_str("GET")` is `'GET'`.
pub fn py_str(s: &str) -> String {
    assert!(
        s.chars().all(|c| c.is_ascii_graphic() && c != '\'' && c != '\\' || c == ' '),
        "py_str only handles printable ASCII without quotes: {s:?}"
    );
    format!("'{s}'")
}

/// A single-route app returning `body` with `status` and `headers` given as
/// Python source, for error cases: `simple_app("'200 OK'", "[]", "[b'x']")`.
pub fn simple_app(status: &str, headers: &str, body: &str) -> String {
    format!("def application(environ, start_response):\n    start_response({status}, {headers})\n    return {body}\n")
}
