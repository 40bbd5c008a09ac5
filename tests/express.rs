//! Express mode (issue 17): `pip install` of this checkout into a fresh
//! virtual environment made from /usr/bin/python3.11 (the in-tree build
//! backend runs cargo), then the installed `mod_wsgi-express` command:
//! `start-server` (script and module applications, Flask with
//! `--url-alias`, `--reload-on-changes`, HTTPS, the status page, logs to
//! the terminal), `setup-server` with its `apachectl`, `module-config` in a
//! hand-written configuration, Django's `manage.py runmodwsgi`, and every
//! bad input answered with one line, a non-zero status and nothing left
//! running.
//!
//! One venv (the package, Flask and Django) serves every test of this file.
//! Each test has its own directory under /tmp/mod_wsgi_rs-express-tests
//! (readable by www-data, which Apache's processes run as when the tests
//! run as root), its own port, and stops what it started by pid.

mod common;

use std::fs;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::process;
use common::{Conn, Response, wait_until};

const BASE: &str = "/tmp/mod_wsgi_rs-express-tests";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// The virtual environment, one per run of this file.

struct Env {
    /// BASE/<pid>: everything this test process makes.
    dir: PathBuf,
    venv: PathBuf,
}

impl Env {
    fn bin(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }
}

fn env() -> &'static Env {
    shared!(Env, {
        reap_orphans();
        let dir = Path::new(BASE).join(std::process::id().to_string());
        make_dir(Path::new(BASE));
        make_dir(&dir);
        // SAFETY: registers a plain function, once, to run at exit.
        unsafe { libc::atexit(remove_own_dir) };
        let venv = dir.join("venv");
        let started = Instant::now();
        // The package built from the checkout, and the frameworks of the
        // Flask and Django tests, from PyPI.
        common::venv::with_packages(&venv, &[env!("CARGO_MANIFEST_DIR"), "flask", "django"]);
        run_ok(Command::new("chmod").arg("-R").arg("a+rX").arg(&dir));
        eprintln!("express: venv with the package built in {:?}", started.elapsed());
        Env { dir, venv }
    })
}

static ANY_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn remove_own_dir() {
    let dir = Path::new(BASE).join(std::process::id().to_string());
    kill_processes_under(&dir);
    if ANY_FAILED.load(Ordering::Relaxed) {
        eprintln!("kept {}", dir.display());
    } else {
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Directories of test processes that died without cleaning up: stop what
/// still runs from them (by pid) and remove them.
fn reap_orphans() {
    let Ok(entries) = fs::read_dir(BASE) else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        if pid == std::process::id() as i32 || process::alive(pid) {
            continue;
        }
        kill_processes_under(&entry.path());
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// SIGKILLs every process whose command line names a path under `dir`
/// (mod_wsgi-express, Apache; daemon processes die with Apache).
fn kill_processes_under(dir: &Path) {
    let needle = format!("{}/", dir.display());
    let pids = || -> Vec<i32> {
        process::all()
            .into_iter()
            .map(|s| s.pid)
            .filter(|&pid| pid != std::process::id() as i32 && process::cmdline(pid).contains(&needle))
            .collect()
    };
    for pid in pids() {
        process::kill(pid, libc::SIGKILL);
    }
    wait_until(Duration::from_secs(5), || pids().is_empty());
}

fn make_dir(path: &Path) {
    if !path.is_dir() {
        fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn get(port: u16, path: &str) -> Response {
    try_get(port, path).unwrap_or_else(|e| panic!("GET {path} on port {port}: {e}"))
}

fn try_get(port: u16, path: &str) -> std::io::Result<Response> {
    Conn::open(port)?.try_request("GET", path, &[], b"")
}

/// `key=value` lines (the output of [`INFO_APP`]).
fn info(resp: &Response) -> std::collections::BTreeMap<String, String> {
    assert_eq!(resp.status, 200, "{resp:?}");
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The uid of `user`, from /etc/passwd.
fn uid_of(user: &str) -> u32 {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == user).then(|| f[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no user {user}"))
}

// ---------------------------------------------------------------------------
// One test's directory and the servers it starts.

/// BASE/<pid>/<n>: `app/` holds the fixtures, `server/` is the server root.
struct Case {
    dir: PathBuf,
}

impl Case {
    fn new() -> Case {
        static N: AtomicU64 = AtomicU64::new(0);
        let env = env();
        let dir = env.dir.join(N.fetch_add(1, Ordering::Relaxed).to_string());
        make_dir(&dir);
        make_dir(&dir.join("app"));
        Case { dir }
    }

    fn app(&self) -> PathBuf {
        self.dir.join("app")
    }

    fn server_root(&self) -> PathBuf {
        self.dir.join("server")
    }

    /// Writes `app/<relative>` (directories 0755, file 0644).
    fn file(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.app().join(relative);
        let mut dir = self.app();
        for part in Path::new(relative).parent().into_iter().flat_map(|p| p.components()) {
            dir.push(part);
            make_dir(&dir);
        }
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    /// Processes whose command line names this case's directory.
    fn processes(&self) -> Vec<String> {
        let needle = format!("{}/", self.dir.display());
        process::all()
            .into_iter()
            .filter(|s| s.pid != std::process::id() as i32)
            .map(|s| process::cmdline(s.pid))
            .filter(|c| c.contains(&needle))
            .collect()
    }

    fn assert_nothing_running(&self) {
        let ok = wait_until(STOP_TIMEOUT, || self.processes().is_empty());
        assert!(ok, "still running:\n{}", self.processes().join("\n"));
    }

    /// Runs `mod_wsgi-express args...` in app/ to completion.
    fn express(&self, args: &[&str]) -> Output {
        self.command("mod_wsgi-express", args).output().unwrap()
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env().bin(program));
        cmd.args(args).current_dir(self.app()).env("PYTHONDONTWRITEBYTECODE", "1").stdin(Stdio::null());
        cmd
    }

    /// `mod_wsgi-express start-server args... --host 127.0.0.1 --port P
    /// --server-root server/` in the background, once Apache serves.
    fn start(&self, args: &[&str]) -> Running {
        let port = free_port();
        let port_arg = port.to_string();
        let root = self.server_root().display().to_string();
        let mut all = vec!["start-server"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--host", "127.0.0.1", "--port", &port_arg, "--server-root", &root]);
        let cmd = self.command("mod_wsgi-express", &all);
        Running::spawn(self, cmd, port)
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        kill_processes_under(&self.dir);
        if std::thread::panicking() {
            ANY_FAILED.store(true, Ordering::Relaxed);
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A mod_wsgi-express (or runmodwsgi) process serving in the background.
struct Running {
    child: Option<Child>,
    port: u16,
    stdout: PathBuf,
    stderr: PathBuf,
    error_log: PathBuf,
}

impl Running {
    fn spawn(case: &Case, mut cmd: Command, port: u16) -> Running {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let stdout = case.dir.join(format!("stdout-{n}"));
        let stderr = case.dir.join(format!("stderr-{n}"));
        cmd.stdout(fs::File::create(&stdout).unwrap()).stderr(fs::File::create(&stderr).unwrap());
        // SAFETY: prctl in the child before exec: if this test process
        // dies, the command gets SIGTERM and stops its Apache.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let mut running =
            Running { child: Some(child), port, stdout, stderr, error_log: case.server_root().join("error_log") };
        let started = Instant::now();
        loop {
            if running.stdout().contains("serves http") && listening(port) {
                return running;
            }
            if let Some(status) = running.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the server exited ({status}) instead of serving:\n{}", running.report());
            }
            if started.elapsed() > START_TIMEOUT {
                panic!("not serving after {START_TIMEOUT:?}:\n{}", running.report());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn error_log(&self) -> String {
        fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    fn report(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}\nerror_log:\n{}", self.stdout(), self.stderr(), self.error_log())
    }

    fn get(&self, path: &str) -> Response {
        try_get(self.port, path).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.report()))
    }

    fn get_ok(&self, path: &str) -> Response {
        let resp = self.get(path);
        assert_eq!(resp.status, 200, "GET {path}:\n{resp:?}\n{}", self.report());
        resp
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Sends `signal` to the command and waits for it to exit.
    fn stop(&mut self, signal: i32) -> ExitStatus {
        process::kill(self.pid(), signal);
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("still running {STOP_TIMEOUT:?} after signal {signal}:\n{}", self.report());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::kill(child.id() as i32, libc::SIGTERM);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts a failed command: `status`, and stderr is one line containing
/// `needle`.
fn assert_one_line_error(out: &Output, status: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(out.status.code(), Some(status), "status; stderr:\n{stderr}");
    assert_eq!(lines.len(), 1, "not one line:\n{stderr}");
    assert!(lines[0].starts_with("mod_wsgi-express: error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{needle:?} not in:\n{stderr}");
}

// ---------------------------------------------------------------------------
// Applications.

/// Tells where and how it runs, one `key=value` per line.
const INFO_APP: &str = include_str!("apps/express/info.py");

// ---------------------------------------------------------------------------
// start-server.

#[test]
fn start_server_runs_the_script_in_a_daemon_process_of_the_venv_and_stops_on_ctrl_c() {
    let case = Case::new();
    case.file("info.wsgi", INFO_APP);
    let mut server = case.start(&["info.wsgi"]);
    let out = server.stdout();
    assert!(out.contains(&format!("Server URL         : http://127.0.0.1:{}/", server.port)), "{out}");
    assert!(out.contains(&format!("Server Root        : {}", case.server_root().display())), "{out}");

    let v = info(&server.get_ok("/some/path"));
    let venv = &env().venv;
    assert_eq!(v["prefix"], venv.display().to_string(), "python-home is the venv");
    assert_eq!(v["process_group"], format!("127.0.0.1:{}", server.port), "a daemon process group");
    assert_eq!(v["application_group"], "", "%{{GLOBAL}}");
    assert_eq!(v["multiprocess"], "False", "one process unless --processes");
    assert_eq!(v["threads_per_process"], "5");
    assert_eq!(v["cwd"], case.app().display().to_string(), "--working-directory defaults to the current one");
    assert!(v["sys_path"].split(':').any(|p| p == case.app().display().to_string()), "{}", v["sys_path"]);
    assert_eq!((v["script_name"].as_str(), v["path_info"].as_str()), ("", "/some/path"));
    if process::is_root() {
        assert_eq!(v["uid"], uid_of("www-data").to_string(), "started as root, Apache runs as www-data");
    }
    let daemon: i32 = v["pid"].parse().unwrap();
    assert_ne!(daemon, server.pid());
    // Its parent is the group's manager, a child of the Apache parent.
    let apache: i32 = fs::read_to_string(case.server_root().join("httpd.pid")).unwrap().trim().parse().unwrap();
    let manager = process::stat(daemon).map(|s| s.ppid).unwrap();
    assert_eq!(process::stat(manager).map(|s| s.ppid), Some(apache), "a daemon process of this Apache");

    // Ctrl-C: a clean stop, exit status 0, nothing left.
    let status = server.stop(libc::SIGINT);
    assert!(status.success(), "{status}\n{}", server.report());
    case.assert_nothing_running();
    assert!(!process::alive(daemon), "the daemon process outlived Apache");
    assert!(!listening(server.port));
    assert!(server.error_log().contains("caught SIGTERM, shutting down"), "{}", server.error_log());
}

#[test]
fn sigterm_stops_it_and_process_options_logs_and_limits_reach_apache() {
    let case = Case::new();
    case.file("info.wsgi", INFO_APP);
    let mut server = case.start(&[
        "info.wsgi",
        "--processes",
        "2",
        "--threads",
        "3",
        "--maximum-requests",
        "2",
        "--request-timeout",
        "30",
        "--log-to-terminal",
        "--access-log",
        "--log-level",
        "info",
    ]);
    let mut pids = std::collections::BTreeSet::new();
    for n in 0..10 {
        let v = info(&server.get_ok(&format!("/request-{n}")));
        assert_eq!(v["multiprocess"], "True", "--processes 2");
        assert_eq!(v["maximum_processes"], "2");
        assert_eq!(v["threads_per_process"], "3");
        pids.insert(v["pid"].clone());
    }
    // Two processes, each replaced after two requests.
    assert!(pids.len() >= 4, "--maximum-requests 2: daemon pids {pids:?}\n{}", server.report());
    // The error log and the access log go to the terminal.
    assert!(
        wait_until(Duration::from_secs(10), || server.stderr().contains("express-test-marker /request-9")),
        "{}",
        server.report()
    );
    // Apache writes the access line after the answer: wait for it too.
    assert!(
        wait_until(Duration::from_secs(10), || server.stdout().contains("\"GET /request-9 HTTP/1.1\" 200")),
        "{}",
        server.report()
    );
    assert!(!case.server_root().join("error_log").exists(), "no error_log file with --log-to-terminal");
    let conf = fs::read_to_string(case.server_root().join("httpd.conf")).unwrap();
    assert!(conf.contains("request-timeout=30"), "{conf}");

    let status = server.stop(libc::SIGTERM);
    assert!(status.success(), "{status}\n{}", server.report());
    case.assert_nothing_running();
}

const FLASK_APP: &str = include_str!("apps/express/flask.py");

#[test]
fn flask_app_with_url_aliases_and_a_document_root() {
    let case = Case::new();
    case.file("app.py", FLASK_APP);
    case.file("assets/style.css", "body { color: teal }\n");
    case.file("robots.txt", "User-agent: *\n");
    case.file("docroot/page.txt", "from the document root\n");
    let mut server = case.start(&[
        "app.py",
        "--callable-object",
        "app",
        "--url-alias",
        "/static",
        "assets",
        "--url-alias",
        "/media/",
        "assets/",
        "--url-alias",
        "/robots.txt",
        "robots.txt",
        "--document-root",
        "docroot",
    ]);
    assert_eq!(server.get_ok("/").text(), "Hello from Flask");
    assert_eq!(server.get_ok("/hello/express").text(), "Hello express");
    let css = server.get_ok("/static/style.css");
    assert_eq!(css.text(), "body { color: teal }\n");
    assert_eq!(css.header("Content-Type"), Some("text/css"));
    assert_eq!(server.get_ok("/media/style.css").text(), "body { color: teal }\n");
    assert_eq!(server.get_ok("/robots.txt").text(), "User-agent: *\n");
    assert_eq!(server.get_ok("/page.txt").text(), "from the document root\n");
    // What is in none of them is the application's: Flask's own 404.
    let missing = server.get("/nothing-here");
    assert_eq!(missing.status, 404, "{missing:?}");
    assert!(missing.text().contains("<h1>Not Found</h1>"), "Flask's page, not Apache's:\n{missing:?}");
    assert!(server.stop(libc::SIGTERM).success());
    case.assert_nothing_running();
}

#[test]
fn application_type_module_imports_from_python_path() {
    let case = Case::new();
    case.file("lib/shop/__init__.py", "");
    case.file(
        "lib/shop/web.py",
        r#"import sys

def handler(environ, start_response):
    body = ('module app %s %s' % (__name__, environ['SCRIPT_NAME'] + environ['PATH_INFO'])).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
"#,
    );
    let mut server = case.start(&[
        "--application-type",
        "module",
        "shop.web",
        "--callable-object",
        "handler",
        "--python-path",
        "lib",
    ]);
    assert_eq!(server.get_ok("/x/y").text(), "module app shop.web /x/y");
    // The module's own file is watched: an edit replaces the process.
    case.file(
        "lib/shop/web.py",
        r#"def handler(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'edited module']
"#,
    );
    assert!(
        wait_until(Duration::from_secs(20), || server.get_ok("/").text() == "edited module"),
        "the edit of the module was not picked up:\n{}",
        server.report()
    );
    assert!(server.stop(libc::SIGTERM).success());
    case.assert_nothing_running();
}

const GREETING_APP: &str = include_str!("apps/express/greeting.py");

#[test]
fn reload_on_changes_picks_up_an_edit_of_an_imported_module() {
    let case = Case::new();
    case.file("greet.wsgi", GREETING_APP);
    case.file("greeting.py", "TEXT = 'v1'\n");
    let mut server = case.start(&["greet.wsgi", "--reload-on-changes"]);
    assert_eq!(server.get_ok("/").text(), "v1");
    let first_pid = || fs::read_to_string(case.server_root().join("httpd.pid")).unwrap();
    let apache = first_pid();

    case.file("greeting.py", "TEXT = 'v2'\n");
    // Every request is answered while the process is replaced.
    let picked_up = wait_until(Duration::from_secs(20), || server.get_ok("/").text() == "v2");
    assert!(picked_up, "the edit was not picked up:\n{}", server.report());
    let log = server.error_log();
    assert!(log.contains("greeting.py changed; replacing this daemon process"), "{log}");
    assert_eq!(first_pid(), apache, "only the daemon process was replaced");
    assert!(server.stop(libc::SIGTERM).success());
    case.assert_nothing_running();
}

#[test]
fn without_reload_on_changes_an_edit_of_an_imported_module_is_not_picked_up() {
    let case = Case::new();
    case.file("greet.wsgi", GREETING_APP);
    case.file("greeting.py", "TEXT = 'v1'\n");
    let mut server = case.start(&["greet.wsgi"]);
    assert_eq!(server.get_ok("/").text(), "v1");
    case.file("greeting.py", "TEXT = 'v2'\n");
    // The reloader looks every second; three seconds is three chances.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(server.get_ok("/").text(), "v1");
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn https_port_server_status_and_include_file() {
    let case = Case::new();
    case.file("info.wsgi", INFO_APP);
    let cert = case.app().join("cert.pem");
    let key = case.app().join("key.pem");
    run_ok(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    let included = case.file("included.txt", "included by --include-file\n");
    let extra = case.file(
        "extra.conf",
        &format!(
            "Alias /included.txt \"{p}\"\n<Directory \"{d}\">\n    Require all granted\n</Directory>\n",
            p = included.display(),
            d = case.app().display()
        ),
    );
    let https_port = free_port();
    let mut server = case.start(&[
        "info.wsgi",
        "--https-port",
        &https_port.to_string(),
        "--ssl-certificate-file",
        &cert.display().to_string(),
        "--ssl-certificate-key-file",
        &key.display().to_string(),
        "--server-status",
        "--include-file",
        &extra.display().to_string(),
    ]);
    assert!(server.stdout().contains(&format!("Server URL (HTTPS) : https://127.0.0.1:{https_port}/")));
    let out = run_ok(
        Command::new("curl").args(["-sk", "--max-time", "20"]).arg(format!("https://127.0.0.1:{https_port}/over-tls")),
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("url_scheme=https\n"), "{body}");
    assert!(body.contains("path_info=/over-tls\n"), "{body}");
    assert!(server.get_ok("/").text().contains("url_scheme=http\n"));
    let status = server.get_ok("/server-status?auto").text();
    assert!(status.contains("ServerUptime") && status.contains("Total Accesses"), "{status}");
    assert_eq!(server.get_ok("/included.txt").text(), "included by --include-file\n");
    assert!(server.stop(libc::SIGTERM).success());
    case.assert_nothing_running();
}

#[test]
fn user_and_group_choose_who_apache_and_the_application_run_as() {
    if !process::is_root() {
        // As another user, --user naming someone else is refused (below).
        let case = Case::new();
        case.file("info.wsgi", INFO_APP);
        let out = case.express(&["start-server", "info.wsgi", "--user", "nobody"]);
        assert_one_line_error(&out, 2, "--user nobody needs root");
        return;
    }
    let case = Case::new();
    case.file("info.wsgi", INFO_APP);
    let mut server = case.start(&["info.wsgi", "--user", "nobody", "--group", "nogroup"]);
    let v = info(&server.get_ok("/"));
    assert_eq!(v["uid"], uid_of("nobody").to_string());
    assert!(server.stop(libc::SIGTERM).success());
    // Root itself is refused.
    let out = case.express(&["start-server", "info.wsgi", "--user", "root"]);
    assert_one_line_error(&out, 1, "must not run as root");
}

// ---------------------------------------------------------------------------
// setup-server, module-config, module-location.

#[test]
fn setup_server_writes_an_apachectl_that_starts_and_stops_it() {
    let case = Case::new();
    case.file("info.wsgi", INFO_APP);
    let port = free_port();
    let root = case.server_root();
    let out = case.express(&[
        "setup-server",
        "info.wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--server-root",
        &root.display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let apachectl = root.join("apachectl");
    assert!(text.contains(&format!("Control Script     : {}", apachectl.display())), "{text}");
    assert!(root.join("httpd.conf").is_file());
    assert!(!listening(port), "setup-server does not start Apache");

    let configtest = run_ok(Command::new(&apachectl).arg("configtest"));
    assert!(String::from_utf8_lossy(&configtest.stderr).contains("Syntax OK"), "{configtest:?}");
    run_ok(Command::new(&apachectl).arg("start"));
    let served = wait_until(START_TIMEOUT, || try_get(port, "/").is_ok_and(|r| r.status == 200));
    let error_log = || fs::read_to_string(root.join("error_log")).unwrap_or_default();
    assert!(served, "apachectl start: not serving\n{}", error_log());
    let v = info(&get(port, "/via-apachectl"));
    assert_eq!(v["process_group"], format!("127.0.0.1:{port}"));
    assert_eq!(v["prefix"], env().venv.display().to_string());

    run_ok(Command::new(&apachectl).arg("stop"));
    assert!(wait_until(STOP_TIMEOUT, || !listening(port)), "apachectl stop: still listening");
    case.assert_nothing_running();
}

#[test]
fn module_config_lines_work_in_a_hand_written_configuration() {
    let case = Case::new();
    let out = case.express(&["module-config"]);
    assert!(out.status.success(), "{out:?}");
    let lines = String::from_utf8(out.stdout).unwrap();
    let location = String::from_utf8(case.express(&["module-location"]).stdout).unwrap();
    let so = location.trim();
    assert!(Path::new(so).is_file(), "module-location: {so}");
    let venv = env().venv.display().to_string();
    assert_eq!(lines, format!("LoadModule wsgi_module \"{so}\"\nWSGIPythonHome \"{venv}\"\n"));

    // flask is only in the venv: the application imports it through
    // WSGIPythonHome, nothing else.
    let script = case.file(
        "flasky.wsgi",
        r#"import sys
import flask

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%s %s %s' % (flask.__name__, sys.prefix, environ['mod_wsgi.process_group'])).encode()]
"#,
    );
    let port = free_port();
    let dir = case.dir.display().to_string();
    let user = if process::is_root() { "User www-data\nGroup www-data\n" } else { "" };
    let conf = format!(
        "ServerRoot \"{dir}\"\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\nPidFile \"{dir}/hand.pid\"\n\
         DefaultRuntimeDir \"{dir}\"\nErrorLog \"{dir}/hand_error_log\"\nLogLevel info\n{user}\
         LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n\
         LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n\
         {lines}\
         WSGIDaemonProcess hand threads=2\n\
         WSGIScriptAlias / \"{script}\" process-group=hand\n\
         <Directory \"{app}\">\n    Require all granted\n</Directory>\n",
        script = script.display(),
        app = case.app().display()
    );
    let conf_path = case.dir.join("hand.conf");
    fs::write(&conf_path, conf).unwrap();
    run_ok(Command::new("/usr/sbin/apache2").arg("-f").arg(&conf_path).args(["-k", "start"]));
    let log = || fs::read_to_string(case.dir.join("hand_error_log")).unwrap_or_default();
    let served = wait_until(START_TIMEOUT, || try_get(port, "/").is_ok_and(|r| r.status == 200));
    assert!(served, "not serving:\n{}", log());
    assert_eq!(get(port, "/").text(), format!("flask {venv} hand"));
    run_ok(Command::new("/usr/sbin/apache2").arg("-f").arg(&conf_path).args(["-k", "stop"]));
    assert!(wait_until(STOP_TIMEOUT, || !listening(port)));
    case.assert_nothing_running();
}

// ---------------------------------------------------------------------------
// Django.

#[test]
fn django_runmodwsgi_serves_the_admin_and_its_static_files() {
    let case = Case::new();
    let project = case.app();
    let env = env();
    run_ok(Command::new(env.bin("django-admin")).args(["startproject", "mysite", "."]).current_dir(&project));
    let data = case.dir.join("data");
    make_dir(&data);
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).unwrap();
    let settings = project.join("mysite/settings.py");
    let mut text = fs::read_to_string(&settings).unwrap();
    text.push_str(&format!(
        "\n# Added by tests/express.rs\nINSTALLED_APPS += ['mod_wsgi_rs.server']\n\
         ALLOWED_HOSTS = ['127.0.0.1', 'localhost']\n\
         DATABASES['default']['NAME'] = '{}/db.sqlite3'\nSTATIC_ROOT = BASE_DIR / 'collected-static'\n",
        data.display()
    ));
    fs::write(&settings, text).unwrap();
    let manage = |args: &[&str]| {
        run_ok(Command::new(env.bin("python")).arg("manage.py").args(args).current_dir(&project));
    };
    manage(&["migrate", "--noinput"]);
    manage(&["collectstatic", "--noinput"]);
    run_ok(Command::new("chmod").arg("-R").arg("a+rX").arg(&case.dir));
    run_ok(Command::new("chmod").arg("-R").arg("a+w").arg(&data));
    let help = run_ok(Command::new(env.bin("python")).args(["manage.py", "help", "runmodwsgi"]).current_dir(&project));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--reload-on-changes"), "{help:?}");

    let port = free_port();
    let root = case.server_root().display().to_string();
    let mut cmd = Command::new(env.bin("python"));
    cmd.args(["manage.py", "runmodwsgi", "--host", "127.0.0.1", "--port", &port.to_string(), "--server-root", &root])
        .current_dir(&project)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null());
    let mut server = Running::spawn(&case, cmd, port);
    let login = server.get_ok("/admin/login/");
    let html = login.text();
    assert!(html.contains("Django administration") && html.contains("csrfmiddlewaretoken"), "{html}");
    assert!(html.contains("/static/admin/css/base.css"), "{html}");
    let css = server.get_ok("/static/admin/css/base.css");
    assert_eq!(css.header("Content-Type"), Some("text/css"));
    assert!(css.text().contains("DJANGO Admin styles"), "{}", css.text());
    let admin = server.get("/admin/");
    assert_eq!(admin.status, 302, "{admin:?}");
    assert!(server.stop(libc::SIGTERM).success(), "{}", server.report());
    case.assert_nothing_running();
}

// ---------------------------------------------------------------------------
// Bad input: one line, non-zero status, nothing running.

#[test]
fn a_missing_script_is_one_line() {
    let case = Case::new();
    let root = case.server_root().display().to_string();
    let out =
        case.express(&["start-server", "nosuch.wsgi", "--port", &free_port().to_string(), "--server-root", &root]);
    assert_one_line_error(&out, 1, "WSGI script nosuch.wsgi not found");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(!case.server_root().exists(), "nothing written");
    case.assert_nothing_running();
}

#[test]
fn an_unimportable_module_is_one_line() {
    let case = Case::new();
    let root = case.server_root().display().to_string();
    let port = free_port().to_string();
    let out = case.express(&[
        "start-server",
        "--application-type",
        "module",
        "no_such_module.wsgi",
        "--port",
        &port,
        "--server-root",
        &root,
    ]);
    assert_one_line_error(&out, 1, "cannot import module 'no_such_module.wsgi'");
    let out = case.express(&["start-server", "--application-type", "module", "not a module", "--server-root", &root]);
    assert_one_line_error(&out, 2, "is not a module name");
    case.assert_nothing_running();
}

#[test]
fn a_port_in_use_is_one_line() {
    let case = Case::new();
    case.file("hello.wsgi", common::apps::HELLO_WORLD);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let root = case.server_root().display().to_string();
    let out =
        case.express(&["start-server", "hello.wsgi", "--host", "127.0.0.1", "--port", &port, "--server-root", &root]);
    assert_one_line_error(&out, 1, &format!("port {port} on 127.0.0.1 is already in use"));
    case.assert_nothing_running();
}

#[test]
fn apache_missing_is_one_line() {
    let case = Case::new();
    case.file("hello.wsgi", common::apps::HELLO_WORLD);
    let out = case.express(&["start-server", "hello.wsgi", "--httpd-executable", "/nonexistent/apache2"]);
    assert_one_line_error(&out, 1, "Apache httpd not found (/nonexistent/apache2): install it");
    let out =
        case.command("mod_wsgi-express", &["start-server", "hello.wsgi"]).env("HTTPD", "/nonexistent/httpd").output();
    assert_one_line_error(&out.unwrap(), 1, "Apache httpd not found (/nonexistent/httpd)");
    case.assert_nothing_running();
}

#[test]
fn an_unsupported_or_unknown_option_or_command_is_one_line() {
    let case = Case::new();
    case.file("hello.wsgi", common::apps::HELLO_WORLD);
    let out = case.express(&["start-server", "hello.wsgi", "--server-name", "www.example.com"]);
    assert_one_line_error(&out, 2, "--server-name is an option of mod_wsgi-express that mod_wsgi-rs does not support");
    let out = case.express(&["start-server", "hello.wsgi", "--max-clients=20"]);
    assert_one_line_error(&out, 2, "--max-clients is an option of mod_wsgi-express");
    let out = case.express(&["start-server", "hello.wsgi", "--no-such-option"]);
    assert_one_line_error(&out, 2, "unknown option --no-such-option");
    let out = case.express(&["start-server", "hello.wsgi", "--port", "http"]);
    assert_one_line_error(&out, 2, "'http' is not a number");
    let out = case.express(&["serve", "hello.wsgi"]);
    assert_one_line_error(&out, 2, "unknown command 'serve'");
    let out = case.express(&["install-module"]);
    assert_one_line_error(&out, 2, "install-module is not supported");
    let out = case.express(&[]);
    assert_one_line_error(&out, 2, "no command");
    case.assert_nothing_running();
}

#[test]
fn a_configuration_apache_rejects_is_one_line_and_nothing_runs() {
    let case = Case::new();
    case.file("hello.wsgi", common::apps::HELLO_WORLD);
    let bad = case.file("bad.conf", "NoSuchDirective on\n");
    let root = case.server_root().display().to_string();
    let out = case.express(&[
        "start-server",
        "hello.wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        &free_port().to_string(),
        "--server-root",
        &root,
        "--include-file",
        &bad.display().to_string(),
    ]);
    assert_one_line_error(&out, 1, "Apache httpd did not start: AH00526: Syntax error on line 1 of");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Invalid command 'NoSuchDirective'"), "{stderr}");
    case.assert_nothing_running();
    // A second start from the same server root works once the include is
    // fixed (nothing stale is left in it).
    fs::write(&bad, "# fixed\n").unwrap();
    let mut server = case.start(&["hello.wsgi", "--include-file", &bad.display().to_string()]);
    assert_eq!(server.get_ok("/").text(), "Hello World!");
    assert!(server.stop(libc::SIGTERM).success());
    let _ = std::io::stderr().flush();
}
