//! The Debian package (issue 17): `cargo deb` builds
//! libapache2-mod-wsgi-rs_VERSION_amd64.deb, and on this machine's system
//! Apache: `dpkg -i` (which does not enable the module), the conflict with
//! Debian's mod_wsgi in both orders, `a2enmod wsgi_rs`, `apache2ctl
//! configtest`, a request served through the system's enabled modules,
//! `apt-get remove` and purge. The system is left as found: the enabled
//! modules, a2enmod's state and whether Apache runs are compared with a
//! snapshot taken first, and restored (and the package purged) even when
//! the test fails.
//!
//! The system Apache itself is not started (it would listen on port 80 of
//! every interface): the request goes to an Apache started from a
//! configuration that includes /etc/apache2/mods-enabled and listens on
//! 127.0.0.1 only.
//!
//! Needs root (CI runs the tests as root) and cargo-deb (scripts/setup.sh
//! tests installs it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::io::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{Conn, process, wait_until};

const PACKAGE: &str = "libapache2-mod-wsgi-rs";
const MODULE: &str = "/usr/lib/apache2/modules/mod_wsgi_rs.so";
const MODS_AVAILABLE: &str = "/etc/apache2/mods-available";
const MODS_ENABLED: &str = "/etc/apache2/mods-enabled";
/// a2enmod's record of who enabled or disabled what.
const A2_STATE: &str = "/var/lib/apache2";
const SYSTEM_PID_FILE: &str = "/var/run/apache2/apache2.pid";
/// Serialises test processes that change the system Apache.
const LOCK: &str = "/tmp/mod_wsgi_rs-system-apache.lock";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(out.status.success(), "{program} {args:?} failed ({}):\n{}", out.status, text(&out));
    text(&out)
}

fn enabled(module: &str) -> bool {
    Path::new(MODS_ENABLED).join(format!("{module}.load")).exists()
}

fn package_status() -> String {
    let out = run("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    if out.status.success() { String::from_utf8_lossy(&out.stdout).into_owned() } else { "not-installed".into() }
}

fn system_apache_running() -> bool {
    fs::read_to_string(SYSTEM_PID_FILE).ok().and_then(|p| p.trim().parse().ok()).is_some_and(process::alive)
}

/// What the test may change, to compare and restore.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SystemState {
    /// mods-enabled entry -> symlink target.
    mods_enabled: BTreeMap<String, String>,
    /// Files under /var/lib/apache2 (enabled_by_admin/..., ...).
    a2_state: BTreeSet<String>,
    apache_running: bool,
    package: String,
}

impl SystemState {
    fn capture() -> SystemState {
        let mut mods_enabled = BTreeMap::new();
        for entry in fs::read_dir(MODS_ENABLED).unwrap().flatten() {
            let target = fs::read_link(entry.path()).map(|t| t.display().to_string()).unwrap_or_default();
            mods_enabled.insert(entry.file_name().to_string_lossy().into_owned(), target);
        }
        let mut a2_state = BTreeSet::new();
        walk(Path::new(A2_STATE), &mut a2_state);
        SystemState { mods_enabled, a2_state, apache_running: system_apache_running(), package: package_status() }
    }

    /// Puts the mods-enabled links and a2enmod's state back as they were.
    fn restore(&self) {
        if package_status() != self.package && self.package == "not-installed" {
            let _ = run("dpkg", &["--purge", PACKAGE]);
        }
        let now = SystemState::capture();
        for (name, target) in &now.mods_enabled {
            if self.mods_enabled.get(name) != Some(target) {
                let _ = fs::remove_file(Path::new(MODS_ENABLED).join(name));
            }
        }
        for (name, target) in &self.mods_enabled {
            let link = Path::new(MODS_ENABLED).join(name);
            if !link.exists() && fs::symlink_metadata(&link).is_err() {
                let _ = std::os::unix::fs::symlink(target, &link);
            }
        }
        for file in now.a2_state.difference(&self.a2_state) {
            let _ = fs::remove_file(Path::new(A2_STATE).join(file));
        }
        for file in self.a2_state.difference(&now.a2_state) {
            let path = Path::new(A2_STATE).join(file);
            let _ = fs::create_dir_all(path.parent().unwrap());
            let _ = fs::write(path, "");
        }
        if system_apache_running() && !self.apache_running {
            let _ = run("apache2ctl", &["stop"]);
            wait_until(Duration::from_secs(15), || !system_apache_running());
        }
    }
}

fn walk(dir: &Path, files: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.insert(path.strip_prefix(A2_STATE).unwrap().display().to_string());
        }
    }
}

/// Restores the snapshot when dropped (the test passed or panicked).
struct Restore(SystemState);

impl Drop for Restore {
    fn drop(&mut self) {
        self.0.restore();
    }
}

fn lock() -> fs::File {
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(LOCK).unwrap();
    // SAFETY: flock on a descriptor we own; released when it is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {LOCK}: {}", std::io::Error::last_os_error());
    file
}

fn scratch_dir() -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/mod_wsgi_rs-deb-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

const APP: &str = include_str!("apps/debian_package/app.py");

/// Starts an Apache with the system's enabled modules (as Debian's
/// apache2.conf includes them) on a loopback port, requests /, stops it.
fn request_through_enabled_modules(dir: &Path) -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = dir.join("app.wsgi");
    fs::write(&app, APP).unwrap();
    fs::set_permissions(&app, fs::Permissions::from_mode(0o644)).unwrap();
    let d = dir.display();
    let conf = dir.join("httpd.conf");
    fs::write(
        &conf,
        format!(
            "ServerRoot /etc/apache2\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\n\
             DefaultRuntimeDir {d}\nErrorLog {d}/error_log\nLogLevel info\nUser www-data\nGroup www-data\n\
             IncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\n\
             WSGISocketPrefix {d}/wsgi\n\
             WSGIDaemonProcess deb-test threads=2\n\
             WSGIScriptAlias / {d}/app.wsgi process-group=deb-test\n\
             <Directory {d}>\n    Require all granted\n</Directory>\n"
        ),
    )
    .unwrap();
    // The environment apache2ctl gives the system Apache.
    let apache = |action: &str| {
        let script = format!(". /etc/apache2/envvars && exec /usr/sbin/apache2 -f {} -k {action}", conf.display());
        run_ok("sh", &["-c", &script])
    };
    apache("start");
    let error_log = || fs::read_to_string(dir.join("error_log")).unwrap_or_default();
    let mut body = None;
    wait_until(Duration::from_secs(30), || {
        let resp = Conn::open(port).and_then(|mut c| c.try_request("GET", "/", &[], b""));
        body = resp.ok().filter(|r| r.status == 200).map(|r| r.text());
        body.is_some()
    });
    apache("stop");
    let stopped = wait_until(Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(stopped, "the test Apache did not stop:\n{}", error_log());
    let body = body.unwrap_or_else(|| panic!("no 200 from the module of the package:\n{}", error_log()));
    assert!(!error_log().contains("already loaded"), "{}", error_log());
    body
}

#[test]
fn deb_installs_enables_serves_and_removes_leaving_the_system_apache_as_found() {
    assert!(process::is_root(), "dpkg -i and a2enmod change the system: run this test as root (CI does)");
    let _lock = lock();
    let before = SystemState::capture();
    assert_eq!(
        before.package, "not-installed",
        "{PACKAGE} is installed already; this test installs and removes it: apt-get purge {PACKAGE} first"
    );
    let restore = Restore(before.clone());
    let dir = scratch_dir();

    // cargo deb: the package, its fields and files.
    let out_dir = dir.join("deb");
    let build = Command::new("cargo")
        .args(["deb", "--output"])
        .arg(&out_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(build.status.success(), "cargo deb failed:\n{}", text(&build));
    let deb = out_dir.join(format!("{PACKAGE}_{}_amd64.deb", env!("CARGO_PKG_VERSION")));
    let deb_path = deb.display().to_string();
    assert!(deb.is_file(), "no {}:\n{}", deb.display(), text(&build));
    let fields = run_ok("dpkg-deb", &["--field", &deb_path, "Package", "Section", "Depends"]);
    assert!(fields.contains(&format!("Package: {PACKAGE}")), "{fields}");
    assert!(fields.contains("Section: httpd"), "{fields}");
    for dependency in ["apache2-api-20120211", "libpython3.11", "libc6"] {
        assert!(fields.contains(dependency), "Depends lacks {dependency}:\n{fields}");
    }
    let contents = run_ok("dpkg-deb", &["--contents", &deb_path]);
    for file in [&MODULE[1..], "etc/apache2/mods-available/wsgi_rs.load", "etc/apache2/mods-available/wsgi_rs.conf"] {
        assert!(contents.contains(&format!("./{file}")), "{file} not in the package:\n{contents}");
    }

    // dpkg -i installs it without enabling it.
    let install = run_ok("dpkg", &["-i", &deb_path]);
    assert!(install.contains("a2enmod wsgi_rs"), "postinst says how to enable it:\n{install}");
    assert!(package_status().contains("install ok installed"), "{}", package_status());
    assert!(Path::new(MODULE).is_file());
    let load = fs::read_to_string(Path::new(MODS_AVAILABLE).join("wsgi_rs.load")).unwrap();
    assert!(load.contains(&format!("LoadModule wsgi_module {MODULE}")), "{load}");
    assert_eq!(SystemState::capture().mods_enabled, before.mods_enabled, "dpkg -i enabled something");

    // Debian's mod_wsgi enabled: a2enmod wsgi_rs refuses, saying why.
    if !enabled("wsgi") {
        run_ok("a2enmod", &["-q", "wsgi"]);
    }
    let refused = run("a2enmod", &["wsgi_rs"]);
    assert!(!refused.status.success(), "a2enmod wsgi_rs beside wsgi:\n{}", text(&refused));
    assert!(text(&refused).contains("Module wsgi is enabled - cannot proceed due to conflicts"), "{}", text(&refused));
    assert!(!enabled("wsgi_rs"));

    // Enabled the other way round, Apache refuses to start with one line
    // naming both.
    run_ok("a2dismod", &["-q", "wsgi"]);
    run_ok("a2enmod", &["-q", "wsgi_rs"]);
    assert!(enabled("wsgi_rs"));
    run_ok("a2enmod", &["-q", "wsgi"]);
    let both = run("apache2ctl", &["configtest"]);
    assert!(!both.status.success(), "configtest with both enabled:\n{}", text(&both));
    assert!(
        text(&both).contains("Both wsgi_rs (mod_wsgi-rs) and wsgi (Debian's mod_wsgi) are enabled"),
        "{}",
        text(&both)
    );
    run_ok("a2dismod", &["-q", "wsgi"]);

    // wsgi_rs alone: the system configuration is valid and the module of
    // the package serves.
    let configtest = run_ok("apache2ctl", &["configtest"]);
    assert!(configtest.contains("Syntax OK"), "{configtest}");
    assert_eq!(request_through_enabled_modules(&dir), "mod_wsgi-rs deb-test");

    // apt-get remove disables and removes it, keeping the conffiles;
    // purging removes those and a2enmod's record of it.
    run_ok("apt-get", &["remove", "-y", "-q", PACKAGE]);
    assert!(!Path::new(MODULE).exists(), "the module outlived apt-get remove");
    assert!(!enabled("wsgi_rs"), "still enabled after apt-get remove");
    assert!(package_status().contains("config-files"), "{}", package_status());
    assert!(Path::new(MODS_AVAILABLE).join("wsgi_rs.load").exists(), "conffiles stay until purge");
    run_ok("apt-get", &["purge", "-y", "-q", PACKAGE]);
    assert_eq!(package_status(), "not-installed");
    assert!(!Path::new(MODS_AVAILABLE).join("wsgi_rs.load").exists());
    assert!(!SystemState::capture().a2_state.iter().any(|f| f.ends_with("/wsgi_rs")), "a2enmod still records wsgi_rs");

    drop(restore);
    let after = SystemState::capture();
    assert_eq!(after, before, "the system Apache is not as it was found");
    let _ = fs::remove_dir_all(&dir);
}
