//! The manager of one daemon process group: forked from the Apache parent
//! (so it has no Python and no threads), it forks the group's worker
//! processes and keeps their number right.
//!
//! - A worker that dies is replaced at once (the Apache parent would only
//!   notice within its one-second maintenance cycle).
//! - A worker that retires (touched script, maximum-requests, a limit)
//!   writes its pid to the control pipe; the manager starts its
//!   replacement immediately, while the old one drains its requests. New
//!   connections wait in the shared listen queue meanwhile, so none fail.
//! - SIGTERM/SIGINT/SIGHUP (from the Apache parent on stop or restart)
//!   stop every worker, killing those that outlive shutdown-timeout.

use super::{Registry, detach, process};
use crate::apache::log::{self, Level};
use crate::ffi;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Worker {
    pid: libc::pid_t,
    retiring: bool,
}

struct Manager {
    registry: Arc<Registry>,
    index: usize,
    server: *mut ffi::server_rec,
    control: (i32, i32),
    signals: i32,
    workers: Vec<Worker>,
}

/// Never returns: the process ends with `_exit`.
pub fn run(registry: Arc<Registry>, index: usize, s: *mut ffi::server_rec) -> ! {
    detach::from_apache(&registry, index);
    detach::die_with_parent(libc::SIGTERM);
    let name = registry.groups[index].spec.name().to_string();
    detach::set_title(s, &format!("(wsgi-manager:{name})"));
    let code = match Manager::new(registry, index, s).and_then(|m| m.serve()) {
        Ok(()) => 0,
        Err(msg) => {
            log::server(Level::Error, s, &format!("mod_wsgi (pid={}): {msg}", std::process::id()));
            1
        }
    };
    // SAFETY: ends the process without Apache's exit handlers, which
    // belong to the parent.
    unsafe { libc::_exit(code) }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

impl Manager {
    fn new(registry: Arc<Registry>, index: usize, server: *mut ffi::server_rec) -> Result<Self, String> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(os_err("Unable to create the daemon control pipe"));
        }
        let signals = signal_fd()?;
        Ok(Self { registry, index, server, control: (fds[0], fds[1]), signals, workers: Vec::new() })
    }

    fn name(&self) -> &str {
        self.registry.groups[self.index].spec.name()
    }

    fn log(&self, level: Level, msg: &str) {
        log::server(level, self.server, &format!("mod_wsgi (pid={}): {msg}", std::process::id()));
    }

    fn spawn(&mut self) {
        // SAFETY: this process is single-threaded, so the child may run
        // Rust code after fork; process::run never returns.
        match unsafe { libc::fork() } {
            -1 => {
                self.log(Level::Error, &os_err(&format!("Unable to fork a process for daemon group '{}'", self.name())))
            }
            0 => {
                // SAFETY: the child's copies of descriptors only the manager uses.
                unsafe {
                    libc::close(self.control.0);
                    libc::close(self.signals);
                }
                process::run(self.registry.clone(), self.index, self.server, self.control.1)
            }
            pid => {
                self.log(Level::Info, &format!("Starting process '{}' (pid {pid}).", self.name()));
                self.workers.push(Worker { pid, retiring: false });
            }
        }
    }

    fn serve(mut self) -> Result<(), String> {
        let signals = self.signals;
        let wanted = self.registry.groups[self.index].spec.config.processes.max(1);
        for _ in 0..wanted {
            self.spawn();
        }
        loop {
            let mut fds = [
                libc::pollfd { fd: signals, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.control.0, events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: polls two descriptors this process owns.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                continue;
            }
            if fds[1].revents & libc::POLLIN != 0 {
                self.read_retirements();
            }
            if fds[0].revents & libc::POLLIN != 0 {
                for sig in read_signals(signals) {
                    if sig == libc::SIGCHLD {
                        self.reap(true);
                    } else {
                        self.stop();
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Each retiring worker wrote its pid; start its replacement now.
    fn read_retirements(&mut self) {
        let mut buf = [0u8; 4 * 64];
        // SAFETY: reads into a local buffer; pid writes are 4 bytes, atomic.
        let n = unsafe { libc::read(self.control.0, buf.as_mut_ptr().cast(), buf.len()) };
        for chunk in buf[..n.max(0) as usize].chunks_exact(4) {
            let pid = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if let Some(w) = self.workers.iter_mut().find(|w| w.pid == pid && !w.retiring) {
                w.retiring = true;
                self.spawn();
            }
        }
    }

    /// Collects exited workers; unexpected deaths are replaced if `respawn`.
    fn reap(&mut self, respawn: bool) {
        loop {
            let mut status = 0;
            // SAFETY: non-blocking reap of any child of this process.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            let Some(i) = self.workers.iter().position(|w| w.pid == pid) else { continue };
            let worker = self.workers.remove(i);
            if !worker.retiring && respawn {
                self.log(
                    Level::Info,
                    &format!("Process '{}' (pid {pid}) has died{}, restarting it.", self.name(), describe(status)),
                );
                self.spawn();
            }
        }
    }

    /// Stops every worker: SIGTERM, then SIGKILL after shutdown-timeout.
    fn stop(&mut self) {
        for w in &self.workers {
            // SAFETY: signalling this process's own children.
            unsafe { libc::kill(w.pid, libc::SIGTERM) };
        }
        let grace = self.registry.groups[self.index].spec.config.shutdown_timeout + Duration::from_millis(500);
        let deadline = Instant::now() + grace;
        while !self.workers.is_empty() && Instant::now() < deadline {
            self.reap(false);
            std::thread::sleep(Duration::from_millis(10));
        }
        for w in &self.workers {
            self.log(
                Level::Warning,
                &format!("Process '{}' (pid {}) did not stop in time, killing it.", self.name(), w.pid),
            );
            // SAFETY: as above, then a blocking reap of the killed child.
            unsafe {
                libc::kill(w.pid, libc::SIGKILL);
                libc::waitpid(w.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!(" (signal {})", libc::WTERMSIG(status))
    } else if libc::WIFEXITED(status) {
        format!(" (exit code {})", libc::WEXITSTATUS(status))
    } else {
        String::new()
    }
}

/// A signalfd for the signals the manager handles, which are blocked.
fn signal_fd() -> Result<i32, String> {
    // SAFETY: builds a signal set, blocks it, and opens a signalfd on it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 { Err(os_err("Unable to create signalfd")) } else { Ok(fd) }
    }
}

fn read_signals(fd: i32) -> Vec<i32> {
    // SAFETY: signalfd_siginfo is plain data; all-zero is a valid value.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: reads one siginfo record into a properly sized local.
    let n = unsafe { libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
    if n as usize == size { vec![info.ssi_signo as i32] } else { Vec::new() }
}
