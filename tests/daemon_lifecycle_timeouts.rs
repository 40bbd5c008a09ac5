//! Daemon lifecycle (issue 6), part 3: the timeouts that cut requests off.
//!
//! - request-timeout: a request running too long makes its process retire;
//!   the client gets 504 once the process is gone, and the log names the
//!   limit; the group's other process keeps serving meanwhile.
//! - deadlock-timeout: an application holding the GIL in C (`ctypes.PyDLL`
//!   calls keep it) gets its process killed, the client a 502, and a new
//!   process serves.
//! - queue-timeout: a request that waited longer than that for a daemon
//!   thread gets 504 with "Queue timeout expired".

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lifecycle::{hit, logged_for_pid, stop_and_check, wait_gone, wait_workers, workers};

#[test]
fn request_timeout_gives_504_and_the_other_process_keeps_serving() {
    let group = "reqtimeout";
    // request-timeout 2 s, graceful-timeout 0 (default), shutdown-timeout 2 s:
    // the process retires after 2 s, and exits at most 2 s later.
    let (request_timeout, graceful, shutdown) = (2, 0, 2);
    let apache = lifecycle::server(
        group,
        &format!(
            "processes=2 threads=1 request-timeout={request_timeout} graceful-timeout={graceful} shutdown-timeout={shutdown}"
        ),
    );
    let start = wait_workers(&apache, group, 2, Duration::from_secs(10));
    assert_eq!(start.len(), 2, "two workers expected: {start:?}\n{}", apache.error_log());
    let mark = apache.log_mark();
    let stop = AtomicBool::new(false);
    let (slow, slow_took, others) = std::thread::scope(|s| {
        let others = s.spawn(|| {
            let mut answers = Vec::new();
            std::thread::sleep(Duration::from_millis(300));
            while !stop.load(Ordering::SeqCst) {
                let resp = apache.get(lifecycle::URL);
                answers.push((resp.status, lifecycle::parse(&resp).map(|a| a.1)));
                std::thread::sleep(Duration::from_millis(100));
            }
            answers
        });
        let t = Instant::now();
        let slow = apache.get(&format!("{}/sleep?10", lifecycle::URL));
        let took = t.elapsed();
        stop.store(true, Ordering::SeqCst);
        (slow, took, others.join().unwrap())
    });
    let log = apache.log_since(mark);
    assert_eq!(slow.status, 504, "the request over request-timeout: {slow:?}\n{log}");
    let bound = Duration::from_secs(request_timeout + graceful + shutdown) + Duration::from_millis(1500);
    assert!(
        slow_took >= Duration::from_secs(request_timeout) && slow_took <= bound,
        "504 after {slow_took:?}; want between {request_timeout} s and {bound:?}\n{log}"
    );
    eprintln!("request-timeout=2: 504 after {} ms", slow_took.as_millis());
    let retired: Vec<i32> =
        start.iter().copied().filter(|&p| logged_for_pid(&log, p, "retiring (request-timeout")).collect();
    assert_eq!(retired.len(), 1, "exactly one process should retire for request-timeout:\n{log}");
    assert!(
        log.contains(&format!(
            "Daemon process '{group}' stopped this request after its request-timeout of {request_timeout} seconds"
        )),
        "no line naming request-timeout for the cut-off request:\n{log}"
    );
    assert!(wait_gone(retired[0], Duration::from_secs(2)).is_some(), "{} still alive", retired[0]);
    // Every other request during those seconds was served.
    assert!(others.len() >= 10, "too few concurrent requests: {others:?}");
    let failed: Vec<_> = others.iter().filter(|(s, _)| *s != 200).collect();
    assert!(failed.is_empty(), "requests failed while a process timed out: {failed:?}\n{log}");
    assert!(others.iter().all(|(_, p)| *p != Some(retired[0])), "the stuck process served: {others:?}");
    // And after: a replacement took the retired process's place.
    let now = wait_workers(&apache, group, 2, Duration::from_secs(5));
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!now.contains(&retired[0]));
    assert_eq!(hit(&apache, "").0, "v1");
    apache.assert_no_crash();
    let mut seen = start.clone();
    seen.extend(now);
    stop_and_check(apache, &seen);
}

#[test]
fn deadlock_timeout_kills_a_process_holding_the_gil() {
    let group = "deadlock";
    let apache = lifecycle::server(group, "processes=1 threads=2 deadlock-timeout=2");
    let start = wait_workers(&apache, group, 1, Duration::from_secs(10));
    assert_eq!(start.len(), 1, "one worker expected: {start:?}\n{}", apache.error_log());
    let first = start[0];
    // Ordinary requests that sleep with the GIL released are no deadlock.
    assert_eq!(hit(&apache, "/sleep?3").1, first, "a sleeping request is not a deadlock");
    assert!(process::alive(first));
    let mark = apache.log_mark();
    let t = Instant::now();
    let resp = apache.get(&format!("{}/gil?10", lifecycle::URL));
    let took = t.elapsed();
    let log = apache.log_since(mark);
    assert_eq!(resp.status, 502, "{resp:?}\n{log}");
    assert!(took < Duration::from_secs(6), "502 only after {took:?} (deadlock-timeout=2)\n{log}");
    eprintln!("deadlock-timeout=2: 502 after {} ms", took.as_millis());
    let line = log
        .lines()
        .find(|l| l.contains("deadlock-timeout expired"))
        .unwrap_or_else(|| panic!("no \"deadlock-timeout expired\" line:\n{log}"));
    assert!(line.contains(&format!("pid={first})")) && line.contains(&format!("'{group}'")), "{line}");
    assert!(wait_gone(first, Duration::from_secs(2)).is_some(), "{first} still alive");
    let (v, second) = hit(&apache, "");
    assert_eq!(v, "v1");
    assert_ne!(second, first);
    apache.assert_no_crash();
    stop_and_check(apache, &[first, second]);
}

#[test]
fn queue_timeout_gives_504_to_a_request_that_waited_too_long() {
    let group = "queuetimeout";
    let apache = lifecycle::server(group, "processes=1 threads=1 queue-timeout=1");
    let start = wait_workers(&apache, group, 1, Duration::from_secs(10));
    assert_eq!(start.len(), 1, "one worker expected: {start:?}\n{}", apache.error_log());
    assert_eq!(hit(&apache, "").1, start[0]);
    let mark = apache.log_mark();
    let (slow, queued, queued_took) = std::thread::scope(|s| {
        let slow = s.spawn(|| apache.get(&format!("{}/sleep?3", lifecycle::URL)));
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        let queued = apache.get(lifecycle::URL);
        (slow.join().unwrap(), queued, t.elapsed())
    });
    let log = apache.log_since(mark);
    assert_eq!(slow.status, 200, "the request holding the thread: {slow:?}\n{log}");
    assert_eq!(queued.status, 504, "the request queued ~2.7 s behind it: {queued:?}\n{log}");
    assert!(queued_took >= Duration::from_secs(1), "504 after {queued_took:?}");
    let line = log
        .lines()
        .find(|l| l.contains("Queue timeout expired"))
        .unwrap_or_else(|| panic!("no \"Queue timeout expired\" line:\n{log}"));
    assert!(line.contains(&format!("'{group}'")), "the group is not named: {line}");
    // A request that does not wait is served, by the same process.
    assert_eq!(hit(&apache, "").1, start[0]);
    // A request that waited less than queue-timeout is served too.
    let (slow, quick) = std::thread::scope(|s| {
        let slow = s.spawn(|| apache.get(&format!("{}/sleep?0.5", lifecycle::URL)));
        std::thread::sleep(Duration::from_millis(100));
        let quick = apache.get(lifecycle::URL);
        (slow.join().unwrap(), quick)
    });
    assert_eq!((slow.status, quick.status), (200, 200), "{slow:?}\n{quick:?}\n{}", apache.log_since(mark));
    apache.assert_no_crash();
    let mut seen = start.clone();
    seen.extend(workers(&apache, group));
    stop_and_check(apache, &seen);
}
