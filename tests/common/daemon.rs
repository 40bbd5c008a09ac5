//! Daemon mode: finding a server's daemon processes by their title, the
//! system users daemon groups run as, the groups' UNIX sockets, and
//! stopping a server while keeping its root (to look at what it left).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::apache::Apache;
use super::{process, wait_until};

pub use super::process::title;

/// Every live process on the machine whose title is exactly `title`.
pub fn processes_titled(title_: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = process::all().into_iter().map(|s| s.pid).filter(|&p| title(p) == title_).collect();
    pids.sort();
    pids
}

/// Whether `ancestor` is `pid`'s parent, grandparent, ...
pub fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut p = pid;
    for _ in 0..16 {
        match process::stat(p) {
            Some(s) if s.ppid == ancestor => return true,
            Some(s) if s.ppid > 1 => p = s.ppid,
            _ => return false,
        }
    }
    false
}

/// The processes of this server (descendants of its parent, directly or
/// through a group's manager process) titled `title`: one group's daemons.
pub fn daemon_pids(apache: &Apache, title_: &str) -> Vec<i32> {
    let parent = apache.parent_pid();
    processes_titled(title_).into_iter().filter(|&p| descends_from(p, parent)).collect()
}

/// The Apache parent's children whose title does not start with `(wsgi`
/// (daemon or manager processes): the MPM's worker processes.
pub fn worker_pids(apache: &Apache) -> Vec<i32> {
    apache.child_pids().into_iter().filter(|&p| !title(p).starts_with("(wsgi")).collect()
}

/// Waits until exactly `n` daemons titled `title` run; returns the last
/// list seen (compare its length with `n`).
pub fn wait_for_daemons(apache: &Apache, title_: &str, n: usize, timeout: Duration) -> Vec<i32> {
    let mut last = Vec::new();
    wait_until(timeout, || {
        last = daemon_pids(apache, title_);
        last.len() == n
    });
    last
}

/// A system account created for the tests.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// `getent passwd NAME` -> (uid, gid, home).
pub fn passwd(name: &str) -> Option<(u32, u32, PathBuf)> {
    let out = Command::new("getent").args(["passwd", name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout).lines().next()?.to_string();
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?, PathBuf::from(fields.get(5)?)))
}

/// `getent group NAME` -> gid.
pub fn group_id(name: &str) -> Option<u32> {
    let out = Command::new("getent").args(["group", name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).split(':').nth(2)?.trim().parse().ok()
}

/// Creates (once, idempotently) a system user with its own group, no login
/// shell and no home created by useradd, then makes sure its home directory
/// exists (0755, owned by the user), since a daemon's default working
/// directory is its user's home. Needs root.
pub fn ensure_system_user(name: &str) -> User {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    assert!(process::is_root(), "creating the test user {name} needs root");
    if passwd(name).is_none() {
        let mut last = String::new();
        // Another test process may hold /etc/passwd's lock: retry.
        for _ in 0..20 {
            let out = Command::new("useradd")
                .args(["--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin"])
                .args(["--home-dir", &format!("/var/lib/{name}"), name])
                .output()
                .expect("run useradd");
            last = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            if out.status.success() || passwd(name).is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        assert!(passwd(name).is_some(), "useradd {name} failed: {last}");
    }
    let (uid, gid, home) = passwd(name).unwrap();
    if !home.is_dir() {
        fs::create_dir_all(&home).unwrap_or_else(|e| panic!("create {}: {e}", home.display()));
    }
    let _ = std::os::unix::fs::chown(&home, Some(uid), Some(gid));
    let _ = fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    User { name: name.to_string(), uid, gid, home }
}

/// The UNIX sockets directly in `dir`, sorted.
pub fn sockets_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_socket())).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// `apache2 -k stop` for this server and a wait (bounded) for its parent
/// to exit. Dropping the `Apache` afterwards finds nothing left to stop, so
/// a test can look at what the stopped server left behind in its root.
/// Returns whether the parent exited in time.
pub fn stop(apache: &Apache) -> bool {
    let parent = apache.parent_pid();
    let _ = Command::new("/usr/sbin/apache2")
        .arg("-f")
        .arg(apache.conf_path())
        .args(["-k", "stop"])
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    wait_until(Duration::from_secs(20), || !process::alive(parent))
}

/// Answers `key=repr(value)` lines: the process's pid, ppid, uids, gids
/// and working directory as `proc.*`, then every environ entry. Parse it with
/// `apps::environ`. `/die` in PATH_INFO ends the process mid-request.
pub const INFO_APP: &str = include_str!("../apps/common/info.py");

/// The `proc.pid` an INFO_APP response reported.
pub fn pid_of(env: &BTreeMap<String, String>) -> i32 {
    env.get("proc.pid").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no proc.pid in {env:#?}"))
}
