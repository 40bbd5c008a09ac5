//! Connections between Apache children and daemon processes kept from one
//! request to the next: one connection carries many requests, a daemon
//! process with no idle thread hands its kept connections back (so no
//! request waits behind a busy process while another process of the group
//! is idle), and a kept connection whose daemon died is not used: the
//! child finds it closed before the request, or cannot write the request
//! on it, and makes a new one.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::apps;
use common::daemon::{self, INFO_APP, pid_of, sockets_in, wait_for_daemons};
use common::*;

/// INFO_APP, `/slow` answers its pid after 1.5 seconds, and `/big` 320 KiB
/// in 64 KiB chunks (most through the shared window).
const APP: &str = include_str!("apps/daemon_kept_connections/app.py");

/// Prefork children, two at least: a client connection stays with one
/// child, so each client connection has its own connection to the daemons.
const TWO_CHILDREN: &str =
    "StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\nServerLimit 4\nMaxRequestWorkers 4\nKeepAliveTimeout 30";

fn server(processes: u32, threads: u32) -> Apache {
    let app = format!("{}\n{}", INFO_APP.replace("def application", "def info"), APP);
    ApacheBuilder::new()
        .embedded_only()
        .mpm(Mpm::Prefork)
        .file("app/kept.wsgi", app)
        .conf(TWO_CHILDREN)
        .conf(&format!(
            "WSGIDaemonProcess kept processes={processes} threads={threads} display-name=%{{GROUP}}\n\
             WSGIScriptAlias / {{root}}/app/kept.wsgi process-group=kept application-group=%{{GLOBAL}}"
        ))
        .start()
}

fn socket(apache: &Apache) -> PathBuf {
    let sockets = sockets_in(&apache.root().join("run"));
    assert_eq!(sockets.len(), 1, "one group, one socket: {sockets:?}");
    sockets[0].clone()
}

/// The daemon ends of open connections to `socket`: inodes of the
/// connected sockets that /proc/net/unix lists with its path.
fn daemon_ends(socket: &Path) -> BTreeSet<u64> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap();
    let path = socket.to_string_lossy();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode Path; St 03: connected.
            (f.len() == 8 && f[5] == "03" && f[7] == path).then(|| f[6].parse().ok()).flatten()
        })
        .collect()
}

fn pid(resp: &Response) -> i32 {
    pid_of(&apps::environ(resp))
}

#[test]
fn one_connection_to_the_daemon_carries_every_request_of_a_client() {
    let apache = server(1, 4);
    let socket = socket(&apache);
    let mut client = Conn::open(apache.port()).unwrap();
    let mut seen = BTreeSet::new();
    for i in 0..20 {
        let resp = client.get("/info");
        assert_eq!(resp.status, 200, "request {i}: {resp:?}\n{}", apache.error_log());
        let env = apps::environ(&resp);
        // As under mod_wsgi, whose every request makes one connection.
        assert_eq!(env.get("mod_wsgi.daemon_connects").map(String::as_str), Some("'1'"), "{env:?}");
        let open = daemon_ends(&socket);
        assert!(!open.is_empty(), "after request {i}, no connection to {} is open", socket.display());
        seen.extend(open);
    }
    assert_eq!(seen.len(), 1, "20 requests of one client used connections {seen:?}\n{}", apache.error_log());
    assert!(!apache.error_log().contains("[wsgi:error]"), "{}", apache.error_log());
}

/// Pipelined requests reach the daemon right after the last frame of the
/// one before, often while it still waits for its window to be released:
/// those bytes belong to the next request, which must be served, not lost.
#[test]
fn a_request_that_arrives_with_the_end_of_the_last_is_served() {
    let apache = server(1, 4);
    let expected: Vec<u8> = (0..5u8).flat_map(|i| std::iter::repeat_n(65 + i, 65536)).collect();
    for round in 0..10 {
        let mut client = Conn::open(apache.port()).unwrap();
        for _ in 0..8 {
            client.send("GET", "/big", &[], b"").unwrap();
        }
        for i in 0..8 {
            let resp = client.read_response(false).unwrap();
            assert_eq!(resp.status, 200, "round {round}, response {i}\n{}", apache.error_log());
            assert!(resp.body == expected, "round {round}, response {i}: {} bytes", resp.body.len());
        }
    }
    assert!(!apache.error_log().contains("[wsgi:error]"), "{}", apache.error_log());
}

#[test]
fn a_process_with_no_idle_thread_hands_its_kept_connections_back() {
    let apache = server(2, 1);
    wait_for_daemons(&apache, "(wsgi:kept)", 2, Duration::from_secs(10));
    // Each round: a slow request on one client occupies the only thread of
    // process X; a request on another client, whose Apache child kept a
    // connection to X, must not wait for it. Which process the second
    // child's connection leads to is the kernel's choice, so rounds go on
    // until one has met X there.
    let mut met = 0;
    for round in 0..12 {
        let mut quick = Conn::open(apache.port()).unwrap();
        let mut slow = Conn::open(apache.port()).unwrap();
        let kept_to = pid(&quick.get("/info"));
        let _ = pid(&slow.get("/info"));
        slow.send("GET", "/slow", &[], b"").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        let resp = quick.get("/info");
        let waited = start.elapsed();
        let busy = pid_of(&apps::environ(&slow.read_response(false).unwrap()));
        assert_eq!(resp.status, 200, "round {round}: {resp:?}\n{}", apache.error_log());
        assert_ne!(pid(&resp), busy, "round {round}: served by the busy process");
        assert!(
            waited < Duration::from_millis(900),
            "round {round}: waited {waited:?} (kept connection to {kept_to}, busy {busy})\n{}",
            apache.error_log()
        );
        if kept_to == busy {
            met += 1;
            if met == 2 {
                break;
            }
        }
    }
    assert!(met >= 1, "no round had a kept connection to the busy process");
    assert!(!apache.error_log().contains("[wsgi:error]"), "{}", apache.error_log());
}

#[test]
fn a_kept_connection_to_a_daemon_that_died_is_not_used() {
    let apache = server(1, 4);
    let mut client = Conn::open(apache.port()).unwrap();
    let first = pid(&client.get("/info"));
    process::kill(first, 9);
    let replaced =
        wait_until(Duration::from_secs(10), || daemon::daemon_pids(&apache, "(wsgi:kept)").iter().any(|p| *p != first));
    assert!(replaced, "no daemon process replaced {first}\n{}", apache.error_log());
    let resp = client.get("/info");
    assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
    assert_ne!(pid(&resp), first);
    let log = apache.error_log();
    assert!(!log.contains("connection failed") && !log.contains("closed the connection"), "{log}");
}
