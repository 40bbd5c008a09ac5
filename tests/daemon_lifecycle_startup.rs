//! Daemon recycling that is not about requests: `startup-timeout` (a
//! process whose application never loads is replaced) and
//! `eviction-timeout` (SIGUSR1, mod_wsgi's graceful restart signal, and
//! SIGUSR2 retire a process, which gets its own time to finish its requests
//! while its replacement starts), and `graceful-timeout`'s default.

mod common;

use std::time::{Duration, Instant};

use common::daemon::wait_for_daemons;
use common::*;

const PID_APP: &str = include_str!("apps/daemon_lifecycle_startup/pid.py");

#[test]
fn startup_timeout_replaces_a_process_whose_application_never_loads() {
    let apache = ApacheBuilder::new()
        .file("scripts/broken.wsgi", "import no_such_module_for_startup_timeout\n")
        .conf(
            "WSGIDaemonProcess startup processes=1 threads=1 startup-timeout=1 display-name=%{GROUP}
WSGIScriptAlias /broken {root}/scripts/broken.wsgi process-group=startup application-group=%{GLOBAL}",
        )
        .start();
    let first = wait_for_daemons(&apache, "(wsgi:startup)", 1, Duration::from_secs(10));
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        apache
            .wait_for_log("retiring (startup-timeout expired before the application loaded)", Duration::from_secs(10)),
        "{}",
        apache.error_log()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = wait_for_daemons(&apache, "(wsgi:startup)", 1, Duration::from_secs(5));
        if now.len() == 1 && now[0] != first[0] {
            break;
        }
        assert!(Instant::now() < deadline, "no replacement for {first:?}: {now:?}\n{}", apache.error_log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_loaded_application_is_not_recycled_by_startup_timeout() {
    let apache = ApacheBuilder::new()
        .file("scripts/pid.wsgi", PID_APP)
        .conf(
            "WSGIDaemonProcess loaded processes=1 threads=1 startup-timeout=1
WSGIScriptAlias /pid {root}/scripts/pid.wsgi process-group=loaded",
        )
        .start();
    let first = apache.get("/pid").text();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(apache.get("/pid").text(), first, "the process was replaced:\n{}", apache.error_log());
    assert!(!apache.error_log().contains("startup-timeout expired"), "{}", apache.error_log());
}

fn signal_evicts_a_process_after_its_running_request(sig: i32, name: &str) {
    let apache = ApacheBuilder::new()
        .file("scripts/pid.wsgi", PID_APP)
        .conf(
            "WSGIDaemonProcess evict processes=1 threads=2 eviction-timeout=5 display-name=%{GROUP}
WSGIScriptAlias /pid {root}/scripts/pid.wsgi process-group=evict",
        )
        .start();
    let old: i32 = apache.get("/pid").text().parse().expect("pid");
    let slow = {
        let port = apache.port();
        std::thread::spawn(move || {
            let mut conn = Conn::open(port).expect("connect");
            conn.get("/pid?1.5")
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    common::process::kill(old, sig);
    // The running request finishes in the old process, within eviction-timeout.
    let resp = slow.join().expect("slow request");
    assert_eq!((resp.status, resp.text()), (200, old.to_string()));
    let new: i32 = apache.get("/pid").text().parse().expect("pid");
    assert_ne!(new, old, "{name} did not replace the process");
    if apache.module() == Module::Ours {
        let line = format!("retiring (graceful restart requested ({name}))");
        assert!(apache.wait_for_log(&line, Duration::from_secs(5)), "{}", apache.error_log());
    }
}

#[test]
fn sigusr1_evicts_a_process_after_its_running_request() {
    signal_evicts_a_process_after_its_running_request(libc::SIGUSR1, "SIGUSR1");
}

#[test]
fn sigusr2_evicts_a_process_after_its_running_request() {
    signal_evicts_a_process_after_its_running_request(libc::SIGUSR2, "SIGUSR2");
}

/// maximum-requests retires the process while a request runs longer than
/// shutdown-timeout: graceful-timeout's default (15 s) lets it finish.
#[test]
fn graceful_timeout_lets_running_requests_finish_by_default() {
    let apache = ApacheBuilder::new()
        .file("scripts/pid.wsgi", PID_APP)
        .conf(
            "WSGIDaemonProcess graceful processes=1 threads=2 maximum-requests=2 shutdown-timeout=1 display-name=%{GROUP}
WSGIScriptAlias /pid {root}/scripts/pid.wsgi process-group=graceful",
        )
        .start();
    let old: i32 = apache.get("/pid").text().parse().expect("pid");
    let slow = {
        let port = apache.port();
        std::thread::spawn(move || Conn::open(port).expect("connect").get("/pid?3"))
    };
    std::thread::sleep(Duration::from_millis(300));
    // The second request reaches maximum-requests: the process retires.
    let mark = apache.log_mark();
    let second = apache.get("/pid");
    apache.assert_status(&second, 200, mark);
    let resp = slow.join().expect("slow request");
    assert_eq!((resp.status, resp.text()), (200, old.to_string()), "{}", apache.error_log());
}
