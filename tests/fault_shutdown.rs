//! Faults of the reliability issue around stopping and reloading, with
//! applications that do what real ones do at import: import `threading`
//! (Flask does), start a non-daemon thread, register an exit function.
//!
//! - a touch of the script under load in daemon mode (processes=1 and 2):
//!   no failed request, the old processes gone, nothing left after stop;
//! - `apache2 -k graceful` under load in embedded mode: no failed request,
//!   the old Apache children gone within 5 s;
//! - `apache2 -k stop` with nothing running finishes within 2 s.
//!
//! Each case prints its figures (requests, failures, seconds).

mod common;
mod faults;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::fs;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use faults::{Load, Sample};

/// The cases load every CPU; one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const APP: &str = include_str!("apps/threading_app.wsgi");
const SCRIPT: &str = "app/app.wsgi";
const CLIENTS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq)]
enum AppMode {
    Import,
    Thread,
    Atexit,
}

impl AppMode {
    fn name(self) -> &'static str {
        match self {
            AppMode::Import => "import",
            AppMode::Thread => "thread",
            AppMode::Atexit => "atexit",
        }
    }
}

fn app(mode: AppMode, out: &std::path::Path, import_seconds: f64) -> String {
    APP.replace("@MODE@", mode.name())
        .replace("@OUT@", &out.display().to_string())
        .replace("@IMPORT_SECONDS@", &import_seconds.to_string())
}

fn builder(mode: AppMode) -> ApacheBuilder {
    let b = ApacheBuilder::new().writable_dir("out");
    let script = app(mode, &b.root().join("out"), 0.0);
    b.file(SCRIPT, script)
}

/// Moves the script's mtime a second ahead, as `touch` after a deploy.
fn touch(apache: &Apache) {
    let path = apache.root().join(SCRIPT);
    let later = SystemTime::now() + Duration::from_secs(1);
    fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
}

/// What a load saw: (answers, failures described, pids that answered).
fn outcome(samples: &[Sample]) -> (usize, Vec<String>, std::collections::BTreeSet<i32>) {
    let failures = samples.iter().filter(|s| !s.ok()).map(Sample::describe).collect();
    (samples.len(), failures, samples.iter().filter_map(Sample::pid).collect())
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn atexit_ran(apache: &Apache, pid: i32) -> bool {
    apache.root().join(format!("out/atexit-{pid}")).exists()
}

fn touch_under_load(mode: AppMode, processes: u32) {
    let _serial = lock();
    let group = "touched";
    let apache = builder(mode)
        .conf(&format!(
            // Directives, not WSGIScriptAlias options (which would preload
            // the script on the process's main thread at start).
            "WSGIDaemonProcess {group} processes={processes} threads=5 display-name=%{{GROUP}}\n\
             WSGIProcessGroup {group}\n\
             WSGIApplicationGroup %{{GLOBAL}}\n\
             WSGIScriptAlias /app {{root}}/{SCRIPT}"
        ))
        .start();
    let old = lifecycle::wait_workers(&apache, group, processes as usize, Duration::from_secs(10));
    assert_eq!(old.len(), processes as usize, "{}", apache.error_log());
    let load = Load::start_retrying(apache.port(), "/app", CLIENTS, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    let touched = Instant::now();
    touch(&apache);
    // Every old process retires at its next request and must end.
    let gone = wait_until(Duration::from_secs(10), || old.iter().all(|&p| !process::alive(p)));
    let took = touched.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let (answered, failures, pids) = outcome(&load.finish());
    eprintln!(
        "touch, {mode:?}, processes={processes}: {answered} answered, {} failed, old processes gone after {took:.2?}, pids {pids:?}",
        failures.len()
    );
    let log = apache.error_log();
    assert!(gone, "old processes {old:?} still running {took:?} after the touch:\n{log}");
    assert!(failures.is_empty(), "failed requests: {failures:#?}\n{log}");
    assert!(answered > 50, "too few answers: {answered}");
    if mode == AppMode::Atexit {
        for &p in &old {
            assert!(atexit_ran(&apache, p), "the exit function of {p} did not run:\n{log}");
        }
    }
    if mode == AppMode::Thread {
        assert!(log.contains("did not finish shutting down"), "no line about the thread that never ends:\n{log}");
    } else {
        assert!(!log.contains("did not finish shutting down"), "{log}");
    }
    let now = lifecycle::workers(&apache, group);
    assert_eq!(now.len(), processes as usize, "workers after the touch: {now:?}\n{log}");
    stop_quickly(apache, &now, stop_limit(mode, true));
}

/// How long `apache2 -k stop` may take: 2 s, unless a non-daemon thread
/// never ends, which Python waits for at exit: up to shutdown-timeout
/// (5 s) in a daemon process, 3 s in an Apache child.
fn stop_limit(mode: AppMode, daemon: bool) -> Duration {
    match (mode, daemon) {
        (AppMode::Thread, true) => Duration::from_secs(6),
        (AppMode::Thread, false) => Duration::from_secs(4),
        _ => Duration::from_secs(2),
    }
}

/// `apache2 -k stop` within `limit`, and nothing left behind.
fn stop_quickly(apache: Apache, seen: &[i32], limit: Duration) {
    let mut pids = apache.pids();
    pids.extend(seen);
    for p in apache.child_pids() {
        pids.extend(process::all().into_iter().filter(|s| s.ppid == p).map(|s| s.pid));
    }
    let started = Instant::now();
    let stopped = daemon::stop(&apache);
    let took = started.elapsed();
    let left: Vec<i32> = pids.iter().copied().filter(|&p| process::alive(p)).collect();
    eprintln!("apache2 -k stop took {took:.2?}");
    let log = apache.error_log();
    assert!(stopped && took < limit, "stop took {took:?}, more than {limit:?}:\n{log}");
    assert!(left.is_empty(), "left after stop: {left:?}\n{log}");
    assert!(!log.contains("did not stop in time"), "{log}");
}

#[test]
fn touch_under_load_with_threading_imported_one_process() {
    touch_under_load(AppMode::Import, 1);
}

#[test]
fn touch_under_load_with_threading_imported_two_processes() {
    touch_under_load(AppMode::Import, 2);
}

#[test]
fn touch_under_load_with_a_non_daemon_thread() {
    touch_under_load(AppMode::Thread, 2);
}

#[test]
fn touch_under_load_with_an_exit_function() {
    touch_under_load(AppMode::Atexit, 1);
}

fn graceful_under_load(mode: AppMode, group: &str) {
    let _serial = lock();
    let apache = builder(mode)
        .embedded_only()
        .conf(&format!("WSGIScriptAlias /app {{root}}/{SCRIPT} application-group={group}"))
        .start();
    // Every child runs the application once before the restart.
    let load = Load::start_retrying(apache.port(), "/app", CLIENTS, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    let old = apache.child_pids();
    let restarted = Instant::now();
    apache.restart_graceful();
    let gone = wait_until(Duration::from_secs(5), || old.iter().all(|&p| !process::alive(p)));
    let took = restarted.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let (answered, failures, _) = outcome(&load.finish());
    eprintln!(
        "graceful, {mode:?}, group {group:?}: {answered} answered, {} failed, old children gone after {took:.2?}",
        failures.len()
    );
    let log = apache.error_log();
    let left: Vec<i32> = old.iter().copied().filter(|&p| process::alive(p)).collect();
    assert!(gone, "old Apache children {left:?} still running {took:?} after graceful:\n{log}");
    assert!(failures.is_empty(), "failed requests: {failures:#?}\n{log}");
    assert!(answered > 50, "too few answers: {answered}");
    if mode == AppMode::Atexit {
        let ran = old.iter().filter(|&&p| atexit_ran(&apache, p)).count();
        assert!(ran > 0, "no exit function ran in the old children {old:?}:\n{log}");
    }
    let now = apache.child_pids();
    stop_quickly(apache, &now, stop_limit(mode, false));
}

#[test]
fn graceful_under_load_with_threading_imported_in_the_main_interpreter() {
    graceful_under_load(AppMode::Import, "%{GLOBAL}");
}

#[test]
fn graceful_under_load_with_threading_imported_in_a_sub_interpreter() {
    graceful_under_load(AppMode::Import, "%{RESOURCE}");
}

#[test]
fn graceful_under_load_with_a_non_daemon_thread() {
    graceful_under_load(AppMode::Thread, "%{GLOBAL}");
}

#[test]
fn graceful_under_load_with_an_exit_function() {
    graceful_under_load(AppMode::Atexit, "%{GLOBAL}");
}

#[test]
fn stop_is_quick_in_both_modes() {
    let _serial = lock();
    let apache = builder(AppMode::Import)
        .embedded_only()
        .conf(&format!(
            "WSGIDaemonProcess quick processes=2 threads=5 display-name=%{{GROUP}}\n\
             WSGIScriptAlias /daemon {{root}}/{SCRIPT} process-group=quick application-group=%{{GLOBAL}}\n\
             WSGIScriptAlias /embedded {{root}}/{SCRIPT}"
        ))
        .start();
    for path in ["/daemon", "/embedded", "/daemon", "/embedded"] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
    }
    let workers = lifecycle::workers(&apache, "quick");
    stop_quickly(apache, &workers, stop_limit(AppMode::Import, true));
}
