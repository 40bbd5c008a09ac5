//! Daemon mode, processes over time: a killed daemon is re-forked, a
//! graceful restart replaces every daemon, a stop leaves no daemon and no
//! socket behind, WSGISocketPrefix places the sockets, only this server's
//! Apache children (who know its secret) get a request served through a
//! socket, and a modified script restarts its daemon (Quick Configuration
//! Guide, "Delegation To Daemon Process").
//!
//! Every test starts its own server: they kill, restart and stop it.

mod common;

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::daemon::{self, daemon_pids, processes_titled, sockets_in, wait_for_daemons};
use common::*;

/// Sleeps for the number of milliseconds in the query string (if any),
/// then answers its pid.
const SLOW_PID_APP: &str = include_str!("apps/daemon_lifecycle/slow_pid.py");

/// A group name unique on this machine, so its `(wsgi:NAME)` title finds
/// this test's processes and nobody else's.
fn unique_group(prefix: &str) -> String {
    unique_token(prefix)
}

/// A server with one daemon group of two processes serving SLOW_PID_APP at
/// `/pid`, and the group's process title.
fn pid_group_server(prefix: &str, threads: u32) -> (Apache, String, String) {
    let group = unique_group(prefix);
    let title = format!("(wsgi:{group})");
    let apache = ApacheBuilder::new()
        .file("scripts/pid.wsgi", SLOW_PID_APP)
        .conf(&format!(
            "WSGIDaemonProcess {group} processes=2 threads={threads} display-name=%{{GROUP}}
WSGIScriptAlias /pid {{root}}/scripts/pid.wsgi process-group={group}"
        ))
        .start();
    (apache, group, title)
}

fn www_data_uid() -> u32 {
    daemon::passwd("www-data").expect("user www-data").0
}

/// GET `path` that must answer 200 with a pid; the pid.
fn served_by(apache: &Apache, path: &str) -> i32 {
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    resp.text().trim().parse().unwrap_or_else(|_| panic!("no pid in {resp:?}"))
}

/// `n` concurrent GETs of `path`; their responses, in order.
fn concurrent(apache: &Apache, path: &str, n: usize) -> Vec<Result<Response, String>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| scope.spawn(|| apache.try_request("GET", path, &[], b"").map_err(|e| e.to_string())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn assert_socket_secure(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(meta.file_type().is_socket(), "{} is not a socket", path.display());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "{}: mode {:o}", path.display(), meta.permissions().mode());
    assert_eq!(meta.uid(), www_data_uid(), "{}: owner uid {}", path.display(), meta.uid());
}

// ---------------------------------------------------------------------------
// 4. Supervision.

#[test]
fn killed_daemon_is_replaced_within_two_seconds_and_requests_keep_succeeding() {
    let (apache, group, title) = pid_group_server("sup", 1);
    let before = wait_for_daemons(&apache, &title, 2, Duration::from_secs(10));
    assert_eq!(before.len(), 2, "{title}: {before:?}");
    // Both serve: two concurrent slow requests, one thread each.
    let pids: Vec<i32> =
        concurrent(&apache, "/pid?300", 2).into_iter().map(|r| r.unwrap().text().parse().unwrap()).collect();
    assert!(pids.iter().all(|p| before.contains(p)), "served by {pids:?}, daemons {before:?}");

    let (victim, survivor) = (before[0], before[1]);
    let mark = apache.log_mark();
    let killed_at = Instant::now();
    process::kill(victim, libc::SIGKILL);

    // Requests keep succeeding meanwhile (the survivor, then both).
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let stop = stop.clone();
        let port = apache.port();
        std::thread::spawn(move || {
            let mut outcomes = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let outcome = Conn::open(port)
                    .and_then(|mut c| c.try_request("GET", "/pid", &[("Connection", "close")], b""))
                    .map(|r| r.status)
                    .map_err(|e| e.to_string());
                outcomes.push(outcome);
                std::thread::sleep(Duration::from_millis(20));
            }
            outcomes
        })
    };

    // A new daemon with the same title exists, and serves, within 2 s.
    let mut replacement = None;
    let mut seen = Vec::new();
    while killed_at.elapsed() < Duration::from_secs(2) && replacement.is_none() {
        let now = daemon_pids(&apache, &title);
        if let Some(&new) = now.iter().find(|p| **p != victim && **p != survivor) {
            // Two concurrent requests of 200 ms on two one-thread
            // processes: each process takes one.
            for r in concurrent(&apache, "/pid?200", 2) {
                if let Ok(resp) = r
                    && resp.status == 200
                {
                    seen.push(resp.text());
                }
            }
            if seen.contains(&new.to_string()) {
                replacement = Some(new);
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let elapsed = killed_at.elapsed();
    stop.store(true, Ordering::Relaxed);
    let outcomes = background.join().unwrap();
    let new = replacement.unwrap_or_else(|| {
        panic!(
            "no replacement daemon serving within 2 s (after {elapsed:?}): daemons {:?}, responses from {seen:?}\nerror_log:\n{}",
            daemon_pids(&apache, &title),
            apache.log_since(mark)
        )
    });
    assert!(!process::alive(victim), "killed daemon {victim} still alive");
    assert_eq!(daemon::title(new), title);
    let after = wait_for_daemons(&apache, &title, 2, Duration::from_secs(2));
    assert_eq!(after, {
        let mut v = vec![survivor, new];
        v.sort();
        v
    });
    assert!(
        !outcomes.is_empty() && outcomes.iter().all(|o| o == &Ok(200)),
        "requests during the restart: {outcomes:?}\nerror_log:\n{}",
        apache.log_since(mark)
    );
    let log = apache.log_since(mark);
    assert!(
        log.lines().any(|l| l.contains(&format!("'{group}'")) && l.contains("died")),
        "no log line about the death of a '{group}' daemon:\n{log}"
    );
    apache.assert_no_crash();
}

/// Daemons may be started through a per-group manager process (titled
/// `(wsgi-manager:NAME)`). Killing it must not leave the group without
/// processes, nor with more than `processes=` of them.
#[test]
fn killed_manager_leaves_exactly_the_configured_daemons() {
    let (apache, _group, title) = pid_group_server("manager", 2);
    let before = wait_for_daemons(&apache, &title, 2, Duration::from_secs(10));
    assert_eq!(before.len(), 2, "{before:?}");
    let managers: Vec<i32> = before
        .iter()
        .filter_map(|p| process::stat(*p).map(|s| s.ppid))
        .filter(|pp| *pp != apache.parent_pid())
        .collect();
    let Some(&manager) = managers.first() else {
        // Daemons are the parent's own children: nothing to test here.
        return;
    };
    assert!(managers.iter().all(|m| *m == manager), "one manager for the group: {managers:?}");
    let mark = apache.log_mark();
    process::kill(manager, libc::SIGKILL);

    // Requests sent meanwhile are served (they wait in the listen queue).
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(200));
            apache.request("GET", "/pid", &[], b"").status
        })
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}\n{}", apache.log_since(mark));
    let settled = wait_until(Duration::from_secs(5), || {
        let now = daemon_pids(&apache, &title);
        now.len() == 2 && now.iter().all(|p| !before.contains(p)) && processes_titled(&title).len() == 2
    });
    let running = processes_titled(&title);
    let after = daemon_pids(&apache, &title);
    let served: Vec<i32> = (0..4).map(|_| served_by(&apache, "/pid")).collect();
    let log = apache.log_since(mark);
    apache.assert_no_crash();
    // And a stop leaves none of them, old or new.
    assert!(daemon::stop(&apache), "Apache did not stop");
    wait_until(Duration::from_secs(5), || processes_titled(&title).is_empty());
    let after_stop = processes_titled(&title);
    assert!(
        settled && served.iter().all(|p| after.contains(p)) && after_stop.is_empty(),
        "after killing the manager {manager}: {title} processes {running:?} (before {before:?}, \
         of this server {after:?}; requests served by {served:?}); after apache2 -k stop: {after_stop:?}\n{log}"
    );
}

#[test]
fn graceful_restart_replaces_every_daemon() {
    let (apache, _group, title) = pid_group_server("graceful", 2);
    let run = apache.root().join("run");
    let before = wait_for_daemons(&apache, &title, 2, Duration::from_secs(10));
    assert_eq!(before.len(), 2, "{before:?}");
    assert!(before.contains(&served_by(&apache, "/pid")));
    let sockets_before = sockets_in(&run);
    assert_eq!(sockets_before.len(), 1, "one socket for one group: {sockets_before:?}");

    // A request in flight during the restart completes (as with mod_wsgi
    // 4.9.4), in the old process.
    let in_flight = std::thread::scope(|scope| {
        let slow = scope.spawn(|| apache.try_request("GET", "/pid?1500", &[], b"").map_err(|e| e.to_string()));
        std::thread::sleep(Duration::from_millis(300));
        apache.restart_graceful();
        slow.join().unwrap()
    });
    let in_flight =
        in_flight.unwrap_or_else(|e| panic!("request in flight during graceful: {e}\n{}", apache.error_log()));
    assert_eq!(in_flight.status, 200, "{in_flight:?}\n{}", apache.error_log());
    let old_pid: i32 = in_flight.text().parse().unwrap();
    assert!(before.contains(&old_pid), "in-flight request served by {old_pid}, old daemons {before:?}");

    let replaced = wait_until(Duration::from_secs(10), || {
        let now = daemon_pids(&apache, &title);
        now.len() == 2 && now.iter().all(|p| !before.contains(p))
    });
    let after = daemon_pids(&apache, &title);
    assert!(replaced, "daemons before {before:?}, after {after:?}\n{}", apache.error_log());
    assert!(
        wait_until(Duration::from_secs(5), || before.iter().all(|p| !process::alive(*p))),
        "old daemons still alive: {:?}",
        before.iter().filter(|p| process::alive(**p)).collect::<Vec<_>>()
    );
    assert_eq!(processes_titled(&title), after, "no other process has this group's title");
    for _ in 0..4 {
        let pid = served_by(&apache, "/pid");
        assert!(after.contains(&pid), "served by {pid}, daemons {after:?}");
    }
    // The old generation's socket is gone; one socket again.
    let sockets_after = sockets_in(&run);
    assert_eq!(sockets_after.len(), 1, "sockets after the restart: {sockets_after:?}");
    assert_socket_secure(&sockets_after[0]);
    apache.assert_no_crash();
}

#[test]
fn stop_leaves_no_daemon_and_no_socket() {
    let groups = [unique_group("stop-a"), unique_group("stop-b")];
    let titles: Vec<String> = groups.iter().map(|g| format!("(wsgi:{g})")).collect();
    let apache = ApacheBuilder::new()
        .file("scripts/pid.wsgi", SLOW_PID_APP)
        .conf(&format!(
            "WSGIDaemonProcess {a} processes=2 threads=2 display-name=%{{GROUP}}
WSGIDaemonProcess {b} display-name=%{{GROUP}}
WSGIScriptAlias /a {{root}}/scripts/pid.wsgi process-group={a}
WSGIScriptAlias /b {{root}}/scripts/pid.wsgi process-group={b}",
            a = groups[0],
            b = groups[1]
        ))
        .start();
    let run = apache.root().join("run");
    let a = wait_for_daemons(&apache, &titles[0], 2, Duration::from_secs(10));
    let b = wait_for_daemons(&apache, &titles[1], 1, Duration::from_secs(10));
    assert_eq!((a.len(), b.len()), (2, 1), "{a:?} {b:?}");
    assert!(a.contains(&served_by(&apache, "/a")));
    assert!(b.contains(&served_by(&apache, "/b")));
    // The sockets live in the runtime directory (DefaultRuntimeDir).
    let sockets = sockets_in(&run);
    assert_eq!(sockets.len(), 2, "one socket per group in {}: {sockets:?}", run.display());
    for s in &sockets {
        assert_socket_secure(s);
    }

    assert!(daemon::stop(&apache), "Apache did not stop:\n{}", apache.error_log());
    let daemons: Vec<i32> = a.iter().chain(&b).copied().collect();
    let gone = wait_until(Duration::from_secs(5), || daemons.iter().all(|p| !process::alive(*p)));
    assert!(gone, "daemons alive after stop: {:?}", daemons.iter().filter(|p| process::alive(**p)).collect::<Vec<_>>());
    for g in &groups {
        for t in [format!("(wsgi:{g})"), format!("(wsgi-manager:{g})")] {
            assert_eq!(processes_titled(&t), Vec::<i32>::new(), "{t} processes after stop");
        }
    }
    let leftovers: Vec<(i32, String)> = process::all()
        .into_iter()
        .filter(|s| s.ppid == apache.parent_pid() || s.pgrp == apache.parent_pid())
        .map(|s| (s.pid, daemon::title(s.pid)))
        .collect();
    assert_eq!(leftovers, Vec::<(i32, String)>::new(), "processes of the stopped server");
    for s in &sockets {
        assert!(!s.exists(), "socket {} left behind after stop", s.display());
    }
    assert_eq!(sockets_in(&run), Vec::<PathBuf>::new(), "sockets left in {}", run.display());
    let log = apache.error_log();
    assert!(!log.contains("did not stop in time"), "daemons needed SIGKILL:\n{log}");
}

#[test]
fn socket_prefix_places_sockets_owned_by_the_apache_user() {
    let group = unique_group("prefix");
    let builder = ApacheBuilder::new();
    let dir = builder.root().join("sockets");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let apache = builder
        .file("scripts/pid.wsgi", SLOW_PID_APP)
        .conf(&format!(
            "WSGISocketPrefix {{root}}/sockets/wsgi
WSGIDaemonProcess {group} display-name=%{{GROUP}}
WSGIScriptAlias /pid {{root}}/scripts/pid.wsgi process-group={group}"
        ))
        .start();
    let title = format!("(wsgi:{group})");
    let daemons = wait_for_daemons(&apache, &title, 1, Duration::from_secs(10));
    assert!(daemons.contains(&served_by(&apache, "/pid")), "{daemons:?}");
    let sockets = sockets_in(&dir);
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let name = sockets[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("wsgi."), "socket name {name} does not start with the prefix's 'wsgi'");
    assert_socket_secure(&sockets[0]);
    assert_eq!(sockets_in(&apache.root().join("run")), Vec::<PathBuf>::new(), "no socket in the runtime dir");

    assert!(daemon::stop(&apache), "Apache did not stop:\n{}", apache.error_log());
    assert!(!sockets[0].exists(), "socket left behind after stop");
    assert_eq!(processes_titled(&title), Vec::<i32>::new());
}

// ---------------------------------------------------------------------------
// 5. Socket security.

/// The frames a client sends, encoded by the protocol crate the module uses.
fn request_frame(secret: [u8; wsgi_core::protocol::SECRET_LEN]) -> Vec<u8> {
    use wsgi_core::protocol::{Frame, encode};
    let vars: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", b"GET"),
        (b"SCRIPT_NAME", b"/pid"),
        (b"PATH_INFO", b""),
        (b"QUERY_STRING", b""),
        (b"SERVER_NAME", b"127.0.0.1"),
        (b"SERVER_PORT", b"80"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"REMOTE_ADDR", b"127.0.0.1"),
        (b"SCRIPT_FILENAME", b"/nonexistent/forged.wsgi"),
        (b"mod_wsgi.process_group", b"forged"),
        (b"mod_wsgi.application_group", b""),
        (b"mod_wsgi.callable_object", b"application"),
    ];
    let mut out = Vec::new();
    encode(&Frame::Request { secret, vars }, &mut out);
    out
}

/// Sends `bytes` on a fresh connection to `socket`; what comes back before
/// the daemon closes it (or 5 s pass).
fn send_raw(socket: &Path, bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut s = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let closed = match s.read_to_end(&mut got) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(_) => false,
    };
    (got, closed)
}

#[test]
fn forged_requests_on_the_socket_are_refused_and_the_daemon_keeps_serving() {
    let group = unique_group("secret");
    let apache = ApacheBuilder::new()
        .file("scripts/pid.wsgi", SLOW_PID_APP)
        .conf(&format!(
            "WSGIDaemonProcess {group} processes=1 threads=2 display-name=%{{GROUP}}
WSGIScriptAlias /pid {{root}}/scripts/pid.wsgi process-group={group}"
        ))
        .start();
    let title = format!("(wsgi:{group})");
    let daemons = wait_for_daemons(&apache, &title, 1, Duration::from_secs(10));
    assert_eq!(daemons.len(), 1);
    assert_eq!(served_by(&apache, "/pid"), daemons[0]);
    let sockets = sockets_in(&apache.root().join("run"));
    assert_eq!(sockets.len(), 1, "{sockets:?}");

    // A well-formed request with a wrong secret, from root (who can open
    // the socket): closed without an answer, and logged.
    let mark = apache.log_mark();
    let (got, closed) = send_raw(&sockets[0], &request_frame([0x5a; wsgi_core::protocol::SECRET_LEN]));
    assert!(closed, "the daemon kept the connection open");
    assert!(
        got.is_empty(),
        "the daemon answered a wrong secret with {} bytes: {:?}",
        got.len(),
        String::from_utf8_lossy(&got)
    );
    assert!(
        apache.wait_for_log_since(mark, "wrong secret", Duration::from_secs(5)),
        "no log line about the wrong secret:\n{}",
        apache.log_since(mark)
    );
    let log = apache.log_since(mark);
    assert!(
        log.lines().any(|l| l.contains("wrong secret") && l.contains(":error]") && l.contains(&format!("'{group}'"))),
        "{log}"
    );

    // Garbage: closed, logged as malformed.
    let mark = apache.log_mark();
    let (got, closed) = send_raw(&sockets[0], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(closed && got.is_empty(), "garbage got {got:?} (closed {closed})");
    assert!(
        apache.wait_for_log_since(mark, "malformed", Duration::from_secs(5)),
        "no log line about the malformed request:\n{}",
        apache.log_since(mark)
    );

    // The daemon is unharmed: same process, still serving.
    for _ in 0..3 {
        assert_eq!(served_by(&apache, "/pid"), daemons[0]);
    }
    assert_eq!(daemon_pids(&apache, &title), daemons);

    // Users other than the Apache user cannot even connect.
    let script = format!(
        "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\nexcept PermissionError:\n    sys.exit(3)\nsys.exit(0)\n",
        sockets[0].display().to_string()
    );
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", "python3", "-c", &script])
        .output()
        .expect("runuser");
    assert_eq!(
        out.status.code(),
        Some(3),
        "user nobody could connect to the daemon socket (or failed otherwise): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    apache.assert_no_crash();
}

// ---------------------------------------------------------------------------
// The guide: "the daemon processes will be shutdown and restarted
// automatically if the WSGI application script file is modified".
// mod_wsgi 4.9.4 does so: "Force restart of process 'NAME'.", then the
// request is served by the new process, with the new code.

fn versioned_app(version: &str) -> String {
    format!(
        "import os\nVERSION = '{version}'\n\ndef application(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [('%s %d' % (VERSION, os.getpid())).encode()]\n"
    )
}

#[test]
fn modified_script_restarts_its_daemon_process() {
    let group = unique_group("touch");
    let title = format!("(wsgi:{group})");
    let builder = ApacheBuilder::new().file("wsgi-scripts/myapp.wsgi", versioned_app("one"));
    let script = builder.root().join("wsgi-scripts/myapp.wsgi");
    let apache = builder
        .conf(&format!(
            "WSGIDaemonProcess {group} processes=1 threads=2 display-name=%{{GROUP}}
WSGIProcessGroup {group}
WSGIScriptAlias /myapp {{root}}/wsgi-scripts/myapp.wsgi"
        ))
        .start();
    let answer = |apache: &Apache| {
        let mark = apache.log_mark();
        let resp = apache.get("/myapp");
        apache.assert_status(&resp, 200, mark);
        let text = resp.text();
        let (v, pid) = text.split_once(' ').unwrap();
        (v.to_string(), pid.parse::<i32>().unwrap())
    };
    let (v, first) = answer(&apache);
    assert_eq!(v, "one");
    assert_eq!(answer(&apache), ("one".to_string(), first), "an unmodified script keeps its process");
    assert_eq!(daemon_pids(&apache, &title), vec![first]);

    // A new modification time (and new code).
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&script, versioned_app("two")).unwrap();
    let mark = apache.log_mark();
    let (v, second) = answer(&apache);
    assert_eq!(v, "two", "the modified script's code answers");
    assert_ne!(
        second,
        first,
        "the daemon process was not restarted (same pid {first}); error_log:\n{}",
        apache.log_since(mark)
    );
    assert!(wait_until(Duration::from_secs(10), || !process::alive(first)), "the old daemon {first} is still alive");
    assert_eq!(wait_for_daemons(&apache, &title, 1, Duration::from_secs(5)), vec![second]);
    assert_eq!(answer(&apache), ("two".to_string(), second));
    apache.assert_no_crash();
}
