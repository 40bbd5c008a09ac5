//! Integration-test harness: real `/usr/sbin/apache2` processes loading our
//! `libmod_wsgi.so` (or Debian's mod_wsgi, for comparisons), driven over HTTP
//! on 127.0.0.1.
//!
//! Every test file does `mod common;` and `use common::*;`. Build the module
//! first: `cargo build --release && cargo test --release --test <name>`. Set
//! `MOD_WSGI_RS_SO` to test another build of the module, and
//! `MOD_WSGI_RS_TEST_MODULE=debian` to run the tests (those that do not choose
//! a module themselves) against Debian's mod_wsgi. `MOD_WSGI_RS_KEEP_ROOTS=1`
//! keeps every test root (configuration, fixtures, logs) for inspection.
//!
//! # A server for one test
//!
//! ```ignore
//! let apache = ApacheBuilder::new()
//!     .file("scripts/hello.wsgi", apps::HELLO_WORLD)
//!     .conf("WSGIScriptAlias /hello {root}/scripts/hello.wsgi")
//!     .start();
//! let resp = apache.get("/hello");
//! assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
//! ```
//!
//! `{root}` (the fixture directory, readable by www-data) and `{port}` (the
//! listening port) are substituted in `.conf()` text. Dropping the `Apache`
//! stops it, also when the test panics. Its root directory is removed when the
//! test passed and kept (path printed) when it failed.
//!
//! # One server shared by every test of a file
//!
//! Tests of one file run in parallel threads of one process. When they need
//! the same configuration, start it once:
//!
//! ```ignore
//! fn server() -> &'static Apache {
//!     shared!(Apache, ApacheBuilder::new()/*...*/.start())
//! }
//! ```
//!
//! A `static` is never dropped, so every started server is also registered in
//! a process-wide list that a `libc::atexit` hook stops when the test process
//! exits (normally or through a failed test); the roots of those servers are
//! kept when any test of the process failed. Tests sharing a server must:
//! - look only at their own log lines: `let mark = server.log_mark();` before
//!   the request, then `server.log_since(mark)` / `wait_for_log_since`;
//! - use distinct URLs and fixture files, and never restart the server.
//!
//! How to choose: share when the tests only send requests against a fixed
//! configuration (cheaper: one Apache and its Python interpreters per file).
//! Use a server per test when the test changes the configuration (MPM,
//! module, server-level directives), restarts or signals the server, counts
//! processes, or asserts that some line is absent from the *whole* log.
//!
//! Leftovers from test processes killed before `atexit` could run (Ctrl-C,
//! SIGKILL) are stopped and removed by the next run of any test file.
//!
//! # What is where
//!
//! - `apache`: `ApacheBuilder` (`conf`, `file`, `writable_dir`, `mpm`,
//!   `module`, `log_level`, `env`, `start`, `try_start`, `configtest`) and
//!   `Apache` (`port`, `root`, `error_log`, `log_mark`, `log_since`,
//!   `wait_for_log[_since]`, `assert_status`, `assert_no_crash`, `pids`,
//!   `parent_pid`, `child_pids`, `restart_graceful`).
//! - `http`: `Apache::{get, head, post, request, try_request, raw,
//!   raw_timeout, connect}`; `Conn` for keep-alive and streamed reads;
//!   `Response` (`status`, `reason`, `headers`, `body`, `header`, `text`);
//!   `chunked` to encode request bodies.
//! - `apps`: WSGI applications used as fixtures (`HELLO_WORLD`, `ENVIRON`
//!   and its parser `environ`) and `simple_app` for one-line variations.
//! - `process`: /proc inspection and signals by pid.
//! - `tls`: a self-signed certificate made by the test.
//! - `front`: real HAProxy and nginx with the test's configuration, stopped by pid.
//! - `netns`: network namespaces and veth links made by the test, deleted on drop.

#![allow(dead_code)]

/// A value made by the first caller and shared by every later one, for the
/// life of the test process: `shared!(Apache, builder.start())` in a
/// function returning `&'static Apache` (see "One server shared by every
/// test of a file" above).
#[macro_export]
macro_rules! shared {
    ($ty:ty, $make:expr) => {{
        static SHARED: std::sync::LazyLock<$ty> = std::sync::LazyLock::new(|| $make);
        &*SHARED
    }};
}

pub mod apache;
pub mod api_app;
pub mod apps;
pub mod daemon;
pub mod front;
pub mod http;
pub mod netns;
pub mod process;
pub mod tls;
pub mod venv;

#[allow(unused_imports)]
pub use apache::{Apache, ApacheBuilder, MODE_DAEMON_GROUP, Mode, Module, Mpm};
#[allow(unused_imports)]
pub use http::{Conn, Response};

use std::time::{Duration, Instant};

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A token unique in this test process, for markers in logs and file names.
pub fn unique_token(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
