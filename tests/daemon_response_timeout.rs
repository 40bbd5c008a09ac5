//! `response-socket-timeout=` of `WSGIDaemonProcess`: how long the Apache
//! child waits on each write of a daemon's response to a client that has
//! stopped reading. When it expires the child gives the response up, so the
//! daemon thread producing it is freed for the next request; without it the
//! thread stays blocked for Apache's `Timeout`.

mod common;

use std::time::{Duration, Instant};

use common::http::contains;
use common::*;

/// `/stream`: far more than the sockets between the daemon and the client
/// can hold; `/quick`: a few bytes.
const APP: &str = include_str!("apps/daemon_response_timeout/stream.py");

/// One daemon thread, so a request blocked on a client holds up the next.
fn server(option: &str) -> Apache {
    ApacheBuilder::new()
        .file("scripts/app.wsgi", APP)
        .conf(&format!(
            "WSGIDaemonProcess slow processes=1 threads=1 {option}\n\
             WSGIScriptAlias /app {{root}}/scripts/app.wsgi process-group=slow application-group=%{{GLOBAL}}"
        ))
        .start()
}

/// The error-log line of a child giving a response up: ours says "write
/// timeout", mod_wsgi 4.9 "(70007)The timeout specified has expired".
fn gave_up(line: &str) -> bool {
    line.contains("proxy response") && line.contains("to client") && line.contains("timeout")
}

/// Starts `/app/stream` on a client that then reads nothing more, and
/// sends `/app/quick` behind it: how long `/app/quick` took, if it was
/// answered within `patience`. The stalled client is returned to keep it
/// open meanwhile.
fn quick_behind_a_stalled_client(apache: &Apache, patience: Duration) -> (Conn, Option<Duration>) {
    let mut stalled = apache.connect();
    stalled.send("GET", "/app/stream", &[], &[]).unwrap();
    let head = stalled.read_until(b"\r\n\r\n", Duration::from_secs(10));
    assert!(contains(&head, b"200 OK"), "the stream started: {}", String::from_utf8_lossy(&head));
    let started = Instant::now();
    let mut quick = apache.connect();
    quick.stream().set_read_timeout(Some(patience)).unwrap();
    let answered = quick.try_request("GET", "/app/quick", &[], &[]).ok();
    if let Some(resp) = &answered {
        assert_eq!((resp.status, resp.text().as_str()), (200, "quick"));
    }
    (stalled, answered.map(|_| started.elapsed()))
}

#[test]
fn a_client_that_stops_reading_is_given_up_after_response_socket_timeout() {
    let apache = server("response-socket-timeout=2");
    let mark = apache.log_mark();
    let (_stalled, took) = quick_behind_a_stalled_client(&apache, Duration::from_secs(15));
    let took = took.unwrap_or_else(|| panic!("second request not served:\n{}", apache.log_since(mark)));
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "served after {took:?}, not about 2 s:\n{}",
        apache.log_since(mark)
    );
    let log = apache.log_since(mark);
    let gave_up: Vec<&str> = log.lines().filter(|l| gave_up(l)).collect();
    assert_eq!(gave_up.len(), 1, "one line says the child gave up:\n{log}");
    assert!(gave_up[0].contains(":error]"), "{}", gave_up[0]);
    apache.assert_no_crash();
}

#[test]
fn without_it_the_daemon_thread_stays_blocked_for_the_longer_timeout() {
    let apache = server("response-socket-timeout=30");
    let mark = apache.log_mark();
    let (_stalled, took) = quick_behind_a_stalled_client(&apache, Duration::from_secs(6));
    assert_eq!(took, None, "the only thread was still writing the first response:\n{}", apache.log_since(mark));
    assert!(!apache.log_since(mark).lines().any(gave_up), "{}", apache.log_since(mark));
}

/// As mod_wsgi: with no response-socket-timeout, socket-timeout bounds
/// the writes to the client too. (No second request here: socket-timeout
/// would bound its wait for the busy daemon as well.)
#[test]
fn socket_timeout_applies_when_response_socket_timeout_is_not_given() {
    let apache = server("socket-timeout=2");
    let mark = apache.log_mark();
    let mut stalled = apache.connect();
    stalled.send("GET", "/app/stream", &[], &[]).unwrap();
    let head = stalled.read_until(b"\r\n\r\n", Duration::from_secs(10));
    assert!(contains(&head, b"200 OK"), "the stream started: {}", String::from_utf8_lossy(&head));
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || apache.log_since(mark).lines().any(gave_up)),
        "{}",
        apache.log_since(mark)
    );
    assert!(started.elapsed() < Duration::from_secs(8), "gave up after {:?}", started.elapsed());
}
