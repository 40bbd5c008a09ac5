//! PEP 3333 corners in embedded mode: start_response called twice, with
//! and without exc_info, before and after output; write() before the
//! iterable; close() on every path (normal, exception while iterating,
//! client gone); objects kept from an earlier request; the application's
//! Content-Length (too much, too little, invalid) and HEAD.
//!
//! Unless a comment says otherwise, each expectation is also what Debian's
//! mod_wsgi 4.9.4 does (`MOD_WSGI_RS_TEST_MODULE=debian`; see
//! docs/mod_wsgi-4.9-observed.md, sections 4, 7 and 8).

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

/// Dispatches on the query string. `{state}` is a directory the app may
/// write marker files to.
const APP: &str = include_str!("apps/request_pep3333/app.py");

fn server() -> &'static Apache {
    shared!(Apache, {
        let builder = ApacheBuilder::new().writable_dir("state");
        let state = builder.root().join("state").display().to_string();
        builder
            .file("scripts/pep.wsgi", APP.replace("{state}", &state))
            .conf("WSGIScriptAlias /pep {root}/scripts/pep.wsgi\nKeepAliveTimeout 15")
            .conf(
                "LoadModule deflate_module /usr/lib/apache2/modules/mod_deflate.so
WSGIScriptAlias /headget {root}/scripts/pep.wsgi
WSGIScriptAlias /headoff {root}/scripts/pep.wsgi
WSGIScriptAlias /headfilter {root}/scripts/pep.wsgi
WSGIScriptAlias /headfilteroff {root}/scripts/pep.wsgi
<Location /headget>
    WSGIMapHEADToGET On
</Location>
<Location /headfilter>
    SetOutputFilter DEFLATE
</Location>
<Location /headfilteroff>
    SetOutputFilter DEFLATE
    WSGIMapHEADToGET Off
</Location>",
            )
            .start()
    })
}

fn script() -> String {
    server().root().join("scripts/pep.wsgi").display().to_string()
}

fn state_file(name: &str) -> PathBuf {
    server().root().join("state").join(name)
}

/// GETs `/pep?<query>` and checks the status.
fn get(query: &str, status: u16) -> (Response, usize) {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get(&format!("/pep?{query}"));
    apache.assert_status(&resp, status, mark);
    (resp, mark)
}

fn assert_log(mark: usize, fragment: &str) {
    let apache = server();
    assert!(
        apache.wait_for_log_since(mark, fragment, Duration::from_secs(5)),
        "error_log lacks {fragment:?}; since the request:\n{}",
        apache.log_since(mark)
    );
}

/// Waits for the marker an iterable's close() writes; returns its text.
fn closed_marker(name: &str) -> String {
    let file = state_file(name);
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(&file).is_ok_and(|t| !t.is_empty())),
        "close() was not called (no {})\n{}",
        file.display(),
        server().error_log()
    );
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn start_response_twice_before_output_second_call_wins() {
    let (resp, _) = get("twice", 201);
    assert_eq!(resp.header("X-Second"), Some("1"), "{resp:?}");
    assert_eq!(resp.header("X-First"), None, "{resp:?}");
    assert_eq!(resp.text(), "second call wins\n");
}

#[test]
fn exc_info_before_output_replaces_the_response() {
    let (resp, _) = get("excinfo_before", 500);
    assert_eq!(resp.reason, "Internal Error");
    assert_eq!(resp.header("X-Second"), Some("1"), "{resp:?}");
    assert_eq!(resp.header("X-First"), None, "{resp:?}");
    assert_eq!(resp.text(), "replaced\n");
}

#[test]
fn exc_info_on_the_first_call_is_accepted() {
    let (resp, _) = get("excinfo_first", 503);
    assert_eq!(resp.text(), "exc_info on the first call\n");
}

#[test]
fn exc_info_that_is_not_a_tuple_is_an_error() {
    let (resp, _) = get("excinfo_not_tuple", 200);
    assert_eq!(resp.text(), "RuntimeError('exception info must be a tuple')");
}

/// After output, start_response(..., exc_info) re-raises the exception: it
/// is logged with its traceback, and the client gets the output so far,
/// visibly cut short. mod_wsgi 4.9.4 appends Apache's 500 page to the 200
/// body and ends it as if complete (docs/differences.md); mod_wsgi-rs sends
/// no page, no last chunk, and closes the connection.
#[test]
fn exc_info_after_output_reraises() {
    let apache = server();
    let token = unique_token("reraise");
    let mark = apache.log_mark();
    let bytes = apache.raw_timeout(
        format!("GET /pep?excinfo_after&{token} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("X-First: 1\r\n"), "{text}");
    assert!(text.contains("already sent\n"), "{text}");
    assert!(!text.contains("not reached"), "{text}");
    assert_log(mark, &format!("ValueError: oops after output {token}"));
    let log = apache.log_since(mark);
    assert!(log.contains(&format!("Exception occurred processing WSGI script '{}'.", script())), "{log}");
    assert!(log.contains("raise ValueError('oops after output ' + arg)"), "traceback: {log}");
    if apache.module() == Module::Ours {
        assert!(!text.contains("<!DOCTYPE"), "an error page was appended to the body:\n{text}");
        assert!(!text.ends_with("0\r\n\r\n"), "the cut-short body was ended as complete:\n{text}");
    }
}

#[test]
fn start_response_after_output_without_exc_info_raises() {
    let (resp, _) = get("twice_after_write", 200);
    assert_eq!(resp.text(), "data\nsecond call: RuntimeError('headers have already been sent')\n");
}

#[test]
fn write_output_precedes_and_interleaves_with_the_iterable() {
    let (resp, _) = get("write_then_generator", 200);
    assert_eq!(resp.text(), "written;yielded;written-while-iterating;end");
}

#[test]
fn body_without_start_response_is_500() {
    let (_, mark) = get("no_start_response", 500);
    assert_log(mark, "RuntimeError: response has not been started");
}

#[test]
fn uncaught_system_exit_is_500_and_logged_as_ignored() {
    let (_, mark) = get("exit", 500);
    assert_log(mark, &format!("SystemExit exception raised by WSGI script '{}' ignored.", script()));
    assert_log(mark, "SystemExit: 3");
}

/// write, start_response and wsgi.input kept from an earlier request raise
/// RuntimeError('request object has expired') in a later one.
#[test]
fn objects_kept_from_an_earlier_request_have_expired() {
    // Both on one connection, so that one Apache child serves them.
    let mut conn = server().connect();
    assert_eq!(conn.get("/pep?keep").status, 200);
    let resp = conn.get("/pep?use_kept");
    assert_eq!(resp.status, 200, "{resp:?}");
    let expired = "RuntimeError('request object has expired')";
    for name in ["write", "start_response", "input.read", "input.readline", "input.readlines", "input.iter"] {
        assert!(resp.text().contains(&format!("{name}: {expired}")), "{name}:\n{}", resp.text());
    }
}

#[test]
fn close_is_called_after_a_normal_response() {
    let name = unique_token("close-normal");
    let (resp, _) = get(&format!("close_normal&{name}"), 200);
    assert_eq!(resp.text(), "a;b");
    assert_eq!(closed_marker(&name), "closed after 2 items");
}

#[test]
fn close_is_called_when_iteration_raises_before_output() {
    let name = unique_token("close-first");
    let (_, mark) = get(&format!("close_raises_first&{name}"), 500);
    assert_eq!(closed_marker(&name), "closed after 0 items");
    assert_log(mark, "ValueError: iteration failed at item 0");
}

#[test]
fn close_is_called_when_iteration_raises_after_output() {
    let apache = server();
    let name = unique_token("close-later");
    let mark = apache.log_mark();
    let bytes = apache.raw_timeout(
        format!("GET /pep?close_raises_later&{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("a;") && text.contains("b;"), "{text}");
    assert_eq!(closed_marker(&name), "closed after 2 items");
    assert_log(mark, "ValueError: iteration failed at the end");
}

#[test]
fn close_is_called_when_an_item_is_not_bytes() {
    let name = unique_token("close-str");
    let apache = server();
    let mark = apache.log_mark();
    let _ = apache.raw_timeout(
        format!("GET /pep?close_str_item&{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    assert_eq!(closed_marker(&name), "closed after 2 items");
    assert_log(mark, "TypeError: sequence of byte string values expected, value of type str found");
}

/// The client reads a little of a long streamed body and hangs up: the
/// server stops iterating, calls close(), and logs no exception.
#[test]
fn close_is_called_when_the_client_goes_away() {
    let apache = server();
    let name = unique_token("close-gone");
    let mark = apache.log_mark();
    let mut conn = apache.connect();
    let client = format!("[client 127.0.0.1:{}]", conn.stream().local_addr().unwrap().port());
    conn.send("GET", &format!("/pep?close_client_gone&{name}"), &[], b"").unwrap();
    let got = conn.read_until(b"xxxxxxxx", Duration::from_secs(10));
    assert!(http::contains(&got, b"200 OK"), "{}", String::from_utf8_lossy(&got));
    drop(conn);
    let text = closed_marker(&name);
    let items: usize = text.trim_start_matches("closed after ").trim_end_matches(" items").parse().unwrap();
    assert!(items < 4000, "the whole body was generated for a client that left: {text}");
    let log = apache.log_since(mark);
    let ours: Vec<&str> = log.lines().filter(|l| l.contains(&client)).collect();
    assert!(
        !ours.iter().any(|l| l.contains("Exception occurred")),
        "a client that left is not the application's error:\n{}",
        ours.join("\n")
    );
    apache.assert_no_crash();
}

/// Output beyond the application's Content-Length is not sent, and the
/// connection stays usable.
#[test]
fn body_beyond_content_length_is_truncated() {
    let apache = server();
    for case in ["cl_over", "cl_over_split"] {
        let mut conn = apache.connect();
        let resp = conn.get(&format!("/pep?{case}"));
        assert_eq!(resp.status, 200, "{resp:?}");
        assert_eq!(resp.header("Content-Length"), Some("5"), "{resp:?}");
        assert_eq!(resp.text(), "01234");
        // Keep-alive still works: nothing extra was left on the wire.
        let again = conn.get("/pep?twice");
        assert_eq!(again.status, 201, "{case}: second request on the connection: {again:?}");
    }
}

/// A body shorter than its Content-Length: mod_wsgi 4.9.4 logs nothing and
/// keeps the connection open, so the client waits for the missing bytes
/// until KeepAliveTimeout (15 s here). mod_wsgi-rs logs a warning and
/// closes the connection at once (docs/differences.md).
#[test]
fn body_short_of_content_length_is_logged_and_the_connection_closed() {
    let apache = server();
    let mark = apache.log_mark();
    let mut conn = apache.connect();
    conn.send("GET", "/pep?cl_under", &[], b"").unwrap();
    let started = Instant::now();
    let _ = conn.stream().set_read_timeout(Some(Duration::from_secs(12)));
    let bytes = conn.read_to_end();
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Content-Length: 10\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n01234"), "{text}");
    if apache.module() == Module::Ours {
        assert!(waited < Duration::from_secs(5), "the client waited {waited:?} for bytes that never come");
        assert_log(mark, &format!("Content length mismatch, expected 10, response generated 5: {}", script()));
        assert!(apache.log_since(mark).contains("[wsgi:warn]"), "{}", apache.log_since(mark));
    }
}

#[test]
fn invalid_content_length_from_the_application_is_500() {
    for value in ["abc", "-1", "5x"] {
        let (_, mark) = get(&format!("cl_invalid&{value}"), 500);
        assert_log(mark, "ValueError: invalid content length");
    }
}

/// An exception after output has started: the client gets what was sent
/// and can tell the body is incomplete. With a Content-Length the body is
/// short; without one the last chunk is missing. mod_wsgi 4.9.4 omits the
/// last chunk too but keeps the connection alive, so the client waits;
/// mod_wsgi-rs closes it (docs/differences.md).
#[test]
fn exception_after_output_leaves_the_body_visibly_incomplete() {
    let apache = server();
    for (query, framing) in [("iter_raises", "Transfer-Encoding: chunked"), ("iter_raises&cl", "Content-Length: 100")] {
        let mark = apache.log_mark();
        let mut conn = apache.connect();
        conn.send("GET", &format!("/pep?{query}"), &[], b"").unwrap();
        let started = Instant::now();
        let _ = conn.stream().set_read_timeout(Some(Duration::from_secs(12)));
        let bytes = conn.read_to_end();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(framing), "{query}: {text}");
        assert!(text.contains("first chunk\n"), "{query}: {text}");
        assert!(!text.ends_with("0\r\n\r\n"), "{query}: body ended as if complete: {text}");
        assert_log(mark, "RuntimeError: boom during iteration");
        if apache.module() == Module::Ours {
            assert!(started.elapsed() < Duration::from_secs(5), "{query}: connection kept open");
        }
    }
}

/// HEAD runs the application and sends the headers a GET would get, with
/// no body: the application's Content-Length is kept, and without one
/// there is neither Content-Length nor Transfer-Encoding.
#[test]
fn head_sends_the_get_headers_without_a_body() {
    let apache = server();
    for case in ["head_cl", "head_cl_no_body", "head_no_cl", "head_generator"] {
        let mark = apache.log_mark();
        let mut conn = apache.connect();
        let head = conn.request("HEAD", &format!("/pep?{case}"), &[], b"");
        apache.assert_status(&head, 200, mark);
        assert_eq!(head.header("X-Method"), Some("HEAD"), "{case}: {head:?}");
        assert_eq!(head.header("Transfer-Encoding"), None, "{case}: {head:?}");
        let expected_cl = if case.starts_with("head_cl") { Some("10") } else { None };
        assert_eq!(head.header("Content-Length"), expected_cl, "{case}: {head:?}");
        // Nothing but headers came: the next response on the connection
        // parses cleanly.
        let next = conn.get("/pep?twice");
        assert_eq!(next.status, 201, "{case}: the response after HEAD: {next:?}");
        let get = apache.get(&format!("/pep?{case}"));
        assert_eq!(get.header("Content-Type"), head.header("Content-Type"), "{case}");
        if case == "head_cl" {
            assert_eq!(get.header("Content-Length"), Some("10"));
        }
    }
}

/// The HEAD responses of both modules carry the same headers (Date and
/// Server aside), measured side by side.
#[test]
fn head_headers_match_debian_mod_wsgi() {
    let start = |module| {
        let builder = ApacheBuilder::new().module(module).writable_dir("state");
        let state = builder.root().join("state").display().to_string();
        builder
            .file("scripts/pep.wsgi", APP.replace("{state}", &state))
            .conf("WSGIScriptAlias /pep {root}/scripts/pep.wsgi")
            .start()
    };
    let ours = start(Module::Ours);
    let debian = start(Module::Debian);
    for case in ["head_cl", "head_cl_no_body", "head_no_cl", "head_generator"] {
        let headers = |apache: &Apache| {
            let resp = apache.head(&format!("/pep?{case}"));
            let mut h: Vec<(String, String)> =
                resp.headers.into_iter().filter(|(n, _)| n != "Date" && n != "Server").collect();
            h.sort();
            (resp.status, h)
        };
        assert_eq!(headers(&ours), headers(&debian), "HEAD /pep?{case}: ours (left) and Debian's mod_wsgi (right)");
    }
}

/// A request sent in pieces through a raw socket still gets one response.
#[test]
fn pipelined_requests_after_a_truncated_content_length_body() {
    let apache = server();
    let mut conn = apache.connect();
    conn.stream()
        .write_all(b"GET /pep?cl_over HTTP/1.1\r\nHost: x\r\n\r\nGET /pep?twice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let first = conn.read_response(false).unwrap();
    assert_eq!(first.text(), "01234");
    let second = conn.read_response(false).unwrap();
    assert_eq!(second.status, 201, "{second:?}");
}

/// WSGIMapHEADToGET: Auto (the default) shows the application a GET for a
/// HEAD only when an output filter needs the body (mod_deflate here); On
/// always; Off never. Debian's mod_wsgi 4.9.4 was seen to leave HEAD with
/// SetOutputFilter DEFLATE in Auto (docs/differences.md).
#[test]
fn map_head_to_get() {
    let apache = server();
    for (path, method) in [
        ("/pep", "HEAD"),
        ("/headget", "GET"),
        ("/headfilter", "GET"),
        ("/headfilteroff", "HEAD"),
        ("/headoff", "HEAD"),
    ] {
        if path == "/headfilter" && apache.module() == Module::Debian {
            continue;
        }
        let resp = apache.head(&format!("{path}?head_no_cl"));
        assert_eq!(resp.status, 200, "{path}: {resp:?}");
        assert_eq!(resp.header("X-Method"), Some(method), "HEAD {path}: {resp:?}");
        let resp = apache.get(&format!("{path}?head_no_cl"));
        assert_eq!(resp.header("X-Method"), Some("GET"), "GET {path}: {resp:?}");
    }
}
