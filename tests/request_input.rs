//! Request bodies in embedded mode: wsgi.input read in every way across
//! chunk boundaries, wsgi.input_terminated, chunked bodies and
//! WSGIChunkedRequest, other Transfer-Encodings, bad Content-Length,
//! LimitRequestBody, and a client that hangs up mid-body.
//!
//! Unless a comment says otherwise, each expectation is also what Debian's
//! mod_wsgi 4.9.4 does (`MOD_WSGI_RS_TEST_MODULE=debian`; see
//! docs/mod_wsgi-4.9-observed.md, sections 9 and 10).

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::http::chunked;
use common::*;

/// Reads wsgi.input as the query string says and answers with a report:
/// the pieces read (their lengths), the body, and the environ keys about it.
const ECHO_APP: &str = include_str!("apps/request_input/echo.py");

/// Never reads the body; says it was called (its loading is logged).
const NOT_READING_APP: &str = include_str!("apps/request_input/not_reading.py");

fn server() -> &'static Apache {
    shared!(Apache, {
        let builder = ApacheBuilder::new().writable_dir("state");
        let state = builder.root().join("state").display().to_string();
        builder
            .file("scripts/echo.wsgi", ECHO_APP.replace("{state}", &state))
            .file("scripts/limited.wsgi", NOT_READING_APP)
            .conf(
                "WSGIScriptAlias /echo {root}/scripts/echo.wsgi
WSGIScriptAlias /chunked {root}/scripts/echo.wsgi
WSGIScriptAlias /limit {root}/scripts/echo.wsgi
WSGIScriptAlias /limitchunked {root}/scripts/echo.wsgi
WSGIScriptAlias /limited {root}/scripts/limited.wsgi
<Location /chunked>
    WSGIChunkedRequest On
</Location>
<Location /limit>
    LimitRequestBody 10
</Location>
<Location /limited>
    LimitRequestBody 10
</Location>
<Location /limitchunked>
    LimitRequestBody 10
    WSGIChunkedRequest On
</Location>",
            )
            .start()
    })
}

/// The report lines of ECHO_APP, and the body it read.
fn report(resp: &Response) -> (Vec<String>, Vec<u8>) {
    let lines = resp.body.split(|&b| b == b'\n').take(6).map(|l| String::from_utf8_lossy(l).into_owned()).collect();
    let header_len: usize = resp.body.split(|&b| b == b'\n').take(6).map(|l| l.len() + 1).sum();
    (lines, resp.body[header_len.min(resp.body.len())..].to_vec())
}

fn line<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines.iter().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

/// Lines of all lengths, some empty, a long one, and no final newline.
fn body() -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..200 {
        b.extend_from_slice(format!("line {i}:{}\n", "-".repeat(i % 17)).as_bytes());
        if i % 50 == 0 {
            b.push(b'\n');
        }
    }
    b.extend(std::iter::repeat_n(b'z', 20_000));
    b.push(b'\n');
    b.extend_from_slice(b"no newline at the end");
    b
}

/// POSTs `body` to `/<path>?<mode>`, chunked in `chunk`-byte pieces (or
/// with a Content-Length for `None`).
fn post(path: &str, mode: &str, body: &[u8], chunk: Option<usize>) -> Response {
    let apache = server();
    let mark = apache.log_mark();
    let resp = match chunk {
        Some(size) => apache.request(
            "POST",
            &format!("/{path}?{mode}"),
            &[("Transfer-Encoding", "chunked"), ("Content-Type", "application/octet-stream")],
            &chunked(body, size),
        ),
        None => apache.post(&format!("/{path}?{mode}"), "application/octet-stream", body),
    };
    apache.assert_status(&resp, 200, mark);
    resp
}

/// Every way of reading returns the whole body, in pieces that keep each
/// mode's contract, whatever the chunking of the request.
#[test]
fn input_reads_are_correct_across_chunk_boundaries() {
    let body = body();
    let lines: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
    for chunk in [None, Some(1), Some(7), Some(4096), Some(65536)] {
        let path = if chunk.is_some() { "chunked" } else { "echo" };
        for mode in ["read", "read-none", "read-minus-one", "read-1", "read-10", "read-8192", "read-100000"] {
            // mod_wsgi 4.9.4 takes only an int: read(None) is a TypeError.
            if mode == "read-none" && server().module() == Module::Debian {
                continue;
            }
            let resp = post(path, mode, &body, chunk);
            let (report, data) = report(&resp);
            assert!(data == body, "{mode} chunk={chunk:?}: body differs ({} bytes)", data.len());
            let pieces = line(&report, "pieces");
            if let Some(n) = mode.strip_prefix("read-").and_then(|n| n.parse::<usize>().ok()) {
                // read(n) waits for n bytes: only the last piece is shorter.
                let expected: Vec<usize> = body.chunks(n).map(<[u8]>::len).collect();
                assert_eq!(pieces, format!("{expected:?}"), "{mode} chunk={chunk:?}");
            } else {
                assert_eq!(pieces, format!("[{}]", body.len()), "{mode} chunk={chunk:?}");
            }
            assert_eq!(line(&report, "after"), "b''", "{mode} chunk={chunk:?}");
        }
        for mode in ["readline", "iter", "readlines"] {
            let resp = post(path, mode, &body, chunk);
            let (report, data) = report(&resp);
            assert!(data == body, "{mode} chunk={chunk:?}: body differs");
            let expected: Vec<usize> = lines.iter().map(|l| l.len()).collect();
            assert_eq!(line(&report, "pieces"), format!("{expected:?}"), "{mode} chunk={chunk:?}");
        }
        let resp = post(path, "readline-50", &body, chunk);
        let (report, data) = report(&resp);
        assert!(data == body, "readline(50) chunk={chunk:?}: body differs");
        let expected: Vec<usize> = lines.iter().flat_map(|l| l.chunks(50).map(<[u8]>::len)).collect();
        assert_eq!(line(&report, "pieces"), format!("{expected:?}"), "readline(50) chunk={chunk:?}");
    }
}

/// readlines(hint) stops once the lines it read reach `hint` bytes.
/// A body larger than the reads (64 KiB) that go straight into the bytes
/// object returned: whole and in order in every way of reading.
#[test]
fn large_bodies_are_read_whole_in_every_way() {
    let body: Vec<u8> = (0..300_000u32).map(|i| if i % 97 == 0 { b'\n' } else { (i % 251) as u8 | 1 }).collect();
    for chunk in [None, Some(65536)] {
        let path = if chunk.is_some() { "chunked" } else { "echo" };
        for mode in ["read", "read-minus-one", "read-100000", "read-65536", "read-70000", "read-8192", "readline"] {
            let resp = post(path, mode, &body, chunk);
            let (report, data) = report(&resp);
            assert!(data == body, "{mode} chunk={chunk:?}: body differs ({} bytes)", data.len());
            if let Some(n) = mode.strip_prefix("read-").and_then(|n| n.parse::<usize>().ok()) {
                let expected: Vec<usize> = body.chunks(n).map(<[u8]>::len).collect();
                assert_eq!(line(&report, "pieces"), format!("{expected:?}"), "{mode} chunk={chunk:?}");
            }
            assert_eq!(line(&report, "after"), "b''", "{mode} chunk={chunk:?}");
        }
    }
}

#[test]
fn input_readlines_with_a_hint() {
    let body = b"aaaa\nbbbb\ncccc\ndddd\neeee\n";
    let resp = post("chunked", "readlines-7", body, Some(3));
    let (report, data) = report(&resp);
    assert_eq!(data, body);
    assert_eq!(
        line(&report, "pieces"),
        "[10, ('lines', 2), 10, ('lines', 2), 5, ('lines', 1)]",
        "two 5-byte lines reach a hint of 7"
    );
}

#[test]
fn input_terminated_and_content_length_in_environ() {
    let resp = post("echo", "read", b"hello world", None);
    let (report, _) = report(&resp);
    assert_eq!(line(&report, "wsgi.input_terminated"), "True");
    assert_eq!(line(&report, "CONTENT_LENGTH"), "'11'");
    assert_eq!(line(&report, "HTTP_TRANSFER_ENCODING"), "None");
}

#[test]
fn chunked_body_with_wsgi_chunked_request_on() {
    let resp = post("chunked", "read-1000", b"hello world", Some(5));
    let (report, data) = report(&resp);
    assert_eq!(data, b"hello world");
    assert_eq!(line(&report, "pieces"), "[11]", "read(1000) waits for the whole chunked body");
    assert_eq!(line(&report, "CONTENT_LENGTH"), "None");
    assert_eq!(line(&report, "HTTP_TRANSFER_ENCODING"), "'chunked'");
    assert_eq!(line(&report, "wsgi.input_terminated"), "True");
}

#[test]
fn chunked_body_with_trailers() {
    let apache = server();
    let resp = apache.request(
        "POST",
        "/chunked?read",
        &[("Transfer-Encoding", "chunked")],
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(report(&resp).1, b"hello world");
}

#[test]
fn chunked_body_refused_with_411_unless_enabled() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.request("POST", "/echo?read", &[("Transfer-Encoding", "chunked")], &chunked(b"hello", 2));
    apache.assert_status(&resp, 411, mark);
    let script = apache.root().join("scripts/echo.wsgi");
    let expected = format!(
        "Received request requiring chunked transfer encoding, but optional support for chunked transfer encoding has not been enabled.: {}",
        script.display()
    );
    assert!(apache.wait_for_log_since(mark, &expected, Duration::from_secs(5)), "{}", apache.log_since(mark));
}

/// Apache refuses a Transfer-Encoding whose last coding is not chunked
/// (400); mod_wsgi refuses any other coding before chunked (501).
#[test]
fn other_transfer_encodings() {
    let apache = server();
    for (path, te, status) in [
        ("/echo", "gzip", 400),
        ("/chunked", "gzip", 400),
        ("/echo", "gzip, chunked", 501),
        ("/chunked", "gzip, chunked", 501),
    ] {
        let mark = apache.log_mark();
        let resp = apache.request("POST", &format!("{path}?read"), &[("Transfer-Encoding", te)], &chunked(b"hello", 2));
        apache.assert_status(&resp, status, mark);
        if status == 501 {
            let expected =
                format!("Unexpected value for Transfer-Encoding of '{te}' supplied. Only 'chunked' supported.");
            assert!(apache.wait_for_log_since(mark, &expected, Duration::from_secs(5)), "{}", apache.log_since(mark));
        }
    }
}

#[test]
fn bad_content_length_is_400() {
    let apache = server();
    for value in ["abc", "-1", "1x"] {
        let mark = apache.log_mark();
        let resp = apache.request("POST", "/echo?read", &[("Content-Length", value)], b"hello");
        apache.assert_status(&resp, 400, mark);
    }
}

/// A malformed chunk: the read raises OSError in the application, and the
/// client gets Apache's 400. mod_wsgi 4.9.4 sends the application's own
/// body after that 400 page; mod_wsgi-rs drops it (docs/differences.md).
#[test]
fn malformed_chunk_raises_oserror_and_answers_400() {
    let apache = server();
    let marker = unique_token("badchunk");
    let mark = apache.log_mark();
    let bytes = apache.raw_timeout(
        format!(
            "POST /chunked?read&{marker} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
        )
        .as_bytes(),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    let error = std::fs::read_to_string(server().root().join("state").join(&marker)).unwrap();
    assert!(error.starts_with("OSError('Apache/mod_wsgi request data read error: "), "{error}");
    if apache.module() == Module::Ours {
        assert!(!text.contains("pieces="), "the application's body followed the error page:\n{text}");
    }
    let _ = mark;
}

/// A body over LimitRequestBody with a Content-Length: 413 before the
/// application is called; the script is not even loaded.
#[test]
fn limit_request_body_is_413_before_the_application() {
    let apache = server();
    let script = apache.root().join("scripts/limited.wsgi").display().to_string();
    let mark = apache.log_mark();
    let resp = apache.request("POST", "/limited", &[], &[b'x'; 100]);
    apache.assert_status(&resp, 413, mark);
    std::thread::sleep(Duration::from_millis(300));
    let log = apache.log_since(mark);
    assert!(log.contains("Requested content-length of 100 is larger than the configured limit of 10"), "{log}");
    assert!(!log.contains(&script), "the script was loaded for a refused body:\n{log}");
    // Exactly the limit is fine.
    let resp = apache.request("POST", "/limit?read", &[], &[b'x'; 10]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(report(&resp).1, [b'x'; 10]);
}

/// The body of a refused request is not read: the client sends the
/// headers only and gets its 413 without sending the 100 MB it announced.
#[test]
fn limit_request_body_does_not_read_the_body() {
    let apache = server();
    let mut conn = apache.connect();
    conn.stream()
        .write_all(b"POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = conn.read_response(false).unwrap();
    assert_eq!(resp.status, 413, "{resp:?}");
}

/// A chunked body over the limit: Apache finds out while the application
/// reads, which raises OSError; the client gets 413 (and, from mod_wsgi
/// 4.9.4 but not mod_wsgi-rs, the application's body after it).
#[test]
fn chunked_body_over_limit_raises_oserror_and_answers_413() {
    let apache = server();
    let marker = unique_token("limitchunked");
    let mut request =
        format!("POST /limitchunked?read&{marker} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            .into_bytes();
    request.extend_from_slice(&chunked(&[b'x'; 100], 10));
    let bytes = apache.raw_timeout(&request, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 413 Request Entity Too Large\r\n"), "{text}");
    let error = std::fs::read_to_string(server().root().join("state").join(&marker)).unwrap();
    assert!(error.starts_with("OSError('Apache/mod_wsgi request data read error: "), "{error}");
    if apache.module() == Module::Ours {
        assert!(!text.contains("pieces="), "the application's body followed the error page:\n{text}");
    }
}

/// The client sends part of the body it announced and hangs up: the read
/// raises OSError in the application (no hang, no crash).
#[test]
fn client_gone_mid_body_raises_oserror() {
    let apache = server();
    for chunked_body in [false, true] {
        let marker = unique_token("gone");
        let mut conn = apache.connect();
        let head = if chunked_body {
            format!(
                "POST /chunked?read&{marker} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
            )
        } else {
            // Long enough to be read straight into the returned object.
            format!(
                "POST /echo?read&{marker} HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n{}",
                "x".repeat(70_000)
            )
        };
        conn.stream().write_all(head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        conn.stream().shutdown(std::net::Shutdown::Both).unwrap();
        drop(conn);
        let file = server().root().join("state").join(&marker);
        assert!(
            wait_until(Duration::from_secs(10), || std::fs::read_to_string(&file).is_ok_and(|t| !t.is_empty())),
            "chunked={chunked_body}: the application did not finish\n{}",
            apache.error_log()
        );
        let error = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            error,
            "OSError('Apache/mod_wsgi request data read error: Partial results are valid but processing is incomplete.')",
            "chunked={chunked_body}"
        );
    }
    apache.assert_no_crash();
}
