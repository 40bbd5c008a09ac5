//! Fault suite (issue 19): processes killed with SIGKILL under load.
//!
//! - A daemon process of a `processes=2` group, while 8 keep-alive clients
//!   load it for 10 s: only the requests in flight at the kill may fail, a
//!   request 2 s after the kill succeeds, the pids that answered are the two
//!   daemons plus the one replacement, and the error log names the death
//!   and its signal.
//! - An Apache child (event MPM), in embedded and in daemon mode: the server
//!   keeps answering, each client loses at most the one request it had on
//!   the killed child, and Apache starts a replacement child.
//!
//! Every test starts its own server (they kill its processes) and the load
//! tests run one at a time (the machine has two cores).

mod common;
mod faults;

use std::time::{Duration, Instant};

use common::daemon::{daemon_pids, wait_for_daemons, worker_pids};
use common::*;
use faults::{Load, PID_APP, STABLE_EVENT_MPM, Sample, by_pid, per_second};

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(10);
/// Bounds the load in count as well as in time.
const MAX_PER_CLIENT: usize = 40_000;
const KILL_AT: Duration = Duration::from_secs(4);

/// A server with PID_APP at `/pid`, embedded, and at `/daemon/pid` in the
/// group `group` (`processes=2 threads=4`).
fn server(group: &str) -> Apache {
    ApacheBuilder::new()
        .embedded_only()
        .file("app/pid.wsgi", PID_APP)
        .conf(STABLE_EVENT_MPM)
        .conf("MaxKeepAliveRequests 0\nKeepAliveTimeout 30")
        .conf(&format!(
            "WSGIDaemonProcess {group} processes=2 threads=4 display-name=%{{GROUP}}\n\
             WSGIScriptAlias /daemon/pid {{root}}/app/pid.wsgi process-group={group} application-group=%{{GLOBAL}}\n\
             WSGIScriptAlias /pid {{root}}/app/pid.wsgi application-group=%{{GLOBAL}}"
        ))
        .start()
}

fn failures(samples: &[Sample]) -> Vec<&Sample> {
    samples.iter().filter(|s| !s.ok()).collect()
}

fn show(samples: &[&Sample]) -> String {
    samples.iter().take(30).map(|s| s.describe()).collect::<Vec<_>>().join("\n")
}

/// Sleeps until `at` from the load's start.
fn sleep_until(load: &Load, at: Duration) {
    std::thread::sleep(at.saturating_sub(load.elapsed()));
}

/// Waits (1 s at most, polling every millisecond) until `pid` has exited.
fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while process::alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// One request on a new connection, 2 s after the kill: must be a 200.
fn request_after(apache: &Apache, path: &str, killed_at: Instant) -> (Duration, Response) {
    std::thread::sleep(Duration::from_secs(2).saturating_sub(killed_at.elapsed()));
    let mark = apache.log_mark();
    let resp = apache
        .try_request("GET", path, &[], b"")
        .unwrap_or_else(|e| panic!("request 2 s after the kill: {e}\n{}", apache.log_since(mark)));
    apache.assert_status(&resp, 200, mark);
    (killed_at.elapsed(), resp)
}

#[test]
fn daemon_killed_under_load_loses_only_requests_in_flight() {
    let _serial = faults::serial();
    let group = unique_token("fkd");
    let title = format!("(wsgi:{group})");
    let apache = server(&group);
    let before = wait_for_daemons(&apache, &title, 2, Duration::from_secs(10));
    assert_eq!(before.len(), 2, "{title}: {before:?}\n{}", apache.error_log());
    // Both processes load the application before the measured run.
    for _ in 0..4 {
        let mark = apache.log_mark();
        let resp = apache.get("/daemon/pid");
        apache.assert_status(&resp, 200, mark);
    }
    let before = wait_for_daemons(&apache, &title, 2, Duration::from_secs(5));
    let mark = apache.log_mark();

    // 2 ms in the application: requests are in flight inside the daemons.
    let load = Load::start(apache.port(), "/daemon/pid?2", CLIENTS, RUN, MAX_PER_CLIENT);
    sleep_until(&load, KILL_AT);
    let victim = busiest(&before);
    let in_flight_before = load.in_flight();
    let kill_from = load.elapsed();
    process::kill(victim, libc::SIGKILL);
    let killed_at = Instant::now();
    let kill = load.elapsed();
    let in_flight_after = load.in_flight();
    // The process is gone (its sockets closed) a little after kill()
    // returns: requests handed to it until then are in flight too.
    let gone = wait_gone(victim);
    let dead = load.elapsed();
    let (later, resp) = request_after(&apache, "/daemon/pid", killed_at);
    let later_pid: i32 = resp.text().trim().parse().unwrap_or_else(|_| panic!("not a pid: {resp:?}"));
    let samples = load.join();
    let after = wait_for_daemons(&apache, &title, 2, Duration::from_secs(5));
    let log = apache.log_since(mark);

    let failed = failures(&samples);
    let answered = by_pid(&samples);
    let replacements: Vec<i32> = after.iter().copied().filter(|p| !before.contains(p)).collect();
    eprintln!(
        "daemon kill under load: {} requests by {CLIENTS} clients in {RUN:?}, {} failed; in flight at the kill \
         {in_flight_before}..{in_flight_after}; killed {victim} at {} ms, gone at {} ms; daemons before {before:?}, \
         after {after:?}; answered by {answered:?}; request {} ms after the kill answered by {later_pid}",
        samples.len(),
        failed.len(),
        kill.as_millis(),
        dead.as_millis(),
        later.as_millis(),
    );
    eprintln!("daemon kill under load: answers per second {:?}", per_second(&samples));
    if !failed.is_empty() {
        eprintln!("daemon kill under load: failures:\n{}", show(&failed));
    }

    // Only requests in flight at the kill failed: sent before the process
    // was gone, and answered (with an error) after the kill; no more of
    // them than clients.
    assert!(gone, "the killed daemon {victim} is still alive");
    let not_in_flight: Vec<&Sample> =
        failed.iter().copied().filter(|s| !(s.sent <= dead && s.done >= kill_from)).collect();
    assert!(
        not_in_flight.is_empty(),
        "requests failed that were not in flight at the kill ({}..{} ms):\n{}\nerror_log:\n{log}",
        kill_from.as_millis(),
        dead.as_millis(),
        show(&not_in_flight)
    );
    assert!(failed.len() <= CLIENTS, "{} failed requests, more than the {CLIENTS} in flight", failed.len());
    assert!(!process::alive(victim), "the killed daemon {victim} is alive");
    assert_eq!(after.len(), 2, "the group should be back to 2 daemons: {after:?}\n{log}");
    assert_eq!(replacements.len(), 1, "one replacement expected: before {before:?}, after {after:?}\n{log}");
    assert_ne!(later_pid, victim, "the killed daemon answered 2 s after its death");
    // processes=2, plus the one replacement: no other process served.
    let unexpected: Vec<i32> =
        answered.keys().copied().filter(|p| !before.contains(p) && !replacements.contains(p)).collect();
    assert!(
        unexpected.is_empty() && answered.len() <= 3,
        "answered by {answered:?}: {unexpected:?} are neither the daemons before {before:?} nor the replacement \
         {replacements:?}\n{log}"
    );
    assert!(
        samples.iter().any(|s| s.pid() == Some(replacements[0]) && s.sent > kill),
        "the replacement {} never answered under load",
        replacements[0]
    );
    assert!(samples.len() >= 500, "only {} requests in {RUN:?}", samples.len());
    assert!(answered.contains_key(&victim), "the killed daemon {victim} had not served");
    // The death is logged with its signal.
    let death = faults::death_line(&log, victim, 9, "SIGKILL");
    eprintln!("daemon kill under load: death line {death:?}");
    assert!(death.is_some(), "no error_log line about the death of {victim} by signal 9 (or SIGKILL):\n{log}");
    apache.assert_no_crash();
}

/// Of `pids`, the process with the most open sockets: the Apache child
/// holding most client connections, or the daemon holding most
/// connections from Apache children (so most requests in flight).
fn busiest(pids: &[i32]) -> i32 {
    let sockets = |pid: i32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| {
                d.flatten()
                    .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")))
                    .count()
            })
            .unwrap_or(0)
    };
    *pids.iter().max_by_key(|&&p| sockets(p)).unwrap_or_else(|| panic!("no processes to choose from"))
}

fn apache_child_killed(daemon_mode: bool) {
    let _serial = faults::serial();
    let name = if daemon_mode { "daemon" } else { "embedded" };
    let group = unique_token("fkc");
    let title = format!("(wsgi:{group})");
    let path = if daemon_mode { "/daemon/pid?2" } else { "/pid?2" };
    let apache = server(&group);
    let daemons = wait_for_daemons(&apache, &title, 2, Duration::from_secs(10));
    assert_eq!(daemons.len(), 2, "{daemons:?}\n{}", apache.error_log());
    let workers = worker_pids(&apache);
    assert_eq!(workers.len(), 2, "StartServers 2: {workers:?}");
    for _ in 0..4 {
        let mark = apache.log_mark();
        apache.assert_status(&apache.get(path), 200, mark);
    }
    let mark = apache.log_mark();

    let load = Load::start(apache.port(), path, CLIENTS, RUN, MAX_PER_CLIENT);
    sleep_until(&load, KILL_AT);
    let victim = busiest(&worker_pids(&apache));
    let in_flight = load.in_flight();
    let kill_from = load.elapsed();
    process::kill(victim, libc::SIGKILL);
    let killed_at = Instant::now();
    let gone = wait_gone(victim);
    let kill = load.elapsed();
    let (later, _) = request_after(&apache, path, killed_at);
    let samples = load.join();
    let mut now = Vec::new();
    wait_until(Duration::from_secs(5), || {
        now = worker_pids(&apache);
        now.len() >= 2
    });
    let log = apache.log_since(mark);

    let failed = failures(&samples);
    let answered = by_pid(&samples);
    eprintln!(
        "Apache child kill under load ({name}): {} requests by {CLIENTS} clients in {RUN:?}, {} failed; \
         {in_flight} in flight at the kill; killed {victim} at {} ms; workers before {workers:?}, after {now:?}; \
         request {} ms after the kill succeeded",
        samples.len(),
        failed.len(),
        kill.as_millis(),
        later.as_millis()
    );
    if !daemon_mode {
        eprintln!("Apache child kill under load ({name}): answered by {answered:?}");
    }
    eprintln!("Apache child kill under load ({name}): answers per second {:?}", per_second(&samples));
    if !failed.is_empty() {
        eprintln!("Apache child kill under load ({name}): failures:\n{}", show(&failed));
    }

    // A client loses at most the request it had on the killed child: the
    // one in flight, or the next one it sent on its dead keep-alive
    // connection (at once: its previous answer had just come). Nothing
    // fails before the kill, or later than just after it.
    let window_end = kill + Duration::from_millis(100);
    for client in 0..CLIENTS {
        let lost: Vec<&Sample> = samples.iter().filter(|s| s.client == client && !s.ok()).collect();
        assert!(
            lost.len() <= 1 && lost.iter().all(|s| s.done >= kill_from && s.sent <= window_end),
            "{name}: client {client} lost requests other than the one it had on the killed child ({} ms):\n{}\n{log}",
            kill.as_millis(),
            show(&lost)
        );
    }
    // The server kept answering: every second after the kill.
    let seconds = per_second(&samples);
    let after_kill = &seconds[(kill.as_secs() as usize + 1).min(seconds.len())..];
    assert!(
        !after_kill.is_empty() && after_kill.iter().all(|&n| n > 0),
        "{name}: seconds without an answer after the kill at {} ms: {seconds:?}",
        kill.as_millis()
    );
    assert!(gone, "the killed child {victim} is alive");
    assert!(now.len() >= 2, "{name}: Apache did not replace the killed child: workers {now:?}\n{log}");
    if daemon_mode {
        // Killing an Apache child leaves the daemons alone.
        let daemons_now = daemon_pids(&apache, &title);
        assert_eq!(daemons_now, daemons, "{name}: daemons changed\n{log}");
        assert!(!log.contains("has died"), "{name}: a daemon died:\n{log}");
    } else {
        let unexpected: Vec<i32> =
            answered.keys().copied().filter(|p| !workers.contains(p) && !now.contains(p)).collect();
        assert!(unexpected.is_empty(), "{name}: answered by unknown processes {unexpected:?}");
    }
    apache.assert_no_crash();
}

#[test]
fn apache_child_killed_under_load_embedded() {
    apache_child_killed(false);
}

#[test]
fn apache_child_killed_under_load_daemon() {
    apache_child_killed(true);
}
