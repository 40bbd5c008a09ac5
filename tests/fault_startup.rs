//! Faults of the reliability issue around daemon start-up:
//! - 32 concurrent first requests to a freshly started group: no process
//!   is retired, exactly `processes` pids answer;
//! - a group whose processes cannot start (a python-home that does not
//!   exist, an import script that exits): few start attempts, requests
//!   answered 503 within connect-timeout with the cause in the log, a quick
//!   stop, and service once the cause is fixed;
//! - a daemon killed by a signal is logged with the signal and replaced.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;

const APP: &str = include_str!("apps/threading_app.wsgi");

fn slow_import_app(seconds: f64) -> String {
    APP.replace("@MODE@", "import").replace("@OUT@", "/nonexistent").replace("@IMPORT_SECONDS@", &seconds.to_string())
}

#[test]
fn concurrent_first_requests_do_not_retire_processes() {
    let apache = ApacheBuilder::new()
        .file("app/app.wsgi", slow_import_app(0.5))
        .conf(
            "WSGIDaemonProcess cold processes=2 threads=15 display-name=%{GROUP}\n\
             WSGIProcessGroup cold\n\
             WSGIApplicationGroup %{GLOBAL}\n\
             WSGIScriptAlias /app {root}/app/app.wsgi",
        )
        .start();
    let started = lifecycle::wait_workers(&apache, "cold", 2, Duration::from_secs(10));
    let answers: Vec<Result<Response, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|_| s.spawn(|| apache.try_request("GET", "/app", &[], b"").map_err(|e| e.to_string())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("client panicked".into()))).collect()
    });
    let log = apache.error_log();
    let pids: BTreeSet<i32> =
        answers.iter().filter_map(|a| a.as_ref().ok()).filter_map(|r| r.text().trim().parse().ok()).collect();
    let failed: Vec<String> = answers
        .iter()
        .filter_map(|a| match a {
            Ok(r) if r.status == 200 => None,
            Ok(r) => Some(format!("{} {}", r.status, r.text())),
            Err(e) => Some(e.clone()),
        })
        .collect();
    let retiring = log.matches("retiring").count();
    eprintln!("32 first requests: {} failed, pids {pids:?}, {retiring} retiring lines", failed.len());
    assert!(failed.is_empty(), "{failed:#?}\n{log}");
    assert_eq!(retiring, 0, "processes retired though no file changed:\n{log}");
    assert!(pids.iter().all(|p| started.contains(p)), "answered by {pids:?}, started {started:?}:\n{log}");
    assert_eq!(lifecycle::workers(&apache, "cold"), started, "{log}");
}

/// Counts "Starting process 'NAME'" lines.
fn start_attempts(apache: &Apache, group: &str) -> usize {
    apache.error_log().matches(&format!("Starting process '{group}'")).count()
}

/// The group cannot start; requests get a 503 naming `cause` within
/// connect-timeout (3 s), and few attempts are made in 10 s.
fn check_cannot_start(apache: &Apache, group: &str, path: &str, cause: &str) {
    let begun = Instant::now();
    assert!(
        apache.wait_for_log("exited during start-up", Duration::from_secs(10)),
        "no start-up failure logged:\n{}",
        apache.error_log()
    );
    let mark = apache.log_mark();
    let asked = Instant::now();
    let resp = apache.get(path);
    let took = asked.elapsed();
    assert_eq!(resp.status, 503, "{resp:?}\n{}", apache.error_log());
    assert!(took < Duration::from_secs(4), "503 after {took:?}, connect-timeout is 3 s");
    let said = apache.log_since(mark);
    assert!(
        said.contains("has no process to take the request") && said.contains(cause),
        "the 503's log line does not name the cause ({cause}):\n{said}"
    );
    std::thread::sleep(Duration::from_secs(10).saturating_sub(begun.elapsed()));
    let attempts = start_attempts(apache, group);
    eprintln!("{group}: 503 after {took:.2?}; {attempts} start attempts in {:.1?}", begun.elapsed());
    assert!(attempts < 10, "{attempts} start attempts in 10 s:\n{}", apache.error_log());
}

fn stop_within(apache: Apache, limit: Duration) {
    let started = Instant::now();
    let stopped = daemon::stop(&apache);
    let took = started.elapsed();
    eprintln!("apache2 -k stop took {took:.2?}");
    assert!(stopped && took < limit, "stop took {took:?}:\n{}", apache.error_log());
}

#[test]
fn a_missing_python_home_is_retried_slowly_answered_503_and_recovers() {
    let builder = ApacheBuilder::new().file("app/hello.wsgi", apps::HELLO_WORLD);
    let home = builder.root().join("pyhome");
    let apache = builder
        .conf(
            "WSGIDaemonProcess nohome python-home={root}/pyhome connect-timeout=3 display-name=%{GROUP}\n\
             WSGIScriptAlias /hello {root}/app/hello.wsgi process-group=nohome",
        )
        .start();
    check_cannot_start(&apache, "nohome", "/hello", "pyhome");
    // The cause fixed (the home now exists) and a graceful restart: it serves.
    std::os::unix::fs::symlink("/usr", &home).unwrap();
    apache.restart_graceful();
    let mut last = None;
    let served = wait_until(Duration::from_secs(10), || {
        let r = apache.get("/hello");
        let ok = r.status == 200;
        last = Some(r);
        ok
    });
    assert!(served, "not serving after the fix: {last:?}\n{}", apache.error_log());
    stop_within(apache, Duration::from_secs(2));
}

#[test]
fn an_import_script_that_exits_is_retried_slowly_and_stop_is_quick() {
    let apache = ApacheBuilder::new()
        .file("app/hello.wsgi", apps::HELLO_WORLD)
        .file("app/boom.py", "import os\nos._exit(3)\n")
        .conf(
            "WSGIDaemonProcess boom connect-timeout=3 display-name=%{GROUP}\n\
             WSGIImportScript {root}/app/boom.py process-group=boom application-group=%{GLOBAL}\n\
             WSGIScriptAlias /hello {root}/app/hello.wsgi process-group=boom",
        )
        .start();
    check_cannot_start(&apache, "boom", "/hello", "exit code 3");
    stop_within(apache, Duration::from_secs(2));
}

#[test]
fn a_killed_daemon_is_logged_with_its_signal_and_replaced() {
    let apache = ApacheBuilder::new()
        .file("app/hello.wsgi", apps::HELLO_WORLD)
        .conf(
            "WSGIDaemonProcess killed display-name=%{GROUP}\n\
             WSGIScriptAlias /hello {root}/app/hello.wsgi process-group=killed",
        )
        .start();
    // Serving first: a process killed during start-up is retried later.
    let resp = apache.get("/hello");
    assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
    let old = lifecycle::workers(&apache, "killed");
    assert_eq!(old.len(), 1, "{}", apache.error_log());
    let mark = apache.log_mark();
    process::kill(old[0], libc::SIGKILL);
    let killed = Instant::now();
    let mut new = Vec::new();
    wait_until(Duration::from_secs(5), || {
        new = lifecycle::workers(&apache, "killed");
        new.len() == 1 && new != old
    });
    let took = killed.elapsed();
    let logged = apache.wait_for_log_since(mark, "killed by signal 9 (SIGKILL)", Duration::from_secs(5));
    eprintln!("replacement {new:?} for {old:?} after {took:.2?}");
    assert!(logged, "the death is not logged with its signal:\n{}", apache.log_since(mark));
    assert!(new.len() == 1 && new != old && took < Duration::from_secs(1), "{new:?}:\n{}", apache.log_since(mark));
    let said = apache.log_since(mark);
    assert!(said.contains(&format!("started pid {} to replace it", new[0])), "{said}");
    let resp = apache.get("/hello");
    assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
}
