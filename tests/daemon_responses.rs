//! Daemon mode, responses the Apache child assembles itself: a
//! `wsgi.file_wrapper` whose file descriptor is passed over the socket
//! (the file's bytes never cross it), and response headers larger than the
//! group's `header-buffer-size`.

mod common;

use std::time::Duration;

use common::*;

/// 3 MB of bytes that are easy to check at any offset.
fn big_file() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i % 251) as u8).collect()
}

const FILE_APP: &str = include_str!("apps/daemon_responses/file.py");

const BIG_HEADER_APP: &str = include_str!("apps/daemon_responses/big_header.py");

const MID_STREAM_APP: &str = include_str!("apps/daemon_responses/mid_stream.py");

const DAEMON_KEYS_APP: &str = include_str!("apps/daemon_responses/daemon_keys.py");

fn server() -> &'static Apache {
    shared!(Apache, {
        ApacheBuilder::new()
            .file("scripts/big.bin", big_file())
            .file("scripts/file.wsgi", FILE_APP)
            .file("scripts/header.wsgi", BIG_HEADER_APP)
            .file("scripts/midstream.wsgi", MID_STREAM_APP)
            .file("scripts/keys.wsgi", DAEMON_KEYS_APP)
            .conf(
                "WSGIDaemonProcess responses processes=1 threads=4 header-buffer-size=8192
WSGIScriptAlias /file {root}/scripts/file.wsgi process-group=responses
WSGIScriptAlias /header {root}/scripts/header.wsgi process-group=responses
WSGIScriptAlias /midstream {root}/scripts/midstream.wsgi process-group=responses
WSGIScriptAlias /keys {root}/scripts/keys.wsgi process-group=responses",
            )
            .start()
    })
}

#[test]
fn file_wrapper_through_a_daemon_sends_the_whole_file() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get("/file");
    apache.assert_status(&resp, 200, mark);
    assert_eq!(resp.header("Content-Length"), Some("3000000"));
    assert!(resp.body == big_file(), "body differs from the file ({} bytes)", resp.body.len());
}

#[test]
fn file_wrapper_through_a_daemon_starts_at_the_file_offset() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get("/file?123457");
    apache.assert_status(&resp, 200, mark);
    assert!(resp.body == big_file()[123_457..], "body is not the file from offset 123457");
}

#[test]
fn file_wrapper_through_a_daemon_honours_content_length() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get("/file/limited?10");
    apache.assert_status(&resp, 200, mark);
    assert_eq!(resp.body, big_file()[10..1010].to_vec());
}

#[test]
fn headers_within_header_buffer_size_pass() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get("/header?3000");
    apache.assert_status(&resp, 200, mark);
    assert_eq!(resp.header("X-Big").map(str::len), Some(3000));
}

#[test]
fn headers_beyond_header_buffer_size_are_a_500_naming_the_limit() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get("/header?9000");
    apache.assert_status(&resp, 500, mark);
    assert!(
        apache.wait_for_log_since(
            mark,
            "exceed the daemon process's header-buffer-size of 8192 bytes",
            Duration::from_secs(5)
        ),
        "no log line naming header-buffer-size:\n{}",
        apache.log_since(mark)
    );
    // The daemon keeps serving.
    assert_eq!(apache.get("/header?10").status, 200);
}

#[test]
fn response_cut_short_in_a_daemon_is_visibly_incomplete() {
    let apache = server();
    let mark = apache.log_mark();
    // Raw HTTP/1.1: a complete chunked body would end with "0\r\n\r\n".
    let raw = apache.raw(b"GET /midstream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("first chunk"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "the cut-short response was terminated as complete:\n{text}");
    assert!(
        apache.wait_for_log_since(mark, "RuntimeError: fails mid-stream", Duration::from_secs(5)),
        "{}",
        apache.log_since(mark)
    );
}

#[test]
fn daemon_environ_has_mod_wsgi_daemon_keys() {
    let apache = server();
    let body = apache.get("/keys").text();
    assert!(body.contains("mod_wsgi.daemon_connects=1"), "{body}");
    assert!(body.contains("mod_wsgi.daemon_restarts=0"), "{body}");
    let start: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("mod_wsgi.daemon_start="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric mod_wsgi.daemon_start in {body}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
    assert!(now >= start && now - start < 60_000_000, "daemon_start {start} is not recent (now {now})");
}
