//! Tests of the test harness itself (tests/common): configuration checks,
//! start failures, stopping, restarts, the HTTP client, and the atexit hook
//! that stops shared servers.

mod common;

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn hello_server(mpm: Mpm) -> Apache {
    ApacheBuilder::new()
        .mpm(mpm)
        .file("scripts/hello.wsgi", apps::HELLO_WORLD)
        .conf("WSGIScriptAlias /hello {root}/scripts/hello.wsgi")
        .start()
}

#[test]
fn configtest_accepts_good_and_reports_bad_configuration() {
    let (ok, output) = ApacheBuilder::new().conf("WSGIScriptAlias /x {root}/x.wsgi").configtest();
    assert!(ok, "{output}");
    assert!(output.contains("Syntax OK"), "{output}");

    let (ok, output) = ApacheBuilder::new().conf("NoSuchDirectiveForTests on").configtest();
    assert!(!ok, "{output}");
    assert!(output.contains("Invalid command 'NoSuchDirectiveForTests'"), "{output}");
}

#[test]
fn start_failure_reports_the_reason() {
    let builder = ApacheBuilder::new().conf("NoSuchDirectiveForTests on");
    let root = builder.root().to_path_buf();
    let reason = builder.try_start().err().expect("a bad configuration does not start");
    assert!(reason.contains("Apache did not start"), "{reason}");
    assert!(reason.contains("Invalid command 'NoSuchDirectiveForTests'"), "{reason}");
    assert!(!root.exists(), "try_start removes the root of a failed start");
}

#[test]
fn unwritable_error_log_is_reported() {
    let reason = ApacheBuilder::new()
        .conf("ErrorLog /nonexistent-dir-for-tests/error_log")
        .try_start()
        .err()
        .expect("an unwritable ErrorLog does not start");
    assert!(reason.contains("Apache did not start"), "{reason}");
    assert!(reason.contains("nonexistent-dir-for-tests"), "{reason}");
}

#[test]
fn fixtures_are_readable_by_the_apache_user() {
    let builder = ApacheBuilder::new().file("a/b/c.txt", "x");
    let root = builder.root().to_path_buf();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o755);
    assert_eq!(mode(root.parent().unwrap()), 0o755);
    assert_eq!(mode(&root.join("a")), 0o755);
    assert_eq!(mode(&root.join("a/b")), 0o755);
    assert_eq!(mode(&root.join("a/b/c.txt")), 0o644);
    drop(builder);
    assert!(!root.exists(), "an unstarted builder removes its root");
}

#[test]
fn drop_stops_every_process_and_frees_the_port() {
    let apache = hello_server(Mpm::Event);
    let resp = apache.get("/hello");
    assert_eq!(resp.text(), "Hello World!");
    let pids = apache.pids();
    assert!(pids.len() >= 2, "parent and children: {pids:?}");
    let port = apache.port();
    let root = apache.root().to_path_buf();
    drop(apache);
    for pid in pids {
        assert!(!process::alive(pid), "{pid} still alive");
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!root.exists(), "a passing test's root is removed");
}

#[test]
fn graceful_restart_keeps_the_parent_and_replaces_children() {
    let apache = hello_server(Mpm::Prefork);
    let parent = apache.parent_pid();
    let before = apache.child_pids();
    apache.restart_graceful();
    assert_eq!(apache.parent_pid(), parent);
    assert!(
        wait_until(Duration::from_secs(10), || {
            let now = apache.child_pids();
            !now.is_empty() && now.iter().all(|p| !before.contains(p))
        }),
        "children before {before:?}, after {:?}",
        apache.child_pids()
    );
    assert_eq!(apache.get("/hello").text(), "Hello World!");
    apache.assert_no_crash();
}

#[test]
fn http_client_handles_keep_alive_head_chunked_and_raw() {
    let apache = ApacheBuilder::new()
        .file("htdocs/static.txt", "static\n")
        .file(
            "scripts/chunked.wsgi",
            "def application(environ, start_response):\n    start_response('200 OK', [])\n    return (b'%d;' % i for i in range(5))\n",
        )
        .conf("WSGIScriptAlias /chunked {root}/scripts/chunked.wsgi")
        .start();
    let mut conn = apache.connect();
    for _ in 0..3 {
        let resp = conn.get("/static.txt");
        assert_eq!(resp.text(), "static\n");
        assert_eq!(resp.header("content-length"), Some("7"));
    }
    let head = conn.request("HEAD", "/static.txt", &[], b"");
    assert!(head.body.is_empty());
    let chunked = conn.get("/chunked");
    assert_eq!(chunked.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(chunked.text(), "0;1;2;3;4;");
    // HTTP/1.0 without keep-alive: the body ends when the server closes.
    let raw = apache.raw(b"GET /chunked HTTP/1.0\r\n\r\n");
    let resp = Response::parse(&raw, false).unwrap();
    assert_eq!(resp.text(), "0;1;2;3;4;");
    let bad = apache.raw(b"NOT-HTTP\r\n\r\n");
    assert!(bad.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&bad));
}

#[test]
fn log_marks_separate_requests() {
    let apache = hello_server(Mpm::Event);
    apache.get("/hello");
    let mark = apache.log_mark();
    assert!(apache.error_log().contains("Loading Python script file"));
    assert!(!apache.log_since(mark).contains("Loading Python script file"));
    apache.get("/nothing-here");
    // Core logs a missing file at info level, for this request only.
    assert!(apache.wait_for_log_since(mark, "htdocs/nothing-here", Duration::from_secs(5)));
    assert!(apache.wait_for_log("resuming normal operations", Duration::from_secs(1)));
    assert!(!apache.wait_for_log_since(mark, "never logged", Duration::from_millis(200)));
}

const CHILD_ENV: &str = "MOD_WSGI_RS_HARNESS_CHILD";

fn shared() -> &'static Apache {
    shared!(Apache, hello_server(Mpm::Event))
}

/// A shared server answers; run as a child process by the test below, it
/// prints its configuration path and fails when asked to.
#[test]
fn shared_server_answers() {
    assert_eq!(shared().get("/hello").text(), "Hello World!");
    if let Ok(what) = std::env::var(CHILD_ENV) {
        println!("SHARED-CONF={}", shared().conf_path().display());
        assert_ne!(what, "fail", "failing on purpose");
    }
}

/// Runs `shared_server_answers` in a child test process; returns its exit
/// success and its shared server's configuration path.
fn run_child(what: &str) -> (bool, std::path::PathBuf) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "shared_server_answers", "--nocapture"])
        .env(CHILD_ENV, what)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let conf = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SHARED-CONF="))
        .unwrap_or_else(|| panic!("child printed no conf path:\n{stdout}"));
    (out.status.success(), conf.into())
}

fn processes_of(conf: &Path) -> Vec<i32> {
    let conf = conf.display().to_string();
    process::all().into_iter().filter(|s| process::cmdline(s.pid).contains(&conf)).map(|s| s.pid).collect()
}

#[test]
fn atexit_hook_stops_shared_servers() {
    let (ok, conf) = run_child("pass");
    assert!(ok);
    assert_eq!(processes_of(&conf), Vec::<i32>::new());
    assert!(!conf.parent().unwrap().exists(), "root removed after success");

    let (ok, conf) = run_child("fail");
    assert!(!ok);
    assert_eq!(processes_of(&conf), Vec::<i32>::new());
    let root = conf.parent().unwrap();
    assert!(root.join("logs/error_log").exists(), "root kept after failure");
    std::fs::remove_dir_all(root).unwrap();
}
