//! `response-flush-delay=` of `WSGIDaemonProcess` (mod_wsgi 6.0.2): how long
//! the Apache child waits for more of a daemon's response before it flushes
//! what it has passed on. Pieces that come within the delay go down the
//! output filters unflushed, together; an application that pauses longer
//! still has its output flushed once the delay is over. Without the option
//! (or with 0) the child flushes whenever nothing more has arrived, as
//! mod_wsgi 4.9 does.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::http::contains;
use common::*;

const APP: &str = include_str!("apps/daemon_response_flush/app.py");

/// The body of `/app/trickle`: 64 pieces of 2 KiB, 2 ms apart.
const TRICKLE_LEN: usize = 64 * 2048;

/// mod_ratelimit's `rate-limit` for `/app/trickle`, in KiB/s, and what its
/// filter sends each 200 ms: a fifth of a second's worth.
const RATE_KIB: usize = 64;
const RATE_CHUNK: usize = RATE_KIB * 1024 / 5;

/// One daemon group with `options`, the application at `/app`, and
/// `/app/trickle` paced by mod_ratelimit.
fn server(module: Module, options: &str) -> Apache {
    ApacheBuilder::new()
        .module(module)
        .file("scripts/app.wsgi", APP)
        .conf(&format!(
            "LoadModule ratelimit_module /usr/lib/apache2/modules/mod_ratelimit.so\n\
             WSGIDaemonProcess flush processes=1 threads=2 {options}\n\
             WSGIScriptAlias /app {{root}}/scripts/app.wsgi process-group=flush application-group=%{{GLOBAL}}\n\
             <Location /app/trickle>\n    SetOutputFilter RATE_LIMIT\n    SetEnv rate-limit {RATE_KIB}\n</Location>"
        ))
        .start()
}

/// One read of a response body: when it came (since the request was sent)
/// and how it began.
struct Arrival {
    at: Duration,
    bytes: Vec<u8>,
}

/// Sends GET `path` and reads its body of `len` bytes read by read, as it
/// arrives, for at most `patience`.
fn arrivals(apache: &Apache, path: &str, len: usize, patience: Duration) -> Vec<Arrival> {
    let mut conn = apache.connect();
    let sent = Instant::now();
    conn.send("GET", path, &[], &[]).unwrap();
    let mut head = Vec::new();
    let mut reads = Vec::new();
    let mut body = 0;
    let mut buf = vec![0u8; 256 * 1024];
    while body < len && sent.elapsed() < patience {
        let left = patience.saturating_sub(sent.elapsed()).max(Duration::from_millis(1));
        conn.stream().set_read_timeout(Some(left)).unwrap();
        let n = match conn.stream().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at = sent.elapsed();
        let mut got = &buf[..n];
        if !contains(&head, b"\r\n\r\n") {
            let before = head.len();
            head.extend_from_slice(got);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            assert!(contains(&head[..end], b"200 OK"), "{}", String::from_utf8_lossy(&head));
            got = &got[end + 4 - before..];
            head.truncate(end + 4);
        }
        if !got.is_empty() {
            body += got.len();
            reads.push(Arrival { at, bytes: got.to_vec() });
        }
    }
    reads
}

/// The index of the read that brought `byte`, and when it came.
fn read_of(reads: &[Arrival], byte: u8) -> (usize, Duration) {
    reads
        .iter()
        .position(|r| r.bytes.contains(&byte))
        .map(|i| (i, reads[i].at))
        .unwrap_or_else(|| panic!("'{}' never arrived: {}", byte as char, shown(reads)))
}

fn shown(reads: &[Arrival]) -> String {
    let each: Vec<String> =
        reads.iter().map(|r| format!("{} bytes at {} ms", r.bytes.len(), r.at.as_millis())).collect();
    each.join(", ")
}

/// The reads grouped into what the server wrote at once: reads less than
/// 100 ms apart (mod_ratelimit writes every 200 ms) are one write.
fn writes(reads: &[Arrival]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for (i, r) in reads.iter().enumerate() {
        match out.last_mut() {
            Some(last) if r.at - reads[i - 1].at < Duration::from_millis(100) => *last += r.bytes.len(),
            _ => out.push(r.bytes.len()),
        }
    }
    out
}

#[test]
fn pieces_within_the_delay_go_together_and_a_pause_is_flushed_within_it() {
    let apache = server(Module::Ours, "response-flush-delay=400");
    let reads = arrivals(&apache, "/app/pauses", 3, Duration::from_secs(10));
    let (a, _) = read_of(&reads, b'a');
    let (b, b_at) = read_of(&reads, b'b');
    let (c, c_at) = read_of(&reads, b'c');
    // 'b' came 50 ms after 'a', within the delay: 'a' was not flushed alone.
    assert_eq!(a, b, "'a' arrived before 'b': {}", shown(&reads));
    // The application then paused for 1 s: 'b' was flushed after the
    // 400 ms delay, about 600 ms before 'c'.
    assert!(c > b && c_at - b_at >= Duration::from_millis(300), "'b' came late: {}", shown(&reads));
    apache.assert_no_crash();
}

/// 'a' comes alone first, 50 ms before 'b', and 'b' long before 'c'.
fn assert_each_stall_flushes(apache: &Apache) {
    let reads = arrivals(apache, "/app/pauses", 3, Duration::from_secs(10));
    let (a, a_at) = read_of(&reads, b'a');
    let (b, b_at) = read_of(&reads, b'b');
    let (c, c_at) = read_of(&reads, b'c');
    assert!(a < b && b_at - a_at >= Duration::from_millis(30), "'a' did not come alone first: {}", shown(&reads));
    assert!(b < c && c_at - b_at >= Duration::from_millis(500), "{}", shown(&reads));
}

/// `=0`, as mod_wsgi 6.0.2 documents it: a flush on any stall.
#[test]
fn a_zero_delay_flushes_on_any_stall() {
    assert_each_stall_flushes(&server(Module::Ours, "response-flush-delay=0"));
}

/// No option: the same as `=0` (mod_wsgi 4.9's behaviour; Debian's 4.9.4
/// passes this test too).
#[test]
fn without_the_option_each_stall_flushes() {
    assert_each_stall_flushes(&server(Module::default_for_tests(), ""));
}

/// The use mod_wsgi 6.0.2 names: mod_ratelimit paces a streamed response
/// only if it is not made to write every piece that a flush ends. With the
/// delay every write but the last is a whole 200 ms share, and the body
/// takes its size over the rate.
#[test]
fn with_the_delay_a_rate_limit_is_honoured() {
    let apache = server(Module::Ours, "response-flush-delay=200");
    let reads = arrivals(&apache, "/app/trickle", TRICKLE_LEN, Duration::from_secs(30));
    let got: usize = reads.iter().map(|r| r.bytes.len()).sum();
    assert_eq!(got, TRICKLE_LEN, "{}", shown(&reads));
    let took = reads.last().map(|r| r.at).unwrap_or_default();
    // 128 KiB at 64 KiB/s: 2 s (ten shares, nine 200 ms waits between them).
    assert!(took >= Duration::from_millis(1700) && took < Duration::from_millis(2800), "{took:?}: {}", shown(&reads));
    let writes = writes(&reads);
    let short: Vec<&usize> = writes[..writes.len() - 1].iter().filter(|&&n| n < RATE_CHUNK - 256).collect();
    assert!(short.is_empty(), "short writes {short:?} among {writes:?}");
}

/// Without the option (mod_wsgi 4.9's behaviour): each time the Apache
/// child catches up with the application it flushes, and mod_ratelimit
/// writes what it holds then, a short piece that takes up a whole 200 ms
/// share. The rate is never exceeded, but the response comes slower.
#[test]
fn without_it_the_rate_limiter_is_made_to_write_short_pieces() {
    let apache = server(Module::default_for_tests(), "");
    let reads = arrivals(&apache, "/app/trickle", TRICKLE_LEN, Duration::from_secs(30));
    let got: usize = reads.iter().map(|r| r.bytes.len()).sum();
    assert_eq!(got, TRICKLE_LEN, "{}", shown(&reads));
    let took = reads.last().map(|r| r.at).unwrap_or_default();
    assert!(took >= Duration::from_millis(1700), "faster than the rate: {took:?}");
    let writes = writes(&reads);
    assert!(writes[..writes.len() - 1].iter().any(|&n| n < RATE_CHUNK / 2), "no short write in {took:?}: {writes:?}");
    eprintln!("without response-flush-delay: {took:?}, writes {writes:?}");
}
