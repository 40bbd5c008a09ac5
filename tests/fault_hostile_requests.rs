//! Fault suite (issue 19): hostile requests, in embedded and in daemon mode.
//!
//! Each request below gets a 4xx (from Apache or from the module) and no
//! process dies: the Apache children and the daemon processes have the same
//! pids afterwards, the error log shows no crash, and a normal request still
//! succeeds. The cases: bad chunk sizes (not hex, negative, overflowing,
//! data not followed by CRLF), truncated chunked and Content-Length bodies,
//! `Content-Length: -1`, 2^63 and 2^63-1, a 2 MiB header line, 500 headers,
//! a NUL byte in the path (raw and as %00), `..` out of the script
//! directory (plain, encoded, past the root), and an unread 1 MiB body
//! followed by a pipelined request, which must be answered correctly.
//!
//! Complements tests/request_input.rs (bad Content-Length values, a
//! malformed chunk and a client leaving mid-body, checked for the OSError
//! the application sees) with the cases above, both modes in one run, and
//! the process checks.

mod common;
mod faults;

use std::time::Duration;

use common::daemon::{daemon_pids, wait_for_daemons, worker_pids};
use common::*;
use faults::{ECHO_APP, STABLE_EVENT_MPM, exchange, responses};

/// In every response body that must never be served.
const SECRET: &str = "SECRET-MARKER-outside-the-script-directory";
const TIMEOUT: Duration = Duration::from_secs(10);

/// The echo application at `/app` (its script) and `/dir/` (its
/// directory), with chunked request bodies allowed; in the daemon group
/// `group` or embedded. `{root}/secret.txt` sits outside the scripts'
/// directory, in a directory Apache may serve.
fn server(group: Option<&str>) -> Apache {
    let delegate = group.map(|g| format!(" process-group={g}")).unwrap_or_default();
    let mut b = ApacheBuilder::new()
        .embedded_only()
        .file("scripts/echo.wsgi", ECHO_APP)
        .file("secret.txt", SECRET)
        .conf(STABLE_EVENT_MPM)
        .conf(&format!(
            "WSGIScriptAlias /app {{root}}/scripts/echo.wsgi{delegate}\n\
             WSGIScriptAlias /dir/ {{root}}/scripts/{delegate}\n\
             <Directory {{root}}/scripts>\n    WSGIChunkedRequest On\n</Directory>"
        ));
    if let Some(g) = group {
        b = b.conf(&format!("WSGIDaemonProcess {g} processes=2 threads=4 display-name=%{{GROUP}}"));
    }
    b.start()
}

struct Case {
    name: &'static str,
    request: Vec<u8>,
    /// Shut the write side after the request: the client sends no more.
    half_close: bool,
}

fn case(name: &'static str, request: impl Into<Vec<u8>>) -> Case {
    Case { name, request: request.into(), half_close: false }
}

fn post_chunked(body: &str) -> Vec<u8> {
    format!("POST /app?read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}")
        .into_bytes()
}

fn post_length(length: &str, body: &str) -> Vec<u8> {
    format!("POST /app?read HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}")
        .into_bytes()
}

fn get(target: &[u8]) -> Vec<u8> {
    let mut r = b"GET ".to_vec();
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    r
}

fn cases() -> Vec<Case> {
    let mut big_header = b"GET /app HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ".to_vec();
    big_header.extend(std::iter::repeat_n(b'a', 2 << 20));
    big_header.extend_from_slice(b"\r\n\r\n");
    let mut many_headers = String::from("GET /app HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..500 {
        many_headers.push_str(&format!("X-Header-{i}: {i}\r\n"));
    }
    many_headers.push_str("\r\n");
    vec![
        case("chunk size not hex", post_chunked("zz\r\nhello\r\n0\r\n\r\n")),
        case("chunk size negative", post_chunked("-5\r\nhello\r\n0\r\n\r\n")),
        case("chunk size overflowing", post_chunked("fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")),
        case("chunk size 2^63", post_chunked("8000000000000000\r\nhello\r\n0\r\n\r\n")),
        case("chunk data without CRLF", post_chunked("5\r\nhelloXX\r\n0\r\n\r\n")),
        Case { half_close: true, ..case("chunked body truncated", post_chunked("10\r\nhello")) },
        Case { half_close: true, ..case("Content-Length body truncated", post_length("100", "hello")) },
        case("Content-Length -1", post_length("-1", "hello")),
        case("Content-Length 2^63", post_length("9223372036854775808", "hello")),
        case("Content-Length 2^63-1", post_length("9223372036854775807", "hello")),
        case("Content-Length 2^64", post_length("18446744073709551616", "hello")),
        case("two different Content-Lengths", {
            b"POST /app?read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!"
                .to_vec()
        }),
        case("2 MiB header line", big_header),
        case("500 headers", many_headers),
        case("NUL byte in the path", get(b"/app/a\0b")),
        case("%00 in the path", get(b"/app/a%00b")),
        case("%00 in a script name", get(b"/dir/echo.wsgi%00.txt")),
        case(".. out of the script directory", get(b"/dir/../secret.txt")),
        case("encoded .. out of the script directory", get(b"/dir/%2e%2e/secret.txt")),
        case("encoded slashes and ..", get(b"/dir/..%2fsecret.txt")),
        case(".. in PATH_INFO", get(b"/app/../secret.txt")),
        case(".. past the root", get(b"/app/../../../../../../etc/passwd")),
        case(".. without a leading slash", get(b"../../etc/passwd")),
    ]
}

/// A 1 MiB body the application does not read, then a second request on
/// the same connection, sent in the same write.
fn pipelined_after_unread_body() -> Vec<u8> {
    let mut r = format!("POST /app/first HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 1 << 20).into_bytes();
    r.extend(std::iter::repeat_n(b'x', 1 << 20));
    r.extend_from_slice(b"GET /app/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    r
}

fn status_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or_default()).trim_end().to_string()
}

fn hostile_requests(group: Option<&str>) {
    let mode = if group.is_some() { "daemon" } else { "embedded" };
    let apache = server(group);
    let title = group.map(|g| format!("(wsgi:{g})"));
    // Every process has served once before the pids are taken.
    let daemons = match &title {
        Some(t) => {
            let d = wait_for_daemons(&apache, t, 2, Duration::from_secs(10));
            assert_eq!(d.len(), 2, "{d:?}\n{}", apache.error_log());
            d
        }
        None => Vec::new(),
    };
    for _ in 0..4 {
        let mark = apache.log_mark();
        apache.assert_status(&apache.get("/app/warm"), 200, mark);
    }
    let workers = worker_pids(&apache);
    assert_eq!(workers.len(), 2, "{workers:?}");

    let mut wrong = Vec::new();
    for c in cases() {
        let mark = apache.log_mark();
        let started = std::time::Instant::now();
        let (bytes, write_error) = exchange(apache.port(), c.request, c.half_close, TIMEOUT);
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&bytes);
        let status = responses(&bytes).first().map(|r| r.status);
        eprintln!(
            "hostile request ({mode}): {:<40} -> {:<40} in {:>4} ms{}",
            c.name,
            status_line(&bytes),
            took.as_millis(),
            write_error.map(|e| format!(" (write: {e})")).unwrap_or_default()
        );
        let leaked = text.contains(SECRET) || text.contains("root:x:0:0");
        if !status.is_some_and(|s| (400..500).contains(&s)) || leaked || text.contains(" pid=") {
            // The log lines of the request may follow its answer.
            wait_until(Duration::from_secs(1), || !apache.log_since(mark).is_empty());
            wrong.push(format!("{}: {status:?}\n{text:.2000}\nerror_log:\n{}", c.name, apache.log_since(mark)));
        }
    }

    // The unread body is discarded and the pipelined request answered.
    let mark = apache.log_mark();
    let (bytes, write_error) = exchange(apache.port(), pipelined_after_unread_body(), false, TIMEOUT);
    let got = responses(&bytes);
    eprintln!(
        "hostile request ({mode}): unread 1 MiB body, then a pipelined GET -> {:?}{}",
        got.iter()
            .map(|r| format!("{} {:?}", r.status, r.text().split(" pid=").next().unwrap_or_default()))
            .collect::<Vec<_>>(),
        write_error.map(|e| format!(" (write: {e})")).unwrap_or_default()
    );
    let answered = got.len() == 2
        && got[0].status == 200
        && got[0].text().starts_with("/first pid=")
        && got[1].status == 200
        && got[1].text().starts_with("/second pid=")
        && got[1].text().ends_with(" read=-1\n");
    if !answered {
        wrong.push(format!(
            "unread body + pipelined request: {got:?}\nraw: {:.600}\nerror_log:\n{}",
            String::from_utf8_lossy(&bytes),
            apache.log_since(mark)
        ));
    }

    // No process died, nothing crashed, and the server still answers.
    let mark = apache.log_mark();
    let resp = apache.get("/app/after");
    apache.assert_status(&resp, 200, mark);
    let workers_after = worker_pids(&apache);
    let daemons_after = title.as_ref().map(|t| daemon_pids(&apache, t)).unwrap_or_default();
    eprintln!(
        "hostile requests ({mode}): Apache children {workers:?} -> {workers_after:?}, daemons {daemons:?} -> {daemons_after:?}"
    );
    assert!(wrong.is_empty(), "{mode}: {} hostile requests answered wrongly:\n{}", wrong.len(), wrong.join("\n\n"));
    assert_eq!(workers_after, workers, "{mode}: Apache children changed:\n{}", apache.error_log());
    assert_eq!(daemons_after, daemons, "{mode}: daemon processes changed:\n{}", apache.error_log());
    let log = apache.error_log();
    assert!(!log.contains("has died"), "{mode}: a daemon process died:\n{log}");
    apache.assert_no_crash();
}

#[test]
fn hostile_requests_get_4xx_and_kill_nothing_embedded() {
    hostile_requests(None);
}

#[test]
fn hostile_requests_get_4xx_and_kill_nothing_daemon() {
    hostile_requests(Some(&unique_token("fhr")));
}
