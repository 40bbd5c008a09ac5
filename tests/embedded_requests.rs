//! Embedded mode, the WSGI protocol seen from the application: the environ,
//! wsgi.input, wsgi.errors, start_response's write(), close() and streaming.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::apps::{self, environ, py_str};
use common::*;

/// Reads wsgi.input in the way named by the query string and answers with
/// what it read; X-Pieces counts the reads, X-Bad-Pieces the pieces that
/// break the mode's contract (size limit, one line per piece, bytes type).
const INPUT_APP: &str = include_str!("apps/embedded_requests/input.py");

/// Writes the query string to wsgi.errors.
const ERRORS_APP: &str = include_str!("apps/embedded_requests/errors.py");

const WRITE_APP: &str = include_str!("apps/embedded_requests/write.py");

/// Returns an iterable whose close() creates {state}/<query string>.
const CLOSE_APP: &str = include_str!("apps/embedded_requests/close.py");

/// A generator that yields 'first;', then waits (up to 10 s) for the test to
/// create {state}/<query string> before yielding the rest: the test sees
/// 'first;' only if it was sent before the generator finished.
const STREAM_APP: &str = include_str!("apps/embedded_requests/stream.py");

fn builder_with_env_app(mpm: Mpm) -> ApacheBuilder {
    ApacheBuilder::new()
        .mpm(mpm)
        .file("scripts/env.wsgi", apps::ENVIRON)
        .conf("WSGIScriptAlias /env {root}/scripts/env.wsgi")
}

fn server() -> &'static Apache {
    shared!(Apache, {
        let builder = builder_with_env_app(Mpm::Event).writable_dir("state");
        let state = builder.root().join("state").display().to_string();
        builder
            .file("scripts/input.wsgi", INPUT_APP)
            .file("scripts/errors.wsgi", ERRORS_APP)
            .file("scripts/write.wsgi", WRITE_APP)
            .file("scripts/close.wsgi", CLOSE_APP.replace("{state}", &state))
            .file("scripts/stream.wsgi", STREAM_APP.replace("{state}", &state))
            .conf(
                "WSGIScriptAlias /input {root}/scripts/input.wsgi
WSGIScriptAlias /errors {root}/scripts/errors.wsgi
WSGIScriptAlias /write {root}/scripts/write.wsgi
WSGIScriptAlias /close {root}/scripts/close.wsgi
WSGIScriptAlias /stream {root}/scripts/stream.wsgi",
            )
            .start()
    })
}

fn state_file(name: &str) -> PathBuf {
    server().root().join("state").join(name)
}

fn assert_env(env: &BTreeMap<String, String>, key: &str, repr: &str) {
    assert_eq!(env.get(key).map(String::as_str), Some(repr), "environ[{key:?}]; whole environ: {env:#?}");
}

#[test]
fn environ_of_a_post_with_path_info_query_and_headers() {
    let apache = server();
    let resp = apache.request(
        "POST",
        "/env/extra/path?a=1&b=two",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("X-Custom-Header", "custom value")],
        b"hello",
    );
    let env = environ(&resp);
    let port = apache.port().to_string();
    for (key, value) in [
        ("REQUEST_METHOD", "POST"),
        ("SCRIPT_NAME", "/env"),
        ("PATH_INFO", "/extra/path"),
        ("QUERY_STRING", "a=1&b=two"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("CONTENT_LENGTH", "5"),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", &port),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("HTTP_HOST", &format!("127.0.0.1:{port}")),
        ("HTTP_X_CUSTOM_HEADER", "custom value"),
        ("REQUEST_URI", "/env/extra/path?a=1&b=two"),
        ("wsgi.url_scheme", "http"),
    ] {
        assert_env(&env, key, &py_str(value));
    }
    assert_env(&env, "wsgi.version", "(1, 0)");
    assert_env(&env, "wsgi.run_once", "False");
    assert_env(&env, "wsgi.multithread", "True");
    // Embedded under mpm_event: many children; the test-mode daemon group
    // has no `processes=`, which mod_wsgi reports as not multiprocess.
    let multiprocess = if Mode::for_tests() == Mode::Daemon { "False" } else { "True" };
    assert_env(&env, "wsgi.multiprocess", multiprocess);
    // CGI rules: the body's type and length are not repeated as HTTP_*.
    assert!(!env.contains_key("HTTP_CONTENT_TYPE"), "{env:#?}");
    assert!(!env.contains_key("HTTP_CONTENT_LENGTH"), "{env:#?}");
    for key in ["wsgi.input", "wsgi.errors"] {
        assert!(env.contains_key(key), "no {key}: {env:#?}");
    }
}

#[test]
fn environ_of_a_plain_get() {
    let env = environ(&server().get("/env"));
    assert_env(&env, "REQUEST_METHOD", "'GET'");
    assert_env(&env, "SCRIPT_NAME", "'/env'");
    assert_env(&env, "PATH_INFO", "''");
    assert_env(&env, "QUERY_STRING", "''");
    assert!(!env.contains_key("CONTENT_TYPE"), "{env:#?}");
}

/// The flags embedded mode takes from the MPM (daemon groups are covered
/// by tests/daemon_basics.rs).
fn multithread_and_multiprocess(mpm: Mpm) -> (String, String) {
    let apache = builder_with_env_app(mpm).embedded_only().start();
    let env = environ(&apache.get("/env"));
    (env["wsgi.multithread"].clone(), env["wsgi.multiprocess"].clone())
}

#[test]
fn multithread_under_worker_mpm() {
    let flags = multithread_and_multiprocess(Mpm::Worker);
    assert_eq!(flags, ("True".into(), "True".into()));
}

#[test]
fn not_multithread_under_prefork_mpm() {
    let flags = multithread_and_multiprocess(Mpm::Prefork);
    assert_eq!(flags, ("False".into(), "True".into()));
}

/// 3000 short lines, one 100 000-byte line, and a last line without '\n':
/// 3002 lines, about 220 KiB.
fn big_body() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..3000 {
        body.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 61)).as_bytes());
    }
    body.extend(std::iter::repeat_n(b'y', 100_000));
    body.push(b'\n');
    body.extend_from_slice(b"last line without newline");
    body
}

fn read_input(mode: &str, body: &[u8]) -> Response {
    let mark = server().log_mark();
    let resp = server().post(&format!("/input?{mode}"), "application/octet-stream", body);
    server().assert_status(&resp, 200, mark);
    assert!(
        resp.body == body,
        "{mode}: body read differs from body sent ({} vs {} bytes)",
        resp.body.len(),
        body.len()
    );
    assert_eq!(resp.header("X-Bad-Pieces"), Some("0"), "{mode}: {resp:?}");
    assert_eq!(resp.header("X-After-EOF"), Some("b''"), "{mode}: {resp:?}");
    resp
}

fn pieces(resp: &Response) -> usize {
    resp.header("X-Pieces").unwrap().parse().unwrap()
}

#[test]
fn input_read_all() {
    let body = big_body();
    assert_eq!(pieces(&read_input("read", &body)), 1);
}

#[test]
fn input_read_in_blocks() {
    let body = big_body();
    for n in [1000, 8192, 65536, 1 << 20] {
        let resp = read_input(&format!("read-{n}"), &body);
        assert_eq!(pieces(&resp), body.len().div_ceil(n), "read({n})");
    }
}

#[test]
fn input_readline() {
    let resp = read_input("readline", &big_body());
    assert_eq!(pieces(&resp), 3002);
}

#[test]
fn input_readline_with_size() {
    // Bounded reads split the 100 000-byte line; the body still round-trips.
    let resp = read_input("readline-4096", &big_body());
    assert!(pieces(&resp) > 3002, "{resp:?}");
}

#[test]
fn input_readlines() {
    assert_eq!(pieces(&read_input("readlines", &big_body())), 3002);
}

#[test]
fn input_iteration() {
    assert_eq!(pieces(&read_input("iter", &big_body())), 3002);
}

#[test]
fn input_of_an_empty_post() {
    for mode in ["read", "readline", "readlines", "iter"] {
        let resp = read_input(mode, b"");
        let expected = if mode == "read" { 1 } else { 0 };
        assert_eq!(pieces(&resp), expected, "{mode}: {resp:?}");
    }
}

#[test]
fn wsgi_errors_write_goes_to_error_log() {
    let apache = server();
    let marker = unique_token("wsgi-errors-marker");
    let mark = apache.log_mark();
    let resp = apache.get(&format!("/errors?{marker}"));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "logged");
    assert!(
        apache.wait_for_log_since(mark, &marker, Duration::from_secs(5)),
        "{marker} not in error_log:\n{}",
        apache.log_since(mark)
    );
    let log = apache.log_since(mark);
    let line = log.lines().find(|l| l.contains(&marker)).unwrap();
    // Written for a request: logged with the client address, like mod_wsgi.
    assert!(line.contains(Mode::for_tests().client_tag()), "{line}");
    assert!(line.ends_with(&marker), "{line}");
}

/// Does to wsgi.errors what the query string says, and reports what it
/// sees of it: a stream is reused between requests only when the
/// application left no trace on it, so none of this may leak into the next
/// request.
const ERRORS_STATE_APP: &str = include_str!("apps/embedded_requests/errors_state.py");

/// Changes its environ as the query says (a framework adds keys, a
/// middleware rewrites some), then reports it.
const ENVIRON_CHANGING_APP: &str = include_str!("apps/embedded_requests/environ_changing.py");

/// A server with one worker thread, so that every request meets what the
/// previous one left in that thread (strings and streams kept for reuse).
fn one_worker() -> &'static Apache {
    shared!(Apache, {
        builder_with_env_app(Mpm::Prefork)
            .conf("StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1")
            .file("scripts/errors-state.wsgi", ERRORS_STATE_APP)
            .conf("WSGIScriptAlias /errors-state {root}/scripts/errors-state.wsgi")
            .file("scripts/environ-changing.wsgi", ENVIRON_CHANGING_APP)
            .conf("WSGIScriptAlias /environ-changing {root}/scripts/environ-changing.wsgi")
            .start()
    })
}

#[test]
fn environ_values_follow_each_request() {
    let apache = one_worker();
    let long = "x".repeat(300);
    let mut counted = Vec::new();
    for (query, header) in [("a", "one"), ("b", "two"), ("a", "one"), ("a", long.as_str()), ("c", "one")] {
        let resp = apache.request("GET", &format!("/env?{query}"), &[("X-Probe", header)], b"");
        let env = environ(&resp);
        assert_env(&env, "QUERY_STRING", &py_str(query));
        assert_env(&env, "HTTP_X_PROBE", &py_str(header));
        counted.push(env.get("mod_wsgi.script_start").and_then(|n| n.trim_matches('\'').parse::<u64>().ok()));
    }
    // The per-request values too, whatever else stayed the same (a request
    // counter would not do: other tests of this file may replace the child).
    assert!(counted.iter().all(Option::is_some), "no mod_wsgi.script_start: {counted:?}");
    assert!(counted.windows(2).all(|w| w[0] < w[1]), "each request has its own start time: {counted:?}");
    // A header that the previous request had and this one has not.
    let env = environ(&apache.get("/env?d"));
    assert!(!env.contains_key("HTTP_X_PROBE"), "{env:#?}");
}

/// Each environ is built afresh for its request (in practice a copy of
/// the previous one's pristine form): what an application does to its
/// own never shows in the next.
#[test]
fn environ_changes_do_not_reach_the_next_request() {
    let apache = one_worker();
    for what in ["look", "change", "look", "change", "change", "look"] {
        let resp = apache.get(&format!("/environ-changing?{what}"));
        assert_eq!(resp.status, 200, "{}", apache.error_log());
        assert_eq!(resp.text(), "None GET True (1, 0)", "after '{what}'");
    }
}

#[test]
fn wsgi_errors_is_fresh_for_every_request() {
    let apache = one_worker();
    let pristine = "marker=False kept=False closed=False line_buffering=True type=TextIOWrapper";
    for what in ["plain", "plain", "mark", "keep", "close", "reconfigure", "write", "plain"] {
        let mark = apache.log_mark();
        let resp = apache.get(&format!("/errors-state?{what}"));
        apache.assert_status(&resp, 200, mark);
        let after = apache.get("/errors-state?check");
        assert_eq!(after.text(), pristine, "the request after '{what}' saw: {:?}", after.text());
    }
    let log = apache.error_log();
    let written: Vec<_> = log.lines().filter(|l| l.contains("errors-state written")).collect();
    assert_eq!(written.len(), 1, "{log}");
    assert!(written[0].contains(Mode::for_tests().client_tag()), "{}", written[0]);
    apache.assert_no_crash();
}

#[test]
fn start_response_write_precedes_the_iterable() {
    let resp = server().get("/write");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "written;again;returned;end");
    assert_eq!(resp.header("Content-Type"), Some("text/plain"));
}

#[test]
fn iterable_close_is_called() {
    let marker = unique_token("closed");
    let resp = server().get(&format!("/close?{marker}"));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "part1;part2");
    let file = state_file(&marker);
    assert!(
        wait_until(Duration::from_secs(5), || file.exists()),
        "close() was not called (no {})\n{}",
        file.display(),
        server().error_log()
    );
}

#[test]
fn generator_response_is_streamed() {
    let apache = server();
    let token = unique_token("stream-go");
    let mut conn = apache.connect();
    conn.send("GET", &format!("/stream?{token}"), &[("Connection", "close")], b"").unwrap();
    let mut bytes = conn.read_until(b"first;", Duration::from_secs(8));
    assert!(
        http::contains(&bytes, b"first;"),
        "the first block was not sent before the generator finished; got {:?}",
        String::from_utf8_lossy(&bytes)
    );
    std::fs::write(state_file(&token), "go").unwrap();
    bytes.extend(conn.read_to_end());
    let resp = Response::parse(&bytes, false).unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "first;second;third");
    assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"), "{resp:?}");
    assert_eq!(resp.header("Content-Length"), None, "{resp:?}");
}

#[test]
fn head_request_has_headers_but_no_body() {
    let resp = server().head("/env");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.body.is_empty());
    assert!(resp.header("Content-Length").is_some(), "{resp:?}");
}

/// What an application writes to `wsgi.errors`, `sys.stderr` or with
/// `print()` during a request is logged with the client's address, as
/// mod_wsgi logs it: `[client ip:port]` in an Apache child, `[remote
/// ip:port]` from a daemon process.
#[test]
fn lines_written_during_a_request_carry_the_client_address() {
    const APP: &str = include_str!("apps/embedded_requests/app.py");
    let apache =
        ApacheBuilder::new().file("scripts/log.wsgi", APP).conf("WSGIScriptAlias /log {root}/scripts/log.wsgi").start();
    let token = unique_token("tagged");
    let mark = apache.log_mark();
    let resp = apache.get(&format!("/log?{token}"));
    apache.assert_status(&resp, 200, mark);
    let tag = Mode::for_tests().client_tag();
    for stream in ["errors", "stderr", "print"] {
        let needle = format!("{stream} {token}");
        assert!(apache.wait_for_log_since(mark, &needle, Duration::from_secs(5)), "{}", apache.log_since(mark));
        let log = apache.log_since(mark);
        let line = log.lines().find(|l| l.ends_with(&needle)).unwrap_or_default();
        assert!(line.contains(tag), "{stream}: no {tag}...] in {line:?}");
    }
}
