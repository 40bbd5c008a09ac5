//! One virtualenv with real frameworks (Django, Flask, numpy from PyPI),
//! built with Debian's `/usr/bin/python3.11` (the libpython the module
//! links) and cached across test runs.
//!
//! It lives at `/tmp/mod_wsgi_rs-venv-<hash>`, where the hash covers the
//! Python binary and the requirements, so every test binary, every later run
//! and CI on the same machine reuse it. A lock file (`flock`) keeps parallel
//! test binaries from building it twice; a `.complete` marker written last
//! tells a finished venv from one whose build was interrupted (which is
//! removed and built again). The tree is made readable by www-data.
//!
//! ```ignore
//! let venv = venv::get();
//! ApacheBuilder::new().conf(&format!("WSGIPythonHome {}", venv.path.display()))
//! ```

use std::fs;
use std::os::unix::io::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The interpreter whose libpython the module links.
pub const PYTHON: &str = "/usr/bin/python3.11";

/// What `pip install` gets (latest releases, resolved when first built).
pub const REQUIREMENTS: &[&str] = &["django", "flask", "numpy"];

/// Bump to force a rebuild when the way the venv is made changes.
const LAYOUT_VERSION: u32 = 1;

const MARKER: &str = ".complete";

/// A built virtualenv.
#[derive(Debug)]
pub struct Venv {
    /// Its prefix (for `WSGIPythonHome` / `python-home`).
    pub path: PathBuf,
}

impl Venv {
    pub fn bin(&self, name: &str) -> PathBuf {
        self.path.join("bin").join(name)
    }

    /// The venv's own python (a symlink to /usr/bin/python3.11).
    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// `lib/python3.11/site-packages` (for `WSGIPythonPath` / `python-path`).
    pub fn site_packages(&self) -> PathBuf {
        self.path.join("lib/python3.11/site-packages")
    }

    /// Runs `bin/<program> args...` in `dir`, panicking with its output
    /// unless it succeeds; returns stdout.
    pub fn run(&self, dir: &Path, program: &str, args: &[&str]) -> String {
        self.run_env(dir, program, args, &[])
    }

    /// `run` with extra environment variables.
    pub fn run_env(&self, dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = Command::new(self.bin(program))
            .args(args)
            .current_dir(dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The cached venv, built on first use (by this or another process).
pub fn get() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        let path = venv_path();
        let lock_path = path.with_extension("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
        // SAFETY: flock on a file descriptor we own; released when `lock`
        // is closed at the end of this block (or when the process dies).
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {}: {}", lock_path.display(), std::io::Error::last_os_error());
        if !path.join(MARKER).is_file() {
            build(&path);
        }
        drop(lock);
        Venv { path }
    })
}

/// `/tmp/mod_wsgi_rs-venv-<16 hex digits>`.
fn venv_path() -> PathBuf {
    // FNV-1a: stable across Rust versions, unlike DefaultHasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!("{LAYOUT_VERSION}\n{PYTHON}\n{}", REQUIREMENTS.join("\n"));
    for b in key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    PathBuf::from(format!("/tmp/mod_wsgi_rs-venv-{hash:016x}"))
}

fn build(path: &Path) {
    eprintln!("building the test virtualenv {} ({})", path.display(), REQUIREMENTS.join(" "));
    if path.exists() {
        fs::remove_dir_all(path).unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
    }
    with_packages(path, REQUIREMENTS);
    fs::write(path.join(MARKER), REQUIREMENTS.join("\n")).unwrap();
    eprintln!("built {}", path.display());
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new virtualenv at `path` with `packages` installed by pip (names, or
/// paths of projects), readable by www-data.
pub fn with_packages(path: &Path, packages: &[&str]) -> Venv {
    run(Command::new(PYTHON).args(["-m", "venv"]).arg(path));
    run(Command::new(path.join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"])
        .args(packages)
        // pip refuses nothing as root inside a venv, but warns; quiet it.
        .env("PIP_ROOT_USER_ACTION", "ignore"));
    run(Command::new("chmod").arg("-R").arg("a+rX").arg(path));
    Venv { path: path.to_path_buf() }
}

/// A new virtualenv at `path` without pip or any package (nothing from
/// PyPI, so it is quick): `python3.11 -m venv --without-pip`, readable by
/// www-data. Put modules into its [`Venv::site_packages`].
pub fn bare(path: &Path) -> Venv {
    run(Command::new(PYTHON).args(["-m", "venv", "--without-pip"]).arg(path));
    run(Command::new("chmod").arg("-R").arg("a+rX").arg(path));
    Venv { path: path.to_path_buf() }
}
