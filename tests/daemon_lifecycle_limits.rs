//! Daemon lifecycle, part 2: the recycling limits.
//!
//! Each limit of `WSGIDaemonProcess` recycles the process gracefully (the
//! log line names the limit), the group's manager starts a replacement
//! that serves, and no request fails: maximum-requests, restart-interval,
//! inactivity-timeout (a busy process is not idle), cpu-time-limit (the
//! application spins). Python atexit handlers run when a process recycles.
//! (memory-limit= does not recycle: it caps the data size, as mod_wsgi's
//! does; see daemon_resources.rs.)

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::Duration;

use common::*;
use lifecycle::{hit, lifetime, logged_for_pid, stop_and_check, wait_gone, wait_workers, workers};

/// Starts a one-process group, waits for its worker and checks that it
/// serves: (server, worker pid).
fn one_process(group: &str, options: &str) -> (Apache, i32) {
    let apache = lifecycle::server(group, &format!("processes=1 {options}"));
    let w = wait_workers(&apache, group, 1, Duration::from_secs(10));
    assert_eq!(w.len(), 1, "one worker expected: {w:?}\n{}", apache.error_log());
    (apache, w[0])
}

/// Waits for `pid` to log `retiring (<reason>)` and exit, then checks that
/// a replacement serves. Returns the replacement's pid.
fn assert_recycled(apache: &Apache, group: &str, pid: i32, reason: &str, within: Duration) -> i32 {
    let line = format!("retiring ({reason})");
    let ok = common::wait_until(within, || logged_for_pid(&apache.error_log(), pid, &line));
    assert!(ok, "pid {pid} did not log {line:?} within {within:?}:\n{}", apache.error_log());
    let l = apache.error_log().lines().find(|l| l.contains(&line)).unwrap().to_string();
    assert!(l.contains(":info]") && l.contains(&format!("'{group}'")), "line without level info or group: {l}");
    assert!(wait_gone(pid, Duration::from_secs(6)).is_some(), "retired pid {pid} still alive");
    let (v, new) = hit(apache, "");
    assert_eq!(v, "v1");
    assert_ne!(new, pid, "the retired process served");
    new
}

#[test]
fn maximum_requests_recycles_after_the_fifth_request() {
    let group = "maxreq";
    // threads=1: the fifth request is the last one the process takes.
    let (apache, first) = one_process(group, "threads=1 maximum-requests=5");
    let mut pids = Vec::new();
    for _ in 1..=12 {
        let mark = apache.log_mark();
        let resp = apache.get(lifecycle::URL);
        apache.assert_status(&resp, 200, mark);
        pids.push(lifecycle::parse(&resp).unwrap().1);
    }
    assert_eq!(pids[0], first);
    assert!(pids[..5].iter().all(|&p| p == first), "requests 1-5 should come from {first}: {pids:?}");
    assert_ne!(pids[5], first, "request 6 came from the process that had served 5: {pids:?}");
    assert!(pids[5..10].iter().all(|&p| p == pids[5]), "requests 6-10 should come from one process: {pids:?}");
    assert!(pids[10..].iter().all(|&p| p != pids[5] && p != first), "request 11 should come from a third: {pids:?}");
    let log = apache.error_log();
    for p in [first, pids[5]] {
        assert!(
            logged_for_pid(&log, p, "retiring (maximum requests reached)"),
            "no \"retiring (maximum requests reached)\" for {p}:\n{log}"
        );
        assert!(wait_gone(p, Duration::from_secs(5)).is_some(), "{p} still alive after retiring");
    }
    assert!(!log.contains(":error]"), "errors in the log:\n{log}");
    apache.assert_no_crash();
    stop_and_check(apache, &pids);
}

#[test]
fn restart_interval_recycles_an_idle_process() {
    let group = "restartint";
    let (apache, first) = one_process(group, "restart-interval=2");
    assert_eq!(hit(&apache, "").1, first);
    let second = assert_recycled(&apache, group, first, "restart-interval reached", Duration::from_secs(5));
    // The replacement has the same interval: it lives about 2 s, idle.
    let lived = lifetime(second, Duration::from_secs(6));
    let lived = lived.unwrap_or_else(|| panic!("{second} not recycled within 6 s\n{}", apache.error_log()));
    assert!(
        lived >= Duration::from_millis(1500) && lived <= Duration::from_millis(4000),
        "{second} lived {lived:?} with restart-interval=2"
    );
    eprintln!("restart-interval=2: the process lived {} ms", lived.as_millis());
    let third = assert_recycled(&apache, group, second, "restart-interval reached", Duration::from_secs(1));
    let log = apache.error_log();
    assert!(!log.contains(":error]"), "errors in the log:\n{log}");
    apache.assert_no_crash();
    stop_and_check(apache, &[first, second, third]);
}

#[test]
fn inactivity_timeout_recycles_an_idle_process_but_not_a_busy_one() {
    let group = "inactive";
    let (apache, first) = one_process(group, "threads=1 inactivity-timeout=2");
    assert_eq!(hit(&apache, "").1, first);
    let second = assert_recycled(&apache, group, first, "inactivity-timeout reached", Duration::from_secs(5));
    // A request running 4 s (twice the timeout) keeps its process.
    let mark = apache.log_mark();
    let (_, busy) = hit(&apache, "/sleep?4");
    let log = apache.log_since(mark);
    assert!(
        !logged_for_pid(&log, busy, "retiring (inactivity-timeout reached)"),
        "pid {busy} was recycled for inactivity while serving a 4 s request:\n{log}"
    );
    // Once idle again, it goes.
    let third = assert_recycled(&apache, group, busy, "inactivity-timeout reached", Duration::from_secs(5));
    let log = apache.error_log();
    assert!(!log.contains(":error]"), "errors in the log:\n{log}");
    apache.assert_no_crash();
    stop_and_check(apache, &[first, second, busy, third]);
}

#[test]
fn cpu_time_limit_recycles_a_spinning_process() {
    let group = "cpulimit";
    let (apache, first) = one_process(group, "threads=2 cpu-time-limit=1");
    let mark = apache.log_mark();
    // 1.5 s of CPU: over the limit mid-request; the request still finishes
    // (within shutdown-timeout, 5 s by default).
    let resp = apache.get(&format!("{}/spin?1.5", lifecycle::URL));
    apache.assert_status(&resp, 200, mark);
    assert_eq!(lifecycle::parse(&resp).unwrap().1, first);
    let second = assert_recycled(&apache, group, first, "cpu-time-limit exceeded", Duration::from_secs(3));
    // The replacement starts below the limit: it does not recycle at once.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(process::alive(second), "the replacement {second} recycled without spinning\n{}", apache.error_log());
    assert_eq!(hit(&apache, "").1, second);
    let log = apache.error_log();
    assert!(!log.contains(":error]"), "errors in the log:\n{log}");
    apache.assert_no_crash();
    stop_and_check(apache, &[first, second]);
}

/// Python atexit handlers run when a process recycles gracefully.
#[test]
fn atexit_handlers_run_on_graceful_recycling() {
    let group = "atexit";
    let (apache, first) = one_process(group, "threads=1 maximum-requests=2");
    assert_eq!(hit(&apache, "").1, first);
    assert_eq!(hit(&apache, "").1, first);
    assert!(wait_gone(first, Duration::from_secs(6)).is_some(), "{first} did not recycle\n{}", apache.error_log());
    let file = apache.root().join(lifecycle::OUT).join(format!("atexit-{first}"));
    assert!(file.exists(), "the atexit handler of {first} did not run (no {})\n{}", file.display(), apache.error_log());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");
    // A process killed with SIGKILL cannot run them: the check above is
    // about the graceful path, not a file left by someone else.
    let (_, second) = hit(&apache, "");
    process::kill(second, libc::SIGKILL);
    assert!(wait_gone(second, Duration::from_secs(3)).is_some());
    let killed = apache.root().join(lifecycle::OUT).join(format!("atexit-{second}"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!killed.exists(), "a SIGKILLed process wrote its atexit file?");
    apache.assert_no_crash();
    let mut seen = vec![first, second];
    seen.extend(workers(&apache, group));
    stop_and_check(apache, &seen);
}

/// `WSGIIgnoreActivity On` (a health check URL): its requests do not count
/// as activity, so a process that sees only them is recycled by
/// inactivity-timeout; requests to the application keep it.
#[test]
fn ignore_activity_requests_do_not_keep_a_process_alive() {
    let group = "pinged";
    let apache = lifecycle::builder(group, "processes=1 threads=2 inactivity-timeout=2")
        .conf(&format!(
            "WSGIScriptAlias /ping {{root}}/{} process-group={group} application-group=%{{GLOBAL}}\n\
             <Location /ping>\n    WSGIIgnoreActivity On\n</Location>",
            lifecycle::SCRIPT
        ))
        .start();
    let first = hit(&apache, "").1;
    // Application requests every 0.5 s for 3.5 s: not idle.
    for _ in 0..7 {
        assert_eq!(hit(&apache, "").1, first);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!logged_for_pid(&apache.error_log(), first, "retiring ("), "{}", apache.error_log());
    // Only health checks from now on: recycled as if idle.
    let done = std::sync::atomic::AtomicBool::new(false);
    let pinged = std::thread::scope(|s| {
        let pinger = s.spawn(|| {
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) && n < 20 {
                let _ = apache.get("/ping");
                n += 1;
                std::thread::sleep(Duration::from_millis(300));
            }
            n
        });
        let ok = common::wait_until(Duration::from_secs(5), || {
            logged_for_pid(&apache.error_log(), first, "retiring (inactivity-timeout reached)")
        });
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let pings = pinger.join().unwrap_or(0);
        eprintln!("{pings} health checks; recycled: {ok}");
        ok
    });
    assert!(pinged, "health checks kept the process alive:\n{}", apache.error_log());
}
