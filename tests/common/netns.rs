//! Network namespaces made by a test (as root), joined by veth pairs, with
//! private addresses that exist only inside them. Dropping a `Netns`
//! deletes it (and its veth ends), also when the test fails; namespaces
//! left by a test process that died are deleted by the next one.
//!
//! A thread joins a namespace with [`enter`]: its sockets are then made
//! there (network namespaces are per thread), so clients can reach
//! addresses that only exist inside it.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd as _;
use std::process::Command;
use std::time::Duration;

/// Every namespace name is `mwrs-<pid of the test process>-<tag>`.
const PREFIX: &str = "mwrs-";

pub struct Netns {
    name: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    /// A new namespace `mwrs-<pid>-<tag>` with its loopback up.
    pub fn new(tag: &str) -> Netns {
        reap_orphans();
        let name = format!("{PREFIX}{}-{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command prefix that runs a program inside this namespace.
    pub fn prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.name].map(String::from).to_vec()
    }

    /// Links `self` and `other` with a veth pair, `self_addr` and
    /// `other_addr` (CIDR) on either end, both up.
    pub fn link(&self, other: &Netns, self_addr: &str, other_addr: &str) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Interface names are at most 15 bytes; made in this namespace, so
        // they never meet the host's.
        let (a, b) = (format!("va{n}"), format!("vb{n}"));
        ip(&["-n", &self.name, "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &other.name]);
        for (ns, dev, addr) in [(self, &a, self_addr), (other, &b, other_addr)] {
            ip(&["-n", &ns.name, "addr", "add", addr, "dev", dev]);
            ip(&["-n", &ns.name, "link", "set", dev, "up"]);
        }
    }

    /// Runs `f` on a thread inside this namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let name = self.name.clone();
        std::thread::spawn(move || {
            enter(&name);
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Whether `addr` accepts a connection from inside this namespace.
    pub fn accepts(&self, addr: SocketAddr) -> bool {
        self.run(move || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete(&self.name);
    }
}

/// Moves the calling thread into namespace `name`.
pub fn enter(name: &str) {
    let file = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
    // SAFETY: a valid descriptor of a network namespace; setns changes only
    // the calling thread's namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

/// Kills what still runs inside namespace `name` (by pid), then deletes it.
fn delete(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()) {
            super::process::kill(pid, libc::SIGKILL);
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Deletes namespaces whose test process is gone.
fn reap_orphans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            let Some(rest) = name.strip_prefix(PREFIX) else { continue };
            let pid = rest.split('-').next().unwrap_or_default();
            if pid.parse::<i32>().is_ok_and(|p| p != std::process::id() as i32 && super::process::stat(p).is_none()) {
                delete(name);
            }
        }
    });
}
