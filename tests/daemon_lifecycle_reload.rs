//! Daemon lifecycle (issue 6), part 1: touch-to-reload and supervision.
//!
//! - Rewriting the WSGI script (new version, later mtime) makes the next
//!   request run the new code in a new process, with processes=1 and 2;
//!   the old process exits within shutdown-timeout and runs its atexit
//!   handlers. The reload pause (rewrite to first new answer) is printed.
//! - The info log lines of a group's life: "Starting process", "retiring
//!   (...)", "has died ... to replace it"; a worker killed with SIGKILL is
//!   replaced and the group serves again within 2 s.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::{Duration, Instant};

use common::*;
use lifecycle::{deploy, hit, logged_for_pid, stop_and_check, wait_gone, wait_workers, workers};

const SHUTDOWN: Duration = Duration::from_secs(3);

/// Rewrites the script to `version` and times the first request after it:
/// (pid that answered, pause). Panics unless that request ran `version`.
fn reload(apache: &Apache, version: &str) -> (i32, Duration) {
    deploy(apache, version);
    let start = Instant::now();
    let (got, pid) = hit(apache, "");
    let pause = start.elapsed();
    assert_eq!(got, version, "first request after rewriting the script ran the old code\n{}", apache.error_log());
    (pid, pause)
}

#[test]
fn touch_reload_with_one_process() {
    let group = "reload1";
    let apache = lifecycle::server(group, "processes=1 threads=4 shutdown-timeout=3");
    let first = wait_workers(&apache, group, 1, Duration::from_secs(10));
    assert_eq!(first.len(), 1, "one worker expected: {first:?}\n{}", apache.error_log());
    let (v, mut old) = hit(&apache, "");
    assert_eq!(v, "v1");
    assert_eq!(first, vec![old], "the answer did not come from the group's worker");
    assert_eq!(hit(&apache, "").1, old, "a second request was served by another process");

    let mut seen = vec![old];
    let mut pauses = Vec::new();
    for version in ["v2", "v3", "v4"] {
        let mark = apache.log_mark();
        let (new, pause) = reload(&apache, version);
        pauses.push(pause);
        seen.push(new);
        assert_ne!(new, old, "{version}: the new code ran in the old process {old}");
        let gone = wait_gone(old, SHUTDOWN);
        assert!(gone.is_some(), "{version}: old process {old} still alive {SHUTDOWN:?} after the reload");
        apache.wait_for_log_since(mark, &format!("Starting process '{group}' (pid {new})"), Duration::from_secs(2));
        let log = apache.log_since(mark);
        assert!(
            logged_for_pid(&log, old, "retiring (script file changed)"),
            "{version}: no \"retiring (script file changed)\" line for pid {old}:\n{log}"
        );
        assert!(
            log.contains(&format!("Starting process '{group}' (pid {new})")),
            "{version}: no \"Starting process\" line for the replacement {new}:\n{log}"
        );
        // The old process ended gracefully: its atexit handler ran.
        let atexit = apache.root().join(lifecycle::OUT).join(format!("atexit-{old}"));
        assert!(
            common::wait_until(Duration::from_secs(2), || atexit.exists()),
            "{version}: the old process {old} did not run its atexit handler\n{log}"
        );
        // Later requests stay in the new process, with the new code.
        for _ in 0..3 {
            assert_eq!(hit(&apache, ""), (version.to_string(), new));
        }
        assert_eq!(workers(&apache, group), vec![new]);
        old = new;
    }
    for (version, pause) in ["v2", "v3", "v4"].iter().zip(&pauses) {
        eprintln!("reload pause, processes=1, {version}: {} ms", pause.as_millis());
    }
    let log = apache.error_log();
    assert!(!log.contains(":error]"), "errors in the log:\n{log}");
    apache.assert_no_crash();
    stop_and_check(apache, &seen);
}

/// With processes=2 each process has loaded the old code; every request
/// after the rewrite runs the new code, and both old processes go.
#[test]
fn touch_reload_with_two_processes() {
    let group = "reload2";
    // threads=1: two concurrent requests are served by both processes.
    let apache = lifecycle::server(group, "processes=2 threads=1 shutdown-timeout=3");
    let old = wait_workers(&apache, group, 2, Duration::from_secs(10));
    assert_eq!(old.len(), 2, "two workers expected: {old:?}\n{}", apache.error_log());
    let pair = |apache: &Apache, path: &str| {
        std::thread::scope(|s| {
            let a = s.spawn(|| hit(apache, path));
            let b = s.spawn(|| hit(apache, path));
            [a.join().unwrap(), b.join().unwrap()]
        })
    };
    // Load the v1 code in both processes.
    let warm = pair(&apache, "/sleep?0.5");
    let mut warm_pids: Vec<i32> = warm
        .iter()
        .map(|(v, p)| {
            assert_eq!(v, "v1");
            *p
        })
        .collect();
    warm_pids.sort();
    assert_eq!(warm_pids, old, "two concurrent requests were not served by both processes");

    let mark = apache.log_mark();
    let (first, pause) = reload(&apache, "v2");
    assert!(!old.contains(&first), "the new code ran in an old process {first} (old: {old:?})");
    // The process that turned the request away retires at once.
    let log = apache.log_since(mark);
    let retired: Vec<i32> =
        old.iter().copied().filter(|&p| logged_for_pid(&log, p, "retiring (script file changed)")).collect();
    assert!(!retired.is_empty(), "no old process logged \"retiring (script file changed)\":\n{log}");
    for &p in &retired {
        assert!(wait_gone(p, SHUTDOWN).is_some(), "retired process {p} still alive after {SHUTDOWN:?}");
    }
    // Keep sending pairs of requests until no old process is left; each
    // must run the new code.
    let mut seen = old.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while old.iter().any(|&p| process::alive(p)) && Instant::now() < deadline {
        for (v, p) in pair(&apache, "/sleep?0.1") {
            assert_eq!(v, "v2", "pid {p} ran the old code after the rewrite\n{}", apache.log_since(mark));
            assert!(!old.contains(&p), "old process {p} served a request after the rewrite");
            seen.push(p);
        }
    }
    let left: Vec<i32> = old.iter().copied().filter(|&p| process::alive(p)).collect();
    assert!(left.is_empty(), "old processes {left:?} still alive 10 s after the rewrite\n{}", apache.log_since(mark));
    let log = apache.log_since(mark);
    for &p in &old {
        assert!(
            logged_for_pid(&log, p, "retiring (script file changed)"),
            "old process {p} exited without \"retiring (script file changed)\":\n{log}"
        );
    }
    let now = wait_workers(&apache, group, 2, Duration::from_secs(5));
    assert_eq!(now.len(), 2, "the group should be back to two workers: {now:?}\n{log}");
    eprintln!("reload pause, processes=2: {} ms", pause.as_millis());
    let log = apache.error_log();
    assert!(!log.contains(":error]"), "errors in the log:\n{log}");
    apache.assert_no_crash();
    seen.extend(now);
    stop_and_check(apache, &seen);
}

/// The info lines of a group's life, and a SIGKILLed worker replaced
/// at once by the group's manager.
#[test]
fn start_retire_and_death_are_logged_and_a_killed_worker_is_replaced() {
    let group = "superv";
    // threads=1: two concurrent requests are served by both processes.
    let apache = lifecycle::server(group, "processes=2 threads=1 maximum-requests=3");
    let start = wait_workers(&apache, group, 2, Duration::from_secs(10));
    assert_eq!(start.len(), 2, "two workers expected: {start:?}\n{}", apache.error_log());
    let manager = lifecycle::manager(&apache, group).expect("a manager process");
    for p in &start {
        let text = format!("Starting process '{group}' (pid {p}).");
        // The manager logs after fork() returns, maybe after the child shows.
        apache.wait_for_log(&text, Duration::from_secs(2));
        let log = apache.error_log();
        let line = log.lines().find(|l| l.contains(&text)).unwrap_or_else(|| panic!("no {text:?}:\n{log}"));
        assert!(line.contains(":info]"), "not an info line: {line}");
        assert_eq!(process::stat(*p).unwrap().ppid, manager, "worker {p} is not a child of the manager");
    }

    // Both have started (preloaded the script): a process killed during
    // start-up is started again only after a delay.
    for p in &start {
        let loaded = format!("mod_wsgi (pid={p}, process='{group}'");
        assert!(apache.wait_for_log(&loaded, Duration::from_secs(5)), "{p} never loaded:\n{}", apache.error_log());
    }
    std::thread::sleep(Duration::from_millis(200));
    // SIGKILL one worker; the manager logs its death and replaces it.
    let victim = start[0];
    let survivor = start[1];
    let mark = apache.log_mark();
    process::kill(victim, libc::SIGKILL);
    let killed_at = Instant::now();
    assert!(wait_gone(victim, Duration::from_secs(2)).is_some(), "SIGKILLed worker {victim} still alive");
    let mut replacement = None;
    common::wait_until(Duration::from_secs(2), || {
        replacement = workers(&apache, group).into_iter().find(|p| !start.contains(p));
        replacement.is_some()
    });
    let replacement = replacement.unwrap_or_else(|| {
        panic!(
            "no replacement for the killed worker within 2 s: {:?}\n{}",
            workers(&apache, group),
            apache.log_since(mark)
        )
    });
    // Two concurrent requests need both processes: the survivor and the
    // replacement, answering within 2 s of the kill.
    let served: Vec<i32> = std::thread::scope(|s| {
        let a = s.spawn(|| hit(&apache, "/sleep?0.2"));
        let b = s.spawn(|| hit(&apache, "/sleep?0.2"));
        vec![a.join().unwrap().1, b.join().unwrap().1]
    });
    let after = killed_at.elapsed();
    let mut sorted = served.clone();
    sorted.sort();
    let mut want = vec![survivor, replacement];
    want.sort();
    assert_eq!(sorted, want, "two concurrent requests should be served by the survivor and the replacement");
    assert!(after < Duration::from_secs(2), "the replacement served {after:?} after the kill (want < 2 s)");
    eprintln!("SIGKILL to both processes serving again: {} ms", after.as_millis());
    let started = format!("Starting process '{group}' (pid {replacement}).");
    apache.wait_for_log_since(mark, &started, Duration::from_secs(2));
    let log = apache.log_since(mark);
    let died = format!(
        "Process '{group}' (pid {victim}) has died (killed by signal 9 (SIGKILL)); started pid {replacement} to replace it."
    );
    let line = log.lines().find(|l| l.contains(&died)).unwrap_or_else(|| panic!("no {died:?}:\n{log}"));
    // An unexpected death is an error, whatever LogLevel.
    assert!(line.contains(":error]"), "not an error line: {line}");
    assert!(log.contains(&started), "no {started:?}:\n{log}");

    // maximum-requests=3: a retirement names its reason and group at info.
    let mark = apache.log_mark();
    let mut seen = vec![victim, survivor, replacement];
    for _ in 0..8 {
        seen.push(hit(&apache, "").1);
    }
    assert!(
        apache.wait_for_log_since(mark, "retiring (maximum requests reached)", Duration::from_secs(2)),
        "no retirement after 8 more requests with maximum-requests=3:\n{}",
        apache.log_since(mark)
    );
    let log = apache.log_since(mark);
    for line in lifecycle::lines_with(&log, "retiring (") {
        assert!(line.contains(":info]"), "not an info line: {line}");
        assert!(line.contains(&format!("Process '{group}'")), "the group is not named: {line}");
    }
    // A retirement is not a death: no "has died" for retired processes.
    assert!(!log.contains("has died"), "a retired process was reported dead:\n{log}");
    let log = apache.error_log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(":error]") && !l.contains("has died")).collect();
    assert!(errors.is_empty(), "errors in the log besides the death:\n{log}");
    apache.assert_no_crash();
    seen.extend(workers(&apache, group));
    stop_and_check(apache, &seen);
}
