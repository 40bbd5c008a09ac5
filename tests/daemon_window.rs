//! Daemon mode, large response bodies: past the first 128 KiB, writes of
//! 16 KiB or more travel through shared memory (docs/daemon-protocol.md,
//! "The window"). The body must arrive byte for byte whatever the sizes
//! of the application's chunks, across requests that reuse a window,
//! through a filter that keeps data, and when the client leaves early.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

/// Yields the chunk sizes listed in the query string (`100,70000,...`),
/// each chunk's bytes a pattern of its offset in the body and of `seed`
/// (the path info), so a stale or misplaced byte shows. `/write` sends
/// them through start_response's write() instead.
const CHUNKS_APP: &str = include_str!("apps/daemon_window/chunks.py");

/// Reads its body in pieces of the size in the query string and, between
/// reads, sends each piece three times over; then `|total|sha256` of what
/// it read. Body frames then come after the window's `Release` frames.
const RELAY_APP: &str = include_str!("apps/daemon_window/relay.py");

/// The body `CHUNKS_APP` sends for `seed` and `total` bytes.
fn pattern(seed: u64, total: usize) -> Vec<u8> {
    (0..total as u64).map(|i| ((seed + i * 7 + i / 251) % 256) as u8).collect()
}

fn server() -> &'static Apache {
    shared!(Apache, start(Module::default_for_tests(), ""))
}

/// The same with `response-flush-delay=` (mod_wsgi 6.0.2's, so ours only):
/// window bytes then go down the filters unflushed before their slots are
/// freed again.
fn delayed_server() -> &'static Apache {
    shared!(Apache, start(Module::Ours, "response-flush-delay=5"))
}

fn start(module: Module, options: &str) -> Apache {
    ApacheBuilder::new()
        .module(module)
        .file("scripts/chunks.wsgi", CHUNKS_APP)
        .file("scripts/relay.wsgi", RELAY_APP)
        .conf(&format!(
            "LoadModule deflate_module /usr/lib/apache2/modules/mod_deflate.so
WSGIDaemonProcess window processes=1 threads=1 display-name=%{{GROUP}} {options}
WSGIScriptAlias /chunks {{root}}/scripts/chunks.wsgi process-group=window
WSGIScriptAlias /relay {{root}}/scripts/relay.wsgi process-group=window
WSGIScriptAlias /deflated {{root}}/scripts/chunks.wsgi process-group=window
<Location /deflated>
    SetOutputFilter DEFLATE
</Location>"
        ))
        .start()
}

fn sizes_query(sizes: &[usize]) -> String {
    sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
}

fn check_body(path: &str, seed: u64, sizes: &[usize]) {
    check_body_on(server(), path, seed, sizes);
}

fn check_body_on(apache: &Apache, path: &str, seed: u64, sizes: &[usize]) {
    let resp = apache.get(&format!("{path}/{seed}?{}", sizes_query(sizes)));
    assert_eq!(resp.status, 200, "{}", apache.error_log());
    let want = pattern(seed, sizes.iter().sum());
    assert_eq!(resp.body.len(), want.len(), "body length for {sizes:?}");
    let first_bad = resp.body.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_bad, None, "body differs from byte {first_bad:?} on for {sizes:?}");
}

/// Small, exactly-a-slot, over-a-slot and just-under-the-threshold
/// chunks, before and after the window starts being used.
const MIXED: &[usize] = &[100, 200_000, 70_000, 5, 65_536, 300_000, 16_384, 16_383, 1, 1_000_000, 131_073, 3];

#[test]
fn a_large_body_in_chunks_of_every_size_arrives_intact() {
    check_body("/chunks/yield", 1, MIXED);
}

#[test]
fn a_large_body_from_write_arrives_intact() {
    check_body("/chunks/write", 2, MIXED);
}

#[test]
fn a_body_read_between_large_writes_arrives_whole() {
    let apache = server();
    let body = pattern(21, 3_000_000);
    let digest = {
        let mut sha = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sha256sum");
        sha.stdin.take().expect("stdin").write_all(&body).expect("write to sha256sum");
        let out = sha.wait_with_output().expect("sha256sum output");
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
    };
    // Pieces smaller than, equal to and larger than what one `Body` frame
    // carries (256 KiB).
    for size in [8_192usize, 65_536, 262_144, 300_000, 1_000_000] {
        let resp = apache.post(&format!("/relay?{size}"), "application/octet-stream", &body);
        assert_eq!(resp.status, 200, "{}", apache.error_log());
        let trailer = format!("|{}|{digest}", body.len());
        assert!(resp.body.ends_with(trailer.as_bytes()), "read {size} at a time: trailer differs");
        assert_eq!(resp.body.len(), 3 * body.len() + trailer.len(), "read {size} at a time: length");
    }
}

#[test]
fn consecutive_requests_reuse_the_window_without_stale_bytes() {
    // One daemon thread: every request uses the same window.
    for seed in 10..16 {
        check_body("/chunks/yield", seed, &[65_536; 40]);
    }
}

#[test]
fn the_window_is_shared_memory_of_the_daemon() {
    let apache = server();
    check_body("/chunks/yield", 3, &[65_536; 8]);
    let pids = daemon::daemon_pids(apache, "(wsgi:window)");
    assert_eq!(pids.len(), 1, "daemon processes: {pids:?}");
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", pids[0])).expect("daemon's maps");
    assert!(maps.contains("memfd:mod_wsgi-window"), "no window mapped in the daemon:\n{maps}");
}

#[test]
fn a_filter_that_keeps_data_gets_every_byte() {
    check_deflated(server(), 4);
}

/// Through mod_deflate, which keeps what it is given, the gzip body of
/// `seed` decompresses to the whole pattern.
fn check_deflated(apache: &Apache, seed: u64) {
    let sizes = [65_536usize; 24];
    let resp = apache.request(
        "GET",
        &format!("/deflated/yield/{seed}?{}", sizes_query(&sizes)),
        &[("Accept-Encoding", "gzip")],
        &[],
    );
    assert_eq!(resp.status, 200, "{}", apache.error_log());
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"));
    let mut gunzip = std::process::Command::new("python3")
        .args(["-c", "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    gunzip.stdin.take().expect("stdin").write_all(&resp.body).expect("write gzip body");
    let out = gunzip.wait_with_output().expect("gunzip");
    assert!(out.status.success());
    assert!(out.stdout == pattern(seed, sizes.iter().sum()), "decompressed body differs");
}

#[test]
fn with_a_flush_delay_every_byte_arrives_too() {
    let apache = delayed_server();
    check_body_on(apache, "/chunks/yield", 7, MIXED);
    check_body_on(apache, "/chunks/write", 8, MIXED);
    for seed in 20..24 {
        check_body_on(apache, "/chunks/yield", seed, &[65_536; 40]);
    }
    check_deflated(apache, 9);
    apache.assert_no_crash();
}

#[test]
fn a_client_leaving_mid_body_harms_nothing() {
    let apache = server();
    let query = sizes_query(&[65_536; 300]);
    for _ in 0..3 {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", apache.port())).expect("connect");
        conn.write_all(format!("GET /chunks/yield/5?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .expect("send");
        let mut some = vec![0u8; 256 * 1024];
        conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        conn.read_exact(&mut some).expect("the start of the body");
        drop(conn);
    }
    // The daemon thread and its window are ready for the next request.
    check_body("/chunks/yield", 6, &[65_536; 20]);
    apache.assert_no_crash();
}
