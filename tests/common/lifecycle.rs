//! Daemon lifecycle (issue 6): a versioned application that can sleep,
//! spin, leak, hold the GIL or die on request, rewriting its script like a
//! deployment does, and finding a group's manager and worker processes.
//!
//! Not a module of `common` (its `mod.rs` is shared): the
//! `daemon_lifecycle_*` files include it next to `mod common;` with
//! `#[path = "common/lifecycle.rs"] mod lifecycle;`.
//!
//! Process layout: the Apache parent forks one `(wsgi-manager:NAME)` per
//! group, which forks the group's workers, titled `(wsgi:NAME)` when the
//! group has `display-name=%{GROUP}` (every configuration here does).

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::common::{Apache, ApacheBuilder, Response, process, wait_until};

/// Where the script lives under the test root, and its URL.
pub const SCRIPT: &str = "app/app.wsgi";
pub const URL: &str = "/app";
/// Writable directory (under the root) for files the application writes.
pub const OUT: &str = "out";

/// The application, answering `"<VERSION> <pid>\n"` after doing what its
/// PATH_INFO asks (the query string is the amount):
/// - `/sleep?S`: `time.sleep(S)` (releases the GIL);
/// - `/spin?S`: burns S seconds of CPU time;
/// - `/leak?MB`: appends MB mebibytes of touched memory to a module-level list;
/// - `/gil?S`: calls C `sleep(S)` through `ctypes.PyDLL`, keeping the GIL;
/// - `/die`: `os._exit(1)` mid-request.
///
/// Its module registers an atexit handler that writes `<out>/atexit-<pid>`.
pub fn app(version: &str, out_dir: &Path) -> String {
    format!(
        r#"import atexit, ctypes, os, time

VERSION = {version:?}
OUT = {out:?}
LEAK = []

def _at_exit():
    with open(os.path.join(OUT, 'atexit-%d' % os.getpid()), 'w') as f:
        f.write(VERSION)

atexit.register(_at_exit)

def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    amount = environ.get('QUERY_STRING', '') or '1'
    if path == '/sleep':
        time.sleep(float(amount))
    elif path == '/spin':
        end = time.process_time() + float(amount)
        n = 0
        while time.process_time() < end:
            n += 1
    elif path == '/leak':
        LEAK.append(b'\x01' * (int(amount) * 1024 * 1024))
    elif path == '/gil':
        ctypes.PyDLL(None).sleep(int(amount))
    elif path == '/die':
        os._exit(1)
    body = ('%s %d\n' % (VERSION, os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
"#,
        out = out_dir.display().to_string()
    )
}

/// A server with the application at `/app` in daemon group `group`,
/// `WSGIDaemonProcess <group> display-name=%{{GROUP}} <options>`.
pub fn server(group: &str, options: &str) -> Apache {
    builder(group, options).start()
}

pub fn builder(group: &str, options: &str) -> ApacheBuilder {
    let b = ApacheBuilder::new().writable_dir(OUT);
    let out = b.root().join(OUT);
    b.file(SCRIPT, app("v1", &out)).conf(&format!(
        "WSGIDaemonProcess {group} display-name=%{{GROUP}} {options}\n\
         WSGIScriptAlias {URL} {{root}}/{SCRIPT} process-group={group} application-group=%{{GLOBAL}}"
    ))
}

/// Rewrites the script with `version`, in place like an editor or `cp`,
/// and moves its mtime at least a second past the previous one.
pub fn deploy(apache: &Apache, version: &str) {
    let path = apache.root().join(SCRIPT);
    let before = fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
    fs::write(&path, app(version, &apache.root().join(OUT))).unwrap();
    bump_mtime(&path, before);
}

/// Like `deploy`, but writes a new file and renames it over the script, so a
/// process loading it concurrently never sees a half-written file.
pub fn deploy_atomic(apache: &Apache, version: &str) {
    let path = apache.root().join(SCRIPT);
    let before = fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
    let tmp = path.with_extension("wsgi.tmp");
    fs::write(&tmp, app(version, &apache.root().join(OUT))).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
    bump_mtime(&tmp, before);
    fs::rename(&tmp, &path).unwrap();
}

fn bump_mtime(path: &Path, before: SystemTime) {
    let now = SystemTime::now();
    let at_least = before + Duration::from_secs(1);
    let when = if now > at_least { now } else { at_least };
    fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
}

/// What the application answered: (version, pid).
pub fn parse(resp: &Response) -> Option<(String, i32)> {
    let text = resp.text();
    let mut parts = text.split_whitespace();
    let version = parts.next()?.to_string();
    let pid = parts.next()?.parse().ok()?;
    Some((version, pid))
}

/// GET `/app<path>`: (status, version, pid), panicking with the log unless
/// it is a 200 from the application.
pub fn hit(apache: &Apache, path: &str) -> (String, i32) {
    let mark = apache.log_mark();
    let resp = apache.get(&format!("{URL}{path}"));
    apache.assert_status(&resp, 200, mark);
    parse(&resp).unwrap_or_else(|| panic!("not an answer from the app: {resp:?}"))
}

pub use crate::common::process::title;

/// The group's manager: the Apache parent's child titled `(wsgi-manager:G)`.
pub fn manager(apache: &Apache, group: &str) -> Option<i32> {
    let want = format!("(wsgi-manager:{group})");
    apache.child_pids().into_iter().find(|&p| title(p) == want)
}

/// The group's live workers (children of its manager titled `(wsgi:G)`),
/// retiring ones included, sorted.
pub fn workers(apache: &Apache, group: &str) -> Vec<i32> {
    let Some(m) = manager(apache, group) else { return Vec::new() };
    let want = format!("(wsgi:{group})");
    let mut pids: Vec<i32> =
        process::all().into_iter().filter(|s| s.ppid == m).map(|s| s.pid).filter(|&p| title(p) == want).collect();
    pids.sort();
    pids
}

/// Waits until the group has exactly `n` workers; returns the last list.
pub fn wait_workers(apache: &Apache, group: &str, n: usize, timeout: Duration) -> Vec<i32> {
    let mut last = Vec::new();
    wait_until(timeout, || {
        last = workers(apache, group);
        last.len() == n
    });
    last
}

/// Waits until `pid` has exited; returns how long that took, or `None`.
pub fn wait_gone(pid: i32, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    wait_until(timeout, || !process::alive(pid)).then(|| start.elapsed())
}

/// How long `pid` has been running (from /proc, 10 ms resolution).
pub fn age(pid: i32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime, clock ticks since boot), counted after "(comm)".
    let ticks: u64 = stat[stat.rfind(')')? + 2..].split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let uptime: f64 = fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs_f64((uptime - ticks as f64 / hz).max(0.0)))
}

/// Waits (up to `timeout`) for `pid` to exit; returns how old it was when
/// last seen alive, or `None` when it is still running.
pub fn lifetime(pid: i32, timeout: Duration) -> Option<Duration> {
    let mut last = Duration::ZERO;
    wait_until(timeout, || match age(pid) {
        Some(a) if process::alive(pid) => {
            last = a;
            false
        }
        _ => true,
    })
    .then_some(last)
}

/// The `mod_wsgi (pid=N)` lines of `log` that mention `needle`.
pub fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

/// Whether `log` has a line mentioning both `pid` (as `pid=N` or `pid N`)
/// and `needle`.
pub fn logged_for_pid(log: &str, pid: i32, needle: &str) -> bool {
    let a = format!("pid={pid})");
    let b = format!("pid {pid})");
    log.lines().any(|l| l.contains(needle) && (l.contains(&a) || l.contains(&b)))
}

/// Stops the server, then checks that no process of it is left: its
/// parent, the group managers and every worker pid in `seen`.
pub fn stop_and_check(apache: Apache, seen: &[i32]) {
    let mut pids = apache.pids();
    for p in seen {
        if !pids.contains(p) {
            pids.push(*p);
        }
    }
    for p in apache.child_pids() {
        for s in process::all() {
            if s.ppid == p && !pids.contains(&s.pid) {
                pids.push(s.pid);
            }
        }
    }
    drop(apache);
    let left = || pids.iter().copied().filter(|&p| process::alive(p)).collect::<Vec<_>>();
    wait_until(Duration::from_secs(15), || left().is_empty());
    let left = left();
    assert!(
        left.is_empty(),
        "processes left after stopping Apache: {:?}",
        left.iter().map(|&p| (p, title(p))).collect::<Vec<_>>()
    );
}
