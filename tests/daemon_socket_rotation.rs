//! `WSGISocketRotation`: with the default (On) each graceful restart gives
//! the daemons new socket paths, and an old Apache child still reading a
//! request can no longer reach them; with Off the paths stay
//! (`<prefix>.<pid>.u<uid>.<n>.sock`, as mod_wsgi names them) and that
//! child's request is served by the new daemons.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::*;

const PID_APP: &str = include_str!("apps/daemon_socket_rotation/pid.py");

/// The status of a request whose head an old prefork child started reading
/// before a graceful restart and that ends after it, and the socket files
/// before and after.
fn across_graceful_restart(rotation: &str) -> (u16, Vec<String>, Vec<String>) {
    let apache = ApacheBuilder::new()
        .mpm(Mpm::Prefork)
        .file("scripts/pid.wsgi", PID_APP)
        .conf(&format!(
            "KeepAlive On\nKeepAliveTimeout 30\nMaxKeepAliveRequests 0\n\
             WSGISocketPrefix {{root}}/run/wsgi\nWSGISocketRotation {rotation}\n\
             WSGIDaemonProcess rotated connect-timeout=2\n\
             WSGIScriptAlias /pid {{root}}/scripts/pid.wsgi process-group=rotated"
        ))
        .start();
    let sockets = || daemon::sockets_in(&apache.root().join("run")).iter().map(|p| p.display().to_string()).collect();
    let first = apache.get("/pid");
    assert_eq!(first.status, 200, "{first:?}\n{}", apache.error_log());
    let before: Vec<String> = sockets();
    let mut conn = apache.connect();
    conn.stream().write_all(b"GET /pid HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    apache.restart_graceful();
    std::thread::sleep(Duration::from_millis(300));
    conn.stream().write_all(b"Connection: close\r\n\r\n").unwrap();
    let again = conn.read_response(false).map(|r| r.status).unwrap_or(0);
    let after: Vec<String> = sockets();
    (again, before, after)
}

#[test]
fn rotation_off_keeps_socket_paths_and_old_children_reach_new_daemons() {
    let (status, before, after) = across_graceful_restart("Off");
    assert_eq!(before, after, "the socket paths changed");
    assert!(before.iter().all(|p| p.contains(".u")), "not named by uid: {before:?}");
    assert_eq!(status, 200, "the old child's request after the restart");
}

#[test]
fn rotation_on_gives_each_generation_new_socket_paths() {
    let (status, before, after) = across_graceful_restart("On");
    assert_ne!(before, after, "the socket paths stayed");
    assert_ne!(status, 200, "an old child reached the new daemons through a rotated socket");
}
