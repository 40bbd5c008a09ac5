//! Building, starting and stopping one Apache httpd per test (or per file).

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use super::netns::Netns;
use super::process;
use super::wait_until;

const APACHE2: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
const DEBIAN_WSGI: &str = "/usr/lib/apache2/modules/mod_wsgi.so";
const TESTS_DIR: &str = "/tmp/mod_wsgi_rs-tests";
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 5;

/// Modules every generated configuration loads (besides the MPM and wsgi).
const BASE_MODULES: &[&str] = &[
    "authz_core",
    "authz_host",
    "authn_core",
    "authn_file",
    "auth_basic",
    "authz_user",
    "access_compat",
    "mime",
    "dir",
    "alias",
    "env",
    "rewrite",
    "setenvif",
    "negotiation",
    "headers",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mpm {
    Event,
    Worker,
    Prefork,
}

impl Mpm {
    fn name(self) -> &'static str {
        match self {
            Mpm::Event => "event",
            Mpm::Worker => "worker",
            Mpm::Prefork => "prefork",
        }
    }
}

/// Which WSGI module the server loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    /// Our `libmod_wsgi.so` (`MOD_WSGI_RS_SO`, else target/release).
    Ours,
    /// Debian's mod_wsgi, to compare behaviours.
    Debian,
}

impl Module {
    /// `Ours`, unless `MOD_WSGI_RS_TEST_MODULE=debian` asks to run the tests
    /// against Debian's mod_wsgi (to see which behaviours it shares).
    pub fn default_for_tests() -> Module {
        match std::env::var("MOD_WSGI_RS_TEST_MODULE").as_deref() {
            Ok("debian") => Module::Debian,
            Ok("ours") | Err(_) => Module::Ours,
            Ok(other) => panic!("MOD_WSGI_RS_TEST_MODULE={other:?}: use \"ours\" or \"debian\""),
        }
    }

    pub fn path(self) -> PathBuf {
        match self {
            Module::Debian => PathBuf::from(DEBIAN_WSGI),
            Module::Ours => {
                let path = std::env::var_os("MOD_WSGI_RS_SO")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/libmod_wsgi.so"));
                assert!(
                    path.is_file(),
                    "{} does not exist: run cargo build --release first (or set MOD_WSGI_RS_SO)",
                    path.display()
                );
                path
            }
        }
    }
}

/// Where applications run. `MOD_WSGI_RS_TEST_MODE=daemon` runs a whole test
/// file with every application delegated to one daemon process group, so
/// the request-handling tests check both modes with the same assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Embedded,
    Daemon,
}

impl Mode {
    pub fn for_tests() -> Mode {
        match std::env::var("MOD_WSGI_RS_TEST_MODE").as_deref() {
            Ok("daemon") => Mode::Daemon,
            Ok("embedded") | Err(_) => Mode::Embedded,
            Ok(other) => panic!("MOD_WSGI_RS_TEST_MODE={other:?}: use \"embedded\" or \"daemon\""),
        }
    }
}

impl Mode {
    /// How the error log tags a line an application wrote during a request
    /// from 127.0.0.1, as mod_wsgi tags it: Apache's own `[client ...]` in
    /// an Apache child, `[remote ...]` from a daemon process.
    pub fn client_tag(self) -> &'static str {
        match self {
            Mode::Embedded => "[client 127.0.0.1:",
            Mode::Daemon => "[remote 127.0.0.1:",
        }
    }
}

/// The daemon group that `Mode::Daemon` delegates every application to.
pub const MODE_DAEMON_GROUP: &str = "test-mode-daemon";

/// Configures one Apache. Its root directory exists from `new()` on, so
/// fixtures can be written before `start()`.
pub struct ApacheBuilder {
    root: PathBuf,
    conf: Vec<String>,
    mpm: Mpm,
    module: Module,
    log_level: String,
    env: Vec<(String, String)>,
    mode: Mode,
    /// Runs inside this network namespace, listening on `listen_ip`.
    netns: Option<String>,
    listen_ip: String,
    /// Remove `root` when dropped (unset once an `Apache` owns it).
    owns_root: bool,
}

impl Default for ApacheBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ApacheBuilder {
    pub fn new() -> Self {
        reap_orphans_once();
        let root = new_root();
        for dir in ["htdocs", "logs", "run"] {
            make_dirs(&root, Path::new(dir));
        }
        fs::write(root.join("owner"), std::process::id().to_string()).unwrap();
        ApacheBuilder {
            root,
            conf: Vec::new(),
            mpm: Mpm::Event,
            module: Module::default_for_tests(),
            log_level: "info".into(),
            env: Vec::new(),
            mode: Mode::for_tests(),
            netns: None,
            listen_ip: "127.0.0.1".into(),
            owns_root: true,
        }
    }

    /// Runs the applications in the Apache children whatever the test mode:
    /// for tests about embedded mode itself (its processes, its MPM flags).
    pub fn embedded_only(mut self) -> Self {
        self.mode = Mode::Embedded;
        self
    }

    /// The fixture directory (`{root}` in configuration text).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends configuration text; `{root}` and `{port}` are substituted.
    pub fn conf(mut self, text: &str) -> Self {
        self.conf.push(text.to_string());
        self
    }

    /// Writes a fixture file under the root (parents 0755, file 0644).
    pub fn file(self, relative: &str, contents: impl AsRef<[u8]>) -> Self {
        write_fixture(&self.root, relative, contents.as_ref());
        self
    }

    /// Creates a directory under the root that the Apache user may write to.
    pub fn writable_dir(self, relative: &str) -> Self {
        let dir = make_dirs(&self.root, Path::new(relative));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        self
    }

    pub fn mpm(mut self, mpm: Mpm) -> Self {
        self.mpm = mpm;
        self
    }

    pub fn module(mut self, module: Module) -> Self {
        self.module = module;
        self
    }

    /// The `LogLevel` arguments, e.g. `"warn"` or `"warn wsgi:info"`.
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.to_string();
        self
    }

    /// Runs Apache inside `ns` (`ip netns exec`), listening on `ip`, an
    /// address of that namespace. Requests then go through a client that
    /// is inside it too (see `netns`).
    pub fn netns(mut self, ns: &Netns, ip: &str) -> Self {
        self.netns = Some(ns.name().to_string());
        self.listen_ip = ip.to_string();
        self
    }

    /// An environment variable for the Apache processes (the environment is
    /// otherwise cleared but for PATH, LANG and `MOD_WSGI_RS_*`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    fn conf_path(&self) -> PathBuf {
        self.root.join("httpd.conf")
    }

    fn write_conf(&self, port: u16) {
        let root = self.root.display().to_string();
        let mut text = String::new();
        let mut line = |s: String| {
            text.push_str(&s);
            text.push('\n');
        };
        line("# Generated by tests/common/apache.rs".into());
        line(format!("ServerRoot \"{root}\""));
        let ip = &self.listen_ip;
        line(format!("ServerName {ip}"));
        line(format!("Listen {ip}:{port}"));
        line(format!("PidFile \"{root}/run/httpd.pid\""));
        line(format!("DefaultRuntimeDir \"{root}/run\""));
        line(format!("ErrorLog \"{root}/logs/error_log\""));
        line(format!("LogLevel {}", self.log_level));
        line("LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %D\" common".into());
        line(format!("CustomLog \"{root}/logs/access_log\" common"));
        line("TypesConfig /etc/mime.types".into());
        if process::is_root() {
            line("User www-data".into());
            line("Group www-data".into());
        }
        let mpm = self.mpm.name();
        line(format!("LoadModule mpm_{mpm}_module {MODULES}/mod_mpm_{mpm}.so"));
        for m in BASE_MODULES {
            line(format!("LoadModule {m}_module {MODULES}/mod_{m}.so"));
        }
        line(format!("LoadModule wsgi_module {}", self.module.path().display()));
        line(format!("DocumentRoot \"{root}/htdocs\""));
        line(
            "<Directory />\n    Options FollowSymLinks\n    AllowOverride None\n    Require all denied\n</Directory>"
                .into(),
        );
        line(format!("<Directory \"{root}\">\n    Require all granted\n</Directory>"));
        line("KeepAlive On".into());
        if self.mode == Mode::Daemon {
            line(format!("WSGIDaemonProcess {MODE_DAEMON_GROUP} threads=16"));
            line(format!("WSGIProcessGroup {MODE_DAEMON_GROUP}"));
        }
        line("# Test configuration".into());
        for part in &self.conf {
            line(part.replace("{root}", &root).replace("{port}", &port.to_string()));
        }
        fs::write(self.conf_path(), text).unwrap();
        fs::set_permissions(self.conf_path(), fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        apache_command(&self.conf_path(), &self.env, self.netns.as_deref(), args)
    }

    /// Runs `apache2 -t -f <conf>`: (syntax OK, stdout + stderr).
    pub fn configtest(&self) -> (bool, String) {
        self.write_conf(free_port());
        let out = self.command(&["-t"]).output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// Starts Apache and waits until it accepts connections; panics with the
    /// error_log when it does not (keeping the root for inspection).
    pub fn start(mut self) -> Apache {
        match self.launch() {
            Ok(apache) => apache,
            Err(reason) => {
                self.owns_root = false;
                panic!("{reason}");
            }
        }
    }

    /// Like `start`, but a server that does not start is an `Err` with the
    /// reason (apache2's output and the error_log), for tests expecting it.
    pub fn try_start(mut self) -> Result<Apache, String> {
        self.launch()
    }

    fn launch(&mut self) -> Result<Apache, String> {
        let inst = Instance {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            root: self.root.clone(),
            conf: self.conf_path(),
            parent: None,
            env: self.env.clone(),
            netns: self.netns.clone(),
        };
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            self.write_conf(port);
            let _ = fs::remove_file(inst.error_log_path());
            register(inst.clone());
            let outcome = self.spawn(&inst, port);
            if outcome.is_err() {
                stop_instance(&inst);
                unregister(inst.id);
            }
            match outcome {
                Ok(parent) => {
                    let mut inst = inst;
                    inst.parent = Some(parent);
                    register(inst.clone());
                    self.owns_root = false;
                    let ip = self.listen_ip.clone();
                    return Ok(Apache { inst, port, ip, mpm: self.mpm, module: self.module });
                }
                Err(StartError::PortTaken(log)) => {
                    failures.push_str(&format!("attempt {attempt}: port {port} taken\n{log}\n"));
                }
                Err(StartError::Failed(log)) => {
                    return Err(format!("Apache did not start (root {}):\n{log}", self.root.display()));
                }
            }
        }
        Err(format!("Apache did not start after {START_ATTEMPTS} attempts:\n{failures}"))
    }

    /// One `apache2 -k start` on `port`; the parent's pid once it accepts.
    fn spawn(&self, inst: &Instance, port: u16) -> Result<i32, StartError> {
        let addr = SocketAddr::new(self.listen_ip.parse().unwrap(), port);
        spawn(inst, addr)
    }
}

/// `apache2 -k start` of `inst`; the parent's pid once `addr` accepts.
fn spawn(inst: &Instance, addr: SocketAddr) -> Result<i32, StartError> {
    {
        let out_path = inst.root.join("logs/start.out");
        let out = fs::File::create(&out_path).unwrap();
        let status = apache_command(&inst.conf, &inst.env, inst.netns.as_deref(), &["-k", "start"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .unwrap();
        let report = || {
            format!(
                "`apache2 -k start` exited with {status}; its output:\n{}\nerror_log:\n{}",
                fs::read_to_string(&out_path).unwrap_or_default(),
                inst.error_log()
            )
        };
        let port_taken = |text: &str| text.contains("could not bind") || text.contains("Address already in use");
        if !status.success() {
            let text = report();
            return Err(if port_taken(&text) { StartError::PortTaken(text) } else { StartError::Failed(text) });
        }
        let started = std::time::Instant::now();
        let mut parent = None;
        let mut outcome = None;
        wait_until(START_TIMEOUT, || {
            let log = inst.error_log();
            if port_taken(&log) {
                outcome = Some(Err(StartError::PortTaken(report())));
                return true;
            }
            parent = parent.or_else(|| inst.pid_from_pidfile());
            if let Some(pid) = parent {
                if !process::alive(pid) {
                    outcome = Some(Err(StartError::Failed(report())));
                    return true;
                }
                // The parent listens before it forks its children: wait for
                // them too, so a test that records them sees the first ones.
                let children = process::all()
                    .into_iter()
                    .filter(|c| c.ppid == pid && !process::cmdline(c.pid).starts_with("(wsgi"))
                    .count();
                if children > 0 && inst.accepts(addr) {
                    outcome = Some(Ok(pid));
                    return true;
                }
            } else if started.elapsed() > Duration::from_secs(3) && inst.processes(None).is_empty() {
                outcome = Some(Err(StartError::Failed(report())));
                return true;
            }
            false
        });
        outcome.unwrap_or_else(|| {
            Err(StartError::Failed(format!(
                "not accepting connections on {addr} after {START_TIMEOUT:?}\n{}",
                report()
            )))
        })
    }
}

impl Drop for ApacheBuilder {
    fn drop(&mut self) {
        if self.owns_root && !std::thread::panicking() && !keep_roots() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

enum StartError {
    PortTaken(String),
    Failed(String),
}

/// A running Apache. Dropping it stops it.
pub struct Apache {
    inst: Instance,
    port: u16,
    /// The address it listens on (127.0.0.1 unless in a namespace).
    ip: String,
    mpm: Mpm,
    module: Module,
}

impl Apache {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn root(&self) -> &Path {
        &self.inst.root
    }

    pub fn mpm(&self) -> Mpm {
        self.mpm
    }

    pub fn module(&self) -> Module {
        self.module
    }

    pub fn conf_path(&self) -> &Path {
        &self.inst.conf
    }

    /// `http://127.0.0.1:<port>`, for external clients.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn error_log_path(&self) -> PathBuf {
        self.inst.error_log_path()
    }

    pub fn error_log(&self) -> String {
        self.inst.error_log()
    }

    /// The current end of the error log; pass it to `log_since`.
    pub fn log_mark(&self) -> usize {
        fs::metadata(self.error_log_path()).map_or(0, |m| m.len() as usize)
    }

    /// The error log written after `mark`.
    pub fn log_since(&self, mark: usize) -> String {
        let bytes = fs::read(self.error_log_path()).unwrap_or_default();
        String::from_utf8_lossy(bytes.get(mark..).unwrap_or_default()).into_owned()
    }

    /// Waits until the error log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_log_since(0, needle, timeout)
    }

    /// Waits until the error log written after `mark` contains `needle`.
    pub fn wait_for_log_since(&self, mark: usize, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log_since(mark).contains(needle))
    }

    /// Panics when the whole error log shows a crashed child.
    pub fn assert_no_crash(&self) {
        let log = self.error_log();
        for sign in ["exit signal", "Segmentation fault", "panicked"] {
            assert!(!log.contains(sign), "error_log contains {sign:?}:\n{log}");
        }
    }

    /// Panics unless `resp` has `status`, showing the response and the
    /// error log written since `mark`.
    pub fn assert_status(&self, resp: &super::Response, status: u16, mark: usize) {
        assert_eq!(
            resp.status,
            status,
            "expected status {status}, got:\n{resp:?}\nerror_log since the request:\n{}",
            self.log_since(mark)
        );
    }

    /// The Apache parent process.
    pub fn parent_pid(&self) -> i32 {
        self.inst.parent.expect("started Apache has a parent pid")
    }

    /// The direct children of the parent (workers, daemon processes).
    pub fn child_pids(&self) -> Vec<i32> {
        let parent = self.parent_pid();
        let mut pids: Vec<i32> = process::all().into_iter().filter(|s| s.ppid == parent).map(|s| s.pid).collect();
        pids.sort();
        pids
    }

    /// The parent first, then its children.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = vec![self.parent_pid()];
        pids.extend(self.child_pids());
        pids
    }

    /// The address and port it listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip.parse().unwrap(), self.port)
    }

    /// Runs `apache2 -k <arg>` against this server (in its namespace).
    pub fn k(&self, arg: &str) -> std::process::Output {
        apache_command(&self.inst.conf, &self.inst.env, self.inst.netns.as_deref(), &["-k", arg]).output().unwrap()
    }

    /// `apache2 -k graceful-stop`, then waits until every process is gone
    /// (requests in progress finish first).
    pub fn graceful_stop(&mut self) {
        let out = self.k("graceful-stop");
        assert!(out.status.success(), "apache2 -k graceful-stop: {}", String::from_utf8_lossy(&out.stderr));
        let parent = self.inst.parent;
        assert!(
            wait_until(STOP_TIMEOUT, || self.inst.processes(parent).is_empty()),
            "still running after graceful-stop:\n{}",
            self.error_log()
        );
    }

    /// Starts a stopped server again with the same configuration.
    pub fn start_again(&mut self) {
        match spawn(&self.inst, self.listen_addr()) {
            Ok(parent) => {
                self.inst.parent = Some(parent);
                register(self.inst.clone());
            }
            Err(StartError::PortTaken(log) | StartError::Failed(log)) => panic!("start again failed:\n{log}"),
        }
    }

    /// `apache2 -k graceful`, then waits until the new generation runs.
    pub fn restart_graceful(&self) {
        let mark = self.log_mark();
        let out = self.k("graceful");
        assert!(
            out.status.success(),
            "apache2 -k graceful failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            self.wait_for_log_since(mark, "resuming normal operations", START_TIMEOUT),
            "no \"resuming normal operations\" after graceful restart:\n{}",
            self.log_since(mark)
        );
        assert!(process::alive(self.parent_pid()), "parent died:\n{}", self.error_log());
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        stop_instance(&self.inst);
        unregister(self.inst.id);
        if std::thread::panicking() || keep_roots() {
            eprintln!("kept test root {}", self.inst.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.inst.root);
        }
    }
}

/// What stopping a server needs; also kept in the process-wide registry.
#[derive(Clone)]
struct Instance {
    id: u64,
    root: PathBuf,
    conf: PathBuf,
    parent: Option<i32>,
    env: Vec<(String, String)>,
    netns: Option<String>,
}

impl Instance {
    /// Whether `addr` accepts a connection, from the server's namespace.
    fn accepts(&self, addr: SocketAddr) -> bool {
        match &self.netns {
            None => TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
            Some(ns) => {
                let ns = ns.clone();
                std::thread::spawn(move || {
                    super::netns::enter(&ns);
                    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                })
                .join()
                .unwrap_or(false)
            }
        }
    }

    fn error_log_path(&self) -> PathBuf {
        self.root.join("logs/error_log")
    }

    fn error_log(&self) -> String {
        fs::read(self.error_log_path()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// The pid in the PidFile, if it is a live Apache of this configuration.
    fn pid_from_pidfile(&self) -> Option<i32> {
        let text = fs::read_to_string(self.root.join("run/httpd.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        (process::alive(pid) && self.is_ours(pid)).then_some(pid)
    }

    fn is_ours(&self, pid: i32) -> bool {
        process::cmdline(pid).contains(&self.conf.display().to_string())
    }

    /// Processes of this server: the parent's process group, and anything
    /// whose command line names our configuration file.
    fn processes(&self, parent: Option<i32>) -> Vec<i32> {
        process::all()
            .into_iter()
            .filter(|s| parent.is_some_and(|p| s.pgrp == p) || self.is_ours(s.pid))
            .map(|s| s.pid)
            .collect()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static REGISTRY: Mutex<Option<HashMap<u64, Instance>>> = Mutex::new(None);

/// Set by a panic hook: some test of this process failed, so servers stopped
/// at exit keep their roots for inspection.
static ANY_PANIC: AtomicBool = AtomicBool::new(false);

fn register(inst: Instance) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            ANY_PANIC.store(true, Ordering::Relaxed);
            previous(info)
        }));
        // SAFETY: registers a plain function, once, to run at exit.
        unsafe {
            libc::atexit(stop_all_at_exit);
        }
    });
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    reg.get_or_insert_with(HashMap::new).insert(inst.id, inst);
}

fn unregister(id: u64) {
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(map) = reg.as_mut() {
        map.remove(&id);
    }
}

extern "C" fn stop_all_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let instances: Vec<Instance> = {
            let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
            reg.take().unwrap_or_default().into_values().collect()
        };
        for inst in &instances {
            stop_instance(inst);
            if ANY_PANIC.load(Ordering::Relaxed) || keep_roots() {
                eprintln!("kept test root {}", inst.root.display());
            } else {
                let _ = fs::remove_dir_all(&inst.root);
            }
        }
    });
}

/// `apache2 -k stop`, wait for the parent, then SIGKILL whatever is left.
/// Never panics (it runs in `Drop` and at exit).
fn stop_instance(inst: &Instance) {
    let parent = inst.parent.or_else(|| inst.pid_from_pidfile());
    if parent.is_some_and(process::alive) {
        let _ = apache_command(&inst.conf, &inst.env, inst.netns.as_deref(), &["-k", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        wait_until(STOP_TIMEOUT, || !parent.is_some_and(process::alive));
    }
    for pid in inst.processes(parent) {
        process::kill(pid, libc::SIGKILL);
    }
    wait_until(Duration::from_secs(5), || inst.processes(parent).is_empty());
}

/// `apache2 -f conf args`, inside namespace `netns` when given.
fn apache_command(conf: &Path, env: &[(String, String)], netns: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, APACHE2]);
            c
        }
        None => Command::new(APACHE2),
    };
    cmd.arg("-f").arg(conf).args(args);
    cmd.env_clear().env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").env("LANG", "C");
    for (key, value) in std::env::vars() {
        if key.starts_with("MOD_WSGI_RS_") || key == "RUST_BACKTRACE" {
            cmd.env(key, value);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

fn keep_roots() -> bool {
    std::env::var_os("MOD_WSGI_RS_KEEP_ROOTS").is_some()
}

/// A port nobody listens on now (the OS picks it; loopback only).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `/tmp/mod_wsgi_rs-tests/<test binary>-<pid>-<n>`, mode 0755.
fn new_root() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let base = Path::new(TESTS_DIR);
    fs::create_dir_all(base).unwrap();
    fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let stem = exe.file_stem().unwrap().to_string_lossy();
    // Cargo names test binaries `<name>-<hash>`.
    let name = stem.rsplit_once('-').map_or(&*stem, |(n, _)| n);
    loop {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let root = base.join(format!("{name}-{}-{n}", std::process::id()));
        if fs::create_dir(&root).is_ok() {
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
            return root;
        }
    }
}

/// Creates `relative` under `root`, every new directory 0755.
fn make_dirs(root: &Path, relative: &Path) -> PathBuf {
    assert!(relative.is_relative(), "{} is not relative", relative.display());
    let mut dir = root.to_path_buf();
    for part in relative.components() {
        dir.push(part);
        if !dir.is_dir() {
            fs::create_dir(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

pub(crate) fn write_fixture(root: &Path, relative: &str, contents: &[u8]) -> PathBuf {
    let path = root.join(relative);
    if let Some(parent) = Path::new(relative).parent() {
        make_dirs(root, parent);
    }
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(contents).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// Stops servers (and removes roots) left by test processes that died before
/// their atexit hook ran. Only touches roots whose owner process is gone.
fn reap_orphans_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = fs::read_dir(TESTS_DIR) else {
            return;
        };
        for entry in entries.flatten() {
            let root = entry.path();
            let owner = fs::read_to_string(root.join("owner")).ok().and_then(|s| s.trim().parse::<i32>().ok());
            let Some(owner) = owner else { continue };
            if owner == std::process::id() as i32 || process::stat(owner).is_some() {
                continue;
            }
            let inst = Instance {
                id: u64::MAX,
                conf: root.join("httpd.conf"),
                root: root.clone(),
                parent: None,
                env: Vec::new(),
                netns: None,
            };
            stop_instance(&inst);
            let _ = fs::remove_dir_all(&root);
        }
    });
}
