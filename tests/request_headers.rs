//! Status and header validation in start_response, side by side with
//! Debian's mod_wsgi 4.9.4: for every case of the survey in
//! docs/mod_wsgi-4.9-observed.md (section 5), the same status line,
//! headers (Date and Server aside), body, and exception logged.

mod common;

use std::time::Duration;

use common::*;

/// The survey's hdr.wsgi: the query string picks a status and headers.
const APP: &str = include_str!("apps/request_headers/app.py");

const CASES: &[&str] = &[
    "status_200",
    "status_abc",
    "status_bytes",
    "status_999",
    "status_99",
    "status_1000",
    "status_nospace",
    "status_reason",
    "status_int",
    "status_crlf",
    "val_crlf",
    "val_lf",
    "name_space",
    "name_crlf",
    "name_tab",
    "val_euro",
    "val_latin1",
    "val_bytes",
    "name_bytes",
    "val_int",
    "hdr_status",
    "conn_close",
    "keep_alive",
    "no_ct",
    "dup_hdr",
    "headers_tuple",
    "header_3tuple",
    "header_list_item",
    "location_rel",
    "ct_lower",
    "empty_name",
    "www_authenticate",
];

/// Embedded only: in daemon mode mod_wsgi 4.9 re-parses the headers as a
/// CGI script's (a `Status:` header sets the status, repeated headers are
/// merged), which mod_wsgi-rs deliberately does not (docs/differences.md).
fn start(module: Module) -> Apache {
    ApacheBuilder::new()
        .embedded_only()
        .module(module)
        .file("scripts/hdr.wsgi", APP)
        .conf("WSGIScriptAlias /hdr {root}/scripts/hdr.wsgi")
        .start()
}

/// The status line, headers but Date and Server (sorted), body, and the
/// last `SomethingError: message` line logged for the request.
fn outcome(apache: &Apache, case: &str) -> (String, Vec<String>, Vec<u8>, Option<String>) {
    let mark = apache.log_mark();
    let bytes = apache.raw_timeout(
        format!("GET /hdr?{case} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    let resp = Response::parse(&bytes, false).unwrap_or_else(|e| panic!("{case}: {e}: {bytes:?}"));
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let mut headers: Vec<String> =
        lines.filter(|l| !l.starts_with("Date:") && !l.starts_with("Server:")).map(String::from).collect();
    headers.sort();
    let error = if resp.status == 500 {
        apache.wait_for_log_since(mark, "Error: ", Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(100));
        apache
            .log_since(mark)
            .lines()
            .filter_map(|l| l.rsplit("] ").next())
            .rfind(|m| m.split(':').next().is_some_and(|w| w.ends_with("Error") && !w.contains(' ')))
            .map(String::from)
    } else {
        None
    };
    (status_line, headers, resp.body, error)
}

#[test]
fn start_response_checks_match_debian_mod_wsgi() {
    let ours = start(Module::Ours);
    let debian = start(Module::Debian);
    let mut report = String::new();
    for case in CASES {
        let a = outcome(&ours, case);
        let b = outcome(&debian, case);
        if a != b {
            let show = |o: &(String, Vec<String>, Vec<u8>, Option<String>)| {
                let body: String = String::from_utf8_lossy(&o.2).chars().take(80).collect();
                format!("{} {:?} {body:?} {:?}", o.0, o.1, o.3)
            };
            report.push_str(&format!("{case}:\n  ours:   {}\n  debian: {}\n", show(&a), show(&b)));
        }
    }
    assert!(report.is_empty(), "differences from Debian's mod_wsgi:\n{report}");
}

/// A header name with ':' is the one case mod_wsgi lets through (Apache
/// then refuses it and sends a 500 whose Content-Length is wrong);
/// mod_wsgi-rs refuses it in start_response (docs/differences.md).
#[test]
fn header_name_with_a_colon_is_refused_by_start_response() {
    let apache = ApacheBuilder::new()
        .file("scripts/colon.wsgi", common::apps::simple_app("'200 OK'", "[('X-Bad:', 'v')]", "[b'body']"))
        .conf("WSGIScriptAlias /colon {root}/scripts/colon.wsgi")
        .start();
    let mark = apache.log_mark();
    let resp = apache.get("/colon");
    apache.assert_status(&resp, 500, mark);
    assert_eq!(resp.header("Content-Length").map(|l| l.parse::<usize>().unwrap()), Some(resp.body.len()));
    assert!(
        apache.wait_for_log_since(
            mark,
            "ValueError: header name 'X-Bad:' contains a character that is not allowed in an HTTP header name",
            Duration::from_secs(5)
        ),
        "{}",
        apache.log_since(mark)
    );
}

/// Under `ServerTokens Full` the `Server` header names the module and the
/// Python version after Apache's own, as mod_wsgi's does; under the
/// default `Prod`-like tokens neither shows.
#[test]
fn server_header_names_mod_wsgi_and_python_under_server_tokens_full() {
    for (tokens, shown) in [("Full", true), ("Prod", false)] {
        let apache = ApacheBuilder::new()
            .file("scripts/hello.wsgi", apps::HELLO_WORLD)
            .conf(&format!("ServerTokens {tokens}\nWSGIScriptAlias /hello {{root}}/scripts/hello.wsgi"))
            .start();
        let mark = apache.log_mark();
        let resp = apache.get("/hello");
        apache.assert_status(&resp, 200, mark);
        let server = resp.header("Server").unwrap_or_default().to_string();
        let named = server.contains("mod_wsgi/4.9.4") && server.contains("Python/3.11");
        assert_eq!(named, shown, "ServerTokens {tokens}: Server: {server}");
    }
}
